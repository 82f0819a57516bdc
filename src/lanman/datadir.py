"""Keeping the data directory (the home: ``lanman.sqlite``, ``lanman.toml``, ...) out of SMB.

The home holds password-equivalent NT hashes and the domain's keys, and SQLite's locks on
``lanman.sqlite`` are POSIX (``fcntl``) locks: they belong to the *process*, and closing any
descriptor of the file -- even one opened by the SMB file layer for a client -- drops every
lock the process holds on it.  So no share may reach into the home:

- ``lanman share add`` refuses a path that is the home, contains it, or lies inside it
  (:func:`share_path_problem`); ``/`` needs ``--force`` (it contains every home, the file
  layer then keeps the home out);
- the file layer (:class:`DataDirGuard`, used by :class:`lanman.smb.server.fs.ShareFS`)
  refuses to open, create or rename to anything that resolves into the home, whatever the
  share: it checks the resolved (symlink-free) host path, the directory's ``(st_dev,
  st_ino)`` while it walks (bind mounts, hard-linked directories) and hard links to the
  database files.

The one exception is ``shares/`` inside the home: it is the default place for share
directories (``shares/demo`` of ``lanman up --demo``) and never holds lanman's own files.
"""

from __future__ import annotations

import os

__all__ = ["SHARES_SUBDIR", "DataDirGuard", "share_path_problem"]

SHARES_SUBDIR = "shares"
#: Files of the store next to ``lanman.sqlite`` (WAL mode, rollback journal).
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
DB_FILE = "lanman.sqlite"


def _within(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it (both absolute, normalised)."""
    if root == os.sep:
        return True
    return path == root or path.startswith(root + os.sep)


def share_path_problem(
    share_path: str, data_dir: str | os.PathLike[str], force: bool
) -> str | None:
    """Why ``share_path`` (already resolved) may not be shared from the home ``data_dir``
    (None when it may). ``/`` is allowed with ``force`` only; the data directory, any parent
    of it and anything inside it (except its ``shares/`` subtree) never."""
    share = os.path.realpath(share_path)
    home = os.path.realpath(data_dir)
    if share == os.sep:
        if force:
            return None
        return "'/' would share the whole file system"
    if share == home:
        return f"{share!r} is lanman's data directory (it holds the account database)"
    if _within(home, share):
        return f"{share!r} contains lanman's data directory {home!r}"
    if _within(share, home) and not _within(share, os.path.join(home, SHARES_SUBDIR)):
        return f"{share!r} lies inside lanman's data directory {home!r}"
    return None


class DataDirGuard:
    """What the file layer needs to keep one home out of every share."""

    __slots__ = ("db_paths", "home", "home_id", "shares")

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.home = os.path.realpath(data_dir)
        self.shares = os.path.join(self.home, SHARES_SUBDIR)
        try:
            st = os.stat(self.home)
            self.home_id: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            self.home_id = None
        self.db_paths = tuple(os.path.join(self.home, DB_FILE + s) for s in DB_SUFFIXES)

    def path_denied(self, host_path: str) -> bool:
        """``host_path`` (absolute, symlink-free) is inside the home but not in ``shares/``."""
        return _within(host_path, self.home) and not _within(host_path, self.shares)

    def is_home(self, st: os.stat_result) -> bool:
        return self.home_id is not None and (st.st_dev, st.st_ino) == self.home_id

    def is_db_file(self, st: os.stat_result) -> bool:
        """``st`` is one of the store's files (a hard link to it elsewhere, for instance)."""
        key = (st.st_dev, st.st_ino)
        for p in self.db_paths:
            try:
                s = os.stat(p)
            except OSError:
                continue
            if (s.st_dev, s.st_ino) == key:
                return True
        return False
