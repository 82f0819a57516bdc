"""Lease and oplock break decisions of the shared OplockTable, driven directly (sans-IO):
stepwise breaks while a break is in flight (MS-SMB2 3.3.5.22.2, smbtorture
smb2.lease.breaking3), handle-only breaks of an open refused for sharing (MS-FSA
2.1.5.1.2.1, smb2.lease.break_twice, smb2.oplock.exclusive1), the break connection of a
client, locks and renames breaking other leases, and the acknowledgment timeout."""

from __future__ import annotations

import pytest

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.server.leases import next_break_step, sharing_break_target
from lanman.smb.server.oplocks import (
    LEVEL_BATCH,
    LEVEL_EXCLUSIVE,
    LEVEL_II,
    LEVEL_LEASE,
    OplockTable,
)
from lanman.smb.wire.lease import LeaseRequest

R, H, W = 1, 2, 4
KEY = ("root", 7)
GUID_A = b"A" * 16
GUID_B = b"B" * 16
L1 = b"\x01" * 16
L2 = b"\x02" * 16


class FakeConn:
    def __init__(self) -> None:
        self.closed = False
        self.lease_breaks: list[tuple[bytes, int, int, bool, int]] = []
        self.oplock_breaks: list[int] = []
        self.resumed: list[int] = []

    def send_lease_break(self, lease, current, new, ack_required):
        self.lease_breaks.append((lease.lease_key, current, new, ack_required, lease.epoch))

    def send_oplock_break(self, file_id, level):
        self.oplock_breaks.append(level)

    def resume_create(self, async_id):
        self.resumed.append(async_id)


def _lease(table, conn, vid, guid, key, state, version=1):
    req = LeaseRequest(key, state, version)
    return table.grant(KEY, conn, vid, b"f" * 16, LEVEL_LEASE, (guid, req))[1]


def test_next_break_step_keeps_read_for_one_step():
    assert next_break_step(R | H, 0) == R
    assert next_break_step(R, 0) == 0
    assert next_break_step(R | H, R | H) is None
    assert next_break_step(R | W, R) == R
    assert sharing_break_target(R | W | H) == R | W


def test_breaking3_overwrite_during_break_goes_on_in_steps():
    t = OplockTable()
    holder, other = FakeConn(), FakeConn()
    lease = _lease(t, holder, 1, GUID_A, L1, R | W | H, version=2)
    epoch = lease.epoch
    assert t.break_for_open(KEY, None, stat_open=False, overwrite=False, now=0)
    assert holder.lease_breaks == [(L1, R | W | H, R | H, True, epoch + 1)]
    t.wait(KEY, other, 10)
    # an overwriting open while the break is in flight: no second notification
    assert t.break_for_open(KEY, None, stat_open=False, overwrite=True, now=0)
    t.wait(KEY, other, 11)
    assert len(holder.lease_breaks) == 1
    # the acknowledgment to RH starts the next step, RH -> R, same epoch; nobody resumes
    assert t.acknowledge_lease(GUID_A, L1, R | H, now=5).lease_state == R | H
    assert holder.lease_breaks[-1] == (L1, R | H, R, True, epoch + 1)
    assert lease.breaking and other.resumed == []
    # the acknowledgment to R ends it: R -> none needs no acknowledgment
    t.acknowledge_lease(GUID_A, L1, R, now=6)
    assert holder.lease_breaks[-1] == (L1, R, 0, False, epoch + 1)
    assert not lease.breaking and lease.lease_state == 0
    assert other.resumed == [10, 11]


def test_sharing_violation_breaks_handle_caching_only():
    t = OplockTable()
    holder = FakeConn()
    lease = _lease(t, holder, 1, GUID_A, L1, R | W | H, version=2)
    wait = t.break_for_open(
        KEY, (GUID_B, L2), stat_open=False, overwrite=False, now=0, sharing_violation=True
    )
    assert wait
    assert holder.lease_breaks == [(L1, R | W | H, R | W, True, lease.epoch)]
    t.acknowledge_lease(GUID_A, L1, R | W)
    # run again: nothing more to break, the CREATE goes on to its sharing violation
    assert not t.break_for_open(
        KEY, (GUID_B, L2), stat_open=False, overwrite=False, now=0, sharing_violation=True
    )
    assert len(holder.lease_breaks) == 1 and lease.lease_state == R | W


def test_sharing_violation_leaves_exclusive_and_breaks_batch():
    t = OplockTable()
    ex, batch = FakeConn(), FakeConn()
    t.grant(KEY, ex, 1, b"e" * 16, LEVEL_EXCLUSIVE)
    assert not t.break_for_open(
        KEY, None, stat_open=False, overwrite=False, now=0, sharing_violation=True
    )
    assert ex.oplock_breaks == []
    t2 = OplockTable()
    t2.grant(KEY, batch, 1, b"b" * 16, LEVEL_BATCH)
    assert t2.break_for_open(
        KEY, None, stat_open=False, overwrite=False, now=0, sharing_violation=True
    )
    assert batch.oplock_breaks == [LEVEL_II]


def test_lease_break_goes_to_the_clients_oldest_connection():
    t = OplockTable()
    first, second = FakeConn(), FakeConn()
    _lease(t, first, 1, GUID_A, L1, R)
    _lease(t, second, 1, GUID_A, L2, R)
    t.on_write(KEY, first, 1)  # breaks L2, whose only open is on ``second``
    assert first.lease_breaks == [(L2, R, 0, False, 0)] and second.lease_breaks == []
    t.release_connection(first)
    assert t.lease_clients[GUID_A] == [second]


