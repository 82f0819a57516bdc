"""Compound requests on the sans-IO server (MS-SMB2 3.3.5.2.7): the related chain's FileId,
which failures spread to related requests (lanman.smb.server.compound) and async
operations inside a compound."""

from __future__ import annotations

import struct

import pytest
from smb_harness import (
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_PENDING,
    STATUS_SUCCESS,
    Pdu,
    SmbTestClient,
    make_context,
)

from lanman.errors import ntstatus as st
from lanman.smb.server.compound import RelatedChain, is_error
from lanman.smb.wire.constants import FILE_READ_DATA, Command
from lanman.smb.wire.create import CloseRequest
from lanman.smb.wire.io import ReadRequest, WriteRequest, pack_flush_request
from lanman.smb.wire.query import QueryInfoRequest

FF = b"\xff" * 16


@pytest.fixture
def client(tmp_path):
    ctx, _events, share_dir = make_context(tmp_path)
    with SmbTestClient(ctx) as c:
        assert c.login(0x0311).status == STATUS_SUCCESS
        c.tid = c.tree_connect()
        c.share_dir = share_dir
        yield c


def _close(tid, fid=FF, related=True):
    return Pdu(Command.CLOSE, CloseRequest(fid).pack(), tree_id=tid, related=related)


def _statuses(rs):
    return [r.status for r in rs]


# ---- the pure chain rules ----------------------------------------------------------------


def test_chain_first_related_is_invalid_and_sticks():
    ch = RelatedChain()
    got = ch.status_for(True)
    assert got == st.STATUS_INVALID_PARAMETER
    ch.after(Command.CREATE, got, got, True)
    assert ch.status_for(True) == st.STATUS_INVALID_PARAMETER
    assert ch.status_for(False) == st.STATUS_SUCCESS


def test_chain_only_create_failures_spread():
    ch = RelatedChain()
    assert ch.status_for(False) == st.STATUS_SUCCESS
    ch.after(Command.WRITE, st.STATUS_ACCESS_DENIED, st.STATUS_SUCCESS, True)
    assert ch.status_for(True) == st.STATUS_SUCCESS
    ch.after(Command.CREATE, st.STATUS_OBJECT_NAME_NOT_FOUND, st.STATUS_SUCCESS, True)
    assert ch.status_for(True) == st.STATUS_OBJECT_NAME_NOT_FOUND


def test_chain_session_failure_gives_invalid_parameter():
    ch = RelatedChain()
    ch.status_for(False)
    ch.after(Command.CLOSE, st.STATUS_USER_SESSION_DELETED, st.STATUS_SUCCESS, False)
    assert ch.status_for(True) == st.STATUS_INVALID_PARAMETER


def test_warnings_are_not_errors():
    assert not is_error(st.STATUS_BUFFER_OVERFLOW)
    assert not is_error(st.STATUS_PENDING)
    assert is_error(st.STATUS_ACCESS_DENIED)


# ---- through the server ----------------------------------------------------------------------


def test_first_pdu_related_fails_invalid_parameter(client):
    c, tid = client, client.tid
    rs = c.compound(
        [
            Pdu(Command.CREATE, c.create_body("inv1.dat"), tree_id=tid, related=True),
            _close(tid),
            _close(tid, related=False),
        ]
    )
    assert _statuses(rs) == [STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER, 0xC0000128]
    assert not (c.share_dir / "inv1.dat").exists()


def test_failed_create_spreads_to_related(client):
    c, tid = client, client.tid
    rs = c.compound(
        [
            Pdu(Command.CREATE, c.create_body("nope.dat", disposition=1), tree_id=tid),
            Pdu(Command.READ, ReadRequest(FF, 1, 0).pack(), tree_id=tid, related=True),
            _close(tid),
        ]
    )
    assert _statuses(rs) == [st.STATUS_OBJECT_NAME_NOT_FOUND] * 3


def test_failed_write_does_not_spread(client):
    """smbtorture smb2.compound.related6: a denied WRITE between two READs."""
    c, tid = client, client.tid
    fid = c.create(tid, "r6.dat")
    c.write(tid, fid, 0, b"\x00" * 64)
    rs = c.compound(
        [
            Pdu(Command.CREATE, c.create_body("r6.dat", access=FILE_READ_DATA), tree_id=tid),
            Pdu(Command.READ, ReadRequest(FF, 1, 0).pack(), tree_id=tid, related=True, payload=1),
            Pdu(Command.WRITE, WriteRequest(FF, 0, b"x" * 8).pack(), tree_id=tid, related=True),
            Pdu(Command.READ, ReadRequest(FF, 1, 0).pack(), tree_id=tid, related=True, payload=1),
            _close(tid),
        ]
    )
    assert (
        _statuses(rs)
        == [STATUS_SUCCESS, STATUS_SUCCESS, STATUS_ACCESS_DENIED] + [STATUS_SUCCESS] * 2
    )
    c.close_file(tid, fid)


def test_related_uses_fileid_of_previous_request(client):
    """smbtorture smb2.compound_async.flush_close: FLUSH names the handle, the related CLOSE
    closes it."""
    c, tid = client, client.tid
    fid = c.create(tid, "fc.dat")
    rs = c.compound(
        [
            Pdu(Command.FLUSH, pack_flush_request(fid), tree_id=tid),
            _close(tid),
        ]
    )
    assert _statuses(rs) == [STATUS_SUCCESS, STATUS_SUCCESS]
    assert c.close_raw(tid, fid).status == 0xC0000128  # gone: STATUS_FILE_CLOSED


def test_unrelated_unknown_fileid_resets_the_chain(client):
    """smb2.compound.invalid3: a related CLOSE after an unrelated CLOSE of FileId 0xFF.."""
    c, tid = client, client.tid
    rs = c.compound(
        [
            Pdu(Command.CREATE, c.create_body("inv3.dat"), tree_id=tid),
            _close(tid, related=False),
            _close(tid),
        ]
    )
    assert _statuses(rs) == [STATUS_SUCCESS, 0xC0000128, 0xC0000128]


def test_async_only_at_end_of_compound(client):
    """smb2.compound.interim2: CHANGE_NOTIFY before the last request fails with
    STATUS_INTERNAL_ERROR; as the last one it goes async."""
    c, tid = client, client.tid
    (c.share_dir / "d").mkdir()
    dir_body = c.create_body("d", disposition=1, options=1, attributes=0x10)
    notify = Pdu(
        Command.CHANGE_NOTIFY,
        struct.pack("<HHI16sII", 32, 0, 4096, FF, 0x3, 0),
        tree_id=tid,
        related=True,
        payload=4096,
    )
    getinfo = Pdu(
        Command.QUERY_INFO,
        QueryInfoRequest(1, 4, 4096, 0, 0, FF).pack(),
        tree_id=tid,
        related=True,
        payload=4096,
    )
    rs = c.compound([Pdu(Command.CREATE, dir_body, tree_id=tid), notify, getinfo])
    assert _statuses(rs) == [STATUS_SUCCESS, st.STATUS_INTERNAL_ERROR, STATUS_SUCCESS]
    rs = c.compound([Pdu(Command.CREATE, dir_body, tree_id=tid), notify])
    assert _statuses(rs) == [STATUS_SUCCESS, STATUS_PENDING]
