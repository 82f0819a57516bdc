"""SP800-108 counter-mode KDF with HMAC-SHA256, as used by SMB 3.x (MS-SMB2 3.1.4.2)."""

from __future__ import annotations

import hashlib
import hmac
import struct

__all__ = ["kdf_sp800_108"]


def kdf_sp800_108(ki: bytes, label: bytes, context: bytes, length_bits: int = 128) -> bytes:
    """Derive ``length_bits`` of key from ``ki`` (MS-SMB2 3.1.4.2, SP800-108 5.1).

    PRF = HMAC-SHA256, r = 32, one iteration (so at most 256 bits).  ``label`` and
    ``context`` are passed as they appear in MS-SMB2, i.e. already NUL-terminated
    (``b"SMB2AESCMAC\\0"``); the 0x00 separator required by SP800-108 is added here, so
    the fixed input holds two zero bytes between label text and context.
    """
    if length_bits <= 0 or length_bits > 256 or length_bits % 8:
        raise ValueError("length_bits must be a multiple of 8 in 8..256")
    fixed = struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", length_bits)
    return hmac.new(ki, fixed, hashlib.sha256).digest()[: length_bits // 8]
