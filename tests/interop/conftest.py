"""Fixtures for the interop suite (real third-party peers against a real server).

Target selection: the server under test is lanman.  For validating the tests themselves
against a reference implementation, set ``LANMAN_INTEROP_TARGET=samba`` and the very same
tests run against Debian's smbd (private smb.conf, ``server signing = mandatory``).
Assertions that only make sense for lanman (security events) are guarded by
``target.is_lanman``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interop_support import (
    Target,
    cleanup_target,
    free_port,
    start_lanman,
    start_samba,
)

TARGET_KIND = os.environ.get("LANMAN_INTEROP_TARGET", "lanman").strip().lower()


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.interop)


def _start(kind: str, base: Path, require_signing: bool = True) -> Target:
    if kind == "lanman":
        return start_lanman(base, require_signing=require_signing)
    if kind == "samba":
        return start_samba(base, require_signing=require_signing)
    raise pytest.UsageError(f"LANMAN_INTEROP_TARGET must be lanman or samba, not {kind!r}")


def _finish(request, t: Target) -> None:
    failed = getattr(request.node, "_interop_failed", False) or request.session.testsfailed
    if failed or os.environ.get("LANMAN_INTEROP_DUMP"):
        sys.stderr.write(f"\n===== {t.kind} server output (port {t.port}) =====\n")
        sys.stderr.write(t.log_text())
        sys.stderr.write("\n===== end server output =====\n")
    cleanup_target(t)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item._interop_failed = True


@pytest.fixture(scope="session")
def free_port_factory():
    return free_port


@pytest.fixture(scope="session")
def target_kind() -> str:
    return TARGET_KIND


@pytest.fixture(scope="session")
def lanman_server(request, tmp_path_factory):
    """Session-wide lanman (or Samba, with LANMAN_INTEROP_TARGET=samba), signing required."""
    base = tmp_path_factory.mktemp("srv")
    t = _start(TARGET_KIND, base)
    yield t
    _finish(request, t)


@pytest.fixture()
def lanman_server_fn(request, tmp_path):
    """A fresh server for a single test (for tests that change configuration/restart)."""
    t = _start(TARGET_KIND, tmp_path / "srv")
    yield t
    _finish(request, t)


@pytest.fixture(scope="session")
def target(lanman_server):
    """Generic name used by the tests: the server under test."""
    if not lanman_server.alive():
        pytest.fail(f"{lanman_server.kind} server died:\n{lanman_server.log_text()}")
    return lanman_server


@pytest.fixture()
def target_fn(lanman_server_fn):
    return lanman_server_fn


@pytest.fixture(scope="session")
def samba_server(request):
    """Debian smbd, private config, loopback, ``server signing = mandatory``."""
    t = start_samba(Path(tempfile.gettempdir()))
    yield t
    _finish(request, t)


@pytest.fixture()
def workdir(tmp_path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


def pytest_terminal_summary(terminalreporter):
    """The smbtorture per-suite table (lanman vs Samba in the same run), when suites ran."""
    from torture import TABLE

    if not TABLE:
        return
    terminalreporter.section("smbtorture suites: sub-tests passed, lanman vs Samba 4.17")
    for suite, ours, ref in TABLE:
        terminalreporter.write_line(f"{suite:24s} lanman {ours:3d}   samba {ref:3d}")
    total_ours = sum(r[1] for r in TABLE)
    total_ref = sum(r[2] for r in TABLE)
    terminalreporter.write_line(f"{'total':24s} lanman {total_ours:3d}   samba {total_ref:3d}")
