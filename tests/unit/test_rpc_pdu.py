"""DCE/RPC PDU codec and NDR helpers (lanman.rpc.pdu, lanman.rpc.ndr), checked against impacket."""

from __future__ import annotations

import struct
import uuid

import pytest
from impacket.dcerpc.v5 import rpcrt
from impacket.uuid import uuidtup_to_bin

from lanman.rpc.ndr import ContextHandle, NdrError, NdrReader, NdrWriter
from lanman.rpc.pdu import (
    NDR64_SYNTAX,
    NDR_SYNTAX,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    PFC_OBJECT_UUID,
    AuthVerifier,
    BindAckPdu,
    BindNakPdu,
    BindPdu,
    ContextElement,
    ContextResult,
    ContextResultItem,
    FaultPdu,
    OtherPdu,
    PduFramer,
    PType,
    RequestPdu,
    ResponsePdu,
    RpcProtocolError,
    SyntaxId,
    bind_time_feature_bits,
    is_bind_time_feature_syntax,
    parse_header,
    parse_pdu,
)

SRVS = SyntaxId.from_str("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0)


def impacket_bind(ctx_items: list[tuple[int, bytes, bytes]], call_id: int = 1) -> bytes:
    bind = rpcrt.MSRPCBind()
    for cid, abstract, transfer in ctx_items:
        item = rpcrt.CtxItem()
        item["ContextID"] = cid
        item["TransItems"] = 1
        item["AbstractSyntax"] = abstract
        item["TransferSyntax"] = transfer
        bind.addCtxItem(item)
    pkt = rpcrt.MSRPCHeader()
    pkt["type"] = rpcrt.MSRPC_BIND
    pkt["call_id"] = call_id
    pkt["pduData"] = bind.getData()
    return pkt.get_packet()


# ------------------------------------------------------------------ syntax ids


def test_syntax_id_wire_matches_impacket():
    assert NDR_SYNTAX.pack() == uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
    assert SRVS.pack() == uuidtup_to_bin(("4B324FC8-1670-01D3-1278-5A47BF6EE188", "3.0"))
    assert SyntaxId.unpack(SRVS.pack()) == SRVS
    assert (
        SyntaxId.from_str("11111111-2222-3333-4444-555555555555", 1, 7).pack()[16:]
        == b"\x01\x00\x07\x00"
    )


def test_bind_time_feature_syntax_detection():
    btfn = SyntaxId(uuid.UUID("6cb71c2c-9812-4540-0300-000000000000"), (1, 0))
    assert is_bind_time_feature_syntax(btfn)
    assert bind_time_feature_bits(btfn) == 3
    assert not is_bind_time_feature_syntax(NDR_SYNTAX)
    assert not is_bind_time_feature_syntax(NDR64_SYNTAX)


# ------------------------------------------------------------------ header


def test_parse_impacket_bind():
    raw = impacket_bind(
        [(0, SRVS.pack(), NDR_SYNTAX.pack()), (1, SRVS.pack(), NDR64_SYNTAX.pack())], 7
    )
    pdu = parse_pdu(raw)
    assert isinstance(pdu, BindPdu)
    assert pdu.call_id == 7 and pdu.ptype == PType.BIND
    assert pdu.max_xmit_frag == 4280 and pdu.max_recv_frag == 4280
    assert [c.p_cont_id for c in pdu.contexts] == [0, 1]
    assert pdu.contexts[0].abstract_syntax == SRVS
    assert pdu.contexts[0].transfer_syntaxes == [NDR_SYNTAX]
    assert pdu.contexts[1].transfer_syntaxes == [NDR64_SYNTAX]
    assert pdu.auth is None
    # our encoder produces the same bytes
    assert pdu.pack() == raw


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda b: b[:10], "truncated"),
        (lambda b: b"\x04" + b[1:], "version"),
        (lambda b: b[:1] + b"\x02" + b[2:], "version"),
        (lambda b: b[:4] + b"\x00\x00\x00\x00" + b[8:], "representation"),
        (lambda b: b[:8] + struct.pack("<H", 8) + b[10:], "below header"),
        (lambda b: b[:10] + struct.pack("<H", 0xFFF0) + b[12:], "auth_length"),
    ],
)
def test_header_validation(mutate, msg):
    raw = impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())])
    with pytest.raises(RpcProtocolError, match=msg):
        parse_header(mutate(raw))


def test_frag_length_must_match_buffer():
    raw = impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())])
    with pytest.raises(RpcProtocolError):
        parse_pdu(raw + b"\x00")
    with pytest.raises(RpcProtocolError):
        parse_pdu(raw[:-1])


