"""The checks of an effective policy and their outcome (MS-KILE 3.3.5.6/3.3.5.7, MS-APDS 3.1.5).

Each check returns None when the policy has nothing to say, or a :class:`Verdict`: whether the
condition failed, why, and — because an unenforced (audit-mode) policy never changes the reply —
whether the caller must refuse. The protocol layer maps ``reason`` to its own error (KDC:
KDC_ERR_POLICY and friends; NTLM: an NTSTATUS) and logs ``event`` (1xx enforced, 3xx audit).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lanman.authpolicy.resolve import EffectivePolicy
from lanman.security.access import authn_policy_check
from lanman.security.token import SecurityToken

__all__ = [
    "Reason",
    "Verdict",
    "check_allowed_from",
    "check_allowed_to",
    "check_ntlm_client",
    "check_ntlm_server",
]


class Reason(enum.StrEnum):
    """Why a condition failed (the audit reasons Samba logs; Windows logs the same cases)."""

    FAST_REQUIRED = "FAST_REQUIRED"  # a From condition needs a FAST-armored AS-REQ
    ACCESS_DENIED = "ACCESS_DENIED"  # the descriptor does not grant CONTROL_ACCESS
    DESCRIPTOR_NO_OWNER = "DESCRIPTOR_NO_OWNER"
    DESCRIPTOR_INVALID = "DESCRIPTOR_INVALID"
    NTLM_NOT_ALLOWED = "NTLM_NOT_ALLOWED"  # From condition + AllowedNTLMNetworkAuthentication off


class Check(enum.StrEnum):
    FROM = "from"  # AllowedToAuthenticateFrom, Kerberos AS
    TO = "to"  # AllowedToAuthenticateTo, Kerberos (TGS, or AS for a service)
    NTLM_CLIENT = "ntlm-client"
    NTLM_SERVER = "ntlm-server"


# (enforced, audit) event ids per check (Microsoft-Windows-Authentication channels)
_EVENTS = {
    Check.FROM: (105, 305),
    Check.TO: (106, 306),
    Check.NTLM_CLIENT: (101, None),  # NTLM has no audit event
    Check.NTLM_SERVER: (None, None),  # nor an event for the server restriction
}


@dataclass(frozen=True, slots=True)
class Verdict:
    check: Check
    reason: Reason
    enforced: bool
    policy: str
    silo: str
    detail: str

    @property
    def refuse(self) -> bool:
        """True when the reply must change (the policy is enforced)."""
        return self.enforced

    @property
    def event(self) -> int | None:
        enforced, audit = _EVENTS[self.check]
        return enforced if self.enforced else audit


def _verdict(eff: EffectivePolicy, check: Check, reason: Reason, detail: str) -> Verdict:
    return Verdict(check, reason, eff.enforced, eff.policy_name, eff.silo_name, detail)


def _access(eff: EffectivePolicy, check: Check, sd: bytes, token: SecurityToken) -> Verdict | None:
    result = authn_policy_check(sd, token)
    if result.allowed:
        return None
    if result.reason == "security descriptor has no owner":
        return _verdict(eff, check, Reason.DESCRIPTOR_NO_OWNER, result.reason)
    if result.reason.startswith("invalid security descriptor"):
        return _verdict(eff, check, Reason.DESCRIPTOR_INVALID, result.reason)
    return _verdict(eff, check, Reason.ACCESS_DENIED, result.reason)


def check_allowed_from(
    eff: EffectivePolicy | None, *, armored: bool, device: SecurityToken | None
) -> Verdict | None:
    """AS-REQ of the policy's account: a From condition, whatever it says, needs FAST armor
    with a device TGT; then the device token must be granted CONTROL_ACCESS."""
    if eff is None or eff.allowed_from is None:
        return None
    if not armored or device is None:
        return _verdict(eff, Check.FROM, Reason.FAST_REQUIRED, "the request was not FAST-armored")
    return _access(eff, Check.FROM, eff.allowed_from, device)


def check_allowed_to(eff: EffectivePolicy | None, token: SecurityToken) -> Verdict | None:
    """A ticket to the policy's account (the service): the client's token (plus device)."""
    if eff is None or eff.allowed_to is None:
        return None
    return _access(eff, Check.TO, eff.allowed_to, token)


def check_ntlm_client(eff: EffectivePolicy | None) -> Verdict | None:
    """NTLM logon of the policy's account: a From condition cannot be applied to NTLM, so it is
    refused unless AllowedNTLMNetworkAuthentication is set (the condition is not evaluated)."""
    if eff is None or eff.allowed_from is None or eff.allow_ntlm:
        return None
    return _verdict(
        eff,
        Check.NTLM_CLIENT,
        Reason.NTLM_NOT_ALLOWED,
        "the policy has access control restrictions and does not allow NTLM",
    )


def check_ntlm_server(eff: EffectivePolicy | None, token: SecurityToken) -> Verdict | None:
    """NTLM logon *to* the policy's account (the server): its To condition on the user."""
    if eff is None or eff.allowed_to is None:
        return None
    v = _access(eff, Check.NTLM_SERVER, eff.allowed_to, token)
    return v
