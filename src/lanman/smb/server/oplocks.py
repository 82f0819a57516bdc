"""Oplocks shared by every connection of one server (MS-SMB2 3.3.1.10 Open.OplockLevel,
3.3.4.6 oplock break notification, 3.3.5.22.1 acknowledgment).

lanman grants batch/exclusive oplocks to the only open of a file and level II to
concurrent opens. A conflicting open breaks the holder (notification sent at once); the new
open does not wait for the acknowledgment but gets no oplock itself while the break is in
flight. Writes by one open break the level II oplocks of the others to none. Leases are
not granted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError

LEVEL_NONE = 0x00
LEVEL_II = 0x01
LEVEL_EXCLUSIVE = 0x08
LEVEL_BATCH = 0x09
LEVEL_LEASE = 0xFF

_BREAK = struct.Struct("<HBBI16s")  # MS-SMB2 2.2.23.1 / 2.2.24.1 / 2.2.25.1


@dataclass(slots=True)
class Holder:
    conn: Any  # ServerConnection
    volatile_id: int
    file_id: bytes
    level: int
    breaking_to: int | None = None


@dataclass(slots=True)
class OplockTable:
    files: dict[tuple, list[Holder]] = field(default_factory=dict)

    def grant(
        self, key: tuple, conn, volatile_id: int, file_id: bytes, requested: int, *, overwrite: bool
    ) -> int:
        """Decide the oplock of a new open, breaking conflicting holders first."""
        others = self.files.setdefault(key, [])
        in_flight = False
        for h in others:
            if h.level in (LEVEL_EXCLUSIVE, LEVEL_BATCH) and h.breaking_to is None:
                self._break(h, LEVEL_NONE if overwrite else LEVEL_II)
                in_flight = True
            elif h.breaking_to is not None:
                in_flight = True
            elif h.level == LEVEL_II and overwrite:
                self._break(h, LEVEL_NONE)
        if requested in (LEVEL_EXCLUSIVE, LEVEL_BATCH):
            granted = requested if not others else LEVEL_II
        elif requested == LEVEL_II:
            granted = LEVEL_II
        else:
            granted = LEVEL_NONE
        if in_flight:
            granted = LEVEL_NONE
        others.append(Holder(conn, volatile_id, file_id, granted))
        return granted

    def release(self, key: tuple, conn, volatile_id: int) -> None:
        holders = self.files.get(key)
        if not holders:
            return
        holders[:] = [h for h in holders if not (h.conn is conn and h.volatile_id == volatile_id)]
        if not holders:
            del self.files[key]

    def release_connection(self, conn, keep: frozenset = frozenset()) -> None:
        """Drop the connection's holders, except those of the opens in ``keep`` (volatile
        ids of durable opens that outlive the connection)."""
        for key in list(self.files):
            self.files[key] = [
                h for h in self.files[key] if h.conn is not conn or h.volatile_id in keep
            ]
            if not self.files[key]:
                del self.files[key]

    def level_of(self, key: tuple, conn, volatile_id: int) -> int:
        for h in self.files.get(key, ()):
            if h.conn is conn and h.volatile_id == volatile_id:
                return h.level
        return LEVEL_NONE

    def rebind(self, key: tuple, old_conn, volatile_id: int, new_conn) -> None:
        """A durable open was reconnected on ``new_conn`` (MS-SMB2 3.3.5.9.7): its oplock
        moves with it, unbroken."""
        for h in self.files.get(key, ()):
            if h.conn is old_conn and h.volatile_id == volatile_id:
                h.conn = new_conn

    def on_write(self, key: tuple, conn, volatile_id: int) -> None:
        """A write breaks every other open's level II oplock to none (no ack needed)."""
        for h in self.files.get(key, ()):
            if h.level == LEVEL_II and not (h.conn is conn and h.volatile_id == volatile_id):
                self._break(h, LEVEL_NONE)
                h.level, h.breaking_to = LEVEL_NONE, None

    def acknowledge(self, key: tuple, conn, volatile_id: int, level: int) -> int:
        """MS-SMB2 3.3.5.22.1: the client accepts the break; returns the new level."""
        for h in self.files.get(key, ()):
            if h.conn is conn and h.volatile_id == volatile_id:
                if h.breaking_to is None:
                    raise NtStatusError(st.STATUS_INVALID_OPLOCK_PROTOCOL)
                if level not in (LEVEL_NONE, LEVEL_II) or level > h.breaking_to:
                    level = h.breaking_to
                h.level, h.breaking_to = level, None
                return level
        raise NtStatusError(st.STATUS_FILE_CLOSED)

    @staticmethod
    def _break(h: Holder, to_level: int) -> None:
        h.breaking_to = to_level
        h.conn.send_oplock_break(h.file_id, to_level)


def pack_oplock_break(level: int, file_id: bytes) -> bytes:
    return _BREAK.pack(24, level, 0, 0, file_id)


def unpack_oplock_break(pdu) -> tuple[int, bytes]:
    from lanman.smb.wire._buf import fixed

    _, level, _, _, fid = fixed(pdu, _BREAK, 24)
    return level, bytes(fid)
