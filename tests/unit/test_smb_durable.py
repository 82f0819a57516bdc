"""Durable handles and create replay (MS-SMB2 3.3.5.9.6-3.3.5.9.12, 3.3.5.2.10): the wire
codecs, the server-wide durable table, and ServerConnections driven in process by the
sans-IO test client (tests/smb_harness.py) through TCP drops, reconnects and purges."""

from __future__ import annotations

import struct
import uuid

import pytest
from smb_harness import (
    NOW,
    PASSWORD,
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
    SmbTestClient,
    make_context,
)

from lanman.crypto.smb_signing import compute_signature
from lanman.errors import ntstatus as nts
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.server.durable import (
    DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
    DurableOpen,
    DurableTable,
    granted_timeout,
)
from lanman.smb.server.durable_handles import scavenge
from lanman.smb.server.state import Open
from lanman.smb.wire import durable as dw
from lanman.smb.wire.constants import FILE_ALL_ACCESS, FILE_OPEN_IF, Command, HeaderFlags
from lanman.smb.wire.create import CreateContext, CreateRequest, CreateResponse
from lanman.smb.wire.header import SIGNATURE_OFFSET, WireError

BATCH, LEVEL_II, NONE = 0x09, 0x01, 0x00
SECOND = 10_000_000  # FILETIME units
BOB = "bob"


@pytest.fixture
def env(tmp_path):
    ctx, _events, share = make_context(tmp_path, users={"alice": PASSWORD, BOB: PASSWORD})
    yield ctx, share
    # durable opens outlive their connections: close what a test left disconnected
    scavenge(ctx, NOW + 10**6 * SECOND)


def _client(ctx, user="alice", dialect=0x0311, client_guid=None) -> tuple[SmbTestClient, int]:
    c = SmbTestClient(ctx, client_guid=client_guid)
    assert c.login(dialect, user=user).status == STATUS_SUCCESS
    return c, c.tree_connect("data")


def _create(c, tid, name, *, oplock=BATCH, contexts=(), flags=0, disposition=FILE_OPEN_IF):
    body = CreateRequest(
        name, FILE_ALL_ACCESS, 0x80, 0x7, disposition, 0, oplock, 2, list(contexts)
    ).pack()
    r = c.request(Command.CREATE, body, tree_id=tid, flags=flags)
    resp = CreateResponse.unpack(r.pdu) if r.status == STATUS_SUCCESS else None
    return r.status, resp


def _ctx(resp: CreateResponse, name: bytes) -> bytes | None:
    return next((c.data for c in resp.contexts if c.name == name), None)


def dhnq():
    return CreateContext(dw.DHNQ, dw.pack_v1_request())


def dhnc(file_id):
    return CreateContext(dw.DHNC, dw.pack_v1_reconnect(file_id))


def dh2q(guid, timeout=0):
    return CreateContext(dw.DH2Q, dw.DurableV2Request(timeout, 0, guid).pack())


def dh2c(file_id, guid):
    return CreateContext(dw.DH2C, dw.DurableV2Reconnect(file_id, guid, 0).pack())


# ---- wire codecs ---------------------------------------------------------------------------


def test_codecs_round_trip_and_reject_wrong_sizes():
    guid = uuid.uuid4().bytes_le
    q = dw.parse_v2_request(dw.DurableV2Request(1234, 2, guid).pack())
    assert (q.timeout, q.flags, q.create_guid) == (1234, 2, guid)
    rc = dw.parse_v2_reconnect(dw.DurableV2Reconnect(b"f" * 16, guid, 0).pack())
    assert (rc.file_id, rc.create_guid) == (b"f" * 16, guid)
    assert dw.parse_v1_reconnect(dw.pack_v1_reconnect(b"x" * 16)) == b"x" * 16
    assert dw.parse_v2_response(dw.pack_v2_response(60000, 0)) == (60000, 0)
    assert len(dw.pack_v1_response()) == 8
    for parse, size in (
        (dw.parse_v1_request, 16),
        (dw.parse_v1_reconnect, 16),
        (dw.parse_v2_request, 32),
        (dw.parse_v2_reconnect, 36),
    ):
        parse(b"\x00" * size)
        for bad in (size - 1, size + 1, 0):
            with pytest.raises(WireError):
                parse(b"\x00" * bad)


def test_granted_timeout():
    assert granted_timeout(0) == DEFAULT_TIMEOUT_MS
    assert granted_timeout(5000) == 5000
    assert granted_timeout(0xFFFFFFFF) == MAX_TIMEOUT_MS


# ---- the table, sans connections ------------------------------------------------------------


