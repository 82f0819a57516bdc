"""FSCTLs of lanman.smb.server.fsctl driven through the sans-IO server (MS-SMB2 3.3.5.15,
MS-FSA 2.1.5.9): server-side copy, sparse files, allocated ranges, object ids and the
answers for what lanman does not offer."""

from __future__ import annotations

import struct
import uuid

import pytest
from smb_harness import (
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
    Pdu,
    SmbTestClient,
    make_context,
)

from lanman.errors import ntstatus as st
from lanman.rpc.client import RpcClient
from lanman.rpc.interfaces.srvsvc import SRVSVC_UUID, SRVSVC_VERSION
from lanman.rpc.pdu import SyntaxId
from lanman.smb.server import fsctl
from lanman.smb.wire import fsctl as w
from lanman.smb.wire.constants import (
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    FSCTL_CREATE_OR_GET_OBJECT_ID,
    FSCTL_FILE_LEVEL_TRIM,
    FSCTL_GET_COMPRESSION,
    FSCTL_GET_INTEGRITY_INFORMATION,
    FSCTL_GET_REPARSE_POINT,
    FSCTL_PIPE_TRANSCEIVE,
    FSCTL_QUERY_ALLOCATED_RANGES,
    FSCTL_QUERY_NETWORK_INTERFACE_INFO,
    FSCTL_SET_COMPRESSION,
    FSCTL_SET_SPARSE,
    FSCTL_SET_ZERO_DATA,
    FSCTL_SRV_COPYCHUNK,
    FSCTL_SRV_COPYCHUNK_WRITE,
    FSCTL_SRV_REQUEST_RESUME_KEY,
    Command,
)
from lanman.smb.wire.create import CreateResponse
from lanman.smb.wire.query import IoctlRequest, QueryInfoRequest, unpack_ioctl_response

FF = b"\xff" * 16


@pytest.fixture
def c(tmp_path):
    ctx, _events, share_dir = make_context(tmp_path)
    with SmbTestClient(ctx) as client:
        assert client.login(0x0311).status == STATUS_SUCCESS
        client.tid = client.tree_connect()
        client.share_dir = share_dir
        yield client


def _ioctl(c, code, fid, data=b"", max_output=1024, **kw):
    r = c.ioctl_raw(c.tid, code, fid, data, max_output=max_output, **kw)
    out = bytes(unpack_ioctl_response(r.pdu)) if len(r.pdu) >= 64 + 48 else b""
    return r.status, out


def _file(c, name, data=b"", **kw):
    fid = c.create(c.tid, name, **kw)
    if data:
        c.write(c.tid, fid, 0, data)
    return fid


def _copy(src_key, chunks):
    body = struct.pack("<24sII", src_key, len(chunks), 0)
    return body + b"".join(struct.pack("<QQII", s, d, n, 0) for s, d, n in chunks)


def _resume_key(c, fid):
    status, out = _ioctl(c, FSCTL_SRV_REQUEST_RESUME_KEY, fid, max_output=32)
    assert status == STATUS_SUCCESS and len(out) == 32
    return out[:24]


def _attributes(c, fid):
    r = c.request(
        Command.QUERY_INFO,
        QueryInfoRequest(1, 4, 64, 0, 0, fid).pack(),
        tree_id=c.tid,
        payload=64,
    )
    assert r.status == STATUS_SUCCESS
    return struct.unpack_from("<I", r.pdu, 64 + 8 + 32)[0]


# ---- server-side copy ----------------------------------------------------------------------


def test_resume_key_is_stable_per_open(c):
    fid = _file(c, "k.dat", b"x")
    assert _resume_key(c, fid) == _resume_key(c, fid)
    other = _file(c, "k2.dat")
    assert _resume_key(c, other) != _resume_key(c, fid)


