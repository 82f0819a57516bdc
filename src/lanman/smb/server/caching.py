"""What a CREATE asks to cache (an oplock level or a lease) and the two steps it takes with
the shared :class:`~.oplocks.OplockTable`: break the conflicting holders before the open
(MS-SMB2 3.3.5.9, step "oplock/lease break", before the sharing check), then grant
(3.3.5.9.8 / 3.3.5.9.11) and build the lease response context."""

from __future__ import annotations

from dataclasses import dataclass

from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import (
    FILE_DELETE_ON_CLOSE,
    FILE_READ_ATTRIBUTES,
    FILE_WRITE_ATTRIBUTES,
    MAXIMUM_ALLOWED,
    READ_CONTROL,
    SYNCHRONIZE,
    Dialect,
    GlobalCapabilities,
)
from lanman.smb.wire.create import CreateContext
from lanman.smb.wire.lease import LEASE_CONTEXT, LeaseRequest, pack_lease_response

from .fs import map_generic_access
from .oplocks import LEVEL_LEASE, LEVEL_NONE

#: an open asking for no more than these is a "stat open": it breaks no lease
STAT_OPEN_ACCESS = SYNCHRONIZE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | READ_CONTROL
#: ... and no oplock when it asks for no more than these: READ_CONTROL breaks oplocks, as
#: on Windows (smbtorture smb2.oplock.statopen1 beside smb2.lease.statopen4)
OPLOCK_STAT_OPEN_ACCESS = STAT_OPEN_ACCESS & ~READ_CONTROL
_OVERWRITING = (0, 4, 5)  # FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF


@dataclass(slots=True)
class CreateCaching:
    key: tuple | None  # the existing file's key (None: nothing there to break)
    requested: int  # RequestedOplockLevel (LEVEL_LEASE with a lease request)
    lease: LeaseRequest | None
    stat_open: bool
    overwrite: bool
    sharing_violation: bool = False  # the file's opens refuse this one's share modes
    delete_pending: bool = False  # the open fails with STATUS_DELETE_PENDING, breaking nothing
    oplock_stat_open: bool | None = None  # a stat open for oplock holders (None: stat_open)
    delete: bool = False  # FILE_DELETE_ON_CLOSE: handle caching goes too

    def must_wait(self, conn, async_id: int | None) -> bool:
        """Break what this open conflicts with; True while acknowledgments are due."""
        if self.key is None or self.delete_pending:
            return False
        lease_id = (conn.client_guid, self.lease.lease_key) if self.lease is not None else None
        return conn.ctx.oplocks.break_for_open(
            self.key,
            lease_id,
            stat_open=self.stat_open,
            overwrite=self.overwrite,
            now=conn.now,
            oplock_stat_open=self.oplock_stat_open,
            delete=self.delete,
            sharing_violation=self.sharing_violation,
        )

    def grant(self, conn, open_) -> tuple[int, CreateContext | None]:
        """(OplockLevel of the response, the lease response context or None)."""
        lease_request = (conn.client_guid, self.lease) if self.lease is not None else None
        directory = open_.kind == "dir"
        if directory and (lease_request is None or not directory_leasing(conn)):
            return LEVEL_NONE, None  # a directory holds no oplock, a lease only at 3.x
        level, lease = conn.ctx.oplocks.grant(
            open_.oplock_key,
            conn,
            open_.volatile_id,
            open_.file_id,
            self.requested,
            lease_request,
            stat_open=self.stat_open,
            directory=directory,
        )
        if lease is None:
            return level, None
        open_.lease_state = lease.lease_state  # what a durable grant looks at (3.3.5.9.6)
        return level, lease_response_context(lease)


def lease_response_context(lease) -> CreateContext:
    """The lease response create context of a lease as it is now; the lease keeps the
    version it was created with, whatever the request used."""
    data = pack_lease_response(
        lease.version,
        lease.lease_key,
        lease.lease_state,
        breaking=lease.breaking,
        parent_lease_key=lease.parent_lease_key,
        epoch=lease.epoch,
    )
    return CreateContext(LEASE_CONTEXT, data)


