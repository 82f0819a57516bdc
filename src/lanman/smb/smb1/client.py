"""SMB1 (NT LM 0.12) client: negotiate, SPNEGO/NTLMSSP session setup, MD5 signing, tree
connect, TRANS2 DFS referral, echo, logoff (MS-CIFS 3.2, MS-SMB 3.2).

:class:`Smb1Client` is transport-agnostic: it is given an ``exchange`` callable that sends
one request message and returns the response messages (an empty list when the peer closed
the connection). :func:`smb1_connect` runs the Workstation-service sequence over Direct TCP
and reports the outcome the way ``lanman smb matrix`` needs it; :func:`run_connect` runs the
same sequence over any exchange (the unit tests pair it with the server core in process).

Signing policy (MS-SMB 3.2.4.2.4; docs/SOURCES.md signing §3): the client's state
(disabled / enabled / required, from Enable/RequireSecuritySignature) against the server's
SecurityMode gives signed / unsigned / blocked. Blocked because the client requires signing
and the server has it disabled: the connection is closed right after NEGOTIATE and the user
sees System error 1240 (KB 887429). Blocked because the server requires it and the client
has it disabled: the client goes on unsigned and the server refuses the tree connect with
STATUS_ACCESS_DENIED (the KB's other scenario).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from lanman.errors import ntstatus as st
from lanman.errors.win32 import from_ntstatus
from lanman.policy import decisions as dec

from . import wire as w
from .signing import sign_message, verify_message
from .wire import Command, Flags, Flags2

__all__ = [
    "Smb1Client",
    "Smb1Error",
    "Smb1Result",
    "run_connect",
    "server_signing_state",
    "smb1_connect",
]

Exchange = Callable[[bytes], list[bytes]]
NT_LM_012 = "NT LM 0.12"


class Smb1Error(Exception):
    """A request failed with ``status`` (or the connection broke)."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(
            f"0x{status:08X} {st.lookup(status).name}" + (f": {detail}" if detail else "")
        )


@dataclass(slots=True)
class Smb1Result:
    """What a connection attempt ended with (for ``lanman smb matrix``)."""

    ok: bool
    win32_code: int | None
    ntstatus: int | None
    signed: bool
    security_mode: int | None
    stage: str = ""  # negotiate | session setup | tree connect | "" on success
    outcome: str = ""  # MS-SMB 3.2.4.2.4 table: signed | unsigned | blocked
    message: str = ""


def server_signing_state(security_mode: int) -> str:
    """MS-CIFS 3.2.5.2: ServerSigningState from the NEGOTIATE response SecurityMode."""
    if (
        security_mode & dec.NEGOTIATE_ENCRYPT_PASSWORDS
        and security_mode & dec.NEGOTIATE_SECURITY_SIGNATURES_ENABLED
    ):
        if security_mode & dec.NEGOTIATE_SECURITY_SIGNATURES_REQUIRED:
            return "required"
        return "enabled"
    return "disabled"


