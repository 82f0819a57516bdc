"""Kerberos delegation in the TGS exchange: S4U2Self, S4U2Proxy (constrained and resource-based)
and user-to-user (MS-SFU 3.2.5, MS-KILE 3.3.5.7, RFC 4120 3.3.3).

``tgs_req.handle`` asks this module *who the ticket is for* when the request is not an ordinary
one; the answer is an :class:`Impersonation` (client name, PAC, times and flags to start from).

Error codes (KRB error, NTSTATUS in KERB-EXT-ERROR), as Windows answers them:

=======================================================  ===================  ======================
S4U2Proxy refused because                                KRB error            NTSTATUS
=======================================================  ===================  ======================
target not in msDS-AllowedToDelegateTo, no RBCD asked,   KDC_ERR_BADOPTION    STATUS_NOT_SUPPORTED
and msDS-AllowedToDelegateTo is empty
... and msDS-AllowedToDelegateTo is not empty            KDC_ERR_BADOPTION    STATUS_NO_MATCH
RBCD asked, the target's descriptor does not grant CR    KDC_ERR_BADOPTION    STATUS_NOT_FOUND
evidence ticket not forwardable (and not an S4U2Self     KDC_ERR_BADOPTION    STATUS_ACCOUNT_RESTRICTION
ticket of a non-sensitive user used for RBCD)
user is NOT_DELEGATED or in Protected Users              KDC_ERR_BADOPTION    STATUS_ACCOUNT_RESTRICTION
evidence ticket not issued to the requesting service     KDC_ERR_BADOPTION    --
evidence ticket without (valid) PAC / ticket signature   KRB_AP_ERR_MODIFIED  --
=======================================================  ===================  ======================

Sources: MS-SFU 3.2.5.2.1 (NOT_SUPPORTED / NO_MATCH), 3.2.5.2.3 (NOT_FOUND,
ACCOUNT_RESTRICTION; the footnoted exception for non-forwardable S4U2Self tickets of
non-sensitive users, also MS-SFU 3.1.5.2.1), and Samba's Windows-validated
``python/samba/tests/krb5/s4u_tests.py`` (a non-forwardable evidence ticket with classic
constrained delegation is STATUS_ACCOUNT_RESTRICTION).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lanman.authpolicy.tokens import SERVICE_ASSERTED_IDENTITY, identity_sids
from lanman.directory.model import UAC
from lanman.errors.ntstatus import (
    STATUS_ACCOUNT_RESTRICTION,
    STATUS_NO_MATCH,
    STATUS_NOT_FOUND,
    STATUS_NOT_SUPPORTED,
)
from lanman.kerberos import asn1, crypto, der, pac_delegation, pac_logon
from lanman.kerberos import pac as P
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.der import DerError, Name
from lanman.kerberos.kdc import authn, wire
from lanman.kerberos.kdc import errors as E
from lanman.security.access import access_check, compiled_from_bytes
from lanman.security.errors import SecurityError
from lanman.security.rights import ADS_CONTROL_ACCESS
from lanman.security.token import SecurityToken

if TYPE_CHECKING:
    from lanman.kerberos.kdc.core import KdcCore, TicketInfo

__all__ = [
    "PA_S4U_X509_USER",
    "Impersonation",
    "ProxyDecision",
    "proxy_decision",
    "s4u2proxy",
    "s4u2self",
    "user_to_user_key",
]

PA_S4U_X509_USER = 130  # MS-SFU 2.2.2
# PA-PAC-OPTIONS flags (MS-KILE 2.2.10): claims (0), branch-aware (1), forward-to-full-dc (2),
# resource-based-constrained-delegation (3).
PAC_OPTION_RBCD = bit(3)
# S4UUserID options (MS-SFU 2.2.2): KDC_CHECK_LOGON_HOUR_RESTRICTIONS, USE_REPLY_KEY_USAGE.
S4U_OPTS_USE_REPLY_KEY_USAGE = bit(2)
KU_PA_S4U_X509_USER_REQUEST = 26  # MS-SFU 2.2.2 / RFC 4120 7.5.1 (reserved for MS)
KU_PA_S4U_X509_USER_REPLY = 27
_KU_PA_FOR_USER = 17  # MS-SFU 2.2.1: KERB_NON_KERB_CKSUM_SALT
_UNKEYED = (crypto.CKSUM_RSA_MD5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14)  # CRC32, MD4, MD5, SHA1 ...

_TF_FORWARDABLE = bit(TF.forwardable)
_TF_PROXIABLE = bit(TF.proxiable)
_TF_PRE_AUTHENT = bit(TF.pre_authent)
_TF_HW_AUTHENT = bit(TF.hw_authent)
_KO_FORWARDABLE = bit(KO.forwardable)


@dataclass(slots=True)
class Impersonation:
    """The client a delegated ticket is issued for, instead of the TGT's client."""

    crealm: str
    cname: Name
    pac: P.Pac | None
    authtime: int
    flags: int  # flags carried over (pre-authent / hw-authent)
    forwardable: bool  # may the new ticket be FORWARDABLE (when asked for)
    max_end: int
    max_renew: int | None
    caddr: bytes | None = None
    kind: str = ""  # "s4u2self" | "constrained" | "rbcd"
    x509_user: S4uUser | None = None  # PA-S4U-X509-USER to answer in the reply


