"""Sans-IO SMB1 (NT LM 0.12) server connection (MS-CIFS 3.3, MS-SMB 3.3).

Off by default; :class:`lanman.smb.server.connection.ServerConnection` hands a connection
over when the server has SMB1 enabled and the client offers "NT LM 0.12" but no SMB2
dialect. Feed :meth:`Smb1ServerConnection.receive_frame` one Direct-TCP payload; it returns
the frames to send. ``closed`` turns True when the connection must be dropped.

What it speaks: NEGOTIATE (SecurityMode 3 / 7 / 15 from the server's Enable/Require
SecuritySignature, as KB 887429 reads them), SESSION_SETUP_ANDX with extended security
(SPNEGO / NTLMSSP), MD5 signing with sequence numbers, TREE_CONNECT_ANDX (IPC$ and disk
shares), TRANS2 GET_DFS_REFERRAL (not a DFS server: STATUS_NOT_FOUND), ECHO, LOGOFF_ANDX,
TREE_DISCONNECT and NT_CANCEL.

Signing policy (docs/SOURCES.md signing §3): signing becomes active with the first real
user session whose SESSION_SETUP request carried SMB_FLAGS2_SMB_SECURITY_SIGNATURE, when the
server's signing is enabled or required. A server that requires signing refuses the
TREE_CONNECT_ANDX (and the TRANS2 DFS referral) of a connection that does not sign with
STATUS_ACCESS_DENIED — KB 887429's "client disabled, server required" scenario.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.policy.decisions import smb1_security_mode, smb1_state
from lanman.smb.server.state import SessionState

from . import wire as w
from .signing import sign_message, verify_message
from .wire import Command, Flags, Flags2, WireError

__all__ = ["NT_LM_012", "Smb1ServerConnection", "Smb1Session"]

NT_LM_012 = "NT LM 0.12"
MAX_FRAME = 128 * 1024  # far above MaxBufferSize; anything bigger is hostile
MAX_ECHO_REPLIES = 8
MAX_TREES = 1024
FILE_ALL_ACCESS = 0x001F01FF
# ERRSRV/ERRinvdevice (MS-CIFS 2.2.2.4); not in the shared table yet.
STATUS_BAD_DEVICE_TYPE = 0xC00000CB
READ_ONLY_ACCESS = 0x001200A9
SERVER_CAPABILITIES = (
    w.Capabilities.UNICODE
    | w.Capabilities.LARGE_FILES
    | w.Capabilities.NT_SMBS
    | w.Capabilities.STATUS32
)


def _logon_token(ctx, result):
    from lanman.security.token import SecurityToken
    from lanman.smb.server.state import default_logon_sids

    return SecurityToken.build(list(ctx.logon_sids(result)) or default_logon_sids(result))


def _share_permissions(ctx, session, share, client: str = "") -> int:
    """The share permissions' grant for the session (as the SMB2 tree connect: none at all
    refuses it with STATUS_ACCESS_DENIED)."""
    from lanman.security.errors import SecurityError
    from lanman.security.share import share_access

    sd = getattr(share, "security_descriptor", None)
    if sd is None:
        return FILE_ALL_ACCESS
    try:
        granted = share_access(sd, session.token)
    except (SecurityError, ValueError):
        granted = 0
    if not granted:
        ctx.emit_event("SHARE_ACCESS_DENIED", client=client, user=session.user, share=share.name)
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "share permissions")
    return granted


@dataclass(slots=True)
class Smb1Tree:
    tid: int
    share_name: str
    is_ipc: bool
    read_only: bool = False


@dataclass(slots=True)
class Smb1Session:
    """MS-CIFS 3.3.1.8 Session."""

    uid: int
    state: SessionState = SessionState.IN_PROGRESS
    auth: object = None
    user: str = ""
    domain: str = ""
    is_guest: bool = False
    is_anonymous: bool = False
    session_key: bytes = b""
    trees: dict[int, Smb1Tree] = field(default_factory=dict)
    token: object = None  # lanman.security.SecurityToken of the logon
    auth_package: str = ""  # Kerberos | NTLM (lanman status)
    logon_time: int = 0  # FILETIME


@dataclass(slots=True)
class _Reply:
    """A command's response block, or an object with ``block(unicode, data_offset)``."""

    body: object
    status: int = st.STATUS_SUCCESS


