"""Session semantics of the server, in process (MS-SMB2 3.3.5.2.4, 3.3.5.2.9, 3.3.5.5.x,
3.3.5.6): re-authentication, failed re-authentication, PreviousSessionId, Kerberos expiry,
multichannel binding and its refusals, the signing of error replies for sessions this
connection does not (or no longer) hold, LOGOFF with pending operations."""

from __future__ import annotations

import struct

import pytest
from smb_harness import (
    CMAC,
    GMAC,
    HMAC,
    NOW,
    PASSWORD,
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
    STATUS_MORE_PROCESSING_REQUIRED,
    STATUS_NOTIFY_CLEANUP,
    STATUS_PENDING,
    STATUS_SUCCESS,
    USER,
    Pdu,
    Response,
    SmbTestClient,
    make_context,
    split_frame,
)

from lanman.auth.ntlm import AuthenticateMessage, NtlmInitiator
from lanman.auth.spnego import NegTokenResp, SpnegoInitiator
from lanman.crypto.smb_signing import derive_keys, preauth_hash_update, verify_pdu
from lanman.errors import ntstatus as st
from lanman.smb.server.session_table import SessionTable
from lanman.smb.server.sessions import _ticket_expiration
from lanman.smb.wire.constants import (
    SESSION_FLAG_BINDING,
    Command,
    GlobalCapabilities,
    SessionFlags,
)
from lanman.smb.wire.session import SessionSetupRequest, SessionSetupResponse, empty_body

MULTI_CHANNEL_CAPS = 0x44 | int(GlobalCapabilities.MULTI_CHANNEL)
OTHER_USER, OTHER_PASSWORD = "bob", "Hunter2!x"
USERS = {USER: PASSWORD, OTHER_USER: OTHER_PASSWORD}


def _position_info(c: SmbTestClient, tid: int, fid: bytes, **kw) -> Response:
    """QUERY_INFO FilePositionInformation (what smbtorture's session tests use)."""
    body = struct.pack("<HBBIHHIII16s", 41, 1, 14, 16, 0, 0, 0, 0, 0, fid)
    return c.request(Command.QUERY_INFO, body, tree_id=tid, **kw)


class Exchange:
    """One SPNEGO/NTLMv2 SESSION_SETUP exchange driven by hand: on an existing session
    (re-authentication, binding), signed with whatever key ``c.signing_key`` holds."""

    def __init__(self, c: SmbTestClient, user=USER, password=PASSWORD, *, anonymous=False):
        self.c = c
        self.ntlm = NtlmInitiator(user, password, "", workstation="HARNESS", now_filetime=NOW)
        self.spnego = SpnegoInitiator(self.ntlm)
        self.anonymous = anonymous
        self.hashed: list[bytes] = []  # this exchange's requests and interim responses

    def run(self, *, session_id: int, flags: int = 0, previous: int = 0, sign=None) -> Response:
        token = self.spnego.step(self.c.negotiate_response.security_buffer)
        r = self._round(token, session_id, flags, previous, sign)
        if r.status != STATUS_MORE_PROCESSING_REQUIRED:
            return r
        server_token = SessionSetupResponse.unpack(r.pdu).security_buffer
        session_id = session_id or r.header.session_id  # a new session: the id it got
        if self.anonymous:
            token = SmbTestClient.anonymous_token()
        else:
            token = self.spnego.step(server_token)
        return self._round(token, session_id, flags, previous, sign)

    def _round(self, token, session_id, flags, previous, sign) -> Response:
        body = SessionSetupRequest(
            token, flags=flags, security_mode=1, previous_session_id=previous
        ).pack()
        r = self.c.request(Command.SESSION_SETUP, body, session_id=session_id, sign=sign)
        self.hashed.append(self.c.last_sent[0])
        if r.status == STATUS_MORE_PROCESSING_REQUIRED:
            self.hashed.append(r.pdu)
        return r

    def channel_key(self, preauth: bytes, dialect: int) -> bytes:
        h = None
        if dialect == 0x0311:
            h = preauth
            for m in self.hashed:
                h = preauth_hash_update(h, m)
        return derive_keys(self.ntlm.session_key, dialect, h).signing_key


