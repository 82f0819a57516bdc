"""Per-request file-system identity: each SMB request of a mapped account
(``lanman user set NAME --unix-user U``) touches the file system as Unix user ``U``.

Linux keeps the file-system user and group ids (``fsuid``/``fsgid``) and the supplementary
groups *per thread* in the kernel.  ``setfsuid``/``setfsgid`` (libc) change only the calling
thread; the supplementary groups are changed with the raw ``setgroups`` system call, because
glibc's ``setgroups()`` wrapper (and so ``os.setgroups``) applies the change to every thread
of the process.  An SMB request is processed start to end by one thread (the event loop or
its connection's I/O worker), so :meth:`FsIdentity.as_user` around a request gives it the
mapped user's permission checks -- and the share's and files' rules apply as well.

Switching needs ``CAP_SETUID`` and ``CAP_SETGID``.  ``lanman up`` started as root keeps just
those two capabilities after it drops to ``--run-as`` when at least one mapping exists at
start (:func:`lanman.privileges.drop_privileges` with ``keep_setid``); without them a mapped
account gets no file access at all (tree connect is refused) rather than the service
account's.  Mapping to uid 0 is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import pwd
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["FsIdentity", "UnixIdentity", "identity_of"]

# Raw setgroups(2) (per thread). x86_64 and aarch64; elsewhere mapping is unavailable.
_SYS_SETGROUPS = {"x86_64": 116, "aarch64": 159, "arm64": 159}.get(platform.machine())
CAP_SETGID = 6
CAP_SETUID = 7


@dataclass(slots=True, frozen=True)
class UnixIdentity:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def identity_of(name: str) -> UnixIdentity:
    """The identity of Unix user ``name`` (KeyError when there is none; ValueError for
    root, which is never a mapping target)."""
    pw = pwd.getpwnam(name)
    if pw.pw_uid == 0:
        raise ValueError("uid 0")
    groups = tuple(sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid))))
    return UnixIdentity(pw.pw_name, pw.pw_uid, pw.pw_gid, groups)


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _effective_caps() -> int:
    """CapEff of this thread (from /proc)."""
    try:
        with open("/proc/thread-self/status") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


class FsIdentity:
    """Switches the calling thread's file-system identity (see the module docstring)."""

    def __init__(self) -> None:
        self._libc = None
        self._local = threading.local()

    @property
    def available(self) -> bool:
        caps = _effective_caps()
        need = (1 << CAP_SETUID) | (1 << CAP_SETGID)
        return _SYS_SETGROUPS is not None and caps & need == need

    def _lib(self):
        if self._libc is None:
            self._libc = _libc()
        return self._libc

    def _setgroups(self, groups: tuple[int, ...]) -> None:
        arr = (ctypes.c_uint * max(1, len(groups)))(*groups)
        if self._lib().syscall(_SYS_SETGROUPS, len(groups), arr) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setgroups: {os.strerror(err)}")

    def _set(self, uid: int, gid: int, groups: tuple[int, ...]) -> None:
        lib = self._lib()
        self._setgroups(groups)
        lib.setfsgid(gid)
        lib.setfsuid(uid)
        # setfsuid/setfsgid report no errors: read the values back (an invalid id is a
        # no-op that returns the current one).
        if lib.setfsuid(-1) != uid or lib.setfsgid(-1) != gid:
            raise PermissionError("setfsuid/setfsgid refused (CAP_SETUID/CAP_SETGID missing?)")

    @contextlib.contextmanager
    def as_user(self, ident: UnixIdentity) -> Iterator[None]:
        """Run the body with ``ident``'s fsuid, fsgid and groups in this thread; what the
        thread had before (the service account, or an outer ``as_user``) is restored
        afterwards. Nesting with the same identity costs nothing."""
        local = self._local
        prev = getattr(local, "ident", None)
        if prev == ident:
            yield
            return
        if prev is None:  # the thread's own identity, taken before the first switch
            back = (os.geteuid(), os.getegid(), tuple(os.getgroups()))
        else:
            back = (prev.uid, prev.gid, prev.groups)
        try:
            self._set(ident.uid, ident.gid, ident.groups)
        except BaseException:
            self._set(*back)  # never leave the thread half switched
            raise
        local.ident = ident
        try:
            yield
        finally:
            self._set(*back)
            local.ident = prev
