"""The attributes of a file or directory as SMB2 reports them (MS-FSCC 2.4, 2.6)."""

from __future__ import annotations

from dataclasses import dataclass

# MS-FSCC 2.6 file attributes
FILE_ATTRIBUTE_READONLY = 0x00000001
FILE_ATTRIBUTE_HIDDEN = 0x00000002
FILE_ATTRIBUTE_SYSTEM = 0x00000004
FILE_ATTRIBUTE_DIRECTORY = 0x00000010
FILE_ATTRIBUTE_ARCHIVE = 0x00000020
FILE_ATTRIBUTE_NORMAL = 0x00000080
FILE_ATTRIBUTE_TEMPORARY = 0x00000100
FILE_ATTRIBUTE_SPARSE_FILE = 0x00000200


@dataclass(slots=True)
class FileStat:
    """What QUERY_INFO / QUERY_DIRECTORY / CREATE responses need to know about one object.

    Times are Windows FILETIME values (100 ns intervals since 1601-01-01 UTC).
    """

    name: str  # last path component as the client sees it ("" for a share root)
    creation_time: int
    last_access_time: int
    last_write_time: int
    change_time: int
    allocation_size: int
    end_of_file: int
    file_attributes: int
    file_id: int  # 64-bit unique id within the share (inode number)
    number_of_links: int = 1
    delete_pending: bool = False
    short_name: str = ""  # 8.3 name for the Both directory classes ("" when none)

    @property
    def is_directory(self) -> bool:
        return bool(self.file_attributes & FILE_ATTRIBUTE_DIRECTORY)


FILETIME_EPOCH_OFFSET = 116444736000000000  # 1601-01-01 to 1970-01-01 in 100 ns units


def unix_ns_to_filetime(ns: int) -> int:
    return ns // 100 + FILETIME_EPOCH_OFFSET


def filetime_to_unix_ns(ft: int) -> int:
    return (ft - FILETIME_EPOCH_OFFSET) * 100
