"""What an unauthenticated peer may make a listener hold, and the brake on failed logons.

Shared by the SMB server's and the KDC's TCP listeners. Pure bookkeeping: callers pass the
source address and the current time (``now``, seconds on any monotonic clock); nothing here
sleeps, reads a clock or touches a socket.

- :class:`ConnectionLimiter` counts live connections globally and per source address, so that
  one address holding many silent sockets cannot lock out everyone else.
- :class:`FailureBrake` is the authentication rate limiter of Windows 11 24H2 / Server 2025
  (``InvalidAuthenticationDelayTimeInMs``): every failed logon is answered only after the
  delay, and failures from one address queue one behind the other, so parallel connections
  from that address do not multiply its guessing rate. Other addresses are not delayed.
"""

from __future__ import annotations

from collections import OrderedDict

#: InvalidAuthenticationDelayTimeInMs: Windows' default and its allowed range (milliseconds).
DEFAULT_AUTH_DELAY_MS = 2000
AUTH_DELAY_RANGE_MS = (0, 10000)


def source_host(peername: object) -> str:
    """The address part of a socket's peer name (``'?'`` when unknown)."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return "?"


class ConnectionLimiter:
    """Global and per-source-address limits on simultaneous connections."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        if max_total < 1 or max_per_address < 1:
            raise ValueError("connection limits must be at least 1")
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self._by_address: dict[str, int] = {}

    def admit(self, address: str) -> str | None:
        """Count a new connection from ``address``; the reason it is refused, or None."""
        if self.total >= self.max_total:
            return f"server connection limit ({self.max_total}) reached"
        n = self._by_address.get(address, 0)
        if n >= self.max_per_address:
            return f"per-address connection limit ({self.max_per_address}) reached for {address}"
        self._by_address[address] = n + 1
        self.total += 1
        return None

    def release(self, address: str) -> None:
        """Forget one admitted connection from ``address``."""
        n = self._by_address.get(address, 0)
        if n <= 0:
            return
        self.total -= 1
        if n == 1:
            del self._by_address[address]
        else:
            self._by_address[address] = n - 1

    def count(self, address: str) -> int:
        return self._by_address.get(address, 0)


class FailureBrake:
    """Per-address delay of failed authentications; bounded memory (oldest addresses dropped)."""

    def __init__(self, delay_ms: int = DEFAULT_AUTH_DELAY_MS, max_tracked: int = 4096) -> None:
        lo, hi = AUTH_DELAY_RANGE_MS
        if not lo <= delay_ms <= hi:
            raise ValueError(f"authentication delay must be {lo}..{hi} ms, not {delay_ms}")
        self.delay = delay_ms / 1000.0
        self.max_tracked = max_tracked
        self._release: OrderedDict[str, float] = OrderedDict()  # address -> last release time

    def wait_for_failure(self, address: str, now: float) -> float:
        """Seconds to hold back the answer to a failed logon from ``address`` seen at ``now``."""
        if self.delay <= 0:
            return 0.0
        start = max(now, self._release.pop(address, now))
        release = start + self.delay
        self._release[address] = release
        while len(self._release) > self.max_tracked:
            self._release.popitem(last=False)
        return release - now

    def tracked(self) -> int:
        return len(self._release)


__all__ = [
    "AUTH_DELAY_RANGE_MS",
    "DEFAULT_AUTH_DELAY_MS",
    "ConnectionLimiter",
    "FailureBrake",
    "source_host",
]
