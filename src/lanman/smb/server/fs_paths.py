"""Path rules for directory-backed shares: name validation and errno mapping (wildcards: wildcards.py).

Pure functions, no I/O; :mod:`lanman.smb.server.fs` uses them on every CREATE.

Name rules (MS-FSCC 2.1.5 "Pathname", 2.1.5.2 "Filename", MS-SMB2 2.2.13 "Buffer"), as lanman
applies them to a share path (backslash separated, relative to the share root):

- one leading ``\\`` and one trailing ``\\`` are tolerated and stripped; any other empty
  component (``a\\\\b``, ``\\\\?\\...``) is ``STATUS_OBJECT_NAME_INVALID``;
- ``.`` and ``..`` components are always refused with ``STATUS_OBJECT_NAME_INVALID``, also
  where Windows would normalise them (``a\\..\\b``): a share path never climbs; one that
  would climb above the share root (``..\\x``) is ``STATUS_OBJECT_PATH_SYNTAX_BAD``, as on
  Windows;
- characters below 0x20, ``" * / : < > ? \\ |`` (so wildcards, ADS ``:stream`` suffixes and
  drive letters) are ``STATUS_OBJECT_NAME_INVALID``; so are lone UTF-16 surrogates;
- a component may end in ``.`` or space, as a Windows server's NTFS takes such names from
  SMB clients (macOS and Linux send them; Win32 strips them, so Windows clients never do):
  ``a.`` and ``a`` are two files, there as here (smbtorture smb2.mangle generates them);
- ``/`` is an invalid name character, never a separator here; a CREATE turns it into
  ``\\`` before it gets here (files.py), a rename target does not;
- reserved DOS device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9, CONIN$, CONOUT$, with or
  without an extension, any case) are ``STATUS_OBJECT_NAME_INVALID``;
- a component longer than 255 UTF-16 code units or 255 bytes of UTF-8 (the host NAME_MAX), or a
  path longer than 32767 code units, is ``STATUS_OBJECT_NAME_INVALID``.
"""

from __future__ import annotations

import errno
import re

from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_CANNOT_DELETE,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_DISK_FULL,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_SAME_DEVICE,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    STATUS_QUOTA_EXCEEDED,
    STATUS_SHARING_VIOLATION,
    STATUS_UNEXPECTED_IO_ERROR,
    NtStatusError,
)

MAX_COMPONENT_CHARS = 255  # MS-FSCC 2.1.5.2 (NTFS limit), also the host's NAME_MAX in bytes
MAX_PATH_CHARS = 32767  # MS-FSCC 2.1.5: 32,767 UTF-16 code units

_INVALID_CHARS = frozenset('"*/:<>?\\|') | frozenset(chr(c) for c in range(0x20))
#: the first character that is invalid or an unpaired surrogate (one scan in C per name)
_BAD_CHAR = re.compile(
    "[" + "".join(sorted(re.escape(c) for c in _INVALID_CHARS)) + "\ud800-\udfff]"
)
_RESERVED_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


def _bad(detail: str) -> NtStatusError:
    return NtStatusError(STATUS_OBJECT_NAME_INVALID, detail)


def component_error(name: str) -> str | None:
    """Why ``name`` is not acceptable as one path component (``None`` if it is)."""
    if not name:
        return "empty path component"
    if name in (".", ".."):
        return f"{name!r} component"
    if len(name) > MAX_COMPONENT_CHARS:
        return "component longer than 255 characters"
    bad = _BAD_CHAR.search(name)
    if bad is not None:
        ch = bad.group()
        if ch in _INVALID_CHARS:
            return f"invalid character U+{ord(ch):04X}"
        return "unpaired surrogate"
    base = name.split(".", 1)[0].rstrip(" ").upper()
    if base in _RESERVED_DEVICE_NAMES:
        return f"reserved device name {base}"
    if len(name.encode("utf-8")) > MAX_COMPONENT_CHARS:
        return "component longer than 255 bytes on the host"
    return None


def is_valid_component(name: str) -> bool:
    """True when a host directory entry may be shown to and opened by SMB clients."""
    return component_error(name) is None


