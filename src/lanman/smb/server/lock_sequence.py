"""Lock sequence replay detection (MS-SMB2 3.3.5.14, Open.LockSequenceArray 3.3.1.10).

A LOCK request's LockSequence (MS-SMB2 2.2.26) holds a 4-bit LockSequenceNumber and a
28-bit LockSequenceIndex. For an open that can outlive its connection (durable, or any
open of an SMB 3.x connection that can bind channels: a client may resend a LOCK on
another channel), the server remembers, per index 1..64, the number of the last LOCK that
succeeded with it: the same number again is a replay, answered STATUS_SUCCESS without
locking twice. The entry is invalidated before a request is processed and set again only
when it succeeds. SMB 2.0.2 has no lock sequence. Pure data: no I/O, bounded to 64 entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Open.LockSequenceArray has 64 entries, indexed 1..64 (0 is reserved)
MAX_LOCK_SEQUENCE_INDEX = 64


def split(lock_sequence: int) -> tuple[int, int]:
    """(LockSequenceNumber, LockSequenceIndex) of the LOCK request's 32-bit field."""
    return lock_sequence & 0xF, (lock_sequence >> 4) & 0x0FFFFFFF


@dataclass(slots=True)
class LockSequenceArray:
    """Open.LockSequenceArray: index -> the SequenceNumber of a Valid entry."""

    valid: dict[int, int] = field(default_factory=dict)

    def begin(self, lock_sequence: int) -> bool:
        """Start a LOCK request: True when it replays the last successful one of its index
        (answer STATUS_SUCCESS, do nothing); else its entry turns invalid."""
        number, index = split(lock_sequence)
        if not 1 <= index <= MAX_LOCK_SEQUENCE_INDEX:
            return False
        if self.valid.get(index) == number:
            return True
        self.valid.pop(index, None)
        return False

    def succeeded(self, lock_sequence: int) -> None:
        """The LOCK request succeeded: its entry is Valid with its number."""
        number, index = split(lock_sequence)
        if 1 <= index <= MAX_LOCK_SEQUENCE_INDEX:
            self.valid[index] = number


def applies(*, dialect_2_0_2: bool, durable: bool, multichannel: bool) -> bool:
    """Whether an open's LOCK requests are checked: never on SMB 2.0.2; durable opens;
    and every open of a connection with multichannel (a resend may come on any channel)."""
    return not dialect_2_0_2 and (durable or multichannel)
