"""Minimal sans-IO Kerberos initiator: AS-REQ/TGS-REQ builders and reply decoding.

Used by tests and the benchmark load generator, and as the base of the SMB client's Kerberos.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from lanman.kerberos import asn1, crypto, der
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU

__all__ = [
    "Credentials",
    "KrbErrorReply",
    "armored_as_req",
    "as_req",
    "pa_for_user",
    "pa_pac_options",
    "pa_s4u_x509_user",
    "parse_armored_as_rep",
    "parse_as_rep",
    "parse_error",
    "parse_tgs_rep",
    "tgs_req",
]

DEFAULT_OPTIONS = bit(KO.forwardable) | bit(KO.renewable) | bit(KO.renewable_ok)


class KrbErrorReply(Exception):
    def __init__(self, code: int, e_text: str, e_data: bytes | None, err: asn1.KrbError) -> None:
        super().__init__(f"KRB-ERROR {code}: {e_text}")
        self.code = code
        self.e_text = e_text
        self.e_data = e_data
        self.err = err


@dataclass(slots=True)
class Credentials:
    ticket: asn1.Ticket
    session_etype: int
    session_key: bytes
    crealm: str
    cname: asn1.PrincipalName
    flags: int
    endtime: int
    renew_till: int | None
    enc_part: asn1.EncKDCRepPart


def _body(
    realm: str,
    cname: list[str] | None,
    sname: list[str],
    etypes: list[int],
    options: int,
    now: float,
    nonce: int,
    till: float | None = None,
    additional_tickets: list[asn1.Ticket] | None = None,
) -> asn1.KDCReqBody:
    fields: dict[str, Any] = {
        "kdc-options": asn1.KerberosFlags(options),
        "realm": realm,
        "sname": asn1.principal(asn1.NT_SRV_INST if len(sname) > 1 else asn1.NT_PRINCIPAL, *sname),
        "till": int(till if till is not None else now + 36000),
        "nonce": nonce,
        "etype": etypes,
    }
    if options & bit(KO.renewable):
        fields["rtime"] = int(now + 7 * 86400)
    if cname is not None:
        fields["cname"] = asn1.principal(asn1.NT_PRINCIPAL, *cname)
    if additional_tickets:
        fields["additional-tickets"] = [plain_ticket(t) for t in additional_tickets]
    return asn1.KDCReqBody(fields)


def plain_ticket(t: asn1.Ticket) -> asn1.Ticket:
    """A Ticket as its own [APPLICATION 1] value (one taken from a KDC-REP keeps the reply's
    explicit [5] tag, which would be encoded again inside additional-tickets)."""
    data = t.dump()
    if data[0] != 0x61:
        _tag, start, end = der.read_tlv(data, 0, len(data))
        data = data[start:end]
    return asn1.Ticket.load(data)


def parse_error(data: bytes) -> KrbErrorReply:
    err = asn1.KrbError.load(data)
    ed = err["e-data"].native
    return KrbErrorReply(err["error-code"].native, err["e-text"].native or "", ed, err)


def as_req(
    realm: str,
    user: str,
    *,
    key: tuple[int, bytes] | None = None,
    etypes: list[int] | None = None,
    sname: list[str] | None = None,
    options: int = DEFAULT_OPTIONS,
    now: float | None = None,
    include_pac: bool | None = None,
    nonce: int | None = None,
) -> tuple[bytes, int]:
    """An AS-REQ (with PA-ENC-TIMESTAMP when ``key`` = (etype, key) is given). -> (der, nonce)"""
    now = time.time() if now is None else now
    nonce = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF if nonce is None else nonce
    etypes = etypes or [18, 17, 23]
    body = _body(realm, [user], sname or ["krbtgt", realm], etypes, options, now, nonce)
    padata: list[dict[str, Any]] = []
    if key is not None:
        ts = asn1.PaEncTsEnc({"patimestamp": int(now), "pausec": int((now % 1) * 1e6)}).dump()
        enc = crypto.encrypt(key[0], key[1], KU.AS_REQ_PA_ENC_TIMESTAMP, ts)
        padata.append(
            {
                "padata-type": asn1.PA_ENC_TIMESTAMP,
                "padata-value": asn1.EncryptedData({"etype": key[0], "cipher": enc}).dump(),
            }
        )
    if include_pac is not None:
        padata.append(
            {
                "padata-type": asn1.PA_PAC_REQUEST,
                "padata-value": asn1.KerbPaPacRequest({"include-pac": include_pac}).dump(),
            }
        )
    fields: dict[str, Any] = {"pvno": 5, "msg-type": asn1.MSG_AS_REQ, "req-body": body}
    if padata:
        fields["padata"] = padata
    return asn1.ASReq(fields).dump(), nonce


def armored_as_req(
    realm: str,
    user: str,
    armor: Credentials,
    *,
    key: tuple[int, bytes] | None = None,
    now: float | None = None,
    subkey: bytes | None = None,
    etypes: list[int] | None = None,
    options: int = DEFAULT_OPTIONS,
) -> tuple[bytes, int, bytes]:
    """A FAST-armored AS-REQ (RFC 6113 5.4.1.1, 5.4.2): the armor is an AP-REQ with the
    ``armor`` TGT (a computer's) and ``subkey``; PA-ENC-TIMESTAMP inside the armored part
    when ``key`` is given. -> (der, nonce, armor key)"""
    now = time.time() if now is None else now
    subkey = os.urandom(32) if subkey is None else subkey
    aes256 = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96
    auth = asn1.Authenticator(
        {
            "authenticator-vno": 5,
            "crealm": armor.crealm,
            "cname": armor.cname,
            "cusec": int((now % 1) * 1e6),
            "ctime": int(now),
            "subkey": {"keytype": aes256, "keyvalue": subkey},
        }
    )
    ap = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_AP_REQ,
            "ap-options": asn1.KerberosFlags(0),
            "ticket": armor.ticket,
            "authenticator": {
                "etype": armor.session_etype,
                "cipher": crypto.encrypt(
                    armor.session_etype, armor.session_key, KU.AP_REQ_AUTH, auth.dump()
                ),
            },
        }
    ).dump()
    akey = crypto.cf2(
        aes256, subkey, armor.session_etype, armor.session_key, b"subkeyarmor", b"ticketarmor"
    )
    plain, nonce = as_req(realm, user, key=key, now=now, etypes=etypes, options=options)
    inner = asn1.ASReq.load(plain)
    body = inner["req-body"]
    padata = [
        {"padata-type": p["padata-type"].native, "padata-value": p["padata-value"].native}
        for p in (inner["padata"] if inner["padata"].native is not None else [])
    ]
    fast_req = asn1.KrbFastReq(
        {"fast-options": asn1.KerberosFlags(0), "padata": padata, "req-body": body}
    )
    ck = crypto.checksum_type_for(aes256)
    armored = asn1.KrbFastArmoredReq(
        {
            "armor": {"armor-type": asn1.FX_FAST_ARMOR_AP_REQUEST, "armor-value": ap},
            "req-checksum": {
                "cksumtype": ck,
                "checksum": crypto.make_checksum(ck, akey, KU.FAST_REQ_CHKSUM, asn1.der(body)),
            },
            "enc-fast-req": {
                "etype": aes256,
                "cipher": crypto.encrypt(aes256, akey, KU.FAST_ENC, fast_req.dump()),
            },
        }
    )
    fx = asn1.PaFxFastRequest(name="armored-data", value=armored)
    req = asn1.ASReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_AS_REQ,
            "padata": [{"padata-type": asn1.PA_FX_FAST, "padata-value": fx.dump()}],
            "req-body": body,
        }
    )
    return req.dump(), nonce, akey


def _creds(rep: Any, enc: asn1.EncKDCRepPart) -> Credentials:
    k = enc["key"]
    return Credentials(
        ticket=rep["ticket"],
        session_etype=k["keytype"].native,
        session_key=k["keyvalue"].native,
        crealm=rep["crealm"].native,
        cname=rep["cname"],
        flags=asn1.flags_to_int(enc["flags"]),
        endtime=enc["endtime"].native,
        renew_till=enc["renew-till"].native,
        enc_part=enc,
    )


def parse_as_rep(data: bytes, key: bytes, etype: int, nonce: int | None = None) -> Credentials:
    mt = asn1.message_type(data)
    if mt == asn1.MSG_KRB_ERROR:
        raise parse_error(data)
    rep = asn1.ASRep.load(data)
    ep = rep["enc-part"]
    plain = crypto.decrypt(ep["etype"].native, key, KU.AS_REP_ENCPART, ep["cipher"].native)
    try:
        enc = asn1.EncASRepPart.load(plain)
        enc["key"]
    except (ValueError, TypeError):
        enc = asn1.EncTGSRepPart.load(plain)  # some KDCs use tag 26 in AS-REP (RFC 4120 5.4.2)
    if nonce is not None and enc["nonce"].native != nonce:
        raise ValueError("nonce mismatch")
    return _creds(rep, enc)


def parse_armored_as_rep(
    data: bytes, armor_key: bytes, key: bytes, etype: int, nonce: int | None = None
) -> Credentials:
    """The AS-REP to :func:`armored_as_req`: the reply key is strengthened with the
    KrbFastResponse's strengthen-key (RFC 6113 5.4.3, KRB-FX-CF2)."""
    if asn1.message_type(data) == asn1.MSG_KRB_ERROR:
        raise parse_error(data)
    rep = asn1.ASRep.load(data)
    md = {p["padata-type"].native: p["padata-value"].native for p in rep["padata"]}
    enc = asn1.PaFxFastReply.load(md[asn1.PA_FX_FAST]).chosen["enc-fast-rep"]
    aes256 = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96
    fast = asn1.KrbFastResponse.load(
        crypto.decrypt(aes256, armor_key, KU.FAST_REP, enc["cipher"].native)
    )
    sk = fast["strengthen-key"]
    reply_key = crypto.cf2(
        sk["keytype"].native, sk["keyvalue"].native, etype, key, b"strengthenkey", b"replykey"
    )
    return parse_as_rep(data, reply_key, etype, nonce)


def tgs_req(
    tgt: Credentials,
    sname: list[str],
    *,
    realm: str | None = None,
    etypes: list[int] | None = None,
    options: int = bit(KO.forwardable) | bit(KO.canonicalize),
    now: float | None = None,
    subkey: tuple[int, bytes] | None = None,
    nonce: int | None = None,
    padata: list[tuple[int, bytes]] | None = None,
    additional_tickets: list[asn1.Ticket] | None = None,
) -> tuple[bytes, int]:
    """A TGS-REQ with ``tgt``; ``padata`` goes after the PA-TGS-REQ (e.g. :func:`pa_for_user`,
    :func:`pa_pac_options`); ``additional_tickets`` for S4U2Proxy / user-to-user. A callable
    ``padata`` item ``f(nonce)`` is called with the request nonce (PA-S4U-X509-USER)."""
    now = time.time() if now is None else now
    realm = realm or tgt.crealm
    nonce = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF if nonce is None else nonce
    body = _body(
        realm,
        None,
        sname,
        etypes or [18, 17, 23],
        options,
        now,
        nonce,
        additional_tickets=additional_tickets,
    )
    body_der = body.dump()
    ck_type = crypto.checksum_type_for(tgt.session_etype)
    auth: dict[str, Any] = {
        "authenticator-vno": 5,
        "crealm": tgt.crealm,
        "cname": tgt.cname,
        "cksum": {
            "cksumtype": ck_type,
            "checksum": crypto.make_checksum(
                ck_type, tgt.session_key, KU.TGS_REQ_AUTH_CKSUM, body_der
            ),
        },
        "cusec": int((now % 1) * 1e6),
        "ctime": int(now),
    }
    if subkey is not None:
        auth["subkey"] = {"keytype": subkey[0], "keyvalue": subkey[1]}
    enc_auth = crypto.encrypt(
        tgt.session_etype, tgt.session_key, KU.TGS_REQ_AUTH, asn1.Authenticator(auth).dump()
    )
    ap = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_AP_REQ,
            "ap-options": asn1.KerberosFlags(0),
            "ticket": tgt.ticket,
            "authenticator": {"etype": tgt.session_etype, "cipher": enc_auth},
        }
    )
    req = asn1.TGSReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_TGS_REQ,
            "padata": [{"padata-type": asn1.PA_TGS_REQ, "padata-value": ap.dump()}]
            + [
                {"padata-type": t, "padata-value": v(nonce) if callable(v) else v}
                for t, v in (padata or [])
            ],
            "req-body": body,
        }
    )
    return req.dump(), nonce


