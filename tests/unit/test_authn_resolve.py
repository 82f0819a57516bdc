"""Effective-policy resolution: one test per row of the Windows-validated table (MS-KILE
3.3.5.4/3.3.5.5 as corrected by Samba's authn_policy_tests.py, written against Windows)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lanman.authpolicy.resolve import AccountClass, classify, effective_policy, silo_claim
from lanman.directory.authn import AuthnConfig, AuthnPolicy, AuthnSilo

H = 3600 * 10_000_000  # one hour in 100 ns ticks


def acct(rid=1105, kind="user", policy=None, silo=None, object_class=None):
    return SimpleNamespace(
        rid=rid,
        kind=kind,
        assigned_policy=policy,
        assigned_silo=silo,
        object_class=object_class or ("computer" if kind == "computer" else "user"),
    )


def cfg(policies=(), silos=(), level=7):
    return AuthnConfig(
        policies={p.name.lower(): p for p in policies},
        silos={s.name.lower(): s for s in silos},
        dc_functional_level=level,
    )


DIRECT = AuthnPolicy(
    "direct",
    enforced=True,
    user_tgt_lifetime=2 * H,
    computer_tgt_lifetime=3 * H,
    service_tgt_lifetime=4 * H,
)
SILO_POL = AuthnPolicy(
    "silopol",
    enforced=True,
    user_tgt_lifetime=5 * H,
    computer_tgt_lifetime=6 * H,
    service_tgt_lifetime=7 * H,
)


def life(account, c):
    eff = effective_policy(account, c)
    return None if eff is None else (eff.policy_name, eff.enforced, eff.tgt_lifetime)


@pytest.mark.parametrize(
    ("kind", "oc", "expected"),
    [
        ("user", None, 2 * H),
        ("computer", None, 3 * H),
        ("user", "msDS-ManagedServiceAccount", 4 * H),
        ("computer", "msDS-GroupManagedServiceAccount", 4 * H),
    ],
)
def test_directly_assigned_enforced_policy_per_class(kind, oc, expected):
    """Row: policy directly assigned, enforced -> lifetime of the account's class applied
    (test_authn_policy_tgt_lifetime_{user,computer,service}; gMSA -> Service per MS-KILE)."""
    a = acct(kind=kind, policy="direct", object_class=oc)
    assert life(a, cfg([DIRECT])) == ("direct", True, expected)


@pytest.mark.parametrize("enforced", [False])
def test_direct_policy_unenforced_is_audit_only(enforced):
    """Row: policy assigned, Enforced absent/FALSE -> not applied (audit only)."""
    p = AuthnPolicy("p", enforced=enforced, user_tgt_lifetime=H)
    assert life(acct(policy="p"), cfg([p])) == ("p", False, H)


@pytest.mark.parametrize(
    ("kind", "oc", "expected"),
    [
        ("user", None, 5 * H),
        ("computer", None, 6 * H),
        ("user", "msDS-ManagedServiceAccount", 7 * H),
    ],
)
def test_silo_member_and_assigned_gets_silo_policy_per_class(kind, oc, expected):
    """Row: silo assigned + member, silo enforced -> the silo's per-class policy."""
    s = AuthnSilo(
        "s",
        enforced=True,
        user_policy="silopol",
        computer_policy="silopol",
        service_policy="silopol",
        members=frozenset({1105}),
    )
    a = acct(kind=kind, silo="s", object_class=oc)
    assert life(a, cfg([SILO_POL], [s])) == ("silopol", True, expected)


def test_silo_policy_wins_over_direct_policy():
    """Row: silo assigned+member and a different directly assigned policy -> silo policy."""
    s = AuthnSilo("s", enforced=True, user_policy="silopol", members=frozenset({1105}))
    assert life(acct(policy="direct", silo="s"), cfg([DIRECT, SILO_POL], [s]))[0] == "silopol"


def test_enforced_silo_applies_its_unenforced_policy():
    """Row: silo enforced, silo's policy unenforced -> applied anyway (silo's flag governs)."""
    p = AuthnPolicy("soft", enforced=False, user_tgt_lifetime=H)
    s = AuthnSilo("s", enforced=True, user_policy="soft", members=frozenset({1105}))
    assert life(acct(silo="s"), cfg([p], [s])) == ("soft", True, H)


def test_unenforced_silo_with_enforced_policy_is_audit_only():
    """Row: silo not enforced, silo policy enforced -> not applied."""
    s = AuthnSilo("s", enforced=False, user_policy="silopol", members=frozenset({1105}))
    assert life(acct(silo="s"), cfg([SILO_POL], [s])) == ("silopol", False, 5 * H)


