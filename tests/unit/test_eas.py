"""Extended attributes: the FILE_FULL_EA_INFORMATION / FILE_GET_EA_INFORMATION codec
(MS-FSCC 2.4.15) and the server's QUERY_INFO / SET_INFO / ExtA handling (server/eas.py),
driven through the in-process test client."""

from __future__ import annotations

import os
import struct

import pytest
from smb_harness import STATUS_SUCCESS, share_client

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire import ea as wire
from lanman.smb.wire.constants import Command, InfoType
from lanman.smb.wire.create import CreateContext, CreateRequest, CreateResponse
from lanman.smb.wire.ea import Ea
from lanman.smb.wire.query import QueryInfoRequest, SetInfoRequest

FULL_EA, EA_INFO, ALL_INFO = 15, 7, 18
READ_EA, WRITE_EA, READ_ATTRS, SYNC = 0x8, 0x10, 0x80, 0x100000


# -- codec --------------------------------------------------------------------------------


def test_full_list_round_trip_and_layout():
    eas = [Ea(b"ONE", b"1"), Ea(b"SECOND", b"ValueTwo", wire.FILE_NEED_EA)]
    data = wire.encode_full_list(eas)
    nxt, flags, nlen, vlen = struct.unpack_from("<IBBH", data)
    assert (nxt, flags, nlen, vlen) == (16, 0, 3, 1)  # 8 + "ONE\0" + "1" = 13 -> 16
    assert data[8:13] == b"ONE\x001" and data[13:16] == b"\0\0\0"
    assert len(data) == 16 + 8 + 7 + 8  # the last entry is not padded
    assert wire.decode_full_list(data) == eas
    assert wire.ea_size(eas) == 16 + 24


def test_names_are_upper_cased_and_checked():
    data = wire.encode_full_list([Ea(b"mixed.Case", b"v")])
    assert wire.decode_full_list(data)[0].name == b"MIXED.CASE"
    for bad in (b"a:b", b"a*", b"", b"tab\t"):
        raw = struct.pack("<IBBH", 0, 0, len(bad), 1) + bad + b"\0v"
        with pytest.raises(NtStatusError) as e:
            wire.decode_full_list(raw)
        assert e.value.status in (st.STATUS_INVALID_EA_NAME, st.STATUS_EA_LIST_INCONSISTENT)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\0\0\0\0\0\x05\x01\0abc",  # runs past the buffer
        struct.pack("<IBBH", 0, 0, 2, 1) + b"abXv",  # no NUL after the name
        struct.pack("<IBBH", 6, 0, 1, 0) + b"a\0" + bytes(8),  # NextEntryOffset unaligned
        struct.pack("<IBBH", 4, 0, 1, 0) + b"a\0" + bytes(8),  # points into its own entry
        struct.pack("<IBBH", 0, 0x40, 1, 0) + b"a\0",  # a flag other than FILE_NEED_EA
    ],
)
def test_malformed_full_lists_are_inconsistent(raw):
    with pytest.raises(NtStatusError) as e:
        wire.decode_full_list(raw)
    assert e.value.status == st.STATUS_EA_LIST_INCONSISTENT


def test_get_list_round_trip():
    names = [b"ONE", b"TWO"]
    assert wire.decode_get_list(wire.encode_get_list(names)) == names
    assert wire.decode_get_list(wire.encode_get_list([b"lower"])) == [b"LOWER"]


# -- server -------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path):
    yield from share_client(tmp_path)


def _open(c, name="f.txt", access=0x12019F | WRITE_EA, disposition=1, contexts=()):
    body = CreateRequest(name, access, 0x80, 7, disposition, 0, contexts=list(contexts)).pack()
    return c.request(Command.CREATE, body, tree_id=c.tid)


def _fid(r):
    assert r.status == STATUS_SUCCESS, hex(r.status)
    return CreateResponse.unpack(r.pdu).file_id


def _set(c, fid, eas):
    body = SetInfoRequest(InfoType.FILE, FULL_EA, 0, fid, wire.encode_full_list(eas)).pack()
    return c.request(Command.SET_INFO, body, tree_id=c.tid).status


def _query(c, fid, cls=FULL_EA, length=4096, flags=0, index=0, names=b""):
    body = QueryInfoRequest(InfoType.FILE, cls, length, index, flags, fid, names).pack()
    r = c.request(Command.QUERY_INFO, body, tree_id=c.tid)
    data = b""
    if r.status in (STATUS_SUCCESS, st.STATUS_BUFFER_OVERFLOW):
        off, n = struct.unpack_from("<HI", r.pdu, 64 + 2)
        data = r.pdu[off : off + n]
    return r.status, data