class Smb1Client:
    """One SMB1 connection (MS-CIFS 3.2.1): one session, sequential requests."""

    PID = 0x0000FEFF

    def __init__(
        self,
        exchange: Exchange,
        *,
        enable_signing: bool = True,
        require_signing: bool = False,
        now: int = 0,
    ) -> None:
        self.exchange = exchange
        self.client_state = dec.smb1_state(enable_signing, require_signing)
        self.now = now
        self.mid = 1
        self.uid = 0
        self.negotiate_response: w.NegotiateResponse | None = None
        self.server_state = "disabled"
        self.outcome = ""
        self.signing_active = False
        self.signing_key = b""
        self.next_seq = 0  # ClientNextSendSequenceNumber
        self.is_guest = False
        self.closed = False

    # ---- plumbing ------------------------------------------------------------------------

    def _flags2(self) -> int:
        f = (
            Flags2.UNICODE
            | Flags2.NT_STATUS
            | Flags2.EXTENDED_SECURITY
            | Flags2.LONG_NAMES
            | Flags2.IS_LONG_NAME
        )
        if self.client_state != "disabled":
            f |= Flags2.SMB_SECURITY_SIGNATURE
        if self.client_state == "required":
            f |= Flags2.SMB_SECURITY_SIGNATURE_REQUIRED
        return int(f)

    def _send(self, command: int, block_fn, tid: int = 0) -> tuple[w.Smb1Header, w.Block, bytes]:
        """Send one request; ``block_fn(data_offset)`` builds its (cmd, words, data)."""
        if self.closed:
            raise Smb1Error(st.STATUS_CONNECTION_DISCONNECTED)
        hdr = w.Smb1Header(
            command,
            0,
            int(Flags.CASE_INSENSITIVE | Flags.CANONICALIZED_PATHS),
            self._flags2(),
            tid=tid,
            pid=self.PID,
            uid=self.uid,
            mid=self.mid,
        )
        self.mid = self.mid % 0xFFFE + 1
        words = block_fn(0)[1]
        block = block_fn(w.HEADER_SIZE + 1 + len(words) + 2)
        msg = w.pack_message(hdr, [block])
        seq = self.next_seq
        self.next_seq += 2
        if self.signing_active:
            sign_message(self.signing_key, msg, seq)
        frames = self.exchange(bytes(msg))
        if not frames:
            self.closed = True
            raise Smb1Error(st.STATUS_CONNECTION_DISCONNECTED, "server closed the connection")
        raw = bytes(frames[0])
        resp = w.Message.parse(raw)
        if not resp.header.is_reply or resp.header.command != command or resp.header.mid != hdr.mid:
            raise Smb1Error(st.STATUS_INVALID_NETWORK_RESPONSE, "unexpected response")
        if self.signing_active and not verify_message(self.signing_key, raw, seq + 1):
            # MS-CIFS 3.2.5.1.2: discard; we also drop the connection.
            self.closed = True
            raise Smb1Error(st.STATUS_INVALID_SIGNATURE, "response signature did not verify")
        return resp.header, resp.blocks[0], raw

    # ---- commands --------------------------------------------------------------------------

    def negotiate(self) -> w.NegotiateResponse:
        hdr, block, _ = self._send(Command.NEGOTIATE, lambda _o: w.negotiate_request([NT_LM_012]))
        if hdr.status != st.STATUS_SUCCESS:
            raise Smb1Error(hdr.status, "NEGOTIATE failed")
        r = w.NegotiateResponse.parse(block)
        if r.dialect_index != 0:
            raise Smb1Error(st.STATUS_NOT_SUPPORTED, "server refused NT LM 0.12")
        if not r.extended:
            raise Smb1Error(st.STATUS_NOT_SUPPORTED, "server without extended security")
        self.negotiate_response = r
        self.server_state = server_signing_state(r.security_mode)
        self.outcome = dec.smb1_signing_outcome(self.client_state, self.server_state)
        self.next_seq = 0  # the session setup that activates signing is number 0
        return r

    def session_setup(
        self, user: str, password: str, domain: str = "", workstation: str = "LANMAN-CLIENT"
    ) -> None:
        """SPNEGO/NTLMSSP over SESSION_SETUP_ANDX legs (MS-SMB 3.2.4.2.4)."""
        from lanman.auth.ntlm import AuthError, NtlmInitiator
        from lanman.auth.spnego import SpnegoInitiator

        if not user and not password:
            ntlm = spnego = _AnonymousSpnego()
        else:
            ntlm = NtlmInitiator(user, password, domain, workstation, self.now)
            spnego = SpnegoInitiator(ntlm)
        want_sign = self.outcome == "signed"
        try:
            token = spnego.step(self.negotiate_response.security_blob or None)
        except AuthError as exc:
            raise Smb1Error(exc.status, "SPNEGO") from None
        for _leg in range(4):
            req = w.SessionSetupRequest(
                capabilities=int(
                    w.Capabilities.UNICODE
                    | w.Capabilities.NT_SMBS
                    | w.Capabilities.STATUS32
                    | w.Capabilities.LARGE_FILES
                    | w.Capabilities.EXTENDED_SECURITY
                ),
                security_blob=token,
                native_os="Unix",
                native_lanman="lanman",
            )
            self.next_seq = 0  # until signing is active, every setup request is number 0
            hdr, block, raw = self._send(
                Command.SESSION_SETUP_ANDX, lambda o, r=req: r.block(True, o)
            )
            if hdr.status not in (st.STATUS_SUCCESS, st.STATUS_MORE_PROCESSING_REQUIRED):
                raise Smb1Error(hdr.status, "SESSION_SETUP_ANDX")
            resp = w.SessionSetupResponse.parse(block, True)
            self.uid = hdr.uid
            if hdr.status == st.STATUS_MORE_PROCESSING_REQUIRED:
                try:
                    token = spnego.step(resp.security_blob)
                except AuthError as exc:
                    raise Smb1Error(exc.status, "SPNEGO") from None
                continue
            self.is_guest = bool(resp.action & w.SMB_SETUP_GUEST)
            if self.is_guest and self.client_state == "required":
                # A guest session has no key and cannot sign: a client that requires
                # signing refuses it (docs/SOURCES.md signing §5).
                self.closed = True
                raise Smb1Error(
                    st.STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED,
                    "guest session offered, client requires signing",
                )
            if resp.security_blob and not spnego.complete and not self.is_guest:
                # (a guest answer carries no mechListMIC: there is no key to make one)
                try:
                    spnego.step(resp.security_blob)
                except AuthError as exc:
                    raise Smb1Error(exc.status, "SPNEGO") from None
            key = ntlm.session_key
            if want_sign and key and not self.is_guest:
                # Activation: the final response carries number 1, the next request 2.
                self.signing_key = key
                if not verify_message(key, raw, 1):
                    self.closed = True
                    raise Smb1Error(
                        st.STATUS_INVALID_SIGNATURE,
                        "SESSION_SETUP response not signed with the session key",
                    )
                self.signing_active = True
                self.next_seq = 2
            return
        raise Smb1Error(st.STATUS_LOGON_FAILURE, "too many SESSION_SETUP legs")

    def tree_connect(self, path: str, service: str = "?????") -> int:
        req = w.TreeConnectRequest(path, service)
        hdr, block, _ = self._send(Command.TREE_CONNECT_ANDX, lambda o: req.block(True, o))
        if hdr.status != st.STATUS_SUCCESS:
            raise Smb1Error(hdr.status, "TREE_CONNECT_ANDX")
        w.TreeConnectResponse.parse(block, True)
        return hdr.tid

    def dfs_referral(self, tid: int, path: str) -> int:
        """TRANS2 GET_DFS_REFERRAL; returns the status (lanman answers STATUS_NOT_FOUND)."""
        n = 1
        req = w.Trans2Request([w.TRANS2_GET_DFS_REFERRAL], w.dfs_referral_parameters(path))
        hdr, _block, _ = self._send(
            Command.TRANSACTION2, lambda _o: req.block(w.Trans2Request.data_offset_for(n)), tid=tid
        )
        return hdr.status

    def echo(self, data: bytes = b"lanman") -> bytes:
        hdr, block, _ = self._send(Command.ECHO, lambda _o: w.echo_request(data, 1))
        if hdr.status != st.STATUS_SUCCESS:
            raise Smb1Error(hdr.status, "ECHO")
        return block.data

    def tree_disconnect(self, tid: int) -> int:
        hdr, _b, _ = self._send(
            Command.TREE_DISCONNECT, lambda _o: (Command.TREE_DISCONNECT, b"", b""), tid=tid
        )
        return hdr.status

    def logoff(self) -> int:
        hdr, _b, _ = self._send(Command.LOGOFF_ANDX, lambda _o: w.andx_empty(Command.LOGOFF_ANDX))
        return hdr.status


