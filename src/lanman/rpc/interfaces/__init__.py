"""Built-in RPC interfaces and the pipe names they are served on (MS-RPCE 2.1.1.2 ncacn_np)."""

from __future__ import annotations

from lanman.rpc.endpoint import CallContext, PipeFactory, PipeProviders, RpcPipe
from lanman.rpc.interfaces.srvsvc import ShareInfo, ShareProvider, Srvsvc
from lanman.rpc.interfaces.wkssvc import Wkssvc

__all__ = ["BUILTIN_PIPES", "ShareInfo", "ShareProvider", "Srvsvc", "Wkssvc"]


def _no_shares() -> list[ShareInfo]:
    return []


def _srvsvc_pipe(ctx: CallContext, providers: PipeProviders) -> RpcPipe:
    return RpcPipe(
        [Srvsvc(providers.shares or _no_shares)],
        ctx,
        sec_addr="\\PIPE\\srvsvc",
        auth_factory=providers.auth,
        emit=providers.emit,
    )


def _wkssvc_pipe(ctx: CallContext, providers: PipeProviders) -> RpcPipe:
    return RpcPipe(
        [Wkssvc()], ctx, sec_addr="\\PIPE\\wkssvc", auth_factory=providers.auth, emit=providers.emit
    )


def _tsts_pipe(name: str, sec_addr: str) -> PipeFactory:
    """MS-TSTS pipes exist only when a msg host is provided (AllowRemoteRPC, see lanman.msg)."""

    def factory(ctx: CallContext, providers: PipeProviders) -> RpcPipe | None:
        if providers.msg is None:
            return None
        from lanman.rpc.interfaces.tsts import tsts_interfaces

        ctx.pipe_name = sec_addr
        return RpcPipe(
            tsts_interfaces(providers.msg, name),
            ctx,
            sec_addr=sec_addr,
            auth_factory=providers.auth,
            emit=providers.emit,
        )

    return factory


#: normalized pipe name -> factory; a new RpcPipe (fresh interface state) per SMB CREATE.
BUILTIN_PIPES: dict[str, PipeFactory] = {
    "srvsvc": _srvsvc_pipe,
    "wkssvc": _wkssvc_pipe,
    "lsm_api_service": _tsts_pipe("lsm_api_service", "\\PIPE\\LSM_API_service"),
    "ctx_winstation_api_service": _tsts_pipe(
        "ctx_winstation_api_service", "\\PIPE\\Ctx_WinStation_API_service"
    ),
}
