"""`lanman status --json` against a running `lanman up` while Samba's smbclient (an
interactive session kept open through a pipe, a file opened with its `open` command) and
smbprotocol (an open file with a byte-range lock) are connected; `close-file` makes
smbprotocol's next read fail with STATUS_FILE_CLOSED and `close-session` ends smbclient's
session (its next request gets NT_STATUS_USER_SESSION_DELETED), as Close-SmbOpenFile and
Close-SmbSession do on Windows."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from interop_support import cleanup_target, lanman_cmd, require_tool, run, start_lanman
from smbprotocol.connection import Connection
from smbprotocol.exceptions import FileClosed
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    LockFlags,
    Open,
    ShareAccess,
    SMB2LockElement,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

pytestmark = [pytest.mark.interop]


@pytest.fixture()
def srv(tmp_path):
    t = start_lanman(tmp_path / "srv")
    (t.share_dir / "smbc.txt").write_bytes(b"opened by smbclient\n")
    yield t
    cleanup_target(t)


def lanman_status(t, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(lanman_cmd() + ["--home", str(t.home), "status", *args], timeout=30, check=check)


def status_json(t) -> dict:
    return json.loads(lanman_status(t, "--json").stdout)


def wait_for(t, pred, what: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snap = status_json(t)
        if pred(snap):
            return snap
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never showed up in lanman status: {snap}")
        time.sleep(0.2)


def smbclient_shell(t) -> subprocess.Popen:
    exe = require_tool("smbclient")
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return subprocess.Popen(
        [
            exe,
            t.unc(t.share),
            "-p",
            str(t.port),
            "-U",
            f"{t.user}%{t.password}",
            "--client-protection=sign",
            "--option=client max protocol=SMB3_11",
            "--option=client smb encrypt=off",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )


def smbprotocol_open(t):
    conn = Connection(uuid.uuid4(), t.host, t.port, require_signing=True)
    conn.connect(timeout=15)
    session = Session(conn, t.user, t.password, auth_protocol="ntlm")
    session.connect()
    tree = TreeConnect(session, rf"\\{t.host}\{t.share}")
    tree.connect()
    f = Open(tree, "held.txt")
    f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
        0x80,
        ShareAccess.FILE_SHARE_READ,
        CreateDisposition.FILE_OVERWRITE_IF,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
    )
    f.write(b"held open by smbprotocol", 0)
    el = SMB2LockElement()
    el["offset"] = 4
    el["length"] = 10
    el["flags"] = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
    f.lock([el])
    return conn, f


@pytest.mark.timeout(120)
def test_status_lists_sessions_files_and_locks_and_closes_them(srv):
    t = srv
    shell = smbclient_shell(t)
    conn = None
    try:
        shell.stdin.write(b"open smbc.txt\n")
        shell.stdin.flush()
        conn, f = smbprotocol_open(t)
        snap = wait_for(
            t,
            lambda s: (
                len(s["sessions"]) == 2
                and {x["path"] for x in s["files"]}
                >= {
                    "held.txt",
                    "smbc.txt",
                }
            ),
            "two sessions with their files",
        )
        sessions = snap["sessions"]
        assert {s["auth"] for s in sessions} == {"NTLM"}
        assert all(s["user"].endswith(t.user) and s["signed"] for s in sessions), sessions
        assert {s["dialect"] for s in sessions} == {"3.1.1"}
        assert len({s["client"] for s in sessions}) == 2
        assert [x["share"] for x in snap["trees"]] == [t.share, t.share]
        files = {x["path"]: x for x in snap["files"]}
        held = files["held.txt"]
        assert held["access"] == "RDWR" and held["share_mode"] == "DENY_WRITE"
        assert held["locks"] == 1
        assert files["smbc.txt"]["session_id"] != held["session_id"]
        (lock,) = snap["locks"]
        assert lock == {
            "file_id": held["file_id"],
            "share": t.share,
            "path": "held.txt",
            "offset": 4,
            "length": 10,
            "exclusive": True,
        }
        text = lanman_status(t).stdout.decode()
        assert "held.txt" in text and "Byte-range locks" in text

        # Close-SmbOpenFile: smbprotocol's next read on the handle fails
        out = lanman_status(t, "close-file", str(held["file_id"])).stdout.decode()
        assert "held.txt" in out
        with pytest.raises(FileClosed):
            f.read(0, 4)
        snap = status_json(t)
        assert "held.txt" not in {x["path"] for x in snap["files"]} and snap["locks"] == []
        r = lanman_status(t, "close-file", str(held["file_id"]), check=False)
        assert r.returncode == 1 and b"no open file" in r.stderr

        # Close-SmbSession: smbclient's session ends; its next request is refused
        smbc = files["smbc.txt"]["session_id"]
        r = json.loads(lanman_status(t, "close-session", str(smbc), "--json").stdout)
        assert r["files"] == 1
        shell.stdin.write(b"ls\nquit\n")
        shell.stdin.flush()
        out, _ = shell.communicate(timeout=30)
        text = out.decode(errors="replace")
        assert (
            "NT_STATUS_USER_SESSION_DELETED" in text or "NT_STATUS_NETWORK_SESSION_EXPIRED" in text
        ), text
        assert smbc not in {s["session_id"] for s in status_json(t)["sessions"]}
        events = t.events()
        ids = {e.get("event_id") for e in events}
        assert {9009, 9010} <= ids, events
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.communicate()
        if conn is not None:
            conn.disconnect(close=True)


def test_status_without_a_running_server_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run(lanman_cmd() + ["--home", str(home), "status"], timeout=30, check=False)
    assert r.returncode == 1
    assert b"no running server answers" in r.stderr and b"Traceback" not in r.stderr
    r = run(lanman_cmd() + ["--home", str(tmp_path / "missing"), "status"], timeout=30, check=False)
    assert r.returncode == 1 and b"no lanman home" in r.stderr
    assert not (tmp_path / "missing").exists()
