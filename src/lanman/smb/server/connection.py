"""Sans-IO SMB2/3 server connection: framing of compounds, NEGOTIATE, signing, credits and
dispatch (MS-SMB2 3.3.5).

Feed :meth:`ServerConnection.receive_frame` one Direct-TCP payload (without the 4-byte
length prefix) and the current time; it returns the frames to send, each a list of buffers
(header and payload are never concatenated). ``closed`` turns True when the connection must
be dropped.
"""

from __future__ import annotations

import hmac
import itertools
import os
import struct
from collections.abc import Callable
from typing import ClassVar

from lanman.crypto.smb_encryption import (
    TRANSFORM_FLAG_ENCRYPTED,
    TRANSFORM_PROTOCOL_ID,
    CipherId,
    DecryptError,
    TransformHeader,
    decrypt_message,
    encrypt_message,
)
from lanman.crypto.smb_signing import SigningAlgorithm, compute_signature, preauth_hash_update
from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire import negotiate as neg
from lanman.smb.wire._buf import pad8
from lanman.smb.wire.constants import (
    HASH_SHA_512,
    SMB1_PROTOCOL_ID,
    SMB2_HEADER_SIZE,
    SMB2_PROTOCOL_ID,
    SUPPORTED_DIALECTS,
    Command,
    Dialect,
    GlobalCapabilities,
    HeaderFlags,
    NegotiateContextType,
    SecurityMode,
)
from lanman.smb.wire.header import (
    FLAG_ASYNC_COMMAND,
    FLAG_PRIORITY_MASK,
    FLAG_RELATED_OPERATIONS,
    FLAG_SERVER_TO_REDIR,
    FLAG_SIGNED,
    SIGNATURE_OFFSET,
    Smb2Header,
    WireError,
)
from lanman.smb.wire.query import pack_error_response
from lanman.smb.wire.session import empty_body
from lanman.smb.wire.smb1 import parse_smb1_negotiate

from .commands import COMMANDS
from .compound import RelatedChain
from .credits import SequenceWindow
from .files import FileHandlers
from .request import AsyncKind, Buffers, CompoundRest, Disconnect, PendingAsync, Reply, Request
from .sessions import SessionHandlers
from .state import UNMAPPABLE, ServerContext, Session, SessionState

# Failures of the host's storage: logged (STORAGE_ERROR), at most once a minute per status.
_STORAGE_ERRORS = frozenset(
    {st.STATUS_DISK_FULL, st.STATUS_QUOTA_EXCEEDED, st.STATUS_UNEXPECTED_IO_ERROR}
)
_STORAGE_LOG_INTERVAL = 60 * 10_000_000  # FILETIME units (100 ns)
_ECHO_BODY = empty_body(4)  # MS-SMB2 2.2.29 ECHO Response
# Largest OriginalMessageSize accepted (the transport's frame limit).
_MAX_ENCRYPTED = 8 * 1024 * 1024 + 64 * 1024


def choose_cipher(server_order, offered) -> CipherId | None:
    """MS-SMB2 3.3.5.4 leaves the choice to the implementation: lanman takes the first
    cipher of its own EncryptionCiphers order that the client offered (None: no overlap,
    answered as cipher 0)."""
    for c in server_order:
        if int(c) in offered:
            return CipherId(int(c))
    return None


def _binding_requested(pdu: memoryview) -> bool:
    """SMB2_SESSION_FLAG_BINDING in a SESSION_SETUP request's Flags (2.2.5, byte 2)."""
    return len(pdu) > SMB2_HEADER_SIZE + 2 and bool(pdu[SMB2_HEADER_SIZE + 2] & 0x01)


_CONNECTION_NUMBERS = itertools.count(1)
#: Open.FileId.Volatile values, unique on the server: a session bound to several
#: connections (multichannel) reaches every open of its channels by FileId alone.
_VOLATILE_IDS = itertools.count(1)


