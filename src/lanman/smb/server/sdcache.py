"""A bounded cache of the security descriptors stored on files (filesd.py's xattr store).

Every CREATE checks the descriptors of the object and of its parent (MS-FSA 2.1.5.1.2.1):
without a cache that is two ``getxattr`` calls and a self-relative descriptor decode
(MS-DTYP 2.4.6) per object per open. The cache maps an inode, ``(st_dev, st_ino)``, to what
its xattr held -- the decoded descriptor or ``None`` (no descriptor stored) -- together with
the inode's change time ``st_ctime_ns``, which moves on every ``setxattr``, ``chmod`` and
``chown``: an entry is used only while the file's ctime is the one it was read at.
Descriptors lanman writes itself are dropped from the cache as they are written
(:meth:`DescriptorCache.forget`). A change made by someone else is seen through the ctime;
as file systems stamp ctime from a coarse clock (one kernel tick), two changes inside one
tick share a ctime, so an object changed less than :data:`SETTLE_NS` before it is read is
not cached at all (the caller passes the wall clock in).

The entries are bounded (:data:`MAX_ENTRIES`, least recently used dropped first); a cached
descriptor is shared, so callers treat it as read-only (filesd.apply_set_info builds a new
one).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from lanman.security.descriptor import SecurityDescriptor

__all__ = ["MAX_ENTRIES", "SETTLE_NS", "DescriptorCache", "descriptors"]

MAX_ENTRIES = 4096
#: An object whose ctime is this recent (ns) is read again each time, never cached.
SETTLE_NS = 50_000_000
_MISS = object()


class DescriptorCache:
    """Stored descriptors by inode, valid for one ctime each (see the module docstring)."""

    __slots__ = ("_entries", "_lock", "limit")

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._lock = threading.Lock()  # directory scans run without the core lock
        self._entries: OrderedDict[tuple[int, int], tuple[int, SecurityDescriptor | None]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, st_: os.stat_result):
        """The cached descriptor (or None: nothing stored) of the object ``st_`` describes;
        the module's ``_MISS`` sentinel when the cache does not know it at this ctime."""
        key = (st_.st_dev, st_.st_ino)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != st_.st_ctime_ns:
                return _MISS
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, st_: os.stat_result, sd: SecurityDescriptor | None, now_ns: int) -> None:
        """Remember what the object's xattr held, read after ``st_`` was taken, at wall
        clock ``now_ns`` (an object changed within SETTLE_NS of it is not remembered)."""
        if now_ns - st_.st_ctime_ns < SETTLE_NS:
            return
        key = (st_.st_dev, st_.st_ino)
        with self._lock:
            self._entries[key] = (st_.st_ctime_ns, sd)
            self._entries.move_to_end(key)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def forget(self, st_: os.stat_result) -> None:
        """The object's descriptor is being changed: drop what is cached for it."""
        with self._lock:
            self._entries.pop((st_.st_dev, st_.st_ino), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @staticmethod
    def is_miss(value) -> bool:
        return value is _MISS


#: The server's cache (the SMB core runs under one lock, see transport._CORE_LOCK).
descriptors = DescriptorCache()
