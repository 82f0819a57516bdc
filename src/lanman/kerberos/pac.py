"""MS-PAC: the Privilege Attribute Certificate the KDC puts in tickets.

* :func:`build_logon_info` -- KERB_VALIDATION_INFO (MS-PAC 2.5) in an NDR type serialization
  version 1 envelope (MS-RPCE 2.2.6).
* :class:`Pac` -- the PACTYPE container (MS-PAC 2.3/2.4): ordered buffers, pack/parse, and the
  server / KDC / ticket signatures (MS-PAC 2.8).

Decoding the identity buffers is in ``pac_logon`` (PAC_LOGON_INFO), ``pac_device``
(PAC_DEVICE_INFO) and ``pac_claims`` (claims), over the bounded readers of ``pac_ndr``.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

from lanman.kerberos import crypto
from lanman.rpc.ndr import DeferredFn, NdrWriter

__all__ = [
    "PAC_ATTRIBUTES_INFO",
    "PAC_CLIENT_INFO",
    "PAC_KDC_CHECKSUM",
    "PAC_LOGON_INFO",
    "PAC_REQUESTOR",
    "PAC_SERVER_CHECKSUM",
    "PAC_TICKET_CHECKSUM",
    "PAC_UPN_DNS_INFO",
    "LogonInfo",
    "Pac",
    "PacError",
    "build_logon_info",
    "client_info",
    "delegation_info",
    "group_membership_array",
    "rpc_sid",
    "sid_and_attributes_array",
    "sid_to_bytes",
    "type_serialize",
    "unix_to_filetime",
    "upn_dns_info",
    "verify_bytes",
]

PAC_LOGON_INFO = 1
PAC_CREDENTIALS_INFO = 2
PAC_SERVER_CHECKSUM = 6
PAC_KDC_CHECKSUM = 7
PAC_CLIENT_INFO = 10
PAC_DELEGATION_INFO = 11
PAC_UPN_DNS_INFO = 12
PAC_CLIENT_CLAIMS = 13
PAC_DEVICE_INFO = 14
PAC_DEVICE_CLAIMS = 15
PAC_TICKET_CHECKSUM = 16
PAC_ATTRIBUTES_INFO = 17
PAC_REQUESTOR = 18
PAC_FULL_CHECKSUM = 19

SIGNATURE_TYPES = (PAC_SERVER_CHECKSUM, PAC_KDC_CHECKSUM, PAC_TICKET_CHECKSUM, PAC_FULL_CHECKSUM)

# KERB_VALIDATION_INFO UserFlags (MS-PAC 2.5) and group attributes (MS-PAC 2.2.1 / MS-KILE).
LOGON_EXTRA_SIDS = 0x20
LOGON_RESOURCE_GROUPS = 0x200
SE_GROUP_MANDATORY = 0x1
SE_GROUP_ENABLED_BY_DEFAULT = 0x2
SE_GROUP_ENABLED = 0x4
SE_GROUP_RESOURCE = 0x20000000
GROUP_ATTRS = SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED
RESOURCE_GROUP_ATTRS = GROUP_ATTRS | SE_GROUP_RESOURCE

# PAC_ATTRIBUTES_INFO flags (MS-PAC 2.14).
PAC_WAS_REQUESTED = 0x1
PAC_WAS_GIVEN_IMPLICITLY = 0x2

# UPN_DNS_INFO flags (MS-PAC 2.10).
UPN_NO_UPN_SET = 0x1
UPN_HAS_SAM_NAME_AND_SID = 0x2

_NEVER = 0x7FFFFFFFFFFFFFFF
_MAX_BUFFERS = 64
_MAX_PAC = 1 << 20


class PacError(ValueError):
    """A PAC that does not parse or whose signatures do not verify."""


def unix_to_filetime(seconds: float) -> int:
    return int(seconds * 10_000_000) + 116444736000000000


@lru_cache(maxsize=4096)
def sid_to_bytes(sid: str) -> bytes:
    """MS-DTYP 2.4.2.2 binary SID from "S-1-5-21-..."."""
    parts = sid.split("-")
    if len(parts) < 3 or parts[0].upper() != "S":
        raise PacError(f"bad SID {sid!r}")
    rev, auth = int(parts[1]), int(parts[2])
    subs = [int(p) for p in parts[3:]]
    return (
        struct.pack("<BB", rev, len(subs))
        + auth.to_bytes(6, "big")
        + struct.pack(f"<{len(subs)}I", *subs)
    )


def _split_sid(sid: str) -> tuple[str, int]:
    domain, _, rid = sid.rpartition("-")
    return domain, int(rid)


# ---------------------------------------------------------------------------------------------
# KERB_VALIDATION_INFO
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LogonInfo:
    """The fields of KERB_VALIDATION_INFO that a lanman KDC fills (MS-PAC 2.5).

    An ``extra_sids`` entry is a SID (attributes :data:`GROUP_ATTRS`) or ``(sid, attributes)``;
    ``resource_group_ids`` are RIDs in ``resource_group_domain_sid`` (attributes
    :data:`RESOURCE_GROUP_ATTRS`, UserFlags gains LOGON_RESOURCE_GROUPS)."""

    logon_time: float
    effective_name: str
    full_name: str
    user_id: int
    primary_group_id: int
    group_ids: list[int]
    logon_server: str
    logon_domain_name: str
    logon_domain_id: str
    user_account_control: int = 0x10  # USER_NORMAL_ACCOUNT (MS-SAMR 2.2.1.12)
    extra_sids: list[str | tuple[str, int]] = field(default_factory=list)
    password_last_set: float | None = None
    logon_count: int = 0
    bad_password_count: int = 0
    user_flags: int = 0
    resource_group_domain_sid: str | None = None
    resource_group_ids: list[int] = field(default_factory=list)


def type_serialize(body: bytes) -> bytes:
    """NDR type serialization version 1 (MS-RPCE 2.2.6): common header (version 1,
    little-endian, length 8, filler), private header (ObjectBufferLength, filler), then
    ``body`` padded to a multiple of 8."""
    body += bytes((-len(body)) % 8)
    return struct.pack("<BBHIII", 1, 0x10, 8, 0xCCCCCCCC, len(body), 0) + body


def _ustr_header(w: NdrWriter, text: str) -> None:
    """RPC_UNICODE_STRING: Length, MaximumLength, [unique] Buffer (deferred)."""
    data = text.encode("utf-16-le")
    w.u16(len(data))
    w.u16(len(data))
    if not data:
        w.u32(0)
        return

    def body(w2: NdrWriter) -> None:
        n = len(data) // 2
        w2.u32(n)
        w2.u32(0)
        w2.u32(n)
        w2.raw(data)

    w.pointer(body)


def _rpc_sid(w: NdrWriter, sid: bytes) -> None:
    w.align(4)
    w.u32(sid[1])  # conformance: SubAuthorityCount
    w.raw(sid)


def rpc_sid(sid: str) -> DeferredFn:
    """Pointee writer of an RPC_SID (MS-DTYP 2.4.2.3): conformance, then the binary SID."""
    raw = sid_to_bytes(sid)
    return lambda w: _rpc_sid(w, raw)


def group_membership_array(groups: list[tuple[int, int]]) -> DeferredFn | None:
    """Pointee writer of ``[size_is(n)] GROUP_MEMBERSHIP*`` (MS-PAC 2.2.2): (RelativeId,
    Attributes) pairs; ``None`` (a NULL pointer) when empty."""
    if not groups:
        return None

    def body(w: NdrWriter) -> None:
        w.u32(len(groups))
        for rid, attrs in groups:
            w.u32(rid)
            w.u32(attrs)

    return body


def sid_and_attributes_array(sids: list[tuple[str, int]]) -> DeferredFn | None:
    """Pointee writer of ``[size_is(n)] KERB_SID_AND_ATTRIBUTES*`` (MS-PAC 2.2.1): (Sid
    pointer, Attributes) pairs, then the SIDs; ``None`` when empty."""
    if not sids:
        return None

    def body(w: NdrWriter) -> None:
        w.u32(len(sids))
        for sid, attrs in sids:
            w.pointer(rpc_sid(sid))
            w.u32(attrs)

    return body


# KERB_VALIDATION_INFO.LogonTime sits right after the 16-byte type-serialization headers and
# the 4-byte referent of the top-level pointer; everything else depends only on the account.
_LOGON_TIME_OFFSET = 20
_LOGON_CACHE: OrderedDict[tuple, bytes] = OrderedDict()
_LOGON_CACHE_MAX = 4096


def build_logon_info(info: LogonInfo) -> bytes:
    """PAC_LOGON_INFO buffer: NDR type serialization v1 of a [unique] KERB_VALIDATION_INFO*.

    Encoded once per distinct account content (bounded LRU); per call only LogonTime is
    patched in."""
    key = (
        info.effective_name,
        info.full_name,
        info.user_id,
        info.primary_group_id,
        tuple(info.group_ids),
        info.logon_server,
        info.logon_domain_name,
        info.logon_domain_id,
        info.user_account_control,
        tuple(info.extra_sids),
        info.password_last_set,
        info.logon_count,
        info.bad_password_count,
        info.user_flags,
        info.resource_group_domain_sid,
        tuple(info.resource_group_ids),
    )
    template = _LOGON_CACHE.get(key)
    if template is None:
        template = _encode_logon_info(info, 0)
        zero = struct.pack("<Q", unix_to_filetime(0))
        if template[_LOGON_TIME_OFFSET : _LOGON_TIME_OFFSET + 8] != zero:  # pragma: no cover
            return _encode_logon_info(info, info.logon_time)
        _LOGON_CACHE[key] = template
        while len(_LOGON_CACHE) > _LOGON_CACHE_MAX:
            _LOGON_CACHE.popitem(last=False)
    else:
        _LOGON_CACHE.move_to_end(key)
    return (
        template[:_LOGON_TIME_OFFSET]
        + struct.pack("<Q", unix_to_filetime(info.logon_time))
        + template[_LOGON_TIME_OFFSET + 8 :]
    )


def _encode_logon_info(info: LogonInfo, logon_time: float) -> bytes:
    extra = [(s, GROUP_ATTRS) if isinstance(s, str) else (s[0], s[1]) for s in info.extra_sids]
    rg_domain = info.resource_group_domain_sid
    rg_ids = list(dict.fromkeys(info.resource_group_ids)) if rg_domain else []
    user_flags = (
        info.user_flags
        | (LOGON_EXTRA_SIDS if extra else 0)
        | (LOGON_RESOURCE_GROUPS if rg_domain else 0)
    )
    w = NdrWriter()

    def kvi(w: NdrWriter) -> None:
        lt = unix_to_filetime(logon_time)
        pls = unix_to_filetime(info.password_last_set) if info.password_last_set else 0
        for ft in (lt, _NEVER, _NEVER, pls, pls, _NEVER):
            w.u32(ft & 0xFFFFFFFF)
            w.u32(ft >> 32)
        _ustr_header(w, info.effective_name)
        _ustr_header(w, info.full_name)
        for _ in range(4):  # LogonScript, ProfilePath, HomeDirectory, HomeDirectoryDrive
            _ustr_header(w, "")
        w.u16(info.logon_count)
        w.u16(info.bad_password_count)
        w.u32(info.user_id)
        w.u32(info.primary_group_id)
        groups = list(dict.fromkeys(info.group_ids))
        w.u32(len(groups))
        w.pointer(group_membership_array([(rid, GROUP_ATTRS) for rid in groups]))
        w.u32(user_flags)
        w.raw(bytes(16))  # UserSessionKey
        _ustr_header(w, info.logon_server)
        _ustr_header(w, info.logon_domain_name)
        w.pointer(rpc_sid(info.logon_domain_id))
        w.u32(0)
        w.u32(0)  # Reserved1[2]
        w.u32(info.user_account_control)
        w.u32(0)  # SubAuthStatus
        for _ in range(4):  # LastSuccessfulILogon, LastFailedILogon (FILETIME each)
            w.u32(0)
        w.u32(0)  # FailedILogonCount
        w.u32(0)  # Reserved3
        w.u32(len(extra))
        w.pointer(sid_and_attributes_array(extra))
        w.pointer(rpc_sid(rg_domain) if rg_domain else None)  # ResourceGroupDomainSid
        w.u32(len(rg_ids))
        w.pointer(group_membership_array([(rid, RESOURCE_GROUP_ATTRS) for rid in rg_ids]))

    w.top_level_pointer(kvi)
    return type_serialize(w.getvalue())


# ---------------------------------------------------------------------------------------------
# S4U_DELEGATION_INFO (MS-PAC 2.9)
# ---------------------------------------------------------------------------------------------


def delegation_info(proxy_target: str, transited: list[str]) -> bytes:
    """PAC_DELEGATION_INFO: S4U2proxyTarget and S4UTransitedServices, NDR type serialized
    (read back by :func:`lanman.kerberos.pac_delegation.parse_delegation_info`)."""
    w = NdrWriter()

    def body(w: NdrWriter) -> None:
        _ustr_header(w, proxy_target)
        w.u32(len(transited))

        def array(w2: NdrWriter) -> None:
            w2.u32(len(transited))
            for name in transited:
                _ustr_header(w2, name)

        w.pointer(array if transited else None)

    w.top_level_pointer(body)
    return type_serialize(w.getvalue())


# ---------------------------------------------------------------------------------------------
# Small buffers
# ---------------------------------------------------------------------------------------------


def client_info(authtime: float, name: str) -> bytes:
    """PAC_CLIENT_INFO (MS-PAC 2.7)."""
    raw = name.encode("utf-16-le")
    return struct.pack("<QH", unix_to_filetime(int(authtime)), len(raw)) + raw


@lru_cache(maxsize=4096)
def upn_dns_info(upn: str, dns_domain: str, sam_name: str | None, sid: str | None) -> bytes:
    """UPN_DNS_INFO (MS-PAC 2.10) with the extended SamName/Sid part when given."""
    upn_b = upn.encode("utf-16-le")
    dns_b = dns_domain.encode("utf-16-le")
    extended = sam_name is not None and sid is not None
    flags = UPN_HAS_SAM_NAME_AND_SID if extended else 0
    head_len = 24 if extended else 16
    parts: list[bytes] = []
    offsets: list[int] = []
    pos = head_len
    strings = [upn_b, dns_b]
    if extended:
        strings += [sam_name.encode("utf-16-le"), sid_to_bytes(sid)]  # type: ignore[union-attr]
    for s in strings:
        pad = (-pos) % 8
        parts.append(bytes(pad))
        pos += pad
        offsets.append(pos)
        parts.append(s)
        pos += len(s)
    head = struct.pack("<HHHHI", len(upn_b), offsets[0], len(dns_b), offsets[1], flags)
    if extended:
        head += struct.pack("<HHHH", len(strings[2]), offsets[2], len(strings[3]), offsets[3])
    return head + b"".join(parts)


def attributes_info(flags: int) -> bytes:
    return struct.pack("<II", 2, flags)


def signature_buffer(cksumtype: int) -> bytes:
    size = 16 if cksumtype == crypto.CKSUM_HMAC_MD5 else 12
    return struct.pack("<i", cksumtype) + bytes(size)


# ---------------------------------------------------------------------------------------------
# PACTYPE
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Pac:
    """Ordered PAC buffers ``[(ulType, data)]``."""

    buffers: list[tuple[int, bytes]]

    def get(self, ul_type: int) -> bytes | None:
        for t, d in self.buffers:
            if t == ul_type:
                return d
        return None

    def set(self, ul_type: int, data: bytes) -> None:
        for i, (t, _) in enumerate(self.buffers):
            if t == ul_type:
                self.buffers[i] = (t, data)
                return
        self.buffers.append((ul_type, data))

    def remove(self, ul_type: int) -> None:
        self.buffers = [(t, d) for t, d in self.buffers if t != ul_type]

    # -- wire ---------------------------------------------------------------------------------
    def pack(self) -> bytes:
        return self._pack_offsets()[0]

    def _pack_offsets(self) -> tuple[bytes, dict[int, int]]:
        """The PACTYPE and the offset of each buffer type's data (first occurrence)."""
        n = len(self.buffers)
        offset = 8 + 16 * n
        heads = [struct.pack("<II", n, 0)]
        bodies: list[bytes] = []
        offsets: dict[int, int] = {}
        for t, d in self.buffers:
            heads.append(struct.pack("<IIQ", t, len(d), offset))
            offsets.setdefault(t, offset)
            bodies.append(d)
            pad = (-len(d)) % 8
            if pad:
                bodies.append(bytes(pad))
            offset += len(d) + pad
        return b"".join(heads) + b"".join(bodies), offsets

    @classmethod
    def parse(cls, data: bytes) -> Pac:
        return cls([(t, data[off : off + size]) for t, off, size in _buffer_table(data)])

    # -- signatures (MS-PAC 2.8) --------------------------------------------------------------
    @staticmethod
    def _sig_type(buf: bytes) -> int:
        if len(buf) < 4:
            raise PacError("short PAC_SIGNATURE_DATA")
        return struct.unpack_from("<i", buf)[0]

    def _zeroed(self) -> bytes:
        saved = list(self.buffers)
        try:
            self.buffers = [
                (
                    t,
                    d[:4]
                    + bytes(_sig_len(self._sig_type(d)))
                    + d[4 + _sig_len(self._sig_type(d)) :],
                )
                if t in (PAC_SERVER_CHECKSUM, PAC_KDC_CHECKSUM)
                else (t, d)
                for t, d in saved
            ]
            return self.pack()
        finally:
            self.buffers = saved

    def sign(
        self,
        server_etype: int,
        server_key: bytes,
        kdc_etype: int,
        kdc_key: bytes,
        ticket_body: bytes | None = None,
    ) -> bytes:
        """Fill server (and ticket) and KDC signatures; ``ticket_body`` is the EncTicketPart
        encoded with the PAC replaced by one zero byte (service tickets only).  Returns the
        signed PAC (what :meth:`pack` returns afterwards)."""
        s_type = crypto.checksum_type_for(server_etype)
        k_type = crypto.checksum_type_for(kdc_etype)
        self.set(PAC_SERVER_CHECKSUM, signature_buffer(s_type))
        self.set(PAC_KDC_CHECKSUM, signature_buffer(k_type))
        if ticket_body is not None:
            t_sig = crypto.make_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, ticket_body)
            self.set(PAC_TICKET_CHECKSUM, struct.pack("<i", k_type) + t_sig)
        else:
            self.remove(PAC_TICKET_CHECKSUM)
        # Signature buffers go last, in the order Windows uses.
        sigs = {t: d for t, d in self.buffers if t in SIGNATURE_TYPES}
        self.buffers = [(t, d) for t, d in self.buffers if t not in SIGNATURE_TYPES] + [
            (t, sigs[t])
            for t in (PAC_SERVER_CHECKSUM, PAC_KDC_CHECKSUM, PAC_TICKET_CHECKSUM)
            if t in sigs
        ]
        # The server/KDC signature buffers hold zeros now: the packed PAC is what gets signed.
        packed, offsets = self._pack_offsets()
        server_sig = crypto.make_checksum(s_type, server_key, crypto.KU.APP_DATA_CKSUM, packed)
        kdc_sig = crypto.make_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, server_sig)
        self.set(PAC_SERVER_CHECKSUM, struct.pack("<i", s_type) + server_sig)
        self.set(PAC_KDC_CHECKSUM, struct.pack("<i", k_type) + kdc_sig)
        out = bytearray(packed)
        so, ko = offsets[PAC_SERVER_CHECKSUM] + 4, offsets[PAC_KDC_CHECKSUM] + 4
        out[so : so + len(server_sig)] = server_sig
        out[ko : ko + len(kdc_sig)] = kdc_sig
        return bytes(out)

    def verify(
        self,
        server_key: bytes | None,
        kdc_key: bytes,
        ticket_body: bytes | None = None,
    ) -> None:
        """Check the server signature (if ``server_key``), the KDC signature and, when both
        present, the ticket signature.  Raises :class:`PacError`."""
        srv = self.get(PAC_SERVER_CHECKSUM)
        kdc = self.get(PAC_KDC_CHECKSUM)
        if srv is None or kdc is None:
            raise PacError("PAC without server or KDC signature")
        s_type, k_type = self._sig_type(srv), self._sig_type(kdc)
        s_sig = srv[4 : 4 + _sig_len(s_type)]
        k_sig = kdc[4 : 4 + _sig_len(k_type)]
        if server_key is not None and not crypto.verify_checksum(
            s_type, server_key, crypto.KU.APP_DATA_CKSUM, self._zeroed(), s_sig
        ):
            raise PacError("PAC server signature mismatch")
        if not crypto.verify_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, s_sig, k_sig):
            raise PacError("PAC KDC signature mismatch")
        tkt = self.get(PAC_TICKET_CHECKSUM)
        if tkt is not None and ticket_body is not None:
            t_type = self._sig_type(tkt)
            if not crypto.verify_checksum(
                t_type,
                kdc_key,
                crypto.KU.APP_DATA_CKSUM,
                ticket_body,
                tkt[4 : 4 + _sig_len(t_type)],
            ):
                raise PacError("PAC ticket signature mismatch")


