"""The KDC with worker processes: one replay cache across processes, no orphans.

One authenticator replayed to every worker process (UDP and TCP, a new source port each
time) is accepted once; ``lanman up --kdc-workers N`` restarts a killed worker and logs the
reason; SIGTERM stops the parent and every worker.

A real lanman directory (``lanman domain provision`` + ``lanman user add``) in a temporary home;
workers are separate Python processes (``lanman.kerberos.kdc.workers``) on loopback sockets.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interop_support import free_port, keep_root_args, lanman_cmd, stop_process

from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.kdc.replay import ShmReplayCache
from lanman.kerberos.kdc.workers import WorkerPool

REALM = "WORKERS.TEST"
USER = "wuser"
PASSWORD = "Workers-Passw0rd-1"
SERVICE = ["cifs", "wk.workers.test"]
VENV_BIN = Path(sys.executable).parent
WORKER_MODULE = "lanman.kerberos.kdc.workers"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    h = tmp_path_factory.mktemp("kdcw") / "home"
    lanman = [str(VENV_BIN / "lanman"), "--home", str(h)]
    subprocess.run(
        [*lanman, "domain", "provision", "--realm", REALM, "--domain", "WK", "--host-name", "WK"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [*lanman, "user", "add", USER, "--password-stdin"],
        input=(PASSWORD + "\n").encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return h


def _udp(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        return s.recvfrom(65536)[0]


def _tcp(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">I", len(data)) + data)
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            assert chunk, "KDC closed the TCP connection"
            head += chunk
        (n,) = struct.unpack(">I", head)
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            assert chunk, "KDC closed the TCP connection"
            body += chunk
        return body


def _wait(port: int, timeout: float = 30.0) -> None:
    probe, _ = client.as_req(REALM, USER)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _udp(port, probe, 0.5)
            return
        except (TimeoutError, ConnectionRefusedError):
            time.sleep(0.1)
    raise AssertionError(f"no KDC on UDP {port}")


def _tgt(port: int):
    req, _ = client.as_req(REALM, USER, etypes=[18])
    err = client.parse_error(_udp(port, req))
    salt = None
    for pa in asn1.MethodData.load(err.e_data):
        if pa["padata-type"].native == asn1.PA_ETYPE_INFO2:
            salt = asn1.ETypeInfo2.load(pa["padata-value"].native)[0]["salt"].native
    assert salt is not None
    key = (18, crypto.string_to_key(18, PASSWORD, salt.encode()))
    req, nonce = client.as_req(REALM, USER, key=key, etypes=[18])
    return client.parse_as_rep(_udp(port, req), key[1], key[0], nonce)


def _kind(rep: bytes) -> int:
    """13 (TGS-REP) or the KRB-ERROR code."""
    if asn1.message_type(rep) == asn1.MSG_TGS_REP:
        return 13
    assert asn1.message_type(rep) == asn1.MSG_KRB_ERROR, asn1.message_type(rep)
    return asn1.KrbError.load(rep)["error-code"].native


def _sockets() -> tuple[socket.socket, socket.socket]:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", tcp.getsockname()[1]))
    return udp, tcp


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_same_tgs_req_on_two_workers_is_a_replay(home, tmp_path):
    """Two worker processes on different ports share one replay cache: the second copy of a
    TGS-REQ (its AP-REQ) gets KRB_AP_ERR_REPEAT from the other process."""
    replay = str(tmp_path / "replay.sqlite")
    db = str(home)
    (ua, ta), (ub, tb) = _sockets(), _sockets()
    pa, pb = ua.getsockname()[1], ub.getsockname()[1]
    pools = [WorkerPool(1, db, replay, ua, ta, 300), WorkerPool(1, db, replay, ub, tb, 300)]
    for s in (ua, ta, ub, tb):
        s.close()  # the workers hold their own copies
    pids = [pid for p in pools for pid in p.pids]
    try:
        assert len(set(pids)) == 2
        _wait(pa)
        _wait(pb)
        tgt = _tgt(pa)
        for first, second in ((pa, pb), (pb, pa)):
            req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
            assert asn1.message_type(_udp(first, req)) == asn1.MSG_TGS_REP
            assert _kind(_udp(second, req)) == 34  # KRB_AP_ERR_REPEAT
            assert _kind(_udp(first, req)) == 34
        # fresh authenticators are still served by both
        for port in (pa, pb):
            req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
            assert asn1.message_type(_udp(port, req)) == asn1.MSG_TGS_REP
    finally:
        for p in pools:
            p.stop()
    assert all(_gone(pid) for pid in pids)


_PARENT = """
import asyncio, sys
from lanman.directory import Directory
from lanman.kerberos.kdc import KdcCore
from lanman.kerberos.kdc.service import start_kdc
async def main():
    d = Directory.open(sys.argv[1])
    s = await start_kdc(KdcCore(d), "127.0.0.1", 0, workers=3)
    print(s.port, s.replay_dir, *s.workers.pids, flush=True)
    if sys.argv[2] == "close":
        await asyncio.sleep(1.0)
        await s.close()
        print("closed", flush=True)
        return
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _start_parent(home: Path, mode: str) -> tuple[subprocess.Popen, int, str, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(home), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().split()  # type: ignore[union-attr]
    if not line:
        _reap(proc)
    assert line, "KDC parent did not start"
    return proc, int(line[0]), line[1], [int(x) for x in line[2:]]


def _reap(proc: subprocess.Popen) -> None:
    """Kill the KDC parent if it still runs, wait for it and close its stdout pipe."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    proc.stdout.close()  # type: ignore[union-attr]


def test_workers_serve_and_share_replay_cache(home):
    proc, port, _replay_dir, pids = _start_parent(home, "forever")
    try:
        assert len(pids) == 2
        _wait(port)
        tgt = _tgt(port)
        req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
        replies = [_udp(port, req) for _ in range(8)]
        kinds = [asn1.message_type(r) for r in replies]
        assert kinds.count(asn1.MSG_TGS_REP) == 1
        assert all(_kind(r) == 34 for r in replies if asn1.message_type(r) != 13)
        for _ in range(20):
            req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
            assert asn1.message_type(_udp(port, req)) == asn1.MSG_TGS_REP
    finally:
        _reap(proc)
        time.sleep(0.5)
        shutil.rmtree(_replay_dir, ignore_errors=True)


def test_workers_exit_when_parent_is_killed(home):
    proc, port, replay_dir, pids = _start_parent(home, "forever")
    try:
        _wait(port)
        assert not any(_gone(p) for p in pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        _reap(proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.1)
    assert all(_gone(p) for p in pids), "orphaned KDC workers"
    shutil.rmtree(replay_dir, ignore_errors=True)  # best effort by the workers after SIGKILL


def test_close_stops_workers_and_removes_replay_cache(home):
    proc, _port, replay_dir, pids = _start_parent(home, "close")
    try:
        assert proc.stdout.readline().strip() == "closed"  # type: ignore[union-attr]
        proc.wait(20)
    finally:
        _reap(proc)
    assert all(_gone(p) for p in pids)
    assert not os.path.exists(replay_dir)


def _kdc_workers_of(parent: int) -> list[int]:
    """Live KDC worker processes whose parent is ``parent`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if (
            int(fields[1]) == parent
            and fields[0] not in ("Z", "X")
            and WORKER_MODULE.encode() in cmd
        ):
            found.append(int(entry))
    return sorted(found)


def test_one_authenticator_replayed_to_every_worker(home, tmp_path):
    """Three worker processes, each on its own address, one shared-memory replay cache: the
    same TGS-REQ sent to each of them, over UDP (new source port each time) and TCP, gets one
    TGS-REP (from the first) and KRB_AP_ERR_REPEAT (34) from every other copy."""
    replay = str(tmp_path / "replay.shm")
    ShmReplayCache(replay, window=300).close()  # lay the table out, as start_kdc does
    pools, ports = [], []
    try:
        for _ in range(3):
            udp, tcp = _sockets()
            ports.append(udp.getsockname()[1])
            pools.append(WorkerPool(1, str(home), replay, udp, tcp, 300))
            udp.close()
            tcp.close()  # the worker holds its own copies
        pids = [pid for p in pools for pid in p.pids]
        assert len(set(pids)) == 3
        for port in ports:
            _wait(port)
        tgt = _tgt(ports[0])
        for first in range(3):
            req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
            order = ports[first:] + ports[:first]
            kinds = [_kind(_udp(order[0], req))]
            kinds += [_kind(_udp(p, req)) for p in order[1:]]
            kinds += [_kind(_tcp(p, req)) for p in order]
            kinds += [_kind(_udp(p, req)) for p in order]
            assert kinds == [13] + [34] * (len(kinds) - 1), kinds
        # fresh authenticators are served by every worker, over both transports
        for port in ports:
            for send in (_udp, _tcp):
                req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
                assert _kind(send(port, req)) == 13
    finally:
        for p in pools:
            p.stop()
    assert all(_gone(pid) for pid in pids)


def _log_has(path: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def test_lanman_up_kdc_workers_restart_and_stop(home, tmp_path):
    smb_port, kdc_port = free_port(), free_port()
    log = tmp_path / "lanman.log"
    out = tmp_path / "up.out"
    cmd = lanman_cmd() + [
        "--home",
        str(home),
        "up",
        "--listen",
        "127.0.0.1",
        "--smb-port",
        str(smb_port),
        "--kdc-port",
        str(kdc_port),
        "--kdc-workers",
        "3",
        "--log-file",
        str(log),
        *keep_root_args(),
    ]
    with open(out, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        _wait(kdc_port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(workers) != 2:
            workers = _kdc_workers_of(proc.pid)
            time.sleep(0.1)
        assert len(workers) == 2, (workers, out.read_text(errors="replace"))
        assert "3 processes" in out.read_text(errors="replace")

        # the replay guarantee through the shared sockets: 12 copies, one TGS-REP
        tgt = _tgt(kdc_port)
        req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
        kinds = [_kind((_udp if i % 2 else _tcp)(kdc_port, req)) for i in range(12)]
        assert sorted(kinds) == [13] + [34] * 11, kinds

        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        assert _log_has(
            log, f"KDC worker pid {victim} died (killed by SIGKILL); restarted as pid", 20
        ), log.read_text(errors="replace")
        deadline = time.monotonic() + 20
        after: list[int] = []
        while time.monotonic() < deadline:
            after = _kdc_workers_of(proc.pid)
            if len(after) == 2 and victim not in after:
                break
            time.sleep(0.1)
        assert len(after) == 2 and victim not in after, after
        workers = after
        for _ in range(6):  # still serving, replay cache still shared
            req, _ = client.tgs_req(tgt, SERVICE, etypes=[18])
            kinds = [_kind(_udp(kdc_port, req)) for _ in range(4)]
            assert sorted(kinds) == [13, 34, 34, 34], kinds

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, out.read_text(errors="replace")
    finally:
        stop_process(proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(p) for p in workers):
        time.sleep(0.1)
    assert all(_gone(p) for p in workers), "KDC workers left behind"
    assert "lanman: stopped." in out.read_text(errors="replace")
