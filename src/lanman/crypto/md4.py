"""MD4 message digest (RFC 1320) and the NT one-way function (MS-NLMP 3.3.1).

OpenSSL 3 moved MD4 to the legacy provider, so ``hashlib.new("md4")`` fails on most
current systems.  A small pure-Python MD4 avoids a dependency on pycryptodome; it is only
ever run over short passwords, so speed does not matter.
"""

from __future__ import annotations

import struct

__all__ = ["md4", "nt_hash"]

_MASK = 0xFFFFFFFF

# Per-round message-word order and shift amounts (RFC 1320 3.4).
_R1_SHIFTS = (3, 7, 11, 19)
_R2_ORDER = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
_R2_SHIFTS = (3, 5, 9, 13)
_R3_ORDER = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
_R3_SHIFTS = (3, 9, 11, 15)


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def _compress(state: list[int], block: bytes) -> None:
    """Process one 64-byte block (RFC 1320 3.4)."""
    x = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(16):  # round 1: F(x,y,z) = (x & y) | (~x & z)
        f = (b & c) | (~b & d)
        a, b, c, d = d, _rotl((a + f + x[i]) & _MASK, _R1_SHIFTS[i % 4]), b, c
    for i in range(16):  # round 2: G = majority, constant 0x5A827999
        g = (b & c) | (b & d) | (c & d)
        k = _R2_ORDER[i]
        a, b, c, d = d, _rotl((a + g + x[k] + 0x5A827999) & _MASK, _R2_SHIFTS[i % 4]), b, c
    for i in range(16):  # round 3: H = parity, constant 0x6ED9EBA1
        h = b ^ c ^ d
        k = _R3_ORDER[i]
        a, b, c, d = d, _rotl((a + h + x[k] + 0x6ED9EBA1) & _MASK, _R3_SHIFTS[i % 4]), b, c
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """Return the 16-byte MD4 digest of ``data`` (RFC 1320)."""
    data = bytes(data)
    bit_len = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    # Padding: 0x80, zeros to 56 mod 64, then the 64-bit little-endian bit length (3.1, 3.2).
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", bit_len)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for off in range(0, len(padded), 64):
        _compress(state, padded[off : off + 64])
    return struct.pack("<4I", *state)


def nt_hash(password: str) -> bytes:
    """NTOWFv1 / NT hash: MD4(UNICODE(password)) (MS-NLMP 3.3.1)."""
    return md4(password.encode("utf-16-le"))
