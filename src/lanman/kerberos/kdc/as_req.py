"""AS exchange (RFC 4120 3.1, MS-KILE 3.3.5.6): pre-authentication, TGT with PAC, FAST."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lanman.authpolicy.tokens import AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY
from lanman.directory.model import UAC
from lanman.kerberos import asn1, crypto, der
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU
from lanman.kerberos.der import Name
from lanman.kerberos.kdc import authn, wire
from lanman.kerberos.kdc import errors as E
from lanman.kerberos.kdc import fast as F
from lanman.kerberos.kdc.core import pn_der

if TYPE_CHECKING:
    from lanman.kerberos.kdc.core import KdcCore, Request

__all__ = ["handle"]

log = logging.getLogger("lanman.kdc")

UF_DONT_REQUIRE_PREAUTH = 0x400000
# DES (1, 3) and RC4 (23, 24): refused for Protected Users (MS-KILE 3.3.5.6)
_WEAK_ETYPES = frozenset({1, 3, crypto.ETYPE_RC4_HMAC, 24})


def _protected_etype_event(core: KdcCore, client: Any, sname: Any, etype: int) -> None:
    """Event 104 (+ Security 4824): DES/RC4 pre-authentication of a Protected User."""
    data = {
        "account": client.name,
        "sid": client.sid,
        "service": "/".join(sname.components) if sname is not None else "",
        "code": E.KDC_ERR_ETYPE_NOSUPP,
        "preauth": etype,
        "client": core.client_address or "",
    }
    core.report(104, data)
    core.report(4824, data)


def _etype_info2(client: Any, etypes: list[int]) -> bytes:
    salt = client.salt.decode("utf-8", "replace") if isinstance(client.salt, bytes) else client.salt
    return der.etype_info2((e, None if e == crypto.ETYPE_RC4_HMAC else salt) for e in etypes)


def _client_etypes(client: Any, requested: list[int]) -> list[int]:
    """Client keys usable for this request, in the client's preference order."""
    keys = client.keys
    usable = [e for e in requested if e in keys]
    if getattr(client, "protected_user", False):
        usable = [e for e in usable if e != crypto.ETYPE_RC4_HMAC]
    return usable


