"""lanman's KDC against real Kerberos peers: MIT krb5 (kinit, klist, kvno) and impacket.

The KDC listens on 127.0.0.X:88 (UDP and TCP, X random) because impacket's scripts only talk to
port 88; MIT tools get a krb5.conf written here.  A missing peer fails the test.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from test_krb_support import REALM, FakeDirectory, write_keytab

from lanman.kerberos import asn1, client
from lanman.kerberos.kdc import KdcCore
from lanman.kerberos.kdc.service import start_kdc

PASSWORD = "Passw0rd!"
VENV_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian krb5-user")
    return path


class KdcThread:
    """The asyncio KDC on its own loop in a thread (bounded start/stop)."""

    def __init__(self, core: KdcCore, host: str, port: int) -> None:
        self.core, self.host, self.port = core, host, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.server = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = self.loop.run_until_complete(start_kdc(self.core, self.host, self.port))
            self.port = self.server.port
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(10), "KDC did not start"
        if self.error:
            self.thread.join(10)
            self.loop.close()
            raise self.error

    def stop(self) -> None:
        async def _close() -> None:
            await self.server.close()

        if self.server is not None and self.loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(_close(), self.loop)
            fut.result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        assert not self.thread.is_alive(), "KDC thread did not stop"
        self.loop.close()  # its selector (an epoll descriptor) and self-pipe sockets


def _bind_88() -> str:
    for _ in range(50):
        host = f"127.0.{random.randint(1, 250)}.{random.randint(2, 250)}"
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind((host, 88))
                s.close()
            return host
        except OSError:
            continue
    pytest.fail("no free 127.0.0.0/8 address with port 88")


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    directory = FakeDirectory()
    host = _bind_88()
    k = KdcThread(KdcCore(directory), host, 88)
    k.start()
    work = tmp_path_factory.mktemp("kdc")
    conf = work / "krb5.conf"
    conf.write_text(
        "[libdefaults]\n"
        f" default_realm = {REALM}\n"
        " dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n"
        " ignore_acceptor_hostname = true\n"
        f"[realms]\n {REALM} = {{\n  kdc = {host}:{k.port}\n }}\n"
        f"[domain_realm]\n .lanman.test = {REALM}\n"
    )
    k.directory = directory
    k.work = work
    k.env = {
        **os.environ,
        "KRB5_CONFIG": str(conf),
        "KRB5CCNAME": f"FILE:{work / 'cc'}",
        "KRB5_KTNAME": f"FILE:{work / 'none.keytab'}",
    }
    yield k
    k.stop()


def _run(args, env, input_text=None, timeout=30):
    return subprocess.run(
        args,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _kinit(kdc, *args, password=PASSWORD, ccache=None, principal="alice"):
    env = dict(kdc.env)
    if ccache:
        env["KRB5CCNAME"] = f"FILE:{ccache}"
    return _run([_tool("kinit"), *args, principal], env, password + "\n"), env


# ----------------------------------------------------------------------------------------------
# MIT krb5
# ----------------------------------------------------------------------------------------------


def test_kinit_password_and_klist_shows_aes256(kdc):
    r, env = _kinit(kdc, ccache=kdc.work / "cc1")
    assert r.returncode == 0, r.stderr
    k = _run([_tool("klist"), "-e"], env)
    assert k.returncode == 0, k.stderr
    assert f"krbtgt/{REALM}@{REALM}" in k.stdout
    assert "aes256-cts-hmac-sha1-96" in k.stdout


def test_kvno_cifs_service_ticket(kdc):
    r, env = _kinit(kdc, ccache=kdc.work / "cc2")
    assert r.returncode == 0, r.stderr
    v = _run([_tool("kvno"), "cifs/dc1.lanman.test"], env)
    assert v.returncode == 0, v.stderr
    assert "kvno = 2" in v.stdout
    k = _run([_tool("klist"), "-e"], env)
    assert f"cifs/dc1.lanman.test@{REALM}" in k.stdout


def test_kvno_unknown_service(kdc):
    r, env = _kinit(kdc, ccache=kdc.work / "cc3")
    assert r.returncode == 0, r.stderr
    v = _run([_tool("kvno"), "cifs/nowhere.lanman.test"], env)
    assert v.returncode != 0
    assert "not found in Kerberos database" in v.stderr


def test_wrong_password_is_password_incorrect(kdc):
    r, _ = _kinit(kdc, password="not-the-password", ccache=kdc.work / "cc4")
    assert r.returncode != 0
    assert "Password incorrect" in r.stderr


def test_unknown_client(kdc):
    r, _ = _kinit(kdc, principal="nobody", ccache=kdc.work / "cc5")
    assert r.returncode != 0
    assert "not found in Kerberos database" in r.stderr


def test_kinit_renew(kdc):
    cc = kdc.work / "cc6"
    r, env = _kinit(kdc, "-r", "2d", "-l", "1h", ccache=cc)
    assert r.returncode == 0, r.stderr
    before = _run([_tool("klist")], env).stdout
    assert "renew until" in before
    rr = _run([_tool("kinit"), "-R"], env)
    assert rr.returncode == 0, rr.stderr
    after = _run([_tool("klist")], env).stdout
    assert f"krbtgt/{REALM}@{REALM}" in after


def test_kinit_fast_with_host_keytab_armor(kdc):
    host = kdc.directory.principals["dc1$"]
    keytab = kdc.work / "host.keytab"
    write_keytab(keytab, "host/dc1.lanman.test", REALM, host.keys, host.kvno)
    armor = kdc.work / "armor.cc"
    env = dict(kdc.env, KRB5CCNAME=f"FILE:{armor}")
    a = _run([_tool("kinit"), "-k", "-t", str(keytab), "host/dc1.lanman.test"], env)
    assert a.returncode == 0, a.stderr
    trace = kdc.work / "fast.trace"
    fenv = dict(kdc.env, KRB5CCNAME=f"FILE:{kdc.work / 'fast.cc'}", KRB5_TRACE=str(trace))
    r = _run([_tool("kinit"), "-T", f"FILE:{armor}", "alice"], fenv, PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    text = trace.read_text()
    assert "FAST armor key" in text
    assert "FAST reply key" in text  # the strengthen key was used
    assert "encrypted_challenge (138) (real) returned: 0/Success" in text
    # A wrong password under FAST is still "Password incorrect".
    bad = _run([_tool("kinit"), "-T", f"FILE:{armor}", "alice"], fenv, "nope\n")
    assert bad.returncode != 0
    assert "Password incorrect" in bad.stderr


# ----------------------------------------------------------------------------------------------
# impacket
# ----------------------------------------------------------------------------------------------


def _impacket(script: str, *args: str, cwd: Path, env: dict | None = None):
    path = VENV_BIN / script
    if not path.exists():
        pytest.fail(f"impacket example {script} missing from the venv")
    return subprocess.run(
        [sys.executable, str(path), *args],
        check=False,
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_impacket_get_tgt_and_get_st(kdc, tmp_path):
    r = _impacket("getTGT.py", "-dc-ip", kdc.host, f"{REALM}/alice:{PASSWORD}", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    cc = tmp_path / "alice.ccache"
    assert cc.exists(), r.stdout
    env = dict(os.environ, KRB5CCNAME=str(cc))
    s = _impacket(
        "getST.py",
        "-dc-ip",
        kdc.host,
        "-k",
        "-no-pass",
        "-spn",
        "cifs/dc1.lanman.test",
        f"{REALM}/alice",
        cwd=tmp_path,
        env=env,
    )
    assert s.returncode == 0, s.stdout + s.stderr
    assert list(tmp_path.glob("alice*cifs*.ccache")), s.stdout
    # MIT klist reads impacket's ccache: the service ticket is there.
    k = _run([_tool("klist"), "-e", "-c", str(next(tmp_path.glob("alice*cifs*.ccache")))], kdc.env)
    assert "cifs/dc1.lanman.test" in k.stdout


def test_impacket_rc4_hash_login(kdc, tmp_path):
    from lanman.crypto.md4 import nt_hash

    r = _impacket(
        "getTGT.py",
        "-dc-ip",
        kdc.host,
        "-hashes",
        f":{nt_hash(PASSWORD).hex()}",
        f"{REALM}/alice",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "alice.ccache").exists()


# ----------------------------------------------------------------------------------------------
# Hostile input over real sockets
# ----------------------------------------------------------------------------------------------


def _udp(kdc, data: bytes, timeout=3.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (kdc.host, kdc.port))
        try:
            return s.recvfrom(70000)[0]
        except TimeoutError:
            return None


def _tcp(kdc, data: bytes, timeout=5.0) -> bytes:
    with socket.create_connection((kdc.host, kdc.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        for _ in range(100):
            try:
                b = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def _assert_still_serving(kdc):
    req, _ = client.as_req(REALM, "alice")
    rep = _udp(kdc, req)
    assert rep is not None and asn1.message_type(rep) == asn1.MSG_KRB_ERROR
    assert client.parse_error(rep).code == 25  # PREAUTH_REQUIRED


def _error_code(rep: bytes) -> int:
    assert asn1.message_type(rep) == asn1.MSG_KRB_ERROR
    return client.parse_error(rep).code


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00",
        b"hello kdc",
        b"\x6a\x84\xff\xff\xff\xff",
        b"\x6a\x03\x30\x01\x00",
        os.urandom(500),
    ],
)
def test_udp_garbage_is_dropped_or_answered(kdc, payload):
    if payload:
        rep = _udp(kdc, payload, timeout=1.0)
        if rep is not None:
            assert _error_code(rep) in (40, 60)
    _assert_still_serving(kdc)


def test_udp_truncated_as_req(kdc):
    req, _ = client.as_req(REALM, "alice")
    for cut in (3, len(req) // 2, len(req) - 1):
        rep = _udp(kdc, req[:cut], timeout=1.0)
        assert rep is None or _error_code(rep) == 60
    _assert_still_serving(kdc)


def test_udp_unknown_etypes(kdc):
    req, _ = client.as_req(REALM, "alice", etypes=[1, 3, 16, 25, 26])
    assert _error_code(_udp(kdc, req)) == 14  # KDC_ERR_ETYPE_NOSUPP


def test_tcp_oversized_length_prefix(kdc):
    rep = _tcp(kdc, struct.pack(">I", 0x7FFFFFF0) + b"\x6a")
    assert len(rep) >= 4
    (n,) = struct.unpack(">I", rep[:4])
    assert _error_code(rep[4 : 4 + n]) == 61  # KRB_ERR_FIELD_TOOLONG, then close
    assert _tcp(kdc, struct.pack(">I", 0x80000000)) == b""  # reserved bit: closed
    _assert_still_serving(kdc)


def test_tcp_truncated_message_and_valid_exchange(kdc):
    req, _ = client.as_req(REALM, "alice")
    assert _tcp(kdc, struct.pack(">I", len(req)) + req[:10], timeout=1.0) == b""
    rep = _tcp(
        kdc, struct.pack(">I", len(req)) + req + struct.pack(">I", 5) + b"\x30\x03\x02\x01\x05"
    )
    (n,) = struct.unpack(">I", rep[:4])
    assert _error_code(rep[4 : 4 + n]) == 25
    _assert_still_serving(kdc)


def test_tcp_full_exchange_with_own_client(kdc):
    alice = kdc.directory.principals["alice"]
    req, nonce = client.as_req(REALM, "alice", key=(18, alice.keys[18]))
    rep = _tcp(kdc, struct.pack(">I", len(req)) + req)
    tgt = client.parse_as_rep(rep[4:], alice.keys[18], 18, nonce)
    treq, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"])
    trep = _udp(kdc, treq)
    st = client.parse_tgs_rep(trep, tgt)
    assert st.session_etype == 18


# ----------------------------------------------------------------------------------------------
# Samba's raw Kerberos tests (Debian python3-samba)
# ----------------------------------------------------------------------------------------------


def test_samba_krb5_kdc_tests(kdc):
    """samba.tests.krb5.kdc_tests (system python3 + python3-samba; pyasn1 from our venv)."""
    py = "/usr/bin/python3"
    if not Path("/usr/lib/python3/dist-packages/samba/tests/krb5/kdc_tests.py").exists():
        pytest.fail("samba.tests.krb5.kdc_tests not found: install Debian python3-samba")
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    env = {
        **os.environ,
        "SERVER": kdc.host,
        "DC_SERVER": kdc.host,
        "DOMAIN": "LANMAN",
        "REALM": REALM,
        "USERNAME": "alice",
        "PASSWORD": PASSWORD,
        "PYTHONPATH": f"/usr/lib/python3/dist-packages:{site}",
    }
    r = subprocess.run(
        [py, "-m", "unittest", "samba.tests.krb5.kdc_tests", "-v"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Ran 5 tests" in r.stderr and "OK" in r.stderr
