"""Fixtures shared by all test directories. Keep this file minimal."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def lanman_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, not yet created lanman home directory; LANMAN_HOME points at it."""
    home = tmp_path / "lanman-home"
    monkeypatch.setenv("LANMAN_HOME", str(home))
    return home
