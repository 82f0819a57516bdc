"""Directory leases (MS-SMB2 3.3.1.4 READ caching on a directory, 3.3.5.9.11
ParentLeaseKey): R/RH granted on directories at 3.x, broken to none when an entry changes,
except by the open naming the directory's lease as its parent; what smbtorture
smb2.lease.v2_request checks, driven through the sans-IO core."""

from __future__ import annotations

import contextlib
import os
import struct

from smb_harness import NOW, STATUS_SUCCESS
from test_smb_notify_disk import _Loop
from test_smb_oplock_lease import (
    KEY1,
    KEY2,
    H,
    R,
    W,
    _lease_ack,
    _lease_of,
    _lease_v1,
    _lease_v2,
    _pair,
    _pushed,
)

from lanman.smb.server.notify_inotify import attach_inotify
from lanman.smb.wire.constants import Command, InfoType
from lanman.smb.wire.create import CloseRequest, CreateRequest, CreateResponse
from lanman.smb.wire.io import WriteRequest
from lanman.smb.wire.query import SetInfoRequest

DIR_KEY = b"\x44" * 16
LEVEL_LEASE = 0xFF
OPEN, CREATE, OPEN_IF = 1, 2, 3
DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
ALL = 0x1F01FF


def _open(c, tid, name, *, directory=False, lease=None, disposition=OPEN_IF, options=0):
    opts = options | (DIRECTORY_FILE if directory else NON_DIRECTORY_FILE)
    contexts = [lease] if lease is not None else []
    oplock = LEVEL_LEASE if lease is not None else 0
    body = CreateRequest(
        name, ALL, 0x10 if directory else 0x80, 7, disposition, opts, oplock, contexts=contexts
    ).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def _fid(r) -> bytes:
    assert r.status == STATUS_SUCCESS, hex(r.status)
    return CreateResponse.unpack(r.pdu).file_id


def _close(c, tid, fid):
    assert c.request(Command.CLOSE, CloseRequest(fid).pack(), tree_id=tid).status == 0


def _breaks(c):
    """(epoch, flags, key, current, new) of each lease break pushed to ``c``."""
    out = []
    for f in _pushed(c):
        out.append(struct.unpack_from("<HI16sII", f.pdu, 64 + 2))
    return out


def _leased_dir(a, ta, share, name="d"):
    (share / name).mkdir(exist_ok=True)
    r = _open(a, ta, name, directory=True, lease=_lease_v2(DIR_KEY, R | W | H, 0))
    cr, data = _lease_of(r)
    key, state, _f, _d, _p, epoch, _ = struct.unpack("<16sIIQ16sHH", data)
    assert (key, state, epoch) == (DIR_KEY, R | H, 1), "no write caching on a directory"
    return cr.file_id


def test_directory_lease_rh_and_the_parent_key_spares_its_own_client(tmp_path):
    ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    with a, b:
        _leased_dir(a, ta, share)
        r = _open(a, ta, "d\\own.dat", lease=_lease_v2(KEY1, R | W | H, 0, parent=DIR_KEY))
        _cr, data = _lease_of(r)
        _k, state, flags, _d, pkey, _e, _ = struct.unpack("<16sIIQ16sHH", data)
        assert (state, flags & 0x4, pkey) == (R | W | H, 0x4, DIR_KEY)
        assert _breaks(a) == [], "the change came under the directory's own lease"
        _fid(_open(b, tb, "d\\other.dat"))  # another client adds an entry
        ((epoch, flags, key, cur, new),) = _breaks(a)
        assert (epoch, flags & 1, key, cur, new) == (2, 1, DIR_KEY, R | H, 0)
        assert _lease_ack(a, ta, DIR_KEY, 0).status == STATUS_SUCCESS
        # the lease comes back at the next open under it, one epoch on
        _cr, data = _lease_of(_open(a, ta, "d", directory=True, lease=_lease_v2(DIR_KEY, 7, 0)))
        assert struct.unpack_from("<16sI", data) == (DIR_KEY, R | H)
        assert struct.unpack_from("<H", data, 48)[0] == 3
        assert ctx.oplocks.has_directory_leases(str(share))


