"""lanman's SMB client core driven against the in-process lanman ServerConnection (no sockets).

Covers every dialect, multi-credit large I/O, the policy scenarios of docs/SOURCES.md signing §5
(guest blocked 1272, guest + signing 0xC05D0003, server will not sign 0xC000A000), tampered
and unsigned responses (discarded -> STATUS_INVALID_SIGNATURE) and the client events.
"""

from __future__ import annotations

import collections
import os
import struct
from collections.abc import Callable

import pytest
from smb_harness import NOW, PASSWORD, USER, Share, make_context, track, untrack

from lanman.errors import ntstatus as nts
from lanman.errors.explain import FAILURES, explain
from lanman.errors.win32 import from_ntstatus, lookup
from lanman.smb.client import (
    ALL_DIALECTS,
    SmbClient,
    SmbClientError,
    parse_dialect,
)
from lanman.smb.client.connection import ClientConnection
from lanman.smb.server.connection import ServerConnection
from lanman.smb.wire.constants import Command

DIALECTS = {"2.0.2": 0x0202, "2.1": 0x0210, "3.0": 0x0300, "3.0.2": 0x0302, "3.1.1": 0x0311}

Mutator = Callable[[bytearray, int], None]  # (response PDU frame, index of response) -> edit


class InProcessTransport:
    """Client transport feeding a ServerConnection in process; ``mutate`` edits responses
    (a tampering "network") before the client sees them."""

    def __init__(self, ctx, mutate: Mutator | None = None) -> None:
        self.server = ServerConnection(ctx, "192.0.2.20:50000")
        self.queue: collections.deque[bytearray] = collections.deque()
        self.mutate = mutate
        self.count = 0
        self.sent: list[bytes] = []
        self.closed = False
        track(self)  # closed after the test if the client never closes its transport

    def send(self, parts) -> None:
        frame = b"".join(bytes(p) for p in parts)
        self.sent.append(frame)
        for bufs in self.server.receive_frame(frame, NOW):
            data = bytearray(b"".join(bytes(b) for b in bufs))
            if self.mutate is not None:
                self.mutate(data, self.count)
            self.count += 1
            self.queue.append(data)

    def recv(self) -> bytearray:
        if not self.queue:
            raise SmbClientError(nts.STATUS_IO_TIMEOUT, "no response queued")
        return self.queue.popleft()

    def close(self) -> None:
        """The transport is gone: the server side releases its opens (as on a TCP close)."""
        self.closed = True
        untrack(self)
        self.server.connection_lost()


class EventSink:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []

    def __call__(self, name: str, fields: dict) -> None:
        self.items.append((name, fields))

    def names(self) -> list[str]:
        return [n for n, _ in self.items]


def connect(
    ctx,
    *,
    dialect: int | None = 0x0311,
    user: str = USER,
    password: str = PASSWORD,
    share: str | None = "data",
    mutate: Mutator | None = None,
    events=None,
    **kw,
) -> SmbClient:
    t = InProcessTransport(ctx, mutate)
    kw.setdefault("require_signing", True)
    kw.setdefault("allow_insecure_guest", False)
    return SmbClient.connect(
        "lanman",
        445,
        user,
        password,
        share=share,
        dialects=(dialect,) if dialect else ALL_DIALECTS,
        transport=t,
        events=events,
        now_filetime=NOW,
        **kw,
    )


# ---- every dialect ------------------------------------------------------------------------


