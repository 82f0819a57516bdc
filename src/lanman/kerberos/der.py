"""A small DER encoder for the Kerberos messages the KDC sends on every request.

asn1crypto (``lanman.kerberos.asn1``) stays the reference for the types and for parsing; this
module only *builds* the hot replies -- Ticket/EncTicketPart, AS-REP/TGS-REP with
EncKDCRepPart, KRB-ERROR, METHOD-DATA, ETYPE-INFO2, AuthorizationData -- directly as bytes,
because building them through asn1crypto's setters, retagging and re-encoding costs
milliseconds per reply.  The output is byte-for-byte what asn1crypto produces for the same
values (tests/unit/test_der.py checks that with hypothesis).

Conventions (RFC 4120 5.2 with EXPLICIT TAGS):

* every field is a context tag ``[n]`` wrapped around the field's own DER;
* KerberosString is a GeneralString encoded as latin-1 (what asn1crypto does; a name that
  latin-1 cannot encode raises ``UnicodeEncodeError``, a ``ValueError``, as before);
* KerberosTime is "YYYYMMDDHHMMSSZ" from unix seconds; KerberosFlags is a 32-bit BIT STRING
  with 0 unused bits;
* a PrincipalName argument is the complete DER of the SEQUENCE (see :func:`principal_name`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

__all__ = [
    "app",
    "authorization_data",
    "ctx",
    "encrypted_data",
    "encryption_key",
    "etype_info2",
    "flags",
    "general_string",
    "integer",
    "kdc_rep",
    "kerb_error_data",
    "kerberos_time",
    "krb_error",
    "method_data",
    "octet_string",
    "principal_name",
    "seq",
    "tlv",
]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element with a single identifier octet ``tag``.

    (The KDC builds ~75 elements per reply: the common lengths are written inline.)"""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    if n < 0x100:
        return bytes((tag, 0x81, n)) + content
    if n < 0x10000:
        return bytes((tag, 0x82, n >> 8, n & 0xFF)) + content
    return bytes((tag,)) + _length(n) + content


def ctx(n: int, content: bytes) -> bytes:
    """``[n] EXPLICIT`` around the DER element ``content`` (n < 31)."""
    return tlv(0xA0 | n, content)


def app(n: int, content: bytes) -> bytes:
    """``[APPLICATION n]`` (constructed) around the DER element ``content`` (n < 31)."""
    return tlv(0x60 | n, content)


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def seq_of(parts: Iterable[bytes]) -> bytes:
    return tlv(0x30, b"".join(parts))


_INT_CACHE: dict[int, bytes] = {}


def integer(v: int) -> bytes:
    """INTEGER in minimal two's complement."""
    hit = _INT_CACHE.get(v)
    if hit is not None:
        return hit
    n = (v if v >= 0 else ~v).bit_length() // 8 + 1
    out = tlv(0x02, v.to_bytes(n, "big", signed=True))
    if -256 <= v <= 1024:
        _INT_CACHE[v] = out
    return out


def octet_string(b: bytes) -> bytes:
    return tlv(0x04, b)


def general_string(s: str) -> bytes:
    return tlv(0x1B, s.encode("latin1"))


_TIME_CACHE: dict[int, bytes] = {}


def kerberos_time(t: float) -> bytes:
    """GeneralizedTime "YYYYMMDDHHMMSSZ" of unix seconds (fractions dropped)."""
    t = int(t)
    hit = _TIME_CACHE.get(t)
    if hit is not None:
        return hit
    out = tlv(0x18, time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t)).encode("ascii"))
    if len(_TIME_CACHE) >= 4096:
        _TIME_CACHE.clear()
    _TIME_CACHE[t] = out
    return out


def flags(v: int) -> bytes:
    """KerberosFlags: BIT STRING, 0 unused bits, the 32 bits of ``v`` (bit 0 = MSB)."""
    return b"\x03\x05\x00" + (v & 0xFFFFFFFF).to_bytes(4, "big")


# ---------------------------------------------------------------------------------------------
# RFC 4120 5.2 building blocks
# ---------------------------------------------------------------------------------------------


def principal_name(name_type: int, components: Sequence[str]) -> bytes:
    return seq(
        ctx(0, integer(name_type)),
        ctx(1, seq_of(general_string(c) for c in components)),
    )


def encryption_key(keytype: int, keyvalue: bytes) -> bytes:
    return seq(ctx(0, integer(keytype)), ctx(1, octet_string(keyvalue)))