def _entry(vid, *, owner=("d", "alice"), share="data", guid=None, path="f"):
    open_ = Open(vid, 1, 1, "file", FILE_ALL_ACCESS, None, smb_path=path)
    return DurableOpen(
        open_,
        2 if guid else 1,
        owner,
        share,
        ("root", vid),
        ("root", path),
        client_guid=b"c" * 16,
        create_guid=guid,
        conn="conn",
        home="conn",
    )


def test_table_reconnect_rules():
    t = DurableTable()
    e = _entry(7, guid=b"g" * 16)
    t.register(e)
    kw = {"owner": ("d", "alice"), "share": "DATA", "create_guid": b"g" * 16, "version": 2}

    def status(pid=7, **over):
        with pytest.raises(NtStatusError) as exc:
            t.find_reconnect(pid, **{**kw, **over})
        return exc.value.status

    # still connected: nothing to reconnect
    assert status() == nts.STATUS_OBJECT_NAME_NOT_FOUND
    assert t.disconnect(e, NOW) == []
    assert t.find_reconnect(7, **kw) is e
    assert status(pid=8) == nts.STATUS_OBJECT_NAME_NOT_FOUND
    assert status(share="other") == nts.STATUS_OBJECT_NAME_NOT_FOUND
    assert status(create_guid=b"h" * 16) == nts.STATUS_OBJECT_NAME_NOT_FOUND
    assert status(owner=("d", "bob")) == nts.STATUS_ACCESS_DENIED
    t.reattach(e, "conn2")
    assert (e.conn, e.home, e.disconnected_at) == ("conn2", "conn2", None)
    assert t.replay_candidate(b"c" * 16, b"g" * 16) is e
    t.forget(e.open)
    assert t.by_id == {} and t.by_create_guid == {} and e.open.durable is None


def test_table_expiry_purge_and_cap():
    t = DurableTable(max_disconnected=2)
    a, b, c = _entry(1, path="a"), _entry(2, path="b"), _entry(3, path="c")
    for e in (a, b, c):
        t.register(e)
    assert t.disconnect(a, NOW) == []
    assert t.disconnect(b, NOW + SECOND) == []
    assert t.disconnect(c, NOW + 2 * SECOND) == [a]  # over the cap: the oldest goes
    assert t.take_conflicting(path_key=("root", "b")) == [b]
    assert t.take_conflicting(file_key=("root", 99)) == []
    timeout = c.timeout_ms * 10_000
    assert t.expired(NOW + 2 * SECOND + timeout - 1) == []
    assert t.expired(NOW + 2 * SECOND + timeout) == [c]
    assert t.by_id == {} and t.detached == {}


def test_table_cap_per_owner():
    t = DurableTable(max_disconnected_per_owner=1)
    a = _entry(1, path="a")
    b = _entry(2, path="b", owner=("d", "bob"))
    c = _entry(3, path="c")
    for e in (a, b, c):
        t.register(e)
    assert t.disconnect(a, NOW) == []
    assert t.disconnect(b, NOW + SECOND) == []
    assert t.disconnect(c, NOW + 2 * SECOND) == [a]  # alice's older one, not bob's
    assert set(t.detached) == {2, 3}


# ---- durable v1 through connections --------------------------------------------------------


def test_v1_granted_only_with_batch(env):
    ctx, _ = env
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        for level, durable in ((NONE, False), (LEVEL_II, False), (0x08, False), (BATCH, True)):
            status, resp = _create(c, tid, f"f{level}.txt", oplock=level, contexts=[dhnq()])
            assert status == STATUS_SUCCESS
            assert (_ctx(resp, dw.DHNQ) is not None) is durable
            assert resp.oplock_level == level
            c.close_file(tid, resp.file_id)
        status, resp = _create(c, tid, "", oplock=BATCH, contexts=[dhnq()])  # the share root
        assert status == STATUS_SUCCESS and _ctx(resp, dw.DHNQ) is None
        c.close_file(tid, resp.file_id)


def test_v1_survives_tcp_drop_and_reconnects(env):
    ctx, share = env
    a, tid = _client(ctx)
    status, resp = _create(a, tid, "keep.txt", contexts=[dhnq()])
    assert status == STATUS_SUCCESS and resp.oplock_level == BATCH
    assert _ctx(resp, dw.DHNQ) == dw.pack_v1_response()
    fid = resp.file_id
    a.write(tid, fid, 0, b"durable")
    a.close()  # the TCP connection drops; the open stays
    assert len(ctx.durable.disconnected()) == 1

    b, tid2 = _client(ctx)
    # a reconnect ignores the name and everything but the FileId
    status, resp = _create(b, tid2, "__whatever__", oplock=NONE, contexts=[dhnc(fid)])
    assert status == STATUS_SUCCESS
    assert resp.file_id == fid and resp.create_action == 1  # FILE_OPENED
    assert resp.oplock_level == BATCH  # its own oplock, not broken by itself
    assert _ctx(resp, dw.DHNQ) is None
    assert b.read(tid2, fid, 0, 7) == b"durable"
    assert not b.pending_frames  # no oplock break was sent
    assert ctx.durable.disconnected() == []
    b.close_file(tid2, fid)
    assert ctx.durable.by_id == {}
    b.close()
    assert (share / "keep.txt").read_bytes() == b"durable"


