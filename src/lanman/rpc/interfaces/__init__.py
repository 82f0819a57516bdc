"""Built-in RPC interfaces and the pipe names they are served on (MS-RPCE 2.1.1.2 ncacn_np)."""

from __future__ import annotations

from lanman.rpc.endpoint import CallContext, PipeFactory, PipeProviders, RpcPipe
from lanman.rpc.interfaces.srvsvc import ShareInfo, ShareProvider, Srvsvc
from lanman.rpc.interfaces.wkssvc import Wkssvc

__all__ = ["BUILTIN_PIPES", "ShareInfo", "ShareProvider", "Srvsvc", "Wkssvc"]


def _no_shares() -> list[ShareInfo]:
    return []


def _srvsvc_pipe(ctx: CallContext, providers: PipeProviders) -> RpcPipe:
    return RpcPipe([Srvsvc(providers.shares or _no_shares)], ctx, sec_addr="\\PIPE\\srvsvc")


def _wkssvc_pipe(ctx: CallContext, providers: PipeProviders) -> RpcPipe:
    return RpcPipe([Wkssvc()], ctx, sec_addr="\\PIPE\\wkssvc")


#: normalized pipe name -> factory; a new RpcPipe (fresh interface state) per SMB CREATE.
BUILTIN_PIPES: dict[str, PipeFactory] = {
    "srvsvc": _srvsvc_pipe,
    "wkssvc": _wkssvc_pipe,
}
