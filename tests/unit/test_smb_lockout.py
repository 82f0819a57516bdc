"""NTLM logons on the SMB server count bad passwords in the directory: after the lockout
threshold the account is locked out, and even the right password then gets
STATUS_ACCOUNT_LOCKED_OUT (MS-SAMR 3.1.1.8.1 badPwdCount, MS-NLMP via the DC)."""

from __future__ import annotations

from smb_harness import SmbTestClient

from lanman.directory import Directory, provision
from lanman.errors import ntstatus as st
from lanman.home import Home
from lanman.smb.server.service import build_context


def _logon(ctx, password: str) -> int:
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    return c.session_setup("alice", password, check=False).status


def test_bad_passwords_lock_the_account(tmp_path):
    home = Home.open(tmp_path / "h")
    provision(
        home.path,
        realm="lanman.test",
        domain="LANMAN",
        host_name="LANMAN",
        admin_password="Adm1n-pw",
    )
    home.store.add_user("alice", "Aqua-pw1")
    with Directory.open(home.path) as d:
        d.set_lockout_policy(threshold=3, duration=600, window=600)
    ctx = build_context(home)
    assert _logon(ctx, "Aqua-pw1") == st.STATUS_SUCCESS
    for _ in range(3):
        assert _logon(ctx, "wrong") == st.STATUS_LOGON_FAILURE
    assert _logon(ctx, "Aqua-pw1") == st.STATUS_ACCOUNT_LOCKED_OUT
    # 4740 names the account and the client; 551 names account, domain, cause and client
    (lock,) = home.events.query(event_id=4740)
    assert lock["data"]["user"] == "alice" and lock["data"]["client"] not in ("", "-")
    fails = home.events.query(event_id=551)
    reasons = [f["data"]["reason"] for f in fails]
    assert reasons.count("wrong password") == 3
    assert "bad-password threshold reached: account locked out" in reasons
    assert all(f["data"]["user"] == "alice" and f["data"]["client"] for f in fails)
    assert "locked" in reasons[0]  # the right password on a locked account says why
    with Directory.open(home.path) as d:
        assert d.find_principal("alice").locked
        d.set_account("alice", locked=False)
    assert _logon(ctx, "Aqua-pw1") == st.STATUS_SUCCESS
    home.close()


def test_success_resets_the_count(tmp_path):
    home = Home.open(tmp_path / "h")
    provision(
        home.path,
        realm="lanman.test",
        domain="LANMAN",
        host_name="LANMAN",
        admin_password="Adm1n-pw",
    )
    home.store.add_user("alice", "Aqua-pw1")
    with Directory.open(home.path) as d:
        d.set_lockout_policy(threshold=3, duration=600, window=600)
    ctx = build_context(home)
    for _ in range(2):
        assert _logon(ctx, "wrong") == st.STATUS_LOGON_FAILURE
    assert _logon(ctx, "Aqua-pw1") == st.STATUS_SUCCESS
    for _ in range(2):
        assert _logon(ctx, "wrong") == st.STATUS_LOGON_FAILURE
    assert _logon(ctx, "Aqua-pw1") == st.STATUS_SUCCESS
    home.close()
