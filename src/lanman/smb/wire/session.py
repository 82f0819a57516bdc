"""SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT (MS-SMB2 2.2.5-2.2.12)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._buf import Buffer, fixed, region, utf16
from .constants import SMB2_HEADER_SIZE

_SS_REQ = struct.Struct("<HBBIIHHQ")


@dataclass(slots=True)
class SessionSetupRequest:
    """MS-SMB2 2.2.5."""

    security_buffer: bytes
    flags: int = 0
    security_mode: int = 0
    capabilities: int = 0
    previous_session_id: int = 0

    @classmethod
    def unpack(cls, pdu: Buffer) -> SessionSetupRequest:
        _, flags, sec, caps, _chan, off, length, prev = fixed(pdu, _SS_REQ, 25)
        return cls(bytes(region(pdu, off, length)), flags, sec, caps, prev)

    def pack(self) -> bytes:
        off = SMB2_HEADER_SIZE + _SS_REQ.size
        return (
            _SS_REQ.pack(
                25,
                self.flags,
                self.security_mode,
                self.capabilities,
                0,
                off,
                len(self.security_buffer),
                self.previous_session_id,
            )
            + self.security_buffer
        )


_SS_RESP = struct.Struct("<HHHH")


@dataclass(slots=True)
class SessionSetupResponse:
    """MS-SMB2 2.2.6."""

    session_flags: int
    security_buffer: bytes

    def pack(self) -> bytes:
        off = SMB2_HEADER_SIZE + _SS_RESP.size if self.security_buffer else 0
        return _SS_RESP.pack(9, self.session_flags, off, len(self.security_buffer)) + (
            self.security_buffer or b"\x00"
        )

    @classmethod
    def unpack(cls, pdu: Buffer) -> SessionSetupResponse:
        _, flags, off, length = fixed(pdu, _SS_RESP, 9)
        return cls(flags, bytes(region(pdu, off, length)))


_TC_REQ = struct.Struct("<HHHH")


@dataclass(slots=True)
class TreeConnectRequest:
    """MS-SMB2 2.2.9 (the 3.1.1 extension form is not used by common clients)."""

    path: str
    flags: int = 0

    @classmethod
    def unpack(cls, pdu: Buffer) -> TreeConnectRequest:
        _, flags, off, length = fixed(pdu, _TC_REQ, 9)
        return cls(utf16(region(pdu, off, length)), flags)

    def pack(self) -> bytes:
        name = self.path.encode("utf-16-le")
        return _TC_REQ.pack(9, self.flags, SMB2_HEADER_SIZE + 8, len(name)) + name


_TC_RESP = struct.Struct("<HBBIII")


@dataclass(slots=True)
class TreeConnectResponse:
    """MS-SMB2 2.2.10."""

    share_type: int
    share_flags: int
    capabilities: int
    maximal_access: int

    def pack(self) -> bytes:
        return _TC_RESP.pack(
            16, self.share_type, 0, self.share_flags, self.capabilities, self.maximal_access
        )

    @classmethod
    def unpack(cls, pdu: Buffer) -> TreeConnectResponse:
        _, stype, _, flags, caps, access = fixed(pdu, _TC_RESP, 16)
        return cls(stype, flags, caps, access)


_EMPTY4 = struct.Struct("<HH")


def empty_body(structure_size: int = 4) -> bytes:
    """Bodies that carry only StructureSize + Reserved (LOGOFF, TREE_DISCONNECT, ECHO,
    FLUSH/LOCK responses, CANCEL): MS-SMB2 2.2.7/2.2.8/2.2.11/2.2.12/2.2.28/2.2.29."""
    return _EMPTY4.pack(structure_size, 0)


def check_empty_body(pdu: Buffer, structure_size: int = 4) -> None:
    fixed(pdu, _EMPTY4, structure_size)
