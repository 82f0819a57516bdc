"""Third-party servers that cannot sign (issue 15), against real peers on 127.0.0.1.

impacket's smbserver with an account: its NTLM completes without the SPNEGO mechListMIC
(fortra/impacket#1883), so a client that requires signing cannot get a signed session.
``lanman client`` must show what Windows shows — 0xC000A000 STATUS_INVALID_SIGNATURE "The
cryptographic signature is invalid." — with the third-party cause and the remedies (make that
server sign; or, not recommended, stop requiring signing on the client), never share
permissions; the event 31998 goes to the log; and ``lanman scan`` gives the same verdict for
win11-24h2-pro, with and without the account.

An HTTP server on a loopback port: ``lanman client`` says "not an SMB server", not a
Direct-TCP length.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import interop_support as isup
import pytest

IMPACKET_SERVER = textwrap.dedent("""
    import sys
    from impacket import smbserver
    from impacket.ntlm import compute_lmhash, compute_nthash
    host, port, share, path, user, pw = sys.argv[1:7]
    srv = smbserver.SimpleSMBServer(listenAddress=host, listenPort=int(port))
    srv.addShare(share.upper(), path, "")
    srv.setSMB2Support(True)
    srv.addCredential(user, 1000, compute_lmhash(pw).hex(), compute_nthash(pw).hex())
    srv.setSMBChallenge("")
    srv.setLogFile("")
    srv.start()
""")

SIG_LINE = "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE The cryptographic signature is invalid."


@pytest.fixture(scope="module")
def impacket_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("impsign")
    share = base / "share"
    share.mkdir()
    (share / "hello.txt").write_bytes(b"hello\n")
    port = isup.free_port()
    password = isup.random_password()
    log = open(base / "impacket.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", IMPACKET_SERVER, isup.HOST, str(port), "data", str(share)]
        + ["alice", password],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        isup.wait_port(port, 30, proc)  # a missing impacket is a failure, never a skip
        yield {"port": port, "password": password, "base": base}
    finally:
        isup.stop_process(proc)
        log.close()


def _lanman(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return isup.run(isup.lanman_cmd() + ["--home", str(home), *args], timeout=timeout)


def _client(srv, home: Path, *extra: str) -> subprocess.CompletedProcess:
    return _lanman(
        home,
        "client",
        "//127.0.0.1/DATA",
        "-p",
        str(srv["port"]),
        "-U",
        f"alice%{srv['password']}",
        "--no-kerberos",
        *extra,
    )


def test_client_requiring_signing_shows_0xc000a000(impacket_server, tmp_path):
    home = tmp_path / "client-home"
    cp = _client(impacket_server, home, "--require-signing", "true", "-c", "ls")
    err = cp.stderr.decode()
    assert cp.returncode == 1, err
    assert err.splitlines()[0] == SIG_LINE
    assert "System error 5" not in err and "Access is denied" not in err
    assert "Grant-SmbShareAccess" not in err and "grant the account access" not in err
    assert "third-party server that cannot sign" in err
    assert "mechListMIC" in err
    # the recognised family picks the server remedy
    assert "The server looks like impacket's smbserver" in err
    assert "Remedy (server): impacket's smbserver cannot sign" in err
    assert "server signing = mandatory" in err
    # the client-side way out, marked as not recommended
    assert "Remedy (client): stop requiring signing" in err and "prefer fixing the server" in err
    assert "Set-SmbClientConfiguration -RequireSecuritySignature $false" in err
    assert "lanman smb client-config set --require-security-signature false" in err
    assert "internal error" not in err and "Traceback" not in err
    ev = _lanman(home, "events", "--id", "31998", "--json")
    assert ev.returncode == 0, ev.stderr.decode()
    (row,) = json.loads(ev.stdout)[:1]
    assert row["event_id"] == 31998 and "does not support signing" in row["message"]


def test_client_json_error(impacket_server, tmp_path):
    cp = _client(impacket_server, tmp_path / "h", "--require-signing", "true", "--json")
    assert cp.returncode == 1
    err = json.loads(cp.stdout)["error"]
    assert err["ntstatus_hex"] == "0xC000A000"
    assert err["ntstatus_name"] == "STATUS_INVALID_SIGNATURE"
    assert err["server_family"] == "impacket"
    assert err["explanation"]["key"] == "server_cannot_sign"
    assert err["explanation"]["family"] == "impacket"


def test_client_policy_from_profile_win11_24h2_pro(impacket_server, tmp_path):
    """The home's client policy (profile win11-24h2-pro requires signing), no override."""
    home = tmp_path / "pro"
    cp = isup.run(
        isup.lanman_cmd() + ["--home", str(home), "user", "add", "nobody", "--password-stdin"],
        input=b"Nobody-pw-1\n",
        timeout=60,
    )
    assert cp.returncode == 0, cp.stderr.decode()
    cp = _lanman(home, "profile", "use", "win11-24h2-pro")
    assert cp.returncode == 0, cp.stderr.decode()
    cp = _client(impacket_server, home, "-c", "ls")
    assert cp.returncode == 1 and cp.stderr.decode().splitlines()[0] == SIG_LINE


