"""Connection-oriented DCE/RPC PDUs (C706 ch. 12.6, MS-RPCE 2.2.2).

Sans-IO codec: ``parse_pdu`` turns exactly one PDU (``frag_length`` bytes) into a dataclass,
each dataclass has ``pack()``.  ``PduFramer`` splits a byte stream (SMB pipe writes) into PDUs.
Every length taken from the wire is checked; malformed input raises :class:`RpcProtocolError`.

Only little-endian / ASCII / IEEE data representation (drep ``10 00 00 00``) is accepted; no
client in use today sends anything else.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass, field

__all__ = [
    "BIND_TIME_FEATURE_PREFIX",
    "BTFN_KEEP_CONNECTION_ON_ORPHAN",
    "BTFN_SECURITY_CONTEXT_MULTIPLEXING",
    "COMMON_HEADER_SIZE",
    "DREP_LE_ASCII_IEEE",
    "NDR64_SYNTAX",
    "NDR_SYNTAX",
    "PFC_CONC_MPX",
    "PFC_DID_NOT_EXECUTE",
    "PFC_FIRST_FRAG",
    "PFC_LAST_FRAG",
    "PFC_MAYBE",
    "PFC_OBJECT_UUID",
    "PFC_PENDING_CANCEL",
    "PFC_SUPPORT_HEADER_SIGN",
    "AuthVerifier",
    "BindAckPdu",
    "BindNakPdu",
    "BindNakReason",
    "BindPdu",
    "CommonHeader",
    "ContextElement",
    "ContextResult",
    "ContextResultItem",
    "FaultPdu",
    "FaultStatus",
    "OtherPdu",
    "PType",
    "Pdu",
    "PduFramer",
    "ProviderReason",
    "RequestPdu",
    "ResponsePdu",
    "RpcProtocolError",
    "SyntaxId",
    "bind_time_feature_bits",
    "is_bind_time_feature_syntax",
    "parse_header",
    "parse_pdu",
]


class RpcProtocolError(Exception):
    """Malformed or out-of-sequence DCE/RPC input (C706 12.6; the association may be dropped)."""


class PType(enum.IntEnum):
    """PDU types, C706 12.6.4 / MS-RPCE 2.2.2.1 (connection-oriented subset plus CL numbers)."""

    REQUEST = 0
    PING = 1
    RESPONSE = 2
    FAULT = 3
    WORKING = 4
    NOCALL = 5
    REJECT = 6
    ACK = 7
    CL_CANCEL = 8
    FACK = 9
    CANCEL_ACK = 10
    BIND = 11
    BIND_ACK = 12
    BIND_NAK = 13
    ALTER_CONTEXT = 14
    ALTER_CONTEXT_RESP = 15
    AUTH3 = 16
    SHUTDOWN = 17
    CO_CANCEL = 18
    ORPHANED = 19
    RTS = 20


# pfc_flags, C706 12.6.3.1 and MS-RPCE 2.2.2.3
PFC_FIRST_FRAG = 0x01
PFC_LAST_FRAG = 0x02
PFC_PENDING_CANCEL = 0x04
PFC_SUPPORT_HEADER_SIGN = 0x04  # same bit, bind/bind_ack only (MS-RPCE 2.2.2.3)
PFC_CONC_MPX = 0x10
PFC_DID_NOT_EXECUTE = 0x20
PFC_MAYBE = 0x40
PFC_OBJECT_UUID = 0x80

#: drep: integer little-endian (0x10), character ASCII, float IEEE (C706 14.1, 12.6.3.1).
DREP_LE_ASCII_IEEE = b"\x10\x00\x00\x00"
COMMON_HEADER_SIZE = 16
SEC_TRAILER_SIZE = 8


class ContextResult(enum.IntEnum):
    """p_cont_def_result_t, C706 12.6.3.1 plus MS-RPCE 2.2.2.4 negotiate_ack."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2
    NEGOTIATE_ACK = 3


class ProviderReason(enum.IntEnum):
    """p_provider_reason_t, C706 12.6.3.1."""

    REASON_NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_EXCEEDED = 3


class BindNakReason(enum.IntEnum):
    """p_reject_reason_t, C706 12.6.3.1, extended by MS-RPCE 2.2.2.5."""

    REASON_NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PADDR_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7
    AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8
    INVALID_CHECKSUM = 9


