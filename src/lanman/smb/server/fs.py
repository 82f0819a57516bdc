"""Directory-backed share: SMB2 CREATE semantics over a host directory (MS-SMB2 3.3.5.9,
MS-FSA 2.1.5.1), plus the per-open operations READ, WRITE, FLUSH, SET_INFO and
QUERY_DIRECTORY need.

Safety model (docs/ARCHITECTURE.md rule 6: paths never leave their share):

- Client paths are validated by :func:`lanman.smb.server.fs_paths.split_smb_path` (no ``..``,
  no wildcards, no device names, bounded lengths); a ``file:stream:$DATA`` suffix is split
  off first by :mod:`lanman.smb.server.streams` (streams live in the file's xattrs).
- Lookups walk from a fresh descriptor of the share root, one component at a time, with
  ``openat(..., O_NOFOLLOW | O_DIRECTORY)``; final objects are opened with ``O_NOFOLLOW``
  relative to their parent's descriptor. A symlink is therefore never followed by the kernel.
- Symbolic links met on the way are resolved by lanman: the link's full target is computed
  with ``realpath``; if it lies outside the share root the open fails with
  ``STATUS_ACCESS_DENIED``; otherwise the walk restarts from the root over the resolved
  (symlink-free) components, again with ``O_NOFOLLOW`` everywhere. A link swapped in by a race
  is met by ``O_NOFOLLOW`` and resolved (and checked) again, at most 40 times. With
  ``follow_symlinks=False`` every symlink is refused with ``STATUS_ACCESS_DENIED``.
  Out of scope: a local user moving a directory out of the share *while* an open walks
  through it (``openat2(RESOLVE_BENEATH)`` would close that; CPython does not expose it).
- Only regular files and directories are served; FIFOs, sockets and devices are refused with
  ``STATUS_ACCESS_DENIED`` (and opened ``O_NONBLOCK`` so a swapped-in FIFO cannot hang us).
- The host file system is case-sensitive; when a component does not exist with the exact
  spelling, the directory is scanned for a case-insensitive (``str.casefold``) match, the
  first in sorted order if several. No Unicode normalisation is applied.

Simplifications (documented on purpose):

- ``share_access`` is not enforced here: sharing is between opens, which the server's
  open-file database (:mod:`lanman.smb.server.opendb`) knows; :meth:`ShareFS.open` calls
  its ``admit`` hook once the object is identified, before anything is created or truncated.
- Delete-on-close is per handle here; the server keeps the file's delete-pending state in
  the open-file database and sets :attr:`OpenFile.delete_on_close` on the last handle.
- ``set_allocation`` only truncates when the new size is below end of file; growing the
  allocation is a no-op (no portable ``FALLOC_FL_KEEP_SIZE`` in CPython).
- The ``READONLY`` attribute is reported (and settable) for files only; on directories it is
  ignored, as Explorer gives it a different meaning there.
"""

from __future__ import annotations

import errno
import logging
import os
import stat as stat_mod
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import ClassVar, Self

from lanman.concurrency import blocking_section
from lanman.datadir import SHARES_SUBDIR, DataDirGuard
from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_FILE_CLOSED,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_A_DIRECTORY,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    NtStatusError,
)
from lanman.smb.filestat import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_TEMPORARY,
    FileStat,
    filetime_to_unix_ns,
    unix_ns_to_filetime,
)
from lanman.smb.server import dosattrib, shortnames, streams
from lanman.smb.server.dosattrib import SETTABLE_ATTRIBUTES, DosInfo, effective_attributes
from lanman.smb.server.fs_paths import (
    MAX_COMPONENT_CHARS,
    STATUS_CANNOT_DELETE,
    component_error,
    is_valid_component,
    nt_error,
    split_smb_path,
)
from lanman.smb.server.timestamps import WriteTimeState, set_time_value
from lanman.smb.server.wildcards import has_wildcards, pattern_matches

log = logging.getLogger(__name__)

# MS-SMB2 2.2.13 CreateDisposition
FILE_SUPERSEDE = 0
FILE_OPEN = 1
FILE_CREATE = 2
FILE_OPEN_IF = 3
FILE_OVERWRITE = 4
FILE_OVERWRITE_IF = 5

# MS-SMB2 2.2.14 CreateAction
FILE_SUPERSEDED = 0
FILE_OPENED = 1
FILE_CREATED = 2
FILE_OVERWRITTEN = 3

# CreateOptions and access mask bits: one table, in lanman.smb.wire.constants.
from lanman.smb.wire.constants import (
    DELETE,
    FILE_ALL_ACCESS,
    FILE_APPEND_DATA,
    FILE_DELETE_CHILD,
    FILE_DELETE_ON_CLOSE,
    FILE_DIRECTORY_FILE,
    FILE_EXECUTE,
    FILE_GENERIC_EXECUTE,
    FILE_GENERIC_READ,
    FILE_GENERIC_WRITE,
    FILE_NON_DIRECTORY_FILE,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FILE_WRITE_EA,
    GENERIC_ALL,
    GENERIC_EXECUTE,
    GENERIC_READ,
    GENERIC_WRITE,
    MAXIMUM_ALLOWED,
    WRITE_DAC,
    WRITE_OWNER,
)

# What MAXIMUM_ALLOWED yields where writing is impossible (read-only share).
READ_ONLY_ACCESS = FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
# What MAXIMUM_ALLOWED leaves out on a READONLY file (MS-FSA 2.1.5.1.2.1): its data, not
# its attributes, security or name.
READONLY_FILE_DENIED = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_DELETE_CHILD

# Rights that change something: refused on a read-only share.
WRITE_LIKE_ACCESS = (
    FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_WRITE_EA
    | FILE_DELETE_CHILD
    | FILE_WRITE_ATTRIBUTES
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER
)