def test_copychunk_copies_and_reports(c):
    data = bytes(range(256)) * 32
    src = _file(c, "src.dat", data)
    dst = _file(c, "dst.dat")
    key = _resume_key(c, src)
    status, out = _ioctl(
        c, FSCTL_SRV_COPYCHUNK, dst, _copy(key, [(0, 0, 4096), (4096, 8192, 4096)])
    )
    assert status == STATUS_SUCCESS
    assert struct.unpack("<III", out) == (2, 0, 8192)
    got = c.read(c.tid, dst, 0, 12288)
    assert got[:4096] == data[:4096] and got[4096:8192] == b"\x00" * 4096
    assert got[8192:] == data[4096:]


@pytest.mark.parametrize(
    "chunks",
    [[(0, 0, 0)], [(0, 0, fsctl.COPYCHUNK_MAX_CHUNK_SIZE + 1)], [(0, 0, 1)] * 257],
    ids=["zero-length", "chunk-too-big", "too-many-chunks"],
)
def test_copychunk_limits_answered_with_the_limits(c, chunks):
    src = _file(c, "s.dat", b"a" * 16)
    dst = _file(c, "d.dat")
    status, out = _ioctl(c, FSCTL_SRV_COPYCHUNK, dst, _copy(_resume_key(c, src), chunks))
    assert status == STATUS_INVALID_PARAMETER
    assert struct.unpack("<III", out) == (256, 1024 * 1024, 16 * 1024 * 1024)


def test_copychunk_bad_key_and_small_output(c):
    dst = _file(c, "d.dat")
    status, _ = _ioctl(c, FSCTL_SRV_COPYCHUNK, dst, _copy(b"deadbeef" * 3, [(0, 0, 1)]))
    assert status == st.STATUS_OBJECT_NAME_NOT_FOUND
    status, _ = _ioctl(c, FSCTL_SRV_COPYCHUNK, dst, _copy(b"x" * 24, [(0, 0, 1)]), max_output=11)
    assert status == STATUS_INVALID_PARAMETER


def test_copychunk_beyond_source_end_stops_with_what_was_written(c):
    src = _file(c, "s.dat", b"b" * 8192)
    dst = _file(c, "d.dat")
    key = _resume_key(c, src)
    status, out = _ioctl(
        c, FSCTL_SRV_COPYCHUNK, dst, _copy(key, [(0, 0, 4096), (4096, 4096, 8192)])
    )
    assert status == st.STATUS_INVALID_VIEW_SIZE
    assert struct.unpack("<III", out) == (1, 0, 4096)


def test_copychunk_access_checks(c):
    _file(c, "s.dat", b"c" * 64)
    _file(c, "d.dat")
    src = c.create(c.tid, "s.dat", access=FILE_READ_ATTRIBUTES)
    dst = c.create(c.tid, "d.dat", access=FILE_WRITE_DATA)
    key = _resume_key(c, src)
    # COPYCHUNK needs read access on the target, COPYCHUNK_WRITE does not
    status, _ = _ioctl(c, FSCTL_SRV_COPYCHUNK, dst, _copy(key, [(0, 0, 64)]))
    assert status == STATUS_ACCESS_DENIED
    # the source needs read (or execute) access
    status, _ = _ioctl(c, FSCTL_SRV_COPYCHUNK_WRITE, dst, _copy(key, [(0, 0, 64)]))
    assert status == STATUS_ACCESS_DENIED
    src2 = c.create(c.tid, "s.dat", access=FILE_READ_DATA)
    status, out = _ioctl(
        c, FSCTL_SRV_COPYCHUNK_WRITE, dst, _copy(_resume_key(c, src2), [(0, 0, 64)])
    )
    assert status == STATUS_SUCCESS and struct.unpack("<III", out) == (1, 0, 64)


