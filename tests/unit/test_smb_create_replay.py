"""Create replay beyond the durable table and lease-aware reconnects (MS-SMB2 3.3.5.9.7,
3.3.5.9.10, 3.3.5.9.12): replays of a CREATE still waiting for breaks, of a DH2Q open that
was not made durable, and of lease opens; reconnects that must name the open's lease; lock
sequence verification of replayed LOCKs (3.3.5.14).
ServerConnections driven in process by the sans-IO test client (tests/smb_harness.py)."""

from __future__ import annotations

import struct
import uuid
from types import SimpleNamespace

from smb_harness import STATUS_SUCCESS, split_frame
from test_smb_durable import BATCH, NONE, _client, _create, _ctx, dh2c, dh2q, dhnq, env

from lanman.errors import ntstatus as nts
from lanman.smb.server.create_replay import CreateGuidOpen, PendingCreate, ReplayTable
from lanman.smb.server.lock_sequence import LockSequenceArray, split
from lanman.smb.wire import durable as dw
from lanman.smb.wire.constants import Command, HeaderFlags
from lanman.smb.wire.create import CreateContext, CreateResponse
from lanman.smb.wire.io import LockElement, LockRequest
from lanman.smb.wire.lease import LEASE_CONTEXT

__all__ = ["env"]  # the fixture, shared with test_smb_durable

LEASE = 0xFF
R, H, W = 0x1, 0x2, 0x4
REPLAY = HeaderFlags.REPLAY_OPERATION


def _lease(key: bytes, state: int) -> CreateContext:
    return CreateContext(LEASE_CONTEXT, struct.pack("<16sIIQ", key, state, 0, 0))


def _lease_state(resp: CreateResponse) -> int | None:
    data = _ctx(resp, LEASE_CONTEXT)
    return None if data is None else struct.unpack_from("<I", data, 16)[0]


def _done(c) -> CreateResponse:
    """The final response of ``c``'s waiting CREATE, pushed while another client was served."""
    frames = [f for bufs in c.conn.take_outbox() for f in split_frame(b"".join(map(bytes, bufs)))]
    (final,) = [r for r in frames if r.command == Command.CREATE]
    assert final.status == STATUS_SUCCESS
    return CreateResponse.unpack(final.pdu)


def test_replay_of_a_pending_create_fails_then_returns_the_open(env):
    ctx, _ = env
    a, ta = _client(ctx)
    b, tb = _client(ctx)
    with a, b:
        held = _create(a, ta, "p.txt", contexts=[dh2q(uuid.uuid4().bytes_le)])[1]
        guid = uuid.uuid4().bytes_le
        # b's DH2Q open without an oplock waits for a's batch oplock to break
        status, _ = _create(b, tb, "p.txt", oplock=NONE, contexts=[dh2q(guid)])
        assert status == nts.STATUS_PENDING
        # its replay fails at once instead of queueing a second open
        status, _ = _create(b, tb, "p.txt", oplock=NONE, contexts=[dh2q(guid)], flags=REPLAY)
        assert status == nts.STATUS_FILE_NOT_AVAILABLE
        a.close_file(ta, held.file_id)  # the holder goes: the waiting CREATE completes
        first = _done(b)
        assert first.create_action == 1 and _ctx(first, dw.DH2Q) is None  # not durable
        # the open is not durable but keeps its CreateGuid: a replay returns it
        status, again = _create(b, tb, "p.txt", oplock=NONE, contexts=[dh2q(guid)], flags=REPLAY)
        assert status == STATUS_SUCCESS
        assert (again.file_id, again.create_action) == (first.file_id, 1)
        # not a durable open: the same CreateGuid without REPLAY is a new open
        status, other = _create(b, tb, "p.txt", oplock=NONE, contexts=[dh2q(guid)])
        assert status == STATUS_SUCCESS and other.file_id != first.file_id
        b.close_file(tb, other.file_id)
        b.close_file(tb, first.file_id)
        # closed: a replay opens anew
        status, fresh = _create(b, tb, "p.txt", oplock=NONE, contexts=[dh2q(guid)], flags=REPLAY)
        assert status == STATUS_SUCCESS and fresh.file_id != first.file_id
        b.close_file(tb, fresh.file_id)