def _buffer_table(data: bytes) -> list[tuple[int, int, int]]:
    """PACTYPE header -> [(ulType, offset, size)], bounds-checked."""
    if len(data) < 8 or len(data) > _MAX_PAC:
        raise PacError("PAC too short or too long")
    n, version = struct.unpack_from("<II", data)
    if version != 0 or n == 0 or n > _MAX_BUFFERS or 8 + 16 * n > len(data):
        raise PacError("bad PACTYPE header")
    out = []
    for i in range(n):
        t, size, off = struct.unpack_from("<IIQ", data, 8 + 16 * i)
        if off % 8 or off < 8 + 16 * n or off + size > len(data):
            raise PacError("PAC buffer out of range")
        out.append((t, off, size))
    return out


def verify_bytes(data: bytes, server_key: bytes | None, kdc_key: bytes) -> Pac:
    """Parse a PAC and check its server (if ``server_key``) and KDC signatures over the bytes
    as received, with the two signature fields zeroed (MS-PAC 2.8); -> the parsed PAC.
    Raises :class:`PacError`."""
    table = _buffer_table(data)
    srv = next(((o, z) for t, o, z in table if t == PAC_SERVER_CHECKSUM), None)
    kdc = next(((o, z) for t, o, z in table if t == PAC_KDC_CHECKSUM), None)
    if srv is None or kdc is None:
        raise PacError("PAC without server or KDC signature")
    sigs = []
    for off, size in (srv, kdc):
        if size < 4:
            raise PacError("short PAC_SIGNATURE_DATA")
        ctype = struct.unpack_from("<i", data, off)[0]
        n = _sig_len(ctype)
        if 4 + n > size:
            raise PacError("short PAC_SIGNATURE_DATA")
        sigs.append((ctype, off + 4, data[off + 4 : off + 4 + n]))
    (s_type, s_off, s_sig), (k_type, k_off, k_sig) = sigs
    if server_key is not None:
        zeroed = bytearray(data)
        zeroed[s_off : s_off + len(s_sig)] = bytes(len(s_sig))
        zeroed[k_off : k_off + len(k_sig)] = bytes(len(k_sig))
        if not crypto.verify_checksum(
            s_type, server_key, crypto.KU.APP_DATA_CKSUM, bytes(zeroed), s_sig
        ):
            raise PacError("PAC server signature mismatch")
    if not crypto.verify_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, s_sig, k_sig):
        raise PacError("PAC KDC signature mismatch")
    return Pac([(t, data[o : o + z]) for t, o, z in table])


