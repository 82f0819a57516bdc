"""Create replay beyond the durable table (MS-SMB2 3.3.5.9.10, SMB 3.x): a replayed CREATE
(SMB2_FLAGS_REPLAY_OPERATION with the DH2Q CreateGuid of an earlier CREATE) must not open
the file a second time.

Two things the durable table alone does not know:

* the CREATEs of a CreateGuid still waiting for oplock/lease breaks: a replay of one fails
  at once with STATUS_FILE_NOT_AVAILABLE rather than queueing a second open behind the same
  breaks (Samba's answer, bug 14449; Windows answers ACCESS_DENIED or SHARING_VIOLATION).
  The marker outlives the connection that sent the CREATE while the breaks it waited for
  are still in flight (the client replays it over another channel of the session);
* the opens a DH2Q CREATE made without being granted durability (no batch oplock or
  handle lease): Open.CreateGuid is still set, and a replay returns that open.

Entries are validated when looked up (the connection still has the pending request, the
open is still open on its connection) and both maps are capped, so nothing has to be
told when a CREATE completes or an open closes. Sans-IO: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: markers and non-durable CreateGuid records kept at most (each map; the stalest go first)
MAX_ENTRIES = 4096


@dataclass(slots=True)
class PendingCreate:
    """A CREATE with a CreateGuid that went async waiting for breaks (3.3.5.9 / 3.3.4.2)."""

    conn: Any  # the ServerConnection it was received on
    async_id: int
    session_id: int
    file_key: tuple  # the oplock table's key of the file whose breaks it waits for


@dataclass(slots=True)
class CreateGuidOpen:
    """Open.CreateGuid of an open that is not durable (3.3.5.9.10 sets it all the same)."""

    open: Any  # state.Open
    conn: Any  # the ServerConnection holding it
    create_action: int  # what the CREATE answered (a replay answers the same)


@dataclass(slots=True)
class ReplayTable:
    """(ClientGuid, CreateGuid) -> pending CREATE / non-durable open."""

    pending: dict[tuple[bytes, bytes], PendingCreate] = field(default_factory=dict)
    opens: dict[tuple[bytes, bytes], CreateGuidOpen] = field(default_factory=dict)
    max_entries: int = MAX_ENTRIES

    def note_pending(self, key: tuple[bytes, bytes], marker: PendingCreate) -> None:
        self.pending.pop(key, None)
        self.pending[key] = marker
        _cap(self.pending, self.max_entries)

    def pending_create(
        self, key: tuple[bytes, bytes], session_id: int, oplocks
    ) -> PendingCreate | None:
        """The CREATE of this CreateGuid still waiting for breaks, if any, for a request of
        ``session_id``. One whose connection is gone counts while ``oplocks`` still has the
        file's breaks in flight; a stale marker is dropped."""
        m = self.pending.get(key)
        if m is None:
            return None
        if m.conn.closed:
            alive = oplocks.is_breaking(m.file_key)
        else:
            p = m.conn.pending.get(m.async_id)
            alive = p is not None and p.kind == "create"
        if not alive:
            del self.pending[key]
            return None
        return m if m.session_id == session_id else None

    def note_open(self, key: tuple[bytes, bytes], rec: CreateGuidOpen) -> None:
        self.opens.pop(key, None)
        self.opens[key] = rec
        _cap(self.opens, self.max_entries)

    def open_of(self, key: tuple[bytes, bytes]) -> CreateGuidOpen | None:
        """The non-durable open of this CreateGuid while it is still open."""
        rec = self.opens.get(key)
        if rec is None:
            return None
        if rec.conn.closed or rec.conn.opens.get(rec.open.volatile_id) is not rec.open:
            del self.opens[key]
            return None
        return rec

    def rehome(self, open_, conn) -> None:
        """The open moved to connection ``conn`` (a reconnect or a channel hand-over)."""
        for rec in self.opens.values():
            if rec.open is open_:
                rec.conn = conn


def _cap(d: dict, cap: int) -> None:
    while len(d) > cap:
        del d[next(iter(d))]
