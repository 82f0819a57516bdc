"""SMB2.1/3 leases (MS-SMB2 3.3.1.4 LeaseTable, 3.3.1.13 Lease): the lease objects shared
by the opens of one client (ClientGuid + LeaseKey), and the pure decisions of what a
request is granted and what a conflicting open breaks a lease to.

The break/wait machinery that drives these lives in :mod:`.oplocks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanman.smb.wire.lease import (
    SMB2_LEASE_HANDLE_CACHING as H,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_NONE,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_READ_CACHING as R,
)
from lanman.smb.wire.lease import (
    SMB2_LEASE_WRITE_CACHING as W,
)

#: the states a file lease may hold (MS-SMB2 3.3.5.9.8: H or W without R is not granted)
GRANTABLE = frozenset({SMB2_LEASE_NONE, R, R | H, R | W, R | W | H})
#: leases a client may hold at once over all its files (a bound on what a peer makes us keep)
MAX_LEASES = 65536


@dataclass(slots=True, eq=False)
class Lease:
    """MS-SMB2 3.3.1.13 Lease (LeaseKey, ClientGuid, Filename via file_key, LeaseState,
    BreakToLeaseState, Breaking, LeaseOpens, Epoch, ParentLeaseKey, Version)."""

    client_guid: bytes
    lease_key: bytes
    file_key: tuple
    lease_state: int = SMB2_LEASE_NONE
    version: int = 1
    epoch: int = 0
    parent_lease_key: bytes | None = None
    breaking: bool = False
    break_to_lease_state: int = SMB2_LEASE_NONE
    #: where the break must end: opens that met the lease while it was breaking lower it,
    #: and each acknowledgment above it starts the next step (:func:`next_break_step`)
    break_to_required: int = SMB2_LEASE_NONE
    break_deadline: int = 0  # FILETIME of the Lease Break Acknowledgment Timer
    #: a directory lease (SMB 3.x, SMB2_GLOBAL_CAP_DIRECTORY_LEASING): R and H only (no
    #: write caching of a directory, MS-SMB2 3.3.1.4), gone when an entry changes
    is_directory: bool = False
    #: (connection, volatile_id) of every open under this lease (Lease.LeaseOpens)
    opens: list = field(default_factory=list)

    @property
    def conn(self) -> Any:
        """The connection break notifications go to: the oldest open's (3.3.4.7 takes
        the first open of Lease.LeaseOpens that still has a connection)."""
        return self.opens[0][0] if self.opens else None


def sanitize(requested: int) -> int:
    """What a lease request can be granted at most (3.3.5.9.8): invalid combinations
    (H, W, HW, unknown bits) get no caching."""
    requested &= R | H | W
    return requested if requested in GRANTABLE else SMB2_LEASE_NONE


def grant_state(requested: int, *, others: bool) -> int:
    """A new lease on a file: W only when no other open shares the file."""
    state = sanitize(requested)
    if others:
        state &= ~W
    return state


def upgrade_state(held: int, requested: int, *, others: bool) -> int:
    """An open under an existing lease (3.3.5.9.8 with Lease found): the state changes only
    to a valid strict superset that can coexist with the other opens; else it is kept."""
    want = sanitize(requested)
    if want & held == held and want != held and not (others and want & W):
        return want
    return held


def break_target(state: int, *, overwrite: bool, delete: bool = False) -> int:
    """What another open breaks a lease to (MS-FSA 2.1.5.1.2.1 for leases): write caching
    always goes; an overwriting open takes read and handle caching too, a delete-on-close
    open handle caching (the holder may close so the file can go: smb2.lease.unlink)."""
    if overwrite:
        return SMB2_LEASE_NONE
    return state & ~(W | H) if delete else state & ~W


def sharing_break_target(state: int) -> int:
    """MS-FSA 2.1.5.1.2.1 / 2.1.4.12: an open refused for sharing breaks handle caching
    only (the holder may close cached handles); read and write caching stay."""
    return state & ~H


def next_break_step(acked: int, required: int) -> int | None:
    """After an acknowledgment to ``acked`` while the break must go on to ``required``
    (MS-SMB2 3.3.5.22.2 with further conflicting opens): the state the next break goes to,
    or None when the break is over. Windows breaks in steps: while W or H remain, R is kept
    for one more step (RH -> R -> none; smbtorture smb2.lease.breaking3)."""
    target = required & acked
    if target == acked:
        return None
    if acked & (W | H):
        target |= R & acked
    return target


def ack_required(state: int) -> bool:
    """3.3.4.7: a break from a state with W or H needs an acknowledgment; from R it does
    not."""
    return bool(state & (W | H))


@dataclass(slots=True)
class LeaseTable:
    """MS-SMB2 3.3.1.4 GlobalLeaseTableList, flattened: (ClientGuid, LeaseKey) -> Lease."""

    leases: dict[tuple[bytes, bytes], Lease] = field(default_factory=dict)

    def get(self, client_guid: bytes, lease_key: bytes) -> Lease | None:
        return self.leases.get((client_guid, lease_key))

    def add(self, lease: Lease) -> None:
        self.leases[(lease.client_guid, lease.lease_key)] = lease

    def drop(self, lease: Lease) -> None:
        self.leases.pop((lease.client_guid, lease.lease_key), None)

    def __len__(self) -> int:
        return len(self.leases)
