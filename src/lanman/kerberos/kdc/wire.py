"""The KDC's hot-path message readers on :mod:`lanman.kerberos.der` (no asn1crypto objects).

KDC-REQ / KDC-REQ-BODY, AP-REQ, Ticket, EncTicketPart and Authenticator become small slotted
objects with plain Python values; PrincipalNames become :class:`der.Name` (with their DER).
Errors are :class:`der.DerError` (a ValueError), which the KDC answers with KRB_ERR_GENERIC.
"""

from __future__ import annotations

from lanman.kerberos import der
from lanman.kerberos.der import DerError, Name

__all__ = [
    "ApReq",
    "Authenticator",
    "EncTicket",
    "KdcReq",
    "ReqBody",
    "TicketMsg",
    "parse_ap_req",
    "parse_authenticator",
    "parse_enc_ticket_part",
    "parse_kdc_req",
    "parse_pa_enc_ts",
    "parse_req_body",
]


# RFC 4120 allows any number; S4U2Proxy and user-to-user use the first one only.
MAX_ADDITIONAL_TICKETS = 4


class ReqBody:
    """KDC-REQ-BODY (RFC 4120 5.4.1); ``der`` is its encoding as received."""

    __slots__ = (
        "additional_tickets",
        "addresses",
        "cname",
        "der",
        "etypes",
        "from_",
        "kdc_options",
        "nonce",
        "realm",
        "rtime",
        "sname",
        "till",
    )

    def __init__(self) -> None:
        self.der = b""
        self.kdc_options = 0
        self.cname: Name | None = None
        self.realm = ""
        self.sname: Name | None = None
        self.from_: int | None = None
        self.till: int | None = None
        self.rtime: int | None = None
        self.nonce = 0
        self.etypes: list[int] = []
        self.addresses: bytes | None = None  # HostAddresses DER when present and not empty
        # additional-tickets [11] (S4U2Proxy evidence, user-to-user TGT), still encrypted
        self.additional_tickets: list[TicketMsg] = []


def parse_req_body(data: bytes, v: tuple | None = None) -> ReqBody:
    if v is None:
        v = der.whole(data)
    t, s, e = v[0], v[1], v[2]
    if t != 0x30:
        raise DerError("KDC-REQ-BODY must be a SEQUENCE")
    f = der.fields(data, s, e)
    b = ReqBody()
    b.der = data[v[3] : e] if len(v) > 3 else data[:e]
    opts = der.get_flags(data, f, 0)
    if opts is None:
        raise DerError("kdc-options missing")
    b.kdc_options = opts
    b.cname = der.get_name(data, f, 1)
    realm = der.get_str(data, f, 2)
    if realm is None:
        raise DerError("realm missing")
    b.realm = realm
    b.sname = der.get_name(data, f, 3)
    b.from_ = der.get_time(data, f, 4)
    b.till = der.get_time(data, f, 5)
    b.rtime = der.get_time(data, f, 6)
    b.nonce = der.req_int(data, f, 7)
    et = f.get(8)
    if et is None:
        raise DerError("etype missing")
    etypes = []
    for it, is_, ie in der.seq_items(data, et):
        if it != 0x02 or is_ == ie:
            raise DerError("bad etype")
        etypes.append(int.from_bytes(data[is_:ie], "big", signed=True))
    b.etypes = etypes
    addrs = f.get(9)
    if addrs is not None and der.seq_items(data, addrs):
        b.addresses = data[addrs[3] : addrs[2]]
    tickets = f.get(11)
    if tickets is not None:
        items = der.seq_items(data, tickets)
        if len(items) > MAX_ADDITIONAL_TICKETS:
            raise DerError("too many additional tickets")
        b.additional_tickets = [parse_ticket(data, it) for it in items]
    return b


class KdcReq:
    __slots__ = ("body", "msg_type", "padata", "pvno")

    def __init__(
        self, pvno: int, msg_type: int, padata: list[tuple[int, bytes]], body: ReqBody
    ) -> None:
        self.pvno = pvno
        self.msg_type = msg_type
        self.padata = padata
        self.body = body


