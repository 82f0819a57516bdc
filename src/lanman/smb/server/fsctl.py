"""SMB2 IOCTL: the FSCTLs lanman answers (MS-SMB2 3.3.5.15, MS-FSA 2.1.5.9, MS-FSCC 2.3).

One table, :data:`FSCTLS`, maps each control code to its handler, what it works on (no
open, a file or directory, a named pipe, or any open) and the smallest input and output
buffers it accepts. :func:`handle_ioctl` checks the request against the entry and runs the
handler; an unknown code on a file gets STATUS_INVALID_DEVICE_REQUEST, as on Windows.

Handlers return ``(output, status)`` or a ready :class:`Reply` (VALIDATE_NEGOTIATE_INFO).
Server-side copy (3.3.5.15.6) keeps its data per chunk (at most 1 MiB in memory).
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.filestat import FILE_ATTRIBUTE_SPARSE_FILE
from lanman.smb.wire import fsctl as w
from lanman.smb.wire.constants import (
    FILE_APPEND_DATA,
    FILE_EXECUTE,
    FILE_READ_DATA,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FSCTL_CREATE_OR_GET_OBJECT_ID,
    FSCTL_DFS_GET_REFERRALS,
    FSCTL_DFS_GET_REFERRALS_EX,
    FSCTL_FILE_LEVEL_TRIM,
    FSCTL_GET_COMPRESSION,
    FSCTL_GET_INTEGRITY_INFORMATION,
    FSCTL_GET_OBJECT_ID,
    FSCTL_GET_REPARSE_POINT,
    FSCTL_PIPE_TRANSCEIVE,
    FSCTL_PIPE_WAIT,
    FSCTL_QUERY_ALLOCATED_RANGES,
    FSCTL_QUERY_NETWORK_INTERFACE_INFO,
    FSCTL_SET_COMPRESSION,
    FSCTL_SET_INTEGRITY_INFORMATION,
    FSCTL_SET_SPARSE,
    FSCTL_SET_ZERO_DATA,
    FSCTL_SRV_COPYCHUNK,
    FSCTL_SRV_COPYCHUNK_WRITE,
    FSCTL_SRV_ENUMERATE_SNAPSHOTS,
    FSCTL_SRV_REQUEST_RESUME_KEY,
    FSCTL_VALIDATE_NEGOTIATE_INFO,
    SMB2_0_IOCTL_IS_FSCTL,
)
from lanman.smb.wire.query import IoctlRequest, pack_ioctl_response

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .request import Reply, Request
    from .state import Open

# MS-SMB2 3.3.3: ServerSideCopyMaxNumberofChunks, ServerSideCopyMaxChunkSize,
# ServerSideCopyMaxDataSize (Windows' values).
COPYCHUNK_MAX_CHUNKS = 256
COPYCHUNK_MAX_CHUNK_SIZE = 1024 * 1024
COPYCHUNK_MAX_TOTAL = 16 * 1024 * 1024
# Files one server remembers as sparse (a client can mark many: bounded).
MAX_SPARSE_FILES = 65536
MAX_TRIM_RANGES = 4096
_MAX_I64 = 0x7FFFFFFFFFFFFFFF
COMPRESSION_FORMAT_NONE = 0
COMPRESSION_FORMAT_DEFAULT = 1
COMPRESSION_FORMAT_LZNT1 = 2
_ZERO_BLOCK = 1024 * 1024
_MAX_ZERO_WRITE = 64 * 1024 * 1024  # zeros written where the host cannot punch holes

Result = tuple[bytes, int]


@dataclass(frozen=True, slots=True)
class Fsctl:
    """One row of the dispatch table."""

    handler: Callable[..., Result | Reply]
    target: str  # "none" | "fs" (file or directory) | "file" | "pipe" | "any"
    min_input: int = 0
    min_output: int = 0


def handle_ioctl(conn: ServerConnection, req: Request) -> Reply:
    """MS-SMB2 3.3.5.15: check the request, find the open, run the FSCTL."""
    r = IoctlRequest.unpack(req.pdu)
    if r.max_output_response > conn.max_transact_size or len(r.input) > conn.max_transact_size:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "IOCTL buffers above MaxTransactSize")
    if r.flags != SMB2_0_IOCTL_IS_FSCTL:
        raise NtStatusError(st.STATUS_NOT_SUPPORTED, "IOCTL without SMB2_0_IOCTL_IS_FSCTL")
    spec = FSCTLS.get(r.ctl_code)
    open_ = None
    if spec is None or spec.target != "none":
        open_ = conn._lookup_open(req, r.file_id)
    if spec is None:
        if open_.kind == "pipe":
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, f"FSCTL 0x{r.ctl_code:08x} on a pipe")
        raise NtStatusError(st.STATUS_INVALID_DEVICE_REQUEST, f"FSCTL 0x{r.ctl_code:08x}")
    if open_ is not None:
        if spec.target == "pipe" and open_.kind != "pipe":
            raise NtStatusError(st.STATUS_INVALID_DEVICE_REQUEST, "pipe FSCTL on a file")
        if spec.target in ("fs", "file") and open_.kind == "pipe":
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, "file FSCTL on a pipe")
        if spec.target == "file" and open_.kind != "file":
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "FSCTL needs a file, not a directory")
    if len(r.input) < spec.min_input or r.max_output_response < spec.min_output:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "FSCTL buffer too small")
    result = spec.handler(conn, req, r, open_)
    if not isinstance(result, tuple):
        return result
    output, status = result
    file_id = open_.file_id if open_ is not None else r.file_id
    return conn.ok(req, [pack_ioctl_response(r.ctl_code, file_id, output)], status=status)


# ---- handlers that need no open -------------------------------------------------------------


def _validate_negotiate(conn, req, r, _open) -> Reply:
    from .request import Disconnect

    return conn._validate_negotiate(req, r, Disconnect)


def _dfs_referrals(conn, req, r, _open) -> Result:
    raise NtStatusError(st.STATUS_NOT_FOUND, "no DFS")


def _pipe_wait(conn, req, r, _open) -> Result:
    return b"", st.STATUS_SUCCESS


def _network_interfaces(conn, req, r, _open) -> Reply:
    """MS-SMB2 3.3.5.15.11: the address the connection was accepted on (session_binding.py;
    STATUS_NOT_SUPPORTED without multichannel)."""
    return conn._network_interface_info(req, r)


# ---- named pipes -----------------------------------------------------------------------------


def _pipe_transceive(conn, req, r, open_: Open) -> Result:
    """MS-SMB2 3.3.5.15.1: write the request PDU, read the reply (BUFFER_OVERFLOW when it
    does not fit in MaxOutputResponse)."""
    from lanman.rpc.endpoint import RpcProtocolError

    try:
        out = open_.handle.transact(bytes(r.input), r.max_output_response)
    except RpcProtocolError:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad RPC PDU") from None
    status = st.STATUS_BUFFER_OVERFLOW if open_.handle.message_remaining() else st.STATUS_SUCCESS
    return out, status


# ---- snapshots, reparse points, object ids, compression, integrity --------------------------


def _enumerate_snapshots(conn, req, r, open_) -> Result:
    """MS-SMB2 3.3.5.15.1 / 2.2.32.2 SRV_SNAPSHOT_ARRAY: lanman keeps no snapshots."""
    return b"\x00" * 16, st.STATUS_SUCCESS


def _get_reparse_point(conn, req, r, open_) -> Result:
    """MS-FSA 2.1.5.9.20: lanman never exposes reparse points."""
    raise NtStatusError(st.STATUS_NOT_A_REPARSE_POINT)


def _object_id(conn, req, r, open_: Open) -> Result:
    """MS-FSA 2.1.5.9.4 / 2.1.5.9.19: an object id made from the file's id and the share,
    the same for every open of the file (FILE_OBJECTID_BUFFER)."""
    stat = open_.handle.stat()
    volume = hashlib.sha256(str(open_.handle.share.root).encode()).digest()[:16]
    oid = (stat.file_id & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") + volume[:8]
    return w.pack_object_id(oid, volume), st.STATUS_SUCCESS


def _get_compression(conn, req, r, open_) -> Result:
    """MS-FSA 2.1.5.9.7: nothing is compressed (COMPRESSION_FORMAT_NONE)."""
    return w.pack_compression(COMPRESSION_FORMAT_NONE), st.STATUS_SUCCESS


def _set_compression(conn, req, r, open_: Open) -> Result:
    """MS-FSA 2.1.5.9.29 on a volume without compression: NONE succeeds, a compression
    format is not supported, anything else is invalid."""
    _need(open_, FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_APPEND_DATA)
    fmt = w.parse_compression(r.input)
    if fmt == COMPRESSION_FORMAT_NONE:
        return b"", st.STATUS_SUCCESS
    if fmt in (COMPRESSION_FORMAT_DEFAULT, COMPRESSION_FORMAT_LZNT1):
        raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no compression")
    raise NtStatusError(st.STATUS_INVALID_PARAMETER, f"compression format {fmt}")


def _integrity(conn, req, r, open_) -> Result:
    """FSCTL_GET/SET_INTEGRITY_INFORMATION: ReFS only; NTFS answers
    STATUS_INVALID_DEVICE_REQUEST (MS-FSA 2.1.5.9.x, not supported by the object store)."""
    raise NtStatusError(st.STATUS_INVALID_DEVICE_REQUEST, "no integrity streams")


# ---- sparse files ----------------------------------------------------------------------------


_SPARSE_XATTR = "user.lanman.sparse"
_NO_XATTR = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)


def is_sparse(ctx, open_: Open) -> bool:
    """The file's sparse mark: an extended attribute on the file (so it goes with the file
    and is gone when the file is deleted); where the host has no user xattrs, a set kept
    in the server (ServerContext.sparse_files)."""
    if open_.kind != "file":
        return False
    try:
        return os.getxattr(open_.handle.fd, _SPARSE_XATTR) == b"1"
    except OSError as e:
        if e.errno in _NO_XATTR:
            return open_.oplock_key in ctx.sparse_files
        return False


def _mark_sparse(ctx, open_: Open, sparse: bool) -> None:
    fd = open_.handle.fd
    try:
        if sparse:
            os.setxattr(fd, _SPARSE_XATTR, b"1")
        else:
            os.removexattr(fd, _SPARSE_XATTR)
        return
    except OSError as e:
        if e.errno == errno.ENODATA:
            return
        if e.errno not in _NO_XATTR:
            raise NtStatusError(st.STATUS_ACCESS_DENIED, f"sparse mark: {e}") from None
    marks = ctx.sparse_files
    if not sparse:
        marks.discard(open_.oplock_key)
    elif open_.oplock_key not in marks:
        if len(marks) >= MAX_SPARSE_FILES:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES, "too many sparse files")
        marks.add(open_.oplock_key)


def apply_sparse_attribute(ctx, open_: Open, stat) -> None:
    """FILE_ATTRIBUTE_SPARSE_FILE in what QUERY_INFO reports for a file marked sparse."""
    if is_sparse(ctx, open_):
        stat.file_attributes |= FILE_ATTRIBUTE_SPARSE_FILE


def _set_sparse(conn, req, r, open_: Open) -> Result:
    """MS-FSA 2.1.5.9.36: needs write data, append or write attributes access; no
    buffer means SetSparse TRUE. The mark is kept by :func:`is_sparse`'s rules; the host
    file system holds the holes themselves."""
    _need(open_, FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES)
    _writable_share(conn, req)
    _mark_sparse(conn.ctx, open_, w.parse_set_sparse(r.input))
    return b"", st.STATUS_SUCCESS


def _set_zero_data(conn, req, r, open_: Open) -> Result:
    """MS-FSA 2.1.5.9.38: zero [FileOffset, BeyondFinalZero) up to end of file, by
    punching holes (the host keeps the size); where the host cannot, a range reaching end of
    file is truncated and regrown, a shorter one (up to 64 MiB) written with zeros."""
    _need(open_, FILE_WRITE_DATA)
    _writable_share(conn, req)
    offset, beyond = w.parse_range(r.input)
    if offset < 0 or beyond < 0 or offset > beyond:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad zero range")
    eof = open_.handle.stat().end_of_file
    end = min(beyond, eof)
    if end <= offset:
        return b"", st.STATUS_SUCCESS
    _check_locks(conn, open_, offset, end - offset, write=True)
    fd = open_.handle.fd
    if _punch_hole(fd, offset, end - offset):
        return b"", st.STATUS_SUCCESS
    if end == eof:  # no hole punching: cut the tail off and grow the file back
        open_.handle.set_end_of_file(offset)
        open_.handle.set_end_of_file(eof)
        return b"", st.STATUS_SUCCESS
    if end - offset > _MAX_ZERO_WRITE:
        raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no hole punching on this host")
    zeros = bytes(min(_ZERO_BLOCK, end - offset))
    pos = offset
    while pos < end:
        pos += open_.handle.write(pos, zeros[: min(len(zeros), end - pos)])
    return b"", st.STATUS_SUCCESS


def _query_allocated_ranges(conn, req, r, open_: Open) -> Result:
    """MS-FSA 2.1.5.9.22: the allocated ranges within [FileOffset, FileOffset+Length),
    clipped to end of file. A file not marked sparse is all allocated; a sparse one is
    read with SEEK_DATA / SEEK_HOLE. Ranges that do not fit: STATUS_BUFFER_OVERFLOW."""
    _need(open_, FILE_READ_DATA)
    offset, length = w.parse_range(r.input)
    if offset < 0 or length < 0 or offset > _MAX_I64 - length:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad range")
    fit = r.max_output_response // w.RANGE_SIZE
    eof = open_.handle.stat().end_of_file
    end = min(offset + length, eof)
    ranges: list[tuple[int, int]] = []
    if end > offset:
        if is_sparse(conn.ctx, open_):
            ranges = _data_ranges(open_.handle.fd, offset, end, fit + 1)
        else:
            ranges = [(offset, end - offset)]
    if not ranges:
        return b"", st.STATUS_SUCCESS
    if fit == 0:
        raise NtStatusError(st.STATUS_BUFFER_TOO_SMALL, "no room for one range")
    status = st.STATUS_BUFFER_OVERFLOW if len(ranges) > fit else st.STATUS_SUCCESS
    return w.pack_ranges(ranges[:fit]), status


def _data_ranges(fd: int, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Data extents of ``fd`` in [start, end), at most ``limit`` of them."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end and len(out) < limit:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # only a hole up to end of file
                break
            return [(start, end - start)]  # no SEEK_DATA: all allocated
        if data >= end:
            break
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        out.append((data, hole - data))
        pos = hole
    return out


def _file_level_trim(conn, req, r, open_: Open) -> Result:
    """MS-FSCC 2.3.37/2.3.38: the ranges are checked and reported processed; the host keeps
    the data (a trim is a hint, its blocks are not handed back)."""
    _need(open_, FILE_WRITE_DATA)
    ranges = w.parse_trim(r.input, MAX_TRIM_RANGES)
    for off, length in ranges:
        if off > _MAX_I64 or length > _MAX_I64 - off:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad trim range")
    return w.pack_trim_output(len(ranges)), st.STATUS_SUCCESS


# ---- server-side copy (MS-SMB2 3.3.5.15.6, 3.3.5.15.7) ---------------------------------


def _request_resume_key(conn, req, r, open_: Open) -> Result:
    """3.3.5.15.7: a 24-byte key naming the open as a copy source (one per open)."""
    if not open_.resume_key:
        open_.resume_key = conn.ctx.random_bytes(w.RESUME_KEY_SIZE)
    return w.pack_resume_key(open_.resume_key), st.STATUS_SUCCESS


def _copy_limits() -> Result:
    """3.3.5.15.6.2: the server's limits, with STATUS_INVALID_PARAMETER."""
    body = w.pack_copychunk_response(
        COPYCHUNK_MAX_CHUNKS, COPYCHUNK_MAX_CHUNK_SIZE, COPYCHUNK_MAX_TOTAL
    )
    return body, st.STATUS_INVALID_PARAMETER


