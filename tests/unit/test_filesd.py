"""Per-file security descriptors (lanman.smb.server.filesd): the xattr store, the default
from the Unix mode, inheritance on create, SET_INFO merging and the CREATE access rules."""

from __future__ import annotations

import os
import stat
import struct

import pytest

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.security.ace import CONTAINER_INHERIT, INHERIT_ONLY, INHERITED, OBJECT_INHERIT, Ace
from lanman.security.acl import Acl
from lanman.security.descriptor import (
    SE_DACL_AUTO_INHERIT_REQ,
    SE_DACL_AUTO_INHERITED,
    SE_DACL_PRESENT,
    SE_SELF_RELATIVE,
    SecurityDescriptor,
    decode_sd,
    encode_sd,
)
from lanman.security.token import SecurityToken
from lanman.smb.server import filesd

ALICE = "S-1-5-21-1-2-3-1000"
BOB = "S-1-5-21-1-2-3-1001"
CREATOR_OWNER = "S-1-3-0"
EVERYONE = "S-1-1-0"
EXTRAS = ["S-1-1-0", "S-1-5-2", "S-1-5-11", "S-1-5-32-545"]
FA = 0x001F01FF
READ_DATA, WRITE_DATA = 0x1, 0x2
DELETE, READ_CONTROL, WRITE_DAC = 0x10000, 0x20000, 0x40000
GENERIC_READ, MAXIMUM_ALLOWED = 0x80000000, 0x02000000


def token(sid: str) -> SecurityToken:
    return SecurityToken.build([sid, *EXTRAS])


def sd(*aces: Ace, owner: str = ALICE, control: int = 0) -> SecurityDescriptor:
    return SecurityDescriptor(
        owner, "S-1-5-32-545", Acl(list(aces)), None, SE_SELF_RELATIVE | SE_DACL_PRESENT | control
    )


def allow(sid: str, mask: int, flags: int = 0) -> Ace:
    return Ace(0x00, flags, mask, sid)


def deny(sid: str, mask: int, flags: int = 0) -> Ace:
    return Ace(0x01, flags, mask, sid)


# ---- the store --------------------------------------------------------------------------


def test_store_round_trip_through_the_xattr(tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"x")
    want = sd(allow(ALICE, FA), deny(BOB, WRITE_DATA))
    filesd.write_stored(str(f), want)
    raw = os.getxattr(f, filesd.XATTR_NAME)
    assert raw[:4] == b"LMSD" and raw[4] == 1  # magic, format version
    got = filesd.read_stored(str(f))
    assert encode_sd(got) == encode_sd(want)
    with open(f, "rb") as fh:  # by descriptor as well
        assert encode_sd(filesd.read_stored(fh.fileno())) == encode_sd(want)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"LMSD",
        b"XXXX\x01\x00\x00\x00" + b"\x01\x00\x04\x80" + b"\x00" * 16,  # wrong magic
        b"LMSD\x02\x00\x00\x00" + b"\x01\x00\x04\x80" + b"\x00" * 16,  # unknown version
        b"LMSD\x01\x00\x00\x00" + b"\x01\x00\x04\x80" + struct.pack("<IIII", 0, 0, 0, 999),
        b"LMSD\x01\x00\x00\x00" + b"\xff" * 40,
        b"LMSD\x01\x00\x00\x00" + b"\x00" * (filesd.MAX_SD_BYTES + 1),  # over the bound
    ],
)
def test_corrupt_or_foreign_values_fall_back_to_the_default(tmp_path, blob):
    assert filesd.unpack_stored(blob) is None
    f = tmp_path / "f"
    f.write_bytes(b"")
    if blob:
        try:
            os.setxattr(f, filesd.XATTR_NAME, blob)
        except OSError:
            # ext4 refuses a value this large: nothing can be stored, so nothing to read
            # back; the decoder's verdict on the bytes was asserted above
            return
    actor = filesd.Actor(ALICE, os.geteuid(), os.geteuid())
    got = filesd.load(str(f), os.stat(f), actor)
    assert not got.stored and got.sd.owner == ALICE


