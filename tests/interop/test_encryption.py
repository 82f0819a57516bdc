"""SMB 3 encryption against real peers (issue 11).

* smbprotocol ``require_encryption=True``: 3.1.1 with AES-128-GCM and with AES-256-GCM (the
  server's EncryptionCiphers put AES-256-GCM first), 3.0 with AES-128-CCM; a 64 MiB file
  round-trips and every frame after SESSION_SETUP is a TRANSFORM_HEADER frame.
* Samba smbclient ``--client-protection=encrypt`` at SMB3_00 and SMB3_11: put/get 64 MiB with
  checksums.
* A share with EncryptData refuses a client that cannot encrypt (smbclient at SMB 2.1; a
  3.1.1 smbclient with no cipher in common under server-wide EncryptData) with
  NT_STATUS_ACCESS_DENIED at TREE_CONNECT and logs event 9006; with RejectUnencryptedAccess
  off the SMB 2.1 client gets in unencrypted, as on Windows. An SMB 3 smbclient that was not
  asked to encrypt follows the share's ENCRYPT_DATA flag and encrypts.
* Server-wide EncryptData: a client that does not ask for encryption is told to encrypt
  (SessionFlags ENCRYPT_DATA).
* Tamper: a proxy flips bits in encrypted WRITE frames (tag, nonce, size, session id,
  ciphertext); each flip closes the connection and the file on disk is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from interop_support import (
    EVERYONE_FULL,
    TamperProxy,
    _lanman,
    cleanup_target,
    make_random_file,
    sha256_file,
    smbclient,
    start_lanman,
)
from smbprotocol.connection import Ciphers, Connection, Dialects
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FileAttributes,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

pytestmark = [pytest.mark.interop]

SECURE = "secure"
BIG = 64 * 1024 * 1024


def _configure(t, *args: str) -> None:
    t.stop()
    _lanman(t.home, *args)
    t._start(t)


def _server(base: Path, *config: str):
    t = start_lanman(base)
    sec = base / "secure-data"
    sec.mkdir()
    _lanman(t.home, "share", "add", SECURE, str(sec), "--encrypt-data", *EVERYONE_FULL)
    if config:
        _lanman(t.home, "smb", "server-config", "set", *config)
    t.stop()
    t._start(t)
    t.secure_dir = sec  # type: ignore[attr-defined]
    return t


@pytest.fixture(scope="module")
def enc_server(tmp_path_factory):
    t = _server(tmp_path_factory.mktemp("enc"))
    yield t
    cleanup_target(t)


@pytest.fixture(scope="module")
def aes256_server(tmp_path_factory):
    """Prefers AES-256-GCM and encrypts every session (EncryptData)."""
    t = _server(
        tmp_path_factory.mktemp("enc256"),
        "--encryption-ciphers",
        "AES_256_GCM,AES_128_GCM,AES_128_CCM",
        "--encrypt-data",
        "true",
    )
    yield t
    cleanup_target(t)


class _Client:
    """smbprotocol low-level connection/session/tree/open, all closed by close()."""

    def __init__(self, t, port: int, dialect: int, share: str, require_encryption: bool = True):
        self.conn = Connection(uuid.uuid4(), t.host, port, require_signing=True)
        self.conn.connect(dialect, timeout=20)
        self.session = Session(self.conn, t.user, t.password, require_encryption=require_encryption)
        self.tree = None
        self.opens: list[Open] = []
        try:
            self.session.connect()
            self.tree = TreeConnect(self.session, rf"\\{t.host}\{share}")
            self.tree.connect()
        except BaseException:
            self.close()
            raise

    def open(self, name: str, overwrite: bool = True) -> Open:
        o = Open(self.tree, name)
        o.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL,
            ShareAccess.FILE_SHARE_READ,
            CreateDisposition.FILE_OVERWRITE_IF if overwrite else CreateDisposition.FILE_OPEN,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        self.opens.append(o)
        return o

    def close(self) -> None:
        """Best effort: after a tampered frame the server has already dropped us."""
        steps = [o.close for o in self.opens]
        if self.tree is not None:
            steps.append(self.tree.disconnect)
        steps.append(self.session.disconnect)
        for step in steps:
            with contextlib.suppress(Exception):
                step()
        self.conn.disconnect()


def _round_trip(c: _Client, name: str, size: int) -> bytes:
    data = os.urandom(size)
    o = c.open(name)
    # 4 MiB requests: smbprotocol's credit window (about 127 credits) cannot cover 8 MiB.
    chunk = min(c.conn.max_write_size, 4 * 1024 * 1024)
    for off in range(0, size, chunk):
        o.write(data[off : off + chunk], off)
    got = bytearray()
    rchunk = min(c.conn.max_read_size, 4 * 1024 * 1024)
    while len(got) < size:
        got += o.read(len(got), min(rchunk, size - len(got)))
    assert bytes(got) == data
    return data


def _plain_after_setup(proxy: TamperProxy) -> list[str]:
    """SMB2 (0xFE) requests or responses other than NEGOTIATE / SESSION_SETUP."""
    return [
        f"cmd=0x{m.command:x} mid={m.message_id}"
        for m in proxy.requests + proxy.responses
        if m.command not in (0, 1)
    ]


CASES = {
    "3.1.1-aes128gcm": (Dialects.SMB_3_1_1, Ciphers.AES_128_GCM, "enc_server"),
    "3.1.1-aes256gcm": (Dialects.SMB_3_1_1, Ciphers.AES_256_GCM, "aes256_server"),
    "3.0-aes128ccm": (Dialects.SMB_3_0_0, None, "enc_server"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(CASES))
def test_smbprotocol_require_encryption_64mib(request, name):
    dialect, cipher, fixture = CASES[name]
    t = request.getfixturevalue(fixture)
    with TamperProxy(t.port) as proxy:
        c = _Client(t, proxy.port, dialect, t.share)
        try:
            assert c.conn.dialect == dialect
            # smbprotocol records no cipher id at 3.0: AES-128-CCM is implied by the dialect.
            assert c.conn.cipher_id == cipher
            assert c.conn.supports_encryption and c.session.encrypt_data
            if cipher == Ciphers.AES_256_GCM:
                assert len(c.session.encryption_key) == 32
            data = _round_trip(c, f"big-{name}.bin", BIG)
        finally:
            c.close()
    assert (t.share_dir / f"big-{name}.bin").read_bytes() == data
    assert proxy.transformed > 2 * 2 * BIG // (4 * 1024 * 1024)
    assert _plain_after_setup(proxy) == []


@pytest.mark.timeout(120)
def test_encrypt_data_server_tells_client_to_encrypt(aes256_server):
    """Global EncryptData: SessionFlags ENCRYPT_DATA makes a client that did not ask encrypt."""
    t = aes256_server
    with TamperProxy(t.port) as proxy:
        c = _Client(t, proxy.port, Dialects.SMB_3_1_1, t.share, require_encryption=False)
        try:
            assert c.session.encrypt_data
            _round_trip(c, "told.bin", 300_000)
        finally:
            c.close()
    assert proxy.transformed and _plain_after_setup(proxy) == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("protocol", ["SMB3_00", "SMB3_02", "SMB3_11"])
def test_smbclient_encrypt_put_get_64mib(enc_server, workdir, protocol):
    t = enc_server
    src = workdir / "src.bin"
    digest = make_random_file(src, BIG, seed=11)
    name = f"enc-{protocol}.bin"
    with TamperProxy(t.port) as proxy:
        for share in (t.share, SECURE):
            cp = smbclient(
                t,
                "-c",
                f"put {src} {name}; get {name} {workdir / ('back-' + share)}",
                protocol=protocol,
                share=share,
                extra=("--client-protection=encrypt",),
                port=proxy.port,
                timeout=280,
            )
            assert cp.returncode == 0, cp.stdout + cp.stderr
            assert sha256_file(workdir / ("back-" + share)) == digest
    assert sha256_file(t.share_dir / name) == digest
    assert sha256_file(t.secure_dir / name) == digest
    assert proxy.transformed > 16
    assert _plain_after_setup(proxy) == []


def _smbclient_plain(t, protocol: str, share: str, cmd: str = "ls"):
    # The helper's own options: signing, "client smb encrypt=off".
    return smbclient(t, "-c", cmd, protocol=protocol, share=share, check=False)


def _events(t, event_id: int) -> list:
    return [e for e in t.events() if e.get("event_id") == event_id]


@pytest.mark.timeout(120)
def test_encrypted_share_refuses_client_that_cannot_encrypt(enc_server):
    """SMB 2.1 cannot encrypt: TREE_CONNECT to the EncryptData share is refused with
    STATUS_ACCESS_DENIED (RejectUnencryptedAccess on), event 9006; the plain share serves it."""
    t = enc_server
    before = len(_events(t, 9006))
    cp = _smbclient_plain(t, "SMB2_10", SECURE)
    out = (cp.stdout + cp.stderr).decode(errors="replace")
    assert cp.returncode != 0 and "NT_STATUS_ACCESS_DENIED" in out, out
    cp = _smbclient_plain(t, "SMB2_10", t.share)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    events = _events(t, 9006)
    assert len(events) == before + 1, events[-3:]
    assert SECURE in str(events[-1]) and "does not support encryption" in str(events[-1])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("protocol", ["SMB3_00", "SMB3_11"])
def test_smb3_client_encrypts_on_encrypted_share(enc_server, protocol):
    """An SMB 3 smbclient not asked to encrypt follows ShareFlags ENCRYPT_DATA (as with
    Windows): the tree's traffic is all encrypted."""
    t = enc_server
    (t.secure_dir / "hello.txt").write_bytes(b"hello\n")
    with TamperProxy(t.port) as proxy:
        cp = smbclient(t, "-c", "ls", protocol=protocol, share=SECURE, check=False, port=proxy.port)
    assert cp.returncode == 0 and b"hello.txt" in cp.stdout, cp.stdout + cp.stderr
    assert proxy.transformed >= 4
    plain = [m for m in proxy.requests if m.command not in (0, 1, 3)]  # but TREE_CONNECT
    assert plain == []


