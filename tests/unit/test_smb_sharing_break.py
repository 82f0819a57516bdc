"""A CREATE that would end in a sharing violation against a lease's open breaks only that
lease's handle caching (MS-FSA 2.1.5.1.2: the holder may close its handle), waits for the
acknowledgment or the close, then runs the share check; the sans-IO cores driven by the
test client."""

from __future__ import annotations

import struct

from test_smb_oplock_lease import KEY1, H, R, W, _lease_ack, _lease_v1, _pair, _pushed

from lanman.errors import ntstatus as st
from lanman.smb.server.oplocks import LEVEL_LEASE
from lanman.smb.wire.constants import Command
from lanman.smb.wire.create import CreateRequest, CreateResponse

ALL_ACCESS, READ = 0x1F01FF, 0x120089
SHARE_NONE = 0


def _create(c, tid, *, oplock=0, contexts=(), access=ALL_ACCESS, share=SHARE_NONE):
    body = CreateRequest("f.dat", access, 0x80, share, 1, 0, oplock, contexts=list(contexts)).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def _break_of(frames):
    (brk,) = [f for f in frames if f.command == Command.OPLOCK_BREAK]
    _size, _epoch, _flags, key, cur, new = struct.unpack_from("<HHI16sII", brk.pdu, 64)
    return key, cur, new


def _holder(a, ta):
    r = _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | W | H)])
    assert r.status == st.STATUS_SUCCESS
    return CreateResponse.unpack(r.pdu).file_id


def test_violation_breaks_only_handle_caching_and_fails_after_the_ack(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        _holder(a, ta)
        interim = _create(b, tb, access=READ)
        assert interim.status == st.STATUS_PENDING
        assert _break_of(_pushed(a)) == (KEY1, R | W | H, R | W)  # H only, not W
        assert _lease_ack(a, ta, KEY1, R | W).status == st.STATUS_SUCCESS
        (final,) = _pushed(b)  # a still holds its open: the share check fails
        assert final.status == st.STATUS_SHARING_VIOLATION
        # no handle caching left to break: the next one fails at once, breaking nothing
        assert _create(b, tb, access=READ).status == st.STATUS_SHARING_VIOLATION
        assert _pushed(a) == []


def test_violation_goes_on_when_the_holder_closes(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        fid = _holder(a, ta)
        assert _create(b, tb, access=READ).status == st.STATUS_PENDING
        _pushed(a)
        a.close_file(ta, fid)
        (final,) = _pushed(b)
        assert final.status == st.STATUS_SUCCESS
        b.close_file(tb, CreateResponse.unpack(final.pdu).file_id)


def test_without_conflict_the_usual_break(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        r = _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | W | H)], share=7)
        assert r.status == st.STATUS_SUCCESS
        assert _create(b, tb, access=READ, share=7).status == st.STATUS_PENDING
        assert _break_of(_pushed(a)) == (KEY1, R | W | H, R | H)
        assert _lease_ack(a, ta, KEY1, R | H).status == st.STATUS_SUCCESS
        (final,) = _pushed(b)
        assert final.status == st.STATUS_SUCCESS
        b.close_file(tb, CreateResponse.unpack(final.pdu).file_id)


def test_a_compound_delete_waits_for_the_holder_to_close_its_cached_handle(tmp_path):
    """Linux cifs deletes with CREATE(DELETE, delete-on-close) + CLOSE in one compound: a
    holder with handle caching is broken, closes its handle, and the delete succeeds (it
    used to fail at once with STATUS_SHARING_VIOLATION)."""
    from smb_harness import Pdu

    from lanman.smb.wire.create import CloseRequest

    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        fid = _holder(a, ta)
        body = CreateRequest("f.dat", 0x110080, 0x80, 7, 1, 0x1000, 0).pack()
        close = CloseRequest(b"\xff" * 16).pack()
        rs = b.compound(
            [Pdu(Command.CREATE, body, tree_id=tb), Pdu(Command.CLOSE, close, related=True)]
        )
        assert [r.status for r in rs] == [st.STATUS_PENDING]
        assert _break_of(_pushed(a)) == (KEY1, R | W | H, R | W)
        a.close_file(ta, fid)  # what a client does when its handle caching is broken
        assert [(r.command, r.status) for r in _pushed(b)] == [
            (Command.CREATE, st.STATUS_SUCCESS),
            (Command.CLOSE, st.STATUS_SUCCESS),
        ]
    assert not (tmp_path / "share" / "f.dat").exists()