def test_a_reconnect_ignores_impersonation_name_and_contexts(env):
    """DHnC: the CREATE's other fields are not looked at (MS-SMB2 3.3.5.9.7), not even an
    impersonation level, a leading separator or an EA list a new open would refuse."""
    ctx, _share = env
    a, tid = _client(ctx)
    status, resp = _create(a, tid, "keep.txt", contexts=[dhnq()])
    assert status == STATUS_SUCCESS
    fid = resp.file_id
    a.close()
    b, tid2 = _client(ctx)
    bad_eas = CreateContext(b"ExtA", struct.pack("<IBBH", 0, 0, 3, 1) + b"a:b\0v")
    body = bytearray(
        CreateRequest("\\x", FILE_ALL_ACCESS, 0x80, 7, 1, 0, NONE, 2, [dhnc(fid), bad_eas]).pack()
    )
    struct.pack_into("<I", body, 4, 0x1234)  # ImpersonationLevel far beyond Delegation
    r = b.request(Command.CREATE, bytes(body), tree_id=tid2)
    assert r.status == STATUS_SUCCESS and CreateResponse.unpack(r.pdu).file_id == fid
    b.close_file(tid2, fid)
    b.close()


def test_reconnect_while_connected_wrong_user_and_unknown(env):
    ctx, _ = env
    a, tid = _client(ctx)
    status, resp = _create(a, tid, "x.txt", contexts=[dhnq()])
    fid = resp.file_id
    # 3.3.5.9.7: the open is still in use
    assert _create(a, tid, "x.txt", contexts=[dhnc(fid)])[0] == nts.STATUS_OBJECT_NAME_NOT_FOUND
    a.close()
    with _client(ctx, user=BOB)[0] as bob:
        t = bob.tree_connect("data")
        assert _create(bob, t, "x.txt", contexts=[dhnc(fid)])[0] == STATUS_ACCESS_DENIED
        unknown = (12345).to_bytes(8, "little") * 2
        status = _create(bob, t, "x.txt", contexts=[dhnc(unknown)])[0]
        assert status == nts.STATUS_OBJECT_NAME_NOT_FOUND
    # the rightful owner still gets it back
    with _client(ctx)[0] as c:
        t = c.tree_connect("data")
        status, resp = _create(c, t, "x.txt", contexts=[dhnc(fid)])
        assert status == STATUS_SUCCESS and resp.file_id == fid
        c.close_file(t, fid)


def test_conflicting_open_purges_disconnected_durable(env):
    ctx, _ = env
    a, tid = _client(ctx)
    status, resp = _create(a, tid, "c.txt", contexts=[dhnq()])
    fid = resp.file_id
    a.close()
    with _client(ctx)[0] as b:
        t = b.tree_connect("data")
        status, resp2 = _create(b, t, "c.txt", contexts=[dhnq()])
        # the disconnected holder cannot answer a break: it is purged, the new open
        # gets the batch oplock and a durable handle of its own
        assert status == STATUS_SUCCESS and resp2.oplock_level == BATCH
        assert _ctx(resp2, dw.DHNQ) is not None
        assert not b.pending_frames
        assert _create(b, t, "c.txt", contexts=[dhnc(fid)])[0] == nts.STATUS_OBJECT_NAME_NOT_FOUND
        b.close_file(t, resp2.file_id)


