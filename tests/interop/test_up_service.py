"""`lanman up` as a service: systemd readiness (Type=notify) on a test-made notification
socket, one server per home, SIGHUP reload applied to new connections, clean stop, log file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from interop_support import free_port, keep_root_args, lanman_cmd, wait_port


def _lanman(home, *args):
    return subprocess.run(
        [*lanman_cmd(), "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _recv(sock: socket.socket, want: str, timeout: float = 20.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            break
        got.append(msg)
        if want in msg:
            return got
    raise AssertionError(f"no {want!r} from lanman up (got {got})")


def _signing_required(port: int) -> bool:
    import uuid

    from smbprotocol.connection import Connection

    c = Connection(uuid.uuid4(), "127.0.0.1", port, require_signing=False)
    c.connect(timeout=10)
    try:
        return bool(c.server_security_mode & 0x2)
    finally:
        c.disconnect()


@pytest.fixture
def served(tmp_path):
    home = tmp_path / "home"
    assert _lanman(home, "user", "add", "svc", "--password-stdin").returncode in (0, 1)
    notify_path = str(tmp_path / "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify_path)
    port = free_port()
    log_file = tmp_path / "lanman.log"
    proc = subprocess.Popen(
        [
            *lanman_cmd(),
            "--home",
            str(home),
            "up",
            "--listen",
            "127.0.0.1",
            "--smb-port",
            str(port),
            "--log-file",
            str(log_file),
            *keep_root_args(),
        ],
        env={**os.environ, "NOTIFY_SOCKET": notify_path},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield {"home": home, "port": port, "proc": proc, "notify": ns, "log": log_file}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        ns.close()


def test_ready_reload_single_instance_and_clean_stop(served):
    home, port, proc, ns = served["home"], served["port"], served["proc"], served["notify"]
    msgs = _recv(ns, "READY=1")
    assert any("STATUS=serving SMB on 127.0.0.1" in m for m in msgs)
    wait_port(port, 10, proc)
    assert _signing_required(port)
    assert (home / "lanman.pid").read_text().strip() == str(proc.pid)

    second = subprocess.run(
        [
            *lanman_cmd(),
            "--home",
            str(home),
            "up",
            "--smb-port",
            str(free_port()),
            *keep_root_args(),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert second.returncode == 1
    assert f"another `lanman up` (pid {proc.pid}) is already serving" in second.stderr
    assert "Traceback" not in second.stderr

    r = _lanman(home, "policy", "set", "LanmanServer.RequireSecuritySignature", "disabled")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _signing_required(port)  # not applied before the reload
    proc.send_signal(signal.SIGHUP)
    msgs = _recv(ns, "READY=1")
    assert any("RELOADING=1" in m for m in msgs)
    assert not _signing_required(port)  # new connections get the new setting
    assert "reloaded: require_message_signing" in served["log"].read_text()
    events = _lanman(home, "events", "--json").stdout
    assert "reload (SIGHUP): applied require_message_signing" in events

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert "STOPPING=1" in "".join(_recv(ns, "STOPPING=1"))
    out = proc.stdout.read()
    assert "lanman: stopped." in out and "Traceback" not in out


def test_broken_file_on_reload_keeps_serving(served):
    home, port, proc, ns = served["home"], served["port"], served["proc"], served["notify"]
    _recv(ns, "READY=1")
    wait_port(port, 10, proc)
    cfg = home / "lanman.toml"
    cfg.write_text(cfg.read_text() + "\nthis is = = not toml\n")
    proc.send_signal(signal.SIGHUP)
    _recv(ns, "READY=1")
    assert proc.poll() is None
    assert _signing_required(port)
    assert "reload failed, settings unchanged" in served["log"].read_text()