def test_copychunk_source_closed(c):
    src = _file(c, "s.dat", b"d" * 64)
    dst = _file(c, "d.dat")
    key = _resume_key(c, src)
    c.close_file(c.tid, src)
    status, _ = _ioctl(c, FSCTL_SRV_COPYCHUNK, dst, _copy(key, [(0, 0, 64)]))
    assert status == st.STATUS_OBJECT_NAME_NOT_FOUND


# ---- sparse files, zeroing, allocated ranges ---------------------------------------------


def test_set_sparse_marks_the_file(c):
    fid = _file(c, "sp.dat")
    assert not _attributes(c, fid) & 0x200
    assert _ioctl(c, FSCTL_SET_SPARSE, fid)[0] == STATUS_SUCCESS  # no buffer: TRUE
    assert _attributes(c, fid) & 0x200
    assert _ioctl(c, FSCTL_SET_SPARSE, fid, b"\x00")[0] == STATUS_SUCCESS
    assert not _attributes(c, fid) & 0x200
    d = c.open_dir(c.tid)
    assert _ioctl(c, FSCTL_SET_SPARSE, d)[0] == STATUS_INVALID_PARAMETER
    ro = c.create(c.tid, "sp.dat", access=FILE_READ_DATA)
    assert _ioctl(c, FSCTL_SET_SPARSE, ro)[0] == STATUS_ACCESS_DENIED


def test_mark_is_gone_with_the_file(c):
    fid = _file(c, "gone.dat")
    _ioctl(c, FSCTL_SET_SPARSE, fid)
    c.close_file(c.tid, fid)
    (c.share_dir / "gone.dat").unlink()
    fid = _file(c, "gone.dat")
    assert not _attributes(c, fid) & 0x200


def _qar(c, fid, off, length, max_output=1024):
    status, out = _ioctl(
        c, FSCTL_QUERY_ALLOCATED_RANGES, fid, struct.pack("<qq", off, length), max_output
    )
    return status, [struct.unpack_from("<qq", out, i) for i in range(0, len(out), 16)]


def test_zero_data_and_allocated_ranges(c):
    fid = _file(c, "z.dat", b"\x01" * (256 * 1024))
    # not sparse: everything up to end of file is allocated
    assert _qar(c, fid, 0, 1 << 30) == (STATUS_SUCCESS, [(0, 256 * 1024)])
    assert _ioctl(c, FSCTL_SET_SPARSE, fid)[0] == STATUS_SUCCESS
    zero = struct.pack("<qq", 64 * 1024, 192 * 1024)
    assert _ioctl(c, FSCTL_SET_ZERO_DATA, fid, zero)[0] == STATUS_SUCCESS
    data = c.read(c.tid, fid, 0, 256 * 1024)
    assert data[: 64 * 1024] == b"\x01" * 65536 and data[64 * 1024 : 192 * 1024] == bytes(131072)
    assert data[192 * 1024 :] == b"\x01" * 65536
    status, ranges = _qar(c, fid, 0, 256 * 1024)
    assert (
        status == STATUS_SUCCESS and ranges[0][0] == 0 and ranges[-1][0] + ranges[-1][1] == 262144
    )
    if len(ranges) == 2:  # the host punched the hole
        assert ranges == [(0, 65536), (196608, 65536)]
        assert _qar(c, fid, 0, 256 * 1024, max_output=16) == (
            st.STATUS_BUFFER_OVERFLOW,
            [(0, 65536)],
        )
    assert _qar(c, fid, 0, 1024, max_output=0)[0] == st.STATUS_BUFFER_TOO_SMALL


@pytest.mark.parametrize(
    "buf",
    [
        b"\x00" * 8,
        struct.pack("<qq", -1, 10),
        struct.pack("<qq", 10, -1),
        struct.pack("<qq", 1, 2**63 - 1),
    ],
)
def test_allocated_ranges_malformed(c, buf):
    fid = _file(c, "m.dat", b"x")
    assert _ioctl(c, FSCTL_QUERY_ALLOCATED_RANGES, fid, buf)[0] == STATUS_INVALID_PARAMETER


