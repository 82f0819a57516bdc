"""Oplock breaks that wait for the acknowledgment and SMB2.1/3 leases, over the sans-IO
core: two ServerConnections on one ServerContext (MS-SMB2 3.3.4.6, 3.3.4.7, 3.3.5.9,
3.3.5.22, 3.3.6.2)."""

from __future__ import annotations

import struct

from smb_harness import NOW, STATUS_SUCCESS, SmbTestClient, make_context, split_frame

from lanman.errors import ntstatus as st
from lanman.smb.server.oplocks import (
    LEVEL_BATCH,
    LEVEL_EXCLUSIVE,
    LEVEL_II,
    LEVEL_LEASE,
    LEVEL_NONE,
)
from lanman.smb.wire.constants import Command, GlobalCapabilities
from lanman.smb.wire.create import CreateContext, CreateRequest, CreateResponse
from lanman.smb.wire.lease import (
    LEASE_CONTEXT,
    SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED,
    pack_oplock_break,
)

R, H, W = 1, 2, 4
FILE_SHARE_ALL = 7
KEY1 = b"\x11" * 16
KEY2 = b"\x22" * 16
SECOND = 10_000_000


def _pair(tmp_path, **settings):
    ctx, _events, share = make_context(tmp_path, **settings)
    (share / "f.dat").write_bytes(b"0123456789")
    clients = []
    for _ in range(2):
        c = SmbTestClient(ctx)
        assert c.login().status == STATUS_SUCCESS
        clients.append((c, c.tree_connect("data")))
    return ctx, clients


def _lease_v1(key, state):
    return CreateContext(LEASE_CONTEXT, struct.pack("<16sIIQ", key, state, 0, 0))


def _lease_v2(key, state, epoch, parent=None):
    flags = 0x4 if parent else 0
    data = struct.pack("<16sIIQ16sHH", key, state, flags, 0, parent or b"\0" * 16, epoch, 0)
    return CreateContext(LEASE_CONTEXT, data)


def _create(c, tid, name="f.dat", *, oplock=0, contexts=(), disposition=1, access=0x12019F):
    body = CreateRequest(
        name, access, 0x80, FILE_SHARE_ALL, disposition, 0, oplock, contexts=list(contexts)
    ).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def _lease_of(resp):
    cr = CreateResponse.unpack(resp.pdu)
    (ctx,) = [x for x in cr.contexts if x.name == LEASE_CONTEXT]
    return cr, ctx.data


def _pushed(c):
    """Frames the server raised for ``c`` while another connection was being served."""
    out = []
    for bufs in c.conn.take_outbox():
        out.extend(split_frame(b"".join(bytes(b) for b in bufs)))
    return out


def _oplock_ack(c, tid, file_id, level):
    return c.request(Command.OPLOCK_BREAK, pack_oplock_break(level, file_id), tree_id=tid)


def _lease_ack(c, tid, key, state):
    body = struct.pack("<HHI16sIQ", 36, 0, 0, key, state, 0)
    return c.request(Command.OPLOCK_BREAK, body, tree_id=tid)


def test_leasing_capability_advertised_from_smb21(tmp_path):
    ctx, _e, _s = make_context(tmp_path)
    with SmbTestClient(ctx) as a, SmbTestClient(ctx) as b, SmbTestClient(ctx) as c:
        a.login(0x0311)
        b.login(0x0202)
        c.login(0x0210)
        assert a.negotiate_response.capabilities & GlobalCapabilities.LEASING
        assert not b.negotiate_response.capabilities & GlobalCapabilities.LEASING
        assert c.negotiate_response.capabilities & GlobalCapabilities.LEASING
        # directory leases from SMB 3.0 on (MS-SMB2 3.3.5.4)
        assert a.negotiate_response.capabilities & GlobalCapabilities.DIRECTORY_LEASING
        assert not c.negotiate_response.capabilities & GlobalCapabilities.DIRECTORY_LEASING
    with SmbTestClient(ctx) as e:  # a 3.x client that does not offer it (impacket)
        e.negotiate([0x0311], capabilities=0x44)
        assert not e.negotiate_response.capabilities & GlobalCapabilities.DIRECTORY_LEASING
    (tmp_path / "off").mkdir()
    ctx, _e, _s = make_context(tmp_path / "off", directory_leasing=False)
    with SmbTestClient(ctx) as d:
        d.login(0x0311)
        assert not d.negotiate_response.capabilities & GlobalCapabilities.DIRECTORY_LEASING


