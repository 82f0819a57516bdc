"""SMB 3 encryption end to end in process: lanman's client core against lanman's server core
(no sockets). Ciphers per dialect, EncryptData sessions and shares, RejectUnencryptedAccess,
decrypt failures and nonce uniqueness (MS-SMB2 3.1.4.3, 3.2.4.1.8, 3.3.4.1.4, 3.3.5.2.1.1,
3.3.5.2.9, 3.3.5.2.11, 3.3.5.7)."""

from __future__ import annotations

import os
import struct

import pytest
from smb_harness import NOW, Share, make_context
from test_client import InProcessTransport, connect

from lanman.crypto.smb_encryption import TRANSFORM_PROTOCOL_ID, CipherId
from lanman.errors import ntstatus as nts
from lanman.smb.client import SmbClientError
from lanman.smb.wire.constants import Command

SECURE = Share("secure", "", encrypt_data=True)


def _ctx(tmp_path, **settings):
    sec = tmp_path / "secure"
    sec.mkdir(exist_ok=True)
    share = Share("secure", str(sec), encrypt_data=True)
    ctx, events, share_dir = make_context(tmp_path, shares=[share], **settings)
    return ctx, events, share_dir, sec


def _after_setup(frames: list[bytes]) -> list[bytes]:
    """Frames after the last SESSION_SETUP request."""
    last = max(
        i
        for i, f in enumerate(frames)
        if f[:4] == b"\xfeSMB" and struct.unpack_from("<H", f, 12)[0] == Command.SESSION_SETUP
    )
    return frames[last + 1 :]


def _round_trip(c, tmp_path, name="f.bin", size=300_000) -> bytes:
    src = tmp_path / "src.bin"
    payload = os.urandom(size)
    src.write_bytes(payload)
    assert c.put(src, name) == size
    dst = tmp_path / "dst.bin"
    assert c.get(name, dst) == size
    assert dst.read_bytes() == payload
    return payload


CASES = [
    (0x0311, "AES_128_GCM"),
    (0x0311, "AES_128_CCM"),
    (0x0311, "AES_256_GCM"),
    (0x0311, "AES_256_CCM"),
    (0x0302, "AES_128_CCM"),
    (0x0300, "AES_128_CCM"),
]


@pytest.mark.parametrize(("dialect", "cipher"), CASES)
def test_encrypted_session_every_cipher(tmp_path, dialect, cipher):
    cid = CipherId[cipher]
    ctx, _events, share_dir, _sec = _ctx(tmp_path, encryption_ciphers=(int(cid),))
    replies: list[bytes] = []
    c = connect(ctx, dialect=dialect, encrypt=True, mutate=lambda d, _i: replies.append(bytes(d)))
    try:
        info = c.connection_info()
        assert info.encrypted and info.cipher == cipher.replace("_", "-")
        assert c.conn.cipher == cid
        assert len(c.conn.session.encryption_key) == (32 if cid.key_bits == 256 else 16)
        payload = _round_trip(c, tmp_path)
        assert (share_dir / "f.bin").read_bytes() == payload
        sent = _after_setup(c.transport.sent)
        assert sent and all(f[:4] == TRANSFORM_PROTOCOL_ID for f in sent)
        # Every response after SESSION_SETUP answers an encrypted request: encrypted too.
        n_setup = sum(
            1
            for f in c.transport.sent
            if f[:4] == b"\xfeSMB" and struct.unpack_from("<H", f, 12)[0] <= 1
        )
        after = replies[n_setup:]
        assert after and all(r[:4] == TRANSFORM_PROTOCOL_ID for r in after)
    finally:
        c.close()


def test_server_prefers_its_own_cipher_order(tmp_path):
    ctx, *_ = _ctx(tmp_path, encryption_ciphers=(4, 2))
    c = connect(ctx, dialect=0x0311, encrypt=True)  # client offers 128-GCM first
    try:
        assert c.conn.cipher == CipherId.AES_256_GCM
    finally:
        c.close()


def test_no_cipher_offered_encrypt_required_fails(tmp_path):
    ctx, *_ = _ctx(tmp_path, encryption_ciphers=())
    t = InProcessTransport(ctx)
    from lanman.smb.client import SmbClient

    with pytest.raises(SmbClientError) as ei:
        SmbClient.connect(
            "lanman",
            445,
            "alice",
            "Secret123!",
            share="data",
            dialects=(0x0311,),
            transport=t,
            now_filetime=NOW,
            require_signing=True,
            allow_insecure_guest=False,
            encrypt=True,
        )
    assert ei.value.status == nts.STATUS_ACCESS_DENIED
    assert t.server.cipher is None


@pytest.mark.parametrize("dialect", [0x0311, 0x0300])
def test_encrypted_share_encrypts_tree_only(tmp_path, dialect):
    ctx, _events, _share_dir, sec = _ctx(tmp_path)
    c = connect(ctx, dialect=dialect, share="secure")
    try:
        assert not c.conn.session.encrypt_data
        assert c.tree_id in c.conn.encrypted_trees
        assert c.connection_info().encrypted
        payload = _round_trip(c, tmp_path)
        assert (sec / "f.bin").read_bytes() == payload
        sent = _after_setup(c.transport.sent)
        cmds = [struct.unpack_from("<H", f, 12)[0] for f in sent if f[:4] == b"\xfeSMB"]
        assert set(cmds) <= {Command.TREE_CONNECT}  # all but TREE_CONNECT encrypted
    finally:
        c.close()