def encrypted_data(etype: int, cipher: bytes, kvno: int | None = None) -> bytes:
    if kvno is None:
        return seq(ctx(0, integer(etype)), ctx(2, octet_string(cipher)))
    return seq(ctx(0, integer(etype)), ctx(1, integer(kvno)), ctx(2, octet_string(cipher)))


def pa_data(padata_type: int, value: bytes) -> bytes:
    return seq(ctx(1, integer(padata_type)), ctx(2, octet_string(value)))


def method_data(padata: Iterable[tuple[int, bytes]]) -> bytes:
    """METHOD-DATA / SEQUENCE OF PA-DATA."""
    return seq_of(pa_data(t, v) for t, v in padata)


def etype_info2(entries: Iterable[tuple[int, str | None]]) -> bytes:
    """ETYPE-INFO2 of ``(etype, salt or None)`` entries (no s2kparams)."""
    out = []
    for etype, salt in entries:
        if salt is None:
            out.append(seq(ctx(0, integer(etype))))
        else:
            out.append(seq(ctx(0, integer(etype)), ctx(1, general_string(salt))))
    return seq_of(out)


def authorization_data(entries: Iterable[tuple[int, bytes]]) -> bytes:
    return seq_of(seq(ctx(0, integer(t)), ctx(1, octet_string(d))) for t, d in entries)


def host_addresses(addrs: Iterable[tuple[int, bytes]]) -> bytes:
    return seq_of(seq(ctx(0, integer(t)), ctx(1, octet_string(a))) for t, a in addrs)


def kerb_error_data(data_type: int, value: bytes | None) -> bytes:
    """MS-KILE 2.2.1 KERB-ERROR-DATA."""
    if value is None:
        return seq(ctx(1, integer(data_type)))
    return seq(ctx(1, integer(data_type)), ctx(2, octet_string(value)))


# ---------------------------------------------------------------------------------------------
# Tickets and KDC replies (RFC 4120 5.3, 5.4.2)
# ---------------------------------------------------------------------------------------------


def enc_ticket_part(
    *,
    flags_value: int,
    key: bytes,
    crealm: str,
    cname: bytes,
    authtime: int,
    starttime: int | None,
    endtime: int,
    renew_till: int | None,
    caddr: bytes | None = None,
    authorization_data: bytes | None = None,
    transited: bytes = b"\x30\x09\xa0\x03\x02\x01\x01\xa1\x02\x04\x00",
) -> bytes:
    """EncTicketPart ([APPLICATION 3]); ``key`` from :func:`encryption_key`, ``cname`` from
    :func:`principal_name`, ``caddr``/``authorization_data`` complete SEQUENCE OF DER.
    ``transited`` defaults to TransitedEncoding{tr-type 1, contents ""}."""
    head = enc_ticket_part_head(
        flags_value=flags_value,
        key=key,
        crealm=crealm,
        cname=cname,
        authtime=authtime,
        starttime=starttime,
        endtime=endtime,
        renew_till=renew_till,
        caddr=caddr,
        transited=transited,
    )
    return enc_ticket_part_finish(head, authorization_data)


def enc_ticket_part_head(
    *,
    flags_value: int,
    key: bytes,
    crealm: str,
    cname: bytes,
    authtime: int,
    starttime: int | None,
    endtime: int,
    renew_till: int | None,
    caddr: bytes | None = None,
    transited: bytes = b"\x30\x09\xa0\x03\x02\x01\x01\xa1\x02\x04\x00",
) -> bytes:
    """Fields [0]..[9] of an EncTicketPart, for :func:`enc_ticket_part_finish` (the KDC
    encodes a service ticket twice: with a placeholder PAC for the ticket signature, then with
    the signed PAC)."""
    parts = [
        ctx(0, flags(flags_value)),
        ctx(1, key),
        ctx(2, general_string(crealm)),
        ctx(3, cname),
        ctx(4, transited),
        ctx(5, kerberos_time(authtime)),
    ]
    if starttime is not None:
        parts.append(ctx(6, kerberos_time(starttime)))
    parts.append(ctx(7, kerberos_time(endtime)))
    if renew_till is not None:
        parts.append(ctx(8, kerberos_time(renew_till)))
    if caddr is not None:
        parts.append(ctx(9, caddr))
    return b"".join(parts)


