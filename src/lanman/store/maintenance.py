"""Checking, backing up and restoring ``lanman.sqlite`` (``lanman store check|backup|restore``).

Everything here goes through SQLite: the database file is never opened, read or copied with
plain file calls, because SQLite's locks are POSIX ``fcntl`` locks owned by the process and
closing *any* descriptor of the file drops them all (a running ``lanman up`` would then
lose its locks and corrupt its ``-shm``/``-wal``).

- :func:`check` runs ``PRAGMA integrity_check`` (``quick_check`` with ``quick=True``, what
  ``lanman up`` runs at start) and reports the problems, plus a schema version this lanman
  does not know.
- :func:`backup` copies a consistent snapshot with SQLite's online backup API (safe while the
  server runs) into a self-contained file (rollback journal, mode 0600) and checks the copy.
- :func:`restore` checks the backup first, then replaces the live content in one SQLite
  transaction with the backup API (readers see the old or the new database, never a mix);
  when the live file is missing or not a database at all, it writes a fresh copy next to it
  and renames it over the old file (``os.replace``, atomic), removing the stale ``-wal`` and
  ``-shm`` -- stop ``lanman up`` first in that case.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from lanman.store.schema import SCHEMA_VERSION

__all__ = ["StoreMaintenanceError", "backup", "check", "restore"]

_REQUIRED_TABLES = ("meta", "users", "shares", "events")


class StoreMaintenanceError(ValueError):
    def __init__(self, message: str, remedy: str = ""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open an existing database (never create one), autocommit."""
    mode = "ro" if readonly else "rw"
    uri = f"file:{_uri_path(path)}?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(Path(path).absolute()), safe="/")


def _problems(conn: sqlite3.Connection, quick: bool) -> list[str]:
    pragma = "quick_check" if quick else "integrity_check"
    rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
    problems = [] if rows == ["ok"] else [str(r) for r in rows]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        problems.append(
            f"schema version {version} is newer than this lanman supports ({SCHEMA_VERSION})"
        )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version > 0:
        missing = [t for t in _REQUIRED_TABLES if t not in tables]
        if missing:
            problems.append(f"missing tables: {', '.join(missing)}")
    return problems


def check(path: str | os.PathLike[str], *, quick: bool = False) -> list[str]:
    """Problems of the database at ``path`` ([] when it is sound)."""
    path = Path(path)
    if not path.exists():
        return [f"{path} does not exist"]
    try:
        conn = _connect(path)
    except sqlite3.Error as e:
        return [f"cannot open {path}: {e}"]
    try:
        return _problems(conn, quick)
    except sqlite3.DatabaseError as e:  # "file is not a database", "database disk image ..."
        return [str(e)]
    finally:
        conn.close()


def _private_tmp(final: Path) -> Path:
    """A fresh 0600 file next to ``final`` (same file system, so os.replace is atomic)."""
    for i in range(100):
        tmp = final.with_name(f".{final.name}.tmp{os.getpid()}-{i}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return tmp
    raise StoreMaintenanceError(f"cannot create a temporary file next to {final}")


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _copy_to_new_file(src: sqlite3.Connection, final: Path) -> Path:
    """Backup-API copy of ``src`` into a new self-contained file next to ``final``."""
    tmp = _private_tmp(final)
    try:
        dst = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
            problems = _problems(dst, quick=False)
        finally:
            dst.close()
        if problems:
            raise StoreMaintenanceError(
                f"the copy failed its integrity check: {'; '.join(problems)}"
            )
    except BaseException:
        _remove_db_files(tmp)
        raise
    return tmp


def backup(
    db: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool = False
) -> None:
    """Write a consistent copy of the database ``db`` to ``dest`` (0600)."""
    db, dest = Path(db), Path(dest)
    if dest.exists() and not force:
        raise StoreMaintenanceError(
            f"{dest} exists", "choose another file name, or add --force to overwrite it"
        )
    if not db.exists():
        raise StoreMaintenanceError(f"{db} does not exist", "check --home")
    problems = check(db, quick=True)
    if problems:
        raise StoreMaintenanceError(
            f"{db} is damaged: {'; '.join(problems)}",
            "a backup of a damaged store would be damaged too; restore an older backup",
        )
    try:
        src = _connect(db)
    except sqlite3.Error as e:
        raise StoreMaintenanceError(f"cannot open {db}: {e}") from None
    try:
        tmp = _copy_to_new_file(src, dest)
    except sqlite3.Error as e:
        raise StoreMaintenanceError(f"backup failed: {e}") from None
    finally:
        src.close()
    os.replace(tmp, dest)
    _remove_db_files_side(tmp)


def _remove_db_files_side(tmp: Path) -> None:
    """``tmp`` was renamed; drop any journal it may have left beside it."""
    for suffix in ("-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{tmp}{suffix}")


def restore(source: str | os.PathLike[str], db: str | os.PathLike[str]) -> str:
    """Replace the database ``db`` with the backup ``source`` after checking the backup.

    Returns how it was done: ``"in place"`` (the live database took the backup's content in
    one transaction) or ``"replaced"`` (the live file was missing or not a database and was
    replaced by a fresh copy)."""
    source, db = Path(source), Path(db)
    if not source.is_file():
        raise StoreMaintenanceError(f"{source} does not exist", "give the path of a backup file")
    if source.resolve() == db.resolve():
        raise StoreMaintenanceError("the backup is the live database itself")
    problems = check(source)
    if problems:
        raise StoreMaintenanceError(
            f"{source} is not a sound lanman store: {'; '.join(problems)}",
            "choose another backup; nothing was changed",
        )
    try:
        src = _connect(source, readonly=True)
    except sqlite3.Error as e:
        raise StoreMaintenanceError(f"cannot open {source}: {e}") from None
    try:
        version = src.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            raise StoreMaintenanceError(
                f"{source} is an SQLite file but not a lanman store (no schema)",
                "choose a file written by `lanman store backup`; nothing was changed",
            )
        live_ok = db.exists() and not check(db, quick=True)
        if live_ok:
            dst = _connect(db)
            try:
                src.backup(dst)
            except sqlite3.Error as e:
                raise StoreMaintenanceError(f"restore failed: {e}") from None
            finally:
                dst.close()
            return "in place"
        owner = None
        with contextlib.suppress(OSError):
            st = os.stat(db)
            owner = (st.st_uid, st.st_gid)
        tmp = _copy_to_new_file(src, db)
    finally:
        src.close()
    if owner is not None and os.geteuid() == 0:
        os.chown(tmp, *owner)
    for suffix in ("-wal", "-shm", "-journal"):  # they belong to the damaged file
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{db}{suffix}")
    os.replace(tmp, db)
    _remove_db_files_side(tmp)
    return "replaced"
