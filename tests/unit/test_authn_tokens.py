"""The token tables of authentication-policy checks (one test per row; Windows behaviour from
Samba's Windows-validated krb5 tests: DeviceRestrictionTests, TgsReqServicePolicyTests)."""

from __future__ import annotations

import pytest

from lanman.authpolicy import tokens as T
from lanman.security.claims import STRING, ClaimAttribute

DOM = "S-1-5-21-1-2-3"
DEVICE = [f"{DOM}-1104", f"{DOM}-515"]
SILO = {
    "ad://ext/authenticationsilo": ClaimAttribute("ad://ext/AuthenticationSilo", STRING, ("T0",))
}


def test_device_account_and_its_pac_groups_are_in():
    """Row: device SID + global/universal groups from the armor PAC (ExtraSids trusted)."""
    t = T.device_token([*DEVICE, "S-1-5-21-9-9-9-1234"])
    assert {*DEVICE, "S-1-5-21-9-9-9-1234"} <= t.sids


def test_domain_local_groups_expanded_by_the_kdc_are_in():
    """Row: domain-local groups of the device, expanded from the directory."""
    assert f"{DOM}-1200" in T.device_token(DEVICE, [f"{DOM}-1200"]).sids


@pytest.mark.parametrize("sid", [T.EVERYONE, T.AUTHENTICATED_USERS])
def test_everyone_and_authenticated_users_are_added(sid):
    """Rows: Everyone S-1-1-0 and Authenticated Users S-1-5-11 — yes."""
    assert sid in T.device_token(DEVICE).sids
    assert sid in T.service_token(DEVICE).sids


@pytest.mark.parametrize("sid", [T.AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY, T.CLAIMS_VALID])
def test_asserted_identity_and_claims_valid_pass_through_from_the_pac(sid):
    """Rows: S-1-18-1 and Claims Valid — yes when the PAC has them (never invented)."""
    assert sid in T.device_token([*DEVICE, sid]).sids
    assert sid not in T.device_token(DEVICE).sids


@pytest.mark.parametrize(
    "sid",
    [T.NETWORK, T.SERVICE_ASSERTED_IDENTITY, T.COMPOUNDED_AUTHENTICATION, T.NTLM_AUTHENTICATION],
)
def test_network_service_asserted_compounded_ntlm_are_never_in(sid):
    """Rows: Network, Service asserted identity, Compounded Authentication, NTLM — no."""
    assert sid not in T.device_token([*DEVICE, sid]).sids
    t = T.service_token([*DEVICE, sid], device_sids=[*DEVICE, sid])
    assert sid not in t.sids and sid not in t.device_sids


def test_device_claims_become_user_claims_only_with_claims_valid():
    """Row: device claims as @User claims, only if Claims Valid is among the device's SIDs."""
    assert T.device_token([*DEVICE, T.CLAIMS_VALID], claims=SILO).user_claims == SILO
    assert T.device_token(DEVICE, claims=SILO).user_claims == {}


def test_to_check_sees_user_sids_and_device_only_as_device():
    """TGS: plain SID ACEs see only the user; the armor's device is the device part."""
    user = [f"{DOM}-1105", f"{DOM}-513"]
    t = T.service_token(user, device_sids=DEVICE, device_claims=SILO)
    assert f"{DOM}-1104" not in t.sids and f"{DOM}-1104" in t.device_sids
    assert t.device_claims == {}  # no Claims Valid in the device's SIDs
    t2 = T.service_token(user, device_sids=[*DEVICE, T.CLAIMS_VALID], device_claims=SILO)
    assert t2.device_claims == SILO


def test_ntlm_token_has_no_claims_asserted_identity_or_device():
    """NTLM server restriction: the user only, claims ignored, no S-1-18-1 / Claims Valid."""
    t = T.ntlm_token([f"{DOM}-1105", T.CLAIMS_VALID, T.AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY])
    assert t.sids == frozenset({f"{DOM}-1105", T.EVERYONE, T.AUTHENTICATED_USERS})
    assert not t.device_sids and not t.user_claims
