"""RC4 stream cipher (used only by NTLM: MS-NLMP 3.4.3, 3.4.4.2, 6 "RC4K").

Tiny own implementation: OpenSSL 3 puts RC4 in the legacy provider and cryptography keeps
it under ``decrepit``; NTLM only ever runs it over 16-byte keys and 8-byte checksums.
"""

from __future__ import annotations

__all__ = ["RC4", "rc4"]


class RC4:
    """A stateful RC4 handle: successive :meth:`update` calls continue the key stream."""

    __slots__ = ("_i", "_j", "_s")

    def __init__(self, key: bytes) -> None:
        if not 1 <= len(key) <= 256:
            raise ValueError("RC4 key must be 1..256 bytes")
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 0xFF
            s[i], s[j] = s[j], s[i]
        self._s = s
        self._i = 0
        self._j = 0

    def update(self, data: bytes) -> bytes:
        """Encrypt or decrypt ``data`` (the same operation) and advance the stream."""
        s, i, j = self._s, self._i, self._j
        out = bytearray(len(data))
        for n, byte in enumerate(data):
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out[n] = byte ^ s[(s[i] + s[j]) & 0xFF]
        self._i, self._j = i, j
        return bytes(out)


def rc4(key: bytes, data: bytes) -> bytes:
    """One-shot RC4K(key, data) (MS-NLMP 6)."""
    return RC4(key).update(data)