def parse_tgs_rep(
    data: bytes, tgt: Credentials, subkey: tuple[int, bytes] | None = None
) -> Credentials:
    mt = asn1.message_type(data)
    if mt == asn1.MSG_KRB_ERROR:
        raise parse_error(data)
    rep = asn1.TGSRep.load(data)
    ep = rep["enc-part"]
    if subkey is not None:
        plain = crypto.decrypt(subkey[0], subkey[1], KU.TGS_REP_ENCPART_SUBKEY, ep["cipher"].native)
    else:
        plain = crypto.decrypt(
            tgt.session_etype, tgt.session_key, KU.TGS_REP_ENCPART_SESSKEY, ep["cipher"].native
        )
    enc = asn1.EncTGSRepPart.load(plain)
    return _creds(rep, enc)


# ---------------------------------------------------------------------------------------------
# S4U (MS-SFU 2.2) and PAC options (MS-KILE 2.2.10) padata
# ---------------------------------------------------------------------------------------------

PA_S4U_X509_USER = 130
PAC_OPTION_CLAIMS = bit(0)
PAC_OPTION_RBCD = bit(3)


def pa_for_user(
    tgt: Credentials,
    user: str,
    realm: str | None = None,
    *,
    name_type: int = asn1.NT_PRINCIPAL,
    cksumtype: int = crypto.CKSUM_HMAC_MD5,
) -> tuple[int, bytes]:
    """PA-FOR-USER (MS-SFU 2.2.1): the checksum over the S4UByteArray with the TGT session key
    (HMAC-MD5, key usage 17, whatever the key's type)."""
    realm = realm or tgt.crealm
    comps = [user]
    data = (
        (name_type & 0xFFFFFFFF).to_bytes(4, "little")
        + "".join(comps).encode()
        + realm.encode()
        + b"Kerberos"
    )
    ck = crypto.make_checksum(cksumtype, tgt.session_key, 17, data)
    name = der.principal_name(name_type, comps)
    checksum = der.seq(der.ctx(0, der.integer(cksumtype)), der.ctx(1, der.octet_string(ck)))
    value = der.seq(
        der.ctx(0, name),
        der.ctx(1, der.general_string(realm)),
        der.ctx(2, checksum),
        der.ctx(3, der.general_string("Kerberos")),
    )
    return asn1.PA_FOR_USER, value


