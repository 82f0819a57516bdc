"""Request checks Windows makes before it opens or changes anything (MS-SMB2 3.3.5.9,
3.3.5.20.1, MS-FSA 2.1.5.12 / 2.1.5.15.2), the answers smbtorture's smb2.create and
smb2.getinfo expect: the sans-IO core driven by the in-process test client."""

from __future__ import annotations

import struct

import pytest
from smb_harness import STATUS_SUCCESS, share_client

from lanman.errors import ntstatus as st
from lanman.smb.wire.constants import Command, HeaderFlags, InfoType
from lanman.smb.wire.create import CreateRequest, CreateResponse
from lanman.smb.wire.query import QueryInfoRequest, SetInfoRequest

FILE_SHARE_ALL = 7
OPEN_IF, DIRECTORY_FILE = 3, 0x1
SYNCHRONIZE, READ_CONTROL, FILE_READ_ATTRIBUTES = 0x100000, 0x20000, 0x80


@pytest.fixture
def client(tmp_path):
    yield from share_client(tmp_path)


def _create(c, name, *, impersonation=2, flags=0, access=0x12019F, options=0, attrs=0x80):
    body = bytearray(CreateRequest(name, access, attrs, FILE_SHARE_ALL, OPEN_IF, options).pack())
    struct.pack_into("<I", body, 4, impersonation)  # ImpersonationLevel (2.2.13)
    return c.request(Command.CREATE, bytes(body), tree_id=c.tid, flags=flags)


def _fid(r) -> bytes:
    assert r.status == STATUS_SUCCESS
    return CreateResponse.unpack(r.pdu).file_id


def test_impersonation_level_beyond_delegation_is_refused(client):
    c, share = client
    assert _create(c, "new.txt", impersonation=4).status == st.STATUS_BAD_IMPERSONATION_LEVEL
    assert not (share / "new.txt").exists()
    for level in range(4):  # Anonymous .. Delegation
        r = _create(c, "f.txt", impersonation=level)
        assert r.status == STATUS_SUCCESS
        c.close_file(c.tid, _fid(r))


def test_a_name_starting_with_a_separator_is_invalid_unless_dfs(client):
    c, share = client
    assert _create(c, "\\made.txt").status == st.STATUS_INVALID_PARAMETER
    assert not (share / "made.txt").exists()
    r = _create(c, "\\f.txt", flags=HeaderFlags.DFS_OPERATIONS)
    assert r.status == STATUS_SUCCESS  # a DFS path names the share's root explicitly
    c.close_file(c.tid, _fid(r))


def test_a_forward_slash_separates_components_in_a_create(client):
    c, share = client
    (share / "d").mkdir()
    r = _create(c, "d/f.txt")  # smbtorture smb2.timestamps test_close_not_attrib
    c.close_file(c.tid, _fid(r))
    assert (share / "d" / "f.txt").is_file()
    assert _create(c, "/f.txt").status == st.STATUS_INVALID_PARAMETER  # a leading one too
    # components are checked as ever: no climbing out through "/"
    assert _create(c, "d/../x.txt").status == st.STATUS_OBJECT_NAME_INVALID
    assert not (share / "x.txt").exists()


def _set_basic(c, fid, attributes):
    buf = struct.pack("<qqqqII", 0, 0, 0, 0, attributes, 0)
    body = SetInfoRequest(InfoType.FILE, 4, 0, fid, buf).pack()
    return c.request(Command.SET_INFO, body, tree_id=c.tid)


def test_temporary_attribute_on_a_directory_is_invalid(client):
    c, share = client
    (share / "d").mkdir()
    r = _create(c, "d", options=DIRECTORY_FILE, attrs=0x10)
    assert r.status == STATUS_SUCCESS
    fid = _fid(r)
    assert _set_basic(c, fid, 0x100).status == st.STATUS_INVALID_PARAMETER  # TEMPORARY
    assert _set_basic(c, fid, 0x2).status == STATUS_SUCCESS  # HIDDEN is fine
    c.close_file(c.tid, fid)
    r = _create(c, "f.txt")
    fid = _fid(r)
    assert _set_basic(c, fid, 0x100).status == STATUS_SUCCESS  # on a file it is allowed
    c.close_file(c.tid, fid)


def _query(c, fid, cls, length=4096):
    body = QueryInfoRequest(InfoType.FILE, cls, length, 0, 0, fid).pack()
    return c.request(Command.QUERY_INFO, body, tree_id=c.tid)


