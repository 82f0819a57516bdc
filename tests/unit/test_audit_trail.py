"""Audit trail of administrative changes (issue 15 item 8), through click's CliRunner:
who (the local user, or the sudo caller), what, old -> new; the NTLM relay warning on every
path that can turn SMB signing off; account events 4722/4725/4738/4740/4767; 9154."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli import audit
from lanman.cli.main import cli
from lanman.policy.layers import HostPolicy

SERVER_ALWAYS = "Microsoft network server: Digitally sign communications (always)"
RELAY = "NTLM relay"


@pytest.fixture(autouse=True)
def _who(monkeypatch):
    monkeypatch.setattr(audit, "_login_name", lambda: "alice-admin")
    monkeypatch.delenv("SUDO_USER", raising=False)


def run(home: Path, *args: str, input: str | None = None, ok: bool = True):
    if not home.exists():  # only setup commands create a home (issue 15)
        from lanman.home import Home

        Home.open(home).close()
    r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in r.output + r.stderr
    if ok:
        assert r.exit_code == 0, r.output + r.stderr
    return r


def events(home: Path, name: str | None = None) -> list[dict]:
    evs = json.loads(run(home, "events", "--json", "--limit", "200").output)
    return [e for e in evs if name is None or e["name"] == name]


def test_actor_prefers_the_sudo_caller(monkeypatch):
    assert audit.actor() == "alice-admin"
    monkeypatch.setattr(audit, "_login_name", lambda: "root")
    monkeypatch.setenv("SUDO_USER", "bob")
    assert audit.actor() == "bob (via sudo as root)"
    monkeypatch.setattr(audit, "_login_name", lambda: (_ for _ in ()).throw(OSError("x")))
    monkeypatch.delenv("SUDO_USER")
    assert audit.actor().startswith("uid ")


def test_policy_set_logs_old_new_and_warns_when_signing_goes_off(tmp_path):
    h = tmp_path / "h"
    r = run(h, "policy", "set", SERVER_ALWAYS, "disabled")
    assert RELAY in r.stderr and "RequireSecuritySignature" in r.stderr
    (ch,) = events(h, "POLICY_VALUE_CHANGED")
    d = ch["data"]
    assert ch["event_id"] == 9150 and d["actor"] == "alice-admin"
    assert d["setting"] == "LanmanServer.RequireSecuritySignature"
    assert (d["old"], d["new"], d["new_origin"]) == ("1", "0", "group policy")
    assert "lanman policy set" in d["command"]
    (off,) = events(h, "SIGNING_TURNED_OFF")
    assert off["event_id"] == 9151 and off["level"] == "Warning" and RELAY in off["message"]
    # turning it back on: logged, no warning
    r = run(h, "policy", "set", SERVER_ALWAYS, "enabled")
    assert RELAY not in r.stderr
    assert len(events(h, "POLICY_VALUE_CHANGED")) == 2
    assert len(events(h, "SIGNING_TURNED_OFF")) == 1


def test_unchanged_value_is_not_logged(tmp_path):
    h = tmp_path / "h"
    run(h, "policy", "set", "RestrictAnonymous", "0", "--scope", "local")
    run(h, "policy", "set", "RestrictAnonymous", "0", "--scope", "local")
    assert len(events(h, "POLICY_VALUE_CHANGED")) == 1  # the second write changed nothing


def test_profile_use_logs_profile_and_each_default_that_changed(tmp_path):
    h = tmp_path / "h"
    r = run(h, "profile", "use", "win10")  # from 24H2 Enterprise: signing not required
    assert RELAY in r.stderr
    (p,) = events(h, "POLICY_PROFILE_CHANGED")
    assert p["data"]["old"] == "win11-24h2-enterprise" and p["data"]["new"] == "win10"
    names = {e["data"]["setting"] for e in events(h, "POLICY_VALUE_CHANGED")}
    assert {
        "LanmanServer.RequireSecuritySignature",
        "LanmanWorkstation.RequireSecuritySignature",
    } <= names
    assert {e["data"]["setting"] for e in events(h, "SIGNING_TURNED_OFF")} >= {
        "LanmanServer.RequireSecuritySignature",
        "LanmanWorkstation.RequireSecuritySignature",
    }


def test_registry_import_warns_and_logs(tmp_path):
    h = tmp_path / "h"
    reg = tmp_path / "off.reg"
    reg.write_text(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters]\n"
        '"RequireSecuritySignature"=dword:00000000\n'
    )
    r = run(h, "registry", "import", str(reg))
    assert RELAY in r.stderr and "SMB client" in r.stderr
    (imp,) = events(h, "REGISTRY_IMPORTED")
    assert imp["data"]["changed"] == 1 and imp["data"]["actor"] == "alice-admin"
    (off,) = events(h, "SIGNING_TURNED_OFF")
    assert off["data"]["setting"] == "LanmanWorkstation.RequireSecuritySignature"


def test_client_and_server_config_set_warn(tmp_path):
    h = tmp_path / "h"
    r = run(h, "smb", "client-config", "set", "--require-security-signature", "false")
    assert RELAY in r.stderr
    r = run(h, "smb", "server-config", "set", "--enable-security-signature", "false")
    assert RELAY in r.stderr and "SMB1" in r.stderr
    r = run(h, "smb", "server-config", "set", "--max-connections", "100")
    assert RELAY not in r.stderr  # nothing about signing changed
    cfg = events(h, "SERVER_CONFIG_CHANGED")
    assert cfg[0]["data"]["actor"] == "alice-admin" and "MaxConnections" in cfg[0]["message"]
    assert len(events(h, "SIGNING_TURNED_OFF")) == 2


def test_signing_turned_off_is_pure():
    before, after = HostPolicy(), HostPolicy(profile_name="win10")
    offs = audit.signing_turned_off(audit.policy_changes(before, after))
    assert {s.entry.name for _o, s in offs} == {
        "LanmanServer.RequireSecuritySignature",
        "LanmanServer.EnableSecuritySignature",
        "LanmanWorkstation.RequireSecuritySignature",
    }
    assert audit.signing_turned_off(audit.policy_changes(after, before)) == []


def test_local_user_enable_disable_events(tmp_path):
    h = tmp_path / "h"
    run(h, "user", "add", "carol", "--password-stdin", input="Carol-pass1\n")
    run(h, "user", "set", "carol", "--disabled")
    run(h, "user", "set", "carol", "--disabled")  # no change: no second event
    run(h, "user", "set", "carol", "--enabled")
    (dis,) = events(h, "USER_DISABLED")
    (en,) = events(h, "USER_ENABLED")
    assert dis["event_id"] == 4725 and en["event_id"] == 4722
    assert dis["data"] == {"actor": "alice-admin", "user": "carol"}


def test_domain_account_lock_unlock_change_and_provision(tmp_path):
    h = tmp_path / "h"
    run(h, "user", "add", "bob", "--password-stdin", input="Bob-pass1\n")
    run(
        h,
        "domain",
        "provision",
        "--realm",
        "lanman.test",
        "--domain",
        "lanman",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    (p,) = events(h, "DOMAIN_PROVISIONED")
    assert p["event_id"] == 9154 and p["data"]["realm"] == "LANMAN.TEST"
    assert p["data"]["actor"] == "alice-admin" and "admin_password" not in json.dumps(p)
    run(h, "user", "set", "bob", "--locked")
    run(h, "user", "set", "bob", "--unlocked", "--disabled")
    run(h, "user", "set", "bob", "--expires", "2031-01-01")
    (lk,) = events(h, "USER_LOCKED_OUT")
    assert lk["event_id"] == 4740 and "administrator" in lk["data"]["reason"]
    assert events(h, "USER_UNLOCKED")[0]["event_id"] == 4767
    assert events(h, "USER_DISABLED")[0]["data"]["user"] == "bob"
    changed = events(h, "USER_CHANGED")
    assert changed[0]["event_id"] == 4738 and "expires" in changed[0]["data"]["changes"]


def test_up_warns_when_signing_is_not_required(tmp_path):
    """A hand edit of lanman.toml is a path too: `lanman up` warns at start."""
    import os
    import socket
    import subprocess
    import sys

    h = tmp_path / "h"
    run(h, "smb", "server-config", "set", "--max-connections", "100")  # writes lanman.toml
    toml = h / "lanman.toml"
    toml.write_text(
        toml.read_text().replace(
            "require_security_signature = true", "require_security_signature = false"
        )
    )
    with socket.socket() as s:  # a port in use: `up` stops right after its start lines
        s.bind(("127.0.0.1", 0))
        s.listen()
        args = [sys.executable, "-m", "lanman.cli.main", "--home", str(h), "up"]
        args += ["--listen", "127.0.0.1", "--smb-port", str(s.getsockname()[1])]
        if os.geteuid() == 0:
            args += ["--run-as", "root"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert "signing enabled, not required" in r.stdout, r.stdout + r.stderr
    assert RELAY in r.stderr
