"""Per-file security descriptors through the server core (sans-IO test client): QUERY_INFO /
SET_INFO SMB2_0_INFO_SECURITY, enforcement at CREATE for a second user, MxAc, SecD,
inheritance of new files, and malformed descriptors answered without harm."""

from __future__ import annotations

import os
import struct

import pytest
from smb_harness import (
    STATUS_ACCESS_DENIED,
    STATUS_SUCCESS,
    SmbTestClient,
    make_context,
)

from lanman.errors import ntstatus as st
from lanman.security.ace import Ace
from lanman.security.acl import Acl
from lanman.security.descriptor import (
    SE_DACL_PRESENT,
    SE_SELF_RELATIVE,
    SecurityDescriptor,
    decode_sd,
    encode_sd,
)
from lanman.smb.server import filesd
from lanman.smb.wire.constants import Command, InfoType
from lanman.smb.wire.create import CreateContext, CreateRequest, CreateResponse
from lanman.smb.wire.query import QueryInfoRequest, SetInfoRequest

SIDS = {"alice": "S-1-5-21-7-8-9-1000", "bob": "S-1-5-21-7-8-9-1001"}
PASSWORDS = {"alice": "Secret123!", "bob": "Bobs-Pass1!"}
FA = 0x001F01FF
READ_DATA, WRITE_DATA = 0x1, 0x2
READ_CONTROL, WRITE_DAC, MAXIMUM_ALLOWED = 0x20000, 0x40000, 0x02000000
OWNER, DACL = 0x1, 0x4


@pytest.fixture
def env(tmp_path):
    ctx, _events, share_dir = make_context(tmp_path, users=PASSWORDS)
    ctx.logon_sids = lambda result: [
        SIDS[result.user.lower()],
        "S-1-1-0",
        "S-1-5-2",
        "S-1-5-11",
        "S-1-5-32-545",
    ]
    return ctx, share_dir


def _client(ctx, user: str) -> tuple[SmbTestClient, int]:
    c = SmbTestClient(ctx)
    assert c.login(0x0311, user=user, password=PASSWORDS[user]).status == STATUS_SUCCESS
    return c, c.tree_connect()


def _create(c, tid, name, access, *, disposition=3, contexts=()):
    body = CreateRequest(name, access, 0x80, 7, disposition, 0, contexts=list(contexts)).pack()
    return c.request(Command.CREATE, body, tree_id=tid)


def _query(c, tid, fid, info, length=4096):
    body = QueryInfoRequest(InfoType.SECURITY, 0, length, info, 0, fid).pack()
    return c.request(Command.QUERY_INFO, body, tree_id=tid)


def _set(c, tid, fid, info, blob):
    body = SetInfoRequest(InfoType.SECURITY, 0, info, fid, blob).pack()
    return c.request(Command.SET_INFO, body, tree_id=tid)


def _sd_of(r) -> SecurityDescriptor:
    (off, length) = struct.unpack_from("<HI", r.pdu, 64 + 2)
    return decode_sd(r.pdu[off : off + length])


def _dacl(*aces, owner=None, control=0) -> bytes:
    return encode_sd(
        SecurityDescriptor(
            owner, None, Acl(list(aces)), None, SE_SELF_RELATIVE | SE_DACL_PRESENT | control
        )
    )


