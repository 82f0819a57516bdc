"""The security tokens authentication-policy conditions are checked against.

Windows builds them from PACs, not from the directory (it trusts what its KDC signed). The SID
sets follow the Windows-validated tests (MS-KILE 3.3.5.6/3.3.5.7 leave them open):

==========================================================  ==============
SID                                                         in the token?
==========================================================  ==============
the account and its global/universal groups (from the PAC)  yes
its domain-local groups (expanded by the KDC)               yes
resource groups already in the PAC (ResourceGroupIds)       no
Everyone S-1-1-0, Authenticated Users S-1-5-11              yes (added)
Authentication authority asserted identity S-1-18-1         yes, if in the PAC
Claims Valid S-1-5-21-0-0-0-497                             yes, if in the PAC
Network S-1-5-2, Service asserted identity S-1-18-2,        no
Compounded Authentication S-1-5-21-0-0-0-496, NTLM S-1-5-64-10
==========================================================  ==============

Claims count only when Claims Valid is among the SIDs. In a From check the *device* is the
user of the access check: its SIDs are the token's SIDs and its claims the ``@User`` claims.
In a To check the user's SIDs are the token's SIDs and the armor's are the device SIDs.
For NTLM there are no claims and no device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lanman.security.claims import ClaimAttribute
from lanman.security.token import SecurityToken

__all__ = [
    "AUTHENTICATED_USERS",
    "AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY",
    "CLAIMS_VALID",
    "COMPOUNDED_AUTHENTICATION",
    "EVERYONE",
    "NETWORK",
    "NTLM_AUTHENTICATION",
    "SERVICE_ASSERTED_IDENTITY",
    "device_token",
    "identity_sids",
    "ntlm_token",
    "service_token",
]

EVERYONE = "S-1-1-0"
NETWORK = "S-1-5-2"
AUTHENTICATED_USERS = "S-1-5-11"
AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY = "S-1-18-1"
SERVICE_ASSERTED_IDENTITY = "S-1-18-2"
COMPOUNDED_AUTHENTICATION = "S-1-5-21-0-0-0-496"
CLAIMS_VALID = "S-1-5-21-0-0-0-497"
NTLM_AUTHENTICATION = "S-1-5-64-10"

_NEVER = frozenset(
    {NETWORK, SERVICE_ASSERTED_IDENTITY, COMPOUNDED_AUTHENTICATION, NTLM_AUTHENTICATION}
)
_ALWAYS = (EVERYONE, AUTHENTICATED_USERS)


def identity_sids(pac_sids: Iterable[str], domain_local: Iterable[str] = ()) -> frozenset[str]:
    """The SIDs of one identity (user or device) as a policy check sees them."""
    out = {s.upper() for s in pac_sids if s.upper() not in _NEVER}
    out.update(s.upper() for s in domain_local)
    out.update(_ALWAYS)
    return frozenset(out)


def _claims(sids: frozenset[str], claims: Mapping[str, ClaimAttribute] | None) -> dict:
    if not claims or CLAIMS_VALID not in sids:
        return {}
    return {k.lower(): v for k, v in claims.items()}


def device_token(
    device_sids: Iterable[str],
    domain_local: Iterable[str] = (),
    claims: Mapping[str, ClaimAttribute] | None = None,
) -> SecurityToken:
    """Token for an AllowedToAuthenticateFrom check: the armor's device is the user."""
    sids = identity_sids(device_sids, domain_local)
    return SecurityToken(sids=sids, user_claims=_claims(sids, claims))


def service_token(
    user_sids: Iterable[str],
    user_domain_local: Iterable[str] = (),
    user_claims: Mapping[str, ClaimAttribute] | None = None,
    device_sids: Iterable[str] | None = None,
    device_domain_local: Iterable[str] = (),
    device_claims: Mapping[str, ClaimAttribute] | None = None,
) -> SecurityToken:
    """Token for an AllowedToAuthenticateTo check: plain SID ACEs see only the user; the
    armor's device is reached through Device_Member_of and @Device. claims."""
    sids = identity_sids(user_sids, user_domain_local)
    dsids: frozenset[str] = frozenset()
    dclaims: dict = {}
    if device_sids is not None:
        dsids = identity_sids(device_sids, device_domain_local)
        dclaims = _claims(dsids, device_claims)
    return SecurityToken(
        sids=sids,
        device_sids=dsids,
        user_claims=_claims(sids, user_claims),
        device_claims=dclaims,
    )


def ntlm_token(user_sids: Iterable[str], domain_local: Iterable[str] = ()) -> SecurityToken:
    """Token for an NTLM server's AllowedTo check: the user only, no claims (MS-APDS 3.1.5)."""
    sids = identity_sids(
        (
            s
            for s in user_sids
            if s.upper() not in (CLAIMS_VALID, AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY)
        ),
        domain_local,
    )
    return SecurityToken(sids=sids)
