"""The 64-byte SMB2 packet header, sync and async forms (MS-SMB2 2.2.1)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .constants import SMB2_HEADER_SIZE, SMB2_PROTOCOL_ID, HeaderFlags


class WireError(ValueError):
    """A message that cannot be parsed: wrong sizes, offsets or lengths out of bounds."""


_HDR = struct.Struct("<4sHHIHHIIQQQ16s")
assert _HDR.size == SMB2_HEADER_SIZE

SIGNATURE_OFFSET = 48
FLAGS_OFFSET = 16
MESSAGE_ID_OFFSET = 24

# The Flags bits as plain ints for the per-request path: IntFlag arithmetic builds a new
# enum member per operation, several times per message.
FLAG_SERVER_TO_REDIR = int(HeaderFlags.SERVER_TO_REDIR)
FLAG_ASYNC_COMMAND = int(HeaderFlags.ASYNC_COMMAND)
FLAG_RELATED_OPERATIONS = int(HeaderFlags.RELATED_OPERATIONS)
FLAG_SIGNED = int(HeaderFlags.SIGNED)
FLAG_PRIORITY_MASK = int(HeaderFlags.PRIORITY_MASK)


@dataclass(slots=True)
class Smb2Header:
    """MS-SMB2 2.2.1.1 / 2.2.1.2.

    ``status`` doubles as ChannelSequence/Reserved in requests. For an async header
    (``flags & ASYNC_COMMAND``) ``async_id`` replaces Reserved/TreeId.
    """

    command: int
    status: int = 0
    credit_charge: int = 0
    credit: int = 0  # CreditRequest (requests) / CreditResponse (responses)
    flags: int = 0
    next_command: int = 0
    message_id: int = 0
    process_id: int = 0xFEFF
    tree_id: int = 0
    async_id: int = 0
    session_id: int = 0
    signature: bytes = b"\x00" * 16

    @property
    def is_async(self) -> bool:
        return bool(self.flags & FLAG_ASYNC_COMMAND)

    @property
    def is_signed(self) -> bool:
        return bool(self.flags & FLAG_SIGNED)

    @property
    def is_related(self) -> bool:
        return bool(self.flags & FLAG_RELATED_OPERATIONS)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_SERVER_TO_REDIR)

    def pack(self) -> bytes:
        if self.flags & FLAG_ASYNC_COMMAND:
            mid = self.async_id
        else:
            mid = (self.tree_id << 32) | (self.process_id & 0xFFFFFFFF)
        return _HDR.pack(
            SMB2_PROTOCOL_ID,
            SMB2_HEADER_SIZE,
            self.credit_charge,
            self.status & 0xFFFFFFFF,
            self.command,
            self.credit,
            self.flags,
            self.next_command,
            self.message_id,
            mid,
            self.session_id,
            self.signature,
        )

    @classmethod
    def unpack(cls, buf: bytes | bytearray | memoryview) -> Smb2Header:
        if len(buf) < SMB2_HEADER_SIZE:
            raise WireError("SMB2 header truncated")
        (
            proto,
            size,
            charge,
            status,
            command,
            credit,
            flags,
            next_command,
            message_id,
            mid,
            session_id,
            signature,
        ) = _HDR.unpack_from(buf, 0)
        if proto != SMB2_PROTOCOL_ID or size != SMB2_HEADER_SIZE:
            raise WireError("not an SMB2 header")
        if flags & FLAG_ASYNC_COMMAND:
            async_id, tree_id, process_id = mid, 0, 0xFEFF
        else:
            async_id, tree_id, process_id = 0, mid >> 32, mid & 0xFFFFFFFF
        return cls(
            command,
            status,
            charge,
            credit,
            flags,
            next_command,
            message_id,
            process_id,
            tree_id,
            async_id,
            session_id,
            signature,
        )
