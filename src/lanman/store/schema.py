"""SQLite schema of ``lanman.sqlite`` and its migrations.

One file holds every table (accounts, shares, the event log) so that a home directory is one
database plus ``lanman.toml``. ``PRAGMA user_version`` is the schema version; each entry of
:data:`MIGRATIONS` moves the file from version *n* to *n + 1* inside one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- Local accounts. Only the NT hash (MD4 of UTF-16LE password) is kept, never the password.
    CREATE TABLE users (
        name    TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        rid     INTEGER NOT NULL UNIQUE,
        nt_hash BLOB NOT NULL CHECK (length(nt_hash) = 16),
        enabled INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL
    );
    CREATE TABLE shares (
        name      TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        path      TEXT NOT NULL,
        read_only INTEGER NOT NULL DEFAULT 0,
        guest_ok  INTEGER NOT NULL DEFAULT 0,
        remark    TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time_utc  TEXT NOT NULL,
        event_id  INTEGER NOT NULL,
        level     TEXT NOT NULL,
        source    TEXT NOT NULL,
        message   TEXT NOT NULL,
        data_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_time ON events (time_utc);
    CREATE INDEX events_event_id ON events (event_id);
    -- Windows local accounts get RIDs from 1000 on and never reuse one.
    INSERT INTO meta (key, value) VALUES ('next_rid', '1000');
    """,
)


class SchemaTooNewError(RuntimeError):
    pass


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    The connection may be shared between threads; callers serialise access with a lock.
    """
    path = Path(path)
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this lanman supports "
            f"({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for stmt in _split(MIGRATIONS[version]):
                    conn.execute(stmt)
                version += 1
                conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
