"""CREATE with durable-handle contexts and create replay (MS-SMB2 3.3.5.9.6-3.3.5.9.12),
disconnect and purge of durable opens. Mixin of :class:`ServerConnection` (through
:class:`~lanman.smb.server.files.FileHandlers`); the table itself is
:mod:`lanman.smb.server.durable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire import durable as dw
from lanman.smb.wire.constants import Dialect, GlobalCapabilities, HeaderFlags
from lanman.smb.wire.create import CreateContext, CreateRequest
from lanman.smb.wire.lease import LEASE_CONTEXT, LeaseRequest

from .caching import lease_response_context, requested_lease
from .create_replay import CreateGuidOpen, PendingCreate
from .durable import V1_TIMEOUT_MS, DurableOpen, durable_allowed, granted_timeout, owner_of
from .oplocks import LEVEL_BATCH, LEVEL_LEASE, LEVEL_NONE
from .state import UNMAPPABLE

if TYPE_CHECKING:
    from .request import Reply, Request
    from .state import Open, TreeConnect

FILE_OPENED = 1  # CreateAction of a reconnect (MS-SMB2 2.2.14)


@dataclass(slots=True, frozen=True)
class DurableIntent:
    """What a CREATE asked for: a new durable open (DHnQ / DH2Q)."""

    version: int
    timeout_ms: int
    create_guid: bytes | None = None
    app_instance_id: bytes | None = None


class DurableHandlers:
    """The durable-handle part of CREATE, CLOSE and disconnect."""

    # ---- CREATE ---------------------------------------------------------------------

    def _durable_create(
        self, req: Request, r: CreateRequest, tree: TreeConnect
    ) -> Reply | DurableIntent | None:
        """Check the durable contexts of a CREATE (3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10,
        3.3.5.9.12): a reconnect or a replay is answered here (a Reply); a request for a
        durable handle comes back as a DurableIntent for :meth:`_durable_grant`."""
        if tree.is_ipc:
            return None
        by_name = {c.name: c.data for c in r.contexts if c.name in dw.DURABLE_CONTEXT_NAMES}
        if not by_name:
            return None
        v2_ok = self.dialect is not None and self.dialect >= Dialect.SMB_3_0
        if not v2_ok:  # DH2Q/DH2C are SMB 3.x contexts; older dialects ignore them
            by_name.pop(dw.DH2Q, None)
            by_name.pop(dw.DH2C, None)
        dhnq, dhnc = by_name.get(dw.DHNQ), by_name.get(dw.DHNC)
        dh2q, dh2c = by_name.get(dw.DH2Q), by_name.get(dw.DH2C)
        if (dh2q is not None or dh2c is not None) and (dhnq is not None or dhnc is not None):
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "durable v1 and v2 contexts mixed")
        if dh2q is not None and dh2c is not None:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "DH2Q together with DH2C")
        if dhnc is not None:  # 3.3.5.9.7: a DHnQ next to it is ignored
            return self._durable_reconnect(req, r, tree, dw.parse_v1_reconnect(dhnc), None)
        if dh2c is not None:
            rc = dw.parse_v2_reconnect(dh2c)
            return self._durable_reconnect(req, r, tree, rc.file_id, rc.create_guid)
        if dh2q is not None:
            q = dw.parse_v2_request(dh2q)
            reply = self._replay_lookup(req, r, tree, q.create_guid)
            if reply is not None:
                return reply
            raw = next((c.data for c in r.contexts if c.name == dw.APP_INSTANCE_ID), None)
            app = None if raw is None else dw.parse_app_instance_id(raw)
            if app is not None:
                self._close_app_instance(app, tree, r.name)
            return DurableIntent(2, granted_timeout(q.timeout), q.create_guid, app)
        if dhnq is None:
            return None
        dw.parse_v1_request(dhnq)
        return DurableIntent(1, V1_TIMEOUT_MS)

    def _replay_lookup(self, req: Request, r: CreateRequest, tree, create_guid: bytes):
        """3.3.5.9.10: what a DH2Q CreateGuid already names. A CREATE of it still waiting
        for breaks fails a replay with STATUS_FILE_NOT_AVAILABLE (create_replay.py); an open
        of it not used since is the replay's answer; without REPLAY_OPERATION a durable open
        of it is STATUS_DUPLICATE_OBJECTID. None: the CREATE goes on as a new open."""
        table = self.ctx.durable
        key = (self.client_guid, create_guid)
        replay = bool(req.header.flags & HeaderFlags.REPLAY_OPERATION)
        if replay:
            waiting = table.replays.pending_create(key, req.session.session_id, self.ctx.oplocks)
            if waiting is not None and not (
                waiting.conn is self and waiting.async_id == req.async_id
            ):
                raise NtStatusError(st.STATUS_FILE_NOT_AVAILABLE, "that CREATE is still pending")
        entry = table.replay_candidate(self.client_guid, create_guid)
        if entry is not None:
            if not replay:
                # 3.3.5.9.10: that CreateGuid names an open already
                raise NtStatusError(st.STATUS_DUPLICATE_OBJECTID, "CreateGuid in use")
            if entry.open.replay_eligible:
                return self._replay_create(
                    req, r, tree, entry.open, entry.conn, entry.create_action, entry
                )
            return None  # the open was used since: the replay is served as a new open
        if replay:
            rec = table.replays.open_of(key)
            if rec is not None and rec.open.replay_eligible:
                return self._replay_create(req, r, tree, rec.open, rec.conn, rec.create_action)
        return None

    def _note_pending_create(self, intent, req: Request, async_id: int, file_key) -> None:
        """A DH2Q CREATE went async waiting for breaks: its replays fail until it is done."""
        if isinstance(intent, DurableIntent) and intent.create_guid is not None:
            self.ctx.durable.replays.note_pending(
                (self.client_guid, intent.create_guid),
                PendingCreate(self, async_id, req.session.session_id, file_key),
            )

    def _durable_grant(
        self, intent: DurableIntent | None, open_: Open, oplock: int, req: Request, tree, action
    ) -> list[CreateContext]:
        """3.3.5.9.6 / 3.3.5.9.10: durable only with a batch oplock or a handle lease
        (:func:`durable_allowed`); the response context says so."""
        lease_state = open_.lease_state  # the lease granted with this open (caching.py)
        session = req.session
        if intent is None:
            return []
        if (
            open_.kind != "file"
            or session.is_anonymous  # no owner to hand it back to
            or session.is_guest
            or not durable_allowed(oplock, lease_state)
        ):
            if intent.create_guid is not None:  # Open.CreateGuid all the same (3.3.5.9.10)
                self.ctx.durable.replays.note_open(
                    (self.client_guid, intent.create_guid), CreateGuidOpen(open_, self, action)
                )
                open_.replay_eligible = True
            return []
        entry = DurableOpen(
            open_,
            intent.version,
            owner_of(session),
            tree.share_name,
            open_.oplock_key,
            (tree.fs.root, open_.smb_path.lower()),
            client_guid=self.client_guid,
            create_guid=intent.create_guid,
            timeout_ms=intent.timeout_ms,
            conn=self,
            home=self,
            unix_id=session.unix_id,
            create_action=action,
            app_instance_id=intent.app_instance_id,
        )
        self.ctx.durable.register(entry)
        open_.replay_eligible = intent.version == 2
        if intent.version == 1:
            return [CreateContext(dw.DHNQ, dw.pack_v1_response())]
        return [CreateContext(dw.DH2Q, dw.pack_v2_response(intent.timeout_ms, 0))]

    def _durable_reconnect(
        self, req: Request, r: CreateRequest, tree, file_id: bytes, create_guid: bytes | None
    ) -> Reply:
        """3.3.5.9.7 / 3.3.5.9.12: give a disconnected durable open to this session. Only
        the FileId (and CreateGuid) count; name, access, disposition are ignored."""
        if len(self.opens) >= self.settings.max_opens_per_connection:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES, "too many open handles")
        table = self.ctx.durable
        entry = table.find_reconnect(
            int.from_bytes(file_id[:8], "little"),
            owner=owner_of(req.session),
            share=tree.share_name,
            create_guid=create_guid,
            version=1 if create_guid is None else 2,
        )
        open_ = entry.open
        old, vid = entry.home, open_.volatile_id
        lease = self.ctx.oplocks.lease_of(open_.oplock_key, old, vid)
        self._check_reconnect_lease(r, entry, lease)
        self._adopt_open(open_, old)
        key = open_.oplock_key
        open_.session_id = req.session.session_id
        open_.tree_id = tree.tree_id
        entry.unix_id = req.session.unix_id
        table.reattach(entry, self)
        self.compound_open_id = vid
        open_.channel_sequence = req.header.status & 0xFFFF
        stat = open_.handle.stat()
        oplock = self.ctx.oplocks.level_of(key, self, vid) if key is not None else 0
        contexts = self._create_contexts(r.contexts, open_, stat, tree)
        if lease is not None:
            contexts.append(lease_response_context(lease))
        return self.ok(req, [self._create_response(oplock, FILE_OPENED, stat, open_, contexts)])

    def _adopt_open(self, open_: Open, old) -> None:
        """Move an open from connection ``old`` to this one: its share mode and
        delete-on-close (opendb.py), oplock holder or lease open, and byte-range locks,
        which are all keyed by the holding connection."""
        vid = open_.volatile_id
        if open_.file_key is not None:
            self.ctx.opendb.transfer_owner(open_.file_key, (id(old), vid), (id(self), vid))
        key = open_.oplock_key
        if key is not None:
            self.ctx.oplocks.rebind(key, old, vid, self)
            locks = self.ctx.lock_tables.get(key)
            if locks is not None:
                locks.transfer_owner((id(old), vid), (id(self), vid))
        if old.opens.get(vid) is open_:
            del old.opens[vid]
        self.opens[vid] = open_
        if open_.replay_eligible:  # a non-durable CreateGuid open follows it (replay lookup)
            self.ctx.durable.replays.rehome(open_, self)

    def _hand_over_opens(self) -> None:
        """3.3.7.1: a channel dropped, but its sessions' opens belong to the session: one
        whose session still has another live channel moves to that channel's connection
        (durable or not, nothing is detached or closed); only the last channel's loss
        ends them."""
        for open_ in list(self.opens.values()):
            session = self.sessions.get(open_.session_id)
            if session is None or open_.kind == "pipe":
                continue
            heir = next(
                (
                    ch.connection
                    for ch in session.channels.values()
                    if ch.connection is not self and not ch.connection.closed
                ),
                None,
            )
            if heir is None:
                continue
            for p in [p for p in self.pending.values() if p.open_id == open_.volatile_id]:
                self.pending.pop(p.async_id, None)  # its answer had no channel left to go on
                if p.on_abandon is not None:
                    p.on_abandon()
            heir._adopt_open(open_, self)
            entry = open_.durable
            if entry is not None and entry.conn is self:
                entry.conn = entry.home = heir

    def _check_reconnect_lease(self, r: CreateRequest, entry: DurableOpen, lease) -> None:
        """3.3.5.9.7 / 3.3.5.9.12 for an open with a lease: the reconnect must come from the
        same ClientGuid and name the same lease key (the requested state does not count),
        else STATUS_OBJECT_NAME_NOT_FOUND; then the same file name, else
        STATUS_INVALID_PARAMETER. A lease context for an open without a lease is
        OBJECT_NAME_NOT_FOUND too. Only the context counts, not RequestedOplockLevel."""
        raw = next((c.data for c in r.contexts if c.name == LEASE_CONTEXT), None)
        asked = None
        if raw is not None and self.server_capabilities & GlobalCapabilities.LEASING:
            asked = LeaseRequest.parse(raw, allow_v2=self.dialect >= Dialect.SMB_3_0)
        if lease is None:
            if asked is not None:
                raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, "open has no lease")
            return
        if (
            entry.client_guid != self.client_guid
            or asked is None
            or asked.lease_key != lease.lease_key
        ):
            raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, "not the open's lease")
        if entry.open.smb_path.lower() != r.name.strip("\\").lower():
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "reconnect names another file")

    def _replay_create(
        self,
        req: Request,
        r: CreateRequest,
        tree,
        open_: Open,
        holder_conn,
        create_action: int,
        entry: DurableOpen | None = None,
    ) -> Reply:
        """3.3.5.9.10: a replayed CREATE (REPLAY_OPERATION with a known CreateGuid) gets the
        open it created, as first answered, from any channel of the session. With an oplock
        the response echoes the level the replay asks for (DH2Q only for batch); with a lease
        it carries the lease as it is now, and a replay naming another lease, or a lease
        for an oplock open, is STATUS_ACCESS_DENIED (as Windows and Samba). The open itself
        is unchanged."""
        if (
            holder_conn is None
            or open_.session_id != req.session.session_id
            or open_.tree_id != tree.tree_id
        ):
            raise NtStatusError(st.STATUS_DUPLICATE_OBJECTID, "CreateGuid of another session")
        if open_.smb_path.lower() != r.name.strip("\\").lower():
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "replay names another file")
        lease = self.ctx.oplocks.lease_of(open_.oplock_key, holder_conn, open_.volatile_id)
        asked = requested_lease(self, r)
        if asked is not None and (lease is None or asked.lease_key != lease.lease_key):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "replay asks for another lease")
        self.compound_open_id = open_.volatile_id
        stat = open_.handle.stat()
        contexts = self._create_contexts(r.contexts, open_, stat, tree)
        if lease is not None:
            oplock = LEVEL_LEASE
            contexts.append(lease_response_context(lease))
            durable = durable_allowed(LEVEL_LEASE, lease.lease_state)
        else:
            oplock = r.requested_oplock_level if asked is None else LEVEL_NONE
            durable = oplock == LEVEL_BATCH
        if entry is not None and durable:
            contexts.append(CreateContext(dw.DH2Q, dw.pack_v2_response(entry.timeout_ms, 0)))
        body = self._create_response(oplock, create_action, stat, open_, contexts)
        return self.ok(req, [body])

    # ---- purge, disconnect ------------------------------------------------------------

    def _close_app_instance(self, app_instance_id: bytes, tree, name: str) -> None:
        """3.3.5.9.13: a durable open with an AppInstanceId closes the opens of that
        application instance made by another client, without an oplock break."""
        for entry in self.ctx.durable.same_app_instance(
            app_instance_id,
            share=tree.share_name,
            path_key=(tree.fs.root, name.strip("\\").lower()),
            client_guid=self.client_guid,
        ):
            close_detached(self.ctx, entry)

    def _purge_disconnected(self, *, path_key=None, file_key=None) -> None:
        """A new open of a file closes its disconnected durable opens first (their oplock
        cannot be broken: 3.3.4.6), so the new open sees the file as they left it."""
        for entry in self.ctx.durable.take_conflicting(path_key=path_key, file_key=file_key):
            close_detached(self.ctx, entry)

    def _keep_durable(self, open_: Open) -> bool:
        """On disconnect (3.3.7.1) or LOGOFF: a durable open is kept, detached from its
        session; True if it was."""
        entry = open_.durable
        if entry is None or entry.conn is not self:
            return False
        self.opens.pop(open_.volatile_id, None)
        for p in [p for p in self.pending.values() if p.open_id == open_.volatile_id]:
            self.pending.pop(p.async_id, None)
        for doomed in self.ctx.durable.disconnect(entry, self.now):
            close_detached(self.ctx, doomed)
        return True


def close_detached(ctx, entry: DurableOpen) -> None:
    """Close a disconnected durable open (purged or expired) on the connection it last
    lived on, as its owner's Unix user (a pending delete-on-close runs as them)."""
    ident = entry.unix_id
    if ident is not None and ident != UNMAPPABLE and ctx.fs_identity is not None:
        with ctx.fs_identity.as_user(ident):
            entry.home._close_open(entry.open)
    else:
        entry.home._close_open(entry.open)


def scavenge(ctx, now: int) -> int:
    """The durable open scavenger (3.3.2.1): close the disconnected opens whose timeout ran
    out; returns how many. The service layer calls it with the clock."""
    expired = ctx.durable.expired(now)
    for entry in expired:
        close_detached(ctx, entry)
    return len(expired)