def _sig_len(cksumtype: int) -> int:
    if cksumtype == crypto.CKSUM_HMAC_MD5:
        return 16
    if cksumtype in (crypto.CKSUM_HMAC_SHA1_96_AES128, crypto.CKSUM_HMAC_SHA1_96_AES256):
        return 12
    raise PacError(f"unsupported PAC signature type {cksumtype}")


def _splice(
    buffers: tuple[tuple[int, bytes], ...],
    drop: tuple[int, ...],
    s_type: int,
    k_type: int,
    with_ticket: bool,
) -> tuple[bytes, int, int, int]:
    """The PAC for :func:`resign` with zeroed signatures: (bytes, server, KDC and ticket
    signature offsets; 0 when absent)."""
    s_len, k_len = _sig_len(s_type), _sig_len(k_type)
    kept = [(t, d) for t, d in buffers if t not in SIGNATURE_TYPES and t not in drop]
    n = len(kept) + (3 if with_ticket else 2)
    offset = 8 + 16 * n
    head = bytearray(struct.pack("<II", n, 0))
    body = bytearray()
    pack = struct.pack
    for t, d in kept:
        head += pack("<IIQ", t, len(d), offset)
        body += d
        pad = (-len(d)) % 8
        if pad:
            body += bytes(pad)
        offset += len(d) + pad
    sigs = [(PAC_SERVER_CHECKSUM, s_type, s_len), (PAC_KDC_CHECKSUM, k_type, k_len)]
    if with_ticket:
        sigs.append((PAC_TICKET_CHECKSUM, k_type, k_len))
    offs = {}
    for ul, ctype, ln in sigs:
        head += pack("<IIQ", ul, 4 + ln, offset)
        offs[ul] = offset + 4
        body += pack("<i", ctype) + bytes(ln)
        pad = (-(4 + ln)) % 8
        if pad:
            body += bytes(pad)
        offset += 4 + ln + pad
    return (
        bytes(head + body),
        offs[PAC_SERVER_CHECKSUM],
        offs[PAC_KDC_CHECKSUM],
        offs.get(PAC_TICKET_CHECKSUM, 0),
    )


