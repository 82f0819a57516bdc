"""ServerConnection driven in process by the sans-IO test client (tests/smb_harness.py):
full flows at every dialect, NEGOTIATE rules, guest/anonymous sessions,
FSCTL_VALIDATE_NEGOTIATE_INFO, CHANGE_NOTIFY/CANCEL and per-connection limits."""

from __future__ import annotations

import struct

import pytest
from smb_harness import (
    ALL_DIALECTS,
    CMAC,
    GMAC,
    HMAC,
    SIGNING_ENABLED,
    STATUS_ACCESS_DENIED,
    STATUS_CANCELLED,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
    STATUS_NOTIFY_CLEANUP,
    STATUS_PENDING,
    STATUS_SUCCESS,
    Pdu,
    Share,
    SmbTestClient,
    make_context,
    smb1_negotiate_frame,
)

from lanman.smb.wire.constants import (
    Command,
    HeaderFlags,
    SecurityMode,
    SessionFlags,
    ShareType,
)
from lanman.smb.wire.query import unpack_ioctl_response
from lanman.smb.wire.session import TreeConnectResponse, empty_body

DIALECT_IDS = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}


@pytest.fixture
def env(tmp_path):
    return make_context(tmp_path)


def _client(ctx, dialect, **kw) -> SmbTestClient:
    c = SmbTestClient(ctx)
    r = c.login(dialect, **kw)
    assert r.status == STATUS_SUCCESS
    return c


# ---- 1. full flows --------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL_DIALECTS, ids=DIALECT_IDS.get)
def test_full_flow_every_dialect(env, dialect):
    ctx, events, share_dir = env
    c = SmbTestClient(ctx)
    nr = c.negotiate([dialect])
    assert c.dialect == dialect
    assert not nr.signed
    assert c.negotiate_response.security_mode & SecurityMode.SIGNING_REQUIRED
    final = c.session_setup()
    assert final.status == STATUS_SUCCESS
    assert c.session_flags == 0
    session = c.conn.sessions[c.session_id]
    assert session.state == "valid" and session.user == "alice"
    assert session.signing_required
    # The final SESSION_SETUP response is signed with the key the client derived.
    assert final.signed
    assert c.verify(final)
    assert not c.verify(final, key=b"\x01" * 16)
    expected_alg = {0x0202: HMAC, 0x0210: HMAC, 0x0300: CMAC, 0x0302: CMAC, 0x0311: GMAC}
    assert c.algorithm == expected_alg[dialect] == c.conn.signing_algorithm

    tid = c.tree_connect("data")
    fid = c.create(tid, "round.bin")
    size = 60_000 if dialect == 0x0202 else 200_000  # 4 credits above 2.0.2
    data = bytes((i * 7 + 3) & 0xFF for i in range(size))
    assert c.write(tid, fid, 0, data) == size
    c.ensure_credits(8)
    r = c.read_raw(tid, fid, 0, size)
    assert r.status == STATUS_SUCCESS
    assert r.signed and c.verify(r)  # every response on a signing-required session is signed
    assert c.read(tid, fid, 0, size) == data
    c.close_file(tid, fid)
    assert (share_dir / "round.bin").read_bytes() == data
    assert not c.closed
    assert not [n for n in events.names() if n.startswith("SMB_")]


@pytest.mark.parametrize(
    "offered,expected",
    [
        ([CMAC, GMAC], CMAC),
        ([HMAC], HMAC),
        ([GMAC, CMAC, HMAC], GMAC),
        ([HMAC, GMAC], HMAC),
    ],
)
def test_311_signing_algorithm_is_first_offered(env, offered, expected):
    ctx, _, _share_dir = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311], signing_algorithms=offered)
    assert c.algorithm == expected
    assert c.conn.signing_algorithm == expected
    final = c.session_setup()
    assert c.verify(final)
    tid = c.tree_connect()
    fid = c.create(tid, "alg.txt")
    c.write(tid, fid, 0, b"x" * 100)
    assert c.read(tid, fid, 0, 100) == b"x" * 100
    c.close_file(tid, fid)


def test_311_without_signing_context_defaults_to_cmac(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311], signing_algorithms=None)
    assert c.algorithm == CMAC == c.conn.signing_algorithm
    assert c.verify(c.session_setup())


