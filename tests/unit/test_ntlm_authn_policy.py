"""NTLM logons on the SMB server of a DC under Protected Users and authentication policies
(MS-APDS 3.1.5; Windows' behaviour as Samba's Windows-validated tests record it):

* client restriction: the user's enforced policy has a From condition and does not allow NTLM
  -> STATUS_ACCOUNT_RESTRICTION before the password is checked (no bad password counted),
  events 101 + 4823; audit mode allows without an event; computers are exempt;
* server restriction: the To condition of the server account's (LANMAN$) policy denies the
  user -> STATUS_AUTHENTICATION_FIREWALL_FAILED, only after a correct password;
* Protected Users first: STATUS_ACCOUNT_RESTRICTION with events 100 + 4822.
"""

from __future__ import annotations

import pytest
from smb_harness import SmbTestClient

from lanman.authpolicy.ntlm import (
    ntlm_client_denial,
    ntlm_server_denial,
    protected_user_denial,
    server_restricted,
    user_token_sids,
)
from lanman.directory import Directory, provision
from lanman.directory.authn import AuthnConfig, AuthnPolicy, AuthnSilo
from lanman.directory.model import Principal
from lanman.errors import ntstatus as st
from lanman.home import Home
from lanman.security.descriptor import encode_sd
from lanman.security.sddl_parse import parse_sddl
from lanman.smb.server.service import build_context

ALICE_PW = "Aqua-pw1"
BOB_PW = "Brick-pw-22"
WORKSTATION = "HARNESS"  # what smb_harness puts in the AUTHENTICATE message

ALLOW_ALL = "O:SYD:(A;;CR;;;WD)"


def sd(sddl: str, domain_sid: str | None = None) -> bytes:
    return encode_sd(parse_sddl(sddl, domain_sid))


# ---- pure decisions ----------------------------------------------------------------------

DOM = "S-1-5-21-1-2-3"


def _principal(name: str, rid: int, kind: str = "user", **kw) -> Principal:
    return Principal(
        name=name,
        realm="LANMAN.TEST",
        upn=f"{name}@lanman.test",
        sid=f"{DOM}-{rid}",
        rid=rid,
        kind=kind,
        keys={},
        salt=b"",
        kvno=1,
        group_rids=kw.pop("group_rids", [513]),
        **kw,
    )


def _cfg(*policies: AuthnPolicy, level: int = 7, silos: tuple[AuthnSilo, ...] = ()) -> AuthnConfig:
    return AuthnConfig(
        policies={p.name.lower(): p for p in policies},
        silos={s.name.lower(): s for s in silos},
        dc_functional_level=level,
        domain_sid=DOM,
    )


FROM = sd(ALLOW_ALL)


@pytest.mark.parametrize(
    ("enforced", "allow_ntlm", "level", "refused"),
    [
        (True, False, 7, True),
        (True, True, 7, False),  # AllowedNTLMNetworkAuthentication
        (False, False, 7, False),  # audit mode: allowed, nothing logged
        (True, True, 6, True),  # the NTLM switch needs level 2016
        (True, False, 5, False),  # no policies below 2012 R2
    ],
)
def test_client_restriction_truth_table(enforced, allow_ntlm, level, refused):
    pol = AuthnPolicy("P", enforced=enforced, user_allowed_from=FROM, user_allow_ntlm=allow_ntlm)
    alice = _principal("alice", 1105, assigned_policy="P")
    d = ntlm_client_denial(alice, _cfg(pol, level=level), "WS1")
    assert (d is not None) == refused
    if refused:
        assert d.status == st.STATUS_ACCOUNT_RESTRICTION
        names = [n for n, _ in d.events]
        assert names == ["AUTHN_POLICY_NTLM_FAILURE", "SECURITY_NTLM_POLICY_REQUIRED"]
        for _, data in d.events:
            assert data == {
                "account": "alice",
                "device": "WS1",
                "status": "0xC000006E",
                "policy": "P",
                "silo": "",
            }