def test_attribute_tag_needs_read_attributes(client):
    c, _share = client
    r = _create(c, "f.txt", access=SYNCHRONIZE | READ_CONTROL)
    fid = _fid(r)
    assert _query(c, fid, 35).status == st.STATUS_ACCESS_DENIED  # FileAttributeTagInformation
    assert _query(c, fid, 8).status == STATUS_SUCCESS  # FileAccessInformation needs nothing
    c.close_file(c.tid, fid)
    r = _create(c, "f.txt", access=FILE_READ_ATTRIBUTES)
    fid = _fid(r)
    assert _query(c, fid, 35).status == STATUS_SUCCESS
    c.close_file(c.tid, fid)


@pytest.mark.parametrize(("cls", "fixed"), [(18, 104), (21, 8), (22, 32), (4, 40), (34, 56)])
def test_short_buffers_below_the_fixed_size_are_a_length_mismatch(client, cls, fixed):
    """smb2.getinfo.qfile_buffercheck: below the class's fixed size INFO_LENGTH_MISMATCH,
    from there up to the whole answer BUFFER_OVERFLOW (variable classes), then success."""
    c, _share = client
    fid = _fid(_create(c, "f.txt"))
    full = _query(c, fid, cls)
    assert full.status == STATUS_SUCCESS
    whole = struct.unpack_from("<I", full.pdu, 64 + 4)[0]  # OutputBufferLength
    for n in (0, fixed - 1):
        assert _query(c, fid, cls, n).status == st.STATUS_INFO_LENGTH_MISMATCH, n
    if whole > fixed:
        assert _query(c, fid, cls, fixed).status == st.STATUS_BUFFER_OVERFLOW
    assert _query(c, fid, cls, whole).status == STATUS_SUCCESS
    c.close_file(c.tid, fid)


def _find(c, fid, length=4096, flags=0):
    from lanman.smb.wire.query import QueryDirectoryRequest

    body = QueryDirectoryRequest(37, flags, 0, fid, "*", length).pack()  # FileIdBothDirectory
    r = c.request(Command.QUERY_DIRECTORY, body, tree_id=c.tid)
    names = []
    if r.status == STATUS_SUCCESS:
        off, n = struct.unpack_from("<HI", r.pdu, 64 + 2)
        data, pos = r.pdu[off : off + n], 0
        while True:
            nxt, name_len = (
                struct.unpack_from("<I", data, pos)[0],
                struct.unpack_from("<I", data, pos + 60)[0],
            )
            names.append(data[pos + 104 : pos + 104 + name_len].decode("utf-16-le"))
            if not nxt:
                break
            pos += nxt
    return r.status, names


def test_names_removed_during_an_enumeration_are_not_returned_later(client):
    """smb2.dir.fixed: a handle that began listing, then every file deleted (by another
    open): the rest of its enumeration returns none of them."""
    c, share = client
    (share / "d").mkdir()
    for i in range(300):  # more than one reply's worth of entries is removed
        (share / "d" / f"file-{i:03}.txt").write_bytes(b"")
    fid = _fid(_create(c, "d", options=DIRECTORY_FILE, attrs=0x10, access=0x120089))
    status, first = _find(c, fid, length=600)  # a few entries only
    assert status == STATUS_SUCCESS and 2 < len(first) < 40
    for p in (share / "d").iterdir():
        p.unlink()
    status, rest = _find(c, fid)
    assert (status, rest) == (st.STATUS_NO_MORE_FILES, [])
    c.close_file(c.tid, fid)


def test_an_enumeration_goes_on_past_a_removed_name(client):
    """Only the removed names drop out: the others still come, each once, in order."""
    c, share = client
    (share / "d").mkdir()
    for i in range(30):
        (share / "d" / f"file-{i:02}.txt").write_bytes(b"")
    fid = _fid(_create(c, "d", options=DIRECTORY_FILE, attrs=0x10, access=0x120089))
    seen = _find(c, fid, length=600)[1]
    gone = {f"file-{i:02}.txt" for i in range(0, 30, 3)} - set(seen)
    for name in gone:
        (share / "d" / name).unlink()
    while True:
        status, names = _find(c, fid, length=600)
        if status != STATUS_SUCCESS:
            break
        seen += names
    assert status == st.STATUS_NO_MORE_FILES
    expected = [".", ".."] + sorted(
        n for n in (f"file-{i:02}.txt" for i in range(30)) if n not in gone
    )
    assert seen == expected
    c.close_file(c.tid, fid)
