"""NTLM against a DC's SMB server under Protected Users and authentication policies
(MS-APDS 3.1.5), seen by real clients: Samba smbclient with Kerberos off and smbprotocol
with ``auth_protocol="ntlm"``.

`lanman up` serves a provisioned domain on loopback. Policies are created with the directory
API (``Directory.authn``), their conditions built from SDDL with ``lanman.security``; the
server reads them at every logon, so the tests change them while it runs:

* a member of Protected Users: NT_STATUS_ACCOUNT_RESTRICTION (events 100 and 4822);
* an enforced policy with a From condition: NT_STATUS_ACCOUNT_RESTRICTION, even with a
  wrong password (events 101 and 4823, the workstation name as the device);
* the same policy in audit mode, or with AllowedNTLMNetworkAuthentication: a session;
* the server account's (LANMAN$) To condition denying the user:
  NT_STATUS_AUTHENTICATION_FIREWALL_FAILED, the allowed user still logs on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from interop_support import lanman_cli, lanman_up, random_password
from smbprotocol.connection import Connection, Dialects
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.session import Session

from lanman.directory import Directory
from lanman.errors import ntstatus as st
from lanman.home import Home
from lanman.security.descriptor import encode_sd
from lanman.security.sddl_parse import parse_sddl

pytestmark = [pytest.mark.interop]

REALM = "LANMAN.TEST"
HOST_NAME = "LANMAN"
WORKSTATION = "NTLMPOLWS"  # smbclient's --netbiosname: the device name of the events
USERS = ("puser", "fromuser", "audituser", "ntlmok", "dave")
FROM_ANY = "O:SYD:(A;;CR;;;WD)"  # a From condition; NTLM never evaluates it


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian smbclient", pytrace=False)
    return path


def _lanman(home: Path, *args: str, input_text: str | None = None) -> str:
    return lanman_cli(home, *args, input_text=input_text).stdout


def _sd(sddl: str, domain_sid: str) -> bytes:
    return encode_sd(parse_sddl(sddl, domain_sid))


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    base = tmp_path_factory.mktemp("authn-ntlm")
    home = base / "home"
    share = base / "share"
    share.mkdir()
    _lanman(
        home,
        "domain",
        "provision",
        "--realm",
        REALM,
        "--domain",
        "LANMAN",
        "--host-name",
        HOST_NAME,
    )
    passwords = {u: random_password() for u in USERS}
    for u, pw in passwords.items():
        _lanman(home, "user", "add", u, "--password-stdin", input_text=pw + "\n")
    _lanman(home, "share", "add", "data", str(share), "--full-access", "Everyone")
    with Directory.open(home) as d:
        d.add_member("Protected Users", "puser")
        from_any = _sd(FROM_ANY, d.domain_sid)
        # puser also has the enforced policy: Protected Users come first
        d.authn.create_policy("NoNtlm", enforced=True, user_allowed_from=from_any)
        d.authn.create_policy("AuditNtlm", enforced=False, user_allowed_from=from_any)
        d.authn.create_policy(
            "AllowNtlm", enforced=True, user_allowed_from=from_any, user_allow_ntlm=True
        )
        for user, policy in (
            ("puser", "NoNtlm"),
            ("fromuser", "NoNtlm"),
            ("audituser", "AuditNtlm"),
            ("ntlmok", "AllowNtlm"),
        ):
            d.authn.assign_policy(user, policy)
        sids = {u: d.get(u).sid for u in USERS}
        server_account = f"{d.dc_name}$"
        d.authn.create_policy(
            "OnlyNtlmok",
            enforced=True,
            computer_allowed_to=_sd(f"O:SYD:(A;;CR;;;{sids['ntlmok']})", d.domain_sid),
        )
    log_path = base / "up.log"
    with lanman_up(home, log_path) as up:
        yield {
            "home": home,
            "base": base,
            "port": up.smb_port,
            "passwords": passwords,
            "sids": sids,
            "server_account": server_account,
            "log": log_path,
            "proc": up.proc,
        }


def _smbclient(dc, user: str, password: str, protocol: str = "SMB3_11"):
    env = {**os.environ, "HOME": str(dc["base"])}
    return subprocess.run(
        [
            _tool("smbclient"),
            "//127.0.0.1/data",
            "-p",
            str(dc["port"]),
            "-U",
            f"LANMAN\\{user}%{password}",
            "--use-kerberos=off",
            "--option=clientusekerberos=off",
            f"--netbiosname={WORKSTATION}",
            f"--option=client min protocol={protocol}",
            f"--option=client max protocol={protocol}",
            "-c",
            "ls",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _ok(r: subprocess.CompletedProcess) -> None:
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "NT_STATUS" not in out, out


def _refused(r: subprocess.CompletedProcess, status: str) -> None:
    out = r.stdout + r.stderr
    assert r.returncode != 0 and status in out, out


def _smbprotocol_status(dc, user: str, password: str) -> int:
    """NTLM SESSION_SETUP with smbprotocol; the NTSTATUS it got (0: a session)."""
    conn = Connection(uuid.uuid4(), "127.0.0.1", dc["port"], require_signing=True)
    conn.connect(dialect=Dialects.SMB_3_1_1, timeout=15)
    try:
        session = Session(conn, f"LANMAN\\{user}", password, auth_protocol="ntlm")
        try:
            session.connect()
        except SMBResponseException as exc:
            return exc.status
        session.disconnect()
        return 0
    finally:
        conn.disconnect(True)


def _events(dc, event_id: int) -> list[dict]:
    h = Home.open(dc["home"], create=False)
    try:
        return h.events.query(event_id=event_id, limit=1000)
    finally:
        h.close()


def test_peers_use_ntlm(dc):
    """The positive control: a user without a policy logs on, and not with Kerberos."""
    _ok(_smbclient(dc, "dave", dc["passwords"]["dave"]))
    assert _smbprotocol_status(dc, "dave", dc["passwords"]["dave"]) == 0
    assert "Kerberos logon: dave@" not in dc["log"].read_text(errors="replace")


@pytest.mark.parametrize("protocol", ["SMB2_10", "SMB3_11"])
def test_protected_user_gets_account_restriction(dc, protocol):
    before_100, before_4822 = len(_events(dc, 100)), len(_events(dc, 4822))
    _refused(
        _smbclient(dc, "puser", dc["passwords"]["puser"], protocol),
        "NT_STATUS_ACCOUNT_RESTRICTION",
    )
    ev = _events(dc, 100)
    assert len(ev) == before_100 + 1
    assert ev[0]["data"] == {"account": "puser", "device": WORKSTATION, "status": "0xC000006E"}
    assert len(_events(dc, 4822)) == before_4822 + 1
    # the policy puser also has was not reached
    assert all(e["data"]["account"] != "puser" for e in _events(dc, 101))
    assert _smbprotocol_status(dc, "puser", dc["passwords"]["puser"]) == (
        st.STATUS_ACCOUNT_RESTRICTION
    )


def test_enforced_from_condition_refuses_ntlm(dc):
    before = len(_events(dc, 101))
    _refused(
        _smbclient(dc, "fromuser", dc["passwords"]["fromuser"]), "NT_STATUS_ACCOUNT_RESTRICTION"
    )
    ev = _events(dc, 101)
    assert len(ev) == before + 1
    assert ev[0]["data"] == {
        "account": "fromuser",
        "device": WORKSTATION,
        "status": "0xC000006E",
        "policy": "NoNtlm",
        "silo": "",
    }
    twin = _events(dc, 4823)
    assert twin and twin[0]["data"] == ev[0]["data"]
    fail = _events(dc, 551)
    assert fail[0]["data"]["status"] == "0xC000006E STATUS_ACCOUNT_RESTRICTION"
    assert "NoNtlm" in fail[0]["data"]["reason"]
    # before the password: a wrong one gets the same answer and counts nothing
    _refused(_smbclient(dc, "fromuser", "Wrong-password-1"), "NT_STATUS_ACCOUNT_RESTRICTION")
    with Directory.open(dc["home"]) as d:
        row = d._conn.execute("SELECT bad_pwd_count FROM users WHERE name = 'fromuser'").fetchone()
    assert row[0] == 0
    assert _smbprotocol_status(dc, "fromuser", dc["passwords"]["fromuser"]) == (
        st.STATUS_ACCOUNT_RESTRICTION
    )


def test_audit_mode_allows_ntlm_silently(dc):
    before = len(_events(dc, 101))
    _ok(_smbclient(dc, "audituser", dc["passwords"]["audituser"]))
    assert _smbprotocol_status(dc, "audituser", dc["passwords"]["audituser"]) == 0
    assert len(_events(dc, 101)) == before


def test_allowed_ntlm_network_authentication(dc):
    _ok(_smbclient(dc, "ntlmok", dc["passwords"]["ntlmok"]))
    assert _smbprotocol_status(dc, "ntlmok", dc["passwords"]["ntlmok"]) == 0


def test_server_to_condition_gets_firewall_failed(dc):
    with Directory.open(dc["home"]) as d:
        d.authn.assign_policy(dc["server_account"], "OnlyNtlmok")
    try:
        _refused(
            _smbclient(dc, "dave", dc["passwords"]["dave"]),
            "NT_STATUS_AUTHENTICATION_FIREWALL_FAILED",
        )
        assert _smbprotocol_status(dc, "dave", dc["passwords"]["dave"]) == (
            st.STATUS_AUTHENTICATION_FIREWALL_FAILED
        )
        fail = _events(dc, 551)
        assert fail[0]["data"]["status"] == "0xC0000413 STATUS_AUTHENTICATION_FIREWALL_FAILED"
        assert "OnlyNtlmok" in fail[0]["data"]["reason"]
        # a wrong password stays a logon failure: the condition is evaluated only after it
        _refused(_smbclient(dc, "dave", "Wrong-password-1"), "NT_STATUS_LOGON_FAILURE")
        # the user the condition allows
        _ok(_smbclient(dc, "ntlmok", dc["passwords"]["ntlmok"]))
        assert _smbprotocol_status(dc, "ntlmok", dc["passwords"]["ntlmok"]) == 0
    finally:
        with Directory.open(dc["home"]) as d:
            d.authn.assign_policy(dc["server_account"], None)
    _ok(_smbclient(dc, "dave", dc["passwords"]["dave"]))
