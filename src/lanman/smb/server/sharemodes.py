"""Share modes, delete-pending and access on open: what a connection asks the open-file
database (:mod:`lanman.smb.server.opendb`) around CREATE, CLOSE and SET_INFO.

- CREATE (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1.2): the asked rights must all be grantable (the
  share's permissions, a read-only share or READONLY file: STATUS_ACCESS_DENIED);
  MAXIMUM_ALLOWED adds what the tree connect allows, less the data rights of an object
  that cannot be written. The open then joins the file's opens in the database, which
  refuses it with STATUS_DELETE_PENDING or STATUS_SHARING_VIOLATION -- before an overwrite
  truncates anything. A new name in a delete-pending directory (by CREATE or rename) is
  STATUS_DELETE_PENDING.
- CLOSE (MS-FSA 2.1.5.4): the open leaves the database; the last close of a delete-pending
  file deletes it (of the file and of its named streams, which have their own entries).
- FileDispositionInformation (MS-FSA 2.1.5.15.3) sets the file's delete-pending state for
  all its opens; FileRenameInformation (MS-FSA 2.1.5.15.11) is refused while other opens do
  not share delete (STATUS_SHARING_VIOLATION), while the target directory is open in a way
  the rename's implicit open of it conflicts with (STATUS_SHARING_VIOLATION), when it would
  replace an open file, or move a directory with open files below it (STATUS_ACCESS_DENIED,
  as Windows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import (
    FILE_ALL_ACCESS,
    FILE_APPEND_DATA,
    FILE_DELETE_ON_CLOSE,
    MAXIMUM_ALLOWED,
)

from .fs import map_generic_access
from .opendb import RENAME_TARGET_DIR_ACCESS, RENAME_TARGET_DIR_SHARE, OpenEntry

if TYPE_CHECKING:
    from lanman.smb.wire.create import CreateRequest

    from .state import Open, TreeConnect


def owner_of(conn, open_: Open) -> tuple[int, int]:
    """The open's owner in the database: (connection, volatile FileId), as locks use."""
    return (id(conn), open_.volatile_id)


def open_on_share(conn, tree: TreeConnect, r: CreateRequest, vid: int, cap: int | None = None):
    """Open ``r`` on the tree's share for the open ``vid`` of ``conn``; returns the fs
    handle (its ``granted_access`` final) and the CreateAction. ``cap``: what the object's
    own security descriptor grants (filesd.py; None: no descriptor check)."""
    requested = map_generic_access(r.desired_access)
    limit = tree.maximal_access if cap is None else tree.maximal_access & cap
    if requested & FILE_ALL_ACCESS & ~tree.share_access:
        # MS-SMB2 3.3.5.9: the share's permissions cap every open, MAXIMUM_ALLOWED or not
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "share permissions")
    db = conn.ctx.opendb
    owner = (id(conn), vid)
    admitted: list[tuple[int, int]] = []

    def admit(handle) -> None:
        handle.granted_access &= limit
        entry = OpenEntry(
            owner,
            handle.granted_access,
            r.share_access,
            handle.is_directory,
            bool(r.create_options & FILE_DELETE_ON_CLOSE),
            handle.path,
        )
        db.add_open(handle.file_key, entry)
        admitted.append(handle.file_key)

    def admit_name(directory: tuple[int, int]) -> None:
        if db.is_delete_pending(directory):
            # Windows: no new name in a directory waiting for its deletion
            raise NtStatusError(st.STATUS_DELETE_PENDING, "the directory is delete-pending")

    try:
        return tree.fs.open(
            r.name,
            desired_access=requested | (r.desired_access & MAXIMUM_ALLOWED),
            share_access=r.share_access,
            create_disposition=r.create_disposition,
            create_options=r.create_options,
            file_attributes=r.file_attributes,
            admit=admit,
            maximum_access=limit,
            admit_name=admit_name,
        )
    except BaseException:
        for key in admitted:
            db.remove_open(key, owner, aborted=True)
        raise


def leave(conn, open_: Open) -> None:
    """Before the handle closes: the open leaves the database, and the handle deletes
    the file when it was the last open of a delete-pending file."""
    if open_.file_key is None:
        return
    db = conn.ctx.opendb
    delete = db.remove_open(open_.file_key, owner_of(conn, open_))
    open_.handle.delete_on_close = delete
    if len(open_.file_key) == 3 and db.release_base(open_.file_key):
        # the last open of a delete-pending file's streams: the file goes now
        open_.handle.base.delete_on_close = True


def delete_pending_seen(conn, open_: Open) -> bool:
    """FileStandardInformation.DeletePending for this open."""
    if open_.file_key is None:
        return False
    return conn.ctx.opendb.reports_delete_pending(open_.file_key, owner_of(conn, open_))


def set_disposition(conn, open_: Open, pending: bool) -> None:
    """FileDispositionInformation: the handle checks the object may go (share root,
    READONLY, a non-empty directory), then the file is delete-pending for every open."""
    open_.handle.set_delete_on_close(pending)
    if open_.file_key is not None:
        conn.ctx.opendb.set_delete_pending(open_.file_key, pending)


def rename_stream(conn, open_: Open, new_path: str, replace_if_exists: bool, dir_key) -> None:
    """FileRenameInformation of a named stream (MS-FSA 2.1.5.14.11.1). A ``:name`` target
    renames the stream within its file; any other name is first the I/O manager's implicit
    open of the target's directory (``dir_key``, its (st_dev, st_ino), None if it has no
    such directory), so that open's sharing check comes before the refusal."""
    db = conn.ctx.opendb
    if not new_path.startswith(":") and dir_key is not None:
        db.check_share_access(dir_key, RENAME_TARGET_DIR_ACCESS, RENAME_TARGET_DIR_SHARE)
    old_key = open_.file_key
    unnamed = open_.handle.rename(new_path, replace_if_exists)
    if unnamed is not None:
        open_.handle = unnamed  # renamed onto the file's data: now an open of the file
    if old_key is not None:
        db.rekey(old_key, open_.handle.file_key, owner_of(conn, open_))
        open_.file_key = open_.handle.file_key


def rename(conn, open_: Open, new_path: str, replace_if_exists: bool) -> None:
    """FileRenameInformation with the database's refusals (see the module docstring)."""
    db = conn.ctx.opendb
    handle = open_.handle
    key = open_.file_key
    if key is not None:
        db.check_rename(key, owner_of(conn, open_))
        if handle.is_directory and db.has_open_below(handle.path):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "files below the directory are open")

    def admit(target_dir: tuple[int, int], replaced: tuple[int, int] | None) -> None:
        if db.is_delete_pending(target_dir):
            raise NtStatusError(st.STATUS_DELETE_PENDING, "the target directory is delete-pending")
        access = FILE_APPEND_DATA if handle.is_directory else RENAME_TARGET_DIR_ACCESS
        db.check_share_access(target_dir, access, RENAME_TARGET_DIR_SHARE)
        if replaced is not None and replace_if_exists and db.opens_of(replaced):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "the file to replace is open")

    old_path = handle.path
    handle.rename(new_path, replace_if_exists, admit)
    if key is not None:
        db.renamed(key, old_path, handle.path)
