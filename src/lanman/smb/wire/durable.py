"""Durable-handle create contexts (MS-SMB2 2.2.13.2.3-2.2.13.2.4, 2.2.13.2.11-2.2.13.2.12,
2.2.14.2.3-2.2.14.2.4, 2.2.14.2.12).

Each context's Data is fixed-size; a Data of the wrong length is a malformed request
(:class:`WireError`, answered STATUS_INVALID_PARAMETER).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .header import WireError

DHNQ = b"DHnQ"  # SMB2_CREATE_DURABLE_HANDLE_REQUEST / _RESPONSE
DHNC = b"DHnC"  # SMB2_CREATE_DURABLE_HANDLE_RECONNECT
DH2Q = b"DH2Q"  # SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 / _RESPONSE_V2
DH2C = b"DH2C"  # SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2
DURABLE_CONTEXT_NAMES = frozenset({DHNQ, DHNC, DH2Q, DH2C})
#: SMB2_CREATE_APP_INSTANCE_ID (2.2.13.2.13): the name is a GUID
APP_INSTANCE_ID = bytes.fromhex("45bca66aefa7f74a9008fa462e144d74")

#: Flags of the v2 request/response/reconnect (2.2.13.2.11)
SMB2_DHANDLE_FLAG_PERSISTENT = 0x00000002

_V2_REQ = struct.Struct("<II8s16s")  # Timeout, Flags, Reserved, CreateGuid
_V2_RECONNECT = struct.Struct("<16s16sI")  # FileId, CreateGuid, Flags
_V2_RESP = struct.Struct("<II")  # Timeout, Flags


@dataclass(slots=True, frozen=True)
class DurableV2Request:
    """2.2.13.2.11 SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2."""

    timeout: int  # milliseconds; 0: the server chooses
    flags: int
    create_guid: bytes

    def pack(self) -> bytes:
        return _V2_REQ.pack(self.timeout, self.flags, b"\x00" * 8, self.create_guid)


@dataclass(slots=True, frozen=True)
class DurableV2Reconnect:
    """2.2.13.2.12 SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2."""

    file_id: bytes
    create_guid: bytes
    flags: int

    def pack(self) -> bytes:
        return _V2_RECONNECT.pack(self.file_id, self.create_guid, self.flags)


def _exact(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise WireError(f"{what} create context: {len(data)} bytes, expected {size}")


def parse_v1_request(data: bytes) -> None:
    """2.2.13.2.3: 16 reserved bytes (their content is ignored)."""
    _exact(data, 16, "DHnQ")


def parse_v1_reconnect(data: bytes) -> bytes:
    """2.2.13.2.4: the FileId of the open to reconnect."""
    _exact(data, 16, "DHnC")
    return bytes(data)


def parse_v2_request(data: bytes) -> DurableV2Request:
    _exact(data, _V2_REQ.size, "DH2Q")
    timeout, flags, _, guid = _V2_REQ.unpack(data)
    return DurableV2Request(timeout, flags, guid)


def parse_v2_reconnect(data: bytes) -> DurableV2Reconnect:
    _exact(data, _V2_RECONNECT.size, "DH2C")
    fid, guid, flags = _V2_RECONNECT.unpack(data)
    return DurableV2Reconnect(fid, guid, flags)


_APP_INSTANCE = struct.Struct("<HH16s")  # StructureSize (20), Reserved, AppInstanceId


def parse_app_instance_id(data: bytes) -> bytes:
    """2.2.13.2.13: the AppInstanceId GUID."""
    _exact(data, _APP_INSTANCE.size, "AppInstanceId")
    size, _, guid = _APP_INSTANCE.unpack(data)
    if size != 20:
        raise WireError("AppInstanceId StructureSize is not 20")
    return guid


def pack_app_instance_id(guid: bytes) -> bytes:
    return _APP_INSTANCE.pack(20, 0, guid)


def pack_v1_request() -> bytes:
    return b"\x00" * 16


def pack_v1_reconnect(file_id: bytes) -> bytes:
    if len(file_id) != 16:
        raise ValueError("FileId is 16 bytes")
    return bytes(file_id)


def pack_v1_response() -> bytes:
    """2.2.14.2.3: 8 reserved bytes."""
    return b"\x00" * 8


def pack_v2_response(timeout: int, flags: int) -> bytes:
    """2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2."""
    return _V2_RESP.pack(timeout, flags)


def parse_v2_response(data: bytes) -> tuple[int, int]:
    _exact(data, _V2_RESP.size, "DH2Q response")
    return _V2_RESP.unpack(data)
