"""DOS attributes and creation time kept per file in an extended attribute.

A POSIX host has no place for FILE_ATTRIBUTE_HIDDEN / SYSTEM / ARCHIVE (MS-FSCC 2.6), for the
READONLY bit of a directory, for a settable CreationTime or a settable ChangeTime (MS-FSCC
2.4.7). lanman keeps them, like Samba's ``user.DOSATTRIB``, in one extended attribute of the
object: :data:`XATTR_NAME` (distinct from the security descriptor xattr of the ACL code).

Value format, version 1 (little-endian, exactly :data:`RECORD_SIZE` = 24 bytes)::

    offset 0  u8   version (1)
    offset 1  u8   flags: 0x01 CreationTime present, 0x02 ChangeTime present
    offset 2  u16  reserved, 0
    offset 4  u32  FileAttributes (only the bits of :data:`SETTABLE_ATTRIBUTES`)
    offset 8  i64  CreationTime (FILETIME)
    offset 16 i64  ChangeTime (FILETIME)

:func:`decode` is bounded and total: any value that is not exactly this (other length,
other version, bits outside the masks, negative times) yields ``None`` and the object falls
back to what the host ``stat`` says; a corrupt value is never an error to the client.
:func:`read` / :func:`write` are the only I/O here (``os.getxattr`` / ``os.setxattr``); a host
without user xattrs simply keeps the fallback.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from dataclasses import dataclass, replace

from lanman.smb.filestat import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_HIDDEN,
    FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_SYSTEM,
)

log = logging.getLogger(__name__)

XATTR_NAME = "user.lanman.dosattrib"
VERSION = 1
_RECORD = struct.Struct("<BBHIqq")
RECORD_SIZE = _RECORD.size  # 24
#: getxattr reads at most this much (a longer value is not ours: ignored)
MAX_VALUE_SIZE = 256

_HAS_CREATION = 0x01
_HAS_CHANGE = 0x02

FILE_ATTRIBUTE_TEMPORARY = 0x00000100
FILE_ATTRIBUTE_OFFLINE = 0x00001000
FILE_ATTRIBUTE_NOT_CONTENT_INDEXED = 0x00002000

#: The attributes a client may set (MS-FSA 2.1.5.14.2; DIRECTORY and NORMAL are not stored).
SETTABLE_ATTRIBUTES = (
    FILE_ATTRIBUTE_READONLY
    | FILE_ATTRIBUTE_HIDDEN
    | FILE_ATTRIBUTE_SYSTEM
    | FILE_ATTRIBUTE_ARCHIVE
    | FILE_ATTRIBUTE_TEMPORARY
    | FILE_ATTRIBUTE_OFFLINE
    | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED
)

_MAX_I64 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class DosInfo:
    """The stored part of an object's metadata."""

    attributes: int
    creation_time: int | None = None  # FILETIME
    change_time: int | None = None  # FILETIME

    def with_attributes(self, attributes: int) -> DosInfo:
        return replace(self, attributes=attributes & SETTABLE_ATTRIBUTES)


def encode(info: DosInfo) -> bytes:
    flags = 0
    if info.creation_time is not None:
        flags |= _HAS_CREATION
    if info.change_time is not None:
        flags |= _HAS_CHANGE
    return _RECORD.pack(
        VERSION,
        flags,
        0,
        info.attributes & SETTABLE_ATTRIBUTES,
        _clamp(info.creation_time),
        _clamp(info.change_time),
    )


def _clamp(t: int | None) -> int:
    if t is None:
        return 0
    return max(0, min(t, _MAX_I64))


def decode(value: bytes | None) -> DosInfo | None:
    """The record in ``value``, or ``None`` when it is absent or not a valid version-1 record."""
    if value is None or len(value) != RECORD_SIZE:
        return None
    version, flags, reserved, attrs, ctime, chtime = _RECORD.unpack(value)
    if version != VERSION or reserved or flags & ~(_HAS_CREATION | _HAS_CHANGE):
        return None
    if attrs & ~SETTABLE_ATTRIBUTES or ctime < 0 or chtime < 0:
        return None
    return DosInfo(
        attrs,
        ctime if flags & _HAS_CREATION else None,
        chtime if flags & _HAS_CHANGE else None,
    )


def effective_attributes(
    info: DosInfo | None, *, is_directory: bool, owner_writable: bool, name: str
) -> int:
    """FileAttributes as reported (MS-FSCC 2.6).

    With a record: its bits (plus DIRECTORY for a directory; a file whose host mode has lost
    its owner write bit is READONLY too); a file with no bit at all is NORMAL. Without one
    (a file made on the host): ARCHIVE for files, READONLY from the mode. Names starting
    with a dot are HIDDEN either way, as Samba's "hide dot files".
    """
    if is_directory:
        attrs = FILE_ATTRIBUTE_DIRECTORY | (info.attributes if info is not None else 0)
    else:
        attrs = info.attributes if info is not None else FILE_ATTRIBUTE_ARCHIVE
        if not owner_writable:
            attrs |= FILE_ATTRIBUTE_READONLY
    if name.startswith(".") and name not in (".", ".."):
        attrs |= FILE_ATTRIBUTE_HIDDEN
    return attrs or FILE_ATTRIBUTE_NORMAL


def is_readonly(owner_writable: bool, info: DosInfo | None) -> bool:
    """A file is READONLY by its record or by a host mode without the owner write bit."""
    return not owner_writable or (
        info is not None and bool(info.attributes & FILE_ATTRIBUTE_READONLY)
    )


def overwrite_denied(info: DosInfo | None, desired_attributes: int) -> bool:
    """MS-FSA 2.1.5.1.2.1: overwriting a HIDDEN (SYSTEM) file must ask for HIDDEN (SYSTEM)."""
    if info is None:
        return False
    for bit in (FILE_ATTRIBUTE_HIDDEN, FILE_ATTRIBUTE_SYSTEM):
        if info.attributes & bit and not desired_attributes & bit:
            return True
    return False


def read(target: int | str) -> DosInfo | None:
    """The record of an open descriptor or a host path (not following a final symlink)."""
    try:
        if isinstance(target, int):
            value = os.getxattr(target, XATTR_NAME)
        else:
            value = os.getxattr(target, XATTR_NAME, follow_symlinks=False)
    except OSError:
        return None  # no record, no xattr support, an O_PATH descriptor: the fallback applies
    if len(value) > MAX_VALUE_SIZE:
        return None
    return decode(value)


def write(fd: int, info: DosInfo) -> bool:
    """Store ``info`` on the object behind ``fd``; False (logged) when the host refuses."""
    try:
        os.setxattr(fd, XATTR_NAME, encode(info))
        return True
    except OSError as e:
        if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM):
            log.info("cannot store DOS attributes: %s", e)
        return False


__all__ = [
    "MAX_VALUE_SIZE",
    "RECORD_SIZE",
    "SETTABLE_ATTRIBUTES",
    "XATTR_NAME",
    "DosInfo",
    "decode",
    "effective_attributes",
    "encode",
    "is_readonly",
    "overwrite_denied",
    "read",
    "write",
]
