"""FAST (RFC 6113): armored requests, armor key, armored replies and errors, encrypted challenge."""

from __future__ import annotations

import os
from dataclasses import dataclass

from lanman.kerberos import asn1, crypto, der
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import errors as E
from lanman.kerberos.kdc import wire

FX_COOKIE = b"lanman-kdc"

__all__ = [
    "ANONYMOUS_CNAME",
    "ArmoredRequest",
    "FastState",
    "armor_key",
    "fast_error_edata",
    "fast_reply_padata",
    "outer_client",
    "parse_armored_request",
    "unwrap_request",
]

# WELLKNOWN/ANONYMOUS (KRB_NT_WELLKNOWN, RFC 6112 3): the client in the clear under hiding.
ANONYMOUS_CNAME = der.Name(asn1.NT_WELLKNOWN, list(asn1.ANONYMOUS_NAME))


@dataclass(slots=True)
class FastState:
    """What the KDC keeps about an armored request while it handles it."""

    armor_etype: int
    armor_key: bytes
    nonce: int
    padata: list[tuple[int, bytes]]  # inner padata
    req_body: wire.ReqBody  # inner req-body
    fast_options: int
    strengthen_etype: int | None = None
    strengthen_key: bytes | None = None

    @property
    def hide_client_names(self) -> bool:
        """RFC 6113 5.4.1 fast-options bit 1: name the client only inside the armor."""
        return bool(self.fast_options & asn1.FAST_HIDE_CLIENT_NAMES)


def outer_client(
    state: FastState | None, crealm: str, cname: der.Name | asn1.PrincipalName
) -> tuple[str, der.Name | asn1.PrincipalName]:
    """(crealm, cname) for the clear parts of an AS/TGS-REP or KRB-ERROR (RFC 6113 5.4.1):
    the anonymous principal WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS under hide-client-names,
    else the client itself (the real name always goes in KrbFastFinished / PA-FX-ERROR)."""
    if state is not None and state.hide_client_names:
        return asn1.ANONYMOUS_REALM, ANONYMOUS_CNAME
    return crealm, cname


def armor_key(subkey_etype: int, subkey: bytes, tkt_etype: int, tkt_key: bytes) -> bytes:
    """RFC 6113 5.4.1.1: KRB-FX-CF2(subkey, ticket session key, "subkeyarmor", "ticketarmor")."""
    return crypto.cf2(subkey_etype, subkey, tkt_etype, tkt_key, b"subkeyarmor", b"ticketarmor")


@dataclass(slots=True)
class ArmoredRequest:
    """A PA-FX-FAST-REQUEST's KrbFastArmoredReq (RFC 6113 5.4.2), still encrypted."""

    armor_type: int | None  # None: no explicit armor (a TGS-REQ armored by its own TGT)
    armor_value: bytes | None
    cksumtype: int
    checksum: bytes
    etype: int
    cipher: bytes


def parse_armored_request(data: bytes) -> ArmoredRequest:
    """PA-FX-FAST-REQUEST ::= CHOICE { armored-data [0] KrbFastArmoredReq }."""
    try:
        t, s, e = der.read_tlv(data, 0, len(data))
        if t != 0xA0 or e != len(data):
            raise der.DerError("PA-FX-FAST-REQUEST must be armored-data [0]")
        f, end = der.sequence(data, s, e)
        if end != e:
            raise der.DerError("trailing data in PA-FX-FAST-REQUEST")
        armor_type = armor_value = None
        if 0 in f:
            v = f[0]
            if v[0] != 0x30:
                raise der.DerError("KrbFastArmor must be a SEQUENCE")
            af = der.fields(data, v[1], v[2])
            armor_type = der.req_int(data, af, 0)
            armor_value = der.get_octets(data, af, 1)
            if armor_value is None:
                raise der.DerError("KrbFastArmor without armor-value")
        ck = f.get(1)
        if ck is None or ck[0] != 0x30:
            raise der.DerError("KrbFastArmoredReq without req-checksum")
        cf = der.fields(data, ck[1], ck[2])
        checksum = der.get_octets(data, cf, 1)
        if checksum is None:
            raise der.DerError("Checksum without checksum")
        enc = f.get(2)
        if enc is None:
            raise der.DerError("KrbFastArmoredReq without enc-fast-req")
        etype, _kvno, cipher = der.parse_encrypted_data(data, enc)
        return ArmoredRequest(
            armor_type, armor_value, der.req_int(data, cf, 0), checksum, etype, cipher
        )
    except der.DerError as exc:
        raise E.KdcError(E.KDC_ERR_PREAUTH_FAILED, f"malformed FAST request: {exc}") from None


def unwrap_request(
    armored: ArmoredRequest,
    armor_etype: int,
    key: bytes,
    checksummed: bytes,
) -> FastState:
    """Verify req-checksum over ``checksummed`` (AS: outer req-body; TGS: the PA-TGS-REQ AP-REQ)
    and decrypt the KrbFastReq."""
    if not crypto.verify_checksum(
        armored.cksumtype, key, KU.FAST_REQ_CHKSUM, checksummed, armored.checksum
    ):
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "FAST request checksum")
    if armored.etype != armor_etype:
        raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "FAST enc-fast-req etype")
    try:
        plain = crypto.decrypt(armor_etype, key, KU.FAST_ENC, armored.cipher)
    except crypto.CryptoError:
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "FAST request integrity") from None
    # KrbFastReq ::= SEQUENCE { fast-options [0], padata [1] SEQUENCE OF PA-DATA, req-body [2] }
    f, _ = der.sequence(plain)
    opts = der.get_flags(plain, f, 0) or 0
    if opts & asn1.FAST_CRITICAL_MASK:
        raise E.KdcError(E.KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS, "unknown critical FAST option")
    padata = wire.parse_padata_list(plain, f[1]) if 1 in f else []
    rb = f.get(2)
    if rb is None:
        raise der.DerError("KrbFastReq without req-body")
    body = wire.parse_req_body(plain, rb)
    return FastState(
        armor_etype=armor_etype,
        armor_key=key,
        nonce=body.nonce,
        padata=padata,
        req_body=body,
        fast_options=opts,
    )


