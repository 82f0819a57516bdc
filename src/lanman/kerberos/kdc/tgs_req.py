"""TGS exchange (RFC 4120 3.3, MS-KILE 3.3.5.7): service tickets, renewal, FAST, PAC re-signing,
forwarded TGTs and OK-AS-DELEGATE; S4U2Self, S4U2Proxy and user-to-user are in ``s4u.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lanman.directory.model import UAC
from lanman.kerberos import asn1, crypto, der
from lanman.kerberos import pac as P
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import authn, s4u
from lanman.kerberos.kdc import errors as E
from lanman.kerberos.kdc import fast as F
from lanman.kerberos.kdc.core import pn_der

if TYPE_CHECKING:
    from lanman.kerberos.kdc.core import KdcCore, Request

__all__ = ["handle"]

_UNKEYED_OK = (crypto.CKSUM_RSA_MD5,)
_SERVICE_PAC_DROP = (P.PAC_ATTRIBUTES_INFO, P.PAC_REQUESTOR)
# Flag masks, computed once (RFC 4120 5.4.1 KDCOptions, 5.3 TicketFlags).
_KO_CNAME_IN_ADDL_TKT = bit(KO.cname_in_addl_tkt)
_KO_ENC_TKT_IN_SKEY = bit(KO.enc_tkt_in_skey)
_KO_VALIDATE = bit(KO.validate)
_KO_FORWARDABLE = bit(KO.forwardable)
_KO_FORWARDED = bit(KO.forwarded)
_KO_PROXIABLE = bit(KO.proxiable)
_KO_PROXY = bit(KO.proxy)
_KO_RENEW = bit(KO.renew)
_TF_FORWARDABLE = bit(TF.forwardable)
_TF_FORWARDED = bit(TF.forwarded)
_TF_OK_AS_DELEGATE = bit(TF.ok_as_delegate)
_TF_HW_AUTHENT = bit(TF.hw_authent)
_TF_INITIAL = bit(TF.initial)
_TF_INVALID = bit(TF.invalid)
_TF_PRE_AUTHENT = bit(TF.pre_authent)
_TF_PROXIABLE = bit(TF.proxiable)
_TF_RENEWABLE = bit(TF.renewable)


def handle(core: KdcCore, req: Request, now: float) -> bytes:
    realm = core.realm
    ap_bytes = fast_pa = None
    for t, v in req.padata:
        if t == asn1.PA_TGS_REQ and ap_bytes is None:
            ap_bytes = v
        elif t == asn1.PA_FX_FAST and fast_pa is None:
            fast_pa = v
    if ap_bytes is None:
        raise E.KdcError(E.KDC_ERR_PADATA_TYPE_NOSUPP, "no PA-TGS-REQ")
    body = req.req_body
    outer_body_der = body.der
    tgt, auth = core.verify_ap_req(ap_bytes, now, KU.TGS_REQ_AUTH, parsed=req.ap_req)
    req.cname = tgt.cname
    subkey = auth.subkey

    # -- FAST (armor = the TGS AP-REQ's subkey + TGT session key) -----------------------------
    if fast_pa is not None:
        if subkey is None:
            raise E.KdcError(E.KDC_ERR_PREAUTH_FAILED, "FAST TGS without subkey")
        armored = F.parse_armored_request(fast_pa)
        akey = F.armor_key(subkey[0], subkey[1], tgt.session_etype, tgt.session_key)
        req.fast = F.unwrap_request(armored, subkey[0], akey, ap_bytes)
        body = req.fast.req_body
    else:
        # Authenticator checksum binds the request body (RFC 4120 7.2.2.2 key usage 6).
        ck = auth.cksum
        if ck is not None:
            ctype = ck[0]
            ok = crypto.verify_checksum(
                ctype,
                None if ctype in _UNKEYED_OK else tgt.session_key,
                KU.TGS_REQ_AUTH_CKSUM,
                outer_body_der,
                ck[1],
            )
            if not ok:
                raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "authenticator checksum")

    options = body.kdc_options
    if tgt.endtime < now - core.config.clock_skew and not options & _KO_RENEW:
        raise E.KdcError(E.KRB_AP_ERR_TKT_EXPIRED, "ticket expired")
    if tgt.starttime is not None and tgt.starttime > now + core.config.clock_skew:
        raise E.KdcError(E.KRB_AP_ERR_TKT_NYV, "ticket not yet valid")

    # -- client still allowed? ----------------------------------------------------------------
    comps = tgt.cname.components
    client = None
    if tgt.crealm.upper() == realm:
        client = core.lookup_client(tgt.cname)
        if client is not None:
            core.check_client_state(client, now, tgs=True)
        elif len(comps) == 1:
            raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "client no longer exists")

    sname = body.sname
    if sname is None:
        raise E.KdcError(E.KDC_ERR_S_PRINCIPAL_UNKNOWN, "no server name")
    req.sname = sname
    if body.realm.upper() != realm:
        raise E.KdcError(E.KDC_ERR_S_PRINCIPAL_UNKNOWN, "no cross-realm trust")
    server = core.lookup_service(sname)
    if server is None:
        raise E.KdcError(E.KDC_ERR_S_PRINCIPAL_UNKNOWN, "server not found")
    to_tgs = core.is_local_tgs(sname)
    requested_etypes = list(body.etypes)
    if not to_tgs:
        # The target's authentication policy: its To condition on the client (MS-KILE 3.3.5.7)
        authn.service_check(
            core,
            server,
            lambda: authn.ticket_identity(core, tgt),
            None,
            service_name="/".join(sname.components),
            tgs=True,
        )

    # -- delegation: whom the ticket is for, and in which key (s4u.py) -------------------------
    padata_lists = [req.fast.padata, req.padata] if req.fast is not None else [req.padata]
    additional = body.additional_tickets[0] if body.additional_tickets else None
    imp = None
    if options & _KO_CNAME_IN_ADDL_TKT:
        if options & (_KO_ENC_TKT_IN_SKEY | _KO_RENEW):
            raise E.KdcError(E.KDC_ERR_BADOPTION, "cname-in-addl-tkt with this option")
        imp = s4u.s4u2proxy(
            core,
            padata=padata_lists,
            tgt=tgt,
            service=client,
            server=server,
            sname=sname,
            evidence=additional,
            now=now,
        )
    elif not options & _KO_RENEW:
        imp = s4u.s4u2self(
            core,
            padata=padata_lists,
            tgt=tgt,
            service=client,
            server=server,
            options=options,
            subkey=subkey,
            now=now,
        )
    key_owner = server
    if options & _KO_ENC_TKT_IN_SKEY:
        key_owner = s4u.user_to_user_key(core, server=server, additional=additional, now=now)

    crealm, cname, authtime = tgt.crealm, tgt.cname, tgt.authtime
    # Protected Users / NOT_DELEGATED clients never get FORWARDABLE or PROXIABLE tickets
    # (MS-SFU 3.2.1 DelegationNotAllowed, MS-KILE 3.3.5.7).
    may_delegate = client is None or not s4u.is_sensitive(client)
    caddr = tgt.enc.caddr
    max_end, max_renew = tgt.endtime, tgt.renew_till if tgt.flags & _TF_RENEWABLE else None
    base_flags = tgt.flags
    if imp is not None:
        crealm, cname, authtime = imp.crealm, imp.cname, imp.authtime
        may_delegate = imp.forwardable
        caddr = imp.caddr
        max_end, max_renew = imp.max_end, imp.max_renew
        base_flags = imp.flags | (_TF_FORWARDABLE if imp.forwardable else 0)

    inow = int(now)
    flags = base_flags & (_TF_PRE_AUTHENT | _TF_HW_AUTHENT)
    if options & _KO_RENEW:
        # RFC 4120 3.3.3.1: a renewable, unexpired-renewal TGT gets a fresh copy of itself.
        if not tgt.flags & _TF_RENEWABLE:
            raise E.KdcError(E.KDC_ERR_BADOPTION, "ticket not renewable")
        if tgt.renew_till is None or tgt.renew_till < now:
            raise E.KdcError(E.KRB_AP_ERR_TKT_EXPIRED, "renewal period over")
        if not to_tgs and not core.is_local_tgs(tgt.sname):
            raise E.KdcError(E.KDC_ERR_BADOPTION, "renew of a foreign ticket")
        start = tgt.starttime or tgt.authtime
        life = tgt.endtime - start
        endtime = min(tgt.renew_till, inow + life)
        renew_till = tgt.renew_till
        flags = tgt.flags & ~(_TF_INITIAL | _TF_INVALID)
        session_etype = tgt.session_etype
        session_key = core.session_key(session_etype)
    else:
        life_cap = core.config.max_ticket_life
        endtime, renew_till, extra = core.lifetimes(
            body,
            inow,
            options=options,
            max_end=max_end,
            max_renew=max_renew if max_renew is not None else inow,
            life_cap=life_cap,
        )
        flags |= extra
        if options & (_KO_PROXY | _KO_VALIDATE):
            raise E.KdcError(E.KDC_ERR_BADOPTION, "option not supported")
        if options & _KO_FORWARDED:
            # RFC 4120 2.6: a forwarded TGT (or ticket) from a forwardable TGT, with the
            # addresses the client asks for; the client asks only for OK-AS-DELEGATE targets.
            if not tgt.flags & _TF_FORWARDABLE or not may_delegate or imp is not None:
                raise E.KdcError(E.KDC_ERR_BADOPTION, "ticket not forwardable")
            flags |= _TF_FORWARDED
            caddr = body.addresses
        flags |= tgt.flags & _TF_FORWARDED  # stays set in tickets from a forwarded TGT
        if may_delegate and options & _KO_FORWARDABLE and base_flags & _TF_FORWARDABLE:
            flags |= _TF_FORWARDABLE
        if may_delegate and options & _KO_PROXIABLE and base_flags & _TF_PROXIABLE:
            flags |= _TF_PROXIABLE
        if isinstance(key_owner, s4u.SessionKeyServer):
            session_etype = next(
                (e for e in requested_etypes if e in crypto.SUPPORTED_ETYPES), None
            )
        else:
            session_etype = next((e for e in requested_etypes if e in server.keys), None)
        if session_etype is None:
            raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "no common session key etype")
        session_key = core.session_key(session_etype)
    if not to_tgs and (getattr(server, "uac", 0) or 0) & UAC.TRUSTED_FOR_DELEGATION:
        flags |= _TF_OK_AS_DELEGATE  # MS-KILE 3.3.5.7: the target may get forwarded TGTs
    else:
        flags &= ~_TF_OK_AS_DELEGATE

    # -- PAC: re-signed for the target (ticket signature on service tickets) ------------------
    # (signature buffers replaced; a service ticket's PAC drops requestor and attributes)
    pac = imp.pac if imp is not None else tgt.pac
    pac_drop = () if to_tgs else _SERVICE_PAC_DROP
    reply_sname = sname
    ticket = core.issue_ticket(
        flags=flags,
        session_etype=session_etype,
        session_key=session_key,
        crealm=crealm,
        cname=cname,
        authtime=authtime,
        starttime=inow,
        endtime=endtime,
        renew_till=renew_till,
        server=key_owner,
        sname=reply_sname,
        pac=pac,
        service_ticket=not to_tgs,
        caddr=caddr,
        pac_drop=pac_drop,
    )

    enc_part = der.enc_kdc_rep_part(
        26,
        key=der.encryption_key(session_etype, session_key),
        last_req=[(0, authtime)],
        nonce=body.nonce,
        flags_value=flags,
        authtime=authtime,
        starttime=inow,
        endtime=endtime,
        renew_till=renew_till,
        srealm=realm,
        sname=pn_der(reply_sname),
    )
    if subkey is not None:
        reply_etype, reply_key, usage = subkey[0], subkey[1], KU.TGS_REP_ENCPART_SUBKEY
    else:
        reply_etype, reply_key, usage = (
            tgt.session_etype,
            tgt.session_key,
            KU.TGS_REP_ENCPART_SESSKEY,
        )
    cipher = crypto.encrypt(reply_etype, reply_key, usage, enc_part)
    padata: bytes | None = None
    rep_padata = s4u.reply_padata(imp, reply_etype, reply_key)
    if req.fast is not None:
        value = F.fast_reply_padata(
            req.fast,
            rep_padata,
            ticket_der=ticket,
            crealm=crealm,
            cname=cname,
            now=now,
            strengthen=False,
        )
        padata = der.method_data([(asn1.PA_FX_FAST, value)])
    elif rep_padata:
        padata = der.method_data(rep_padata)
    # hide-client-names: the clear reply names WELLKNOWN/ANONYMOUS (RFC 6113 5.4.1).
    out_crealm, out_cname = F.outer_client(req.fast, crealm, cname)
    return der.kdc_rep(
        asn1.MSG_TGS_REP,
        padata=padata,
        crealm=out_crealm,
        cname=pn_der(out_cname),
        ticket_der=ticket,
        enc_part=der.encrypted_data(reply_etype, cipher),
    )
