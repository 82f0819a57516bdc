"""Authenticator replay cache (RFC 4120 3.2.3, 10): bounded, time-windowed."""

from __future__ import annotations

import hashlib
import struct
import time
from collections import OrderedDict

__all__ = [
    "ReplayCache",
    "ReplayCacheFull",
    "SharedReplayCache",
    "ShmReplayCache",
    "open_shared_replay",
]


class ReplayCache:
    """Remembers a digest of each authenticator ciphertext until it leaves the skew window.

    Bounded: at most ``max_entries`` live entries; when that many are inside the window a new
    authenticator is refused (:class:`ReplayCacheFull`), never stored by evicting a live one
    (which would let a replay of the evicted authenticator through).
    """

    __slots__ = ("_entries", "max_entries", "window")

    def __init__(self, window: float = 300.0, max_entries: int = 200_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def check_and_store(self, authenticator_cipher: bytes, server: str, now: float) -> bool:
        """True if fresh (and now remembered); False if it is a replay.

        Raises :class:`ReplayCacheFull` when there is no room to remember it."""
        self._expire(now)
        key = hashlib.sha256(server.encode() + b"\x00" + authenticator_cipher).digest()
        if key in self._entries:
            return False
        if len(self._entries) >= self.max_entries:
            raise ReplayCacheFull("replay cache full")
        self._entries[key] = now + 2 * self.window
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


class ReplayCacheFull(Exception):
    """No room to remember a fresh authenticator: the request is refused, not called a replay.

    (A replay verdict would be a lie, and accepting without remembering would let a copy
    through.)  The KDC answers KDC_ERR_SVC_UNAVAILABLE, the error MIT's KDC uses when it
    cannot serve for a local reason; MIT's client library then tries the next KDC.
    """


def _digest(authenticator_cipher: bytes, server: str) -> bytes:
    return hashlib.sha256(server.encode() + b"\x00" + authenticator_cipher).digest()[:16]


class ShmReplayCache:
    """A replay cache shared by the KDC's processes: a fixed-size hash table in a mmap'ed file.

    The file (in ``/dev/shm`` when there is one: shared memory, never written to disk) is a
    header and ``buckets`` buckets of ``BUCKET_SLOTS`` slots; a slot is a 16-byte digest of the
    (server, authenticator ciphertext) pair and a 32-bit expiry time (0: empty).  A digest may
    live in one of two buckets (the second is used when the first is full, so a table fills
    evenly before a request is refused).  A check takes an
    exclusive ``flock`` on the file (released by the kernel if a process dies holding it),
    looks for the digest among the live slots of both buckets (one ``bytes.find`` each) and, if
    absent, writes it into the first free or expired slot.

    Bounded memory: the table never grows.  Entries expire twice the skew window after they
    were stored (an authenticator's ctime is within one window of its first arrival, so any
    later copy fails the skew check anyway).  When both buckets hold only live entries the
    request is refused (:class:`ReplayCacheFull`) -- never evicted (that would let a replay of
    the evicted authenticator through) and never answered KRB_AP_ERR_REPEAT.
    """

    MAGIC = b"LMRC0001"
    BUCKET_SLOTS = 16
    SLOT = 20  # 16-byte digest + little-endian uint32 expiry
    _HEADER = struct.Struct("<8sII")  # magic, buckets, slots per bucket
    HEADER_SIZE = 64

    __slots__ = ("_bucket_bytes", "_buckets", "_exp", "_fd", "_lock", "_mm", "path", "window")

    def __init__(self, path: str, window: float = 300.0, max_entries: int = 200_000) -> None:
        import fcntl
        import mmap
        import os
        import threading

        self.path = path
        self.window = window
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size == 0:  # first opener lays the table out (zeros: every slot empty)
                    buckets = max(1, -(-2 * max_entries // self.BUCKET_SLOTS))  # load <= 50 %
                    os.ftruncate(fd, self.HEADER_SIZE + buckets * self.BUCKET_SLOTS * self.SLOT)
                    os.pwrite(fd, self._HEADER.pack(self.MAGIC, buckets, self.BUCKET_SLOTS), 0)
                    size = os.fstat(fd).st_size
                magic, buckets, slots = self._HEADER.unpack(os.pread(fd, self._HEADER.size, 0))
                expect = self.HEADER_SIZE + buckets * slots * self.SLOT
                if magic != self.MAGIC or slots != self.BUCKET_SLOTS or size != expect:
                    raise ValueError(f"{path}: not a lanman replay cache")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._buckets = buckets
        self._bucket_bytes = self.BUCKET_SLOTS * self.SLOT
        self._exp = struct.Struct("<" + "16xI" * self.BUCKET_SLOTS)
        self._lock = threading.Lock()  # flock does not exclude threads sharing the descriptor

    @property
    def capacity(self) -> int:
        return self._buckets * self.BUCKET_SLOTS

    def __len__(self) -> int:
        """Live and not yet reclaimed entries (expired ones count until overwritten)."""
        n = 0
        for b in range(self._buckets):
            n += sum(1 for e in self._exp.unpack_from(self._mm, self._offset(b)) if e)
        return n

    def _offset(self, bucket: int) -> int:
        return self.HEADER_SIZE + bucket * self._bucket_bytes

    def close(self) -> None:
        import os

        if self._fd >= 0:
            self._mm.close()
            os.close(self._fd)
            self._fd = -1

    def _find(self, off: int, key: bytes, now: int) -> bool:
        mm, end, slot = self._mm, off + self._bucket_bytes, self.SLOT
        i = mm.find(key, off, end)
        while i >= 0:
            if (i - off) % slot == 0:
                (exp,) = struct.unpack_from("<I", mm, i + 16)
                if exp > now:
                    return True
            i = mm.find(key, i + 1, end)
        return False

    def check_and_store(self, authenticator_cipher: bytes, server: str, now: float) -> bool:
        """True if fresh (and now remembered by every process); False if it is a replay.

        Raises :class:`ReplayCacheFull` when there is no room to remember it."""
        import fcntl

        key = _digest(authenticator_cipher, server)
        h = int.from_bytes(key[:8], "little")
        b1 = h % self._buckets
        b2 = (h >> 32) % self._buckets
        o1, o2 = self._offset(b1), self._offset(b2)
        t = int(now)
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if self._find(o1, key, t) or (o2 != o1 and self._find(o2, key, t)):
                    return False
                # First fit in the first bucket with room: a live entry's expiry is > t.
                off = o1
                exps = self._exp.unpack_from(self._mm, o1)
                if min(exps) > t:
                    off = o2
                    exps = self._exp.unpack_from(self._mm, o2)
                    if min(exps) > t:
                        raise ReplayCacheFull("replay cache full")
                j = 0
                while exps[j] > t:
                    j += 1
                pos = off + j * self.SLOT
                self._mm[pos : pos + self.SLOT] = key + struct.pack(
                    "<I", t + int(2 * self.window) + 1
                )
                return True
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def open_shared_replay(path: str, window: float = 300.0, max_entries: int = 200_000):
    """The cross-process replay cache at ``path``: SQLite for ``*.sqlite`` (the older, slower
    backend, kept for comparison), else the shared-memory table."""
    if path.endswith(".sqlite"):
        return SharedReplayCache(path, window=window, max_entries=max_entries)
    return ShmReplayCache(path, window=window, max_entries=max_entries)