def _copychunk(conn, req, r, target: Open) -> Result:
    """3.3.5.15.6: copy chunks from the open named by SourceKey into this one. COPYCHUNK
    needs read access on the target too, COPYCHUNK_WRITE only write access; the source
    needs read (or execute) access. Chunks run in order; the first failure stops the copy
    and is reported with what was written so far."""
    need = FILE_WRITE_DATA | (FILE_READ_DATA if r.ctl_code == FSCTL_SRV_COPYCHUNK else 0)
    if target.granted_access & need != need:
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "copy target access")
    key, chunks, count = w.parse_copychunk(r.input, COPYCHUNK_MAX_CHUNKS)
    if (
        count > COPYCHUNK_MAX_CHUNKS
        or any(c.length == 0 or c.length > COPYCHUNK_MAX_CHUNK_SIZE for c in chunks)
        or sum(c.length for c in chunks) > COPYCHUNK_MAX_TOTAL
    ):
        return _copy_limits()
    source = next((o for o in conn.opens.values() if o.resume_key and o.resume_key == key), None)
    if source is None or source.kind != "file" or source.session_id != req.session.session_id:
        raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, "unknown resume key")
    if not source.granted_access & (FILE_READ_DATA | FILE_EXECUTE):
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "copy source access")
    _writable_share(conn, req)
    written = total = 0
    for c in chunks:
        if (
            c.source_offset > _MAX_I64 - c.length
            or c.source_offset + c.length > source.handle.stat().end_of_file
        ):
            return w.pack_copychunk_response(written, 0, total), st.STATUS_INVALID_VIEW_SIZE
        if c.target_offset > _MAX_I64 - c.length:
            return w.pack_copychunk_response(written, 0, total), st.STATUS_INVALID_PARAMETER
        try:
            _check_locks(conn, source, c.source_offset, c.length, write=False)
            _check_locks(conn, target, c.target_offset, c.length, write=True)
        except NtStatusError as exc:
            return w.pack_copychunk_response(written, 0, total), exc.status
        buf = bytearray(c.length)
        n = source.handle.read_into(c.source_offset, memoryview(buf))
        target.handle.write(c.target_offset, memoryview(buf)[:n])
        if target.oplock_key is not None:
            conn.ctx.oplocks.on_write(target.oplock_key, conn, target.volatile_id)
        written += 1
        total += n
    return w.pack_copychunk_response(written, 0, total), st.STATUS_SUCCESS


