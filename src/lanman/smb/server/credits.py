"""Credit accounting and the MessageId window (MS-SMB2 3.3.1.1, 3.3.5.2.3)."""

from __future__ import annotations

MAX_CREDITS = 8192  # the most credits a client may hold (Windows grants up to 8192)


class SequenceWindow:
    """The set of MessageIds a client may use next.

    Ids ``[low, high)`` were granted; ``used`` holds ids above ``low`` already consumed
    out of order. Grants never let the window exceed :data:`MAX_CREDITS` ids.
    """

    __slots__ = ("high", "low", "used")

    def __init__(self) -> None:
        self.low = 0
        self.high = 1  # MessageId 0 is granted for the first NEGOTIATE
        self.used: set[int] = set()

    @property
    def outstanding(self) -> int:
        return self.high - self.low - len(self.used)

    def consume(self, message_id: int, charge: int) -> bool:
        """Take ``charge`` ids starting at ``message_id``; False if any is not available."""
        charge = max(charge, 1)
        last = message_id + charge
        if message_id < self.low or last > self.high:
            return False
        ids = range(message_id, last)
        if self.used and any(i in self.used for i in ids):
            return False
        if message_id == self.low:
            self.low = last
            while self.low in self.used:
                self.used.discard(self.low)
                self.low += 1
        else:
            self.used.update(ids)
        return True

    def grant(self, requested: int) -> int:
        """Credits for a response: what was asked, at least 1, never beyond MAX_CREDITS
        outstanding (3.3.1.2); a client left with none always gets one."""
        room = MAX_CREDITS - self.outstanding
        granted = max(0, min(max(requested, 1), room))
        if granted == 0 and self.outstanding == 0:
            granted = 1
        self.high += granted
        return granted