def parse_padata_list(data: bytes, v: tuple) -> list[tuple[int, bytes]]:
    out = []
    for item in der.seq_items(data, v):
        if item[0] != 0x30:
            raise DerError("PA-DATA must be a SEQUENCE")
        f = der.fields(data, item[1], item[2])
        value = der.get_octets(data, f, 2)
        if value is None:
            raise DerError("PA-DATA without value")
        out.append((der.req_int(data, f, 1), value))
    return out


def parse_kdc_req(data: bytes, app_tag: int) -> KdcReq:
    f, end = der.sequence(data, 0, len(data), app_tag)
    if end != len(data):
        raise DerError("trailing data after KDC-REQ")
    pvno = der.req_int(data, f, 1)
    mt = der.req_int(data, f, 2)
    pa = f.get(3)
    padata = parse_padata_list(data, pa) if pa is not None else []
    body_v = f.get(4)
    if body_v is None:
        raise DerError("req-body missing")
    return KdcReq(pvno, mt, padata, parse_req_body(data, body_v))


class TicketMsg:
    """Ticket (RFC 4120 5.3) with its enc-part still encrypted."""

    __slots__ = ("cipher", "etype", "kvno", "realm", "sname", "tkt_vno")

    def __init__(self, tkt_vno, realm, sname, etype, kvno, cipher) -> None:
        self.tkt_vno = tkt_vno
        self.realm = realm
        self.sname = sname
        self.etype = etype
        self.kvno = kvno
        self.cipher = cipher


def parse_ticket(data: bytes, v: tuple) -> TicketMsg:
    t, s, e = v[0], v[1], v[2]
    if t != 0x61:
        raise DerError("Ticket must be [APPLICATION 1]")
    s2, e2 = der._expect(data, s, e, 0x30)
    if e2 != e:
        raise DerError("trailing data in Ticket")
    f = der.fields(data, s2, e2)
    realm = der.get_str(data, f, 1)
    sname = der.get_name(data, f, 2)
    enc = f.get(3)
    if realm is None or sname is None or enc is None:
        raise DerError("incomplete Ticket")
    etype, kvno, cipher = der.parse_encrypted_data(data, enc)
    return TicketMsg(der.req_int(data, f, 0), realm, sname, etype, kvno, cipher)


class ApReq:
    __slots__ = ("auth_cipher", "auth_etype", "msg_type", "pvno", "ticket")

    def __init__(self, pvno, msg_type, ticket, auth_etype, auth_cipher) -> None:
        self.pvno = pvno
        self.msg_type = msg_type
        self.ticket = ticket
        self.auth_etype = auth_etype
        self.auth_cipher = auth_cipher


def parse_ap_req(data: bytes) -> ApReq:
    f, end = der.sequence(data, 0, len(data), 14)
    if end != len(data):
        raise DerError("trailing data after AP-REQ")
    if der.get_flags(data, f, 2) is None:
        raise DerError("ap-options missing")
    tv = f.get(3)
    av = f.get(4)
    if tv is None or av is None:
        raise DerError("incomplete AP-REQ")
    a_etype, _kvno, a_cipher = der.parse_encrypted_data(data, av)
    return ApReq(
        der.req_int(data, f, 0), der.req_int(data, f, 1), parse_ticket(data, tv), a_etype, a_cipher
    )


class EncTicket:
    """EncTicketPart (RFC 4120 5.3)."""

    __slots__ = (
        "authorization_data",
        "authtime",
        "caddr",
        "cname",
        "crealm",
        "endtime",
        "flags",
        "key",
        "renew_till",
        "starttime",
    )

    def __init__(self) -> None:
        self.flags = 0
        self.key: tuple[int, bytes] = (0, b"")
        self.crealm = ""
        self.cname: Name | None = None
        self.authtime = 0
        self.starttime: int | None = None
        self.endtime = 0
        self.renew_till: int | None = None
        self.caddr: bytes | None = None  # HostAddresses DER when present and not empty
        self.authorization_data: list[tuple[int, bytes]] = []