def is_sensitive(p: Any) -> bool:
    """'Account is sensitive and cannot be delegated' or a member of Protected Users
    (MS-SFU 3.2.1 DelegationNotAllowed; MS-KILE 3.3.5.7 Protected Users)."""
    return bool((getattr(p, "uac", 0) or 0) & UAC.NOT_DELEGATED) or bool(
        getattr(p, "protected_user", False)
    )


def find_padata(padata_lists: list[list[tuple[int, bytes]]], ptype: int) -> bytes | None:
    for lst in padata_lists:
        for t, v in lst:
            if t == ptype:
                return v
    return None


# ---------------------------------------------------------------------------------------------
# PA-FOR-USER / PA-S4U-X509-USER (MS-SFU 2.2.1, 2.2.2)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class S4uUser:
    name: Name | None
    realm: str
    cksum_type: int
    cksum: bytes
    checksummed: bytes  # the bytes the checksum is over
    x509: bool = False
    user_id_der: bytes = b""
    nonce: int = 0
    options: int = 0


def _checksum(data: bytes, v: tuple | None) -> tuple[int, bytes]:
    if v is None or v[0] != 0x30:
        raise DerError("Checksum missing")
    f = der.fields(data, v[1], v[2])
    value = der.get_octets(data, f, 1)
    if value is None:
        raise DerError("checksum missing")
    return der.req_int(data, f, 0), value


def parse_pa_for_user(data: bytes) -> S4uUser:
    """PA-FOR-USER ::= SEQUENCE { userName [0] PrincipalName, userRealm [1] Realm,
    cksum [2] Checksum, auth-package [3] KerberosString }."""
    f, _ = der.sequence(data, 0, len(data))
    name = der.get_name(data, f, 0)
    realm = der.get_str(data, f, 1)
    package = der.get_str(data, f, 3)
    if name is None or realm is None or package is None:
        raise DerError("incomplete PA-FOR-USER")
    ctype, cksum = _checksum(data, f.get(2))
    # S4UByteArray: name-type (4 bytes little endian), the name strings, realm, auth-package
    body = (
        (name.name_type & 0xFFFFFFFF).to_bytes(4, "little")
        + "".join(name.components).encode("utf-8")
        + realm.encode("utf-8")
        + package.encode("utf-8")
    )
    return S4uUser(name, realm, ctype, cksum, body)