def test_owner_sets_a_deny_ace_and_the_second_user_is_refused(env):
    ctx, share_dir = env
    a, ta = _client(ctx, "alice")
    r = _create(a, ta, "secret.txt", FA)
    assert r.status == STATUS_SUCCESS
    fid = CreateResponse.unpack(r.pdu).file_id
    got = _sd_of(a.check(_query(a, ta, fid, OWNER | DACL)))
    assert got.owner == SIDS["alice"]
    # the new file inherited the share root's default: its users can open it
    assert any(ace.sid == "S-1-5-11" and ace.mask == FA for ace in got.dacl.aces)
    blob = _dacl(Ace(0x01, 0, FA, SIDS["bob"]), Ace(0x00, 0, FA, "S-1-1-0"))
    assert _set(a, ta, fid, DACL, blob).status == STATUS_SUCCESS
    assert os.getxattr(share_dir / "secret.txt", filesd.XATTR_NAME)[:4] == b"LMSD"
    a.close_file(ta, fid)

    b, tb = _client(ctx, "bob")
    assert _create(b, tb, "secret.txt", READ_DATA, disposition=1).status == STATUS_ACCESS_DENIED
    # MAXIMUM_ALLOWED plus a denied right is refused too (smb2.acls MXAC-NOT-GRANTED)
    r = _create(b, tb, "secret.txt", MAXIMUM_ALLOWED | READ_DATA, disposition=1)
    assert r.status == STATUS_ACCESS_DENIED
    # alice still can, and the descriptor persisted as set
    r = _create(a, ta, "secret.txt", READ_DATA | READ_CONTROL, disposition=1)
    assert r.status == STATUS_SUCCESS
    fid = CreateResponse.unpack(r.pdu).file_id
    got = _sd_of(a.check(_query(a, ta, fid, DACL)))
    assert [(x.type, x.sid) for x in got.dacl.aces] == [(1, SIDS["bob"]), (0, "S-1-1-0")]
    a.close_file(ta, fid)


def test_query_needs_read_control_and_reports_the_size_when_too_small(env):
    ctx, _ = env
    a, ta = _client(ctx, "alice")
    fid = CreateResponse.unpack(a.check(_create(a, ta, "f.txt", FA)).pdu).file_id
    full = a.check(_query(a, ta, fid, OWNER | DACL))
    need = struct.unpack_from("<I", full.pdu, 64 + 4)[0]
    r = _query(a, ta, fid, OWNER | DACL, length=8)
    assert r.status == st.STATUS_BUFFER_TOO_SMALL
    assert struct.unpack_from("<I", r.pdu, 64 + 8)[0] == need
    a.close_file(ta, fid)
    fid = CreateResponse.unpack(a.check(_create(a, ta, "f.txt", READ_DATA)).pdu).file_id
    assert _query(a, ta, fid, DACL).status == STATUS_ACCESS_DENIED
    assert _set(a, ta, fid, DACL, _dacl()).status == STATUS_ACCESS_DENIED  # no WRITE_DAC
    assert _query(a, ta, fid, 0x8).status == STATUS_ACCESS_DENIED  # SACL: no privilege
    a.close_file(ta, fid)


def test_malformed_descriptors_get_a_status_and_the_server_keeps_serving(env):
    ctx, _ = env
    a, ta = _client(ctx, "alice")
    fid = CreateResponse.unpack(a.check(_create(a, ta, "f.txt", FA)).pdu).file_id
    for junk in (b"", b"\x01\x00", b"\x01\x00\x04\x80" + b"\xff" * 16):
        assert _set(a, ta, fid, DACL, junk).status == st.STATUS_INVALID_SECURITY_DESCR
    other = _dacl(owner=SIDS["bob"])
    assert _set(a, ta, fid, OWNER, other).status == st.STATUS_INVALID_OWNER
    bad_secd = [CreateContext(b"SecD", b"\x01\x00\x00")]
    r = _create(a, ta, "g.txt", FA, disposition=2, contexts=bad_secd)
    assert r.status == st.STATUS_INVALID_SECURITY_DESCR
    assert a.check(_query(a, ta, fid, DACL)).status == STATUS_SUCCESS
    a.close_file(ta, fid)


