"""The descriptor guard of the test suite (used by ``tests/conftest.py``).

A test that leaves descriptors open (an in-process ServerConnection's file opens, a
socket, an event loop's selector) slowly exhausts the pytest process: past 1,024 a later
``select()`` fails with ``filedescriptor out of range`` in a test that did nothing wrong.
The guard fails the test at whose boundary the process holds more than ``FD_LIMIT``, and
with it the run; it watches the whole session, from the first test's teardown to the last.
"""

from __future__ import annotations

import collections
import os

import pytest

FD_LIMIT = 256  # the suite itself needs a few dozen; a leak of one per test crosses this
_reported = 0  # the count last reported: a test is failed only when it leaks more
_FD_DIR = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def open_descriptors() -> list[str]:
    """What each descriptor of this process refers to (``readlink`` of /proc/self/fd/N)."""
    out = []
    for name in os.listdir(_FD_DIR):
        try:
            out.append(os.readlink(os.path.join(_FD_DIR, name)))
        except OSError:  # the directory listing's own descriptor, already closed
            continue
    return out


def check_descriptors(where: str, limit: int = FD_LIMIT) -> str | None:
    """None when the process holds at most ``limit`` descriptors, else a message naming
    ``where`` (a test id), the count and the most frequent targets."""
    targets = open_descriptors()
    if len(targets) <= limit:
        return None
    kinds = collections.Counter(
        t if not t.startswith(("socket:", "pipe:", "anon_inode:")) else t.split(":")[0]
        for t in targets
    )
    top = ", ".join(f"{n} x {t}" for t, n in kinds.most_common(5))
    return (
        f"{where}: the pytest process holds {len(targets)} open descriptors at this test "
        f"boundary (limit {limit}): this test, its fixtures or a test before it do not close "
        f"what they open (most frequent: {top})"
    )


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """The guard as a hook (``tests/conftest.py`` imports it): after a test's teardown, the
    fixtures of every scope that end there included, fail that test if the process holds
    more than ``FD_LIMIT`` descriptors (and more than when the guard last reported)."""
    global _reported
    result = yield
    problem = check_descriptors(item.nodeid, max(FD_LIMIT, _reported))
    if problem:
        # Once over the limit, only the tests that add more are reported again.
        _reported = len(open_descriptors())
        pytest.fail(problem, pytrace=False)
    return result
