"""Changes made on the host's disk, for CHANGE_NOTIFY: a :class:`notify.ChangeSource` over
Linux inotify(7), read on the event loop (the I/O half of ``notify.py``). The same
descriptor watches the directories that hold leases (dirleases.py): an entry added,
removed, renamed, its attributes changed or a file closed after writing on the host breaks
them, as the server's own changes do.

Each watched directory (and, for SMB2_WATCH_TREE, its subdirectories, up to a bound) gets an
inotify watch; events become FILE_NOTIFY_INFORMATION changes through
:meth:`NotifyHub.report_external` under the core lock. inotify reports nothing for the
changes of other hosts (NFS) and is not recursive: both as on Samba with inotify.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager

from lanman.concurrency import blocking_section

from .fs_paths import is_valid_component
from .notify import (
    FILE_ACTION_ADDED,
    FILE_ACTION_MODIFIED,
    FILE_ACTION_REMOVED,
    FILE_ACTION_RENAMED_NEW_NAME,
    FILE_ACTION_RENAMED_OLD_NAME,
    FILE_NOTIFY_CHANGE_ATTRIBUTES,
    FILE_NOTIFY_CHANGE_LAST_WRITE,
    FILE_NOTIFY_CHANGE_SECURITY,
    FILE_NOTIFY_CHANGE_SIZE,
    NotifyHub,
    Watch,
    name_filter,
)

log = logging.getLogger(__name__)

# inotify(7) event bits
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE  # for directory leases: a file written on the host is settled
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then the NUL-padded name)
#: what changes a leased directory's listing (a write does at its close, IN_CLOSE_WRITE)
_LEASE_EVENTS = IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE

#: inotify watches one server holds, all watched directories together
MAX_INOTIFY_WATCHES = 8192
#: subdirectories one WATCH_TREE watch adds
MAX_TREE_DIRS = 1024

#: inotify bit -> (action, filter of the change; None: the object's name filter)
_SIMPLE = {
    IN_CREATE: (FILE_ACTION_ADDED, None),
    IN_DELETE: (FILE_ACTION_REMOVED, None),
    IN_MODIFY: (FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE),
    IN_ATTRIB: (
        FILE_ACTION_MODIFIED,
        FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SECURITY,
    ),
}


def parse_events(buf: bytes) -> list[tuple[int, int, int, str]]:
    """(wd, mask, cookie, name) of each inotify_event in ``buf``."""
    out, pos = [], 0
    while pos + _EVENT.size <= len(buf):
        wd, mask, cookie, n = _EVENT.unpack_from(buf, pos)
        raw = buf[pos + _EVENT.size : pos + _EVENT.size + n].split(b"\x00", 1)[0]
        out.append((wd, mask, cookie, os.fsdecode(raw)))
        pos += _EVENT.size + n
    return out


class InotifySource:
    """inotify watches for the hub's watches, by host directory (shared, counted)."""

    def __init__(self, hub: NotifyHub, lock: AbstractContextManager, loop) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm_watch = libc.inotify_rm_watch
        self._rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.fd = fd
        self.hub = hub
        self.lock = lock
        self.loop = loop
        #: wd -> {(id(watch), path of that directory below the watch's, "" itself): watch}
        self._users: dict[int, dict[tuple[int, str], Watch]] = {}
        self._held: dict[int, list[tuple[int, tuple[int, str]]]] = {}  # id(watch) -> uses
        self._count = 0  # entries in _held, all watches together
        #: directory leases (dirleases.py): wd -> {directory key: host path}, and back
        self._leased: dict[int, dict[tuple, str]] = {}
        self._lease_wd: dict[tuple, int] = {}
        #: the server's lease table, whose leases the host's changes break
        self.oplocks = None
        self.clock = None  # -> FILETIME now (set with oplocks)
        loop.add_reader(fd, self._readable)

    # -- ChangeSource ------------------------------------------------------------------

    def add(self, watch: Watch) -> None:
        self._held.setdefault(id(watch), [])
        self._use(watch, watch.host_path, "")
        if watch.recursive:
            with blocking_section():  # the walk only reads the disk: others go on meanwhile
                below = list(self._subdirs(watch.host_path))
            if self.hub.get(watch.owner, watch.open_id) is not watch:
                return  # the handle closed meanwhile (its connection was lost)
            for host, rel in below:
                self._use(watch, host, rel)

    def remove(self, watch: Watch) -> None:
        uses = self._held.pop(id(watch), [])
        self._count -= len(uses)
        for wd, key in uses:
            users = self._users.get(wd)
            if users is None:
                continue
            users.pop(key, None)
            if not users:
                del self._users[wd]
                if wd not in self._leased:
                    self._rm_watch(self.fd, wd)

    # -- directory leases ------------------------------------------------------------------

    def watch_directory_lease(self, key: tuple, host_path: str) -> None:
        """Watch the directory of a new lease (once per directory key)."""
        if key in self._lease_wd or self.fd < 0 or self._count >= MAX_INOTIFY_WATCHES:
            return
        wd = self._add_watch(self.fd, os.fsencode(host_path), _MASK)
        if wd < 0:
            return
        self._leased.setdefault(wd, {})[key] = host_path
        self._lease_wd[key] = wd
        self._count += 1

    def unwatch_directory_lease(self, key: tuple) -> None:
        """The directory's last lease ended (OplockTable.directory_lease_ended)."""
        wd = self._lease_wd.pop(key, None)
        if wd is None:
            return
        self._count -= 1
        keys = self._leased.get(wd, {})
        keys.pop(key, None)
        if not keys:
            self._leased.pop(wd, None)
            if wd not in self._users and self.fd >= 0:
                self._rm_watch(self.fd, wd)

    def _lease_event(self, wd: int, mask: int, name: str) -> None:
        table, leased = self.oplocks, self._leased.get(wd)
        if table is None or not leased or not mask & (_LEASE_EVENTS | IN_DELETE_SELF):
            return
        now = self.clock()
        for key, host in list(leased.items()):
            if mask & IN_DELETE_SELF:
                table.break_parent(key, None, now)  # the directory itself went
            elif name:
                table.external_change(key, host, name, now)

    def close(self) -> None:
        if self.fd < 0:
            return
        if self.hub.source is self:
            self.hub.source = None
        self.loop.remove_reader(self.fd)
        os.close(self.fd)
        self.fd = -1
        self._users.clear()
        self._held.clear()
        self._leased.clear()
        self._lease_wd.clear()
        self._count = 0

    # -- watches -----------------------------------------------------------------------

    def _use(self, watch: Watch, host: str, rel: str) -> None:
        if self._count >= MAX_INOTIFY_WATCHES:
            return
        wd = self._add_watch(self.fd, os.fsencode(host), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                log.info("inotify_add_watch %s: %s", host, os.strerror(err))
            return
        key = (id(watch), rel)
        self._users.setdefault(wd, {})[key] = watch
        self._held.setdefault(id(watch), []).append((wd, key))
        self._count += 1

    @staticmethod
    def _subdirs(host: str) -> Iterable[tuple[str, str]]:
        """(host path, relative SMB path) of the subdirectories below ``host`` (no symlinks
        followed), breadth first, bounded."""
        todo, n = [(host, "")], 0
        while todo and n < MAX_TREE_DIRS:
            h, s = todo.pop(0)
            try:
                with os.scandir(h) as it:
                    entries = [e for e in it if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            for e in entries:
                if not is_valid_component(e.name) or n >= MAX_TREE_DIRS:
                    continue
                child = (e.path, _join(s, e.name))
                n += 1
                todo.append(child)
                yield child

    # -- events ------------------------------------------------------------------------

    def _readable(self) -> None:
        chunks = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError as e:
                log.warning("inotify read: %s", e)
                break
            if not data:
                break
            chunks.append(data)
        if chunks:
            with self.lock:
                self.dispatch(parse_events(b"".join(chunks)))

    def dispatch(self, events: list[tuple[int, int, int, str]]) -> None:
        """Turn one batch of events into changes (a move pairs by cookie in the batch)."""
        hub = self.hub
        moved_from: dict[int, tuple[int, str, bool]] = {}
        for wd, mask, cookie, name in events:
            if mask & IN_Q_OVERFLOW:
                hub.overflow_all()
                for keys in list(self._leased.values()):  # lost changes: nothing cached holds
                    for key in list(keys):
                        if self.oplocks is not None:
                            self.oplocks.break_parent(key, None, self.clock())
                continue
            if wd in self._leased:
                if mask & IN_IGNORED:
                    for key in self._leased.pop(wd):
                        self._lease_wd.pop(key, None)
                        self._count -= 1
                else:
                    self._lease_event(wd, mask, name)
            users = self._users.get(wd)
            if not users:
                continue
            if mask & IN_IGNORED:  # the kernel dropped the watch (directory gone)
                del self._users[wd]
                continue
            if mask & IN_DELETE_SELF:
                for (_, rel), w in list(users.items()):
                    hub.directory_removed(w.root, _join(w.dir_path, rel))
                continue
            if not name or not is_valid_component(name):
                continue
            is_dir = bool(mask & IN_ISDIR)
            if mask & IN_MOVED_FROM:
                moved_from[cookie] = (wd, name, is_dir)
                continue
            if mask & IN_MOVED_TO:
                src = moved_from.pop(cookie, None)
                if src is not None and src[0] == wd:
                    self._report(wd, src[1], FILE_ACTION_RENAMED_OLD_NAME, name_filter(is_dir))
                    self._report(wd, name, FILE_ACTION_RENAMED_NEW_NAME, name_filter(is_dir))
                    continue
                if src is not None:
                    self._report(src[0], src[1], FILE_ACTION_REMOVED, name_filter(is_dir))
                self._report(wd, name, FILE_ACTION_ADDED, name_filter(is_dir))
                self._new_dir(wd, name, is_dir)
                continue
            for bit, (action, filt) in _SIMPLE.items():
                if mask & bit:
                    self._report(wd, name, action, name_filter(is_dir) if filt is None else filt)
            if mask & IN_CREATE:
                self._new_dir(wd, name, is_dir)
        for wd, name, is_dir in moved_from.values():  # moved out of every watched place
            self._report(wd, name, FILE_ACTION_REMOVED, name_filter(is_dir))

    def _report(self, wd: int, name: str, action: int, filt: int) -> None:
        for (_, rel), w in list(self._users.get(wd, {}).items()):
            self.hub.report_external(w.root, _join(w.dir_path, rel, name), action, filt)

    def _new_dir(self, wd: int, name: str, is_dir: bool) -> None:
        """A directory appeared under a WATCH_TREE watch: watch it too."""
        if not is_dir:
            return
        for (_, rel), w in list(self._users.get(wd, {}).items()):
            if w.recursive:
                host = os.path.join(w.host_path, *rel.split("\\"), name)
                self._use(w, host, _join(rel, name))


def _join(*parts: str) -> str:
    return "\\".join(p for p in parts if p)


def attach_inotify(
    hub: NotifyHub, lock: AbstractContextManager, loop, oplocks=None, clock=None
) -> InotifySource | None:
    """Give ``hub`` an inotify source (None where inotify is missing: only the server's
    own changes are reported then); with ``oplocks`` (and ``clock``, FILETIME now) it
    also watches the directories that hold leases."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        source = InotifySource(hub, lock, loop)
    except (OSError, AttributeError) as e:
        log.warning("no inotify, CHANGE_NOTIFY reports the server's own changes only: %s", e)
        return None
    hub.source = source
    if oplocks is not None:
        source.oplocks, source.clock = oplocks, clock
        oplocks.directory_lease_ended = source.unwatch_directory_lease
    return source
