"""``lanman up --run-as``: bind the ports as root, then serve as an unprivileged account.

Started as root (needed for port 445 and the KDC's 88), ``lanman up`` binds its sockets and
then drops every privilege for good -- ``setgroups`` (the account's groups), ``setgid``,
``setuid`` (real, effective and saved ids) -- before it accepts a single connection.  From
then on every file a client reaches is opened with that account's Unix permissions: a
root-owned 0600 file in a share cannot be read by any SMB user.

The account is ``--run-as USER``; by default the dedicated system account ``lanman`` when it
exists (``useradd --system --no-create-home --shell /usr/sbin/nologin lanman``; it is what a
service installation creates), else ``nobody``.  ``--run-as root`` keeps root, explicitly,
with a warning.  Not started as root, ``lanman up`` runs as whoever started it.

The store stays usable after the drop because the data directory is handed to the account
(design choice, rather than relying on descriptors opened before the drop): the home
directory and everything in it *except* the ``shares/`` subtree (share contents keep their
owners) is ``chown``-ed to the account (``lchown``: links are never followed) before the
drop.  SQLite keeps ``-wal``/``-shm`` owned like the database when root opens it later (the
CLI), so later ``lanman`` commands run as root keep working with it.  The home stays 0700 --
only the service account (and root) can read the hashes, which is why a dedicated account
is better than ``nobody``.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_ACCOUNT",
    "FALLBACK_ACCOUNT",
    "PrivilegeError",
    "RunAs",
    "drop_privileges",
    "hand_home_to",
    "resolve_run_as",
]

DEFAULT_ACCOUNT = "lanman"
FALLBACK_ACCOUNT = "nobody"
_SHARES = "shares"


class PrivilegeError(RuntimeError):
    def __init__(self, message: str, remedy: str = ""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


@dataclass(slots=True, frozen=True)
class RunAs:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    explicit: bool  # given with --run-as (not the default)

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def describe(self) -> str:
        try:
            group = grp.getgrgid(self.gid).gr_name
        except KeyError:
            group = str(self.gid)
        return f"{self.name} (uid {self.uid}, gid {self.gid} {group})"


def _lookup(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if name.isdigit():
        try:
            return pwd.getpwuid(int(name))
        except KeyError:
            pass
    raise PrivilegeError(
        f"--run-as {name!r}: no such Unix account",
        f"create it (useradd --system --no-create-home --shell /usr/sbin/nologin {name}) "
        "or name an existing one",
    )


def default_account() -> str:
    try:
        pwd.getpwnam(DEFAULT_ACCOUNT)
        return DEFAULT_ACCOUNT
    except KeyError:
        return FALLBACK_ACCOUNT


def resolve_run_as(requested: str | None) -> RunAs | None:
    """The account ``lanman up`` should serve as, or None to stay as it is (not root, and
    no --run-as, or --run-as naming the current user)."""
    euid = os.geteuid()
    if euid != 0:
        if requested is None:
            return None
        pw = _lookup(requested)
        if pw.pw_uid == euid:
            return None
        raise PrivilegeError(
            f"--run-as {requested!r} needs lanman up to be started as root (it runs as uid {euid})",
            "start it as root (sudo), or leave out --run-as",
        )
    pw = _lookup(requested if requested is not None else default_account())
    groups = tuple(sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid))))
    return RunAs(pw.pw_name, pw.pw_uid, pw.pw_gid, groups, requested is not None)


def hand_home_to(home: str | os.PathLike[str], run_as: RunAs) -> None:
    """``lchown`` the home and everything in it but ``shares/`` to the account."""
    home = Path(home)
    uid, gid = run_as.uid, run_as.gid
    os.chown(home, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(home):
        if Path(root) == home and _SHARES in dirs:
            dirs.remove(_SHARES)
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):  # -wal/-shm may come and go
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def hand_tree_to(path: str | os.PathLike[str], run_as: RunAs) -> None:
    """``lchown -R`` (used for the demo share, which is lanman's own directory)."""
    os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(root, name), run_as.uid, run_as.gid, follow_symlinks=False)


def drop_privileges(run_as: RunAs, *, keep_setid: bool = False) -> None:
    """Become ``run_as`` for good (groups, gid, uid; real, effective and saved).

    ``keep_setid`` (accounts mapped to Unix users, :mod:`lanman.fsid`): keep exactly
    CAP_SETUID and CAP_SETGID so that request threads can switch their file-system
    identity. Those two capabilities would also let code running inside the process
    become root again: they protect against the file layer handing out what a user may
    not read, not against arbitrary code execution in the server."""
    libc = _libc() if keep_setid else None
    if libc is not None and libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise PrivilegeError("prctl(PR_SET_KEEPCAPS) failed")
    os.setgroups(list(run_as.groups))
    os.setresgid(run_as.gid, run_as.gid, run_as.gid)
    os.setresuid(run_as.uid, run_as.uid, run_as.uid)
    if libc is not None:
        _capset(libc, (1 << _CAP_SETUID) | (1 << _CAP_SETGID))
        libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
    elif run_as.uid != 0:
        # Proof that there is no way back (saved set-user-ID gone).
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:  # pragma: no cover - the kernel would have to be lying
            raise PrivilegeError("could not drop root privileges")
    if run_as.uid != 0:
        with contextlib.suppress(Exception):
            _no_new_privs()


_PR_SET_KEEPCAPS = 8
_CAP_SETGID = 6
_CAP_SETUID = 7
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _libc():
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _capset(libc, mask: int) -> None:
    """Effective and permitted capabilities of this thread := ``mask`` (inheritable none)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    hdr = Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (Data * 2)()
    data[0].effective = data[0].permitted = mask & 0xFFFFFFFF
    data[1].effective = data[1].permitted = mask >> 32
    if libc.capset(ctypes.byref(hdr), data) != 0:
        err = ctypes.get_errno()
        raise PrivilegeError(f"capset failed: {os.strerror(err)}")


def _no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: no set-user-ID program can give privileges back (Linux)."""
    pr_set_no_new_privs = 38
    _libc().prctl(pr_set_no_new_privs, 1, 0, 0, 0)


def check_home_access(home: str | os.PathLike[str], db: str | os.PathLike[str]) -> None:
    """After the drop: the account must reach the home and read/write the database."""
    home = Path(home)
    # Find the first directory on the way that the account cannot traverse.
    for parent in [*reversed(home.parents), home]:
        if not os.access(parent, os.X_OK):
            raise PrivilegeError(
                f"the service account (uid {os.getuid()}) cannot enter {str(parent)!r} on the "
                f"way to the data directory {str(home)!r}",
                "put the data directory where the account can reach it (e.g. "
                f"chmod o+x {str(parent)!r}), or choose another --run-as",
            )
    if not os.access(home, os.R_OK | os.W_OK | os.X_OK) or not os.access(db, os.R_OK | os.W_OK):
        raise PrivilegeError(
            f"the service account (uid {os.getuid()}) cannot read and write {str(db)!r}",
            "check the owner of the data directory",
        )
