"""CLI tests (click's CliRunner against temporary homes)."""

from __future__ import annotations

import json
import sqlite3
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.crypto.md4 import md4, nt_hash
from lanman.home import Home


def _ensure_home(home: Path) -> None:
    if not home.exists():
        Home.open(home).close()


def run(home: Path, *args: str, input: str | None = None):
    _ensure_home(home)  # only setup commands create a home (issue 15)
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_help_lists_groups(tmp_path: Path) -> None:
    r = run(tmp_path / "h", "--help")
    assert r.exit_code == 0
    for group in ("up", "share", "user", "smb", "events"):
        assert group in r.output


def test_user_add_stores_only_hash(tmp_path: Path) -> None:
    home = tmp_path / "h"
    pw = "S3cret-pass-phrase"
    r = run(home, "user", "add", "alice", "--password-stdin", input=pw + "\n")
    assert r.exit_code == 0, r.output + r.stderr
    db = home / "lanman.sqlite"
    c = sqlite3.connect(db)
    (h,) = c.execute("SELECT nt_hash FROM users WHERE name = 'alice'").fetchone()
    c.close()
    assert len(h) == 16
    assert bytes(h) == nt_hash(pw)
    assert h == md4(pw.encode("utf-16-le"))
    blob = b"".join(f.read_bytes() for f in home.rglob("*") if f.is_file())
    assert pw.encode() not in blob and pw.encode("utf-16-le") not in blob


def test_user_add_prompts_twice(tmp_path: Path) -> None:
    r = run(tmp_path / "h", "user", "add", "bob", input="pw1\npw1\n")
    assert r.exit_code == 0, r.output + r.stderr
    assert "pw1" not in r.output


