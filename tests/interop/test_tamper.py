"""Tamper tests: a loopback proxy flips one bit of a signed request (or strips SIGNED).

The server must answer the tampered message with STATUS_ACCESS_DENIED or drop the
connection, must not execute it (the file on disk is unchanged), must keep serving other
connections, and (lanman) must log a security event naming source address, user and
command.

The client is smbprotocol (low level) at 3.1.1 (AES-GMAC), 3.0 (AES-CMAC) and 2.1
(HMAC-SHA256); a second family drives Samba's smbclient through the proxy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import threading
import time
import uuid

import pytest
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from interop_support import (
    SMB2_FLAGS_SIGNED,
    SMB2_QUERY_DIRECTORY,
    SMB2_TREE_CONNECT,
    SMB2_WRITE,
    STATUS_ACCESS_DENIED,
    TamperProxy,
    make_random_file,
    parse_messages,
    sha256_file,
    smbclient,
)
from smbprotocol.connection import Connection, Dialects
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

DIALECTS = {
    "3.1.1-gmac": Dialects.SMB_3_1_1,
    "3.0-cmac": Dialects.SMB_3_0_0,
    "2.1-hmac": Dialects.SMB_2_1_0,
}

ORIGINAL = b"ORIGINAL-CONTENT-" * 4096  # 68 KiB


# ----------------------------------------------------------------------------- mutations


def flip(buf: bytearray, pos: int, bit: int = 0) -> None:
    buf[pos] ^= 1 << bit


def _msg_bounds(pdu: bytes, index_in_chain: int):
    msgs = parse_messages(pdu)
    if len(msgs) <= index_in_chain:
        return None
    m = msgs[index_in_chain]
    return m.offset, m.offset + m.length, m


def m_header_pid(buf: bytearray, start: int, end: int) -> None:
    # sync header: Reserved/ProcessId at 32..35 -- ignored by servers, covered by the MAC
    flip(buf, start + 32, 3)


def m_header_signature(buf: bytearray, start: int, end: int) -> None:
    flip(buf, start + 48 + 7, 5)


def m_payload_data(buf: bytearray, start: int, end: int) -> None:
    # WRITE: DataOffset (u16, from header start) / Length at body+2 / body+4
    data_off = struct.unpack_from("<H", buf, start + 64 + 2)[0]
    length = struct.unpack_from("<I", buf, start + 64 + 4)[0]
    flip(buf, start + data_off + length // 2, 1)


def m_payload_offset(buf: bytearray, start: int, end: int) -> None:
    # WRITE Offset field (u64 at body+8): unverified, the data would land elsewhere
    flip(buf, start + 64 + 8 + 1, 4)


def m_strip_signed(buf: bytearray, start: int, end: int) -> None:
    flags = struct.unpack_from("<I", buf, start + 16)[0]
    struct.pack_into("<I", buf, start + 16, flags & ~SMB2_FLAGS_SIGNED)
    buf[start + 48 : start + 64] = b"\0" * 16


MUTATIONS = {
    "header-bit": m_header_pid,
    "signature-bit": m_header_signature,
    "payload-data-bit": m_payload_data,
    "payload-offset-bit": m_payload_offset,
    "strip-signed": m_strip_signed,
}


class OneShot:
    """Mutator: tamper the first armed client PDU that carries ``command`` at chain
    position ``chain_index`` (0 = first message, 1 = second message of a compound)."""

    def __init__(self, command: int, mutation, chain_index: int = 0, skip: int = 0):
        self.command = command
        self.mutation = mutation
        self.chain_index = chain_index
        self.skip = skip
        self.armed = threading.Event()
        self.done = threading.Event()
        self.message_id = None
        self.original = None  # (offset, data) for WRITE

    def __call__(self, index: int, pdu: bytes):
        if not self.armed.is_set() or self.done.is_set():
            return None
        b = _msg_bounds(pdu, self.chain_index)
        if b is None:
            return None
        start, end, m = b
        if m.command != self.command:
            return None
        if self.skip:
            self.skip -= 1
            return None
        buf = bytearray(pdu)
        if m.command == SMB2_WRITE:
            data_off = struct.unpack_from("<H", pdu, start + 64 + 2)[0]
            length = struct.unpack_from("<I", pdu, start + 64 + 4)[0]
            offset = struct.unpack_from("<Q", pdu, start + 64 + 8)[0]
            self.original = (offset, bytes(pdu[start + data_off : start + data_off + length]))
        self.mutation(buf, start, end)
        self.message_id = m.message_id
        self.done.set()
        return bytes(buf)


def wait_verdict(proxy: TamperProxy, shot: OneShot, timeout: float = 20.0):
    """('status', ntstatus) if the server answered the tampered message id,
    ('closed', None) if it dropped the connection, ('none', None) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if shot.done.is_set():
            st = proxy.status_for(shot.message_id)
            if st is not None:
                return "status", st
            if proxy.server_closed.is_set():
                return "closed", None
        time.sleep(0.05)
    return "none", None


