"""The open-file database alone (lanman.smb.server.opendb): the sharing truth table of
MS-FSA 2.1.5.1.2.2 and the delete-pending life cycle of MS-FSA 2.1.5.4 / 2.1.5.15.3."""

from __future__ import annotations

import itertools

import pytest

from lanman.errors.ntstatus import (
    STATUS_DELETE_PENDING,
    STATUS_SHARING_VIOLATION,
    NtStatusError,
)
from lanman.smb.server.opendb import OpenDb, OpenEntry, sharing_conflict

R, W, D = 0x1, 0x2, 0x4  # FILE_SHARE_READ / WRITE / DELETE
NONE, ALL = 0, R | W | D
READ_DATA, WRITE_DATA, APPEND_DATA, EXECUTE = 0x1, 0x2, 0x4, 0x20
READ_EA, WRITE_EA, READ_ATTR, WRITE_ATTR = 0x8, 0x10, 0x80, 0x100
DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER, SYNCHRONIZE = (
    0x10000,
    0x20000,
    0x40000,
    0x80000,
    0x100000,
)
FILE_ALL = 0x1F01FF
SINGLE_BITS = [
    READ_DATA,
    WRITE_DATA,
    APPEND_DATA,
    READ_EA,
    WRITE_EA,
    EXECUTE,
    READ_ATTR,
    WRITE_ATTR,
    DELETE,
    READ_CONTROL,
    WRITE_DAC,
    WRITE_OWNER,
    SYNCHRONIZE,
]
#: the ShareAccess bit a single access right needs from the other open (None: no sharing)
NEEDS = {READ_DATA: R, EXECUTE: R, WRITE_DATA: W, APPEND_DATA: W, DELETE: D}
SHARE_MODES = [NONE, R, W, D, R | W, R | D, W | D, ALL]

KEY = (1, 100)


def entry(owner: int, access: int, share: int, *, doc: bool = False, path: str = "/s/f"):
    return OpenEntry((7, owner), access, share, False, doc, path)


# ---- MS-FSA 2.1.5.1.2.2 truth table ------------------------------------------------------


@pytest.mark.parametrize("share", SHARE_MODES)
@pytest.mark.parametrize("bit", SINGLE_BITS)
def test_full_access_open_against_one_right(share, bit):
    """An open holding every right and sharing ``share`` admits a second open (sharing
    everything) asking one right exactly when that right is not a data right or its
    share bit is present -- in both orders (smbtorture smb2.sharemode's two tables)."""
    need = NEEDS.get(bit)
    expected = need is not None and not share & need
    assert sharing_conflict(FILE_ALL, share, bit, ALL) is expected
    assert sharing_conflict(bit, ALL, FILE_ALL, share) is expected


@pytest.mark.parametrize(
    "held, held_share, access, share, conflict",
    [
        # attribute-only opens never take part, whatever they share (bug 14375)
        (READ_ATTR, NONE, READ_DATA, ALL, False),
        (READ_DATA, ALL, READ_ATTR, NONE, False),
        (READ_ATTR | WRITE_ATTR | READ_CONTROL | SYNCHRONIZE, NONE, FILE_ALL, NONE, False),
        (WRITE_EA | WRITE_DAC | WRITE_OWNER, NONE, WRITE_DATA, NONE, False),
        # execute counts as read, append as write
        (EXECUTE, R, READ_DATA, R, False),
        (EXECUTE, W, READ_DATA, R, True),
        (APPEND_DATA, W, WRITE_DATA, W, False),
        (APPEND_DATA, R, WRITE_DATA, W | R, True),
        # the new open's ShareAccess must admit what the existing open holds
        (READ_DATA, ALL, READ_DATA, W | D, True),
        (WRITE_DATA, ALL, READ_DATA, R | D, True),
        (DELETE, ALL, READ_DATA, R | W, True),
        (DELETE, ALL, READ_DATA, ALL, False),
        # deny table rows (smbtorture smb2.deny): RW/share R+D admits R/share RWD but
        # not W/share RWD; W/share R+D admits R/share W+D, W/share W+D shares no write
        (READ_DATA | WRITE_DATA, R | D, READ_DATA, ALL, False),
        (READ_DATA | WRITE_DATA, R | D, WRITE_DATA, ALL, True),
        (READ_DATA, R | D, READ_DATA, R | D, False),
        (WRITE_DATA, R | D, READ_DATA, W | D, False),
        (WRITE_DATA, W | D, WRITE_DATA, R | D, True),
        (READ_DATA | WRITE_DATA, ALL, READ_DATA | WRITE_DATA, ALL, False),
        (READ_DATA | WRITE_DATA, NONE, READ_DATA, ALL, True),
    ],
)
def test_sharing_cases(held, held_share, access, share, conflict):
    assert sharing_conflict(held, held_share, access, share) is conflict