def parse_pa_s4u_x509_user(data: bytes) -> S4uUser:
    """PA-S4U-X509-USER ::= SEQUENCE { user-id [0] S4UUserID, checksum [1] Checksum };
    S4UUserID ::= SEQUENCE { nonce [0] UInt32, cname [1] PrincipalName OPTIONAL,
    crealm [2] Realm, subject-certificate [3] OCTET STRING OPTIONAL, options [4] BIT STRING
    OPTIONAL, ... }."""
    f, _ = der.sequence(data, 0, len(data))
    uid = f.get(0)
    if uid is None or uid[0] != 0x30:
        raise DerError("user-id missing")
    user_id_der = data[uid[3] : uid[2]]
    uf = der.fields(data, uid[1], uid[2])
    nonce = der.req_int(data, uf, 0) & 0xFFFFFFFF
    realm = der.get_str(data, uf, 2)
    if realm is None:
        raise DerError("crealm missing")
    ctype, cksum = _checksum(data, f.get(1))
    return S4uUser(
        der.get_name(data, uf, 1),
        realm,
        ctype,
        cksum,
        user_id_der,
        x509=True,
        user_id_der=user_id_der,
        nonce=nonce,
        options=der.get_flags(data, uf, 4) or 0,
    )


def _verify_s4u_checksum(u: S4uUser, keys: list[tuple[int, bytes]]) -> None:
    if u.cksum_type in _UNKEYED:
        raise E.KdcError(E.KRB_AP_ERR_INAPP_CKSUM, "S4U checksum must be keyed")
    usage = KU_PA_S4U_X509_USER_REQUEST if u.x509 else _KU_PA_FOR_USER
    for etype, key in keys:
        # PA-FOR-USER: HMAC-MD5 with the TGT session key whatever its type (MS-SFU 2.2.1);
        # Windows also takes the session key type's own checksum.
        allowed = {crypto.checksum_type_for(etype)}
        if not u.x509:
            allowed.add(crypto.CKSUM_HMAC_MD5)
        if u.cksum_type in allowed and crypto.verify_checksum(
            u.cksum_type, key, usage, u.checksummed, u.cksum
        ):
            return
    raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "S4U checksum")


def _x509_reply(u: S4uUser, reply_etype: int, reply_key: bytes) -> tuple[int, bytes]:
    """PA-S4U-X509-USER in the TGS-REP (MS-SFU 3.2.5.1.2): the user-id echoed, checksummed
    with the reply key (key usage 27 when the client set USE_REPLY_KEY_USAGE; RC4 reply keys
    keep usage 26, as for KDCs that put the padata in encrypted-pa-data instead)."""
    user_id = u.user_id_der
    usage = KU_PA_S4U_X509_USER_REQUEST
    if u.options & S4U_OPTS_USE_REPLY_KEY_USAGE and reply_etype != crypto.ETYPE_RC4_HMAC:
        usage = KU_PA_S4U_X509_USER_REPLY
    elif u.options & S4U_OPTS_USE_REPLY_KEY_USAGE:
        user_id = _with_options(user_id, u.options & ~S4U_OPTS_USE_REPLY_KEY_USAGE)
    ctype = crypto.checksum_type_for(reply_etype)
    ck = crypto.make_checksum(ctype, reply_key, usage, user_id)
    cksum = der.seq(der.ctx(0, der.integer(ctype)), der.ctx(1, der.octet_string(ck)))
    return PA_S4U_X509_USER, der.seq(der.ctx(0, user_id), der.ctx(1, cksum))


def _with_options(user_id: bytes, options: int) -> bytes:
    s, e = der._expect(user_id, 0, len(user_id), 0x30)
    parts = []
    pos = s
    while pos < e:
        t, _cs, ce = der.read_tlv(user_id, pos, e)
        parts.append((t, user_id[pos:ce]))
        pos = ce
    out = [raw if t != 0xA4 else der.ctx(4, der.flags(options)) for t, raw in parts]
    return der.tlv(0x30, b"".join(out))


# ---------------------------------------------------------------------------------------------
# S4U2Self (MS-SFU 3.2.5.1)
# ---------------------------------------------------------------------------------------------


