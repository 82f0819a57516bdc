"""Authenticator replay cache (RFC 4120 3.2.3, 10): bounded, time-windowed."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

__all__ = ["ReplayCache", "SharedReplayCache"]


class ReplayCache:
    """Remembers a digest of each authenticator ciphertext until it leaves the skew window.

    Bounded: at most ``max_entries``; the oldest entries are evicted first (an evicted
    authenticator is outside any sane window long before eviction under normal load).
    """

    __slots__ = ("_entries", "max_entries", "window")

    def __init__(self, window: float = 300.0, max_entries: int = 200_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def check_and_store(self, authenticator_cipher: bytes, server: str, now: float) -> bool:
        """True if fresh (and now remembered); False if it is a replay."""
        self._expire(now)
        key = hashlib.sha256(server.encode() + b"\x00" + authenticator_cipher).digest()
        if key in self._entries:
            return False
        self._entries[key] = now + 2 * self.window
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True

    def _expire(self, now: float) -> None:
        entries = self._entries
        for _ in range(1024):  # bounded work per call
            if not entries:
                return
            k, exp = next(iter(entries.items()))
            if exp > now:
                return
            del entries[k]


class SharedReplayCache:
    """A replay cache shared by the KDC's worker processes: one SQLite table (WAL) in a file.

    The fresh/replay decision is the ``INSERT OR FAIL`` on the primary key (a digest of the
    server name and the authenticator ciphertext): SQLite serializes writers across processes,
    so of two processes that see the same authenticator exactly one insert succeeds, whichever
    worker the second copy reaches.  Entries older than twice the skew window are purged every
    ``purge_every`` inserts (bounded: at most ``max_entries`` rows survive a purge, the oldest
    go first).  ``synchronous=OFF``: the file lives in a private temporary directory (tmpfs
    when there is one) and is dropped with the KDC; a crash loses the cache, as the in-memory
    one would.  A database error fails closed (treated as a replay).
    """

    __slots__ = ("_conn", "_inserts", "max_entries", "path", "purge_every", "window")

    def __init__(
        self,
        path: str,
        window: float = 300.0,
        max_entries: int = 200_000,
        purge_every: int = 1024,
    ) -> None:
        import sqlite3

        self.path = path
        self.window = window
        self.max_entries = max_entries
        self.purge_every = purge_every
        self._inserts = 0
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        # Switching to WAL takes an exclusive lock and SQLite does not always wait for it
        # (two processes opening the cache at once): retry, bounded.
        for attempt in range(100):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 99:
                    conn.close()
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS replay (k BLOB PRIMARY KEY, exp REAL NOT NULL) "
            "WITHOUT ROWID"
        )
        self._conn = conn

    def __len__(self) -> int:
        return self._conn.execute("SELECT count(*) FROM replay").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def check_and_store(self, authenticator_cipher: bytes, server: str, now: float) -> bool:
        """True if fresh (and now remembered by every process); False if it is a replay."""
        import sqlite3

        key = hashlib.sha256(server.encode() + b"\x00" + authenticator_cipher).digest()
        try:
            self._conn.execute(
                "INSERT OR FAIL INTO replay (k, exp) VALUES (?, ?)", (key, now + 2 * self.window)
            )
        except sqlite3.IntegrityError:
            return False
        except sqlite3.Error:
            return False  # fail closed: the client retries with a new authenticator
        self._inserts += 1
        if self._inserts >= self.purge_every:
            self._inserts = 0
            self._purge(now)
        return True

    def _purge(self, now: float) -> None:
        import sqlite3

        try:
            self._conn.execute("DELETE FROM replay WHERE exp <= ?", (now,))
            excess = len(self) - self.max_entries
            if excess > 0:
                self._conn.execute(
                    "DELETE FROM replay WHERE k IN (SELECT k FROM replay ORDER BY exp LIMIT ?)",
                    (excess,),
                )
        except sqlite3.Error:
            pass  # the next purge retries