APPEND_OFFSET = 0xFFFFFFFFFFFFFFFF  # MS-SMB2 2.2.21: write at end of file
_MAX_I64 = (1 << 63) - 1
_MAX_SYMLINK_RESTARTS = 40
_CLUSTER = 4096

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_PATH = getattr(os, "O_PATH", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK
_DATA_DIR_DENIED = "the path resolves into lanman's data directory"


def map_generic_access(desired_access: int) -> int:
    """Expand GENERIC_* bits with the file generic mapping (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1)."""
    access = desired_access & 0x01FFFFFF
    if desired_access & GENERIC_READ:
        access |= FILE_GENERIC_READ
    if desired_access & GENERIC_WRITE:
        access |= FILE_GENERIC_WRITE
    if desired_access & GENERIC_EXECUTE:
        access |= FILE_GENERIC_EXECUTE
    if desired_access & GENERIC_ALL:
        access |= FILE_ALL_ACCESS
    return access


def make_filestat(name: str, st: os.stat_result, dos: DosInfo | None = None) -> FileStat:
    """FileStat from a host ``stat`` result and the object's stored DOS record
    (:mod:`lanman.smb.server.dosattrib`; MS-FSCC 2.4.7 times, 2.6 attributes).

    CreationTime is the stored one, else the birth time where the platform reports one, else
    the earlier of ctime and mtime. ChangeTime is ctime, or with a stored ChangeTime the later
    of it and LastWriteTime (a write after the set moves it on). Directories report EndOfFile
    and AllocationSize 0; files report allocation as ``st_blocks * 512`` (at most EndOfFile: xattr
    blocks are not data) rounded up to 4 KiB clusters.
    """
    is_dir = stat_mod.S_ISDIR(st.st_mode)
    mtime = unix_ns_to_filetime(st.st_mtime_ns)
    if dos is not None and dos.creation_time is not None:
        creation = dos.creation_time
    else:
        birth = getattr(st, "st_birthtime_ns", None)
        if birth is None:
            bt = getattr(st, "st_birthtime", None)
            birth = int(bt * 1_000_000_000) if bt else None
        creation = unix_ns_to_filetime(birth if birth else min(st.st_ctime_ns, st.st_mtime_ns))
    if dos is not None and dos.change_time is not None:
        change = max(dos.change_time, mtime)
    else:
        change = unix_ns_to_filetime(st.st_ctime_ns)
    if is_dir:
        eof = alloc = 0
    else:
        eof = st.st_size
        blocks = getattr(st, "st_blocks", None)
        raw = blocks * 512 if blocks is not None else st.st_size
        # st_blocks also counts an extended-attribute block (the file's security
        # descriptor, its DOS attributes): data never takes more than EOF's clusters
        # unless the file was preallocated, which lanman does not do
        raw = min(raw, st.st_size)
        alloc = (raw + _CLUSTER - 1) // _CLUSTER * _CLUSTER
    attrs = effective_attributes(
        dos,
        is_directory=is_dir,
        owner_writable=bool(st.st_mode & stat_mod.S_IWUSR),
        name=name,
    )
    return FileStat(
        name=name,
        creation_time=creation,
        last_access_time=unix_ns_to_filetime(st.st_atime_ns),
        last_write_time=mtime,
        change_time=change,
        allocation_size=alloc,
        end_of_file=eof,
        file_attributes=attrs,
        file_id=st.st_ino & 0xFFFFFFFFFFFFFFFF,
        number_of_links=st.st_nlink,
    )


@dataclass(slots=True)
class VolumeStats:
    """What FILESYSTEM QUERY_INFO needs (MS-FSCC 2.5.4, 2.5.8, 2.5.9)."""

    total_bytes: int
    free_bytes: int  # free on the volume
    caller_free_bytes: int  # free for an unprivileged user (f_bavail)
    volume_serial: int
    creation_time: int  # FILETIME
    volume_label: str


@dataclass(slots=True)
class _Lookup:
    """Result of walking a path: the parent's descriptor (owned by the caller), the host
    components of the parent, the host name of the last component (None for the root) and
    its ``lstat`` (None when it does not exist)."""

    parent_fd: int
    parent_rel: tuple[str, ...]
    name: str | None
    st: os.stat_result | None


class ShareFS:
    """One directory-backed share (the backend behind a tree connect, MS-SMB2 3.3.5.7)."""

    def __init__(
        self,
        root: str,
        *,
        read_only: bool = False,
        follow_symlinks: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
    ):
        real = os.path.realpath(root)
        if not os.path.isdir(real):
            os.stat(real)  # missing or unreachable: that OSError, with its errno
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), root)
        self.root: str = real
        self._root_prefix = real if real.endswith(os.sep) else real + os.sep
        self.read_only = read_only
        self.follow_symlinks = follow_symlinks
        #: the host clock (Unix ns) for the times lanman sets itself; tests replace it
        self.clock: Callable[[], int] = time.time_ns
        #: short names handed out, for CREATE by a short name (bounded, shortnames.py)
        self.short_names = shortnames.ShortNameCache()
        #: whether the object (st_dev, st_ino) is delete-pending in the server's open-file
        #: database: a directory holding only such entries counts as empty, and they go
        #: with it (they are gone at their last close anyway, MS-FSA 2.1.5.4)
        self.delete_pending: Callable[[tuple[int, int]], bool] = lambda key: False
        #: The home of the server (lanman.datadir): nothing in it is ever opened, whatever
        #: the share (None: no home to protect, e.g. an embedded ShareFS).
        self.guard: DataDirGuard | None = DataDirGuard(data_dir) if data_dir is not None else None
        self._root_is_home = False
        if self.guard is not None:
            if self.guard.path_denied(real):
                raise NtStatusError(STATUS_ACCESS_DENIED, "share root is in the data directory")
            self._root_is_home = self.guard.is_home(os.stat(real))

    # -- lookups ------------------------------------------------------------------------------

    def _inside(self, host_path: str) -> bool:
        return host_path == self.root or host_path.startswith(self._root_prefix)

    def _find(self, dir_fd: int, name: str) -> tuple[str, os.stat_result | None]:
        """``lstat`` ``name`` in ``dir_fd``; on a miss, look for a case-insensitive match,
        then for the long name of an 8.3 short name (shortnames.py)."""
        try:
            return name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise nt_error(e) from e
        folded = name.casefold()
        try:
            listing = os.listdir(dir_fd)
        except OSError:
            listing = []
        candidates = sorted(n for n in listing if n.casefold() == folded)
        if shortnames.could_be_short(name):
            long_name = shortnames.resolve(listing, name)
            if long_name is not None:
                candidates.append(long_name)
        for cand in candidates:
            try:
                return cand, os.stat(cand, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
        if shortnames.could_be_short(name):
            try:
                dst = os.fstat(dir_fd)
            except OSError:
                return name, None
            remembered = self.short_names.lookup((dst.st_dev, dst.st_ino), name)
            if remembered is not None and is_valid_component(remembered):
                return remembered, None  # created again under the long name it stood for
        return name, None

    def _follow(self, host_rel: list[str], rest: list[str]) -> list[str]:
        """Resolve the symlink at ``host_rel``; return the new component list from the root."""
        if not self.follow_symlinks:
            raise NtStatusError(STATUS_ACCESS_DENIED, "symbolic links are not followed")
        target = os.path.realpath(os.path.join(self.root, *host_rel))
        if not self._inside(target):
            raise NtStatusError(STATUS_ACCESS_DENIED, "symbolic link leads outside the share")
        if not rest and self.guard is not None and self.guard.path_denied(target):
            # (a link on the way is checked by the walk that follows: it may lead on to
            # the home's shares/ subtree)
            raise self._data_dir_denied(host_rel + rest)
        tail = target[len(self._root_prefix) :] if target != self.root else ""
        return [c for c in tail.split(os.sep) if c] + rest

    def _open_root(self) -> int:
        try:
            return os.open(self.root, _DIR_FLAGS)
        except OSError as e:
            raise nt_error(e, detail="share root unavailable") from e

    def _lookup(self, parts: list[str], *, follow_final: bool = True) -> _Lookup:
        """Walk ``parts`` from the share root without letting the kernel follow symlinks."""
        for _ in range(_MAX_SYMLINK_RESTARTS):
            fd = self._open_root()
            keep = False
            try:
                rel: list[str] = []
                restart: list[str] | None = None
                guard = self.guard
                in_home = self._root_is_home  # the directory just entered is the home
                for i, part in enumerate(parts[:-1]):
                    name, st = self._find(fd, part)
                    if in_home and name != SHARES_SUBDIR:
                        raise self._data_dir_denied(parts)
                    if st is None:
                        raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, "missing directory")
                    if stat_mod.S_ISLNK(st.st_mode):
                        restart = self._follow(rel + [name], parts[i + 1 :])
                        break
                    if not stat_mod.S_ISDIR(st.st_mode):
                        raise NtStatusError(STATUS_OBJECT_PATH_NOT_FOUND, "not a directory")
                    in_home = guard is not None and guard.is_home(st)
                    try:
                        nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    except OSError as e:
                        # ELOOP/ENOTDIR here means the entry changed under us: retry.
                        if e.errno in (errno.ELOOP, errno.ENOTDIR):
                            restart = parts
                            break
                        raise nt_error(e, parent_missing=True) from e
                    os.close(fd)
                    fd = nfd
                    rel.append(name)
                else:
                    if not parts:
                        keep = True
                        return _Lookup(fd, (), None, os.fstat(fd))
                    name, st = self._find(fd, parts[-1])
                    if guard is not None and (
                        (in_home and name != SHARES_SUBDIR) or self._is_protected(st)
                    ):
                        raise self._data_dir_denied(parts)
                    if st is not None and stat_mod.S_ISLNK(st.st_mode) and follow_final:
                        restart = self._follow(rel + [name], [])
                    else:
                        keep = True
                        return _Lookup(fd, tuple(rel), name, st)
                assert restart is not None
                parts = restart
            finally:
                if not keep:
                    os.close(fd)
        raise NtStatusError(STATUS_ACCESS_DENIED, "too many symbolic links")

    def _data_dir_denied(self, parts: list[str]) -> NtStatusError:
        log.warning(
            "refused %r in share %s: it resolves into lanman's data directory",
            "\\".join(parts),
            self.root,
        )
        return NtStatusError(STATUS_ACCESS_DENIED, _DATA_DIR_DENIED)

    def _is_protected(self, st: os.stat_result | None) -> bool:
        """The object ``st`` is the home itself or (hard-linked) one of the store's files."""
        guard = self.guard
        if guard is None or st is None:
            return False
        if stat_mod.S_ISDIR(st.st_mode):
            return guard.is_home(st)
        return stat_mod.S_ISREG(st.st_mode) and st.st_nlink > 1 and guard.is_db_file(st)

    def _open_dir_exact(self, rel: tuple[str, ...]) -> int:
        """Descriptor of the directory at host components ``rel`` (exact names, no symlinks)."""
        fd = self._open_root()
        try:
            for name in rel:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except OSError as e:
            os.close(fd)
            raise nt_error(e, parent_missing=True) from e
        return fd

    def _host_path(self, rel: tuple[str, ...]) -> str:
        return os.path.join(self.root, *rel) if rel else self.root

    def resolve(self, smb_path: str) -> str:
        """Absolute host path for ``smb_path`` (which need not exist, but its parent must),
        always inside the share root; invalid or escaping paths raise :class:`NtStatusError`."""
        look = self._lookup(split_smb_path(smb_path))
        os.close(look.parent_fd)
        if look.name is None:
            return self.root
        return self._host_path(look.parent_rel + (look.name,))

    def volume_stats(self) -> VolumeStats:
        """Sizes from ``statvfs`` and a stable serial number for FILESYSTEM QUERY_INFO."""
        try:
            vfs = os.statvfs(self.root)
            st = os.stat(self.root)
        except OSError as e:
            raise nt_error(e) from e
        return VolumeStats(
            total_bytes=vfs.f_blocks * vfs.f_frsize,
            free_bytes=vfs.f_bfree * vfs.f_frsize,
            caller_free_bytes=vfs.f_bavail * vfs.f_frsize,
            volume_serial=zlib.crc32(os.fsencode(self.root)) & 0xFFFFFFFF,
            creation_time=make_filestat("", st).creation_time,
            volume_label=os.path.basename(self.root)[:32],
        )

    # -- CREATE ------------------------------------------------------------------------------

    def open(
        self,
        smb_path: str,
        *,
        desired_access: int,
        share_access: int,
        create_disposition: int,
        create_options: int,
        file_attributes: int,
        admit: Callable[[OpenFile], None] | None = None,
        maximum_access: int = FILE_ALL_ACCESS,
        admit_name: Callable[[tuple[int, int]], None] | None = None,
    ) -> tuple[OpenFile | streams.StreamOpen, int]:
        """Open or create ``smb_path`` as an SMB2 CREATE does (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1).

        Returns ``(handle, create_action)``. ``share_access`` is not enforced here (see the
        module doc): ``admit(handle)`` runs once the object is open and its access known,
        before an overwrite truncates it or a delete-on-close is checked; what it raises
        fails the open (a file this call created is removed again). ``admit_name(dir)``
        runs before a new name is made in the directory whose (st_dev, st_ino) is ``dir``.
        MAXIMUM_ALLOWED grants at most ``maximum_access`` (what the tree connect allows).
        """
        del share_access  # the server's open-file database decides, through ``admit``
        disposition = create_disposition
        if not FILE_SUPERSEDE <= disposition <= FILE_OVERWRITE_IF:
            raise NtStatusError(STATUS_INVALID_PARAMETER, f"CreateDisposition {disposition}")
        want_dir = bool(create_options & FILE_DIRECTORY_FILE)
        want_file = bool(create_options & FILE_NON_DIRECTORY_FILE)
        delete_on_close = bool(create_options & FILE_DELETE_ON_CLOSE)
        overwriting = disposition in (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)
        if want_dir and want_file:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "both DIRECTORY and NON_DIRECTORY")
        if want_dir and overwriting:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
        access = map_generic_access(desired_access)
        max_allowed = bool(desired_access & MAXIMUM_ALLOWED)
        max_grant = maximum_access & FILE_ALL_ACCESS if max_allowed else 0
        if delete_on_close and not (access & DELETE or max_allowed):
            raise NtStatusError(STATUS_ACCESS_DENIED, "DELETE_ON_CLOSE without DELETE access")
        if self.read_only:
            if disposition not in (FILE_OPEN, FILE_OPEN_IF):
                raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")
            if access & WRITE_LIKE_ACCESS or delete_on_close:
                raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")

        sp = streams.split_stream_path(smb_path)
        if sp.stream is not None or sp.data_suffix:
            if want_dir:
                raise NtStatusError(STATUS_NOT_A_DIRECTORY, "a stream is not a directory")
            if sp.stream is None:  # "name::$DATA" is the file itself, never a directory
                smb_path = sp.base
                want_file = True
            else:
                return self._open_stream(
                    sp,
                    desired_access,
                    create_disposition,
                    create_options,
                    file_attributes,
                    admit,
                    admit_name,
                )
        parts = split_smb_path(smb_path)
        look = self._lookup(parts)
        if look.name is None:  # the share root itself
            return self._open_root_handle(
                look, disposition, want_file, delete_on_close, access, max_grant, admit
            )
        try:
            if look.st is None:
                return self._create_new(
                    look,
                    parts,
                    disposition,
                    want_dir,
                    delete_on_close,
                    access,
                    max_grant,
                    file_attributes,
                    admit,
                    admit_name,
                )
            return self._open_existing(
                look,
                parts,
                disposition,
                want_dir,
                want_file,
                delete_on_close,
                access,
                max_grant,
                overwriting,
                admit,
                file_attributes,
            )
        finally:
            os.close(look.parent_fd)

    def file_key(self, smb_path: str, *, directories: bool = False) -> int | None:
        """The file id (inode) an open of ``smb_path`` would reach when it names an existing
        non-directory (or, with ``directories``, a directory, the share root included),
        else None (missing, or a bad path: ``open`` reports those). CREATE breaks oplocks
        and leases by it before it opens (MS-SMB2 3.3.5.9)."""
        try:
            look = self._lookup(split_smb_path(smb_path))
        except (NtStatusError, OSError, ValueError):
            return None
        try:
            st = look.st
            if look.name is None and directories and st is not None:
                return st.st_ino & 0xFFFFFFFFFFFFFFFF  # the share root
            if (
                look.name is None
                or st is None
                or (stat_mod.S_ISDIR(st.st_mode) and not directories)
            ):
                return None
            if stat_mod.S_ISLNK(st.st_mode):
                try:
                    st = os.stat(look.name, dir_fd=look.parent_fd)
                except OSError:
                    return None
                if stat_mod.S_ISDIR(st.st_mode) and not directories:
                    return None
            return st.st_ino & 0xFFFFFFFFFFFFFFFF
        finally:
            os.close(look.parent_fd)

    def parent_dir_key(self, smb_path: str) -> tuple[int, int] | None:
        """(st_dev, st_ino) of the directory that holds (or would hold) ``smb_path``, a
        ``:stream`` suffix ignored; None when the path is bad or its directory missing."""
        try:
            parts = split_smb_path(streams.split_stream_path(smb_path).base)
            if not parts:
                return None
            look = self._lookup(parts, follow_final=False)
        except (NtStatusError, OSError, ValueError):
            return None
        try:
            st = os.fstat(look.parent_fd)
            return (st.st_dev, st.st_ino)
        finally:
            os.close(look.parent_fd)

    def _open_stream(
        self,
        sp: streams.StreamPath,
        desired_access: int,
        disposition: int,
        create_options: int,
        file_attributes: int,
        admit: Callable | None = None,
        admit_name: Callable[[tuple[int, int]], None] | None = None,
    ) -> tuple[OpenFile | streams.StreamOpen, int]:
        """A named stream: open (or create) its file, then the stream (streams.py); the
        stream's own open is what ``admit`` checks (its share modes, MS-FSA 2.1.1.5)."""
        assert sp.stream is not None
        access = map_generic_access(desired_access)
        base_disposition = FILE_OPEN if disposition in (FILE_OPEN, FILE_OVERWRITE) else FILE_OPEN_IF
        base, _ = self.open(
            sp.base,
            desired_access=(desired_access & ~DELETE) | FILE_READ_ATTRIBUTES,
            share_access=0,
            create_disposition=base_disposition,
            create_options=create_options & ~(FILE_DELETE_ON_CLOSE | FILE_DIRECTORY_FILE),
            file_attributes=file_attributes,
            admit_name=admit_name,
        )
        granted = base.granted_access
        if access & DELETE or desired_access & MAXIMUM_ALLOWED and not self.read_only:
            granted |= DELETE
        return streams.open_stream(
            base,
            sp.stream,
            disposition=disposition,
            granted=granted,
            delete_on_close=bool(create_options & FILE_DELETE_ON_CLOSE),
            admit=admit,
        )

    def _open_root_handle(
        self,
        look: _Lookup,
        disposition: int,
        want_file: bool,
        delete_on_close: bool,
        access: int,
        max_grant: int,
        admit: Callable[[OpenFile], None] | None,
    ) -> tuple[OpenFile, int]:
        fd = look.parent_fd
        try:
            if want_file:
                raise NtStatusError(STATUS_FILE_IS_A_DIRECTORY, "share root")
            if disposition == FILE_CREATE:
                raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, "share root")
            if disposition != FILE_OPEN and disposition != FILE_OPEN_IF:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "cannot overwrite the share root")
            if delete_on_close:
                raise NtStatusError(STATUS_ACCESS_DENIED, "cannot delete the share root")
        except BaseException:
            os.close(fd)
            raise
        granted = self._granted(access, max_grant, writable=not self.read_only)
        st = look.st
        assert st is not None
        handle = OpenFile(self, fd, self.root, "", True, granted, (), (st.st_dev, st.st_ino))
        _admit(handle, admit)
        return handle, FILE_OPENED

    def _granted(self, access: int, max_grant: int, *, writable: bool) -> int:
        """Open.GrantedAccess (MS-FSA 2.1.5.1.2.1): the asked bits, plus for
        MAXIMUM_ALLOWED ``max_grant`` less the data rights of an object that cannot be
        written (a READONLY file keeps DELETE and its attribute and security rights)."""
        access |= max_grant if writable else max_grant & ~READONLY_FILE_DENIED
        if self.read_only:
            access &= ~WRITE_LIKE_ACCESS
        return access & ~MAXIMUM_ALLOWED

    def _create_new(
        self,
        look: _Lookup,
        parts: list[str],
        disposition: int,
        want_dir: bool,
        delete_on_close: bool,
        access: int,
        max_grant: int,
        file_attributes: int,
        admit: Callable[[OpenFile], None] | None,
        admit_name: Callable[[tuple[int, int]], None] | None,
    ) -> tuple[OpenFile, int]:
        if disposition in (FILE_OPEN, FILE_OVERWRITE):
            raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, "no such file")
        if self.read_only:
            raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")
        name = look.name
        assert name is not None
        if delete_on_close and not want_dir and file_attributes & FILE_ATTRIBUTE_READONLY:
            raise NtStatusError(STATUS_CANNOT_DELETE, "read-only file with DELETE_ON_CLOSE")
        pfd = look.parent_fd
        if admit_name is not None:
            try:
                pst = os.fstat(pfd)
            except OSError as e:
                raise nt_error(e) from e
            admit_name((pst.st_dev, pst.st_ino))
        try:
            if want_dir:
                os.mkdir(name, 0o777, dir_fd=pfd)
                fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            else:
                fd = os.open(
                    name, os.O_RDWR | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o666, dir_fd=pfd
                )
        except OSError as e:
            raise nt_error(e) from e
        try:
            st = os.fstat(fd)
            # MS-FSA 2.1.5.1.1: the requested attributes, ARCHIVE for a file; CreationTime
            # is the first LastWriteTime, so both read the same until the first write.
            attrs = file_attributes & SETTABLE_ATTRIBUTES
            if not want_dir:
                attrs |= FILE_ATTRIBUTE_ARCHIVE
            dosattrib.write(fd, DosInfo(attrs, unix_ns_to_filetime(st.st_mtime_ns)))
            if not want_dir and file_attributes & FILE_ATTRIBUTE_READONLY:
                os.fchmod(fd, stat_mod.S_IMODE(st.st_mode) & ~0o222)
        except OSError as e:
            os.close(fd)
            raise nt_error(e) from e
        granted = self._granted(access, max_grant, writable=True)
        rel = look.parent_rel + (name,)
        handle = OpenFile(
            self,
            fd,
            self._host_path(rel),
            "\\".join(parts),
            want_dir,
            granted,
            rel,
            (st.st_dev, st.st_ino),
        )
        if admit is not None:
            try:
                admit(handle)
            except BaseException:
                handle.delete_on_close = True  # undo the creation
                handle.close()
                raise
        handle.delete_on_close = delete_on_close
        return handle, FILE_CREATED

    def _open_existing(
        self,
        look: _Lookup,
        parts: list[str],
        disposition: int,
        want_dir: bool,
        want_file: bool,
        delete_on_close: bool,
        access: int,
        max_grant: int,
        overwriting: bool,
        admit: Callable[[OpenFile], None] | None,
        file_attributes: int = 0,
    ) -> tuple[OpenFile, int]:
        st = look.st
        name = look.name
        assert st is not None and name is not None
        pfd = look.parent_fd
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        if not is_dir and not stat_mod.S_ISREG(st.st_mode):
            raise NtStatusError(STATUS_ACCESS_DENIED, "not a regular file or directory")
        if disposition == FILE_CREATE:
            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, "file exists")
        rel = look.parent_rel + (name,)
        smb_path = "\\".join(parts)
        if is_dir:
            if want_file:
                raise NtStatusError(STATUS_FILE_IS_A_DIRECTORY, smb_path)
            if overwriting:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "cannot overwrite a directory")
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            except OSError as e:
                raise nt_error(e) from e
            handle = self._checked_handle(
                fd,
                st,
                rel,
                smb_path,
                True,
                self._granted(access, max_grant, writable=not self.read_only),
            )
            _admit(handle, admit)
            if delete_on_close:
                try:
                    handle.set_delete_on_close(True)
                except BaseException:
                    handle.close()
                    raise
            return handle, FILE_OPENED

        if want_dir:
            raise NtStatusError(STATUS_NOT_A_DIRECTORY, smb_path)
        dos = dosattrib.read(self._host_path(rel))
        owner_writable = not dosattrib.is_readonly(bool(st.st_mode & stat_mod.S_IWUSR), dos)
        if overwriting and dosattrib.overwrite_denied(dos, file_attributes):
            raise NtStatusError(STATUS_ACCESS_DENIED, "HIDDEN/SYSTEM file overwritten without")
        explicit_write = bool(access & (FILE_WRITE_DATA | FILE_APPEND_DATA))
        if (explicit_write or overwriting) and not owner_writable:
            raise NtStatusError(STATUS_ACCESS_DENIED, "file is read-only")
        if delete_on_close and not owner_writable:
            raise NtStatusError(STATUS_CANNOT_DELETE, "file is read-only")
        try_write = (
            explicit_write
            or overwriting
            or (max_grant & FILE_WRITE_DATA and owner_writable and not self.read_only)
        )
        fd = -1
        writable = False
        try:
            if try_write:
                try:
                    fd = os.open(name, os.O_RDWR | _FILE_FLAGS, dir_fd=pfd)
                    writable = True
                except PermissionError:
                    if explicit_write or overwriting:
                        raise
            if fd < 0:
                try:
                    fd = os.open(name, os.O_RDONLY | _FILE_FLAGS, dir_fd=pfd)
                except PermissionError:
                    # Attribute-only opens of unreadable files still work (fstat, utime by
                    # path are not needed): fall back to an O_PATH descriptor.
                    if not _O_PATH or access & (FILE_READ_DATA | FILE_EXECUTE):
                        raise
                    fd = os.open(name, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=pfd)
        except OSError as e:
            raise nt_error(e) from e
        granted = self._granted(access, max_grant, writable=writable)
        if not writable:
            granted &= ~(FILE_WRITE_DATA | FILE_APPEND_DATA)
        handle = self._checked_handle(fd, st, rel, smb_path, False, granted)
        _admit(handle, admit)
        action = FILE_OPENED
        try:
            if overwriting:
                creation = make_filestat(name, st, dos).creation_time
                os.ftruncate(fd, 0)
                action = FILE_SUPERSEDED if disposition == FILE_SUPERSEDE else FILE_OVERWRITTEN
                # MS-FSA 2.1.5.1.2.1: the new attributes, plus ARCHIVE; CreationTime stays
                attrs = file_attributes & SETTABLE_ATTRIBUTES | FILE_ATTRIBUTE_ARCHIVE
                dosattrib.write(fd, DosInfo(attrs, creation))
                if attrs & FILE_ATTRIBUTE_READONLY:
                    os.fchmod(fd, stat_mod.S_IMODE(os.fstat(fd).st_mode) & ~0o222)
            handle.delete_on_close = delete_on_close
        except OSError as e:
            handle.close()
            raise nt_error(e) from e
        return handle, action

    def _checked_handle(
        self,
        fd: int,
        st: os.stat_result,
        rel: tuple[str, ...],
        smb_path: str,
        is_dir: bool,
        granted: int,
    ) -> OpenFile:
        """Wrap ``fd`` after checking it is the object ``lstat`` saw (no swap in between)."""
        try:
            fst = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise nt_error(e) from e
        expected = stat_mod.S_ISDIR if is_dir else stat_mod.S_ISREG
        if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or not expected(fst.st_mode):
            os.close(fd)
            raise NtStatusError(STATUS_ACCESS_DENIED, "object changed during open")
        return OpenFile(
            self, fd, self._host_path(rel), smb_path, is_dir, granted, rel, (fst.st_dev, fst.st_ino)
        )

    # -- helpers for OpenFile -----------------------------------------------------------------

    def _unlink_if_same(self, rel: tuple[str, ...], dev_ino: tuple[int, int], is_dir: bool) -> None:
        """Delete ``rel`` if it is still the object ``dev_ino`` (delete-on-close)."""
        try:
            pfd = self._open_dir_exact(rel[:-1])
        except NtStatusError:
            log.info("delete-on-close: parent of %s is gone", os.path.join(*rel))
            return
        try:
            st = os.stat(rel[-1], dir_fd=pfd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) != dev_ino:
                log.info("delete-on-close: %s was replaced; not deleting", os.path.join(*rel))
                return
            if is_dir:
                os.rmdir(rel[-1], dir_fd=pfd)
            else:
                os.unlink(rel[-1], dir_fd=pfd)
        except OSError as e:
            log.info("delete-on-close of %s failed: %s", os.path.join(*rel), e)
        finally:
            os.close(pfd)

    def _stat_symlink_target(self, rel: tuple[str, ...]) -> os.stat_result | None:
        """For directory listings: stat of a symlink's target if it stays inside the share."""
        if not self.follow_symlinks:
            return None
        target = os.path.realpath(self._host_path(rel))
        if not self._inside(target):
            return None
        if self.guard is not None and self.guard.path_denied(target):
            return None
        try:
            st = os.stat(target, follow_symlinks=False)
        except OSError:
            return None
        if stat_mod.S_ISDIR(st.st_mode) or stat_mod.S_ISREG(st.st_mode):
            return st
        return None


