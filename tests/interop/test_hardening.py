"""What a hostile peer cannot do to a running ``lanman up`` (stock smbclient / smbprotocol).

A pathological wildcard must not stall other clients; silent sockets and huge length prefixes
from one address must not lock out another or blow up memory; half-finished logons are cut at
the pre-authentication deadline; wrong passwords are answered only after the authentication
rate limiter's delay while other clients log on at full speed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import uuid

import pytest
from interop_support import (
    EVERYONE_FULL,
    _lanman,
    cleanup_target,
    random_password,
    require_tool,
    run,
    start_lanman,
)
from smbprotocol.connection import Connection
from smbprotocol.exceptions import LogonFailure, SMBException
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    DirectoryAccessMask,
    FileAttributes,
    ImpersonationLevel,
    Open,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

from lanman.smb.wire.constants import Command
from lanman.smb.wire.header import Smb2Header
from lanman.smb.wire.negotiate import NegotiateRequest

pytestmark = [pytest.mark.interop]

PREAUTH_TIMEOUT = 3  # seconds, set for this server
DELAY_MS = 1000  # InvalidAuthenticationDelayTimeInMs for this server
ATTACKER = "127.0.0.2"
RESTART = 0x01  # SMB2_RESTART_SCANS: each query starts a new scan


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    t = start_lanman(tmp_path_factory.mktemp("hardening"))
    try:
        _lanman(
            t.home,
            "smb",
            "server-config",
            "set",
            "--preauth-timeout",
            str(PREAUTH_TIMEOUT),
            "--invalid-authentication-delay-time-in-ms",
            str(DELAY_MS),
            "--max-connections-per-address",
            "64",
        )
        t.restart()
        big = t.share_dir / "big"
        big.mkdir()
        for i in range(1000):
            (big / f"entry-{i:04d}-name.txt").write_bytes(b"")
        yield t
    finally:
        cleanup_target(t)


@contextlib.contextmanager
def smb_session(t, password=None):
    conn = Connection(uuid.uuid4(), t.host, t.port, require_signing=True)
    conn.connect(timeout=15)
    try:
        session = Session(conn, t.user, password or t.password, require_encryption=False)
        session.connect()
        yield conn, session
    finally:
        conn.disconnect(close=True)


def _open_dir(tree, name):
    d = Open(tree, name)
    d.create(
        ImpersonationLevel.Impersonation,
        DirectoryAccessMask.FILE_LIST_DIRECTORY,
        FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
        ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE,
        CreateDisposition.FILE_OPEN,
        CreateOptions.FILE_DIRECTORY_FILE,
    )
    return d


def _silent_sockets(n: int, port: int, payload: bytes = b"") -> list[socket.socket]:
    """Up to ``n`` sockets from 127.0.0.2; the server may refuse (close) some of them."""
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.bind((ATTACKER, 0))
            s.connect(("127.0.0.1", port))
            if payload:
                s.sendall(payload)
        except OSError:
            s.close()
            continue
        out.append(s)
    return out


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _smbclient_ls(t, command: str) -> tuple[int, str, float]:
    exe = require_tool("smbclient")
    start = time.monotonic()
    cp = run(
        [
            exe,
            f"//{t.host}/{t.share}",
            "-p",
            str(t.port),
            "-U",
            f"{t.user}%{t.password}",
            "--option=client min protocol=SMB2_02",
            "-c",
            command,
        ],
        timeout=60,
    )
    out = (cp.stdout + cp.stderr).decode(errors="replace")
    return cp.returncode, out, time.monotonic() - start


@pytest.mark.timeout(120)
def test_pathological_wildcard_does_not_stall_a_bystander(hard):
    pattern = "*" * 30 + "Z"
    latencies: list[float] = []
    stop = threading.Event()
    with smb_session(hard) as (bystander, bsession):

        def echo_loop() -> None:
            while not stop.is_set() and len(latencies) < 2000:
                t0 = time.monotonic()
                bystander.echo(sid=bsession.session_id, timeout=30)
                latencies.append(time.monotonic() - t0)
                time.sleep(0.01)

        th = threading.Thread(target=echo_loop, daemon=True)
        th.start()
        try:
            with smb_session(hard) as (_c, session):
                tree = TreeConnect(session, rf"\\{hard.host}\{hard.share}")
                tree.connect()
                d = _open_dir(tree, "big")
                took = []
                for _ in range(5):
                    t0 = time.monotonic()
                    with pytest.raises(SMBException) as exc:
                        d.query_directory(
                            pattern, 37, flags=RESTART
                        )  # FileIdBothDirectoryInformation
                    took.append(time.monotonic() - t0)
                    assert "NO_SUCH_FILE" in str(exc.value) or "0xc000000f" in str(exc.value)
                hits = d.query_directory("entry-099?-*", 37, flags=RESTART)
                assert len(hits) == 10
                d.close()
                tree.disconnect()
            # Stock smbclient sends the same pattern (`ls **********Z`).
            _rc, out, _ = _smbclient_ls(hard, "cd big; ls " + pattern)
            assert "NO_SUCH_FILE" in out, out
        finally:
            stop.set()
            th.join(30)
    assert max(took) < 1.0, f"QUERY_DIRECTORY with {pattern!r} over 1,000 entries took {took}"
    assert latencies, "the bystander got no ECHO answered"
    assert max(latencies) < 0.5, f"bystander ECHO waited {max(latencies):.3f}s"


@pytest.mark.timeout(180)
def test_silent_sockets_from_one_address_do_not_lock_out_another(hard):
    socks = _silent_sockets(300, hard.port)
    try:
        # At most the per-address limit is held; the rest were refused at once.
        time.sleep(0.5)
        rc, out, _ = _smbclient_ls(hard, "ls")
        assert rc == 0 and "big" in out, out
    finally:
        for s in socks:
            s.close()


@pytest.mark.timeout(180)
def test_huge_length_prefixes_do_not_allocate(hard):
    before = _rss_kib(hard.pid)
    eight_mib = struct.pack(">I", 8 * 1024 * 1024)
    almost = struct.pack(">I", 120 * 1024) + b"\xfeSMB" + b"\x00" * 1000  # under the pre-auth cap
    socks = _silent_sockets(125, hard.port, eight_mib)
    socks += _silent_sockets(125, hard.port, almost)
    try:
        time.sleep(1.0)
        rss = _rss_kib(hard.pid)
        assert rss < 150 * 1024, f"server RSS {rss} KiB after 250 length prefixes (was {before})"
        rc, out, _ = _smbclient_ls(hard, "ls")
        assert rc == 0 and "big" in out, out
    finally:
        for s in socks:
            s.close()
    assert hard.alive()


def _recv_until_closed(s: socket.socket, deadline: float) -> bool:
    """True when the server closed ``s`` before ``deadline`` (monotonic)."""
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = s.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        if not data:
            return True
    return False


@pytest.mark.timeout(60)
def test_half_finished_logons_are_closed_at_the_preauth_deadline(hard):
    hdr = Smb2Header(command=Command.NEGOTIATE, credit=1).pack()
    body = NegotiateRequest(dialects=[0x0202, 0x0210], security_mode=1).pack()
    negotiate = hdr + body
    silent = socket.create_connection(("127.0.0.1", hard.port), 5)
    negotiated = socket.create_connection(("127.0.0.1", hard.port), 5)
    try:
        negotiated.sendall(struct.pack(">I", len(negotiate)) + negotiate)
        negotiated.settimeout(5)
        assert negotiated.recv(4), "no NEGOTIATE response"
        start = time.monotonic()
        # Still open shortly before the deadline...
        assert not _recv_until_closed(silent, start + PREAUTH_TIMEOUT - 1.5)
        # ...and closed after it, with no session ever set up.
        assert _recv_until_closed(silent, start + PREAUTH_TIMEOUT + 3)
        assert _recv_until_closed(negotiated, start + PREAUTH_TIMEOUT + 3)
        # A client that logs on in time keeps its connection past the deadline.
        with smb_session(hard) as (conn, session):
            time.sleep(PREAUTH_TIMEOUT + 1)
            conn.echo(sid=session.session_id, timeout=10)
    finally:
        silent.close()
        negotiated.close()


@pytest.mark.timeout(120)
def test_wrong_passwords_are_delayed_for_that_client_only(hard):
    wrong = random_password()
    took: list[float] = []
    good: list[float] = []

    def guesses() -> None:
        for _ in range(3):
            t0 = time.monotonic()
            with pytest.raises(LogonFailure), smb_session(hard, password=wrong):
                pass
            took.append(time.monotonic() - t0)

    th = threading.Thread(target=guesses)
    th.start()
    try:
        time.sleep(0.3)  # the first guess is being held back now
        t0 = time.monotonic()
        with smb_session(hard) as (conn, session):
            conn.echo(sid=session.session_id, timeout=10)
        good.append(time.monotonic() - t0)
    finally:
        th.join(60)
    assert len(took) == 3
    assert sum(took) >= 3 * DELAY_MS / 1000, f"three wrong passwords took {took}"
    assert all(x >= DELAY_MS / 1000 * 0.95 for x in took), took
    assert good[0] < DELAY_MS / 1000, f"a good logon waited {good[0]:.3f}s meanwhile"


@pytest.mark.timeout(120)
def test_disk_full_fails_the_write_only(hard, tmp_path):
    """On a 512 KiB tmpfs made here: STATUS_DISK_FULL for the write, then the same connection
    closes the file and lists the share, and the event log says what happened."""
    import subprocess

    from smbprotocol.exceptions import DiskFull
    from smbprotocol.open import FilePipePrinterAccessMask

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], check=True)
    try:
        _lanman(hard.home, "share", "add", "tiny", str(mnt), *EVERYONE_FULL)
        with smb_session(hard) as (_conn, session):
            tree = TreeConnect(session, rf"\\{hard.host}\tiny")
            tree.connect()
            f = Open(tree, "fill.bin")
            f.create(
                ImpersonationLevel.Impersonation,
                FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                ShareAccess.FILE_SHARE_READ,
                CreateDisposition.FILE_OVERWRITE_IF,
                CreateOptions.FILE_NON_DIRECTORY_FILE,
            )
            chunk = b"x" * 65536
            written = 0
            with pytest.raises(DiskFull):
                for _ in range(64):  # 4 MiB at most; the disk holds 512 KiB
                    f.write(chunk, written)
                    written += len(chunk)
            assert 0 < written <= 512 * 1024
            assert f.read(0, 16) == b"x" * 16  # the open still works...
            f.close()  # ...and closes cleanly
            d = _open_dir(tree, "")
            names = [
                e["file_name"].get_value().decode("utf-16-le") for e in d.query_directory("*", 37)
            ]
            assert "fill.bin" in names
            d.close()
            tree.disconnect()
        events = [e for e in hard.events() if e.get("name") == "STORAGE_ERROR"]
        assert events and "STATUS_DISK_FULL" in events[0]["message"], events
        assert "tiny" in events[0]["message"]
    finally:
        with contextlib.suppress(Exception):
            _lanman(hard.home, "share", "remove", "tiny")
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.timeout(120)
def test_unread_replies_are_bounded(hard):
    """A client that sends READs and never reads the replies stops being read once about
    16 MiB of replies wait: the server does not buffer without bound."""
    from lanman.smb.client.api import SmbClient
    from lanman.smb.wire.constants import Command
    from lanman.smb.wire.io import ReadRequest

    (hard.share_dir / "mib.bin").write_bytes(b"m" * (1 << 20))
    c = SmbClient.connect(
        hard.host, hard.port, hard.user, hard.password, share=hard.share, kerberos=False
    )
    try:
        fid = c._open("mib.bin", 0x00120089, 1).file_id  # read, FILE_OPEN
        before = _rss_kib(hard.pid)
        sent = 0
        for _ in range(96):  # 96 MiB of replies asked for
            try:
                c._ensure_credits(16)
            except Exception:  # noqa: BLE001 - no credits left without reading: enough asked
                break
            out = c.conn.request(
                Command.READ,
                ReadRequest(fid, 1 << 20, 0).pack(),
                tree_id=c.tree_id,
                payload=1 << 20,
            )
            c.transport.sock.settimeout(2)
            try:
                c._send(out)
            except Exception:  # noqa: BLE001 - our socket buffer is full: the server stopped reading
                break
            sent += 1
        time.sleep(1.5)
        grew = _rss_kib(hard.pid) - before
        assert sent >= 20, f"only {sent} READs could be sent"
        assert grew < 48 * 1024, f"server RSS grew {grew} KiB holding {sent} MiB of unread replies"
    finally:
        c.transport.close()
    assert hard.alive()