class FaultStatus(enum.IntEnum):
    """Fault status codes used by this server (C706 appendix E, MS-RPCE 2.2.2.7 / MS-ERREF)."""

    RPC_S_ACCESS_DENIED = 0x00000005
    NCA_S_FAULT_NDR = 0x000006F7  # RPC_X_BAD_STUB_DATA
    NCA_S_FAULT_UNSPEC = 0x1C000012
    NCA_S_OP_RNG_ERROR = 0x1C010002
    NCA_S_UNK_IF = 0x1C010003
    NCA_S_PROTO_ERROR = 0x1C01000B
    NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1C00001B


@dataclass(slots=True, frozen=True)
class SyntaxId:
    """p_syntax_id_t: interface/transfer syntax UUID plus version (C706 12.6.3.1).

    The 32-bit ``if_version`` carries the major version in its low 16 bits and the minor version
    in its high 16 bits (C706 12.6.3.1, "if_version").
    """

    if_uuid: uuid.UUID
    version: tuple[int, int]  # (major, minor)

    SIZE = 20

    @classmethod
    def from_str(cls, text: str, major: int, minor: int = 0) -> SyntaxId:
        return cls(uuid.UUID(text), (major, minor))

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> SyntaxId:
        if offset + cls.SIZE > len(data):
            raise RpcProtocolError("truncated syntax id")
        raw = bytes(data[offset : offset + 16])
        major, minor = struct.unpack_from("<HH", data, offset + 16)
        return cls(uuid.UUID(bytes_le=raw), (major, minor))

    def pack(self) -> bytes:
        return self.if_uuid.bytes_le + struct.pack("<HH", self.version[0], self.version[1])


#: NDR 2.0 transfer syntax (C706 14; MS-RPCE 2.2.4.12).
NDR_SYNTAX = SyntaxId.from_str("8a885d04-1ceb-11c9-9fe8-08002b104860", 2, 0)
#: NDR64 transfer syntax (MS-RPCE 2.2.4.12); this server does not speak it.
NDR64_SYNTAX = SyntaxId.from_str("71710533-beba-4937-8319-b5dbef9ccc36", 1, 0)
#: First 8 bytes (uuid fields 1-3) of the bind-time feature negotiation syntax, MS-RPCE 3.3.1.5.3.
BIND_TIME_FEATURE_PREFIX = uuid.UUID("6cb71c2c-9812-4540-0000-000000000000").bytes_le[:8]
BTFN_SECURITY_CONTEXT_MULTIPLEXING = 0x01  # MS-RPCE 2.2.2.14
BTFN_KEEP_CONNECTION_ON_ORPHAN = 0x02  # MS-RPCE 2.2.2.14
_NULL_SYNTAX = SyntaxId(uuid.UUID(int=0), (0, 0))


def is_bind_time_feature_syntax(syntax: SyntaxId) -> bool:
    """True if ``syntax`` is a bind-time feature negotiation transfer syntax (MS-RPCE 3.3.1.5.3)."""
    return syntax.if_uuid.bytes_le[:8] == BIND_TIME_FEATURE_PREFIX


def bind_time_feature_bits(syntax: SyntaxId) -> int:
    """The BindTimeFeatureNegotiationBitmask (MS-RPCE 2.2.2.14): first of the 8 trailing octets."""
    return syntax.if_uuid.bytes_le[8]


# --------------------------------------------------------------------------- common header


@dataclass(slots=True)
class CommonHeader:
    """The 16-byte common header of every connection-oriented PDU (C706 12.6.3.1)."""

    ptype: int
    pfc_flags: int
    frag_length: int
    auth_length: int
    call_id: int
    rpc_vers: int = 5
    rpc_vers_minor: int = 0
    drep: bytes = DREP_LE_ASCII_IEEE

    _FMT = struct.Struct("<BBBB4sHHI")

    def pack(self) -> bytes:
        return self._FMT.pack(
            self.rpc_vers,
            self.rpc_vers_minor,
            self.ptype,
            self.pfc_flags,
            self.drep,
            self.frag_length,
            self.auth_length,
            self.call_id,
        )