def test_scavenger_closes_expired(env):
    ctx, _ = env
    a, tid = _client(ctx)
    fid = _create(a, tid, "s.txt", contexts=[dhnq()])[1].file_id
    a.close()
    assert scavenge(ctx, NOW + SECOND) == 0
    assert scavenge(ctx, NOW + (DEFAULT_TIMEOUT_MS // 1000 + 1) * SECOND) == 1
    with _client(ctx)[0] as b:
        t = b.tree_connect("data")
        assert _create(b, t, "s.txt", contexts=[dhnc(fid)])[0] == nts.STATUS_OBJECT_NAME_NOT_FOUND


def test_logoff_keeps_durable_tree_disconnect_closes(env):
    ctx, _ = env
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        fid = _create(c, tid, "l.txt", contexts=[dhnq()])[1].file_id
        assert c.request(Command.LOGOFF, b"\x04\x00\x00\x00").status == STATUS_SUCCESS
        assert c.session_setup("alice", PASSWORD).status == STATUS_SUCCESS
        tid = c.tree_connect("data")
        status, resp = _create(c, tid, "l.txt", contexts=[dhnc(fid)])
        assert status == STATUS_SUCCESS and resp.file_id == fid
        assert c.request(Command.TREE_DISCONNECT, b"\x04\x00\x00\x00", tree_id=tid).status == 0
        assert ctx.durable.by_id == {}


def test_malformed_and_mixed_contexts_invalid_parameter(env):
    ctx, _ = env
    guid = uuid.uuid4().bytes_le
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        bad = CreateContext(dw.DH2Q, b"\x00" * 7)
        assert _create(c, tid, "m.txt", contexts=[bad])[0] == STATUS_INVALID_PARAMETER
        fid = b"\x01" * 16
        for combo in (
            [dh2q(guid), dhnq()],
            [dh2c(fid, guid), dhnq()],
            [dhnc(fid), dh2q(guid)],
            [dh2c(fid, guid), dh2q(guid)],
        ):
            assert _create(c, tid, "m.txt", contexts=combo)[0] == STATUS_INVALID_PARAMETER
        # the connection keeps serving
        status, resp = _create(c, tid, "m.txt", contexts=[dhnq()])
        assert status == STATUS_SUCCESS
        c.close_file(tid, resp.file_id)


# ---- durable v2 and replay ----------------------------------------------------------------------


def test_v2_timeout_reconnect_and_guid_check(env):
    ctx, _ = env
    guid = uuid.uuid4().bytes_le
    client_guid = uuid.uuid4().bytes_le
    a, tid = _client(ctx, client_guid=client_guid)
    status, resp = _create(a, tid, "v2.txt", contexts=[dh2q(guid, 0xFFFFFFFF)])
    assert status == STATUS_SUCCESS
    assert dw.parse_v2_response(_ctx(resp, dw.DH2Q)) == (MAX_TIMEOUT_MS, 0)
    fid = resp.file_id
    a.close()
    with _client(ctx, client_guid=client_guid)[0] as b:
        t = b.tree_connect("data")
        other = uuid.uuid4().bytes_le
        assert _create(b, t, "", contexts=[dh2c(fid, other)])[0] == nts.STATUS_OBJECT_NAME_NOT_FOUND
        status, resp = _create(b, t, "", contexts=[dh2c(fid, guid)])
        assert status == STATUS_SUCCESS and resp.file_id == fid and resp.oplock_level == BATCH
        b.close_file(t, fid)


def test_v2_dialect_below_3_ignores_dh2q(env):
    ctx, _ = env
    with _client(ctx, dialect=0x0210)[0] as c:
        tid = c.tree_connect("data")
        status, resp = _create(c, tid, "old.txt", contexts=[dh2q(uuid.uuid4().bytes_le)])
        assert status == STATUS_SUCCESS and _ctx(resp, dw.DH2Q) is None
        c.close_file(tid, resp.file_id)


def test_replay_returns_the_open_until_it_is_used(env):
    ctx, _ = env
    guid = uuid.uuid4().bytes_le
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        status, first = _create(c, tid, "r.txt", contexts=[dh2q(guid)])
        assert status == STATUS_SUCCESS and first.create_action == 2
        # the same CreateGuid without REPLAY_OPERATION: already in use
        assert _create(c, tid, "r.txt", contexts=[dh2q(guid)])[0] == nts.STATUS_DUPLICATE_OBJECTID
        replay = HeaderFlags.REPLAY_OPERATION
        status, again = _create(c, tid, "r.txt", contexts=[dh2q(guid)], flags=replay)
        assert status == STATUS_SUCCESS
        assert (again.file_id, again.create_action, again.oplock_level) == (
            first.file_id,
            2,
            BATCH,
        )
        assert _ctx(again, dw.DH2Q) is not None
        # the replay answers the oplock it asks for; the open keeps its batch oplock
        status, low = _create(c, tid, "r.txt", oplock=NONE, contexts=[dh2q(guid)], flags=replay)
        assert status == STATUS_SUCCESS and low.oplock_level == NONE and not low.contexts
        assert not c.pending_frames
        c.write(tid, first.file_id, 0, b"x")  # used: no longer replay eligible
        # a replay now opens anew: a second open of the file, which breaks the first open's
        # batch oplock and waits for it (MS-SMB2 3.3.5.9: the break comes first)
        status, _ = _create(c, tid, "r.txt", contexts=[dh2q(guid)], flags=replay)
        assert status == nts.STATUS_PENDING
        assert [r.command for r in c.pending_frames] == [Command.OPLOCK_BREAK]
        c.pending_frames.clear()
        c.close_file(tid, first.file_id)  # the holder closes: the waiting CREATE goes on
        (done,) = [r for r in c.pending_frames if r.command == Command.CREATE]
        assert done.status == STATUS_SUCCESS
        new = CreateResponse.unpack(done.pdu)
        assert new.file_id != first.file_id
        c.close_file(tid, new.file_id)


def _csn(c, csn: int):
    """A tamper hook: the request carries ChannelSequence ``csn`` (and is signed again)."""

    def set_csn(raw: bytearray) -> None:
        raw[8:10] = csn.to_bytes(2, "little")
        raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = b"\x00" * 16
        mid = int.from_bytes(raw[24:32], "little")
        raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
            c.signing_key, c.algorithm, [bytes(raw)], message_id=mid, is_response=False
        )

    return set_csn


def _write_with_csn(c, tid, fid, csn: int):
    return c.write_raw(tid, fid, 0, b"z", tamper=_csn(c, csn)).status


def test_channel_sequence(env):
    ctx, _ = env
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        fid = _create(c, tid, "csn.txt", oplock=NONE)[1].file_id
        expected = [
            (0, STATUS_SUCCESS),
            (0x8000, nts.STATUS_FILE_NOT_AVAILABLE),
            (0xFFFF, nts.STATUS_FILE_NOT_AVAILABLE),
            (0x7FFF, STATUS_SUCCESS),  # newer: becomes Open.ChannelSequence
            (0x7FFE, nts.STATUS_FILE_NOT_AVAILABLE),
            (0, nts.STATUS_FILE_NOT_AVAILABLE),
            (0x8000, STATUS_SUCCESS),
            (0xFFFF, STATUS_SUCCESS),
            (0, STATUS_SUCCESS),  # wraps around
            (0xFFFF, nts.STATUS_FILE_NOT_AVAILABLE),
        ]
        assert [_write_with_csn(c, tid, fid, csn) for csn, _ in expected] == [
            s for _, s in expected
        ]
        # a stale ChannelSequence does not stop READ
        assert c.read(tid, fid, 0, 1) == b"z"
        c.close_file(tid, fid)


def test_channel_sequence_starts_at_the_creates(env):
    ctx, _ = env
    with _client(ctx)[0] as c:
        tid = c.tree_connect("data")
        r = c.create_raw(tid, "csn2.txt", tamper=_csn(c, 0x9000))
        fid = CreateResponse.unpack(r.pdu).file_id
        assert _write_with_csn(c, tid, fid, 0x9000) == STATUS_SUCCESS
        assert _write_with_csn(c, tid, fid, 0x1000) == nts.STATUS_FILE_NOT_AVAILABLE
        c.close_file(tid, fid)


def test_app_instance_id_replaces_the_other_clients_open(env):
    ctx, _ = env
    app = uuid.uuid4().bytes_le
    app_ctx = CreateContext(dw.APP_INSTANCE_ID, dw.pack_app_instance_id(app))
    a, tid_a = _client(ctx)
    b, tid_b = _client(ctx)
    with a, b:
        status, first = _create(
            a, tid_a, "app.txt", contexts=[dh2q(uuid.uuid4().bytes_le), app_ctx]
        )
        assert status == STATUS_SUCCESS and first.oplock_level == BATCH
        status, second = _create(
            b, tid_b, "app.txt", contexts=[dh2q(uuid.uuid4().bytes_le), app_ctx]
        )
        # 3.3.5.9.13: the first open is closed, not broken; the new one gets its oplock
        assert status == STATUS_SUCCESS and second.oplock_level == BATCH
        assert _ctx(second, dw.DH2Q) is not None
        assert not a.pending_frames and not b.pending_frames
        assert a.close_raw(tid_a, first.file_id).status == nts.STATUS_FILE_CLOSED
        b.close_file(tid_b, second.file_id)


def test_durable_allowed():
    from lanman.smb.server.durable import durable_allowed

    assert durable_allowed(BATCH)
    assert not durable_allowed(LEVEL_II) and not durable_allowed(0x08)
    assert durable_allowed(0xFF, 0x07) and durable_allowed(0xFF, 0x03)
    assert not durable_allowed(0xFF, 0x05)  # a lease without handle caching
    with pytest.raises(WireError):
        dw.parse_app_instance_id(b"\x00" * 20)  # StructureSize 0
