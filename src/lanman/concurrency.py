"""Blocking sections: code that waits (for a person's answer, a slow terminal) inside a
request says so, and the server that runs the request lets other connections proceed
meanwhile.

The SMB server serializes its protocol cores with one lock (see
``lanman.smb.server.transport``); its worker threads install that lock here for the
duration of a request. Outside a server (the CLI, tests) a blocking section does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def serving(release: Callable[[], None], acquire: Callable[[], None]) -> Iterator[None]:
    """Run a request on this thread; blocking sections inside it call ``release`` first and
    ``acquire`` after."""
    saved = getattr(_local, "hooks", None)
    _local.hooks = (release, acquire)
    try:
        yield
    finally:
        _local.hooks = saved


@contextmanager
def blocking_section() -> Iterator[None]:
    hooks = getattr(_local, "hooks", None)
    if hooks is None:
        yield
        return
    release, acquire = hooks
    release()
    try:
        yield
    finally:
        acquire()
