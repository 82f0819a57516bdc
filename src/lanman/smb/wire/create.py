"""CREATE, create contexts and CLOSE (MS-SMB2 2.2.13-2.2.16)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ._buf import Buffer, fixed, pad8, region, utf16
from .constants import SMB2_HEADER_SIZE
from .header import WireError

MAX_CREATE_CONTEXTS = 32

_CR_REQ = struct.Struct("<HBBIQQIIIIIHHII")


@dataclass(slots=True)
class CreateContext:
    """MS-SMB2 2.2.13.2 SMB2_CREATE_CONTEXT."""

    name: bytes
    data: bytes


def parse_create_contexts(pdu: Buffer, offset: int, length: int) -> list[CreateContext]:
    if length == 0:
        return []
    blob = region(pdu, offset, length)
    out: list[CreateContext] = []
    pos = 0
    while True:
        if len(out) >= MAX_CREATE_CONTEXTS:
            raise WireError("too many create contexts")
        if pos + 16 > len(blob):
            raise WireError("create context truncated")
        nxt, noff, nlen, _, doff, dlen = struct.unpack_from("<IHHHHI", blob, pos)
        if noff + nlen > len(blob) - pos or (dlen and doff + dlen > len(blob) - pos):
            raise WireError("create context out of bounds")
        name = bytes(blob[pos + noff : pos + noff + nlen])
        data = bytes(blob[pos + doff : pos + doff + dlen]) if dlen else b""
        out.append(CreateContext(name, data))
        if nxt == 0:
            break
        if nxt < 16 or nxt % 8:
            raise WireError("create context Next misaligned")
        pos += nxt
    return out


def pack_create_contexts(contexts: list[CreateContext]) -> bytes:
    out = bytearray()
    for i, ctx in enumerate(contexts):
        start = len(out)
        noff = 16
        doff = noff + len(ctx.name) + pad8(noff + len(ctx.name)) if ctx.data else 0
        entry = bytearray(struct.pack("<IHHHHI", 0, noff, len(ctx.name), 0, doff, len(ctx.data)))
        entry += ctx.name
        if ctx.data:
            entry += b"\x00" * pad8(len(entry)) + ctx.data
        if i < len(contexts) - 1:
            entry += b"\x00" * pad8(len(entry))
            struct.pack_into("<I", entry, 0, len(entry))
        out += entry
        del start
    return bytes(out)


@dataclass(slots=True)
class CreateRequest:
    """MS-SMB2 2.2.13."""

    name: str
    desired_access: int
    file_attributes: int
    share_access: int
    create_disposition: int
    create_options: int
    requested_oplock_level: int = 0
    impersonation_level: int = 2
    contexts: list[CreateContext] = field(default_factory=list)

    @classmethod
    def unpack(cls, pdu: Buffer) -> CreateRequest:
        (_, _sf, oplock, imp, _cf, _r, access, attrs, share, disp, opts, noff, nlen, coff, clen) = (
            fixed(pdu, _CR_REQ, 57)
        )
        name = utf16(region(pdu, noff, nlen)) if nlen else ""
        contexts = parse_create_contexts(pdu, coff, clen)
        return cls(name, access, attrs, share, disp, opts, oplock, imp, contexts)

    def pack(self) -> bytes:
        name = self.name.encode("utf-16-le")
        noff = SMB2_HEADER_SIZE + _CR_REQ.size
        buf = name or b"\x00"
        coff = clen = 0
        ctx = b""
        if self.contexts:
            ctx = pack_create_contexts(self.contexts)
            pad = b"\x00" * pad8(noff + len(buf))
            coff = noff + len(buf) + len(pad)
            clen = len(ctx)
            buf += pad
        return (
            _CR_REQ.pack(
                57,
                0,
                self.requested_oplock_level,
                self.impersonation_level,
                0,
                0,
                self.desired_access,
                self.file_attributes,
                self.share_access,
                self.create_disposition,
                self.create_options,
                noff,
                len(name),
                coff,
                clen,
            )
            + buf
            + ctx
        )


_CR_RESP = struct.Struct("<HBBIQQQQQQII16sII")


@dataclass(slots=True)
class CreateResponse:
    """MS-SMB2 2.2.14."""

    oplock_level: int
    create_action: int
    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    allocation_size: int
    end_of_file: int
    file_attributes: int
    file_id: bytes
    contexts: list[CreateContext] = field(default_factory=list)
    flags: int = 0

    def pack(self) -> bytes:
        ctx = pack_create_contexts(self.contexts) if self.contexts else b""
        coff = SMB2_HEADER_SIZE + _CR_RESP.size if ctx else 0
        return _CR_RESP.pack(
            89,
            self.oplock_level,
            self.flags,
            self.create_action,
            self.creation_time,
            self.last_access_time,
            self.last_write_time,
            self.change_time,
            self.allocation_size,
            self.end_of_file,
            self.file_attributes,
            0,
            self.file_id,
            coff,
            len(ctx),
        ) + (ctx or b"\x00")

    @classmethod
    def unpack(cls, pdu: Buffer) -> CreateResponse:
        (_, oplock, flags, action, ct, at, wt, cht, alloc, eof, attrs, _, fid, coff, clen) = fixed(
            pdu, _CR_RESP, 89
        )
        return cls(
            oplock,
            action,
            ct,
            at,
            wt,
            cht,
            alloc,
            eof,
            attrs,
            bytes(fid),
            parse_create_contexts(pdu, coff, clen),
            flags,
        )


_CL_REQ = struct.Struct("<HHI16s")


@dataclass(slots=True)
class CloseRequest:
    """MS-SMB2 2.2.15."""

    file_id: bytes
    flags: int = 0

    @classmethod
    def unpack(cls, pdu: Buffer) -> CloseRequest:
        _, flags, _, fid = fixed(pdu, _CL_REQ, 24)
        return cls(bytes(fid), flags)

    def pack(self) -> bytes:
        return _CL_REQ.pack(24, self.flags, 0, self.file_id)


_CL_RESP = struct.Struct("<HHIQQQQQQI")


@dataclass(slots=True)
class CloseResponse:
    """MS-SMB2 2.2.16; all attribute fields zero unless POSTQUERY_ATTRIB was asked."""

    flags: int = 0
    creation_time: int = 0
    last_access_time: int = 0
    last_write_time: int = 0
    change_time: int = 0
    allocation_size: int = 0
    end_of_file: int = 0
    file_attributes: int = 0

    def pack(self) -> bytes:
        return _CL_RESP.pack(
            60,
            self.flags,
            0,
            self.creation_time,
            self.last_access_time,
            self.last_write_time,
            self.change_time,
            self.allocation_size,
            self.end_of_file,
            self.file_attributes,
        )
