"""Byte-range locks of one file, shared by all its opens (MS-SMB2 3.3.5.14, MS-FSA 2.1.5.7)."""

from __future__ import annotations

from dataclasses import dataclass

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError

MAX_LOCKS_PER_FILE = 4096


@dataclass(slots=True)
class _Lock:
    owner: object  # (connection id, volatile id) of the open
    offset: int
    length: int
    exclusive: bool

    def overlaps(self, offset: int, length: int) -> bool:
        if self.length == 0 or length == 0:
            return False
        return offset < self.offset + self.length and self.offset < offset + length


class ByteRangeLocks:
    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: list[_Lock] = []

    def __len__(self) -> int:
        return len(self._locks)

    def lock(self, owner: object, offset: int, length: int, *, exclusive: bool) -> None:
        for lk in self._locks:
            if lk.overlaps(offset, length) and (exclusive or lk.exclusive):
                raise NtStatusError(st.STATUS_LOCK_NOT_GRANTED)
        if len(self._locks) >= MAX_LOCKS_PER_FILE:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES)
        self._locks.append(_Lock(owner, offset, length, exclusive))

    def unlock(self, owner: object, offset: int, length: int) -> None:
        for i, lk in enumerate(self._locks):
            if lk.owner == owner and lk.offset == offset and lk.length == length:
                del self._locks[i]
                return
        raise NtStatusError(st.STATUS_RANGE_NOT_LOCKED)

    def held_by(self, owner: object) -> list[tuple[int, int, bool]]:
        """(offset, length, exclusive) of every lock ``owner`` holds (lanman status)."""
        return [(lk.offset, lk.length, lk.exclusive) for lk in self._locks if lk.owner == owner]

    def transfer_owner(self, old: object, new: object) -> None:
        """A reconnected durable open keeps its locks under its new owner key."""
        for lk in self._locks:
            if lk.owner == old:
                lk.owner = new

    def release_owner(self, owner: object) -> None:
        self._locks = [lk for lk in self._locks if lk.owner != owner]

    def conflicts(self, owner: object, offset: int, length: int, *, write: bool) -> bool:
        """True if another open's lock forbids this read/write (MS-FSA 2.1.4.2)."""
        for lk in self._locks:
            if not lk.overlaps(offset, length):
                continue
            if lk.owner != owner and (lk.exclusive or write):
                return True
            if lk.owner == owner and write and not lk.exclusive:
                return True
        return False