def test_conflicting_open_waits_for_the_batch_break_ack(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        r = _create(a, ta, oplock=LEVEL_BATCH)
        fid_a = CreateResponse.unpack(r.pdu).file_id
        assert CreateResponse.unpack(r.pdu).oplock_level == LEVEL_BATCH
        interim = _create(b, tb, oplock=LEVEL_BATCH)
        assert interim.status == st.STATUS_PENDING and interim.is_async
        (brk,) = _pushed(a)
        assert brk.command == Command.OPLOCK_BREAK and brk.header.message_id == 2**64 - 1
        assert brk.pdu[66] == LEVEL_II
        assert _pushed(b) == []  # still waiting
        ack = _oplock_ack(a, ta, fid_a, LEVEL_II)
        assert ack.status == STATUS_SUCCESS and ack.pdu[66] == LEVEL_II
        (final,) = _pushed(b)
        assert final.status == STATUS_SUCCESS and final.header.async_id == interim.header.async_id
        assert CreateResponse.unpack(final.pdu).oplock_level == LEVEL_II


def test_break_timeout_lets_the_waiting_create_go_on(tmp_path):
    ctx, ((a, ta), (b, tb)) = _pair(tmp_path, oplock_break_timeout=2.0)
    with a, b:
        _create(a, ta, oplock=LEVEL_EXCLUSIVE)
        interim = _create(b, tb, oplock=LEVEL_EXCLUSIVE)
        assert interim.status == st.STATUS_PENDING
        assert ctx.oplocks.next_deadline() == NOW + 2 * SECOND
        ctx.oplocks.tick(NOW + SECOND)  # not yet
        assert _pushed(b) == []
        ctx.oplocks.tick(NOW + 2 * SECOND)
        (final,) = _pushed(b)
        assert final.status == STATUS_SUCCESS
        assert CreateResponse.unpack(final.pdu).oplock_level == LEVEL_II
        assert ctx.oplocks.next_deadline() is None


def test_holder_close_resumes_the_waiting_create(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        fid_a = CreateResponse.unpack(_create(a, ta, oplock=LEVEL_BATCH).pdu).file_id
        assert _create(b, tb, oplock=LEVEL_BATCH).status == st.STATUS_PENDING
        _pushed(a)
        a.close_file(ta, fid_a)
        (final,) = _pushed(b)
        assert CreateResponse.unpack(final.pdu).oplock_level == LEVEL_BATCH


def test_stat_open_does_not_break(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        _create(a, ta, oplock=LEVEL_BATCH)
        r = _create(b, tb, access=0x80)  # FILE_READ_ATTRIBUTES only
        assert r.status == STATUS_SUCCESS and _pushed(a) == []


def test_level_ii_breaks_to_none_on_write_without_ack(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        assert CreateResponse.unpack(_create(a, ta, oplock=LEVEL_II).pdu).oplock_level == LEVEL_II
        fid_b = CreateResponse.unpack(_create(b, tb, oplock=LEVEL_II).pdu).file_id
        b.write(tb, fid_b, 0, b"x")
        (brk,) = _pushed(a)
        assert brk.pdu[66] == LEVEL_NONE
        # no break is in flight: a third open does not wait
        assert _create(b, tb).status == STATUS_SUCCESS


def test_ack_without_break_is_an_oplock_protocol_error(tmp_path):
    _ctx, ((a, ta), (b, _tb)) = _pair(tmp_path)
    with a, b:
        fid = CreateResponse.unpack(_create(a, ta, oplock=LEVEL_II).pdu).file_id
        assert _oplock_ack(a, ta, fid, LEVEL_NONE).status == st.STATUS_INVALID_OPLOCK_PROTOCOL


def test_lease_granted_shared_by_key_and_upgraded(tmp_path):
    _ctx, ((a, ta), (b, _tb)) = _pair(tmp_path)
    with a, b:
        r = _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | H)])
        cr, data = _lease_of(r)
        assert cr.oplock_level == LEVEL_LEASE
        assert struct.unpack_from("<16sI", data) == (KEY1, R | H)
        # RW is not a superset of RH: kept; RWH is: upgraded
        _cr, data = _lease_of(_create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | W)]))
        assert struct.unpack_from("<I", data, 16)[0] == R | H
        _cr, data = _lease_of(
            _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | W | H)])
        )
        assert struct.unpack_from("<I", data, 16)[0] == R | W | H
        assert _pushed(a) == []  # one lease: its own opens never break it
        # the same key for another file is refused
        r = _create(a, ta, "other.dat", oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R)])
        assert r.status == st.STATUS_INVALID_PARAMETER
        # invalid combinations get no caching
        _cr, data = _lease_of(
            _create(
                a, ta, "h.dat", oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY2, H)], disposition=3
            )
        )
        assert struct.unpack_from("<I", data, 16)[0] == 0


