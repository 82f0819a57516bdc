"""lanman status over the sans-IO core: the snapshot (sessions, trees, open files, share
modes, oplocks, byte-range locks) and Close-SmbOpenFile / Close-SmbSession with what the
client sees next (STATUS_FILE_CLOSED, STATUS_USER_SESSION_DELETED); and the status socket of
the service layer."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from typing import ClassVar

import pytest
from smb_harness import STATUS_SUCCESS, SmbTestClient, make_context

from lanman.smb.server import status
from lanman.smb.server.status_service import StatusService, StatusUnavailable, query
from lanman.smb.wire.constants import Command
from lanman.smb.wire.io import LockElement, LockRequest

STATUS_FILE_CLOSED = 0xC0000128
STATUS_USER_SESSION_DELETED = 0xC0000203
NOW = 133_000_000_000_000_000
EXCLUSIVE = 0x2 | 0x10  # SMB2_LOCKFLAG_EXCLUSIVE_LOCK | FAIL_IMMEDIATELY


def _lock(c, tid, fid, offset, length):
    body = LockRequest(fid, [LockElement(offset, length, EXCLUSIVE)]).pack()
    return c.check(c.request(Command.LOCK, body, tree_id=tid))


def _env(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    (share / "a.txt").write_bytes(b"0123456789")
    c = SmbTestClient(ctx)
    assert c.login().status == STATUS_SUCCESS
    tid = c.tree_connect("data")
    fid = c.create(tid, "a.txt", access=0x1 | 0x2)
    _lock(c, tid, fid, 2, 3)
    return c, tid, fid


def test_snapshot_lists_session_tree_file_and_lock(tmp_path):
    c, _tid, _fid = _env(tmp_path)
    with c:
        snap = status.snapshot([c.conn], NOW)
        (s,) = snap["sessions"]
        assert s["user"] == "alice" and s["dialect"] == "3.1.1" and s["auth"] == "NTLM"
        assert s["signed"] and s["open_files"] == 1 and s["trees"] == 1
        assert [t["share"] for t in snap["trees"]] == ["data"]
        (f,) = snap["files"]
        assert f["path"] == "a.txt" and f["share"] == "data" and f["access"] == "RDWR"
        assert f["share_mode"] == "DENY_NONE" and f["locks"] == 1
        assert f["local_path"].endswith("/share/a.txt")
        assert snap["locks"] == [
            {
                "file_id": f["file_id"],
                "share": "data",
                "path": "a.txt",
                "offset": 2,
                "length": 3,
                "exclusive": True,
            }
        ]
        json.dumps(snap)  # what the socket sends


def test_close_file_makes_the_next_read_fail_with_file_closed(tmp_path):
    c, tid, fid = _env(tmp_path)
    with c:
        (f,) = status.snapshot([c.conn], NOW)["files"]
        info = status.close_file([c.conn], f["file_id"])
        assert info["path"] == "a.txt" and info["share"] == "data"
        assert c.read_raw(tid, fid, 0, 4).status == STATUS_FILE_CLOSED
        snap = status.snapshot([c.conn], NOW)
        assert snap["files"] == [] and snap["locks"] == []  # its locks went with it
        assert status.close_file([c.conn], f["file_id"]) is None
        assert c.echo().status == STATUS_SUCCESS  # the session itself goes on


def test_close_session_makes_the_next_request_fail_with_session_deleted(tmp_path):
    c, tid, fid = _env(tmp_path)
    with c:
        (s,) = status.snapshot([c.conn], NOW)["sessions"]
        info = status.close_session([c.conn], s["session_id"])
        assert info["files"] == 1 and info["user"] == "alice"
        r = c.read_raw(tid, fid, 0, 4)
        assert r.status == STATUS_USER_SESSION_DELETED
        assert r.signed  # signed with the old key: a signing client accepts it
        assert status.snapshot([c.conn], NOW)["sessions"] == []
        assert status.close_session([c.conn], s["session_id"]) is None


@pytest.mark.parametrize("deep", [False, True], ids=["short", "past-sun_path"])
def test_status_socket_answers_and_is_private(tmp_path, deep):
    c, _tid, _fid = _env(tmp_path)
    home = tmp_path / ("h" * 120 if deep else "home")  # > 107 bytes: bound via /proc/self/fd
    home.mkdir()
    ready, stop = threading.Event(), None
    events = []

    class _Server:  # what start_server returns, as far as the status service looks
        class lanman_shared:
            registry: ClassVar[set] = {type("P", (), {"conn": c.conn})()}

    async def main():
        nonlocal stop
        stop = asyncio.Event()
        svc = StatusService(home, [_Server], lambda n, **k: events.append((n, k)), {"pid": 1})
        await svc.start()
        ready.set()
        await stop.wait()
        await svc.close()

    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_until_complete, args=(main(),))
    th.start()
    try:
        assert ready.wait(10)
        sock = home / "lanman-status.sock"
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        snap = query(home, {"op": "status"})
        assert snap["ok"] and snap["server"] == {"pid": 1}
        (f,) = snap["files"]
        r = query(home, {"op": "close-file", "id": f["file_id"]})
        assert r["ok"] and events[-1][0] == "FILE_CLOSED_BY_ADMIN"
        assert query(home, {"op": "close-file", "id": f["file_id"]})["ok"] is False
        assert query(home, {"op": "bogus"})["ok"] is False
    finally:
        loop.call_soon_threadsafe(stop.set)
        th.join(10)
        loop.close()
        c.close()
    assert not (home / "lanman-status.sock").exists()
    try:
        query(home, {"op": "status"})
        raise AssertionError("expected StatusUnavailable")
    except StatusUnavailable:
        pass


def test_smb1_sessions_and_trees_are_listed(tmp_path):
    from smb_harness import PASSWORD, USER

    from lanman.smb.server.connection import ServerConnection
    from lanman.smb.smb1.client import Smb1Client

    ctx, _, _ = make_context(tmp_path, smb1_enabled=True, require_message_signing=False)
    server = ServerConnection(ctx, "127.0.0.1:4445")

    def exchange(message: bytes) -> list[bytes]:
        return [b"".join(bytes(p) for p in f) for f in server.receive_frame(message, NOW)]

    c = Smb1Client(exchange)
    c.negotiate()
    c.session_setup(USER, PASSWORD)
    c.tree_connect("\\\\lanman\\data")
    try:
        snap = status.snapshot([server], NOW)
        (s,) = snap["sessions"]
        assert s["dialect"] == "NT LM 0.12" and s["user"] == USER and s["auth"] == "NTLM"
        assert [t["share"] for t in snap["trees"]] == ["data"]
        assert status.close_session([server], s["session_id"]) is None  # not for SMB1
    finally:
        server.connection_lost()
