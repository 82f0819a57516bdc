"""The open-file database: what every connection must know about a file's other opens.

One :class:`OpenDb` per server (``ServerContext.opendb``), in the spirit of Samba's
locking.tdb: per file, keyed by :data:`FileKey` ``(st_dev, st_ino)``, the list of opens
(MS-FSA 2.1.1.6 File.OpenList) with their granted access, ShareAccess and
delete-on-close flag, and the file's delete-pending state (MS-FSA 2.1.1.4
Stream.DeletePending). Pure data and decisions, no IO: the server opens, renames and
unlinks, and asks here first. Oplock and lease references, byte-range locks, durable
handles and change notifications are the next tenants of :class:`FileState`.

The interface is deliberately narrow (:meth:`OpenDb.add_open`, :meth:`OpenDb.remove_open`,
:meth:`OpenDb.check_share_access`, :meth:`OpenDb.set_delete_pending`,
:meth:`OpenDb.opens_of` ...) and its records are plain values (ints, tuples, strings), so a
multi-process server can put the same table in a shared store. Each call is one atomic
step under the server's core lock; :meth:`OpenDb.add_open` checks and inserts together.

Named streams (MS-FSA 2.1.1.5: each stream has its own opens and share modes) are keyed
:data:`StreamKey` ``(st_dev, st_ino, casefolded name)``, beside their file's
:data:`FileKey`, and tied to it by the base file's rules (MS-FSA 2.1.5.1.2): an open of the
file's unnamed stream asking DELETE is refused while an open of one of its named streams does
not share delete (the reverse does not hold); a stream of a delete-pending file is
STATUS_DELETE_PENDING; and a delete-pending file whose last open of its own closes waits for
the last open of its streams (:meth:`OpenDb.release_base`) before it goes.

Bounds: one entry per open, and opens are capped per connection
(``ServerSettings.max_opens_per_connection``) as connections are per server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.wire.constants import (
    DELETE,
    FILE_APPEND_DATA,
    FILE_EXECUTE,
    FILE_READ_DATA,
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_WRITE_DATA,
)

#: (st_dev, st_ino) of the host object: hard links and every share over it are one file
FileKey = tuple[int, int]
#: (st_dev, st_ino, casefolded stream name) of a named stream of a file
StreamKey = tuple[int, int, str]
#: who holds an open: (connection id, volatile FileId) -- what byte-range locks use too
Owner = tuple[int, int]

#: MS-FSA 2.1.5.1.2.2: each kind of data access and the ShareAccess bit that lets it in.
#: Only these bits take part in sharing; an open with none of them (attributes, EAs,
#: security, SYNCHRONIZE) neither conflicts nor is conflicted with.
SHARING_CLASSES: tuple[tuple[int, int], ...] = (
    (FILE_READ_DATA | FILE_EXECUTE, FILE_SHARE_READ),
    (FILE_WRITE_DATA | FILE_APPEND_DATA, FILE_SHARE_WRITE),
    (DELETE, FILE_SHARE_DELETE),
)
DATA_ACCESS = FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA | DELETE

#: the open the I/O manager makes of a rename's target directory (IopOpenLinkOrRenameTarget):
#: write access, sharing read and write but not delete -- so a directory open holding DELETE,
#: or sharing nothing, refuses renames into it (smbtorture smb2.rename with_delete_access*)
RENAME_TARGET_DIR_ACCESS = FILE_WRITE_DATA
RENAME_TARGET_DIR_SHARE = FILE_SHARE_READ | FILE_SHARE_WRITE


def sharing_conflict(held_access: int, held_share: int, access: int, share: int) -> bool:
    """MS-FSA 2.1.5.1.2.2: whether an open asking ``access`` with ``share`` collides with
    an existing open that holds ``held_access`` and shares ``held_share``."""
    if not access & DATA_ACCESS or not held_access & DATA_ACCESS:
        return False
    for bits, share_bit in SHARING_CLASSES:
        if access & bits and not held_share & share_bit:
            return True
        if held_access & bits and not share & share_bit:
            return True
    return False


@dataclass(slots=True)
class OpenEntry:
    """One open of a file (MS-FSA 2.1.1.5 Open, the parts other opens care about)."""

    owner: Owner
    granted_access: int
    share_access: int
    is_directory: bool
    #: CREATE's FILE_DELETE_ON_CLOSE: the file turns delete-pending when this open closes
    #: (MS-FSA 2.1.5.4)
    delete_on_close: bool
    #: host path of the object when opened (kept current by :meth:`OpenDb.renamed`); only
    #: used to find opens below a directory
    path: str


@dataclass(slots=True)
class FileState:
    """Everything shared by the opens of one file."""

    opens: list[OpenEntry] = field(default_factory=list)
    #: MS-FSA Stream.DeletePending / File.PendingDelete: set by FileDispositionInformation or
    #: by the close of a delete-on-close open; the last close deletes the file
    delete_pending: bool = False


class OpenDb:
    """Cross-connection per-file state (see the module docstring)."""

    __slots__ = ("_files", "_streams")

    def __init__(self) -> None:
        self._files: dict[tuple, FileState] = {}
        #: base FileKey -> the StreamKeys of its named streams that have opens
        self._streams: dict[FileKey, set[StreamKey]] = {}

    def __len__(self) -> int:
        return len(self._files)

    # -- queries -----------------------------------------------------------------------------

    def opens_of(self, key: FileKey) -> tuple[OpenEntry, ...]:
        state = self._files.get(key)
        return tuple(state.opens) if state is not None else ()

    def entry(self, key: FileKey, owner: Owner) -> OpenEntry | None:
        state = self._files.get(key)
        if state is not None:
            for e in state.opens:
                if e.owner == owner:
                    return e
        return None

    def transfer_owner(self, key: FileKey, old: Owner, new: Owner) -> None:
        """A reconnected durable open (MS-SMB2 3.3.5.9.7) lives on under its new owner."""
        e = self.entry(key, old)
        if e is not None:
            e.owner = new

    def is_delete_pending(self, key: tuple) -> bool:
        """The object's own delete-pending state; a named stream also reports its file's."""
        state = self._files.get(key)
        if state is not None and state.delete_pending:
            return True
        return len(key) == 3 and self.is_delete_pending(key[:2])

    def reports_delete_pending(self, key: FileKey, owner: Owner) -> bool:
        """FileStandardInformation.DeletePending as ``owner``'s open sees it: the file's
        state, or its own delete-on-close."""
        e = self.entry(key, owner)
        return self.is_delete_pending(key) or (e is not None and e.delete_on_close)

    def has_open_below(self, dir_path: str) -> bool:
        """Any open of an object inside the directory at host path ``dir_path``."""
        prefix = dir_path.rstrip("/") + "/"
        return any(e.path.startswith(prefix) for s in self._files.values() for e in s.opens)

    # -- decisions ---------------------------------------------------------------------------

    def check_share_access(
        self, key: FileKey, access: int, share: int, *, exclude: Owner | None = None
    ) -> None:
        """STATUS_SHARING_VIOLATION if an open asking ``access`` and sharing ``share``
        collides with one of the file's opens (MS-FSA 2.1.5.1.2.2)."""
        state = self._files.get(key)
        if state is None:
            return
        for e in state.opens:
            if e.owner != exclude and sharing_conflict(
                e.granted_access, e.share_access, access, share
            ):
                raise NtStatusError(st.STATUS_SHARING_VIOLATION, "share mode conflict")

    def check_rename(self, key: FileKey, owner: Owner) -> None:
        """The open ``owner`` may rename its file: every other data open of it shares
        delete (STATUS_SHARING_VIOLATION otherwise)."""
        for e in self.opens_of(key):
            if e.owner != owner and not e.share_access & FILE_SHARE_DELETE:
                raise NtStatusError(st.STATUS_SHARING_VIOLATION, "open without FILE_SHARE_DELETE")

    # -- changes -----------------------------------------------------------------------------

    def _check_streams_share_delete(self, key: FileKey) -> None:
        """MS-FSA 2.1.5.1.2: DELETE on a file needs every open of its named streams to
        share delete."""
        for skey in self._streams.get(key, ()):
            for e in self.opens_of(skey):
                if not e.share_access & FILE_SHARE_DELETE:
                    raise NtStatusError(
                        st.STATUS_SHARING_VIOLATION, "a stream is open without FILE_SHARE_DELETE"
                    )

    def add_open(self, key: tuple, entry: OpenEntry) -> None:
        """Admit a new open: STATUS_DELETE_PENDING while the file waits for its last close,
        STATUS_SHARING_VIOLATION on a share-mode conflict; else it joins the file's opens.
        ``key`` is a FileKey or a StreamKey (see the module docstring)."""
        if self.is_delete_pending(key):
            raise NtStatusError(st.STATUS_DELETE_PENDING, "file is delete-pending")
        if len(key) == 2 and entry.granted_access & DELETE:
            self._check_streams_share_delete(key)
        state = self._files.get(key)
        if state is not None:
            self.check_share_access(key, entry.granted_access, entry.share_access)
        else:
            state = self._files[key] = FileState()
            if len(key) == 3:
                self._streams.setdefault(key[:2], set()).add(key)
        state.opens.append(entry)

    def remove_open(self, key: tuple, owner: Owner, *, aborted: bool = False) -> bool:
        """Forget ``owner``'s open (its close, MS-FSA 2.1.5.4). Returns True when the object
        is to be deleted now: it is delete-pending and this was its last open (a file whose
        named streams are still open waits for them: :meth:`release_base`). ``aborted``:
        the CREATE failed after admission, so its delete-on-close never took effect."""
        state = self._files.get(key)
        if state is None:
            return False
        for i, e in enumerate(state.opens):
            if e.owner == owner:
                del state.opens[i]
                if e.delete_on_close and not aborted:
                    state.delete_pending = True
                break
        else:
            return False
        if state.opens:
            return False
        if len(key) == 2 and state.delete_pending and self._streams.get(key):
            return False  # kept, empty and delete-pending, until its streams close
        del self._files[key]
        if len(key) == 3:
            siblings = self._streams.get(key[:2])
            if siblings is not None:
                siblings.discard(key)
                if not siblings:
                    del self._streams[key[:2]]
        return state.delete_pending

    def release_base(self, key: StreamKey) -> bool:
        """After an open of the named stream ``key`` left: True when its file is to be
        deleted now (delete-pending, no opens of its own or of any stream left)."""
        base = key[:2]
        state = self._files.get(base)
        if state is None or state.opens or self._streams.get(base):
            return False
        del self._files[base]
        return state.delete_pending

    def rekey(self, old: StreamKey, new: tuple, owner: Owner) -> None:
        """A renamed stream's open moves to the stream's new key (a FileKey when it became
        the file's unnamed stream)."""
        entry = self.entry(old, owner)
        if entry is None or old == new:
            return
        self.remove_open(old, owner, aborted=True)
        state = self._files.get(new)
        if state is None:
            state = self._files[new] = FileState()
            if len(new) == 3:
                self._streams.setdefault(new[:2], set()).add(new)
        state.opens.append(entry)

    def set_delete_pending(self, key: FileKey, pending: bool) -> None:
        """FileDispositionInformation (MS-FSA 2.1.5.15.3): set or clear the file's
        delete-pending state (the caller has checked DELETE access and emptiness)."""
        state = self._files.get(key)
        if state is not None:
            state.delete_pending = pending

    def renamed(self, key: FileKey, old_path: str, new_path: str) -> None:
        """The object at ``old_path`` now lives at ``new_path``."""
        for e in self.opens_of(key):
            if e.path == old_path:
                e.path = new_path