def test_lease_break_waits_for_the_lease_ack(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R | W | H)])
        interim = _create(b, tb, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY2, R | W | H)])
        assert interim.status == st.STATUS_PENDING
        (brk,) = _pushed(a)
        size, _epoch, flags, key, cur, new = struct.unpack_from("<HHI16sII", brk.pdu, 64)
        assert (size, key, cur, new) == (44, KEY1, R | W | H, R | H)
        assert flags & SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED
        # acknowledging more than the break is refused; the break goes on
        assert _lease_ack(a, ta, KEY1, R | W | H).status == st.STATUS_REQUEST_NOT_ACCEPTED
        ack = _lease_ack(a, ta, KEY1, R | H)
        assert ack.status == STATUS_SUCCESS
        assert struct.unpack_from("<HHI16sI", ack.pdu, 64)[3:] == (KEY1, R | H)
        (final,) = _pushed(b)
        _cr, data = _lease_of(final)
        assert struct.unpack_from("<16sI", data) == (KEY2, R | H)
        # nothing is breaking any more
        assert _lease_ack(a, ta, KEY1, R).status == st.STATUS_UNSUCCESSFUL
        assert _lease_ack(a, ta, b"\x99" * 16, 0).status == st.STATUS_OBJECT_NAME_NOT_FOUND


def test_write_breaks_read_lease_without_ack(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v1(KEY1, R)])
        fid_b = CreateResponse.unpack(_create(b, tb).pdu).file_id
        b.write(tb, fid_b, 0, b"x")
        (brk,) = _pushed(a)
        _s, _e, flags, key, cur, new = struct.unpack_from("<HHI16sII", brk.pdu, 64)
        assert (key, cur, new, flags) == (KEY1, R, 0, 0)