class _AnonymousSpnego:
    """SPNEGO carrying an anonymous NTLM logon (MS-NLMP 3.2.5.1.2: empty user and responses);
    no session key, so nothing is signed and no mechListMIC is exchanged."""

    session_key = b""

    def __init__(self) -> None:
        self.complete = False
        self._state = "init"

    def step(self, token: bytes | None) -> bytes | None:
        from lanman.auth.ntlm import AuthenticateMessage, NegotiateFlags, NegotiateMessage
        from lanman.auth.spnego import (
            NTLMSSP_OID,
            NegTokenResp,
            _encode_mech_types,
            encode_neg_token_init,
            parse_token,
        )

        flags = int(
            NegotiateFlags.UNICODE
            | NegotiateFlags.NTLM
            | NegotiateFlags.ANONYMOUS
            | NegotiateFlags.REQUEST_TARGET
        )
        if self._state == "init":
            self._state = "challenge"
            return encode_neg_token_init(
                _encode_mech_types([NTLMSSP_OID]), mech_token=NegotiateMessage(flags).encode()
            )
        if self._state == "challenge":
            resp = parse_token(token or b"")
            if not isinstance(resp, NegTokenResp) or resp.response_token is None:
                raise Smb1Error(st.STATUS_LOGON_FAILURE, "no NTLM challenge")
            self._state = "done"
            auth = AuthenticateMessage(flags=flags, lm_response=b"\x00").encode()
            return NegTokenResp(response_token=auth).encode()
        self.complete = True
        return None


