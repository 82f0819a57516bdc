"""Oplocks and leases shared by every connection of one server, and the CREATEs that wait
for their breaks (MS-SMB2 3.3.1.10 Open.OplockLevel/OplockState, 3.3.4.6 oplock break,
3.3.4.7 lease break, 3.3.5.9 step "oplock/lease", 3.3.5.22 acknowledgments, 3.3.6.2/3.3.6.5
the acknowledgment timers).

A CREATE that conflicts with an exclusive/batch oplock or with a lease holding W or H makes
the holder break (notification sent at once) and then waits: the connection answers
STATUS_PENDING and registers itself here with the AsyncId; the acknowledgment, the holder's
close or the break timer (:meth:`OplockTable.tick`, driven by the service layer's clock)
resumes it (``conn.resume_create(async_id)``), and the CREATE runs again. Nothing blocks a
thread. Level II oplocks and read-only leases break on writes without an acknowledgment.

The narrow interface a CREATE uses -- :meth:`check_lease_key`, :meth:`break_for_open`,
:meth:`wait`, :meth:`grant`, :meth:`release` -- is keyed by the file key alone, so it can
hang off an open-file database later. The CREATE asks the open-file database first
(caching.py): an open refused for sharing breaks handle caching only (batch oplocks, H of
leases) and a delete-pending file nothing; otherwise the breaks run, then the sharing
check. A lease met by further conflicting opens while it breaks goes on in steps after
each acknowledgment (:func:`~.leases.next_break_step`, MS-SMB2 3.3.5.22.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.lease import (
    SMB2_LEASE_HANDLE_CACHING as HANDLE,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_NONE,
    pack_oplock_break,
    unpack_oplock_break,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_READ_CACHING as R_ONLY,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_WRITE_CACHING as WRITE,
)

from .leases import (
    MAX_LEASES,
    Lease,
    LeaseTable,
    ack_required,
    break_target,
    grant_state,
    next_break_step,
    sharing_break_target,
    upgrade_state,
)

__all__ = ["OplockTable", "pack_oplock_break", "unpack_oplock_break"]

LEVEL_NONE = 0x00
LEVEL_II = 0x01
LEVEL_EXCLUSIVE = 0x08
LEVEL_BATCH = 0x09
LEVEL_LEASE = 0xFF

#: Windows' oplock/lease break acknowledgment timeout (35 s), in FILETIME units
DEFAULT_BREAK_TIMEOUT = 35 * 10_000_000
#: how long a change the server made hides the host's report of it (FILETIME units)
OWN_CHANGE_WINDOW = 2 * 10_000_000
MAX_OWN_CHANGES = 4096


@dataclass(slots=True, eq=False)
class Holder:
    """One open's caching of a file: an oplock level, or LEVEL_LEASE with its Lease."""

    conn: Any  # ServerConnection
    volatile_id: int
    file_id: bytes
    level: int
    breaking_to: int | None = None  # Open.OplockState == Breaking
    break_deadline: int = 0
    lease: Lease | None = None
    stat_open: bool = False  # neither breaks nor keeps others from caching