def test_oversized_descriptor_is_refused():
    with pytest.raises(NtStatusError) as e:
        filesd.pack_stored(b"\x00" * (filesd.MAX_SD_BYTES + 1))
    assert e.value.status == st.STATUS_INVALID_SECURITY_DESCR


# ---- the default descriptor ----------------------------------------------------------------


def _fake_stat(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, 0, 0, 0, 0, 0))


def test_default_from_mode_of_the_service_accounts_file():
    svc = 4242
    got = filesd.synthesize(_fake_stat(stat.S_IFREG | 0o640, svc), filesd.Actor(ALICE, svc, svc))
    assert got.owner == ALICE  # the session acts as the file's Unix owner
    masks = {a.sid: a.mask for a in got.dacl.aces}
    assert masks[ALICE] == FA and masks["S-1-5-11"] == FA
    assert masks["S-1-5-32-545"] == 0x00120089  # group r--: FILE_GENERIC_READ
    assert EVERYONE not in masks  # other ---: no ACE
    assert all(a.flags == 0 for a in got.dacl.aces)


def test_default_of_someone_elses_directory():
    got = filesd.synthesize(_fake_stat(stat.S_IFDIR | 0o755, 1001), filesd.Actor(ALICE, 1000, 99))
    assert got.owner == "S-1-5-32-544"  # not the session's: the server's
    assert {a.sid for a in got.dacl.aces} == {"S-1-5-32-544", "S-1-5-32-545", EVERYONE}
    assert all(a.flags == OBJECT_INHERIT | CONTAINER_INHERIT for a in got.dacl.aces)
    masks = {a.sid: a.mask for a in got.dacl.aces}
    assert masks[EVERYONE] == 0x00120089 | 0x001200A0  # r-x
    # a root service lets its unmapped sessions do anything on the host: so does the default
    root = filesd.synthesize(_fake_stat(stat.S_IFDIR | 0o755, 1001), filesd.Actor(ALICE, 0, 0))
    assert {a.sid: a.mask for a in root.dacl.aces}["S-1-5-11"] == FA


# ---- access ---------------------------------------------------------------------------------


def test_owner_gets_read_control_and_write_dac_and_parent_grants_delete():
    parent = sd(allow(EVERYONE, FA))
    child = sd(allow(ALICE, READ_DATA))
    got = filesd.open_access(child, parent, token(ALICE))
    assert got == READ_DATA | READ_CONTROL | WRITE_DAC | DELETE | 0x80  # + READ_ATTRIBUTES
    assert filesd.open_access(child, parent, token(BOB)) == DELETE | 0x80


def test_deny_before_allow_and_allow_before_deny():
    t = token(BOB)
    assert not filesd.open_access(sd(deny(BOB, WRITE_DATA), allow(EVERYONE, FA)), None, t) & 2
    assert filesd.open_access(sd(allow(EVERYONE, FA), deny(BOB, WRITE_DATA)), None, t) & 2


def test_wanted_rights_map_generic_and_overwrite():
    assert filesd.wanted_rights(GENERIC_READ, 1, True) == 0x00120089
    assert filesd.wanted_rights(MAXIMUM_ALLOWED | READ_DATA, 1, True) == READ_DATA
    assert filesd.wanted_rights(READ_DATA, 5, True) == READ_DATA | WRITE_DATA
    assert filesd.wanted_rights(READ_DATA, 0, True) == READ_DATA | WRITE_DATA
    assert filesd.wanted_rights(READ_DATA, 5, False) == READ_DATA


def test_create_access_needs_add_file_or_add_subdirectory():
    parent = sd(allow(EVERYONE, 0x00120089 | 0x2))  # read + FILE_ADD_FILE
    assert filesd.create_access(parent, token(BOB), is_dir=False)
    assert not filesd.create_access(parent, token(BOB), is_dir=True)


# ---- inheritance ------------------------------------------------------------------------------


