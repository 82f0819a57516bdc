"""The server's durable opens (MS-SMB2 3.3.1.10 Open.IsDurable / DurableOpenTimeout /
DurableOwner / CreateGuid, 3.3.1.1 GlobalOpenTable) and the create-replay lookup.

One :class:`DurableTable` per server, shared by every connection. It records, for each
durable open, who owns it and on which connection it lives; when the connection goes away
the open stays in the table, disconnected, until it is reconnected (3.3.5.9.7, 3.3.5.9.12),
purged by a conflicting open (3.3.4.6/3.3.5.9: a disconnected holder cannot answer a
break), or its timeout runs out (3.3.2.1 durable open scavenger timer; the service layer
calls :meth:`DurableTable.expired` with the clock). The table never touches the file
system: it hands the :class:`~lanman.smb.server.state.Open` objects back and the connection
closes them.

Sans-IO: times are FILETIME values (100 ns) passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError

from .create_replay import ReplayTable
from .oplocks import LEVEL_BATCH, LEVEL_LEASE

#: 3.3.5.9.10: a DH2Q Timeout of 0 lets the server choose (Windows Server 2012: 60 s);
#: lanman keeps a disconnected open at most 300 s (as Samba).
DEFAULT_TIMEOUT_MS = 60_000
MAX_TIMEOUT_MS = 300_000
#: v1 handles have no Timeout field; they get the default.
V1_TIMEOUT_MS = DEFAULT_TIMEOUT_MS
#: disconnected opens the server keeps at most (oldest purged first): a client cannot make
#: the server hold file descriptors forever by dropping connections.
MAX_DISCONNECTED = 1024
#: ... and per owner, so one account cannot push everybody else's out
MAX_DISCONNECTED_PER_OWNER = 256

_FILETIME_PER_MS = 10_000
_NO_GUID = b"\x00" * 16


LEASE_HANDLE_CACHING = 0x02  # SMB2_LEASE_HANDLE_CACHING


def durable_allowed(oplock_level: int, lease_state: int = 0) -> bool:
    """3.3.5.9.6 / 3.3.5.9.10: a (non-persistent) durable handle needs a batch oplock or
    a lease with handle caching."""
    if oplock_level == LEVEL_BATCH:
        return True
    return oplock_level == LEVEL_LEASE and bool(lease_state & LEASE_HANDLE_CACHING)


def granted_timeout(requested_ms: int) -> int:
    """Open.DurableOpenTimeout for a DH2Q Timeout (3.3.5.9.10)."""
    if requested_ms == 0:
        return DEFAULT_TIMEOUT_MS
    return min(requested_ms, MAX_TIMEOUT_MS)


@dataclass(slots=True)
class DurableOpen:
    """The durable state of one Open."""

    open: Any  # state.Open
    version: int  # 1 (DHnQ) or 2 (DH2Q)
    owner: tuple[str, str]  # Open.DurableOwner: (domain, user), case-folded
    share: str  # the tree's share name: a reconnect must come in on the same share
    file_key: tuple | None  # the oplock table's key of the file
    path_key: tuple  # (share root, case-folded path): conflicting opens find it
    client_guid: bytes = b""  # Open.ClientGuid
    create_guid: bytes | None = None  # Open.CreateGuid (v2)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    conn: Any = None  # the ServerConnection it lives on; None while disconnected
    #: the connection it last lived on (kept while disconnected: its byte-range lock and
    #: oplock entries are keyed by it, and it closes the open when purged)
    home: Any = None
    disconnected_at: int | None = None  # FILETIME of the disconnect
    unix_id: Any = None  # the session's Unix identity (closing a purged open runs as it)
    create_action: int = 2  # what the CREATE answered (a replay answers the same)
    app_instance_id: bytes | None = None  # Open.AppInstanceId (3.3.5.9.13)

    @property
    def persistent_id(self) -> int:
        return self.open.volatile_id

    def expires_at(self) -> int | None:
        if self.disconnected_at is None:
            return None
        return self.disconnected_at + self.timeout_ms * _FILETIME_PER_MS


@dataclass(slots=True)
class DurableTable:
    """GlobalOpenTable restricted to what durability needs, keyed by FileId.Persistent."""

    by_id: dict[int, DurableOpen] = field(default_factory=dict)
    #: (ClientGuid, CreateGuid) -> entry: the replay lookup of 3.3.5.9.10
    by_create_guid: dict[tuple[bytes, bytes], DurableOpen] = field(default_factory=dict)
    #: the disconnected ones (at most ``max_disconnected``): what purges and the scavenger
    #: walk, so a CREATE never scans the opens of live connections
    detached: dict[int, DurableOpen] = field(default_factory=dict)
    max_disconnected: int = MAX_DISCONNECTED
    max_disconnected_per_owner: int = MAX_DISCONNECTED_PER_OWNER
    #: pending CREATEs and non-durable opens by CreateGuid (create_replay.py)
    replays: ReplayTable = field(default_factory=ReplayTable)

    # ---- bookkeeping ----------------------------------------------------------------

    def register(self, entry: DurableOpen) -> None:
        self.by_id[entry.persistent_id] = entry
        if entry.create_guid is not None:
            self.by_create_guid[(entry.client_guid, entry.create_guid)] = entry
        entry.open.durable = entry

    def forget(self, open_) -> None:
        """The open is closed: it is no longer durable (3.3.4.17 / CLOSE)."""
        entry = self.by_id.pop(open_.volatile_id, None)
        if entry is None:
            return
        self.detached.pop(entry.persistent_id, None)
        if entry.create_guid is not None:
            key = (entry.client_guid, entry.create_guid)
            if self.by_create_guid.get(key) is entry:
                del self.by_create_guid[key]
        open_.durable = None

    def replay_candidate(self, client_guid: bytes, create_guid: bytes) -> DurableOpen | None:
        return self.by_create_guid.get((client_guid, create_guid))

    # ---- disconnect / reconnect -------------------------------------------------------

    def disconnect(self, entry: DurableOpen, now: int) -> list[DurableOpen]:
        """3.3.7.1: the connection is gone but the durable open stays. Returns entries to
        close because the owner's or the server's cap is exceeded (oldest first)."""
        entry.conn = None
        entry.disconnected_at = now
        self.detached[entry.persistent_id] = entry
        doomed = self._over_cap(
            [e for e in self.detached.values() if e.owner == entry.owner],
            self.max_disconnected_per_owner,
        )
        doomed += self._over_cap(list(self.detached.values()), self.max_disconnected)
        return doomed

    def _over_cap(self, waiting: list[DurableOpen], cap: int) -> list[DurableOpen]:
        excess = len(waiting) - cap
        if excess <= 0:
            return []
        waiting.sort(key=lambda e: e.disconnected_at or 0)
        doomed = waiting[:excess]
        for e in doomed:
            self.forget(e.open)
        return doomed

    def disconnected(self) -> list[DurableOpen]:
        return list(self.detached.values())

    def find_reconnect(
        self,
        persistent_id: int,
        *,
        owner: tuple[str, str],
        share: str,
        create_guid: bytes | None = None,
        version: int,
    ) -> DurableOpen:
        """The disconnected open a DHnC/DH2C names (3.3.5.9.7, 3.3.5.9.12), or the
        NtStatusError the reconnect fails with."""
        entry = self.by_id.get(persistent_id)
        if (
            entry is None
            or entry.conn is not None  # still open on a live connection
            or entry.share.lower() != share.lower()
            # a v1 open's Open.CreateGuid is empty: a DH2C naming the zero GUID matches it
            or (version == 2 and (entry.create_guid or _NO_GUID) != create_guid)
        ):
            raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, "no such durable open")
        if entry.owner != owner:
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "durable open owned by another user")
        return entry

    def reattach(self, entry: DurableOpen, conn) -> None:
        entry.conn = entry.home = conn
        entry.disconnected_at = None
        self.detached.pop(entry.persistent_id, None)

    # ---- purges -----------------------------------------------------------------------

    def take_conflicting(self, *, path_key: tuple | None = None, file_key: tuple | None = None):
        """The disconnected opens of a file another open now wants: their holders cannot
        answer an oplock break, so they lose their durability and get closed (3.3.4.6)."""
        out = []
        if not self.detached:
            return out
        for e in self.disconnected():
            if (path_key is not None and e.path_key == path_key) or (
                file_key is not None and e.file_key == file_key
            ):
                self.forget(e.open)
                out.append(e)
        return out

    def same_app_instance(
        self, app_instance_id: bytes, *, share: str, path_key: tuple, client_guid: bytes
    ) -> list[DurableOpen]:
        """3.3.5.9.13: the opens a new open of the same application instance replaces:
        same AppInstanceId, file and share, another client (failover to a new node)."""
        return [
            e
            for e in self.by_id.values()
            if e.app_instance_id == app_instance_id
            and e.share.lower() == share.lower()
            and e.path_key == path_key
            and e.client_guid != client_guid
        ]

    def expired(self, now: int) -> list[DurableOpen]:
        """3.3.2.1: disconnected opens whose DurableOpenTimeout ran out (removed)."""
        out = [e for e in self.disconnected() if (e.expires_at() or 0) <= now]
        for e in out:
            self.forget(e.open)
        return out


def owner_of(session) -> tuple[str, str]:
    """Open.DurableOwner: the session's user (3.3.5.9.6)."""
    return (session.domain.lower(), session.user.lower())
