"""impacket's real ``tstool.py`` (the example script) against ``lanman up`` on port 445.

tstool.py only connects to ports 139/445, so the test makes a network namespace of its own
(``ip netns add lanman-msg-<random>``, loopback up), runs ``lanman up --listen 127.0.0.1
--smb-port 445`` and tstool inside it, and removes the namespace afterwards.  No traffic
leaves that namespace's loopback.  Needs root and ``ip`` (Debian package iproute2): without
them the test fails with the reason, it is not skipped.

AllowRemoteRPC is enabled through the policy CLI; sessions are a real ``lanman msg agent``
(it must print what tstool sent) and a registered session.  tstool always exits 0, so the
assertions are on its output.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from interop_support import (
    DEFAULT_USER,
    _lanman,
    keep_root_args,
    lanman_cmd,
    random_password,
    run,
    stop_process,
)

TSTOOL = Path(sys.executable).parent / "tstool.py"


def _ip() -> str:
    path = shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None
    )
    if path is None:
        pytest.fail(
            "`ip` (Debian package iproute2) is required to make a network namespace "
            "for tstool.py on port 445: apt-get install -y iproute2",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail(
            "creating a network namespace needs root (tstool.py only talks to port 445)",
            pytrace=False,
        )
    return path


@pytest.fixture()
def netns():
    ip = _ip()
    name = f"lanman-msg-{secrets.token_hex(4)}"
    cp = run([ip, "netns", "add", name], timeout=30)
    if cp.returncode != 0:
        pytest.fail(
            f"`ip netns add {name}` failed (rc={cp.returncode}): "
            f"{cp.stderr.decode(errors='replace').strip()}",
            pytrace=False,
        )
    try:
        run([ip, "-n", name, "link", "set", "lo", "up"], timeout=30, check=True)
        yield [ip, "netns", "exec", name]
    finally:
        run([ip, "netns", "delete", name], timeout=30)


def _wait_for(pred, what: str, timeout: float = 20.0, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    extra = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{extra}")


def test_tstool_qwinsta_and_msg(netns, tmp_path):
    if not TSTOOL.exists():
        pytest.fail(
            f"impacket's tstool.py is not at {TSTOOL} (pip install impacket)", pytrace=False
        )
    home = tmp_path / "home"
    password = random_password()
    env = dict(os.environ, LANMAN_MSG_OS_SESSIONS="0")
    _lanman(home, "user", "add", DEFAULT_USER, "--password-stdin", input=(password + "\n").encode())
    _lanman(home, "policy", "set", "--scope", "local", "TerminalServer.AllowRemoteRPC", "enabled")
    _lanman(home, "msg", "session-add", "desk", "--user", DEFAULT_USER)

    agent_log = tmp_path / "agent.log"
    server_log = tmp_path / "server.log"
    procs: list[subprocess.Popen] = []
    try:
        with open(agent_log, "wb") as fh:
            agent = subprocess.Popen(
                lanman_cmd()
                + [
                    "--home",
                    str(home),
                    "msg",
                    "agent",
                    "--name",
                    "helpdesk",
                    "--user",
                    DEFAULT_USER,
                    "--respond",
                    "ok",
                    "--max-seconds",
                    "300",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        procs.append(agent)
        m = _wait_for(
            lambda: re.search(
                r"session helpdesk \(id (\d+)\)", agent_log.read_text(errors="replace")
            ),
            "the agent to register",
            proc=agent,
            log=agent_log,
        )
        agent_id = int(m.group(1))

        with open(server_log, "wb") as fh:
            server = subprocess.Popen(
                netns
                + lanman_cmd()
                + ["--home", str(home), "up", "--listen", "127.0.0.1", "--smb-port", "445"]
                + keep_root_args(),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        procs.append(server)
        _wait_for(
            lambda: "SMB server on 127.0.0.1:445" in server_log.read_text(errors="replace"),
            "lanman up on 127.0.0.1:445 in the namespace",
            proc=server,
            log=server_log,
        )

        def tstool(*args: str) -> str:
            cp = run(
                netns
                + [sys.executable, str(TSTOOL), f"{DEFAULT_USER}:{password}@127.0.0.1", *args],
                timeout=120,
            )
            out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
            assert cp.returncode == 0, out  # tstool exits 0 whatever happened
            return out

        out = tstool("qwinsta")
        rows = {}  # SESSIONNAME -> (ID, USERNAME, STATE); USERNAME is empty for Services
        for line in out.splitlines():
            f = line.split()
            idx = next((i for i in (1, 2) if len(f) > i + 1 and f[i].isdigit()), None)
            if idx is not None:
                rows[f[0]] = (int(f[idx]), f[1] if idx == 2 else "", f[idx + 1])
        assert rows.get("Services") == (0, "", "Disconnected"), out
        assert rows.get("desk", (None,))[0] == 1 and rows["desk"][2] == "Active", out
        assert rows["desk"][1].endswith(f"\\{DEFAULT_USER}"), out
        assert rows.get("helpdesk") == (agent_id, rows["helpdesk"][1], "Active"), out
        assert "SESSIONNAME" in out and "USERNAME" in out

        out = tstool(
            "msg",
            "-session",
            str(agent_id),
            "-title",
            "Restart",
            "-message",
            "Server restarts in 10 minutes\x1b[2J",
        )
        assert f"Sending message to SessionID: {agent_id} ...OK" in out, out
        shown = _wait_for(
            lambda: (
                "Server restarts in 10 minutes" in agent_log.read_text(errors="replace")
                and agent_log.read_text(errors="replace")
            ),
            "the agent to show the message",
            proc=agent,
            log=agent_log,
        )
        assert f"Message from {DEFAULT_USER} — Restart:" in shown, shown
        assert "\x1b" not in shown

        out = tstool("msg", "-session", "4242", "-title", "T", "-message", "M")
        assert "Sending message to SessionID: 4242 ...FAIL" in out, out
        assert "Could not find SessionID: 4242" in out, out

        # lanman's side of the same port: the `msg` script with exactly the Windows syntax
        # (no port: 445) and `lanman session list --server`
        msg_exe = Path(sys.executable).parent / "msg"
        assert msg_exe.exists(), "the msg console script is not installed (pip install -e .)"
        cenv = dict(
            env,
            LANMAN_MSG_USER=DEFAULT_USER,
            LANMAN_MSG_PASSWORD=password,
            LANMAN_HOME=str(tmp_path / "client-home"),
        )
        cp = run(netns + [str(msg_exe), "*", "/SERVER:127.0.0.1", "hello from msg"], env=cenv)
        assert cp.returncode == 0, cp.stderr
        _wait_for(
            lambda: "hello from msg" in agent_log.read_text(errors="replace"),
            "the agent to show the msg script's message",
            proc=agent,
            log=agent_log,
        )
        cp = run(
            netns
            + lanman_cmd()
            + [
                "--home",
                str(tmp_path / "client-home"),
                "session",
                "list",
                "--server",
                "127.0.0.1",
                "-U",
                f"{DEFAULT_USER}%{password}",
            ],
            env=cenv,
        )
        assert cp.returncode == 0, cp.stderr
        listed = {ln.split()[0]: ln.split()[1:4] for ln in cp.stdout.decode().splitlines()[1:]}
        assert listed["helpdesk"] == [DEFAULT_USER, str(agent_id), "Active"], listed

        # AllowRemoteRPC back to 0: the endpoint is gone, tstool reports the failure
        _lanman(
            home, "policy", "set", "--scope", "local", "TerminalServer.AllowRemoteRPC", "disabled"
        )
        out = tstool("qwinsta")
        assert "STATUS_OBJECT_NAME_NOT_FOUND" in out, out
        assert "helpdesk" not in out
    finally:
        for p in reversed(procs):
            if p is procs[0] and p.poll() is None:
                p.send_signal(signal.SIGINT)  # the agent removes its session on Ctrl-C
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            stop_process(p)