def split_smb_path(smb_path: str) -> list[str]:
    """Validate a share-relative SMB path and return its components ([] for the root).

    Raises ``NtStatusError(STATUS_OBJECT_NAME_INVALID)`` per the module rules.
    """
    if not isinstance(smb_path, str):
        raise _bad("path is not text")
    if len(smb_path) > MAX_PATH_CHARS:
        raise _bad("path longer than 32767 characters")
    path = smb_path.removeprefix("\\").removesuffix("\\")
    if not path:
        if smb_path in ("", "\\"):
            return []
        raise _bad("empty path component")
    parts = path.split("\\")
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            # climbing above the share root: Windows' answer (smbtorture smb2.mkdir)
            raise NtStatusError(STATUS_OBJECT_PATH_SYNTAX_BAD, "the path leaves the share")
    for part in parts:
        why = component_error(part)
        if why is not None:
            raise _bad(why)
    return parts


# errno -> NTSTATUS (MS-ERREF 2.3.1 names; the mapping is lanman's, close to Samba's).
_ERRNO_MAP: dict[int, int] = {
    errno.ENOENT: STATUS_OBJECT_NAME_NOT_FOUND,
    errno.EEXIST: STATUS_OBJECT_NAME_COLLISION,
    errno.EACCES: STATUS_ACCESS_DENIED,
    errno.EPERM: STATUS_ACCESS_DENIED,
    errno.EROFS: STATUS_ACCESS_DENIED,
    errno.ELOOP: STATUS_ACCESS_DENIED,  # a symlink met where O_NOFOLLOW refused it
    errno.ENOTEMPTY: STATUS_DIRECTORY_NOT_EMPTY,
    errno.ENOTDIR: STATUS_OBJECT_PATH_NOT_FOUND,
    errno.EISDIR: STATUS_FILE_IS_A_DIRECTORY,
    errno.ENOSPC: STATUS_DISK_FULL,
    errno.EFBIG: STATUS_DISK_FULL,
    errno.EDQUOT: STATUS_QUOTA_EXCEEDED,
    errno.ENAMETOOLONG: STATUS_OBJECT_NAME_INVALID,
    errno.EILSEQ: STATUS_OBJECT_NAME_INVALID,
    errno.EINVAL: STATUS_INVALID_PARAMETER,
    errno.EBUSY: STATUS_SHARING_VIOLATION,
    errno.ETXTBSY: STATUS_SHARING_VIOLATION,
    errno.EXDEV: STATUS_NOT_SAME_DEVICE,
    errno.EMFILE: STATUS_INSUFFICIENT_RESOURCES,
    errno.ENFILE: STATUS_INSUFFICIENT_RESOURCES,
    errno.ENOMEM: STATUS_INSUFFICIENT_RESOURCES,
    errno.EBADF: STATUS_ACCESS_DENIED,  # e.g. write through a handle opened read-only
    errno.EIO: STATUS_UNEXPECTED_IO_ERROR,
}


def status_from_oserror(exc: OSError, *, parent_missing: bool = False) -> int:
    """The NTSTATUS for a failed host call. ``parent_missing`` turns ENOENT into
    STATUS_OBJECT_PATH_NOT_FOUND (a directory on the way is missing, MS-FSA 2.1.5.1)."""
    if exc.errno == errno.ENOENT and parent_missing:
        return STATUS_OBJECT_PATH_NOT_FOUND
    return _ERRNO_MAP.get(exc.errno or 0, STATUS_UNEXPECTED_IO_ERROR)


def nt_error(exc: OSError, *, parent_missing: bool = False, detail: str = "") -> NtStatusError:
    """Wrap an :class:`OSError` as :class:`NtStatusError` (see :func:`status_from_oserror`)."""
    status = status_from_oserror(exc, parent_missing=parent_missing)
    return NtStatusError(status, detail or exc.strerror or "")


__all__ = [
    "MAX_COMPONENT_CHARS",
    "MAX_PATH_CHARS",
    "STATUS_CANNOT_DELETE",
    "STATUS_NOT_SAME_DEVICE",
    "STATUS_QUOTA_EXCEEDED",
    "STATUS_UNEXPECTED_IO_ERROR",
    "component_error",
    "is_valid_component",
    "nt_error",
    "split_smb_path",
    "status_from_oserror",
]