def directory_leasing(conn) -> bool:
    """The connection offered SMB2_GLOBAL_CAP_DIRECTORY_LEASING (3.x, the setting on)."""
    return bool(conn.server_capabilities & GlobalCapabilities.DIRECTORY_LEASING)


def requested_lease(conn, r) -> LeaseRequest | None:
    """The CREATE's lease request: only with RequestedOplockLevel LEASE, when the
    connection offered SMB2_GLOBAL_CAP_LEASING (version 2 only at 3.x)."""
    if r.requested_oplock_level != LEVEL_LEASE:
        return None
    if not conn.server_capabilities & GlobalCapabilities.LEASING:
        return None
    ctx = next((c for c in r.contexts if c.name == LEASE_CONTEXT), None)
    if ctx is None:
        return None
    return LeaseRequest.parse(ctx.data, allow_v2=conn.dialect >= Dialect.SMB_3_0)


def create_caching(conn, r, tree) -> CreateCaching:
    """Read the CREATE's oplock/lease request (leases only when the connection offered
    SMB2_GLOBAL_CAP_LEASING; version 2 only at 3.x) and find the file it would open."""
    lease = requested_lease(conn, r)
    requested = r.requested_oplock_level
    if requested == LEVEL_LEASE and lease is None:
        requested = LEVEL_NONE
    # a directory has a key where it may hold a lease: this open asks for one, or one of
    # the share's directories holds one (the open may have to break it)
    directories = lease is not None or conn.ctx.oplocks.has_directory_leases(tree.fs.root)
    file_id = tree.fs.file_key(r.name, directories=directories)
    key = (tree.fs.root, file_id) if file_id is not None else None
    if lease is not None:
        conn.ctx.oplocks.check_lease_key(conn.client_guid, lease.lease_key, key)
    access = map_generic_access(r.desired_access)
    overwrite = r.create_disposition in _OVERWRITING
    # an overwriting open changes the data whatever access it asks for: never a stat open
    stat_open = (
        not overwrite
        and not (r.desired_access & MAXIMUM_ALLOWED)
        and not access & ~STAT_OPEN_ACCESS
    )
    violation = pending = False
    if key is not None:
        granted = _granted(r.desired_access, access, tree.maximal_access)
        violation, pending = _admission(conn, key, granted, r.share_access)
    oplock_stat_open = stat_open and not access & ~OPLOCK_STAT_OPEN_ACCESS
    return CreateCaching(
        key,
        requested,
        lease,
        stat_open,
        overwrite,
        violation and not stat_open,
        pending,
        oplock_stat_open,
        bool(r.create_options & FILE_DELETE_ON_CLOSE),
    )


def _granted(desired: int, mapped: int, maximal: int) -> int:
    """The access an open would hold: ``mapped`` (GENERIC_* expanded), and the tree's
    maximal access for MAXIMUM_ALLOWED."""
    return mapped | (maximal if desired & MAXIMUM_ALLOWED else 0)


def _admission(conn, key: tuple, access: int, share: int) -> tuple[bool, bool]:
    """(sharing violation, delete pending): how the file's opens will receive this one
    (MS-FSA 2.1.5.1.2.1), asked before any break -- a delete-pending file breaks nothing
    (smbtorture smb2.oplock.doc), a refused open only handle caching. The opens are found
    through the file's oplock holders (their opendb keys)."""
    db = conn.ctx.opendb
    seen = set()
    violation = False
    for h in conn.ctx.oplocks.files.get(key, ()):
        open_ = h.conn.opens.get(h.volatile_id)
        file_key = getattr(open_, "file_key", None)
        if file_key is None or file_key in seen:
            continue
        seen.add(file_key)
        if db.is_delete_pending(file_key):
            return False, True
        try:
            db.check_share_access(file_key, access, share)
        except NtStatusError:
            violation = True
    return violation, False