def parse_header(data: bytes | memoryview) -> CommonHeader:
    """Parse and validate the common header (C706 12.6.3.1).

    Checks version 5.0/5.1, little-endian ASCII IEEE drep, and that ``frag_length`` can hold
    the header and any auth verifier.  Does not require the whole fragment to be present.
    """
    if len(data) < COMMON_HEADER_SIZE:
        raise RpcProtocolError("truncated common header")
    vers, minor, ptype, flags, drep, frag_length, auth_length, call_id = (
        CommonHeader._FMT.unpack_from(data, 0)
    )
    if vers != 5 or minor not in (0, 1):
        raise RpcProtocolError(f"unsupported RPC version {vers}.{minor}")
    if drep[0] != 0x10 or drep[1] != 0x00:
        raise RpcProtocolError(f"unsupported data representation {drep.hex()}")
    if frag_length < COMMON_HEADER_SIZE:
        raise RpcProtocolError(f"frag_length {frag_length} below header size")
    if auth_length and COMMON_HEADER_SIZE + SEC_TRAILER_SIZE + auth_length > frag_length:
        raise RpcProtocolError("auth_length exceeds fragment")
    return CommonHeader(ptype, flags, frag_length, auth_length, call_id, vers, minor, bytes(drep))


# --------------------------------------------------------------------------- auth verifier


@dataclass(slots=True)
class AuthVerifier:
    """sec_trailer + auth_value (C706 13.2.6.1, MS-RPCE 2.2.2.11).

    The trailer sits at ``frag_length - auth_length - 8``; ``auth_pad_length`` bytes of stub
    padding precede it.  Kept here so an authenticated transport can be layered on later.
    """

    auth_type: int
    auth_level: int
    auth_pad_length: int
    auth_context_id: int
    auth_value: bytes

    _FMT = struct.Struct("<BBBBI")

    def pack_trailer(self) -> bytes:
        return self._FMT.pack(
            self.auth_type, self.auth_level, self.auth_pad_length, 0, self.auth_context_id
        )


def _split_auth(
    hdr: CommonHeader, frag: memoryview, body_start: int
) -> tuple[memoryview, AuthVerifier | None]:
    """Return (body, verifier): body is frag[body_start:end-of-stub] without auth padding."""
    if hdr.auth_length == 0:
        return frag[body_start : hdr.frag_length], None
    trailer_at = hdr.frag_length - hdr.auth_length - SEC_TRAILER_SIZE
    if trailer_at < body_start:
        raise RpcProtocolError("sec_trailer overlaps PDU body")
    a_type, a_level, pad_len, _res, ctx_id = AuthVerifier._FMT.unpack_from(frag, trailer_at)
    if trailer_at - pad_len < body_start:
        raise RpcProtocolError("auth_pad_length exceeds PDU body")
    verifier = AuthVerifier(
        a_type,
        a_level,
        pad_len,
        ctx_id,
        bytes(frag[trailer_at + SEC_TRAILER_SIZE : hdr.frag_length]),
    )
    return frag[body_start : trailer_at - pad_len], verifier


def _finish(hdr: CommonHeader, body: bytes, auth: AuthVerifier | None) -> bytes:
    """Prepend the common header with correct lengths; append auth padding/trailer if any."""
    if auth is not None:
        pad = (-(COMMON_HEADER_SIZE + len(body))) % 4
        auth.auth_pad_length = pad
        body = body + b"\x00" * pad + auth.pack_trailer() + auth.auth_value
        hdr.auth_length = len(auth.auth_value)
    else:
        hdr.auth_length = 0
    hdr.frag_length = COMMON_HEADER_SIZE + len(body)
    if hdr.frag_length > 0xFFFF:
        raise ValueError("PDU larger than 65535 bytes")
    return hdr.pack() + body


# --------------------------------------------------------------------------- bind / alter_context


@dataclass(slots=True)
class ContextElement:
    """p_cont_elem_t (C706 12.6.3.1): presentation context id, abstract and transfer syntaxes."""

    p_cont_id: int
    abstract_syntax: SyntaxId
    transfer_syntaxes: list[SyntaxId]

    def pack(self) -> bytes:
        out = struct.pack("<HBB", self.p_cont_id, len(self.transfer_syntaxes), 0)
        out += self.abstract_syntax.pack()
        return out + b"".join(t.pack() for t in self.transfer_syntaxes)


@dataclass(slots=True)
class ContextResultItem:
    """p_result_t (C706 12.6.3.1); for negotiate_ack ``reason`` carries feature bits."""

    result: int
    reason: int
    transfer_syntax: SyntaxId = _NULL_SYNTAX

    def pack(self) -> bytes:
        return struct.pack("<HH", self.result, self.reason) + self.transfer_syntax.pack()


