"""What an NTLM logon at a DC answers under Protected Users and authentication policies
(MS-APDS 3.1.5, as Windows behaves in Samba's Windows-validated tests).

Three refusals, in this order:

1. **Protected Users** (before the password is checked): STATUS_ACCOUNT_RESTRICTION, events
   100 and 4822. It takes precedence over any policy.
2. **Client restriction** (before the password is checked, so a wrong password gets the same
   answer and counts no bad password): the user's effective policy has an
   AllowedToAuthenticateFrom condition and AllowedNTLMNetworkAuthentication is not set. The
   condition itself is never evaluated (NTLM has no device). Enforced:
   STATUS_ACCOUNT_RESTRICTION, events 101 and 4823; audit mode: allowed, no event (Windows
   has no audit event for NTLM). Computers never get it (their class has no From condition).
3. **Server restriction** (after a correct password): the *server* account's effective policy
   has an AllowedToAuthenticateTo condition; it is evaluated against the user's token (SIDs
   only, no claims, no device). Enforced and denied: STATUS_AUTHENTICATION_FIREWALL_FAILED.

Pure: the caller looks the accounts up, emits ``events`` and answers ``status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lanman.authpolicy.decide import Verdict, check_ntlm_client, check_ntlm_server
from lanman.authpolicy.resolve import effective_policy
from lanman.authpolicy.tokens import ntlm_token
from lanman.directory.authn import AuthnConfig
from lanman.errors.ntstatus import (
    STATUS_ACCOUNT_RESTRICTION,
    STATUS_AUTHENTICATION_FIREWALL_FAILED,
)

__all__ = [
    "NtlmDenial",
    "ntlm_client_denial",
    "ntlm_server_denial",
    "protected_user_denial",
    "server_restricted",
    "user_domain_local_sids",
    "user_token_sids",
]


@dataclass(frozen=True, slots=True)
class NtlmDenial:
    """An NTLM logon refused: the NTSTATUS to answer, the reason text for the logon-failure
    event and the catalogue events (name, fields) to write."""

    status: int
    reason: str
    events: tuple[tuple[str, dict[str, str]], ...] = ()
    verdict: Verdict | None = field(default=None, compare=False)


def _code(status: int) -> str:
    return f"0x{status:08X}"


def protected_user_denial(account: str, device: str) -> NtlmDenial:
    """A member of Protected Users logs on with NTLM (MS-APDS 3.1.5): refused, 100 + 4822."""
    data = {"account": account, "device": device, "status": _code(STATUS_ACCOUNT_RESTRICTION)}
    return NtlmDenial(
        STATUS_ACCOUNT_RESTRICTION,
        f"{account} is in Protected Users: NTLM is not allowed",
        (("PROTECTED_USER_NTLM_FAILURE", data), ("SECURITY_NTLM_PROTECTED_USER", dict(data))),
    )


def ntlm_client_denial(user: Any, cfg: AuthnConfig | None, device: str) -> NtlmDenial | None:
    """The client restriction for ``user`` (a Principal), or None when the logon may go on."""
    v = check_ntlm_client(effective_policy(user, cfg))
    if v is None or not v.refuse:
        return None  # audit mode: allowed and, NTLM having no audit event, nothing logged
    data = {
        "account": user.name,
        "device": device,
        "status": _code(STATUS_ACCOUNT_RESTRICTION),
        "policy": v.policy,
        "silo": v.silo,
    }
    return NtlmDenial(
        STATUS_ACCOUNT_RESTRICTION,
        f"authentication policy {v.policy!r}"
        + (f" (silo {v.silo!r})" if v.silo else "")
        + f" of {user.name}: {v.detail}",
        (("AUTHN_POLICY_NTLM_FAILURE", data), ("SECURITY_NTLM_POLICY_REQUIRED", dict(data))),
        v,
    )


def user_token_sids(user: Any) -> list[str]:
    """The user's SID and its global/universal group SIDs (the NTLM PAC's GroupIds)."""
    domain_sid = user.sid.rsplit("-", 1)[0]
    return [user.sid, *(f"{domain_sid}-{rid}" for rid in user.group_rids), *user.extra_sids]


def user_domain_local_sids(user: Any) -> list[str]:
    """The SIDs of the user's domain-local groups, which the DC adds to the token."""
    domain_sid = user.sid.rsplit("-", 1)[0]
    return [f"{domain_sid}-{rid}" for rid in getattr(user, "domain_local_rids", ())]


def server_restricted(server: Any | None, cfg: AuthnConfig | None) -> bool:
    """Whether ``server``'s effective policy has a To condition (the user need not be read
    when it has none)."""
    if server is None:
        return False
    eff = effective_policy(server, cfg)
    return eff is not None and eff.allowed_to is not None


def ntlm_server_denial(
    server: Any | None,
    user: Any,
    cfg: AuthnConfig | None,
    domain_local: Iterable[str] | None = None,
) -> NtlmDenial | None:
    """The server restriction: ``server`` (the account the NTLM server runs as; None: it has
    none, nothing to check) and its To condition on ``user``'s token (its domain-local groups
    from ``user.domain_local_rids`` unless given). None: allowed."""
    if server is None:
        return None
    eff = effective_policy(server, cfg)
    if eff is None or eff.allowed_to is None:
        return None
    local = user_domain_local_sids(user) if domain_local is None else domain_local
    v = check_ntlm_server(eff, ntlm_token(user_token_sids(user), local))
    if v is None or not v.refuse:
        return None
    return NtlmDenial(
        STATUS_AUTHENTICATION_FIREWALL_FAILED,
        f"authentication policy {v.policy!r}"
        + (f" (silo {v.silo!r})" if v.silo else "")
        + f" of {server.name} does not allow {user.name} to authenticate to it: {v.detail}",
        (),
        v,
    )
