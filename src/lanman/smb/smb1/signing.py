"""SMB1 message signing (MS-CIFS 3.1.4.1, MS-SMB 3.1.4.1; docs/SOURCES.md signing §3).

The 8-byte SecuritySignature at header offset 14 first carries the sequence number (32-bit
little-endian, then four zero bytes); the MAC is the first 8 bytes of
``MD5(SigningSessionKey || SigningChallengeResponse || message)``. With extended security
(NTLMSSP, Kerberos) the challenge response is empty and the key is the session key.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from .wire import HEADER_SIZE, SIGNATURE_OFFSET

__all__ = ["compute_mac", "sign_message", "verify_message"]


def compute_mac(
    key: bytes, message: bytes | bytearray | memoryview, seq: int, challenge_response: bytes = b""
) -> bytes:
    """The 8-byte signature of ``message`` (any current signature field is replaced)."""
    if len(message) < HEADER_SIZE:
        raise ValueError("message shorter than the SMB1 header")
    view = memoryview(message)
    md5 = hashlib.md5(key)
    md5.update(challenge_response)
    md5.update(view[:SIGNATURE_OFFSET])
    md5.update(struct.pack("<II", seq & 0xFFFFFFFF, 0))
    md5.update(view[SIGNATURE_OFFSET + 8 :])
    return md5.digest()[:8]


def sign_message(key: bytes, message: bytearray, seq: int, challenge_response: bytes = b"") -> None:
    """Write the signature for sequence number ``seq`` into ``message`` in place."""
    message[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 8] = compute_mac(
        key, message, seq, challenge_response
    )


def verify_message(
    key: bytes, message: bytes | bytearray | memoryview, seq: int, challenge_response: bytes = b""
) -> bool:
    received = bytes(message[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 8])
    return hmac.compare_digest(compute_mac(key, message, seq, challenge_response), received)
