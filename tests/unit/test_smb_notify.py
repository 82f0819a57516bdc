"""CHANGE_NOTIFY (MS-SMB2 3.3.5.19, notify.py) driven in process: two connections over one
ServerContext, one watching, the other changing the share."""

from __future__ import annotations

import struct

import pytest
from smb_harness import (
    STATUS_CANCELLED,
    STATUS_INVALID_PARAMETER,
    STATUS_NOTIFY_CLEANUP,
    STATUS_PENDING,
    STATUS_SUCCESS,
    Response,
    SmbTestClient,
    make_context,
    split_frame,
)

from lanman.errors import ntstatus as nts
from lanman.smb.server import notify as nt
from lanman.smb.wire.constants import Command
from lanman.smb.wire.query import unpack_output_response

NAME = nt.FILE_NOTIFY_CHANGE_FILE_NAME | nt.FILE_NOTIFY_CHANGE_DIR_NAME
DELETE_ON_CLOSE = 0x00001000


@pytest.fixture
def env(tmp_path):
    ctx, _events, share_dir = make_context(tmp_path)
    watcher = SmbTestClient(ctx)
    other = SmbTestClient(ctx)
    pushed: list[Response] = []

    def push(frame) -> None:  # the transport's unsolicited send
        pushed.extend(split_frame(b"".join(bytes(b) for b in frame)))

    watcher.conn.push = push
    for c in (watcher, other):
        assert c.login(0x0311).status == STATUS_SUCCESS
    yield watcher, other, pushed, share_dir
    watcher.close()
    other.close()


def changes(r: Response) -> list[tuple[int, str]]:
    """Decode the FILE_NOTIFY_INFORMATION chain of a CHANGE_NOTIFY response."""
    data = bytes(unpack_output_response(r.pdu))
    out, pos = [], 0
    while data:
        nxt, action, n = struct.unpack_from("<III", data, pos)
        out.append((action, data[pos + 12 : pos + 12 + n].decode("utf-16-le")))
        if nxt == 0:
            break
        assert nxt % 4 == 0
        pos += nxt
    return out


def watch_dir(c: SmbTestClient, tid: int, name: str = "") -> bytes:
    """A directory opened as Windows opens one to watch it (FILE_LIST_DIRECTORY, no
    DELETE: renames and deletes in it are not blocked by the watcher's handle)."""
    return c.create(tid, name, disposition=1, options=1, attributes=0x10, access=0x00100081)


def notify(c: SmbTestClient, tid: int, fid: bytes, **kw) -> Response:
    kw.setdefault("filter_", NAME)
    return c.change_notify_raw(tid, fid, **kw)


def set_info(c: SmbTestClient, tid: int, fid: bytes, cls: int, buf: bytes) -> Response:
    body = struct.pack("<HBBIHHI16s", 33, 1, cls, len(buf), 96, 0, 0, fid) + buf
    return c.request(Command.SET_INFO, body, tree_id=tid, payload=len(buf))


def rename(c: SmbTestClient, tid: int, fid: bytes, new: str) -> None:
    raw = new.encode("utf-16-le")
    buf = struct.pack("<B7sQI", 0, b"", 0, len(raw)) + raw
    assert set_info(c, tid, fid, 10, buf).status == STATUS_SUCCESS


def cancel_first(c: SmbTestClient, tid: int, fid: bytes, **kw) -> None:
    """Set the watch up (its first request fixes filter and buffer), then cancel it."""
    interim = notify(c, tid, fid, **kw)
    assert interim.status == STATUS_PENDING
    assert [r.status for r in c.cancel(async_id=interim.header.async_id)] == [STATUS_CANCELLED]


def test_create_by_another_connection_completes_the_pending_request(env):
    watcher, other, pushed, _share_dir = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    interim = notify(watcher, wt, dfid)
    assert interim.status == STATUS_PENDING and interim.is_async
    other.close_file(ot, other.create(ot, "new.txt"))
    assert len(pushed) == 1
    final = pushed[0]
    assert final.command == Command.CHANGE_NOTIFY and final.status == STATUS_SUCCESS
    assert final.header.async_id == interim.header.async_id
    assert final.signed and watcher.verify(final)
    assert changes(final) == [(nt.FILE_ACTION_ADDED, "new.txt")]
    assert not watcher.conn.pending
    watcher.close_file(wt, dfid)


def test_changes_between_requests_are_buffered(env):
    watcher, other, _pushed, _ = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    other.close_file(ot, other.create(ot, "a.txt"))
    other.close_file(ot, other.create(ot, "d", options=1, attributes=0x10))
    r = notify(watcher, wt, dfid)
    assert r.status == STATUS_SUCCESS and not r.is_async  # answered at once
    assert changes(r) == [(nt.FILE_ACTION_ADDED, "a.txt"), (nt.FILE_ACTION_ADDED, "d")]
    watcher.close_file(wt, dfid)