def test_client_restriction_needs_a_from_condition():
    pol = AuthnPolicy("P", enforced=True, user_allowed_to=FROM, user_tgt_lifetime=36000000000)
    assert (
        ntlm_client_denial(_principal("alice", 1105, assigned_policy="P"), _cfg(pol), "W") is None
    )


def test_client_restriction_spares_computers_and_administrator():
    pol = AuthnPolicy(
        "P",
        enforced=True,
        user_allowed_from=FROM,
        computer_allowed_to=FROM,
        service_allowed_from=FROM,
    )
    ws = _principal("WS1$", 1200, kind="computer", object_class="computer", assigned_policy="P")
    admin = _principal("Administrator", 500, assigned_policy="P")
    assert ntlm_client_denial(ws, _cfg(pol), "W") is None
    assert ntlm_client_denial(admin, _cfg(pol), "W") is None


def test_client_restriction_of_a_silo_names_it():
    pol = AuthnPolicy("P", enforced=False, user_allowed_from=FROM)
    silo = AuthnSilo("S", enforced=True, user_policy="P", members=frozenset({1105}))
    alice = _principal("alice", 1105, assigned_silo="S")
    d = ntlm_client_denial(alice, _cfg(pol, silos=(silo,)), "W")
    assert d is not None and d.events[0][1]["silo"] == "S"  # the silo's Enforced governs
    assert "'S'" in d.reason


def test_service_accounts_have_their_own_switch():
    pol = AuthnPolicy("P", enforced=True, service_allowed_from=FROM, service_allow_ntlm=True)
    msa = _principal(
        "svc$", 1300, object_class="msDS-GroupManagedServiceAccount", assigned_policy="P"
    )
    assert ntlm_client_denial(msa, _cfg(pol), "W") is None
    pol2 = AuthnPolicy("P", enforced=True, service_allowed_from=FROM, user_allow_ntlm=True)
    assert ntlm_client_denial(msa, _cfg(pol2), "W") is not None


def test_protected_user_denial_events():
    d = protected_user_denial("bob", "WS9")
    assert d.status == st.STATUS_ACCOUNT_RESTRICTION
    assert [n for n, _ in d.events] == [
        "PROTECTED_USER_NTLM_FAILURE",
        "SECURITY_NTLM_PROTECTED_USER",
    ]
    assert d.events[0][1] == {"account": "bob", "device": "WS9", "status": "0xC000006E"}


def test_user_token_sids():
    alice = _principal("alice", 1105, group_rids=[513, 1110])
    assert user_token_sids(alice) == [f"{DOM}-1105", f"{DOM}-513", f"{DOM}-1110"]


@pytest.mark.parametrize(
    ("sddl", "enforced", "refused"),
    [
        (f"O:SYD:(A;;CR;;;{DOM}-1106)", True, True),  # only bob
        (f"O:SYD:(A;;CR;;;{DOM}-1106)", False, False),  # audit mode
        (f"O:SYD:(A;;CR;;;{DOM}-1105)", True, False),  # alice herself
        (f"O:SYD:(A;;CR;;;{DOM}-1110)", True, False),  # a group of hers
        (f"O:SYD:(A;;CR;;;{DOM}-1120)", True, False),  # a domain-local group of hers
        ("O:SYD:(A;;CR;;;AU)", True, False),  # Authenticated Users is in the token
        ("O:SYD:(A;;CR;;;S-1-5-64-10)", True, True),  # the NTLM SID is not
        ("O:SYD:(D;;CR;;;DU)(A;;CR;;;WD)", True, True),  # denied as Domain Users
        ("D:(A;;CR;;;WD)", True, True),  # no owner: denied
    ],
)
def test_server_restriction_truth_table(sddl, enforced, refused):
    pol = AuthnPolicy("DCs", enforced=enforced, computer_allowed_to=sd(sddl, DOM))
    server = _principal(
        "LANMAN$", 1000, kind="computer", object_class="computer", assigned_policy="DCs"
    )
    alice = _principal("alice", 1105, group_rids=[513, 1110])
    d = ntlm_server_denial(server, alice, _cfg(pol), [f"{DOM}-1120"])
    assert (d is not None) == refused
    if refused:
        assert d.status == st.STATUS_AUTHENTICATION_FIREWALL_FAILED and d.events == ()
        assert "alice" in d.reason and "LANMAN$" in d.reason


