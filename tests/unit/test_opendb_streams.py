"""Named streams in the open-file database (lanman.smb.server.opendb): each stream has its
own share modes, tied to its file by MS-FSA 2.1.5.1.2's DELETE rule and the file's
delete-pending state (smbtorture smb2.streams sharemodes / delete)."""

from __future__ import annotations

import pytest

from lanman.errors.ntstatus import (
    STATUS_DELETE_PENDING,
    STATUS_SHARING_VIOLATION,
    NtStatusError,
)
from lanman.smb.server.opendb import OpenDb, OpenEntry

R, W, D = 0x1, 0x2, 0x4
ALL = R | W | D
READ_DATA, WRITE_DATA, DELETE = 0x1, 0x2, 0x10000
FILE = (1, 100)
ONE = (1, 100, "stream one")
TWO = (1, 100, "second stream")


def entry(owner: int, access: int, share: int, *, doc: bool = False) -> OpenEntry:
    return OpenEntry((1, owner), access, share, False, doc, "/share/f")


def status_of(fn) -> int:
    with pytest.raises(NtStatusError) as e:
        fn()
    return e.value.status


def test_streams_have_their_own_share_modes() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, WRITE_DATA, 0))
    db.add_open(TWO, entry(2, WRITE_DATA, 0))  # another stream: no conflict
    db.add_open(FILE, entry(3, WRITE_DATA, 0))  # nor the file's data
    assert status_of(lambda: db.add_open(ONE, entry(4, WRITE_DATA, 0))) == (
        STATUS_SHARING_VIOLATION
    )
    assert status_of(lambda: db.add_open(TWO, entry(5, WRITE_DATA, 0))) == (
        STATUS_SHARING_VIOLATION
    )


def test_delete_on_the_file_needs_streams_to_share_delete() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, READ_DATA | WRITE_DATA, R | W))
    assert status_of(lambda: db.add_open(FILE, entry(2, DELETE, ALL, doc=True))) == (
        STATUS_SHARING_VIOLATION
    )
    db.add_open(FILE, entry(3, READ_DATA, ALL))  # no DELETE asked: admitted
    db.remove_open(ONE, (1, 1))
    db.add_open(ONE, entry(4, READ_DATA, ALL))
    db.add_open(FILE, entry(5, DELETE, ALL))


def test_a_file_open_without_share_delete_does_not_stop_delete_on_a_stream() -> None:
    db = OpenDb()
    db.add_open(FILE, entry(1, READ_DATA, R | W))
    db.add_open(ONE, entry(2, DELETE | READ_DATA, ALL))


def test_deleted_file_waits_for_its_streams() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, READ_DATA | WRITE_DATA, ALL))
    db.add_open(FILE, entry(2, DELETE, ALL, doc=True))
    # the file's own last close does not delete it while a stream is open
    assert db.remove_open(FILE, (1, 2)) is False
    assert db.is_delete_pending(FILE) and db.is_delete_pending(ONE)
    assert status_of(lambda: db.add_open(FILE, entry(3, READ_DATA, ALL))) == (STATUS_DELETE_PENDING)
    assert status_of(lambda: db.add_open(ONE, entry(4, READ_DATA, ALL))) == (STATUS_DELETE_PENDING)
    assert status_of(lambda: db.add_open(TWO, entry(5, READ_DATA, ALL))) == (STATUS_DELETE_PENDING)
    # the stream's last close: the stream itself is not deleted, its file is
    assert db.remove_open(ONE, (1, 1)) is False
    assert db.release_base(ONE) is True
    assert len(db) == 0
    db.add_open(FILE, entry(6, READ_DATA, ALL))  # a new file by that name


def test_release_base_without_pending_file_keeps_nothing() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, READ_DATA, ALL))
    db.add_open(FILE, entry(2, READ_DATA, ALL))
    assert db.remove_open(ONE, (1, 1)) is False
    assert db.release_base(ONE) is False  # the file still has its own open
    assert db.remove_open(FILE, (1, 2)) is False
    assert len(db) == 0


def test_stream_delete_on_close_is_its_own() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, DELETE | READ_DATA, ALL, doc=True))
    assert db.remove_open(ONE, (1, 1)) is True  # the stream goes
    assert db.release_base(ONE) is False  # its file does not
    db.add_open(FILE, entry(2, DELETE, 0))


def test_rekey_moves_a_renamed_stream_open() -> None:
    db = OpenDb()
    db.add_open(ONE, entry(1, WRITE_DATA, 0))
    db.rekey(ONE, TWO, (1, 1))
    db.add_open(ONE, entry(2, WRITE_DATA, 0))  # the old name is free
    assert status_of(lambda: db.add_open(TWO, entry(3, WRITE_DATA, 0))) == (
        STATUS_SHARING_VIOLATION
    )
    db.rekey(TWO, FILE, (1, 1))  # renamed onto the file's data
    assert status_of(lambda: db.add_open(FILE, entry(4, WRITE_DATA, 0))) == (
        STATUS_SHARING_VIOLATION
    )