def test_first_request_fixes_the_filter(env):
    watcher, other, pushed, _ = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, filter_=nt.FILE_NOTIFY_CHANGE_DIR_NAME)
    other.close_file(ot, other.create(ot, "file.txt"))  # a file name: not watched
    assert notify(watcher, wt, dfid, filter_=NAME).status == STATUS_PENDING
    other.close_file(ot, other.create(ot, "sub", options=1, attributes=0x10))
    assert [changes(r) for r in pushed] == [[(nt.FILE_ACTION_ADDED, "sub")]]
    watcher.close_file(wt, dfid)


def notify_tree(c: SmbTestClient, tid: int, fid: bytes, filter_: int = NAME) -> Response:
    body = struct.pack("<HHI16sII", 32, nt.SMB2_WATCH_TREE, 4096, fid, filter_, 0)
    return c.request(Command.CHANGE_NOTIFY, body, tree_id=tid, payload=4096)


def test_watch_tree_reports_paths_below(env):
    watcher, other, pushed, share_dir = env
    (share_dir / "sub").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    flat = watch_dir(watcher, wt)
    tree_dir = watch_dir(watcher, wt)
    assert notify(watcher, wt, flat).status == STATUS_PENDING
    assert notify_tree(watcher, wt, tree_dir).status == STATUS_PENDING
    other.close_file(ot, other.create(ot, "sub\\deep.txt"))
    assert [changes(r) for r in pushed] == [[(nt.FILE_ACTION_ADDED, "sub\\deep.txt")]]
    # WATCH_TREE of a later request on the flat handle changes nothing: fixed at the first
    assert notify_tree(watcher, wt, tree_dir).status == STATUS_PENDING
    pending_flat = [p for p in watcher.conn.pending.values() if p.open_id != 0]
    assert len(pending_flat) == 2
    other.close_file(ot, other.create(ot, "sub\\deeper.txt"))
    assert len(pushed) == 2 and changes(pushed[1]) == [(nt.FILE_ACTION_ADDED, "sub\\deeper.txt")]
    watcher.close_file(wt, flat)
    watcher.close_file(wt, tree_dir)


def test_rename_in_place_and_move(env):
    watcher, other, _pushed, share_dir = env
    (share_dir / "sub").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    fid = other.create(ot, "old.txt")
    rename(other, ot, fid, "new.txt")
    rename(other, ot, fid, "sub\\moved.txt")
    other.close_file(ot, fid)
    r = notify(watcher, wt, dfid)
    assert changes(r) == [
        (nt.FILE_ACTION_ADDED, "old.txt"),
        (nt.FILE_ACTION_RENAMED_OLD_NAME, "old.txt"),
        (nt.FILE_ACTION_RENAMED_NEW_NAME, "new.txt"),
        (nt.FILE_ACTION_REMOVED, "new.txt"),
    ]
    watcher.close_file(wt, dfid)


def test_delete_on_close_is_removed_and_attributes_modified(env):
    watcher, other, _pushed, share_dir = env
    (share_dir / "gone.txt").write_bytes(b"x")
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, filter_=NAME | nt.FILE_NOTIFY_CHANGE_ATTRIBUTES)
    fid = other.create(ot, "gone.txt")
    basic = struct.pack("<QQQQII", 0, 0, 0, 0, 0x2, 0)  # HIDDEN
    assert set_info(other, ot, fid, 4, basic).status == STATUS_SUCCESS
    assert set_info(other, ot, fid, 13, b"\x01").status == STATUS_SUCCESS
    other.close_file(ot, fid)
    assert not (share_dir / "gone.txt").exists()
    r = notify(watcher, wt, dfid)
    assert changes(r) == [
        (nt.FILE_ACTION_MODIFIED, "gone.txt"),
        (nt.FILE_ACTION_REMOVED, "gone.txt"),
    ]
    watcher.close_file(wt, dfid)


def test_write_is_modified_once_per_run(env):
    watcher, other, _pushed, _ = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    fid = other.create(ot, "w.bin")
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, filter_=nt.FILE_NOTIFY_CHANGE_SIZE)
    for i in range(5):
        other.write(ot, fid, i, b"y")
    other.close_file(ot, fid)
    assert changes(notify(watcher, wt, dfid)) == [(nt.FILE_ACTION_MODIFIED, "w.bin")]
    watcher.close_file(wt, dfid)


