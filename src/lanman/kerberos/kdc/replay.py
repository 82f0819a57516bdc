"""Authenticator replay cache (RFC 4120 3.2.3, 10): bounded, time-windowed."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

__all__ = ["ReplayCache"]


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