def test_lease_replay_answers_the_lease_as_it_is_now(env):
    ctx, _ = env
    key = b"L" * 16
    guid = uuid.uuid4().bytes_le
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        status, first = _create(
            c, tid, "l.txt", oplock=LEASE, contexts=[_lease(key, R | H), dh2q(guid)]
        )
        assert status == STATUS_SUCCESS and _lease_state(first) == R | H
        assert _ctx(first, dw.DH2Q) is not None  # a handle lease makes it durable
        # a second open under the same key upgrades the lease
        up = _create(c, tid, "l.txt", oplock=LEASE, contexts=[_lease(key, R | W | H)])[1]
        assert _lease_state(up) == R | W | H
        # the replay (asking only R) gets the first open with the upgraded lease
        status, again = _create(
            c, tid, "l.txt", oplock=LEASE, contexts=[_lease(key, R), dh2q(guid)], flags=REPLAY
        )
        assert status == STATUS_SUCCESS
        assert again.file_id == first.file_id and again.oplock_level == LEASE
        assert _lease_state(again) == R | W | H and _ctx(again, dw.DH2Q) is not None
        # another lease key: refused
        status, _ = _create(
            c,
            tid,
            "l.txt",
            oplock=LEASE,
            contexts=[_lease(b"X" * 16, R | H), dh2q(guid)],
            flags=REPLAY,
        )
        assert status == nts.STATUS_ACCESS_DENIED
        assert not c.pending_frames  # no break of its own lease
        c.close_file(tid, up.file_id)
        c.close_file(tid, first.file_id)


def test_oplock_open_replayed_with_a_lease_is_refused(env):
    ctx, _ = env
    guid = uuid.uuid4().bytes_le
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        first = _create(c, tid, "o.txt", oplock=BATCH, contexts=[dh2q(guid)])[1]
        status, _ = _create(
            c,
            tid,
            "o.txt",
            oplock=LEASE,
            contexts=[_lease(b"K" * 16, R | H), dh2q(guid)],
            flags=REPLAY,
        )
        assert status == nts.STATUS_ACCESS_DENIED
        c.close_file(tid, first.file_id)


def test_lease_reconnect_must_name_the_lease_and_the_file(env):
    ctx, _ = env
    key = b"D" * 16
    cg = uuid.uuid4().bytes
    a, ta = _client(ctx, client_guid=cg)
    status, resp = _create(a, ta, "d.txt", oplock=LEASE, contexts=[_lease(key, R | W | H), dhnq()])
    assert status == STATUS_SUCCESS and _ctx(resp, dw.DHNQ) is not None
    fid = resp.file_id
    a.close()  # TCP drop: the durable open waits
    recon = CreateContext(dw.DHNC, dw.pack_v1_reconnect(fid))
    with _client(ctx, client_guid=uuid.uuid4().bytes)[0] as other:  # another ClientGuid
        t = other.tree_connect("data")
        assert _create(other, t, "d.txt", contexts=[recon, _lease(key, 0)])[0] == (
            nts.STATUS_OBJECT_NAME_NOT_FOUND
        )
    with _client(ctx, client_guid=cg)[0] as b:
        t = b.tree_connect("data")
        for contexts in ([recon], [recon, _lease(b"Z" * 16, R)]):  # no lease, another key
            assert _create(b, t, "d.txt", contexts=contexts)[0] == nts.STATUS_OBJECT_NAME_NOT_FOUND
        status = _create(b, t, "other.txt", contexts=[recon, _lease(key, 0)])[0]
        assert status == nts.STATUS_INVALID_PARAMETER
        # the requested state and oplock level do not count; the lease comes back as it was
        status, back = _create(b, t, "d.txt", oplock=0x78, contexts=[recon, _lease(key, 0)])
        assert status == STATUS_SUCCESS and back.file_id == fid
        assert back.oplock_level == LEASE and _lease_state(back) == R | W | H
        b.close_file(t, fid)


def test_dh2c_with_the_zero_guid_reconnects_a_v1_open(env):
    ctx, _ = env
    a, ta = _client(ctx)
    fid = _create(a, ta, "v1.txt", contexts=[dhnq()])[1].file_id
    a.close()
    with _client(ctx)[0] as b:
        t = b.tree_connect("data")
        assert _create(b, t, "v1.txt", contexts=[dh2c(fid, uuid.uuid4().bytes_le)])[0] == (
            nts.STATUS_OBJECT_NAME_NOT_FOUND
        )
        status, back = _create(b, t, "v1.txt", contexts=[dh2c(fid, b"\x00" * 16)])
        assert status == STATUS_SUCCESS and back.file_id == fid
        b.close_file(t, fid)


# ---- the table alone -------------------------------------------------------------------


def _conn(closed=False, pending=None, opens=None):
    return SimpleNamespace(closed=closed, pending=pending or {}, opens=opens or {})