def test_inheritance_object_container_inherit_only_no_propagate():
    parent = sd(
        allow(CREATOR_OWNER, WRITE_DATA, OBJECT_INHERIT | CONTAINER_INHERIT),
        allow(EVERYONE, READ_DATA, OBJECT_INHERIT | INHERIT_ONLY),
        allow(BOB, FA, CONTAINER_INHERIT | 0x04),  # NO_PROPAGATE
        allow(ALICE, FA),  # not inheritable
        control=SE_DACL_AUTO_INHERITED,
    )
    f = filesd.inherited_for_new(parent, token(ALICE), is_dir=False)
    assert f.owner == ALICE and f.group == "S-1-5-21-1-2-3-513"
    assert [(a.sid, a.mask, a.flags) for a in f.dacl.aces] == [
        (ALICE, WRITE_DATA, INHERITED),
        (EVERYONE, READ_DATA, INHERITED),
    ]
    assert f.control & SE_DACL_AUTO_INHERITED
    d = filesd.inherited_for_new(parent, token(ALICE), is_dir=True)
    assert [(a.sid, a.flags) for a in d.dacl.aces] == [
        (ALICE, INHERITED),
        (CREATOR_OWNER, OBJECT_INHERIT | CONTAINER_INHERIT | INHERIT_ONLY | INHERITED),
        (EVERYONE, OBJECT_INHERIT | INHERIT_ONLY | INHERITED),
        (BOB, INHERITED),  # NP: effective here, not passed on
    ]


def test_inherited_aces_are_plain_under_a_parent_without_auto_inherit():
    parent = sd(allow(ALICE, WRITE_DATA | WRITE_DAC, OBJECT_INHERIT), allow(EVERYONE, FA))
    f = filesd.inherited_for_new(parent, token(ALICE), is_dir=False)
    assert [(a.sid, a.mask, a.flags) for a in f.dacl.aces] == [(ALICE, 0x40002, 0)]
    assert f.control == SE_SELF_RELATIVE | SE_DACL_PRESENT


def test_nothing_to_inherit_gives_the_owner_full_control():
    f = filesd.inherited_for_new(sd(allow(EVERYONE, FA)), token(BOB), is_dir=False)
    assert [(a.sid, a.mask) for a in f.dacl.aces] == [(BOB, FA)]


def test_secd_context_explicit_aces_first_and_owner_checked():
    parent = sd(allow(EVERYONE, READ_DATA, OBJECT_INHERIT), control=SE_DACL_AUTO_INHERITED)
    creator = decode_sd(encode_sd(sd(deny(BOB, FA), owner=ALICE)))
    f = filesd.inherited_for_new(parent, token(ALICE), is_dir=False, creator=creator)
    assert [(a.type, a.sid) for a in f.dacl.aces] == [(1, BOB), (0, EVERYONE)]
    with pytest.raises(NtStatusError) as e:
        filesd.inherited_for_new(parent, token(BOB), is_dir=False, creator=creator)
    assert e.value.status == st.STATUS_INVALID_OWNER
    with pytest.raises(NtStatusError) as e:
        filesd.parse_secd_context(b"\x01\x00")
    assert e.value.status == st.STATUS_INVALID_SECURITY_DESCR


# ---- QUERY_INFO / SET_INFO ---------------------------------------------------------------


def test_query_blob_has_only_the_parts_asked_for():
    full = sd(allow(ALICE, FA))
    owner_only = decode_sd(filesd.query_blob(full, 0x1))
    assert owner_only.owner == ALICE and owner_only.group is None and owner_only.dacl is None
    dacl_only = decode_sd(filesd.query_blob(full, 0x4))
    assert dacl_only.owner is None and len(dacl_only.dacl.aces) == 1
    assert filesd.required_for_query(0x7) == READ_CONTROL
    assert filesd.required_for_set(0x4) == WRITE_DAC
    assert filesd.required_for_set(0x1) == 0x80000  # WRITE_OWNER


def test_set_info_maps_generic_rights_and_auto_inherit_flags():
    old = sd(allow(ALICE, FA))
    new = sd(allow(ALICE, GENERIC_READ | 0x1F0000), control=SE_DACL_AUTO_INHERITED)
    got = filesd.apply_set_info(old, encode_sd(new), 0x4, token(ALICE))
    assert got.dacl.aces[0].mask == 0x00120089 | 0x1F0000
    assert not got.control & SE_DACL_AUTO_INHERITED  # AI without AR is dropped
    both = sd(allow(ALICE, FA), control=SE_DACL_AUTO_INHERITED | SE_DACL_AUTO_INHERIT_REQ)
    got = filesd.apply_set_info(old, encode_sd(both), 0x4, token(ALICE))
    assert got.control & SE_DACL_AUTO_INHERITED and not got.control & SE_DACL_AUTO_INHERIT_REQ