def assert_rejected(verdict, target):
    kind, status = verdict
    assert kind in ("status", "closed"), (
        f"server neither answered nor disconnected within timeout\n{target.log_text()[-3000:]}"
    )
    if kind == "status":
        assert status == STATUS_ACCESS_DENIED, f"tampered request answered 0x{status:08x}"


def assert_event_logged(target, command: str):
    if not target.is_lanman:
        return  # security events are a lanman feature
    deadline = time.monotonic() + 10
    events = []
    while time.monotonic() < deadline:
        events = target.events()
        for ev in events:
            text = json.dumps(ev).lower()
            if "127.0.0.1" in text and target.user.lower() in text and command.lower() in text:
                return
        time.sleep(0.3)
    raise AssertionError(f"no security event with 127.0.0.1/{target.user}/{command}: {events!r}")


def assert_server_still_serves(target):
    """A fresh, untampered connection still works after the attack."""
    conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
    conn.connect(dialect=Dialects.SMB_3_1_1, timeout=10)
    try:
        s = Session(conn, target.user, target.password, require_encryption=False)
        s.connect()
        t = TreeConnect(s, rf"\\{target.host}\{target.share}")
        t.connect()
        t.disconnect()
        s.disconnect()
    finally:
        conn.disconnect(True)


# ----------------------------------------------------------------------------- smbprotocol


class Client:
    def __init__(self, target, port, dialect):
        self.conn = Connection(uuid.uuid4(), target.host, port, require_signing=True)
        self.conn.connect(dialect=dialect, timeout=10)
        # smbprotocol's Session defaults to require_encryption=True: we test signing
        self.session = Session(self.conn, target.user, target.password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, rf"\\{target.host}\{target.share}")
        self.tree.connect()

    def open(self, name: str) -> Open:
        fh = Open(self.tree, name)
        fh.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL,
            ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE,
            CreateDisposition.FILE_OPEN,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        return fh

    def close(self):
        with contextlib.suppress(Exception):  # the server may have dropped us already
            self.conn.disconnect(True)


