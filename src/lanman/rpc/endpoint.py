"""DCE/RPC server endpoint for one SMB named-pipe open (ncacn_np, MS-RPCE 2.1.1.2).

Sans-IO: the SMB layer feeds WRITE / FSCTL_PIPE_TRANSCEIVE input bytes into :class:`RpcPipe`
and drains READ output from it.  The pipe runs the connection-oriented server state machine of
C706 ch. 12 (bind, alter_context, request reassembly, response fragmentation, faults) and
dispatches complete requests to :class:`RpcInterface` implementations.

Output is kept as a queue of *messages* (one PDU fragment each) because named pipes used by
RPC are message-mode (MS-FSCC 2.3.48, MS-SMB2 3.3.5.15.3): a READ never crosses a message
boundary, and a READ shorter than the current message returns STATUS_BUFFER_OVERFLOW with the
rest left for the next READ.  Use :meth:`RpcPipe.message_remaining` to decide that status.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lanman.rpc.auth import (
    NTLM_SIGNATURE_SIZE,
    RPC_C_AUTHN_WINNT,
    AuthLevel,
    RpcAuthError,
    protect,
    unprotect,
)
from lanman.rpc.ndr import NdrError
from lanman.rpc.pdu import (
    BTFN_KEEP_CONNECTION_ON_ORPHAN,
    NDR_SYNTAX,
    PFC_DID_NOT_EXECUTE,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    BindAckPdu,
    BindNakPdu,
    BindNakReason,
    BindPdu,
    ContextResult,
    ContextResultItem,
    FaultPdu,
    FaultStatus,
    OtherPdu,
    PduFramer,
    ProviderReason,
    PType,
    RequestPdu,
    ResponsePdu,
    RpcProtocolError,
    SyntaxId,
    bind_time_feature_bits,
    is_bind_time_feature_syntax,
    parse_header,
    parse_pdu,
)

if TYPE_CHECKING:
    from lanman.auth.ntlm import NtlmAcceptor, NtlmSession
    from lanman.rpc.interfaces.srvsvc import ShareProvider

__all__ = [
    "MAX_PENDING_OUTPUT",
    "MAX_REQUEST_SIZE",
    "MAX_XMIT_FRAG",
    "MIN_XMIT_FRAG",
    "CallContext",
    "PipeFactory",
    "PipeProviders",
    "RpcFault",
    "RpcInterface",
    "RpcPipe",
    "builtin_pipes",
    "normalize_pipe_name",
    "open_pipe",
]

log = logging.getLogger(__name__)

#: Largest reassembled request stub accepted (defensive bound; C706 leaves it to the server).
MAX_REQUEST_SIZE = 1 << 20
#: Largest amount of unread output before the pipe gives up on a client that never reads.
MAX_PENDING_OUTPUT = 8 << 20
#: Fragment size bounds for what we send.  C706 12.6.3.1 requires every peer to accept 1432
#: byte fragments; we never go below 1024 so a hostile tiny max_recv_frag cannot make us emit
#: one PDU per handful of stub bytes, and never above 5840 (what Samba/Windows use).
MIN_XMIT_FRAG = 1024
MAX_XMIT_FRAG = 5840
#: What we advertise as our max_recv_frag (C706 12.6.4.4); we accept larger fragments anyway.
OUR_MAX_RECV_FRAG = 5840
_RESPONSE_HEADER = 24
_SUPPORTED_FEATURES = BTFN_KEEP_CONNECTION_ON_ORPHAN  # MS-RPCE 3.3.1.5.3, 3.3.1.5.10


@dataclass(slots=True)
class CallContext:
    """Who is calling, as established by the SMB session that opened the pipe."""

    user: str
    is_anonymous: bool
    is_guest: bool
    client_address: str
    server_name: str
    is_admin: bool = False
    domain: str = ""
    #: RPC-level authentication of the association (MS-RPCE 3.3.1.5.2): the NTLM user and
    #: the negotiated level; 0 = none.  When set, ``user``/``domain`` are the RPC identity.
    rpc_auth_level: int = 0
    pipe_name: str = ""
    #: RestrictAnonymous = 1: an anonymous caller may not enumerate (NetrShareEnum).
    restrict_anonymous: bool = False


class RpcFault(Exception):
    """Raised by an interface to answer a call with a fault PDU (C706 12.6.4.7)."""

    def __init__(self, status: int, did_not_execute: bool = False) -> None:
        super().__init__(f"RPC fault 0x{status:08x}")
        self.status = status
        self.did_not_execute = did_not_execute


@runtime_checkable
class RpcInterface(Protocol):
    """One RPC interface (abstract syntax) served on a pipe; one instance per pipe open."""

    uuid: str
    version: tuple[int, int]  # (major, minor)

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        """Execute ``opnum`` on an NDR20 request stub; return the response stub.

        Raise :class:`RpcFault` for a fault, :class:`~lanman.rpc.ndr.NdrError` for undecodable
        stub data (answered with nca_s_fault_ndr).
        """
        ...


@dataclass(slots=True)
class _PendingCall:
    call_id: int
    p_cont_id: int
    opnum: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


class RpcPipe:
    """Server side of one DCE/RPC association over one named-pipe open.

    ``write`` consumes client bytes (may hold partial PDUs, or several PDUs); ``read`` returns
    output one message (PDU fragment) at a time.  :class:`RpcProtocolError` escapes ``write``
    only for input that cannot be framed or that violates the protocol badly enough that C706
    says to drop the association; the pipe is then *broken* and rejects further writes (the SMB
    layer should fail the request, e.g. STATUS_INVALID_PARAMETER or STATUS_PIPE_BROKEN).
    Everything else (unknown interface, bad opnum, bad stub, malformed request body) is answered
    on the wire with bind_nak / bind_ack rejection / fault.
    """

    def __init__(
        self,
        interfaces: list[RpcInterface],
        ctx: CallContext,
        *,
        sec_addr: str = "",
        assoc_group_id: int = 0x0000_53F0,
        auth_factory: Callable[[], NtlmAcceptor] | None = None,
        emit: Callable[..., None] | None = None,
    ) -> None:
        self.interfaces = list(interfaces)
        self.ctx = ctx
        self.sec_addr = sec_addr
        self._assoc_group_default = assoc_group_id
        self.assoc_group_id = 0
        self.bound = False
        self.max_xmit_frag = MAX_XMIT_FRAG
        self.max_recv_frag = OUR_MAX_RECV_FRAG
        self.features = 0
        self.contexts: dict[int, RpcInterface] = {}
        self.broken = False
        self._framer = PduFramer()
        self._out: deque[bytes] = deque()
        self._out_offset = 0
        self._out_bytes = 0
        self._call: _PendingCall | None = None
        self._discard_call_id: int | None = None
        # NTLMSSP security context (MS-RPCE 3.3.1.5.2); one per association.
        self._auth_factory = auth_factory
        self._emit_event = emit or (lambda *a, **k: None)
        self.auth_type = 0
        self.auth_level = 0
        self.auth_context_id = 0
        self._acceptor: NtlmAcceptor | None = None
        self.auth_session: NtlmSession | None = None
        self.auth_failed = False

    # ------------------------------------------------------------------ SMB-facing API
    def write(self, data: bytes | memoryview) -> None:
        """Consume bytes from an SMB2 WRITE (or the input of a transceive)."""
        if self.broken:
            raise RpcProtocolError("pipe is broken")
        try:
            self._framer.feed(data)
            while (raw := self._framer.next_pdu()) is not None:
                self._handle(raw)
                if self._out_bytes > MAX_PENDING_OUTPUT:
                    raise RpcProtocolError("client is not reading responses")
        except RpcProtocolError:
            self.broken = True
            self._call = None
            raise

    def read(self, max_len: int) -> bytes:
        """Return up to ``max_len`` bytes of the current output message (never crossing it)."""
        if not self._out or max_len <= 0:
            return b""
        head = self._out[0]
        chunk = head[self._out_offset : self._out_offset + max_len]
        self._out_offset += len(chunk)
        self._out_bytes -= len(chunk)
        if self._out_offset >= len(head):
            self._out.popleft()
            self._out_offset = 0
        return chunk

    def transact(self, data: bytes | memoryview, max_out: int) -> bytes:
        """FSCTL_PIPE_TRANSCEIVE (MS-FSCC 2.3.48): write ``data`` then read up to ``max_out``.

        If :meth:`message_remaining` is non-zero afterwards the SMB layer answers
        STATUS_BUFFER_OVERFLOW and the client READs the rest.
        """
        self.write(data)
        return self.read(max_out)

    def pending_output(self) -> int:
        """Total unread output bytes (all queued messages)."""
        return self._out_bytes

    def message_remaining(self) -> int:
        """Unread bytes of a message a previous read returned only in part (0 at a boundary)."""
        if not self._out or self._out_offset == 0:
            return 0
        return len(self._out[0]) - self._out_offset

    def close(self) -> None:
        """Tear down the association (SMB2 CLOSE); drops contexts and queued output."""
        self.contexts.clear()
        self._out.clear()
        self._out_offset = self._out_bytes = 0
        self._call = None
        self.broken = True

    # ------------------------------------------------------------------ internals
    def _emit(self, pdu: bytes) -> None:
        self._out.append(pdu)
        self._out_bytes += len(pdu)

    def _fault(
        self, call_id: int, status: int, p_cont_id: int = 0, did_not_execute: bool = True
    ) -> None:
        flags = PFC_FIRST_FRAG | PFC_LAST_FRAG | (PFC_DID_NOT_EXECUTE if did_not_execute else 0)
        self._emit(FaultPdu(call_id, p_cont_id, status, flags).pack())

    def _handle(self, raw: bytes) -> None:
        hdr = parse_header(raw)
        ptype = hdr.ptype
        if ptype in (PType.BIND, PType.ALTER_CONTEXT):
            try:
                pdu = parse_pdu(raw)
            except RpcProtocolError as exc:
                log.debug("malformed %s: %s", PType(ptype).name, exc)
                if ptype == PType.BIND:
                    self._emit(BindNakPdu(hdr.call_id, BindNakReason.REASON_NOT_SPECIFIED).pack())
                else:
                    self._fault(hdr.call_id, FaultStatus.NCA_S_PROTO_ERROR)
                return
            assert isinstance(pdu, BindPdu)
            if ptype == PType.BIND:
                self._on_bind(pdu)
            else:
                self._on_alter_context(pdu)
        elif ptype == PType.REQUEST:
            try:
                req = parse_pdu(raw)
            except RpcProtocolError as exc:
                log.debug("malformed request: %s", exc)
                self._abort_call(hdr.call_id)
                self._fault(hdr.call_id, FaultStatus.NCA_S_PROTO_ERROR)
                return
            assert isinstance(req, RequestPdu)
            if not self._authenticate_request(raw, req):
                return
            self._on_request(req)
        elif ptype == PType.AUTH3:
            try:
                pdu3 = parse_pdu(raw)
            except RpcProtocolError:
                self._auth_fail("malformed AUTH3")
                return
            assert isinstance(pdu3, OtherPdu)
            self._on_auth3(pdu3)
        elif ptype in (PType.CO_CANCEL, PType.ORPHANED):
            # C706 12.4 cancel / MS-RPCE 3.3.1.5.10 orphaned: drop a call still being received.
            if self._call is not None and self._call.call_id == hdr.call_id:
                self._call = None
            return
        else:
            raise RpcProtocolError(f"unexpected PDU type {ptype} from client")

    # -- bind / alter_context -------------------------------------------------------------
    def _find_interface(self, abstract: SyntaxId) -> RpcInterface | None:
        for iface in self.interfaces:
            major, minor = iface.version
            if (
                str(abstract.if_uuid) == iface.uuid.lower()
                and abstract.version[0] == major
                and abstract.version[1] <= minor
            ):
                return iface
        return None

    def _negotiate_contexts(self, pdu: BindPdu) -> list[ContextResultItem]:
        """Per-context results for bind/alter_context (C706 12.6.4.3-4, MS-RPCE 3.3.1.5.3)."""
        results: list[ContextResultItem] = []
        for elem in pdu.contexts:
            if any(is_bind_time_feature_syntax(t) for t in elem.transfer_syntaxes):
                bits = 0
                for t in elem.transfer_syntaxes:
                    if is_bind_time_feature_syntax(t):
                        bits |= bind_time_feature_bits(t)
                self.features = bits & _SUPPORTED_FEATURES
                results.append(ContextResultItem(ContextResult.NEGOTIATE_ACK, self.features))
                continue
            iface = self._find_interface(elem.abstract_syntax)
            if iface is None:
                results.append(
                    ContextResultItem(
                        ContextResult.PROVIDER_REJECTION,
                        ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED,
                    )
                )
                continue
            if NDR_SYNTAX not in elem.transfer_syntaxes:
                results.append(
                    ContextResultItem(
                        ContextResult.PROVIDER_REJECTION,
                        ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                    )
                )
                continue
            existing = self.contexts.get(elem.p_cont_id)
            if existing is not None and existing is not iface:
                results.append(
                    ContextResultItem(
                        ContextResult.PROVIDER_REJECTION, ProviderReason.REASON_NOT_SPECIFIED
                    )
                )
                continue
            self.contexts[elem.p_cont_id] = iface
            results.append(ContextResultItem(ContextResult.ACCEPTANCE, 0, NDR_SYNTAX))
        return results

    def _on_bind(self, pdu: BindPdu) -> None:
        if self.bound:
            # A second bind on an association is a protocol violation (C706 12.6.4.3).
            self._emit(BindNakPdu(pdu.call_id, BindNakReason.REASON_NOT_SPECIFIED).pack())
            return
        auth_reply = None
        if pdu.auth is not None:
            auth_reply = self._start_auth(pdu)
            if auth_reply is None:
                return
        if not pdu.contexts:
            self._emit(BindNakPdu(pdu.call_id, BindNakReason.REASON_NOT_SPECIFIED).pack())
            return
        self.max_xmit_frag = max(MIN_XMIT_FRAG, min(pdu.max_recv_frag, MAX_XMIT_FRAG))
        self.max_recv_frag = max(MIN_XMIT_FRAG, min(pdu.max_xmit_frag, OUR_MAX_RECV_FRAG))
        self.assoc_group_id = pdu.assoc_group_id or self._assoc_group_default
        results = self._negotiate_contexts(pdu)
        self.bound = True
        ack = BindAckPdu(
            pdu.call_id,
            self.max_xmit_frag,
            self.max_recv_frag,
            self.assoc_group_id,
            self.sec_addr,
            results,
            auth=auth_reply,
        )
        self._emit(ack.pack())

    def _on_alter_context(self, pdu: BindPdu) -> None:
        if (
            pdu.auth is not None
            and pdu.auth.auth_context_id == self.auth_context_id
            and (self.auth_session is not None)
        ):
            pdu.auth = None  # same security context, already established (MS-RPCE 3.3.1.5.4)
        if not self.bound or pdu.auth is not None or not pdu.contexts:
            self._fault(pdu.call_id, FaultStatus.NCA_S_PROTO_ERROR)
            return
        results = self._negotiate_contexts(pdu)
        ack = BindAckPdu(
            pdu.call_id,
            self.max_xmit_frag,
            self.max_recv_frag,
            self.assoc_group_id,
            "",
            results,
            ptype=PType.ALTER_CONTEXT_RESP,
        )
        self._emit(ack.pack())

    # -- requests -------------------------------------------------------------------------
    def _abort_call(self, call_id: int) -> None:
        """Forget a partly received call and ignore its remaining fragments."""
        if self._call is not None and self._call.call_id == call_id:
            self._call = None
        self._discard_call_id = call_id

    def _on_request(self, req: RequestPdu) -> None:
        first = bool(req.pfc_flags & PFC_FIRST_FRAG)
        last = bool(req.pfc_flags & PFC_LAST_FRAG)
        if not first:
            if self._call is None or self._call.call_id != req.call_id:
                if self._discard_call_id == req.call_id:
                    if last:
                        self._discard_call_id = None
                    return
                self._abort_call(req.call_id)
                self._fault(req.call_id, FaultStatus.NCA_S_PROTO_ERROR, req.p_cont_id)
                return
        else:
            if self._call is not None:
                # Calls are serial on a pipe (no PFC_CONC_MPX); a new call mid-way is an error.
                stale = self._call.call_id
                self._call = None
                self._fault(stale, FaultStatus.NCA_S_PROTO_ERROR)
            self._discard_call_id = None
            if not self.bound:
                self._abort_call(req.call_id)
                self._fault(req.call_id, FaultStatus.NCA_S_PROTO_ERROR, req.p_cont_id)
                return
            if req.auth is not None:
                self._abort_call(req.call_id)
                self._fault(req.call_id, FaultStatus.NCA_S_PROTO_ERROR, req.p_cont_id)
                return
            if req.p_cont_id not in self.contexts:
                self._abort_call(req.call_id)
                self._fault(req.call_id, FaultStatus.NCA_S_UNK_IF, req.p_cont_id)
                return
            self._call = _PendingCall(req.call_id, req.p_cont_id, req.opnum)
        call = self._call
        assert call is not None
        if req.p_cont_id != call.p_cont_id or req.opnum != call.opnum or req.auth is not None:
            self._abort_call(req.call_id)
            self._fault(req.call_id, FaultStatus.NCA_S_PROTO_ERROR, req.p_cont_id)
            return
        call.size += len(req.stub)
        if call.size > MAX_REQUEST_SIZE:
            self._abort_call(req.call_id)
            if last:
                self._discard_call_id = None
            self._fault(req.call_id, FaultStatus.NCA_S_FAULT_REMOTE_NO_MEMORY, req.p_cont_id)
            return
        call.chunks.append(req.stub)
        if not last:
            return
        self._call = None
        self._dispatch(call, b"".join(call.chunks))

    def _dispatch(self, call: _PendingCall, stub: bytes) -> None:
        iface = self.contexts[call.p_cont_id]
        try:
            out = iface.call(call.opnum, stub, self.ctx)
        except RpcFault as fault:
            self._fault(call.call_id, fault.status, call.p_cont_id, fault.did_not_execute)
            return
        except NdrError as exc:
            log.debug("bad stub for opnum %d: %s", call.opnum, exc)
            self._fault(call.call_id, FaultStatus.NCA_S_FAULT_NDR, call.p_cont_id, True)
            return
        except Exception:  # an interface bug must cost one call, not the server
            log.exception("RPC interface %s opnum %d failed", iface.uuid, call.opnum)
            self._fault(call.call_id, FaultStatus.NCA_S_FAULT_UNSPEC, call.p_cont_id, False)
            return
        self._emit_response(call, out)

    def _emit_response(self, call: _PendingCall, stub: bytes) -> None:
        """Fragment a response stub to the negotiated size (C706 12.6.3.7, 12.6.4.10).

        Every fragment but the last carries a multiple of 8 stub bytes so NDR alignment is
        preserved across fragments; alloc_hint is the stub bytes remaining from this fragment.
        With PKT_INTEGRITY/PRIVACY every fragment carries its own verifier (MS-RPCE 2.2.2.11).
        """
        if self.auth_session is not None and self.auth_level >= AuthLevel.PKT_INTEGRITY:
            self._emit_protected_response(call, stub)
            return
        room = self.max_xmit_frag - _RESPONSE_HEADER
        room -= room % 8
        total = len(stub)
        pos = 0
        while True:
            chunk = stub[pos : pos + room]
            flags = (PFC_FIRST_FRAG if pos == 0 else 0) | (
                PFC_LAST_FRAG if pos + room >= total else 0
            )
            self._emit(ResponsePdu(call.call_id, call.p_cont_id, chunk, flags, total - pos).pack())
            pos += room
            if pos >= total:
                break

    # -- NTLMSSP security context (MS-RPCE 3.3.1.5.2) -------------------------------------------
    def _auth_fail(self, reason: str) -> None:
        self.auth_failed = True
        self.auth_session = None
        self._emit_event(
            "RPC_AUTH_FAILED",
            pipe=self.ctx.pipe_name or self.sec_addr,
            client=self.ctx.client_address,
            user=self.ctx.user or "-",
            reason=reason,
        )

    def _start_auth(self, pdu: BindPdu):
        """First leg: NEGOTIATE in the bind -> CHALLENGE in the bind_ack (or a bind_nak)."""
        from lanman.auth.ntlm import AuthError
        from lanman.rpc.pdu import AuthVerifier

        auth = pdu.auth
        assert auth is not None
        level = auth.auth_level
        if (
            self._auth_factory is None
            or auth.auth_type != RPC_C_AUTHN_WINNT
            or not AuthLevel.CONNECT <= level <= AuthLevel.PKT_PRIVACY
        ):
            self._emit(
                BindNakPdu(pdu.call_id, BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED).pack()
            )
            return None
        acceptor = self._auth_factory()
        try:
            challenge = acceptor.step(auth.auth_value)
        except AuthError as exc:
            self._auth_fail(f"bad NTLM NEGOTIATE: {exc}")
            self._emit(BindNakPdu(pdu.call_id, BindNakReason.REASON_NOT_SPECIFIED).pack())
            return None
        self._acceptor = acceptor
        self.auth_type = auth.auth_type
        # NTLM protects messages at PKT_INTEGRITY or PRIVACY; CALL and PKT mean integrity.
        self.auth_level = AuthLevel.PKT_INTEGRITY if level in (3, 4) else level
        self.auth_context_id = auth.auth_context_id
        return AuthVerifier(
            auth.auth_type, auth.auth_level, 0, auth.auth_context_id, challenge or b""
        )

    def _on_auth3(self, pdu: OtherPdu) -> None:
        """Third leg: AUTHENTICATE (MS-RPCE 2.2.2.10); no reply PDU."""
        from lanman.auth.ntlm import AuthError

        acceptor = self._acceptor
        if acceptor is None or pdu.auth is None or self.auth_session is not None:
            self._auth_fail("unexpected AUTH3")
            return
        self._acceptor = None
        if pdu.auth.auth_context_id != self.auth_context_id:
            self._auth_fail("AUTH3 for another security context")
            return
        try:
            acceptor.step(pdu.auth.auth_value)
        except AuthError as exc:
            self._auth_fail(exc.detail if hasattr(exc, "detail") else str(exc))
            return
        res = acceptor.result
        if res is None or res.is_anonymous or res.is_guest or acceptor.session is None:
            # No session key for anonymous/guest (MS-NLMP 3.2.5.1.2): refuse, never seal with 0s.
            self._auth_fail("anonymous or guest RPC authentication refused")
            return
        self.auth_session = acceptor.session
        self.ctx.user = res.user
        self.ctx.domain = res.domain
        self.ctx.is_anonymous = False
        self.ctx.is_guest = False
        self.ctx.rpc_auth_level = self.auth_level

    def _authenticate_request(self, raw: bytes, req: RequestPdu) -> bool:
        """Check/unseal a request on an authenticated association; False = answered."""
        if self.auth_level == 0:
            if req.auth is not None:
                self._abort_call(req.call_id)
                self._fault(req.call_id, FaultStatus.NCA_S_PROTO_ERROR, req.p_cont_id)
                return False
            return True
        if self.auth_failed or self.auth_session is None:
            self._abort_call(req.call_id)
            self._fault(req.call_id, FaultStatus.RPC_S_ACCESS_DENIED, req.p_cont_id)
            return False
        if self.auth_level < AuthLevel.PKT_INTEGRITY:
            req.auth = None  # CONNECT level: identity only, messages unprotected
            return True
        if req.auth is None or len(req.auth.auth_value) != NTLM_SIGNATURE_SIZE:
            self._abort_call(req.call_id)
            self._fault(req.call_id, FaultStatus.RPC_S_ACCESS_DENIED, req.p_cont_id)
            return False
        start = 40 if req.object_uuid is not None else 24
        try:
            req.stub = unprotect(
                raw,
                start,
                session=self.auth_session,
                auth_level=self.auth_level,
                auth_context_id=self.auth_context_id,
            )
        except RpcAuthError as exc:
            self._auth_fail(str(exc))
            self._abort_call(req.call_id)
            self._fault(req.call_id, FaultStatus.RPC_S_ACCESS_DENIED, req.p_cont_id)
            self.broken = True  # the RC4 streams are out of step now
            return False
        req.auth = None
        return True

    def _emit_protected_response(self, call: _PendingCall, stub: bytes) -> None:
        import struct

        session = self.auth_session
        assert session is not None
        room = self.max_xmit_frag - _RESPONSE_HEADER - 8 - NTLM_SIGNATURE_SIZE
        room -= room % 16
        total = len(stub)
        pos = 0
        while True:
            chunk = stub[pos : pos + room]
            flags = (PFC_FIRST_FRAG if pos == 0 else 0) | (
                PFC_LAST_FRAG if pos + room >= total else 0
            )
            fixed = struct.pack("<IHBx", total - pos, call.p_cont_id, 0)
            self._emit(
                protect(
                    PType.RESPONSE,
                    flags,
                    call.call_id,
                    fixed,
                    chunk,
                    session=session,
                    auth_type=self.auth_type,
                    auth_level=self.auth_level,
                    auth_context_id=self.auth_context_id,
                )
            )
            pos += room
            if pos >= total:
                break


# ---------------------------------------------------------------------- pipe registry


@dataclass(slots=True)
class PipeProviders:
    """Data sources the built-in interfaces need; extended as interfaces are added."""

    shares: ShareProvider | None = None
    #: msg service for the MS-TSTS pipes (a :class:`lanman.msg.host.MsgHost`); None = the
    #: TSTS pipes do not exist (remote WinStation RPC off).
    msg: object | None = None
    #: NTLM acceptor factory for authenticated binds (MS-RPCE 3.3.1.5.2); None = refuse them.
    auth: Callable[[], NtlmAcceptor] | None = None
    #: event sink ``(name, **fields)``
    emit: Callable[..., None] | None = None


PipeFactory = Callable[[CallContext, PipeProviders], "RpcPipe | None"]


def normalize_pipe_name(name: str) -> str:
    """``\\PIPE\\SrvSvc`` / ``pipe\\srvsvc`` / ``srvsvc`` -> ``srvsvc`` (names are case-insensitive)."""
    n = name.replace("/", "\\").lstrip("\\").lower()
    if n.startswith("pipe\\"):
        n = n[5:].lstrip("\\")
    return n


def builtin_pipes() -> dict[str, PipeFactory]:
    """Pipe name (normalized) -> factory for the interfaces shipped with lanman."""
    from lanman.rpc.interfaces import BUILTIN_PIPES

    return BUILTIN_PIPES


def open_pipe(
    name: str,
    ctx: CallContext,
    providers: PipeProviders | ShareProvider | None = None,
) -> RpcPipe | None:
    """Create the RPC endpoint for an SMB CREATE of ``name`` on IPC$.

    Returns ``None`` for an unknown pipe (answer STATUS_OBJECT_NAME_NOT_FOUND).  ``providers``
    may be a bare share provider callable for convenience.
    """
    if providers is None:
        providers = PipeProviders()
    elif not isinstance(providers, PipeProviders):
        providers = PipeProviders(shares=providers)
    factory = builtin_pipes().get(normalize_pipe_name(name))
    if factory is None:
        return None
    return factory(ctx, providers)
