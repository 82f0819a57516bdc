"""The stored-descriptor cache (lanman.smb.server.sdcache) behind filesd.load: bounded, keyed
by inode and ctime, dropped when lanman writes a descriptor, never holding an object that
changed a moment ago."""

from __future__ import annotations

import os
import time

import pytest

from lanman.errors.ntstatus import NtStatusError
from lanman.security.ace import Ace
from lanman.security.acl import Acl
from lanman.security.descriptor import SE_DACL_PRESENT, SE_SELF_RELATIVE, SecurityDescriptor
from lanman.smb.server import filesd, sdcache

ALICE = "S-1-5-21-1-2-3-1000"
BOB = "S-1-5-21-1-2-3-1001"
ACTOR = filesd.Actor(ALICE, os.geteuid(), os.geteuid())


def _sd(owner: str) -> SecurityDescriptor:
    return SecurityDescriptor(
        owner,
        "S-1-5-32-545",
        Acl([Ace(0x00, 0, 0x001F01FF, owner)]),
        None,
        SE_SELF_RELATIVE | SE_DACL_PRESENT,
    )


@pytest.fixture
def settled(monkeypatch):
    """Objects count as settled at once (no waiting out SETTLE_NS in the tests)."""
    monkeypatch.setattr(sdcache, "SETTLE_NS", 0)
    sdcache.descriptors.clear()
    yield sdcache.descriptors
    sdcache.descriptors.clear()


def _stored(tmp_path, name: str, owner: str):
    f = tmp_path / name
    f.write_bytes(b"x")
    try:
        filesd.write_stored(str(f), _sd(owner))
    except NtStatusError:
        pytest.skip("no user xattrs on the test file system")
    return f


def test_load_is_served_from_the_cache_until_the_descriptor_is_written(tmp_path, settled):
    f = _stored(tmp_path, "a.txt", ALICE)
    st_ = os.stat(f)
    first = filesd.load(str(f), st_, ACTOR)
    assert first.stored and first.sd.owner == ALICE
    assert len(settled) == 1
    reads = []
    real = filesd.read_stored
    filesd.read_stored = lambda t: reads.append(t) or real(t)
    try:
        assert filesd.load(str(f), st_, ACTOR).sd is first.sd  # no xattr read
        assert reads == []
        filesd.write_stored(str(f), _sd(BOB))  # lanman's own write drops the entry
        again = filesd.load(str(f), os.stat(f), ACTOR)
    finally:
        filesd.read_stored = real
    assert again.sd.owner == BOB
    assert reads  # read from the xattr again


def test_a_change_of_ctime_invalidates_the_entry(tmp_path, settled):
    f = _stored(tmp_path, "b.txt", ALICE)
    st_ = os.stat(f)
    assert filesd.load(str(f), st_, ACTOR).sd.owner == ALICE
    # someone else rewrites the xattr (not through write_stored): the ctime moves on
    blob = filesd.pack_stored(filesd.encode_sd(_sd(BOB)))
    deadline = time.monotonic() + 2
    while os.stat(f).st_ctime_ns == st_.st_ctime_ns and time.monotonic() < deadline:
        time.sleep(0.005)
        os.setxattr(f, filesd.XATTR_NAME, blob)
    assert os.stat(f).st_ctime_ns != st_.st_ctime_ns
    assert filesd.load(str(f), os.stat(f), ACTOR).sd.owner == BOB
    # the entry now belongs to the new ctime: the old stat result finds nothing
    assert sdcache.DescriptorCache.is_miss(sdcache.descriptors.get(st_))


def test_an_object_changed_a_moment_ago_is_not_cached(tmp_path, monkeypatch):
    sdcache.descriptors.clear()
    monkeypatch.setattr(sdcache, "SETTLE_NS", 3600 * 10**9)
    f = _stored(tmp_path, "c.txt", ALICE)
    filesd.load(str(f), os.stat(f), ACTOR)
    assert len(sdcache.descriptors) == 0


def test_the_cache_is_bounded_least_recently_used_first(tmp_path):
    cache = sdcache.DescriptorCache(limit=3)
    files = [tmp_path / f"f{i}" for i in range(5)]
    for f in files:
        f.write_bytes(b"")
    stats = [os.stat(f) for f in files]
    now = time.time_ns() + 10**12
    for s in stats[:3]:
        cache.put(s, None, now)
    assert cache.get(stats[0]) is None  # a hit (nothing stored): f0 is now the newest
    cache.put(stats[3], _sd(ALICE), now)
    cache.put(stats[4], _sd(BOB), now)
    assert len(cache) == 3
    assert sdcache.DescriptorCache.is_miss(cache.get(stats[1]))
    assert sdcache.DescriptorCache.is_miss(cache.get(stats[2]))
    assert cache.get(stats[0]) is None
    assert cache.get(stats[4]).owner == BOB
    cache.forget(stats[4])
    assert sdcache.DescriptorCache.is_miss(cache.get(stats[4]))


def test_the_server_cache_has_a_fixed_bound():
    assert sdcache.descriptors.limit == sdcache.MAX_ENTRIES <= 65536