def test_set_query_replace_and_delete(client):
    c, share = client
    fid = _fid(_open(c))
    assert _query(c, fid)[0] == st.STATUS_NO_EAS_ON_FILE
    assert _set(c, fid, [Ea(b"user.color", b"blue"), Ea(b"TAGS", b"a,b")]) == STATUS_SUCCESS
    status, data = _query(c, fid, flags=1)
    assert status == STATUS_SUCCESS
    assert wire.decode_full_list(data) == [Ea(b"USER.COLOR", b"blue"), Ea(b"TAGS", b"a,b")]
    # a value replaces, an empty value removes (names compare without case)
    assert _set(c, fid, [Ea(b"tags", b""), Ea(b"User.Color", b"red")]) == STATUS_SUCCESS
    status, data = _query(c, fid, flags=1)
    assert wire.decode_full_list(data) == [Ea(b"USER.COLOR", b"red")]
    # EaSize in FileEaInformation and FileAllInformation
    size = wire.ea_size([Ea(b"USER.COLOR", b"red")])
    assert struct.unpack("<I", _query(c, fid, EA_INFO)[1])[0] == size
    assert struct.unpack_from("<I", _query(c, fid, ALL_INFO)[1], 72)[0] == size
    c.close_file(c.tid, fid)
    # kept with the file, in its xattr
    assert b"USER.COLOR" in os.getxattr(share / "f.txt", "user.lanman.ea")


def test_access_is_checked(client):
    c, _share = client
    fid = _fid(_open(c))
    assert _set(c, fid, [Ea(b"A", b"1")]) == STATUS_SUCCESS
    c.close_file(c.tid, fid)
    fid = _fid(_open(c, access=SYNC | READ_ATTRS))
    assert _query(c, fid)[0] == st.STATUS_ACCESS_DENIED  # FILE_READ_EA missing
    assert _set(c, fid, [Ea(b"A", b"2")]) == st.STATUS_ACCESS_DENIED  # FILE_WRITE_EA missing
    c.close_file(c.tid, fid)
    fid = _fid(_open(c, access=SYNC | READ_EA))
    assert wire.decode_full_list(_query(c, fid)[1]) == [Ea(b"A", b"1")]
    c.close_file(c.tid, fid)


def test_enumeration_goes_on_and_ends(client):
    c, _share = client
    fid = _fid(_open(c))
    eas = [Ea(f"EA{i}".encode(), bytes(20)) for i in range(5)]
    assert _set(c, fid, eas) == STATUS_SUCCESS
    one = wire.entry_size(eas[0])  # 8 + 4 + 20 = 32
    status, data = _query(c, fid, length=2 * one, flags=1)  # restart, room for two
    assert status == st.STATUS_BUFFER_OVERFLOW and wire.decode_full_list(data) == eas[:2]
    status, data = _query(c, fid, length=one, flags=2)  # single entry goes on
    assert status == STATUS_SUCCESS and wire.decode_full_list(data) == eas[2:3]
    status, data = _query(c, fid)
    assert status == STATUS_SUCCESS and wire.decode_full_list(data) == eas[3:]
    assert _query(c, fid)[0] == st.STATUS_NO_MORE_EAS
    status, data = _query(c, fid, flags=4, index=5)  # EaIndex is 1-based
    assert wire.decode_full_list(data) == eas[4:]
    assert _query(c, fid, flags=4, index=6)[0] == st.STATUS_NONEXISTENT_EA_ENTRY
    assert _query(c, fid, length=10, flags=1)[0] == st.STATUS_BUFFER_TOO_SMALL
    c.close_file(c.tid, fid)


def test_named_query_returns_missing_names_empty(client):
    c, _share = client
    fid = _fid(_open(c))
    assert _set(c, fid, [Ea(b"HAVE", b"x")]) == STATUS_SUCCESS
    status, data = _query(c, fid, names=wire.encode_get_list([b"have", b"MISSING"]))
    assert status == STATUS_SUCCESS
    assert wire.decode_full_list(data) == [Ea(b"HAVE", b"x"), Ea(b"MISSING", b"")]
    c.close_file(c.tid, fid)


def test_create_context_sets_eas_and_a_bad_one_creates_nothing(client):
    c, share = client
    good = CreateContext(b"ExtA", wire.encode_full_list([Ea(b"EAONE", b"VALUE1")]))
    fid = _fid(_open(c, "new.txt", disposition=2, contexts=[good]))
    assert wire.decode_full_list(_query(c, fid, flags=1)[1]) == [Ea(b"EAONE", b"VALUE1")]
    c.close_file(c.tid, fid)
    bad = CreateContext(b"ExtA", struct.pack("<IBBH", 0, 0, 3, 1) + b"a:b\0v")
    assert _open(c, "other.txt", disposition=2, contexts=[bad]).status == st.STATUS_INVALID_EA_NAME
    assert not (share / "other.txt").exists()


def test_a_stream_shares_its_files_eas(client):
    c, _share = client
    fid = _fid(_open(c))
    assert _set(c, fid, [Ea(b"ON.FILE", b"1")]) == STATUS_SUCCESS
    c.close_file(c.tid, fid)
    sid = _fid(_open(c, "f.txt:side", disposition=3))
    assert wire.decode_full_list(_query(c, sid, flags=1)[1]) == [Ea(b"ON.FILE", b"1")]
    c.close_file(c.tid, sid)