def _signed_with(r: Response, key: bytes, algorithm) -> bool:
    return r.signed and verify_pdu([r.pdu], key, algorithm, is_response=True)


@pytest.fixture
def ctx(tmp_path):
    ctx, _events, share_dir = make_context(tmp_path, users=USERS)
    (share_dir / "f.txt").write_bytes(b"hello")
    return ctx


def _logged_in(ctx, dialect=0x0311, caps=MULTI_CHANNEL_CAPS, algorithms=(GMAC, CMAC, HMAC)):
    c = SmbTestClient(ctx)
    c.negotiate([dialect], capabilities=caps, signing_algorithms=algorithms)
    c.session_setup()
    return c


# ---- re-authentication (3.3.5.5.2, 3.3.5.5.3) -------------------------------------------


@pytest.mark.parametrize("dialect", [0x0210, 0x0300, 0x0311])
def test_reauth_same_user_keeps_opens_and_signs_every_leg(ctx, dialect):
    with _logged_in(ctx, dialect) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        x = Exchange(c)
        token = x.spnego.step(c.negotiate_response.security_buffer)
        interim = x._round(token, c.session_id, 0, 0, None)
        assert interim.status == STATUS_MORE_PROCESSING_REQUIRED
        assert c.verify(interim)  # interim reply of a keyed session: signed
        final = x._round(
            x.spnego.step(SessionSetupResponse.unpack(interim.pdu).security_buffer),
            c.session_id,
            0,
            0,
            None,
        )
        assert final.status == STATUS_SUCCESS and c.verify(final)
        assert _position_info(c, tid, fid).status == STATUS_SUCCESS


