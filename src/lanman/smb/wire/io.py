"""READ, WRITE, FLUSH, LOCK (MS-SMB2 2.2.17-2.2.22, 2.2.26-2.2.27)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ._buf import Buffer, fixed, region
from .constants import SMB2_HEADER_SIZE
from .header import WireError

_RD_REQ = struct.Struct("<HBBIQ16sIIIHH")


@dataclass(slots=True)
class ReadRequest:
    """MS-SMB2 2.2.19."""

    file_id: bytes
    length: int
    offset: int
    minimum_count: int = 0
    flags: int = 0
    padding: int = 0x50

    @classmethod
    def unpack(cls, pdu: Buffer) -> ReadRequest:
        _, padding, flags, length, offset, fid, minimum, _ch, _rem, _co, _cl = fixed(
            pdu, _RD_REQ, 49
        )
        return cls(bytes(fid), length, offset, minimum, flags, padding)

    def pack(self) -> bytes:
        return (
            _RD_REQ.pack(
                49,
                self.padding,
                self.flags,
                self.length,
                self.offset,
                self.file_id,
                self.minimum_count,
                0,
                0,
                0,
                0,
            )
            + b"\x00"
        )


_RD_RESP = struct.Struct("<HBBIII")
READ_DATA_OFFSET = SMB2_HEADER_SIZE + _RD_RESP.size  # 0x50


def pack_read_response_fixed(data_length: int, data_remaining: int = 0) -> bytes:
    """MS-SMB2 2.2.20 fixed part; the caller sends the data right after it (no copy)."""
    return _RD_RESP.pack(17, READ_DATA_OFFSET, 0, data_length, data_remaining, 0)


def unpack_read_response(pdu: Buffer) -> memoryview:
    _, off, _, length, _rem, _ = fixed(pdu, _RD_RESP, 17)
    return region(pdu, off, length)


_WR_REQ = struct.Struct("<HHIQ16sIIHHI")


@dataclass(slots=True)
class WriteRequest:
    """MS-SMB2 2.2.21; ``data`` is a view into the received frame (never copied)."""

    file_id: bytes
    offset: int
    data: memoryview | bytes
    flags: int = 0

    @classmethod
    def unpack(cls, pdu: Buffer) -> WriteRequest:
        _, doff, length, offset, fid, _ch, _rem, _co, _cl, flags = fixed(pdu, _WR_REQ, 49)
        return cls(bytes(fid), offset, region(pdu, doff, length), flags)

    def pack(self) -> bytes:
        doff = SMB2_HEADER_SIZE + _WR_REQ.size
        return _WR_REQ.pack(
            49, doff, len(self.data), self.offset, self.file_id, 0, 0, 0, 0, self.flags
        ) + bytes(self.data)


def pack_write_request_fixed(file_id: bytes, offset: int, length: int, flags: int = 0) -> bytes:
    """The 48-byte fixed part of a WRITE request whose ``length`` data bytes follow it
    directly (DataOffset 0x70): the caller sends the payload without copying it."""
    return _WR_REQ.pack(
        49, SMB2_HEADER_SIZE + _WR_REQ.size, length, offset, file_id, 0, 0, 0, 0, flags
    )


_WR_RESP = struct.Struct("<HHIIHH")


def pack_write_response(count: int) -> bytes:
    """MS-SMB2 2.2.22."""
    return _WR_RESP.pack(17, 0, count, 0, 0, 0)


def unpack_write_response(pdu: Buffer) -> int:
    return fixed(pdu, _WR_RESP, 17)[2]


_FL_REQ = struct.Struct("<HHI16s")


def unpack_flush_request(pdu: Buffer) -> bytes:
    """MS-SMB2 2.2.17 -> FileId."""
    return bytes(fixed(pdu, _FL_REQ, 24)[3])


def pack_flush_request(file_id: bytes) -> bytes:
    return _FL_REQ.pack(24, 0, 0, file_id)


@dataclass(slots=True)
class LockElement:
    """MS-SMB2 2.2.26.1."""

    offset: int
    length: int
    flags: int


_LK_REQ = struct.Struct("<HHI16s")
_LK_EL = struct.Struct("<QQII")
MAX_LOCK_ELEMENTS = 64


@dataclass(slots=True)
class LockRequest:
    """MS-SMB2 2.2.26."""

    file_id: bytes
    locks: list[LockElement] = field(default_factory=list)
    lock_sequence: int = 0

    @classmethod
    def unpack(cls, pdu: Buffer) -> LockRequest:
        _, count, seq, fid = fixed(pdu, _LK_REQ, 48)
        if count == 0 or count > MAX_LOCK_ELEMENTS:
            raise WireError("bad LockCount")
        pos = SMB2_HEADER_SIZE + _LK_REQ.size
        if pos + count * _LK_EL.size > len(pdu):
            raise WireError("lock array truncated")
        locks = []
        for i in range(count):
            off, length, flags, _ = _LK_EL.unpack_from(pdu, pos + i * _LK_EL.size)
            locks.append(LockElement(off, length, flags))
        return cls(bytes(fid), locks, seq)

    def pack(self) -> bytes:
        return _LK_REQ.pack(48, len(self.locks), self.lock_sequence, self.file_id) + b"".join(
            _LK_EL.pack(lk.offset, lk.length, lk.flags, 0) for lk in self.locks
        )
