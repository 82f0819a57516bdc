"""lanman's SMB2/3 client (the Workstation service): sans-IO core, socket transport, API.

* :mod:`.connection` — :class:`ClientConnection`, the sans-IO protocol core.
* :mod:`.transport` — blocking Direct-TCP transport with timeouts.
* :mod:`.api` — :class:`SmbClient` (connect, tree_connect, listdir, get, put, mkdir, rmdir,
  remove, rename, stat, connection_info).
"""

from lanman.smb.client.api import ClientSettings, ConnectionInfo, SmbClient, resolve_policy
from lanman.smb.client.connection import (
    ALL_DIALECTS,
    ClientConnection,
    Incoming,
    Outgoing,
    dialect_label,
    parse_dialect,
)
from lanman.smb.client.errors import SmbClientError, SmbProtocolError
from lanman.smb.client.fsinfo import RemoteEntry
from lanman.smb.client.transport import SocketTransport

__all__ = [
    "ALL_DIALECTS",
    "ClientConnection",
    "ClientSettings",
    "ConnectionInfo",
    "Incoming",
    "Outgoing",
    "RemoteEntry",
    "SmbClient",
    "SmbClientError",
    "SmbProtocolError",
    "SocketTransport",
    "dialect_label",
    "parse_dialect",
    "resolve_policy",
]
