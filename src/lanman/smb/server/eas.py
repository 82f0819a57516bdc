"""Extended attributes of files and directories (MS-FSA 2.1.5.12.10 / .11, 2.1.5.15.3;
MS-SMB2 2.2.13.2.1 ExtA, 3.3.5.20.1, 3.3.5.21.1).

An object's EAs are kept, as one FILE_FULL_EA_INFORMATION chain (``lanman.smb.wire.ea``),
in the ``user.lanman.ea`` extended attribute of the host file: at most 64 KiB, as on NTFS.
Linux clients map ``user.*`` xattrs of a cifs mount to them; Windows applications use them
rarely. A named stream's EAs are its file's. Reading needs FILE_READ_EA, changing
FILE_WRITE_EA (the caller checks).

Enumeration without a name list goes on where the previous QUERY_INFO of the same open
stopped (``Open.ea_index``), as NtQueryEaFile does; SL_RESTART_SCAN starts over and
SL_INDEX_SPECIFIED starts at the 1-based EaIndex the request gives.
"""

from __future__ import annotations

import errno
import logging
import os

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire import ea as wire
from lanman.smb.wire.ea import Ea

log = logging.getLogger(__name__)

XATTR_NAME = "user.lanman.ea"
SL_RESTART_SCAN = 0x01
SL_RETURN_SINGLE_ENTRY = 0x02
SL_INDEX_SPECIFIED = 0x04


def _base(handle):
    """The file object of an open (a stream's EAs are its file's)."""
    return getattr(handle, "base", handle)


def read(handle) -> list[Ea]:
    """The object's EAs ([] when it has none or the host keeps no xattrs)."""
    h = _base(handle)
    try:
        try:
            raw = os.getxattr(h.fd, XATTR_NAME)
        except OSError as e:
            if e.errno != errno.EBADF:  # an O_PATH descriptor: ask by path
                raise
            raw = os.getxattr(h.path, XATTR_NAME, follow_symlinks=False)
    except OSError:
        return []
    try:
        return wire.decode_full_list(raw)
    except NtStatusError:
        log.warning("ignoring damaged EAs of %s", h.path)
        return []


def size(handle) -> int:
    """FileEaInformation.EaSize."""
    return wire.ea_size(read(handle))


def _store(handle, eas: list[Ea]) -> None:
    h = _base(handle)
    try:
        if eas:
            os.setxattr(h.fd, XATTR_NAME, wire.encode_full_list(eas))
        else:
            try:
                os.removexattr(h.fd, XATTR_NAME)
            except OSError as e:
                if e.errno != errno.ENODATA:
                    raise
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise NtStatusError(st.STATUS_EAS_NOT_SUPPORTED, "no xattrs on this file system") from e
        if e.errno in (errno.E2BIG, errno.ENOSPC, errno.ERANGE):
            raise NtStatusError(st.STATUS_EA_TOO_LARGE, "the host cannot keep that many EAs") from e
        # EBADF: an attribute-only (O_PATH) open; EACCES/EPERM: the host refuses
        raise NtStatusError(st.STATUS_ACCESS_DENIED, str(e)) from e


def merge(current: list[Ea], changes: list[Ea]) -> list[Ea]:
    """``current`` with ``changes`` applied: a value replaces the EA of that name, an empty
    value removes it (MS-FSA 2.1.5.15.3). More than 64 KiB in all: STATUS_EA_TOO_LARGE."""
    out = list(current)
    for ch in changes:
        out = [e for e in out if e.name != ch.name]
        if ch.value:
            out.append(ch)
    if wire.ea_size(out) > wire.MAX_EA_LIST:
        raise NtStatusError(st.STATUS_EA_TOO_LARGE, "more than 64 KiB of EAs")
    return out


def set_eas(handle, buf: bytes | memoryview) -> None:
    """SET_INFO FileFullEaInformation: apply the chain in ``buf``."""
    changes = wire.decode_full_list(buf)
    _store(handle, merge(read(handle), changes))


def create_context_eas(contexts) -> list[Ea] | None:
    """The EAs of a CREATE's ExtA context (decoded, so a bad list fails the CREATE before
    anything is opened), or None without one."""
    for c in contexts:
        if c.name == b"ExtA":
            return merge([], wire.decode_full_list(c.data))
    return None


def store_created(handle, eas: list[Ea]) -> None:
    """An object the CREATE made, superseded or overwrote has exactly the ExtA EAs."""
    _store(handle, eas)


def query(open_, flags: int, index: int, names_buf: bytes, max_len: int) -> tuple[bytes, int]:
    """QUERY_INFO FileFullEaInformation: ``(data, status)``.

    With a name list: those EAs (a missing one comes back with an empty value). Without:
    whole entries from the open's position while they fit (one with SL_RETURN_SINGLE_ENTRY);
    STATUS_BUFFER_OVERFLOW when more remain, STATUS_NO_MORE_EAS when none did,
    STATUS_BUFFER_TOO_SMALL when not even one fits, STATUS_NO_EAS_ON_FILE for none at all.
    """
    eas = read(open_.handle)
    if names_buf:
        by_name = {e.name: e for e in eas}
        wanted = [by_name.get(n, Ea(n, b"")) for n in wire.decode_get_list(names_buf)]
        data = wire.encode_full_list(wanted)
        if len(data) > max_len:
            raise NtStatusError(st.STATUS_BUFFER_TOO_SMALL, "the EAs asked for do not fit")
        return data, st.STATUS_SUCCESS
    if not eas:
        raise NtStatusError(st.STATUS_NO_EAS_ON_FILE)
    if flags & SL_INDEX_SPECIFIED:
        if not 1 <= index <= len(eas):
            raise NtStatusError(st.STATUS_NONEXISTENT_EA_ENTRY, f"EaIndex {index}")
        start = index - 1
    elif flags & SL_RESTART_SCAN:
        start = 0
    else:
        start = open_.ea_index
    if start >= len(eas):
        raise NtStatusError(st.STATUS_NO_MORE_EAS)
    taken: list[Ea] = []
    used = 0
    for e in eas[start:]:
        if used + wire.entry_size(e, padded=False) > max_len:  # the last one is not padded
            break
        taken.append(e)
        used += wire.entry_size(e)
        if flags & SL_RETURN_SINGLE_ENTRY:
            break
    if not taken:
        raise NtStatusError(st.STATUS_BUFFER_TOO_SMALL, "not one EA fits")
    open_.ea_index = start + len(taken)
    status = st.STATUS_BUFFER_OVERFLOW if open_.ea_index < len(eas) else st.STATUS_SUCCESS
    if flags & SL_RETURN_SINGLE_ENTRY:
        status = st.STATUS_SUCCESS
    return wire.encode_full_list(taken), status
