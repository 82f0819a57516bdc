"""Signing enforcement of the server (MS-SMB2 3.3.5.2.4, 3.3.5.7), in process.

Every signed request is verified before it runs; a bad signature or an unsigned request on
a signing-required session gets STATUS_ACCESS_DENIED, is not executed, is logged as a
security event with source address, user and command, and the error is never signed with
the session key (the server could not authenticate the request it answers)."""

from __future__ import annotations

import pytest
from smb_harness import (
    CLIENT_ADDRESS,
    SIGNING_ENABLED,
    STATUS_ACCESS_DENIED,
    STATUS_CANCELLED,
    STATUS_PENDING,
    STATUS_SUCCESS,
    Pdu,
    SmbTestClient,
    flip_bit,
    make_context,
    strip_signature,
)

from lanman.smb.wire.constants import SMB2_FILEID_NONE, Command
from lanman.smb.wire.create import CloseRequest
from lanman.smb.wire.io import WriteRequest
from lanman.smb.wire.session import TreeConnectRequest, empty_body

DIALECTS = {"2.1": 0x0210, "3.0": 0x0300, "3.1.1": 0x0311}
ORIGINAL = b"ORIGINAL-CONTENT-" * 64
EVIL = b"EVIL-REPLACEMENT!" * 64  # same length as ORIGINAL
PAYLOAD_OFFSET = 64 + 48  # WRITE data follows the 48-byte fixed part


@pytest.fixture(params=list(DIALECTS), ids=list(DIALECTS))
def victim(request, tmp_path):
    """A signed session with ``victim.txt`` (ORIGINAL) open for writing."""
    ctx, events, share_dir = make_context(tmp_path)
    (share_dir / "victim.txt").write_bytes(ORIGINAL)
    with SmbTestClient(ctx) as c:
        c.login(DIALECTS[request.param])
        tid = c.tree_connect()
        fid = c.create(tid, "victim.txt")
        yield c, events, share_dir, tid, fid


def _assert_refused(c: SmbTestClient, r, share_dir, events, event_name, command="WRITE"):
    assert r.status == STATUS_ACCESS_DENIED
    # (e) the answer to a request the server could not authenticate is never signed
    assert not r.signed
    assert r.header.signature == b"\x00" * 16
    assert (share_dir / "victim.txt").read_bytes() == ORIGINAL
    found = events.named(event_name)
    assert len(found) == 1, events.items
    ev = found[0]
    assert ev["client"] == CLIENT_ADDRESS
    assert "alice" in ev["user"]
    assert ev["command"] == command
    # The connection and session stay usable for correctly signed requests.
    assert not c.closed
    ok = c.echo()
    assert ok.status == STATUS_SUCCESS and c.verify(ok)


# ---- (a) payload bit flip -------------------------------------------------------------


@pytest.mark.parametrize("where,bit", [(0, 0), (17, 3), (len(EVIL) - 1, 7)])
def test_payload_bit_flip_is_access_denied(victim, where, bit):
    c, events, share_dir, tid, fid = victim
    r = c.write_raw(tid, fid, 0, EVIL, tamper=flip_bit(PAYLOAD_OFFSET + where, bit))
    _assert_refused(c, r, share_dir, events, "SMB_SIGNATURE_VERIFY_FAILED")
    # the untampered write goes through
    assert c.write(tid, fid, 0, EVIL) == len(EVIL)
    assert (share_dir / "victim.txt").read_bytes() == EVIL


# ---- (b) header bit flip --------------------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [
        18,  # CreditRequest
        32,  # ProcessId
        40 + 4,  # SessionId: the session is not found (USER_SESSION_DELETED) or refused
        50,  # inside the Signature itself
        64 + 8,  # fixed body: Offset field of the WRITE
    ],
    ids=["credit-request", "process-id", "session-id", "signature", "write-offset"],
)
def test_header_bit_flip_is_refused(victim, offset):
    c, events, share_dir, tid, fid = victim
    r = c.write_raw(tid, fid, 0, EVIL, tamper=flip_bit(offset, 2))
    assert r.status in (STATUS_ACCESS_DENIED, 0xC0000203)  # or USER_SESSION_DELETED
    assert not r.signed
    assert (share_dir / "victim.txt").read_bytes() == ORIGINAL
    if r.status == STATUS_ACCESS_DENIED:
        ev = events.named("SMB_SIGNATURE_VERIFY_FAILED")
        assert ev and ev[0]["client"] == CLIENT_ADDRESS and ev[0]["command"] == "WRITE"
    assert not c.closed


# ---- (c) SIGNED flag stripped -----------------------------------------------------------


def test_stripped_signature_is_access_denied(victim):
    c, events, share_dir, tid, fid = victim
    r = c.write_raw(tid, fid, 0, EVIL, tamper=strip_signature)
    _assert_refused(c, r, share_dir, events, "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION")