def handle(core: KdcCore, req: Request, now: float) -> bytes:
    realm = core.realm
    padata = req.padata
    outer_body_der = req.req_body.der
    body = req.req_body

    # -- FAST ---------------------------------------------------------------------------------
    fast_pa = next((v for t, v in padata if t == asn1.PA_FX_FAST), None)
    armor_tkt = None
    if fast_pa is not None:
        armored = F.parse_armored_request(fast_pa)
        if armored.armor_type != asn1.FX_FAST_ARMOR_AP_REQUEST or armored.armor_value is None:
            raise E.KdcError(E.KDC_ERR_PREAUTH_FAILED, "FAST armor missing")
        # One armor AP-REQ serves every round of an AS exchange (MIT reuses it): no replay check.
        tkt, auth = core.verify_ap_req(armored.armor_value, now, KU.AP_REQ_AUTH, check_replay=False)
        if auth.subkey is None:
            raise E.KdcError(E.KDC_ERR_PREAUTH_FAILED, "FAST armor without subkey")
        s_etype, s_key = auth.subkey
        armor_tkt = tkt
        akey = F.armor_key(s_etype, s_key, tkt.session_etype, tkt.session_key)
        req.fast = F.unwrap_request(armored, s_etype, akey, outer_body_der)
        padata = req.fast.padata
        body = req.fast.req_body

    options = body.kdc_options
    cname = body.cname
    if cname is None:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "no client name")
    req.cname = cname
    sname = body.sname
    if sname is None:
        raise E.KdcError(E.KDC_ERR_S_PRINCIPAL_UNKNOWN, "no server name")
    req.sname = sname
    if body.realm.upper() != realm:
        raise E.KdcError(E.KDC_ERR_WRONG_REALM, "wrong realm")
    requested_etypes = list(body.etypes)
    nonce = body.nonce

    client = core.lookup_client(cname)
    if client is None:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "client not found")
    server = core.lookup_service(sname)
    if server is None:
        raise E.KdcError(E.KDC_ERR_S_PRINCIPAL_UNKNOWN, "server not found")

    protected = bool(getattr(client, "protected_user", False))
    etypes = _client_etypes(client, requested_etypes)
    if not etypes:
        if protected and requested_etypes:
            _protected_etype_event(core, client, sname, requested_etypes[0])
        raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "no common encryption type")
    core.check_client_state(client, now)

    # -- PAC request --------------------------------------------------------------------------
    pac_req = next((v for t, v in padata if t == asn1.PA_PAC_REQUEST), None)
    include_pac = True
    pac_requested: bool | None = None
    if pac_req is not None:
        include_pac = bool(asn1.KerbPaPacRequest.load(pac_req)["include-pac"].native)
        pac_requested = include_pac

    # -- pre-authentication -------------------------------------------------------------------
    reply_etype: int | None = None
    reply_padata: list[tuple[int, bytes]] = []
    preauth_done = False
    enc_ts = next((v for t, v in padata if t == asn1.PA_ENC_TIMESTAMP), None)
    enc_chal = next((v for t, v in padata if t == asn1.PA_ENCRYPTED_CHALLENGE), None)
    einfo = _etype_info2(client, etypes[:1] + [e for e in etypes[1:] if e != etypes[0]])
    hint: list[tuple[int, bytes]] = [(asn1.PA_ETYPE_INFO2, einfo)]
    if req.fast is not None:
        hint.append((asn1.PA_ENCRYPTED_CHALLENGE, b""))
    else:
        hint.append((asn1.PA_ENC_TIMESTAMP, b""))
    hint.append((asn1.PA_FX_FAST, b""))

    # Authentication policy: the From condition (it needs FAST armor) is checked before the
    # password, so a wrong password with a denying condition still reports the policy; a
    # request without pre-authentication first learns (PREAUTH_REQUIRED, PA-FX-FAST) that it
    # must pre-authenticate, which is how MIT's `kinit -T` discovers FAST.
    policy = device = None
    if (
        enc_ts is not None
        or (enc_chal is not None and req.fast is not None)
        or client.uac & UF_DONT_REQUIRE_PREAUTH
    ):
        policy, device = authn.as_client_checks(core, req, client, armor_tkt)
    if enc_chal is not None and req.fast is not None:
        ed = wire.parse_encrypted_data_bytes(enc_chal)
        reply_etype = ed[0]
        if reply_etype not in etypes:
            raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "challenge etype")
        ckey = F.client_challenge_key(req.fast, reply_etype, client.keys[reply_etype])
        ts = _decrypt_ts(
            core, client, req.fast.armor_etype, ckey, KU.ENC_CHALLENGE_CLIENT, ed, hint
        )
        _check_ts(core, ts, now, client)
        reply_padata.append(
            (
                asn1.PA_ENCRYPTED_CHALLENGE,
                F.kdc_challenge_padata(req.fast, reply_etype, client.keys[reply_etype], now),
            )
        )
        preauth_done = True
    elif enc_ts is not None:
        ed = wire.parse_encrypted_data_bytes(enc_ts)
        reply_etype = ed[0]
        if reply_etype not in etypes:
            if protected and reply_etype in _WEAK_ETYPES:
                # Protected Users: no DES/RC4 pre-authentication, no e-data (MS-KILE 3.3.5.6)
                _protected_etype_event(core, client, sname, reply_etype)
                raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "pre-auth etype not allowed")
            if reply_etype in client.keys:
                raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "pre-auth etype not allowed")
            raise E.KdcError(E.KDC_ERR_PREAUTH_FAILED, "pre-auth etype", padata=hint)
        ts = _decrypt_ts(
            core,
            client,
            reply_etype,
            client.keys[reply_etype],
            KU.AS_REQ_PA_ENC_TIMESTAMP,
            ed,
            hint,
        )
        _check_ts(core, ts, now, client)
        preauth_done = True
    elif not (client.uac & UF_DONT_REQUIRE_PREAUTH):
        raise E.KdcError(E.KDC_ERR_PREAUTH_REQUIRED, "pre-authentication required", padata=hint)
    if preauth_done:
        _bookkeeping(core.dir.record_logon_success, client.name)
    if reply_etype is None:
        reply_etype = etypes[0]
    reply_key = client.keys[reply_etype]

    # -- ticket -------------------------------------------------------------------------------
    is_tgt = core.is_local_tgs(sname)
    session_etype = next((e for e in requested_etypes if e in server.keys), None)
    if session_etype is None:
        session_etype = next((e for e in requested_etypes if e in crypto.SUPPORTED_ETYPES), None)
    if session_etype is None:
        raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "no session key etype")
    session_key = core.session_key(session_etype)
    authtime = int(now)
    life_cap = core.config.max_ticket_life
    max_renew = None
    # An enforced policy's TGT lifetime overrides the Protected Users 4 hours either way, and
    # renew-till equals the end time (MS-KILE 3.3.5.6; Windows still sets RENEWABLE).
    policy_life = authn.tgt_lifetime_cap(policy)
    if policy_life is not None:
        life_cap = min(life_cap, policy_life)
        max_renew = authtime + life_cap
    elif protected:
        life_cap = min(life_cap, core.config.protected_user_life)
        max_renew = authtime + core.config.protected_user_life
    endtime, renew_till, extra = core.lifetimes(
        body, authtime, options=options, max_end=None, max_renew=max_renew, life_cap=life_cap
    )
    if renew_till is not None and max_renew is not None:
        renew_till = min(renew_till, endtime if policy_life is not None else max_renew)
    flags = bit(TF.initial) | extra
    if preauth_done:
        flags |= bit(TF.pre_authent)
    # Protected Users and "sensitive and cannot be delegated" accounts: no FORWARDABLE or
    # PROXIABLE tickets (MS-KILE 3.3.5.7, MS-SFU 3.2.1 DelegationNotAllowed).
    if not protected and not (getattr(client, "uac", 0) or 0) & UAC.NOT_DELEGATED:
        if options & bit(KO.forwardable):
            flags |= bit(TF.forwardable)
        if options & bit(KO.proxiable):
            flags |= bit(TF.proxiable)
    canonicalize = bool(options & bit(KO.canonicalize))
    reply_cname = cname
    if canonicalize or cname.name_type == asn1.NT_ENTERPRISE:
        reply_cname = Name(asn1.NT_PRINCIPAL, [client.name])
    reply_sname = sname
    if canonicalize and is_tgt:
        reply_sname = core.krbtgt_principal_name()

    if not is_tgt:  # an AS-REQ for a service: that service's To condition (MS-KILE 3.3.5.6)
        authn.service_check(
            core,
            server,
            lambda: authn.principal_identity(
                core, client, asserted=AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY
            ),
            device,
            service_name="/".join(sname.components),
            tgs=False,
        )
    pac = core.build_pac(client, authtime, requested=pac_requested) if include_pac else None
    ticket = core.issue_ticket(
        flags=flags,
        session_etype=session_etype,
        session_key=session_key,
        crealm=realm,
        cname=reply_cname,
        authtime=authtime,
        starttime=authtime,
        endtime=endtime,
        renew_till=renew_till,
        server=server,
        sname=reply_sname,
        pac=pac,
        service_ticket=not is_tgt,
        caddr=body.addresses,
    )

    if protected and is_tgt:
        core.report(
            303,
            {
                "account": client.name,
                "realm": realm,
                "tgt_lifetime": (endtime - authtime) // 60,
                "client": core.client_address or "",
            },
        )

    # -- reply --------------------------------------------------------------------------------
    if req.fast is not None:
        F.new_strengthen_key(req.fast, reply_etype)
        enc_key = F.strengthened_reply_key(req.fast, reply_etype, reply_key)
    else:
        enc_key = reply_key
    sname_der = pn_der(reply_sname)
    encrypted_pa = None
    if req.fast is not None:
        encrypted_pa = der.method_data([(asn1.PA_FX_FAST, b"")])
    enc_part = der.enc_kdc_rep_part(
        25,
        key=der.encryption_key(session_etype, session_key),
        last_req=[(0, authtime)],
        nonce=nonce,
        flags_value=flags,
        authtime=authtime,
        starttime=authtime,  # optional, but Windows sends it and impacket needs it
        endtime=endtime,
        renew_till=renew_till,
        srealm=realm,
        sname=sname_der,
        caddr=body.addresses,
        encrypted_pa_data=encrypted_pa,
    )
    cipher = crypto.encrypt(reply_etype, enc_key, KU.AS_REP_ENCPART, enc_part)

    rep_padata: list[tuple[int, bytes]] = [
        (asn1.PA_ETYPE_INFO2, _etype_info2(client, [reply_etype]))
    ]
    ticket_der = ticket
    if req.fast is not None:
        fast_value = F.fast_reply_padata(
            req.fast,
            reply_padata,
            ticket_der=ticket_der,
            crealm=realm,
            cname=reply_cname,
            now=now,
            strengthen=True,
        )
        rep_padata = [(asn1.PA_FX_FAST, fast_value)]
    # hide-client-names: the clear reply names WELLKNOWN/ANONYMOUS (RFC 6113 5.4.1).
    out_crealm, out_cname = F.outer_client(req.fast, realm, reply_cname)
    return der.kdc_rep(
        asn1.MSG_AS_REP,
        padata=der.method_data(rep_padata),
        crealm=out_crealm,
        cname=pn_der(out_cname),
        ticket_der=ticket_der,
        enc_part=der.encrypted_data(reply_etype, cipher, client.kvno),
    )


