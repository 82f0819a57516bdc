"""MS-WKST workstation service, NetrWkstaGetInfo level 100 only (pipe ``wkssvc``).

Interface ``6bffd098-a112-3610-9833-46c3f87e345a`` v1.0 (MS-WKST 1.9).  Clients such as
``net view`` and some browsers ask for WKSTA_INFO_100 (MS-WKST 2.2.5.1) to learn the server's
NetBIOS name and domain; every other level answers ERROR_INVALID_LEVEL, every other opnum
faults with nca_s_op_rng_error.
"""

from __future__ import annotations

from lanman.rpc.endpoint import CallContext, RpcFault
from lanman.rpc.ndr import NdrReader, NdrWriter
from lanman.rpc.pdu import FaultStatus

__all__ = ["WKSSVC_UUID", "WKSSVC_VERSION", "Wkssvc"]

WKSSVC_UUID = "6bffd098-a112-3610-9833-46c3f87e345a"
WKSSVC_VERSION = (1, 0)
OP_NETR_WKSTA_GET_INFO = 0
PLATFORM_ID_NT = 500
ERROR_SUCCESS = 0
ERROR_INVALID_LEVEL = 124


class Wkssvc:
    """Per-pipe wkssvc instance (implements :class:`~lanman.rpc.endpoint.RpcInterface`)."""

    uuid = WKSSVC_UUID
    version = WKSSVC_VERSION

    def __init__(
        self, *, langroup: str = "WORKGROUP", os_version: tuple[int, int] = (10, 0)
    ) -> None:
        self.langroup = langroup
        self.os_version = os_version

    def call(self, opnum: int, stub: bytes, ctx: CallContext) -> bytes:
        if opnum != OP_NETR_WKSTA_GET_INFO:
            raise RpcFault(FaultStatus.NCA_S_OP_RNG_ERROR, did_not_execute=True)
        return self.netr_wksta_get_info(NdrReader(stub), ctx)

    def netr_wksta_get_info(self, r: NdrReader, ctx: CallContext) -> bytes:
        """NetrWkstaGetInfo, MS-WKST 3.2.4.1: ServerName ([unique, string]), Level."""
        r.unique_wstr(256)
        level = r.u32()
        w = NdrWriter()
        w.u32(level)  # union discriminant of [out, switch_is(Level)] LPWKSTA_INFO
        if level != 100:
            w.pointer(None)
            w.u32(ERROR_INVALID_LEVEL)
            return w.getvalue()
        langroup = ctx.domain or self.langroup

        def info(ww: NdrWriter) -> None:
            ww.u32(PLATFORM_ID_NT)
            ww.pointer(lambda w3: w3.wstr(ctx.server_name))
            ww.pointer(lambda w3: w3.wstr(langroup))
            ww.u32(self.os_version[0])
            ww.u32(self.os_version[1])

        w.top_level(lambda ww: ww.pointer(info))
        w.u32(ERROR_SUCCESS)
        return w.getvalue()