@pytest.mark.timeout(120)
def test_no_common_cipher_refused_under_global_encrypt_data(aes256_server):
    """A 3.1.1 client whose only cipher the server does not offer gets cipher 0 and, with
    server-wide EncryptData, STATUS_ACCESS_DENIED at TREE_CONNECT."""
    t = aes256_server
    cp = smbclient(
        t,
        "-c",
        "ls",
        protocol="SMB3_11",
        check=False,
        extra=("--option=client smb3 encryption algorithms=aes-256-ccm",),
    )
    out = (cp.stdout + cp.stderr).decode(errors="replace")
    assert cp.returncode != 0 and "NT_STATUS_ACCESS_DENIED" in out, out


@pytest.mark.timeout(180)
def test_reject_unencrypted_access_off_lets_client_in(tmp_path):
    """RejectUnencryptedAccess off: the SMB 2.1 client reaches the EncryptData share
    unencrypted, as on Windows."""
    t = _server(tmp_path / "srv", "--reject-unencrypted-access", "false")
    try:
        (t.secure_dir / "hello.txt").write_bytes(b"hello\n")
        with TamperProxy(t.port) as proxy:
            cp = smbclient(
                t, "-c", "ls", protocol="SMB2_10", share=SECURE, check=False, port=proxy.port
            )
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert b"hello.txt" in cp.stdout and proxy.transformed == 0
    finally:
        cleanup_target(t)