def s4u2self(
    core: KdcCore,
    *,
    padata: list[list[tuple[int, bytes]]],
    tgt: TicketInfo,
    service: Any,
    server: Any,
    options: int,
    subkey: tuple[int, bytes] | None,
    now: float,
) -> Impersonation | None:
    """None when the request carries neither PA-S4U-X509-USER nor PA-FOR-USER."""
    raw = find_padata(padata, PA_S4U_X509_USER)
    if raw is not None:
        u = parse_pa_s4u_x509_user(raw)
        keys = ([subkey] if subkey is not None else []) + [(tgt.session_etype, tgt.session_key)]
    else:
        raw = find_padata(padata, asn1.PA_FOR_USER)
        if raw is None:
            return None
        u = parse_pa_for_user(raw)
        keys = [(tgt.session_etype, tgt.session_key)]
    _verify_s4u_checksum(u, keys)
    if service is None:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "S4U2Self by a client not in the directory")
    # The service asks for a ticket to itself (MS-SFU 3.2.5.1.2).
    if server is None or getattr(server, "sid", None) != service.sid:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "S4U2Self sname is not the requesting service")
    if u.realm.upper() != core.realm:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "S4U2Self for another realm")
    if u.name is None or not u.name.components:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "S4U2Self by certificate is not supported")
    user = core.lookup_client(u.name)
    if user is None:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "S4U2Self user not found")
    # Not password authentication: no password-expiry check (as Windows and Heimdal).
    core.check_client_state(user, now, tgs=True)
    # FORWARDABLE (MS-SFU 3.2.5.1.2): the service is TrustedToAuthenticationForDelegation,
    # or it has no msDS-AllowedToDelegateTo at all; never for a sensitive user.
    uac = getattr(service, "uac", 0) or 0
    forwardable = (
        bool(options & _KO_FORWARDABLE)
        and bool(tgt.flags & _TF_FORWARDABLE)
        and (bool(uac & UAC.TRUSTED_TO_AUTH_FOR_DELEGATION) or not service.delegate_to)
        and not is_sensitive(user)
    )
    authtime = int(now)
    pac = core.build_pac(user, authtime, requested=None, asserted=SERVICE_ASSERTED_IDENTITY)
    cname = Name(asn1.NT_PRINCIPAL, [user.name])
    imp = Impersonation(
        crealm=core.realm,
        cname=cname,
        pac=pac,
        authtime=authtime,
        flags=tgt.flags & (_TF_PRE_AUTHENT | _TF_HW_AUTHENT),
        forwardable=forwardable,
        max_end=tgt.endtime,
        max_renew=tgt.renew_till,
        kind="s4u2self",
    )
    if u.x509:
        imp.x509_user = u
    return imp


def reply_padata(imp: Impersonation | None, reply_etype: int, reply_key: bytes) -> list:
    """Padata the TGS-REP carries for this impersonation (PA-S4U-X509-USER, if asked)."""
    if imp is None or imp.x509_user is None:
        return []
    return [_x509_reply(imp.x509_user, reply_etype, reply_key)]


# ---------------------------------------------------------------------------------------------
# S4U2Proxy (MS-SFU 3.2.5.2)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProxyDecision:
    kind: str | None  # "constrained" | "rbcd" | None (refused)
    code: int = 0
    status: int | None = None
    reason: str = ""


