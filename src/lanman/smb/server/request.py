"""One request and its reply inside the server core, before framing and signing.

:class:`Request` is one PDU of a received compound with what the dispatcher resolved for it
(session, signature verdict, encryption); :class:`Reply` is a response before it is framed,
signed or encrypted; :class:`PendingAsync` an operation that answered STATUS_PENDING
(MS-SMB2 3.3.4.2). The command handlers (sessions.py, files.py, fsctl.py, notify.py ...) and
the dispatcher (connection.py) share these types through this module only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from lanman.crypto.smb_signing import SigningAlgorithm
from lanman.smb.wire.header import Smb2Header

if TYPE_CHECKING:
    from .state import Session

__all__ = ["AsyncKind", "Buffers", "Disconnect", "PendingAsync", "Reply", "Request"]

Buffers = list  # list[bytes | bytearray | memoryview]


class AsyncKind(str, Enum):
    """What a pending operation waits for."""

    NOTIFY = "notify"  # a change in a watched directory (3.3.5.19)
    PIPE_READ = "pipe_read"  # data on a named pipe
    LOCK = "lock"  # a conflicting byte-range lock to go (3.3.5.14)
    CREATE = "create"  # oplock/lease breaks to be acknowledged (3.3.5.9)


class Disconnect(Exception):
    """The request requires the server to drop the transport connection."""


@dataclass(slots=True)
class Request:
    """One PDU of a received compound, with the state resolved for it."""

    header: Smb2Header
    pdu: memoryview
    session: Session | None = None
    signed_ok: bool = False  # signature present and verified
    encrypted: bool = False  # Request.IsEncrypted: arrived in a TRANSFORM_HEADER
    #: (key, algorithm) its error response is signed with instead of the channel's: a
    #: SESSION_SETUP that proved Session.SigningKey but not this Channel.SigningKey
    reply_signing: tuple | None = None
    async_id: int | None = None  # a pending CREATE run again (oplocks.OplockTable.wait)


@dataclass(slots=True)
class Reply:
    """A response before it is framed and signed."""

    request: Smb2Header
    status: int
    body: Buffers
    session: Session | None = None
    sign: bool = False
    signing_key: bytes | None = None  # overrides the session key (final SESSION_SETUP)
    signing_algorithm: SigningAlgorithm | None = None  # with signing_key (None: ours)
    async_id: int | None = None
    credits: int = 0
    after_pack: Callable[[bytes], None] | None = None
    tree_id: int | None = None
    session_id: int | None = None
    encrypted: bool = False  # the request arrived encrypted: so does its response


@dataclass(slots=True)
class PendingAsync:
    """An operation that answered STATUS_PENDING and completes later (MS-SMB2 3.3.4.2)."""

    async_id: int
    header: Smb2Header
    session: Session | None
    sign: bool
    open_id: int
    kind: AsyncKind
    max_length: int = 0
    encrypted: bool = False
    #: undoes what the operation holds while it waits (a queued lock request), called when
    #: it ends without completing: CANCEL, close of its open, the connection's end
    on_abandon: Callable[[], None] | None = None
    pdu: bytes = b""  # a waiting CREATE's request, run again when its breaks are over
    #: the requests a waiting CREATE's compound holds after it (run once it completes)
    rest: CompoundRest | None = None


@dataclass(slots=True)
class CompoundRest:
    """The requests after a CREATE that went async inside a compound (MS-SMB2 3.3.5.2.7,
    as Windows and Samba do for a CREATE that waits for oplock/lease breaks): they run,
    in order, once the CREATE has its final response, and inherit its SessionId, TreeId
    and FileId (or its failure) as related requests do."""

    pdus: list[bytes]
    session_id: int
    tree_id: int
    encrypted_sid: int | None
