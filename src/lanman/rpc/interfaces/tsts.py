"""MS-TSTS (Terminal Services Terminal Server Runtime Interface), the parts msg and qwinsta use.

Served on two pipes (docs/SOURCES.md msg §3.1):

* ``\\pipe\\LSM_API_service``: TermSrvSession ``484809d6-4239-471b-b5bc-61df8c23ac48``
  (RpcOpenSession 0, RpcCloseSession 1, RpcShowMessageBox 9, RpcGetSessionInformationEx 17)
  and TermSrvEnumeration ``88143fd0-c28d-4b2b-8fef-8d882f6a9390`` (RpcOpenEnum 0,
  RpcCloseEnum 1, RpcGetEnumResult 5);
* ``\\pipe\\Ctx_WinStation_API_service``: LegacyApi ``5ca4a760-ebb1-11cf-8611-00a0245420ed``
  (RpcWinStationOpenServer 0, CloseServer 1, Enumerate 3, SendMessage 7,
  LogonIdFromWinStationName 8, WinStationNameFromLogonId 9).

The data comes from a :class:`lanman.msg.host.MsgHost`.  Context handles live in a
:class:`TstsHandles` table per pipe open (a handle from one association never works on
another).  TermSrv* methods return HRESULTs; LegacyApi methods return a BOOLEAN plus an
NTSTATUS in ``pResult`` (MS-TSTS 3.7.4.1).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from lanman.msg.delivery import IDASYNC, MAX_MESSAGE_CHARS, MAX_TITLE_CHARS, Message
from lanman.msg.host import WINSTATION_MSG, Caller, MsgHost
from lanman.msg.sessions import MAX_SESSION_ID, MsgSession
from lanman.rpc.endpoint import CallContext, RpcFault
from lanman.rpc.ndr import ContextHandle, NdrReader, NdrWriter
from lanman.rpc.pdu import FaultStatus

__all__ = [
    "LEGACY_API_UUID",
    "MAX_RPC_WAIT_SECONDS",
    "TERMSRV_ENUMERATION_UUID",
    "TERMSRV_SESSION_UUID",
    "LegacyApi",
    "TermSrvEnumeration",
    "TermSrvSession",
    "TstsHandles",
]

TERMSRV_SESSION_UUID = "484809d6-4239-471b-b5bc-61df8c23ac48"
TERMSRV_ENUMERATION_UUID = "88143fd0-c28d-4b2b-8fef-8d882f6a9390"
LEGACY_API_UUID = "5ca4a760-ebb1-11cf-8611-00a0245420ed"

S_OK = 0
E_ACCESSDENIED = 0x80070005
HRESULT_FILE_NOT_FOUND = 0x80070002  # what Windows answers for a missing session
E_INVALIDARG = 0x80070057
E_HANDLE = 0x80070006
STATUS_SUCCESS = 0
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_NO_MORE_ENTRIES = 0x8000001A
STATUS_CTX_WINSTATION_NOT_FOUND = 0xC00A0015
STATUS_BUFFER_TOO_SMALL = 0xC0000023

SESSION_NAME_CHARS = 33  # WINSTATIONNAME_LENGTH + 1
DOMAIN_CHARS = 18
USER_CHARS = 21
#: LOGONID in RpcWinStationEnumerate's byte buffer: ULONG id, WCHAR[33], pad, enum (76 bytes)
#: — C layout, [unconfirmed] on the wire (docs/SOURCES.md msg §3.2).
LOGONID_SIZE = 76
#: A message that waits (bDoNotWait = FALSE) holds its pipe (not the server: the wait is a
#: blocking section, lanman.concurrency) for at most this long, then answers IDTIMEOUT.
MAX_RPC_WAIT_SECONDS = 300
SESSIONFLAGS_UNKNOWN = 0xFFFFFFFF
_EPOCH_AS_FILETIME = 116444736000000000


def _filetime(t: float) -> int:
    return int(t * 10_000_000) + _EPOCH_AS_FILETIME if t > 0 else 0


def _fixed_wchars(text: str, n: int) -> bytes:
    data = text[: n - 1].encode("utf-16-le")
    return data + b"\x00" * (2 * n - len(data))


@dataclass(slots=True)
class TstsHandles:
    """Context handles of one association: uuid bytes -> (kind, value)."""

    handles: dict[bytes, tuple[str, object]] = field(default_factory=dict)
    limit: int = 1024

    def new(self, kind: str, value: object) -> ContextHandle:
        if len(self.handles) >= self.limit:
            raise RpcFault(FaultStatus.NCA_S_FAULT_REMOTE_NO_MEMORY)
        u = os.urandom(16)
        self.handles[u] = (kind, value)
        return ContextHandle(0, u)

    def get(self, h: ContextHandle, kind: str) -> object | None:
        entry = self.handles.get(h.uuid)
        if entry is None or entry[0] != kind:
            return None
        return entry[1]

    def close(self, h: ContextHandle) -> bool:
        return self.handles.pop(h.uuid, None) is not None


_NULL = ContextHandle(0, b"\x00" * 16)


def caller_of(ctx: CallContext) -> Caller:
    return Caller(ctx.user, ctx.domain, ctx.is_admin, ctx.client_address)


def _send(
    host: MsgHost,
    ctx: CallContext,
    session: MsgSession,
    title: str,
    text: str,
    style: int,
    timeout: int,
    do_not_wait: bool,
) -> tuple[int | None, int | None]:
    """-> (response, win32 error)"""
    wait = not do_not_wait
    eff_timeout = timeout
    if wait:
        eff_timeout = min(timeout or MAX_RPC_WAIT_SECONDS, MAX_RPC_WAIT_SECONDS)
    m = Message(
        sender=caller_of(ctx).display,
        text=text[:MAX_MESSAGE_CHARS],
        title=title[:MAX_TITLE_CHARS],
        style=style,
        timeout=eff_timeout,
        wait=wait,
        sender_host=ctx.client_address,
    )
    res = host.send_one(caller_of(ctx), session, m)
    return res.response, res.error


class _Base:
    version = (1, 0)

    def __init__(self, host: MsgHost, handles: TstsHandles) -> None:
        self.host = host
        self.handles = handles

    def _session(self, session_id: int) -> MsgSession | None:
        if not 0 <= session_id <= MAX_SESSION_ID:
            return None
        return self.host.registry.get(session_id)


class TermSrvSession(_Base):
    """MS-TSTS 3.3.4.1."""

    uuid = TERMSRV_SESSION_UUID

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        r = NdrReader(stub)
        if opnum == 0:
            return self.rpc_open_session(r)
        if opnum == 1:
            return self.rpc_close_session(r)
        if opnum == 9:
            return self.rpc_show_message_box(r, ctx)
        if opnum == 17:
            return self.rpc_get_session_information_ex(r, ctx)
        raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)

    def rpc_open_session(self, r: NdrReader) -> bytes:
        """3.3.4.1.1: the session must exist and not be a listener (trailing bytes ignored)."""
        session_id = r.i32()
        w = NdrWriter()
        s = self._session(session_id)
        if s is None:
            w.context_handle(_NULL)
            w.u32(HRESULT_FILE_NOT_FOUND)
        else:
            w.context_handle(self.handles.new("session", s.session_id))
            w.u32(S_OK)
        return w.getvalue()

    def rpc_close_session(self, r: NdrReader) -> bytes:
        h = r.context_handle()
        ok = self.handles.close(h)
        w = NdrWriter()
        w.context_handle(_NULL)
        w.u32(S_OK if ok else E_HANDLE)
        return w.getvalue()

    def rpc_show_message_box(self, r: NdrReader, ctx: CallContext) -> bytes:
        """3.3.4.1.10: needs WINSTATION_MSG; pulResponse IDASYNC when bDoNotWait."""
        h = r.context_handle()
        title = r.wstr(4 * MAX_TITLE_CHARS)
        text = r.wstr(4 * MAX_MESSAGE_CHARS)
        style = r.u32()
        timeout = r.u32()
        do_not_wait = bool(r.u32())
        w = NdrWriter()
        sid = self.handles.get(h, "session")
        s = self._session(sid) if isinstance(sid, int) else None
        if sid is None:
            w.u32(0)
            w.u32(E_HANDLE)
            return w.getvalue()
        if s is None:
            w.u32(0)
            w.u32(HRESULT_FILE_NOT_FOUND)
            return w.getvalue()
        response, error = _send(self.host, ctx, s, title, text, style, timeout, do_not_wait)
        if error is not None:
            w.u32(0)
            w.u32(E_ACCESSDENIED if error == 5 else (0x80070000 | (error & 0xFFFF)))
            return w.getvalue()
        w.u32(IDASYNC if do_not_wait else int(response or 0))
        w.u32(S_OK)
        return w.getvalue()

    def rpc_get_session_information_ex(self, r: NdrReader, ctx: CallContext) -> bytes:
        """3.3.4.1.17, Level 1 (LSMSESSIONINFORMATION_EX_LEVEL1)."""
        session_id = r.i32()
        level = r.u32()
        s = self._session(session_id)
        w = NdrWriter()
        if s is None or level != 1:
            w.u32(1)
            w.u32(1)
            w.raw(b"\x00" * (8 + 66 + 36 + 42))
            w.raw(b"\x00" * 32)
            w.u32(0)
            w.u32(0)
            w.u32(HRESULT_FILE_NOT_FOUND if s is None else E_INVALIDARG)
            return w.getvalue()
        w.u32(1)  # Level
        w.u32(1)  # union discriminant
        w.i32(int(s.state))
        w.u32(SESSIONFLAGS_UNKNOWN)
        w.raw(_fixed_wchars(s.name, SESSION_NAME_CHARS))
        w.raw(_fixed_wchars(s.domain, DOMAIN_CHARS))
        w.raw(_fixed_wchars(s.user, USER_CHARS))
        t = _filetime(s.logon_time)
        w.u64(t)  # ConnectTime
        w.u64(0)  # DisconnectTime
        w.u64(t)  # LogonTime
        w.u64(0)  # LastInputTime
        w.u32(0)  # ProtocolDataSize
        w.u32(0)  # ProtocolData (NULL)
        w.u32(S_OK)
        return w.getvalue()


class TermSrvEnumeration(_Base):
    """MS-TSTS 3.3.4.3: RpcOpenEnum / RpcGetEnumResult (levels 1, 2 -> 1) / RpcCloseEnum."""

    uuid = TERMSRV_ENUMERATION_UUID

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        r = NdrReader(stub)
        w = NdrWriter()
        if opnum == 0:
            w.context_handle(self.handles.new("enum", True))
            w.u32(S_OK)
            return w.getvalue()
        if opnum == 1:
            ok = self.handles.close(r.context_handle())
            w.context_handle(_NULL)
            w.u32(S_OK if ok else E_HANDLE)
            return w.getvalue()
        if opnum == 5:
            return self.rpc_get_enum_result(r, ctx)
        raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)

    def rpc_get_enum_result(self, r: NdrReader, ctx: CallContext) -> bytes:
        h = r.context_handle()
        level = r.u32()
        w = NdrWriter()
        if self.handles.get(h, "enum") is None:
            w.u32(0)
            w.u32(0)
            w.u32(E_HANDLE)
            return w.getvalue()
        if level not in (1, 2):
            w.u32(0)
            w.u32(0)
            w.u32(E_INVALIDARG)
            return w.getvalue()
        sessions = self.host.sessions()  # WINSTATION_QUERY is granted to every caller
        w.u32(w.referent_id())
        w.u32(len(sessions))
        for s in sessions:
            w.u32(1)  # Level (we answer level 1; the server may downgrade, 3.3.4.3.6)
            w.u32(1)  # union discriminant
            w.i32(s.session_id)
            w.i32(int(s.state))
            w.raw(_fixed_wchars(s.name, SESSION_NAME_CHARS))
            w.align(4)
        w.u32(len(sessions))
        w.u32(S_OK)
        return w.getvalue()


class LegacyApi(_Base):
    """MS-TSTS 3.7.4.1 (RpcWinStation*): BOOLEAN result plus NTSTATUS ``pResult``."""

    uuid = LEGACY_API_UUID

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        r = NdrReader(stub)
        if opnum == 0:  # RpcWinStationOpenServer
            w = NdrWriter()
            w.u32(STATUS_SUCCESS)
            w.context_handle(self.handles.new("server", True))
            w.u8(1)
            return w.getvalue()
        if opnum == 1:  # RpcWinStationCloseServer
            ok = self.handles.close(r.context_handle())
            return self._result(STATUS_SUCCESS if ok else STATUS_INVALID_HANDLE, ok)
        if opnum == 3:
            return self.rpc_winstation_enumerate(r)
        if opnum == 7:
            return self.rpc_winstation_send_message(r, ctx)
        if opnum == 8:
            return self.rpc_logon_id_from_winstation_name(r)
        if opnum == 9:
            return self.rpc_winstation_name_from_logon_id(r)
        raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)

    @staticmethod
    def _result(status: int, ok: bool, *extra: int) -> bytes:
        w = NdrWriter()
        w.u32(status)
        for x in extra:
            w.u32(x)
        w.u8(1 if ok else 0)
        return w.getvalue()

    def rpc_winstation_enumerate(self, r: NdrReader) -> bytes:
        """3.7.4.1.4: LOGONID records from *pIndex; STATUS_NO_MORE_ENTRIES when done."""
        h = r.context_handle()
        entries = r.u32()
        ref = r.u32()
        buf_count = 0
        if ref:
            buf_count = r.array_count(1 << 20)
            r.raw(buf_count)
            r.align(4)
        byte_count = r.u32()
        index = r.u32()
        sessions = self.host.sessions()
        w = NdrWriter()
        if self.handles.get(h, "server") is None:
            w.u32(STATUS_INVALID_HANDLE)
            w.u32(0)
            w.u32(0)
            w.u32(byte_count)
            w.u32(index)
            w.u8(0)
            return w.getvalue()
        capacity = min(byte_count, buf_count if ref else 0) // LOGONID_SIZE
        want = min(entries if entries != 0xFFFFFFFF else capacity, capacity)
        chosen = sessions[index : index + want]
        blob = b"".join(
            struct.pack("<I", s.session_id)
            + _fixed_wchars(s.name, SESSION_NAME_CHARS)
            + b"\x00\x00"
            + struct.pack("<I", int(s.state))
            for s in chosen
        )
        status = STATUS_SUCCESS if chosen else STATUS_NO_MORE_ENTRIES
        w.u32(status)
        w.u32(len(chosen))
        if ref:
            w.u32(w.referent_id())
            w.u32(byte_count)
            w.raw(blob + b"\x00" * (byte_count - len(blob)))
            w.align(4)
        else:
            w.u32(0)
        w.u32(byte_count)
        w.u32(index + len(chosen))
        w.u8(1)
        return w.getvalue()

    def rpc_winstation_send_message(self, r: NdrReader, ctx: CallContext) -> bytes:
        """3.7.4.1.8: needs WINSTATION_MSG (else STATUS_ACCESS_DENIED and FALSE)."""
        h = r.context_handle()
        logon_id = r.u32()
        title = self._wchars(r, MAX_TITLE_CHARS)
        r.u32()  # TitleLength: the conformance count is what bounds the data
        text = self._wchars(r, MAX_MESSAGE_CHARS)
        r.u32()  # MessageLength
        style = r.u32()
        timeout = r.u32()
        do_not_wait = bool(r.u8())
        if self.handles.get(h, "server") is None:
            return self._result(STATUS_INVALID_HANDLE, False, 0)
        s = self._session(logon_id)
        if s is None:
            return self._result(STATUS_CTX_WINSTATION_NOT_FOUND, False, 0)
        if not self.host.permissions(caller_of(ctx), s) & WINSTATION_MSG:
            _send(self.host, ctx, s, title, text, style, timeout, do_not_wait)  # logs refusal
            return self._result(STATUS_ACCESS_DENIED, False, 0)
        response, error = _send(self.host, ctx, s, title, text, style, timeout, do_not_wait)
        if error is not None:
            status = STATUS_ACCESS_DENIED if error == 5 else STATUS_CTX_WINSTATION_NOT_FOUND
            return self._result(status, False, 0)
        return self._result(STATUS_SUCCESS, True, IDASYNC if do_not_wait else int(response or 0))

    @staticmethod
    def _wchars(r: NdrReader, limit: int) -> str:
        """``[size_is(n)] PWCHAR``: MaxCount + elements; cut at the first NUL and at ``limit``."""
        count = r.array_count(limit)
        data = r.raw(2 * count)
        r.align(4)
        return data.decode("utf-16-le", "replace").split("\x00", 1)[0]

    def rpc_logon_id_from_winstation_name(self, r: NdrReader) -> bytes:
        """3.7.4.1.6: WinStationName ([size_is(NameSize)] PWCHAR) -> LogonId."""
        h = r.context_handle()
        name = self._wchars(r, SESSION_NAME_CHARS)
        r.u32()  # NameSize
        if self.handles.get(h, "server") is None:
            return self._result(STATUS_INVALID_HANDLE, False, 0)
        for s in self.host.sessions():
            if s.name.casefold() == name.casefold():
                return self._result(STATUS_SUCCESS, True, s.session_id)
        return self._result(STATUS_CTX_WINSTATION_NOT_FOUND, False, 0)

    def rpc_winstation_name_from_logon_id(self, r: NdrReader) -> bytes:
        """3.7.4.1.7: LogonId -> [in,out,size_is(NameSize)] PWCHAR pWinStationName."""
        h = r.context_handle()
        logon_id = r.u32()
        count = r.array_count(SESSION_NAME_CHARS)
        r.raw(2 * count)
        r.align(4)
        name_size = r.u32()
        w = NdrWriter()
        s = self._session(logon_id) if self.handles.get(h, "server") is not None else None
        status = STATUS_SUCCESS if s is not None else STATUS_CTX_WINSTATION_NOT_FOUND
        if s is not None and name_size < len(s.name) + 1:
            status, s = STATUS_BUFFER_TOO_SMALL, None
        w.u32(status)
        w.u32(count)
        data = _fixed_wchars(s.name, count) if s is not None and count else b"\x00" * 2 * count
        w.raw(data)
        w.align(4)
        w.u32(name_size)
        w.u8(1 if s is not None else 0)
        return w.getvalue()


def tsts_interfaces(host: MsgHost, pipe: str) -> list:
    handles = TstsHandles()
    if pipe == "lsm_api_service":
        return [TermSrvSession(host, handles), TermSrvEnumeration(host, handles)]
    return [LegacyApi(host, handles)]