def _armored_rep(state: FastState, response: bytes) -> bytes:
    """PA-FX-FAST-REPLY ::= armored-data [0] KrbFastArmoredRep { enc-fast-rep [0] }."""
    cipher = crypto.encrypt(state.armor_etype, state.armor_key, KU.FAST_REP, response)
    return der.ctx(0, der.seq(der.ctx(0, der.encrypted_data(state.armor_etype, cipher))))


def _fast_response(
    padata: list[tuple[int, bytes]],
    nonce: int,
    strengthen: tuple[int, bytes] | None = None,
    finished: bytes | None = None,
) -> bytes:
    """KrbFastResponse (RFC 6113 5.4.3)."""
    parts = [der.ctx(0, der.method_data(padata))]
    if strengthen is not None:
        parts.append(der.ctx(1, der.encryption_key(*strengthen)))
    if finished is not None:
        parts.append(der.ctx(2, finished))
    parts.append(der.ctx(3, der.integer(nonce)))
    return der.seq(*parts)


def fast_reply_padata(
    state: FastState,
    padata: list[tuple[int, bytes]],
    *,
    ticket_der: bytes,
    crealm: str,
    cname: der.Name | asn1.PrincipalName,
    now: float,
    strengthen: bool,
) -> bytes:
    """PA-FX-FAST value for a successful AS/TGS reply (KrbFastResponse with finished).

    ``crealm``/``cname`` are the real client's (RFC 6113 5.4.3 KrbFastFinished), also when
    hide-client-names puts the anonymous principal in the outer reply."""
    cname_der = cname.der if isinstance(cname, der.Name) else cname.dump()
    ck_type = crypto.checksum_type_for(state.armor_etype)
    cksum = crypto.make_checksum(ck_type, state.armor_key, KU.FAST_FINISHED, ticket_der)
    finished = der.seq(
        der.ctx(0, der.kerberos_time(int(now))),
        der.ctx(1, der.integer(int((now % 1) * 1_000_000))),
        der.ctx(2, der.general_string(crealm)),
        der.ctx(3, cname_der),
        der.ctx(4, der.seq(der.ctx(0, der.integer(ck_type)), der.ctx(1, der.octet_string(cksum)))),
    )
    key = None
    if strengthen and state.strengthen_key is not None and state.strengthen_etype is not None:
        key = (state.strengthen_etype, state.strengthen_key)
    return _armored_rep(state, _fast_response(padata, state.nonce, key, finished))


def new_strengthen_key(state: FastState, etype: int) -> None:
    state.strengthen_etype = etype
    state.strengthen_key = os.urandom(crypto.key_length(etype))


def strengthened_reply_key(state: FastState, etype: int, key: bytes) -> bytes:
    """RFC 6113 5.4.3: KRB-FX-CF2(strengthen-key, reply-key, "strengthenkey", "replykey")."""
    assert state.strengthen_key is not None and state.strengthen_etype is not None
    return crypto.cf2(
        state.strengthen_etype, state.strengthen_key, etype, key, b"strengthenkey", b"replykey"
    )


def fast_error_edata(
    state: FastState, inner_error: bytes, padata: list[tuple[int, bytes]]
) -> bytes:
    """Outer KRB-ERROR e-data: METHOD-DATA{PA-FX-FAST{KrbFastResponse{PA-FX-ERROR, ...}}}."""
    inner = (
        [(asn1.PA_FX_ERROR, inner_error)]
        + [(t, v) for t, v in padata if t != asn1.PA_FX_FAST]
        # MIT clients only retry a FAST error that carries a cookie (RFC 6113 5.2).
        + [(asn1.PA_FX_COOKIE, FX_COOKIE)]
    )
    resp = _fast_response(inner, state.nonce)
    return E.method_data([(asn1.PA_FX_FAST, _armored_rep(state, resp))])


# -- Encrypted challenge (RFC 6113 5.4.6) ------------------------------------------------------


def client_challenge_key(state: FastState, etype: int, client_key: bytes) -> bytes:
    return crypto.cf2(
        state.armor_etype,
        state.armor_key,
        etype,
        client_key,
        b"clientchallengearmor",
        b"challengelongterm",
    )


def kdc_challenge_padata(state: FastState, etype: int, client_key: bytes, now: float) -> bytes:
    key = crypto.cf2(
        state.armor_etype,
        state.armor_key,
        etype,
        client_key,
        b"kdcchallengearmor",
        b"challengelongterm",
    )
    ts = asn1.PaEncTsEnc({"patimestamp": int(now), "pausec": int((now % 1) * 1_000_000)})
    cipher = crypto.encrypt(state.armor_etype, key, KU.ENC_CHALLENGE_KDC, ts.dump())
    return asn1.EncryptedData({"etype": state.armor_etype, "cipher": cipher}).dump()