def test_unsigned_request_is_access_denied(victim):
    c, events, share_dir, tid, fid = victim
    r = c.write_raw(tid, fid, 0, EVIL, sign=False)
    _assert_refused(c, r, share_dir, events, "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION")


@pytest.mark.parametrize("command", ["TREE_CONNECT", "CREATE", "CLOSE"])
def test_other_commands_unsigned_are_refused(victim, command):
    c, events, share_dir, tid, fid = victim
    if command == "TREE_CONNECT":
        if c.dialect == 0x0311:
            # MS-SMB2 3.3.5.7: at 3.1.1 an unsigned TREE_CONNECT from a user disconnects.
            c.send_frame(
                c.build(
                    [
                        Pdu(
                            Command.TREE_CONNECT,
                            TreeConnectRequest("\\\\lanman\\data").pack(),
                            tamper=strip_signature,
                        )
                    ]
                )
            )
            assert c.closed
            assert events.named("UNSIGNED_TREE_CONNECT_DISCONNECTED")
            return
        r = c.tree_connect_raw("data", tamper=strip_signature)
    elif command == "CREATE":
        r = c.create_raw(tid, "new.txt", tamper=strip_signature)
        assert not (share_dir / "new.txt").exists()
    else:
        r = c.close_raw(tid, fid, tamper=strip_signature)
        assert c.conn.opens  # still open
    assert r.status == STATUS_ACCESS_DENIED and not r.signed
    assert events.named("SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION")[0]["command"] == command


def test_signature_from_another_session_key_is_refused(victim):
    c, events, share_dir, tid, fid = victim
    good_key = c.signing_key
    c.signing_key = bytes(16) if len(good_key) == 16 else good_key[::-1]
    r = c.write_raw(tid, fid, 0, EVIL)
    c.signing_key = good_key
    _assert_refused(c, r, share_dir, events, "SMB_SIGNATURE_VERIFY_FAILED")


# ---- (d) compound with the second PDU tampered -----------------------------------------


def test_compound_second_pdu_tampered(victim):
    c, events, share_dir, tid, _fid = victim
    pdus = [
        Pdu(Command.CREATE, c.create_body("comp.txt"), tree_id=tid),
        Pdu(
            Command.WRITE,
            WriteRequest(SMB2_FILEID_NONE, 0, EVIL).pack(),
            related=True,
            tree_id=tid,
            payload=len(EVIL),
            tamper=flip_bit(PAYLOAD_OFFSET + 5, 1),
        ),
        Pdu(Command.CLOSE, CloseRequest(SMB2_FILEID_NONE).pack(), related=True, tree_id=tid),
    ]
    rs = c.compound(pdus)
    assert [r.command for r in rs] == [Command.CREATE, Command.WRITE, Command.CLOSE]
    assert rs[0].status == STATUS_SUCCESS and c.verify(rs[0])
    assert rs[1].status == STATUS_ACCESS_DENIED
    assert not rs[1].signed
    assert rs[2].status != STATUS_SUCCESS
    assert (share_dir / "comp.txt").read_bytes() == b""
    assert events.named("SMB_SIGNATURE_VERIFY_FAILED")[0]["command"] == "WRITE"
    assert not c.closed


def test_compound_untampered_works(victim):
    c, events, share_dir, tid, _fid = victim
    pdus = [
        Pdu(Command.CREATE, c.create_body("comp.txt"), tree_id=tid),
        Pdu(
            Command.WRITE,
            WriteRequest(SMB2_FILEID_NONE, 0, EVIL).pack(),
            related=True,
            tree_id=tid,
            payload=len(EVIL),
        ),
        Pdu(Command.CLOSE, CloseRequest(SMB2_FILEID_NONE).pack(), related=True, tree_id=tid),
    ]
    rs = c.compound(pdus)
    assert [r.status for r in rs] == [STATUS_SUCCESS] * 3
    assert all(c.verify(r) for r in rs)
    assert (share_dir / "comp.txt").read_bytes() == EVIL
    assert not events.items


def test_compound_first_pdu_tampered_cascades(victim):
    c, _events, share_dir, tid, _fid = victim
    pdus = [
        Pdu(Command.CREATE, c.create_body("comp.txt"), tree_id=tid, tamper=flip_bit(70)),
        Pdu(
            Command.WRITE,
            WriteRequest(SMB2_FILEID_NONE, 0, EVIL).pack(),
            related=True,
            tree_id=tid,
            payload=len(EVIL),
        ),
        Pdu(Command.CLOSE, CloseRequest(SMB2_FILEID_NONE).pack(), related=True, tree_id=tid),
    ]
    rs = c.compound(pdus)
    assert rs[0].status == STATUS_ACCESS_DENIED
    assert all(r.status != STATUS_SUCCESS for r in rs)
    assert not (share_dir / "comp.txt").exists()


# ---- CANCEL must be authenticated like any other request -----------------------------