def enc_ticket_part_finish(head: bytes, authorization_data: bytes | None) -> bytes:
    if authorization_data is None:
        return app(3, tlv(0x30, head))
    return app(3, tlv(0x30, head + ctx(10, authorization_data)))


def ticket(realm: str, sname: bytes, enc_part: bytes) -> bytes:
    """Ticket ([APPLICATION 1]); ``enc_part`` from :func:`encrypted_data`."""
    return app(
        1,
        seq(ctx(0, integer(5)), ctx(1, general_string(realm)), ctx(2, sname), ctx(3, enc_part)),
    )


def enc_kdc_rep_part(
    msg_app: int,
    *,
    key: bytes,
    last_req: Sequence[tuple[int, int]],
    nonce: int,
    flags_value: int,
    authtime: int,
    starttime: int | None,
    endtime: int,
    renew_till: int | None,
    srealm: str,
    sname: bytes,
    caddr: bytes | None = None,
    encrypted_pa_data: bytes | None = None,
    key_expiration: int | None = None,
) -> bytes:
    """EncASRepPart (``msg_app`` 25) / EncTGSRepPart (26)."""
    parts = [
        ctx(0, key),
        ctx(
            1,
            seq_of(seq(ctx(0, integer(t)), ctx(1, kerberos_time(v))) for t, v in last_req),
        ),
        ctx(2, integer(nonce)),
    ]
    if key_expiration is not None:
        parts.append(ctx(3, kerberos_time(key_expiration)))
    parts.append(ctx(4, flags(flags_value)))
    parts.append(ctx(5, kerberos_time(authtime)))
    if starttime is not None:
        parts.append(ctx(6, kerberos_time(starttime)))
    parts.append(ctx(7, kerberos_time(endtime)))
    if renew_till is not None:
        parts.append(ctx(8, kerberos_time(renew_till)))
    parts.append(ctx(9, general_string(srealm)))
    parts.append(ctx(10, sname))
    if caddr is not None:
        parts.append(ctx(11, caddr))
    if encrypted_pa_data is not None:
        parts.append(ctx(12, encrypted_pa_data))
    return app(msg_app, seq_of(parts))


def kdc_rep(
    msg_type: int,
    *,
    padata: bytes | None,
    crealm: str,
    cname: bytes,
    ticket_der: bytes,
    enc_part: bytes,
) -> bytes:
    """AS-REP (11) / TGS-REP (13); ``padata`` a complete METHOD-DATA or None."""
    parts = [ctx(0, integer(5)), ctx(1, integer(msg_type))]
    if padata is not None:
        parts.append(ctx(2, padata))
    parts += [
        ctx(3, general_string(crealm)),
        ctx(4, cname),
        ctx(5, ticket_der),
        ctx(6, enc_part),
    ]
    return app(msg_type, seq_of(parts))


def krb_error(
    *,
    stime: int,
    susec: int,
    error_code: int,
    realm: str,
    sname: bytes,
    crealm: str | None = None,
    cname: bytes | None = None,
    e_text: str | None = None,
    e_data: bytes | None = None,
    ctime: int | None = None,
    cusec: int | None = None,
) -> bytes:
    """KRB-ERROR ([APPLICATION 30])."""
    parts = [ctx(0, integer(5)), ctx(1, integer(30))]
    if ctime is not None:
        parts.append(ctx(2, kerberos_time(ctime)))
    if cusec is not None:
        parts.append(ctx(3, integer(cusec)))
    parts += [ctx(4, kerberos_time(stime)), ctx(5, integer(susec)), ctx(6, integer(error_code))]
    if crealm is not None:
        parts.append(ctx(7, general_string(crealm)))
    if cname is not None:
        parts.append(ctx(8, cname))
    parts.append(ctx(9, general_string(realm)))
    parts.append(ctx(10, sname))
    if e_text is not None:
        parts.append(ctx(11, general_string(e_text)))
    if e_data is not None:
        parts.append(ctx(12, octet_string(e_data)))
    return app(30, seq_of(parts))


# ---------------------------------------------------------------------------------------------
# A bounded DER reader for the requests the KDC parses on every exchange
# ---------------------------------------------------------------------------------------------
#
# Only what KDC-REQ, AP-REQ, Ticket, EncTicketPart, Authenticator, EncryptedData and
# PA-ENC-TS-ENC need: single-octet tags, definite lengths of at most 4 octets, every element
# inside its parent's bounds, each explicit field at most once, fields that must be there
# present with the right universal tag.  Anything else raises :class:`DerError` (a ValueError:
# the KDC answers KRB_ERR_GENERIC "malformed request", as it does for asn1crypto's errors).
# Unknown context fields are skipped (extensibility markers in RFC 4120's module).


