"""Directory change notification, sans-IO (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.10 / 2.1.4.1).

A :class:`NotifyHub` is shared by every connection of a server (``ServerContext.notify``).
An open directory gets a :class:`Watch` at its first CHANGE_NOTIFY: CompletionFilter,
SMB2_WATCH_TREE and the buffer size are fixed from that request until the handle closes,
as Windows does (smbtorture smb2.notify.mask-change, valid-req). From then on every
change the server's own operations report (any connection) is buffered per watch as
FILE_NOTIFY_INFORMATION entries (MS-FSCC 2.7.1), and completes the oldest CHANGE_NOTIFY
waiting on that open. Changes that no longer fit the watch's buffer (or the connection's
byte budget) turn into STATUS_NOTIFY_ENUM_DIR: the client rescans the directory.

The core takes the server's own changes in through :meth:`NotifyHub.report`. Changes made
on the host's disk come from a :class:`ChangeSource` the service layer attaches
(``notify_inotify.py``): it is told which directories are watched and feeds
:meth:`NotifyHub.report_external`, which drops what the server itself reported a moment
before (inotify sees the server's own writes too).

The ``on_*`` functions are the hooks of ``files.py``: one call per operation.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import FILE_READ_DATA
from lanman.smb.wire.query import pack_output_response

if TYPE_CHECKING:
    from .request import PendingAsync, Reply, Request
    from .state import Open

# CompletionFilter bits (MS-SMB2 2.2.35, MS-FSCC 2.7.1 / MS-FSA 2.1.5.10).
FILE_NOTIFY_CHANGE_FILE_NAME = 0x00000001
FILE_NOTIFY_CHANGE_DIR_NAME = 0x00000002
FILE_NOTIFY_CHANGE_ATTRIBUTES = 0x00000004
FILE_NOTIFY_CHANGE_SIZE = 0x00000008
FILE_NOTIFY_CHANGE_LAST_WRITE = 0x00000010
FILE_NOTIFY_CHANGE_LAST_ACCESS = 0x00000020
FILE_NOTIFY_CHANGE_CREATION = 0x00000040
FILE_NOTIFY_CHANGE_EA = 0x00000080
FILE_NOTIFY_CHANGE_SECURITY = 0x00000100
FILE_NOTIFY_CHANGE_STREAM_NAME = 0x00000200
FILE_NOTIFY_CHANGE_STREAM_SIZE = 0x00000400
FILE_NOTIFY_CHANGE_STREAM_WRITE = 0x00000800

# FILE_NOTIFY_INFORMATION.Action (MS-FSCC 2.7.1).
FILE_ACTION_ADDED = 0x00000001
FILE_ACTION_REMOVED = 0x00000002
FILE_ACTION_MODIFIED = 0x00000003
FILE_ACTION_RENAMED_OLD_NAME = 0x00000004
FILE_ACTION_RENAMED_NEW_NAME = 0x00000005

#: CHANGE_NOTIFY Flags (MS-SMB2 2.2.35)
SMB2_WATCH_TREE = 0x0001

#: CREATE's CreateAction (MS-SMB2 2.2.14) -> the change it makes, per object kind
_CREATE_ACTION_FILTER = {
    2: None,  # FILE_CREATED: ADDED, FILE_NAME / DIR_NAME
    0: FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE,  # FILE_SUPERSEDED
    3: FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE,  # FILE_OVERWRITTEN
}

#: Bytes of buffered changes one connection may make the server hold, all watches together.
MAX_BUFFERED_PER_CONNECTION = 1 << 20
#: Largest buffer of one watch, whatever the first request's OutputBufferLength.
MAX_WATCH_BUFFER = 64 * 1024
#: Seconds during which a change seen on the disk is taken for the server's own report.
OWN_CHANGE_WINDOW = 2.0
#: Own changes remembered for that (the oldest are forgotten first).
MAX_OWN_CHANGES = 4096

#: action -> its kind, for matching a disk event with the server's own report: a rename
#: seen on the disk may pair differently than the server reported it.
_ACTION_KIND = {
    FILE_ACTION_ADDED: FILE_ACTION_ADDED,
    FILE_ACTION_RENAMED_NEW_NAME: FILE_ACTION_ADDED,
    FILE_ACTION_REMOVED: FILE_ACTION_REMOVED,
    FILE_ACTION_RENAMED_OLD_NAME: FILE_ACTION_REMOVED,
    FILE_ACTION_MODIFIED: FILE_ACTION_MODIFIED,
}


class ChangeSource(Protocol):
    """Where changes made outside the server come from (the service layer's watcher)."""

    def add(self, watch: Watch) -> None: ...

    def remove(self, watch: Watch) -> None: ...


def name_filter(is_directory: bool) -> int:
    return FILE_NOTIFY_CHANGE_DIR_NAME if is_directory else FILE_NOTIFY_CHANGE_FILE_NAME


def _entry_size(name: str) -> int:
    """FILE_NOTIFY_INFORMATION of ``name``, padded to 4 bytes as entries are chained."""
    n = 12 + len(name.encode("utf-16-le"))
    return (n + 3) & ~3


def encode_changes(changes: list[tuple[int, str]]) -> bytes:
    """MS-FSCC 2.7.1: FILE_NOTIFY_INFORMATION entries, each 4-byte aligned, the last with
    NextEntryOffset 0."""
    out = bytearray()
    for i, (action, name) in enumerate(changes):
        raw = name.encode("utf-16-le")
        size = 12 + len(raw)
        pad = (-size) & 3 if i < len(changes) - 1 else 0
        nxt = size + pad if i < len(changes) - 1 else 0
        out += nxt.to_bytes(4, "little") + action.to_bytes(4, "little")
        out += len(raw).to_bytes(4, "little") + raw + b"\x00" * pad
    return bytes(out)


def _key(parts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.casefold() for p in parts)


def _split(smb_path: str) -> list[str]:
    return [p for p in smb_path.replace("/", "\\").split("\\") if p]


@dataclass(slots=True, eq=False)
class Watch:
    """The notify state of one open directory (MS-FSA 2.1.1.12 Open's change list)."""

    owner: Any  # the ServerConnection holding the open
    open_id: int
    root: str
    key: tuple[str, ...]
    dir_path: str  # share-relative path of the directory, as opened
    host_path: str  # the directory on the host (for a ChangeSource)
    completion_filter: int
    recursive: bool
    capacity: int  # the first CHANGE_NOTIFY's OutputBufferLength (bounded)
    changes: list[tuple[int, str]] = field(default_factory=list)
    size: int = 0  # encoded bytes of ``changes``
    overflow: bool = False  # changes were lost: the next completion is NOTIFY_ENUM_DIR
    deleted: bool = False  # the directory itself was removed: STATUS_DELETE_PENDING

    def take(self, max_length: int) -> tuple[int, bytes]:
        """Empty the buffer into one CHANGE_NOTIFY completion (status, output)."""
        status, data = st.STATUS_SUCCESS, b""
        if self.overflow or self.size > max_length:
            status = st.STATUS_NOTIFY_ENUM_DIR
        else:
            data = encode_changes(self.changes)
        self.changes, self.size, self.overflow = [], 0, False
        return status, data

    @property
    def ready(self) -> bool:
        return bool(self.changes) or self.overflow


class NotifyHub:
    """Every watch of the server, by share root and directory (case-insensitive)."""

    def __init__(
        self,
        max_per_connection: int = MAX_BUFFERED_PER_CONNECTION,
        max_watch_buffer: int = MAX_WATCH_BUFFER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.source: ChangeSource | None = None
        #: (root, key) -> {action kind: when the server reported it} (only with a source)
        self._own: OrderedDict[tuple, dict[int, float]] = OrderedDict()
        self._dirs: dict[str, dict[tuple[str, ...], list[Watch]]] = {}
        self._by_open: dict[tuple[int, int], Watch] = {}
        self._bytes: dict[int, int] = {}  # conn_id -> buffered bytes
        #: (conn_id, open_id) of file opens that renamed their file: the close reports the
        #: attribute change of the rename (Windows sets FILE_ATTRIBUTE_ARCHIVE then)
        self.renamed: set[tuple[int, int]] = set()
        self.max_per_connection = max_per_connection
        self.max_watch_buffer = max_watch_buffer

    # -- watches -----------------------------------------------------------------------

    def get(self, owner: Any, open_id: int) -> Watch | None:
        return self._by_open.get((owner.conn_id, open_id))

    def watch(
        self,
        owner: Any,
        open_id: int,
        root: str,
        dir_path: str,
        host_path: str,
        completion_filter: int,
        recursive: bool,
        capacity: int,
    ) -> Watch:
        """The open's watch; made at its first CHANGE_NOTIFY, whose settings it keeps."""
        w = self.get(owner, open_id)
        if w is not None:
            return w
        w = Watch(
            owner,
            open_id,
            root,
            _key(_split(dir_path)),
            dir_path,
            host_path,
            completion_filter,
            recursive,
            min(capacity, self.max_watch_buffer),
        )
        self._by_open[(owner.conn_id, open_id)] = w
        self._dirs.setdefault(root, {}).setdefault(w.key, []).append(w)
        if self.source is not None:
            self.source.add(w)
        return w

    def unwatch(self, owner: Any, open_id: int) -> None:
        w = self._by_open.pop((owner.conn_id, open_id), None)
        if w is None:
            return
        if self.source is not None:
            self.source.remove(w)
        self._account(w, -w.size)
        by_key = self._dirs.get(w.root, {})
        lst = by_key.get(w.key, [])
        if w in lst:
            lst.remove(w)
        if not lst:
            by_key.pop(w.key, None)
        if not by_key:
            self._dirs.pop(w.root, None)

    def drop_connection(self, owner: Any) -> None:
        """The connection is gone: its watches end, even of opens kept for a reconnect
        (a durable handle's notify state does not survive, as on Windows)."""
        for _cid, vid in [k for k in self._by_open if k[0] == owner.conn_id]:
            self.unwatch(owner, vid)
        self._bytes.pop(owner.conn_id, None)
        self.renamed = {k for k in self.renamed if k[0] != owner.conn_id}

    def __len__(self) -> int:
        return len(self._by_open)

    def buffered_bytes(self, owner: Any) -> int:
        return self._bytes.get(owner.conn_id, 0)

    def _account(self, w: Watch, delta: int) -> None:
        cid = w.owner.conn_id
        total = self._bytes.get(cid, 0) + delta
        if total > 0:
            self._bytes[cid] = total
        else:
            self._bytes.pop(cid, None)

    # -- changes -----------------------------------------------------------------------

    def _watchers(self, root: str, parts: list[str]) -> Iterator[tuple[Watch, str]]:
        """(watch, name relative to its directory) for the object at ``parts``: watches of
        its parent, and WATCH_TREE watches of every ancestor. A directory never sees its
        own changes (smbtorture smb2.notify.basedir)."""
        by_key = self._dirs.get(root)
        if not by_key or not parts:
            return
        key = _key(parts)
        for depth in range(len(parts) - 1, -1, -1):
            for w in by_key.get(key[:depth], ()):
                if depth == len(parts) - 1 or w.recursive:
                    yield w, "\\".join(parts[depth:])

    def report(self, root: str, smb_path: str, action: int, completion_filter: int) -> None:
        """One change of the object at ``smb_path`` (share-relative) in the share at
        ``root``: buffered on every watch whose filter has one of ``completion_filter``'s
        bits, then each such watch completes a waiting CHANGE_NOTIFY."""
        if root not in self._dirs:
            return
        if self.source is not None:
            self._remember(root, smb_path, action)
        self._deliver(root, smb_path, action, completion_filter)

    def report_external(
        self, root: str, smb_path: str, action: int, completion_filter: int
    ) -> None:
        """A change seen on the host's disk: reported unless the server itself reported
        the same kind of change of the same object within :data:`OWN_CHANGE_WINDOW` (for a
        modification: any change of it, as the server's create or rename also touches
        its metadata)."""
        if root not in self._dirs:
            return
        seen = self._own.get((root, _key(_split(smb_path))), {})
        now = self.clock()
        kind = _ACTION_KIND.get(action)
        times = seen.values() if kind == FILE_ACTION_MODIFIED else [seen.get(kind)]
        if any(t is not None and now - t <= OWN_CHANGE_WINDOW for t in times):
            return
        self._deliver(root, smb_path, action, completion_filter)

    def overflow_all(self) -> None:
        """The change source lost events: every watch answers STATUS_NOTIFY_ENUM_DIR."""
        for w in list(self._by_open.values()):
            self._account(w, -w.size)
            w.changes, w.size, w.overflow = [], 0, True
            complete_waiting(w)

    def _remember(self, root: str, smb_path: str, action: int) -> None:
        k = (root, _key(_split(smb_path)))
        seen = self._own.pop(k, None) or {}
        seen[_ACTION_KIND.get(action, action)] = self.clock()
        self._own[k] = seen
        while len(self._own) > MAX_OWN_CHANGES:
            self._own.popitem(last=False)

    def _deliver(self, root: str, smb_path: str, action: int, completion_filter: int) -> None:
        touched = []
        for w, name in self._watchers(root, _split(smb_path)):
            if w.completion_filter & completion_filter and self._add(w, action, name):
                touched.append(w)
        for w in touched:
            complete_waiting(w)

    def _add(self, w: Watch, action: int, name: str) -> bool:
        if w.overflow:
            return True
        if w.changes and w.changes[-1] == (action, name):
            return False  # the same change again: reported once
        n = _entry_size(name)
        if w.size + n > w.capacity or self.buffered_bytes(w.owner) + n > self.max_per_connection:
            self._account(w, -w.size)
            w.changes, w.size, w.overflow = [], 0, True
            return True
        w.changes.append((action, name))
        w.size += n
        self._account(w, n)
        return True

    def drain(self, w: Watch, max_length: int) -> tuple[int, bytes]:
        self._account(w, -w.size)
        return w.take(max_length)

    def directory_moved(self, root: str, old_path: str, new_path: str, new_host: str) -> None:
        """A directory was renamed: the watches on it and below it follow (a watch is on
        the open directory, whatever its name)."""
        by_key = self._dirs.get(root)
        if not by_key:
            return
        old, new = _key(_split(old_path)), _split(new_path)
        for key in [k for k in by_key if k[: len(old)] == old]:
            for w in by_key.pop(key):
                rest = _split(w.dir_path)[len(old) :]
                w.key = _key(new) + key[len(old) :]
                w.dir_path = "\\".join(new + rest)
                tail = w.host_path.split(os.sep)[len(w.host_path.split(os.sep)) - len(rest) :]
                w.host_path = os.path.join(new_host, *tail) if rest else new_host
                by_key.setdefault(w.key, []).append(w)

    def directory_removed(self, root: str, smb_path: str) -> None:
        """The watched directory itself is gone or delete-pending: what waits on it
        completes with STATUS_DELETE_PENDING, and so does every later request (MS-FSA
        2.1.5.4; smbtorture smb2.notify.rmdir1-4)."""
        for w in list(self._dirs.get(root, {}).get(_key(_split(smb_path)), ())):
            w.deleted = True
            self._account(w, -w.size)
            w.changes, w.size = [], 0
            for p in _waiting(w):
                w.owner.complete_async(p, st.STATUS_DELETE_PENDING)


def _waiting(w: Watch) -> list[PendingAsync]:
    """The CHANGE_NOTIFY requests pending on the watch's open, oldest first."""
    return sorted(
        (p for p in w.owner.pending.values() if p.kind == "notify" and p.open_id == w.open_id),
        key=lambda p: p.async_id,
    )


def complete_waiting(w: Watch) -> None:
    """Complete the oldest CHANGE_NOTIFY pending on the watch's open with its buffer."""
    waiting = _waiting(w)
    if not waiting or not w.ready:
        return
    p = waiting[0]
    conn = w.owner
    status, data = conn.ctx.notify.drain(w, p.max_length)
    conn.complete_async(p, status, [pack_output_response(data)])


# ---- the CHANGE_NOTIFY request (MS-SMB2 3.3.5.19) ----------------------------------------


def change_notify(conn: Any, req: Request, r: Any, open_: Open) -> Reply:
    """Answer from the open's buffered changes at once, else go async (STATUS_PENDING)."""
    if open_.kind != "dir":
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "CHANGE_NOTIFY on a file")
    if r.output_buffer_length > conn.max_transact_size:
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "OutputBufferLength above MaxTransact")
    if not open_.granted_access & FILE_READ_DATA:  # FILE_LIST_DIRECTORY (MS-FSA 2.1.5.10)
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "CHANGE_NOTIFY without FILE_LIST_DIRECTORY")
    hub: NotifyHub = conn.ctx.notify
    h = open_.handle
    w = hub.watch(
        conn,
        open_.volatile_id,
        h.share.root,
        h.smb_path,
        h.path,
        r.completion_filter,
        bool(r.flags & SMB2_WATCH_TREE),
        r.output_buffer_length,
    )
    if w.deleted:
        raise NtStatusError(st.STATUS_DELETE_PENDING, "the watched directory was removed")
    if w.ready and not any(
        p.kind == "notify" and p.open_id == open_.volatile_id for p in conn.pending.values()
    ):
        status, data = hub.drain(w, r.output_buffer_length)
        return conn.ok(req, [pack_output_response(data)], status=status)
    return conn.new_async(req, "notify", open_.volatile_id, r.output_buffer_length)