def test_server_restriction_reads_the_users_domain_local_groups():
    pol = AuthnPolicy("DCs", enforced=True, computer_allowed_to=sd(f"O:SYD:(A;;CR;;;{DOM}-1120)"))
    server = _principal(
        "LANMAN$", 1000, kind="computer", object_class="computer", assigned_policy="DCs"
    )
    alice = _principal("alice", 1105, domain_local_rids=[1120])
    bob = _principal("bob", 1106)
    assert ntlm_server_denial(server, alice, _cfg(pol)) is None
    assert ntlm_server_denial(server, bob, _cfg(pol)) is not None


def test_server_restriction_needs_a_server_with_a_to_condition():
    alice = _principal("alice", 1105)
    pol = AuthnPolicy("DCs", enforced=True, user_allowed_to=sd("O:SYD:(D;;CR;;;WD)"))
    server = _principal(
        "LANMAN$", 1000, kind="computer", object_class="computer", assigned_policy="DCs"
    )
    assert ntlm_server_denial(None, alice, _cfg(pol)) is None
    assert ntlm_server_denial(server, alice, _cfg(pol)) is None  # a computer: computer_allowed_to


# ---- the SMB server of a provisioned home ------------------------------------------------


@pytest.fixture
def dc(tmp_path):
    home = Home.open(tmp_path / "h")
    provision(
        home.path,
        realm="lanman.test",
        domain="LANMAN",
        host_name="LANMAN",
        admin_password="Adm1n-pw",
    )
    home.store.add_user("alice", ALICE_PW)
    home.store.add_user("bob", BOB_PW)
    yield home
    home.close()


def _logon(ctx, user: str, password: str) -> int:
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    return c.session_setup(user, password, check=False).status


def _events(home, name: str) -> list[dict]:
    return [e for e in home.events.query(limit=1000) if e["name"] == name]


def _bad_pwd_count(home, name: str) -> int:
    with Directory.open(home.path) as d:
        return d._conn.execute(
            "SELECT bad_pwd_count FROM users WHERE name = ?", (name,)
        ).fetchone()[0]


def _policy(home, name: str, account: str, **attrs) -> None:
    with Directory.open(home.path) as d:
        d.authn.create_policy(name, **attrs)
        d.authn.assign_policy(account, name)


def test_enforced_from_condition_refuses_ntlm_before_the_password(dc):
    _policy(dc, "NoNtlm", "alice", enforced=True, user_allowed_from=sd(ALLOW_ALL))
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_ACCOUNT_RESTRICTION
    assert _logon(ctx, "alice", "wrong-password") == st.STATUS_ACCOUNT_RESTRICTION
    assert _bad_pwd_count(dc, "alice") == 0  # the password was never checked
    assert _logon(ctx, "bob", BOB_PW) == st.STATUS_SUCCESS  # bob has no policy
    ev = _events(dc, "AUTHN_POLICY_NTLM_FAILURE")
    assert len(ev) == 2 and ev[0]["event_id"] == 101
    assert ev[0]["data"] == {
        "account": "alice",
        "device": WORKSTATION,
        "status": "0xC000006E",
        "policy": "NoNtlm",
        "silo": "",
    }
    twin = _events(dc, "SECURITY_NTLM_POLICY_REQUIRED")
    assert len(twin) == 2 and twin[0]["event_id"] == 4823 and twin[0]["data"] == ev[0]["data"]
    fail = _events(dc, "LOGON_FAILURE")
    assert len(fail) == 2
    assert fail[0]["data"]["status"] == "0xC000006E STATUS_ACCOUNT_RESTRICTION"
    assert "NoNtlm" in fail[0]["data"]["reason"] and "NTLM" in fail[0]["data"]["reason"]
    assert fail[0]["data"]["user"] == "alice"


