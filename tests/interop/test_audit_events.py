"""The audit trail with real peers (issue 15 item 8): Samba's smbclient logons that fail for
each cause are logged as event 551 naming the account, its domain, the cause and the client
address; a policy change made with the running server's home is logged with who and old -> new,
and turning signing off warns about NTLM relay."""

from __future__ import annotations

import os

import pytest
from interop_support import HOST, cleanup_target, lanman_cmd, require_tool, run, start_lanman

pytestmark = [pytest.mark.interop]


@pytest.fixture()
def server(tmp_path):
    t = start_lanman(tmp_path / "srv")
    yield t
    cleanup_target(t)


def _smbclient(t, user: str, password: str):
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    return run(
        [
            require_tool("smbclient"),
            f"//{HOST}/{t.share}",
            "-p",
            str(t.port),
            "-U",
            f"SOMEDOM\\{user}%{password}",
            "-c",
            "exit",
        ],
        timeout=60,
        check=False,
        env=env,
    )


def _lanman(t, *args: str, input: bytes | None = None):
    return run(lanman_cmd() + ["--home", str(t.home), *args], input=input, timeout=60, check=True)


@pytest.mark.timeout(180)
def test_logon_failures_name_account_cause_and_client(server):
    t = server
    _lanman(t, "user", "add", "dora", "--password-stdin", input=b"Dora-pass-1\n")
    _lanman(t, "user", "set", "dora", "--disabled")
    for user, pw in ((t.user, "wrong-password"), ("nobody-here", "x"), ("dora", "Dora-pass-1")):
        cp = _smbclient(t, user, pw)
        assert cp.returncode != 0, cp.stdout
    out = _smbclient(t, "dora", "Dora-pass-1")
    assert b"NT_STATUS_ACCOUNT_DISABLED" in out.stdout + out.stderr
    fails = [e for e in t.events() if e.get("event_id") == 551]
    got = {(e["data"]["user"], e["data"]["reason"]) for e in fails}
    assert {
        (t.user, "wrong password"),
        ("nobody-here", "unknown user"),
        ("dora", "account disabled"),
    } <= got, got
    for e in fails:
        assert e["data"]["domain"] == "SOMEDOM", e
        assert e["data"]["client"].startswith("127.0.0.1:"), e
    dis = [e for e in t.events() if e.get("event_id") == 4725]
    assert dis and dis[0]["data"]["user"] == "dora" and dis[0]["data"]["actor"]


@pytest.mark.timeout(120)
def test_signing_off_warns_and_is_logged(server):
    t = server
    cp = run(
        lanman_cmd()
        + [
            "--home",
            str(t.home),
            "policy",
            "set",
            "Microsoft network server: Digitally sign communications (always)",
            "disabled",
        ],
        timeout=60,
        check=True,
    )
    assert b"NTLM relay" in cp.stderr
    evs = t.events()
    off = [e for e in evs if e.get("event_id") == 9151]
    assert off and off[0]["data"]["setting"] == "LanmanServer.RequireSecuritySignature"
    ch = [e for e in evs if e.get("event_id") == 9150]
    assert ch[0]["data"]["old"] == "1" and ch[0]["data"]["new"] == "0" and ch[0]["data"]["actor"]