@pytest.mark.parametrize("label", list(DIALECTS))
@pytest.mark.parametrize("require", [True, False])
def test_file_operations_every_dialect(tmp_path, label, require):
    ctx, _events, share_dir = make_context(tmp_path, require_message_signing=False)
    c = connect(ctx, dialect=DIALECTS[label], require_signing=require)
    info = c.connection_info()
    assert info.dialect == label
    assert info.signed is require
    assert not info.is_guest
    if require:
        assert (
            info.signing_algorithm
            == {
                "2.0.2": "HMAC-SHA256",
                "2.1": "HMAC-SHA256",
                "3.0": "AES-CMAC",
                "3.0.2": "AES-CMAC",
                "3.1.1": "AES-GMAC",
            }[label]
        )
    src = tmp_path / "src.bin"
    payload = os.urandom(300_000)
    src.write_bytes(payload)
    c.mkdir("dir")
    assert c.put(src, "dir/a.bin") == len(payload)
    assert (share_dir / "dir" / "a.bin").read_bytes() == payload
    st = c.stat("dir/a.bin")
    assert st.size == len(payload) and not st.is_dir
    names = {e.name for e in c.listdir("dir")}
    assert {"a.bin"} <= names
    c.rename("dir/a.bin", "dir/b.bin")
    dst = tmp_path / "dst.bin"
    assert c.get("dir/b.bin", dst) == len(payload)
    assert dst.read_bytes() == payload
    c.remove("dir/b.bin")
    c.rmdir("dir")
    assert not (share_dir / "dir").exists()
    with pytest.raises(SmbClientError) as ei:
        c.stat("missing.txt")
    assert ei.value.status == nts.STATUS_OBJECT_NAME_NOT_FOUND
    c.close()