def test_audit_mode_allows_without_an_event(dc):
    _policy(dc, "Audit", "alice", enforced=False, user_allowed_from=sd(ALLOW_ALL))
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_SUCCESS
    assert _events(dc, "AUTHN_POLICY_NTLM_FAILURE") == []
    assert _events(dc, "SECURITY_NTLM_POLICY_REQUIRED") == []
    assert _logon(ctx, "alice", "wrong-password") == st.STATUS_LOGON_FAILURE
    assert _bad_pwd_count(dc, "alice") == 1


def test_allowed_ntlm_network_authentication(dc):
    _policy(
        dc,
        "AllowNtlm",
        "alice",
        enforced=True,
        user_allowed_from=sd(ALLOW_ALL),
        user_allow_ntlm=True,
    )
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_SUCCESS
    with Directory.open(dc.path) as d:
        d.authn.set_dc_functional_level(6)  # 2012 R2: the switch does not exist yet
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_ACCOUNT_RESTRICTION


def test_computers_are_exempt(dc):
    with Directory.open(dc.path) as d:
        _ws, pw = d.add_computer("WS1")
        d.authn.create_policy(
            "P", enforced=True, user_allowed_from=sd(ALLOW_ALL), service_allowed_from=sd(ALLOW_ALL)
        )
        d.authn.assign_policy("WS1$", "P")
    ctx = build_context(dc)
    assert _logon(ctx, "WS1$", pw) == st.STATUS_SUCCESS


def test_protected_users_take_precedence(dc):
    _policy(dc, "NoNtlm", "bob", enforced=True, user_allowed_from=sd(ALLOW_ALL))
    with Directory.open(dc.path) as d:
        d.add_member("Protected Users", "bob")
    ctx = build_context(dc)
    assert _logon(ctx, "bob", BOB_PW) == st.STATUS_ACCOUNT_RESTRICTION
    assert _logon(ctx, "bob", "wrong-password") == st.STATUS_ACCOUNT_RESTRICTION
    assert _bad_pwd_count(dc, "bob") == 0
    ev = _events(dc, "PROTECTED_USER_NTLM_FAILURE")
    assert len(ev) == 2 and ev[0]["event_id"] == 100
    assert ev[0]["data"] == {"account": "bob", "device": WORKSTATION, "status": "0xC000006E"}
    twin = _events(dc, "SECURITY_NTLM_PROTECTED_USER")
    assert len(twin) == 2 and twin[0]["event_id"] == 4822
    assert _events(dc, "AUTHN_POLICY_NTLM_FAILURE") == []  # the policy was not reached
    assert "Protected Users" in _events(dc, "LOGON_FAILURE")[0]["data"]["reason"]


def _server_policy(dc, sddl: str, enforced: bool = True) -> None:
    with Directory.open(dc.path) as d:
        d.authn.create_policy("DCs", enforced=enforced, computer_allowed_to=sd(sddl, d.domain_sid))
        d.authn.assign_policy(f"{d.dc_name}$", "DCs")


def _sid(dc, name: str) -> str:
    with Directory.open(dc.path) as d:
        return d.get(name).sid