def _decrypt_ts(
    core: KdcCore,
    client: Any,
    etype: int,
    key: bytes,
    usage: int,
    ed: tuple[int, int | None, bytes],
    hint: list[tuple[int, bytes]],
) -> int:
    try:
        plain = crypto.decrypt(etype, key, usage, ed[2])
    except crypto.CryptoError:
        core.preauth_failures += 1  # the service's rate limiter delays this answer
        if _bookkeeping(core.dir.record_logon_failure, client.name):
            core.report(  # 4740: the bad-password threshold locked the account out
                4740,
                {
                    "user": client.name,
                    "actor": "lanman KDC (bad-password threshold)",
                    "client": core.client_address or "-",
                    "reason": "Kerberos pre-authentication failures reached the threshold",
                },
            )
        raise E.KdcError(
            E.KDC_ERR_PREAUTH_FAILED, "pre-authentication failed", padata=hint
        ) from None
    return wire.parse_pa_enc_ts(plain)


def _bookkeeping(fn: Any, name: str) -> Any:
    """Logon success/failure accounting must never fail the exchange itself; returns what
    ``fn`` returned (for a failure: truthy when the account just got locked out)."""
    try:
        return fn(name)
    except Exception:
        log.warning("directory logon bookkeeping failed for %s", name, exc_info=True)
        return None


def _check_ts(core: KdcCore, ts: int, now: float, client: Any) -> None:
    if abs(ts - now) > core.config.clock_skew:
        raise E.KdcError(E.KRB_AP_ERR_SKEW, "clock skew too great")