def test_zero_data_bad_range_and_access(c):
    fid = _file(c, "zr.dat", b"x" * 100)
    assert (
        _ioctl(c, FSCTL_SET_ZERO_DATA, fid, struct.pack("<qq", 50, 10))[0]
        == STATUS_INVALID_PARAMETER
    )
    ro = c.create(c.tid, "zr.dat", access=FILE_READ_DATA)
    assert _ioctl(c, FSCTL_SET_ZERO_DATA, ro, struct.pack("<qq", 0, 10))[0] == STATUS_ACCESS_DENIED


# ---- the rest of the table ---------------------------------------------------------------


def test_object_id_is_stable(c):
    fid = _file(c, "o.dat")
    s1, o1 = _ioctl(c, FSCTL_CREATE_OR_GET_OBJECT_ID, fid, max_output=64)
    fid2 = c.create(c.tid, "o.dat")
    s2, o2 = _ioctl(c, FSCTL_CREATE_OR_GET_OBJECT_ID, fid2, max_output=64)
    assert s1 == s2 == STATUS_SUCCESS and len(o1) == 64 and o1 == o2
    assert (
        _ioctl(c, FSCTL_CREATE_OR_GET_OBJECT_ID, fid, max_output=63)[0] == STATUS_INVALID_PARAMETER
    )


def test_related_object_id_in_compound(c):
    """smb2.compound.related3: CREATE + FSCTL_CREATE_OR_GET_OBJECT_ID + CLOSE, related."""
    body = IoctlRequest(FSCTL_CREATE_OR_GET_OBJECT_ID, FF, b"", 0, 64, 1).pack()
    rs = c.compound(
        [
            Pdu(Command.CREATE, c.create_body("r3.dat"), tree_id=c.tid),
            Pdu(Command.IOCTL, body, tree_id=c.tid, related=True, payload=64),
            Pdu(Command.CLOSE, struct.pack("<HHI16s", 24, 0, 0, FF), tree_id=c.tid, related=True),
        ]
    )
    assert [r.status for r in rs] == [STATUS_SUCCESS] * 3


def test_answers_for_what_is_not_offered(c):
    fid = _file(c, "n.dat")
    assert _ioctl(c, FSCTL_GET_REPARSE_POINT, fid)[0] == st.STATUS_NOT_A_REPARSE_POINT
    assert _ioctl(c, FSCTL_GET_COMPRESSION, fid, max_output=2) == (STATUS_SUCCESS, b"\x00\x00")
    assert _ioctl(c, FSCTL_SET_COMPRESSION, fid, b"\x01\x00")[0] == st.STATUS_NOT_SUPPORTED
    assert _ioctl(c, FSCTL_SET_COMPRESSION, fid, b"\x00\x00")[0] == STATUS_SUCCESS
    assert _ioctl(c, FSCTL_SET_COMPRESSION, fid, b"\x07\x00")[0] == STATUS_INVALID_PARAMETER
    assert _ioctl(c, FSCTL_GET_INTEGRITY_INFORMATION, fid)[0] == st.STATUS_INVALID_DEVICE_REQUEST
    assert _ioctl(c, 0x00090000 | 0x3F0, fid)[0] == st.STATUS_INVALID_DEVICE_REQUEST
    assert _ioctl(c, FSCTL_PIPE_TRANSCEIVE, fid, b"x")[0] == st.STATUS_INVALID_DEVICE_REQUEST
    trim = struct.pack("<IIQQ", 0, 1, 0, 4096)
    assert _ioctl(c, FSCTL_FILE_LEVEL_TRIM, fid, trim) == (STATUS_SUCCESS, b"\x01\x00\x00\x00")


