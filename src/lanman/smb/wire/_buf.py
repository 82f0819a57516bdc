"""Bounded reads from a PDU buffer: every offset/length from the wire is checked here."""

from __future__ import annotations

import struct

from .constants import SMB2_HEADER_SIZE
from .header import WireError

Buffer = bytes | bytearray | memoryview


def fixed(pdu: Buffer, st: struct.Struct, structure_size: int) -> tuple:
    """Unpack the fixed part of a body at offset 64 and check its StructureSize (MS-SMB2 2.2)."""
    if len(pdu) < SMB2_HEADER_SIZE + st.size:
        raise WireError("message body truncated")
    values = st.unpack_from(pdu, SMB2_HEADER_SIZE)
    if values[0] != structure_size:
        raise WireError(f"StructureSize {values[0]} != {structure_size}")
    return values


def region(
    pdu: Buffer, offset: int, length: int, *, minimum_offset: int = SMB2_HEADER_SIZE
) -> memoryview:
    """The ``length`` bytes at ``offset`` (from the header start), bounds-checked."""
    if length == 0:
        return memoryview(b"")
    if offset < minimum_offset or offset + length > len(pdu):
        raise WireError("buffer offset/length out of bounds")
    return memoryview(pdu)[offset : offset + length]


def utf16(data: Buffer) -> str:
    if len(data) % 2:
        raise WireError("odd UTF-16 length")
    try:
        return bytes(data).decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise WireError("invalid UTF-16 name") from exc


def pad8(n: int) -> int:
    return (8 - n % 8) % 8