# ---- hooks of the file operations (files.py) ----------------------------------------------


def _where(open_: Open) -> tuple[str, str] | None:
    h = open_.handle
    share = getattr(h, "share", None)
    if open_.kind == "pipe" or share is None:
        return None
    return share.root, h.smb_path


def on_create(conn: Any, open_: Open, create_action: int) -> None:
    """CREATE made or overwrote the object (MS-FSA 2.1.5.1: FILE_ACTION_ADDED with
    FILE_NOTIFY_CHANGE_FILE_NAME / DIR_NAME; an overwrite is MODIFIED)."""
    where = _where(open_)
    if where is None or create_action not in _CREATE_ACTION_FILTER:
        return
    filt = _CREATE_ACTION_FILTER[create_action]
    hub: NotifyHub = conn.ctx.notify
    if filt is None:
        hub.report(*where, FILE_ACTION_ADDED, name_filter(open_.kind == "dir"))
    else:
        hub.report(*where, FILE_ACTION_MODIFIED, filt)


def on_write(conn: Any, open_: Open) -> None:
    """WRITE changed the data (MS-FSA 2.1.5.3: LAST_WRITE, and SIZE for an extension)."""
    where = _where(open_)
    hub: NotifyHub = conn.ctx.notify
    if where is not None and where[0] in hub._dirs:
        hub.report(
            *where, FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE
        )