def proxy_decision(
    *,
    in_allowed_to: bool,
    allowed_to_empty: bool,
    rbcd_requested: bool,
    rbcd_granted: bool,
    evidence_forwardable: bool,
    evidence_s4u2self: bool,
    sensitive: bool,
) -> ProxyDecision:
    """Which delegation, if any, satisfies an S4U2Proxy request (MS-SFU 3.2.5.2.1-3;
    see the module table for the errors)."""
    bad = E.KDC_ERR_BADOPTION
    if sensitive:
        return ProxyDecision(None, bad, STATUS_ACCOUNT_RESTRICTION, "user cannot be delegated")
    if in_allowed_to and evidence_forwardable:
        return ProxyDecision("constrained")
    if not rbcd_requested:
        if in_allowed_to:
            return ProxyDecision(
                None, bad, STATUS_ACCOUNT_RESTRICTION, "evidence ticket not forwardable"
            )
        status = STATUS_NOT_SUPPORTED if allowed_to_empty else STATUS_NO_MATCH
        return ProxyDecision(None, bad, status, "target not in msDS-AllowedToDelegateTo")
    if not rbcd_granted:
        return ProxyDecision(None, bad, STATUS_NOT_FOUND, "target does not allow this service")
    if not evidence_forwardable and not evidence_s4u2self:
        return ProxyDecision(
            None, bad, STATUS_ACCOUNT_RESTRICTION, "evidence ticket not forwardable"
        )
    return ProxyDecision("rbcd")


def _evidence_head(plain: bytes) -> bytes:
    """Fields [0]..[9] of a decrypted EncTicketPart as received (for the ticket signature,
    which is over the EncTicketPart with the PAC replaced by one zero byte, MS-PAC 2.8.3)."""
    t, s, e = der.read_tlv(plain, 0, len(plain))
    t2, s2, e2 = der.read_tlv(plain, s, e)
    if t != 0x63 or t2 != 0x30:
        raise DerError("bad EncTicketPart")
    pos = s2
    while pos < e2:
        tag, _cs, ce = der.read_tlv(plain, pos, e2)
        if tag == 0xAA:  # [10] authorization-data
            return plain[s2:pos]
        pos = ce
    return plain[s2:e2]


def _decrypt_evidence(core: KdcCore, ticket: wire.TicketMsg, service: Any) -> tuple:
    """-> (EncTicket, verified PAC). The evidence ticket is encrypted in the service's key."""
    key = service.keys.get(ticket.etype)
    if key is None:
        raise E.KdcError(E.KRB_AP_ERR_NOKEY, "no service key for the evidence ticket etype")
    try:
        plain = crypto.decrypt(ticket.etype, key, crypto.KU.KDC_REP_TICKET, ticket.cipher)
    except crypto.CryptoError:
        raise E.KdcError(E.KRB_AP_ERR_BAD_INTEGRITY, "evidence ticket integrity") from None
    etp = wire.parse_enc_ticket_part(plain)
    from lanman.kerberos.kdc.core import _PAC_PLACEHOLDER_AD, find_pac_ad

    pac_bytes = find_pac_ad(etp.authorization_data)
    if pac_bytes is None:
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "evidence ticket without PAC")
    tgs = core.dir.krbtgt()
    pac = None
    for kk in tgs.keys.values():
        try:
            pac = P.verify_bytes(pac_bytes, key, kk)
        except P.PacError:
            continue
        tkt_sig = pac.get(P.PAC_TICKET_CHECKSUM)
        if tkt_sig is None:
            raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "evidence ticket without ticket signature")
        body = der.enc_ticket_part_finish(_evidence_head(plain), _PAC_PLACEHOLDER_AD)
        try:
            pac.verify(None, kk, body)
        except P.PacError:
            raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "evidence ticket signature") from None
        break
    if pac is None:
        raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "evidence ticket PAC signature")
    return etp, pac


def _logon(pac: P.Pac | None) -> pac_logon.LogonIdentity | None:
    buf = pac.get(P.PAC_LOGON_INFO) if pac is not None else None
    if buf is None:
        return None
    try:
        return pac_logon.parse_logon_info(buf)
    except P.PacError:
        return None


def _service_identity(core: KdcCore, tgt: TicketInfo) -> authn.Identity | None:
    """The delegating service as its TGT's PAC asserts it (domain-local groups expanded);
    None without a PAC, as Windows has no token for it then."""
    if tgt.pac is None:
        return None
    return authn.pac_identity(core, "/".join(tgt.cname.components), tgt.pac)


