"""Share modes of named streams over the wire (sans-IO server): a stream's opens conflict
with opens of the same stream only, a DELETE open of the file needs its streams to share
delete, and a deleted file stays delete-pending until its streams close (MS-FSA 2.1.1.5,
2.1.5.1.2; smbtorture smb2.streams sharemodes / delete / rename2)."""

from __future__ import annotations

import struct

import pytest
from smb_harness import STATUS_SUCCESS, SmbTestClient, make_context

from lanman.smb.wire import fileinfo as fi
from lanman.smb.wire.constants import Command, InfoType
from lanman.smb.wire.create import CreateRequest, CreateResponse
from lanman.smb.wire.query import SetInfoRequest

STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_DELETE_PENDING = 0xC0000056
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
R, W, D = 0x1, 0x2, 0x4
ALL_SHARE = R | W | D
READ_DATA, WRITE_DATA, DELETE = 0x1, 0x2, 0x10000
FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF = 0, 1, 2, 3
DELETE_ON_CLOSE = 0x1000


@pytest.fixture
def client(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    c = SmbTestClient(ctx)
    assert c.login().status == STATUS_SUCCESS
    yield c, c.tree_connect("data"), share
    c.close()


def create(c, tid, name, access, share, disposition=FILE_OPEN_IF, options=0):
    body = CreateRequest(name, access, 0x80, share, disposition, options).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def open_ok(c, tid, name, access, share, **kw) -> bytes:
    return CreateResponse.unpack(c.check(create(c, tid, name, access, share, **kw)).pdu).file_id


def rename(c, tid, fid, new, replace=False):
    name = new.encode("utf-16-le")
    buf = struct.pack("<B7xQI", replace, 0, len(name)) + name
    body = SetInfoRequest(InfoType.FILE, fi.FILE_RENAME_INFORMATION, 0, fid, buf).pack()
    return c.request(Command.SET_INFO, body, tree_id=tid)


def test_same_stream_conflicts_other_stream_does_not(client):
    c, t, _share = client
    one = open_ok(c, t, "f.txt:one", WRITE_DATA, 0, disposition=FILE_CREATE)
    two = open_ok(c, t, "f.txt:two:$DATA", WRITE_DATA, 0, disposition=FILE_CREATE)
    c.write(t, one, 0, b"keep")
    # a supersede refused by the share check does not truncate the stream
    assert create(c, t, "f.txt:one", WRITE_DATA, 0, FILE_SUPERSEDE).status == (
        STATUS_SHARING_VIOLATION
    )
    assert create(c, t, "f.txt:TWO", WRITE_DATA, 0).status == STATUS_SHARING_VIOLATION
    f = open_ok(c, t, "f.txt", WRITE_DATA, 0, disposition=FILE_OPEN)  # the file's data
    for fid in (one, two, f):
        c.close_file(t, fid)
    s = open_ok(c, t, "f.txt:one", READ_DATA, ALL_SHARE, disposition=FILE_OPEN)
    assert c.read(t, s, 0, 4) == b"keep"
    c.close_file(t, s)


def test_deleted_file_waits_for_its_open_stream(client):
    c, t, share = client
    s = open_ok(c, t, "d.txt:one", READ_DATA | WRITE_DATA, R | W, disposition=FILE_CREATE)
    c.write(t, s, 0, b"data")
    # the stream does not share delete: the file cannot be opened for deletion
    r = create(c, t, "d.txt", DELETE, ALL_SHARE, FILE_OPEN, DELETE_ON_CLOSE)
    assert r.status == STATUS_SHARING_VIOLATION
    c.close_file(t, s)
    s = open_ok(c, t, "d.txt:one", READ_DATA, ALL_SHARE, disposition=FILE_OPEN)
    f = open_ok(c, t, "d.txt", DELETE, ALL_SHARE, disposition=FILE_OPEN, options=DELETE_ON_CLOSE)
    c.close_file(t, f)
    assert (share / "d.txt").exists()  # kept while its stream is open
    assert c.read(t, s, 0, 4) == b"data"
    assert create(c, t, "d.txt", READ_DATA, ALL_SHARE).status == STATUS_DELETE_PENDING
    assert create(c, t, "d.txt:one", READ_DATA, ALL_SHARE).status == STATUS_DELETE_PENDING
    c.close_file(t, s)
    assert not (share / "d.txt").exists()
    assert create(c, t, "d.txt", READ_DATA, ALL_SHARE, FILE_OPEN).status == (
        STATUS_OBJECT_NAME_NOT_FOUND
    )


def test_stream_renamed_onto_the_file_data(client):
    c, t, share = client
    s = open_ok(c, t, "r.txt:one", READ_DATA | WRITE_DATA | DELETE, ALL_SHARE)
    c.write(t, s, 0, b"moved")
    # a full path names the target directory, which the test's directory open would
    # conflict with; without such an open it is the stream rule's refusal
    assert rename(c, t, s, "r.txt:two").status == 0xC000000D
    assert rename(c, t, s, "::$DATA", replace=False).status == 0xC0000035
    c.check(rename(c, t, s, "::$DATA", replace=True))
    assert c.read(t, s, 0, 5) == b"moved"  # the handle is now the file's open
    c.close_file(t, s)
    assert (share / "r.txt").read_bytes() == b"moved"
    assert create(c, t, "r.txt:one", READ_DATA, ALL_SHARE, FILE_OPEN).status == (
        STATUS_OBJECT_NAME_NOT_FOUND
    )


def test_rename_with_a_path_meets_the_directory_open_first(client):
    c, t, _share = client
    d = open_ok(c, t, "dir", 0x1F01FF, R | W, options=0x1)  # holds DELETE, shares no delete
    s = open_ok(c, t, "dir\\x.txt:one", READ_DATA | WRITE_DATA | DELETE, ALL_SHARE)
    assert rename(c, t, s, "dir\\x.txt:two").status == STATUS_SHARING_VIOLATION
    assert rename(c, t, s, ":two").status == STATUS_SUCCESS
    c.close_file(t, s)
    c.close_file(t, d)


def test_directory_whose_children_are_delete_pending_can_go(client):
    """smbtorture smb2.notify rec / mask-change: a child still open elsewhere but
    delete-pending does not keep its directory from being deleted."""
    c, t, share = client
    DIRECTORY_FILE = 0x1
    d = open_ok(c, t, "top", 0x1F01FF, ALL_SHARE, options=DIRECTORY_FILE)
    c.close_file(t, d)
    child = open_ok(c, t, "top\\sub", 0x1F01FF, ALL_SHARE, options=DIRECTORY_FILE)
    f = open_ok(c, t, "top\\f.txt", READ_DATA | DELETE, ALL_SHARE)
    # a live child: not empty
    r = create(c, t, "top", DELETE, ALL_SHARE, FILE_OPEN, DIRECTORY_FILE | DELETE_ON_CLOSE)
    assert r.status == 0xC0000101
    # both children delete-pending (their opens stay): the directory may go
    for name in ("top\\sub", "top\\f.txt"):
        opts = DELETE_ON_CLOSE | (DIRECTORY_FILE if name.endswith("sub") else 0)
        c.close_file(t, open_ok(c, t, name, DELETE, ALL_SHARE, disposition=FILE_OPEN, options=opts))
    assert (share / "top" / "sub").exists()
    rm = open_ok(
        c,
        t,
        "top",
        DELETE,
        ALL_SHARE,
        disposition=FILE_OPEN,
        options=DIRECTORY_FILE | DELETE_ON_CLOSE,
    )
    c.close_file(t, rm)
    assert not (share / "top").exists()
    c.close_file(t, child)  # their own close finds them gone
    c.close_file(t, f)
    assert create(c, t, "top", READ_DATA, ALL_SHARE, FILE_OPEN, DIRECTORY_FILE).status == (
        STATUS_OBJECT_NAME_NOT_FOUND
    )