class ServerConnection(SessionHandlers, FileHandlers):
    """MS-SMB2 3.3.1.7 Connection plus the request processing of 3.3.5."""

    def __init__(
        self, ctx: ServerContext, client_address: str = "", server_address: str = ""
    ) -> None:
        self.ctx = ctx
        self.conn_id = next(_CONNECTION_NUMBERS)  # lanman status: file ids are per server
        self.settings = ctx.settings
        self.client_address = client_address
        self.server_address = server_address  # the local IP the client reached (multichannel)
        self.closed = False
        self.dialect: int | None = None  # Connection.Dialect; 0x02FF after SMB1 upgrade
        self.client_guid = b""
        self.client_security_mode = 0
        self.client_capabilities = 0
        self.client_dialects: list[int] = []
        self.server_capabilities = 0
        self.server_security_mode = 0
        self.should_sign = False
        self.signing_algorithm = SigningAlgorithm.HMAC_SHA256
        self.cipher: CipherId | None = None  # Connection.CipherId (None: no encryption)
        self.preauth_hash = b"\x00" * 64
        self.window = SequenceWindow()
        self.sessions: dict[int, Session] = {}
        self.logged_off: dict[int, Session] = {}  # the last few, to sign their errors
        self.pending_binds: dict = {}  # SessionId -> session_binding.PendingBind
        self.opens: dict = {}
        self.pending: dict[int, PendingAsync] = {}
        self.pipe_opens = 0  # named pipe opens in self.opens (has_pipe_opens)
        self.max_read_size = 65536
        self.max_write_size = 65536
        self.max_transact_size = 65536
        self.now = 0
        self._next_async_id = 1
        self._next_volatile_id = 1
        self._next_tree_id = 1
        self._outbox: list[Buffers] = []
        self.compound_open_id: int | None = None
        self.compound_last = True  # the request being processed ends its compound
        self.compound_tail = 0  # bytes of its compound's requests after it
        self.push: Callable[[Buffers], None] | None = None  # transport: send now
        self._receiving = False
        self.disconnect_reason = ""
        self.smb1 = None  # Smb1ServerConnection once an SMB1-only client negotiated NT LM 0.12
        self.auth_failures = 0  # failed session setups (the transport's rate limiter reads it)
        self._storage_logged: dict[int, int] = {}  # status -> when last logged (FILETIME)

    # ---- entry point -------------------------------------------------------------------

    def receive_frame(self, frame: bytes | bytearray | memoryview, now: int) -> list[Buffers]:
        """Process one transport frame; return the frames to send."""
        self.now = now
        if self.smb1 is not None:  # the connection speaks SMB1 (see _smb1_negotiate)
            out = [] if self.closed else self.smb1.receive_frame(frame, now)
            self.closed, self.disconnect_reason = self.smb1.closed, self.smb1.disconnect_reason
            return out
        view = memoryview(frame)
        self._receiving = True
        try:
            if self.closed:
                return []
            proto = bytes(view[:4])
            if proto == SMB1_PROTOCOL_ID and self.dialect is None:
                self._smb1_negotiate(view)
            elif proto == SMB2_PROTOCOL_ID:
                self._receive_compound(view)
            elif proto == TRANSFORM_PROTOCOL_ID and self.cipher is not None:
                self._receive_transform(view)
            else:
                raise Disconnect("unsupported protocol id (compression not offered)")
        except (Disconnect, WireError) as exc:
            self.disconnect_reason = str(exc)
            self.closed = True
            if isinstance(exc, WireError):
                self.ctx.emit_event(
                    "MALFORMED_REQUEST", client=self.client_address, reason=str(exc)
                )
        finally:
            self._receiving = False
        out, self._outbox = self._outbox, []
        return out

    @property
    def _next_volatile_id(self) -> int:
        """The FileId.Volatile the next CREATE uses (from the server-wide sequence)."""
        return self._volatile_next

    @_next_volatile_id.setter
    def _next_volatile_id(self, _value: int) -> None:
        self._volatile_next = next(_VOLATILE_IDS)

    def _find_open(self, volatile_id: int, session: Session | None):
        """The open with this FileId.Volatile: on this connection, or on another channel
        of the request's session (MS-SMB2 3.3.5.2.7 looks up Session.OpenTable)."""
        open_ = self.opens.get(volatile_id)
        if open_ is not None or session is None:
            return open_
        for ch in session.channels.values():
            if ch.connection is not self:
                open_ = ch.connection.opens.get(volatile_id)
                if open_ is not None:
                    return open_
        return None

    def _close_open(self, open_) -> None:
        """Close an open on the connection that holds it (a bound channel may name an open
        of another channel of its session; that connection's tables own it)."""
        if self.opens.get(open_.volatile_id) is not open_:
            for conn in {
                id(ch.connection): ch.connection
                for s in self._sessions_of(open_)
                for ch in s.channels.values()
            }.values():
                if conn is not self and conn.opens.get(open_.volatile_id) is open_:
                    conn._close_open(open_)  # its completions go out by _send_frame
                    return
        FileHandlers._close_open(self, open_)

    def _sessions_of(self, open_) -> list[Session]:
        s = self.sessions.get(open_.session_id) or self.ctx.sessions.get(open_.session_id)
        return [s] if s is not None else []

    @property
    def authenticated(self) -> bool:
        """A session set up for a named user (guest included, anonymous not): from here on
        the transport lifts its pre-authentication frame limit."""
        if self.smb1 is not None:
            return self.smb1.authenticated
        return any(
            s.state is SessionState.VALID and not s.is_anonymous for s in self.sessions.values()
        )

    @property
    def has_session(self) -> bool:
        """Any session set up (anonymous included): ends the pre-authentication deadline."""
        if self.smb1 is not None:
            return self.smb1.has_session
        return any(s.state is SessionState.VALID for s in self.sessions.values())

    @property
    def failed_logons(self) -> int:
        """Failed session setups so far, SMB1 and SMB2 together."""
        return self.auth_failures + (self.smb1.auth_failures if self.smb1 is not None else 0)

    @property
    def has_pipe_opens(self) -> bool:
        """Any named pipe open here (the transport runs its requests on the worker)."""
        return self.pipe_opens > 0

    def send_oplock_break(self, file_id: bytes, level: int) -> None:
        """MS-SMB2 3.3.4.6: an unsolicited OPLOCK_BREAK notification (never signed)."""
        from lanman.smb.wire.lease import pack_oplock_break

        self._send_break(pack_oplock_break(level, file_id), file_id)

    def send_lease_break(self, lease, current: int, new: int, ack_required: bool) -> None:
        """MS-SMB2 3.3.4.7: a lease break notification, on the connection of the lease's
        oldest open (encrypted as that open's session or share is)."""
        from lanman.smb.wire.lease import pack_lease_break

        body = pack_lease_break(
            lease.lease_key, current, new, ack_required=ack_required, new_epoch=lease.epoch
        )
        vid = next((o[1] for o in lease.opens if o[0] is self), 0)
        self._send_break(body, vid.to_bytes(8, "little") * 2)

    def _send_break(self, body: bytes, file_id: bytes) -> None:
        hdr = Smb2Header(
            command=Command.OPLOCK_BREAK,
            flags=HeaderFlags.SERVER_TO_REDIR,
            message_id=0xFFFFFFFFFFFFFFFF,
            process_id=0,
            tree_id=0,
            session_id=0,
        )
        frame: Buffers = [hdr.pack(), body]
        enc = self._break_encryption(file_id)
        if enc is not None:
            # 3.3.4.6: on an encrypted session or share the break is encrypted, with the
            # open's SessionId in the transform header.
            frame = encrypt_message(
                self.cipher, enc.encryption_key, enc.session_id, enc.nonces.next(), frame
            )
        self._send_frame(frame)

    def _send_frame(self, frame: Buffers) -> None:
        """A frame raised outside this connection's own request (an oplock break, an async
        completion caused by another connection): pushed to the transport, or queued with
        the replies when this connection is the one processing."""
        if self._receiving or self.push is None:
            self._outbox.append(frame)
        elif not self.closed:
            self.push(frame)

    def take_outbox(self) -> list[Buffers]:
        """Frames raised outside receive_frame with no transport to push them (tests)."""
        out, self._outbox = self._outbox, []
        return out

    def _break_encryption(self, file_id: bytes) -> Session | None:
        """The session whose keys encrypt a break (MS-SMB2 3.3.4.6, 3.3.4.7): the open's,
        when its session or share encrypts. A lease break may reach a connection with no
        open under the lease (its handles closed, or another channel's): then it is
        encrypted when any session here encrypts, never sent in the clear beside them."""
        if self.cipher is None:
            return None
        open_ = self.opens.get(int.from_bytes(bytes(file_id[:8]), "little"))
        if open_ is not None:
            s = self.sessions.get(open_.session_id)
            candidates = [(s, s.trees.get(open_.tree_id) if s is not None else None)]
        else:
            candidates = [(s, t) for s in self.sessions.values() for t in [None, *s.trees.values()]]
        for s, tree in candidates:
            if (
                s is not None
                and s.can_encrypt
                and (s.encrypt_data or (tree is not None and tree.encrypt_data))
            ):
                return s
        return None

    # ---- administrator actions (lanman status close-session / close-file) ---------------

    def admin_close_open(self, open_) -> None:
        """Close-SmbOpenFile: the open is gone; the client's next request on its FileId
        gets STATUS_FILE_CLOSED (the lookup fails), as on Windows."""
        session = self.sessions.get(open_.session_id)
        ident = session.unix_id if session is not None else None
        if ident is not None and ident != UNMAPPABLE:
            with self.ctx.fs_identity.as_user(ident):
                self._close_open(open_)
        else:
            self._close_open(open_)

    def admin_close_session(self, session_id: int) -> int:
        """Close-SmbSession: close the session's opens and end it as a LOGOFF does; its
        next request gets STATUS_USER_SESSION_DELETED (signed with the old key when the
        request proves it, MS-SMB2 3.3.5.2.4). Returns the number of files closed."""
        session = self.sessions.get(session_id)
        if session is None:
            return 0
        session.closed_by_admin = True
        closed = sum(
            1 for o in self.opens.values() if o.session_id == session_id and o.kind != "pipe"
        )
        self._end_session(session, keep_durable=False)  # Close-SmbSession closes them all
        return closed

    def connection_lost(self, now: int | None = None) -> None:
        """Release every open (the transport is gone) but the durable ones, which wait in
        the server's durable table for a reconnect (MS-SMB2 3.3.7.1); idempotent, so a test
        harness may call it to tear an in-process connection down."""
        self.closed = True
        if now is not None:
            self.now = now
        if self.smb1 is not None:
            self.smb1.connection_lost()
        self._hand_over_opens()  # to another channel of their session (durable_handles.py)
        for open_ in list(self.opens.values()):
            self._keep_durable(open_)
        kept = frozenset(e.persistent_id for e in self.ctx.durable.disconnected() if e.home is self)
        for open_ in list(self.opens.values()):
            session = self.sessions.get(open_.session_id)
            ident = session.unix_id if session is not None else None
            if ident is not None and ident != UNMAPPABLE:
                # a pending delete-on-close runs as the open's Unix user too
                with self.ctx.fs_identity.as_user(ident):
                    self._close_open(open_)
            else:
                self._close_open(open_)
        self.ctx.oplocks.release_connection(self, keep=kept)
        self.ctx.notify.drop_connection(self)
        for session in list(self.sessions.values()):
            # MS-SMB2 3.3.7.1: the channel goes; a session with no channel left ends.
            session.channels.pop(self.conn_id, None)
            if not session.channels:
                self.ctx.sessions.remove(session)
        self.sessions.clear()
        self.pending_binds.clear()
        for p in list(self.pending.values()):
            if p.on_abandon is not None:
                p.on_abandon()
        self.pending.clear()

    # ---- framing -----------------------------------------------------------------------

    def _split(self, view: memoryview) -> list[memoryview]:
        pdus = []
        pos = 0
        while True:
            if len(view) - pos < SMB2_HEADER_SIZE or bytes(view[pos : pos + 4]) != SMB2_PROTOCOL_ID:
                raise Disconnect("malformed compound")
            (next_command,) = struct.unpack_from("<I", view, pos + 20)
            if next_command == 0:
                pdus.append(view[pos:])
                return pdus
            if (
                next_command < SMB2_HEADER_SIZE
                or next_command % 8
                or pos + next_command > len(view)
            ):
                raise Disconnect("bad NextCommand")
            pdus.append(view[pos : pos + next_command])
            pos += next_command
            if len(pdus) > 128:
                raise Disconnect("compound too long")

    def _receive_transform(self, view: memoryview) -> None:
        """MS-SMB2 3.3.5.2.1.1: decrypt a TRANSFORM_HEADER frame, then process the SMB2
        message inside as encrypted requests. Any failure (unknown session, bad length or
        flags, bad tag, anything but an SMB2 message inside) disconnects, as Windows does."""
        try:
            th = TransformHeader.unpack(view)
        except DecryptError as exc:
            raise Disconnect(str(exc)) from None
        # A session logged off a moment ago still decrypts: its requests then get
        # STATUS_USER_SESSION_DELETED (encrypted with the old key), as for signed ones.
        session = self.sessions.get(th.session_id) or self.logged_off.get(th.session_id)
        reason = ""
        if th.flags != TRANSFORM_FLAG_ENCRYPTED:
            reason = "transform header Flags/EncryptionAlgorithm not 0x0001"
        elif session is None or not session.decryption_key:
            reason = "encrypted message for an unknown session"
        if not reason:
            try:
                _th, plain = decrypt_message(
                    self.cipher, session.decryption_key, view, max_size=_MAX_ENCRYPTED
                )
            except DecryptError as exc:
                reason = str(exc)
        if not reason and bytes(plain[:4]) != SMB2_PROTOCOL_ID:
            reason = "decrypted message is not an SMB2 message"
        if reason:
            self.ctx.emit_event(
                "ENCRYPTED_MESSAGE_REJECTED",
                client=self.client_address,
                session_id=f"0x{th.session_id:016x}",
                reason=reason,
            )
            raise Disconnect(reason)
        self._receive_compound(memoryview(plain), encrypted_sid=th.session_id)

    def _receive_compound(self, view: memoryview, encrypted_sid: int | None = None) -> None:
        self.compound_open_id = None  # FileId 0xFF.. in related requests (3.3.5.2.7.2)
        self._run_compound(self._split(view), RelatedChain(), None, encrypted_sid)

    def _resume_compound(self, rest: CompoundRest, status: int) -> None:
        """The requests after a CREATE that went async in a compound, once it has its
        final response: related ones get its FileId, or its failure (compound.py)."""
        if self.closed:
            return
        if status != st.STATUS_SUCCESS:
            self.compound_open_id = None  # (on success _create has just set it)
        chain = RelatedChain.after_create(status)
        self._receiving, receiving = True, self._receiving
        try:
            self._run_compound(
                [memoryview(p) for p in rest.pdus],
                chain,
                (rest.session_id, rest.tree_id),
                rest.encrypted_sid,
            )
        except (Disconnect, WireError) as exc:
            self.disconnect_reason = str(exc)
            self.closed = True
        finally:
            self._receiving = receiving
        if not receiving:
            for frame in self.take_outbox():
                self._send_frame(frame)

    def _run_compound(
        self,
        pdus: list[memoryview],
        chain: RelatedChain,
        prev_ids: tuple[int, int] | None,
        encrypted_sid: int | None,
    ) -> None:
        """Process ``pdus`` in order; ``prev_ids``: the (SessionId, TreeId) a first related
        request inherits (a compound resumed after its async CREATE)."""
        replies: list[Reply] = []
        prev: Request | None = None
        prev_tree: int | None = None
        tail = sum(len(p) for p in pdus)
        for i, pdu in enumerate(pdus):
            self.compound_last = i == len(pdus) - 1
            tail -= len(pdu)
            self.compound_tail = tail  # bytes of the requests after this one
            hdr = Smb2Header.unpack(pdu)
            if hdr.is_response:
                raise Disconnect("response received by server")
            req = Request(hdr, pdu, encrypted=encrypted_sid is not None)
            if prev is None and prev_ids is not None and hdr.is_related:
                hdr.session_id, hdr.tree_id = prev_ids
                related = False  # inherited already
            else:
                related = hdr.is_related and prev is not None
            if (
                encrypted_sid is not None
                and not related
                and hdr.session_id != encrypted_sid
                and hdr.command != Command.NEGOTIATE
            ):
                raise Disconnect("SessionId differs from the transform header's")
            if related:
                # MS-SMB2 3.3.5.2.7.2: inherit SessionId/TreeId from the previous request.
                hdr.session_id = prev.header.session_id
                hdr.tree_id = prev_tree if prev_tree is not None else prev.header.tree_id
            inherited = chain.status_for(hdr.is_related)
            reply = self._process(req, inherited)
            if reply is None:
                prev = req
                continue
            chain.after(
                hdr.command,
                reply.status,
                inherited,
                req.session is not None or not _needs_session(hdr.command),
            )
            if (
                (reply.status == st.STATUS_USER_SESSION_DELETED or inherited != st.STATUS_SUCCESS)
                and reply.session is None
                and hdr.is_signed
                and replies
                and replies[-1].sign
            ):
                # A signed request of a compound whose session is unknown (or a related one
                # after it): its error is signed with the key that signed the compound so
                # far, as Windows does (smbtorture smb2.compound.invalid2).
                reply.session, reply.sign = replies[-1].session, True
            reply.credits = self.window.grant(hdr.credit)
            replies.append(reply)
            prev = req
            prev_tree = reply.tree_id if reply.tree_id is not None else hdr.tree_id
            if self.closed:
                break
            waiting = (
                self.pending.get(reply.async_id)
                if reply.status == st.STATUS_PENDING and not self.compound_last
                else None
            )
            if waiting is not None:
                # A CREATE waiting for breaks in the middle of a compound (the only request
                # new_async lets go async there): what follows waits for its completion.
                waiting.rest = CompoundRest(
                    [bytes(p) for p in pdus[i + 1 :]], hdr.session_id, prev_tree, encrypted_sid
                )
                break
        if replies and not self.closed:
            self._outbox.append(self._assemble(replies))

    def _encrypting_session(self, replies: list[Reply]) -> Session | None:
        """MS-SMB2 3.3.4.1.4: the session whose key encrypts this response, or None.

        Encrypted when the request was; when Session.EncryptData (not NEGOTIATE or
        SESSION_SETUP); or when the tree's Share.EncryptData (not TREE_CONNECT either)."""
        if self.cipher is None:
            return None
        for r in replies:
            s = r.session
            if s is None or not s.can_encrypt:
                continue
            cmd = r.request.command
            if r.encrypted:
                return s
            if cmd in (Command.NEGOTIATE, Command.SESSION_SETUP):
                continue
            if s.encrypt_data:
                return s
            if cmd == Command.TREE_CONNECT:
                continue
            tree = s.trees.get(r.tree_id if r.tree_id is not None else r.request.tree_id)
            if tree is not None and tree.encrypt_data:
                return s
        return None

    def _assemble(self, replies: list[Reply]) -> Buffers:
        """Frame responses into one compound, each PDU 8-aligned and signed on its own
        (MS-SMB2 3.3.4.1.3, 3.1.4.1); or, on an encrypted session or share, the whole
        compound unsigned inside one TRANSFORM_HEADER (3.3.4.1.4, 3.1.4.3)."""
        parts: Buffers = []
        enc = self._encrypting_session(replies)
        for i, r in enumerate(replies):
            last = i == len(replies) - 1
            body_len = sum(len(b) for b in r.body)
            pad = 0 if last else pad8(SMB2_HEADER_SIZE + body_len)
            q = r.request
            flags = FLAG_SERVER_TO_REDIR | (
                q.flags & (FLAG_RELATED_OPERATIONS | FLAG_PRIORITY_MASK)
            )
            if r.signing_key:
                key = r.signing_key
                algorithm = (
                    self.signing_algorithm if r.signing_algorithm is None else r.signing_algorithm
                )
            elif r.session is not None:
                key, algorithm = self._verification_key(r.session)
            else:
                key, algorithm = b"", self.signing_algorithm
            sign = r.sign and bool(key) and r.status != st.STATUS_PENDING and enc is None
            if sign:
                flags |= FLAG_SIGNED
            hdr = Smb2Header(
                command=q.command,
                status=r.status,
                credit_charge=q.credit_charge,
                credit=r.credits,
                flags=flags,
                next_command=0 if last else SMB2_HEADER_SIZE + body_len + pad,
                message_id=q.message_id,
                process_id=q.process_id,
                tree_id=r.tree_id if r.tree_id is not None else q.tree_id,
                session_id=r.session_id if r.session_id is not None else q.session_id,
            )
            if r.async_id is not None:
                hdr.flags |= FLAG_ASYNC_COMMAND
                hdr.async_id = r.async_id
            raw = bytearray(hdr.pack())
            msg = [raw, *r.body]
            if pad:
                msg.append(b"\x00" * pad)
            if sign:
                raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
                    key,
                    algorithm,
                    msg,
                    message_id=q.message_id,
                    is_response=True,
                    is_cancel=q.command == Command.CANCEL,
                )
            if r.after_pack is not None:
                r.after_pack(b"".join(bytes(m) for m in msg))
            parts.extend(msg)
        if enc is not None:
            # READ payloads are fresh per-request buffers: encrypted in place.
            return encrypt_message(
                self.cipher,
                enc.encryption_key,
                enc.session_id,
                enc.nonces.next(),
                parts,
                in_place=True,
            )
        return parts

    # ---- per-request processing (MS-SMB2 3.3.5.2) -----------------------------------

    def _process(self, req: Request, prev_status: int) -> Reply | None:
        hdr = req.header
        if self.dialect is None and hdr.command != Command.NEGOTIATE:
            raise Disconnect("request before NEGOTIATE")
        if hdr.command == Command.CANCEL:
            # CANCEL consumes no MessageId and gets no response, but it is verified like
            # any other request (3.3.5.2.4): an unauthenticated one is dropped.
            try:
                self._check_signature(req)
            except NtStatusError:
                return None
            self._cancel(req)
            return None
        # 3.3.5.2.3 / 3.3.5.2.5: MessageId window and credit charge.
        charge = hdr.credit_charge if self.supports_multi_credit else 1
        if not self.window.consume(hdr.message_id, charge if charge else 1):
            raise Disconnect(f"MessageId {hdr.message_id} outside the granted window")
        try:
            if prev_status != st.STATUS_SUCCESS:
                # 3.3.5.2.7.2: a related request the chain fails (compound.RelatedChain),
                # with the chain's status whatever its own session or signature.
                try:
                    self._check_signature(req)
                except NtStatusError:
                    pass
                if req.session is None:
                    req.session = self.sessions.get(hdr.session_id)
                raise NtStatusError(prev_status)
            self._check_signature(req)
            spec = COMMANDS.get(hdr.command)
            if spec is None or not spec.handler:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "unknown command")
            if spec.needs_session:
                self._require_session(req)
                self._check_encryption(req)
            if self.supports_multi_credit and spec.sized_charge:
                self._check_credit_charge(req, charge)
            handler = self._handlers[hdr.command]
            ident = req.session.unix_id if req.session is not None else None
            if ident is not None and ident != UNMAPPABLE:
                # the file system sees the mapped Unix user for this request (lanman.fsid)
                with self.ctx.fs_identity.as_user(ident):
                    return handler(self, req)
            return handler(self, req)
        except NtStatusError as exc:
            if exc.status in _STORAGE_ERRORS:
                self._storage_error(req, exc)
            return self._error(req, exc.status)
        except (WireError, struct.error):
            return self._error(req, st.STATUS_INVALID_PARAMETER)

    def _storage_error(self, req: Request, exc: NtStatusError) -> None:
        """Log a disk-full / I/O error (once a minute per status and connection): only the
        request fails; the open and the connection stay usable."""
        last = self._storage_logged.get(exc.status)
        if last is not None and self.now - last < _STORAGE_LOG_INTERVAL:
            return
        self._storage_logged[exc.status] = self.now
        tree = req.session.trees.get(req.header.tree_id) if req.session is not None else None
        self.ctx.emit_event(
            "STORAGE_ERROR",
            client=self.client_address,
            share=tree.share_name if tree is not None else "",
            command=Command(req.header.command).name
            if req.header.command in Command._value2member_map_
            else str(req.header.command),
            status=f"0x{exc.status:08X} {st.lookup(exc.status).name}",
            detail=str(exc) or "",
        )

    @property
    def supports_multi_credit(self) -> bool:
        return (
            self.dialect is not None
            and self.dialect >= Dialect.SMB_2_1
            and self.dialect != Dialect.SMB_2_WILDCARD
        )

    def _check_credit_charge(self, req: Request, charge: int) -> None:
        """MS-SMB2 3.3.5.2.5: CreditCharge must cover the payload in 64 KiB units."""
        size = self._payload_size(req)
        needed = max(1, (size - 1) // 65536 + 1) if size else 1
        if charge < needed:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "CreditCharge too small")

    def _check_encryption(self, req: Request) -> None:
        """MS-SMB2 3.3.5.2.9 and 3.3.5.2.11: with RejectUnencryptedAccess, an unencrypted
        request on a session with EncryptData, or on a tree of a share with EncryptData, fails
        with STATUS_ACCESS_DENIED (without RejectUnencryptedAccess it is served)."""
        if req.encrypted or not self.settings.reject_unencrypted_access:
            return
        s = req.session
        what = ""
        if s.encrypt_data:
            what = "unencrypted request on an encrypted session"
        elif _needs_tree(req.header.command):
            tree = s.trees.get(req.header.tree_id)
            if tree is not None and tree.encrypt_data:
                what = "unencrypted request on a share that requires encryption"
        if what:
            tree = s.trees.get(req.header.tree_id)
            self.ctx.emit_event(
                "UNENCRYPTED_ACCESS_REJECTED",
                client=self.client_address,
                user=self._user_label(s),
                share=tree.share_name if tree is not None else "",
                reason=what,
            )
            raise NtStatusError(st.STATUS_ACCESS_DENIED, what)

    def _error(self, req: Request, status: int) -> Reply:
        key, algorithm = req.reply_signing or (None, None)
        return Reply(
            req.header,
            status,
            [pack_error_response()],
            session=req.session,
            sign=self._should_sign_reply(req) or key is not None,
            signing_key=key,
            signing_algorithm=algorithm,
            encrypted=req.encrypted,
        )

    def _should_sign_reply(self, req: Request) -> bool:
        s = req.session
        return s is not None and s.can_sign and (s.signing_required or req.signed_ok)

    def ok(self, req: Request, body: Buffers, status: int = st.STATUS_SUCCESS, **kw) -> Reply:
        return Reply(
            req.header,
            status,
            body,
            session=req.session,
            sign=self._should_sign_reply(req),
            encrypted=req.encrypted,
            **kw,
        )

    # ---- signing (MS-SMB2 3.3.5.2.4) ------------------------------------------------

    def _check_signature(self, req: Request) -> None:
        hdr = req.header
        if req.encrypted:
            # 3.3.5.2.4: an encrypted request carries no signature; decryption with the
            # session's key already proved who sent it.
            req.session = self.sessions.get(hdr.session_id)
            if req.session is None and hdr.session_id in self.logged_off:
                req.session = self.logged_off[hdr.session_id]
                raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
            return
        if hdr.command == Command.NEGOTIATE:
            if hdr.is_signed:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "signed NEGOTIATE")
            return
        if hdr.session_id == 0:
            return
        session = self.sessions.get(hdr.session_id)
        req.session = session
        if session is None:
            self._check_foreign_session(req)
            return
        if hdr.is_signed:
            key, algorithm = self._verification_key(session)
            if not key:
                if session.state is SessionState.IN_PROGRESS:
                    return  # no key yet: nothing to verify against
                self._signing_violation(req, "signed request on a session without a key")
            if not self._verify(req, key, algorithm):
                self._check_session_key_on_channel(req, session)
                self._signing_violation(req, "bad signature")
            req.signed_ok = True
            return
        if session.state is not SessionState.VALID:
            return
        if (
            hdr.command == Command.TREE_CONNECT
            and self.dialect == Dialect.SMB_3_1_1
            and not (session.is_guest or session.is_anonymous)
        ):
            # MS-SMB2 3.3.5.7: an unsigned 3.1.1 TREE_CONNECT from a real user disconnects.
            self.ctx.emit_event(
                "UNSIGNED_TREE_CONNECT_DISCONNECTED",
                client=self.client_address,
                user=self._user_label(session),
            )
            raise Disconnect("unsigned TREE_CONNECT at 3.1.1")
        if session.signing_required:
            self._signing_violation(req, "unsigned request on a signing-required session")

    def _check_foreign_session(self, req: Request) -> None:
        """A SessionId this connection does not hold (MS-SMB2 3.3.5.2.4, 3.3.5.2.9).

        A binding SESSION_SETUP names a session of the GlobalSessionTable (or one whose
        binding is under way here) and is verified with Session.SigningKey; it goes on to
        :meth:`_session_bind`. Anything else fails with STATUS_USER_SESSION_DELETED --
        signed, as Windows and Samba do, when the request proves a key of that session (one
        logged off here a moment ago, or a live one on another connection): clients that
        require signing insist on the SIGNED flag before they believe the status. A
        SessionId nobody holds is signed with the key of this connection's session that
        verifies the request, if one does, else sent unsigned (no key to sign with)."""
        hdr = req.header
        sid = hdr.session_id
        binding = hdr.command == Command.SESSION_SETUP and _binding_requested(req.pdu)
        pending = self.pending_binds.get(sid) if binding else None
        live = pending.session if pending is not None else self.ctx.sessions.get(sid)
        candidate = self.logged_off.get(sid) if not binding else None
        candidate = candidate or live
        if hdr.is_signed and candidate is not None:
            key, algorithm = self._verification_key(candidate)
            if key and self._verify(req, key, algorithm):
                req.session, req.signed_ok = candidate, True
            elif binding and live is not None:
                self._signing_violation(req, "bad signature on a binding request")
        elif hdr.is_signed and not binding:
            # An unknown SessionId on a request signed with the key of a session of this
            # connection (a client that reused its session with another id): the error is
            # signed with that key, as Samba does, so a client requiring signing believes it
            # (smbtorture smb2.tcon). The signature proved the key; nothing else is used
            # (the request still has no session: related requests after it fail as such).
            for s in self.sessions.values():
                key, algorithm = self._verification_key(s)
                if key and self._verify(req, key, algorithm):
                    req.reply_signing = (key, algorithm)
                    break
        if binding and ((live is not None and req.session is live) or not hdr.is_signed):
            return  # _session_bind decides (unsigned: STATUS_INVALID_PARAMETER)
        raise NtStatusError(st.STATUS_USER_SESSION_DELETED)

    def _check_session_key_on_channel(self, req: Request, session: Session) -> None:
        """A SESSION_SETUP signed with Session.SigningKey on a connection that already is a
        channel of the session (a second binding, or a re-authentication that forgot the
        channel key): refused with STATUS_ACCESS_DENIED, signed with that key so the client
        sees the status (3.2.5.1.3: it checks failed SESSION_SETUPs with Session.SigningKey)
        instead of dropping the connection as Windows and Samba leave it."""
        ch = session.channels.get(self.conn_id)
        if req.header.command != Command.SESSION_SETUP or ch is None:
            return
        if ch.signing_key == session.signing_key:
            return
        key, algorithm = self._session_signing(session)
        if self._verify(req, key, algorithm):
            req.reply_signing = (key, algorithm)
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "session key on a bound channel")

    def _verification_key(self, session: Session) -> tuple[bytes, SigningAlgorithm]:
        """MS-SMB2 3.3.5.2.4: Channel.SigningKey of this connection with its algorithm;
        for a session not (yet) bound here, Session.SigningKey with the algorithm of the
        connection that set the session up."""
        ch = session.channels.get(self.conn_id)
        if ch is not None:
            return ch.signing_key, self.signing_algorithm
        return self._session_signing(session)

    def _session_signing(self, session: Session) -> tuple[bytes, SigningAlgorithm]:
        """Session.SigningKey with the algorithm of the connection that set it up."""
        if session.signing_algorithm is None:
            return session.signing_key, self.signing_algorithm
        return session.signing_key, session.signing_algorithm

    def _verify(self, req: Request, key: bytes, algorithm: SigningAlgorithm) -> bool:
        pdu = req.pdu
        hdr_copy = bytearray(pdu[:SMB2_HEADER_SIZE])
        received = bytes(hdr_copy[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16])
        hdr_copy[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = b"\x00" * 16
        expected = compute_signature(
            key,
            algorithm,
            [hdr_copy, pdu[SMB2_HEADER_SIZE:]],
            message_id=req.header.message_id,
            is_response=False,
            is_cancel=req.header.command == Command.CANCEL,
        )
        return hmac.compare_digest(expected, received)

    def _signing_violation(self, req: Request, what: str) -> None:
        """Refuse a request that failed the signing rules and log who sent it."""
        s = req.session
        cmd = req.header.command
        self.ctx.emit_event(
            "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION"
            if what.startswith("unsigned")
            else "SMB_SIGNATURE_VERIFY_FAILED",
            client=self.client_address,
            user=self._user_label(s),
            command=Command(cmd).name if cmd in Command._value2member_map_ else str(cmd),
            session_id=f"0x{req.header.session_id:016x}",
            message_id=req.header.message_id,
            algorithm=self.signing_algorithm.name,
            reason=what,
        )
        req.session = None  # never sign the failure with the session key
        raise NtStatusError(st.STATUS_ACCESS_DENIED, what)

    @staticmethod
    def _user_label(s: Session | None) -> str:
        if s is None:
            return ""
        if s.is_anonymous:
            return "(anonymous)"
        return f"{s.domain}\\{s.user}" if s.domain else s.user

    def _require_session(self, req: Request) -> None:
        s = req.session if req.session is not None else self.sessions.get(req.header.session_id)
        if s is None:
            raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
        req.session = s
        if s.state is not SessionState.VALID and req.header.command not in (Command.LOGOFF,):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "session setup in progress")
        spec = COMMANDS.get(req.header.command)
        if s.expired(self.now) and not (spec is not None and spec.while_expired):
            # 3.3.5.2.9: past the Kerberos ticket's end only LOGOFF/CLOSE/LOCK go on; a
            # re-authentication (SESSION_SETUP, never checked here) revives the session.
            raise NtStatusError(st.STATUS_NETWORK_SESSION_EXPIRED)
        s.last_activity = self.now
        if spec is not None and spec.needs_tree and req.header.tree_id not in s.trees:
            # 3.3.5.2.11: no such TreeId in Session.TreeConnectTable
            raise NtStatusError(st.STATUS_NETWORK_NAME_DELETED)

    # ---- NEGOTIATE (MS-SMB2 3.3.5.3, 3.3.5.4) ---------------------------------------

    def _smb1_negotiate(self, view: memoryview) -> None:
        """MS-SMB2 3.3.5.3.1: answer an SMB1 multi-protocol NEGOTIATE in SMB2."""
        dialects = parse_smb1_negotiate(view)
        if "SMB 2.???" in dialects:
            chosen = Dialect.SMB_2_WILDCARD
        elif "SMB 2.002" in dialects:
            chosen = Dialect.SMB_2_0_2
        elif "NT LM 0.12" in dialects and getattr(self.settings, "smb1_enabled", False):
            # SMB1 switched on for this server (off by default, as on modern Windows): the
            # SMB1 core answers this NEGOTIATE and every later frame (MS-CIFS / MS-SMB).
            from lanman.smb.smb1.server import Smb1ServerConnection

            self.smb1 = Smb1ServerConnection(self.ctx, self.client_address)
            self._outbox.extend(self.smb1.receive_frame(view, self.now))
            if self.smb1.closed:
                raise Disconnect(self.smb1.disconnect_reason)
            return
        else:
            raise Disconnect("SMB1 only client: SMB1 is not offered")
        if not self.window.consume(0, 1):
            raise Disconnect("window")
        self._set_dialect(chosen)
        body = self._negotiate_response_body(chosen, [])
        fake = Smb2Header(command=Command.NEGOTIATE, message_id=0)
        reply = Reply(fake, st.STATUS_SUCCESS, [body], credits=self.window.grant(1))
        if chosen == Dialect.SMB_2_WILDCARD:
            self.dialect = Dialect.SMB_2_WILDCARD
        self._outbox.append(self._assemble([reply]))

    def _set_dialect(self, dialect: int) -> None:
        self.dialect = dialect
        large = dialect >= Dialect.SMB_2_1 and dialect != Dialect.SMB_2_WILDCARD
        self.max_read_size = self.settings.max_read_size if large else 65536
        self.max_write_size = self.settings.max_write_size if large else 65536
        self.max_transact_size = self.settings.max_transact_size if large else 65536
        # SMB 2.1+: large MTU and leasing (MS-SMB2 3.3.5.4)
        self.server_capabilities = (
            GlobalCapabilities.LARGE_MTU | GlobalCapabilities.LEASING if large else 0
        )
        self.server_security_mode = SecurityMode.SIGNING_ENABLED | (
            SecurityMode.SIGNING_REQUIRED if self.settings.require_message_signing else 0
        )
        self.signing_algorithm = (
            SigningAlgorithm.HMAC_SHA256 if dialect < Dialect.SMB_3_0 else SigningAlgorithm.AES_CMAC
        )

    def _negotiate_response_body(self, dialect: int, contexts: list) -> bytes:
        from lanman.auth.spnego import negotiate_token

        resp = neg.NegotiateResponse(
            security_mode=self.server_security_mode,
            dialect_revision=dialect,
            server_guid=self.settings.server_guid,
            capabilities=self.server_capabilities,
            max_transact_size=self.max_transact_size,
            max_read_size=self.max_read_size,
            max_write_size=self.max_write_size,
            system_time=self.now,
            server_start_time=0,
            security_buffer=negotiate_token(self.ctx.negotiate_mechs),
            contexts=contexts,
        )
        return resp.pack()

    def _negotiate(self, req: Request) -> Reply:
        if self.dialect is not None and self.dialect != Dialect.SMB_2_WILDCARD:
            raise Disconnect("second NEGOTIATE")
        r = neg.NegotiateRequest.unpack(req.pdu)
        common = [d for d in SUPPORTED_DIALECTS if d in r.dialects]
        if not common:
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no common dialect")
        dialect = max(common)
        self.client_guid = r.client_guid
        self.client_security_mode = r.security_mode
        self.client_capabilities = r.capabilities
        self.client_dialects = list(r.dialects)
        self._set_dialect(dialect)
        if (
            dialect >= Dialect.SMB_3_0
            and self.settings.multichannel
            and r.capabilities & GlobalCapabilities.MULTI_CHANNEL
        ):
            self.server_capabilities |= GlobalCapabilities.MULTI_CHANNEL  # 3.3.5.4
        if (
            dialect >= Dialect.SMB_3_0
            and self.settings.directory_leasing
            and r.capabilities & GlobalCapabilities.DIRECTORY_LEASING
        ):
            # 3.3.5.4: directory leasing at 3.x, echoed to a client that offers it, as
            # Windows and Linux clients do (impacket, which does not, breaks on it)
            self.server_capabilities |= GlobalCapabilities.DIRECTORY_LEASING
        if r.security_mode & SecurityMode.SIGNING_REQUIRED:
            self.should_sign = True  # 3.3.5.4: Connection.ShouldSign
        contexts: list = []
        if dialect == Dialect.SMB_3_1_1:
            contexts = self._negotiate_contexts(r)
            self.preauth_hash = preauth_hash_update(self.preauth_hash, req.pdu)
        if (
            dialect in (Dialect.SMB_3_0, Dialect.SMB_3_0_2)
            and r.capabilities & GlobalCapabilities.ENCRYPTION
            and CipherId.AES_128_CCM in self.settings.encryption_ciphers
        ):
            # 3.3.5.4: 3.0/3.0.2 encrypt with AES-128-CCM, announced by the capability bit
            # (only to a client that announced it too). No multichannel.
            self.cipher = CipherId.AES_128_CCM
            self.server_capabilities |= GlobalCapabilities.ENCRYPTION
        body = self._negotiate_response_body(dialect, contexts)
        reply = Reply(req.header, st.STATUS_SUCCESS, [body])
        if dialect == Dialect.SMB_3_1_1:

            def _hash(packed: bytes) -> None:
                self.preauth_hash = preauth_hash_update(self.preauth_hash, packed)

            reply.after_pack = _hash
        return reply

    def _negotiate_contexts(self, r: neg.NegotiateRequest) -> list:
        """MS-SMB2 3.3.5.4 for 3.1.1: preauth integrity (required) and signing algorithm."""
        by_type: dict[int, bytes] = {}
        for c in r.contexts:
            if c.context_type in by_type and c.context_type in (
                NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                NegotiateContextType.SIGNING_CAPABILITIES,
                NegotiateContextType.ENCRYPTION_CAPABILITIES,
            ):
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "duplicate negotiate context")
            by_type[c.context_type] = c.data
        pre = by_type.get(NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES)
        if pre is None:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "no preauth integrity context")
        algs, _salt = neg.parse_preauth_context(pre)
        if HASH_SHA_512 not in algs:
            raise NtStatusError(st.STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP)
        out = [neg.preauth_context([HASH_SHA_512], os.urandom(32))]
        sig = by_type.get(NegotiateContextType.SIGNING_CAPABILITIES)
        if sig is not None:
            offered = neg.parse_id_list_context(sig)
            chosen = next((a for a in offered if a in (0, 1, 2)), None)
            if chosen is None:
                chosen = SigningAlgorithm.AES_CMAC  # 3.1.1 default algorithm
            self.signing_algorithm = SigningAlgorithm(chosen)
            out.append(neg.id_list_context(NegotiateContextType.SIGNING_CAPABILITIES, [chosen]))
        enc = by_type.get(NegotiateContextType.ENCRYPTION_CAPABILITIES)
        if enc is not None and self.settings.encryption_ciphers:
            offered = neg.parse_id_list_context(enc)
            self.cipher = choose_cipher(self.settings.encryption_ciphers, offered)
            out.append(
                neg.id_list_context(
                    NegotiateContextType.ENCRYPTION_CAPABILITIES,
                    [int(self.cipher) if self.cipher is not None else 0],
                )
            )
        return out

    # ---- ECHO / CANCEL / async --------------------------------------------------------

    def _echo(self, req: Request) -> Reply:
        return self.ok(req, [_ECHO_BODY])

    def new_async(
        self,
        req: Request,
        kind: AsyncKind | str,
        open_id: int,
        max_length: int = 0,
        *,
        splits_compound: bool = False,
    ) -> Reply:
        """Answer STATUS_PENDING (never signed, 3.3.4.2) and remember the operation.

        Only the last request of a compound goes async: one before it fails with
        STATUS_INTERNAL_ERROR, as on Windows (MS-SMB2 3.3.5.2.7 leaves it to the server),
        except a CREATE waiting for oplock/lease breaks (``splits_compound``): the rest of
        its compound then waits for it (CompoundRest)."""
        if not self.compound_last and not splits_compound:
            raise NtStatusError(st.STATUS_INTERNAL_ERROR, "async request inside a compound")
        if len(self.pending) >= self.settings.max_async_per_connection:
            raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES)
        aid = self._next_async_id
        self._next_async_id += 1
        self.pending[aid] = PendingAsync(
            aid,
            req.header,
            req.session,
            self._should_sign_reply(req),
            open_id,
            AsyncKind(kind),
            max_length,
            req.encrypted,
        )
        return Reply(
            req.header,
            st.STATUS_PENDING,
            [pack_error_response()],
            async_id=aid,
            session=req.session if req.encrypted else None,
            encrypted=req.encrypted,
        )

    def complete_async(self, p: PendingAsync, status: int, body: Buffers | None = None) -> None:
        """Send the final response of a pending operation (no credits granted)."""
        if self.pending.pop(p.async_id, None) is None:
            return  # already completed (a lock granted while its open was closing)
        if status != st.STATUS_SUCCESS and p.on_abandon is not None:
            p.on_abandon()
        reply = Reply(
            p.header,
            status,
            body or [pack_error_response()],
            session=p.session,
            sign=p.sign,
            async_id=p.async_id,
            credits=0,
            encrypted=p.encrypted,
        )
        self._send_frame(self._assemble([reply]))
        if p.rest is not None:
            rest, p.rest = p.rest, None
            self._resume_compound(rest, status)

    def resume_create(self, async_id: int) -> None:
        """Run a CREATE that waited for oplock/lease breaks again (the acknowledgment, the
        holder's close or the break timer ended them) and send its final response."""
        p = self.pending.get(async_id)
        if p is None or p.kind != "create" or self.closed:
            return
        req = Request(p.header, memoryview(p.pdu), p.session, encrypted=p.encrypted)
        req.async_id = async_id
        self.now = max(self.now, self.ctx.oplocks.clock)
        # This may run inside another request of this connection (its CLOSE ended the
        # breaks): the compound state of that request is put back afterwards.
        saved = self.compound_last, self.compound_tail, self.compound_open_id
        self.compound_last, self.compound_tail = True, 0
        try:
            try:
                ident = p.session.unix_id if p.session is not None else None
                if ident is not None and ident != UNMAPPABLE:
                    with self.ctx.fs_identity.as_user(ident):
                        reply = self._create(req)
                else:
                    reply = self._create(req)
            except NtStatusError as exc:
                self.complete_async(p, exc.status)
                return
            except (WireError, struct.error):
                self.complete_async(p, st.STATUS_INVALID_PARAMETER)
                return
            if reply is not None:  # None: it waits again
                self.complete_async(p, reply.status, reply.body)
        finally:
            self.compound_last, self.compound_tail, self.compound_open_id = saved

    def _cancel(self, req: Request) -> None:
        """MS-SMB2 3.3.5.16: CANCEL gets no response; the cancelled request answers
        STATUS_CANCELLED."""
        hdr = req.header
        for p in list(self.pending.values()):
            if (hdr.is_async and p.async_id == hdr.async_id) or (
                not hdr.is_async and p.header.message_id == hdr.message_id
            ):
                self.complete_async(p, st.STATUS_CANCELLED)

    _handlers: ClassVar[dict] = {}


ServerConnection._handlers = {
    code: getattr(ServerConnection, spec.handler) for code, spec in COMMANDS.items() if spec.handler
}


def _needs_session(command: int) -> bool:
    spec = COMMANDS.get(command)
    return spec is None or spec.needs_session


def _needs_tree(command: int) -> bool:
    spec = COMMANDS.get(command)
    return spec is not None and spec.needs_tree