def pa_s4u_x509_user(
    key: tuple[int, bytes], user: str, realm: str, *, options: int = bit(2)
) -> tuple[int, Any]:
    """PA-S4U-X509-USER (MS-SFU 2.2.2) by name; ``key`` = the authenticator subkey (or the TGT
    session key); the nonce is the request's (so the value is built per request)."""

    def build(nonce: int) -> bytes:
        user_id = der.seq(
            der.ctx(0, der.integer(nonce)),
            der.ctx(1, der.principal_name(asn1.NT_PRINCIPAL, [user])),
            der.ctx(2, der.general_string(realm)),
            der.ctx(4, der.flags(options)),
        )
        ctype = crypto.checksum_type_for(key[0])
        ck = crypto.make_checksum(ctype, key[1], 26, user_id)
        checksum = der.seq(der.ctx(0, der.integer(ctype)), der.ctx(1, der.octet_string(ck)))
        return der.seq(der.ctx(0, user_id), der.ctx(1, checksum))

    return PA_S4U_X509_USER, build


def pa_pac_options(flags: int = PAC_OPTION_RBCD) -> tuple[int, bytes]:
    """PA-PAC-OPTIONS (MS-KILE 2.2.10), e.g. resource-based-constrained-delegation."""
    return asn1.PA_PAC_OPTIONS, asn1.PaPacOptions({"options": asn1.KerberosFlags(flags)}).dump()
