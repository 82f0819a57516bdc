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

import smb_harness  # tests/ is on sys.path (rootdir conftest): the in-process harness
from hermetic import pytest_runtest_teardown  # noqa: F401  (the descriptor guard)

pytest_plugins = ("pytester",)  # tests/unit/test_hermetic.py runs the guard in a pytest


@pytest.fixture
def lanman_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, not yet created lanman home directory; LANMAN_HOME points at it."""
    home = tmp_path / "lanman-home"
    monkeypatch.setenv("LANMAN_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _close_in_process_connections():
    """Tear down every in-process connection (SmbTestClient, tracked ServerConnection or
    transport) the test and its function-scoped fixtures made and did not close. Objects
    from wider-scoped fixtures were tracked before this fixture ran and stay open."""
    mark = smb_harness.live_mark()
    yield
    smb_harness.close_live_since(mark)