def test_pending_marker_outlives_its_connection_while_the_break_is_in_flight():
    breaking = {"yes": True}
    oplocks = SimpleNamespace(is_breaking=lambda key: breaking["yes"])
    t = ReplayTable()
    live = _conn(pending={7: SimpleNamespace(kind="create")})
    t.note_pending((b"c", b"g"), PendingCreate(live, 7, 1, ("f",)))
    assert t.pending_create((b"c", b"g"), 1, oplocks) is not None
    assert t.pending_create((b"c", b"g"), 2, oplocks) is None  # another session
    live.closed = True  # the channel dropped: it counts while the break is in flight
    assert t.pending_create((b"c", b"g"), 1, oplocks) is not None
    breaking["yes"] = False
    assert t.pending_create((b"c", b"g"), 1, oplocks) is None
    assert t.pending == {}
    done = _conn()  # a completed CREATE: the connection no longer has it pending
    t.note_pending((b"c", b"h"), PendingCreate(done, 9, 1, ("f",)))
    assert t.pending_create((b"c", b"h"), 1, oplocks) is None


def test_replay_table_is_capped_and_drops_closed_opens():
    t = ReplayTable(max_entries=3)
    opens = [SimpleNamespace(volatile_id=i) for i in range(5)]
    conn = _conn(opens={o.volatile_id: o for o in opens})
    for o in opens:
        t.note_open((b"c", bytes([o.volatile_id])), CreateGuidOpen(o, conn, 2))
    assert len(t.opens) == 3 and t.open_of((b"c", b"\x00")) is None  # the oldest went
    assert t.open_of((b"c", b"\x04")).open is opens[4]
    del conn.opens[4]  # closed
    assert t.open_of((b"c", b"\x04")) is None and len(t.opens) == 2


# ---- lock sequence verification (MS-SMB2 3.3.5.14) -------------------------------------

EXCLUSIVE_NOW, UNLOCK = 0x02 | 0x10, 0x04


def _lock(c, tid, fid, seq, flags):
    body = LockRequest(fid, [LockElement(0, 100, flags)], seq).pack()
    return c.request(Command.LOCK, body, tree_id=tid).status


def test_lock_sequence_array():
    a = LockSequenceArray()
    assert split(0x412) == (2, 0x41)
    assert a.begin(0x011) is False
    a.succeeded(0x011)
    assert a.begin(0x011) is True  # the same number in slot 1: a replay
    assert a.begin(0x012) is False  # another number invalidates the slot
    assert a.begin(0x011) is False
    for seq in (0x001, 0x421):  # index 0 and 65: not checked
        a.succeeded(seq)
        assert a.begin(seq) is False


def test_lock_replay_on_a_durable_open_is_not_processed_again(env):
    ctx, _ = env
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        fid = _create(c, tid, "lk.txt", contexts=[dh2q(uuid.uuid4().bytes_le)])[1].file_id
        assert _lock(c, tid, fid, 0x011, EXCLUSIVE_NOW) == STATUS_SUCCESS
        assert _lock(c, tid, fid, 0x011, EXCLUSIVE_NOW) == STATUS_SUCCESS  # replay
        assert _lock(c, tid, fid, 0x011, UNLOCK) == STATUS_SUCCESS  # replay: still locked
        assert _lock(c, tid, fid, 0x012, EXCLUSIVE_NOW) == nts.STATUS_LOCK_NOT_GRANTED
        assert _lock(c, tid, fid, 0x013, UNLOCK) == STATUS_SUCCESS
        assert _lock(c, tid, fid, 0x013, UNLOCK) == STATUS_SUCCESS  # replay of the unlock
        assert _lock(c, tid, fid, 0x014, UNLOCK) == nts.STATUS_RANGE_NOT_LOCKED
        # index 0 is never checked
        assert _lock(c, tid, fid, 0x001, EXCLUSIVE_NOW) == STATUS_SUCCESS
        assert _lock(c, tid, fid, 0x001, EXCLUSIVE_NOW) == nts.STATUS_LOCK_NOT_GRANTED
        c.close_file(tid, fid)


def test_lock_sequence_ignored_without_durability_or_multichannel(env):
    ctx, _ = env
    with _client(ctx)[0] as c:  # the harness client does not offer multichannel
        tid = c.tree_connect("data")
        fid = _create(c, tid, "plain.txt", oplock=NONE)[1].file_id
        assert _lock(c, tid, fid, 0x011, EXCLUSIVE_NOW) == STATUS_SUCCESS
        assert _lock(c, tid, fid, 0x011, EXCLUSIVE_NOW) == nts.STATUS_LOCK_NOT_GRANTED
        c.close_file(tid, fid)


def test_rehome_follows_a_moved_open():
    t = ReplayTable()
    o = SimpleNamespace(volatile_id=1)
    old, new = _conn(opens={1: o}), _conn(opens={})
    t.note_open((b"c", b"g"), CreateGuidOpen(o, old, 2))
    old.closed, new.opens[1] = True, o  # the open moved to another channel
    t.rehome(o, new)
    assert t.open_of((b"c", b"g")).conn is new