def _admit(handle: OpenFile, admit: Callable[[OpenFile], None] | None) -> None:
    """Run the caller's admission of a just-opened handle; a refusal closes it."""
    if admit is None:
        return
    try:
        admit(handle)
    except BaseException:
        handle.close()
        raise


@dataclass(slots=True, eq=False)
class OpenFile:
    """One open of a file or directory in a :class:`ShareFS` (MS-SMB2 3.3.1.10 Open).

    ``fd`` is a host descriptor: ``O_RDWR`` / ``O_RDONLY`` for files (``O_PATH`` for
    attribute-only opens of unreadable files), ``O_RDONLY | O_DIRECTORY`` for directories.
    ``granted_access`` is the access mask after generic mapping and MAXIMUM_ALLOWED.
    """

    share: ShareFS
    fd: int
    path: str  # host path
    smb_path: str  # share-relative, backslash separated, "" for the root
    is_directory: bool
    granted_access: int
    _rel: tuple[str, ...]
    _dev_ino: tuple[int, int]
    delete_on_close: bool = False
    closed: bool = False
    #: what tells this open's stream apart in the oplock/lock tables: () for the file data
    stream_key: ClassVar[tuple[str, ...]] = ()
    #: LastWriteTime rules of this open (lanman.smb.server.timestamps)
    times: WriteTimeState = field(default_factory=WriteTimeState)
    _modified: bool = False  # ARCHIVE was set for this open's first data change
    _io_busy: int = 0  # data transfers in flight with the core lock released
    _close_after_io: int = -1  # the descriptor a close left to the last of them

    # -- state --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Host name of the object ("" for the share root)."""
        return self._rel[-1] if self._rel else ""

    @property
    def file_key(self) -> tuple[int, int]:
        """(st_dev, st_ino) of the open object: the server's open-file database key."""
        return self._dev_ino

    def _check_open(self) -> None:
        if self.closed:
            raise NtStatusError(STATUS_FILE_CLOSED, self.smb_path)

    def _check_writable_share(self) -> None:
        if self.share.read_only:
            raise NtStatusError(STATUS_ACCESS_DENIED, "read-only share")

    def _need(self, mask: int, what: str) -> None:
        if not self.granted_access & mask:
            raise NtStatusError(STATUS_ACCESS_DENIED, f"{what} not granted")

    def alternate_name(self) -> str | None:
        """FileAlternateNameInformation: the 8.3 name (None for the share root); it is
        remembered so a CREATE by it finds this name again."""
        self._check_open()
        if not self._rel:
            return None
        name = self._rel[-1]
        try:
            pst = os.stat(os.path.dirname(self.path), follow_symlinks=False)
            self.share.short_names.remember((pst.st_dev, pst.st_ino), name)
        except OSError:
            pass
        return shortnames.short_name(name)

    def stream_entries(self) -> list[tuple[str, int, int]]:
        """``(name, size, allocation)`` of the object's data streams for
        FileStreamInformation: "" the unnamed one (files only), then the named ones."""
        fs = self.stat()
        out = [] if self.is_directory else [("", fs.end_of_file, fs.allocation_size)]
        for name, size in streams.list_streams(self.fd):
            out.append((name, size, (size + _CLUSTER - 1) // _CLUSTER * _CLUSTER))
        return out

    def stat(self) -> FileStat:
        """FileStat of the open object, from ``fstat`` and the DOS record on the handle
        (a delayed LastWriteTime update that is due happens first)."""
        self._check_open()
        try:
            when = self.times.due_update(self.share.clock())
            if when is not None:
                self._set_mtime(when)
            st = os.fstat(self.fd)
        except OSError as e:
            raise nt_error(e) from e
        fs = make_filestat(self.name, st, dosattrib.read(self.fd))
        fs.delete_pending = self.delete_on_close
        return fs

    # -- times and attributes that data changes move -----------------------------------------

    def _set_mtime(self, mtime_ns: int) -> None:
        """Make ``mtime_ns`` the visible LastWriteTime (atime kept)."""
        try:
            st = os.fstat(self.fd)
            os.utime(self.fd, ns=(st.st_atime_ns, mtime_ns))
        except OSError as e:
            log.info("cannot set the write time of %s: %s", self.smb_path, e)

    @property
    def modified(self) -> bool:
        """Data or size changed through this open (its close changes the directory entry)."""
        return self._modified

    def _mark_modified(self) -> None:
        """The first data change through this open sets ARCHIVE (MS-FSA 2.1.5.3)."""
        if self._modified:
            return
        self._modified = True
        dos = dosattrib.read(self.fd)
        if dos is not None and not dos.attributes & FILE_ATTRIBUTE_ARCHIVE:
            dosattrib.write(self.fd, dos.with_attributes(dos.attributes | FILE_ATTRIBUTE_ARCHIVE))

    def _data_changed(self, before: os.stat_result) -> None:
        """After a size change (SET_INFO EndOfFile/Allocation): LastWriteTime becomes now
        unless the client froze it (MS-FSA 2.1.5.14.4), a pending update included."""
        if self.times.frozen:
            self._set_mtime(before.st_mtime_ns)
        else:
            now = self.share.clock()
            self.times.flush_pending(now)
            self._set_mtime(now)
        self._mark_modified()

    def apply_close_times(self) -> None:
        """CLOSE: the LastWriteTime update the writes of this open still owe (timestamps.py)."""
        if self.closed or self.is_directory:
            return
        when = self.times.on_close(self.share.clock())
        if when is not None:
            self._set_mtime(when)

    # -- data path (docs/ARCHITECTURE.md rule 5) -----------------------------------------------------

    @contextmanager
    def _unlocked_io(self) -> Iterator[int]:
        """The descriptor for one data transfer that runs with the server's core lock
        released (a request on a worker thread, :func:`lanman.concurrency.blocking_section`):
        other connections go on meanwhile. A close in that time leaves the descriptor open
        until the transfer is over, so its number is never reused under it (smbd's close
        waits for the file's pending aio alike)."""
        fd = self.fd
        self._io_busy += 1
        try:
            with blocking_section():
                yield fd
        finally:
            self._io_busy -= 1
            if not self._io_busy and self._close_after_io >= 0:
                fd, self._close_after_io = self._close_after_io, -1
                os.close(fd)

    def read_into(self, offset: int, buf: memoryview) -> int:
        """Read up to ``len(buf)`` bytes at ``offset`` into the caller's buffer with
        ``os.preadv`` (no intermediate bytes object). Returns the count, 0 at end of file.
        MS-SMB2 3.3.5.12: needs FILE_READ_DATA or FILE_EXECUTE."""
        if self.closed:
            raise NtStatusError(STATUS_FILE_CLOSED, self.smb_path)
        if self.is_directory:
            raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, "read on a directory")
        if not self.granted_access & (FILE_READ_DATA | FILE_EXECUTE):
            raise NtStatusError(STATUS_ACCESS_DENIED, "read access not granted")
        if offset < 0 or offset > _MAX_I64:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "bad offset")
        if not len(buf):
            return 0
        try:
            with self._unlocked_io() as fd:
                return os.preadv(fd, [buf], offset)
        except OSError as e:
            raise nt_error(e) from e

    def write(self, offset: int, data: memoryview | bytes) -> int:
        """Write ``data`` at ``offset`` with ``os.pwrite`` (MS-SMB2 3.3.5.13).

        ``offset == 0xFFFFFFFFFFFFFFFF``, or an open with FILE_APPEND_DATA but not
        FILE_WRITE_DATA, writes at end of file. Returns the number of bytes written."""
        self._check_open()
        self._check_writable_share()
        if self.is_directory:
            raise NtStatusError(STATUS_INVALID_DEVICE_REQUEST, "write on a directory")
        self._need(FILE_WRITE_DATA | FILE_APPEND_DATA, "write access")
        mv = memoryview(data).cast("B")
        try:
            before = os.fstat(self.fd)
            if offset == APPEND_OFFSET or not self.granted_access & FILE_WRITE_DATA:
                offset = before.st_size
            elif offset < 0 or offset + len(mv) > _MAX_I64:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "bad offset")
            now = self.share.clock()
            due = self.times.due_update(now)
            done = 0
            total = len(mv)
            try:
                with self._unlocked_io() as fd:
                    while done < total:
                        n = os.pwrite(fd, mv[done:], offset + done)
                        if n <= 0:
                            raise OSError(errno.ENOSPC, "No space left on device")
                        done += n
            finally:
                # The visible LastWriteTime moves by the rules of timestamps.py, not by
                # the host's mtime update of every pwrite (a close meanwhile settled it).
                if done and not self.closed:
                    self.times.on_write(now)
                    self._set_mtime(due if due is not None else before.st_mtime_ns)
                    self._mark_modified()
            return done
        except OSError as e:
            raise nt_error(e) from e

    def flush(self) -> None:
        """``fsync`` the object (MS-SMB2 3.3.5.11: files need write access)."""
        self._check_open()
        if not self.is_directory:
            self._need(FILE_WRITE_DATA | FILE_APPEND_DATA, "write access")
        try:
            with self._unlocked_io() as fd:
                os.fsync(fd)
        except OSError as e:
            raise nt_error(e) from e
        if self.closed:
            return
        when = self.times.flush_pending(self.share.clock())
        if when is not None:
            self._set_mtime(when)

    # -- SET_INFO ----------------------------------------------------------------------------

    def _check_size_change(self, n: int) -> None:
        self._check_open()
        self._check_writable_share()
        if self.is_directory:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "directory has no data")
        self._need(FILE_WRITE_DATA, "FILE_WRITE_DATA")
        if n < 0 or n > _MAX_I64:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "bad size")

    def set_end_of_file(self, n: int) -> None:
        """FileEndOfFileInformation (MS-FSCC 2.4.14): truncate or extend to ``n`` bytes."""
        self._check_size_change(n)
        try:
            before = os.fstat(self.fd)
            os.ftruncate(self.fd, n)
        except OSError as e:
            raise nt_error(e) from e
        self._data_changed(before)

    def set_allocation(self, n: int) -> None:
        """FileAllocationInformation (MS-FSCC 2.4.4): an allocation below end of file
        truncates the file (MS-FSA 2.1.5.15.1); growing it is a no-op here."""
        self._check_size_change(n)
        try:
            before = os.fstat(self.fd)
            if n >= before.st_size:
                return
            os.ftruncate(self.fd, n)
        except OSError as e:
            raise nt_error(e) from e
        self._data_changed(before)

    def set_basic_info(
        self, creation: int, last_access: int, last_write: int, change: int, attributes: int
    ) -> None:
        """FileBasicInformation (MS-FSCC 2.4.7, MS-FSA 2.1.5.14.2).

        Time 0 leaves a time unchanged, -1 freezes LastWriteTime for this open and -2 thaws
        it (timestamps.py); a pending delayed write-time update happens first. LastAccessTime
        and LastWriteTime go to the host with ``os.utime(ns=...)``; CreationTime and
        ChangeTime, which a POSIX host cannot set, go to the DOS record (dosattrib.py), as do
        the attributes (0 leaves them, NORMAL clears them). READONLY on a file also clears /
        restores the host write bits.
        """
        self._check_open()
        self._check_writable_share()
        self._need(FILE_WRITE_ATTRIBUTES, "FILE_WRITE_ATTRIBUTES")
        for t in (creation, last_access, last_write, change):
            if t < -2:
                raise NtStatusError(STATUS_INVALID_PARAMETER, "bad time")
        if attributes & FILE_ATTRIBUTE_DIRECTORY and not self.is_directory:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "DIRECTORY attribute on a file")
        if attributes & FILE_ATTRIBUTE_TEMPORARY and self.is_directory:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "TEMPORARY attribute on a directory")
        now = self.share.clock()
        try:
            if not self.is_directory:
                pending = self.times.flush_pending(now)
                if pending is not None:
                    self._set_mtime(pending)
            if last_access > 0 or last_write > 0:
                st = os.fstat(self.fd)
                atime = filetime_to_unix_ns(last_access) if last_access > 0 else st.st_atime_ns
                mtime = filetime_to_unix_ns(last_write) if last_write > 0 else st.st_mtime_ns
                os.utime(self.fd, ns=(atime, mtime))
            self.times.on_set_write_time(last_write)
            old = dosattrib.read(self.fd)
            new = old or DosInfo(0 if self.is_directory else FILE_ATTRIBUTE_ARCHIVE)
            if set_time_value(creation) is not None:
                new = replace(new, creation_time=creation)
            if set_time_value(change) is not None:
                new = replace(new, change_time=change)
            if attributes:
                new = new.with_attributes(attributes)
                if new.attributes != (old.attributes if old else -1) and change <= 0:
                    new = replace(new, change_time=unix_ns_to_filetime(now))
            mode = new_mode = 0
            if attributes and not self.is_directory:
                mode = stat_mod.S_IMODE(os.fstat(self.fd).st_mode)
                if attributes & FILE_ATTRIBUTE_READONLY:
                    new_mode = mode & ~0o222
                else:
                    new_mode = mode | stat_mod.S_IWUSR
            if new_mode != mode and new_mode & stat_mod.S_IWUSR:
                os.fchmod(self.fd, new_mode)  # writable first: the record may need it
            if new != old:
                dosattrib.write(self.fd, new)
            if new_mode != mode and not new_mode & stat_mod.S_IWUSR:
                os.fchmod(self.fd, new_mode)
        except OverflowError as e:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "time out of range") from e
        except OSError as e:
            raise nt_error(e) from e

    def set_delete_on_close(self, flag: bool) -> None:
        """FileDispositionInformation (MS-FSCC 2.4.11, MS-FSA 2.1.5.15.3).

        Needs DELETE access; a read-only share or the share root -> STATUS_ACCESS_DENIED; a
        non-empty directory -> STATUS_DIRECTORY_NOT_EMPTY; a READONLY file ->
        STATUS_CANNOT_DELETE (0xC0000121)."""
        self._check_open()
        if flag:
            self._check_writable_share()
            if not self._rel:
                raise NtStatusError(STATUS_ACCESS_DENIED, "cannot delete the share root")
            self._need(DELETE, "DELETE")
            try:
                if self.is_directory:
                    if self._entries(live=True):
                        raise NtStatusError(STATUS_DIRECTORY_NOT_EMPTY, self.smb_path)
                elif dosattrib.is_readonly(
                    bool(os.fstat(self.fd).st_mode & stat_mod.S_IWUSR), dosattrib.read(self.fd)
                ):
                    raise NtStatusError(STATUS_CANNOT_DELETE, "file is read-only")
            except OSError as e:
                raise nt_error(e) from e
        self.delete_on_close = flag

    def rename(
        self,
        new_smb_path: str,
        replace_if_exists: bool,
        admit: Callable[[tuple[int, int], tuple[int, int] | None], None] | None = None,
    ) -> None:
        """FileRenameInformation (MS-FSCC 2.4.42.2, MS-SMB2 3.3.5.21.1): move the object to
        ``new_smb_path`` (share-relative, same safety rules as CREATE).

        Target exists and ``replace_if_exists`` is false -> STATUS_OBJECT_NAME_COLLISION;
        replacing a directory, or replacing anything with a directory -> STATUS_ACCESS_DENIED.
        Renaming to a different case of the same name is allowed. The no-replace check and
        the rename are two steps (no RENAME_NOREPLACE in CPython). ``admit(target_dir,
        replaced)`` -- the (st_dev, st_ino) of the target's directory and of the other object
        the target name holds (None: none) -- may refuse the rename before anything moves."""
        self._check_open()
        self._check_writable_share()
        if not self._rel:
            raise NtStatusError(STATUS_ACCESS_DENIED, "cannot rename the share root")
        self._need(DELETE, "DELETE")
        parts = split_smb_path(new_smb_path)
        if not parts:
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "cannot rename to the share root")
        share = self.share
        dst = share._lookup(parts, follow_final=False)
        try:
            src_pfd = share._open_dir_exact(self._rel[:-1])
        except BaseException:
            os.close(dst.parent_fd)
            raise
        try:
            src_name = self._rel[-1]
            try:
                sst = os.stat(src_name, dir_fd=src_pfd, follow_symlinks=False)
            except OSError as e:
                raise nt_error(e) from e
            if (sst.st_dev, sst.st_ino) != self._dev_ino:
                raise NtStatusError(STATUS_OBJECT_NAME_NOT_FOUND, "source was replaced")
            new_name = parts[-1]
            dst_name = dst.name
            assert dst_name is not None
            if admit is not None:
                dir_st = os.fstat(dst.parent_fd)
                other = dst.st is not None and (dst.st.st_dev, dst.st.st_ino) != self._dev_ino
                admit(
                    (dir_st.st_dev, dir_st.st_ino),
                    (dst.st.st_dev, dst.st.st_ino) if other and dst.st is not None else None,
                )
            if dst.st is not None and (dst.st.st_dev, dst.st.st_ino) != self._dev_ino:
                if not replace_if_exists:
                    raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, new_smb_path)
                if stat_mod.S_ISDIR(dst.st.st_mode) or self.is_directory:
                    raise NtStatusError(STATUS_ACCESS_DENIED, "cannot replace with directories")
                os.rename(src_name, dst_name, src_dir_fd=src_pfd, dst_dir_fd=dst.parent_fd)
                if dst_name != new_name:  # existing target matched case-insensitively
                    os.rename(
                        dst_name, new_name, src_dir_fd=dst.parent_fd, dst_dir_fd=dst.parent_fd
                    )
            elif dst.st is None or dst_name != new_name or self._rel[:-1] != dst.parent_rel:
                if dst.st is None:
                    # Re-check right before the rename to keep the race window small.
                    try:
                        os.stat(new_name, dir_fd=dst.parent_fd, follow_symlinks=False)
                    except FileNotFoundError:
                        pass
                    else:
                        if not replace_if_exists:
                            raise NtStatusError(STATUS_OBJECT_NAME_COLLISION, new_smb_path)
                os.rename(src_name, new_name, src_dir_fd=src_pfd, dst_dir_fd=dst.parent_fd)
            self._rel = dst.parent_rel + (new_name,)
            self.path = share._host_path(self._rel)
            self.smb_path = "\\".join(parts)
        except OSError as e:
            raise nt_error(e) from e
        finally:
            os.close(src_pfd)
            os.close(dst.parent_fd)

    # -- QUERY_DIRECTORY ---------------------------------------------------------------------

    def still_present(self, entries: list[FileStat]) -> list[FileStat]:
        """The ``entries`` of an enumeration in progress that this directory still holds:
        a name removed since the scan began is not returned later (as NTFS enumerates;
        smbtorture smb2.dir.fixed). ``.`` and ``..`` always stay."""
        kept = []
        for e in entries:
            if e.name not in (".", ".."):
                try:
                    os.stat(e.name, dir_fd=self.fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError:
                    pass  # cannot tell: keep it
            kept.append(e)
        return kept

    def list_directory(self, pattern: str) -> list[FileStat]:
        """Entries of this directory that match ``pattern`` (MS-SMB2 3.3.5.18, MS-FSA 2.1.4.4).

        ``*``, ``?`` and the DOS wildcards ``< > "`` match case-insensitively; a pattern
        without wildcards names one entry (exact, else case-insensitive). ``.`` and ``..`` come
        first when the pattern matches them (``..`` of the share root is the root itself).
        Host names that SMB clients could not open (see
        :func:`lanman.smb.server.fs_paths.component_error`) and symlinks that lead outside the
        share or nowhere are left out. Other entries are sorted case-insensitively."""
        self._check_open()
        if not self.is_directory:
            raise NtStatusError(STATUS_INVALID_PARAMETER, "not a directory")
        if not pattern:
            pattern = "*"
        if len(pattern) > MAX_COMPONENT_CHARS or any(c in pattern for c in "\\/:|\x00"):
            raise NtStatusError(STATUS_OBJECT_NAME_INVALID, "bad search pattern")
        out: list[FileStat] = []
        try:
            if pattern_matches(pattern, "."):
                out.append(make_filestat(".", os.fstat(self.fd), dosattrib.read(self.fd)))
            if pattern_matches(pattern, ".."):
                if self._rel:
                    parent = os.stat("..", dir_fd=self.fd, follow_symlinks=False)
                    pdos = dosattrib.read(os.path.dirname(self.path))
                else:
                    parent = os.fstat(self.fd)
                    pdos = dosattrib.read(self.fd)
                out.append(make_filestat("..", parent, pdos))
            if not has_wildcards(pattern):
                if component_error(pattern) is None:
                    name, st = self.share._find(self.fd, pattern)
                    guard = self.share.guard
                    if (
                        guard is not None
                        and name != SHARES_SUBDIR
                        and guard.is_home(os.fstat(self.fd))
                    ):
                        st = None
                    entry = self._entry(name, st)
                    if entry is not None:
                        out.append(entry)
                return out
            found: list[FileStat] = []
            guard = self.share.guard
            only_shares = guard is not None and guard.is_home(os.fstat(self.fd))
            with os.scandir(self.fd) as it:
                for de in it:
                    name = de.name
                    if only_shares and name != SHARES_SUBDIR:
                        continue
                    if not is_valid_component(name) or not pattern_matches(pattern, name):
                        continue
                    try:
                        st = de.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entry = self._entry(name, st)
                    if entry is not None:
                        found.append(entry)
        except OSError as e:
            raise nt_error(e) from e
        found.sort(key=lambda f: (f.name.casefold(), f.name))
        out.extend(found)
        return out

    def _entry(self, name: str, st: os.stat_result | None) -> FileStat | None:
        if st is None:
            return None
        dos = None
        if stat_mod.S_ISLNK(st.st_mode):
            st = self.share._stat_symlink_target(self._rel + (name,))
            if st is None:
                return None
        elif not (stat_mod.S_ISREG(st.st_mode) or stat_mod.S_ISDIR(st.st_mode)):
            return None
        else:
            dos = dosattrib.read(os.path.join(self.path, name))
        fs = make_filestat(name, st, dos)
        fs.short_name = shortnames.listing_short_name(name)
        return fs

    def _entries(self, *, live: bool) -> list[tuple[str, bool]]:
        """``(name, is_dir)`` of this directory's entries that are not delete-pending
        (``live``; stops at the first) or that are (all of them)."""
        out: list[tuple[str, bool]] = []
        with os.scandir(self.fd) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if self.share.delete_pending((st.st_dev, st.st_ino)) != live:
                    out.append((entry.name, stat_mod.S_ISDIR(st.st_mode)))
                    if live:
                        break
        return out

    def _remove_pending_children(self) -> None:
        """Before this directory goes: its delete-pending entries go first (their opens
        keep working on their descriptors; their own close finds them gone)."""
        try:
            for name, is_dir in self._entries(live=False):
                try:
                    if is_dir:
                        os.rmdir(name, dir_fd=self.fd)
                    else:
                        os.unlink(name, dir_fd=self.fd)
                except OSError as e:
                    log.info("delete-pending %s below %s: %s", name, self.smb_path, e)
        except OSError as e:
            log.info("listing %s before its deletion: %s", self.smb_path, e)

    # -- CLOSE -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the handle; performs a pending delete-on-close first. Idempotent."""
        if self.closed:
            return
        self.apply_close_times()
        self.closed = True
        fd = self.fd
        try:
            if self.delete_on_close and self._rel and not self.share.read_only:
                if self.is_directory:
                    self._remove_pending_children()
                self.fd = -1
                self.share._unlink_if_same(self._rel, self._dev_ino, self.is_directory)
        finally:
            self.fd = -1
            if self._io_busy:  # a transfer on another thread still uses it
                self._close_after_io = fd
            else:
                os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