def test_negotiate_all_dialects_picks_311_with_gmac(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    c = connect(ctx, dialect=None)
    assert c.conn.dialect == 0x0311
    assert c.connection_info().signing_algorithm == "AES-GMAC"
    c.close()


def test_server_requires_signing_client_does_not(tmp_path):
    """Either side requiring -> signed (smb2_signing_outcome)."""
    ctx, _, _ = make_context(tmp_path, require_message_signing=True)
    c = connect(ctx, dialect=0x0302, require_signing=False)
    assert c.conn.require_signing_server
    assert c.connection_info().signed
    c.listdir("")
    c.close()


def test_neither_requires_signing_is_unsigned(tmp_path):
    ctx, _, _ = make_context(tmp_path, require_message_signing=False)
    c = connect(ctx, dialect=0x0210, require_signing=False)
    assert not c.connection_info().signed
    t = c.transport
    c.listdir("")
    flags = struct.unpack_from("<I", t.sent[-1], 16)[0]
    assert not flags & 0x8  # CLOSE went unsigned
    c.close()


def test_311_tree_connect_always_signed(tmp_path):
    ctx, _, _ = make_context(tmp_path, require_message_signing=False)
    t = InProcessTransport(ctx)
    c = SmbClient.connect(
        "lanman",
        445,
        USER,
        PASSWORD,
        share="data",
        dialects=(0x0311,),
        transport=t,
        require_signing=False,
        allow_insecure_guest=False,
        now_filetime=NOW,
    )
    tc = [f for f in t.sent if struct.unpack_from("<H", f, 12)[0] == Command.TREE_CONNECT]
    assert struct.unpack_from("<I", tc[0], 16)[0] & 0x8
    c.close()


def test_large_io_multi_credit(tmp_path):
    ctx, _, share_dir = make_context(tmp_path)
    c = connect(ctx)
    assert c.conn.multi_credit and c.conn.read_chunk > 65536
    data = os.urandom(5 * 1024 * 1024 + 17)
    src = tmp_path / "big"
    src.write_bytes(data)
    c.put(src, "big")
    assert (share_dir / "big").read_bytes() == data
    c.get("big", tmp_path / "big2")
    assert (tmp_path / "big2").read_bytes() == data
    c.close()


def test_validate_negotiate_sent_at_30(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    t = InProcessTransport(ctx)
    c = SmbClient.connect(
        "lanman",
        445,
        USER,
        PASSWORD,
        share="data",
        dialects=(0x0300,),
        transport=t,
        require_signing=True,
        allow_insecure_guest=False,
        now_filetime=NOW,
    )
    ioctls = [f for f in t.sent if struct.unpack_from("<H", f, 12)[0] == Command.IOCTL]
    assert len(ioctls) == 1 and struct.unpack_from("<I", ioctls[0], 16)[0] & 0x8
    assert c._validated
    c.close()


def test_bad_password(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, password="wrong")
    assert ei.value.status == nts.STATUS_LOGON_FAILURE
    assert ei.value.win32.value == 1326


def test_bad_share(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, share="nosuch")
    assert ei.value.status == nts.STATUS_BAD_NETWORK_NAME


# ---- tampering ----------------------------------------------------------------------------


def _flip_in_response(command: int, offset: int) -> Mutator:
    def mutate(frame: bytearray, _i: int) -> None:
        if struct.unpack_from("<H", frame, 12)[0] == command:
            frame[offset] ^= 0x01

    return mutate


@pytest.mark.parametrize("label", list(DIALECTS))
def test_tampered_signed_response_is_discarded(tmp_path, label):
    """A bit flipped in a signed QUERY_DIRECTORY response -> STATUS_INVALID_SIGNATURE."""
    ctx, _, share_dir = make_context(tmp_path)
    (share_dir / "x.txt").write_bytes(b"x")
    events = EventSink()
    c = connect(
        ctx,
        dialect=DIALECTS[label],
        events=events,
        mutate=_flip_in_response(Command.QUERY_DIRECTORY, 64 + 8 + 10),
    )
    with pytest.raises(SmbClientError) as ei:
        c.listdir("")
    e = ei.value
    assert e.status == 0xC000A000 and e.key == "bad_signature"
    assert e.lines()[0] == (
        "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE The cryptographic signature is invalid."
    )
    assert c.conn.discarded == 1
    assert "CLIENT_RESPONSE_SIGNATURE_INVALID" in events.names()


def test_tampered_final_session_setup(tmp_path):
    def mutate(frame, _i):
        if (
            struct.unpack_from("<H", frame, 12)[0] == Command.SESSION_SETUP
            and struct.unpack_from("<I", frame, 8)[0] == 0
        ):
            frame[62] ^= 0x80  # inside the signature

    ctx, _, _ = make_context(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, mutate=mutate)
    assert ei.value.status == nts.STATUS_INVALID_SIGNATURE


def _strip_signatures(frame: bytearray, _i: int) -> None:
    """A server that will not sign: clear SIGNED and the signature on every response."""
    flags = struct.unpack_from("<I", frame, 16)[0]
    struct.pack_into("<I", frame, 16, flags & ~0x8)
    frame[48:64] = bytes(16)


@pytest.mark.parametrize("label", list(DIALECTS))
def test_client_requires_signing_server_will_not_sign(tmp_path, label):
    """docs/SOURCES.md signing §5: 0xC000A000 -1073700864 STATUS_INVALID_SIGNATURE; event 31998."""
    ctx, _, _ = make_context(tmp_path, require_message_signing=False)
    events = EventSink()
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, dialect=DIALECTS[label], mutate=_strip_signatures, events=events)
    e = ei.value
    assert e.status == 0xC000A000
    assert e.key == "server_will_not_sign"
    text = "\n".join(e.lines())
    assert (
        "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE The cryptographic signature "
        "is invalid." in text
    )
    assert "server signing = mandatory" in text
    assert "Set-SmbServerConfiguration -RequireSecuritySignature $true" in text
    assert "RequireSecuritySignature" in text and "Group Policy" in text
    assert "CLIENT_SERVER_DOES_NOT_SUPPORT_SIGNING" in events.names()


def test_unsigned_response_later_in_session(tmp_path):
    """Signing-required session, the server stops signing after SESSION_SETUP."""

    def mutate(frame, _i):
        if struct.unpack_from("<H", frame, 12)[0] == Command.CREATE:
            _strip_signatures(frame, _i)

    ctx, _, _ = make_context(tmp_path)
    c = connect(ctx, dialect=0x0311, mutate=mutate)
    with pytest.raises(SmbClientError) as ei:
        c.stat("")
    assert ei.value.status == nts.STATUS_INVALID_SIGNATURE


def test_neither_requires_unsigned_server_ok_at_2x(tmp_path):
    """Both permissive at 2.1: an unsigned final SESSION_SETUP is accepted."""
    ctx, _, _ = make_context(tmp_path, require_message_signing=False)
    c = connect(ctx, dialect=0x0210, require_signing=False, mutate=_strip_signatures)
    c.listdir("")
    c.close()


# ---- guest --------------------------------------------------------------------------------


def _guest_ctx(tmp_path):
    pub = tmp_path / "pub"
    pub.mkdir()
    (pub / "hello.txt").write_bytes(b"hi")
    return make_context(
        tmp_path,
        shares=[Share("pub", str(pub), guest_ok=True)],
        require_message_signing=False,
        map_to_guest=True,
    )


def test_guest_blocked_insecure_guest_disabled(tmp_path):
    ctx, _, _ = _guest_ctx(tmp_path)
    events = EventSink()
    with pytest.raises(SmbClientError) as ei:
        connect(
            ctx,
            user="nobody",
            password="x",
            share="pub",
            require_signing=False,
            allow_insecure_guest=False,
            events=events,
        )
    e = ei.value
    assert e.win32.value == 1272 and e.win32.name == "ERROR_SMB_GUEST_LOGON_BLOCKED"
    text = "\n".join(e.lines())
    assert "organization's security policies block unauthenticated guest access" in text
    assert "0x80070035 The network path was not found." in text
    assert "AllowInsecureGuestAuth" in text and "EnableInsecureGuestLogons $true" in text
    assert events.names() == ["CLIENT_REJECTED_INSECURE_GUEST_LOGON"]


def test_guest_blocked_signing_required(tmp_path):
    ctx, _, _ = _guest_ctx(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(
            ctx,
            user="nobody",
            password="x",
            share="pub",
            require_signing=True,
            allow_insecure_guest=True,
        )
    e = ei.value
    assert e.win32.value == 0xC05D0003  # net use: 3227320323
    assert e.win32.name == "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED"
    assert e.lines()[0] == "System error 3227320323 has occurred."
    assert e.status == nts.STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED


@pytest.mark.parametrize("label", list(DIALECTS))
def test_guest_allowed_when_both_permissive(tmp_path, label):
    ctx, _, _ = _guest_ctx(tmp_path)
    events = EventSink()
    c = connect(
        ctx,
        dialect=DIALECTS[label],
        user="nobody",
        password="x",
        share="pub",
        require_signing=False,
        allow_insecure_guest=True,
        events=events,
    )
    info = c.connection_info()
    assert info.is_guest and not info.signed and info.user_name == "Guest"
    assert [e.name for e in c.listdir("")] and c.read_bytes("hello.txt") == b"hi"
    assert "CLIENT_ALLOWED_INSECURE_GUEST_LOGON" in events.names()
    c.close()


def test_anonymous_is_judged_like_guest(tmp_path):
    ctx, _, _ = _guest_ctx(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(
            ctx, user="", password="", share=None, require_signing=False, allow_insecure_guest=False
        )
    assert ei.value.win32.value == 1272
    c = connect(
        ctx, user="", password="", share=None, require_signing=False, allow_insecure_guest=True
    )
    assert c.connection_info().is_anonymous
    c.close()


# ---- tables and helpers -------------------------------------------------------------------


def test_error_tables():
    assert lookup(0xC05D0003).name == "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED"
    assert lookup(1240).message == "The account is not authorized to log in from this station."
    assert lookup(0x80070035).message == "The network path was not found."
    assert from_ntstatus(nts.STATUS_INVALID_SIGNATURE) is None
    assert from_ntstatus(nts.STATUS_SMB_GUEST_LOGON_BLOCKED).value == 1272
    assert nts.lookup(0xC000A000).signed == -1073700864
    for key, ex in FAILURES.items():
        assert ex.shown and ex.cause and ex.remedies, key
    assert explain(nts.STATUS_LOGON_FAILURE).key == "logon_failure"
    assert explain("smb1_wksta_restriction").shown[0] == "System error 1240 has occurred."


def test_parse_dialect():
    assert parse_dialect("2.0.2") == 0x0202
    assert parse_dialect("2.1") == 0x0210
    assert parse_dialect("3.0") == 0x0300
    assert parse_dialect("3.0.2") == 0x0302
    assert parse_dialect("SMB3_11") == 0x0311
    with pytest.raises(ValueError):
        parse_dialect("1.0")


def test_core_rejects_unoffered_dialect(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    c = ClientConnection(dialects=(0x0311,))
    out = c.negotiate()
    server = track(ServerConnection(ctx, "192.0.2.1:1"))
    frames = server.receive_frame(out.data, NOW)
    data = bytearray(b"".join(bytes(b) for b in frames[0]))
    struct.pack_into("<H", data, 64 + 4, 0x0210)  # DialectRevision
    (inc,) = c.receive(data)
    with pytest.raises(SmbClientError) as ei:
        c.on_negotiate(inc)
    assert ei.value.status == nts.STATUS_INVALID_NETWORK_RESPONSE
