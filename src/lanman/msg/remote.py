"""``msg /SERVER:host[:port]``: MS-TSTS over SMB named pipes with lanman's SMB client.

Sequence (docs/SOURCES.md msg §3.3-3.4, §4): SMB logon, TREE_CONNECT IPC$, CREATE
``LSM_API_service``, DCE/RPC bind with NTLMSSP at PKT_PRIVACY (BIND, BIND_ACK, AUTH3);
TermSrvEnumeration RpcOpenEnum / RpcGetEnumResult(1) / RpcCloseEnum for the session list,
TermSrvSession RpcGetSessionInformationEx for user names, RpcOpenSession /
RpcShowMessageBox / RpcCloseSession per message.  One TermSrvSession pipe (one bind, one
NTLMSSP authentication) serves the names and every message of the command: ``msg *`` to 200
sessions is 3 calls per session, not a new pipe and bind each.

Errors map as the Windows RPC runtime reports them: no connection or no pipe
(STATUS_OBJECT_NAME_NOT_FOUND, AllowRemoteRPC = 0) -> 1722 RPC_S_SERVER_UNAVAILABLE; logon
failure or access denied -> 5.  Credentials: ``-U user[%password]`` or ``LANMAN_MSG_USER`` /
``LANMAN_MSG_PASSWORD`` (msg.exe uses the caller's Windows logon; we have none to reuse).
"""

from __future__ import annotations

import os

from lanman.auth.ntlm import NtlmInitiator
from lanman.msg.delivery import IDASYNC, Message
from lanman.msg.host import SendResult
from lanman.msg.sessions import MsgSession, SessionState
from lanman.rpc.auth import AuthLevel
from lanman.rpc.client import RpcCallError, RpcClient
from lanman.rpc.interfaces.tsts import TERMSRV_ENUMERATION_UUID, TERMSRV_SESSION_UUID
from lanman.rpc.ndr import NdrReader, NdrWriter
from lanman.rpc.pdu import SyntaxId

__all__ = ["RemoteBackend", "remote_backend", "split_server"]

RPC_S_SERVER_UNAVAILABLE = 1722
ERROR_ACCESS_DENIED = 5
_NOT_FOUND = 0xC0000034
#: Statuses that mean the host was not reached (nothing listens, no route, timed out, reset):
#: the RPC server is unavailable (1722), not an access problem.
_UNREACHABLE = frozenset(
    {
        0xC000020C,  # STATUS_CONNECTION_DISCONNECTED (refused / closed before SMB)
        0xC0000236,  # STATUS_CONNECTION_REFUSED
        0xC000023C,  # STATUS_NETWORK_UNREACHABLE
        0xC000023D,  # STATUS_HOST_UNREACHABLE
        0xC00000B5,  # STATUS_IO_TIMEOUT
        0xC000013B,  # STATUS_LOCAL_DISCONNECT
        0xC000013C,  # STATUS_REMOTE_DISCONNECT
        0xC0000241,  # STATUS_CONNECTION_ABORTED
        0xC000020D,  # STATUS_CONNECTION_RESET
        0xC00000BE,  # STATUS_BAD_NETWORK_PATH
    }
)
_BUFFER_OVERFLOW = 0x80000005


def split_server(server: str) -> tuple[str, int]:
    s = server.lstrip("\\")
    host, sep, port = s.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return s, 445


class _Pipe:
    """One pipe open carrying one bound, authenticated RPC association."""

    def __init__(self, smb, name: str, iface: str, user: str, password: str, domain: str):
        self.smb = smb
        self.fid = smb.open_pipe(name)
        self.rpc = RpcClient(
            SyntaxId.from_str(iface, 1, 0),
            ntlm=NtlmInitiator(user, password, domain),
            auth_level=AuthLevel.PKT_PRIVACY,
        )
        self._write(self.rpc.bind())
        self.rpc.receive(self._read_pdu())
        self._write(self.rpc.auth3())

    def _write(self, data: bytes) -> None:
        self.smb.pipe_write(self.fid, data)

    def _read_pdu(self) -> bytes:
        out = b""
        for _ in range(64):
            chunk, more = self.smb.pipe_read(self.fid, 8192)
            out += chunk
            if not more:
                return out
        raise RpcCallError(RPC_S_SERVER_UNAVAILABLE, "PDU too large")

    def call(self, opnum: int, stub: bytes) -> bytes:
        for frag in self.rpc.request(opnum, stub):
            self._write(frag)
        while True:
            got = self.rpc.receive(self._read_pdu())
            if got is not None:
                return got

    def close(self) -> None:
        try:
            self.smb.close_file(self.fid)
        except Exception:  # noqa: BLE001, S110 - best effort on the way out
            pass


def _wstr_fixed(r: NdrReader, chars: int) -> str:
    return r.raw(2 * chars).decode("utf-16-le", "replace").split("\x00", 1)[0]


