"""CLI: smb client-config/server-config origins, policy, profile, registry (CliRunner, tmp homes)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.home import Home

SERVER_ALWAYS = "Microsoft network server: Digitally sign communications (always)"
CLIENT_ALWAYS = "Microsoft network client: Digitally sign communications (always)"
GUEST = "Enable insecure guest logons"


def _ensure_home(home: Path) -> None:
    if not home.exists():
        Home.open(home).close()


def run(home: Path, *args: str):
    _ensure_home(home)  # only setup commands create a home (issue 15)
    r = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert "Traceback" not in r.output + r.stderr
    return r


def jget(home: Path, *args: str):
    r = run(home, *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.output)


def _server(home: Path):
    from lanman.smb.server.service import build_context

    h = Home.open(home)
    try:
        return build_context(h).settings
    finally:
        h.close()


def test_defaults_with_origins(tmp_path: Path) -> None:
    h = tmp_path / "h"
    s = jget(h, "smb", "server-config", "get")
    assert (
        s["RequireSecuritySignature"] is True
        and s["Origin"]["RequireSecuritySignature"] == "default"
    )
    assert s["Profile"] == "win11-24h2-enterprise"
    c = jget(h, "smb", "client-config", "get")
    assert c["RequireSecuritySignature"] is True and c["EnableInsecureGuestLogons"] is False
    assert set(c["Origin"].values()) == {"default"}


def test_group_policy_wins_and_up_uses_it(tmp_path: Path) -> None:
    h = tmp_path / "h"
    r = run(h, "smb", "server-config", "set", "--require-security-signature", "true")
    assert r.exit_code == 0
    assert _server(h).require_message_signing is True
    r = run(h, "policy", "set", SERVER_ALWAYS, "disabled")
    assert r.exit_code == 0, r.stderr
    s = jget(h, "smb", "server-config", "get")
    assert s["RequireSecuritySignature"] is False
    assert s["Origin"]["RequireSecuritySignature"] == "group policy"
    assert _server(h).require_message_signing is False
    p = jget(h, "policy", "get", SERVER_ALWAYS)
    assert (p["state"], p["origin"], p["local_state"], p["group_state"]) == (
        "disabled",
        "group policy",
        "enabled",
        "disabled",
    )
    # a local change cannot beat Group Policy, and says so
    r = run(h, "smb", "server-config", "set", "--require-security-signature", "true")
    assert r.exit_code == 0 and "Group Policy defines" in r.stderr
    assert _server(h).require_message_signing is False
    # not-defined falls through to local
    assert run(h, "policy", "set", SERVER_ALWAYS, "not-defined").exit_code == 0
    s = jget(h, "smb", "server-config", "get")
    assert (s["RequireSecuritySignature"], s["Origin"]["RequireSecuritySignature"]) == (
        True,
        "local",
    )
    # lanman.toml mirrors the effective value
    assert "require_security_signature = true" in (h / "lanman.toml").read_text()


def test_server_config_set_false_end_to_end(tmp_path: Path) -> None:
    h = tmp_path / "h"
    r = run(h, "smb", "server-config", "set", "--require-security-signature", "false")
    assert r.exit_code == 0
    assert _server(h).require_message_signing is False
    assert "require_security_signature = false" in (h / "lanman.toml").read_text()
    s = jget(h, "smb", "server-config", "get")
    assert s["Origin"]["RequireSecuritySignature"] == "local"


def test_hand_edited_lanman_toml_is_a_local_change(tmp_path: Path) -> None:
    h = tmp_path / "h"
    run(h, "smb", "server-config", "get")  # creates the home (no policy.toml yet)
    toml = h / "lanman.toml"
    toml.write_text(
        toml.read_text().replace(
            "require_security_signature = true", "require_security_signature = false"
        )
    )
    assert _server(h).require_message_signing is False
    s = jget(h, "smb", "server-config", "get")
    assert s["Origin"]["RequireSecuritySignature"] == "local"
    # after a policy file exists, a later hand edit still counts
    run(h, "profile", "use", "server2025-dc")
    toml.write_text(
        toml.read_text().replace(
            "require_security_signature = false", "require_security_signature = true"
        )
    )
    s = jget(h, "smb", "server-config", "get")
    assert (s["RequireSecuritySignature"], s["Origin"]["RequireSecuritySignature"]) == (
        True,
        "local",
    )


def test_map_to_guest_from_toml(tmp_path: Path) -> None:
    h = tmp_path / "h"
    run(h, "smb", "server-config", "set", "--map-to-guest", "true")
    assert _server(h).map_to_guest is True
    assert jget(h, "smb", "server-config", "get")["Origin"]["MapToGuest"] == "local"


def test_profiles(tmp_path: Path) -> None:
    h = tmp_path / "h"
    rows = jget(h, "profile", "list")
    assert len(rows) == 15 and [r["name"] for r in rows if r["current"]] == [
        "win11-24h2-enterprise"
    ]
    show = jget(h, "profile", "show", "server2025")
    v = {x["name"]: x for x in show["values"]}
    assert v["LanmanServer.RequireSecuritySignature"]["default"] == 0
    assert "hardening" in v["LanmanServer.RequireSecuritySignature"]["conflict"]
    assert run(h, "profile", "use", "server2025").exit_code == 0
    s = jget(h, "smb", "server-config", "get")
    assert s["RequireSecuritySignature"] is False and s["Profile"] == "server2025"
    assert _server(h).require_message_signing is False
    c = jget(h, "smb", "client-config", "get")
    assert c["RequireSecuritySignature"] is True
    r = run(h, "profile", "use", "win12")
    assert r.exit_code == 1 and "known profiles" in r.stderr
    assert "win11-24h2-home" in run(h, "profile", "list").output


def test_client_config_set_and_legacy_profile(tmp_path: Path) -> None:
    h = tmp_path / "h"
    r = run(
        h,
        "smb",
        "client-config",
        "set",
        "--enable-insecure-guest-logons",
        "true",
        "--require-security-signature",
        "false",
    )
    assert r.exit_code == 0, r.stderr
    c = jget(h, "smb", "client-config", "get")
    assert (
        c["EnableInsecureGuestLogons"] is True
        and c["Origin"]["EnableInsecureGuestLogons"] == "local"
    )
    run(h, "policy", "set", GUEST, "disabled")
    c = jget(h, "smb", "client-config", "get")
    assert (c["EnableInsecureGuestLogons"], c["Origin"]["EnableInsecureGuestLogons"]) == (
        False,
        "group policy",
    )
    run(h, "profile", "use", "nt4-sp3")
    r = run(h, "smb", "client-config", "set", "--require-security-signature", "true")
    assert r.exit_code == 0
    p = jget(
        h,
        "policy",
        "get",
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Rdr\\Parameters\\RequireSecuritySignature",
    )
    assert (p["value"], p["origin"]) == (1, "local")
    r = run(h, "smb", "client-config", "set", "--enable-insecure-guest-logons", "true")
    assert r.exit_code == 1 and "SMB1-only" in r.stderr


def test_policy_errors_and_listing(tmp_path: Path) -> None:
    h = tmp_path / "h"
    r = run(h, "policy", "set", "No such policy", "enabled")
    assert r.exit_code == 1 and CLIENT_ALWAYS in r.stderr
    r = run(h, "policy", "set", CLIENT_ALWAYS, "maybe")
    assert r.exit_code == 2
    allp = jget(h, "policy", "get")
    # 11 signing/guest/RPC values, the rate limiter, EncryptData, RejectUnencryptedAccess and
    # the five anonymous-access values (RestrictAnonymous[SAM], RestrictNullSessAccess,
    # NullSessionPipes, NullSessionShares)
    assert len(allp["settings"]) == 19
    assert run(h, "policy", "get").exit_code == 0
    r = run(h, "policy", "set", GUEST.upper(), "enabled", "--scope", "local")
    assert r.exit_code == 0 and "LanmanWorkstation\\Parameters\\AllowInsecureGuestAuth" in r.output


def test_registry_import_export_round_trip(tmp_path: Path) -> None:
    h1, h2 = tmp_path / "h1", tmp_path / "h2"
    reg = tmp_path / "in.reg"
    reg.write_bytes(
        b"\xff\xfe"
        + (
            "Windows Registry Editor Version 5.00\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server]\r\n"
            '"AllowRemoteRPC"=dword:00000001\r\n\r\n'
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n"
            '"RequireSecuritySignature"=dword:00000000\r\n\r\n'
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation]\r\n"
            '"AllowInsecureGuestAuth"=dword:00000001\r\n'
        ).encode("utf-16-le")
    )
    r = run(h1, "registry", "import", str(reg))
    assert r.exit_code == 0, r.stderr
    assert _server(h1).require_message_signing is False
    for scope in ("local", "group"):
        r = run(h1, "registry", "export", str(tmp_path / f"{scope}.reg"), "--scope", scope)
        assert r.exit_code == 0
        r = run(h2, "registry", "import", str(tmp_path / f"{scope}.reg"), "--scope", scope)
        assert r.exit_code == 0, r.stderr
    assert jget(h1, "policy", "get") == jget(h2, "policy", "get")
    assert jget(h2, "policy", "get", "TerminalServer.AllowRemoteRPC")["value"] == 1
    r = run(h2, "registry", "export", str(tmp_path / "u8.reg"), "--encoding", "utf-8")
    assert (tmp_path / "u8.reg").read_bytes().startswith(b"Windows Registry Editor Version 5.00")


def test_registry_import_broken_is_atomic(tmp_path: Path) -> None:
    h = tmp_path / "h"
    reg = tmp_path / "bad.reg"
    reg.write_text(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\n"
        '"RequireSecuritySignature"=dword:00000000\n'
        '"EnableSecuritySignature"=dword:00000007\n'
    )
    r = run(h, "registry", "import", str(reg))
    assert r.exit_code == 1 and f"{reg}:5:" in r.stderr and "Remedy:" in r.stderr
    assert not (h / "policy.toml").exists()
    assert jget(h, "smb", "server-config", "get")["RequireSecuritySignature"] is True
    r = run(h, "registry", "import", str(tmp_path / "missing.reg"))
    assert r.exit_code == 1 and "cannot read" in r.stderr


def test_broken_policy_toml_is_reported(tmp_path: Path) -> None:
    h = tmp_path / "h"
    run(h, "profile", "use", "win10")
    (h / "policy.toml").write_text('profile = "win12"\n')
    r = run(h, "smb", "server-config", "get")
    assert r.exit_code == 1 and "unknown profile" in r.stderr
