"""Client-side MS-FSCC codecs: directory entries in, rename/disposition info out."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lanman.smb.wire.header import WireError

__all__ = ["RemoteEntry", "filetime_to_datetime", "pack_rename_info", "parse_directory_information"]

FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_DIRECTORY_INFORMATION = 1
FILE_RENAME_INFORMATION = 10
_DIR = struct.Struct("<IIqqqqqqII")  # MS-FSCC 2.4.10 FileDirectoryInformation
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime_to_datetime(ft: int) -> datetime | None:
    if ft <= 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=ft // 10)
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    """A directory entry or the result of ``stat``."""

    name: str
    size: int
    attributes: int
    creation_time: int = 0
    last_access_time: int = 0
    last_write_time: int = 0
    change_time: int = 0
    allocation_size: int = 0

    @property
    def is_dir(self) -> bool:
        return bool(self.attributes & FILE_ATTRIBUTE_DIRECTORY)

    @property
    def mtime(self) -> datetime | None:
        return filetime_to_datetime(self.last_write_time)

    def as_dict(self) -> dict[str, object]:
        m = self.mtime
        return {
            "name": self.name,
            "size": self.size,
            "is_dir": self.is_dir,
            "attributes": self.attributes,
            "last_write_time": m.isoformat() if m else None,
        }


def parse_directory_information(buf: bytes | memoryview, limit: int = 100000) -> list[RemoteEntry]:
    """A QUERY_DIRECTORY output buffer of FileDirectoryInformation entries (bounded)."""
    out: list[RemoteEntry] = []
    pos = 0
    n = len(buf)
    for _ in range(limit):
        if pos + _DIR.size > n:
            raise WireError("directory entry truncated")
        (nxt, _idx, ct, at, wt, cht, eof, alloc, attrs, nlen) = _DIR.unpack_from(buf, pos)
        start = pos + _DIR.size
        if nlen % 2 or start + nlen > n:
            raise WireError("directory entry name out of bounds")
        name = bytes(buf[start : start + nlen]).decode("utf-16-le", "replace")
        out.append(RemoteEntry(name, eof, attrs, ct, at, wt, cht, alloc))
        if nxt == 0:
            return out
        if nxt < _DIR.size or nxt % 8:
            raise WireError("directory NextEntryOffset invalid")
        pos += nxt
    raise WireError("too many directory entries")


def pack_rename_info(new_name: str, replace_if_exists: bool = False) -> bytes:
    """MS-FSCC 2.4.37 FILE_RENAME_INFORMATION_TYPE_2 (the SMB2 form, RootDirectory 0)."""
    name = new_name.encode("utf-16-le")
    return struct.pack("<B7xQI", 1 if replace_if_exists else 0, 0, len(name)) + name