def parse_ad(data: bytes, v: tuple) -> list[tuple[int, bytes]]:
    out = []
    for item in der.seq_items(data, v):
        if item[0] != 0x30:
            raise DerError("AuthorizationData entry must be a SEQUENCE")
        f = der.fields(data, item[1], item[2])
        ad = der.get_octets(data, f, 1)
        if ad is None:
            raise DerError("ad-data missing")
        out.append((der.req_int(data, f, 0), ad))
    return out


def parse_enc_ticket_part(data: bytes) -> EncTicket:
    # EncTicketPart is the decrypted plaintext: no trailing-data check (like asn1crypto's load).
    f, _end = der.sequence(data, 0, len(data), 3)
    et = EncTicket()
    fl = der.get_flags(data, f, 0)
    kv = f.get(1)
    crealm = der.get_str(data, f, 2)
    cname = der.get_name(data, f, 3)
    authtime = der.get_time(data, f, 5)
    endtime = der.get_time(data, f, 7)
    if None in (fl, kv, crealm, cname, authtime, endtime) or 4 not in f:
        raise DerError("incomplete EncTicketPart")
    et.flags = fl  # type: ignore[assignment]
    et.key = der.parse_key(data, kv)  # type: ignore[arg-type]
    et.crealm = crealm  # type: ignore[assignment]
    et.cname = cname
    et.authtime = authtime  # type: ignore[assignment]
    et.starttime = der.get_time(data, f, 6)
    et.endtime = endtime  # type: ignore[assignment]
    et.renew_till = der.get_time(data, f, 8)
    ca = f.get(9)
    if ca is not None and der.seq_items(data, ca):
        et.caddr = data[ca[3] : ca[2]]
    ad = f.get(10)
    if ad is not None:
        et.authorization_data = parse_ad(data, ad)
    return et


class Authenticator:
    __slots__ = ("cksum", "cname", "crealm", "ctime", "cusec", "seq_number", "subkey")

    def __init__(self) -> None:
        self.crealm = ""
        self.cname: Name | None = None
        self.cksum: tuple[int, bytes] | None = None
        self.cusec = 0
        self.ctime = 0
        self.subkey: tuple[int, bytes] | None = None
        self.seq_number: int | None = None


def parse_authenticator(data: bytes) -> Authenticator:
    f, _end = der.sequence(data, 0, len(data), 2)
    a = Authenticator()
    der.req_int(data, f, 0)
    crealm = der.get_str(data, f, 1)
    cname = der.get_name(data, f, 2)
    ctime = der.get_time(data, f, 5)
    if crealm is None or cname is None or ctime is None:
        raise DerError("incomplete Authenticator")
    a.crealm, a.cname, a.ctime = crealm, cname, ctime
    a.cusec = der.req_int(data, f, 4)
    ck = f.get(3)
    if ck is not None:
        if ck[0] != 0x30:
            raise DerError("bad Checksum")
        cf = der.fields(data, ck[1], ck[2])
        value = der.get_octets(data, cf, 1)
        if value is None:
            raise DerError("checksum missing")
        a.cksum = (der.req_int(data, cf, 0), value)
    sk = f.get(6)
    if sk is not None:
        a.subkey = der.parse_key(data, sk)
    a.seq_number = der.get_int(data, f, 7)
    return a


def parse_pa_enc_ts(data: bytes) -> int:
    """PA-ENC-TS-ENC -> patimestamp (unix seconds)."""
    f, _end = der.sequence(data, 0, len(data))
    ts = der.get_time(data, f, 0)
    if ts is None:
        raise DerError("patimestamp missing")
    return ts


def parse_encrypted_data_bytes(data: bytes) -> tuple[int, int | None, bytes]:
    return der.parse_encrypted_data(data, der.whole(data))


# ---------------------------------------------------------------------------------------------
# Single-pass readers for the fixed-shape TGS path
# ---------------------------------------------------------------------------------------------
# TGS-REQ -> PA-TGS-REQ AP-REQ -> Ticket, then the decrypted EncTicketPart and Authenticator,
# read front to back in one pass with no per-SEQUENCE field dicts.  Each element's header gets
# the same checks as :func:`der.read_tlv` (single-octet tags, definite lengths of at most 4
# octets, inside the parent's bounds).  They only accept the common shape: the fields of each
# SEQUENCE in ascending tag order (which DER requires), no unknown fields.  Anything else —
# malformed or merely unusual — raises :class:`der.DerError` and the callers (``*_fast``) hand
# the bytes to the general readers above, which decide: so the fast path never accepts what
# the general readers reject, and errors are still theirs (KRB-ERROR, never a crash).