def test_unencrypted_request_on_encrypted_tree_denied(tmp_path):
    ctx, events, _share_dir, _sec = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, share="secure")
    try:
        c.conn.encrypted_trees.clear()  # misbehave: send the tree's requests in the clear
        with pytest.raises(SmbClientError) as ei:
            c.listdir("")
        assert ei.value.status == nts.STATUS_ACCESS_DENIED
        assert "UNENCRYPTED_ACCESS_REJECTED" in [e[0] for e in events.items]
    finally:
        c.close()


def test_smb21_client_refused_on_encrypted_share(tmp_path):
    ctx, events, *_ = _ctx(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, dialect=0x0210, share="secure")
    assert ei.value.status == nts.STATUS_ACCESS_DENIED
    ev = [f for n, f in events.items if n == "UNENCRYPTED_ACCESS_REJECTED"]
    assert ev and ev[0]["share"] == "secure"
    assert "does not support encryption" in ev[0]["reason"]
    c = connect(ctx, dialect=0x0210, share="data")  # the plain share still serves it
    c.close()


def test_reject_unencrypted_access_off_serves_smb21(tmp_path):
    ctx, events, _share_dir, _sec = _ctx(tmp_path, reject_unencrypted_access=False)
    c = connect(ctx, dialect=0x0210, share="secure")
    try:
        _round_trip(c, tmp_path)
        assert not any(f[:4] == TRANSFORM_PROTOCOL_ID for f in c.transport.sent)
    finally:
        c.close()
    assert "UNENCRYPTED_ACCESS_REJECTED" not in [e[0] for e in events.items]


def test_global_encrypt_data_sets_session_flag(tmp_path):
    ctx, *_ = _ctx(tmp_path, encrypt_data=True)
    c = connect(ctx, dialect=0x0311)  # not asked to encrypt
    try:
        assert c.conn.session.encrypt_data
        _round_trip(c, tmp_path)
        assert all(f[:4] == TRANSFORM_PROTOCOL_ID for f in _after_setup(c.transport.sent))
    finally:
        c.close()
    # SMB 2.1 cannot encrypt: refused at TREE_CONNECT (global EncryptData + Reject), IPC$
    # included.
    for share in ("data", "IPC$"):
        with pytest.raises(SmbClientError) as ei:
            connect(ctx, dialect=0x0210, share=share)
        assert ei.value.status == nts.STATUS_ACCESS_DENIED
    c = connect(ctx, dialect=0x0311, share="IPC$")  # an SMB 3 client reaches IPC$ encrypted
    try:
        assert c.conn.session.encrypt_data
    finally:
        c.close()


def _encrypted_frame(c) -> bytes:
    """An encrypted ECHO as the client would send it."""
    from lanman.smb.wire.session import empty_body

    return c.conn.request(Command.ECHO, empty_body(4)).data


@pytest.mark.parametrize("what", ["tag", "ciphertext", "session", "flags", "size", "short"])
def test_bad_transform_frames_disconnect(tmp_path, what):
    ctx, events, *_ = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, encrypt=True)
    try:
        frame = bytearray(_encrypted_frame(c))
        assert frame[:4] == TRANSFORM_PROTOCOL_ID
        if what == "tag":
            frame[10] ^= 1
        elif what == "ciphertext":
            frame[-1] ^= 0x80
        elif what == "session":
            frame[44] ^= 4  # unknown SessionId
        elif what == "flags":
            frame[42] = 2
        elif what == "size":
            struct.pack_into("<I", frame, 36, 0x7FFFFFFF)
        else:
            frame = frame[:40]
        srv = c.transport.server
        assert srv.receive_frame(bytes(frame), NOW) == []
        assert srv.closed
        assert "ENCRYPTED_MESSAGE_REJECTED" in [e[0] for e in events.items] or what == "short"
    finally:
        c.close()


def test_decrypted_message_must_be_smb2_and_same_session(tmp_path):
    ctx, *_ = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, encrypt=True)
    try:
        from lanman.crypto.smb_encryption import encrypt_message

        s = c.conn.session
        srv = c.transport.server
        bogus = b"\xfcSMB" + bytes(80)
        frame = b"".join(
            bytes(p)
            for p in encrypt_message(
                c.conn.cipher, s.encryption_key, s.session_id, s.nonces.next(), [bogus]
            )
        )
        assert srv.receive_frame(frame, NOW) == [] and srv.closed
    finally:
        c.close()