def test_mxac_reflects_the_descriptor_and_secd_sets_the_new_files(env):
    ctx, _ = env
    a, ta = _client(ctx, "alice")
    # protected (SE_DACL_PROTECTED): nothing is inherited from the share root
    secd = _dacl(Ace(0x00, 0, READ_DATA, SIDS["alice"]), control=0x1000)
    r = _create(
        a, ta, "ro.txt", READ_CONTROL, disposition=2, contexts=[CreateContext(b"SecD", secd)]
    )
    fid = CreateResponse.unpack(a.check(r).pdu).file_id
    got = _sd_of(a.check(_query(a, ta, fid, DACL)))
    assert [(x.sid, x.mask) for x in got.dacl.aces] == [(SIDS["alice"], READ_DATA)]
    a.close_file(ta, fid)
    r = _create(
        a, ta, "ro.txt", READ_CONTROL, disposition=1, contexts=[CreateContext(b"MxAc", b"")]
    )
    resp = CreateResponse.unpack(a.check(r).pdu)
    mxac = next(c for c in resp.contexts if c.name == b"MxAc")
    status, maximal = struct.unpack("<II", mxac.data)
    assert status == 0
    # owner: READ_CONTROL|WRITE_DAC; parent (root default): DELETE, READ_ATTRIBUTES; ACE: READ_DATA
    assert maximal & ~(0x10000 | 0x80) == READ_DATA | READ_CONTROL | WRITE_DAC
    assert _create(a, ta, "ro.txt", WRITE_DATA, disposition=1).status == STATUS_ACCESS_DENIED
    a.close_file(ta, resp.file_id)


def _rename(c, tid, fid, new_name, replace=False):
    name = new_name.encode("utf-16-le")
    buf = struct.pack("<B7xQI", int(replace), 0, len(name)) + name
    body = SetInfoRequest(InfoType.FILE, 10, 0, fid, buf).pack()  # FileRenameInformation
    return c.request(Command.SET_INFO, body, tree_id=tid)


def test_rename_needs_add_file_on_the_target_and_delete_on_a_replaced_file(env):
    ctx, share_dir = env
    a, ta = _client(ctx, "alice")
    b, tb = _client(ctx, "bob")

    def mkdir(name, *aces):
        body = CreateRequest(name, FA, 0x10, 7, 2, 1).pack()  # FILE_DIRECTORY_FILE
        dfid = CreateResponse.unpack(a.check(a.request(Command.CREATE, body, tree_id=ta)).pdu)
        assert _set(a, ta, dfid.file_id, DACL, _dacl(*aces, control=0x1000)).status == 0
        a.close_file(ta, dfid.file_id)

    # "closed": others may read, not add; "open": anything but FILE_DELETE_CHILD
    mkdir("closed", Ace(0x00, 0x3, FA, SIDS["alice"]), Ace(0x00, 0x3, 0x001200A9, "S-1-1-0"))
    mkdir("open", Ace(0x00, 0x3, FA & ~0x40, "S-1-1-0"))
    fid = CreateResponse.unpack(a.check(_create(a, ta, "open\\kept.txt", FA)).pdu).file_id
    keep = _dacl(Ace(0x01, 0, 0x10000, SIDS["bob"]), Ace(0x00, 0, FA, "S-1-1-0"))
    assert _set(a, ta, fid, DACL, keep).status == STATUS_SUCCESS
    a.close_file(ta, fid)

    fid = CreateResponse.unpack(b.check(_create(b, tb, "bobs.txt", FA)).pdu).file_id
    assert _rename(b, tb, fid, "closed\\bobs.txt").status == STATUS_ACCESS_DENIED
    r = _rename(b, tb, fid, "open\\kept.txt", replace=True)
    assert r.status == STATUS_ACCESS_DENIED  # DELETE denied and no FILE_DELETE_CHILD
    assert (share_dir / "open" / "kept.txt").exists()
    assert _rename(b, tb, fid, "open\\renamed.txt").status == STATUS_SUCCESS
    b.close_file(tb, fid)
    assert (share_dir / "open" / "renamed.txt").exists()
    assert not (share_dir / "bobs.txt").exists()