def _hdr(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos`` (``der.read_tlv``)."""
    if pos + 2 > end:
        raise DerError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-octet tag")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise DerError("bad DER length")
        n = int.from_bytes(data[pos : pos + k], "big")
        if n < 0x80 or not data[pos]:
            # Not minimal (BER): the general readers take it (and re-encode names).
            raise DerError("non-minimal DER length")
        pos += k
    if pos + n > end:
        raise DerError("DER length past the end")
    return tag, pos, pos + n


_F2 = (0, 1)
_F3 = (0, 1, 2)


def _int(data: bytes, v: tuple | None) -> int:
    if v is None or v[0] != 0x02 or v[1] == v[2]:
        raise DerError("bad INTEGER")
    return int.from_bytes(data[v[1] : v[2]], "big", signed=True)


def _str(data: bytes, v: tuple | None) -> str:
    if v is None or v[0] != 0x1B:
        raise DerError("bad KerberosString")
    return data[v[1] : v[2]].decode("latin1")


def _octets(data: bytes, v: tuple | None) -> bytes:
    if v is None or v[0] != 0x04:
        raise DerError("bad OCTET STRING")
    return data[v[1] : v[2]]


def _flags(data: bytes, v: tuple | None) -> int:
    if v is None or v[0] != 0x03 or v[1] == v[2]:
        raise DerError("bad KerberosFlags")
    return int.from_bytes((data[v[1] + 1 : v[2]] + b"\x00\x00\x00\x00")[:4], "big")


def _time(data: bytes, v: tuple | None) -> int | None:
    if v is None:
        return None
    return der.get_time(data, {0: v}, 0)


def _name(data: bytes, v: tuple | None) -> Name:
    if v is None or v[0] != 0x30:
        raise DerError("PrincipalName must be a SEQUENCE")
    e = v[2]
    f0, f1 = _fields_in_order(data, v[1], e, _F2)
    if f0 is None or f1 is None or f1[0] != 0x30:
        raise DerError("bad PrincipalName")
    comps = []
    pos, ce = f1[1], f1[2]
    while pos < ce:
        it, is_, ie = _hdr(data, pos, ce)
        if it != 0x1B:
            raise DerError("bad name component")
        comps.append(data[is_:ie].decode("latin1"))
        pos = ie
    return Name(_int(data, f0), comps, data[v[3] : e])


def _enc_data(data: bytes, v: tuple | None) -> tuple[int, int | None, bytes]:
    if v is None or v[0] != 0x30:
        raise DerError("EncryptedData must be a SEQUENCE")
    f0, f1, f2 = _fields_in_order(data, v[1], v[2], _F3)
    return _int(data, f0), (_int(data, f1) if f1 is not None else None), _octets(data, f2)


def _seq_of(data: bytes, v: tuple) -> list[tuple[int, int, int]]:
    if v[0] != 0x30:
        raise DerError("expected SEQUENCE OF")
    out = []
    pos, e = v[1], v[2]
    while pos < e:
        item = _hdr(data, pos, e)
        out.append(item)
        pos = item[2]
    return out


def _fields_in_order(data: bytes, s: int, e: int, wanted: tuple[int, ...]) -> list:
    """The explicit fields ``wanted`` (``(0, 1, ..., k)``) of a SEQUENCE's contents as a list
    indexed by tag, None where absent: ``(inner tag, inner start, end, inner element start)``.
    Both TLV headers of each field read inline (``der.fields``' checks, plus minimal lengths);
    a field out of order, repeated or not wanted raises."""
    out: list = [None] * len(wanted)
    k_max = len(wanted)
    last = -1
    pos = s
    while pos < e:
        if pos + 2 > e:
            raise DerError("truncated DER element")
        t = data[pos]
        n = t - 0xA0
        if n <= last or n >= k_max:
            raise DerError("unexpected field")
        ln = data[pos + 1]
        fs = pos + 2
        if ln & 0x80:
            k = ln & 0x7F
            if k == 0 or k > 4 or fs + k > e:
                raise DerError("bad DER length")
            ln = int.from_bytes(data[fs : fs + k], "big")
            if ln < 0x80 or not data[fs]:
                raise DerError("non-minimal DER length")
            fs += k
        fe = fs + ln
        if fe > e or fs + 2 > fe:
            raise DerError("DER length past the end")
        it = data[fs]
        if it & 0x1F == 0x1F:
            raise DerError("multi-octet tag")
        ln = data[fs + 1]
        is_ = fs + 2
        if ln & 0x80:
            k = ln & 0x7F
            if k == 0 or k > 4 or is_ + k > fe:
                raise DerError("bad DER length")
            ln = int.from_bytes(data[is_ : is_ + k], "big")
            if ln < 0x80 or not data[is_]:
                raise DerError("non-minimal DER length")
            is_ += k
        if is_ + ln != fe:
            raise DerError("trailing data in an explicit tag")
        out[n] = (it, is_, fe, fs)
        last = n
        pos = fe
    return out


def _app_seq(data: bytes, pos: int, end: int, app: int) -> tuple[int, int, int]:
    t, s, e = _hdr(data, pos, end)
    if t != 0x60 | app:
        raise DerError("wrong application tag")
    t2, s2, e2 = _hdr(data, s, e)
    if t2 != 0x30 or e2 != e:
        raise DerError("bad SEQUENCE")
    return s2, e2, e


def _ap_req_1(data: bytes) -> ApReq:
    s, e, end = _app_seq(data, 0, len(data), 14)
    if end != len(data):
        raise DerError("trailing data after AP-REQ")
    pvno, mt, opts, tv, av = _fields_in_order(data, s, e, (0, 1, 2, 3, 4))
    _flags(data, opts)
    if tv is None or av is None or tv[0] != 0x61:
        raise DerError("incomplete AP-REQ")
    t2, ts, te = _hdr(data, tv[1], tv[2])
    if t2 != 0x30 or te != tv[2]:
        raise DerError("bad Ticket")
    vno, realm, sname, enc = _fields_in_order(data, ts, te, (0, 1, 2, 3))
    etype, kvno, cipher = _enc_data(data, enc)
    ticket = TicketMsg(_int(data, vno), _str(data, realm), _name(data, sname), etype, kvno, cipher)
    a_etype, _kvno, a_cipher = _enc_data(data, av)
    return ApReq(_int(data, pvno), _int(data, mt), ticket, a_etype, a_cipher)


def _req_body_1(data: bytes, v: tuple) -> ReqBody:
    if v[0] != 0x30:
        raise DerError("KDC-REQ-BODY must be a SEQUENCE")
    f = _fields_in_order(data, v[1], v[2], (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))
    if f[10] is not None or f[11] is not None:
        raise DerError("enc-authorization-data / additional-tickets: general reader")
    b = ReqBody()
    b.der = data[v[3] : v[2]]
    b.kdc_options = _flags(data, f[0])
    b.cname = _name(data, f[1]) if f[1] is not None else None
    b.realm = _str(data, f[2])
    b.sname = _name(data, f[3]) if f[3] is not None else None
    b.from_ = _time(data, f[4])
    b.till = _time(data, f[5])
    b.rtime = _time(data, f[6])
    b.nonce = _int(data, f[7])
    if f[8] is None:
        raise DerError("etype missing")
    b.etypes = [_int(data, it) for it in _seq_of(data, f[8])]
    if f[9] is not None and _seq_of(data, f[9]):
        b.addresses = data[f[9][3] : f[9][2]]
    return b


def _tgs_req_1(data: bytes, pa_tgs_req: int) -> tuple[KdcReq, ApReq | None]:
    s, e, end = _app_seq(data, 0, len(data), 12)
    if end != len(data):
        raise DerError("trailing data after KDC-REQ")
    _, pvno, mt, pa, body = _fields_in_order(data, s, e, (0, 1, 2, 3, 4))
    padata: list[tuple[int, bytes]] = []
    ap = None
    if pa is not None:
        for it, is_, ie in _seq_of(data, pa):
            if it != 0x30:
                raise DerError("PA-DATA must be a SEQUENCE")
            _, f1, f2 = _fields_in_order(data, is_, ie, _F3)
            ptype = _int(data, f1)
            value = _octets(data, f2)
            if ptype == pa_tgs_req and ap is None:
                ap = _ap_req_1(value)
            padata.append((ptype, value))
    if body is None:
        raise DerError("req-body missing")
    return KdcReq(_int(data, pvno), _int(data, mt), padata, _req_body_1(data, body)), ap


def parse_tgs_req_fast(data: bytes, pa_tgs_req: int = 1) -> tuple[KdcReq, ApReq | None]:
    """A TGS-REQ and the AP-REQ of its first PA-TGS-REQ (None: no PA-TGS-REQ, or an AP-REQ the
    fast reader left alone: the caller parses it with :func:`parse_ap_req`).  Same result and
    errors as :func:`parse_kdc_req` (+ :func:`parse_ap_req`)."""
    try:
        return _tgs_req_1(data, pa_tgs_req)
    except ValueError:  # DerError, a bad KerberosTime: the general reader decides
        pass
    return parse_kdc_req(data, 12), None


def _enc_ticket_part_1(data: bytes) -> EncTicket:
    s, e, _end = _app_seq(data, 0, len(data), 3)
    f = _fields_in_order(data, s, e, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
    if f[4] is None:
        raise DerError("incomplete EncTicketPart")
    et = EncTicket()
    et.flags = _flags(data, f[0])
    if f[1] is None:
        raise DerError("key missing")
    et.key = der.parse_key(data, f[1])
    et.crealm = _str(data, f[2])
    et.cname = _name(data, f[3])
    authtime = _time(data, f[5])
    endtime = _time(data, f[7])
    if authtime is None or endtime is None:
        raise DerError("incomplete EncTicketPart")
    et.authtime = authtime
    et.starttime = _time(data, f[6])
    et.endtime = endtime
    et.renew_till = _time(data, f[8])
    ca = f[9]
    if ca is not None and _seq_of(data, ca):
        et.caddr = data[ca[3] : ca[2]]
    ad = f[10]
    if ad is not None:
        out = []
        for it, is_, ie in _seq_of(data, ad):
            if it != 0x30:
                raise DerError("AuthorizationData entry must be a SEQUENCE")
            f0, f1 = _fields_in_order(data, is_, ie, (0, 1))
            out.append((_int(data, f0), _octets(data, f1)))
        et.authorization_data = out
    return et


def parse_enc_ticket_part_fast(data: bytes) -> EncTicket:
    try:
        return _enc_ticket_part_1(data)
    except ValueError:  # DerError, a bad KerberosTime: the general reader decides
        pass
    return parse_enc_ticket_part(data)


def _authenticator_1(data: bytes) -> Authenticator:
    s, e, _end = _app_seq(data, 0, len(data), 2)
    f = _fields_in_order(data, s, e, (0, 1, 2, 3, 4, 5, 6, 7, 8))
    if f[8] is not None:
        raise DerError("authorization-data: general reader")
    _int(data, f[0])
    a = Authenticator()
    a.crealm = _str(data, f[1])
    a.cname = _name(data, f[2])
    ctime = _time(data, f[5])
    if ctime is None:
        raise DerError("incomplete Authenticator")
    a.ctime = ctime
    a.cusec = _int(data, f[4])
    ck = f[3]
    if ck is not None:
        if ck[0] != 0x30:
            raise DerError("bad Checksum")
        c0, c1 = _fields_in_order(data, ck[1], ck[2], (0, 1))
        value = _octets(data, c1)
        a.cksum = (_int(data, c0), value)
    if f[6] is not None:
        a.subkey = der.parse_key(data, f[6])
    if f[7] is not None:
        a.seq_number = _int(data, f[7])
    return a


def parse_authenticator_fast(data: bytes) -> Authenticator:
    try:
        return _authenticator_1(data)
    except ValueError:  # DerError, a bad KerberosTime: the general reader decides
        pass
    return parse_authenticator(data)