def test_311_session_key_depends_on_preauth_hash(env):
    """The key the client derives from its own preauth hash is the server's key; a key
    derived with a wrong hash does not verify (the hash really is part of the KDF)."""
    from lanman.crypto.smb_signing import derive_keys, verify_pdu

    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    final = c.session_setup()
    assert c.conn.sessions[c.session_id].signing_key == c.signing_key
    wrong = derive_keys(c.session_key, 0x0311, b"\x00" * 64).signing_key
    assert not verify_pdu([final.pdu], wrong, c.algorithm, is_response=True)


def test_wrong_password_is_logon_failure(env):
    ctx, events, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    r = c.session_setup("alice", "wrong", check=False)
    assert r.status == STATUS_LOGON_FAILURE
    assert not c.conn.sessions
    assert events.named("LOGON_FAILURE")


# ---- 3. NEGOTIATE rules -----------------------------------------------------------------


def test_signed_negotiate_is_invalid_parameter(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    body = c.negotiate_body([0x0311])
    r = c.request(Command.NEGOTIATE, body, sign=False, flags=HeaderFlags.SIGNED)
    assert r.status == STATUS_INVALID_PARAMETER
    assert c.conn.dialect is None


def test_second_negotiate_disconnects(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    rs = c.compound([Pdu(Command.NEGOTIATE, c.negotiate_body([0x0311]), sign=False)])
    assert rs == []
    assert c.closed


def test_second_negotiate_after_session_disconnects(env):
    ctx, _, _ = env
    c = _client(ctx, 0x0300)
    c.compound([Pdu(Command.NEGOTIATE, c.negotiate_body([0x0300]), sign=False)])
    assert c.closed


@pytest.mark.parametrize(
    "command,body",
    [
        (Command.ECHO, empty_body(4)),
        (Command.SESSION_SETUP, b"\x19\x00" + b"\x00" * 23),
        (Command.TREE_CONNECT, b"\x09\x00" + b"\x00" * 6),
    ],
)
def test_request_before_negotiate_disconnects(env, command, body):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    assert c.compound([Pdu(command, body, sign=False)]) == []
    assert c.closed
    assert c.conn.receive_frame(b"\xfeSMB" + b"\x00" * 60, 0) == []  # stays closed


def test_message_id_reuse_disconnects(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    assert c.echo().status == STATUS_SUCCESS  # MessageId 1
    c.compound([Pdu(Command.ECHO, empty_body(4), message_id=1)])
    assert c.closed


def test_message_id_outside_window_disconnects(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    c.compound([Pdu(Command.ECHO, empty_body(4), message_id=c.high + 5)])
    assert c.closed


def test_message_id_out_of_order_inside_window_is_accepted(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    base = c.next_mid
    assert c.available >= 3
    r2 = c.request(Command.ECHO, empty_body(4), message_id=base + 2)
    r0 = c.request(Command.ECHO, empty_body(4), message_id=base)
    assert r2.status == r0.status == STATUS_SUCCESS
    c.compound([Pdu(Command.ECHO, empty_body(4), message_id=base + 2)])  # reuse
    assert c.closed


def test_multi_credit_charge_beyond_window_disconnects(env):
    ctx, _, _ = env
    c = _client(ctx, 0x0311)
    tid = c.tree_connect()
    fid = c.create(tid, "big.bin")
    # A charge larger than the credits granted: MessageId range leaves the window.
    c.compound(
        [
            Pdu(
                Command.READ,
                c_read_body(fid, 65536 * 3),
                tree_id=tid,
                credit_charge=c.available + 10,
                message_id=c.next_mid,
            )
        ]
    )
    assert c.closed


def c_read_body(fid: bytes, length: int) -> bytes:
    from lanman.smb.wire.io import ReadRequest

    return ReadRequest(fid, length, 0).pack()


def test_smb1_negotiate_with_smb2_wildcard(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    rs = c.negotiate_smb1(["NT LM 0.12", "SMB 2.002", "SMB 2.???"])
    assert len(rs) == 1
    r = rs[0]
    assert r.header.is_response and r.status == STATUS_SUCCESS
    assert r.command == Command.NEGOTIATE and r.header.message_id == 0
    assert c.negotiate_response.dialect_revision == 0x02FF
    assert not r.signed
    # The client then sends an SMB2 NEGOTIATE (MessageId 1) and gets a real dialect.
    c.negotiate([0x0202, 0x0210, 0x0300, 0x0311])
    assert c.dialect == 0x0311
    assert c.verify(c.session_setup())


def test_smb1_negotiate_smb2002_only(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    rs = c.negotiate_smb1(["NT LM 0.12", "SMB 2.002"])
    assert rs and c.negotiate_response.dialect_revision == 0x0202
    assert c.verify(c.session_setup())


def test_smb1_only_negotiate_disconnects(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    assert c.send_frame(smb1_negotiate_frame(["NT LM 0.12"])) == []
    assert c.closed


def test_smb1_after_smb2_negotiate_disconnects(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0210])
    assert c.send_frame(smb1_negotiate_frame(["SMB 2.???"])) == []
    assert c.closed


# ---- 4. guest / anonymous -------------------------------------------------------------


@pytest.mark.parametrize("dialect", [0x0210, 0x0311], ids=DIALECT_IDS.get)
def test_anonymous_session_ipc_only(env, dialect):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([dialect])
    r = c.session_setup(anonymous=True)
    assert r.status == STATUS_SUCCESS
    assert c.session_flags & SessionFlags.IS_NULL
    assert not r.signed
    s = c.conn.sessions[c.session_id]
    assert s.is_anonymous and not s.signing_key and not s.signing_required
    tr = c.tree_connect_raw("IPC$")
    assert tr.status == STATUS_SUCCESS and not tr.signed
    assert TreeConnectResponse.unpack(tr.pdu).share_type == ShareType.PIPE
    denied = c.tree_connect_raw("data")
    assert denied.status == STATUS_ACCESS_DENIED
    assert not c.closed


def test_unknown_user_without_guest_mapping_fails(env):
    ctx, _, _ = env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    r = c.session_setup("mallory", "whatever", check=False)
    assert r.status == STATUS_LOGON_FAILURE
    assert not c.conn.sessions


@pytest.fixture
def guest_env(tmp_path):
    pub = tmp_path / "public"
    pub.mkdir()
    return make_context(
        tmp_path, map_to_guest=True, shares=[Share("public", str(pub), guest_ok=True)]
    ) + (pub,)


@pytest.mark.parametrize("dialect", [0x0202, 0x0300, 0x0311], ids=DIALECT_IDS.get)
def test_guest_session_never_signs(guest_env, dialect):
    ctx, events, _, pub = guest_env
    c = SmbTestClient(ctx)
    c.negotiate([dialect])
    r = c.session_setup("mallory", "whatever")
    assert r.status == STATUS_SUCCESS
    assert c.session_flags & SessionFlags.IS_GUEST
    assert not r.signed and r.header.signature == b"\x00" * 16
    s = c.conn.sessions[c.session_id]
    assert s.is_guest and not s.signing_required and not s.can_sign
    assert events.named("INSECURE_GUEST_LOGON")
    tr = c.tree_connect_raw("public")
    assert tr.status == STATUS_SUCCESS and not tr.signed
    tid = tr.header.tree_id
    fid = c.create(tid, "g.txt")
    w = c.write_raw(tid, fid, 0, b"guest data")
    assert w.status == STATUS_SUCCESS and not w.signed
    rr = c.read_raw(tid, fid, 0, 10)
    assert rr.status == STATUS_SUCCESS and not rr.signed
    c.close_file(tid, fid)
    assert (pub / "g.txt").read_bytes() == b"guest data"
    assert c.tree_connect_raw("data").status == STATUS_ACCESS_DENIED


def test_guest_mapping_does_not_rescue_a_wrong_password(guest_env):
    ctx, _, _, _ = guest_env
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    r = c.session_setup("alice", "not-her-password", check=False)
    assert r.status == STATUS_LOGON_FAILURE


# ---- 5. FSCTL_VALIDATE_NEGOTIATE_INFO ---------------------------------------------------

VNEG_LISTS = {0x0300: [0x0202, 0x0210, 0x0300], 0x0302: [0x0202, 0x0210, 0x0300, 0x0302]}


def _vneg_client(ctx, dialect):
    c = SmbTestClient(ctx)
    c.negotiate(VNEG_LISTS[dialect])
    assert c.dialect == dialect
    c.session_setup()
    return c, c.tree_connect()


@pytest.mark.parametrize("dialect", [0x0300, 0x0302], ids=DIALECT_IDS.get)
def test_validate_negotiate_success(env, dialect):
    ctx, _, _ = env
    c, tid = _vneg_client(ctx, dialect)
    r = c.validate_negotiate(tid)
    assert r.status == STATUS_SUCCESS
    assert r.signed and c.verify(r)
    out = bytes(unpack_ioctl_response(r.pdu))
    caps, guid, sec, dia = struct.unpack("<I16sHH", out)
    n = c.negotiate_response
    assert (caps, guid, sec, dia) == (n.capabilities, n.server_guid, n.security_mode, dialect)
    assert guid == ctx.settings.server_guid
    assert not c.closed


@pytest.mark.parametrize("dialect", [0x0300, 0x0302], ids=DIALECT_IDS.get)
@pytest.mark.parametrize(
    "override",
    [
        {"guid": b"\x42" * 16},
        {"dialects": [0x0300]},
        {"dialects": [0x0202, 0x0210]},
        {"security_mode": SIGNING_ENABLED},
        {"capabilities": 0},
    ],
    ids=["guid", "dialects-subset", "dialects-downgrade", "secmode", "caps"],
)
def test_validate_negotiate_mismatch_disconnects(env, dialect, override):
    ctx, _, _ = env
    c, tid = _vneg_client(ctx, dialect)
    with pytest.raises(ConnectionError):
        c.validate_negotiate(tid, **override)
    assert c.closed


def test_validate_negotiate_at_311_disconnects(env):
    ctx, _, _ = env
    c = _client(ctx, 0x0311)
    tid = c.tree_connect()
    with pytest.raises(ConnectionError):
        c.validate_negotiate(tid)
    assert c.closed


# ---- 6. CHANGE_NOTIFY / CANCEL ----------------------------------------------------------


@pytest.mark.parametrize("dialect", [0x0210, 0x0311], ids=DIALECT_IDS.get)
def test_change_notify_pending_then_cancel(env, dialect):
    ctx, _, _ = env
    c = _client(ctx, dialect)
    tid = c.tree_connect()
    dfid = c.open_dir(tid)
    interim = c.change_notify_raw(tid, dfid)
    assert interim.status == STATUS_PENDING
    assert interim.is_async and interim.header.async_id != 0
    assert not interim.signed and interim.header.signature == b"\x00" * 16
    aid, mid = interim.header.async_id, interim.header.message_id
    rs = c.cancel(async_id=aid)
    assert len(rs) == 1
    final = rs[0]
    assert final.command == Command.CHANGE_NOTIFY
    assert final.status == STATUS_CANCELLED
    assert final.is_async and final.header.async_id == aid and final.header.message_id == mid
    assert final.signed and c.verify(final)
    assert not c.conn.pending
    assert c.cancel(async_id=aid) == []  # nothing left to cancel
    c.close_file(tid, dfid)


def test_change_notify_cancel_by_message_id(env):
    ctx, _, _ = env
    c = _client(ctx, 0x0300)
    tid = c.tree_connect()
    dfid = c.open_dir(tid)
    interim = c.change_notify_raw(tid, dfid)
    rs = c.cancel(message_id=interim.header.message_id)
    assert [r.status for r in rs] == [STATUS_CANCELLED]


def test_change_notify_then_close_gives_notify_cleanup(env):
    ctx, _, _ = env
    c = _client(ctx, 0x0311)
    tid = c.tree_connect()
    dfid = c.open_dir(tid)
    interim = c.change_notify_raw(tid, dfid)
    assert interim.status == STATUS_PENDING
    closed = c.close_raw(tid, dfid)
    assert closed.status == STATUS_SUCCESS and c.verify(closed)
    finals = [r for r in c.pending_frames if r.command == Command.CHANGE_NOTIFY]
    assert len(finals) == 1
    f = finals[0]
    assert f.status == STATUS_NOTIFY_CLEANUP
    assert f.header.async_id == interim.header.async_id
    assert f.signed and c.verify(f)
    assert not c.conn.pending


# ---- 8. limits ------------------------------------------------------------------------


def test_max_opens_per_connection(tmp_path):
    ctx, _, share_dir = make_context(tmp_path, max_opens_per_connection=3)
    c = _client(ctx, 0x0311)
    tid = c.tree_connect()
    fids = [c.create(tid, f"f{i}") for i in range(3)]
    r = c.create_raw(tid, "f3")
    assert r.status == STATUS_INSUFFICIENT_RESOURCES
    assert not (share_dir / "f3").exists()
    c.close_file(tid, fids[0])
    c.close_file(tid, c.create(tid, "f3"))  # room again after a close


def test_read_above_max_read_size(env):
    ctx, _, _share_dir = env
    c = _client(ctx, 0x0311)
    limit = c.negotiate_response.max_read_size
    assert limit == ctx.settings.max_read_size == 8 * 1024 * 1024
    tid = c.tree_connect()
    fid = c.create(tid, "r.bin")
    c.ensure_credits(200)
    r = c.read_raw(tid, fid, 0, limit + 1)
    assert r.status == STATUS_INVALID_PARAMETER
    assert not c.closed


def test_write_above_max_write_size(env):
    ctx, _, share_dir = env
    c = _client(ctx, 0x0311)
    limit = c.negotiate_response.max_write_size
    tid = c.tree_connect()
    fid = c.create(tid, "w.bin")
    c.ensure_credits(200)
    r = c.write_raw(tid, fid, 0, b"\x5a" * (limit + 1))
    assert r.status == STATUS_INVALID_PARAMETER
    assert (share_dir / "w.bin").stat().st_size == 0


def test_202_limits_are_64k(env):
    ctx, _, share_dir = env
    c = _client(ctx, 0x0202)
    assert c.negotiate_response.max_read_size == 65536
    tid = c.tree_connect()
    fid = c.create(tid, "s.bin")
    assert c.read_raw(tid, fid, 0, 65537).status == STATUS_INVALID_PARAMETER
    assert c.write_raw(tid, fid, 0, b"a" * 65537).status == STATUS_INVALID_PARAMETER
    assert (share_dir / "s.bin").stat().st_size == 0


def test_8mib_read_needs_its_credit_charge_at_311(env):
    ctx, _, share_dir = env
    blob = bytes(range(256)) * (8 * 1024 * 1024 // 256)
    (share_dir / "big.bin").write_bytes(blob)
    c = _client(ctx, 0x0311)
    tid = c.tree_connect()
    fid = c.create(tid, "big.bin")
    c.ensure_credits(300)
    short = c.read_raw(tid, fid, 0, len(blob), credit_charge=1)
    assert short.status == STATUS_INVALID_PARAMETER
    short = c.read_raw(tid, fid, 0, len(blob), credit_charge=127)
    assert short.status == STATUS_INVALID_PARAMETER
    c.ensure_credits(300)
    ok = c.read_raw(tid, fid, 0, len(blob))  # charge 128
    assert ok.header.credit_charge == 128
    assert ok.status == STATUS_SUCCESS and c.verify(ok)
    from lanman.smb.wire.io import unpack_read_response

    assert bytes(unpack_read_response(ok.pdu)) == blob


def test_8mib_write_round_trip_at_311(env):
    ctx, _, share_dir = env
    blob = bytes(range(251)) * (8 * 1024 * 1024 // 251)
    c = _client(ctx, 0x0311, signing_algorithms=[GMAC])
    tid = c.tree_connect()
    fid = c.create(tid, "big.bin")
    c.ensure_credits(300)
    assert c.write(tid, fid, 0, blob) == len(blob)
    c.close_file(tid, fid)
    assert (share_dir / "big.bin").read_bytes() == blob


def test_close_connections_ends_what_the_server_accepted(tmp_path):
    """asyncio.Server.close() (3.11/3.12) only stops listening; close_connections ends the
    accepted connections too, releasing their opens, so a closed loop leaks no socket."""
    import asyncio
    import socket

    from lanman.smb.server.transport import close_connections, start_server

    ctx, _, _ = make_context(tmp_path)

    async def main():
        server = await start_server(ctx, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            for _ in range(200):
                if len(server.lanman_shared.registry) == 3:
                    break
                await asyncio.sleep(0.01)
            assert len(server.lanman_shared.registry) == 3
            server.close()
            await close_connections(server)
            assert not server.lanman_shared.registry
            for c in clients:
                c.setblocking(False)
                assert await loop.sock_recv(c, 1) == b""  # the server closed its end
        finally:
            for c in clients:
                c.close()

    asyncio.run(main())


def test_named_pipe_opens_are_counted_for_the_transport(tmp_path):
    """has_pipe_opens (the transport sends such a connection's requests to its worker,
    an RPC call may wait) follows pipe opens and closes; file opens do not count."""
    from smb_harness import SmbTestClient, make_context

    ctx, _e, share = make_context(tmp_path)
    (share / "f.txt").write_bytes(b"x")
    with SmbTestClient(ctx) as c:
        c.login()
        tid = c.tree_connect("data")
        ipc = c.tree_connect("IPC$")
        fid = c.create(tid, "f.txt")
        assert not c.conn.has_pipe_opens
        pipes = [c.create(ipc, "srvsvc"), c.create(ipc, "srvsvc")]
        assert c.conn.has_pipe_opens and c.conn.pipe_opens == 2
        c.close_file(ipc, pipes[0])
        assert c.conn.has_pipe_opens
        c.close_file(ipc, pipes[1])
        assert not c.conn.has_pipe_opens and c.conn.pipe_opens == 0
        c.close_file(tid, fid)
