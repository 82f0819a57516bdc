"""SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT on the server (MS-SMB2 3.3.5.5-3.3.5.8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lanman.crypto.smb_encryption import NonceCounter
from lanman.crypto.smb_signing import derive_keys, preauth_hash_update
from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import (
    FILE_ALL_ACCESS,
    FILE_WRITE_DATA,
    SESSION_FLAG_BINDING,
    Dialect,
    SecurityMode,
    SessionFlags,
    ShareFlags,
    ShareType,
)
from lanman.smb.wire.session import (
    SessionSetupRequest,
    SessionSetupResponse,
    TreeConnectRequest,
    TreeConnectResponse,
    check_empty_body,
    empty_body,
)

from .session_binding import NetworkInterfaces, SessionBinding
from .session_table import Channel
from .state import UNMAPPABLE, Session, SessionState, TreeConnect

if TYPE_CHECKING:
    from .request import Reply, Request


class _IpcShare:
    """IPC$ has no Share.EncryptData of its own; the server-wide EncryptData covers it."""

    name = "IPC$"
    encrypt_data = False


_IPC = _IpcShare()

# Read + execute + read attributes/EA/control: what a read-only share grants.
READ_ONLY_ACCESS = 0x001200A9


def _auth_package(auth) -> str:
    """Kerberos or NTLM: the mechanism an SpnegoAcceptor (or a raw acceptor) completed."""
    from lanman.auth.spnego import NTLMSSP_OID

    if getattr(auth, "raw_krb5", False):
        return "Kerberos"
    if getattr(auth, "raw_ntlm", False):
        return "NTLM"
    mech = getattr(auth, "selected_mech", "")
    if not mech:
        return "NTLM"
    return "NTLM" if mech == NTLMSSP_OID else "Kerberos"


def _ticket_expiration(auth) -> int:
    """Session.ExpirationTime (FILETIME) of a Kerberos logon: the service ticket's endtime
    (MS-SMB2 3.3.5.5.3; MS-KILE 3.4.5.2 hands it over); 0 (never) for NTLM."""
    krb = getattr(auth, "kerberos", None)
    if krb is None and getattr(auth, "context", None) is not None:
        krb = auth  # a raw Kerberos acceptor
    if not (getattr(auth, "raw_krb5", False) or _auth_package(auth) == "Kerberos"):
        return 0
    ctx = getattr(krb, "context", None)
    endtime = getattr(ctx, "endtime", 0) if ctx is not None else 0
    if not endtime:
        return 0
    from lanman.smb.filestat import unix_ns_to_filetime

    return unix_ns_to_filetime(int(endtime) * 1_000_000_000)


class SessionHandlers(SessionBinding, NetworkInterfaces):
    """Mixin of :class:`ServerConnection` for session and tree management."""

    # ---- SESSION_SETUP -----------------------------------------------------------------

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
        factory = self.ctx.kerberos_acceptor
        return SpnegoAcceptor(ntlm, factory() if factory is not None else None)

    def _session_setup(self, req: Request) -> Reply:
        from lanman.auth.ntlm import AuthError

        hdr = req.header
        r = SessionSetupRequest.unpack(req.pdu)
        if r.flags & SESSION_FLAG_BINDING:
            return self._session_bind(req, r)  # session_binding.py (3.3.5.5.2)
        if hdr.session_id == 0:
            if len(self.sessions) >= self.settings.max_sessions_per_connection:
                raise NtStatusError(st.STATUS_REQUEST_NOT_ACCEPTED, "too many sessions")
            sid = self.ctx.sessions.new_id(self.ctx.random_bytes)
            if not sid:
                raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES, "no free SessionId")
            session = Session(
                session_id=sid,
                preauth_hash=self.preauth_hash,
                client_security_mode=r.security_mode,
                dialect=self.dialect,
                signing_algorithm=self.signing_algorithm,
                cipher=self.cipher,
            )
            if not self.ctx.sessions.add(session):
                raise NtStatusError(st.STATUS_REQUEST_NOT_ACCEPTED, "server session table full")
            session.auth = self._new_auth()
            self.sessions[session.session_id] = session
        else:
            session = self.sessions.get(hdr.session_id)
            if session is None:
                raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
            if session.state is SessionState.VALID:
                # Re-authentication (3.3.5.5.2): run a new exchange, keep the keys.
                if session.auth is None:
                    session.auth = self._new_auth()
            elif session.auth is None:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        req.session = session
        first_setup = session.state is SessionState.IN_PROGRESS
        if self.dialect == Dialect.SMB_3_1_1 and first_setup:
            session.preauth_hash = preauth_hash_update(session.preauth_hash, req.pdu)
        try:
            out_token, complete = session.auth.step(r.security_buffer)
        except AuthError as exc:
            ntlm = getattr(session.auth, "ntlm", None)
            if ntlm is not None and getattr(ntlm, "bad_password", False):
                self.ctx.record_logon(ntlm.attempted_user, False, client=self.client_address)
            self._auth_failed(
                session,
                first_setup,
                exc.status,
                reason=exc.detail or "authentication failed",
                user=getattr(ntlm, "attempted_user", "") if ntlm is not None else "",
                domain=getattr(ntlm, "attempted_domain", "") if ntlm is not None else "",
            )
            raise NtStatusError(exc.status) from None
        if not complete:
            # Re-authentication of a session that holds keys: its interim responses are
            # signed like every other response of the session (3.3.4.1.1; Windows, Samba).
            reply = self._setup_reply(
                req,
                session,
                0,
                out_token,
                st.STATUS_MORE_PROCESSING_REQUIRED,
                sign=not first_setup and session.can_sign,
            )
            if self.dialect == Dialect.SMB_3_1_1 and first_setup:

                def _hash(packed: bytes, s=session) -> None:
                    s.preauth_hash = preauth_hash_update(s.preauth_hash, packed)

                reply.after_pack = _hash
            return reply
        result = session.auth.result
        package = _auth_package(session.auth)
        expires = _ticket_expiration(session.auth)
        session.auth = None
        if result.user and not (result.is_guest or result.is_anonymous):
            self.ctx.record_logon(result.user, True)
        if not first_setup:
            return self._reauthenticated(req, session, result, out_token, expires)
        session.user, session.domain = result.user, result.domain
        session.is_guest, session.is_anonymous = result.is_guest, result.is_anonymous
        if not (session.is_guest or session.is_anonymous):
            # the Unix user its file access runs as (lanman user set --unix-user), if any
            session.unix_id = self.ctx.unix_identity(result.user)
            full = bytes(result.session_key).ljust(16, b"\x00")
            key = full[:16]
            cipher = self.cipher
            keys = derive_keys(
                full,
                self.dialect,
                session.preauth_hash if self.dialect == Dialect.SMB_3_1_1 else None,
                cipher.key_bits
                if cipher is not None and self.dialect == Dialect.SMB_3_1_1
                else 128,
            )
            session.session_key = key
            session.signing_key = keys.signing_key
            session.application_key = keys.application_key
            if cipher is not None:
                # 3.3.5.5.3: cipher keys; a nonce counter per encryption key (3.1.4.3).
                session.encryption_key = keys.encryption_key
                session.decryption_key = keys.decryption_key
                session.nonces = NonceCounter(cipher, self.ctx.random_bytes(4))
                # Global EncryptData: every session of a client that can encrypt is.
                session.encrypt_data = bool(self.settings.encrypt_data)
        # Session.ChannelList: the first channel is the connection that set it up.
        session.channels[self.conn_id] = Channel(self, session.signing_key)
        # MS-SMB2 3.3.5.5.3 step 5, never for guest/anonymous (they hold no key).
        session.signing_required = session.can_sign and bool(
            (session.client_security_mode & SecurityMode.SIGNING_REQUIRED)
            or self.should_sign
            or self.settings.require_message_signing
        )
        session.token = self._logon_token(result)
        session.auth_package = "" if session.is_guest or session.is_anonymous else package
        session.logon_time = session.last_activity = self.now
        session.expiration_time = expires
        session.state = SessionState.VALID
        if session.is_guest:
            self.ctx.emit_event(
                "INSECURE_GUEST_LOGON",
                client=self.client_address,
                user=result.requested_user if hasattr(result, "requested_user") else "",
                share="",
            )
        if r.previous_session_id and r.previous_session_id != session.session_id:
            self._end_previous_session(r.previous_session_id, session)
        # The final response of a real user's session is signed (3.3.5.5.3; Samba: all
        # dialects), so the client can check that the keys agree.
        return self._setup_reply(
            req,
            session,
            self._session_flags(session),
            out_token,
            st.STATUS_SUCCESS,
            sign=session.can_sign,
        )

    def _reauthenticated(self, req, session: Session, result, out_token, expires: int) -> Reply:
        """MS-SMB2 3.3.5.5.2/3.3.5.5.3 for a live session: the keys, opens and trees stay.

        The same user, or an anonymous/guest identity (Windows and Samba accept both; the
        session then acts with that identity's token until the user re-authenticates), is
        accepted; another named user is refused with STATUS_ACCESS_DENIED and the session
        keeps its old identity. A new Kerberos ticket moves Session.ExpirationTime."""
        named = not (result.is_guest or result.is_anonymous)
        if named and (not session.can_sign or result.user.lower() != session.user.lower()):
            self._auth_failed(
                session,
                False,
                st.STATUS_ACCESS_DENIED,
                reason="re-authentication as another user",
                user=result.user,
                domain=result.domain,
                keep=True,
            )
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "re-authentication as another user")
        if not (result.is_guest or result.is_anonymous):
            session.user, session.domain = result.user, result.domain
        session.is_guest, session.is_anonymous = result.is_guest, result.is_anonymous
        session.token = self._logon_token(result)
        session.expiration_time = expires
        session.last_activity = self.now
        # Windows sets neither IS_GUEST nor IS_NULL on a re-authentication's response.
        flags = SessionFlags.ENCRYPT_DATA if session.encrypt_data else 0
        return self._setup_reply(
            req, session, flags, out_token, st.STATUS_SUCCESS, sign=session.can_sign
        )

    def _end_previous_session(self, previous_id: int, session: Session) -> None:
        """MS-SMB2 3.3.5.5.3: a logon naming PreviousSessionId ends that session (the
        client reconnected) when it belongs to the same user; its opens are closed and its
        next request gets STATUS_USER_SESSION_DELETED. Another user's session is left
        alone (no one can close a session they do not own)."""
        old = self.ctx.sessions.get(previous_id)
        if (
            old is None
            or old.state is not SessionState.VALID
            or session.is_guest
            or session.is_anonymous
            or old.is_guest
            or old.is_anonymous
            or old.user.lower() != session.user.lower()
            or old.domain.lower() != session.domain.lower()
        ):
            return
        self._end_session(old)

    def _end_session(self, session: Session, *, keep_durable: bool = True) -> None:
        """Tear a session down on every channel (LOGOFF 3.3.5.6, a failed re-authentication,
        PreviousSessionId, Close-SmbSession): its opens close -- but durable ones, which
        wait for a reconnect unless an administrator closed the session --, its trees go,
        it leaves the GlobalSessionTable; each connection remembers it for a while to sign
        the STATUS_USER_SESSION_DELETED its next request gets (3.3.5.2.4)."""
        self.ctx.sessions.remove(session)
        conns = {id(self): self}
        for ch in session.channels.values():
            conns.setdefault(id(ch.connection), ch.connection)
        for conn in conns.values():
            conn._forget_session(session, keep_durable=keep_durable)
        session.trees.clear()

    def _forget_session(self, session: Session, *, keep_durable: bool = True) -> int:
        """This connection's half of :meth:`_end_session`; returns the files closed."""
        sid = session.session_id
        opens = [o for o in self.opens.values() if o.session_id == sid]
        if keep_durable:  # durable opens outlive LOGOFF (3.3.5.6)
            opens = [o for o in opens if not self._keep_durable(o)]
        for open_ in opens:
            self.admin_close_open(open_)  # as the session's Unix user
        self.pending_binds.pop(sid, None)
        if self.sessions.get(sid) is session:
            del self.sessions[sid]
            self.logged_off[sid] = session
            while len(self.logged_off) > 8:
                self.logged_off.pop(next(iter(self.logged_off)))
        return sum(1 for o in opens if o.kind != "pipe")

    def _logon_token(self, result):
        """The session's SecurityToken (MS-DTYP 2.5.2), built once at logon from the SIDs
        the context gives (PAC for Kerberos; the accounts' groups for NTLM)."""
        from lanman.security.token import SecurityToken

        sids = list(self.ctx.logon_sids(result))
        if not sids:
            from .state import default_logon_sids

            sids = default_logon_sids(result)
        return SecurityToken.build(sids)

    def _session_flags(self, session: Session) -> int:
        if session.is_anonymous:
            return SessionFlags.IS_NULL
        if session.is_guest:
            return SessionFlags.IS_GUEST
        return SessionFlags.ENCRYPT_DATA if session.encrypt_data else 0

    def _setup_reply(self, req, session, flags, token, status, sign=False):
        from .request import Reply

        return Reply(
            req.header,
            status,
            [SessionSetupResponse(flags, token or b"").pack()],
            session=session,
            sign=sign,
            session_id=session.session_id,
            encrypted=req.encrypted,
        )

    def _auth_failed(
        self,
        session: Session,
        first_setup: bool,
        status: int,
        *,
        reason: str = "authentication failed",
        user: str = "",
        domain: str = "",
        keep: bool = False,
    ) -> None:
        """A failed SESSION_SETUP: a new session is dropped; a failed re-authentication
        ends the live session on all its channels (Windows/Samba: smb2.session.reauth6),
        its LOGON_FAILURE still signed with the old key. ``keep``: the session survives
        (another user's re-authentication, refused)."""
        self.auth_failures += 1
        session.auth = None
        if first_setup:
            self.sessions.pop(session.session_id, None)
            self.ctx.sessions.remove(session)
        elif not keep:
            self._end_session(session)
        self.ctx.emit_event(
            "LOGON_FAILURE",
            client=self.client_address,
            domain=domain,
            user=user,
            status=f"0x{status:08X} {st.lookup(status).name}",
            reason=reason,
        )

    # ---- LOGOFF ------------------------------------------------------------------------

    def _logoff(self, req: Request) -> Reply:
        """MS-SMB2 3.3.5.6: the session ends on every channel; its opens close (pending
        operations on them complete) and its trees go. The response is signed with the
        session's key, computed before the teardown."""
        check_empty_body(req.pdu, 4)
        reply = self.ok(req, [empty_body(4)])
        self._end_session(req.session)
        return reply

    # ---- TREE_CONNECT / TREE_DISCONNECT -------------------------------------------

    def _tree_connect(self, req: Request) -> Reply:
        from .fs import ShareFS

        session = req.session  # an unsigned 3.1.1 request never gets here (_check_signature)
        r = TreeConnectRequest.unpack(req.pdu)
        path = r.path.rstrip("\x00")
        parts = [p for p in path.split("\\") if p]
        if len(parts) != 2 or len(path) > 1024:
            raise NtStatusError(st.STATUS_BAD_NETWORK_NAME)
        name = parts[1]
        if len(session.trees) >= 1024:
            raise NtStatusError(st.STATUS_INSUFF_SERVER_RESOURCES)
        if name.upper() == "IPC$":
            self._share_encryption(req, session, _IPC)  # server-wide EncryptData only
            tree = TreeConnect(self._next_tree_id, "IPC$", True, None, False, FILE_ALL_ACCESS)
            share_type = ShareType.PIPE
        else:
            share = self.ctx.get_share(name)
            if share is None:
                raise NtStatusError(st.STATUS_BAD_NETWORK_NAME)
            if (session.is_anonymous and not _anonymous_share_ok(self.settings, name, share)) or (
                session.is_guest and not share.guest_ok
            ):
                raise NtStatusError(st.STATUS_ACCESS_DENIED)
            if session.unix_id == UNMAPPABLE:
                raise NtStatusError(st.STATUS_ACCESS_DENIED, "Unix user mapping unavailable")
            granted = self._share_permissions(session, share)
            # Read (no FILE_WRITE_DATA / FILE_ADD_FILE): the tree is read-only, so nothing is
            # created, overwritten or changed through it whatever the access asked for
            read_only = share.read_only or not granted & FILE_WRITE_DATA
            try:
                fs = ShareFS(share.path, read_only=read_only, data_dir=self.ctx.data_dir)
                fs.delete_pending = self.ctx.opendb.is_delete_pending
            except NtStatusError as e:
                if e.status == st.STATUS_ACCESS_DENIED:  # a share inside the data directory
                    raise
                self._share_unavailable(req, session, share, f"NTSTATUS 0x{e.status:08X}")
            except OSError as e:
                self._share_unavailable(req, session, share, e.strerror or type(e).__name__)
            access = (READ_ONLY_ACCESS if read_only else FILE_ALL_ACCESS) & granted
            encrypt = self._share_encryption(req, session, share)
            tree = TreeConnect(
                self._next_tree_id,
                share.name,
                False,
                fs,
                read_only,
                access,
                encrypt,
                share_access=granted,
            )
            share_type = ShareType.DISK
        self._next_tree_id += 1
        session.trees[tree.tree_id] = tree
        flags = ShareFlags.ENCRYPT_DATA if tree.encrypt_data else 0
        body = TreeConnectResponse(share_type, flags, 0, tree.maximal_access).pack()
        return self.ok(req, [body], tree_id=tree.tree_id)

    def _share_unavailable(self, req: Request, session: Session, share, reason: str):
        """The share exists but its directory cannot be opened (removed, unmounted, no
        permission): the client sees "no such share" as from Windows, the administrator an
        event naming the path and the cause."""
        self.ctx.emit_event(
            "SHARE_PATH_UNAVAILABLE",
            share=share.name,
            path=share.path,
            reason=reason,
            client=self.client_address,
            user=self._user_label(session),
        )
        raise NtStatusError(st.STATUS_BAD_NETWORK_NAME) from None

    def _share_permissions(self, session: Session, share) -> int:
        """MS-SMB2 3.3.5.7: the share's security descriptor (Share.ShareSecurity) checked
        against the session's token for MAXIMUM_ALLOWED; no access at all refuses the tree
        connect with STATUS_ACCESS_DENIED, as Windows does."""
        from lanman.security.share import share_access

        sd = getattr(share, "security_descriptor", None)
        if sd is None:
            return FILE_ALL_ACCESS
        from lanman.security.errors import SecurityError
        from lanman.security.token import SecurityToken

        token = session.token if session.token is not None else SecurityToken()  # no SIDs

        try:
            granted = share_access(sd, token)
        except (SecurityError, ValueError):  # a damaged descriptor grants nothing
            granted = 0
        if not granted:
            self.ctx.emit_event(
                "SHARE_ACCESS_DENIED",
                client=self.client_address,
                user=self._user_label(session),
                share=share.name,
            )
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "share permissions")
        return granted

    def _share_encryption(self, req: Request, session: Session, share) -> bool:
        """MS-SMB2 3.3.5.7: a share with EncryptData (or the server's EncryptData) and a
        client that cannot encrypt: refused with STATUS_ACCESS_DENIED when
        RejectUnencryptedAccess is on, served unencrypted when it is off. Returns
        Share.EncryptData for the tree (ShareFlags ENCRYPT_DATA)."""
        wanted = bool(getattr(share, "encrypt_data", False))
        if not (wanted or self.settings.encrypt_data):
            return False
        if self.cipher is not None and session.can_encrypt:
            return wanted
        if not self.settings.reject_unencrypted_access:
            return False
        reason = (
            "guest or anonymous sessions cannot encrypt"
            if session.is_guest or session.is_anonymous
            else "the client does not support encryption"
            if self.cipher is None
            else "the session holds no encryption key"
        )
        self.ctx.emit_event(
            "UNENCRYPTED_ACCESS_REJECTED",
            client=self.client_address,
            user=self._user_label(session),
            share=share.name,
            reason=reason,
        )
        raise NtStatusError(st.STATUS_ACCESS_DENIED, reason)

    def _tree_disconnect(self, req: Request) -> Reply:
        check_empty_body(req.pdu, 4)
        tree = self._tree(req)
        for open_ in [
            o
            for o in self.opens.values()
            if o.session_id == req.session.session_id and o.tree_id == tree.tree_id
        ]:
            self._close_open(open_)
        req.session.trees.pop(tree.tree_id, None)
        return self.ok(req, [empty_body(4)])

    def _tree(self, req: Request) -> TreeConnect:
        tree = req.session.trees.get(req.header.tree_id)
        if tree is None:
            raise NtStatusError(st.STATUS_NETWORK_NAME_DELETED)
        return tree


def _anonymous_share_ok(settings, name: str, share) -> bool:
    """RestrictNullSessAccess / NullSessionShares (lanman.policy.anonymous)."""
    from lanman.policy.anonymous import anonymous_share_allowed

    return anonymous_share_allowed(getattr(settings, "anonymous", None), name, share.guest_ok)
