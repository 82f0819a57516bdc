"""Share modes, delete-pending and access on open through the sans-IO server core
(several SmbTestClient connections over one ServerContext, hence one open-file database):
MS-FSA 2.1.5.1.2 (CheckShareAccess, access to an existing file), 2.1.5.4 (cleanup of a
delete-on-close open), 2.1.5.15.3 (FileDispositionInformation), 2.1.5.15.11 (rename)."""

from __future__ import annotations

import os
import struct

import pytest
from smb_harness import STATUS_ACCESS_DENIED, STATUS_SUCCESS, SmbTestClient, make_context

from lanman.smb.server import status
from lanman.smb.wire import fileinfo as fi
from lanman.smb.wire.constants import Command, InfoType
from lanman.smb.wire.create import CreateRequest, CreateResponse
from lanman.smb.wire.query import QueryInfoRequest, SetInfoRequest

STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_DELETE_PENDING = 0xC0000056
STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_INVALID_PARAMETER = 0xC000000D

R, W, D = 0x1, 0x2, 0x4
ALL_SHARE = R | W | D
READ_DATA, WRITE_DATA, APPEND_DATA = 0x1, 0x2, 0x4
READ_ATTR, DELETE, SYNCHRONIZE = 0x80, 0x10000, 0x100000
FILE_ALL = 0x1F01FF
MAXIMUM_ALLOWED = 0x02000000
FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE_IF = 1, 2, 3, 5
DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
READONLY_ATTR = 0x1


