"""Fixtures shared by all test directories. Keep this file minimal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Launched as ``.venv/bin/pytest``, Python puts ``.venv/bin`` first on sys.path, where
# impacket installs its example scripts (``smbclient.py``...): they would shadow
# smbprotocol's ``smbclient`` package. Tests import libraries, never those scripts.
_bin = str(Path(sys.executable).parent)
sys.path[:] = [p for p in sys.path if p != _bin]


@pytest.fixture
def lanman_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, not yet created lanman home directory; LANMAN_HOME points at it."""
    home = tmp_path / "lanman-home"
    monkeypatch.setenv("LANMAN_HOME", str(home))
    return home