def test_bind_body_bounds():
    raw = bytearray(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    # n_context_elem claims 2 while only one is present
    bad = bytearray(raw)
    bad[24] = 2
    with pytest.raises(RpcProtocolError):
        parse_pdu(bytes(bad))
    # n_transfer_syn claims 200
    bad = bytearray(raw)
    bad[30] = 200
    with pytest.raises(RpcProtocolError):
        parse_pdu(bytes(bad))
    # n_transfer_syn 0
    bad = bytearray(raw)
    bad[30] = 0
    with pytest.raises(RpcProtocolError):
        parse_pdu(bytes(bad))


def test_auth_trailer_is_located_from_the_end():
    stub = b"ABCDEFG"
    auth = AuthVerifier(10, 6, 0, 79231, b"\x01" + b"\x00" * 15)
    raw = RequestPdu(3, 0, 15, stub, auth=auth).pack()
    hdr = parse_header(raw)
    assert hdr.auth_length == 16
    pdu = parse_pdu(raw)
    assert isinstance(pdu, RequestPdu)
    assert pdu.stub == stub  # auth padding removed
    assert pdu.auth is not None and pdu.auth.auth_context_id == 79231 and pdu.auth.auth_level == 6
    # an auth_pad_length that runs past the stub start is rejected
    bad = bytearray(raw)
    trailer_at = hdr.frag_length - 16 - 8
    bad[trailer_at + 2] = 200
    with pytest.raises(RpcProtocolError):
        parse_pdu(bytes(bad))


def test_request_response_fault_roundtrip_through_impacket():
    obj = uuid.uuid4()
    raw = RequestPdu(9, 2, 21, b"\x01\x02\x03\x04", object_uuid=obj).pack()
    imp = rpcrt.MSRPCRequestHeader(raw)
    assert imp["op_num"] == 21 and imp["ctx_id"] == 2 and imp["call_id"] == 9
    assert imp["flags"] & PFC_OBJECT_UUID
    back = parse_pdu(raw)
    assert (
        isinstance(back, RequestPdu)
        and back.object_uuid == obj
        and back.stub == b"\x01\x02\x03\x04"
    )

    resp = ResponsePdu(9, 2, b"xyz!", alloc_hint=4).pack()
    imp = rpcrt.MSRPCRespHeader(resp)
    assert (
        imp["type"] == rpcrt.MSRPC_RESPONSE and imp["frag_len"] == 28 and imp["pduData"] == b"xyz!"
    )
    assert parse_pdu(resp) == ResponsePdu(9, 2, b"xyz!", alloc_hint=4)

    fault = FaultPdu(9, 0, 0x1C010002).pack()
    assert len(fault) == 32
    imp = rpcrt.MSRPCRespHeader(fault)
    assert imp["type"] == rpcrt.MSRPC_FAULT
    assert struct.unpack("<L", imp["pduData"][:4])[0] == 0x1C010002
    parsed = parse_pdu(fault)
    assert isinstance(parsed, FaultPdu) and parsed.status == 0x1C010002


def test_bind_ack_parsed_by_impacket():
    ack = BindAckPdu(
        1,
        4280,
        4280,
        0x1234,
        "\\PIPE\\srvsvc",
        [
            ContextResultItem(ContextResult.ACCEPTANCE, 0, NDR_SYNTAX),
            ContextResultItem(ContextResult.PROVIDER_REJECTION, 2),
            ContextResultItem(ContextResult.NEGOTIATE_ACK, 2),
        ],
    ).pack()
    hdr = rpcrt.MSRPCHeader(ack)
    assert hdr["frag_len"] == len(ack)
    imp = rpcrt.MSRPCBindAck(ack)
    assert imp["assoc_group"] == 0x1234
    assert imp["SecondaryAddr"] == "\\PIPE\\srvsvc"
    assert imp["SecondaryAddrLen"] == len("\\PIPE\\srvsvc") + 1
    assert imp["ctx_num"] == 3
    assert imp.getCtxItem(1)["Result"] == 0
    assert imp.getCtxItem(1)["TransferSyntax"] == NDR_SYNTAX.pack()
    assert (imp.getCtxItem(2)["Result"], imp.getCtxItem(2)["Reason"]) == (2, 2)
    assert (imp.getCtxItem(3)["Result"], imp.getCtxItem(3)["Reason"]) == (3, 2)
    back = parse_pdu(ack)
    assert (
        isinstance(back, BindAckPdu)
        and back.sec_addr == "\\PIPE\\srvsvc"
        and len(back.results) == 3
    )


def test_alter_context_resp_has_empty_sec_addr():
    raw = BindAckPdu(
        2, 4280, 4280, 1, "", [ContextResultItem(0, 0, NDR_SYNTAX)], ptype=PType.ALTER_CONTEXT_RESP
    ).pack()
    assert len(raw) == 16 + 8 + 2 + 2 + 4 + 24
    imp = rpcrt.MSRPCBindAck(raw)
    assert imp["SecondaryAddrLen"] == 0 and imp.getCtxItem(1)["Result"] == 0


def test_bind_nak_parsed_by_impacket():
    raw = BindNakPdu(4, 8).pack()
    assert len(raw) % 4 == 0
    hdr = rpcrt.MSRPCHeader(raw)
    assert hdr["type"] == rpcrt.MSRPC_BINDNAK
    assert rpcrt.MSRPCBindNak(hdr["pduData"])["RejectedReason"] == 8
    back = parse_pdu(raw)
    assert isinstance(back, BindNakPdu) and back.versions == [(5, 0)]


def test_other_pdu_types_pass_through():
    raw = bytes([5, 0, PType.ORPHANED, 3, 0x10, 0, 0, 0]) + struct.pack("<HHI", 16, 0, 5)
    pdu = parse_pdu(raw)
    assert isinstance(pdu, OtherPdu) and pdu.header.ptype == PType.ORPHANED


def test_bind_roundtrip_with_many_syntaxes():
    pdu = BindPdu(
        11,
        5840,
        5840,
        0,
        [ContextElement(0, SRVS, [NDR64_SYNTAX, NDR_SYNTAX])],
        ptype=PType.ALTER_CONTEXT,
    )
    raw = pdu.pack()
    assert parse_pdu(raw) == pdu


# ------------------------------------------------------------------ framer


def test_framer_splits_and_joins():
    a = RequestPdu(1, 0, 15, b"a" * 10).pack()
    b = RequestPdu(2, 0, 15, b"b" * 300).pack()
    f = PduFramer()
    f.feed(a + b[:5])
    assert f.next_pdu() == a
    assert f.next_pdu() is None
    f.feed(b[5:100])
    assert f.next_pdu() is None and f.buffered == 100
    f.feed(b[100:])
    assert f.next_pdu() == b
    assert f.next_pdu() is None and f.buffered == 0


def test_framer_fails_closed():
    f = PduFramer()
    f.feed(b"\x06" + b"\x00" * 20)
    with pytest.raises(RpcProtocolError):
        f.next_pdu()
    with pytest.raises(RpcProtocolError):
        f.feed(b"x")


# ------------------------------------------------------------------ NDR


def test_ndr_alignment_and_primitives():
    w = NdrWriter()
    w.u8(1)
    w.u16(2)
    w.u32(3)
    w.u8(4)
    w.u64(5)
    data = w.getvalue()
    assert data == bytes.fromhex(
        "01 00 0200 03000000 04 00000000000000 0500000000000000".replace(" ", "")
    )
    r = NdrReader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u8(), r.u64()) == (1, 2, 3, 4, 5)
    assert r.remaining == 0
    with pytest.raises(NdrError):
        r.u8()


