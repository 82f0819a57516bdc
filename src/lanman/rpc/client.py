"""Client side of a DCE/RPC association over a named pipe, sans-IO (C706 ch. 12, MS-RPCE 3.2).

Bytes in, bytes out; the caller moves them over any transport (SMB2 WRITE/READ or
FSCTL_PIPE_TRANSCEIVE)::

    c = RpcClient(TERMSRV_SESSION, ntlm=NtlmInitiator(user, password, domain),
                  auth_level=AuthLevel.PKT_PRIVACY)
    send(c.bind())                      # BIND with NTLM NEGOTIATE
    c.receive(read_pdu())               # BIND_ACK with CHALLENGE -> ready for AUTH3
    send(c.auth3())                     # AUTH3 with AUTHENTICATE (no reply)
    for frag in c.request(opnum, stub): send(frag)
    while (stub := c.receive(read_pdu())) is None: pass   # response stub (reassembled)

Faults raise :class:`RpcCallError` with the fault status; bind_nak raises it with the reject
reason.  Response verifiers are checked (unlike some clients) and sealed stubs decrypted.
"""

from __future__ import annotations

import struct

from lanman.auth.ntlm import NtlmInitiator
from lanman.rpc.auth import RPC_C_AUTHN_WINNT, AuthLevel, RpcAuthError, protect, unprotect
from lanman.rpc.pdu import (
    NDR_SYNTAX,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    AuthVerifier,
    BindAckPdu,
    BindNakPdu,
    BindPdu,
    CommonHeader,
    ContextElement,
    ContextResult,
    FaultPdu,
    PType,
    RequestPdu,
    ResponsePdu,
    RpcProtocolError,
    SyntaxId,
    parse_header,
    parse_pdu,
)

__all__ = ["RpcCallError", "RpcClient"]

_AUTH_CONTEXT_ID = 79231  # any value; echoed by the server
MAX_RESPONSE = 1 << 22


