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
    "FastState",
    "armor_key",
    "fast_error_edata",
    "fast_reply_padata",
    "outer_client",
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


def unwrap_request(
    armored: asn1.KrbFastArmoredReq,
    armor_etype: int,
    key: bytes,
    checksummed: bytes,
) -> FastState:
    """Verify req-checksum over ``checksummed`` (AS: outer req-body; TGS: the PA-TGS-REQ AP-REQ)
    and decrypt the KrbFastReq."""
    ck = armored["req-checksum"]
    if not crypto.verify_checksum(
        ck["cksumtype"].native, key, KU.FAST_REQ_CHKSUM, checksummed, ck["checksum"].native
    ):
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "FAST request checksum")
    enc = armored["enc-fast-req"]
    if enc["etype"].native != armor_etype:
        raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "FAST enc-fast-req etype")
    try:
        plain = crypto.decrypt(armor_etype, key, KU.FAST_ENC, enc["cipher"].native)
    except crypto.CryptoError:
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "FAST request integrity") from None
    fr = asn1.KrbFastReq.load(plain)
    opts = asn1.flags_to_int(fr["fast-options"])
    if opts & asn1.FAST_CRITICAL_MASK:
        raise E.KdcError(E.KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS, "unknown critical FAST option")
    padata = [(p["padata-type"].native, p["padata-value"].native) for p in fr["padata"]]
    body = wire.parse_req_body(asn1.der(fr["req-body"]))
    return FastState(
        armor_etype=armor_etype,
        armor_key=key,
        nonce=body.nonce,
        padata=padata,
        req_body=body,
        fast_options=opts,
    )


def _armored_rep(state: FastState, response: asn1.KrbFastResponse) -> bytes:
    cipher = crypto.encrypt(state.armor_etype, state.armor_key, KU.FAST_REP, response.dump())
    rep = asn1.PaFxFastReply(
        name="armored-data",
        value=asn1.KrbFastArmoredRep(
            {"enc-fast-rep": {"etype": state.armor_etype, "cipher": cipher}}
        ),
    )
    return rep.dump()


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
    if isinstance(cname, der.Name):
        cname = asn1.PrincipalName.load(cname.der)
    ck_type = crypto.checksum_type_for(state.armor_etype)
    finished = {
        "timestamp": int(now),
        "usec": int((now % 1) * 1_000_000),
        "crealm": crealm,
        "cname": cname,
        "ticket-checksum": {
            "cksumtype": ck_type,
            "checksum": crypto.make_checksum(
                ck_type, state.armor_key, KU.FAST_FINISHED, ticket_der
            ),
        },
    }
    fields: dict = {
        "padata": [{"padata-type": t, "padata-value": v} for t, v in padata],
        "finished": finished,
        "nonce": state.nonce,
    }
    if strengthen and state.strengthen_key is not None:
        fields["strengthen-key"] = {
            "keytype": state.strengthen_etype,
            "keyvalue": state.strengthen_key,
        }
    return _armored_rep(state, asn1.KrbFastResponse(fields))


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
    resp = asn1.KrbFastResponse(
        {
            "padata": [{"padata-type": asn1.PA_FX_ERROR, "padata-value": inner_error}]
            + [{"padata-type": t, "padata-value": v} for t, v in padata if t != asn1.PA_FX_FAST]
            # MIT clients only retry a FAST error that carries a cookie (RFC 6113 5.2).
            + [{"padata-type": asn1.PA_FX_COOKIE, "padata-value": FX_COOKIE}],
            "nonce": state.nonce,
        }
    )
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