def test_unenforced_silo_ignores_enforced_direct_policy():
    """Row: silo not enforced + member + enforced direct policy -> nothing applied."""
    s = AuthnSilo("s", enforced=False, user_policy="silopol", members=frozenset({1105}))
    eff = effective_policy(acct(policy="direct", silo="s"), cfg([DIRECT, SILO_POL], [s]))
    assert eff is not None and eff.policy_name == "silopol" and not eff.enforced


def test_enforced_silo_unenforced_policy_and_direct_policy():
    """Row: silo enforced, silo policy unenforced + direct policy -> silo policy applied."""
    p = AuthnPolicy("soft", enforced=False, user_tgt_lifetime=H)
    s = AuthnSilo("s", enforced=True, user_policy="soft", members=frozenset({1105}))
    assert life(acct(policy="direct", silo="s"), cfg([p, DIRECT], [s])) == ("soft", True, H)


def test_assigned_but_not_member_falls_back_to_direct_policy():
    """Row: silo assigned, NOT in members -> direct policy (or none)."""
    s = AuthnSilo("s", enforced=True, user_policy="silopol", members=frozenset())
    assert life(acct(policy="direct", silo="s"), cfg([DIRECT, SILO_POL], [s]))[0] == "direct"
    assert life(acct(silo="s"), cfg([SILO_POL], [s])) is None


def test_member_but_not_assigned_falls_back_to_direct_policy():
    """Row: in members, NOT assigned -> direct policy (or none)."""
    s = AuthnSilo("s", enforced=True, user_policy="silopol", members=frozenset({1105}))
    assert life(acct(policy="direct"), cfg([DIRECT, SILO_POL], [s]))[0] == "direct"
    assert life(acct(), cfg([SILO_POL], [s])) is None


def test_silo_without_policy_for_the_class_means_no_policy():
    """Row: member+assigned silo with no policy for this class + direct policy -> no policy."""
    s = AuthnSilo("s", enforced=True, computer_policy="silopol", members=frozenset({1105}))
    assert life(acct(policy="direct", silo="s"), cfg([DIRECT, SILO_POL], [s])) is None


def test_silo_policy_without_lifetime_ignores_direct_lifetime():
    """Row: silo policy has no lifetime + direct policy with lifetime -> defaults."""
    bare = AuthnPolicy("bare", enforced=True)
    s = AuthnSilo("s", enforced=True, user_policy="bare", members=frozenset({1105}))
    assert life(acct(policy="direct", silo="s"), cfg([bare, DIRECT], [s])) == ("bare", True, None)


def test_dangling_links_are_ignored():
    """Row: msDS-AssignedAuthNPolicy / ...Silo naming a non-policy / non-silo -> ignored."""
    assert life(acct(policy="nope"), cfg()) is None
    assert life(acct(policy="direct", silo="nope"), cfg([DIRECT]))[0] == "direct"
    s = AuthnSilo("s", enforced=True, user_policy="gone", members=frozenset({1105}))
    assert life(acct(policy="direct", silo="s"), cfg([DIRECT], [s])) is None


def test_functional_level_gate_and_ntlm_switch_gate():
    """Below DC level 2012 R2 no policy applies; AllowedNTLM needs level 2016 (MS-APDS)."""
    p = AuthnPolicy("p", enforced=True, user_allowed_from=b"x", user_allow_ntlm=True)
    assert effective_policy(acct(policy="p"), cfg([p], level=5)) is None
    assert effective_policy(acct(policy="p"), cfg([p], level=6)).allow_ntlm is False
    assert effective_policy(acct(policy="p"), cfg([p], level=7)).allow_ntlm is True


def test_builtin_administrator_is_exempt():
    """The built-in Administrator (RID 500) is always exempt (Microsoft Protected Accounts)."""
    assert life(acct(rid=500, policy="direct"), cfg([DIRECT])) is None


def test_computer_has_no_from_condition():
    """Computers get ComputerAllowedToAuthenticateTo but never a From condition."""
    p = AuthnPolicy(
        "p",
        enforced=True,
        user_allowed_from=b"f",
        service_allowed_from=b"s",
        computer_allowed_to=b"c",
    )
    eff = effective_policy(acct(kind="computer", policy="p"), cfg([p]))
    assert eff.allowed_from is None and eff.allowed_to == b"c"
    assert eff.account_class is AccountClass.COMPUTER
    assert classify(acct(kind="krbtgt")) is None


def test_silo_claim_only_for_enforced_silo_members():
    """ad://ext/AuthenticationSilo: enforced silo, assigned and member (MS-ADTS 3.1.1.11.2.18)."""
    on = AuthnSilo("T0", enforced=True, members=frozenset({1105}))
    off = AuthnSilo("T1", enforced=False, members=frozenset({1105}))
    c = cfg([], [on, off])
    assert silo_claim(acct(silo="t0"), c) == "T0"
    assert silo_claim(acct(silo="T1"), c) is None
    assert silo_claim(acct(), c) is None
    assert silo_claim(acct(rid=7, silo="T0"), c) is None