def test_overflow_and_small_buffer_give_notify_enum_dir(env):
    watcher, other, _pushed, _ = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, length=100)  # the watch holds at most 100 bytes
    for i in range(10):
        other.close_file(ot, other.create(ot, f"file-{i}.txt"))
    r = notify(watcher, wt, dfid, length=4096)
    assert r.status == nts.STATUS_NOTIFY_ENUM_DIR
    assert bytes(unpack_output_response(r.pdu)) == b""
    assert watcher.ctx.notify.buffered_bytes(watcher.conn) == 0
    # a request smaller than what is buffered: ENUM_DIR too
    other.close_file(ot, other.create(ot, "one-more.txt"))
    assert notify(watcher, wt, dfid, length=8).status == nts.STATUS_NOTIFY_ENUM_DIR
    watcher.close_file(wt, dfid)


def test_connection_byte_budget(env):
    watcher, other, _pushed, _ = env
    watcher.ctx.notify.max_per_connection = 64
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    for i in range(4):
        other.close_file(ot, other.create(ot, f"budget-{i}.txt"))
    assert watcher.ctx.notify.buffered_bytes(watcher.conn) <= 64
    assert notify(watcher, wt, dfid).status == nts.STATUS_NOTIFY_ENUM_DIR
    watcher.close_file(wt, dfid)


def test_two_pending_requests_complete_in_order(env):
    watcher, other, pushed, _ = env
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    first = notify(watcher, wt, dfid)
    second = notify(watcher, wt, dfid)
    other.close_file(ot, other.create(ot, "d1", options=1, attributes=0x10))
    other.close_file(ot, other.create(ot, "d2", options=1, attributes=0x10))
    assert [r.header.async_id for r in pushed] == [first.header.async_id, second.header.async_id]
    assert [changes(r) for r in pushed] == [
        [(nt.FILE_ACTION_ADDED, "d1")],
        [(nt.FILE_ACTION_ADDED, "d2")],
    ]
    watcher.close_file(wt, dfid)


def test_own_directory_changes_are_not_reported(env):
    watcher, other, _pushed, share_dir = env
    (share_dir / "base").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt, "base")
    cancel_first(watcher, wt, dfid, filter_=nt.FILE_NOTIFY_CHANGE_ATTRIBUTES)
    bfid = other.open_dir(ot, "base")
    basic = struct.pack("<QQQQII", 0, 0, 0, 0, 0x12, 0)
    assert set_info(other, ot, bfid, 4, basic).status == STATUS_SUCCESS
    other.close_file(ot, bfid)
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    watcher.close_file(wt, dfid)
    assert [r.status for r in watcher.pending_frames] == [STATUS_NOTIFY_CLEANUP]


def test_on_a_file_and_oversized_buffer_are_invalid(env):
    watcher, _other, _pushed, _ = env
    wt = watcher.tree_connect()
    fid = watcher.create(wt, "plain.txt")
    assert notify(watcher, wt, fid).status == STATUS_INVALID_PARAMETER
    dfid = watch_dir(watcher, wt)
    too_big = watcher.conn.max_transact_size + 1
    watcher.ensure_credits(200)
    assert notify(watcher, wt, dfid, length=too_big).status == STATUS_INVALID_PARAMETER
    assert not watcher.conn.pending and len(watcher.ctx.notify) == 0
    watcher.close_file(wt, fid)
    watcher.close_file(wt, dfid)


def test_logoff_and_tree_disconnect_complete_pending_and_drop_watches(env):
    watcher, _other, _pushed, _ = env
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    r = watcher.request(Command.TREE_DISCONNECT, struct.pack("<HH", 4, 0), tree_id=wt)
    assert r.status == STATUS_SUCCESS
    assert [f.status for f in watcher.pending_frames] == [STATUS_NOTIFY_CLEANUP]
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    assert watcher.request(Command.LOGOFF, struct.pack("<HH", 4, 0)).status == STATUS_SUCCESS
    assert [f.status for f in watcher.pending_frames][-1] == STATUS_NOTIFY_CLEANUP
    assert not watcher.conn.pending and len(watcher.ctx.notify) == 0


def test_connection_lost_drops_watches(env):
    watcher, other, _pushed, _ = env
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    assert len(watcher.ctx.notify) == 1
    watcher.close()
    assert len(watcher.ctx.notify) == 0
    ot = other.tree_connect()
    other.close_file(ot, other.create(ot, "after.txt"))  # nobody to tell: no error


def test_encode_changes_layout():
    data = nt.encode_changes([(1, "a"), (2, "bcd")])
    # entry 1: 12 + 2 bytes, padded to 16; entry 2: 12 + 6 bytes, last (no padding)
    assert len(data) == 16 + 18
    assert struct.unpack_from("<III", data, 0) == (16, 1, 2)
    assert data[12:14] == "a".encode("utf-16-le")
    assert struct.unpack_from("<III", data, 16) == (0, 2, 6)
    assert nt.encode_changes([]) == b""