ORIGINAL = b"ORIGINAL-CONTENT-" * 4096  # 68 KiB


class FlipEncryptedWrite:
    """Flip one bit of the first large client transform frame (the encrypted WRITE)."""

    def __init__(self, pos: int, bit: int):
        self.pos, self.bit = pos, bit
        self.done = False

    def __call__(self, index: int, pdu: bytes):
        if self.done or pdu[:4] != b"\xfdSMB" or len(pdu) < 60_000:
            return None
        buf = bytearray(pdu)
        pos = self.pos if self.pos >= 0 else len(buf) + self.pos
        buf[pos] ^= 1 << self.bit
        self.done = True
        return bytes(buf)


FLIPS = {
    "tag": (4 + 5, 0),
    "nonce": (20 + 3, 6),
    "original-size": (36, 0),
    "flags": (42, 1),
    "session-id": (44 + 2, 3),
    "ciphertext-header": (52 + 12, 0),
    "ciphertext-payload": (-100, 7),
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("dialect", [Dialects.SMB_3_1_1, Dialects.SMB_3_0_0], ids=["gcm", "ccm"])
def test_tampered_encrypted_write_rejected(enc_server, dialect):
    t = enc_server
    name = f"tamper-{dialect:x}.bin"
    c = _Client(t, t.port, dialect, SECURE)
    try:
        c.open(name).write(ORIGINAL, 0)
    finally:
        c.close()
    for what, (pos, bit) in FLIPS.items():
        flip = FlipEncryptedWrite(pos, bit)
        with TamperProxy(t.port, mutate=flip) as proxy:
            c = _Client(t, proxy.port, dialect, SECURE)
            try:
                o = c.open(name, overwrite=False)
                with pytest.raises(Exception):  # noqa: B017 - the connection is gone
                    o.write(b"EVIL" * 20_000, 0)
            finally:
                c.close()
            assert flip.done, what
            assert proxy.server_closed.wait(10), f"{what}: server kept the connection"
        assert (t.secure_dir / name).read_bytes() == ORIGINAL, what
    # Still serving: a clean client reads the original.
    c = _Client(t, t.port, dialect, SECURE)
    try:
        assert c.open(name, overwrite=False).read(0, len(ORIGINAL)) == ORIGINAL
    finally:
        c.close()
    events = [e for e in t.events() if e.get("event_id") == 9007]
    assert len(events) >= len(FLIPS)


@pytest.mark.timeout(240)
def test_tshark_decrypts_encrypted_sessions(enc_server, tmp_path):
    """tshark, given each session's keys (smb2_seskey_list), decrypts AES-128-GCM (3.1.1)
    and AES-128-CCM (3.0) sessions: the WRITE/READ inside are dissected, nothing is flagged."""
    import struct

    from test_tshark import Capture, rewrite_port, tshark_fields

    t = enc_server
    pcap = tmp_path / "enc.pcap"
    keys = []
    cap = Capture(t.port, pcap)
    try:
        cap.wait_ready()
        for dialect in (Dialects.SMB_3_1_1, Dialects.SMB_3_0_0):
            c = _Client(t, t.port, dialect, t.share)
            try:
                o = c.open(f"ts-{dialect:x}.bin")
                o.write(b"tshark-sees-this" * 1000, 0)
                assert o.read(0, 16) == b"tshark-sees-this"
                s = c.session
                keys.append(
                    (
                        struct.pack("<Q", s.session_id).hex(),
                        bytes(s.session_key).hex(),
                        bytes(s.decryption_key).hex(),  # server to client
                        bytes(s.encryption_key).hex(),  # client to server
                    )
                )
            finally:
                c.close()
    finally:
        cap.stop()
    pcap445 = tmp_path / "enc-445.pcap"
    assert rewrite_port(pcap, pcap445, t.port, 445) > 20
    uat: list[str] = []
    for a, b, c_, d in keys:  # one -o per record
        uat += ["-o", f"uat:smb2_seskey_list:{a},{b},{c_},{d}"]
    exe_fields = lambda flt, *f: tshark_fields_opts(pcap445, uat, flt, *f)
    assert len(tshark_fields(pcap445, 445, "smb2.cmd == 9", "frame.number")) == 0, (
        "WRITEs visible without the keys: not encrypted"
    )
    writes = exe_fields("smb2.cmd == 9 && smb2.flags.response == 0", "frame.number")
    reads = exe_fields("smb2.cmd == 8 && smb2.flags.response == 1", "frame.number")
    assert len(writes) >= 2 and len(reads) >= 2, (writes, reads)
    flagged = exe_fields(
        "_ws.malformed || _ws.expert.severity >= error",
        "frame.number",
        "smb2.cmd",
        "_ws.expert.message",
    )
    assert not [r for r in flagged if r and r[0]], flagged


def tshark_fields_opts(pcap, opts, display_filter, *fields) -> list[list[str]]:
    from interop_support import require_tool, run

    cmd = [require_tool("tshark"), "-r", str(pcap), *opts, "-Y", display_filter, "-T", "fields"]
    cmd += ["-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    cp = run(cmd, timeout=120, check=True)
    return [ln.split("\t") for ln in cp.stdout.decode(errors="replace").splitlines() if ln]


@pytest.mark.timeout(120)
def test_scan_lists_ciphers_and_encrypted_share(enc_server, tmp_path):
    """`lanman scan` lists the four ciphers lanman accepts and, with credentials, that the
    share requires encryption."""
    import json
    import subprocess

    from interop_support import lanman_cmd

    t = enc_server
    pw = tmp_path / "pw"
    pw.write_text(t.password + "\n")
    cp = subprocess.run(
        lanman_cmd()
        + ["--home", str(tmp_path / "scanhome"), "scan", f"127.0.0.1:{t.port}", "--user", t.user]
        + ["--password-file", str(pw), "--share", SECURE, "--json"],
        capture_output=True,
        timeout=100,
        check=False,
    )
    assert cp.returncode in (0, 1), cp.stderr.decode()[-2000:]
    h = json.loads(cp.stdout)["hosts"][0]
    assert sorted(h["smb2"]["ciphers"]) == [
        "AES-128-CCM",
        "AES-128-GCM",
        "AES-256-CCM",
        "AES-256-GCM",
    ]
    u = h["sessions"]["user"]
    assert u["accepted"] and u["tree_connect"] == SECURE, u
    assert u["share_encrypted"] is True and u["cipher"] == "AES-128-GCM"
    assert h["family"] == "lanman", h.get("family_evidence")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["3.0", "3.1.1"])
def test_impacket_encrypted(enc_server, name):
    """impacket encrypts (AES-128-CCM, the only cipher it offers) every 3.x session of a
    server that supports encryption: put/get on the plain and the EncryptData share."""
    import io

    from impacket import smb3structs as s3
    from impacket.smbconnection import SMBConnection

    t = enc_server
    dialect = {"3.0": s3.SMB2_DIALECT_30, "3.1.1": s3.SMB2_DIALECT_311}[name]
    with TamperProxy(t.port) as proxy:
        conn = SMBConnection(t.host, t.host, sess_port=proxy.port, preferredDialect=dialect)
        try:
            assert conn._SMBConnection._Connection["SupportsEncryption"]
            conn.login(t.user, t.password)
            for share, where in ((t.share, t.share_dir), (SECURE, t.secure_dir)):
                payload = os.urandom(300_000)
                conn.putFile(share, f"imp-{name}.bin", io.BytesIO(payload).read)
                assert (where / f"imp-{name}.bin").read_bytes() == payload
                buf = io.BytesIO()
                conn.getFile(share, f"imp-{name}.bin", buf.write)
                assert buf.getvalue() == payload
        finally:
            with contextlib.suppress(Exception):
                conn.logoff()
            conn.close()
    assert proxy.transformed > 8
    assert _plain_after_setup(proxy) == []


@pytest.mark.timeout(120)
def test_srvsvc_share_info_1005_encrypt_flag(enc_server):
    """NetrShareGetInfo level 1005 (what Get-SmbShare's EncryptData reads remotely):
    SHI1005_FLAGS_ENCRYPT_DATA on the EncryptData share only (Samba rpcclient)."""
    import subprocess

    from interop_support import require_tool

    t = enc_server
    out = {}
    for share in (SECURE, t.share):
        cp = subprocess.run(
            [require_tool("rpcclient"), "-p", str(t.port), "-U", f"{t.user}%{t.password}"]
            + ["-c", f"netsharegetinfo {share} 1005", t.host],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert cp.returncode == 0, cp.stdout + cp.stderr
        out[share] = cp.stdout.decode()
    assert "flags: 0x8000" in out[SECURE], out
    assert "flags: 0x0" in out[t.share], out
