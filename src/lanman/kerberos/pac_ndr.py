"""Bounded NDR readers shared by the PAC identity buffers (MS-PAC 2.5, 2.11-2.13).

A PAC buffer of this kind is an NDR type serialization version 1 (MS-RPCE 2.2.6) of one
top-level ``[unique]`` pointer; its pointees are read in the order :class:`~lanman.rpc.ndr.
NdrWriter` writes them (C706 14.3.12.3).  Every count is checked against the bytes left before
anything is allocated; every failure is a :class:`PacFormatError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from lanman.directory.sid import MAX_SUB_AUTHORITIES, SidError, sid_from_bytes
from lanman.kerberos.pac import PacError
from lanman.rpc.ndr import NdrError, NdrReader

__all__ = [
    "PacFormatError",
    "SidAttr",
    "conformance",
    "decoding",
    "fits",
    "open_type_serialization",
    "read_group_array",
    "read_rpc_sid",
    "read_sid_and_attributes_array",
    "read_ustr_body",
    "read_ustr_header",
]


class PacFormatError(PacError):
    """A PAC buffer whose NDR does not decode: header, bounds, counts or referents."""


class SidAttr(NamedTuple):
    """A SID with its SE_GROUP_* attributes (KERB_SID_AND_ATTRIBUTES, MS-PAC 2.2.1)."""

    sid: str
    attributes: int


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turn reader and SID errors raised inside into :class:`PacFormatError`."""
    try:
        yield
    except (NdrError, SidError) as exc:
        raise PacFormatError(f"{what}: {exc}") from exc


def open_type_serialization(data: bytes, what: str) -> NdrReader:
    """Check the MS-RPCE 2.2.6 common and private headers; a reader over the object buffer."""
    if len(data) < 16:
        raise PacFormatError(f"{what}: shorter than the type serialization headers")
    version, endian, head_len, _filler, length = struct.unpack_from("<BBHII", data)
    if version != 1 or endian != 0x10 or head_len != 8:
        raise PacFormatError(f"{what}: not a little-endian type serialization version 1")
    if length > len(data) - 16:
        raise PacFormatError(f"{what}: ObjectBufferLength {length} runs past the buffer")
    return NdrReader(memoryview(data)[16 : 16 + length])


def fits(r: NdrReader, count: int, size: int, what: str) -> None:
    """Raise unless ``count`` elements of ``size`` bytes can still be in the data."""
    if count * size > r.remaining:
        raise PacFormatError(f"{what}: count {count} exceeds the data")


def conformance(r: NdrReader, count: int, size: int, what: str) -> None:
    """The MaxCount of a ``[size_is(count)]`` array must equal ``count`` and fit."""
    max_count = r.u32()
    if max_count != count:
        raise PacFormatError(f"{what}: array size {max_count} is not the count {count}")
    fits(r, count, size, what)


def read_rpc_sid(r: NdrReader) -> str:
    """RPC_SID pointee (MS-DTYP 2.4.2.3): conformance = SubAuthorityCount, then the SID."""
    count = r.u32()
    if count > MAX_SUB_AUTHORITIES:
        raise PacFormatError(f"SID with {count} sub-authorities")
    raw = r.raw(8 + 4 * count)
    if raw[1] != count:
        raise PacFormatError("SID conformance differs from its SubAuthorityCount")
    return sid_from_bytes(raw)


def read_group_array(r: NdrReader, count: int, what: str) -> list[tuple[int, int]]:
    """``GROUP_MEMBERSHIP[count]`` pointee (MS-PAC 2.2.2): [(RelativeId, Attributes)]."""
    conformance(r, count, 8, what)
    return [(r.u32(), r.u32()) for _ in range(count)]


def read_sid_and_attributes_array(r: NdrReader, count: int, what: str) -> list[SidAttr]:
    """``KERB_SID_AND_ATTRIBUTES[count]`` pointee (MS-PAC 2.2.1): the (Sid pointer,
    Attributes) pairs, then the SIDs they point to (a NULL Sid is an error)."""
    conformance(r, count, 8, what)
    heads = [(r.u32(), r.u32()) for _ in range(count)]
    if any(ref == 0 for ref, _ in heads):
        raise PacFormatError(f"{what}: NULL SID")
    return [SidAttr(read_rpc_sid(r), attrs) for _ref, attrs in heads]


def read_ustr_header(r: NdrReader) -> tuple[int, int]:
    """RPC_UNICODE_STRING (MS-DTYP 2.3.10) in place: (Length in bytes, Buffer referent)."""
    length = r.u16()
    r.u16()  # MaximumLength
    return length, r.u32()


def read_ustr_body(r: NdrReader, length: int) -> str:
    """The deferred Buffer: MaxCount, Offset 0, ActualCount = Length / 2, then the units."""
    max_count, offset, actual = r.u32(), r.u32(), r.u32()
    if offset != 0 or actual > max_count or actual * 2 != length:
        raise PacFormatError("RPC_UNICODE_STRING counts do not match its Length")
    fits(r, actual, 2, "RPC_UNICODE_STRING")
    return r.raw(actual * 2).decode("utf-16-le", "surrogatepass")