def _failure(stage: str, status: int, client: Smb1Client, detail: str = "") -> Smb1Result:
    entry = st.lookup(status)
    mode = client.negotiate_response.security_mode if client.negotiate_response else None
    err = from_ntstatus(status)
    win32 = err.value if err is not None else None
    text = err.message if err is not None else None
    return Smb1Result(
        False,
        win32,
        status,
        client.signing_active,
        mode,
        stage,
        client.outcome,
        text or f"{entry.name}: {entry.message}",
    )


def run_connect(
    exchange: Exchange,
    host: str,
    user: str,
    password: str,
    share: str,
    *,
    enable_signing: bool,
    require_signing: bool,
    domain: str = "",
    now: int = 0,
    close: Callable[[], None] | None = None,
) -> Smb1Result:
    """The Workstation service's SMB1 sequence over ``exchange``."""
    c = Smb1Client(
        exchange, enable_signing=enable_signing, require_signing=require_signing, now=now
    )
    stage = "negotiate"
    try:
        c.negotiate()
        failure = dec.smb1_failure(c.client_state, c.server_state)
        if failure is not None and failure.stage == "negotiate":
            # KB 887429: the redirector closes the TCP session right after NEGOTIATE.
            c.closed = True
            return Smb1Result(
                False,
                failure.win32,
                failure.ntstatus,
                False,
                c.negotiate_response.security_mode,
                "negotiate",
                c.outcome,
                failure.text,
            )
        stage = "session setup"
        c.session_setup(user, password, domain)
        stage = "tree connect"
        tid = c.tree_connect(f"\\\\{host}\\{share}")
        try:
            c.tree_disconnect(tid)
            c.logoff()
        except Smb1Error:
            pass
    except Smb1Error as exc:
        return _failure(stage, exc.status, c, exc.detail)
    except w.WireError as exc:
        return _failure(stage, st.STATUS_INVALID_NETWORK_RESPONSE, c, str(exc))
    finally:
        if close is not None:
            close()
    return Smb1Result(
        True,
        0,
        st.STATUS_SUCCESS,
        c.signing_active,
        c.negotiate_response.security_mode,
        "",
        c.outcome,
        "",
    )


# ---- Direct TCP (MS-SMB 2.1 / RFC 1002) ----------------------------------------------------

MAX_RESPONSE = 1024 * 1024


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def tcp_exchange(sock: socket.socket) -> Exchange:
    def exchange(message: bytes) -> list[bytes]:
        try:
            sock.sendall(struct.pack(">I", len(message)) + message)
            while True:
                head = _recv_exact(sock, 4)
                length = struct.unpack(">I", b"\x00" + head[1:])[0]
                if head[0] == 0x85:  # keep-alive
                    continue
                if head[0] != 0 or length > MAX_RESPONSE:
                    raise ConnectionError("bad Direct TCP frame")
                return [_recv_exact(sock, length)]
        except (ConnectionError, OSError):
            return []

    return exchange


def smb1_connect(
    host: str,
    port: int,
    user: str,
    password: str,
    share: str,
    *,
    enable_signing: bool,
    require_signing: bool,
    domain: str = "",
    timeout: float = 10.0,
) -> Smb1Result:
    """Connect to ``\\\\host\\share`` with SMB1 only and report how it ended."""
    from lanman.smb.filestat import unix_ns_to_filetime

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return Smb1Result(
            False,
            53,
            None,
            False,
            None,
            "connect",
            "",
            f"The network path was not found. ({exc.strerror or exc})",
        )
    try:
        return run_connect(
            tcp_exchange(sock),
            host,
            user,
            password,
            share,
            enable_signing=enable_signing,
            require_signing=require_signing,
            domain=domain,
            now=unix_ns_to_filetime(time.time_ns()),
            close=sock.close,
        )
    finally:
        sock.close()