def test_network_interface_is_loopback(tmp_path):
    """Through the FSCTL table to session_binding.py: the address the client reached, for a
    client that announced multichannel (the rules: test_smb_session_semantics.py)."""
    ctx, _events, _share = make_context(tmp_path)
    with SmbTestClient(ctx) as c:
        c.conn.server_address = "127.0.0.1"
        c.negotiate([0x0311], capabilities=0x08 | 0x44)  # MULTI_CHANNEL | LARGE_MTU | ENC
        c.session_setup()
        c.tid = c.tree_connect()
        status, out = _ioctl(c, FSCTL_QUERY_NETWORK_INTERFACE_INFO, FF, max_output=1024)
        assert status == STATUS_SUCCESS and len(out) == 152
        nxt, _idx, _cap, _res, speed = struct.unpack_from("<IIIIQ", out)
        assert nxt == 0 and speed > 0
        assert struct.unpack_from("<HH4s", out, 24) == (2, 0, bytes([127, 0, 0, 1]))


def test_ioctl_without_fsctl_flag_not_supported(c):
    fid = _file(c, "f.dat")
    body = IoctlRequest(FSCTL_GET_COMPRESSION, fid, b"", 0, 2, 0).pack()
    r = c.request(Command.IOCTL, body, tree_id=c.tid, payload=2)
    assert r.status == st.STATUS_NOT_SUPPORTED


def test_wire_parsers_bound_their_input():
    from lanman.smb.wire.header import WireError

    with pytest.raises(WireError):
        w.parse_copychunk(b"\x00" * 31, 256)
    with pytest.raises(WireError):  # ChunkCount 2, one chunk present
        w.parse_copychunk(struct.pack("<24sII", b"k" * 24, 2, 0) + b"\x00" * 24, 256)
    _key, chunks, count = w.parse_copychunk(struct.pack("<24sII", b"k" * 24, 10**6, 0), 256)
    assert chunks == [] and count == 10**6
    with pytest.raises(WireError):
        w.parse_trim(struct.pack("<II", 0, 5000), 4096)


def test_zero_data_without_hole_punching(c, monkeypatch):
    """A host without FALLOC_FL_PUNCH_HOLE: the tail is cut and regrown, a middle range is
    written with zeros."""
    monkeypatch.setattr(fsctl, "_punch_hole", lambda fd, off, n: False)
    fid = _file(c, "np.dat", b"\x02" * 8192)
    assert _ioctl(c, FSCTL_SET_ZERO_DATA, fid, struct.pack("<qq", 1000, 2000))[0] == STATUS_SUCCESS
    assert _ioctl(c, FSCTL_SET_ZERO_DATA, fid, struct.pack("<qq", 6000, 1 << 40))[0] == 0
    data = c.read(c.tid, fid, 0, 8192)
    assert data == b"\x02" * 1000 + bytes(1000) + b"\x02" * 4000 + bytes(2192)


def test_pipe_transceive_binds_srvsvc(c):
    """FSCTL_PIPE_TRANSCEIVE on a named pipe: a DCE/RPC bind in, the bind_ack out; on the
    pipe, file FSCTLs are not supported."""

    ipc = c.tree_connect("IPC$")
    r = c.create_raw(ipc, "srvsvc", disposition=1)
    assert r.status == STATUS_SUCCESS
    pipe = CreateResponse.unpack(r.pdu).file_id
    bind = RpcClient(SyntaxId(uuid.UUID(SRVSVC_UUID), SRVSVC_VERSION)).bind()
    r = c.ioctl_raw(ipc, FSCTL_PIPE_TRANSCEIVE, pipe, bind, max_output=4280)
    assert r.status == STATUS_SUCCESS
    ack = bytes(unpack_ioctl_response(r.pdu))
    assert ack[0] == 5 and ack[2] == 12  # rpc_vers 5, ptype bind_ack
    r = c.ioctl_raw(ipc, FSCTL_GET_COMPRESSION, pipe, b"", max_output=2)
    assert r.status == st.STATUS_NOT_SUPPORTED
    c.close_file(ipc, pipe)