def test_set_info_owner_must_be_in_the_token_and_garbage_is_refused():
    old = sd(allow(ALICE, FA))
    with pytest.raises(NtStatusError) as e:
        filesd.apply_set_info(old, encode_sd(sd(owner=BOB)), 0x1, token(ALICE))
    assert e.value.status == st.STATUS_INVALID_OWNER
    assert filesd.apply_set_info(old, encode_sd(sd(owner=BOB)), 0x1, token(BOB)).owner == BOB
    for junk in (b"", b"\x01", b"\x02" + b"\x00" * 19, b"\x01\x00\x04\x80" + b"\xff" * 60):
        with pytest.raises(NtStatusError) as e:
            filesd.apply_set_info(old, junk, 0x4, token(ALICE))
        assert e.value.status == st.STATUS_INVALID_SECURITY_DESCR


def test_random_bytes_never_escape_as_anything_but_a_status():
    import random

    rng = random.Random(1234)
    good = encode_sd(sd(allow(ALICE, FA), deny(BOB, WRITE_DATA)))
    old = sd(allow(ALICE, FA))
    for _ in range(2000):
        blob = bytearray(good)
        for _ in range(rng.randint(1, 6)):  # flip bytes of a valid descriptor
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        blob = bytes(blob[: rng.randint(0, len(blob))])
        for call in (
            lambda b: filesd.apply_set_info(old, b, 0x7, token(ALICE)),
            filesd.parse_secd_context,
        ):
            try:
                call(blob)
            except NtStatusError:
                pass
        got = filesd.unpack_stored(b"LMSD\x01\x00\x00\x00" + blob)  # None when corrupt
        assert got is None or isinstance(got, SecurityDescriptor)


def test_default_owner_is_the_account_mapped_to_the_files_uid():
    actor = filesd.Actor(ALICE, 1000, 99, {1001: BOB}.get)
    got = filesd.synthesize(_fake_stat(stat.S_IFREG | 0o600, 1001), actor)
    assert got.owner == BOB and {a.sid for a in got.dacl.aces} == {BOB}
    assert filesd.synthesize(_fake_stat(stat.S_IFREG | 0o600, 1000), actor).owner == ALICE
    assert filesd.synthesize(_fake_stat(stat.S_IFREG | 0o600, 7), actor).owner == "S-1-5-32-544"


def test_creator_dacl_is_taken_as_given_without_auto_inheritance():
    parent = sd(allow(EVERYONE, FA, OBJECT_INHERIT))  # not SE_DACL_AUTO_INHERITED
    creator = decode_sd(encode_sd(sd(allow(BOB, GENERIC_READ), owner=ALICE)))
    f = filesd.inherited_for_new(parent, token(ALICE), is_dir=False, creator=creator)
    assert [(a.sid, a.mask) for a in f.dacl.aces] == [(BOB, 0x00120089)]  # generic mapped
    null = SecurityDescriptor(control=SE_SELF_RELATIVE | SE_DACL_PRESENT)  # a NULL DACL
    f = filesd.inherited_for_new(parent, token(ALICE), is_dir=False, creator=null)
    assert f.dacl is None and f.control & SE_DACL_PRESENT and f.owner == ALICE


def test_set_info_without_a_dacl_stores_a_null_dacl():
    empty = encode_sd(SecurityDescriptor(control=SE_SELF_RELATIVE))
    got = filesd.apply_set_info(sd(allow(ALICE, FA)), empty, 0x4, token(ALICE))
    assert got.dacl is None and got.control & SE_DACL_PRESENT
    back = decode_sd(filesd.query_blob(got, 0x4))
    assert back.dacl is None and back.control & SE_DACL_PRESENT
    assert filesd.open_access(got, None, token(BOB)) == FA  # a NULL DACL grants everything
