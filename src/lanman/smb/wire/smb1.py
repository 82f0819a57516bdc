"""The SMB1 multi-protocol NEGOTIATE that older clients send first (MS-SMB2 3.3.5.3.1,
MS-CIFS 2.2.4.52.1)."""

from __future__ import annotations

import struct

from .constants import SMB1_PROTOCOL_ID
from .header import WireError

SMB_COM_NEGOTIATE = 0x72
SMB1_HEADER_SIZE = 32
MAX_SMB1_DIALECTS = 64


def parse_smb1_negotiate(frame: bytes | memoryview) -> list[str]:
    """Return the dialect strings of an SMB_COM_NEGOTIATE request, bounded."""
    if len(frame) < SMB1_HEADER_SIZE + 3 or bytes(frame[:4]) != SMB1_PROTOCOL_ID:
        raise WireError("not an SMB1 message")
    if frame[4] != SMB_COM_NEGOTIATE:
        raise WireError("SMB1 command other than NEGOTIATE")
    word_count = frame[SMB1_HEADER_SIZE]
    pos = SMB1_HEADER_SIZE + 1 + 2 * word_count
    if pos + 2 > len(frame):
        raise WireError("SMB1 negotiate truncated")
    (byte_count,) = struct.unpack_from("<H", frame, pos)
    data = bytes(frame[pos + 2 : pos + 2 + byte_count])
    if len(data) != byte_count:
        raise WireError("SMB1 negotiate ByteCount beyond end")
    dialects: list[str] = []
    i = 0
    while i < len(data):
        if data[i] != 0x02:
            raise WireError("SMB1 dialect BufferFormat is not 0x02")
        end = data.find(b"\x00", i + 1)
        if end < 0:
            raise WireError("unterminated SMB1 dialect string")
        dialects.append(data[i + 1 : end].decode("ascii", "replace"))
        if len(dialects) > MAX_SMB1_DIALECTS:
            raise WireError("too many SMB1 dialects")
        i = end + 1
    return dialects
