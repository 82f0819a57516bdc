"""MS-SRVS server service remote protocol, the part share browsers use (pipe ``srvsvc``).

Interface ``4b324fc8-1670-01d3-1278-5a47bf6ee188`` v3.0 (MS-SRVS 1.9).  Implemented:

* NetrShareEnum (opnum 15, MS-SRVS 3.1.4.8) levels 0, 1, 2 (admin only), 501;
* NetrShareGetInfo (opnum 16, MS-SRVS 3.1.4.10) levels 0, 1, 2 (admin only), 501, 1005;
* NetrServerGetInfo (opnum 21, MS-SRVS 3.1.4.17) levels 100, 101.

Other opnums fault with nca_s_op_rng_error.  Results are Win32 codes (NET_API_STATUS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lanman.rpc.endpoint import CallContext, RpcFault
from lanman.rpc.ndr import NdrError, NdrReader, NdrWriter
from lanman.rpc.pdu import FaultStatus

__all__ = [
    "PLATFORM_ID_NT",
    "SRVSVC_UUID",
    "SRVSVC_VERSION",
    "STYPE_DEVICE",
    "STYPE_DISKTREE",
    "STYPE_IPC",
    "STYPE_PRINTQ",
    "STYPE_SPECIAL",
    "STYPE_TEMPORARY",
    "SV_TYPE_NT",
    "SV_TYPE_SERVER",
    "SV_TYPE_SERVER_NT",
    "SV_TYPE_WORKSTATION",
    "ShareInfo",
    "ShareProvider",
    "Srvsvc",
]

SRVSVC_UUID = "4b324fc8-1670-01d3-1278-5a47bf6ee188"
SRVSVC_VERSION = (3, 0)

# Share types, MS-SRVS 2.2.2.4
STYPE_DISKTREE = 0x00000000
STYPE_PRINTQ = 0x00000001
STYPE_DEVICE = 0x00000002
STYPE_IPC = 0x00000003
STYPE_CLUSTER_FS = 0x02000000
STYPE_SPECIAL = 0x80000000
STYPE_TEMPORARY = 0x40000000

# Server types, MS-SRVS 2.2.2.7
SV_TYPE_WORKSTATION = 0x00000001
SV_TYPE_SERVER = 0x00000002
SV_TYPE_NT = 0x00001000
SV_TYPE_SERVER_NT = 0x00008000
PLATFORM_ID_NT = 500  # MS-SRVS 2.2.2.6 PLATFORM_ID_NT

# Win32 / NET_API_STATUS results (MS-ERREF 2.2, MS-SRVS 3.1.4)
ERROR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_LEVEL = 124
NERR_NET_NAME_NOT_FOUND = 2310

OP_NETR_SHARE_ENUM = 15
OP_NETR_SHARE_GET_INFO = 16
OP_NETR_SERVER_GET_INFO = 21

#: Longest share name accepted in a request (MS-SRVS 2.2.4.22 limits netnames to 80 chars).
MAX_NETNAME = 256


@dataclass(slots=True)
class ShareInfo:
    """What srvsvc reports about one share (MS-SRVS 2.2.4.22-2.2.4.26 SHARE_INFO_*).

    ``path`` is only revealed to administrators (level 2); ``flags`` feeds shi501/1005_flags
    (client-side caching bits, MS-SRVS 2.2.4.29).
    """

    name: str
    type: int
    remark: str
    path: str = ""
    max_uses: int = 0xFFFFFFFF
    current_uses: int = 0
    flags: int = 0


ShareProvider = Callable[[], list[ShareInfo]]


def _write_share(w: NdrWriter, level: int, share: ShareInfo) -> None:
    """Fixed part of SHARE_INFO_<level>; string pointees are deferred (C706 14.3.12.3)."""

    def s(text: str) -> Callable[[NdrWriter], None]:
        return lambda ww: ww.wstr(text)

    if level == 1005:
        w.u32(share.flags)
        return
    w.pointer(s(share.name))
    if level == 0:
        return
    w.u32(share.type)
    w.pointer(s(share.remark))
    if level == 2:
        w.u32(0)  # shi2_permissions: ignored for user-level security (MS-SRVS 2.2.4.24)
        w.u32(share.max_uses)
        w.u32(share.current_uses)
        w.pointer(s(share.path))
        w.pointer(None)  # shi2_passwd
    elif level == 501:
        w.u32(share.flags)


class Srvsvc:
    """Per-pipe srvsvc instance (implements :class:`~lanman.rpc.endpoint.RpcInterface`)."""

    uuid = SRVSVC_UUID
    version = SRVSVC_VERSION

    ENUM_LEVELS = (0, 1, 2, 501)
    GET_INFO_LEVELS = (0, 1, 2, 501, 1005)

    def __init__(
        self,
        shares: ShareProvider,
        *,
        server_comment: str = "",
        server_type: int = SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT,
        version: tuple[int, int] = (10, 0),
    ) -> None:
        self.shares = shares
        self.server_comment = server_comment
        self.server_type = server_type
        self.os_version = version

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        if opnum == OP_NETR_SHARE_ENUM:
            return self.netr_share_enum(NdrReader(stub), ctx)
        if opnum == OP_NETR_SHARE_GET_INFO:
            return self.netr_share_get_info(NdrReader(stub), ctx)
        if opnum == OP_NETR_SERVER_GET_INFO:
            return self.netr_server_get_info(NdrReader(stub), ctx)
        raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)

    # -------------------------------------------------------------- opnum 15
    def netr_share_enum(self, r: NdrReader, ctx: CallContext) -> bytes:
        """NetrShareEnum, MS-SRVS 3.1.4.8.

        Request: ServerName ([unique, string]), InfoStruct (SHARE_ENUM_STRUCT: Level, union tag,
        unique pointer to a container), PreferedMaximumLength, ResumeHandle ([unique] DWORD*).
        The whole list is returned in one response (the preferred length is advisory).
        """
        r.unique_wstr(MAX_NETNAME)
        level = r.u32()
        tag = r.u32()
        if tag != level:
            raise NdrError(f"union tag {tag} != level {level}")
        if r.referent_id():
            r.u32()  # EntriesRead
            if r.referent_id():
                raise NdrError("input share buffer must be NULL")
        r.u32()  # PreferedMaximumLength
        resume_ptr = r.referent_id()
        resume = r.u32() if resume_ptr else 0

        status = ERROR_SUCCESS
        if level not in self.ENUM_LEVELS:
            status = ERROR_INVALID_LEVEL
        elif level == 2 and not ctx.is_admin:
            status = ERROR_ACCESS_DENIED
        elif ctx.is_anonymous and ctx.restrict_anonymous:
            # RestrictAnonymous = 1 ("Do not allow anonymous enumeration of SAM accounts and
            # shares"): the call fails with ERROR_ACCESS_DENIED (MS-SRVS 3.1.4.8 lets the
            # server fail callers without the required permissions).
            status = ERROR_ACCESS_DENIED
        shares = list(self.shares()) if status == ERROR_SUCCESS else []
        total = len(shares)
        shares = shares[resume:] if resume < total else []

        w = NdrWriter()
        w.u32(level)
        w.u32(level)

        def container(ww: NdrWriter) -> None:
            ww.u32(len(shares))
            if not shares:
                ww.pointer(None)
                return
            ww.pointer(
                lambda w3: w3.conformant_array(
                    shares,
                    lambda w4, sh: _write_share(w4, level, sh),  # type: ignore[arg-type]
                )
            )

        if status == ERROR_SUCCESS:
            w.top_level(lambda ww: ww.pointer(container))
        else:
            w.pointer(None)
        w.u32(total)  # TotalEntries
        if resume_ptr:
            w.u32(w.referent_id())
            w.u32(0)  # all entries returned: resume handle back to 0
        else:
            w.u32(0)
        w.u32(status)
        return w.getvalue()

    # -------------------------------------------------------------- opnum 16
    def netr_share_get_info(self, r: NdrReader, ctx: CallContext) -> bytes:
        """NetrShareGetInfo, MS-SRVS 3.1.4.10: ServerName, NetName ([ref, string]), Level."""
        r.unique_wstr(MAX_NETNAME)
        netname = r.wstr(MAX_NETNAME)
        level = r.u32()
        status = ERROR_SUCCESS
        share: ShareInfo | None = None
        if level not in self.GET_INFO_LEVELS:
            status = ERROR_INVALID_LEVEL
        elif level == 2 and not ctx.is_admin:
            status = ERROR_ACCESS_DENIED
        else:
            wanted = netname.casefold()
            share = next((s for s in self.shares() if s.name.casefold() == wanted), None)
            if share is None:
                status = NERR_NET_NAME_NOT_FOUND
        w = NdrWriter()
        w.u32(level)  # union discriminant
        if share is not None:
            found = share
            w.top_level(lambda ww: ww.pointer(lambda w3: _write_share(w3, level, found)))
        else:
            w.pointer(None)
        w.u32(status)
        return w.getvalue()

    # -------------------------------------------------------------- opnum 21
    def netr_server_get_info(self, r: NdrReader, ctx: CallContext) -> bytes:
        """NetrServerGetInfo, MS-SRVS 3.1.4.17: levels 100 and 101 (SERVER_INFO_100/101)."""
        r.unique_wstr(MAX_NETNAME)
        level = r.u32()
        w = NdrWriter()
        w.u32(level)
        if level not in (100, 101):
            w.pointer(None)
            w.u32(ERROR_INVALID_LEVEL)
            return w.getvalue()

        def info(ww: NdrWriter) -> None:
            ww.u32(PLATFORM_ID_NT)
            ww.pointer(lambda w3: w3.wstr(ctx.server_name))
            if level == 101:
                ww.u32(self.os_version[0])
                ww.u32(self.os_version[1])
                ww.u32(self.server_type)
                ww.pointer(lambda w3: w3.wstr(self.server_comment))

        w.top_level(lambda ww: ww.pointer(info))
        w.u32(ERROR_SUCCESS)
        return w.getvalue()
