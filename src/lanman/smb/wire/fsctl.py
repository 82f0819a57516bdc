"""FSCTL input and output buffers (MS-SMB2 2.2.31.1-2.2.32.5, MS-FSCC 2.3).

Every parser checks the length it is given and raises :class:`WireError` (answered as
STATUS_INVALID_PARAMETER) on a short buffer; counts are bounded by the caller's limits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .header import WireError

RESUME_KEY_SIZE = 24

# MS-SMB2 2.2.31.1 SRV_COPYCHUNK_COPY: SourceKey, ChunkCount, Reserved
_COPY_HDR = struct.Struct("<24sII")
# 2.2.31.1.1 SRV_COPYCHUNK: SourceOffset, TargetOffset, Length, Reserved
_CHUNK = struct.Struct("<QQII")
# 2.2.32.1 SRV_COPYCHUNK_RESPONSE: ChunksWritten, ChunkBytesWritten, TotalBytesWritten
_COPY_RESP = struct.Struct("<III")
COPYCHUNK_RESPONSE_SIZE = _COPY_RESP.size
# MS-FSCC 2.3.67 FILE_ZERO_DATA_INFORMATION / 2.3.51 FILE_ALLOCATED_RANGE_BUFFER
_RANGE = struct.Struct("<qq")
RANGE_SIZE = _RANGE.size
# MS-FSCC 2.3.37 FILE_LEVEL_TRIM: Key, NumRanges; 2.3.37.1 FILE_LEVEL_TRIM_RANGE
_TRIM_HDR = struct.Struct("<II")
_TRIM_RANGE = struct.Struct("<QQ")
# MS-SMB2 2.2.32.5 NETWORK_INTERFACE_INFO: Next, IfIndex, Capability, Reserved, LinkSpeed,
# SockAddr_Storage (128 bytes)
_IFACE = struct.Struct("<IIIIQ128s")


@dataclass(frozen=True, slots=True)
class Chunk:
    source_offset: int
    target_offset: int
    length: int


def pack_resume_key(key: bytes) -> bytes:
    """MS-SMB2 2.2.32.3 SRV_REQUEST_RESUME_KEY response: ResumeKey, ContextLength 0 and
    four bytes of (empty) Context, 32 bytes as Windows sends."""
    return key + struct.pack("<I", 0) + b"\x00" * 4


def parse_copychunk(data: bytes | memoryview, max_chunks: int) -> tuple[bytes, list[Chunk], int]:
    """SRV_COPYCHUNK_COPY -> (SourceKey, chunks, ChunkCount). At most ``max_chunks`` chunk
    descriptors are decoded; a larger ChunkCount is returned for the caller to refuse."""
    if len(data) < _COPY_HDR.size:
        raise WireError("SRV_COPYCHUNK_COPY truncated")
    key, count, _ = _COPY_HDR.unpack_from(data)
    chunks: list[Chunk] = []
    if count > max_chunks:
        return bytes(key), chunks, count
    if len(data) < _COPY_HDR.size + count * _CHUNK.size:
        raise WireError("SRV_COPYCHUNK_COPY chunks truncated")
    for i in range(count):
        src, dst, length, _ = _CHUNK.unpack_from(data, _COPY_HDR.size + i * _CHUNK.size)
        chunks.append(Chunk(src, dst, length))
    return bytes(key), chunks, count


def pack_copychunk_response(chunks_written: int, chunk_bytes: int, total_bytes: int) -> bytes:
    return _COPY_RESP.pack(chunks_written, chunk_bytes, total_bytes)


def parse_range(data: bytes | memoryview) -> tuple[int, int]:
    """FILE_ZERO_DATA_INFORMATION (FileOffset, BeyondFinalZero) or
    FILE_ALLOCATED_RANGE_BUFFER (FileOffset, Length): two signed 64-bit values."""
    if len(data) < _RANGE.size:
        raise WireError("range buffer truncated")
    return _RANGE.unpack_from(data)


def pack_ranges(ranges: list[tuple[int, int]]) -> bytes:
    return b"".join(_RANGE.pack(off, length) for off, length in ranges)


def parse_set_sparse(data: bytes | memoryview) -> bool:
    """MS-FSCC 2.3.64 FILE_SET_SPARSE_BUFFER: no buffer means SetSparse TRUE."""
    return True if len(data) == 0 else data[0] != 0


def parse_compression(data: bytes | memoryview) -> int:
    """MS-FSCC 2.3.68 / 2.3.20: CompressionState / CompressionFormat (USHORT)."""
    if len(data) < 2:
        raise WireError("compression state truncated")
    return struct.unpack_from("<H", data)[0]


def pack_compression(fmt: int) -> bytes:
    return struct.pack("<H", fmt)


def parse_trim(data: bytes | memoryview, max_ranges: int) -> list[tuple[int, int]]:
    if len(data) < _TRIM_HDR.size:
        raise WireError("FILE_LEVEL_TRIM truncated")
    _key, count = _TRIM_HDR.unpack_from(data)
    if count > max_ranges or len(data) < _TRIM_HDR.size + count * _TRIM_RANGE.size:
        raise WireError("FILE_LEVEL_TRIM ranges")
    return [
        _TRIM_RANGE.unpack_from(data, _TRIM_HDR.size + i * _TRIM_RANGE.size) for i in range(count)
    ]


def pack_trim_output(processed: int) -> bytes:
    """MS-FSCC 2.3.38 FILE_LEVEL_TRIM_OUTPUT."""
    return struct.pack("<I", processed)


def pack_object_id(object_id: bytes, birth_volume_id: bytes) -> bytes:
    """MS-FSCC 2.1.3.1 FILE_OBJECTID_BUFFER (type 1): ObjectId, BirthVolumeId,
    BirthObjectId (= ObjectId), DomainId (zero)."""
    return object_id + birth_volume_id + object_id + b"\x00" * 16