# ---- helpers ---------------------------------------------------------------------------------


def _need(open_: Open, mask: int) -> None:
    if not open_.granted_access & mask:
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "FSCTL access")


def _writable_share(conn, req) -> None:
    if conn._tree(req).read_only:
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "read-only share")


def _check_locks(conn, open_: Open, offset: int, length: int, *, write: bool) -> None:
    locks = conn.locks_for(open_)
    if locks and locks.conflicts((id(conn), open_.volatile_id), offset, length, write=write):
        raise NtStatusError(st.STATUS_FILE_LOCK_CONFLICT)


def _punch_hole(fd: int, offset: int, length: int) -> bool:
    """fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE); False where unsupported."""
    fallocate = _libc_fallocate()
    if fallocate is None:
        return False
    return fallocate(fd, 0x02 | 0x01, offset, length) == 0


_FALLOCATE: list = []


def _libc_fallocate():
    if not _FALLOCATE:
        fn = None
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fn = libc.fallocate
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            fn.restype = ctypes.c_int
        except (OSError, AttributeError):
            fn = None
        _FALLOCATE.append(fn)
    return _FALLOCATE[0]


_RANGE = w.RANGE_SIZE
_OBJECT_ID_SIZE = 64

#: control code -> handler, target, minimum input, minimum output (MS-SMB2 3.3.5.15)
FSCTLS: dict[int, Fsctl] = {
    FSCTL_VALIDATE_NEGOTIATE_INFO: Fsctl(_validate_negotiate, "none"),
    FSCTL_DFS_GET_REFERRALS: Fsctl(_dfs_referrals, "none"),
    FSCTL_DFS_GET_REFERRALS_EX: Fsctl(_dfs_referrals, "none"),
    FSCTL_PIPE_WAIT: Fsctl(_pipe_wait, "none"),
    FSCTL_QUERY_NETWORK_INTERFACE_INFO: Fsctl(_network_interfaces, "none"),
    FSCTL_PIPE_TRANSCEIVE: Fsctl(_pipe_transceive, "pipe"),
    FSCTL_SRV_ENUMERATE_SNAPSHOTS: Fsctl(_enumerate_snapshots, "any", min_output=16),
    FSCTL_SRV_REQUEST_RESUME_KEY: Fsctl(_request_resume_key, "file", min_output=28),
    FSCTL_SRV_COPYCHUNK: Fsctl(
        _copychunk, "file", min_input=28, min_output=w.COPYCHUNK_RESPONSE_SIZE
    ),
    FSCTL_SRV_COPYCHUNK_WRITE: Fsctl(
        _copychunk, "file", min_input=28, min_output=w.COPYCHUNK_RESPONSE_SIZE
    ),
    FSCTL_GET_REPARSE_POINT: Fsctl(_get_reparse_point, "fs"),
    FSCTL_CREATE_OR_GET_OBJECT_ID: Fsctl(_object_id, "fs", min_output=_OBJECT_ID_SIZE),
    FSCTL_GET_OBJECT_ID: Fsctl(_object_id, "fs", min_output=_OBJECT_ID_SIZE),
    FSCTL_GET_COMPRESSION: Fsctl(_get_compression, "fs", min_output=2),
    FSCTL_SET_COMPRESSION: Fsctl(_set_compression, "fs", min_input=2),
    FSCTL_GET_INTEGRITY_INFORMATION: Fsctl(_integrity, "fs"),
    FSCTL_SET_INTEGRITY_INFORMATION: Fsctl(_integrity, "fs"),
    FSCTL_SET_SPARSE: Fsctl(_set_sparse, "file"),
    FSCTL_SET_ZERO_DATA: Fsctl(_set_zero_data, "file", min_input=_RANGE),
    FSCTL_QUERY_ALLOCATED_RANGES: Fsctl(_query_allocated_ranges, "file", min_input=_RANGE),
    FSCTL_FILE_LEVEL_TRIM: Fsctl(_file_level_trim, "file", min_input=8, min_output=4),
}
