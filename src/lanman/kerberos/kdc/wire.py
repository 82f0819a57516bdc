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


class ReqBody:
    """KDC-REQ-BODY (RFC 4120 5.4.1); ``der`` is its encoding as received."""

    __slots__ = (
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
