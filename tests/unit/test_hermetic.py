"""The suite's own hygiene: the descriptor guard can fail, and in-process connections a test
leaves open are torn down with their file descriptors (tests/hermetic.py, smb_harness)."""

from __future__ import annotations

import os
from pathlib import Path

import hermetic
import pytest
from smb_harness import SmbTestClient, close_live_since, live_mark, make_context, track


def _fds() -> int:
    return len(hermetic.open_descriptors())


def test_check_descriptors_reports_over_the_limit(tmp_path: Path) -> None:
    base = _fds()
    assert hermetic.check_descriptors("tests/x.py::test_y", limit=base + 50) is None
    files = [open(tmp_path / f"f{i}", "w") for i in range(20)]  # noqa: SIM115
    try:
        problem = hermetic.check_descriptors("tests/x.py::test_y", limit=base + 10)
        assert problem is not None
        assert problem.startswith("tests/x.py::test_y: ")
        assert f"holds {base + 20} open descriptors" in problem
        assert f"(limit {base + 10})" in problem
        assert f"1 x {tmp_path / 'f0'}" in problem  # names what is open
    finally:
        for f in files:
            f.close()
    assert hermetic.check_descriptors("tests/x.py::test_y", limit=base + 10) is None


def test_guard_fails_the_run_naming_the_leaking_test(pytester: pytest.Pytester, monkeypatch):
    """Run the guard hook in a pytest of its own: the test that leaves descriptors open
    fails at its boundary (an error in its teardown, with the message) and so does the run;
    once over the limit, only a test that leaks more is failed again."""
    monkeypatch.setattr(hermetic, "FD_LIMIT", _fds() + 10)
    monkeypatch.setattr(hermetic, "_reported", 0)
    pytester.makeconftest(
        "import pytest\n"
        "from hermetic import pytest_runtest_teardown  # noqa: F401\n"
        "@pytest.fixture(scope='session')\n"
        "def keep():\n"
        "    files = []\n"
        "    yield files\n"
        "    for f in files:\n"
        "        f.close()\n"
    )
    pytester.makepyfile(
        test_leaky=(
            "import os\n"
            "def test_clean(keep):\n"
            "    open(os.devnull).close()\n"
            "def test_leaks(keep):\n"
            "    keep.extend(open(os.devnull) for _ in range(40))\n"
            "def test_adds_nothing(keep):\n"
            "    pass\n"
            "def test_leaks_more(keep):\n"
            "    keep.extend(open(os.devnull) for _ in range(5))\n"
            "def test_last(keep):\n"
            "    pass\n"
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    # test_last ends after the session fixture closed the files (the check runs once every
    # finalizer of that boundary has run).
    result.assert_outcomes(passed=5, errors=2)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks *",
            (
                "*test_leaky.py::test_leaks: the pytest process holds * open descriptors"
                " at this test boundary (limit *)*/dev/null*"
            ),
            "*ERROR at teardown of test_leaks_more*",
        ]
    )
    out = result.stdout.str()
    assert "ERROR at teardown of test_clean" not in out
    assert "ERROR at teardown of test_adds_nothing" not in out
    assert "ERROR at teardown of test_last" not in out


def test_client_close_releases_its_opens(tmp_path: Path) -> None:
    ctx, _, share = make_context(tmp_path)
    (share / "a.txt").write_bytes(b"a")
    base = _fds()
    with SmbTestClient(ctx) as c:
        c.login(0x0311)
        tid = c.tree_connect()
        for _ in range(5):
            c.create(tid, "a.txt")
        assert _fds() >= base + 5
    assert c.closed
    assert _fds() == base
    c.close()  # idempotent


def test_close_live_since_tears_down_what_a_test_left(tmp_path: Path) -> None:
    ctx, _, share = make_context(tmp_path)
    (share / "a.txt").write_bytes(b"a")
    older = SmbTestClient(ctx)  # made before the mark: left alone
    base = _fds()
    mark = live_mark()
    left = []
    for _ in range(3):
        c = SmbTestClient(ctx)
        c.login(0x0311)
        c.create(c.tree_connect(), "a.txt")
        left.append(c)
    older.close()  # closing an older client does not shift what the mark covers
    raw = track(type(left[0].conn)(ctx, "192.0.2.99:1"))
    assert _fds() == base + 3
    assert close_live_since(mark) == 4
    assert all(c.closed for c in left) and raw.closed
    assert _fds() == base
    assert close_live_since(mark) == 0
    os.stat(share / "a.txt")  # the file itself is untouched
