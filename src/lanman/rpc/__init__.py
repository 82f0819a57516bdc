"""DCE/RPC over SMB named pipes: PDU codec, NDR helpers, pipe endpoint, interfaces.

Typical use from the SMB server::

    pipe = open_pipe("srvsvc", CallContext(...), share_provider)   # None -> NAME_NOT_FOUND
    pipe.write(data); out = pipe.read(n); overflow = pipe.message_remaining() > 0
"""

from lanman.rpc.endpoint import (
    CallContext,
    PipeProviders,
    RpcFault,
    RpcInterface,
    RpcPipe,
    normalize_pipe_name,
    open_pipe,
)
from lanman.rpc.pdu import RpcProtocolError

__all__ = [
    "CallContext",
    "PipeProviders",
    "RpcFault",
    "RpcInterface",
    "RpcPipe",
    "RpcProtocolError",
    "normalize_pipe_name",
    "open_pipe",
]