@pytest.mark.parametrize("with_user", [True, False], ids=["with-user", "no-credentials"])
def test_scan_gives_the_same_verdict(impacket_server, tmp_path, with_user):
    pwfile = tmp_path / "pw"
    pwfile.write_text(impacket_server["password"] + "\n")
    args = [
        "scan",
        f"127.0.0.1:{impacket_server['port']}",
        "--profile",
        "win11-24h2-pro",
        "--json",
        "--no-progress",
        "--timeout",
        "30",
    ]
    if with_user:
        args += ["--user", "alice", "--password-file", str(pwfile)]
    cp = _lanman(tmp_path / "scan-home", *args, timeout=120)
    assert cp.returncode == 1, cp.stderr.decode()  # the target fails for the profile
    (host,) = json.loads(cp.stdout)["hosts"]
    assert host["family"] == "impacket"
    (v,) = host["verdicts"]
    assert v["profile"] == "win11-24h2-pro" and v["status"] == "fails"
    assert v["code_display"] == "0xC000A000" and v["name"] == "STATUS_INVALID_SIGNATURE"
    assert v["text"] == "The cryptographic signature is invalid."
    assert v["key"] == "server_cannot_sign"
    assert ("inferred" in (v["note"] or "")) is (not with_user)
    sides = [r["side"] for r in v["remedies"]]
    assert sides == ["server", "client"]
    assert "impacket" in v["remedies"][0]["summary"]
    assert not any("Grant-SmbShareAccess" in json.dumps(r) for r in v["remedies"])


# ---- a peer that is not an SMB server ----------------------------------------------------------


@pytest.fixture
def http_server(tmp_path):
    port = isup.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", isup.HOST],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        isup.wait_port(port, 20, proc)
        yield port
    finally:
        isup.stop_process(proc)


def test_http_peer_is_not_an_smb_server(http_server, tmp_path):
    cp = _lanman(tmp_path / "h", "client", "//127.0.0.1/x", "-p", str(http_server), "-N")
    err = cp.stderr.decode()
    assert cp.returncode == 1, err
    assert f"127.0.0.1:{http_server} is not an SMB server" in err
    assert "an HTTP server" in err
    assert "Direct-TCP length" not in err and "internal error" not in err
    assert "System error 53 has occurred." in err


def test_user_without_password_without_a_terminal(http_server, tmp_path):
    """No controlling terminal (a new session) and standard input not a terminal: a clear
    error instead of getpass's warning and "Aborted!"; nothing is sent to the peer."""
    cp = subprocess.run(
        isup.lanman_cmd()
        + ["--home", str(tmp_path / "h"), "client", "//127.0.0.1/x", "-p", str(http_server)]
        + ["-U", "alice"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        start_new_session=True,
        check=False,
    )
    err = cp.stderr.decode()
    assert cp.returncode == 1, err
    assert "no password for alice and no terminal to ask for one" in err
    assert "Aborted" not in err and "GetPassWarning" not in err and "Warning" not in err