def test_sharing_is_symmetric():
    rights = [READ_DATA, WRITE_DATA, DELETE, READ_ATTR, READ_DATA | DELETE, FILE_ALL]
    for a, s, b, t in itertools.product(rights, SHARE_MODES, rights, SHARE_MODES):
        assert sharing_conflict(a, s, b, t) == sharing_conflict(b, t, a, s)


# ---- the database ------------------------------------------------------------------------


def test_add_open_refuses_conflicts_and_keeps_the_first():
    db = OpenDb()
    db.add_open(KEY, entry(1, READ_DATA | WRITE_DATA, NONE))
    with pytest.raises(NtStatusError) as e:
        db.add_open(KEY, entry(2, WRITE_DATA, ALL))
    assert e.value.status == STATUS_SHARING_VIOLATION
    db.add_open(KEY, entry(3, READ_ATTR, NONE))  # attribute-only: admitted
    assert [x.owner for x in db.opens_of(KEY)] == [(7, 1), (7, 3)]
    assert db.opens_of((1, 101)) == ()
    assert not db.remove_open(KEY, (7, 1))
    db.add_open(KEY, entry(2, WRITE_DATA, ALL))  # the conflicting open is gone
    db.remove_open(KEY, (7, 2))
    db.remove_open(KEY, (7, 3))
    assert len(db) == 0


def test_delete_on_close_open_makes_the_file_pending_when_it_closes():
    db = OpenDb()
    db.add_open(KEY, entry(1, DELETE | READ_DATA, ALL, doc=True))
    db.add_open(KEY, entry(2, READ_DATA, ALL))  # still admitted: not pending yet
    assert not db.is_delete_pending(KEY)
    assert db.reports_delete_pending(KEY, (7, 1)) and not db.reports_delete_pending(KEY, (7, 2))
    assert db.remove_open(KEY, (7, 1)) is False  # another open remains
    assert db.is_delete_pending(KEY)
    with pytest.raises(NtStatusError) as e:
        db.add_open(KEY, entry(3, READ_ATTR, ALL))
    assert e.value.status == STATUS_DELETE_PENDING
    assert db.remove_open(KEY, (7, 2)) is True  # the last close deletes
    assert len(db) == 0


def test_disposition_set_and_cleared():
    db = OpenDb()
    db.add_open(KEY, entry(1, DELETE, ALL))
    db.add_open(KEY, entry(2, READ_DATA, ALL))
    db.set_delete_pending(KEY, True)
    assert db.reports_delete_pending(KEY, (7, 2))
    with pytest.raises(NtStatusError):
        db.add_open(KEY, entry(3, READ_DATA, ALL))
    db.set_delete_pending(KEY, False)
    db.add_open(KEY, entry(3, READ_DATA, ALL))
    db.set_delete_pending(KEY, True)
    assert not db.remove_open(KEY, (7, 1))
    assert not db.remove_open(KEY, (7, 3))
    assert db.remove_open(KEY, (7, 2))
    db.set_delete_pending(KEY, True)  # no opens: nothing to remember
    assert len(db) == 0


def test_aborted_open_does_not_turn_pending():
    db = OpenDb()
    db.add_open(KEY, entry(1, READ_DATA, ALL))
    db.add_open(KEY, entry(2, DELETE, ALL, doc=True))
    assert not db.remove_open(KEY, (7, 2), aborted=True)
    assert not db.is_delete_pending(KEY)
    assert not db.remove_open(KEY, (7, 1))
    assert not db.remove_open(KEY, (7, 1))  # unknown owner: nothing happens


def test_rename_checks_and_paths():
    db = OpenDb()
    db.add_open(KEY, entry(1, DELETE, D, path="/s/dir/f"))
    db.check_rename(KEY, (7, 1))  # alone
    db.add_open(KEY, entry(2, READ_ATTR, NONE, path="/s/dir/f"))
    with pytest.raises(NtStatusError) as e:
        db.check_rename(KEY, (7, 1))
    assert e.value.status == STATUS_SHARING_VIOLATION
    assert db.has_open_below("/s/dir") and db.has_open_below("/s/dir/")
    assert not db.has_open_below("/s/di") and not db.has_open_below("/s/dir/f")
    db.renamed(KEY, "/s/dir/f", "/s/g")
    assert {x.path for x in db.opens_of(KEY)} == {"/s/g"}
    assert not db.has_open_below("/s/dir")
    assert db.entry(KEY, (7, 2)).share_access == NONE
    assert db.entry(KEY, (7, 9)) is None


def test_check_share_access_can_leave_out_one_open():
    db = OpenDb()
    db.add_open(KEY, entry(1, READ_DATA, NONE))
    with pytest.raises(NtStatusError):
        db.check_share_access(KEY, READ_DATA, ALL)
    db.check_share_access(KEY, READ_DATA, ALL, exclude=(7, 1))
    db.check_share_access((9, 9), FILE_ALL, NONE)