def test_user_list_json_never_shows_hashes(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run(home, "user", "add", "alice", "--password-stdin", input="password\n")
    r = run(home, "user", "list", "--json")
    assert r.exit_code == 0
    users = json.loads(r.output)
    assert [u["name"] for u in users] == ["alice"]
    assert set(users[0]) == {"name", "rid", "enabled", "created"}
    assert "8846f7ea" not in r.output.lower()
    r = run(home, "user", "list")
    assert "alice" in r.output and "8846f7ea" not in r.output.lower()


def test_user_duplicate_and_invalid(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run(home, "user", "add", "alice", "--password-stdin", input="x\n").exit_code == 0
    r = run(home, "user", "add", "ALICE", "--password-stdin", input="y\n")
    assert r.exit_code == 1
    assert "already exists" in r.stderr and "NERR_UserExists" in r.stderr
    assert "Remedy:" in r.stderr
    r = run(home, "user", "add", "bad*name", "--password-stdin", input="y\n")
    assert r.exit_code == 1 and "not allow" in r.stderr
    r = run(home, "user", "add", "x" * 21, "--password-stdin", input="y\n")
    assert r.exit_code == 1 and "at most 20" in r.stderr
    r = run(home, "user", "add", "carol", "--password-stdin", input="\n")
    assert r.exit_code == 1 and "empty password" in r.stderr
    r = run(home, "user", "add", "carol", "--password-stdin", input="")
    assert r.exit_code == 1 and "no password on standard input" in r.stderr


def test_user_passwd_and_remove(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run(home, "user", "add", "alice", "--password-stdin", input="old\n")
    r = run(home, "user", "passwd", "Alice", "--password-stdin", input="new\r\n")
    assert r.exit_code == 0, r.stderr
    c = sqlite3.connect(home / "lanman.sqlite")
    assert bytes(c.execute("SELECT nt_hash FROM users").fetchone()[0]) == nt_hash("new")
    c.close()
    r = run(home, "user", "passwd", "nobody", "--password-stdin", input="x\n")
    assert r.exit_code == 1 and "does not exist" in r.stderr
    assert run(home, "user", "remove", "alice").exit_code == 0
    r = run(home, "user", "remove", "alice")
    assert r.exit_code == 1 and "NERR_UserNotFound" in r.stderr


def test_share_add_list_remove(tmp_path: Path) -> None:
    home = tmp_path / "h"
    data = tmp_path / "data"
    data.mkdir()
    r = run(home, "share", "add", "Data", str(data), "--read-only", "--remark", "[b]x[/b]")
    assert r.exit_code == 0, r.stderr
    r = run(home, "share", "list", "--json")
    assert json.loads(r.output) == [
        {
            "name": "Data",
            "path": str(data.resolve()),
            "read_only": True,
            "guest_ok": False,
            "remark": "[b]x[/b]",
            "encrypt_data": False,
            # share permissions: New-SmbShare's default, Everyone Read
            "security_descriptor": "O:SYG:SYD:(A;;0x1200a9;;;WD)",
        }
    ]
    assert "[b]x[/b]" in run(home, "share", "list").output  # no rich markup injection
    r = run(home, "share", "add", "data", str(data))
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = run(home, "share", "add", "g", str(data), "--guest-ok")
    assert r.exit_code == 0 and "--map-to-guest true" in r.stderr
    assert run(home, "share", "remove", "DATA").exit_code == 0
    r = run(home, "share", "remove", "data")
    assert r.exit_code == 1 and "does not exist" in r.stderr


def test_share_add_missing_path(tmp_path: Path) -> None:
    r = run(tmp_path / "h", "share", "add", "x", str(tmp_path / "missing"))
    assert r.exit_code == 1
    assert "does not exist" in r.stderr and "NERR_UnknownDevDir" in r.stderr
    assert "Remedy:" in r.stderr


@pytest.mark.parametrize("name", ["IPC$", "a:b", ""])
def test_share_add_bad_name(tmp_path: Path, name: str) -> None:
    r = run(tmp_path / "h", "share", "add", name, str(tmp_path))
    assert r.exit_code == 1 and r.stderr.startswith("System error")


def test_server_config_defaults(tmp_path: Path) -> None:
    r = run(tmp_path / "h", "smb", "server-config", "get", "--json")
    assert r.exit_code == 0
    cfg = json.loads(r.output)
    assert cfg["RequireSecuritySignature"] is True
    assert cfg["EnableSecuritySignature"] is True
    assert cfg["MapToGuest"] is False
    assert cfg["Listen"] == "127.0.0.1" and cfg["SmbPort"] == 4445
    r = run(tmp_path / "h", "smb", "server-config", "get")
    assert "RequireSecuritySignature" in r.output and "True" in r.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        ("FALSE", False),
        ("$false", False),
        ("$False", False),
        ("0", False),
        ("true", True),
        ("$TRUE", True),
        ("1", True),
    ],
)
def test_server_config_set_get_round_trip(tmp_path: Path, value: str, expected: bool) -> None:
    home = tmp_path / "h"
    r = run(
        home,
        "smb",
        "server-config",
        "set",
        "--require-security-signature",
        value,
        "--map-to-guest",
        value,
        "--enable-security-signature",
        value,
    )
    assert r.exit_code == 0, r.stderr
    cfg = json.loads(run(home, "smb", "server-config", "get", "--json").output)
    assert cfg["RequireSecuritySignature"] is expected
    assert cfg["MapToGuest"] is expected
    assert cfg["EnableSecuritySignature"] is expected


def test_server_config_set_errors(tmp_path: Path) -> None:
    home = tmp_path / "h"
    r = run(home, "smb", "server-config", "set", "--require-security-signature", "maybe")
    assert r.exit_code == 2 and "not a boolean" in r.stderr
    r = run(home, "smb", "server-config", "set")
    assert r.exit_code == 1 and "nothing to set" in r.stderr
    r = run(home, "smb", "server-config", "set", "--listen", "localhost")
    assert r.exit_code == 1 and "not an IP address" in r.stderr
    r = run(home, "smb", "server-config", "set", "--listen", "0.0.0.0", "--smb-port", "445")
    assert r.exit_code == 0
    cfg = json.loads(run(home, "smb", "server-config", "get", "--json").output)
    assert cfg["Listen"] == "0.0.0.0" and cfg["SmbPort"] == 445


def test_broken_toml_precise_error_file_untouched(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    toml = home / "lanman.toml"
    text = "[server]\nrequire_security_signature = true\nsmb_port = 4445x\n"
    toml.write_text(text)
    for args in (
        ("smb", "server-config", "get", "--json"),
        ("smb", "server-config", "set", "--require-security-signature", "false"),
        ("share", "list"),
    ):
        r = run(home, *args)
        assert r.exit_code == 1
        assert f"{toml}:3:" in r.stderr and "invalid TOML" in r.stderr
        assert "Remedy:" in r.stderr
        assert toml.read_text() == text


def test_bad_value_toml(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "lanman.toml").write_text('[server]\nlisten = "127.0.0.1"\nsmb_port = 0\n')
    r = run(home, "user", "list")
    assert (
        r.exit_code == 1 and "lanman.toml:3: smb_port = 0 must be between 1 and 65535" in r.stderr
    )


def test_events_json(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run(home, "user", "add", "alice", "--password-stdin", input="pw-not-logged\n")
    run(home, "smb", "server-config", "set", "--require-security-signature", "false")
    r = run(home, "events", "--json", "--limit", "10")
    assert r.exit_code == 0
    evs = json.loads(r.output)
    # newest first: the server-config summary, then the audit trail of the policy write
    assert [e["name"] for e in evs] == [
        "SERVER_CONFIG_CHANGED",
        "SIGNING_TURNED_OFF",
        "POLICY_VALUE_CHANGED",
        "USER_ADDED",
    ]
    assert "pw-not-logged" not in r.output
    assert run(home, "events", "--json", "--limit", "1").output.count('"event_id"') == 1
    assert "USER_ADDED" not in run(home, "events", "--json", "--id", "9130").output
    r = run(home, "events")
    assert r.exit_code == 0 and "9120" in r.output
    r = run(home, "events", "--since", "yesterday")
    assert r.exit_code == 1 and "ISO 8601" in r.stderr


def test_lanman_home_env(lanman_home: Path) -> None:
    r = CliRunner().invoke(cli, ["share", "list", "--json"])
    assert r.exit_code == 1 and str(lanman_home) in r.stderr  # a read never creates a home
    assert not lanman_home.exists()
    r = CliRunner().invoke(cli, ["user", "add", "bob", "--password-stdin"], input="Bob-pw-1\n")
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["share", "list", "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == []
    assert (lanman_home / "lanman.sqlite").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["user", "list"],
        ["user", "list", "--json"],
        ["share", "list"],
        ["events"],
        ["policy", "get"],
        ["smb", "server-config", "get"],
        ["domain", "show"],
    ],
)
def test_read_commands_never_create_a_home(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nonexistent" / "x"
    r = CliRunner().invoke(cli, ["--home", str(missing), *args])
    assert r.exit_code == 1, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and str(missing) in lines[0] and "does not exist" in lines[0]
    assert "internal error" not in r.output + r.stderr
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize(
    "args,stdin",
    [
        (["user", "add", "bob", "--password-stdin"], "Bob-pw-1\n"),
        (["share", "add", "docs", "{dir}"], None),
    ],
)
def test_setup_commands_create_the_home(tmp_path: Path, args: list[str], stdin) -> None:
    home = tmp_path / "new" / "home"
    d = tmp_path / "docs"
    d.mkdir()
    args = [a.replace("{dir}", str(d)) for a in args]
    r = CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin)
    assert r.exit_code == 0, r.output + r.stderr
    assert (home / "lanman.sqlite").exists()


def _fake_service(monkeypatch, run_impl) -> list:
    calls: list = []
    mod = types.ModuleType("lanman.smb.server.service")

    def run_fn(home, listen, port, **kw):  # kw: after_bind when up drops root (--run-as)
        calls.append((home, listen, port))
        run_impl()

    mod.run = run_fn
    monkeypatch.setitem(sys.modules, "lanman.smb.server.service", mod)
    return calls


def test_up_demo_prints_password_once(tmp_path: Path, monkeypatch) -> None:
    calls = _fake_service(monkeypatch, lambda: None)
    home = tmp_path / "h"
    r = run(home, "up", "--demo", "--smb-port", "14445")
    assert r.exit_code == 0, r.stderr
    line = next(x for x in r.output.splitlines() if "smbclient" in x).strip()
    assert line.startswith("smbclient //127.0.0.1/demo -p 14445 -U demo%")
    assert line.endswith(" --client-protection=sign -c ls")
    pw = line.split("-U demo%", 1)[1].split()[0]
    c = sqlite3.connect(home / "lanman.sqlite")
    assert bytes(c.execute("SELECT nt_hash FROM users WHERE name='demo'").fetchone()[0]) == (
        nt_hash(pw)
    )
    c.close()
    assert calls[0][1:] == ("127.0.0.1", 14445)
    assert (home / "shares" / "demo" / "README.txt").is_file()
    r2 = run(home, "up", "--demo", "--listen", "0.0.0.0")
    assert r2.exit_code == 0 and pw not in r2.output
    assert "smbclient //127.0.0.1/demo -p 4445 -U demo " in r2.output
    assert calls[1][1:] == ("0.0.0.0", 4445)


def test_up_ctrl_c_exits_zero(tmp_path: Path, monkeypatch) -> None:
    def boom():
        raise KeyboardInterrupt

    _fake_service(monkeypatch, boom)
    r = run(tmp_path / "h", "up")
    assert r.exit_code == 0 and "stopped" in r.output


def test_up_bad_listen(tmp_path: Path, monkeypatch) -> None:
    _fake_service(monkeypatch, lambda: None)
    r = run(tmp_path / "h", "up", "--listen", "not-an-ip")
    assert r.exit_code == 1 and "not an IP address" in r.stderr


def test_internal_error_no_traceback(tmp_path: Path, monkeypatch) -> None:
    def boom():
        raise RuntimeError("kaboom")

    _fake_service(monkeypatch, boom)
    monkeypatch.delenv("LANMAN_DEBUG", raising=False)
    r = run(tmp_path / "h", "up")
    assert r.exit_code == 1 and "internal error: RuntimeError: kaboom" in r.stderr


def test_up_without_service_keeps_demo_password_unused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "lanman.smb.server.service", None)
    home = tmp_path / "h"
    r = run(home, "up", "--demo")
    assert r.exit_code == 1 and "not available" in r.stderr
    assert "Password" not in r.output
    assert json.loads(run(home, "user", "list", "--json").output) == []


def test_share_encrypt_data_add_and_set(tmp_path: Path) -> None:
    home = tmp_path / "h"
    data = tmp_path / "data"
    data.mkdir()
    r = run(home, "share", "add", "Sec", str(data), "--encrypt-data")
    assert r.exit_code == 0, r.stderr
    assert "RejectUnencryptedAccess" in r.stderr
    assert json.loads(run(home, "share", "list", "--json").output)[0]["encrypt_data"] is True
    r = run(home, "share", "set", "Sec", "--encrypt-data", "false")
    assert r.exit_code == 0, r.stderr
    assert json.loads(run(home, "share", "list", "--json").output)[0]["encrypt_data"] is False
    r = run(home, "share", "set", "Nope", "--encrypt-data", "true")
    assert r.exit_code == 1 and "NERR_NetNameNotFound" in r.stderr


def test_server_config_encryption_settings(tmp_path: Path) -> None:
    home = tmp_path / "h"
    got = json.loads(run(home, "smb", "server-config", "get", "--json").output)
    assert got["EncryptData"] is False and got["RejectUnencryptedAccess"] is True
    assert got["EncryptionCiphers"] == "AES_128_GCM,AES_128_CCM,AES_256_GCM,AES_256_CCM"
    r = run(
        home,
        "smb",
        "server-config",
        "set",
        "--encrypt-data",
        "true",
        "--reject-unencrypted-access",
        "false",
        "--encryption-ciphers",
        "aes-256-gcm",
    )
    assert r.exit_code == 0, r.stderr
    got = json.loads(run(home, "smb", "server-config", "get", "--json").output)
    assert got["EncryptData"] is True and got["Origin"]["EncryptData"] == "local"
    assert got["RejectUnencryptedAccess"] is False
    assert got["EncryptionCiphers"] == "AES_256_GCM"
    r = run(home, "smb", "server-config", "set", "--encryption-ciphers", "AES_512_GCM")
    assert r.exit_code == 1 and "unknown cipher" in r.stderr


def test_home_after_the_command(tmp_path: Path) -> None:
    """`lanman user list --home DIR` (the option after the command) works like `--home DIR
    user list`: a missing home is one line naming the path, exit 1."""
    missing = tmp_path / "nonexistent" / "x"
    for args in (["user", "list", "--home", str(missing)], ["user", "list", f"--home={missing}"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1, r.output
        want = (
            f"lanman: home directory '{missing}' does not exist (check --home / LANMAN_HOME; "
            "`lanman up`, `user add`, `share add` or `domain provision` create one)"
        )
        assert r.stderr.strip().splitlines() == [want]
        assert not missing.parent.exists()
    home = tmp_path / "h"
    r = CliRunner().invoke(
        cli, ["user", "add", "bob", "--password-stdin", "--home", str(home)], input="Bob-pw-1\n"
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["user", "list", "--json", "--home", str(home)])
    assert r.exit_code == 0 and [u["name"] for u in json.loads(r.stdout)] == ["bob"]


def test_hoist_global_option() -> None:
    from lanman.cli._common import hoist_global_option as h

    assert h(["user", "list", "--home", "d"]) == ["--home", "d", "user", "list"]
    assert h(["user", "list", "--home=d"]) == ["--home=d", "user", "list"]
    assert h(["--home", "d", "user", "list"]) == ["--home", "d", "user", "list"]
    assert h(["user", "add", "--", "--home", "d"]) == ["user", "add", "--", "--home", "d"]
    assert h(["msg", "*", "--home", "x"]) == ["msg", "*", "--home", "x"]  # free text
    assert h(["user", "list", "--home"]) == ["user", "list", "--home"]  # click reports it
