"""LOCK replay detection by LockSequence (lanman.smb.server.lock_sequence, MS-SMB2
3.3.5.14; smbtorture smb2.lock replay_smb3_specification_durable / _multi)."""

from __future__ import annotations

from smb_harness import PASSWORD, STATUS_SUCCESS, USER, SmbTestClient, make_context

from lanman.smb.server.lock_sequence import LockSequenceArray, applies, split
from lanman.smb.wire.constants import Command
from lanman.smb.wire.io import LockElement, LockRequest

STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_RANGE_NOT_LOCKED = 0xC000007E
EXCLUSIVE_NOW = 0x2 | 0x10
UNLOCK = 0x4
MULTI_CHANNEL = 0x8


def seq(number: int, index: int) -> int:
    return index << 4 | number


def test_split() -> None:
    assert split(seq(0xA, 64)) == (0xA, 64)
    assert split(0xFFFFFFFF) == (0xF, 0x0FFFFFFF)


def test_replay_only_after_success_with_the_same_number() -> None:
    a = LockSequenceArray()
    assert not a.begin(seq(1, 1))  # nothing recorded yet
    a.succeeded(seq(1, 1))
    assert a.begin(seq(1, 1))  # the same LOCK again: a replay
    assert not a.begin(seq(2, 1))  # a new number: processed, and the entry drops
    assert not a.begin(seq(1, 1))  # so the old number is no replay any more


def test_index_zero_and_beyond_64_are_never_checked() -> None:
    a = LockSequenceArray()
    for index in (0, 65, 0x0FFFFFFF):
        a.succeeded(seq(3, index))
        assert not a.begin(seq(3, index))
    assert a.valid == {}


def test_which_opens_are_checked() -> None:
    assert not applies(dialect_2_0_2=True, durable=True, multichannel=True)
    assert applies(dialect_2_0_2=False, durable=True, multichannel=False)
    assert applies(dialect_2_0_2=False, durable=False, multichannel=True)
    assert not applies(dialect_2_0_2=False, durable=False, multichannel=False)


def _lock(c, tid, fid, sequence, flags):
    body = LockRequest(fid, [LockElement(0, 10, flags)], sequence).pack()
    return c.request(Command.LOCK, body, tree_id=tid)


def test_replayed_lock_over_a_multichannel_connection(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    (share / "f.bin").write_bytes(b"\x00" * 64)
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311], capabilities=0x44 | MULTI_CHANNEL)
        assert c.session_setup(USER, PASSWORD).status == STATUS_SUCCESS
        tid = c.tree_connect("data")
        fid = c.create(tid, "f.bin", access=0x3)
        assert _lock(c, tid, fid, seq(1, 1), EXCLUSIVE_NOW).status == STATUS_SUCCESS
        # the resend of the same LOCK succeeds without locking twice ...
        assert _lock(c, tid, fid, seq(1, 1), EXCLUSIVE_NOW).status == STATUS_SUCCESS
        # ... a new LOCK on the range does conflict
        assert _lock(c, tid, fid, seq(2, 1), EXCLUSIVE_NOW).status == STATUS_LOCK_NOT_GRANTED
        assert _lock(c, tid, fid, seq(3, 2), UNLOCK).status == STATUS_SUCCESS
        assert _lock(c, tid, fid, seq(3, 2), UNLOCK).status == STATUS_SUCCESS  # a replay
        assert _lock(c, tid, fid, seq(4, 2), UNLOCK).status == STATUS_RANGE_NOT_LOCKED


def test_no_replay_check_without_multichannel_or_durability(tmp_path):
    ctx, _events, share = make_context(tmp_path)
    (share / "f.bin").write_bytes(b"\x00" * 64)
    with SmbTestClient(ctx) as c:
        assert c.login().status == STATUS_SUCCESS
        tid = c.tree_connect("data")
        fid = c.create(tid, "f.bin", access=0x3)
        assert _lock(c, tid, fid, seq(1, 1), EXCLUSIVE_NOW).status == STATUS_SUCCESS
        assert _lock(c, tid, fid, seq(1, 1), EXCLUSIVE_NOW).status == STATUS_LOCK_NOT_GRANTED