class DerError(ValueError):
    """Malformed or unexpected DER."""


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag octet, content start, content end) of the element at ``pos``."""
    if pos + 2 > end:
        raise DerError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-octet DER tags are not used by Kerberos")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise DerError("bad DER length")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise DerError("DER length past the end")
    return tag, pos, pos + n


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    t, s, e = read_tlv(data, pos, end)
    if t != tag:
        raise DerError(f"expected DER tag {tag:#x}, got {t:#x}")
    return s, e


def fields(data: bytes, start: int, end: int) -> dict[int, tuple[int, int, int, int]]:
    """The explicit context fields of a SEQUENCE's contents:
    ``{n: (inner tag, content start, content end, element start)}``.

    The two TLV headers per field (the context tag and the value inside it) are read inline:
    same checks as :func:`read_tlv`, without two calls per field (a TGS-REQ has ~70 fields)."""
    out: dict[int, tuple[int, int, int, int]] = {}
    pos = start
    while pos < end:
        # -- [n] EXPLICIT
        if pos + 2 > end:
            raise DerError("truncated DER element")
        t = data[pos]
        if t & 0xE0 != 0xA0:
            raise DerError("expected an explicit context tag")
        n = t & 0x1F
        if n == 0x1F:
            raise DerError("multi-octet DER tags are not used by Kerberos")
        ln = data[pos + 1]
        s = pos + 2
        if ln & 0x80:
            k = ln & 0x7F
            if k == 0 or k > 4 or s + k > end:
                raise DerError("bad DER length")
            ln = int.from_bytes(data[s : s + k], "big")
            s += k
        e = s + ln
        if e > end:
            raise DerError("DER length past the end")
        if n in out:
            raise DerError("duplicate field")
        # -- the value inside it, which must fill it exactly
        if s + 2 > e:
            raise DerError("truncated DER element")
        it = data[s]
        if it & 0x1F == 0x1F:
            raise DerError("multi-octet DER tags are not used by Kerberos")
        ln = data[s + 1]
        is_ = s + 2
        if ln & 0x80:
            k = ln & 0x7F
            if k == 0 or k > 4 or is_ + k > e:
                raise DerError("bad DER length")
            ln = int.from_bytes(data[is_ : is_ + k], "big")
            is_ += k
        if is_ + ln != e:
            if is_ + ln > e:
                raise DerError("DER length past the end")
            raise DerError("trailing data in an explicit tag")
        out[n] = (it, is_, e, s)
        pos = e
    return out


def sequence(data: bytes, pos: int = 0, end: int | None = None, app_tag: int | None = None):
    """Fields of the SEQUENCE at ``pos`` (inside ``[APPLICATION app_tag]`` when given)
    -> (fields, element end)."""
    if end is None:
        end = len(data)
    if app_tag is not None:
        s, e = _expect(data, pos, end, 0x60 | app_tag)
        s2, e2 = _expect(data, s, e, 0x30)
        if e2 != e:
            raise DerError("trailing data after SEQUENCE")
        return fields(data, s2, e2), e
    s, e = _expect(data, pos, end, 0x30)
    return fields(data, s, e), e


def _need(f: dict, n: int) -> tuple[int, int, int]:
    v = f.get(n)
    if v is None:
        raise DerError(f"missing field [{n}]")
    return v


def get_int(data: bytes, f: dict, n: int, default: int | None = None) -> int | None:
    v = f.get(n)
    if v is None:
        return default
    t, s, e = v[0], v[1], v[2]
    if t != 0x02 or s == e:
        raise DerError("bad INTEGER")
    return int.from_bytes(data[s:e], "big", signed=True)


def req_int(data: bytes, f: dict, n: int) -> int:
    t, s, e, _ = _need(f, n)
    if t != 0x02 or s == e:
        raise DerError("bad INTEGER")
    return int.from_bytes(data[s:e], "big", signed=True)


def get_str(data: bytes, f: dict, n: int) -> str | None:
    v = f.get(n)
    if v is None:
        return None
    t, s, e = v[0], v[1], v[2]
    if t != 0x1B:
        raise DerError("bad KerberosString")
    return data[s:e].decode("latin1")


def get_octets(data: bytes, f: dict, n: int) -> bytes | None:
    v = f.get(n)
    if v is None:
        return None
    t, s, e = v[0], v[1], v[2]
    if t != 0x04:
        raise DerError("bad OCTET STRING")
    return data[s:e]


_TIME_READ_CACHE: dict[bytes, int] = {}


def get_time(data: bytes, f: dict, n: int) -> int | None:
    v = f.get(n)
    if v is None:
        return None
    t, s, e = v[0], v[1], v[2]
    if t != 0x18:
        raise DerError("bad KerberosTime")
    raw = data[s:e]
    hit = _TIME_READ_CACHE.get(raw)
    if hit is not None:
        return hit
    from lanman.kerberos.asn1 import unix_time

    value = unix_time(raw)  # raises ValueError on a bad time: never cached
    if len(_TIME_READ_CACHE) >= 4096:
        _TIME_READ_CACHE.clear()
    _TIME_READ_CACHE[raw] = value
    return value


def get_flags(data: bytes, f: dict, n: int) -> int | None:
    v = f.get(n)
    if v is None:
        return None
    t, s, e = v[0], v[1], v[2]
    if t != 0x03 or s == e:
        raise DerError("bad KerberosFlags")
    return int.from_bytes((data[s + 1 : e] + b"\x00\x00\x00\x00")[:4], "big")


def element(data: bytes, f: dict, n: int) -> bytes | None:
    """The encoding of field ``n``'s value as received (without the explicit tag), or None."""
    v = f.get(n)
    if v is None:
        return None
    return data[v[3] : v[2]]