@dataclass(slots=True)
class BindPdu:
    """bind (ptype 11) and alter_context (ptype 14), C706 12.6.4.3 / 12.6.4.1."""

    call_id: int
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    contexts: list[ContextElement]
    pfc_flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    ptype: int = PType.BIND
    auth: AuthVerifier | None = None

    def pack(self) -> bytes:
        body = struct.pack(
            "<HHIB3x",
            self.max_xmit_frag,
            self.max_recv_frag,
            self.assoc_group_id,
            len(self.contexts),
        )
        body += b"".join(c.pack() for c in self.contexts)
        return _finish(
            CommonHeader(self.ptype, self.pfc_flags, 0, 0, self.call_id), body, self.auth
        )


@dataclass(slots=True)
class BindAckPdu:
    """bind_ack (ptype 12) and alter_context_resp (ptype 15), C706 12.6.4.4 / 12.6.4.2.

    ``sec_addr`` is the port spec, e.g. ``\\PIPE\\srvsvc``; empty for alter_context_resp
    (MS-RPCE 2.2.2.x: "sec_addr_length MUST be 0" in alter_context_resp).
    """

    call_id: int
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    sec_addr: str
    results: list[ContextResultItem]
    pfc_flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    ptype: int = PType.BIND_ACK
    auth: AuthVerifier | None = None

    def pack(self) -> bytes:
        body = struct.pack("<HHI", self.max_xmit_frag, self.max_recv_frag, self.assoc_group_id)
        if self.sec_addr:
            addr = self.sec_addr.encode("ascii") + b"\x00"
        else:
            addr = b""
        body += struct.pack("<H", len(addr)) + addr
        body += b"\x00" * ((-(COMMON_HEADER_SIZE + len(body))) % 4)  # align to 4 from PDU start
        body += struct.pack("<B3x", len(self.results))
        body += b"".join(r.pack() for r in self.results)
        return _finish(
            CommonHeader(self.ptype, self.pfc_flags, 0, 0, self.call_id), body, self.auth
        )


@dataclass(slots=True)
class BindNakPdu:
    """bind_nak (ptype 13), C706 12.6.4.5: reject reason plus supported protocol versions."""

    call_id: int
    provider_reject_reason: int
    versions: list[tuple[int, int]] = field(default_factory=lambda: [(5, 0)])

    def pack(self) -> bytes:
        body = struct.pack("<HB", self.provider_reject_reason, len(self.versions))
        body += b"".join(struct.pack("<BB", a, b) for a, b in self.versions)
        body += b"\x00" * ((-(COMMON_HEADER_SIZE + len(body))) % 4)
        return _finish(
            CommonHeader(PType.BIND_NAK, PFC_FIRST_FRAG | PFC_LAST_FRAG, 0, 0, self.call_id),
            body,
            None,
        )


# --------------------------------------------------------------------------- request / response / fault


@dataclass(slots=True)
class RequestPdu:
    """request (ptype 0), C706 12.6.4.9: alloc_hint, p_cont_id, opnum, [object], stub."""

    call_id: int
    p_cont_id: int
    opnum: int
    stub: bytes
    pfc_flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    alloc_hint: int = 0
    object_uuid: uuid.UUID | None = None
    auth: AuthVerifier | None = None

    def pack(self) -> bytes:
        flags = self.pfc_flags | (PFC_OBJECT_UUID if self.object_uuid else 0)
        body = struct.pack("<IHH", self.alloc_hint or len(self.stub), self.p_cont_id, self.opnum)
        if self.object_uuid is not None:
            body += self.object_uuid.bytes_le
        body += self.stub
        return _finish(CommonHeader(PType.REQUEST, flags, 0, 0, self.call_id), body, self.auth)


@dataclass(slots=True)
class ResponsePdu:
    """response (ptype 2), C706 12.6.4.10: alloc_hint, p_cont_id, cancel_count, stub."""

    call_id: int
    p_cont_id: int
    stub: bytes
    pfc_flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    alloc_hint: int = 0
    cancel_count: int = 0
    auth: AuthVerifier | None = None

    def pack(self) -> bytes:
        body = struct.pack("<IHBx", self.alloc_hint, self.p_cont_id, self.cancel_count) + self.stub
        return _finish(
            CommonHeader(PType.RESPONSE, self.pfc_flags, 0, 0, self.call_id), body, self.auth
        )