def _rbcd_granted(target: Any, service: authn.Identity | None) -> bool:
    """The target's msDS-AllowedToActOnBehalfOfOtherIdentity grants CONTROL_ACCESS to a token
    of the delegating service's PAC SIDs and domain-local groups plus Everyone and
    Authenticated Users (MS-SFU 3.2.5.2.3)."""
    sd = getattr(target, "allowed_to_act", None)
    if not sd or service is None:
        return False
    token = SecurityToken(
        sids=identity_sids(service.sids, service.domain_local), user_sid=service.sid
    )
    try:
        return access_check(compiled_from_bytes(bytes(sd)), token, ADS_CONTROL_ACCESS).allowed
    except SecurityError:
        return False


def _spn_matches(spn: str, allowed: list[str]) -> bool:
    want = spn.lower()
    return any(a.lower().partition("@")[0] == want for a in allowed)


def s4u2proxy(
    core: KdcCore,
    *,
    padata: list[list[tuple[int, bytes]]],
    tgt: TicketInfo,
    service: Any,
    server: Any,
    sname: Name,
    evidence: wire.TicketMsg | None,
    now: float,
) -> Impersonation:
    """A ticket to ``server`` for the client of the ``evidence`` ticket (cname-in-addl-tkt)."""
    if evidence is None:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "cname-in-addl-tkt without an additional ticket")
    if service is None:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "S4U2Proxy by a client not in the directory")
    if core.is_local_tgs(sname):
        raise E.KdcError(E.KDC_ERR_BADOPTION, "S4U2Proxy to krbtgt")
    # The evidence ticket must be one issued to the requesting service (its sname is in the
    # clear: the service could name another one).
    if evidence.realm.upper() != core.realm:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "evidence ticket from another realm")
    ev_owner = core.lookup_service(evidence.sname)
    if ev_owner is None or getattr(ev_owner, "sid", None) != service.sid:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "evidence ticket not issued to the service")
    etp, ev_pac = _decrypt_evidence(core, evidence, service)
    if etp.endtime < now - core.config.clock_skew:
        raise E.KdcError(E.KRB_AP_ERR_TKT_EXPIRED, "evidence ticket expired")
    assert etp.cname is not None
    user = core.lookup_client(etp.cname) if etp.crealm.upper() == core.realm else None
    if user is None:
        raise E.KdcError(E.KDC_ERR_C_PRINCIPAL_UNKNOWN, "impersonated user not found")
    core.check_client_state(user, now, tgs=True)
    ev_logon = _logon(ev_pac)
    ev_extra = {e.sid for e in ev_logon.extra_sids} if ev_logon is not None else set()
    pac_uac = ev_logon.user_account_control if ev_logon is not None else 0
    sensitive = is_sensitive(user) or bool(pac_uac & ACB_NOT_DELEGATED)

    spn = "/".join(sname.components)
    pac_options = find_padata(padata, asn1.PA_PAC_OPTIONS)
    rbcd_requested = False
    if pac_options is not None:
        f, _ = der.sequence(pac_options, 0, len(pac_options))
        rbcd_requested = bool((der.get_flags(pac_options, f, 0) or 0) & PAC_OPTION_RBCD)
    in_allowed_to = _spn_matches(spn, list(service.delegate_to))
    service_ident = _service_identity(core, tgt)
    decision = proxy_decision(
        in_allowed_to=in_allowed_to,
        allowed_to_empty=not service.delegate_to,
        rbcd_requested=rbcd_requested,
        rbcd_granted=rbcd_requested and not in_allowed_to and _rbcd_granted(server, service_ident),
        evidence_forwardable=bool(etp.flags & _TF_FORWARDABLE),
        evidence_s4u2self=SERVICE_ASSERTED_IDENTITY in ev_extra,
        sensitive=sensitive,
    )
    if decision.kind is None:
        raise E.KdcError(decision.code, decision.reason, status=decision.status)

    # -- the target's authentication policy (AllowedToAuthenticateTo) --------------------------
    # MS-KILE 3.3.5.7: for S4U2Proxy the To check of the *target's* policy runs against the
    # delegating service's identity, not the impersonated user's.  ``tgs_req`` already runs
    # ``authn.service_check`` on the TGT's identity, which here *is* the delegating service;
    # anything S4U-specific (e.g. also seeing the impersonated user) plugs in here through
    # ``KdcCore.check_service_policy`` when it exists.
    proxy_identity = ProxyIdentity(service=service, identity=service_ident, pac=tgt.pac)
    check = getattr(core, "check_service_policy", None)
    if check is not None:
        check(target=server, client=user, proxy_identity=proxy_identity, now=now)

    # PAC: the user's, with S4U_DELEGATION_INFO naming the target and every service the ticket
    # went through (MS-PAC 2.9, MS-SFU 3.2.5.2.2).
    transited_by = "/".join(evidence.sname.components) + "@" + evidence.realm
    target_name, transited = spn, []
    old = ev_pac.get(P.PAC_DELEGATION_INFO)
    if old is not None:
        try:
            _, transited = pac_delegation.parse_delegation_info(old)
        except P.PacError:
            raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "bad S4U_DELEGATION_INFO") from None
    buffers = [(t, d) for t, d in ev_pac.buffers if t not in P.SIGNATURE_TYPES]
    buffers = [(t, d) for t, d in buffers if t != P.PAC_DELEGATION_INFO]
    buffers.append(
        (P.PAC_DELEGATION_INFO, P.delegation_info(target_name, [*transited, transited_by]))
    )
    max_renew = etp.renew_till if etp.flags & bit(TF.renewable) else None
    if tgt.renew_till is not None and max_renew is not None:
        max_renew = min(max_renew, tgt.renew_till)
    return Impersonation(
        crealm=etp.crealm,
        cname=etp.cname,
        pac=P.Pac(buffers),
        authtime=etp.authtime,
        flags=etp.flags & (_TF_PRE_AUTHENT | _TF_HW_AUTHENT),
        forwardable=not sensitive,
        max_end=min(etp.endtime, tgt.endtime),
        max_renew=max_renew,
        caddr=etp.caddr,
        kind=decision.kind,
    )


