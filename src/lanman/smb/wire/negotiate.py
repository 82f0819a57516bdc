"""NEGOTIATE request/response and negotiate contexts (MS-SMB2 2.2.3, 2.2.4)."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

from ._buf import Buffer, fixed, pad8, region
from .constants import SMB2_HEADER_SIZE, NegotiateContextType
from .header import WireError

MAX_DIALECTS = 64
MAX_CONTEXTS = 32


@dataclass(slots=True)
class NegotiateContext:
    """MS-SMB2 2.2.3.1: ContextType, then type-specific Data."""

    context_type: int
    data: bytes

    def pack(self) -> bytes:
        return struct.pack("<HHI", self.context_type, len(self.data), 0) + self.data


def pack_contexts(contexts: list[NegotiateContext], start: int) -> bytes:
    """Contexts each 8-byte aligned; ``start`` is the offset of the first from the header."""
    out = bytearray()
    for i, ctx in enumerate(contexts):
        if i:
            out += b"\x00" * pad8(start + len(out))
        out += ctx.pack()
    return bytes(out)


def parse_contexts(pdu: Buffer, offset: int, count: int) -> list[NegotiateContext]:
    if count > MAX_CONTEXTS:
        raise WireError("too many negotiate contexts")
    out = []
    pos = offset
    for _ in range(count):
        pos += pad8(pos)
        if pos + 8 > len(pdu):
            raise WireError("negotiate context truncated")
        ctype, dlen, _ = struct.unpack_from("<HHI", pdu, pos)
        data = region(pdu, pos + 8, dlen)
        out.append(NegotiateContext(ctype, bytes(data)))
        pos += 8 + dlen
    return out


def preauth_context(hash_algorithms: list[int], salt: bytes) -> NegotiateContext:
    """MS-SMB2 2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES."""
    data = struct.pack("<HH", len(hash_algorithms), len(salt))
    data += b"".join(struct.pack("<H", a) for a in hash_algorithms) + salt
    return NegotiateContext(NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES, data)


def parse_preauth_context(data: bytes) -> tuple[list[int], bytes]:
    if len(data) < 4:
        raise WireError("preauth context truncated")
    count, salt_len = struct.unpack_from("<HH", data)
    if count == 0 or 4 + 2 * count + salt_len > len(data):
        raise WireError("preauth context malformed")
    algs = list(struct.unpack_from(f"<{count}H", data, 4))
    return algs, data[4 + 2 * count : 4 + 2 * count + salt_len]


def id_list_context(ctype: int, ids: list[int]) -> NegotiateContext:
    """ENCRYPTION (2.2.3.1.2) and SIGNING (2.2.3.1.7) contexts: Count + u16 array."""
    return NegotiateContext(ctype, struct.pack(f"<H{len(ids)}H", len(ids), *ids))


def parse_id_list_context(data: bytes) -> list[int]:
    if len(data) < 2:
        raise WireError("negotiate context truncated")
    (count,) = struct.unpack_from("<H", data)
    if count == 0 or 2 + 2 * count > len(data):
        raise WireError("negotiate context count malformed")
    return list(struct.unpack_from(f"<{count}H", data, 2))


_REQ = struct.Struct("<HHHHI16sQ")  # StructureSize .. ClientGuid, then 8 bytes union


@dataclass(slots=True)
class NegotiateRequest:
    """MS-SMB2 2.2.3."""

    dialects: list[int]
    security_mode: int = 0
    capabilities: int = 0
    client_guid: bytes = b"\x00" * 16
    contexts: list[NegotiateContext] = field(default_factory=list)

    @classmethod
    def unpack(cls, pdu: Buffer) -> NegotiateRequest:
        _size, count, sec, _, caps, guid, union = fixed(pdu, _REQ, 36)
        if count == 0 or count > MAX_DIALECTS:
            raise WireError("bad DialectCount")
        pos = SMB2_HEADER_SIZE + 36
        if pos + 2 * count > len(pdu):
            raise WireError("dialects truncated")
        dialects = list(struct.unpack_from(f"<{count}H", pdu, pos))
        contexts: list[NegotiateContext] = []
        if 0x0311 in dialects:
            ctx_off = union & 0xFFFFFFFF
            ctx_count = (union >> 32) & 0xFFFF
            if ctx_count:
                if ctx_off < pos + 2 * count or ctx_off > len(pdu):
                    raise WireError("NegotiateContextOffset out of bounds")
                contexts = parse_contexts(pdu, ctx_off, ctx_count)
        return cls(dialects, sec, caps, bytes(guid), contexts)

    def pack(self) -> bytes:
        """The body (client role); contexts start 8-aligned after the dialect array."""
        end = SMB2_HEADER_SIZE + 36 + 2 * len(self.dialects)
        union = 0
        ctx_bytes = b""
        pad = b""
        if self.contexts:
            pad = b"\x00" * pad8(end)
            ctx_off = end + len(pad)
            union = ctx_off | (len(self.contexts) << 32)
            ctx_bytes = pack_contexts(self.contexts, ctx_off)
        body = _REQ.pack(
            36,
            len(self.dialects),
            self.security_mode,
            0,
            self.capabilities,
            self.client_guid,
            union,
        )
        body += struct.pack(f"<{len(self.dialects)}H", *self.dialects)
        return body + pad + ctx_bytes


_RESP = struct.Struct("<HHHH16sIIIIQQHHI")


@dataclass(slots=True)
class NegotiateResponse:
    """MS-SMB2 2.2.4."""

    security_mode: int
    dialect_revision: int
    server_guid: bytes
    capabilities: int
    max_transact_size: int
    max_read_size: int
    max_write_size: int
    system_time: int
    server_start_time: int = 0
    security_buffer: bytes = b""
    contexts: list[NegotiateContext] = field(default_factory=list)

    def pack(self) -> bytes:
        sec_off = SMB2_HEADER_SIZE + _RESP.size
        end = sec_off + len(self.security_buffer)
        ctx_off = 0
        tail = b""
        if self.contexts:
            pad = b"\x00" * pad8(end)
            ctx_off = end + len(pad)
            tail = pad + pack_contexts(self.contexts, ctx_off)
        body = _RESP.pack(
            65,
            self.security_mode,
            self.dialect_revision,
            len(self.contexts),
            self.server_guid,
            self.capabilities,
            self.max_transact_size,
            self.max_read_size,
            self.max_write_size,
            self.system_time,
            self.server_start_time,
            sec_off if self.security_buffer else 0,
            len(self.security_buffer),
            ctx_off,
        )
        return body + self.security_buffer + tail

    @classmethod
    def unpack(cls, pdu: Buffer) -> NegotiateResponse:
        (
            _size,
            sec,
            dialect,
            ctx_count,
            guid,
            caps,
            mts,
            mrs,
            mws,
            systime,
            start,
            sboff,
            sblen,
            ctx_off,
        ) = fixed(pdu, _RESP, 65)
        secbuf = bytes(region(pdu, sboff, sblen))
        contexts = (
            parse_contexts(pdu, ctx_off, ctx_count) if dialect == 0x0311 and ctx_count else []
        )
        return cls(sec, dialect, bytes(guid), caps, mts, mrs, mws, systime, start, secbuf, contexts)

    @property
    def server_guid_uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes_le=self.server_guid)