def test_lease_v2_epoch_and_parent_key(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        parent = b"\x33" * 16
        r = _create(a, ta, oplock=LEVEL_LEASE, contexts=[_lease_v2(KEY1, R | W | H, 5, parent)])
        _cr, data = _lease_of(r)
        assert len(data) == 52
        key, state, flags, _d, pkey, epoch, _ = struct.unpack("<16sIIQ16sHH", data)
        assert (key, state, flags & 0x4, pkey, epoch) == (KEY1, R | W | H, 0x4, parent, 6)
        assert _create(b, tb, oplock=LEVEL_LEASE, contexts=[_lease_v2(KEY2, R, 0)]).is_async
        (brk,) = _pushed(a)
        assert struct.unpack_from("<H", brk.pdu, 66)[0] == 7  # NewEpoch
        _lease_ack(a, ta, KEY1, R | H)
        (final,) = _pushed(b)
        _cr, data = _lease_of(final)
        assert struct.unpack_from("<16sI", data) == (KEY2, R)


def test_cancelled_waiting_create_is_not_resumed(tmp_path):
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        fid_a = CreateResponse.unpack(_create(a, ta, oplock=LEVEL_BATCH).pdu).file_id
        interim = _create(b, tb)
        from smb_harness import Pdu

        b.compound(
            [Pdu(Command.CANCEL, struct.pack("<HH", 4, 0), async_id=interim.header.async_id)]
        )
        _pushed(a)
        _oplock_ack(a, ta, fid_a, LEVEL_II)
        assert _pushed(b) == []
        assert b.conn.pending == {}


def _create_query_close(b, tb, *, oplock=LEVEL_BATCH, access=0x12019F):
    """CREATE + QUERY_INFO + CLOSE as one related compound (what Linux cifs and Explorer
    send for a stat or a delete); returns its responses so far."""
    from smb_harness import Pdu

    from lanman.smb.wire.create import CloseRequest

    body = CreateRequest("f.dat", access, 0x80, FILE_SHARE_ALL, 1, 0, oplock).pack()
    query = struct.pack("<HBBIHHIIIQQ", 41, 1, 0x22, 56, 0, 0, 0, 0, 0, *([2**64 - 1] * 2))
    close = CloseRequest(b"\xff" * 16).pack()
    return b.compound(
        [
            Pdu(Command.CREATE, body, tree_id=tb),
            Pdu(Command.QUERY_INFO, query, related=True),
            Pdu(Command.CLOSE, close, related=True),
        ]
    )


def test_create_inside_a_compound_waits_and_the_rest_follows_it(tmp_path):
    """A CREATE that must wait for a break in the middle of a related compound goes async
    (as Windows and Samba do); the QUERY_INFO and CLOSE after it wait too and run on its
    FileId once the holder acknowledged."""
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        fid_a = CreateResponse.unpack(_create(a, ta, oplock=LEVEL_BATCH).pdu).file_id
        rs = _create_query_close(b, tb)
        assert [(r.command, r.status) for r in rs] == [(Command.CREATE, st.STATUS_PENDING)]
        (brk,) = _pushed(a)
        assert brk.pdu[66] == LEVEL_II
        assert _pushed(b) == []  # nothing of the compound ran yet
        assert _oplock_ack(a, ta, fid_a, LEVEL_II).status == STATUS_SUCCESS
        done = _pushed(b)
        assert [(r.command, r.status) for r in done] == [
            (Command.CREATE, STATUS_SUCCESS),
            (Command.QUERY_INFO, STATUS_SUCCESS),
            (Command.CLOSE, STATUS_SUCCESS),
        ]
        assert done[0].header.async_id == rs[0].header.async_id
        assert CreateResponse.unpack(done[0].pdu).oplock_level == LEVEL_II
        assert all(b.verify(r) for r in done)  # the rest is signed as any reply
        assert len(b.conn.opens) == 0  # the compound's CLOSE closed what its CREATE opened
        assert b.conn.pending == {}


def test_a_cancelled_create_in_a_compound_fails_the_related_rest(tmp_path):
    """CANCEL of the waiting CREATE: it answers STATUS_CANCELLED and the related requests
    after it fail with that status (3.3.5.2.7.2); the holder keeps its oplock."""
    from smb_harness import Pdu

    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        _create(a, ta, oplock=LEVEL_BATCH)
        (interim,) = _create_query_close(b, tb)
        rs = b.compound(
            [Pdu(Command.CANCEL, struct.pack("<HH", 4, 0), async_id=interim.header.async_id)]
        )
        rs += _pushed(b)
        assert [(r.command, r.status) for r in rs] == [
            (Command.CREATE, st.STATUS_CANCELLED),
            (Command.QUERY_INFO, st.STATUS_CANCELLED),
            (Command.CLOSE, st.STATUS_CANCELLED),
        ]
        assert b.conn.pending == {} and len(b.conn.opens) == 0


def test_a_break_timeout_releases_the_compound_too(tmp_path):
    """The holder never answers: at the break timeout the CREATE and the rest complete."""
    ctx, ((a, ta), (b, tb)) = _pair(tmp_path, oplock_break_timeout=2.0)
    with a, b:
        _create(a, ta, oplock=LEVEL_BATCH)
        assert [r.status for r in _create_query_close(b, tb)] == [st.STATUS_PENDING]
        ctx.oplocks.tick(NOW + 2 * SECOND)
        assert [r.status for r in _pushed(b)] == [STATUS_SUCCESS] * 3


def test_stat_open_alone_gets_batch_and_counts_once_it_caches(tmp_path):
    """A stat open that is the file's only open may hold a batch oplock; a later normal open
    breaks it to level II and gets level II itself (not batch); a write then breaks both."""
    _ctx, ((a, ta), (b, tb)) = _pair(tmp_path)
    with a, b:
        r = _create(a, ta, "n.dat", oplock=LEVEL_BATCH, access=0x100180, disposition=2)
        first = CreateResponse.unpack(r.pdu)
        assert first.oplock_level == LEVEL_BATCH
        assert _create(b, tb, "n.dat", oplock=LEVEL_BATCH).is_async
        _pushed(a)
        _oplock_ack(a, ta, first.file_id, LEVEL_II)
        (final,) = _pushed(b)
        second = CreateResponse.unpack(final.pdu)
        assert second.oplock_level == LEVEL_II
        b.write(tb, second.file_id, 0, b"x")
        assert [x.pdu[66] for x in _pushed(a)] == [LEVEL_NONE]
        assert [x.pdu[66] for x in b.pending_frames if x.command == Command.OPLOCK_BREAK] == [
            LEVEL_NONE
        ]


def test_malformed_lease_context_and_ack_are_refused_and_serving_goes_on(tmp_path):
    _ctx, ((a, ta), (b, _tb)) = _pair(tmp_path)
    with a, b:
        short = CreateContext(LEASE_CONTEXT, b"\x01" * 20)
        r = _create(a, ta, oplock=LEVEL_LEASE, contexts=[short])
        assert r.status == st.STATUS_INVALID_PARAMETER
        bad_ack = struct.pack("<HHI", 36, 0, 0)  # truncated lease break acknowledgment
        assert a.request(Command.OPLOCK_BREAK, bad_ack, tree_id=ta).status == (
            st.STATUS_INVALID_PARAMETER
        )
        odd = struct.pack("<H", 30) + b"\0" * 30  # neither 24 nor 36
        assert a.request(Command.OPLOCK_BREAK, odd, tree_id=ta).status == (
            st.STATUS_INVALID_PARAMETER
        )
        assert _create(a, ta).status == STATUS_SUCCESS
        assert not a.closed
