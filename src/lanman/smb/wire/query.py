"""QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO, IOCTL, ERROR (MS-SMB2 2.2.2,
2.2.31-2.2.40)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._buf import Buffer, fixed, region, utf16
from .constants import SMB2_HEADER_SIZE

_QD_REQ = struct.Struct("<HBBI16sHHI")


@dataclass(slots=True)
class QueryDirectoryRequest:
    """MS-SMB2 2.2.33."""

    file_information_class: int
    flags: int
    file_index: int
    file_id: bytes
    pattern: str
    output_buffer_length: int

    @classmethod
    def unpack(cls, pdu: Buffer) -> QueryDirectoryRequest:
        _, cls_, flags, index, fid, noff, nlen, outlen = fixed(pdu, _QD_REQ, 33)
        return cls(cls_, flags, index, bytes(fid), utf16(region(pdu, noff, nlen)), outlen)

    def pack(self) -> bytes:
        name = self.pattern.encode("utf-16-le")
        return _QD_REQ.pack(
            33,
            self.file_information_class,
            self.flags,
            self.file_index,
            self.file_id,
            SMB2_HEADER_SIZE + 32,
            len(name),
            self.output_buffer_length,
        ) + (name or b"\x00")


_OUT_RESP = struct.Struct("<HHI")


def pack_output_response(data: bytes) -> bytes:
    """QUERY_DIRECTORY / CHANGE_NOTIFY / QUERY_INFO response (2.2.34, 2.2.36, 2.2.38)."""
    off = SMB2_HEADER_SIZE + _OUT_RESP.size if data else 0
    return _OUT_RESP.pack(9, off, len(data)) + (data or b"\x00")


def unpack_output_response(pdu: Buffer) -> memoryview:
    _, off, length = fixed(pdu, _OUT_RESP, 9)
    return region(pdu, off, length)


_CN_REQ = struct.Struct("<HHI16sII")


@dataclass(slots=True)
class ChangeNotifyRequest:
    """MS-SMB2 2.2.35."""

    flags: int
    output_buffer_length: int
    file_id: bytes
    completion_filter: int

    @classmethod
    def unpack(cls, pdu: Buffer) -> ChangeNotifyRequest:
        _, flags, outlen, fid, filt, _ = fixed(pdu, _CN_REQ, 32)
        return cls(flags, outlen, bytes(fid), filt)


_QI_REQ = struct.Struct("<HBBIHHIII16s")


@dataclass(slots=True)
class QueryInfoRequest:
    """MS-SMB2 2.2.37."""

    info_type: int
    file_info_class: int
    output_buffer_length: int
    additional_information: int
    flags: int
    file_id: bytes
    input_buffer: bytes = b""

    @classmethod
    def unpack(cls, pdu: Buffer) -> QueryInfoRequest:
        _, itype, icls, outlen, inoff, _, inlen, addl, flags, fid = fixed(pdu, _QI_REQ, 41)
        return cls(itype, icls, outlen, addl, flags, bytes(fid), bytes(region(pdu, inoff, inlen)))

    def pack(self) -> bytes:
        inoff = SMB2_HEADER_SIZE + _QI_REQ.size if self.input_buffer else 0
        return _QI_REQ.pack(
            41,
            self.info_type,
            self.file_info_class,
            self.output_buffer_length,
            inoff,
            0,
            len(self.input_buffer),
            self.additional_information,
            self.flags,
            self.file_id,
        ) + (self.input_buffer or b"\x00")


_SI_REQ = struct.Struct("<HBBIHHI16s")


@dataclass(slots=True)
class SetInfoRequest:
    """MS-SMB2 2.2.39."""

    info_type: int
    file_info_class: int
    additional_information: int
    file_id: bytes
    buffer: bytes

    @classmethod
    def unpack(cls, pdu: Buffer) -> SetInfoRequest:
        _, itype, icls, blen, boff, _, addl, fid = fixed(pdu, _SI_REQ, 33)
        return cls(itype, icls, addl, bytes(fid), bytes(region(pdu, boff, blen)))

    def pack(self) -> bytes:
        return (
            _SI_REQ.pack(
                33,
                self.info_type,
                self.file_info_class,
                len(self.buffer),
                SMB2_HEADER_SIZE + _SI_REQ.size,
                0,
                self.additional_information,
                self.file_id,
            )
            + self.buffer
        )


def pack_set_info_response() -> bytes:
    """MS-SMB2 2.2.40."""
    return struct.pack("<H", 2)


_IO_REQ = struct.Struct("<HHI16sIIIIIIII")


@dataclass(slots=True)
class IoctlRequest:
    """MS-SMB2 2.2.31."""

    ctl_code: int
    file_id: bytes
    input: memoryview | bytes
    max_input_response: int
    max_output_response: int
    flags: int

    @classmethod
    def unpack(cls, pdu: Buffer) -> IoctlRequest:
        (_, _, code, fid, inoff, incount, maxin, _outoff, _outcount, maxout, flags, _) = fixed(
            pdu, _IO_REQ, 57
        )
        return cls(code, bytes(fid), region(pdu, inoff, incount), maxin, maxout, flags)

    def pack(self) -> bytes:
        inoff = SMB2_HEADER_SIZE + _IO_REQ.size
        return _IO_REQ.pack(
            57,
            0,
            self.ctl_code,
            self.file_id,
            inoff if self.input else 0,
            len(self.input),
            self.max_input_response,
            0,
            0,
            self.max_output_response,
            self.flags,
            0,
        ) + (bytes(self.input) or b"\x00")


_IO_RESP = struct.Struct("<HHI16sIIIIII")


def pack_ioctl_response(ctl_code: int, file_id: bytes, output: bytes) -> bytes:
    """MS-SMB2 2.2.32 (input echo is empty, output follows the fixed part)."""
    off = SMB2_HEADER_SIZE + _IO_RESP.size
    return _IO_RESP.pack(49, 0, ctl_code, file_id, off, 0, off, len(output), 0, 0) + (output or b"")


def unpack_ioctl_response(pdu: Buffer) -> memoryview:
    _, _, _code, _fid, _inoff, _incount, outoff, outcount, _, _ = fixed(pdu, _IO_RESP, 49)
    return region(pdu, outoff, outcount)


_ERR = struct.Struct("<HBBI")


def pack_error_response(data: bytes = b"") -> bytes:
    """MS-SMB2 2.2.2 SMB2 ERROR Response (ErrorData is one zero byte when empty)."""
    return _ERR.pack(9, 0, 0, len(data)) + (data or b"\x00")