#: FileBasicInformation field -> the filter bit of its change (MS-FSA 2.1.5.15.2)
_BASIC_FIELDS = (
    ("creation_time", FILE_NOTIFY_CHANGE_CREATION),
    ("last_access_time", FILE_NOTIFY_CHANGE_LAST_ACCESS),
    ("last_write_time", FILE_NOTIFY_CHANGE_LAST_WRITE),
    ("file_attributes", FILE_NOTIFY_CHANGE_ATTRIBUTES),
)


def on_set_info(conn: Any, open_: Open, info: Any, old_path: str) -> None:
    """SET_INFO succeeded on the open: basic information (times, attributes), rename,
    end of file / allocation (MS-FSA 2.1.5.15.*)."""
    from lanman.smb.wire import fileinfo as fi

    where = _where(open_)
    if where is None:
        return
    root, path = where
    hub: NotifyHub = conn.ctx.notify
    if isinstance(info, fi.BasicInfo):
        filt = 0
        for attr, bit in _BASIC_FIELDS:
            value = getattr(info, attr)
            if value not in (0, -1, -2):
                filt |= bit
        if filt:
            hub.report(root, path, FILE_ACTION_MODIFIED, filt)
    elif isinstance(info, fi.RenameInfo):
        on_rename(hub, root, old_path, path, open_.kind == "dir")
        if open_.kind == "dir":
            hub.directory_moved(root, old_path, path, open_.handle.path)
        if open_.kind == "file" and root in hub._dirs:
            hub.renamed.add((conn.conn_id, open_.volatile_id))
    elif isinstance(info, (fi.EndOfFileInfo, fi.AllocationInfo)):
        hub.report(root, path, FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_SIZE)
    elif isinstance(info, fi.DispositionInfo) and info.delete_pending and open_.kind == "dir":
        hub.directory_removed(root, path)  # delete-pending: its watchers are done


