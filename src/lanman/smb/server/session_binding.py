"""Multichannel session binding on the server (MS-SMB2 3.3.5.5 with
SMB2_SESSION_FLAG_BINDING, 3.3.5.5.2, 3.3.5.5.3): a second connection of the client joins
a session that another connection set up, with a fresh authentication of the same user
and a Channel.SigningKey of its own (3.1.1: derived over this connection's preauth hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lanman.crypto.smb_signing import SigningAlgorithm, derive_keys, preauth_hash_update
from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import Dialect

from .session_table import Channel
from .state import SessionState

if TYPE_CHECKING:
    from lanman.smb.wire.session import SessionSetupRequest

    from .request import Reply, Request
    from .state import Session

_GMAC = SigningAlgorithm.AES_GMAC
#: Channels a session may have, the first one included (Windows Server 2012 R2 and later:
#: 32; the next binding gets STATUS_INSUFFICIENT_RESOURCES): bounds what one session holds
MAX_CHANNELS = 32


@dataclass(slots=True)
class PendingBind:
    """A binding exchange under way on this connection (its session is not usable here
    until it completes)."""

    session: Session
    auth: Any  # SpnegoAcceptor
    preauth_hash: bytes  # this channel's PreauthIntegrityHashValue (3.1.1)


def binding_refusal(conn, session: Session, signed: bool) -> int | None:
    """The status a binding request gets before any authentication, or None to go on
    (MS-SMB2 3.3.5.5 for SMB2_SESSION_FLAG_BINDING; the order of the checks is the one
    Windows shows to smbtorture's smb2.session.bind_negative_* tests). Like Windows (the
    "...d" variants of those tests), a connection with another ClientGuid may bind: the
    binding proves Session.SigningKey and authenticates the session's user afresh, which is
    what protects the session (Samba 4.17 refuses it with STATUS_USER_SESSION_DELETED)."""
    if not signed:
        return st.STATUS_INVALID_PARAMETER  # "the SMB2_FLAGS_SIGNED bit is not set"
    here, there = conn.signing_algorithm, session.signing_algorithm
    if there == _GMAC and here != there:
        return st.STATUS_REQUEST_OUT_OF_SEQUENCE
    if here == _GMAC and here != there:
        return st.STATUS_NOT_SUPPORTED
    if conn.dialect < Dialect.SMB_3_0 or conn.dialect == Dialect.SMB_2_WILDCARD:
        return st.STATUS_REQUEST_NOT_ACCEPTED  # no binding before 3.0
    if session.cipher != conn.cipher:
        return st.STATUS_INVALID_PARAMETER
    if not conn.multichannel:
        return st.STATUS_REQUEST_NOT_ACCEPTED  # IsMultiChannelCapable is FALSE
    if session.dialect != conn.dialect:
        return st.STATUS_INVALID_PARAMETER  # "Connection.Dialect is not the same"
    if session.session_id in conn.sessions:
        return st.STATUS_REQUEST_NOT_ACCEPTED  # already a channel of this connection
    if session.state is not SessionState.VALID:
        return st.STATUS_REQUEST_NOT_ACCEPTED  # Session.State is InProgress
    if session.expired(conn.now):
        return st.STATUS_NETWORK_SESSION_EXPIRED
    if not session.can_sign or session.is_guest or session.is_anonymous:
        return st.STATUS_NOT_SUPPORTED  # Session.IsAnonymous / IsGuest
    if len(session.channels) >= MAX_CHANNELS:
        return st.STATUS_INSUFFICIENT_RESOURCES
    return None


class SessionBinding:
    """Mixin of :class:`ServerConnection`: the binding leg of SESSION_SETUP."""

    @property
    def multichannel(self) -> bool:
        """IsMultiChannelCapable for this connection: the setting, 3.x, and a client that
        announced SMB2_GLOBAL_CAP_MULTI_CHANNEL (the capability is echoed only then)."""
        from lanman.smb.wire.constants import GlobalCapabilities

        return bool(self.server_capabilities & GlobalCapabilities.MULTI_CHANNEL)

    def _session_bind(self, req: Request, r: SessionSetupRequest) -> Reply:
        from lanman.auth.ntlm import AuthError

        sid = req.header.session_id
        pending = self.pending_binds.get(sid)
        session = self.ctx.sessions.get(sid)
        if pending is not None and pending.session is not session:
            self.pending_binds.pop(sid, None)  # the session ended while binding
            raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
        if session is None or (req.header.is_signed and req.session is not session):
            raise NtStatusError(st.STATUS_USER_SESSION_DELETED)
        if pending is None:
            refusal = binding_refusal(self, session, req.header.is_signed)
            if refusal is not None:
                raise NtStatusError(refusal, "session binding refused")
            if len(self.pending_binds) + len(self.sessions) >= (
                self.settings.max_sessions_per_connection
            ):
                raise NtStatusError(st.STATUS_REQUEST_NOT_ACCEPTED, "too many sessions")
            pending = PendingBind(session, self._new_auth(), self.preauth_hash)
            self.pending_binds[sid] = pending
        if self.dialect == Dialect.SMB_3_1_1:
            pending.preauth_hash = preauth_hash_update(pending.preauth_hash, req.pdu)
        try:
            out_token, complete = pending.auth.step(r.security_buffer)
        except AuthError as exc:
            self.pending_binds.pop(sid, None)
            self.auth_failures += 1
            self._binding_event(session, exc.status, exc.detail or "authentication failed")
            raise NtStatusError(exc.status) from None
        if not complete:
            reply = self._setup_reply(
                req, session, 0, out_token, st.STATUS_MORE_PROCESSING_REQUIRED, sign=True
            )
            if self.dialect == Dialect.SMB_3_1_1:

                def _hash(packed: bytes, p=pending) -> None:
                    p.preauth_hash = preauth_hash_update(p.preauth_hash, packed)

                reply.after_pack = _hash
            return reply
        self.pending_binds.pop(sid, None)
        result = pending.auth.result
        if (
            result.is_guest
            or result.is_anonymous
            or result.user.lower() != session.user.lower()
            or result.domain.lower() != session.domain.lower()
        ):
            # 3.3.5.5.3: the binding must authenticate the session's own user.
            self._binding_event(session, st.STATUS_ACCESS_DENIED, "binding as another user")
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "binding as another user")
        full = bytes(result.session_key).ljust(16, b"\x00")
        keys = derive_keys(
            full,
            self.dialect,
            pending.preauth_hash if self.dialect == Dialect.SMB_3_1_1 else None,
        )
        session.channels[self.conn_id] = Channel(self, keys.signing_key)
        self.sessions[sid] = session
        return self._setup_reply(
            req,
            session,
            self._session_flags(session),
            out_token,
            st.STATUS_SUCCESS,
            sign=True,
        )

    def _binding_event(self, session: Session, status: int, reason: str) -> None:
        self.ctx.emit_event(
            "LOGON_FAILURE",
            client=self.client_address,
            domain=session.domain,
            user=session.user,
            status=f"0x{status:08X} {st.lookup(status).name}",
            reason=f"session binding: {reason}",
        )


# ---- FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5, 3.3.5.15.11) ---------------

_AF_INET, _AF_INET6 = 0x0002, 0x0017  # SOCKADDR_STORAGE Family values (2.2.32.5.1)
#: LinkSpeed reported for the interface (bits per second): lanman cannot see the NIC's
#: speed from the socket, so it reports 1 Gbit/s, a plausible value clients only rank by
_LINK_SPEED = 1_000_000_000


def pack_network_interface_info(addresses: list[str]) -> bytes:
    """NETWORK_INTERFACE_INFO entries (2.2.32.5), one per address, chained by Next; an
    address that is neither IPv4 nor IPv6 is skipped."""
    import ipaddress
    import struct

    entries = []
    for i, text in enumerate(addresses):
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if ip.version == 4:
            sockaddr = struct.pack("<H", _AF_INET) + b"\x00\x00" + ip.packed
        else:
            sockaddr = struct.pack("<H", _AF_INET6) + b"\x00\x00" + b"\x00" * 4 + ip.packed
        entries.append((i + 1, sockaddr.ljust(128, b"\x00")))
    out = bytearray()
    for n, (if_index, sockaddr) in enumerate(entries):
        nxt = 152 if n < len(entries) - 1 else 0
        out += struct.pack("<IIIIQ", nxt, if_index, 0, 0, _LINK_SPEED) + sockaddr
    return bytes(out)


class NetworkInterfaces:
    """Mixin of :class:`ServerConnection`: the interface list a multichannel client asks
    for (3.3.5.15.11) -- the address this connection was accepted on, so a client finds a
    path for a further channel where it already reached the server."""

    def _network_interface_info(self, req: Request, r) -> Reply:
        from lanman.smb.wire.query import pack_ioctl_response

        if not self.multichannel or not self.server_address:
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no multichannel")
        data = pack_network_interface_info([self.server_address])
        if not data:
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no usable interface address")
        if len(data) > r.max_output_response:
            raise NtStatusError(st.STATUS_BUFFER_TOO_SMALL)
        return self.ok(req, [pack_ioctl_response(r.ctl_code, r.file_id, data)])
