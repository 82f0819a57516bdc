"""Directory leases: which changes of a directory's entries break its leases (MS-SMB2
3.3.1.4 "READ caching on a directory", 3.3.5.9.11 ParentLeaseKey; MS-FSA 2.1.4.12 with
PARENT_OBJECT).

A client holding R on a directory caches its listing: adding, removing or renaming an
entry, or changing an entry's metadata that a listing shows (times, attributes, size; a
close after writing), takes the directory's leases to none, except the lease whose key the
changing open named as its ParentLeaseKey (that client made the change and knows it). The
change never waits for the acknowledgments. Opens of the directory itself break its
leases as any open does (caching.py: a sharing conflict or a delete takes H).

The hooks below are called by files.py beside the CHANGE_NOTIFY ones (notify.py); they do
nothing unless a directory of the share holds a lease (``OplockTable.directory_leases``).
Changes made on the host break the leases too: a leased directory is watched with inotify
(notify_inotify.py), and the server's own changes, which the host reports as well, are
noted so that their reports break nothing a second time.
"""

from __future__ import annotations

import os
from typing import Any

from lanman.smb.wire import fileinfo as fi

from .state import Open

#: CREATE actions that change the directory (MS-SMB2 2.2.14 CreateAction): superseded,
#: created, overwritten -- not FILE_OPENED
_CHANGING_ACTIONS = frozenset({0, 2, 3})


def _parent(smb_path: str) -> str:
    """The share-relative path of the directory holding ``smb_path`` (a named stream's
    ``file:stream`` is an entry of the file's directory)."""
    return smb_path.rsplit("\\", 1)[0] if "\\" in smb_path else ""


def _share(conn: Any, open_: Open) -> Any:
    """The open's share backend when a directory of that share holds a lease, else None."""
    share = getattr(open_.handle, "share", None)
    if open_.kind == "pipe" or share is None:
        return None
    return share if conn.ctx.oplocks.has_directory_leases(share.root) else None


def touched(conn: Any, open_: Open, host_path: str | None = None) -> None:
    """The server changed the open's object (or ``host_path``): the host's own report of
    it (inotify) must not break the leases its directory kept (OplockTable.own_changes)."""
    if _share(conn, open_) is None:
        return
    host_dir, name = os.path.split(host_path or open_.handle.path)
    conn.ctx.oplocks.note_own_change(host_dir, name.split(":", 1)[0], conn.now)


def break_parent(
    conn: Any, open_: Open, smb_path: str, parent_lease_key: bytes | None = None
) -> None:
    """The entry ``smb_path`` changed through ``open_``: break the leases of its
    directory, except the one keyed by ``parent_lease_key`` of this client."""
    share = _share(conn, open_)
    if share is None:
        return
    table = conn.ctx.oplocks
    dir_id = share.file_key(_parent(smb_path), directories=True)
    if dir_id is None:
        return
    if parent_lease_key is None:
        own = table.lease_of(open_.oplock_key, conn, open_.volatile_id)
        parent_lease_key = own.parent_lease_key if own is not None else None
    except_lease = (conn.client_guid, parent_lease_key) if parent_lease_key else None
    table.break_parent((share.root, dir_id), except_lease, conn.now)


def on_create(conn: Any, open_: Open, create_action: int, lease_request: Any) -> None:
    """CREATE added, superseded or overwrote an entry; a directory lease granted now
    watches its directory on the host too."""
    if create_action in _CHANGING_ACTIONS:
        touched(conn, open_)
        parent_key = getattr(lease_request, "parent_lease_key", None)
        break_parent(conn, open_, open_.handle.smb_path, parent_key)
    lease = conn.ctx.oplocks.lease_of(open_.oplock_key, conn, open_.volatile_id)
    if lease is not None and lease.is_directory:
        watch = getattr(conn.ctx.notify.source, "watch_directory_lease", None)
        if watch is not None:
            watch(open_.oplock_key, open_.handle.path)


def on_write(conn: Any, open_: Open) -> None:
    """A WRITE changes no listing until the close (below), but the host sees it."""
    touched(conn, open_)


def on_set_info(conn: Any, open_: Open, info: Any, old_path: str) -> None:
    """SET_INFO changed what a listing shows: times or attributes, size, or the name
    (both directories of a move)."""
    touched(conn, open_)
    if isinstance(info, fi.RenameInfo):
        share = open_.handle.share
        touched(conn, open_, os.path.join(share.root, *old_path.split("\\")))
        break_parent(conn, open_, old_path)
        if _parent(old_path).lower() != _parent(open_.handle.smb_path).lower():
            break_parent(conn, open_, open_.handle.smb_path)
    elif _changes_entry(info):
        break_parent(conn, open_, open_.handle.smb_path)


def _changes_entry(info: Any) -> bool:
    """A size change, or basic information that sets a time or the attributes (0, -1 and
    -2 leave a time as it is, MS-FSCC 2.4.7)."""
    if isinstance(info, (fi.EndOfFileInfo, fi.AllocationInfo)):
        return True
    return isinstance(info, fi.BasicInfo) and any(
        getattr(info, a) not in (0, -1, -2)
        for a in ("creation_time", "last_access_time", "last_write_time", "file_attributes")
    )


def on_close(conn: Any, open_: Open) -> None:
    """CLOSE removed the entry (delete on close), or ends an open that wrote: the entry's
    LastWriteTime and size are settled now (smbtorture smb2.lease.v2_request)."""
    h = open_.handle
    if _share(conn, open_) is None:
        return
    touched(conn, open_)  # the host sees a close after writing, and a removal
    gone = getattr(h, "delete_on_close", False) and not os.path.lexists(h.path)
    if gone or getattr(h, "modified", False):
        break_parent(conn, open_, h.smb_path)
