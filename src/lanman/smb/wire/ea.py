"""Extended attributes on the wire, sans-IO: FILE_FULL_EA_INFORMATION (MS-FSCC 2.4.15) and
FILE_GET_EA_INFORMATION (MS-FSCC 2.4.15.1).

A full EA list is a chain of entries, each starting on a 4-byte boundary: NextEntryOffset
(4, 0 on the last), Flags (1, FILE_NEED_EA or 0), EaNameLength (1), EaValueLength (2), the
name in 8-bit characters with a terminating NUL that EaNameLength does not count, and the
value. A get list names EAs only: NextEntryOffset (4), EaNameLength (1), name, NUL.
Names compare without regard to case; the file system keeps them upper-cased (NTFS does).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lanman.errors.ntstatus import (
    STATUS_EA_LIST_INCONSISTENT,
    STATUS_INVALID_EA_NAME,
    NtStatusError,
)

FILE_NEED_EA = 0x80  # the only Flags value an entry may carry
_FULL = struct.Struct("<IBBH")  # NextEntryOffset, Flags, EaNameLength, EaValueLength
_GET = struct.Struct("<IB")  # NextEntryOffset, EaNameLength
#: characters an EA name may not hold (FsRtlIsEaNameValid): controls and these
_ILLEGAL = frozenset(b'"*+,/:;<=>?[\\]|') | frozenset(range(0x20))
MAX_EA_LIST = 65535  # NTFS keeps at most 64 KiB of EAs per file


@dataclass(frozen=True, slots=True)
class Ea:
    name: bytes  # upper-cased, without the NUL
    value: bytes
    flags: int = 0


def normalize_name(raw: bytes) -> bytes:
    """The stored form of an EA name (upper case); STATUS_INVALID_EA_NAME if it has an
    illegal character or is empty."""
    if not raw or any(c in _ILLEGAL for c in raw):
        raise NtStatusError(STATUS_INVALID_EA_NAME, "bad EA name")
    return raw.upper()


def _aligned(n: int) -> int:
    return (n + 3) & ~3


def decode_full_list(buf: bytes | memoryview) -> list[Ea]:
    """The entries of a FILE_FULL_EA_INFORMATION chain (SET_INFO, the ExtA create context).
    A chain that runs past the buffer, points backwards or breaks the alignment is
    STATUS_EA_LIST_INCONSISTENT; a bad name STATUS_INVALID_EA_NAME."""
    buf = bytes(buf)
    out: list[Ea] = []
    pos = 0
    while True:
        if pos + _FULL.size > len(buf):
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA entry past the buffer")
        nxt, flags, name_len, value_len = _FULL.unpack_from(buf, pos)
        start = pos + _FULL.size
        end = start + name_len + 1 + value_len
        if end > len(buf) or buf[start + name_len] != 0 or flags & ~FILE_NEED_EA:
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA entry malformed")
        name = normalize_name(buf[start : start + name_len])
        out.append(Ea(name, buf[start + name_len + 1 : end], flags))
        if not nxt:
            return out
        if nxt % 4 or pos + nxt < end:
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA entry offset")
        pos += nxt


def encode_full_list(eas: list[Ea]) -> bytes:
    """The FILE_FULL_EA_INFORMATION chain of ``eas`` (entries 4-aligned, the last unpadded)."""
    parts = []
    for i, ea in enumerate(eas):
        body = ea.name + b"\x00" + ea.value
        size = _FULL.size + len(body)
        last = i == len(eas) - 1
        nxt = 0 if last else _aligned(size)
        parts.append(_FULL.pack(nxt, ea.flags, len(ea.name), len(ea.value)) + body)
        if not last:
            parts.append(bytes(nxt - size))
    return b"".join(parts)


def entry_size(ea: Ea, *, padded: bool = True) -> int:
    """Bytes one entry takes in a chain: padded to 4, or as the last one (unpadded)."""
    n = _FULL.size + len(ea.name) + 1 + len(ea.value)
    return _aligned(n) if padded else n


def ea_size(eas: list[Ea]) -> int:
    """FileEaInformation.EaSize: what a buffer holding all of them needs (0: none)."""
    return sum(entry_size(ea) for ea in eas)


def decode_get_list(buf: bytes | memoryview) -> list[bytes]:
    """The names of a FILE_GET_EA_INFORMATION chain (QUERY_INFO's input buffer)."""
    buf = bytes(buf)
    names: list[bytes] = []
    pos = 0
    while True:
        if pos + _GET.size > len(buf):
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA name past the buffer")
        nxt, name_len = _GET.unpack_from(buf, pos)
        start = pos + _GET.size
        if start + name_len + 1 > len(buf) or buf[start + name_len] != 0:
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA name malformed")
        names.append(normalize_name(buf[start : start + name_len]))
        if not nxt:
            return names
        if nxt % 4 or nxt < _GET.size + name_len + 1:
            raise NtStatusError(STATUS_EA_LIST_INCONSISTENT, "EA name offset")
        pos += nxt


def encode_get_list(names: list[bytes]) -> bytes:
    """A FILE_GET_EA_INFORMATION chain (for clients and tests)."""
    parts = []
    for i, name in enumerate(names):
        size = _GET.size + len(name) + 1
        last = i == len(names) - 1
        nxt = 0 if last else _aligned(size)
        parts.append(_GET.pack(nxt, len(name)) + name + b"\x00" + bytes(0 if last else nxt - size))
    return b"".join(parts)