def test_opening_an_entry_changes_nothing_but_a_close_after_writing_does(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    (share / "d").mkdir()
    (share / "d" / "f.dat").write_bytes(b"x")
    with a, b:
        _leased_dir(a, ta, share)
        fid = _fid(_open(b, tb, "d\\f.dat", disposition=OPEN))
        assert _breaks(a) == [], "an open of an entry is no change"
        w = WriteRequest(fid, 0, b"data").pack()
        assert b.request(Command.WRITE, w, tree_id=tb).status == STATUS_SUCCESS
        assert _breaks(a) == [], "a write is not, until the close settles the entry"
        _close(b, tb, fid)
        ((_e, _f, key, cur, new),) = _breaks(a)
        assert (key, cur, new) == (DIR_KEY, R | H, 0)


def test_renames_deletes_and_metadata_changes_break_the_directory(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    (share / "d").mkdir()
    for n in ("f.dat", "g.dat", "h.dat"):
        (share / "d" / n).write_bytes(b"x")
    with a, b:

        def relet():
            _lease_ack(a, ta, DIR_KEY, 0)
            r = _open(a, ta, "d", directory=True, lease=_lease_v2(DIR_KEY, R | H, 0))
            _close(a, ta, CreateResponse.unpack(r.pdu).file_id)

        _leased_dir(a, ta, share)
        fid = _fid(_open(b, tb, "d\\f.dat", disposition=OPEN))
        basic = struct.pack("<qqqqII", 0, 0, 0, 0, 0x2, 0)  # HIDDEN
        body = SetInfoRequest(InfoType.FILE, 4, 0, fid, basic).pack()
        assert b.request(Command.SET_INFO, body, tree_id=tb).status == STATUS_SUCCESS
        assert [x[3:] for x in _breaks(a)] == [(R | H, 0)]
        relet()
        name = "moved.dat".encode("utf-16-le")
        ren = struct.pack("<B7sQI", 0, b"", 0, len(name)) + name
        body = SetInfoRequest(InfoType.FILE, 10, 0, fid, ren).pack()
        assert b.request(Command.SET_INFO, body, tree_id=tb).status == STATUS_SUCCESS
        assert [x[3:] for x in _breaks(a)] == [(R | H, 0)], "moved out of the directory"
        assert (share / "moved.dat").exists()
        _close(b, tb, fid)
        relet()
        gone = _fid(_open(b, tb, "d\\g.dat", disposition=OPEN, options=DELETE_ON_CLOSE))
        assert _breaks(a) == []
        _close(b, tb, gone)
        assert [x[3:] for x in _breaks(a)] == [(R | H, 0)]
        assert not (share / "d" / "g.dat").exists()


def test_deleting_the_directory_breaks_handle_caching_first(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    with a, b:
        _leased_dir(a, ta, share)
        r = _open(b, tb, "d", directory=True, disposition=OPEN, options=DELETE_ON_CLOSE)
        assert r.status == STATUS_SUCCESS  # H goes; the holder may close its handle
        ((_e, _f, key, cur, new),) = _breaks(a)
        assert (key, cur, new) == (DIR_KEY, R | H, R)


def test_no_directory_lease_below_smb3_or_when_off(tmp_path):
    ctx, ((a, ta), _b) = _pair(tmp_path, directory_leasing=False)
    share = tmp_path / "share"
    (share / "d").mkdir()
    with a, _b[0]:
        r = _open(a, ta, "d", directory=True, lease=_lease_v2(DIR_KEY, R | H, 0))
        cr = CreateResponse.unpack(r.pdu)
        assert r.status == STATUS_SUCCESS and cr.oplock_level == 0 and not cr.contexts
        assert not ctx.oplocks.has_directory_leases(str(share))
        r = _open(a, ta, "d", directory=True, lease=_lease_v1(KEY2, R | H))
        assert CreateResponse.unpack(r.pdu).oplock_level == 0


def test_changes_made_on_the_host_break_the_lease_and_own_changes_do_not(tmp_path):
    ctx, ((a, ta), (b, _tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    source = attach_inotify(ctx.notify, contextlib.nullcontext(), _Loop(), ctx.oplocks, lambda: NOW)
    assert source is not None
    try:
        with a, b:
            dfid = _leased_dir(a, ta, share)
            assert source._lease_wd, "the leased directory is watched"
            (share / "d" / "local.txt").write_bytes(b"made on the host")
            source._readable()
            assert [x[3:] for x in _breaks(a)] == [(R | H, 0)]
            _lease_ack(a, ta, DIR_KEY, 0)
            again = _fid(_open(a, ta, "d", directory=True, lease=_lease_v2(DIR_KEY, R | H, 0)))
            fid = _fid(_open(a, ta, "d\\own.dat", lease=_lease_v2(KEY1, R, 0, parent=DIR_KEY)))
            w = WriteRequest(fid, 0, b"data").pack()
            assert a.request(Command.WRITE, w, tree_id=ta).status == STATUS_SUCCESS
            _close(a, ta, fid)  # a close after writing, under the directory's own lease
            source._readable()  # ... which the host reports too: nothing more breaks
            assert _breaks(a) == []
            os.unlink(share / "d" / "local.txt")
            source._readable()
            assert [x[3:] for x in _breaks(a)] == [(R | H, 0)]
            _close(a, ta, again)
            _close(a, ta, dfid)
            assert not source._lease_wd, "the watch goes with the directory's last lease"
            assert not ctx.oplocks.has_directory_leases(str(share))
    finally:
        source.close()


def test_renaming_the_directory_through_an_unleased_open_breaks_handle_caching(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    share = tmp_path / "share"
    with a, b:
        _leased_dir(a, ta, share)
        fid = _fid(_open(b, tb, "d", directory=True, disposition=OPEN))
        assert _breaks(a) == []
        name = "e".encode("utf-16-le")
        ren = struct.pack("<B7sQI", 0, b"", 0, len(name)) + name
        body = SetInfoRequest(InfoType.FILE, 10, 0, fid, ren).pack()
        assert b.request(Command.SET_INFO, body, tree_id=tb).status == STATUS_SUCCESS
        # H goes (the cached handle names the old path); the root's listing changed, but
        # nobody leases the root
        assert [x[2:] for x in _breaks(a)] == [(DIR_KEY, R | H, R)]
        assert (share / "e").is_dir()
