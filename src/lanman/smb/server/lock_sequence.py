"""Lock sequence verification (MS-SMB2 3.3.5.14, Open.LockSequenceArray of 3.3.1.10): a
LOCK request on a durable open at SMB 3.x carries LockSequenceNumber (low 4 bits of
LockSequence) and LockSequenceIndex (the upper 28 bits). For an index 1..64 the server
remembers the number of the last request that succeeded in that slot; a request repeating
it is a replay of a lock that already took effect (the client resent it over another
channel or after a reconnect) and succeeds without being processed again. Other indexes
are not checked. Which opens are checked: durable ones, and -- when the server offers
multichannel, as Windows and Samba do -- every open of a 3.x connection. The array is the
Open's (state.Open.lock_sequences), so it survives a durable reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanman.smb.wire.constants import Dialect

#: LockSequenceIndex values with a slot (1..64); 0 and anything above are not checked
MAX_LOCK_SEQUENCE_INDEX = 64


def split_lock_sequence(lock_sequence: int) -> tuple[int, int]:
    """(LockSequenceNumber, LockSequenceIndex) of a LOCK request's LockSequence field."""
    return lock_sequence & 0xF, (lock_sequence >> 4) & 0x0FFFFFFF


@dataclass(slots=True)
class LockSequenceArray:
    """Open.LockSequenceArray: index -> the SequenceNumber of its valid entry."""

    valid: dict[int, int] = field(default_factory=dict)

    def begin(self, lock_sequence: int) -> tuple[bool, int | None]:
        """Before processing a LOCK: (is a replay, slot to record on success or None).
        A slot that is not a replay is invalidated until the request succeeds."""
        number, index = split_lock_sequence(lock_sequence)
        if not 1 <= index <= MAX_LOCK_SEQUENCE_INDEX:
            return False, None
        if self.valid.get(index) == number:
            return True, None
        self.valid.pop(index, None)
        return False, index

    def succeeded(self, index: int | None, lock_sequence: int) -> None:
        if index is not None:
            self.valid[index] = split_lock_sequence(lock_sequence)[0]


def lock_sequences_of(conn, open_) -> LockSequenceArray | None:
    """The open's LockSequenceArray if its LOCKs are checked (see the module docstring)."""
    if (
        conn.dialect is None
        or conn.dialect < Dialect.SMB_3_0
        or conn.dialect == Dialect.SMB_2_WILDCARD
    ):
        return None
    if open_.durable is None and not conn.multichannel:
        return None
    if open_.lock_sequences is None:
        open_.lock_sequences = LockSequenceArray()
    return open_.lock_sequences