@dataclass(slots=True)
class FaultPdu:
    """fault (ptype 3), C706 12.6.4.7 / MS-RPCE 2.2.2.7: status plus 4 reserved bytes."""

    call_id: int
    p_cont_id: int
    status: int
    pfc_flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG
    cancel_count: int = 0

    def pack(self) -> bytes:
        body = struct.pack("<IHBxII", 0, self.p_cont_id, self.cancel_count, self.status, 0)
        return _finish(CommonHeader(PType.FAULT, self.pfc_flags, 0, 0, self.call_id), body, None)


@dataclass(slots=True)
class OtherPdu:
    """Any PDU type this codec does not decode further (auth3, shutdown, co_cancel, orphaned...)."""

    header: CommonHeader
    body: bytes
    auth: AuthVerifier | None = None


Pdu = BindPdu | BindAckPdu | BindNakPdu | RequestPdu | ResponsePdu | FaultPdu | OtherPdu

#: Hard cap on presentation context elements in one bind (one byte on the wire anyway).
MAX_CONTEXT_ELEMENTS = 32
#: Cap on transfer syntaxes offered for one context element.
MAX_TRANSFER_SYNTAXES = 16


def _parse_bind(hdr: CommonHeader, frag: memoryview) -> BindPdu:
    body, auth = _split_auth(hdr, frag, COMMON_HEADER_SIZE)
    if len(body) < 12:
        raise RpcProtocolError("truncated bind")
    max_xmit, max_recv, assoc, n_ctx = struct.unpack_from("<HHIB", body, 0)
    if n_ctx > MAX_CONTEXT_ELEMENTS:
        raise RpcProtocolError(f"too many presentation contexts ({n_ctx})")
    pos = 12
    contexts: list[ContextElement] = []
    for _ in range(n_ctx):
        if pos + 4 + SyntaxId.SIZE > len(body):
            raise RpcProtocolError("truncated p_cont_elem")
        cont_id, n_ts = struct.unpack_from("<HB", body, pos)
        if n_ts == 0 or n_ts > MAX_TRANSFER_SYNTAXES:
            raise RpcProtocolError(f"bad n_transfer_syn {n_ts}")
        abstract = SyntaxId.unpack(body, pos + 4)
        pos += 4 + SyntaxId.SIZE
        if pos + n_ts * SyntaxId.SIZE > len(body):
            raise RpcProtocolError("truncated transfer syntaxes")
        transfers = [SyntaxId.unpack(body, pos + i * SyntaxId.SIZE) for i in range(n_ts)]
        pos += n_ts * SyntaxId.SIZE
        contexts.append(ContextElement(cont_id, abstract, transfers))
    return BindPdu(hdr.call_id, max_xmit, max_recv, assoc, contexts, hdr.pfc_flags, hdr.ptype, auth)


def _parse_bind_ack(hdr: CommonHeader, frag: memoryview) -> BindAckPdu:
    body, auth = _split_auth(hdr, frag, COMMON_HEADER_SIZE)
    if len(body) < 10:
        raise RpcProtocolError("truncated bind_ack")
    max_xmit, max_recv, assoc, addr_len = struct.unpack_from("<HHIH", body, 0)
    pos = 10
    if pos + addr_len > len(body):
        raise RpcProtocolError("truncated sec_addr")
    addr = bytes(body[pos : pos + addr_len]).rstrip(b"\x00").decode("ascii", "replace")
    pos += addr_len
    pos += (-(COMMON_HEADER_SIZE + pos)) % 4
    if pos + 4 > len(body):
        raise RpcProtocolError("truncated p_result_list")
    n_results = body[pos]
    pos += 4
    if pos + n_results * 24 > len(body):
        raise RpcProtocolError("truncated p_results")
    results = []
    for _ in range(n_results):
        res, reason = struct.unpack_from("<HH", body, pos)
        results.append(ContextResultItem(res, reason, SyntaxId.unpack(body, pos + 4)))
        pos += 24
    return BindAckPdu(
        hdr.call_id, max_xmit, max_recv, assoc, addr, results, hdr.pfc_flags, hdr.ptype, auth
    )


