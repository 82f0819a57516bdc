"""In-process SMB2/3 test harness: a tiny sans-IO client built from lanman's own codecs.

No sockets: every request is packed with the wire codecs in ``lanman.smb.wire``, handed to
``ServerConnection.receive_frame`` and the returned frames are split and parsed again.
The client does what a real redirector must do and nothing more:

* MessageIds and credits: ``next_mid`` is the next id to use, ``high`` the first id the
  server has *not* granted; every response adds its CreditResponse to ``high``. Large
  READ/WRITE/IOCTL requests are charged ``ceil(size / 64 KiB)`` credits (dialect >= 2.1).
* Signing: requests are signed with ``compute_signature`` (SIGNED flag set, signature
  zeroed) using the session's derived signing key and the negotiated algorithm; responses
  are verified with ``verify_pdu``.
* 3.1.1 pre-auth integrity: the connection hash covers NEGOTIATE request/response; the
  session hash continues with every SESSION_SETUP request and every MORE_PROCESSING
  response; the signing key is derived from the hash after the last request.

Typical use::

    ctx, events, share_dir = make_context(tmp_path)
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    c.session_setup("alice", "Secret123!")
    tid = c.tree_connect("data")
    fid = c.create(tid, "f.txt")
    c.write(tid, fid, 0, b"hello")
    assert c.read(tid, fid, 0, 5) == b"hello"
    c.close_file(tid, fid)
    c.close()  # or ``with SmbTestClient(ctx) as c:``

Every call that talks to the server returns :class:`Response` objects (``status``,
``header``, ``pdu``, ``signed``) or raises :class:`SmbError` for the ``check=True`` helpers;
``c.conn`` is the ``ServerConnection`` under test.

Every client registers itself (:func:`track`) until :meth:`SmbTestClient.close`; the autouse
fixture in ``tests/conftest.py`` closes whatever a test left open (:func:`close_live_since`),
so no test leaks the descriptors of its server-side opens. Tests that drive a
``ServerConnection`` directly wrap it in :func:`track` too.
"""

from __future__ import annotations

import itertools
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar

from lanman.auth.ntlm import AuthenticateMessage, NegotiateFlags, NtlmInitiator
from lanman.auth.spnego import NegTokenResp, SpnegoInitiator
from lanman.crypto.md4 import nt_hash
from lanman.crypto.smb_signing import (
    SigningAlgorithm,
    compute_signature,
    derive_keys,
    preauth_hash_update,
    verify_pdu,
)
from lanman.errors import ntstatus as nts
from lanman.smb.server.connection import ServerConnection
from lanman.smb.server.state import ServerContext, ServerSettings
from lanman.smb.wire import negotiate as neg
from lanman.smb.wire._buf import pad8
from lanman.smb.wire.constants import (
    FILE_ALL_ACCESS,
    FILE_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FSCTL_VALIDATE_NEGOTIATE_INFO,
    HASH_SHA_512,
    SMB2_0_IOCTL_IS_FSCTL,
    SMB2_HEADER_SIZE,
    Command,
    HeaderFlags,
    NegotiateContextType,
    SecurityMode,
    SessionFlags,
)
from lanman.smb.wire.create import CloseRequest, CreateRequest, CreateResponse
from lanman.smb.wire.header import SIGNATURE_OFFSET, Smb2Header
from lanman.smb.wire.io import ReadRequest, WriteRequest, unpack_read_response
from lanman.smb.wire.query import IoctlRequest
from lanman.smb.wire.session import (
    SessionSetupRequest,
    SessionSetupResponse,
    TreeConnectRequest,
    TreeConnectResponse,
    empty_body,
)

USER = "alice"
PASSWORD = "Secret123!"
NOW = 133_500_000_000_000_000  # a fixed FILETIME (2024) for every receive_frame call
CLIENT_ADDRESS = "192.0.2.10:49152"
ALL_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
GMAC, CMAC, HMAC = (
    SigningAlgorithm.AES_GMAC,
    SigningAlgorithm.AES_CMAC,
    SigningAlgorithm.HMAC_SHA256,
)
SIGNING_ENABLED = int(SecurityMode.SIGNING_ENABLED)
SIGNING_REQUIRED = int(SecurityMode.SIGNING_ENABLED | SecurityMode.SIGNING_REQUIRED)
FILE_SHARE_ALL = 0x7
CHUNK = 65536
T = TypeVar("T")