class RpcCallError(Exception):
    """A fault, bind_nak or rejected context; ``status`` is the RPC/Win32 status."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what} 0x{status:08x}")
        self.status = status


class RpcClient:
    def __init__(
        self,
        abstract_syntax: SyntaxId,
        *,
        ntlm: NtlmInitiator | None = None,
        auth_level: int = AuthLevel.PKT_PRIVACY,
        max_frag: int = 4280,
    ) -> None:
        self.abstract_syntax = abstract_syntax
        self.ntlm = ntlm
        self.auth_level = int(auth_level) if ntlm is not None else 0
        self.max_xmit_frag = max_frag
        self.max_recv_frag = max_frag
        self.call_id = 1
        self.bound = False
        self._challenge: bytes | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    # ------------------------------------------------------------------ bind
    def bind(self) -> bytes:
        auth = None
        if self.ntlm is not None:
            auth = AuthVerifier(
                RPC_C_AUTHN_WINNT, self.auth_level, 0, _AUTH_CONTEXT_ID, self.ntlm.step(None)
            )
        pdu = BindPdu(
            self.call_id,
            self.max_xmit_frag,
            self.max_recv_frag,
            0,
            [ContextElement(0, self.abstract_syntax, [NDR_SYNTAX])],
            auth=auth,
        )
        return pdu.pack()

    def _on_bind_ack(self, ack: BindAckPdu) -> None:
        if not ack.results or ack.results[0].result != ContextResult.ACCEPTANCE:
            reason = ack.results[0].reason if ack.results else 0
            raise RpcCallError(reason, "presentation context rejected, reason")
        self.max_xmit_frag = min(self.max_xmit_frag, ack.max_recv_frag or self.max_xmit_frag)
        if self.ntlm is not None:
            if ack.auth is None:
                raise RpcCallError(5, "bind_ack without NTLM CHALLENGE")
            self._challenge = ack.auth.auth_value
        self.bound = True

    def auth3(self) -> bytes:
        """AUTH3 (MS-RPCE 2.2.2.10): 4 pad bytes, sec_trailer, NTLM AUTHENTICATE."""
        if self.ntlm is None or self._challenge is None:
            raise RpcProtocolError("no NTLM challenge to answer")
        token = self.ntlm.step(self._challenge)
        self._challenge = None
        trailer = AuthVerifier(RPC_C_AUTHN_WINNT, self.auth_level, 0, _AUTH_CONTEXT_ID, token)
        body = b"\x00" * 4 + trailer.pack_trailer() + token
        hdr = CommonHeader(
            PType.AUTH3, PFC_FIRST_FRAG | PFC_LAST_FRAG, 16 + len(body), len(token), self.call_id
        )
        return hdr.pack() + body

    # ------------------------------------------------------------------ calls
    def request(self, opnum: int, stub: bytes) -> list[bytes]:
        """One call as request fragments (each with its own verifier when protected)."""
        self.call_id += 1
        overhead = 24 + (8 + 16 + 16 if self.auth_level >= AuthLevel.PKT_INTEGRITY else 0)
        room = max(8, self.max_xmit_frag - overhead)
        room -= room % 8
        out = []
        pos = 0
        while True:
            chunk = stub[pos : pos + room]
            flags = (PFC_FIRST_FRAG if pos == 0 else 0) | (
                PFC_LAST_FRAG if pos + room >= len(stub) else 0
            )
            if self.auth_level >= AuthLevel.PKT_INTEGRITY:
                assert self.ntlm is not None and self.ntlm.session is not None
                fixed = struct.pack("<IHH", len(stub) - pos, 0, opnum)
                out.append(
                    protect(
                        PType.REQUEST,
                        flags,
                        self.call_id,
                        fixed,
                        chunk,
                        session=self.ntlm.session,
                        auth_type=RPC_C_AUTHN_WINNT,
                        auth_level=self.auth_level,
                        auth_context_id=_AUTH_CONTEXT_ID,
                    )
                )
            else:
                out.append(RequestPdu(self.call_id, 0, opnum, chunk, flags, len(stub) - pos).pack())
            pos += room
            if pos >= len(stub):
                break
        self._chunks, self._size = [], 0
        return out

    def receive(self, raw: bytes) -> bytes | None:
        """Feed one PDU; returns the response stub when complete, None while more is due."""
        hdr = parse_header(raw)
        if hdr.ptype in (PType.BIND_ACK, PType.ALTER_CONTEXT_RESP, PType.BIND_NAK):
            pdu = parse_pdu(raw)
            if isinstance(pdu, BindNakPdu):
                raise RpcCallError(pdu.provider_reject_reason, "bind_nak reason")
            assert isinstance(pdu, BindAckPdu)
            self._on_bind_ack(pdu)
            return None
        if hdr.ptype == PType.FAULT:
            fault = parse_pdu(raw)
            assert isinstance(fault, FaultPdu)
            raise RpcCallError(fault.status, "RPC fault")
        if hdr.ptype != PType.RESPONSE:
            raise RpcProtocolError(f"unexpected PDU type {hdr.ptype}")
        if hdr.call_id != self.call_id:
            raise RpcProtocolError("response for another call")
        if self.auth_level >= AuthLevel.PKT_INTEGRITY:
            assert self.ntlm is not None and self.ntlm.session is not None
            try:
                stub = unprotect(
                    bytes(raw),
                    24,
                    session=self.ntlm.session,
                    auth_level=self.auth_level,
                    auth_context_id=_AUTH_CONTEXT_ID,
                )
            except RpcAuthError as exc:
                raise RpcCallError(5, f"response verifier: {exc}") from None
        else:
            resp = parse_pdu(raw)
            assert isinstance(resp, ResponsePdu)
            stub = resp.stub
        self._size += len(stub)
        if self._size > MAX_RESPONSE:
            raise RpcProtocolError("response too large")
        self._chunks.append(stub)
        if not hdr.pfc_flags & PFC_LAST_FRAG:
            return None
        out = b"".join(self._chunks)
        self._chunks, self._size = [], 0
        return out