class RemoteBackend:
    def __init__(self, host: str, port: int, user: str, password: str, domain: str) -> None:
        self.host, self.port = host, port
        self.user, self.password, self.domain = user, password, domain
        self._smb = None
        self._session_pipe: _Pipe | None = None

    def _connect(self):
        from lanman.msg.command import MsgError
        from lanman.smb.client.api import SmbClient
        from lanman.smb.client.errors import SmbClientError

        if self._smb is not None:
            return self._smb
        if not self.user:
            raise MsgError(
                ERROR_ACCESS_DENIED,
                "no credentials: give -U user%password (or LANMAN_MSG_USER / LANMAN_MSG_PASSWORD)",
            )
        try:
            self._smb = SmbClient.connect(
                self.host,
                self.port,
                self.user,
                self.password,
                domain=self.domain,
                share="IPC$",
                require_signing=False,
                timeout=15.0,
            )
        except SmbClientError as exc:
            code = (
                RPC_S_SERVER_UNAVAILABLE
                if getattr(exc, "status", 0) in _UNREACHABLE
                else ERROR_ACCESS_DENIED
            )
            raise MsgError(code, f"SMB logon to {self.host}: {exc}") from None
        except OSError as exc:
            raise MsgError(RPC_S_SERVER_UNAVAILABLE, f"{self.host}:{self.port}: {exc}") from None
        return self._smb

    def _pipe(self, iface: str) -> _Pipe:
        from lanman.msg.command import MsgError
        from lanman.smb.client.errors import SmbClientError

        smb = self._connect()
        try:
            return _Pipe(smb, "LSM_API_service", iface, self.user, self.password, self.domain)
        except SmbClientError as exc:
            status = getattr(exc, "status", 0)
            code = RPC_S_SERVER_UNAVAILABLE if status == _NOT_FOUND else ERROR_ACCESS_DENIED
            raise MsgError(code, f"\\pipe\\LSM_API_service: {exc}") from None
        except RpcCallError as exc:
            raise MsgError(ERROR_ACCESS_DENIED, f"RPC bind: {exc}") from None

    def list_sessions(self, users: bool = True) -> list[MsgSession]:
        from lanman.msg.command import MsgError

        enum = self._pipe(TERMSRV_ENUMERATION_UUID)
        try:
            r = NdrReader(enum.call(0, b""))
            handle = r.raw(20)
            w = NdrWriter()
            w.raw(handle)
            w.u32(1)
            r = NdrReader(enum.call(5, w.getvalue()))
            sessions = []
            if r.referent_id():
                n = r.array_count(65536)
                for _ in range(n):
                    r.u32()
                    r.u32()
                    sid = r.i32()
                    state = r.i32()
                    name = _wstr_fixed(r, 33)
                    r.align(4)
                    sessions.append(
                        MsgSession(
                            sid,
                            name,
                            "",
                            SessionState(state) if 0 <= state <= 9 else SessionState.DOWN,
                            "remote",
                            key=str(sid),
                        )
                    )
            enum.call(1, handle)
        except RpcCallError as exc:
            raise MsgError(
                ERROR_ACCESS_DENIED if exc.status == 5 else RPC_S_SERVER_UNAVAILABLE, str(exc)
            ) from None
        finally:
            enum.close()
        if not users:
            return sessions
        try:
            sess = self._session()
        except MsgError:
            return sessions  # names only; the list itself is good
        try:
            for s in sessions:
                w = NdrWriter()
                w.i32(s.session_id)
                w.u32(1)
                r = NdrReader(sess.call(17, w.getvalue()))
                r.raw(16)
                r.raw(66)
                s.domain = _wstr_fixed(r, 18)
                s.user = _wstr_fixed(r, 21)
        except RpcCallError:
            self._drop_session()  # names only; the list itself is good
        return sessions

    def _session(self) -> _Pipe:
        """The TermSrvSession pipe of this command, opened and bound on first use."""
        if self._session_pipe is None:
            self._session_pipe = self._pipe(TERMSRV_SESSION_UUID)
        return self._session_pipe

    def _drop_session(self) -> None:
        if self._session_pipe is not None:
            self._session_pipe.close()
            self._session_pipe = None

    def close(self) -> None:
        self._drop_session()
        if self._smb is not None:
            try:
                self._smb.close()
            except Exception:  # noqa: BLE001, S110 - best effort on the way out
                pass
            self._smb = None

    def send(self, session: MsgSession, m: Message) -> SendResult:
        from lanman.smb.client.errors import SmbClientError

        res = SendResult(session)
        try:
            p = self._session()
        except Exception as exc:  # noqa: BLE001
            res.error, res.detail = getattr(exc, "win32", 1722), str(exc)
            return res
        try:
            w = NdrWriter()
            w.i32(session.session_id)
            r = NdrReader(p.call(0, w.getvalue()))
            handle = r.raw(20)
            hr = r.u32()
            if hr:
                res.error, res.detail = hr & 0xFFFF, f"RpcOpenSession 0x{hr:08x}"
                return res
            w = NdrWriter()
            w.raw(handle)
            w.wstr(m.title or " ")
            w.wstr(m.text)
            w.u32(m.style)
            w.u32(m.timeout)
            w.u32(0 if m.wait else 1)
            r = NdrReader(p.call(9, w.getvalue()))
            response = r.u32()
            hr = r.u32()
            if hr:
                res.error, res.detail = hr & 0xFFFF, f"RpcShowMessageBox 0x{hr:08x}"
            else:
                res.response = response if m.wait else IDASYNC
            p.call(1, handle)
        except RpcCallError as exc:
            res.error, res.detail = (exc.status if exc.status < 0x10000 else 1722), str(exc)
            self._drop_session()  # a fault may leave the association unusable: start afresh
        except (SmbClientError, OSError) as exc:
            res.error, res.detail = RPC_S_SERVER_UNAVAILABLE, str(exc)
            self._drop_session()
        return res


def remote_backend(a) -> RemoteBackend:
    host, port = split_server(a.server)
    user = a.user or os.environ.get("LANMAN_MSG_USER", "")
    password = a.password if a.password is not None else os.environ.get("LANMAN_MSG_PASSWORD", "")
    domain = a.domain
    if "\\" in user:
        domain, user = user.split("\\", 1)
    return RemoteBackend(host, port, user, password, domain)