def on_rename(hub: NotifyHub, root: str, old_path: str, new_path: str, is_directory: bool) -> None:
    """MS-FSA 2.1.5.15.11: in one directory RENAMED_OLD_NAME then RENAMED_NEW_NAME; a move
    to another directory is REMOVED there and ADDED here."""
    filt = name_filter(is_directory)
    old, new = _split(old_path), _split(new_path)
    if _key(old[:-1]) == _key(new[:-1]):
        hub.report(root, old_path, FILE_ACTION_RENAMED_OLD_NAME, filt)
        hub.report(root, new_path, FILE_ACTION_RENAMED_NEW_NAME, filt)
    else:
        hub.report(root, old_path, FILE_ACTION_REMOVED, filt)
        hub.report(root, new_path, FILE_ACTION_ADDED, filt)


def on_security(conn: Any, open_: Open) -> None:
    """SET_INFO of a security descriptor (FILE_NOTIFY_CHANGE_SECURITY)."""
    where = _where(open_)
    if where is not None:
        conn.ctx.notify.report(*where, FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_SECURITY)


def _delete_pending(conn: Any, open_: Open) -> bool:
    db = getattr(conn.ctx, "opendb", None)
    key = getattr(open_, "file_key", None)
    return db is not None and key is not None and db.is_delete_pending(key)


def on_close(conn: Any, open_: Open) -> None:
    """After the handle closed: its watch ends, and a delete-on-close that removed the
    object is FILE_ACTION_REMOVED (MS-FSA 2.1.5.4)."""
    hub: NotifyHub = conn.ctx.notify
    hub.unwatch(conn, open_.volatile_id)
    renamed = (conn.conn_id, open_.volatile_id) in hub.renamed
    hub.renamed.discard((conn.conn_id, open_.volatile_id))
    where = _where(open_)
    if where is None or where[0] not in hub._dirs:
        return
    h = open_.handle
    if getattr(h, "delete_on_close", False) and not os.path.lexists(h.path):
        hub.report(*where, FILE_ACTION_REMOVED, name_filter(open_.kind == "dir"))
        if open_.kind == "dir":
            hub.directory_removed(*where)
    elif open_.kind == "dir" and _delete_pending(conn, open_):
        hub.directory_removed(*where)  # others still hold it open: gone at their close
    elif renamed:
        hub.report(*where, FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_ATTRIBUTES)
