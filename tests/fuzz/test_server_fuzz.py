"""Hostile input into ServerConnection.receive_frame: random frames, mutated valid requests
(before and after a signed session), and hostile CREATE names. Nothing may escape
receive_frame except responses or ``closed = True``; a broken connection costs only
itself (another connection on the same ServerContext keeps working); no path leaves its
share."""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smb_harness import (
    STATUS_SUCCESS,
    Pdu,
    SmbTestClient,
    make_context,
    smb1_negotiate_frame,
    split_frame,
)

from lanman.crypto.smb_signing import compute_signature
from lanman.smb.server.fsctl import FSCTLS
from lanman.smb.wire.constants import (
    FILE_CREATE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FSCTL_SRV_COPYCHUNK,
    FSCTL_SRV_COPYCHUNK_WRITE,
    FSCTL_SRV_REQUEST_RESUME_KEY,
    Command,
)
from lanman.smb.wire.create import CreateResponse
from lanman.smb.wire.header import SIGNATURE_OFFSET
from lanman.smb.wire.io import WriteRequest
from lanman.smb.wire.query import IoctlRequest, unpack_ioctl_response

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECRET = b"TOP-SECRET-OUTSIDE-THE-SHARE"


class Env:
    """One ServerContext for a whole test, a healthy bystander connection, the share."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ctx, self.events, self.share = make_context(root)
        self.outside = root / "outside"
        self.outside.mkdir(exist_ok=True)
        (self.outside / "secret.txt").write_bytes(SECRET)
        (self.share / "sub").mkdir(exist_ok=True)
        (self.share / "hello.txt").write_bytes(b"hello")
        for name, target in (
            ("link", self.outside),
            ("linkfile", self.outside / "secret.txt"),
            ("sub/uplink", root),
        ):
            p = self.share / name
            if not p.is_symlink():
                os.symlink(target, p)
        self.bystander = SmbTestClient(self.ctx, "198.51.100.7:445")
        self.bystander.login(0x0311)
        self.btid = self.bystander.tree_connect()
        self.bfid = self.bystander.create(self.btid, "bystander.txt")
        self.counter = 0

    def check_bystander(self) -> None:
        """The other connection on the same context is unaffected."""
        self.counter += 1
        data = f"still alive {self.counter}".encode()
        c = self.bystander
        c.ensure_credits(4)
        assert c.write(self.btid, self.bfid, 0, data) == len(data)
        assert c.read(self.btid, self.bfid, 0, len(data)) == data

    def outside_snapshot(self) -> dict:
        snap = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == "share" or rel.startswith("share" + os.sep):
                continue
            for f in filenames + dirnames:
                p = os.path.join(dirpath, f)
                snap[os.path.relpath(p, self.root)] = (
                    Path(p).read_bytes() if os.path.isfile(p) else None
                )
        return snap


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    e = Env(tmp_path_factory.mktemp("fuzz"))
    yield e
    e.bystander.close()


def feed(c: SmbTestClient, frame: bytes) -> None:
    """Feed a hostile frame: only well-formed responses or a closed connection."""
    out = c.conn.receive_frame(frame, 0)
    assert isinstance(out, list)
    for bufs in out:
        data = b"".join(bytes(b) for b in bufs)
        for r in split_frame(data):
            assert r.header.is_response
    if c.conn.closed:
        assert c.conn.receive_frame(frame, 0) == []


def mutate(data: bytes, edits, cut, extra) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    if cut is not None:
        buf = buf[:cut]
    return bytes(buf) + extra


mutations = {
    "edits": st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
    "cut": st.none() | st.integers(0, 400),
    "extra": st.binary(max_size=64),
}


def resign(c: SmbTestClient, frame: bytes) -> bytes:
    """Re-sign a mutated single-PDU frame so it gets past signature checks to the parsers."""
    if len(frame) < 64 or frame[:4] != b"\xfeSMB":
        return frame
    raw = bytearray(frame)
    struct.pack_into("<I", raw, 16, struct.unpack_from("<I", raw, 16)[0] | 0x8)
    struct.pack_into("<I", raw, 20, 0)  # NextCommand 0: one PDU
    raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = bytes(16)
    (command,) = struct.unpack_from("<H", raw, 12)
    (message_id,) = struct.unpack_from("<Q", raw, 24)
    raw[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
        c.signing_key,
        c.algorithm,
        [bytes(raw)],
        message_id=message_id,
        is_cancel=command == Command.CANCEL,
    )
    return bytes(raw)


# ---- random frames ------------------------------------------------------------------


@FUZZ
@given(frame=st.binary(max_size=600))
def test_random_bytes_fresh_connection(env, frame):
    with SmbTestClient(env.ctx) as c:
        feed(c, frame)


@FUZZ
@given(
    prefix=st.sampled_from([b"\xfeSMB", b"\xffSMB", b"\xfdSMB", b"\xfcSMB"]),
    rest=st.binary(max_size=300),
)
def test_random_bytes_with_protocol_ids(env, prefix, rest):
    with SmbTestClient(env.ctx) as c:
        feed(c, prefix + rest)
        env.check_bystander()


@FUZZ
@given(frame=st.binary(max_size=400), dialect=st.sampled_from([0x0202, 0x0300, 0x0311]))
def test_random_bytes_after_session(env, frame, dialect):
    with SmbTestClient(env.ctx) as c:
        c.login(dialect)
        feed(c, frame)
        env.check_bystander()


# ---- mutated valid requests ----------------------------------------------------------


@FUZZ
@given(
    dialects=st.lists(
        st.sampled_from([0x0202, 0x0210, 0x0300, 0x0302, 0x0311, 0x02FF, 0x0222]),
        min_size=1,
        max_size=6,
    ),
    **mutations,
)
def test_mutated_negotiate(env, dialects, edits, cut, extra):
    with SmbTestClient(env.ctx) as c:
        frame = c.build([Pdu(Command.NEGOTIATE, c.negotiate_body(dialects), sign=False)])
        feed(c, mutate(frame, edits, cut, extra))


@FUZZ
@given(
    dialect_strings=st.lists(
        st.sampled_from(["NT LM 0.12", "SMB 2.002", "SMB 2.???", "PC NETWORK PROGRAM 1.0", ""]),
        max_size=5,
    ),
    **mutations,
)
def test_mutated_smb1_negotiate(env, dialect_strings, edits, cut, extra):
    with SmbTestClient(env.ctx) as c:
        feed(c, mutate(smb1_negotiate_frame(dialect_strings), edits, cut, extra))


@FUZZ
@given(dialect=st.sampled_from([0x0210, 0x0311]), round_=st.sampled_from([1, 2]), **mutations)
def test_mutated_session_setup(env, dialect, round_, edits, cut, extra):
    from lanman.auth.ntlm import NtlmInitiator
    from lanman.auth.spnego import SpnegoInitiator
    from lanman.smb.wire.session import SessionSetupRequest, SessionSetupResponse

    with SmbTestClient(env.ctx) as c:
        c.negotiate([dialect])
        sp = SpnegoInitiator(NtlmInitiator("alice", "Secret123!"))
        token = sp.step(c.negotiate_response.security_buffer)
        if round_ == 2:
            r = c.request(Command.SESSION_SETUP, SessionSetupRequest(token).pack(), sign=False)
            c.session_id = r.header.session_id
            token = sp.step(SessionSetupResponse.unpack(r.pdu).security_buffer)
        frame = c.build([Pdu(Command.SESSION_SETUP, SessionSetupRequest(token).pack(), sign=False)])
        feed(c, mutate(frame, edits, cut, extra))
        env.check_bystander()


@contextlib.contextmanager
def _session(env, dialect=0x0311):
    """A logged-on client with hello.txt open, closed (with its opens) on exit: one per
    Hypothesis example, so examples do not pile up descriptors."""
    with SmbTestClient(env.ctx) as c:
        c.login(dialect)
        tid = c.tree_connect()
        fid = c.create(tid, "hello.txt", disposition=FILE_OPEN)
        c.ensure_credits(16)
        yield c, tid, fid


@FUZZ
@given(name=st.text(max_size=20), signed=st.booleans(), **mutations)
def test_mutated_create(env, name, signed, edits, cut, extra):
    with _session(env) as (c, tid, _):
        before = env.outside_snapshot()
        frame = c.build([Pdu(Command.CREATE, c.create_body(name), tree_id=tid)])
        frame = mutate(frame, [(64 + p, v) for p, v in edits], cut and cut + 64, extra)
        feed(c, resign(c, frame) if signed else frame)
        assert env.outside_snapshot() == before
        env.check_bystander()


@FUZZ
@given(data=st.binary(max_size=200), signed=st.booleans(), **mutations)
def test_mutated_write(env, data, signed, edits, cut, extra):
    with _session(env, 0x0300) as (c, tid, fid):
        frame = c.build(
            [Pdu(Command.WRITE, WriteRequest(fid, 0, data).pack(), tree_id=tid, payload=len(data))]
        )
        frame = mutate(frame, [(64 + p % 48, v) for p, v in edits], cut and cut + 64, extra)
        feed(c, resign(c, frame) if signed else frame)
        env.check_bystander()


@FUZZ
@given(
    command=st.integers(0, 0x14),
    body=st.binary(max_size=200),
    tree=st.booleans(),
    related=st.booleans(),
)
def test_signed_garbage_bodies_for_every_command(env, command, body, tree, related):
    """Correctly signed requests with garbage bodies reach every parser/handler."""
    with _session(env, 0x0311) as (c, tid, _):
        frame = c.build(
            [Pdu(command, body, tree_id=tid if tree else 0, related=related, credit_charge=1)]
        )
        feed(c, frame)
        env.check_bystander()


@FUZZ
@given(n=st.integers(2, 4), tamper_at=st.integers(0, 3), body=st.binary(max_size=64))
def test_signed_compounds_with_garbage(env, n, tamper_at, body):
    with _session(env, 0x0311) as (c, tid, _fid):
        pdus = [Pdu(Command.CREATE, c.create_body("hello.txt", disposition=FILE_OPEN), tree_id=tid)]
        for i in range(1, n):
            pdus.append(
                Pdu(
                    Command.WRITE if i != tamper_at else Command.IOCTL,
                    WriteRequest(b"\xff" * 16, 0, body).pack() if i != tamper_at else body,
                    related=True,
                    tree_id=tid,
                    credit_charge=1,
                )
            )
        feed(c, c.build(pdus))
        env.check_bystander()


# ---- hostile names -------------------------------------------------------------------

HOSTILE_NAMES = [
    "..",
    "..\\outside\\secret.txt",
    "\\..\\outside\\secret.txt",
    "..\\..\\etc\\passwd",
    "/etc/passwd",
    "\\etc\\passwd",
    "C:\\Windows\\win.ini",
    "a\x00b",
    "hello.txt\x00.exe",
    "a/../../etc/passwd",
    "sub/../../outside/secret.txt",
    "sub\\..\\..\\outside\\x.txt",
    "link\\secret.txt",
    "link\\created.txt",
    "linkfile",
    "link",
    "sub\\uplink\\outside\\secret.txt",
    "sub\\uplink\\escape.txt",
    "\\\\server\\share\\x",
    "..\\escape.txt",
    "./../escape.txt",
    "CON",
    "aux.txt",
    "x:stream",
    "sub\\.\\..\\..\\escape.txt",
    "\u202e..",
    "." * 300,
]


def _try_open(c: SmbTestClient, tid: int, name: str, disposition: int, options: int = 0):
    r = c.create_raw(tid, name, disposition=disposition, options=options)
    if r.status != STATUS_SUCCESS:
        return None
    fid = CreateResponse.unpack(r.pdu).file_id
    rr = c.read_raw(tid, fid, 0, 4096)
    if rr.status == STATUS_SUCCESS:
        assert SECRET not in rr.pdu
    w = c.write_raw(tid, fid, 0, b"PWNED")
    c.close_raw(tid, fid)
    return w.status


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("disposition", [FILE_OPEN, FILE_OPEN_IF, FILE_CREATE])
def test_hostile_create_names_stay_inside_share(env, name, disposition):
    with _session(env, 0x0311) as (c, tid, _):
        before = env.outside_snapshot()
        _try_open(c, tid, name, disposition)
        _try_open(c, tid, name, disposition, options=0x1)  # as a directory
        assert env.outside_snapshot() == before
        assert (env.outside / "secret.txt").read_bytes() == SECRET
        assert not c.closed
        env.check_bystander()


@FUZZ
@given(
    parts=st.lists(
        st.sampled_from(
            [
                "..",
                ".",
                "link",
                "sub",
                "uplink",
                "outside",
                "secret.txt",
                "linkfile",
                "",
                "etc",
                "x\x00y",
                "new.txt",
                "C:",
                "~",
            ]
        ),
        min_size=1,
        max_size=6,
    ),
    seps=st.lists(st.sampled_from(["\\", "/", "\\\\"]), min_size=6, max_size=6),
    lead=st.sampled_from(["", "\\", "/"]),
    disposition=st.sampled_from([FILE_OPEN, FILE_OPEN_IF, FILE_CREATE]),
)
def test_generated_hostile_paths_stay_inside_share(env, parts, seps, lead, disposition):
    name = lead + "".join(p + (seps[i] if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    with _session(env, 0x0210) as (c, tid, _):
        before = env.outside_snapshot()
        _try_open(c, tid, name, disposition)
        assert env.outside_snapshot() == before
        assert not c.closed


# ---- FSCTLs (lanman.smb.server.fsctl) ------------------------------------------------------

FSCTL_CODES = sorted(FSCTLS) + [0x000903F0, 0x00098344]  # + unknown, DUPLICATE_EXTENTS


@FUZZ
@given(
    code=st.sampled_from(FSCTL_CODES),
    data=st.binary(max_size=300),
    max_output=st.integers(0, 70000),
    use_fid=st.booleans(),
    flags=st.sampled_from([1, 1, 1, 0, 3]),
)
def test_fsctls_with_hostile_buffers(env, code, data, max_output, use_fid, flags):
    """Every FSCTL of the table (and unknown ones) with garbage input and any output size."""
    with _session(env) as (c, tid, _):
        fid = c.create(tid, "fuzz-fsctl.dat")
        before = env.outside_snapshot()
        body = IoctlRequest(code, fid if use_fid else b"\xff" * 16, data, 0, max_output, flags)
        frame = c.build(
            [Pdu(Command.IOCTL, body.pack(), tree_id=tid, payload=max(len(data), max_output))]
        )
        feed(c, frame)
        assert env.outside_snapshot() == before
        env.check_bystander()


chunk = st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))


@FUZZ
@given(
    chunks=st.lists(chunk, max_size=8) | st.lists(st.just((0, 0, 16)), min_size=250, max_size=260),
    write=st.booleans(),
    count_delta=st.integers(-2, 2),
)
def test_copychunk_with_hostile_chunks(env, chunks, write, count_delta):
    """A valid resume key with hostile chunk lists: offsets and lengths of any size and a
    ChunkCount that may not match the descriptors."""
    with _session(env) as (c, tid, _):
        src = c.create(tid, "fuzz-src.dat")
        c.write(tid, src, 0, b"s" * 4096)
        dst = c.create(tid, "fuzz-dst.dat")
        r = c.ioctl_raw(tid, FSCTL_SRV_REQUEST_RESUME_KEY, src, b"", max_output=32)
        key = bytes(unpack_ioctl_response(r.pdu))[:24]
        count = max(0, len(chunks) + count_delta)
        data = struct.pack("<24sII", key, count, 0) + b"".join(
            struct.pack("<QQII", s, d, n, 0) for s, d, n in chunks
        )
        code = FSCTL_SRV_COPYCHUNK_WRITE if write else FSCTL_SRV_COPYCHUNK
        frame = c.build(
            [
                Pdu(
                    Command.IOCTL,
                    IoctlRequest(code, dst, data, 0, 12, 1).pack(),
                    tree_id=tid,
                    payload=len(data),
                )
            ]
        )
        feed(c, frame)
        assert not c.conn.closed
        env.check_bystander()
