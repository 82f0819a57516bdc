"""Byte-range locks (MS-SMB2 3.3.5.14, MS-FSA 2.1.5.7): the conflict rules as Windows applies
them (the truth tables smbtorture's smb2.lock checks), and the LOCK command over the sans-IO
core: element order, blocking locks that wait, CANCEL, close of a waiting open, a grant
caused by another connection."""

from __future__ import annotations

import pytest
from smb_harness import STATUS_SUCCESS, SmbTestClient, make_context, split_frame

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.server.locks import ByteRangeLocks, ranges_overlap
from lanman.smb.wire.constants import Command
from lanman.smb.wire.io import LockElement, LockRequest

SHARED, EXCLUSIVE, UNLOCK, FAIL = 0x1, 0x2, 0x4, 0x10
H1, H2 = "h1", "h2"

# ---- the table ----------------------------------------------------------------------------

#: (first lock, second lock, granted?) for zero-length locks, both orders (smb2.lock's table)
ZERO_BYTE = [
    ((10, 0), (10, 0), True),
    ((10, 0), (9, 1), True),
    ((10, 0), (10, 1), True),
    ((10, 0), (11, 1), True),
    ((10, 0), (9, 2), False),
    ((10, 0), (10, 2), True),
    ((10, 0), (9, 3), False),
    ((0, 0), (0, 0), True),
]


@pytest.mark.parametrize(("first", "second", "ok"), ZERO_BYTE)
@pytest.mark.parametrize("same_owner", [True, False])
def test_zero_length_locks(first, second, ok, same_owner):
    for a, b in ((first, second), (second, first)):
        t = ByteRangeLocks()
        t.lock(H1, *a, exclusive=True)
        owner = H1 if same_owner else H2
        if ok:
            t.lock(owner, *b, exclusive=True)
        else:
            with pytest.raises(NtStatusError) as e:
                t.lock(owner, *b, exclusive=True)
            assert e.value.status == st.STATUS_LOCK_NOT_GRANTED


def test_overlap_is_symmetric_and_ends_are_open():
    assert ranges_overlap(0, 10, 9, 1) and not ranges_overlap(0, 10, 10, 1)
    assert not ranges_overlap(2**64 - 1, 0, 0, 2**64 - 1)  # max/0 sits at the very end
    assert ranges_overlap(2**64 - 2, 1, 2**64 - 2, 1)


def test_stacking_rules():
    t = ByteRangeLocks()
    t.lock(H1, 0, 10, exclusive=True)
    t.lock(H1, 0, 10, exclusive=False)  # shared on one's own exclusive: granted
    t.lock(H1, 0, 10, exclusive=False)
    for owner, exclusive in ((H2, False), (H2, True), (H1, True)):  # the others: refused
        with pytest.raises(NtStatusError):
            t.lock(owner, 0, 10, exclusive=exclusive)
    t.unlock(H1, 0, 10)  # the exclusive one goes first ...
    t.lock(H2, 0, 10, exclusive=False)  # ... so another open may now share
    t.unlock(H2, 0, 10)
    t.unlock(H1, 0, 10)
    t.unlock(H1, 0, 10)
    with pytest.raises(NtStatusError) as e:
        t.unlock(H1, 0, 10)
    assert e.value.status == st.STATUS_RANGE_NOT_LOCKED
    assert t.idle


def test_io_conflicts():
    t = ByteRangeLocks()
    t.lock(H1, 0, 100, exclusive=False)
    assert t.conflicts(H1, 50, 10, write=True) and not t.conflicts(H1, 50, 10, write=False)
    assert t.conflicts(H2, 50, 10, write=True) and not t.conflicts(H2, 50, 10, write=False)
    t.unlock(H1, 0, 100)
    t.lock(H1, 0, 100, exclusive=True)
    assert not t.conflicts(H1, 50, 10, write=True)
    assert t.conflicts(H2, 50, 10, write=False)
    t.lock(H1, 200, 0, exclusive=True)  # zero-length locks never block I/O
    assert not t.conflicts(H2, 150, 100, write=True)


def test_waiters_granted_in_order():
    t = ByteRangeLocks()
    t.lock(H1, 0, 10, exclusive=True)
    granted = []
    from lanman.smb.server.locks import Waiter

    w2 = Waiter(H2, 0, 10, True, lambda: granted.append("h2"))
    w3 = Waiter("h3", 0, 10, True, lambda: granted.append("h3"))
    t.wait(w2)
    t.wait(w3)
    t.unlock(H1, 0, 10)
    assert granted == ["h2"] and not t.idle
    t.release_owner(H2)
    assert granted == ["h2", "h3"]
    assert t.cancel_wait(w3) is False


# ---- the LOCK command ----------------------------------------------------------------------


def _body(fid: bytes, *elements: tuple[int, int, int]) -> bytes:
    return LockRequest(fid, [LockElement(o, n, f) for o, n, f in elements]).pack()