class Smb1ServerConnection:
    """MS-CIFS 3.3.1.3 Connection with the request processing of 3.3.5."""

    def __init__(self, ctx, client_address: str = "") -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.client_address = client_address
        self.closed = False
        self.disconnect_reason = ""
        self.negotiated = False
        enable = bool(getattr(self.settings, "enable_security_signature", True))
        require = bool(self.settings.require_message_signing)
        self.security_mode = smb1_security_mode(enable, require)
        self.signing_state = smb1_state(enable, require)  # ServerSigningState
        self.extended_security = True
        self.unicode = True
        self.signing_active = False  # IsSigningActive
        self.signing_key = b""
        self.next_seq = 0  # ServerNextReceiveSequenceNumber
        self.sessions: dict[int, Smb1Session] = {}
        self._next_uid = 1
        self._next_tid = 1
        self.now = 0
        self.client_signing_flags = 0
        self.auth_failures = 0  # failed session setups (the transport's rate limiter reads it)

    @property
    def authenticated(self) -> bool:
        """A session set up for a named user (guest included, anonymous not)."""
        return any(
            s.state is SessionState.VALID and not s.is_anonymous for s in self.sessions.values()
        )

    @property
    def has_session(self) -> bool:
        return any(s.state is SessionState.VALID for s in self.sessions.values())

    # ---- entry point -----------------------------------------------------------------

    def receive_frame(self, frame: bytes | bytearray | memoryview, now: int = 0) -> list[list]:
        """Process one message; return frames (each a list of buffers) to send."""
        self.now = now
        if self.closed:
            return []
        try:
            return self._receive(bytes(frame))
        except (WireError, struct.error, UnicodeError) as exc:
            self._disconnect(f"malformed SMB1 message: {exc}")
            self.ctx.emit_event("MALFORMED_REQUEST", client=self.client_address, reason=str(exc))
            return []

    def connection_lost(self) -> None:
        self.closed = True
        self.sessions.clear()

    def _disconnect(self, reason: str) -> None:
        self.closed = True
        self.disconnect_reason = reason

    # ---- per message -------------------------------------------------------------------

    def _receive(self, frame: bytes) -> list[list]:
        if len(frame) > MAX_FRAME:
            self._disconnect("SMB1 message too large")
            return []
        msg = w.Message.parse(frame)
        hdr = msg.header
        if hdr.is_reply:
            self._disconnect("SMB1 response received by server")
            return []
        if hdr.command == Command.NEGOTIATE:
            if self.negotiated:
                self._disconnect("second NEGOTIATE")  # MS-CIFS 3.3.5.2
                return []
            return self._negotiate(msg)
        if not self.negotiated:
            self._disconnect("SMB1 request before NEGOTIATE")
            return []
        # Sequence numbers (MS-SMB 3.3.5.1): one for NT_CANCEL, two for a request/response.
        seq = self.next_seq
        if hdr.command == Command.NT_CANCEL:
            self.next_seq += 1
            return []
        self.next_seq += 2
        resp_seq = seq + 1
        if self.signing_active and not verify_message(self.signing_key, frame, seq):
            self._signing_failure(hdr)
            return self._finish(msg, [], st.STATUS_ACCESS_DENIED, hdr.uid, hdr.tid, resp_seq)
        uid, tid = hdr.uid, hdr.tid
        replies: list[object] = []
        status = st.STATUS_SUCCESS
        for block in msg.blocks:
            try:
                r = self._dispatch(msg, block, uid, tid)
            except NtStatusError as exc:
                status = exc.status
                break
            except (WireError, struct.error, UnicodeError):
                status = st.STATUS_INVALID_PARAMETER
                break
            if r is None:  # ECHO with count 0 and similar: nothing to send
                return []
            if isinstance(r, tuple) and r and r[0] == "uid":  # session setup (new uid)
                _, uid, r = r
            if isinstance(r, tuple) and r and r[0] == "tid":
                _, tid, r = r
            if isinstance(r, _Reply):
                replies.append(r.body)
                if r.status != st.STATUS_SUCCESS:
                    status = r.status
                    break
            else:
                replies.append(r)
            if self.closed:
                return []
        if self._activated_now:
            resp_seq = 1
            self._activated_now = False
        if hdr.command == Command.ECHO and status == st.STATUS_SUCCESS:
            return self._echo_frames(msg, replies[0], resp_seq)
        return self._finish(msg, replies, status, uid, tid, resp_seq)

    _activated_now = False

    def _finish(
        self, msg: w.Message, replies: list, status: int, uid: int, tid: int, resp_seq: int
    ) -> list[list]:
        q = msg.header
        flags2 = (
            q.flags2
            & (
                Flags2.UNICODE
                | Flags2.LONG_NAMES
                | Flags2.IS_LONG_NAME
                | Flags2.EXTENDED_SECURITY
                | Flags2.EAS
            )
        ) | Flags2.NT_STATUS
        if self.signing_active:
            flags2 |= Flags2.SMB_SECURITY_SIGNATURE
        hdr = w.Smb1Header(
            q.command,
            status,
            Flags.REPLY | (q.flags & 0x18),
            flags2,
            tid=tid,
            pid=q.pid,
            uid=uid,
            mid=q.mid,
        )
        unicode = bool(q.flags2 & Flags2.UNICODE)
        blocks = []
        offset = w.HEADER_SIZE
        for r in replies:
            if hasattr(r, "block"):
                words = r.block(unicode, 0)[1]
                b = r.block(unicode, offset + 1 + len(words) + 2)
            else:
                b = r
            blocks.append(b)
            offset += 1 + len(b[1]) + 2 + len(b[2])
        if not blocks:
            blocks = [(q.command, b"", b"")]
        out = w.pack_message(hdr, blocks)
        if self.signing_active:
            sign_message(self.signing_key, out, resp_seq)
        return [[out]]

    def _echo_frames(self, msg: w.Message, reply: tuple, resp_seq: int) -> list[list]:
        count, data = reply
        frames = []
        for i in range(1, count + 1):
            block = (Command.ECHO, struct.pack("<H", i), data)
            frames.extend(
                self._finish(
                    msg, [block], st.STATUS_SUCCESS, msg.header.uid, msg.header.tid, resp_seq
                )
            )
        return frames

    def _signing_failure(self, hdr: w.Smb1Header) -> None:
        s = self.sessions.get(hdr.uid)
        unsigned = hdr.signature == b"\x00" * 8 and not hdr.flags2 & Flags2.SMB_SECURITY_SIGNATURE
        self.ctx.emit_event(
            "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION" if unsigned else "SMB_SIGNATURE_VERIFY_FAILED",
            client=self.client_address,
            user=(f"{s.domain}\\{s.user}" if s and s.domain else (s.user if s else "")),
            session_id=f"0x{hdr.uid:04x}",
            command=_command_name(hdr.command),
            message_id=hdr.mid,
            algorithm="MD5 (SMB1)",
        )

    def _dispatch(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        handler = _HANDLERS.get(block.command)
        if handler is None:
            raise NtStatusError(st.STATUS_NOT_IMPLEMENTED, "SMB1 command not implemented")
        return handler(self, msg, block, uid, tid)

    # ---- NEGOTIATE (MS-CIFS 3.3.5.2, MS-SMB 3.3.5.2) ----------------------------------------

    def _negotiate(self, msg: w.Message) -> list[list]:
        q = msg.header
        dialects = w.parse_negotiate_dialects(msg.blocks[0])
        self.negotiated = True
        if NT_LM_012 not in dialects:
            # DialectIndex 0xFFFF: none of the offered dialects (MS-CIFS 2.2.4.52.2).
            block = (Command.NEGOTIATE, struct.pack("<H", 0xFFFF), b"")
            out = self._finish(msg, [block], st.STATUS_SUCCESS, 0, 0, 0)
            self._disconnect("no NT LM 0.12 dialect offered")
            return out
        self.extended_security = bool(q.flags2 & Flags2.EXTENDED_SECURITY)
        self.unicode = bool(q.flags2 & Flags2.UNICODE)
        caps = SERVER_CAPABILITIES
        if self.extended_security:
            from lanman.auth.spnego import negotiate_token

            caps |= w.Capabilities.EXTENDED_SECURITY
            blob = negotiate_token()
        else:
            blob = b""
        resp = w.NegotiateResponse(
            dialect_index=dialects.index(NT_LM_012),
            security_mode=self.security_mode,
            max_mpx_count=50,
            max_number_vcs=1,
            max_buffer_size=16644,
            max_raw_size=65536,
            session_key=0,
            capabilities=int(caps),
            system_time=self.now,
            server_time_zone=0,
            challenge=b"" if self.extended_security else os.urandom(8),
            server_guid=self.settings.server_guid,
            security_blob=blob,
            domain_name=self.settings.domain_name,
        )
        # The NEGOTIATE pair uses sequence numbers of its own; the session setup that
        # activates signing is request 0 (reference §3).
        self.next_seq = 0
        return self._finish(msg, [resp.block()], st.STATUS_SUCCESS, 0, 0, 0)

    # ---- SESSION_SETUP_ANDX (MS-SMB 3.3.5.3) -------------------------------------------------

    def _new_auth(self):
        from lanman.auth.ntlm import NtlmAcceptor
        from lanman.auth.spnego import SpnegoAcceptor

        s = self.settings
        ntlm = NtlmAcceptor(
            lookup_nt_hash=self.ctx.lookup_nt_hash,
            hooks=self.ctx.ntlm_hooks,
            server_name=s.server_name,
            domain_name=s.domain_name,
            dns_computer_name=s.server_name.lower(),
            dns_domain_name=s.dns_domain_name or s.domain_name.lower(),
            now_filetime=self.now,
            guest_allowed=s.map_to_guest,
            anonymous_allowed=True,
        )
        return SpnegoAcceptor(ntlm)

    def _session_setup(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        from lanman.auth.ntlm import AuthError

        q = msg.header
        unicode = bool(q.flags2 & Flags2.UNICODE)
        r = w.SessionSetupRequest.parse(block, unicode)
        if not r.extended:
            return self._basic_session_setup(r)
        if uid == 0 or uid not in self.sessions:
            if uid != 0:
                raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
            if len(self.sessions) >= self.settings.max_sessions_per_connection:
                raise NtStatusError(st.STATUS_REQUEST_NOT_ACCEPTED, "too many sessions")
            uid = self._alloc_uid()
            session = Smb1Session(uid, auth=self._new_auth())
            self.sessions[uid] = session
        else:
            session = self.sessions[uid]
            if session.state is SessionState.VALID or session.auth is None:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "session already set up")
        try:
            token, complete = session.auth.step(r.security_blob)
        except AuthError as exc:
            self.sessions.pop(uid, None)
            self.auth_failures += 1
            ntlm = getattr(session.auth, "ntlm", None)
            if ntlm is not None and getattr(ntlm, "bad_password", False):
                self.ctx.record_logon(ntlm.attempted_user, False, client=self.client_address)
            self.ctx.emit_event(
                "LOGON_FAILURE",
                client=self.client_address,
                domain=getattr(ntlm, "attempted_domain", ""),
                user=getattr(ntlm, "attempted_user", ""),
                status=f"0x{exc.status:08X} {st.lookup(exc.status).name}",
                reason=f"{exc.detail or 'authentication failed'} (SMB1)",
            )
            raise NtStatusError(exc.status) from None
        if not complete:
            return (
                "uid",
                uid,
                _Reply(w.SessionSetupResponse(0, token), st.STATUS_MORE_PROCESSING_REQUIRED),
            )
        result = session.auth.result
        from lanman.smb.server.sessions import _auth_package

        session.auth_package = _auth_package(session.auth)
        session.logon_time = self.now
        session.auth = None
        session.state = SessionState.VALID
        session.user, session.domain = result.user, result.domain
        session.is_guest, session.is_anonymous = result.is_guest, result.is_anonymous
        session.token = _logon_token(self.ctx, result)
        session.session_key = (
            (result.session_key + b"\x00" * 16)[:16] if result.session_key else b""
        )
        # The client offers to sign with SMB_FLAGS2_SMB_SECURITY_SIGNATURE (Windows) or a
        # non-zero SecuritySignature before activation (Samba's "BSRSPYL ").
        client_signs = (
            bool(
                q.flags2 & (Flags2.SMB_SECURITY_SIGNATURE | Flags2.SMB_SECURITY_SIGNATURE_REQUIRED)
            )
            or q.signature != b"\x00" * 8
        )
        self.client_signing_flags = q.flags2 & (
            Flags2.SMB_SECURITY_SIGNATURE | Flags2.SMB_SECURITY_SIGNATURE_REQUIRED
        )
        if (
            not self.signing_active
            and session.session_key
            and (
                self.signing_state == "required"
                or (self.signing_state == "enabled" and client_signs)
            )
        ):
            # MS-CIFS 3.3.5.3: activate signing with the first real user session; this
            # response is signed with number 1 and the next request carries 2. A server that
            # requires signing activates it even for a client that did not offer to sign;
            # that client's unsigned TREE_CONNECT_ANDX then fails with STATUS_ACCESS_DENIED.
            if not client_signs:
                self.ctx.emit_event(
                    "CLIENT_DOES_NOT_SUPPORT_SIGNING",
                    client=self.client_address,
                    user=session.user,
                    dialect="NT LM 0.12",
                )
            self.signing_active = True
            self.signing_key = session.session_key
            self.next_seq = 2
            self._activated_now = True
        if session.is_guest:
            self.ctx.emit_event(
                "INSECURE_GUEST_LOGON", client=self.client_address, user=result.user, share=""
            )
        action = w.SMB_SETUP_GUEST if session.is_guest else 0
        return ("uid", uid, w.SessionSetupResponse(action, token))

    def _basic_session_setup(self, r: w.SessionSetupRequest):
        """Non-extended security: only the anonymous (null) logon is accepted; lanman does
        not take LM / NTLMv1 challenge responses."""
        empty = r.oem_password in (b"", b"\x00") and not r.unicode_password
        if not (empty and not r.account_name):
            raise NtStatusError(st.STATUS_LOGON_FAILURE, "basic security logon refused")
        uid = self._alloc_uid()
        self.sessions[uid] = Smb1Session(uid, state=SessionState.VALID, is_anonymous=True)
        return (
            "uid",
            uid,
            w.SessionSetupResponse(0, extended=False, primary_domain=self.settings.domain_name),
        )

    def _alloc_uid(self) -> int:
        for _ in range(0xFFFE):
            uid = self._next_uid
            self._next_uid = self._next_uid % 0xFFFE + 1
            if uid not in self.sessions:
                return uid
        raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES)

    def _session(self, uid: int) -> Smb1Session:
        s = self.sessions.get(uid)
        if s is None or s.state is not SessionState.VALID:
            raise NtStatusError(st.STATUS_USER_SESSION_DELETED)  # ERRSRV/ERRbaduid
        return s

    def _tree(self, session: Smb1Session, tid: int) -> Smb1Tree:
        t = session.trees.get(tid)
        if t is None:
            raise NtStatusError(st.STATUS_NETWORK_NAME_DELETED)  # ERRSRV/ERRinvtid
        return t

    def _require_signing_gate(self, session: Smb1Session, what: str) -> None:
        """KB 887429: the server requires signing, the connection does not sign ->
        STATUS_ACCESS_DENIED at TREE_CONNECT_ANDX (or the TRANS2 DFS referral)."""
        if self.signing_state == "required" and not self.signing_active:
            self.ctx.emit_event(
                "CLIENT_DOES_NOT_SUPPORT_SIGNING",
                client=self.client_address,
                user=session.user or "(anonymous)",
                dialect="NT LM 0.12",
            )
            raise NtStatusError(st.STATUS_ACCESS_DENIED, f"{what}: server requires signing")

    # ---- LOGOFF_ANDX / TREE_CONNECT_ANDX / TREE_DISCONNECT ---------------------------------

    def _logoff(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        if block.word_count != 2:
            raise WireError("LOGOFF_ANDX WordCount is not 2")
        self._session(uid)
        self.sessions.pop(uid, None)
        return w.andx_empty(Command.LOGOFF_ANDX)

    def _tree_connect(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        session = self._session(uid)
        unicode = bool(msg.header.flags2 & Flags2.UNICODE)
        r = w.TreeConnectRequest.parse(block, unicode)
        if r.flags & w.TREE_CONNECT_ANDX_DISCONNECT_TID:
            session.trees.pop(tid, None)
        parts = [p for p in r.path.split("\\") if p]
        if len(parts) != 2:
            raise NtStatusError(st.STATUS_BAD_NETWORK_NAME)
        self._require_signing_gate(session, "TREE_CONNECT_ANDX")
        if len(session.trees) >= MAX_TREES:
            raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES)
        name = parts[1]
        service = r.service.upper()
        if name.upper() == "IPC$":
            if service not in ("?????", "IPC"):
                raise NtStatusError(STATUS_BAD_DEVICE_TYPE)
            tree = Smb1Tree(0, "IPC$", True)
            resp = w.TreeConnectResponse("IPC", "", maximal_access=FILE_ALL_ACCESS)
        else:
            share = self.ctx.get_share(name)
            if share is None:
                raise NtStatusError(st.STATUS_BAD_NETWORK_NAME)
            if service not in ("?????", "A:"):
                raise NtStatusError(STATUS_BAD_DEVICE_TYPE)
            if session.is_anonymous or (session.is_guest and not share.guest_ok):
                raise NtStatusError(st.STATUS_ACCESS_DENIED)
            if not os.path.isdir(share.path):
                raise NtStatusError(st.STATUS_BAD_NETWORK_NAME)
            granted = _share_permissions(self.ctx, session, share, self.client_address)
            read_only = share.read_only or not granted & 0x2  # FILE_WRITE_DATA
            tree = Smb1Tree(0, share.name, False, read_only)
            access = (READ_ONLY_ACCESS if read_only else FILE_ALL_ACCESS) & granted
            resp = w.TreeConnectResponse("A:", "NTFS", maximal_access=access)
        if not r.flags & w.TREE_CONNECT_ANDX_EXTENDED_RESPONSE:
            resp.maximal_access = None
        tree.tid = self._alloc_tid(session)
        session.trees[tree.tid] = tree
        return ("tid", tree.tid, resp)

    def _alloc_tid(self, session: Smb1Session) -> int:
        for _ in range(0xFFFE):
            tid = self._next_tid
            self._next_tid = self._next_tid % 0xFFFE + 1
            if tid not in session.trees:
                return tid
        raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES)

    def _tree_disconnect(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        session = self._session(uid)
        self._tree(session, tid)
        session.trees.pop(tid, None)
        return (Command.TREE_DISCONNECT, b"", b"")

    # ---- TRANSACTION2 (MS-CIFS 3.3.5.58) --------------------------------------------------

    def _trans2(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        session = self._session(uid)
        self._tree(session, tid)
        r = w.Trans2Request.parse(block, msg.raw)
        if r.subcommand == w.TRANS2_GET_DFS_REFERRAL:
            self._require_signing_gate(session, "TRANS2_GET_DFS_REFERRAL")
            if len(r.parameters) < 2:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER)
            # lanman hosts no DFS namespace (MS-DFSC 3.2.5.5: no referral -> NOT_FOUND).
            raise NtStatusError(st.STATUS_NOT_FOUND, "not a DFS server")
        raise NtStatusError(st.STATUS_NOT_SUPPORTED, "TRANS2 subcommand not supported")

    # ---- ECHO (MS-CIFS 3.3.5.32) -------------------------------------------------------------

    def _echo(self, msg: w.Message, block: w.Block, uid: int, tid: int):
        if block.word_count != 1:
            raise WireError("ECHO WordCount is not 1")
        (count,) = struct.unpack("<H", block.words)
        if count == 0:
            return None
        return (min(count, MAX_ECHO_REPLIES), block.data)


def _command_name(cmd: int) -> str:
    try:
        return Command(cmd).name
    except ValueError:
        return f"0x{cmd:02X}"


_HANDLERS = {
    Command.SESSION_SETUP_ANDX: Smb1ServerConnection._session_setup,
    Command.LOGOFF_ANDX: Smb1ServerConnection._logoff,
    Command.TREE_CONNECT_ANDX: Smb1ServerConnection._tree_connect,
    Command.TREE_DISCONNECT: Smb1ServerConnection._tree_disconnect,
    Command.TRANSACTION2: Smb1ServerConnection._trans2,
    Command.ECHO: Smb1ServerConnection._echo,
}