def test_ndr_wstr_layout_matches_impacket():
    from impacket.dcerpc.v5.dtypes import WSTR

    w = NdrWriter()
    w.wstr("hello")
    expected = WSTR()
    expected["Data"] = "hello\x00"
    assert w.getvalue() == expected.getData()
    assert NdrReader(w.getvalue()).wstr() == "hello"


def test_ndr_string_bounds():
    bad = struct.pack("<III", 2, 0, 5) + b"a\x00" * 5  # actual > max
    with pytest.raises(NdrError):
        NdrReader(bad).wstr()
    bad = struct.pack("<III", 5, 1, 5) + b"a\x00" * 5  # offset != 0
    with pytest.raises(NdrError):
        NdrReader(bad).wstr()
    bad = struct.pack("<III", 0x7FFFFFFF, 0, 0x7FFFFFFF)  # huge claim, no data
    with pytest.raises(NdrError):
        NdrReader(bad).wstr()
    padded = struct.pack("<III", 4, 0, 4) + "ab\x00\x00".encode("utf-16-le")
    assert NdrReader(padded).wstr() == "ab"


def test_ndr_deferred_pointers_order():
    """Embedded pointees follow the whole construct; nested ones follow their parent pointee."""
    w = NdrWriter()

    def outer(ww: NdrWriter) -> None:
        ww.u32(0xAA)
        ww.pointer(lambda w3: (w3.u32(0xBB), w3.pointer(lambda w4: w4.u32(0xDD))))
        ww.pointer(lambda w3: w3.u32(0xCC))
        ww.pointer(None)

    w.top_level(outer)
    w.u32(0xEE)
    vals = struct.unpack("<9I", w.getvalue())
    assert vals == (0xAA, 0x20000, 0x20004, 0, 0xBB, 0x20008, 0xDD, 0xCC, 0xEE)


def test_ndr_context_handle_and_arrays():
    h = ContextHandle(0, uuid.UUID(int=7).bytes)
    w = NdrWriter()
    w.u8(1)
    w.context_handle(h)
    w.conformant_array([1, 2, 3], lambda ww, v: ww.u16(v))
    r = NdrReader(w.getvalue())
    r.u8()
    assert r.context_handle() == h and not h.is_null
    assert r.array_count() == 3
    assert [r.u16() for _ in range(3)] == [1, 2, 3]
    assert ContextHandle(0, b"\x00" * 16).is_null
    with pytest.raises(NdrError):
        NdrReader(struct.pack("<I", 1 << 30)).array_count()


def test_ndr_unique_wstr():
    w = NdrWriter()
    w.top_level_pointer(lambda ww: ww.wstr("\\\\srv"))
    w.top_level_pointer(None)
    r = NdrReader(w.getvalue())
    assert r.unique_wstr() == "\\\\srv"
    assert r.unique_wstr() is None


def test_frag_flags_constants():
    assert PFC_FIRST_FRAG | PFC_LAST_FRAG == 3