def test_server_nonces_unique_and_from_context(tmp_path):
    ctx, *_ = _ctx(tmp_path)
    ctx.random_bytes = lambda n: b"\x11" * n
    seen: list[bytes] = []

    def grab(data: bytearray, _i: int) -> None:
        if data[:4] == TRANSFORM_PROTOCOL_ID:
            seen.append(bytes(data[20:36]))

    c = connect(ctx, dialect=0x0311, encrypt=True, mutate=grab)
    try:
        for i in range(20):
            c.echo()
        _round_trip(c, tmp_path, size=100_000)
    finally:
        c.close()
    assert len(seen) > 20 and len(set(seen)) == len(seen)
    assert all(n.startswith(b"\x11" * 4) and n[12:] == bytes(4) for n in seen)


@pytest.mark.parametrize("share", ["secure", "data"])
def test_oplock_break_encrypted_on_encrypted_share(tmp_path, share):
    """MS-SMB2 3.3.4.6: an oplock break for an open on an encrypted share is encrypted with
    the open's session; elsewhere it stays a plain SMB2 message (SessionId 0)."""
    ctx, *_ = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, share=share)
    try:
        (tmp_path / ("secure" if share == "secure" else "share") / "o.txt").write_bytes(b"x")
        r = c._open("o.txt", 0x00120089, 1)
        srv = c.transport.server
        srv.send_oplock_break(r.file_id, 0)
        _check_break_protection(c, encrypted=share == "secure")
    finally:
        c.close()


def _check_break_protection(c, *, encrypted: bool) -> None:
    """The one break the server queued: a TRANSFORM frame the client decrypts and verifies,
    or a plain SMB2 message."""
    srv = c.transport.server
    out, srv._outbox = srv._outbox, []
    frame = b"".join(bytes(p) for p in out[0])
    if encrypted:
        assert frame[:4] == TRANSFORM_PROTOCOL_ID
        inc = c.conn.receive(frame)
        assert inc[0].command == Command.OPLOCK_BREAK and inc[0].verified
    else:
        assert frame[:4] == b"\xfeSMB"


@pytest.mark.parametrize("share", ["secure", "data"])
def test_lease_break_without_an_open_here_is_encrypted_beside_an_encrypted_share(tmp_path, share):
    """MS-SMB2 3.3.4.7: a lease break reaching a connection that holds no open under the
    lease (FileId unknown here) is still encrypted when a session on it encrypts; beside
    unencrypted trees only it stays a plain SMB2 message."""
    from lanman.smb.wire.lease import pack_lease_break

    ctx, *_ = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, share=share)
    try:
        srv = c.transport.server
        srv._send_break(
            pack_lease_break(b"K" * 16, 7, 1, ack_required=True, new_epoch=2), bytes(16)
        )
        _check_break_protection(c, encrypted=share == "secure")
    finally:
        c.close()


@pytest.mark.parametrize("cipher", ["AES_128_GCM", "AES_256_CCM"])
def test_mutated_transform_frames_never_crash(tmp_path, cipher):
    """Seeded random mutations (bit flips, truncation, extension, header field rewrites) of a
    valid encrypted frame: the server closes the connection and raises nothing."""
    import random

    rng = random.Random(11)
    ctx, *_ = _ctx(tmp_path, encryption_ciphers=(int(CipherId[cipher]),))
    c = connect(ctx, dialect=0x0311, encrypt=True)
    try:
        good = _encrypted_frame(c)
        sid = c.conn.session.session_id
        for i in range(150):
            frame = bytearray(good)
            op = i % 5
            if op == 0:
                for _ in range(rng.randint(1, 4)):
                    frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
            elif op == 1:
                del frame[rng.randrange(4, len(frame)) :]
            elif op == 2:
                frame += bytes(rng.randrange(1, 200))
            elif op == 3:
                struct.pack_into("<I", frame, 36, rng.randrange(0, 1 << 32))
            else:
                struct.pack_into("<Q", frame, 44, rng.choice([0, sid ^ 1, 1 << 63]))
            srv = c.transport.server
            saved = (srv.closed, srv.window)
            assert srv.receive_frame(bytes(frame), NOW) == []
            assert srv.closed
            srv.closed = False  # the same core again for the next case
            srv.window = saved[1]
    finally:
        c.close()


def test_encrypted_request_after_logoff_gets_session_deleted(tmp_path):
    """A request encrypted with the key of a session that just logged off is answered
    STATUS_USER_SESSION_DELETED, encrypted with that key (smbtorture smb2.connect with
    --client-protection=encrypt); an unknown SessionId still disconnects."""
    from lanman.crypto.smb_encryption import decrypt_message

    ctx, *_ = _ctx(tmp_path)
    c = connect(ctx, dialect=0x0311, encrypt=True)
    try:
        frame = _encrypted_frame(c)  # ECHO, built before LOGOFF
        s = c.conn.session
        key, cipher = s.decryption_key, c.conn.cipher
        c.logoff()
        srv = c.transport.server
        out = srv.receive_frame(frame, NOW)
        assert not srv.closed and len(out) == 1
        reply = b"".join(bytes(p) for p in out[0])
        assert reply[:4] == TRANSFORM_PROTOCOL_ID
        _th, plain = decrypt_message(cipher, key, reply, max_size=1 << 20)
        assert struct.unpack_from("<I", plain, 8)[0] == nts.STATUS_USER_SESSION_DELETED
    finally:
        c.close()
