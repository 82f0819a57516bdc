"""Property tests: hostile bytes into RpcPipe.write / parse_pdu / NdrReader never escape as
anything but RpcProtocolError / NdrError, and output stays bounded and well-formed."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanman.rpc import CallContext, RpcPipe, RpcProtocolError, open_pipe
from lanman.rpc.interfaces.srvsvc import ShareInfo, Srvsvc
from lanman.rpc.ndr import NdrError, NdrReader
from lanman.rpc.pdu import (
    NDR_SYNTAX,
    BindPdu,
    ContextElement,
    PType,
    RequestPdu,
    SyntaxId,
    parse_header,
    parse_pdu,
)

SRVS = SyntaxId.from_str("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0)
CTX = CallContext("bob", False, False, "10.0.0.1", "LANMAN", is_admin=True)
SHARES = [ShareInfo("IPC$", 0x80000003, "IPC"), ShareInfo("data", 0, "stuff")]
BIND = BindPdu(1, 4280, 4280, 0, [ContextElement(0, SRVS, [NDR_SYNTAX])]).pack()

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def new_pipe() -> RpcPipe:
    pipe = open_pipe("srvsvc", CTX, lambda: SHARES)
    assert pipe is not None
    return pipe


def drain_and_check(pipe: RpcPipe) -> None:
    """Every output message is exactly one well-formed PDU."""
    while pipe.pending_output():
        msg = pipe.read(1 << 16)
        hdr = parse_header(msg)
        assert hdr.frag_length == len(msg)
        assert hdr.ptype in (
            PType.BIND_ACK,
            PType.BIND_NAK,
            PType.ALTER_CONTEXT_RESP,
            PType.RESPONSE,
            PType.FAULT,
        )
        parse_pdu(msg)


def header(ptype: int, flags: int, frag_len: int, auth_len: int = 0, call_id: int = 1) -> bytes:
    return bytes([5, 0, ptype, flags, 0x10, 0, 0, 0]) + struct.pack(
        "<HHI", frag_len, auth_len, call_id
    )


@st.composite
def pdu_like(draw) -> bytes:
    """Plausible headers with random bodies, so fuzzing gets past the header checks."""
    ptype = draw(st.sampled_from([0, 11, 14, 16, 18, 19, 2, 3, 12, draw(st.integers(0, 255))]))
    body = draw(st.binary(max_size=300))
    flags = draw(st.integers(0, 255))
    auth_len = draw(st.sampled_from([0, 0, 0, 8, 16, draw(st.integers(0, 0xFFFF))]))
    frag_len = draw(st.sampled_from([16 + len(body), 16 + len(body), draw(st.integers(0, 0xFFFF))]))
    return header(ptype, flags, frag_len, auth_len, draw(st.integers(0, 5))) + body


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_random_writes(chunks):
    pipe = new_pipe()
    for chunk in chunks:
        try:
            pipe.write(chunk)
        except RpcProtocolError:
            assert pipe.broken
            break
    drain_and_check(pipe)


@FUZZ
@given(st.lists(pdu_like(), min_size=1, max_size=6), st.booleans())
def test_plausible_pdus_after_bind(pdus, bind_first):
    pipe = new_pipe()
    if bind_first:
        pipe.write(BIND)
    for raw in pdus:
        try:
            pipe.write(raw)
        except RpcProtocolError:
            break
    drain_and_check(pipe)
    assert pipe._framer.buffered <= 0xFFFF


@FUZZ
@given(st.integers(0, 40), st.binary(max_size=400))
def test_random_request_stubs(opnum, stub):
    pipe = new_pipe()
    pipe.write(BIND)
    pipe.write(RequestPdu(2, 0, opnum, stub).pack())
    drain_and_check(pipe)
    assert not pipe.broken


@FUZZ
@given(st.binary(max_size=400))
def test_srvsvc_handlers_only_raise_ndr_errors(stub):
    iface = Srvsvc(lambda: SHARES)
    for opnum in (15, 16, 21):
        try:
            iface.call(opnum, stub, CTX)
        except NdrError:
            pass


@FUZZ
@given(st.binary(max_size=200))
def test_parse_pdu_only_raises_protocol_error(data):
    try:
        parse_pdu(data)
    except RpcProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=64))
def test_ndr_reader_bounds(data):
    r = NdrReader(data)
    try:
        r.unique_wstr()
        r.wstr()
        r.array_count()
        r.context_handle()
        r.u64()
    except NdrError:
        pass
    assert r.pos <= len(data)