@pytest.fixture
def env(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    (share / "f.bin").write_bytes(b"\x00" * 200)
    c = SmbTestClient(ctx)
    assert c.login().status == STATUS_SUCCESS
    tid = c.tree_connect("data")
    h1 = c.create(tid, "f.bin", access=0x3)
    h2 = c.create(tid, "f.bin", access=0x3)
    yield ctx, c, tid, h1, h2
    c.close()


def _lock(c, tid, fid, *elements):
    return c.request(Command.LOCK, _body(fid, *elements), tree_id=tid)


def test_element_order_and_validation(env):
    _ctx, c, tid, h1, _h2 = env
    bad = [
        [(1, 1, 0)],  # no lock type
        [(1, 1, UNLOCK | EXCLUSIVE)],
        [(1, 1, UNLOCK | FAIL)],
        [(1, 1, 0x80 | EXCLUSIVE)],
        [(9999, 1, EXCLUSIVE | FAIL), (9999, 1, UNLOCK)],
        [(9999, 1, EXCLUSIVE | FAIL), (9998, 1, EXCLUSIVE)],  # only the first may block
    ]
    for elements in bad:
        assert _lock(c, tid, h1, *elements).status == st.STATUS_INVALID_PARAMETER, elements
    r = _lock(c, tid, h1, (2**64 - 1, 2, EXCLUSIVE | FAIL))
    assert r.status == st.STATUS_INVALID_LOCK_RANGE
    # an unlock list stops at its first failure and keeps what it already unlocked
    c.check(_lock(c, tid, h1, (0, 10, EXCLUSIVE | FAIL)))
    r = _lock(c, tid, h1, (0, 10, UNLOCK), (10, 10, UNLOCK))
    assert r.status == st.STATUS_RANGE_NOT_LOCKED
    c.check(_lock(c, tid, h1, (0, 10, EXCLUSIVE | FAIL)))  # so this is free again
    # a lock list is all or nothing
    r = _lock(c, tid, h1, (20, 5, EXCLUSIVE | FAIL), (0, 10, EXCLUSIVE | FAIL))
    assert r.status == st.STATUS_LOCK_NOT_GRANTED
    c.check(_lock(c, tid, h1, (20, 5, EXCLUSIVE | FAIL)))


def test_wrong_persistent_half_of_the_file_id(env):
    _ctx, c, tid, h1, _h2 = env
    forged = bytes([h1[0] ^ 1]) + h1[1:]
    assert _lock(c, tid, forged, (0, 1, SHARED)).status == st.STATUS_FILE_CLOSED


def test_blocking_lock_waits_for_the_unlock(env):
    _ctx, c, tid, h1, h2 = env
    c.check(_lock(c, tid, h1, (100, 50, EXCLUSIVE)))
    interim = _lock(c, tid, h2, (100, 50, EXCLUSIVE))
    assert interim.status == st.STATUS_PENDING and interim.is_async
    c.check(_lock(c, tid, h1, (100, 50, UNLOCK)))
    (final,) = [r for r in c.pending_frames if r.command == Command.LOCK]
    assert final.status == STATUS_SUCCESS
    assert final.header.async_id == interim.header.async_id
    # h2 holds it now: h1 cannot take it
    assert _lock(c, tid, h1, (100, 50, EXCLUSIVE | FAIL)).status == st.STATUS_LOCK_NOT_GRANTED


def test_cancel_and_close_end_a_waiting_lock(env):
    _ctx, c, tid, h1, h2 = env
    c.check(_lock(c, tid, h1, (100, 10, EXCLUSIVE)))
    interim = _lock(c, tid, h2, (100, 10, EXCLUSIVE))
    # the waiting open holds no lock to unlock
    assert _lock(c, tid, h2, (100, 10, UNLOCK)).status == st.STATUS_RANGE_NOT_LOCKED
    (cancelled,) = c.cancel(async_id=interim.header.async_id)
    assert cancelled.status == st.STATUS_CANCELLED
    interim = _lock(c, tid, h2, (100, 10, EXCLUSIVE))
    r = c.close_raw(tid, h2)
    assert r.status == STATUS_SUCCESS
    ended = [x for x in c.pending_frames if x.header.async_id == interim.header.async_id]
    assert [x.status for x in ended] == [st.STATUS_RANGE_NOT_LOCKED]
    c.check(_lock(c, tid, h1, (100, 10, UNLOCK)))  # and nothing was granted to anyone
    assert not c.conn.pending


def test_grant_from_another_connection_is_pushed(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    (share / "f.bin").write_bytes(b"\x00" * 10)
    a, b = SmbTestClient(ctx), SmbTestClient(ctx)
    with a, b:
        for c in (a, b):
            assert c.login().status == STATUS_SUCCESS
        ta, tb = a.tree_connect("data"), b.tree_connect("data")
        fa = a.create(ta, "f.bin", access=0x3)
        fb = b.create(tb, "f.bin", access=0x3)
        pushed: list = []
        b.conn.push = pushed.append
        a.check(_lock(a, ta, fa, (0, 5, EXCLUSIVE)))
        assert _lock(b, tb, fb, (0, 5, SHARED)).status == st.STATUS_PENDING
        a.close()  # a's connection ends: its locks go, b's request is granted
        (frame,) = pushed
        (r,) = split_frame(b"".join(bytes(p) for p in frame))
        assert r.command == Command.LOCK and r.status == STATUS_SUCCESS