def test_removed_directory_completes_with_delete_pending(env):
    watcher, other, pushed, share_dir = env
    (share_dir / "doomed").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt, "doomed")
    interim = notify(watcher, wt, dfid)
    assert interim.status == STATUS_PENDING
    victim = other.create(ot, "doomed", disposition=1, options=1 | DELETE_ON_CLOSE, attributes=0x10)
    other.close_file(ot, victim)  # delete-pending: the watcher still has it open
    assert [(r.status, r.header.async_id) for r in pushed] == [
        (nts.STATUS_DELETE_PENDING, interim.header.async_id)
    ]
    assert notify(watcher, wt, dfid).status == nts.STATUS_DELETE_PENDING
    watcher.close_file(wt, dfid)
    assert not (share_dir / "doomed").exists()  # gone with the last handle


def test_handle_without_list_directory_is_access_denied(env):
    watcher, _other, _pushed, _ = env
    wt = watcher.tree_connect()
    fid = watcher.create(wt, "", disposition=1, options=1, attributes=0x10, access=0x80)
    assert notify(watcher, wt, fid).status == nts.STATUS_ACCESS_DENIED
    assert not watcher.conn.pending
    watcher.close_file(wt, fid)


def test_watch_follows_its_renamed_directory(env):
    watcher, other, pushed, share_dir = env
    (share_dir / "dirA").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt, "dirA")
    root = watch_dir(watcher, wt)
    cancel_first(watcher, wt, root)
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    moving = other.create(ot, "dirA", disposition=1, options=1, attributes=0x10)
    rename(other, ot, moving, "dirB")
    other.close_file(ot, moving)
    assert changes(notify(watcher, wt, root)) == [
        (nt.FILE_ACTION_RENAMED_OLD_NAME, "dirA"),
        (nt.FILE_ACTION_RENAMED_NEW_NAME, "dirB"),
    ]
    other.close_file(ot, other.create(ot, "dirB\\inside.txt"))
    assert [changes(r) for r in pushed] == [[(nt.FILE_ACTION_ADDED, "inside.txt")]]
    watcher.close_file(wt, dfid)
    watcher.close_file(wt, root)


def test_connection_lost_drops_watches_of_opens_kept_open(env):
    """Even an open that outlives its connection (a durable handle) loses its watch."""
    watcher, _other, _pushed, _ = env
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    hub = watcher.ctx.notify
    kept = dict(watcher.conn.opens)
    watcher.conn.opens.clear()  # as if the opens were preserved elsewhere
    watcher.conn.connection_lost()
    assert len(hub) == 0 and hub.buffered_bytes(watcher.conn) == 0
    for o in kept.values():
        o.handle.close()


@pytest.mark.parametrize(
    "body,status",
    [
        (b"\x20\x00", STATUS_INVALID_PARAMETER),  # truncated
        (struct.pack("<HHI16sII", 32, 0, 64, b"\x07" * 16, NAME, 0), nts.STATUS_FILE_CLOSED),
        (struct.pack("<HHI16sII", 31, 0, 64, b"\x00" * 16, NAME, 0), STATUS_INVALID_PARAMETER),
    ],
    ids=["short", "unknown-fileid", "bad-structure-size"],
)
def test_malformed_change_notify_keeps_the_connection(env, body, status):
    watcher, _other, _pushed, _ = env
    wt = watcher.tree_connect()
    r = watcher.request(Command.CHANGE_NOTIFY, body, tree_id=wt, payload=64)
    assert r.status == status and not watcher.closed
    assert not watcher.conn.pending
    assert watcher.echo().status == STATUS_SUCCESS


def test_security_change_is_reported(env):
    watcher, other, _pushed, share_dir = env
    (share_dir / "sd.txt").write_bytes(b"")
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, filter_=nt.FILE_NOTIFY_CHANGE_SECURITY)
    fid = other.create(ot, "sd.txt")
    q = struct.pack("<HBBIHHIII16s", 41, 3, 0, 4096, 0, 0, 0, 4, 0, fid)  # DACL
    got = other.request(Command.QUERY_INFO, q, tree_id=ot, payload=4096)
    assert got.status == STATUS_SUCCESS
    sd = bytes(unpack_output_response(got.pdu))
    body = struct.pack("<HBBIHHI16s", 33, 3, 0, len(sd), 96, 0, 4, fid) + sd
    r = other.request(Command.SET_INFO, body, tree_id=ot, payload=len(sd))
    assert r.status == STATUS_SUCCESS
    other.close_file(ot, fid)
    assert changes(notify(watcher, wt, dfid)) == [(nt.FILE_ACTION_MODIFIED, "sd.txt")]
    watcher.close_file(wt, dfid)