def seq_items(data: bytes, v: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Elements of a SEQUENCE OF given as a field value ``(tag, start, end)``."""
    t, s, e = v[0], v[1], v[2]
    if t != 0x30:
        raise DerError("expected SEQUENCE OF")
    out = []
    pos = s
    while pos < e:
        item = read_tlv(data, pos, e)
        out.append(item)
        pos = item[2]
    return out


class Name:
    """A parsed PrincipalName: ``name_type``, ``components`` and its DER."""

    __slots__ = ("components", "der", "name_type")

    def __init__(self, name_type: int, components: list[str], der_: bytes | None = None) -> None:
        self.name_type = name_type
        self.components = components
        self.der = der_ if der_ is not None else principal_name(name_type, components)

    def __repr__(self) -> str:
        return f"Name({self.name_type}, {self.components!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Name)
            and other.name_type == self.name_type
            and other.components == self.components
        )

    __hash__ = None  # type: ignore[assignment]


def parse_name(data: bytes, v: tuple[int, int, int]) -> Name:
    t, s, e = v[0], v[1], v[2]
    if t != 0x30:
        raise DerError("PrincipalName must be a SEQUENCE")
    f = fields(data, s, e)
    nt = req_int(data, f, 0)
    comps = []
    for it, is_, ie in seq_items(data, _need(f, 1)):
        if it != 0x1B:
            raise DerError("bad name component")
        comps.append(data[is_:ie].decode("latin1"))
    return Name(nt, comps, tlv(0x30, data[s:e]))


def get_name(data: bytes, f: dict, n: int) -> Name | None:
    v = f.get(n)
    return parse_name(data, v) if v is not None else None


def parse_encrypted_data(data: bytes, v: tuple[int, int, int]) -> tuple[int, int | None, bytes]:
    """EncryptedData -> (etype, kvno or None, cipher)."""
    t, s, e = v[0], v[1], v[2]
    if t != 0x30:
        raise DerError("EncryptedData must be a SEQUENCE")
    f = fields(data, s, e)
    cipher = get_octets(data, f, 2)
    if cipher is None:
        raise DerError("EncryptedData without cipher")
    return req_int(data, f, 0), get_int(data, f, 1), cipher


def parse_key(data: bytes, v: tuple[int, int, int]) -> tuple[int, bytes]:
    t, s, e = v[0], v[1], v[2]
    if t != 0x30:
        raise DerError("EncryptionKey must be a SEQUENCE")
    f = fields(data, s, e)
    kv = get_octets(data, f, 1)
    if kv is None:
        raise DerError("EncryptionKey without keyvalue")
    return req_int(data, f, 0), kv


def whole(data: bytes) -> tuple[int, int, int]:
    """The single element that makes up ``data`` (no trailing bytes)."""
    v = read_tlv(data, 0, len(data))
    if v[2] != len(data):
        raise DerError("trailing data")
    return v