# Statuses used throughout the tests.
STATUS_SUCCESS = nts.STATUS_SUCCESS
STATUS_PENDING = nts.STATUS_PENDING
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_CANCELLED = 0xC0000120
STATUS_NOTIFY_CLEANUP = 0x0000010B
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A


# ---- server side fixtures ---------------------------------------------------------------


@dataclass
class Share:
    """What ``ServerContext.get_share`` returns (the ``ShareRecord`` protocol)."""

    name: str
    path: str
    read_only: bool = False
    guest_ok: bool = False
    remark: str = ""
    encrypt_data: bool = False
    security_descriptor: bytes | None = None  # share permissions (None: Everyone Full)


@dataclass
class Events:
    """Event sink: ``ctx.emit_event(name, **fields)`` appends ``(name, fields)``."""

    items: list[tuple[str, dict]] = field(default_factory=list)

    def __call__(self, name: str, **fields) -> None:
        self.items.append((name, fields))

    def named(self, name: str) -> list[dict]:
        return [f for n, f in self.items if n == name]

    def names(self) -> list[str]:
        return [n for n, _ in self.items]


def make_context(
    tmp_path: Path,
    *,
    shares: Sequence[Share] | None = None,
    users: dict[str, str] | None = None,
    **settings,
) -> tuple[ServerContext, Events, Path]:
    """A ServerContext with share ``data`` at ``tmp_path/share`` (plus ``shares``), user
    alice/Secret123! (or ``users``) and an :class:`Events` sink. ``settings`` go to
    :class:`ServerSettings` (e.g. ``require_message_signing=False, map_to_guest=True``)."""
    share_dir = tmp_path / "share"
    share_dir.mkdir(exist_ok=True)
    table = {"data": Share("data", str(share_dir), remark="demo share")}
    for s in shares or ():
        table[s.name.lower()] = s
    hashes = {u.lower(): nt_hash(p) for u, p in (users or {USER: PASSWORD}).items()}
    events = Events()
    settings.setdefault("server_guid", uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8").bytes_le)
    ctx = ServerContext(
        settings=ServerSettings(**settings),
        lookup_nt_hash=lambda name: hashes.get(name.lower()),
        get_share=lambda name: table.get(name.lower()),
        list_shares=lambda: list(table.values()),
        emit_event=events,
    )
    return ctx, events, share_dir


# ---- responses ----------------------------------------------------------------------------


def share_client(tmp_path: Path) -> Iterator[tuple[SmbTestClient, Path]]:
    """A logged-on client with share ``data`` connected (``client.tid``) and a file
    ``f.txt`` in it, for a pytest fixture to ``yield from``; torn down afterwards."""
    ctx, _e, share = make_context(tmp_path)
    (share / "f.txt").write_bytes(b"data")
    with SmbTestClient(ctx) as c:
        assert c.login().status == STATUS_SUCCESS
        c.tid = c.tree_connect("data")
        yield c, share


class SmbError(Exception):
    def __init__(self, response: Response, what: str = "") -> None:
        self.response = response
        self.status = response.status
        super().__init__(
            f"{what or Command(response.header.command).name}: "
            f"0x{response.status:08X} {nts.lookup(response.status).name}"
        )


@dataclass
class Response:
    """One response PDU (a compound's PDUs are split; padding is kept in ``pdu``)."""

    header: Smb2Header
    pdu: bytes

    @property
    def status(self) -> int:
        return self.header.status

    @property
    def command(self) -> int:
        return self.header.command

    @property
    def signed(self) -> bool:
        return self.header.is_signed

    @property
    def is_async(self) -> bool:
        return self.header.is_async


def split_frame(frame: bytes) -> list[Response]:
    out = []
    pos = 0
    while True:
        hdr = Smb2Header.unpack(frame[pos:])
        end = pos + hdr.next_command if hdr.next_command else len(frame)
        out.append(Response(hdr, bytes(frame[pos:end])))
        if not hdr.next_command:
            return out
        pos = end


def smb1_negotiate_frame(dialects: Iterable[str]) -> bytes:
    """SMB_COM_NEGOTIATE (MS-CIFS 2.2.4.52.1) as impacket and old clients send it first."""
    data = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    header = (
        b"\xffSMB"
        + bytes([0x72])
        + struct.pack("<IBHH8sHHHHH", 0, 0x18, 0xC853, 0, b"\x00" * 8, 0, 0, 0xFEFF, 0, 0)
    )
    assert len(header) == 32
    return header + b"\x00" + struct.pack("<H", len(data)) + data


# ---- the client ---------------------------------------------------------------------------


@dataclass
class Pdu:
    """A request before framing: for :meth:`SmbTestClient.compound` and custom sends."""

    command: int
    body: bytes
    tree_id: int | None = None
    session_id: int | None = None
    related: bool = False
    sign: bool | None = None  # None: sign when the session has a key
    credit_charge: int | None = None  # None: computed from ``payload``
    payload: int = 0  # bytes moved, for the credit charge
    credit_request: int = 64
    message_id: int | None = None  # None: next free id
    flags: int = 0
    async_id: int | None = None
    tamper: Callable[[bytearray], None] | None = None  # edits the PDU after signing


# ---- in-process connections a test must not leak ------------------------------------------

# Objects still to be closed (SmbTestClients, ServerConnections, in-process transports)
# -> serial number in creation order.
LIVE: dict[object, int] = {}
_serials = itertools.count()


def track(obj: T) -> T:
    """Register ``obj`` (it has ``close()`` or, a ServerConnection, ``connection_lost()``) to
    be closed by :func:`close_live_since` unless :func:`untrack` ed first; returns it."""
    LIVE[obj] = next(_serials)
    return obj


def untrack(obj: object) -> None:
    LIVE.pop(obj, None)


def live_mark() -> int:
    """A serial number below every object tracked from now on (see close_live_since)."""
    return next(_serials)


def close_live_since(mark: int) -> int:
    """Close every tracked object registered after :func:`live_mark` returned ``mark``,
    newest first; return how many there were. ``tests/conftest.py`` calls this after
    each test."""
    stale = [obj for obj, n in LIVE.items() if n >= mark]
    error: BaseException | None = None
    for obj in reversed(stale):
        untrack(obj)
        closer = getattr(obj, "close", None) or obj.connection_lost
        try:
            closer()
        except Exception as exc:  # noqa: BLE001  (close the others, then report the first)
            error = error or exc
    if error is not None:
        raise error
    return len(stale)


class SmbTestClient:
    """A minimal SMB2/3 client driving one :class:`ServerConnection` in process.

    ``close()`` (or leaving a ``with`` block) tears the server connection down as a lost
    transport does: every open is closed, with its file descriptor."""

    def __init__(
        self, ctx: ServerContext, address: str = CLIENT_ADDRESS, *, client_guid: bytes | None = None
    ) -> None:
        self.ctx = ctx
        self.conn = ServerConnection(ctx, address)
        self.client_guid = client_guid or uuid.uuid4().bytes_le
        self.next_mid = 0
        self.high = 1  # MessageId 0 is granted for NEGOTIATE
        self.dialect: int | None = None
        self.algorithm = HMAC
        self.security_mode = SIGNING_REQUIRED
        self.capabilities = 0
        self.dialects: list[int] = []
        self.negotiate_response: neg.NegotiateResponse | None = None
        self.preauth = b"\x00" * 64
        self.session_id = 0
        self.session_flags = 0
        self.session_key = b""
        self.signing_key = b""
        self.last_sent: list[bytes] = []  # the PDUs of the last frame sent
        self.pending_frames: list[Response] = []  # responses beyond what a call consumed
        track(self)

    def close(self, tree_id: int | None = None, file_id: bytes | None = None) -> None:
        """Without arguments: tear the connection down (idempotent). ``close(tid, fid)`` is
        the old spelling of :meth:`close_file` (SMB2 CLOSE), kept for existing tests."""
        if tree_id is not None or file_id is not None:
            self.close_file(tree_id, file_id)
            return
        untrack(self)
        self.conn.connection_lost()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.conn.closed

    @property
    def multi_credit(self) -> bool:
        return self.dialect is not None and self.dialect not in (0x0202, 0x02FF)

    def send_frame(self, frame: bytes) -> list[Response]:
        """Feed one frame; return every response PDU (all frames) and account credits."""
        out: list[Response] = []
        for bufs in self.conn.receive_frame(bytes(frame), NOW):
            data = b"".join(bytes(b) for b in bufs)
            for r in split_frame(data):
                self.high += r.header.credit
                out.append(r)
        return out

    def charge_for(self, payload: int) -> int:
        if not self.multi_credit:
            return 0
        return max(1, (payload - 1) // CHUNK + 1) if payload else 1

    def build(self, pdus: Sequence[Pdu]) -> bytes:
        """Frame ``pdus`` as one (compound) message, assigning MessageIds and signing."""
        parts: list[bytearray] = []
        for i, p in enumerate(pdus):
            last = i == len(pdus) - 1
            charge = p.credit_charge if p.credit_charge is not None else self.charge_for(p.payload)
            if p.message_id is not None:
                mid = p.message_id
            elif p.command == Command.CANCEL:
                mid = 0
            else:
                mid = self.next_mid
                self.next_mid += max(charge, 1)
                if self.next_mid > self.high:
                    raise AssertionError(
                        f"harness: {max(charge, 1)} credits needed, "
                        f"{self.high - mid} granted (use ensure_credits)"
                    )
            flags = p.flags | (HeaderFlags.RELATED_OPERATIONS if p.related else 0)
            if p.async_id is not None:
                flags |= HeaderFlags.ASYNC_COMMAND
            sign = (
                p.sign
                if p.sign is not None
                else bool(self.signing_key)
                and not (self.session_flags & (SessionFlags.IS_GUEST | SessionFlags.IS_NULL))
                and p.command != Command.NEGOTIATE
            )
            if sign:
                flags |= HeaderFlags.SIGNED
            body = p.body
            pad = 0 if last else pad8(SMB2_HEADER_SIZE + len(body))
            hdr = Smb2Header(
                command=p.command,
                credit_charge=charge,
                credit=p.credit_request,
                flags=flags,
                next_command=0 if last else SMB2_HEADER_SIZE + len(body) + pad,
                message_id=mid,
                tree_id=p.tree_id or 0,
                async_id=p.async_id or 0,
                session_id=self.session_id if p.session_id is None else p.session_id,
            )
            raw = bytearray(hdr.pack()) + body + b"\x00" * pad
            if sign:
                raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
                    self.signing_key,
                    self.algorithm,
                    [bytes(raw)],
                    message_id=mid,
                    is_response=False,
                    is_cancel=p.command == Command.CANCEL,
                )
            if p.tamper is not None:
                p.tamper(raw)
            parts.append(raw)
        self.last_sent = [bytes(p) for p in parts]
        return b"".join(parts)

    def compound(self, pdus: Sequence[Pdu]) -> list[Response]:
        return self.send_frame(self.build(pdus))

    def request(self, command: int, body: bytes, **kw) -> Response:
        """Send one request; return its (final or interim) response."""
        p = Pdu(command, body, **kw)
        mid = p.message_id if p.message_id is not None else self.next_mid
        rs = self.compound([p])
        mine = [r for r in rs if r.header.message_id == mid and r.command == command]
        if not mine:
            raise ConnectionError(
                f"no response (closed={self.closed}, reason={self.conn.disconnect_reason!r})"
            )
        self.pending_frames.extend(r for r in rs if r is not mine[0])
        return mine[0]

    @property
    def available(self) -> int:
        """Credits (MessageIds) the client may still use."""
        return self.high - self.next_mid

    def ensure_credits(self, n: int) -> None:
        """Send ECHOs asking for credits until ``n`` MessageIds are available."""
        for _ in range(64):
            if self.available >= n:
                return
            self.check(self.echo(credit_request=min(512, n)))
        raise AssertionError(f"server never granted {n} credits")

    def verify(self, r: Response, key: bytes | None = None) -> bool:
        """True when ``r`` carries a valid signature made with ``key`` (the session key)."""
        return r.signed and verify_pdu(
            [r.pdu], key or self.signing_key, self.algorithm, is_response=True
        )

    @staticmethod
    def check(r: Response, *ok: int) -> Response:
        if r.status not in (ok or (STATUS_SUCCESS,)):
            raise SmbError(r)
        return r

    # -- NEGOTIATE --------------------------------------------------------------------------

    def negotiate_body(
        self,
        dialects: Sequence[int],
        *,
        security_mode: int = SIGNING_REQUIRED,
        signing_algorithms: Sequence[int] | None = (GMAC, CMAC, HMAC),
        capabilities: int = 0x64,
        extra_contexts: Sequence = (),
    ) -> bytes:
        contexts = []
        if 0x0311 in dialects:
            contexts.append(neg.preauth_context([HASH_SHA_512], os.urandom(32)))
            if signing_algorithms:
                contexts.append(
                    neg.id_list_context(
                        NegotiateContextType.SIGNING_CAPABILITIES, list(signing_algorithms)
                    )
                )
            contexts.extend(extra_contexts)
        return neg.NegotiateRequest(
            list(dialects), security_mode, capabilities, self.client_guid, contexts
        ).pack()

    def negotiate(
        self,
        dialects: Sequence[int] = ALL_DIALECTS,
        *,
        security_mode: int = SIGNING_REQUIRED,
        signing_algorithms: Sequence[int] | None = (GMAC, CMAC, HMAC),
        capabilities: int = 0x64,
        check: bool = True,
    ) -> Response:
        body = self.negotiate_body(
            dialects,
            security_mode=security_mode,
            signing_algorithms=signing_algorithms,
            capabilities=capabilities,
        )
        self.security_mode, self.capabilities = security_mode, capabilities
        self.dialects = list(dialects)
        r = self.request(Command.NEGOTIATE, body, session_id=0, sign=False)
        if r.status != STATUS_SUCCESS:
            if check:
                raise SmbError(r)
            return r
        resp = neg.NegotiateResponse.unpack(r.pdu)
        self.negotiate_response = resp
        self.dialect = resp.dialect_revision
        self.algorithm = HMAC if self.dialect < 0x0300 else CMAC
        if self.dialect == 0x0311:
            self.algorithm = CMAC
            for c in resp.contexts:
                if c.context_type == NegotiateContextType.SIGNING_CAPABILITIES:
                    (alg,) = neg.parse_id_list_context(c.data)
                    self.algorithm = SigningAlgorithm(alg)
            self.preauth = preauth_hash_update(
                preauth_hash_update(b"\x00" * 64, self.last_sent[0]), r.pdu
            )
        return r

    # -- SESSION_SETUP ----------------------------------------------------------------------

    def _setup_round(self, token: bytes, hashes: list | None) -> Response:
        body = SessionSetupRequest(
            token, security_mode=self.security_mode & 0xFF, capabilities=0
        ).pack()
        r = self.request(Command.SESSION_SETUP, body, sign=False)
        if hashes is not None:
            hashes.append(self.last_sent[0])
            if r.status == STATUS_MORE_PROCESSING_REQUIRED:
                hashes.append(r.pdu)
        return r

    def session_setup(
        self,
        user: str = USER,
        password: str = PASSWORD,
        domain: str = "",
        *,
        anonymous: bool = False,
        check: bool = True,
    ) -> Response:
        """Run SPNEGO/NTLMv2 to completion; derive the signing key of a real user.

        Returns the final response (SUCCESS or the failure). ``session_flags`` holds the
        returned SessionFlags; for guest/anonymous sessions no key is derived.
        """
        self.session_id = 0
        self.signing_key = b""
        self.session_flags = 0
        ntlm = NtlmInitiator(
            user or "anonymous", password or "x", domain, workstation="HARNESS", now_filetime=NOW
        )
        spnego = SpnegoInitiator(ntlm)
        hashes: list | None = [] if self.dialect == 0x0311 else None
        r = self._setup_round(spnego.step(self.negotiate_response.security_buffer), hashes)
        if r.status != STATUS_MORE_PROCESSING_REQUIRED:
            if check:
                raise SmbError(r, "SESSION_SETUP 1")
            return r
        self.session_id = r.header.session_id
        server_token = SessionSetupResponse.unpack(r.pdu).security_buffer
        if anonymous:
            token = self.anonymous_token()
        else:
            token = spnego.step(server_token)
        r = self._setup_round(token, hashes)
        if r.status != STATUS_SUCCESS:
            if check:
                raise SmbError(r, "SESSION_SETUP 2")
            return r
        resp = SessionSetupResponse.unpack(r.pdu)
        self.session_flags = resp.session_flags
        if resp.session_flags & (SessionFlags.IS_GUEST | SessionFlags.IS_NULL):
            return r
        spnego.step(resp.security_buffer)  # checks the server's mechListMIC
        h = None
        if self.dialect == 0x0311:
            h = self.preauth
            for m in hashes:
                h = preauth_hash_update(h, m)
            # the final SUCCESS response is not part of the hash
        keys = derive_keys(ntlm.session_key, self.dialect, h)
        self.session_key = keys.session_key
        self.signing_key = keys.signing_key
        return r

    @staticmethod
    def anonymous_token() -> bytes:
        """NTLM AUTHENTICATE with empty user and responses (MS-NLMP 3.2.5.1.2), in SPNEGO."""
        flags = (
            int(
                NegotiateFlags.UNICODE
                | NegotiateFlags.NTLM
                | NegotiateFlags.EXTENDED_SESSIONSECURITY
                | NegotiateFlags.ANONYMOUS
            )
            if hasattr(NegotiateFlags, "ANONYMOUS")
            else int(NegotiateFlags.UNICODE | NegotiateFlags.NTLM)
        )
        auth = AuthenticateMessage(
            flags=flags, lm_response=b"\x00", nt_response=b"", workstation="HARNESS"
        ).encode()
        return NegTokenResp(response_token=auth).encode()

    def negotiate_smb1(self, dialects: Sequence[str]) -> list[Response]:
        """SMB1 multi-protocol NEGOTIATE (uses MessageId 0); the SMB2 answer follows."""
        self.next_mid = 1
        rs = self.send_frame(smb1_negotiate_frame(dialects))
        if rs:
            self.negotiate_response = neg.NegotiateResponse.unpack(rs[0].pdu)
            self.dialect = self.negotiate_response.dialect_revision
        return rs

    def login(
        self,
        dialect: int = 0x0311,
        *,
        user: str = USER,
        password: str = PASSWORD,
        security_mode: int = SIGNING_REQUIRED,
        signing_algorithms: Sequence[int] | None = (GMAC, CMAC, HMAC),
    ) -> Response:
        self.negotiate(
            [dialect], security_mode=security_mode, signing_algorithms=signing_algorithms
        )
        return self.session_setup(user, password)

    # -- tree / file operations -----------------------------------------------------------

    def tree_connect_raw(self, share: str, **kw) -> Response:
        body = TreeConnectRequest(f"\\\\LANMAN\\{share}").pack()
        return self.request(Command.TREE_CONNECT, body, **kw)

    def tree_connect(self, share: str = "data", **kw) -> int:
        r = self.check(self.tree_connect_raw(share, **kw))
        TreeConnectResponse.unpack(r.pdu)
        return r.header.tree_id

    @staticmethod
    def create_body(
        name: str,
        *,
        access: int = FILE_ALL_ACCESS,
        disposition: int = FILE_OPEN_IF,
        options: int = 0,
        attributes: int = 0x80,
    ) -> bytes:
        return CreateRequest(name, access, attributes, FILE_SHARE_ALL, disposition, options).pack()

    def create_raw(self, tree_id: int, name: str, **kw) -> Response:
        opts = {k: kw.pop(k) for k in ("access", "disposition", "options", "attributes") if k in kw}
        return self.request(Command.CREATE, self.create_body(name, **opts), tree_id=tree_id, **kw)

    def create(self, tree_id: int, name: str, **kw) -> bytes:
        r = self.check(self.create_raw(tree_id, name, **kw))
        return CreateResponse.unpack(r.pdu).file_id

    def open_dir(self, tree_id: int, name: str = "") -> bytes:
        return self.create(
            tree_id, name, disposition=FILE_OPEN, options=FILE_DIRECTORY_FILE, attributes=0x10
        )

    @staticmethod
    def write_body(file_id: bytes, offset: int, data: bytes) -> bytes:
        return WriteRequest(file_id, offset, data).pack()

    def write_raw(self, tree_id: int, file_id: bytes, offset: int, data: bytes, **kw) -> Response:
        kw.setdefault("payload", len(data))
        return self.request(
            Command.WRITE, self.write_body(file_id, offset, data), tree_id=tree_id, **kw
        )

    def write(self, tree_id: int, file_id: bytes, offset: int, data: bytes) -> int:
        r = self.check(self.write_raw(tree_id, file_id, offset, data))
        return struct.unpack_from("<I", r.pdu, 64 + 4)[0]

    def read_raw(self, tree_id: int, file_id: bytes, offset: int, length: int, **kw) -> Response:
        kw.setdefault("payload", length)
        return self.request(
            Command.READ, ReadRequest(file_id, length, offset).pack(), tree_id=tree_id, **kw
        )

    def read(self, tree_id: int, file_id: bytes, offset: int, length: int) -> bytes:
        r = self.check(self.read_raw(tree_id, file_id, offset, length))
        return bytes(unpack_read_response(r.pdu))

    def close_raw(self, tree_id: int, file_id: bytes, **kw) -> Response:
        return self.request(Command.CLOSE, CloseRequest(file_id).pack(), tree_id=tree_id, **kw)

    def close_file(self, tree_id: int, file_id: bytes) -> None:
        self.check(self.close_raw(tree_id, file_id))

    def echo(self, **kw) -> Response:
        return self.request(Command.ECHO, empty_body(4), **kw)

    def ioctl_raw(
        self, tree_id: int, ctl_code: int, file_id: bytes, data: bytes, max_output: int = 1024, **kw
    ) -> Response:
        body = IoctlRequest(ctl_code, file_id, data, 0, max_output, SMB2_0_IOCTL_IS_FSCTL).pack()
        kw.setdefault("payload", max(len(data), max_output))
        return self.request(Command.IOCTL, body, tree_id=tree_id, **kw)

    def validate_negotiate(
        self,
        tree_id: int,
        *,
        capabilities: int | None = None,
        guid: bytes | None = None,
        security_mode: int | None = None,
        dialects: Sequence[int] | None = None,
        **kw,
    ) -> Response:
        """FSCTL_VALIDATE_NEGOTIATE_INFO with what this client sent in NEGOTIATE (or the
        overrides)."""
        ds = list(self.dialects if dialects is None else dialects)
        data = struct.pack(
            "<I16sHH",
            self.capabilities if capabilities is None else capabilities,
            guid or self.client_guid,
            self.security_mode if security_mode is None else security_mode,
            len(ds),
        ) + struct.pack(f"<{len(ds)}H", *ds)
        return self.ioctl_raw(
            tree_id, FSCTL_VALIDATE_NEGOTIATE_INFO, b"\xff" * 16, data, max_output=24, **kw
        )

    def change_notify_raw(
        self, tree_id: int, file_id: bytes, *, filter_: int = 0x17, length: int = 4096, **kw
    ) -> Response:
        body = struct.pack("<HHI16sII", 32, 0, length, file_id, filter_, 0)
        kw.setdefault("payload", length)
        return self.request(Command.CHANGE_NOTIFY, body, tree_id=tree_id, **kw)

    def cancel(
        self, *, async_id: int | None = None, message_id: int | None = None, **kw
    ) -> list[Response]:
        """CANCEL (no response of its own); returns whatever the server sent back."""
        return self.compound(
            [
                Pdu(
                    Command.CANCEL,
                    empty_body(4),
                    async_id=async_id,
                    message_id=message_id or 0,
                    credit_charge=0,
                    credit_request=0,
                    **kw,
                )
            ]
        )


def flip_bit(offset: int, bit: int = 0) -> Callable[[bytearray], None]:
    """A ``Pdu.tamper`` that flips one bit of the PDU (offset from the PDU header start)."""

    def _tamper(raw: bytearray) -> None:
        raw[offset] ^= 1 << bit

    return _tamper


def strip_signature(raw: bytearray) -> None:
    """A ``Pdu.tamper`` that clears SMB2_FLAGS_SIGNED and zeroes the signature."""
    (flags,) = struct.unpack_from("<I", raw, 16)
    struct.pack_into("<I", raw, 16, flags & ~HeaderFlags.SIGNED)
    raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = b"\x00" * 16