def test_reauth_as_anonymous_then_back_keeps_handles(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        r = Exchange(c, "", "", anonymous=True).run(session_id=c.session_id)
        assert r.status == STATUS_SUCCESS and c.verify(r)
        # Windows sets neither IS_NULL nor IS_GUEST on a re-authentication
        assert not SessionSetupResponse.unpack(r.pdu).session_flags & SessionFlags.IS_NULL
        session = c.conn.sessions[c.session_id]
        assert session.is_anonymous and session.can_sign
        assert _position_info(c, tid, fid).status == STATUS_SUCCESS
        assert Exchange(c).run(session_id=c.session_id).status == STATUS_SUCCESS
        assert not session.is_anonymous and session.user == USER
        assert _position_info(c, tid, fid).status == STATUS_SUCCESS


def test_reauth_as_another_user_is_refused_and_session_kept(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        r = Exchange(c, OTHER_USER, OTHER_PASSWORD).run(session_id=c.session_id)
        assert r.status == STATUS_ACCESS_DENIED and c.verify(r)
        assert c.conn.sessions[c.session_id].user == USER
        assert _position_info(c, tid, fid).status == STATUS_SUCCESS


def test_failed_reauth_ends_the_session(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        c.create(tid, "f.txt")
        r = Exchange(c, USER, "wrong-password").run(session_id=c.session_id)
        assert r.status == STATUS_LOGON_FAILURE and c.verify(r)  # signed with the old key
        assert c.session_id not in c.conn.sessions and not c.conn.opens
        assert c.ctx.sessions.get(c.session_id) is None
        r = c.tree_connect_raw("data")
        assert r.status == st.STATUS_USER_SESSION_DELETED
        assert r.signed  # the client insists on the SIGNED flag before it believes it


# ---- PreviousSessionId (3.3.5.5.3) ---------------------------------------------------


def test_previous_session_id_tears_the_old_session_down(ctx):
    with _logged_in(ctx) as old, SmbTestClient(ctx) as new:
        tid = old.tree_connect()
        fid = old.create(tid, "f.txt")
        new.negotiate([0x0311])
        first = Exchange(new).run(session_id=0, previous=old.session_id)
        assert first.status == STATUS_SUCCESS
        assert not old.conn.opens
        r = _position_info(old, tid, fid)
        assert r.status == st.STATUS_USER_SESSION_DELETED and r.signed


def test_previous_session_id_of_another_user_is_left_alone(ctx):
    with _logged_in(ctx) as old, SmbTestClient(ctx) as new:
        tid = old.tree_connect()
        fid = old.create(tid, "f.txt")
        new.negotiate([0x0311])
        r = Exchange(new, OTHER_USER, OTHER_PASSWORD).run(session_id=0, previous=old.session_id)
        assert r.status == STATUS_SUCCESS
        assert _position_info(old, tid, fid).status == STATUS_SUCCESS


def test_previous_session_id_on_the_same_connection(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        old_id, old_key = c.session_id, c.signing_key
        r = Exchange(c).run(session_id=0, previous=old_id)
        assert r.status == STATUS_SUCCESS
        new_id = r.header.session_id
        c.session_id, c.signing_key = old_id, old_key
        assert _position_info(c, tid, fid).status == st.STATUS_USER_SESSION_DELETED
        assert new_id in c.conn.sessions and old_id not in c.conn.sessions


# ---- expiry (3.3.5.2.9) --------------------------------------------------------------------


class _Ctx:
    endtime = 1_700_000_000


class _Krb:
    context = _Ctx()


class _Spnego:
    raw_krb5 = False
    raw_ntlm = False
    selected_mech = "1.2.840.113554.1.2.2"
    kerberos = _Krb()


def test_ticket_expiration_is_the_ticket_endtime_as_filetime():
    assert _ticket_expiration(_Spnego()) == (1_700_000_000 + 11_644_473_600) * 10_000_000
    ntlm = _Spnego()
    ntlm.selected_mech = "1.3.6.1.4.1.311.2.2.10"
    assert _ticket_expiration(ntlm) == 0


def _at(c: SmbTestClient, now: int, command, body, **kw) -> Response:
    """One request with the clock at ``now`` (the harness uses a fixed NOW)."""
    frame = c.build([Pdu(command, body, **kw)])
    out = [r for bufs in c.conn.receive_frame(frame, now) for r in split_frame(b"".join(bufs))]
    for r in out:
        c.high += r.header.credit
    return out[0]


def test_expired_session_gets_network_session_expired_until_reauth(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        session = c.conn.sessions[c.session_id]
        session.expiration_time = NOW + 10
        later = NOW + 20
        qi = struct.pack("<HBBIHHIII16s", 41, 1, 14, 16, 0, 0, 0, 0, 0, fid)
        r = _at(c, later, Command.QUERY_INFO, qi, tree_id=tid)
        assert r.status == st.STATUS_NETWORK_SESSION_EXPIRED and c.verify(r)
        r = _at(c, later, Command.TREE_CONNECT, b"\x09\x00" + b"\x00" * 6)
        assert r.status == st.STATUS_NETWORK_SESSION_EXPIRED
        r = _at(c, later, Command.ECHO, empty_body(4))
        assert r.status == STATUS_SUCCESS
        # re-authentication revives it (NTLM: no expiry any more)
        assert Exchange(c).run(session_id=c.session_id).status == STATUS_SUCCESS
        assert session.expiration_time == 0
        assert _at(c, later, Command.QUERY_INFO, qi, tree_id=tid).status == STATUS_SUCCESS


def test_expired_session_may_still_close(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        c.conn.sessions[c.session_id].expiration_time = NOW - 1
        close = struct.pack("<HHI16s", 24, 0, 0, fid)
        assert _at(c, NOW, Command.CLOSE, close, tree_id=tid).status == STATUS_SUCCESS


# ---- signing of errors for sessions this connection does not hold (3.3.5.2.4) -------


def test_unknown_session_id_gets_user_session_deleted_signed_only_with_a_proven_key(ctx):
    """SessionId nobody holds: STATUS_USER_SESSION_DELETED. Signed with the key of this
    connection's session when the request's signature proves it (a client that reused its
    session under another id: Samba signs, and smbXcli drops the connection over an
    unsigned answer, smbtorture smb2.tcon); unsigned when no key of ours verifies."""
    with _logged_in(ctx) as c:
        real = c.signing_key
        c.session_id ^= 0x10000  # nobody holds it
        r = c.tree_connect_raw("data")
        assert r.status == st.STATUS_USER_SESSION_DELETED and r.signed and c.verify(r, real)
        c.signing_key = bytes(16)  # a key no session here has
        r = c.tree_connect_raw("data")
        assert r.status == st.STATUS_USER_SESSION_DELETED and not r.signed


def test_session_of_another_connection_gets_signed_user_session_deleted(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        c2.session_id, c2.signing_key, c2.algorithm = c1.session_id, c1.signing_key, c1.algorithm
        r = Exchange(c2).run(session_id=c1.session_id)  # no BINDING flag
        assert r.status == st.STATUS_USER_SESSION_DELETED
        assert _signed_with(r, c1.signing_key, c1.algorithm)


def test_unknown_tree_id_is_network_name_deleted(ctx):
    with _logged_in(ctx) as c:
        tid = c.tree_connect()
        fid = c.create(tid, "f.txt")
        r = _position_info(c, tid + 77, fid)
        assert r.status == st.STATUS_NETWORK_NAME_DELETED and c.verify(r)


# ---- multichannel binding (3.3.5.5) ------------------------------------------------------


def test_multichannel_capability_only_when_offered_and_enabled(tmp_path):
    ctx, _e, _d = make_context(tmp_path)
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        assert c.negotiate_response.capabilities & GlobalCapabilities.MULTI_CHANNEL
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311])
        assert not c.negotiate_response.capabilities & GlobalCapabilities.MULTI_CHANNEL
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0210], capabilities=MULTI_CHANNEL_CAPS)
        assert not c.negotiate_response.capabilities & GlobalCapabilities.MULTI_CHANNEL
    ctx, _e, _d = make_context(tmp_path, multichannel=False)
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        assert not c.negotiate_response.capabilities & GlobalCapabilities.MULTI_CHANNEL


def _bind(c1: SmbTestClient, c2: SmbTestClient, user=USER, password=PASSWORD):
    """Bind c2's connection to c1's session; returns (final response, exchange)."""
    session_algorithm = c1.algorithm
    channel_algorithm = c2.algorithm
    c2.session_id, c2.signing_key, c2.algorithm = c1.session_id, c1.signing_key, session_algorithm
    x = Exchange(c2, user, password)
    r = x.run(session_id=c1.session_id, flags=SESSION_FLAG_BINDING)
    c2.algorithm = channel_algorithm
    return r, x


@pytest.mark.parametrize(
    "dialect,algorithms",
    [(0x0300, None), (0x0311, (CMAC,)), (0x0311, (HMAC,)), (0x0311, (GMAC,))],
)
def test_binding_a_second_channel(ctx, dialect, algorithms):
    with (
        _logged_in(ctx, dialect, algorithms=algorithms or (CMAC,)) as c1,
        SmbTestClient(ctx) as c2,
    ):
        tid = c1.tree_connect()
        fid = c1.create(tid, "f.txt")
        c2.negotiate([dialect], capabilities=MULTI_CHANNEL_CAPS, signing_algorithms=algorithms)
        r, x = _bind(c1, c2)
        assert r.status == STATUS_SUCCESS
        channel_key = x.channel_key(c2.preauth, dialect)
        assert channel_key != c1.signing_key  # a fresh authentication: a key of its own
        assert _signed_with(r, channel_key, c2.algorithm)
        c2.signing_key = channel_key
        # the open of the first channel is reachable over the second
        assert _position_info(c2, tid, fid).status == STATUS_SUCCESS
        assert _position_info(c1, tid, fid).status == STATUS_SUCCESS
        # the session key no longer works on the bound channel (a second bind, or a
        # re-authentication that forgot the channel key): signed ACCESS_DENIED
        c2.signing_key, c2.algorithm = c1.signing_key, c1.algorithm
        again = Exchange(c2).run(session_id=c1.session_id, flags=SESSION_FLAG_BINDING)
        assert again.status == STATUS_ACCESS_DENIED
        assert _signed_with(again, c1.signing_key, c1.algorithm)
        assert not c2.closed
        # losing the first connection keeps the session on the second
        c1.close()
        c2.signing_key, c2.algorithm = channel_key, c2.algorithm
        assert c2.tree_connect_raw("data").status == STATUS_SUCCESS
        assert c2.ctx.sessions.get(c1.session_id) is not None
    assert ctx.sessions.get(c1.session_id) is None  # no channel left: the session ended


def test_close_over_a_bound_channel_releases_the_open_where_it_lives(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        tid = c1.tree_connect()
        fid = c1.create(tid, "f.txt")
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, x = _bind(c1, c2)
        assert r.status == STATUS_SUCCESS
        c2.signing_key = x.channel_key(c2.preauth, 0x0311)
        assert not c2.conn.opens and c1.conn.opens
        assert c2.close_raw(tid, fid).status == STATUS_SUCCESS
        assert not c1.conn.opens  # gone from the connection that held it
        assert _position_info(c1, tid, fid).status == st.STATUS_FILE_CLOSED


def test_losing_one_channel_hands_its_opens_to_another(ctx):
    """MS-SMB2 3.3.7.1: the opens are the session's; while another channel lives they stay
    open and usable on it (only the last channel's loss closes or detaches them)."""
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        tid = c1.tree_connect()
        fid = c1.create(tid, "f.txt")
        c1.write(tid, fid, 0, b"kept")
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, x = _bind(c1, c2)
        assert r.status == STATUS_SUCCESS
        c2.signing_key = x.channel_key(c2.preauth, 0x0311)
        c1.close()  # the first TCP connection drops
        assert fid[8:16] in {o.file_id[8:16] for o in c2.conn.opens.values()}
        assert c2.read(tid, fid, 0, 4) == b"kept"
        assert c2.close_raw(tid, fid).status == STATUS_SUCCESS
        assert not c2.conn.opens


def test_binding_as_another_user_is_access_denied(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, _x = _bind(c1, c2, OTHER_USER, OTHER_PASSWORD)
        assert r.status == STATUS_ACCESS_DENIED
        assert c1.session_id not in c2.conn.sessions


def test_binding_with_a_wrong_password_keeps_the_session(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, _x = _bind(c1, c2, USER, "wrong")
        assert r.status == STATUS_LOGON_FAILURE
        assert c1.echo().status == STATUS_SUCCESS and c1.tree_connect()


@pytest.mark.parametrize(
    "first,second,status",
    [
        # (dialect, algorithms), (dialect, algorithms), status -- smbtorture's
        # smb2.session.bind_negative_* matrix as Windows answers it
        ((0x0210, None), (0x0210, None), st.STATUS_REQUEST_NOT_ACCEPTED),
        ((0x0210, None), (0x0311, (CMAC,)), STATUS_INVALID_PARAMETER),
        ((0x0311, (CMAC,)), (0x0210, None), st.STATUS_REQUEST_NOT_ACCEPTED),
        ((0x0302, None), (0x0311, (CMAC,)), STATUS_INVALID_PARAMETER),
        ((0x0311, (GMAC,)), (0x0311, (CMAC,)), st.STATUS_REQUEST_OUT_OF_SEQUENCE),
        ((0x0311, (CMAC,)), (0x0311, (GMAC,)), st.STATUS_NOT_SUPPORTED),
    ],
)
def test_binding_refusals(ctx, first, second, status):
    with _logged_in(ctx, first[0], algorithms=first[1] or (CMAC,)) as c1, SmbTestClient(ctx) as c2:
        tid = c1.tree_connect()
        fid = c1.create(tid, "f.txt")
        c2.negotiate([second[0]], capabilities=MULTI_CHANNEL_CAPS, signing_algorithms=second[1])
        r, _x = _bind(c1, c2)
        assert r.status == status
        # signed with the session's own key and algorithm, so the client believes it
        # (INVALID_PARAMETER may come unsigned to a client; ours is signed all the same)
        assert _signed_with(r, c1.signing_key, c1.algorithm)
        assert c1.session_id not in c2.conn.sessions and not c2.closed
        assert _position_info(c1, tid, fid).status == STATUS_SUCCESS


def test_unsigned_binding_is_invalid_parameter(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        c2.session_id = c1.session_id
        r = Exchange(c2).run(session_id=c1.session_id, flags=SESSION_FLAG_BINDING, sign=False)
        assert r.status == STATUS_INVALID_PARAMETER and not r.signed


def test_binding_an_unknown_session_is_user_session_deleted(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        c2.signing_key, c2.algorithm = c1.signing_key, c1.algorithm
        r = Exchange(c2).run(session_id=c1.session_id ^ 0x100, flags=SESSION_FLAG_BINDING)
        assert r.status == st.STATUS_USER_SESSION_DELETED and not r.signed


def test_binding_without_multichannel_is_request_not_accepted(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311])  # no MULTI_CHANNEL capability offered
        r, _x = _bind(c1, c2)
        assert r.status == st.STATUS_REQUEST_NOT_ACCEPTED


# ---- LOGOFF (3.3.5.6) ---------------------------------------------------------------------


def test_logoff_completes_pending_operations_and_ends_every_channel(ctx):
    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        tid = c1.tree_connect()
        dh = c1.open_dir(tid)
        c1.ensure_credits(4)
        pending = c1.change_notify_raw(tid, dh)
        assert pending.status == STATUS_PENDING
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, x = _bind(c1, c2)
        assert r.status == STATUS_SUCCESS
        c2.signing_key = x.channel_key(c2.preauth, 0x0311)
        r = c1.request(Command.LOGOFF, empty_body(4))
        assert r.status == STATUS_SUCCESS and c1.verify(r)
        cleanup = [p for p in c1.pending_frames if p.header.message_id == pending.header.message_id]
        assert cleanup and cleanup[0].status == STATUS_NOTIFY_CLEANUP
        assert not c1.conn.opens
        assert c2.tree_connect_raw("data").status == st.STATUS_USER_SESSION_DELETED
        assert c1.tree_connect_raw("data").status == st.STATUS_USER_SESSION_DELETED
        assert ctx.sessions.get(c1.session_id) is None


# ---- the table itself ----------------------------------------------------------------------


def test_session_table_ids_unique_and_bounded():
    table = SessionTable(limit=2)
    seq = iter([b"\x00" * 8, b"\x00" * 8, b"\x02" + b"\x00" * 7, b"\x04" + b"\x00" * 7])

    class S:
        def __init__(self, sid):
            self.session_id = sid

    a = S(table.new_id(lambda n: next(seq)))
    assert a.session_id == 1 and table.add(a)
    b = S(table.new_id(lambda n: next(seq)))  # 0|1 == 1 is taken: drawn again
    assert b.session_id == 3 and table.add(b)
    assert not table.add(S(5))  # full
    table.remove(a)
    assert table.get(1) is None and len(table) == 1
    assert table.new_id(lambda n: b"\x02" + b"\x00" * 7) == 0  # only 3, which is taken


# ---- NTLMSSP (Samba bug 14932) -------------------------------------------------------------


def test_ntlmv2_response_with_overrunning_av_pairs_is_invalid_parameter(ctx):
    """A NetApp-style NTLMv2 response whose AV_PAIR list overruns: INVALID_PARAMETER."""
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311])
        x = Exchange(c)
        r = x._round(x.spnego.step(c.negotiate_response.security_buffer), 0, 0, 0, False)
        assert r.status == STATUS_MORE_PROCESSING_REQUIRED
        blob = b"\x01\x01" + b"\x00" * 26 + struct.pack("<HH", 2, 200) + b"x" * 8
        auth = AuthenticateMessage(
            flags=0x00088207,
            lm_response=b"\x00" * 24,
            nt_response=b"\x3f" * 16 + blob,
            user=USER,
            workstation="HARNESS",
        ).encode()
        body = SessionSetupRequest(
            NegTokenResp(response_token=auth).encode(), security_mode=1
        ).pack()
        r = c.request(Command.SESSION_SETUP, body, session_id=r.header.session_id, sign=False)
        assert r.status == STATUS_INVALID_PARAMETER


# ---- a real Kerberos logon: Session.ExpirationTime is the ticket's endtime -------------


def test_kerberos_session_expires_with_its_ticket(tmp_path):
    from test_gss_krb5 import make_ticket
    from test_smb_kerberos_session import kerberos_client, kerberos_context

    from lanman.kerberos import gssapi
    from lanman.smb.client import SmbClientError
    from lanman.smb.filestat import unix_ns_to_filetime

    ctx, _share = kerberos_context(tmp_path)
    endtime = int(gssapi.time.time()) + 600
    ticket = make_ticket(authtime=gssapi.time.time() - 60, endtime=endtime)
    c, t = kerberos_client(ctx, 0x0311, ticket)
    try:
        (session,) = t.server.sessions.values()
        assert session.auth_package == "Kerberos"
        assert session.expiration_time == unix_ns_to_filetime(endtime * 1_000_000_000)
        c.tree_connect("data")  # NOW (2024) is before the ticket's end
        real_receive = t.server.receive_frame
        t.server.receive_frame = lambda frame, now: real_receive(frame, session.expiration_time)
        with pytest.raises(SmbClientError) as exc:
            c.tree_connect("data")
        assert exc.value.status == st.STATUS_NETWORK_SESSION_EXPIRED
    finally:
        c.close()


def test_status_lists_a_bound_session_once(ctx):
    from lanman.smb.server.status import snapshot

    with _logged_in(ctx) as c1, SmbTestClient(ctx) as c2:
        c2.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
        r, _x = _bind(c1, c2)
        assert r.status == STATUS_SUCCESS
        listed = snapshot([c1.conn, c2.conn], NOW)["sessions"]
        assert [s["session_id"] for s in listed] == [c1.session_id]


# ---- FSCTL_QUERY_NETWORK_INTERFACE_INFO (2.2.32.5) -----------------------------------------


def test_network_interface_info_lists_the_address_the_client_reached(ctx):
    from lanman.smb.server.session_binding import pack_network_interface_info
    from lanman.smb.wire.constants import FSCTL_QUERY_NETWORK_INTERFACE_INFO

    with _logged_in(ctx) as c:
        c.conn.server_address = "192.0.2.7"
        tid = c.tree_connect("IPC$")
        r = c.ioctl_raw(tid, FSCTL_QUERY_NETWORK_INTERFACE_INFO, b"\xff" * 16, b"", 65536)
        assert r.status == STATUS_SUCCESS and c.verify(r)
        out_off, out_len = struct.unpack_from("<II", r.pdu, 64 + 32)
        entry = r.pdu[out_off : out_off + out_len]
        nxt, if_index, _cap, _res, speed = struct.unpack_from("<IIIIQ", entry)
        assert len(entry) == 152 and nxt == 0 and if_index == 1 and speed > 0
        assert entry[24:26] == b"\x02\x00" and entry[28:32] == bytes([192, 0, 2, 7])
        small = c.ioctl_raw(tid, FSCTL_QUERY_NETWORK_INTERFACE_INFO, b"\xff" * 16, b"", 100)
        assert small.status == st.STATUS_BUFFER_TOO_SMALL
    v6 = pack_network_interface_info(["::1", "not-an-ip", "127.0.0.1"])
    assert len(v6) == 2 * 152 and struct.unpack_from("<I", v6)[0] == 152
    assert v6[24:26] == b"\x17\x00" and v6[32:48] == b"\x00" * 15 + b"\x01"


def test_network_interface_info_without_multichannel_is_not_supported(ctx):
    from lanman.smb.wire.constants import FSCTL_QUERY_NETWORK_INTERFACE_INFO

    with _logged_in(ctx, caps=0x44) as c:
        c.conn.server_address = "192.0.2.7"
        tid = c.tree_connect("IPC$")
        r = c.ioctl_raw(tid, FSCTL_QUERY_NETWORK_INTERFACE_INFO, b"\xff" * 16, b"", 65536)
        assert r.status == st.STATUS_NOT_SUPPORTED


def test_a_session_has_at_most_32_channels(ctx):
    from lanman.smb.server.session_binding import MAX_CHANNELS

    with _logged_in(ctx) as c1:
        clients = []
        try:
            for i in range(MAX_CHANNELS):
                c = SmbTestClient(ctx)
                clients.append(c)
                c.negotiate([0x0311], capabilities=MULTI_CHANNEL_CAPS)
                r, _x = _bind(c1, c)
                want = STATUS_SUCCESS if i < MAX_CHANNELS - 1 else st.STATUS_INSUFFICIENT_RESOURCES
                assert r.status == want, i
            assert len(c1.conn.sessions[c1.session_id].channels) == MAX_CHANNELS
        finally:
            for c in clients:
                c.close()
