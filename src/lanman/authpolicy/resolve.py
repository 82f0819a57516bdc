"""Which authentication policy governs an account (MS-KILE 3.3.5.4, 3.3.5.5).

The rules, as Windows applies them (Samba's Windows-validated tests; where MS-KILE's text
differs, the tests win):

* below DC functional level 2012 R2 (6) there are no policies;
* the account *belongs* to a silo only when msDS-AssignedAuthNPolicySilo names the silo **and**
  the silo's msDS-AuthNPolicySiloMembers lists the account; then the silo's policy for the
  account's class applies, the silo's own Enforced flag governs (the policy's flag is
  ignored), and the account's directly assigned policy is ignored — even when the silo has no
  policy for the class;
* otherwise the directly assigned policy applies, with its own Enforced flag;
* links to objects that do not exist are ignored;
* the built-in Administrator (RID 500) is always exempt (Microsoft's Protected Accounts page).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from lanman.directory.authn import (
    DS_BEHAVIOR_WIN2012R2,
    DS_BEHAVIOR_WIN2016,
    AuthnConfig,
    AuthnPolicy,
    AuthnSilo,
)

__all__ = ["AccountClass", "EffectivePolicy", "classify", "effective_policy", "silo_claim"]

_SERVICE_CLASSES = frozenset(
    c.lower()
    for c in (
        "msDS-ManagedServiceAccount",
        "msDS-GroupManagedServiceAccount",
        "msDS-DelegatedManagedServiceAccount",
    )
)
DOMAIN_RID_ADMINISTRATOR = 500


class AccountClass(enum.StrEnum):
    """The three account types a policy has attributes for (MS-KILE 3.3.1.1)."""

    USER = "User"
    COMPUTER = "Computer"
    SERVICE = "Service"


def classify(account: Any) -> AccountClass | None:
    """User, Computer or Service (managed service accounts, group MSAs and delegated MSAs, as
    MS-KILE and Microsoft's documentation say); None for krbtgt and non-accounts."""
    kind = getattr(account, "kind", "user")
    if kind == "krbtgt":
        return None
    oc = (getattr(account, "object_class", None) or "").lower()
    if oc in _SERVICE_CLASSES:
        return AccountClass.SERVICE
    if kind == "computer" or oc == "computer":
        return AccountClass.COMPUTER
    return AccountClass.USER


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """The policy that applies to one account, with the attributes of its class."""

    policy: AuthnPolicy
    enforced: bool
    silo: AuthnSilo | None  # the silo the account belongs to, if the policy came from it
    account_class: AccountClass
    tgt_lifetime: int | None  # 100 ns ticks; None or 0 = no lifetime set
    allowed_from: bytes | None  # security descriptor, or None when absent
    allowed_to: bytes | None
    allow_ntlm: bool  # AllowedNTLMNetworkAuthentication (False below level 2016)

    @property
    def policy_name(self) -> str:
        return self.policy.name

    @property
    def silo_name(self) -> str:
        return self.silo.name if self.silo is not None else ""

    @property
    def tgt_lifetime_seconds(self) -> int | None:
        """The enforced TGT lifetime in seconds (None: none). Ticks may be negative."""
        t = self.tgt_lifetime
        return None if not t else t // 10_000_000


def _belongs(account: Any, cfg: AuthnConfig) -> AuthnSilo | None:
    silo = cfg.silo(getattr(account, "assigned_silo", None))
    if silo is not None and getattr(account, "rid", None) in silo.members:
        return silo
    return None


def effective_policy(account: Any, cfg: AuthnConfig | None) -> EffectivePolicy | None:
    """The policy governing ``account`` (a Principal), or None (MS-KILE 3.3.5.5)."""
    if cfg is None or cfg.dc_functional_level < DS_BEHAVIOR_WIN2012R2:
        return None
    kind = classify(account)
    if kind is None or getattr(account, "rid", None) == DOMAIN_RID_ADMINISTRATOR:
        return None
    silo = _belongs(account, cfg)
    if silo is not None:
        link = {
            AccountClass.USER: silo.user_policy,
            AccountClass.COMPUTER: silo.computer_policy,
            AccountClass.SERVICE: silo.service_policy,
        }[kind]
        policy = cfg.policy(link)
        enforced = silo.enforced
    else:
        policy = cfg.policy(getattr(account, "assigned_policy", None))
        enforced = policy.enforced if policy is not None else False
    if policy is None:
        return None
    ntlm_ok = cfg.dc_functional_level >= DS_BEHAVIOR_WIN2016
    if kind is AccountClass.USER:
        life, frm, to = policy.user_tgt_lifetime, policy.user_allowed_from, policy.user_allowed_to
        ntlm = policy.user_allow_ntlm
    elif kind is AccountClass.SERVICE:
        life, frm = policy.service_tgt_lifetime, policy.service_allowed_from
        to, ntlm = policy.service_allowed_to, policy.service_allow_ntlm
    else:  # computers have no From condition and no NTLM switch (MS-KILE 3.3.5.5)
        life, frm, to, ntlm = policy.computer_tgt_lifetime, None, policy.computer_allowed_to, False
    return EffectivePolicy(
        policy=policy,
        enforced=enforced,
        silo=silo,
        account_class=kind,
        tgt_lifetime=life,
        allowed_from=frm,
        allowed_to=to,
        allow_ntlm=bool(ntlm) and ntlm_ok,
    )


def silo_claim(account: Any, cfg: AuthnConfig | None) -> str | None:
    """The value of the ``ad://ext/AuthenticationSilo`` claim for ``account``: the name of an
    *enforced* silo it is assigned to and a member of (MS-ADTS 3.1.1.11.2.18), else None."""
    if cfg is None or cfg.dc_functional_level < DS_BEHAVIOR_WIN2012R2 or classify(account) is None:
        return None
    silo = _belongs(account, cfg)
    return silo.name if silo is not None and silo.enforced else None