@pytest.mark.parametrize("how", ["bit-flip", "unsigned"])
def test_unauthenticated_cancel_does_not_cancel(victim, how):
    """MS-SMB2 3.3.5.2.4 applies to every request: a signed CANCEL whose signature does
    not verify (or an unsigned CANCEL on a signing-required session) must not cancel the
    pending operation of the signed session."""
    c, _events, _share_dir, tid, _fid = victim
    dfid = c.open_dir(tid)
    interim = c.change_notify_raw(tid, dfid)
    assert interim.status == STATUS_PENDING
    aid = interim.header.async_id
    kw = {"tamper": flip_bit(60)} if how == "bit-flip" else {"sign": False}
    rs = c.cancel(async_id=aid, **kw)
    assert [r.status for r in rs if r.status == STATUS_CANCELLED] == []
    assert aid in c.conn.pending
    # a properly signed CANCEL still works afterwards
    rs = c.cancel(async_id=aid)
    assert [r.status for r in rs] == [STATUS_CANCELLED]


# ---- (f) signing not required ------------------------------------------------------------


@pytest.fixture
def relaxed(tmp_path):
    return make_context(tmp_path, require_message_signing=False)


@pytest.mark.parametrize("dialect", [0x0210, 0x0300], ids=["2.1", "3.0"])
def test_unsigned_requests_accepted_when_not_required(relaxed, dialect):
    ctx, _events, share_dir = relaxed
    c = SmbTestClient(ctx)
    c.negotiate([dialect], security_mode=SIGNING_ENABLED)
    assert not c.negotiate_response.security_mode & 0x2
    final = c.session_setup()
    assert c.verify(final)  # the final SESSION_SETUP response is still signed
    s = c.conn.sessions[c.session_id]
    assert not s.signing_required
    tr = c.tree_connect_raw("data", sign=False)
    assert tr.status == STATUS_SUCCESS and not tr.signed
    tid = tr.header.tree_id
    cr = c.create_raw(tid, "plain.txt", sign=False)
    assert cr.status == STATUS_SUCCESS and not cr.signed
    from lanman.smb.wire.create import CreateResponse

    fid = CreateResponse.unpack(cr.pdu).file_id
    w = c.write_raw(tid, fid, 0, b"unsigned ok", sign=False)
    assert w.status == STATUS_SUCCESS and not w.signed
    assert (share_dir / "plain.txt").read_bytes() == b"unsigned ok"
    # A signed request on the same session is verified and answered signed.
    r = c.read_raw(tid, fid, 0, 11)
    assert r.status == STATUS_SUCCESS and c.verify(r)
    # ... and a tampered signed one is still refused.
    bad = c.write_raw(tid, fid, 0, b"tampered!!!", tamper=flip_bit(PAYLOAD_OFFSET))
    assert bad.status == STATUS_ACCESS_DENIED and not bad.signed
    assert (share_dir / "plain.txt").read_bytes() == b"unsigned ok"
    assert not c.closed


def test_311_unsigned_tree_connect_disconnects(relaxed):
    ctx, events, _ = relaxed
    c = SmbTestClient(ctx)
    c.negotiate([0x0311], security_mode=SIGNING_ENABLED)
    c.session_setup()
    assert not c.conn.sessions[c.session_id].signing_required
    rs = c.compound(
        [Pdu(Command.TREE_CONNECT, TreeConnectRequest("\\\\LANMAN\\data").pack(), sign=False)]
    )
    assert rs == []
    assert c.closed
    ev = events.named("UNSIGNED_TREE_CONNECT_DISCONNECTED")
    assert ev and ev[0]["client"] == CLIENT_ADDRESS and "alice" in ev[0]["user"]


def test_311_signed_tree_connect_works_when_not_required(relaxed):
    ctx, _, _share_dir = relaxed
    c = SmbTestClient(ctx)
    c.negotiate([0x0311], security_mode=SIGNING_ENABLED)
    c.session_setup()
    tr = c.tree_connect_raw("data")
    assert tr.status == STATUS_SUCCESS and c.verify(tr)
    # later unsigned requests are allowed on a session that does not require signing
    cr = c.create_raw(tr.header.tree_id, "x.txt", sign=False)
    assert cr.status == STATUS_SUCCESS and not cr.signed
    assert not c.closed


def test_client_requiring_signing_makes_session_require_it(relaxed):
    """Server does not require signing but the client does: Session.SigningRequired."""
    ctx, events, _share_dir = relaxed
    c = SmbTestClient(ctx)
    c.login(0x0300)  # client SecurityMode = SIGNING_REQUIRED
    assert c.conn.sessions[c.session_id].signing_required
    r = c.tree_connect_raw("data", sign=False)
    assert r.status == STATUS_ACCESS_DENIED
    assert events.named("SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION")


def test_echo_unsigned_on_signed_session_refused(victim):
    c, _events, _share_dir, _tid, _fid = victim
    r = c.request(Command.ECHO, empty_body(4), sign=False)
    assert r.status == STATUS_ACCESS_DENIED and not r.signed
