"""What the KDC would decide for one account, device and service — without a network exchange.

:func:`simulate` runs the same building blocks the KDC runs (:mod:`resolve`, :mod:`tokens`,
:mod:`decide`) against the directory as it is now: the account's effective policy, the
AllowedToAuthenticateFrom check of an AS-REQ armored with the device's TGT (no device means an
unarmored AS-REQ: FAST_REQUIRED), the TGT lifetime, the service's AllowedToAuthenticateTo
check of a TGS-REQ, the NTLM restriction, and the Kerberos error Windows would answer with.

The token builders :func:`principal_sids`, :func:`domain_local_sids` and
:func:`silo_claims` build identities by the rules of the KDC's
``lanman.kerberos.kdc.authn.principal_identity`` (this module sits below the KDC and does not
import it), and :func:`kdc_error` follows that module's error table;
tests/unit/test_authn_simulate_kdc.py runs both on the same directory and compares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lanman.authpolicy.decide import (
    Check,
    Reason,
    Verdict,
    check_allowed_from,
    check_allowed_to,
    check_ntlm_client,
)
from lanman.authpolicy.resolve import EffectivePolicy, effective_policy, silo_claim
from lanman.authpolicy.tokens import (
    AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY,
    CLAIMS_VALID,
    device_token,
    service_token,
)
from lanman.directory.authn import TICKS_PER_MINUTE, AuthnConfig
from lanman.directory.errors import DirectoryError
from lanman.errors.ntstatus import (
    STATUS_ACCOUNT_RESTRICTION,
    STATUS_AUTHENTICATION_FIREWALL_FAILED,
    STATUS_INVALID_PARAMETER,
    STATUS_INVALID_WORKSTATION,
    STATUS_TIME_DIFFERENCE_AT_DC,
    lookup,
)
from lanman.kerberos.kdc.errors import KDC_ERR_NEVER_VALID, KDC_ERR_POLICY, KRB_ERR_GENERIC
from lanman.security.claims import ClaimAttribute
from lanman.security.token import claim_from_python

if TYPE_CHECKING:
    from lanman.directory.directory import Directory
    from lanman.directory.model import Principal

__all__ = [
    "SILO_CLAIM",
    "domain_local_sids",
    "kdc_error",
    "principal_sids",
    "silo_claims",
    "simulate",
]

#: The claim that carries an account's (enforced) silo (MS-ADTS 3.1.1.11.2.18).
SILO_CLAIM = "ad://ext/AuthenticationSilo"

_KRB_NAMES = {
    KDC_ERR_POLICY: "KDC_ERR_POLICY",
    KRB_ERR_GENERIC: "KRB_ERR_GENERIC",
    KDC_ERR_NEVER_VALID: "KDC_ERR_NEVER_VALID",
}


def principal_sids(
    principal: Principal,
    domain_sid: str,
    *,
    asserted: str | None = AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY,
    claims_valid: bool = False,
) -> list[str]:
    """The SIDs a PAC of ``principal`` carries, as a policy check reads them: the account's
    SID, its global and universal groups (``group_rids``: the nested closure, primary group
    included) under the domain SID, its extra SIDs, ``asserted`` (S-1-18-1 for an AS ticket,
    S-1-18-2 for S4U2Self, None for neither) and Claims Valid when the PAC has claims (the
    account belongs to an enforced silo). The same rules as the KDC's
    ``lanman.kerberos.kdc.authn.principal_identity``; domain-local groups are
    :func:`domain_local_sids`."""
    out = [principal.sid]
    out += [f"{domain_sid}-{rid}" for rid in principal.group_rids]
    out += list(principal.extra_sids)
    if asserted:
        out.append(asserted)
    if claims_valid:
        out.append(CLAIMS_VALID)
    seen: dict[str, None] = {}
    for sid in out:
        seen.setdefault(sid.upper(), None)
    return list(seen)


def domain_local_sids(principal: Principal, domain_sid: str) -> list[str]:
    """The domain-local groups of ``principal`` (nested), which the KDC adds to the token."""
    return [f"{domain_sid}-{rid}" for rid in getattr(principal, "domain_local_rids", ())]


def silo_claims(principal: Principal, cfg: AuthnConfig | None) -> dict[str, ClaimAttribute]:
    """``{ad://ext/AuthenticationSilo: silo}`` when the account belongs to an enforced silo."""
    silo = silo_claim(principal, cfg)
    if silo is None:
        return {}
    return {SILO_CLAIM: claim_from_python(SILO_CLAIM, silo)}


def _error(code: int, status: int | None) -> dict[str, Any]:
    return {
        "code": code,
        "name": _KRB_NAMES[code],
        "status": None if status is None else f"0x{status:08X}",
        "status_name": None if status is None else lookup(status).name,
    }


def kdc_error(verdict: Verdict, *, as_req: bool) -> dict[str, Any] | None:
    """The KRB-ERROR (code, and the NTSTATUS of its KERB-EXT-ERROR) the KDC answers an
    enforced denial with; None when the reply is unchanged (audit mode). The table of
    ``lanman.kerberos.kdc.authn`` (Windows' answers in Samba's Windows-validated tests):

    * From, not armored (FAST_REQUIRED): KDC_ERR_POLICY, STATUS_INVALID_WORKSTATION;
    * From, armored, device not granted: KDC_ERR_POLICY without a status;
    * From, descriptor without owner or invalid: KRB_ERR_GENERIC;
    * To: KDC_ERR_POLICY, STATUS_AUTHENTICATION_FIREWALL_FAILED; a To descriptor without owner
      is STATUS_INVALID_PARAMETER, with KRB_ERR_GENERIC in an AS exchange.
    """
    if not verdict.refuse:
        return None
    bad_sd = verdict.reason in (Reason.DESCRIPTOR_NO_OWNER, Reason.DESCRIPTOR_INVALID)
    if verdict.check is Check.FROM:
        if bad_sd:
            return _error(KRB_ERR_GENERIC, None)
        fast = verdict.reason is Reason.FAST_REQUIRED
        return _error(KDC_ERR_POLICY, STATUS_INVALID_WORKSTATION if fast else None)
    status = STATUS_INVALID_PARAMETER if bad_sd else STATUS_AUTHENTICATION_FIREWALL_FAILED
    return _error(KRB_ERR_GENERIC if bad_sd and as_req else KDC_ERR_POLICY, status)


# enforced denials are also written to the Security log (4820 TGT, 4821 service ticket)
SECURITY_TWINS = {105: 4820, 106: 4821}


def _events(v: Verdict | None) -> list[int]:
    if v is None or v.event is None:
        return []
    twin = SECURITY_TWINS.get(v.event)
    return [v.event] if twin is None else [v.event, twin]


def _verdict_json(v: Verdict | None, *, as_req: bool) -> dict[str, Any]:
    if v is None:
        return {"outcome": "allowed", "reason": None, "detail": None, "event": None, "error": None}
    return {
        "outcome": "denied" if v.refuse else "audit",
        "reason": v.reason.value,
        "detail": v.detail,
        "event": v.event,
        "error": kdc_error(v, as_req=as_req),
    }


def _ntlm_json(v: Verdict | None) -> dict[str, Any]:
    """An NTLM logon of the account: refused with STATUS_ACCOUNT_RESTRICTION when enforced
    (what Samba's NTLM acceptor answers; MS-APDS 3.1.5 names no status)."""
    out = _verdict_json(v, as_req=False)
    if v is not None and v.refuse:
        out["error"] = {
            "code": None,
            "name": None,
            "status": f"0x{STATUS_ACCOUNT_RESTRICTION:08X}",
            "status_name": "STATUS_ACCOUNT_RESTRICTION",
        }
    return out


def _policy_json(eff: EffectivePolicy | None) -> dict[str, Any] | None:
    if eff is None:
        return None
    life = eff.tgt_lifetime
    return {
        "name": eff.policy_name,
        "silo": eff.silo_name or None,
        "enforced": eff.enforced,
        "account_class": eff.account_class.value,
        "tgt_lifetime_mins": life // TICKS_PER_MINUTE if life else None,
        "has_allowed_from": eff.allowed_from is not None,
        "has_allowed_to": eff.allowed_to is not None,
        "allow_ntlm": eff.allow_ntlm,
    }


def _member_silo(account: Principal, cfg: AuthnConfig) -> str | None:
    """The silo ``account`` belongs to (assigned and a member), enforced or not."""
    silo = cfg.silo(account.assigned_silo)
    return silo.name if silo is not None and account.rid in silo.members else None


def _require(directory: Directory, name: str, what: str) -> Principal:
    p = directory.find_principal(name)
    if p is None and what == "device" and not name.endswith("$"):
        p = directory.find_principal(name + "$")
    if p is None:
        raise DirectoryError(
            f"{what} {name!r} does not exist",
            "`lanman user list` / `lanman computer list` / `lanman spn list` show them",
            "NERR_UserNotFound",
        )
    return p


def simulate(
    directory: Directory,
    account: str,
    device: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """The KDC's policy decisions for ``account`` logging on (AS-REQ armored with ``device``'s
    TGT, or unarmored when None) and asking for a ticket to ``service`` (SPN or account name).

    Returns a dict: the accounts, the effective ``policy`` (None if none applies), ``as`` (the
    From check), ``tgt_lifetime_mins`` (what the TGT would be capped to; None = the domain's
    default), ``tgs`` (the service's To check, when a service was given), ``ntlm`` (the NTLM
    restriction), ``events`` (event ids that would be logged), ``issued`` and ``error`` (the
    first KRB-ERROR the exchange would end with, or None)."""
    cfg = directory.authn_config()
    dom = directory.domain_sid
    user = _require(directory, account, "account")
    dev = _require(directory, device, "device") if device else None
    svc = _require(directory, service, "service") if service else None

    def identity(p: Principal) -> tuple[list[str], list[str], dict[str, ClaimAttribute]]:
        claims = silo_claims(p, cfg)
        return principal_sids(p, dom, claims_valid=bool(claims)), domain_local_sids(p, dom), claims

    eff = effective_policy(user, cfg)
    dev_id = identity(dev) if dev is not None else None
    dtoken = device_token(*dev_id) if dev_id is not None else None
    from_v = check_allowed_from(eff, armored=dev is not None, device=dtoken)
    events = _events(from_v)
    as_result = _verdict_json(from_v, as_req=True)
    as_result["armored"] = dev is not None
    error = as_result["error"]
    life = eff.tgt_lifetime if eff is not None and eff.enforced else None
    if error is None and life is not None and life < 0:
        # an enforced negative lifetime makes every ticket invalid (as Windows answers)
        error = _error(KDC_ERR_NEVER_VALID, STATUS_TIME_DIFFERENCE_AT_DC)
        as_result["error"] = error
    result: dict[str, Any] = {
        "account": user.name,
        "account_sid": user.sid,
        "device": dev.name if dev else None,
        "service": service,
        "service_account": svc.name if svc else None,
        "silo": _member_silo(user, cfg),
        "policy": _policy_json(eff),
        "as": as_result,
        "tgt_lifetime_mins": life // TICKS_PER_MINUTE if life and life > 0 else None,
        "tgs": None,
        "ntlm": _ntlm_json(check_ntlm_client(eff)),
    }
    if svc is not None:
        seff = effective_policy(svc, cfg)
        if svc.sid == user.sid:
            to_v = None  # authenticating to oneself is always allowed
        else:
            usids, ulocal, uclaims = identity(user)
            utoken = service_token(
                usids,
                ulocal,
                uclaims,
                device_sids=dev_id[0] if dev_id else None,
                device_domain_local=dev_id[1] if dev_id else (),
                device_claims=dev_id[2] if dev_id else None,
            )
            to_v = check_allowed_to(seff, utoken)
        tgs = _verdict_json(to_v, as_req=False)
        tgs["policy"] = _policy_json(seff)
        tgs["reached"] = error is None  # an AS refusal leaves no TGT to ask with
        result["tgs"] = tgs
        if tgs["reached"]:
            events += _events(to_v)
            error = tgs["error"]
    result["events"] = events
    result["error"] = error
    result["issued"] = error is None
    return result