@pytest.fixture
def env(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    clients = []

    def client() -> tuple[SmbTestClient, int]:
        c = SmbTestClient(ctx)
        assert c.login().status == STATUS_SUCCESS
        clients.append(c)
        return c, c.tree_connect("data")

    yield ctx, share, client
    for c in clients:
        c.close()


def create(c, tid, name, access, share, disposition=FILE_OPEN_IF, options=0, attrs=0x80):
    body = CreateRequest(name, access, attrs, share, disposition, options).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def open_ok(c, tid, name, access, share, **kw) -> bytes:
    r = c.check(create(c, tid, name, access, share, **kw))
    return CreateResponse.unpack(r.pdu).file_id


def set_info(c, tid, fid, cls, buf):
    body = SetInfoRequest(InfoType.FILE, cls, 0, fid, buf).pack()
    return c.request(Command.SET_INFO, body, tree_id=tid)


def dispose(c, tid, fid, pending=True):
    return set_info(c, tid, fid, fi.FILE_DISPOSITION_INFORMATION, bytes([pending]))


def rename(c, tid, fid, new, replace=False):
    name = new.encode("utf-16-le")
    buf = struct.pack("<B7xQI", replace, 0, len(name)) + name
    return set_info(c, tid, fid, fi.FILE_RENAME_INFORMATION, buf)


def query(c, tid, fid, cls) -> bytes:
    body = QueryInfoRequest(InfoType.FILE, cls, 4096, 0, 0, fid).pack()
    r = c.check(c.request(Command.QUERY_INFO, body, tree_id=tid))
    off, length = struct.unpack_from("<HI", r.pdu, 64 + 2)
    return r.pdu[off : off + length]


def delete_pending(c, tid, fid) -> bool:
    return bool(query(c, tid, fid, fi.FILE_STANDARD_INFORMATION)[20])


# ---- share modes -----------------------------------------------------------------------


def test_second_connection_gets_sharing_violation(env):
    ctx, _share, client = env
    (a, ta), (b, tb) = client(), client()
    fa = open_ok(a, ta, "x.txt", READ_DATA | WRITE_DATA, 0)
    assert create(b, tb, "x.txt", WRITE_DATA, ALL_SHARE).status == STATUS_SHARING_VIOLATION
    assert create(b, tb, "x.txt", READ_DATA, ALL_SHARE).status == STATUS_SHARING_VIOLATION
    # an attribute-only open never conflicts (MS-FSA: no data access)
    fb = open_ok(b, tb, "x.txt", READ_ATTR | SYNCHRONIZE, 0)
    # the same connection is held to the same rules
    assert create(a, ta, "x.txt", READ_DATA, ALL_SHARE).status == STATUS_SHARING_VIOLATION
    a.close_file(ta, fa)
    fb2 = open_ok(b, tb, "x.txt", WRITE_DATA, ALL_SHARE)
    b.close_file(tb, fb2)
    b.close_file(tb, fb)
    assert len(ctx.opendb) == 0


def test_refused_overwrite_does_not_truncate(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    (share / "keep.txt").write_bytes(b"precious")
    fa = open_ok(a, ta, "keep.txt", READ_DATA, R)
    r = create(b, tb, "keep.txt", WRITE_DATA, ALL_SHARE, disposition=FILE_OVERWRITE_IF)
    assert r.status == STATUS_SHARING_VIOLATION
    assert (share / "keep.txt").read_bytes() == b"precious"
    a.close_file(ta, fa)


def test_directories_have_share_modes_too(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    (share / "d").mkdir()
    fa = open_ok(a, ta, "d", READ_DATA, 0, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    r = create(b, tb, "d", READ_DATA, ALL_SHARE, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    assert r.status == STATUS_SHARING_VIOLATION
    a.close_file(ta, fa)


def test_connection_loss_releases_its_opens(env):
    ctx, _share, client = env
    (a, ta), (b, tb) = client(), client()
    open_ok(a, ta, "x.txt", READ_DATA | WRITE_DATA, 0)
    a.close()
    fb = open_ok(b, tb, "x.txt", WRITE_DATA, 0)
    b.close_file(tb, fb)
    assert len(ctx.opendb) == 0


def test_status_shows_share_mode_and_delete_pending(env):
    _ctx, _share, client = env
    a, ta = client()
    fa = open_ok(a, ta, "s.txt", READ_DATA | DELETE, R)
    (f,) = status.snapshot([a.conn], 0)["files"]
    assert f["share_mode"] == "DENY_WRITE" and f["share_access"] == R
    assert f["delete_pending"] is False
    a.check(dispose(a, ta, fa))
    (f,) = status.snapshot([a.conn], 0)["files"]
    assert f["delete_pending"] is True
    a.close_file(ta, fa)


# ---- delete-on-close and delete-pending ----------------------------------------------


def test_delete_on_close_takes_effect_at_the_last_close(env):
    ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    fa = open_ok(a, ta, "doc.txt", DELETE | READ_DATA, ALL_SHARE, options=DELETE_ON_CLOSE)
    fb = open_ok(b, tb, "doc.txt", READ_DATA, ALL_SHARE)  # admitted: not pending yet
    assert delete_pending(a, ta, fa) and not delete_pending(b, tb, fb)
    a.close_file(ta, fa)
    assert (share / "doc.txt").exists()  # b still has it open
    assert delete_pending(b, tb, fb)
    assert create(a, ta, "doc.txt", READ_ATTR, ALL_SHARE).status == STATUS_DELETE_PENDING
    b.close_file(tb, fb)
    assert not (share / "doc.txt").exists()
    assert create(a, ta, "doc.txt", READ_ATTR, ALL_SHARE, disposition=FILE_OPEN).status == (
        STATUS_OBJECT_NAME_NOT_FOUND
    )
    assert len(ctx.opendb) == 0


def test_disposition_is_shared_by_all_opens_and_can_be_cleared(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    fa = open_ok(a, ta, "p.txt", DELETE, ALL_SHARE)
    fb = open_ok(b, tb, "p.txt", READ_DATA, ALL_SHARE)
    a.check(dispose(a, ta, fa))
    assert delete_pending(b, tb, fb)
    assert create(b, tb, "p.txt", READ_DATA, ALL_SHARE).status == STATUS_DELETE_PENDING
    a.check(dispose(a, ta, fa, pending=False))
    assert not delete_pending(b, tb, fb)
    fb2 = open_ok(b, tb, "p.txt", READ_DATA, ALL_SHARE)
    a.check(dispose(a, ta, fa))
    a.close_file(ta, fa)
    b.close_file(tb, fb)
    assert (share / "p.txt").exists()
    b.close_file(tb, fb2)  # the last close of the pending file deletes it
    assert not (share / "p.txt").exists()


def test_directory_with_children_cannot_be_delete_pending(env):
    ctx, share, client = env
    a, ta = client()
    (share / "full").mkdir()
    (share / "full" / "child").write_bytes(b"")
    fd = open_ok(a, ta, "full", DELETE, ALL_SHARE, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    assert dispose(a, ta, fd).status == STATUS_DIRECTORY_NOT_EMPTY
    a.close_file(ta, fd)
    r = create(
        a, ta, "full", DELETE, ALL_SHARE, disposition=FILE_OPEN, options=DIRECTORY_FILE | 0x1000
    )
    assert r.status == STATUS_DIRECTORY_NOT_EMPTY
    assert len(ctx.opendb) == 0  # the refused open left nothing behind
    assert (share / "full" / "child").exists()
    os.unlink(share / "full" / "child")
    fd = open_ok(a, ta, "full", DELETE, ALL_SHARE, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    a.check(dispose(a, ta, fd))
    a.close_file(ta, fd)
    assert not (share / "full").exists()


def test_no_new_name_in_a_delete_pending_directory(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    (share / "gone").mkdir()
    fd = open_ok(a, ta, "gone", DELETE, ALL_SHARE, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    a.check(dispose(a, ta, fd))
    r = create(b, tb, "gone\\new.txt", WRITE_DATA, ALL_SHARE, disposition=FILE_CREATE)
    assert r.status == STATUS_DELETE_PENDING
    assert not (share / "gone" / "new.txt").exists()
    fb = open_ok(b, tb, "moved.txt", FILE_ALL, 0, disposition=FILE_CREATE)
    assert rename(b, tb, fb, "gone\\moved.txt").status == STATUS_DELETE_PENDING
    b.close_file(tb, fb)
    a.close_file(ta, fd)
    assert not (share / "gone").exists()


# ---- rename ------------------------------------------------------------------------------


def test_rename_refused_while_another_open_does_not_share_delete(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    fa = open_ok(a, ta, "r.txt", DELETE | READ_DATA, ALL_SHARE)
    fb = open_ok(b, tb, "r.txt", READ_ATTR, 0)  # attribute-only, shares nothing
    assert rename(a, ta, fa, "r2.txt").status == STATUS_SHARING_VIOLATION
    b.close_file(tb, fb)
    a.check(rename(a, ta, fa, "r2.txt"))
    assert (share / "r2.txt").exists()
    a.close_file(ta, fa)


def test_rename_of_a_directory_with_open_files_below_is_denied(env):
    _ctx, share, client = env
    a, ta = client()
    (share / "top" / "sub").mkdir(parents=True)
    fd = open_ok(a, ta, "top", DELETE, 0, disposition=FILE_OPEN, options=DIRECTORY_FILE)
    ff = open_ok(a, ta, "top\\sub\\f.txt", READ_DATA, 0, options=NON_DIRECTORY_FILE)
    assert rename(a, ta, fd, "top2").status == STATUS_ACCESS_DENIED
    a.close_file(ta, ff)
    a.check(rename(a, ta, fd, "top2"))
    assert (share / "top2" / "sub" / "f.txt").exists()
    a.close_file(ta, fd)


@pytest.mark.parametrize(
    "dir_access, dir_share, expected",
    [
        (READ_DATA | WRITE_DATA | DELETE, ALL_SHARE, STATUS_SHARING_VIOLATION),
        (READ_DATA | WRITE_DATA | DELETE, 0, STATUS_SHARING_VIOLATION),
        (READ_DATA | WRITE_DATA | APPEND_DATA, ALL_SHARE, STATUS_SUCCESS),
        (READ_DATA | WRITE_DATA, 0, STATUS_SHARING_VIOLATION),
        (READ_ATTR | SYNCHRONIZE, 0, STATUS_SUCCESS),
    ],
    ids=["dir-delete-shared", "dir-delete-unshared", "dir-rw-shared", "dir-rw-unshared", "attr"],
)
def test_rename_against_opens_of_the_target_directory(env, dir_access, dir_share, expected):
    _ctx, share, client = env
    a, ta = client()
    (share / "base").mkdir()
    fd = open_ok(a, ta, "base", dir_access, dir_share, disposition=FILE_OPEN, options=0x1)
    ff = open_ok(a, ta, "base\\f.txt", FILE_ALL, 0, disposition=FILE_CREATE)
    assert rename(a, ta, ff, "base\\g.txt").status == expected
    a.close_file(ta, ff)
    a.close_file(ta, fd)


def test_rename_over_an_open_file_is_denied(env):
    _ctx, share, client = env
    (a, ta), (b, tb) = client(), client()
    (share / "dst.txt").write_bytes(b"old")
    fa = open_ok(a, ta, "src.txt", FILE_ALL, 0, disposition=FILE_CREATE)
    fb = open_ok(b, tb, "dst.txt", READ_ATTR, ALL_SHARE)
    assert rename(a, ta, fa, "dst.txt", replace=True).status == STATUS_ACCESS_DENIED
    assert (share / "dst.txt").read_bytes() == b"old"
    b.close_file(tb, fb)
    a.check(rename(a, ta, fa, "dst.txt", replace=True))
    a.close_file(ta, fa)
    assert not (share / "src.txt").exists()


# ---- access on open ------------------------------------------------------------------------


def test_maximum_allowed_on_a_readonly_file(env):
    """MS-FSA 2.1.5.1.2.1: MAXIMUM_ALLOWED on a READONLY file grants everything but its
    data rights; asking write explicitly is STATUS_ACCESS_DENIED (smbtorture
    smb2.maximum_allowed read_only_file)."""
    _ctx, _share, client = env
    a, ta = client()
    f = open_ok(a, ta, "ro.txt", FILE_ALL, 0, disposition=FILE_CREATE, attrs=READONLY_ATTR)
    a.close_file(ta, f)
    f = open_ok(a, ta, "ro.txt", MAXIMUM_ALLOWED, ALL_SHARE, disposition=FILE_OPEN)
    granted = struct.unpack("<I", query(a, ta, f, fi.FILE_ACCESS_INFORMATION))[0]
    assert granted == FILE_ALL & ~(WRITE_DATA | APPEND_DATA | 0x40)
    assert a.write_raw(ta, f, 0, b"foo").status == STATUS_ACCESS_DENIED
    a.close_file(ta, f)
    for access in (WRITE_DATA, MAXIMUM_ALLOWED | WRITE_DATA, APPEND_DATA):
        assert create(a, ta, "ro.txt", access, ALL_SHARE).status == STATUS_ACCESS_DENIED


def test_maximum_allowed_on_a_read_only_share(tmp_path):
    from smb_harness import Share

    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    (ro_dir / "f.txt").write_bytes(b"data")
    ctx, _events, _share = make_context(tmp_path, shares=[Share("ro", str(ro_dir), read_only=True)])
    with SmbTestClient(ctx) as c:
        assert c.login().status == STATUS_SUCCESS
        tid = c.tree_connect("ro")
        f = open_ok(c, tid, "f.txt", MAXIMUM_ALLOWED, ALL_SHARE, disposition=FILE_OPEN)
        granted = struct.unpack("<I", query(c, tid, f, fi.FILE_ACCESS_INFORMATION))[0]
        assert granted == 0x001200A9  # read, execute, attributes, EAs, READ_CONTROL, SYNC
        c.close_file(tid, f)
        r = create(c, tid, "f.txt", MAXIMUM_ALLOWED | WRITE_DATA, ALL_SHARE, disposition=1)
        assert r.status == STATUS_ACCESS_DENIED


def test_create_of_an_existing_file_is_a_collision_before_its_descriptor(tmp_path):
    """MS-FSA 2.1.5.1.2: FILE_CREATE on an existing object fails with
    STATUS_OBJECT_NAME_COLLISION even when its descriptor refuses the caller (smbtorture
    smb2.delete-on-close-perms "CREATE Existing")."""
    from lanman.security.ace import Ace
    from lanman.security.acl import Acl
    from lanman.security.descriptor import (
        SE_DACL_PRESENT,
        SE_SELF_RELATIVE,
        SecurityDescriptor,
        encode_sd,
    )

    sids = {"alice": "S-1-5-21-7-8-9-1000", "bob": "S-1-5-21-7-8-9-1001"}
    passwords = {"alice": "Secret123!", "bob": "Bobs-Pass1!"}
    ctx, _events, _share = make_context(tmp_path, users=passwords)
    ctx.logon_sids = lambda result: [sids[result.user.lower()], "S-1-1-0", "S-1-5-11"]
    with SmbTestClient(ctx) as a, SmbTestClient(ctx) as b:
        assert a.login(user="alice", password=passwords["alice"]).status == STATUS_SUCCESS
        assert b.login(user="bob", password=passwords["bob"]).status == STATUS_SUCCESS
        ta, tb = a.tree_connect(), b.tree_connect()
        f = open_ok(a, ta, "mine.txt", FILE_ALL, ALL_SHARE, disposition=FILE_CREATE)
        dacl = Acl([Ace(0x01, 0, FILE_ALL, sids["bob"]), Ace(0x00, 0, FILE_ALL, "S-1-1-0")])
        sd = encode_sd(
            SecurityDescriptor(None, None, dacl, None, SE_SELF_RELATIVE | SE_DACL_PRESENT)
        )
        body = SetInfoRequest(InfoType.SECURITY, 0, 0x4, f, sd).pack()
        a.check(a.request(Command.SET_INFO, body, tree_id=ta))
        a.close_file(ta, f)
        r = create(b, tb, "mine.txt", DELETE | WRITE_DATA, D, FILE_CREATE, DELETE_ON_CLOSE)
        assert r.status == STATUS_OBJECT_NAME_COLLISION
        assert create(b, tb, "mine.txt", READ_DATA, ALL_SHARE, FILE_OPEN).status == (
            STATUS_ACCESS_DENIED
        )


def test_stream_rename_over_the_wire(env):
    """A SET_INFO rename of a stream open to ``:new:$DATA`` renames the stream (MS-FSA
    2.1.5.14.11.1) and keeps the connection (it once dropped it)."""
    _ctx, _share, client = env
    (a, ta) = client()
    f = open_ok(a, ta, "s.txt", READ_DATA | WRITE_DATA | DELETE, ALL_SHARE)
    a.close_file(ta, f)
    s = open_ok(a, ta, "s.txt:one", READ_DATA | WRITE_DATA | DELETE, ALL_SHARE)
    a.write(ta, s, 0, b"stream data")
    # a stream cannot become a file of its own
    assert rename(a, ta, s, "other.txt").status == STATUS_INVALID_PARAMETER
    assert rename(a, ta, s, ":two:$DATA").status == STATUS_SUCCESS
    a.close_file(ta, s)
    assert create(a, ta, "s.txt:one", READ_DATA, ALL_SHARE, FILE_OPEN).status == (
        STATUS_OBJECT_NAME_NOT_FOUND
    )
    t = open_ok(a, ta, "s.txt:two", READ_DATA, ALL_SHARE, disposition=FILE_OPEN)
    assert a.read(ta, t, 0, 11) == b"stream data"
    a.close_file(ta, t)
