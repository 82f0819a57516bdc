"""Kerberos-signed SMB against real peers: Samba smbclient with a ticket from lanman's KDC.

`lanman up` serves SMB and the KDC of a provisioned domain; MIT `kinit` gets dave's TGT with a
krb5.conf from `lanman domain krb5conf`; smbclient connects to //LANMAN/share (the name makes
the SPN cifs/LANMAN, ``-I 127.0.0.1`` the address) with ``--use-kerberos=required
--client-protection=sign``. A pass-through proxy checks that every request and response after
SESSION_SETUP is signed; the server log shows the Kerberos logon.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from interop_support import (
    TamperProxy,
    lanman_cli,
    lanman_cmd,
    lanman_up,
    make_random_file,
    random_password,
    sha256_file,
    unsigned_traffic,
)

REALM = "LANMAN.TEST"
HOST_NAME = "LANMAN"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian krb5-user / smbclient")
    return path


def _lanman(home: Path, *args: str, input_text: str | None = None) -> str:
    return lanman_cli(home, *args, input_text=input_text).stdout


def _run(args, env, input_text=None, timeout=60):
    return subprocess.run(
        args,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    base = tmp_path_factory.mktemp("smbkrb")
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
    password = random_password()
    _lanman(home, "user", "add", "dave", "--password-stdin", input_text=password + "\n")
    _lanman(home, "share", "add", "data", str(share), "--full-access", "Everyone")
    log_path = base / "up.log"
    with lanman_up(home, log_path) as up:
        env = up.krb5_env(home, base)
        r = _run([_tool("kinit"), "dave"], env, password + "\n")
        assert r.returncode == 0, r.stderr
        yield {
            "home": home,
            "base": base,
            "share": share,
            "env": env,
            "password": password,
            "smb_port": up.smb_port,
            "kdc_port": up.kdc_port,
            "log": log_path,
            "conf": base / "krb5.conf",
        }


def _kerberos_logons(log: Path) -> int:
    return log.read_text(errors="replace").count("Kerberos logon: dave@" + REALM)


def _smbclient(domain, port: int, protocol: str, commands: str, cwd: Path):
    return _run(
        [
            _tool("smbclient"),
            f"//{HOST_NAME}/data",
            "-p",
            str(port),
            "-I",
            "127.0.0.1",
            "--use-kerberos=required",
            "--client-protection=sign",
            f"--option=client min protocol={protocol}",
            f"--option=client max protocol={protocol}",
            "-c",
            commands,
        ],
        dict(domain["env"], HOME=str(cwd)),
        timeout=90,
    )


@pytest.mark.parametrize("protocol", ["SMB2_10", "SMB3_11"])
def test_smbclient_kerberos_signed_round_trip(domain, protocol, tmp_path):
    # A fresh cache holding only the TGT: smbclient asks lanman's KDC for cifs/ itself.
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{tmp_path / 'tgt.cc'}")
    r = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    src = tmp_path / "up.bin"
    digest = make_random_file(src, 3 * 1024 * 1024 + 17, seed=len(protocol))
    before = _kerberos_logons(domain["log"])
    with TamperProxy(domain["smb_port"]) as proxy:
        r = subprocess.run(
            [
                _tool("smbclient"),
                f"//{HOST_NAME}/data",
                "-p",
                str(proxy.port),
                "-I",
                "127.0.0.1",
                "--use-kerberos=required",
                "--client-protection=sign",
                f"--option=client min protocol={protocol}",
                f"--option=client max protocol={protocol}",
                "-c",
                f"put {src} k-{protocol}.bin; get k-{protocol}.bin {tmp_path / 'down.bin'}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "NT_STATUS" not in r.stdout + r.stderr
        time.sleep(0.2)
        bad = unsigned_traffic(proxy)
        dialects = list(proxy.dialects)
    assert bad == []
    assert dialects and dialects[-1] == {"SMB2_10": 0x0210, "SMB3_11": 0x0311}[protocol]
    assert sha256_file(domain["share"] / f"k-{protocol}.bin") == digest
    assert sha256_file(tmp_path / "down.bin") == digest
    # The server accepted Kerberos (not NTLM) for this session.
    assert _kerberos_logons(domain["log"]) == before + 1


def test_smbclient_gets_its_own_ticket(domain, tmp_path):
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{tmp_path / 'tgt-only.cc'}")
    r = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    r = _run(
        [
            _tool("smbclient"),
            f"//{HOST_NAME}/data",
            "-p",
            str(domain["smb_port"]),
            "-I",
            "127.0.0.1",
            "--use-kerberos=required",
            "--client-protection=sign",
            "-c",
            "ls",
        ],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_smbclient_without_a_ticket_fails_with_kerberos_required(domain, tmp_path):
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{tmp_path / 'empty.cc'}")
    r = _run(
        [
            _tool("smbclient"),
            f"//{HOST_NAME}/data",
            "-p",
            str(domain["smb_port"]),
            "-I",
            "127.0.0.1",
            "--use-kerberos=required",
            "--client-protection=sign",
            "-N",
            "-c",
            "ls",
        ],
        env,
    )
    assert r.returncode != 0


# --- lanman's own client against lanman ------------------------------------------------------


def _lanman_client(domain, host: str, **kw):
    from lanman.smb.client import SmbClient

    return SmbClient.connect(
        host,
        domain["smb_port"],
        "dave",
        domain["password"],
        share="data",
        kdc=f"127.0.0.1:{domain['kdc_port']}",
        realm=REALM,
        ccache=str(domain["base"] / "none.cc"),
        **kw,
    )


@pytest.mark.parametrize("dialect", [0x0210, 0x0311])
def test_lanman_client_by_name_uses_kerberos(domain, dialect):
    before = _kerberos_logons(domain["log"])
    c = _lanman_client(domain, HOST_NAME, address="127.0.0.1", dialects=(dialect,))
    try:
        assert c.mechanism == "Kerberos"
        assert c.kerberos_plan.spn == f"cifs/{HOST_NAME}@{REALM}"
        assert c.warnings == []
        assert c.connection_info().signed
        data = os.urandom(70_000)
        (domain["share"] / f"lanman-{dialect:x}.bin").write_bytes(data)
        assert c.read_bytes(f"lanman-{dialect:x}.bin") == data
    finally:
        c.close()
    assert _kerberos_logons(domain["log"]) == before + 1


def test_lanman_client_with_mit_ccache(domain):
    from lanman.smb.client import SmbClient

    c = SmbClient.connect(
        HOST_NAME,
        domain["smb_port"],
        share="data",
        address="127.0.0.1",
        ccache=domain["env"]["KRB5CCNAME"],
        krb5_conf=str(domain["conf"]),
        kerberos=True,
    )
    try:
        assert c.mechanism == "Kerberos"
        assert c.kerberos_plan.source.startswith("ccache")
        assert c.conn.session.user == "dave"
    finally:
        c.close()


def test_lanman_client_by_ip_falls_back_to_ntlm_with_warning(domain):
    before = _kerberos_logons(domain["log"])
    c = _lanman_client(domain, "127.0.0.1")
    try:
        assert c.mechanism == "NTLM"
        assert c.connection_info().signed
        assert len(c.warnings) == 1 and "IP address forces NTLM" in c.warnings[0]
    finally:
        c.close()
    assert _kerberos_logons(domain["log"]) == before


def test_lanman_client_unknown_name_falls_back_to_ntlm(domain):
    c = _lanman_client(domain, "localhost")
    try:
        assert c.mechanism == "NTLM"
        assert c.warnings and "cifs/localhost" in c.warnings[0]
    finally:
        c.close()


def test_lanman_client_kerberos_required_by_ip_fails(domain):
    from lanman.smb.client import SmbClientError

    with pytest.raises(SmbClientError, match="IP address"):
        _lanman_client(domain, "127.0.0.1", kerberos=True)


def test_lanman_cli_client_uses_a_cached_ticket_without_u_or_kerberos(domain):
    """`kinit` then `lanman client //dc.realm/share`: Kerberos by itself, no "no user given"."""
    r = subprocess.run(
        [
            *lanman_cmd(),
            "--home",
            str(domain["home"]),
            "client",
            f"//{HOST_NAME}/data",
            "-p",
            str(domain["smb_port"]),
            "-I",
            "127.0.0.1",
            "-c",
            "ls",
        ],
        env=domain["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Kerberos: cifs/" in r.stderr and "no user given" not in r.stderr


def test_lanman_cli_client_kerberos_flags(domain):
    r = subprocess.run(
        [
            *lanman_cmd(),
            "--home",
            str(domain["home"]),
            "client",
            f"//{HOST_NAME}/data",
            "-p",
            str(domain["smb_port"]),
            "-I",
            "127.0.0.1",
            "--kerberos",
            "--show-connection",
            "-c",
            "ls",
        ],
        env=domain["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Kerberos" in r.stdout + r.stderr
    r = subprocess.run(
        [
            *lanman_cmd(),
            "--home",
            str(domain["home"]),
            "client",
            "//127.0.0.1/data",
            "-p",
            str(domain["smb_port"]),
            "-U",
            "dave",
            "--password-stdin",
            "--kdc",
            f"127.0.0.1:{domain['kdc_port']}",
            "-c",
            "ls",
        ],
        input=domain["password"] + "\n",
        env=domain["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IP address forces NTLM" in r.stderr


@pytest.mark.parametrize("cipher", ["aes-128-gcm", "aes-256-gcm", "aes-256-ccm"])
def test_smbclient_kerberos_encrypted_round_trip(domain, cipher, tmp_path):
    """Kerberos session key (32 bytes, AES256 subkey) + SMB 3.1.1 encryption: the 256-bit
    ciphers derive their keys from the full session key, the 128-bit ones from its first 16
    bytes (MS-SMB2 3.3.5.5.3); smbclient and lanman must agree or nothing decrypts."""
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{tmp_path / 'tgt.cc'}")
    r = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    src = tmp_path / "up.bin"
    digest = make_random_file(src, 2 * 1024 * 1024 + 5, seed=7)
    before = _kerberos_logons(domain["log"])
    with TamperProxy(domain["smb_port"]) as proxy:
        r = subprocess.run(
            [
                _tool("smbclient"),
                f"//{HOST_NAME}/data",
                "-p",
                str(proxy.port),
                "-I",
                "127.0.0.1",
                "--use-kerberos=required",
                "--client-protection=encrypt",
                f"--option=client smb3 encryption algorithms={cipher}",
                "--option=client min protocol=SMB3_11",
                "--option=client max protocol=SMB3_11",
                "-c",
                f"put {src} e-{cipher}.bin; get e-{cipher}.bin {tmp_path / 'down.bin'}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        transformed = proxy.transformed
    assert transformed > 4
    assert sha256_file(domain["share"] / f"e-{cipher}.bin") == digest
    assert sha256_file(tmp_path / "down.bin") == digest
    assert _kerberos_logons(domain["log"]) == before + 1


def test_share_permissions_use_the_groups_in_the_pac(domain, tmp_path):
    """A share granted to a domain group: dave's Kerberos session (groups from the PAC of a
    ticket issued after he joined it) writes; a share granted only to Administrator refuses
    his tree connect with NT_STATUS_ACCESS_DENIED; Read through Authenticated Users cannot
    put."""
    home = domain["home"]
    dirs = {}
    for name in ("kgroup", "kadmin", "kread"):
        dirs[name] = domain["base"] / name
        dirs[name].mkdir(exist_ok=True)
    _lanman(home, "group", "add", "KWriters")
    _lanman(home, "group", "addmember", "KWriters", "dave")
    _lanman(
        home, "share", "add", "kgroup", str(dirs["kgroup"]), "--full-access", "LANMAN\\KWriters"
    )
    _lanman(home, "share", "add", "kadmin", str(dirs["kadmin"]), "--full-access", "Administrator")
    _lanman(
        home, "share", "add", "kread", str(dirs["kread"]), "--read-access", "Authenticated Users"
    )
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{tmp_path / 'tgt.cc'}", HOME=str(tmp_path))
    r = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    (tmp_path / "up.txt").write_text("via the PAC\n")

    def smbclient(share: str, commands: str):
        r = subprocess.run(
            [
                _tool("smbclient"),
                f"//{HOST_NAME}/{share}",
                "-p",
                str(domain["smb_port"]),
                "-I",
                "127.0.0.1",
                "--use-kerberos=required",
                "--client-protection=sign",
                "-c",
                commands,
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        return r.returncode, r.stdout + r.stderr

    rc, out = smbclient("kgroup", "put up.txt g.txt")
    assert rc == 0 and "NT_STATUS" not in out, out
    assert (dirs["kgroup"] / "g.txt").read_text() == "via the PAC\n"
    rc, out = smbclient("kadmin", "ls")
    assert rc != 0 and "NT_STATUS_ACCESS_DENIED" in out, out
    rc, out = smbclient("kread", "put up.txt r.txt")
    assert "NT_STATUS_ACCESS_DENIED" in out, out
    assert not (dirs["kread"] / "r.txt").exists()
