"""CHANGE_NOTIFY of changes made on the host's disk (notify_inotify.py over real inotify,
read by hand instead of an event loop), and the server's own changes not reported twice."""

from __future__ import annotations

import contextlib
import os
import struct
import sys

import pytest
from smb_harness import STATUS_PENDING, STATUS_SUCCESS
from test_smb_notify import NAME, cancel_first, changes, env, notify, rename, watch_dir  # noqa: F401

from lanman.smb.server import notify as nt
from lanman.smb.server.notify_inotify import (
    IN_CREATE,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    InotifySource,
    attach_inotify,
    parse_events,
)
from lanman.smb.wire.constants import Command

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


class _Loop:
    """The two calls InotifySource makes on its loop."""

    def __init__(self) -> None:
        self.readers: dict = {}

    def add_reader(self, fd, cb) -> None:
        self.readers[fd] = cb

    def remove_reader(self, fd) -> None:
        self.readers.pop(fd, None)


@pytest.fixture
def disk(env):  # noqa: F811 - the two-connection fixture of test_smb_notify
    watcher, other, pushed, share_dir = env
    loop = _Loop()
    source = attach_inotify(watcher.ctx.notify, contextlib.nullcontext(), loop)
    assert isinstance(source, InotifySource)
    yield watcher, other, pushed, share_dir, source
    source.close()
    assert loop.readers == {} and watcher.ctx.notify.source is None


def test_a_file_made_on_the_disk_completes_the_request(disk):
    watcher, _other, pushed, share_dir, source = disk
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    (share_dir / "local.txt").write_bytes(b"from the host")
    source._readable()
    assert [changes(r) for r in pushed] == [[(nt.FILE_ACTION_ADDED, "local.txt")]]
    watcher.close_file(wt, dfid)


def test_disk_rename_and_delete(disk):
    watcher, _other, _pushed, share_dir, source = disk
    (share_dir / "a.txt").write_bytes(b"x")
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    os.rename(share_dir / "a.txt", share_dir / "b.txt")
    os.unlink(share_dir / "b.txt")
    source._readable()
    r = notify(watcher, wt, dfid)
    assert r.status == STATUS_SUCCESS
    assert changes(r) == [
        (nt.FILE_ACTION_RENAMED_OLD_NAME, "a.txt"),
        (nt.FILE_ACTION_RENAMED_NEW_NAME, "b.txt"),
        (nt.FILE_ACTION_REMOVED, "b.txt"),
    ]
    watcher.close_file(wt, dfid)


def test_watch_tree_follows_subdirectories(disk):
    watcher, _other, _pushed, share_dir, source = disk
    (share_dir / "sub").mkdir()
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    body = struct.pack("<HHI16sII", 32, nt.SMB2_WATCH_TREE, 4096, dfid, NAME, 0)
    interim = watcher.request(Command.CHANGE_NOTIFY, body, tree_id=wt, payload=4096)
    assert [p.kind for p in watcher.conn.pending.values()] == ["notify"]
    assert watcher.cancel(async_id=interim.header.async_id)
    (share_dir / "sub" / "new").mkdir()
    source._readable()  # the new directory is watched from now on
    (share_dir / "sub" / "new" / "deep.txt").write_bytes(b"")
    source._readable()
    r = watcher.request(Command.CHANGE_NOTIFY, body, tree_id=wt, payload=4096)
    assert changes(r) == [
        (nt.FILE_ACTION_ADDED, "sub\\new"),
        (nt.FILE_ACTION_ADDED, "sub\\new\\deep.txt"),
    ]
    watcher.close_file(wt, dfid)


def test_own_changes_are_not_reported_twice(disk):
    watcher, other, _pushed, _share_dir, source = disk
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid, filter_=NAME | nt.FILE_NOTIFY_CHANGE_LAST_WRITE)
    fid = other.create(ot, "own.txt")
    other.write(ot, fid, 0, b"data")
    rename(other, ot, fid, "own2.txt")
    other.close_file(ot, fid)
    source._readable()  # inotify saw all of it too
    assert changes(notify(watcher, wt, dfid)) == [
        (nt.FILE_ACTION_ADDED, "own.txt"),
        (nt.FILE_ACTION_MODIFIED, "own.txt"),
        (nt.FILE_ACTION_RENAMED_OLD_NAME, "own.txt"),
        (nt.FILE_ACTION_RENAMED_NEW_NAME, "own2.txt"),
    ]
    watcher.close_file(wt, dfid)


def test_closing_the_handle_removes_the_inotify_watch(disk):
    watcher, _other, _pushed, _share_dir, source = disk
    wt = watcher.tree_connect()
    dfid = watch_dir(watcher, wt)
    cancel_first(watcher, wt, dfid)
    assert source._count == 1 and len(source._users) == 1
    watcher.close_file(wt, dfid)
    assert source._count == 0 and source._users == {}


def test_parse_events_and_unpaired_moves():
    def ev(wd, mask, cookie, name):
        raw = name.encode() + b"\x00" * (16 - len(name))
        return struct.pack("iIII", wd, mask, cookie, len(raw)) + raw

    buf = ev(1, IN_CREATE, 0, "x") + ev(1, IN_MOVED_FROM, 7, "y") + ev(2, IN_MOVED_TO, 9, "z")
    assert parse_events(buf) == [
        (1, IN_CREATE, 0, "x"),
        (1, IN_MOVED_FROM, 7, "y"),
        (2, IN_MOVED_TO, 9, "z"),
    ]


def test_disk_changes_in_a_renamed_watched_directory(disk):
    watcher, other, pushed, share_dir, source = disk
    (share_dir / "was").mkdir()
    wt, ot = watcher.tree_connect(), other.tree_connect()
    dfid = watch_dir(watcher, wt, "was")
    assert notify(watcher, wt, dfid).status == STATUS_PENDING
    moving = other.create(ot, "was", disposition=1, options=1, attributes=0x10)
    rename(other, ot, moving, "now")
    other.close_file(ot, moving)
    source._readable()
    (share_dir / "now" / "later.txt").write_bytes(b"")
    source._readable()
    assert [changes(r) for r in pushed] == [[(nt.FILE_ACTION_ADDED, "later.txt")]]
    watcher.close_file(wt, dfid)
