"""The receiving side of remote msg: which SMB pipe opens reach the MS-TSTS interfaces.

Windows serves the WinStation pipes to remote callers only when
``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\AllowRemoteRPC`` is 1.  With 0 the
remote endpoint is not there: the pipe CREATE fails with STATUS_OBJECT_NAME_NOT_FOUND, which
the Windows RPC runtime (and lanman's client) reports as RPC_S_SERVER_UNAVAILABLE, error 1722
— the "Error 1722 getting session names" msg prints.  Anonymous and guest sessions are refused
with STATUS_ACCESS_DENIED (error 5): the caller must be an authenticated account.

:func:`pipe_access` is the pure decision; :func:`binding_for` finds the msg host and policy of
a running SMB server (explicitly :func:`attach`-ed, else derived from the server's store,
which lives in the home directory).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lanman.msg.host import MsgHost

__all__ = [
    "ALLOW_REMOTE_RPC",
    "TSTS_PIPES",
    "MsgServerBinding",
    "PipeAccess",
    "attach",
    "binding_for",
    "binding_for_home",
    "detach",
    "pipe_access",
]

ALLOW_REMOTE_RPC = "TerminalServer.AllowRemoteRPC"
#: normalized pipe names of the MS-TSTS endpoints (docs/SOURCES.md msg §3.1)
TSTS_PIPES = {
    "lsm_api_service": "\\PIPE\\LSM_API_service",
    "ctx_winstation_api_service": "\\PIPE\\Ctx_WinStation_API_service",
}


class PipeAccess(enum.Enum):
    ALLOWED = "allowed"
    NOT_FOUND = "AllowRemoteRPC is 0: the WinStation RPC endpoint is not offered remotely"
    ACCESS_DENIED = "anonymous and guest callers may not use WinStation RPC"


def pipe_access(allow_remote_rpc: bool, *, is_anonymous: bool, is_guest: bool) -> PipeAccess:
    """Decision for an SMB CREATE of a TSTS pipe (truth table in tests/unit/test_msg_tsts.py)."""
    if not allow_remote_rpc:
        return PipeAccess.NOT_FOUND
    if is_anonymous or is_guest:
        return PipeAccess.ACCESS_DENIED
    return PipeAccess.ALLOWED


@dataclass(slots=True)
class MsgServerBinding:
    host: MsgHost
    allow_remote_rpc: Callable[[], bool]


def attach(server_ctx, binding: MsgServerBinding) -> None:
    """Bind a msg host and its policy source to a ServerContext."""
    server_ctx.msg = binding


def detach(server_ctx) -> None:
    server_ctx.msg = None


def binding_for_home(home_dir: Path, emit: Callable[..., None]) -> MsgServerBinding:
    """The binding ``lanman up`` attaches: sessions in ``<home>/msg``, AllowRemoteRPC from
    the home's policy."""
    return MsgServerBinding(
        MsgHost.open(home_dir / "msg", emit=emit), lambda: home_policy_allows(home_dir)
    )


def home_policy_allows(home_dir: Path) -> bool:
    """AllowRemoteRPC from the home's policy (Group Policy > local > profile default), read
    at every pipe open so a change applies without a restart."""
    from lanman.policy.effective import resolve
    from lanman.policy.layers import load_host

    try:
        return bool(resolve(load_host(home_dir), ALLOW_REMOTE_RPC).value)
    except Exception:  # noqa: BLE001 - an unreadable policy never opens the endpoint
        return False


def binding_for(server_ctx) -> MsgServerBinding | None:
    return getattr(server_ctx, "msg", None)