def test_lock_or_write_breaks_other_leases_not_own():
    t = OplockTable()
    a, b = FakeConn(), FakeConn()
    own = _lease(t, a, 1, GUID_A, L1, R | H)
    other = _lease(t, b, 1, GUID_B, L2, R | H)
    t.on_write(KEY, a, 1)
    assert own.lease_state == R | H and a.lease_breaks == []
    assert b.lease_breaks == [(L2, R | H, 0, True, 0)] and other.breaking


def test_rename_breaks_handle_caching_of_other_leases():
    t = OplockTable()
    a, b = FakeConn(), FakeConn()
    _lease(t, a, 1, GUID_A, L1, R | H)
    _lease(t, b, 1, GUID_B, L2, R | H)
    t.break_handles(KEY, a, 1)
    assert a.lease_breaks == [] and b.lease_breaks == [(L2, R | H, R, True, 0)]


def test_unacknowledged_lease_break_times_out_to_none():
    t = OplockTable(break_timeout=10)
    holder, other = FakeConn(), FakeConn()
    lease = _lease(t, holder, 1, GUID_A, L1, R | W | H)
    assert t.break_for_open(KEY, None, stat_open=False, overwrite=False, now=0)
    t.wait(KEY, other, 3)
    t.tick(10)
    assert lease.lease_state == 0 and not lease.breaking and other.resumed == [3]
    with pytest.raises(NtStatusError) as e:
        t.acknowledge_lease(GUID_A, L1, R | H)
    assert e.value.status == st.STATUS_UNSUCCESSFUL


def test_read_control_open_breaks_oplocks_not_leases():
    t = OplockTable()
    batch, leased = FakeConn(), FakeConn()
    t.grant(KEY, batch, 1, b"b" * 16, LEVEL_BATCH)
    assert t.break_for_open(
        KEY, None, stat_open=True, overwrite=False, now=0, oplock_stat_open=False
    )
    assert batch.oplock_breaks == [LEVEL_II]
    t2 = OplockTable()
    lease = _lease(t2, leased, 1, GUID_A, L1, R | W | H)
    assert not t2.break_for_open(
        KEY, None, stat_open=True, overwrite=False, now=0, oplock_stat_open=False
    )
    assert leased.lease_breaks == [] and lease.lease_state == R | W | H


# ---- through the server: the pre-break admission check (caching.py) ---------------------

SHARE_NONE, SHARE_DELETE = 0, 4


def _server_pair(tmp_path):
    from smb_harness import STATUS_SUCCESS, SmbTestClient, make_context

    ctx, _events, share = make_context(tmp_path)
    (share / "f.dat").write_bytes(b"0123456789")
    out = []
    for _ in range(2):
        c = SmbTestClient(ctx)
        assert c.login().status == STATUS_SUCCESS
        out.append((c, c.tree_connect("data")))
    return ctx, out


def _open(c, tid, share, oplock=0, access=0x12019F):
    from lanman.smb.wire.constants import Command
    from lanman.smb.wire.create import CreateRequest

    body = CreateRequest("f.dat", access, 0x80, share, 1, 0, oplock).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def _pushed(c):
    from smb_harness import split_frame

    out = []
    for bufs in c.conn.take_outbox():
        out.extend(split_frame(b"".join(bytes(b) for b in bufs)))
    return out


def test_server_exclusive_holder_refuses_without_a_break(tmp_path):
    """smbtorture smb2.oplock.exclusive1: a sharing violation leaves an exclusive oplock."""
    _ctx, ((a, ta), (b, tb)) = _server_pair(tmp_path)
    with a, b:
        assert _open(a, ta, SHARE_NONE, LEVEL_EXCLUSIVE).status == 0
        assert _open(b, tb, SHARE_NONE).status == st.STATUS_SHARING_VIOLATION
        assert _pushed(a) == []


def test_server_delete_pending_file_breaks_nothing(tmp_path):
    """smbtorture smb2.oplock.doc: a CREATE of a delete-pending file fails at once."""
    from lanman.smb.wire.constants import Command, InfoType
    from lanman.smb.wire.create import CreateResponse
    from lanman.smb.wire.query import SetInfoRequest

    _ctx, ((a, ta), (b, tb)) = _server_pair(tmp_path)
    with a, b:
        r = _open(a, ta, SHARE_DELETE | 3, LEVEL_BATCH, access=0x1F01FF)
        fid = CreateResponse.unpack(r.pdu).file_id
        body = SetInfoRequest(InfoType.FILE, 13, 0, fid, b"\x01").pack()  # disposition
        assert a.request(Command.SET_INFO, body, tree_id=ta).status == 0
        assert _open(b, tb, SHARE_DELETE | 3).status == st.STATUS_DELETE_PENDING
        assert _pushed(a) == []


def test_delete_on_close_open_breaks_handle_caching():
    """smbtorture smb2.lease.unlink: an unlink (a delete-on-close open) breaks RH to R."""
    t = OplockTable()
    holder = FakeConn()
    lease = _lease(t, holder, 1, GUID_A, L1, R | H)
    assert not t.break_for_open(KEY, None, stat_open=False, overwrite=False, now=0, delete=True)
    assert holder.lease_breaks == [(L1, R | H, R, True, 0)] and lease.breaking