@dataclass(slots=True)
class OplockTable:
    files: dict[tuple, list[Holder]] = field(default_factory=dict)
    leases: LeaseTable = field(default_factory=LeaseTable)
    #: file key -> [(connection, AsyncId)] of CREATEs waiting for that file's breaks
    waiters: dict[tuple, list[tuple[Any, int]]] = field(default_factory=dict)
    break_timeout: int = DEFAULT_BREAK_TIMEOUT
    #: ClientGuid -> the connections of that client that were granted leases, oldest
    #: first: lease breaks go to the oldest one still up (as Windows and Samba do,
    #: smbtorture smb2.lease.v2_complex1); one entry per connection, dropped on disconnect
    lease_clients: dict[bytes, list[Any]] = field(default_factory=dict)
    #: share root -> live directory leases there: a change of a directory entry looks
    #: for its parent's leases only where there are some (dirleases.py)
    directory_leases: dict[str, int] = field(default_factory=dict)
    #: (host directory, casefolded entry name) -> FILETIME of the server's last change of
    #: that entry in a share with directory leases: the host's report of the same change
    #: (inotify) breaks nothing more (see :meth:`external_change`)
    own_changes: dict[tuple[str, str], int] = field(default_factory=dict)
    #: called with a directory's key when its last lease ends (the host watch goes)
    directory_lease_ended: Any = None
    clock: int = 0  # the latest time seen (FILETIME): resumed CREATEs run at this time

    # ---- CREATE ------------------------------------------------------------------------

    def check_lease_key(self, client_guid: bytes, lease_key: bytes, key: tuple | None) -> None:
        """3.3.5.9.8: a lease key in use for another file fails the CREATE."""
        lease = self.leases.get(client_guid, lease_key)
        if lease is not None and lease.opens and lease.file_key != key:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "lease key used for another file")

    def break_for_open(
        self,
        key: tuple,
        lease_id: tuple[bytes, bytes] | None,
        *,
        stat_open: bool,
        overwrite: bool,
        now: int,
        sharing_violation: bool = False,
        oplock_stat_open: bool | None = None,
        delete: bool = False,
    ) -> bool:
        """Break what a new open of ``key`` conflicts with; True: the CREATE must wait
        for acknowledgments. Opens under the requester's own lease never break it.
        ``sharing_violation``: the open's share modes collide with the file's opens, so
        it breaks only what could let it in (:meth:`_break_for_sharing`).
        ``oplock_stat_open``: whether it is a stat open for the oplock holders too (None:
        as ``stat_open``); a stat open for leases only breaks the oplocks alone.
        ``delete``: a delete-on-close open, which breaks handle caching too."""
        self.clock = max(self.clock, now)
        if oplock_stat_open is None:
            oplock_stat_open = stat_open
        if stat_open and oplock_stat_open:
            return False
        if sharing_violation:
            return self._break_for_sharing(key, lease_id, overwrite=overwrite, now=now)
        wait = False
        seen: set[int] = set()
        for h in list(self.files.get(key, ())):
            lease = h.lease
            if lease is not None:
                if stat_open or id(lease) in seen:
                    continue
                if lease_id == (lease.client_guid, lease.lease_key):
                    continue
                seen.add(id(lease))
                # only losing write caching holds the open up (dirty data to flush); a
                # handle-caching break is acknowledged later while the open goes on
                target = break_target(lease.lease_state, overwrite=overwrite, delete=delete)
                if lease.breaking:
                    # no second notification: the break goes on to this open's target
                    # once the one in flight is acknowledged (3.3.5.22.2)
                    lease.break_to_required &= target
                    wait = wait or bool(lease.lease_state & WRITE)
                    continue
                if target != lease.lease_state:
                    had_write = bool(lease.lease_state & WRITE)
                    self._break_lease(lease, target, now)
                    wait = wait or (lease.breaking and had_write)
            elif h.breaking_to is not None:
                wait = True
            elif h.level in (LEVEL_EXCLUSIVE, LEVEL_BATCH):
                self._break_oplock(h, LEVEL_NONE if overwrite else LEVEL_II, now)
                wait = True
            elif h.level == LEVEL_II and overwrite:
                self._break_level_ii(h)
        return wait

    def _break_for_sharing(
        self, key: tuple, lease_id: tuple[bytes, bytes] | None, *, overwrite: bool, now: int
    ) -> bool:
        """MS-FSA 2.1.5.1.2.1: an open refused for sharing breaks the handle caching of
        leases and batch oplocks (their holders may close and let it in) and waits for
        that; exclusive and level II oplocks are left alone. The CREATE then runs again
        and fails with STATUS_SHARING_VIOLATION if the holders kept their opens."""
        wait = False
        seen: set[int] = set()
        for h in list(self.files.get(key, ())):
            lease = h.lease
            if lease is not None:
                if id(lease) in seen or lease_id == (lease.client_guid, lease.lease_key):
                    continue
                seen.add(id(lease))
                if not lease.lease_state & HANDLE:
                    continue
                target = sharing_break_target(lease.lease_state)
                if lease.breaking:
                    lease.break_to_required &= target
                else:
                    self._break_lease(lease, target, now)
                wait = wait or lease.breaking
            elif h.breaking_to is not None:
                wait = True
            elif h.level == LEVEL_BATCH:
                self._break_oplock(h, LEVEL_NONE if overwrite else LEVEL_II, now)
                wait = True
        return wait

    def wait(self, key: tuple, conn, async_id: int) -> None:
        """Park a CREATE until ``key`` has no break in flight."""
        self.waiters.setdefault(key, []).append((conn, async_id))

    def grant(
        self,
        key: tuple,
        conn,
        volatile_id: int,
        file_id: bytes,
        requested: int,
        lease_request: tuple[bytes, Any] | None = None,
        *,
        stat_open: bool = False,
        directory: bool = False,
    ) -> tuple[int, Lease | None]:
        """The oplock level (or LEVEL_LEASE and the Lease) of a new open of ``key``;
        ``lease_request`` is (ClientGuid, wire LeaseRequest) when the client asked for one.
        ``directory``: a directory open, which holds a lease of R and H at most and never
        an oplock."""
        holders = self.files.setdefault(key, [])
        in_flight = self._breaking(key)  # a CREATE that did not wait caches nothing new
        if lease_request is not None:
            client_guid, req = lease_request
            lease = self.leases.get(client_guid, req.lease_key)
            # other leases count even on stat opens: they hold their caching state
            others = any(
                h.lease is not lease and (h.lease is not None or not h.stat_open) for h in holders
            )
            # next to an oplock (level II after its break) a lease caches reads only
            cap = R_ONLY if any(h.lease is None and h.level != LEVEL_NONE for h in holders) else ~0
            if in_flight:
                cap = SMB2_LEASE_NONE
            if directory:
                cap &= ~WRITE
            if lease is None:
                if len(self.leases) >= MAX_LEASES:
                    raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES, "too many leases")
                lease = Lease(
                    client_guid,
                    req.lease_key,
                    key,
                    grant_state(req.lease_state, others=others) & cap,
                    version=req.version,
                    epoch=req.epoch + 1 if req.version == 2 else 0,
                    parent_lease_key=req.parent_lease_key,
                    is_directory=directory,
                )
                self.leases.add(lease)
                if directory:
                    root = key[0]
                    self.directory_leases[root] = self.directory_leases.get(root, 0) + 1
            elif not lease.breaking:
                new = upgrade_state(lease.lease_state, req.lease_state & cap, others=others)
                if new != lease.lease_state:
                    lease.lease_state = new
                    if lease.version == 2:
                        lease.epoch += 1
            lease.opens.append((conn, volatile_id))
            conns = self.lease_clients.setdefault(client_guid, [])
            if conn not in conns:
                conns.append(conn)
            holders.append(
                Holder(conn, volatile_id, file_id, LEVEL_LEASE, lease=lease, stat_open=stat_open)
            )
            return LEVEL_LEASE, lease
        # a stat open counts once it caches something (it may hold the first oplock)
        others = any(not h.stat_open or h.level != LEVEL_NONE for h in holders)
        if any(h.lease is not None and h.lease.lease_state & HANDLE for h in holders):
            requested = LEVEL_NONE  # a handle-caching lease leaves no room for an oplock
        if in_flight or (stat_open and holders):
            requested = LEVEL_NONE  # a stat open caches only when it is the file's only open
        if requested in (LEVEL_EXCLUSIVE, LEVEL_BATCH):
            granted = requested if not others else LEVEL_II
        elif requested == LEVEL_II:
            granted = LEVEL_II
        else:
            granted = LEVEL_NONE
        holders.append(Holder(conn, volatile_id, file_id, granted, stat_open=stat_open))
        return granted, None

    # ---- closes and disconnects ---------------------------------------------------------

    def release(self, key: tuple, conn, volatile_id: int) -> None:
        """The open closed: its oplock or lease open goes, and waiters may go on."""
        holders = self.files.get(key)
        if not holders:
            return
        for h in [h for h in holders if h.conn is conn and h.volatile_id == volatile_id]:
            holders.remove(h)
            self._forget_lease_open(h)
        if not holders:
            del self.files[key]
        self._resume(key)

    def release_connection(self, conn, keep: frozenset = frozenset()) -> None:
        """Drop the connection's holders and waiting CREATEs, except the holders of the
        opens in ``keep`` (volatile ids of durable opens that outlive the connection)."""
        for guid, conns in list(self.lease_clients.items()):
            if conn in conns:
                conns.remove(conn)
                if not conns:
                    del self.lease_clients[guid]
        for key, waiting in list(self.waiters.items()):
            waiting[:] = [w for w in waiting if w[0] is not conn]
            if not waiting:
                del self.waiters[key]
        for key in list(self.files):
            holders = self.files[key]
            for h in [h for h in holders if h.conn is conn and h.volatile_id not in keep]:
                holders.remove(h)
                self._forget_lease_open(h)
            if not holders:
                del self.files[key]
            self._resume(key)

    def level_of(self, key: tuple, conn, volatile_id: int) -> int:
        for h in self.files.get(key, ()):
            if h.conn is conn and h.volatile_id == volatile_id:
                return h.level
        return LEVEL_NONE

    def lease_of(self, key: tuple | None, conn, volatile_id: int) -> Lease | None:
        """The lease an open holds (None: an oplock, or no caching)."""
        for h in self.files.get(key, ()) if key is not None else ():
            if h.conn is conn and h.volatile_id == volatile_id:
                return h.lease
        return None

    def rebind(self, key: tuple, old_conn, volatile_id: int, new_conn) -> None:
        """A durable open was reconnected on ``new_conn`` (MS-SMB2 3.3.5.9.7): its oplock
        or lease moves with it, unbroken."""
        for h in self.files.get(key, ()):
            if h.conn is old_conn and h.volatile_id == volatile_id:
                h.conn = new_conn
                lease = h.lease
                if lease is not None:
                    lease.opens = [
                        (new_conn, v) if (c is old_conn and v == volatile_id) else (c, v)
                        for c, v in lease.opens
                    ]

    def _forget_lease_open(self, h: Holder) -> None:
        lease = h.lease
        if lease is None:
            return
        lease.opens = [o for o in lease.opens if not (o[0] is h.conn and o[1] == h.volatile_id)]
        if not lease.opens:  # the lease ends with its last open (3.3.4.17)
            self.leases.drop(lease)
            if lease.is_directory:
                root = lease.file_key[0]
                left = self.directory_leases.get(root, 1) - 1
                if left > 0:
                    self.directory_leases[root] = left
                else:
                    self.directory_leases.pop(root, None)
                if self.directory_lease_ended is not None and not self._leased(lease.file_key):
                    self.directory_lease_ended(lease.file_key)

    def _leased(self, key: tuple) -> bool:
        return any(h.lease is not None for h in self.files.get(key, ()))

    # ---- directory leases ------------------------------------------------------------------

    def has_directory_leases(self, root: str) -> bool:
        """Whether a directory of the share at ``root`` holds a lease."""
        return root in self.directory_leases

    def note_own_change(self, host_dir: str, name: str, now: int) -> None:
        """The server changed entry ``name`` of ``host_dir`` (bounded: old notes go)."""
        if len(self.own_changes) >= MAX_OWN_CHANGES:
            cutoff = now - OWN_CHANGE_WINDOW
            self.own_changes = {k: t for k, t in self.own_changes.items() if t >= cutoff}
            if len(self.own_changes) >= MAX_OWN_CHANGES:
                self.own_changes.clear()
        self.own_changes[(host_dir, name.casefold())] = now

    def external_change(self, key: tuple, host_dir: str, name: str, now: int) -> None:
        """The host reported a change of entry ``name`` of the leased directory ``key``
        at ``host_dir``: its leases break unless the server itself changed that entry in
        the last OWN_CHANGE_WINDOW (its own change broke, or spared, them already)."""
        seen = self.own_changes.get((host_dir, name.casefold()))
        if seen is not None and now - seen <= OWN_CHANGE_WINDOW:
            return
        self.break_parent(key, None, now)

    def break_parent(
        self, key: tuple, except_lease: tuple[bytes, bytes] | None, now: int = 0
    ) -> None:
        """An entry of the directory ``key`` was added, removed, renamed or changed
        (MS-SMB2 3.3.1.4, READ caching on a directory): its leases go to none, except the
        one the change was made under (the open's ParentLeaseKey, MS-FSA 2.1.4.12.2 with
        PARENT_OBJECT). The operation never waits for the acknowledgments."""
        self.clock = max(self.clock, now)
        seen: set[int] = set()
        for h in list(self.files.get(key, ())):
            lease = h.lease
            if lease is None or id(lease) in seen:
                continue
            seen.add(id(lease))
            if except_lease == (lease.client_guid, lease.lease_key):
                continue
            if lease.breaking:
                lease.break_to_required = SMB2_LEASE_NONE  # the next step goes all the way
            elif lease.lease_state:
                self._break_lease(lease, SMB2_LEASE_NONE, now)

    # ---- writes --------------------------------------------------------------------------

    def on_write(self, key: tuple, conn, volatile_id: int, now: int = 0) -> None:
        """A write, a size change or a byte-range lock (MS-FSA 2.1.5.7) breaks read
        caching: every level II oplock to none, the writer's own included (as Windows does),
        and the other leases to none (3.3.4.7; acknowledged when they held H); the
        writer's own lease keeps its state (smbtorture smb2.lease.lock1)."""
        holders = self.files.get(key, ())
        own = next(
            (h.lease for h in holders if h.conn is conn and h.volatile_id == volatile_id), None
        )
        seen: set[int] = set()
        for h in list(holders):
            lease = h.lease
            if lease is not None:
                if lease is own or id(lease) in seen or lease.breaking:
                    continue
                seen.add(id(lease))
                if lease.lease_state:
                    self._break_lease(lease, SMB2_LEASE_NONE, now)
            elif h.level == LEVEL_II:
                self._break_level_ii(h)

    def break_handles(self, key: tuple, conn, volatile_id: int, now: int = 0) -> None:
        """The open renamed its file (MS-FSA 2.1.5.15.11) or made it delete-pending
        (2.1.5.15.3): the other leases lose handle caching -- their cached handles name the
        old path, or keep the file from going (smbtorture smb2.lease.v2_rename, unlink).
        The operation does not wait for the acknowledgments."""
        holders = self.files.get(key, ())
        own = next(
            (h.lease for h in holders if h.conn is conn and h.volatile_id == volatile_id), None
        )
        seen: set[int] = set()
        for h in list(holders):
            lease = h.lease
            if lease is None or lease is own or id(lease) in seen or lease.breaking:
                continue
            seen.add(id(lease))
            if lease.lease_state & HANDLE:
                self._break_lease(lease, sharing_break_target(lease.lease_state), now)

    # ---- acknowledgments and the timer ---------------------------------------------------

    def acknowledge(self, key: tuple, conn, volatile_id: int, level: int) -> int:
        """MS-SMB2 3.3.5.22.1: the client accepts an oplock break; returns the new level."""
        for h in self.files.get(key, ()):
            if h.conn is conn and h.volatile_id == volatile_id and h.lease is None:
                if h.breaking_to is None:
                    raise NtStatusError(st.STATUS_INVALID_OPLOCK_PROTOCOL)
                to = h.breaking_to
                if level not in (LEVEL_NONE, LEVEL_II) or level > to:
                    # acknowledging a level above the break: the oplock is lost
                    h.level, h.breaking_to = LEVEL_NONE, None
                    self._resume(key)
                    raise NtStatusError(st.STATUS_INVALID_OPLOCK_PROTOCOL)
                h.level, h.breaking_to = level, None
                self._resume(key)
                return level
        raise NtStatusError(st.STATUS_INVALID_OPLOCK_PROTOCOL)

    def acknowledge_lease(
        self, client_guid: bytes, lease_key: bytes, state: int, now: int | None = None
    ) -> Lease:
        """MS-SMB2 3.3.5.22.2: the client accepts a lease break; when opens met the lease
        while it was breaking, the next step of the break goes out at once."""
        if now is not None:
            self.clock = max(self.clock, now)
        lease = self.leases.get(client_guid, lease_key)
        if lease is None:
            raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, "no such lease")
        if not lease.breaking:
            raise NtStatusError(st.STATUS_UNSUCCESSFUL, "lease not breaking")
        if state & ~lease.break_to_lease_state:
            raise NtStatusError(st.STATUS_REQUEST_NOT_ACCEPTED, "ack above the break")
        lease.lease_state, lease.breaking = state, False
        step = next_break_step(state, lease.break_to_required)
        if step is not None:
            # opens met the lease while it was breaking: the next step, same epoch
            self._break_lease(lease, step, self.clock, next_step=True)
        self._resume(lease.file_key)
        return lease

    def next_deadline(self) -> int | None:
        """When :meth:`tick` has work next (FILETIME), None when no break is in flight."""
        out = None
        for holders in self.files.values():
            for h in holders:
                d = None
                if h.lease is not None and h.lease.breaking:
                    d = h.lease.break_deadline
                elif h.breaking_to is not None:
                    d = h.break_deadline
                if d is not None and (out is None or d < out):
                    out = d
        return out

    def tick(self, now: int) -> None:
        """3.3.6.2 / 3.3.6.5: an unacknowledged break expires; the holder is taken to the
        state it was breaking to and the waiting CREATEs go on."""
        self.clock = max(self.clock, now)
        expired = []
        for key, holders in list(self.files.items()):
            hit = False
            for h in holders:
                lease = h.lease
                if lease is not None:
                    if lease.breaking and lease.break_deadline <= now:
                        # 3.3.6.5: an unacknowledged lease loses all its caching
                        lease.lease_state, lease.breaking = SMB2_LEASE_NONE, False
                        hit = True
                elif h.breaking_to is not None and h.break_deadline <= now:
                    h.level, h.breaking_to = h.breaking_to, None
                    hit = True
            if hit:
                expired.append(key)
        for key in expired:
            self._resume(key)

    def is_breaking(self, key: tuple) -> bool:
        """True while a break of ``key``'s oplocks or leases waits for its acknowledgment."""
        return self._breaking(key)

    # ---- internals -----------------------------------------------------------------------

    def _breaking(self, key: tuple) -> bool:
        return any(
            (h.lease.breaking if h.lease is not None else h.breaking_to is not None)
            for h in self.files.get(key, ())
        )

    def _resume(self, key: tuple) -> None:
        if key not in self.waiters or self._breaking(key):
            return
        for conn, async_id in self.waiters.pop(key):
            conn.resume_create(async_id)

    def _break_oplock(self, h: Holder, to_level: int, now: int) -> None:
        h.breaking_to = to_level
        h.break_deadline = now + self.break_timeout
        h.conn.send_oplock_break(h.file_id, to_level)

    @staticmethod
    def _break_level_ii(h: Holder) -> None:
        """Level II to none: notified, never acknowledged (3.3.4.6)."""
        h.level, h.breaking_to = LEVEL_NONE, None
        h.conn.send_oplock_break(h.file_id, LEVEL_NONE)

    def _break_conn(self, lease: Lease):
        """3.3.4.7: the connection a lease break goes to -- the client's oldest live
        connection, else the one of the lease's oldest open."""
        for conn in self.lease_clients.get(lease.client_guid, ()):
            if not getattr(conn, "closed", False):
                return conn
        return lease.conn

    def _break_lease(self, lease: Lease, target: int, now: int, *, next_step: bool = False) -> None:
        """Notify a break of ``lease`` to ``target`` (3.3.4.7); the epoch moves when a break
        starts, not on the further steps of one (:func:`~.leases.next_break_step`)."""
        current = lease.lease_state
        need_ack = ack_required(current)
        if lease.version == 2 and not next_step:
            lease.epoch += 1
        if not next_step:
            lease.break_to_required = target
        conn = self._break_conn(lease)
        if need_ack:
            lease.breaking, lease.break_to_lease_state = True, target
            lease.break_deadline = now + self.break_timeout
        else:
            lease.lease_state = target
        if conn is not None:
            conn.send_lease_break(lease, current, target, need_ack)