def test_server_to_condition_denies_after_the_password(dc):
    _server_policy(dc, f"O:SYD:(A;;CR;;;{_sid(dc, 'bob')})")
    ctx = build_context(dc)
    assert _logon(ctx, "bob", BOB_PW) == st.STATUS_SUCCESS
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_AUTHENTICATION_FIREWALL_FAILED
    assert _bad_pwd_count(dc, "alice") == 0
    # a wrong password is a wrong password: no policy evaluated, the failure counted
    assert _logon(ctx, "alice", "wrong-password") == st.STATUS_LOGON_FAILURE
    assert _bad_pwd_count(dc, "alice") == 1
    fail = _events(dc, "LOGON_FAILURE")
    assert fail[1]["data"]["status"] == "0xC0000413 STATUS_AUTHENTICATION_FIREWALL_FAILED"
    assert "DCs" in fail[1]["data"]["reason"] and "alice" in fail[1]["data"]["reason"]
    assert fail[0]["data"]["reason"] == "wrong password"
    assert _events(dc, "AUTHN_POLICY_NTLM_FAILURE") == []  # no event for the server check


def test_server_to_condition_audit_mode_allows(dc):
    _server_policy(dc, f"O:SYD:(A;;CR;;;{_sid(dc, 'bob')})", enforced=False)
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_SUCCESS


def test_server_to_condition_sees_domain_local_groups(dc):
    with Directory.open(dc.path) as d:
        g = d.add_group("File Users", scope="domain_local")
        d.add_member("File Users", "alice")
    _server_policy(dc, f"O:SYD:(A;;CR;;;{g.sid})")
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_SUCCESS
    assert _logon(ctx, "bob", BOB_PW) == st.STATUS_AUTHENTICATION_FIREWALL_FAILED


def test_client_restriction_comes_before_the_server_restriction(dc):
    _server_policy(dc, f"O:SYD:(A;;CR;;;{_sid(dc, 'bob')})")
    _policy(dc, "NoNtlm", "alice", enforced=True, user_allowed_from=sd(ALLOW_ALL))
    ctx = build_context(dc)
    assert _logon(ctx, "alice", ALICE_PW) == st.STATUS_ACCOUNT_RESTRICTION


def test_smb1_session_setup_gets_the_same_status(dc):
    from dataclasses import replace

    from smb_harness import CLIENT_ADDRESS, NOW, track

    from lanman.smb.smb1.client import Smb1Client, Smb1Error
    from lanman.smb.smb1.server import Smb1ServerConnection

    _policy(dc, "NoNtlm", "alice", enforced=True, user_allowed_from=sd(ALLOW_ALL))
    ctx = build_context(dc)
    ctx.settings = replace(ctx.settings, smb1_enabled=True)
    server = Smb1ServerConnection(ctx, CLIENT_ADDRESS)
    track(server)

    def exchange(message: bytes) -> list[bytes]:
        return [b"".join(bytes(p) for p in f) for f in server.receive_frame(message, NOW)]

    c = Smb1Client(exchange, enable_signing=False)
    c.negotiate()
    with pytest.raises(Smb1Error) as e:
        c.session_setup("alice", ALICE_PW, workstation="OLDBOX")
    assert e.value.status == st.STATUS_ACCOUNT_RESTRICTION
    assert _events(dc, "AUTHN_POLICY_NTLM_FAILURE")[0]["data"]["device"] == "OLDBOX"
    assert "NoNtlm" in _events(dc, "LOGON_FAILURE")[0]["data"]["reason"]


def test_server_restricted():
    server = _principal(
        "LANMAN$", 1000, kind="computer", object_class="computer", assigned_policy="DCs"
    )
    to = AuthnPolicy("DCs", enforced=False, computer_allowed_to=sd(ALLOW_ALL))
    assert server_restricted(server, _cfg(to))  # audit mode still evaluates (no answer change)
    assert not server_restricted(server, _cfg(AuthnPolicy("DCs", enforced=True)))
    assert not server_restricted(None, _cfg(to))
    assert not server_restricted(server, _cfg(to, level=5))


def test_protected_user_event_names_the_account_as_stored(dc):
    with Directory.open(dc.path) as d:
        d.add_member("Protected Users", "bob")
    ctx = build_context(dc)
    assert _logon(ctx, "BOB", BOB_PW) == st.STATUS_ACCOUNT_RESTRICTION
    assert _events(dc, "PROTECTED_USER_NTLM_FAILURE")[0]["data"]["account"] == "bob"
