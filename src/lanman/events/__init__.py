"""Security and operational event log.

Events live in the ``events`` table of the home's ``lanman.sqlite`` (same file as accounts and
shares; the schema is versioned in :mod:`lanman.store.schema`). Writing never raises into the
caller: a disk or database error is reported on stderr and the event is dropped, so a full
disk cannot turn into a denial of service of the SMB server.

Retention is that of a Windows log set to "overwrite events as needed": the log has a maximum
size (20 MiB by default, ``event_log_max_kib`` in lanman.toml) and when a write takes it past
that, the oldest events are removed until it is back under 90% of it. An event's size is its
text (message, data, source, level) plus a fixed per-record overhead.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from lanman.events.catalogue import BY_ID, CATALOGUE, LEVELS, EventDef, render

__all__ = [
    "BY_ID",
    "CATALOGUE",
    "DEFAULT_MAX_BYTES",
    "LEVELS",
    "EventDef",
    "EventLog",
    "render",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # Windows' default maximum for the Security log
_RECORD_OVERHEAD = 64  # bytes per record besides its text; the schema's triggers count the same
_SIZE_SQL = "length(message) + length(data_json) + length(source) + length(level) + ?"

_TIME_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
_SECRET_KEYS = ("password", "secret", "nt_hash", "session_key")


def _utc(ts: datetime | str) -> str:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime(_TIME_FMT)


class EventLog:
    """``EventLog(path_to_sqlite)``. Thread-safe; one connection guarded by a lock."""

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes < 1024:
            raise ValueError("the event log needs a maximum size of at least 1 KiB")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            from lanman.store import schema

            self._conn = schema.connect(self.path)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def write(self, event_id: int, level: str, source: str, message: str, **data: object) -> None:
        """Append one event. Never raises on database/disk errors (reports on stderr)."""
        try:
            clean = {
                k: ("[redacted]" if any(s in k.lower() for s in _SECRET_KEYS) else v)
                for k, v in data.items()
            }
            data_json = json.dumps(clean, default=str, ensure_ascii=False, sort_keys=True)
            row = (
                datetime.now(UTC).strftime(_TIME_FMT),
                int(event_id),
                str(level),
                str(source),
                str(message),
                data_json,
            )
            with self._lock:
                conn = self._connection()
                conn.execute(
                    "INSERT INTO events (time_utc, event_id, level, source, message, data_json) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                self._enforce_maximum(conn)
        except Exception as e:  # noqa: BLE001 - the event log must never break its caller
            with contextlib.suppress(Exception):  # stderr itself may be gone
                print(
                    f"lanman: could not write event {event_id} to {self.path}: {e}; "
                    f"event message: {message}",
                    file=sys.stderr,
                )

    # ---- retention -------------------------------------------------------------------

    @staticmethod
    def _size(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT bytes FROM event_log_size WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def _enforce_maximum(self, conn: sqlite3.Connection) -> None:
        """Past the maximum: remove the oldest events until under 90% of it. The size is kept
        by triggers in the database, so it is exact whichever process wrote the events."""
        size = self._size(conn)
        if size <= self.max_bytes:
            return
        excess = size - (self.max_bytes * 9) // 10
        freed, cutoff, after = 0, None, -1
        while freed < excess:
            batch = conn.execute(
                f"SELECT id, {_SIZE_SQL} FROM events WHERE id > ? ORDER BY id LIMIT 2048",
                (_RECORD_OVERHEAD, after),
            ).fetchall()
            if not batch:
                break
            for rid, rsize in batch:
                freed += rsize
                cutoff = rid
                if freed >= excess:
                    break
            after = batch[-1][0]
        if cutoff is not None:
            conn.execute("DELETE FROM events WHERE id <= ?", (cutoff,))

    def size_bytes(self) -> int:
        """What the log holds now, counted as retention counts it."""
        with self._lock:
            return self._size(self._connection())

    def clear(self) -> int:
        """Remove every event; returns how many there were (the caller logs the clearing)."""
        with self._lock:
            conn = self._connection()
            n = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            conn.execute("DELETE FROM events")
        return int(n)

    def emit(self, name: str, source: str = "lanman", **data: object) -> None:
        """Write catalogue event ``name`` with its id, level and rendered template."""
        ev = CATALOGUE[name]
        self.write(ev.id, ev.level, source, render(name, **data), **data)

    def query(
        self,
        since: datetime | str | None = None,
        event_id: int | None = None,
        limit: int = 100,
        until: datetime | str | None = None,
    ) -> list[dict]:
        """Events newest first. ``since`` is a datetime or ISO 8601 string (naive = UTC);
        ``until`` likewise keeps events at or before it.

        Each dict: id, time_utc, event_id, name, level, source, message, data (dict).
        """
        sql = "SELECT id, time_utc, event_id, level, source, message, data_json FROM events"
        where, args = [], []
        if since is not None:
            where.append("time_utc >= ?")
            args.append(_utc(since))
        if until is not None:
            where.append("time_utc <= ?")
            args.append(_utc(until))
        if event_id is not None:
            where.append("event_id = ?")
            args.append(int(event_id))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(max(0, int(limit)))
        with self._lock:
            rows = self._connection().execute(sql, args).fetchall()
        out = []
        for r in rows:
            try:
                data = json.loads(r[6])
            except ValueError:
                data = {"raw": r[6]}
            ev = BY_ID.get(r[2])
            out.append(
                {
                    "id": r[0],
                    "time_utc": r[1],
                    "event_id": r[2],
                    "name": ev.name if ev else "",
                    "level": r[3],
                    "source": r[4],
                    "message": r[5],
                    "data": data,
                }
            )
        return out