# A client sends the same TGT (same PAC buffers) with each TGS-REQ of its session: the spliced
# layout is kept per (buffers, drop, signature types); only the signatures change per ticket.
_SPLICES: dict[tuple, tuple[bytes, int, int, int]] = {}
_SPLICES_MAX = 1024


def resign(
    buffers: list[tuple[int, bytes]],
    drop: tuple[int, ...],
    server_etype: int,
    server_key: bytes,
    kdc_etype: int,
    kdc_key: bytes,
    ticket_body: bytes | None = None,
) -> bytes:
    """A verified PAC's buffers re-signed for a new ticket, spliced in one pass: the non-signature
    buffers (less ``drop``) copied as they are, then new server, KDC and (when ``ticket_body``)
    ticket signatures, with the server signature computed over the spliced bytes.  Same bytes as
    ``Pac([...]).sign(...)`` on those buffers, without re-packing or re-ordering lists."""
    s_type = crypto.checksum_type_for(server_etype)
    k_type = crypto.checksum_type_for(kdc_etype)
    key = (tuple(buffers), drop, s_type, k_type, ticket_body is not None)
    hit = _SPLICES.get(key)
    if hit is None:
        hit = _splice(*key)
        if len(_SPLICES) >= _SPLICES_MAX:
            _SPLICES.clear()
        _SPLICES[key] = hit
    template, s_off, k_off, t_off = hit
    out = bytearray(template)
    if ticket_body is not None:
        t_sig = crypto.make_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, ticket_body)
        out[t_off : t_off + len(t_sig)] = t_sig
    server_sig = crypto.make_checksum(s_type, server_key, crypto.KU.APP_DATA_CKSUM, bytes(out))
    kdc_sig = crypto.make_checksum(k_type, kdc_key, crypto.KU.APP_DATA_CKSUM, server_sig)
    out[s_off : s_off + len(server_sig)] = server_sig
    out[k_off : k_off + len(kdc_sig)] = kdc_sig
    return bytes(out)
