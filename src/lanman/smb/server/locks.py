"""Byte-range locks of one file, shared by all its opens (MS-SMB2 3.3.5.14, MS-FSA 2.1.5.7).

The rules, as Windows applies them (and smbtorture's smb2.lock checks):

* an exclusive lock conflicts with every overlapping lock, the requesting open's own
  included; a shared lock conflicts only with another open's overlapping exclusive lock (so
  an open may stack shared locks on its own exclusive one);
* a zero-length lock at P overlaps a range [O, O+L) only when O < P < O+L; two zero-length
  locks never overlap, and zero-length locks never block reads or writes;
* an unlock names its range exactly and removes the open's exclusive lock of that range
  before a shared one;
* a blocking request (no SMB2_LOCKFLAG_FAIL_IMMEDIATELY) that conflicts waits here
  (:meth:`ByteRangeLocks.wait`) and is granted, first come first served, when an unlock or a
  close makes room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError

MAX_LOCKS_PER_FILE = 4096
#: blocking lock requests waiting on one file (each also holds an async slot of its connection)
MAX_WAITERS_PER_FILE = 1024


def ranges_overlap(o1: int, l1: int, o2: int, l2: int) -> bool:
    """MS-FSA 2.1.5.7's overlap test, with Windows' zero-length rule (module docstring)."""
    if l1 == 0 and l2 == 0:
        return False
    if l1 == 0:
        return o2 < o1 < o2 + l2
    if l2 == 0:
        return o1 < o2 < o1 + l1
    return o1 < o2 + l2 and o2 < o1 + l1


@dataclass(slots=True)
class _Lock:
    owner: object  # (connection id, volatile id) of the open
    offset: int
    length: int
    exclusive: bool


@dataclass(slots=True)
class Waiter:
    """A blocking lock request that waits for a conflicting lock to go away."""

    owner: object
    offset: int
    length: int
    exclusive: bool
    #: called once when the lock has been granted (the caller completes its async reply)
    granted: Callable[[], None]


class ByteRangeLocks:
    __slots__ = ("_locks", "_waiters")

    def __init__(self) -> None:
        self._locks: list[_Lock] = []
        self._waiters: list[Waiter] = []

    def __len__(self) -> int:
        return len(self._locks)

    @property
    def idle(self) -> bool:
        """No lock held and nobody waiting: the table can be dropped."""
        return not self._locks and not self._waiters

    def _conflict(self, owner: object, offset: int, length: int, exclusive: bool) -> bool:
        for lk in self._locks:
            if not ranges_overlap(lk.offset, lk.length, offset, length):
                continue
            if exclusive or (lk.exclusive and lk.owner != owner):
                return True
        return False

    def lock(self, owner: object, offset: int, length: int, *, exclusive: bool) -> None:
        """Grant at once or raise STATUS_LOCK_NOT_GRANTED (SMB2 never answers a failed lock
        with STATUS_FILE_LOCK_CONFLICT: that status is for reads and writes)."""
        if self._conflict(owner, offset, length, exclusive):
            raise NtStatusError(st.STATUS_LOCK_NOT_GRANTED)
        if len(self._locks) >= MAX_LOCKS_PER_FILE:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES)
        self._locks.append(_Lock(owner, offset, length, exclusive))

    def would_conflict(self, owner: object, offset: int, length: int, *, exclusive: bool) -> bool:
        return self._conflict(owner, offset, length, exclusive)

    def wait(self, waiter: Waiter) -> None:
        """Queue a blocking request that conflicts now (the caller went async)."""
        if len(self._waiters) >= MAX_WAITERS_PER_FILE:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES)
        self._waiters.append(waiter)

    def cancel_wait(self, waiter: Waiter) -> bool:
        """Forget a waiting request (CANCEL, close of its open); True if it was waiting."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            return False
        return True

    def _grant_waiters(self) -> None:
        for w in list(self._waiters):
            if w not in self._waiters:  # a grant callback cancelled it meanwhile
                continue
            if self._conflict(w.owner, w.offset, w.length, w.exclusive):
                continue
            if len(self._locks) >= MAX_LOCKS_PER_FILE:
                return
            self._waiters.remove(w)
            self._locks.append(_Lock(w.owner, w.offset, w.length, w.exclusive))
            w.granted()

    def unlock(self, owner: object, offset: int, length: int) -> None:
        """Remove the owner's lock of exactly this range, its exclusive one first."""
        match = None
        for i, lk in enumerate(self._locks):
            if lk.owner == owner and lk.offset == offset and lk.length == length:
                if lk.exclusive:
                    match = i
                    break
                if match is None:
                    match = i
        if match is None:
            raise NtStatusError(st.STATUS_RANGE_NOT_LOCKED)
        del self._locks[match]
        self._grant_waiters()

    def held_by(self, owner: object) -> list[tuple[int, int, bool]]:
        """(offset, length, exclusive) of every lock ``owner`` holds (lanman status)."""
        return [(lk.offset, lk.length, lk.exclusive) for lk in self._locks if lk.owner == owner]

    def transfer_owner(self, old: object, new: object) -> None:
        """A reconnected durable open keeps its locks under its new owner key."""
        for lk in self._locks:
            if lk.owner == old:
                lk.owner = new

    def release_owner(self, owner: object) -> None:
        """The open closed: its locks go (its own waiting requests are the caller's to
        cancel first), and whoever waited on them may now be granted."""
        before = len(self._locks)
        self._locks = [lk for lk in self._locks if lk.owner != owner]
        if len(self._locks) != before:
            self._grant_waiters()

    def conflicts(self, owner: object, offset: int, length: int, *, write: bool) -> bool:
        """True if a lock forbids this read/write (MS-FSA 2.1.4.2): another open's exclusive
        lock, or for a write any shared lock (the writer's own included)."""
        if length == 0:
            return False
        for lk in self._locks:
            if lk.length == 0 or not ranges_overlap(lk.offset, lk.length, offset, length):
                continue
            if lk.owner != owner and (lk.exclusive or write):
                return True
            if lk.owner == owner and write and not lk.exclusive:
                return True
        return False
