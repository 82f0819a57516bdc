"""Oplock and lease wire formats: the SMB2_CREATE_REQUEST_LEASE(_V2) create contexts
(MS-SMB2 2.2.13.2.8, 2.2.13.2.10, 2.2.14.2.10, 2.2.14.2.11), the break notifications
(2.2.23.1 oplock, 2.2.23.2 lease) and their acknowledgments and responses (2.2.24.1/2.2.25.1
oplock, 2.2.24.2/2.2.25.2 lease)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._buf import Buffer, fixed
from .constants import SMB2_HEADER_SIZE
from .header import WireError

#: create context name of both lease request versions and of their responses
LEASE_CONTEXT = b"RqLs"

SMB2_LEASE_NONE = 0x00
SMB2_LEASE_READ_CACHING = 0x01
SMB2_LEASE_HANDLE_CACHING = 0x02
SMB2_LEASE_WRITE_CACHING = 0x04

SMB2_LEASE_FLAG_BREAK_IN_PROGRESS = 0x02  # response LeaseFlags
SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET = 0x04  # v2 request/response LeaseFlags
SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED = 0x01

_LEASE_V1 = struct.Struct("<16sIIQ")  # 32 bytes
_LEASE_V2 = struct.Struct("<16sIIQ16sHH")  # 52 bytes
_OPLOCK_BREAK = struct.Struct("<HBBI16s")  # StructureSize 24
_LEASE_BREAK = struct.Struct("<HHI16sIIIII")  # StructureSize 44
_LEASE_ACK = struct.Struct("<HHI16sIQ")  # StructureSize 36

OPLOCK_BREAK_SIZE = 24
LEASE_BREAK_ACK_SIZE = 36


@dataclass(slots=True)
class LeaseRequest:
    """One lease create context as the client sent it (version 1 or 2)."""

    lease_key: bytes
    lease_state: int
    version: int = 1
    parent_lease_key: bytes | None = None
    epoch: int = 0

    @classmethod
    def parse(cls, data: bytes, *, allow_v2: bool) -> LeaseRequest:
        """MS-SMB2 3.3.5.9.8 / 3.3.5.9.11: a 52-byte context is version 2 on a 3.x
        connection; 32 bytes (or more, on 2.1) is version 1; anything shorter is malformed."""
        if allow_v2 and len(data) == _LEASE_V2.size:
            key, state, flags, _dur, parent, epoch, _ = _LEASE_V2.unpack(data)
            has_parent = bool(flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET)
            return cls(key, state, 2, parent if has_parent else None, epoch)
        if len(data) < _LEASE_V1.size:
            raise WireError("lease create context too short")
        key, state, _flags, _dur = _LEASE_V1.unpack_from(data)
        return cls(key, state, 1)


def pack_lease_response(
    version: int,
    lease_key: bytes,
    lease_state: int,
    *,
    breaking: bool = False,
    parent_lease_key: bytes | None = None,
    epoch: int = 0,
) -> bytes:
    """SMB2_CREATE_RESPONSE_LEASE (v1) or _V2 data."""
    flags = SMB2_LEASE_FLAG_BREAK_IN_PROGRESS if breaking else 0
    if version == 1:
        return _LEASE_V1.pack(lease_key, lease_state, flags, 0)
    if parent_lease_key is not None:
        flags |= SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET
    return _LEASE_V2.pack(
        lease_key, lease_state, flags, 0, parent_lease_key or b"\x00" * 16, epoch & 0xFFFF, 0
    )


def pack_oplock_break(level: int, file_id: bytes) -> bytes:
    """Oplock break notification (2.2.23.1) and acknowledgment response (2.2.25.1)."""
    return _OPLOCK_BREAK.pack(OPLOCK_BREAK_SIZE, level, 0, 0, file_id)


def unpack_oplock_break(pdu: Buffer) -> tuple[int, bytes]:
    """Oplock break acknowledgment (2.2.24.1): (OplockLevel, FileId)."""
    _, level, _, _, fid = fixed(pdu, _OPLOCK_BREAK, OPLOCK_BREAK_SIZE)
    return level, bytes(fid)


def break_structure_size(pdu: Buffer) -> int:
    """StructureSize of an OPLOCK_BREAK request: 24 (oplock) or 36 (lease) ack."""
    if len(pdu) < SMB2_HEADER_SIZE + 2:
        raise WireError("OPLOCK_BREAK body truncated")
    return struct.unpack_from("<H", pdu, SMB2_HEADER_SIZE)[0]


def pack_lease_break(
    lease_key: bytes,
    current_state: int,
    new_state: int,
    *,
    ack_required: bool,
    new_epoch: int = 0,
) -> bytes:
    """Lease break notification (2.2.23.2); BreakReason and the hints are 0."""
    flags = SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED if ack_required else 0
    return _LEASE_BREAK.pack(
        44, new_epoch & 0xFFFF, flags, lease_key, current_state, new_state, 0, 0, 0
    )


def unpack_lease_break_ack(pdu: Buffer) -> tuple[bytes, int]:
    """Lease break acknowledgment (2.2.24.2): (LeaseKey, LeaseState)."""
    _, _, _flags, key, state, _dur = fixed(pdu, _LEASE_ACK, LEASE_BREAK_ACK_SIZE)
    return bytes(key), state


def pack_lease_break_ack_response(lease_key: bytes, lease_state: int) -> bytes:
    """Lease break response (2.2.25.2)."""
    return _LEASE_ACK.pack(LEASE_BREAK_ACK_SIZE, 0, 0, lease_key, lease_state, 0)
