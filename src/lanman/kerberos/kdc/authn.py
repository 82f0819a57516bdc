"""Authentication policies in the AS and TGS exchanges (MS-KILE 3.3.5.6, 3.3.5.7).

The decisions are :mod:`lanman.authpolicy`; this module finds the inputs (the client's and the
service's effective policy, the tokens of the user and of the FAST armor's device), turns a
refusing verdict into the Kerberos error Windows returns and reports the event:

=======================================  ===================  ================================
situation                                 Kerberos error       NTSTATUS in KERB-EXT-ERROR
=======================================  ===================  ================================
AS, From condition, request not armored  KDC_ERR_POLICY       STATUS_INVALID_WORKSTATION
AS, armored, device not allowed          KDC_ERR_POLICY       (none)
AS, From descriptor without owner         KRB_ERR_GENERIC      (none)
AS, enforced negative TGT lifetime        KDC_ERR_NEVER_VALID  STATUS_TIME_DIFFERENCE_AT_DC
AS or TGS, To condition not met           KDC_ERR_POLICY       STATUS_AUTHENTICATION_FIREWALL_FAILED
TGS, To descriptor without owner          KDC_ERR_POLICY       STATUS_INVALID_PARAMETER
=======================================  ===================  ================================

An audit-mode (unenforced) policy never changes the reply; it only logs 305/306.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lanman.authpolicy import decide, resolve, tokens
from lanman.authpolicy.decide import Reason, Verdict
from lanman.errors.ntstatus import (
    STATUS_AUTHENTICATION_FIREWALL_FAILED,
    STATUS_INVALID_PARAMETER,
    STATUS_INVALID_WORKSTATION,
    STATUS_TIME_DIFFERENCE_AT_DC,
)
from lanman.kerberos import pac as P
from lanman.kerberos import pac_claims, pac_logon
from lanman.kerberos.kdc import errors as E
from lanman.security.claims import STRING, ClaimAttribute

if TYPE_CHECKING:
    from lanman.authpolicy.resolve import EffectivePolicy
    from lanman.kerberos.kdc.core import KdcCore, Request, TicketInfo
    from lanman.security.token import SecurityToken

__all__ = [
    "SILO_CLAIM_ID",
    "Identity",
    "as_client_checks",
    "effective",
    "principal_identity",
    "service_check",
    "tgt_lifetime_cap",
]

SILO_CLAIM_ID = pac_claims.SILO_CLAIM_ID


@dataclass(frozen=True, slots=True)
class Identity:
    """What a token is built from: SIDs (user first), domain-local group SIDs and claims."""

    name: str
    sid: str
    sids: tuple[str, ...]
    domain_local: tuple[str, ...] = ()
    claims: dict[str, ClaimAttribute] | None = None


def effective(core: KdcCore, principal: Any) -> EffectivePolicy | None:
    """The policy governing ``principal`` (None: none, or the directory has no policies)."""
    if principal is None:
        return None
    cfg = core.dir.authn_config()
    if cfg is None or not cfg.policies:
        return None
    return core.dir.memo(
        ("policy", principal.rid), lambda: resolve.effective_policy(principal, cfg)
    )


def principal_identity(core: KdcCore, p: Any, *, asserted: str | None = None) -> Identity:
    """The identity of a directory principal as its PAC carries it: account SID, global and
    universal groups, ``asserted`` (S-1-18-1 for an AS ticket, S-1-18-2 for S4U2Self) and,
    when it belongs to an enforced silo, Claims Valid plus the silo claim."""
    dom = core.directory.domain_sid
    sids = [p.sid, *(f"{dom}-{r}" for r in p.group_rids), *p.extra_sids]
    if asserted:
        sids.append(asserted)
    claims = None
    cfg = core.dir.authn_config()
    silo = resolve.silo_claim(p, cfg) if cfg is not None else None
    if silo is not None:
        sids.append(tokens.CLAIMS_VALID)
        claims = {SILO_CLAIM_ID.lower(): ClaimAttribute(SILO_CLAIM_ID, STRING, (silo,))}
    local = tuple(f"{dom}-{r}" for r in getattr(p, "domain_local_rids", ()))
    return Identity(p.name, p.sid, tuple(sids), local, claims)


def pac_identity(core: KdcCore, name: str, pac: P.Pac) -> Identity | None:
    """The identity a verified PAC asserts (Windows trusts its own KDC's PAC, ExtraSids
    included): logon-info SIDs without resource groups, client claims, and the account's
    domain-local groups expanded from the directory (MS-PAC 2.2.1)."""
    logon = pac.get(P.PAC_LOGON_INFO)
    if logon is None:
        return None
    blob = pac.get(P.PAC_CLIENT_CLAIMS)

    def fetch() -> Identity | None:
        try:
            li = pac_logon.parse_logon_info(logon)
            claims = pac_claims.token_claims(blob) if blob else None
        except pac_claims.DuplicateClaimValueError:
            # a claim entry repeating a value fails the whole request, as on Windows
            raise E.KdcError(E.KRB_ERR_GENERIC, "duplicate values in a PAC claim") from None
        except P.PacError:
            return None
        sids = tuple(pac_logon.identity_sids(li, include_resource_groups=False))
        p = core.dir.find_principal(li.effective_name or name)
        dom = core.directory.domain_sid
        local = (
            tuple(f"{dom}-{r}" for r in getattr(p, "domain_local_rids", ()))
            if p is not None and p.sid == sids[0]
            else ()
        )
        return Identity(li.effective_name or name, sids[0], sids, local, claims)

    return core.dir.memo(("pac", logon, blob), fetch)


def ticket_identity(core: KdcCore, tkt: TicketInfo) -> Identity | None:
    """The identity behind a TGT this KDC issued (the FAST armor's device, a TGS client):
    from its PAC, or from the directory for a ticket without one."""
    if tkt.crealm.upper() != core.realm:
        return None
    if tkt.pac is not None:
        ident = pac_identity(core, "/".join(tkt.cname.components), tkt.pac)
        if ident is not None:
            return ident

    def fetch() -> Identity | None:
        p = core.lookup_client(tkt.cname)  # sAMAccountName or an SPN (kinit -k host/NAME)
        if p is None:
            return None
        return principal_identity(
            core, p, asserted=tokens.AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY
        )

    return core.dir.memo(("identity", tuple(tkt.cname.components)), fetch)


def _device_token(ident: Identity | None) -> SecurityToken | None:
    if ident is None:
        return None
    return tokens.device_token(ident.sids, ident.domain_local, ident.claims)


def _user_token(user: Identity, device: Identity | None) -> SecurityToken:
    return tokens.service_token(
        user.sids,
        user.domain_local,
        user.claims,
        device.sids if device is not None else None,
        device.domain_local if device is not None else (),
        device.claims if device is not None else None,
    )


def _report(
    core: KdcCore,
    v: Verdict,
    *,
    account: str,
    device: Identity | None,
    service: str = "",
    tgt_lifetime: int | None = None,
    code: int | None = None,
) -> None:
    event = v.event
    if event is None:
        return
    data = {
        "account": account,
        "realm": core.realm,
        "device": device.name if device is not None else "",
        "service": service,
        "policy": v.policy,
        "silo": v.silo,
        "reason": v.reason.value,
        "enforced": v.enforced,
        "client": core.client_address or "",
        "tgt_lifetime": "" if tgt_lifetime is None else tgt_lifetime,
    }
    if code is not None:
        data["code"] = code
    core.report(event, data)
    twin = _SECURITY_TWINS.get(event)
    if twin is not None:
        core.report(twin, data)


# enforced denials also go to the Security log (4820 TGT, 4821 service ticket)
_SECURITY_TWINS = {105: 4820, 106: 4821}


def tgt_lifetime_cap(eff: EffectivePolicy | None) -> int | None:
    """The enforced TGT lifetime in seconds (None: the defaults apply). A negative lifetime
    makes every ticket invalid: KDC_ERR_NEVER_VALID, as Windows answers."""
    if eff is None or not eff.enforced:
        return None
    secs = eff.tgt_lifetime_seconds
    if secs is None:
        return None
    if secs < 0:
        raise E.KdcError(
            E.KDC_ERR_NEVER_VALID,
            "authentication policy TGT lifetime is negative",
            status=STATUS_TIME_DIFFERENCE_AT_DC,
        )
    return secs


def as_client_checks(
    core: KdcCore, req: Request, client: Any, armor: TicketInfo | None
) -> tuple[EffectivePolicy | None, Identity | None]:
    """The client's From condition (before the password is checked, as Windows does: a wrong
    password with a denying condition still gets KDC_ERR_POLICY). Returns the client's
    effective policy and the device identity (for a service's To check)."""
    eff = effective(core, client)
    device = ticket_identity(core, armor) if armor is not None else None
    v = decide.check_allowed_from(eff, armored=armor is not None, device=_device_token(device))
    if v is None:
        return eff, device
    life = eff.tgt_lifetime_seconds if eff is not None else None
    code = _as_code(v)
    _report(core, v, account=client.name, device=device, tgt_lifetime=life, code=code)
    if v.refuse:
        status = STATUS_INVALID_WORKSTATION if v.reason is Reason.FAST_REQUIRED else None
        raise E.KdcError(code, f"authentication policy {v.policy}: {v.detail}", status=status)
    return eff, device


def _as_code(v: Verdict) -> int:
    if v.reason in (Reason.DESCRIPTOR_NO_OWNER, Reason.DESCRIPTOR_INVALID):
        return E.KRB_ERR_GENERIC
    return E.KDC_ERR_POLICY


def service_check(
    core: KdcCore,
    server: Any,
    user: Identity | Callable[[], Identity | None],
    device: Identity | None,
    *,
    service_name: str,
    tgs: bool,
) -> None:
    """The target's AllowedToAuthenticateTo for a ticket to ``server`` on behalf of ``user``
    (MS-KILE 3.3.5.7; ``user`` may be a function, called only when there is a condition).
    Authenticating to oneself is always allowed."""
    if server is None:
        return
    eff = effective(core, server)
    if eff is None or eff.allowed_to is None:
        return
    if callable(user):
        found = user()
        if found is None:
            return
        user = found
    if server.sid == user.sid:
        return
    u, dev = user, device
    v = core.dir.memo(
        ("to", server.rid, u.sids, u.domain_local, dev.sids if dev is not None else None),
        lambda: decide.check_allowed_to(eff, _user_token(u, dev)),
    )
    if v is None:
        return
    bad_sd = v.reason in (Reason.DESCRIPTOR_NO_OWNER, Reason.DESCRIPTOR_INVALID)
    status = STATUS_INVALID_PARAMETER if bad_sd else STATUS_AUTHENTICATION_FIREWALL_FAILED
    code = E.KRB_ERR_GENERIC if bad_sd and not tgs else E.KDC_ERR_POLICY
    _report(core, v, account=user.name, device=device, service=service_name, code=code)
    if v.refuse:
        raise E.KdcError(
            code, f"authentication policy {v.policy} of {server.name}: {v.detail}", status=status
        )
