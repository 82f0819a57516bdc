"""lanman's client (CLI, real sockets) against lanman's server, and Samba's ``smbclient -N``
against a lanman ``--guest-ok`` share (map_to_guest on).

* client CLI: ``-c`` commands, ``--show-connection`` / ``connections --json`` rows, the
  Windows-style failure text with remedy, and client events in the client's home;
* ``smbclient -N``: works with ``--client-protection=off``, fails with
  ``--client-protection=sign`` (a guest session cannot be signed).
"""

from __future__ import annotations

import json
import os

import pytest
from interop_support import cleanup_target, lanman_cmd, require_tool, run
from samba_variants import GUEST_SHARE, start_lanman_guest

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def guest_server(tmp_path_factory):
    t = start_lanman_guest(tmp_path_factory.mktemp("lgsrv"))
    yield t
    cleanup_target(t)


def client(home, *args, input=None, cwd=None):
    return run(
        lanman_cmd() + ["--home", str(home), "client", *args], timeout=60, input=input, cwd=cwd
    )


def test_cli_commands_against_lanman(guest_server, tmp_path):
    t = guest_server
    home = tmp_path / "client-home"
    (tmp_path / "up.txt").write_bytes(b"payload\n")
    cp = client(
        home,
        t.unc(),
        "-p",
        str(t.port),
        "-U",
        f"{t.user}%{t.password}",
        "--require-signing",
        "true",
        "--show-connection",
        "-c",
        "mkdir d; put up.txt d/up.txt; ls d; rename d/up.txt d/x.txt; "
        "get d/x.txt down.txt; rm d/x.txt; rmdir d",
        cwd=tmp_path,
    )
    out = cp.stdout.decode()
    assert cp.returncode == 0, cp.stderr.decode()
    assert "up.txt" in out and "3.1.1" in out and "AES-GMAC" in out
    assert (tmp_path / "down.txt").read_bytes() == b"payload\n"
    assert not (t.share_dir / "d").exists()


@pytest.mark.parametrize("dialect", ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"])
def test_cli_connections_json(guest_server, tmp_path, dialect):
    t = guest_server
    cp = client(
        tmp_path / "h",
        "connections",
        t.unc(),
        "-p",
        str(t.port),
        "-U",
        t.user,
        "--password-stdin",
        "--dialect",
        dialect,
        "--require-signing",
        "true",
        "--json",
        input=(t.password + "\n").encode(),
    )
    assert cp.returncode == 0, cp.stderr.decode()
    (row,) = json.loads(cp.stdout)
    assert row["Dialect"] == dialect and row["Signed"] is True
    assert row["UserName"] == t.user and row["IsGuest"] is False
    assert row["ServerName"] == t.host and row["ShareName"] == t.share


def test_cli_guest_blocked_shows_1272_and_logs_31017(guest_server, tmp_path):
    t = guest_server
    home = tmp_path / "h"
    cp = client(
        home,
        f"//{t.host}/{GUEST_SHARE}",
        "-p",
        str(t.port),
        "-N",
        "--require-signing",
        "false",
        "--allow-insecure-guest",
        "false",
    )
    err = cp.stderr.decode()
    assert cp.returncode == 1
    assert "System error 1272 has occurred." in err
    assert "organization's security policies block unauthenticated guest access" in err
    assert "Error code: 0x80070035 The network path was not found." in err
    assert "Enable insecure guest logons" in err and "AllowInsecureGuestAuth = 1" in err
    ev = run(
        lanman_cmd() + ["--home", str(home), "events", "--id", "31017", "--json"],
        timeout=30,
        check=True,
    )
    assert json.loads(ev.stdout)[0]["event_id"] == 31017


def test_cli_guest_signing_required_3227320323(guest_server, tmp_path):
    t = guest_server
    cp = client(
        tmp_path / "h",
        f"//{t.host}/{GUEST_SHARE}",
        "-p",
        str(t.port),
        "-U",
        "nosuchuser%x",
        "--require-signing",
        "true",
        "--allow-insecure-guest",
        "true",
    )
    err = cp.stderr.decode()
    assert cp.returncode == 1
    assert "System error 3227320323 has occurred." in err
    assert "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED" in err


def test_cli_guest_both_permissive(guest_server, tmp_path):
    t = guest_server
    cp = client(
        tmp_path / "h",
        f"//{t.host}/{GUEST_SHARE}",
        "-p",
        str(t.port),
        "-U",
        "nosuchuser%x",
        "--require-signing",
        "false",
        "--allow-insecure-guest",
        "true",
        "-c",
        "ls",
        "--show-connection",
    )
    out = cp.stdout.decode()
    assert cp.returncode == 0, cp.stderr.decode()
    assert "hello.txt" in out and "Guest" in out


def test_cli_policy_from_home(guest_server, tmp_path):
    """No flags: the client home's effective policy decides (default profile requires
    signing and blocks insecure guests -> 1272 first, as guest_logon_allowed orders them)."""
    t = guest_server
    home = tmp_path / "h"
    cp = client(home, f"//{t.host}/{GUEST_SHARE}", "-p", str(t.port), "-U", "nosuchuser%x")
    assert cp.returncode == 1 and "System error 1272" in cp.stderr.decode()
    run(
        lanman_cmd()
        + [
            "--home",
            str(home),
            "smb",
            "client-config",
            "set",
            "--require-security-signature",
            "false",
            "--enable-insecure-guest-logons",
            "true",
        ],
        timeout=30,
        check=True,
    )
    cp = client(
        home, f"//{t.host}/{GUEST_SHARE}", "-p", str(t.port), "-U", "nosuchuser%x", "-c", "ls"
    )
    assert cp.returncode == 0, cp.stderr.decode()
    assert "hello.txt" in cp.stdout.decode()


def _smbclient_n(t, protection: str):
    exe = require_tool("smbclient")
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return run(
        [
            exe,
            f"//{t.host}/{GUEST_SHARE}",
            "-p",
            str(t.port),
            "-N",
            f"--client-protection={protection}",
            "--option=client smb encrypt=off",
            "-c",
            "ls",
        ],
        timeout=60,
        env=env,
    )


def test_smbclient_guest_works_without_signing(guest_server):
    cp = _smbclient_n(guest_server, "off")
    out = cp.stdout.decode() + cp.stderr.decode()
    assert cp.returncode == 0, out
    assert "hello.txt" in out


def test_smbclient_guest_fails_when_client_requires_signing(guest_server):
    cp = _smbclient_n(guest_server, "sign")
    out = cp.stdout.decode() + cp.stderr.decode()
    assert cp.returncode != 0, out
    assert "hello.txt" not in out