# SAMR USER_NOT_DELEGATED in KERB_VALIDATION_INFO.UserAccountControl (MS-SAMR 2.2.1.12).
ACB_NOT_DELEGATED = 0x00004000


@dataclass(frozen=True, slots=True)
class ProxyIdentity:
    """Who an S4U2Proxy target's policy sees: the delegating service (its directory entry,
    the identity its TGT's PAC asserts, and that PAC)."""

    service: Any
    identity: authn.Identity | None
    pac: P.Pac | None


# ---------------------------------------------------------------------------------------------
# User-to-user (RFC 4120 3.3.3, MS-KILE 3.3.5.7.4)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SessionKeyServer:
    """A ticket's encryption key in the shape ``KdcCore.issue_ticket`` expects of a server."""

    keys: dict[int, bytes]
    kvno: int | None = None
    uac: int = 0


def user_to_user_key(
    core: KdcCore, *, server: Any, additional: wire.TicketMsg | None, now: float
) -> SessionKeyServer:
    """enc-tkt-in-skey: the ticket is encrypted in the session key of the additional ticket,
    a TGT of this realm whose client is the requested server."""
    if additional is None:
        raise E.KdcError(E.KDC_ERR_BADOPTION, "enc-tkt-in-skey without an additional ticket")
    tkt = core.decrypt_ticket(additional, now)
    if tkt.endtime < now - core.config.clock_skew:
        raise E.KdcError(E.KRB_AP_ERR_TKT_EXPIRED, "additional ticket expired")
    owner = core.lookup_client(tkt.cname) if tkt.crealm.upper() == core.realm else None
    if owner is None or server is None or getattr(owner, "sid", None) != server.sid:
        raise E.KdcError(E.KDC_ERR_SERVER_NOMATCH, "server is not the additional TGT's client")
    return SessionKeyServer({tkt.session_etype: tkt.session_key}, None, getattr(server, "uac", 0))
