"""Alternate data streams ``file:stream:$DATA`` kept in extended attributes.

Names (MS-FSCC 2.1.5.3 "Stream names"): the last path component may be
``name:stream`` or ``name:stream:$DATA``; the stream type is compared case-insensitively and
only ``$DATA`` exists; ``name::$DATA`` is the unnamed stream, the file itself; ``name:`` and
``name:stream:`` are STATUS_OBJECT_NAME_INVALID. A stream name may hold any character except
NUL, ``\\``, ``/`` and ``:``, is matched case-insensitively and keeps its case.

Storage: one extended attribute per stream, :data:`XATTR_PREFIX` + the UTF-8 name, whose
value is the stream's data. Bounds: :data:`MAX_STREAM_SIZE` bytes per stream (the Linux
xattr value limit; a file system may refuse earlier: STATUS_DISK_FULL),
:data:`MAX_STREAMS` streams per file, names of at most :data:`MAX_NAME_BYTES` UTF-8 bytes.
Streams go with the inode: deleting or renaming the file keeps them together.

:class:`StreamOpen` is the handle of one open of a named stream (the same methods as
:class:`lanman.smb.server.fs.OpenFile` the SMB2 handlers use); it owns an open of the base
file, through which times and attributes (the file's, MS-FSA 2.1.5.14.2) are set.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_DISK_FULL,
    STATUS_FILE_CLOSED,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    NtStatusError,
)
from lanman.smb.filestat import FileStat
from lanman.smb.server.fs_paths import nt_error
from lanman.smb.wire.constants import (
    DELETE,
    FILE_APPEND_DATA,
    FILE_CREATE,
    FILE_EXECUTE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_READ_DATA,
    FILE_SUPERSEDE,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    CreateAction,
)

if TYPE_CHECKING:
    from lanman.smb.server.fs import OpenFile

XATTR_PREFIX = "user.lanman.stream."
MAX_STREAM_SIZE = 65536
MAX_STREAMS = 64
MAX_NAME_BYTES = 255 - len(XATTR_PREFIX)
_DATA_TYPE = "$data"
_BAD_NAME_CHARS = frozenset("\x00\\/:")
_CLUSTER = 4096
_MAX_I64 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class StreamPath:
    """A CREATE name split at its stream part."""

    base: str  # the file's path
    stream: str | None  # the named stream, None for the file itself
    data_suffix: bool  # the name ended in "::$DATA" (the unnamed stream, said explicitly)


def split_stream_path(smb_path: str) -> StreamPath:
    """Split ``dir\\file:stream:$DATA``; no ``:`` at all gives the path back unchanged."""
    head, sep, last = smb_path.rpartition("\\")
    colon = last.find(":")
    if colon < 0:
        return StreamPath(smb_path, None, False)
    if ":" in head:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "stream syntax in a directory name")
    fname, rest = last[:colon], last[colon + 1 :]
    pieces = rest.split(":")
    if len(pieces) > 2:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "too many ':' in a stream name")
    sname = pieces[0]
    if len(pieces) == 2 and pieces[1].casefold() != _DATA_TYPE:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "stream type other than $DATA")
    if not fname:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "stream of no file")
    base = head + sep + fname
    if not sname:
        if len(pieces) == 1:
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "empty stream name")
        return StreamPath(base, None, True)
    check_stream_name(sname)
    return StreamPath(base, sname, False)


def check_stream_name(name: str) -> None:
    if any(c in _BAD_NAME_CHARS for c in name) or any("\ud800" <= c <= "\udfff" for c in name):
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "bad character in a stream name")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "stream name too long")


def _key(name: str) -> str:
    return XATTR_PREFIX + name


def list_streams(fd: int) -> list[tuple[str, int]]:
    """``(name, size)`` of the named streams of the object behind ``fd``, sorted."""
    try:
        keys = os.listxattr(fd)
    except OSError:
        return []
    out = []
    for k in keys:
        if not k.startswith(XATTR_PREFIX):
            continue
        try:
            size = len(os.getxattr(fd, k))
        except OSError:
            continue
        out.append((k[len(XATTR_PREFIX) :], size))
    out.sort(key=lambda t: (t[0].casefold(), t[0]))
    return out


def find_stream(fd: int, name: str) -> str | None:
    """The stored spelling of stream ``name`` (case-insensitive match), None if absent."""
    folded = name.casefold()
    for stored, _ in list_streams(fd):
        if stored == name:
            return stored
    for stored, _ in list_streams(fd):
        if stored.casefold() == folded:
            return stored
    return None


def _store(fd: int, name: str, data: bytes) -> None:
    if len(data) > MAX_STREAM_SIZE:
        raise NtStatusError(STATUS_DISK_FULL, "stream larger than lanman keeps")
    try:
        os.setxattr(fd, _key(name), data)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.E2BIG, errno.ERANGE):
            raise NtStatusError(STATUS_DISK_FULL, "no room for the stream") from e
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise NtStatusError(STATUS_ACCESS_DENIED, "no streams on this file system") from e
        raise nt_error(e) from e


def _load(fd: int, name: str) -> bytes:
    try:
        return os.getxattr(fd, _key(name))
    except OSError as e:
        if e.errno == errno.ENODATA:
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, "stream gone") from e
        raise nt_error(e) from e


def open_stream(
    base: OpenFile,
    stream: str,
    *,
    disposition: int,
    granted: int,
    delete_on_close: bool,
    admit: Callable[[StreamOpen], None] | None = None,
) -> tuple[StreamOpen, int]:
    """Open or create ``stream`` of the open file ``base`` (MS-FSA 2.1.5.1.2.1 for streams).

    ``admit(handle)`` (the open-file database's share-mode check) runs once the stream is
    identified and before an overwrite truncates it; a stream this call created is removed
    again when it refuses. ``base`` is owned by the result (closed with it) or closed here
    on failure. Returns the handle and the CreateAction.
    """
    created = False
    try:
        stored = find_stream(base.fd, stream)
        if stored is None:
            if disposition in (FILE_OPEN, FILE_OVERWRITE):
                raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, "no such stream")
            if base.share.read_only:
                raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")
            if len(list_streams(base.fd)) >= MAX_STREAMS:
                raise NtStatusError(STATUS_INSUFFICIENT_RESOURCES, "too many streams")
            _store(base.fd, stream, b"")
            stored, action, created = stream, CreateAction.CREATED, True
        elif disposition == FILE_CREATE:
            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, "stream exists")
        elif disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF):
            if base.share.read_only:
                raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")
            action = (
                CreateAction.SUPERSEDED
                if disposition == FILE_SUPERSEDE
                else CreateAction.OVERWRITTEN
            )
        else:
            assert disposition in (FILE_OPEN, FILE_OPEN_IF)
            action = CreateAction.OPENED
        handle = StreamOpen(base, stored, granted)
        if admit is not None:
            admit(handle)
        if action in (CreateAction.SUPERSEDED, CreateAction.OVERWRITTEN):
            _store(base.fd, stored, b"")
    except BaseException:
        if created:
            try:
                os.removexattr(base.fd, _key(stream))
            except OSError:
                pass
        base.close()
        raise
    handle.delete_on_close = delete_on_close
    return handle, int(action)


class StreamOpen:
    """One open of a named stream."""

    is_directory = False

    def __init__(self, base: OpenFile, stream: str, granted_access: int):
        self.base = base
        self.stream = stream
        self.granted_access = granted_access
        self.smb_path = f"{base.smb_path}:{stream}"
        self.delete_on_close = False
        self.closed = False

    @property
    def file_key(self) -> tuple[int, int, str]:
        """The open-file database key of this stream (opendb.StreamKey): its file's
        (st_dev, st_ino) and the casefolded stream name."""
        return (*self.base.file_key, self.stream.casefold())

    @property
    def path(self) -> str:
        """Host path of the stream's file."""
        return self.base.path

    @property
    def stream_key(self) -> tuple[str, ...]:
        return (":" + self.stream.casefold(),)

    @property
    def name(self) -> str:
        return f"{self.base.name}:{self.stream}"

    @property
    def share(self):
        return self.base.share

    @property
    def fd(self) -> int:
        return self.base.fd

    def _check_open(self) -> None:
        if self.closed:
            raise NtStatusError(STATUS_FILE_CLOSED, self.smb_path)

    def _need(self, mask: int, what: str) -> None:
        if not self.granted_access & mask:
            raise NtStatusError(STATUS_ACCESS_DENIED, f"{what} not granted")

    def _writable(self) -> None:
        if self.share.read_only:
            raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")

    def stat(self) -> FileStat:
        """The file's FileStat with this stream's sizes (MS-FSA 2.1.5.12: per-stream EOF)."""
        self._check_open()
        st = self.base.stat()
        size = len(_load(self.fd, self.stream))
        st.end_of_file = size
        st.allocation_size = (size + _CLUSTER - 1) // _CLUSTER * _CLUSTER
        st.delete_pending = self.delete_on_close
        return st

    def stream_entries(self) -> list[tuple[str, int, int]]:
        self._check_open()
        return self.base.stream_entries()

    def read_into(self, offset: int, buf: memoryview) -> int:
        self._check_open()
        self._need(FILE_READ_DATA | FILE_EXECUTE, "read access")
        if offset < 0:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "bad offset")
        data = _load(self.fd, self.stream)
        chunk = data[offset : offset + len(buf)]
        buf[: len(chunk)] = chunk
        return len(chunk)

    def write(self, offset: int, data: memoryview | bytes) -> int:
        """Write into the stream; an offset past 2**63-1 (MS-SMB2 2.2.21's 0xFF..FF) or an
        append-only open writes at its end."""
        self._check_open()
        self._writable()
        self._need(FILE_WRITE_DATA | FILE_APPEND_DATA, "write access")
        new = bytes(memoryview(data).cast("B"))
        cur = _load(self.fd, self.stream)
        if offset > _MAX_I64 or not self.granted_access & FILE_WRITE_DATA:
            offset = len(cur)
        if offset < 0 or offset + len(new) > MAX_STREAM_SIZE:
            raise NtStatusError(STATUS_DISK_FULL, "stream larger than lanman keeps")
        buf = bytearray(cur)
        if offset > len(buf):
            buf.extend(bytes(offset - len(buf)))
        buf[offset : offset + len(new)] = new
        _store(self.fd, self.stream, bytes(buf))
        return len(new)

    def flush(self) -> None:
        self._check_open()

    def _resize(self, n: int, *, grow: bool) -> None:
        self._check_open()
        self._writable()
        self._need(FILE_WRITE_DATA, "FILE_WRITE_DATA")
        if n < 0 or n > MAX_STREAM_SIZE:
            raise NtStatusError(STATUS_DISK_FULL if n > 0 else STATUS_INVALID_PARAMETER, "size")
        cur = _load(self.fd, self.stream)
        if n < len(cur):
            _store(self.fd, self.stream, cur[:n])
        elif grow and n > len(cur):
            _store(self.fd, self.stream, cur + bytes(n - len(cur)))

    def set_end_of_file(self, n: int) -> None:
        self._resize(n, grow=True)

    def set_allocation(self, n: int) -> None:
        self._resize(n, grow=False)

    def set_basic_info(self, *args: int) -> None:
        """Times and attributes belong to the file (MS-FSA 2.1.5.14.2)."""
        self._check_open()
        self._need(FILE_WRITE_ATTRIBUTES, "FILE_WRITE_ATTRIBUTES")
        self.base.set_basic_info(*args)

    def set_delete_on_close(self, flag: bool) -> None:
        self._check_open()
        if flag:
            self._writable()
            self._need(DELETE, "DELETE")
        self.delete_on_close = flag

    def rename(self, new_smb_path: str, replace_if_exists: bool) -> OpenFile | None:
        """A stream renames to another stream of its file: ``:new[:$DATA]``
        (MS-FSA 2.1.5.15.11.1). ``::$DATA`` makes it the file's unnamed stream, which must
        be empty and replaceable; the stream's data becomes the file's and the open of the
        file (``self.base``, returned) is what the handle is from then on."""
        self._check_open()
        self._writable()
        self._need(DELETE, "DELETE")
        if not new_smb_path.startswith(":"):
            raise NtStatusError(STATUS_INVALID_PARAMETER, "a stream renames to a stream")
        target = split_stream_path("x" + new_smb_path)
        if target.stream is None:
            return self._become_unnamed(replace_if_exists)
        existing = find_stream(self.fd, target.stream)
        if existing is not None and existing.casefold() == self.stream.casefold():
            return
        if existing is not None:
            if not replace_if_exists:
                raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, new_smb_path)
            self._remove(existing)
        _store(self.fd, target.stream, _load(self.fd, self.stream))
        self._remove(self.stream)
        self.stream = target.stream
        self.smb_path = f"{self.base.smb_path}:{target.stream}"
        return None

    def _become_unnamed(self, replace_if_exists: bool) -> OpenFile:
        if not replace_if_exists:
            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, "the file's data exists")
        try:
            if os.fstat(self.fd).st_size:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "the file's data is not empty")
            data = _load(self.fd, self.stream)
            if data:
                os.pwrite(self.fd, data, 0)
        except OSError as e:
            raise nt_error(e) from e
        self._remove(self.stream)
        base, self.closed = self.base, True  # the handle lives on as the file's open
        base.granted_access = self.granted_access
        return base

    def _remove(self, name: str) -> None:
        try:
            os.removexattr(self.fd, _key(name))
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise nt_error(e) from e

    def alternate_name(self) -> str | None:
        return self.base.alternate_name()

    def apply_close_times(self) -> None:
        return None

    def list_directory(self, pattern: str) -> list[FileStat]:
        raise NtStatusError(STATUS_INVALID_PARAMETER, "not a directory")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.delete_on_close and not self.share.read_only:
                try:
                    self._remove(self.stream)
                except NtStatusError:
                    pass
        finally:
            self.base.close()