def in_thread(fn):
    """Run a client call that may block forever (server drops a message) in a daemon
    thread; the verdict comes from the proxy, not from the client library."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, box


def victim(target, name: str) -> tuple:
    path = target.share_dir / name
    path.write_bytes(ORIGINAL)
    os.chmod(path, 0o666)
    return path, hashlib.sha256(ORIGINAL).hexdigest()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mutation", list(MUTATIONS))
@pytest.mark.parametrize("dname", list(DIALECTS))
def test_tampered_write_rejected(target, dname, mutation):
    name = f"victim_{dname}_{mutation}.bin"
    path, before = victim(target, name)
    shot = OneShot(SMB2_WRITE, MUTATIONS[mutation])
    with TamperProxy(target.port, shot) as proxy:
        c = Client(target, proxy.port, DIALECTS[dname])
        try:
            fh = c.open(name)
            shot.armed.set()
            th, box = in_thread(lambda: fh.write(b"EVIL" * 1024, 0))
            verdict = wait_verdict(proxy, shot)
            assert shot.done.is_set(), "no WRITE went through the proxy"
            assert_rejected(verdict, target)
        finally:
            c.close()
            proxy.close()
            th.join(timeout=10)
    assert sha256_file(path) == before, "tampered WRITE was executed"
    if verdict[0] == "status":
        assert "result" not in box, "client saw success for a rejected write"
    assert_server_still_serves(target)
    assert_event_logged(target, "write")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mutation", ["payload-data-bit", "header-bit", "strip-signed"])
@pytest.mark.parametrize("dname", list(DIALECTS))
def test_tampered_second_pdu_of_compound(target, dname, mutation):
    """Compound [READ, WRITE] on one handle; only the WRITE (2nd message) is tampered."""
    name = f"compound_{dname}_{mutation}.bin"
    path, before = victim(target, name)
    shot = OneShot(SMB2_WRITE, MUTATIONS[mutation], chain_index=1)
    with TamperProxy(target.port, shot) as proxy:
        c = Client(target, proxy.port, DIALECTS[dname])
        try:
            fh = c.open(name)
            rd = fh.read(0, 16, send=False)
            wr = fh.write(b"EVIL" * 256, 0, send=False)
            shot.armed.set()

            def go():
                reqs = c.conn.send_compound(
                    [rd[0], wr[0]], c.session.session_id, c.tree.tree_connect_id, related=False
                )
                return rd[1](reqs[0])

            th, _box = in_thread(go)
            verdict = wait_verdict(proxy, shot)
            assert shot.done.is_set(), "the compound did not go through the proxy"
            chained = [m for m in proxy.tampered]
            assert len(chained) == 2, f"expected a 2-message compound, got {chained}"
            assert_rejected(verdict, target)
            if verdict[0] == "status":
                # the untampered first message was answered normally
                assert proxy.status_for(chained[0].message_id) == 0
        finally:
            c.close()
            proxy.close()
            th.join(timeout=10)
    assert sha256_file(path) == before, "tampered compound WRITE was executed"
    assert_server_still_serves(target)
    assert_event_logged(target, "write")


@pytest.mark.timeout(90)
def test_unsigned_tree_connect_311(target):
    """3.1.1: a TREE_CONNECT without signature from a real user -> disconnect (MS-SMB2
    3.3.5.7; lanman).  Samba 4.17 answers STATUS_ACCESS_DENIED instead; both reject."""
    shot = OneShot(SMB2_TREE_CONNECT, m_strip_signed)
    with TamperProxy(target.port, shot) as proxy:
        conn = Connection(uuid.uuid4(), target.host, proxy.port, require_signing=True)
        conn.connect(dialect=Dialects.SMB_3_1_1, timeout=10)
        try:
            s = Session(conn, target.user, target.password, require_encryption=False)
            s.connect()
            shot.armed.set()
            tc = TreeConnect(s, rf"\\{target.host}\{target.share}")
            th, _box = in_thread(tc.connect)
            verdict = wait_verdict(proxy, shot)
            assert shot.done.is_set()
            assert_rejected(verdict, target)
            if target.is_lanman:
                assert verdict[0] == "closed", f"lanman must disconnect, got {verdict}"
        finally:
            with contextlib.suppress(Exception):  # the server may have dropped us already
                conn.disconnect(True)
            proxy.close()
            th.join(timeout=10)
    assert_server_still_serves(target)


# ----------------------------------------------------------------------------- smbclient


@pytest.mark.timeout(120)
@pytest.mark.parametrize("protocol", ["SMB3_11", "SMB2_10"])
def test_smbclient_put_with_tampered_write(target, workdir, protocol):
    """smbclient `put` through the proxy; the 2nd WRITE's data gets one bit flipped.
    smbclient must fail and the flipped bytes must never reach the disk."""
    src = workdir / "src.bin"
    make_random_file(src, 20 * 1024 * 1024, seed=7)  # >= 3 WRITEs even at 8 MiB max write
    shot = OneShot(SMB2_WRITE, m_payload_data, skip=1)
    shot.armed.set()
    name = f"sc_tamper_{protocol}.bin"
    with TamperProxy(target.port, shot) as proxy:
        cp = smbclient(
            target,
            "-c",
            f"put src.bin {name}",
            protocol=protocol,
            cwd=workdir,
            port=proxy.port,
            check=False,
            timeout=60,
        )
    out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
    assert shot.done.is_set(), out
    assert cp.returncode != 0 or "NT_STATUS" in out, out
    st = proxy.status_for(shot.message_id)
    assert st in (None, STATUS_ACCESS_DENIED), hex(st)
    if st is None:
        assert proxy.server_closed.is_set()
    offset, data = shot.original
    landed = target.share_dir / name
    if landed.exists():
        with open(landed, "rb") as f:
            f.seek(offset)
            got = f.read(len(data))
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 2
        assert got != bytes(flipped), "tampered WRITE data reached the disk"
        landed.unlink()
    assert_event_logged(target, "write")


@pytest.mark.timeout(60)
def test_smbclient_ls_with_tampered_query_directory(target, workdir):
    shot = OneShot(SMB2_QUERY_DIRECTORY, m_header_pid)
    shot.armed.set()
    with TamperProxy(target.port, shot) as proxy:
        cp = smbclient(
            target,
            "-c",
            "ls",
            protocol="SMB3_11",
            cwd=workdir,
            port=proxy.port,
            check=False,
            timeout=45,
        )
    out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
    assert shot.done.is_set(), out
    assert cp.returncode != 0 or "NT_STATUS" in out, out
    st = proxy.status_for(shot.message_id)
    assert st == STATUS_ACCESS_DENIED or (st is None and proxy.server_closed.is_set()), out