def _parse_request(hdr: CommonHeader, frag: memoryview) -> RequestPdu:
    if hdr.frag_length < 24:
        raise RpcProtocolError("truncated request")
    alloc_hint, cont_id, opnum = struct.unpack_from("<IHH", frag, 16)
    start = 24
    obj = None
    if hdr.pfc_flags & PFC_OBJECT_UUID:
        if hdr.frag_length < 40:
            raise RpcProtocolError("truncated object uuid")
        obj = uuid.UUID(bytes_le=bytes(frag[24:40]))
        start = 40
    stub, auth = _split_auth(hdr, frag, start)
    return RequestPdu(
        hdr.call_id, cont_id, opnum, bytes(stub), hdr.pfc_flags, alloc_hint, obj, auth
    )


def _parse_response(hdr: CommonHeader, frag: memoryview) -> ResponsePdu:
    if hdr.frag_length < 24:
        raise RpcProtocolError("truncated response")
    alloc_hint, cont_id, cancel = struct.unpack_from("<IHB", frag, 16)
    stub, auth = _split_auth(hdr, frag, 24)
    return ResponsePdu(hdr.call_id, cont_id, bytes(stub), hdr.pfc_flags, alloc_hint, cancel, auth)


def _parse_fault(hdr: CommonHeader, frag: memoryview) -> FaultPdu:
    if hdr.frag_length < 28:
        raise RpcProtocolError("truncated fault")
    _hint, cont_id, cancel, status = struct.unpack_from("<IHBxI", frag, 16)
    return FaultPdu(hdr.call_id, cont_id, status, hdr.pfc_flags, cancel)


def _parse_bind_nak(hdr: CommonHeader, frag: memoryview) -> BindNakPdu:
    if hdr.frag_length < 19:
        raise RpcProtocolError("truncated bind_nak")
    reason, n = struct.unpack_from("<HB", frag, 16)
    if 19 + 2 * n > hdr.frag_length:
        raise RpcProtocolError("truncated bind_nak versions")
    versions = [tuple(frag[19 + 2 * i : 21 + 2 * i]) for i in range(n)]
    return BindNakPdu(hdr.call_id, reason, [(v[0], v[1]) for v in versions])


_PARSERS = {
    PType.BIND: _parse_bind,
    PType.ALTER_CONTEXT: _parse_bind,
    PType.BIND_ACK: _parse_bind_ack,
    PType.ALTER_CONTEXT_RESP: _parse_bind_ack,
    PType.BIND_NAK: _parse_bind_nak,
    PType.REQUEST: _parse_request,
    PType.RESPONSE: _parse_response,
    PType.FAULT: _parse_fault,
}


def parse_pdu(data: bytes | memoryview) -> Pdu:
    """Decode exactly one PDU; ``len(data)`` must equal the header's ``frag_length``."""
    frag = memoryview(data)
    hdr = parse_header(frag)
    if hdr.frag_length != len(frag):
        raise RpcProtocolError(f"frag_length {hdr.frag_length} != {len(frag)} bytes supplied")
    parser = _PARSERS.get(hdr.ptype)  # type: ignore[call-overload]
    if parser is not None:
        return parser(hdr, frag)
    body, auth = _split_auth(hdr, frag, COMMON_HEADER_SIZE)
    return OtherPdu(hdr, bytes(body), auth)


class PduFramer:
    """Split a byte stream into whole PDUs using ``frag_length`` (C706 12.6.3.1).

    ``feed()`` buffers bytes, ``next_pdu()`` returns one complete PDU or ``None``.  A header that
    fails validation raises :class:`RpcProtocolError` and the framer is then unusable.  Only
    unconsumed input is held, so the caller bounds memory by draining after each ``feed``.
    """

    __slots__ = ("_buf", "_failed", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._failed = False

    def feed(self, data: bytes | memoryview) -> None:
        if self._failed:
            raise RpcProtocolError("stream already failed")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_pdu(self) -> bytes | None:
        if self._failed:
            raise RpcProtocolError("stream already failed")
        avail = len(self._buf) - self._pos
        if avail < COMMON_HEADER_SIZE:
            return None
        try:
            hdr = parse_header(bytes(self._buf[self._pos : self._pos + COMMON_HEADER_SIZE]))
        except RpcProtocolError:
            self._failed = True
            self._buf.clear()
            self._pos = 0
            raise
        if avail < hdr.frag_length:
            return None
        pdu = bytes(self._buf[self._pos : self._pos + hdr.frag_length])
        self._pos += hdr.frag_length
        return pdu

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned by ``next_pdu``."""
        return len(self._buf) - self._pos
