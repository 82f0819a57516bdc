"""RpcPipe + srvsvc/wkssvc driven by impacket as the client peer, entirely in memory.

Two styles: raw PDUs built with impacket structures (``rpcrt.MSRPCBind``, ``srvs.NetrShareEnum``)
fed through ``RpcPipe.transact/write/read``; and impacket's full ``DCERPC_v5`` client running over
an in-memory transport that forwards to the pipe (what ``ncacn_np`` does over SMB).
"""

from __future__ import annotations

import struct

import pytest
from impacket.dcerpc.v5 import rpcrt, srvs, transport, wkst
from impacket.dcerpc.v5.ndr import NULL
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin

from lanman.rpc import CallContext, PipeProviders, RpcFault, RpcPipe, RpcProtocolError, open_pipe
from lanman.rpc.endpoint import MAX_REQUEST_SIZE, normalize_pipe_name
from lanman.rpc.interfaces.srvsvc import STYPE_DISKTREE, STYPE_IPC, STYPE_SPECIAL, ShareInfo, Srvsvc
from lanman.rpc.pdu import (
    NDR64_SYNTAX,
    NDR_SYNTAX,
    PFC_DID_NOT_EXECUTE,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    AuthVerifier,
    BindAckPdu,
    BindNakPdu,
    BindPdu,
    ContextElement,
    FaultPdu,
    PType,
    RequestPdu,
    ResponsePdu,
    SyntaxId,
    parse_pdu,
)

SRVS = SyntaxId.from_str("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0)
WKST = SyntaxId.from_str("6bffd098-a112-3610-9833-46c3f87e345a", 1, 0)
BTFN = SyntaxId.from_str("6cb71c2c-9812-4540-0300-000000000000", 1, 0)

SHARES = [
    ShareInfo("IPC$", STYPE_IPC | STYPE_SPECIAL, "Remote IPC"),
    ShareInfo("public", STYPE_DISKTREE, "Public files", path="C:\\srv\\public"),
    ShareInfo("Ünïcødé ✓", STYPE_DISKTREE, "remark with ümlauts", flags=0x30),
]


def ctx(**kw) -> CallContext:
    base = {
        "user": "alice",
        "is_anonymous": False,
        "is_guest": False,
        "client_address": "127.0.0.1",
        "server_name": "LANMAN",
    }
    base.update(kw)
    return CallContext(**base)


def srvsvc_pipe(shares=SHARES, **kw) -> RpcPipe:
    pipe = open_pipe("srvsvc", ctx(**kw), lambda: list(shares))
    assert pipe is not None
    return pipe


def impacket_bind(
    items: list[tuple[int, bytes, bytes]], call_id: int = 1, max_rfrag: int = 4280
) -> bytes:
    bind = rpcrt.MSRPCBind()
    bind["max_rfrag"] = max_rfrag
    for cid, abstract, transfer in items:
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


def impacket_request(call: object, call_id: int = 2, ctx_id: int = 0) -> bytes:
    req = rpcrt.MSRPCRequestHeader()
    req["type"] = rpcrt.MSRPC_REQUEST
    req["call_id"] = call_id
    req["ctx_id"] = ctx_id
    req["op_num"] = call.opnum  # type: ignore[attr-defined]
    req["pduData"] = call.getData()  # type: ignore[attr-defined]
    return req.get_packet()


def read_all(pipe: RpcPipe) -> list[bytes]:
    out = []
    while pipe.pending_output():
        msg = pipe.read(1 << 16)
        assert pipe.message_remaining() == 0
        out.append(msg)
    return out


def call_stub(pipe: RpcPipe, request: object, call_id: int = 2) -> bytes:
    """Send one impacket request struct, return the reassembled response stub."""
    pipe.write(impacket_request(request, call_id))
    stub = b""
    for raw in read_all(pipe):
        pdu = parse_pdu(raw)
        assert isinstance(pdu, ResponsePdu), pdu
        assert pdu.call_id == call_id
        stub += pdu.stub
    return stub


def bound_pipe(**kw) -> RpcPipe:
    pipe = srvsvc_pipe(**kw)
    ack = pipe.transact(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]), 4280)
    assert rpcrt.MSRPCBindAck(ack).getCtxItem(1)["Result"] == 0
    return pipe


# ------------------------------------------------------------------ in-memory transport for DCERPC_v5


class PipeTransport(transport.DCERPCTransport):
    """What impacket's SMBTransport does, minus SMB: writes/reads go straight to an RpcPipe."""

    def __init__(self, pipe: RpcPipe) -> None:
        super().__init__("lanman", 445)
        self.pipe = pipe

    def connect(self):
        return 1

    def send(self, data, forceWriteAndx=0, forceRecv=0):
        self.pipe.write(data)

    def recv(self, forceRecv=0, count=0):
        return self.pipe.read(count or 65536)

    def disconnect(self):
        self.pipe.close()


def impacket_client(pipe: RpcPipe, iface: bytes, frag: int = 0) -> rpcrt.DCERPC_v5:
    dce = rpcrt.DCERPC_v5(PipeTransport(pipe))
    if frag:
        dce.set_max_fragment_size(frag)
    dce.connect()
    dce.bind(iface)
    return dce


# ------------------------------------------------------------------ pipe names


def test_open_pipe_names():
    for name in (
        "srvsvc",
        "SRVSVC",
        "\\pipe\\srvsvc",
        "\\PIPE\\SrvSvc",
        "pipe\\srvsvc",
        "\\srvsvc",
    ):
        pipe = open_pipe(name, ctx(), list)
        assert isinstance(pipe, RpcPipe), name
        assert pipe.sec_addr == "\\PIPE\\srvsvc"
    assert isinstance(open_pipe("wkssvc", ctx()), RpcPipe)
    assert open_pipe("lsarpc", ctx()) is None
    assert open_pipe("nope", ctx(), PipeProviders()) is None
    assert normalize_pipe_name("\\PIPE\\LSM_API_service") == "lsm_api_service"


def test_each_open_is_independent():
    a, b = srvsvc_pipe(), srvsvc_pipe()
    a.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    assert a.bound and not b.bound


# ------------------------------------------------------------------ bind


def test_bind_ack_accepts_srvsvc():
    pipe = srvsvc_pipe()
    out = pipe.transact(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())], call_id=5), 4280)
    hdr = rpcrt.MSRPCHeader(out)
    assert (
        hdr["type"] == rpcrt.MSRPC_BINDACK and hdr["call_id"] == 5 and hdr["frag_len"] == len(out)
    )
    ack = rpcrt.MSRPCBindAck(out)
    assert ack["max_tfrag"] == 4280 and ack["max_rfrag"] == 4280
    assert ack["assoc_group"] != 0
    assert ack["SecondaryAddr"] == "\\PIPE\\srvsvc"
    item = ack.getCtxItem(1)
    assert item["Result"] == 0 and item["TransferSyntax"] == NDR_SYNTAX.pack()
    assert pipe.pending_output() == 0


def test_windows_style_bind_ndr_ndr64_and_feature_negotiation():
    """Windows x64 offers NDR, NDR64 and bind-time feature negotiation as three contexts."""
    pipe = srvsvc_pipe()
    bind = BindPdu(
        2,
        5840,
        5840,
        0,
        [
            ContextElement(0, SRVS, [NDR_SYNTAX]),
            ContextElement(1, SRVS, [NDR64_SYNTAX]),
            ContextElement(2, SRVS, [BTFN]),
        ],
    )
    ack = parse_pdu(pipe.transact(bind.pack(), 5840))
    assert isinstance(ack, BindAckPdu)
    r = ack.results
    assert (r[0].result, r[0].reason, r[0].transfer_syntax) == (0, 0, NDR_SYNTAX)
    assert (r[1].result, r[1].reason) == (
        2,
        2,
    )  # provider rejection, transfer syntaxes not supported
    assert (r[2].result, r[2].reason) == (3, 0x02)  # negotiate_ack: KeepConnectionOnOrphan only
    assert r[2].transfer_syntax.if_uuid.int == 0
    assert set(pipe.contexts) == {0}


def test_ndr64_only_bind_is_rejected():
    pipe = srvsvc_pipe()
    out = pipe.transact(impacket_bind([(0, SRVS.pack(), NDR64_SYNTAX.pack())]), 4280)
    item = rpcrt.MSRPCBindAck(out).getCtxItem(1)
    assert (item["Result"], item["Reason"]) == (2, 2)
    assert item["TransferSyntax"] == b"\x00" * 20
    # impacket's client reports it as a rejected context
    with pytest.raises(DCERPCException, match="proposed_transfer_syntaxes_not_supported"):
        dce = rpcrt.DCERPC_v5(PipeTransport(srvsvc_pipe()))
        dce.connect()
        dce.bind(
            srvs.MSRPC_UUID_SRVS, transfer_syntax=("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")
        )


def test_unknown_interface_is_provider_rejection():
    pipe = srvsvc_pipe()
    samr = uuidtup_to_bin(("12345778-1234-ABCD-EF00-0123456789AC", "1.0"))
    out = pipe.transact(impacket_bind([(0, samr, NDR_SYNTAX.pack())]), 4280)
    item = rpcrt.MSRPCBindAck(out).getCtxItem(1)
    assert (item["Result"], item["Reason"]) == (2, 1)  # abstract syntax not supported
    # wrong major version of srvsvc is also unknown
    pipe = srvsvc_pipe()
    v2 = uuidtup_to_bin(("4B324FC8-1670-01D3-1278-5A47BF6EE188", "2.0"))
    item = rpcrt.MSRPCBindAck(
        pipe.transact(impacket_bind([(0, v2, NDR_SYNTAX.pack())]), 4280)
    ).getCtxItem(1)
    assert (item["Result"], item["Reason"]) == (2, 1)
    # and a request on the rejected context faults with nca_s_unk_if
    req = srvs.NetrShareEnum()
    fault = parse_pdu(pipe.transact(impacket_request(req), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C010003
    assert fault.pfc_flags & PFC_DID_NOT_EXECUTE


def test_bind_with_auth_verifier_gets_bind_nak():
    pipe = srvsvc_pipe()
    bind = BindPdu(1, 4280, 4280, 0, [ContextElement(0, SRVS, [NDR_SYNTAX])])
    bind.auth = AuthVerifier(10, 6, 0, 79231, b"NTLMSSP\x00" + b"\x01" * 32)
    nak = parse_pdu(pipe.transact(bind.pack(), 4280))
    assert isinstance(nak, BindNakPdu) and nak.provider_reject_reason == 8
    assert not pipe.bound and not pipe.broken


def test_second_bind_and_empty_bind_are_nakked():
    pipe = bound_pipe()
    nak = parse_pdu(pipe.transact(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())], 9), 4280))
    assert isinstance(nak, BindNakPdu) and nak.call_id == 9
    pipe = srvsvc_pipe()
    nak = parse_pdu(pipe.transact(BindPdu(1, 4280, 4280, 0, []).pack(), 4280))
    assert isinstance(nak, BindNakPdu)


def test_malformed_bind_body_gets_nak_not_exception():
    raw = bytearray(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    raw[24] = 5  # claims 5 context elements
    pipe = srvsvc_pipe()
    nak = parse_pdu(pipe.transact(bytes(raw), 4280))
    assert isinstance(nak, BindNakPdu) and nak.provider_reject_reason == 0
    assert not pipe.broken


def test_alter_context_adds_a_context():
    pipe = bound_pipe()
    alter = BindPdu(
        3, 4280, 4280, 0, [ContextElement(1, SRVS, [NDR_SYNTAX])], ptype=PType.ALTER_CONTEXT
    )
    resp = parse_pdu(pipe.transact(alter.pack(), 4280))
    assert isinstance(resp, BindAckPdu) and resp.results[0].result == 0 and resp.sec_addr == ""
    assert set(pipe.contexts) == {0, 1}
    # the same context id cannot be rebound to a different interface
    wk = srvsvc_pipe()
    wk.interfaces.append(
        type("W", (), {"uuid": str(WKST.if_uuid), "version": (1, 0), "call": None})()
    )
    wk.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    read_all(wk)
    alter = BindPdu(
        4, 4280, 4280, 0, [ContextElement(0, WKST, [NDR_SYNTAX])], ptype=PType.ALTER_CONTEXT
    )
    resp = parse_pdu(wk.transact(alter.pack(), 4280))
    assert isinstance(resp, BindAckPdu) and resp.results[0].result == 2


def test_alter_context_before_bind_faults():
    pipe = srvsvc_pipe()
    alter = BindPdu(
        3, 4280, 4280, 0, [ContextElement(0, SRVS, [NDR_SYNTAX])], ptype=PType.ALTER_CONTEXT
    )
    fault = parse_pdu(pipe.transact(alter.pack(), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C01000B


def test_impacket_alter_ctx_client_path():
    pipe = srvsvc_pipe()
    dce = impacket_client(pipe, srvs.MSRPC_UUID_SRVS)
    dce2 = dce.alter_ctx(srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce2, 0)
    assert resp["InfoStruct"]["ShareInfo"]["Level0"]["EntriesRead"] == 3


# ------------------------------------------------------------------ srvsvc via impacket's client


def test_impacket_share_enum_level1_roundtrip():
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    assert resp["ErrorCode"] == 0
    assert resp["TotalEntries"] == 3
    got = [
        (e["shi1_netname"][:-1], e["shi1_type"], e["shi1_remark"][:-1])
        for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]
    ]
    assert got == [(s.name, s.type, s.remark) for s in SHARES]


def test_impacket_share_enum_level0_and_501():
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 0)
    assert [
        e["shi0_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level0"]["Buffer"]
    ] == [s.name for s in SHARES]
    resp = srvs.hNetrShareEnum(dce, 501)
    buf = resp["InfoStruct"]["ShareInfo"]["Level501"]["Buffer"]
    assert [(e["shi501_netname"][:-1], e["shi501_flags"]) for e in buf] == [
        (s.name, s.flags) for s in SHARES
    ]


def test_share_enum_level2_needs_admin():
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    with pytest.raises(DCERPCException) as err:  # impacket maps 5 to rpc_s_access_denied
        srvs.hNetrShareEnum(dce, 2)
    assert err.value.error_code == 5
    dce = impacket_client(srvsvc_pipe(is_admin=True), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 2)
    buf = resp["InfoStruct"]["ShareInfo"]["Level2"]["Buffer"]
    assert [(e["shi2_netname"][:-1], e["shi2_path"][:-1]) for e in buf] == [
        (s.name, s.path) for s in SHARES
    ]
    assert buf[0]["shi2_max_uses"] == 0xFFFFFFFF


def test_share_enum_invalid_level():
    pipe = bound_pipe()
    req = srvs.NetrShareEnum()
    req["ServerName"] = "\\\\LANMAN\x00"
    req["InfoStruct"]["Level"] = 502
    req["InfoStruct"]["ShareInfo"]["tag"] = 502
    req["InfoStruct"]["ShareInfo"]["Level502"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = NULL
    stub = call_stub(pipe, req)
    assert struct.unpack("<I", stub[-4:])[0] == 124  # ERROR_INVALID_LEVEL
    resp = srvs.NetrShareEnumResponse(stub)
    assert resp["TotalEntries"] == 0


def test_share_enum_resume_handle():
    pipe = bound_pipe()
    req = srvs.NetrShareEnum()
    req["ServerName"] = NULL
    req["InfoStruct"]["Level"] = 1
    req["InfoStruct"]["ShareInfo"]["tag"] = 1
    req["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = 2
    resp = srvs.NetrShareEnumResponse(call_stub(pipe, req))
    assert resp["ErrorCode"] == 0 and resp["TotalEntries"] == 3 and resp["ResumeHandle"] == 0
    names = [e["shi1_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]]
    assert names == [SHARES[2].name]


def test_share_enum_empty_provider():
    dce = impacket_client(srvsvc_pipe(shares=[]), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    assert resp["TotalEntries"] == 0
    assert resp["InfoStruct"]["ShareInfo"]["Level1"]["EntriesRead"] == 0


def test_share_get_info_levels():
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    r = srvs.hNetrShareGetInfo(dce, "PUBLIC\x00", 1)  # case-insensitive lookup
    info = r["InfoStruct"]["ShareInfo1"]
    assert (info["shi1_netname"], info["shi1_type"], info["shi1_remark"]) == (
        "public\x00",
        STYPE_DISKTREE,
        "Public files\x00",
    )
    r = srvs.hNetrShareGetInfo(dce, "IPC$\x00", 0)
    assert r["InfoStruct"]["ShareInfo0"]["shi0_netname"] == "IPC$\x00"
    r = srvs.hNetrShareGetInfo(dce, "Ünïcødé ✓\x00", 501)
    assert r["InfoStruct"]["ShareInfo501"]["shi501_flags"] == 0x30
    r = srvs.hNetrShareGetInfo(dce, "Ünïcødé ✓\x00", 1005)
    assert r["InfoStruct"]["ShareInfo1005"]["shi1005_flags"] == 0x30
    with pytest.raises(srvs.DCERPCSessionError) as err:
        srvs.hNetrShareGetInfo(dce, "missing\x00", 1)
    assert err.value.error_code == 2310
    with pytest.raises(DCERPCException) as err:
        srvs.hNetrShareGetInfo(dce, "public\x00", 2)
    assert err.value.error_code == 5
    with pytest.raises(srvs.DCERPCSessionError) as err:
        srvs.hNetrShareGetInfo(dce, "public\x00", 502)
    assert err.value.error_code == 124


def test_server_get_info():
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    r = srvs.hNetrServerGetInfo(dce, 101)["InfoStruct"]["ServerInfo101"]
    assert r["sv101_platform_id"] == 500 and r["sv101_name"] == "LANMAN\x00"
    assert (r["sv101_version_major"], r["sv101_version_minor"]) == (10, 0)
    assert r["sv101_type"] & 0x9003 == 0x9003
    r = srvs.hNetrServerGetInfo(dce, 100)["InfoStruct"]["ServerInfo100"]
    assert r["sv100_name"] == "LANMAN\x00"
    with pytest.raises(srvs.DCERPCSessionError) as err:
        srvs.hNetrServerGetInfo(dce, 102)
    assert err.value.error_code == 124


def test_wkssvc_get_info_100():
    pipe = open_pipe("\\PIPE\\wkssvc", ctx(domain="CORP"))
    assert pipe is not None
    dce = impacket_client(pipe, wkst.MSRPC_UUID_WKST)
    r = wkst.hNetrWkstaGetInfo(dce, 100)["WkstaInfo"]["WkstaInfo100"]
    assert r["wki100_computername"] == "LANMAN\x00" and r["wki100_langroup"] == "CORP\x00"
    assert (r["wki100_platform_id"], r["wki100_ver_major"]) == (500, 10)
    with pytest.raises(wkst.DCERPCSessionError) as err:
        wkst.hNetrWkstaGetInfo(dce, 101)
    assert err.value.error_code == 124


# ------------------------------------------------------------------ faults


def test_unknown_opnum_faults_op_rng_error():
    pipe = bound_pipe()
    fault = parse_pdu(pipe.transact(RequestPdu(7, 0, 200, b"").pack(), 4280))
    assert isinstance(fault, FaultPdu)
    assert (fault.call_id, fault.status) == (7, 0x1C010002)
    assert fault.pfc_flags & PFC_DID_NOT_EXECUTE
    # impacket surfaces it as a DCERPC exception with the right code
    dce = impacket_client(srvsvc_pipe(), srvs.MSRPC_UUID_SRVS)
    with pytest.raises(DCERPCException) as err:
        dce.call(99, b"")
        dce.recv()
    assert "nca_s_op_rng_error" in str(err.value)


def test_bad_stub_faults_ndr():
    pipe = bound_pipe()
    fault = parse_pdu(pipe.transact(RequestPdu(8, 0, 15, b"\x01\x00").pack(), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x6F7
    # the pipe keeps working afterwards
    resp = parse_pdu(pipe.transact(impacket_request(srvs.NetrServerGetInfo(), 9), 4280))
    assert isinstance(resp, ResponsePdu) and resp.call_id == 9


def test_interface_bug_is_contained():
    class Boom:
        uuid = str(SRVS.if_uuid)
        version = (3, 0)

        def call(self, opnum, stub, ctx):
            if opnum == 1:
                raise RpcFault(5)
            raise RuntimeError("bug")

    pipe = RpcPipe([Boom()], ctx())
    pipe.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    read_all(pipe)
    fault = parse_pdu(pipe.transact(RequestPdu(2, 0, 0, b"").pack(), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C000012
    fault = parse_pdu(pipe.transact(RequestPdu(3, 0, 1, b"").pack(), 4280))
    assert (
        isinstance(fault, FaultPdu)
        and fault.status == 5
        and not fault.pfc_flags & PFC_DID_NOT_EXECUTE
    )


def test_request_before_bind_faults():
    pipe = srvsvc_pipe()
    fault = parse_pdu(pipe.transact(RequestPdu(1, 0, 15, b"").pack(), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C01000B


def test_request_with_auth_verifier_faults():
    pipe = bound_pipe()
    req = RequestPdu(4, 0, 21, b"\x00" * 8, auth=AuthVerifier(10, 6, 0, 1, b"\x00" * 16))
    fault = parse_pdu(pipe.transact(req.pack(), 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C01000B


def test_truncated_request_body_faults():
    pipe = bound_pipe()
    raw = bytes([5, 0, 0, 3, 0x10, 0, 0, 0]) + struct.pack("<HHI", 20, 0, 11) + b"\x00" * 4
    fault = parse_pdu(pipe.transact(raw, 4280))
    assert isinstance(fault, FaultPdu) and fault.call_id == 11 and fault.status == 0x1C01000B


@pytest.mark.parametrize(
    "raw",
    [
        b"\x04\x00\x0b\x03\x10\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00",  # version 4
        b"\x05\x00\x0b\x03\x00\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00",  # big-endian drep
        b"\x05\x00\x0b\x03\x10\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00",  # frag_length < 16
        b"\x05\x00\x02\x03\x10\x00\x00\x00\x18\x00\x00\x00\x01\x00\x00\x00"
        + b"\x00" * 8,  # response
        b"\x05\x00\x0c\x03\x10\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00",  # bind_ack from client
    ],
)
def test_protocol_errors_break_the_pipe(raw):
    pipe = srvsvc_pipe()
    with pytest.raises(RpcProtocolError):
        pipe.write(raw)
    assert pipe.broken
    with pytest.raises(RpcProtocolError):
        pipe.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))


def test_frag_length_that_lies_waits_for_more_data():
    pipe = srvsvc_pipe()
    raw = bytearray(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]))
    raw[8:10] = struct.pack("<H", 0xFFFF)
    pipe.write(bytes(raw))  # incomplete: nothing yet, bounded by 64 KiB
    assert pipe.pending_output() == 0
    pipe.write(b"\x00" * (0xFFFF - len(raw)))  # now complete; bind body is garbage-tolerant
    out = read_all(pipe)
    assert len(out) == 1


# ------------------------------------------------------------------ fragmentation


def test_response_fragmentation_many_shares():
    shares = [ShareInfo(f"share{i:04d}", STYPE_DISKTREE, "r" * (i % 50)) for i in range(400)]
    pipe = srvsvc_pipe(shares=shares)
    pipe.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())], max_rfrag=1432))
    ack = rpcrt.MSRPCBindAck(pipe.read(4280))
    assert ack["max_tfrag"] == 1432
    pipe.write(impacket_request(_enum_request(1)))
    frags = read_all(pipe)
    assert len(frags) > 10
    stub = b""
    remaining = None
    for i, raw in enumerate(frags):
        assert len(raw) <= 1432
        pdu = parse_pdu(raw)
        assert isinstance(pdu, ResponsePdu)
        assert bool(pdu.pfc_flags & PFC_FIRST_FRAG) == (i == 0)
        assert bool(pdu.pfc_flags & PFC_LAST_FRAG) == (i == len(frags) - 1)
        if i < len(frags) - 1:
            assert len(pdu.stub) % 8 == 0
        if remaining is not None:
            assert pdu.alloc_hint == remaining
        remaining = pdu.alloc_hint - len(pdu.stub)
        stub += pdu.stub
    resp = srvs.NetrShareEnumResponse(stub)
    names = [e["shi1_netname"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]]
    assert names == [s.name for s in shares]


def test_tiny_max_recv_frag_is_clamped():
    pipe = srvsvc_pipe(shares=[ShareInfo(f"s{i}", 0, "x" * 40) for i in range(100)])
    pipe.write(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())], max_rfrag=16))
    assert rpcrt.MSRPCBindAck(pipe.read(4280))["max_tfrag"] == 1024
    pipe.write(impacket_request(_enum_request(1)))
    frags = read_all(pipe)
    assert all(len(f) <= 1024 for f in frags) and len(frags) < 20


def test_impacket_client_reassembles_fragmented_response():
    shares = [ShareInfo(f"share-{i}", STYPE_DISKTREE, f"remark {i}") for i in range(300)]
    dce = impacket_client(srvsvc_pipe(shares=shares), srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    assert [e["shi1_remark"][:-1] for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]] == [
        s.remark for s in shares
    ]


def test_impacket_client_fragmented_requests():
    """impacket splits requests at set_max_fragment_size; the pipe reassembles them."""
    pipe = srvsvc_pipe()
    dce = impacket_client(pipe, srvs.MSRPC_UUID_SRVS, frag=40)
    r = srvs.hNetrShareGetInfo(dce, "Ünïcødé ✓\x00", 1)
    assert r["InfoStruct"]["ShareInfo1"]["shi1_remark"] == "remark with ümlauts\x00"


def _enum_request(level: int) -> srvs.NetrShareEnum:
    req = srvs.NetrShareEnum()
    req["ServerName"] = "\\\\LANMAN\x00"
    req["InfoStruct"]["Level"] = level
    req["InfoStruct"]["ShareInfo"]["tag"] = level
    req["InfoStruct"]["ShareInfo"][f"Level{level}"]["Buffer"] = NULL
    req["PreferedMaximumLength"] = 0xFFFFFFFF
    req["ResumeHandle"] = NULL
    return req


def _fragments(stub: bytes, size: int, call_id: int = 2, opnum: int = 15) -> list[bytes]:
    chunks = [stub[i : i + size] for i in range(0, len(stub), size)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        flags = (PFC_FIRST_FRAG if i == 0 else 0) | (PFC_LAST_FRAG if i == len(chunks) - 1 else 0)
        out.append(RequestPdu(call_id, 0, opnum, chunk, flags, alloc_hint=len(stub)).pack())
    return out


def test_manual_request_fragments_and_partial_writes():
    pipe = bound_pipe()
    stub = _enum_request(1).getData()
    data = b"".join(_fragments(stub, 8))
    for i in range(0, len(data), 7):  # feed in odd-sized pieces
        pipe.write(data[i : i + 7])
    (raw,) = read_all(pipe)
    pdu = parse_pdu(raw)
    assert isinstance(pdu, ResponsePdu)
    assert srvs.NetrShareEnumResponse(pdu.stub)["TotalEntries"] == 3


def test_fragment_without_first_faults():
    pipe = bound_pipe()
    frags = _fragments(_enum_request(1).getData(), 16)
    fault = parse_pdu(pipe.transact(frags[1], 4280))
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C01000B
    # remaining fragments of that call are dropped silently, then the pipe still works
    for f in frags[2:]:
        pipe.write(f)
    assert pipe.pending_output() == 0
    for f in _fragments(_enum_request(1).getData(), 16, call_id=3):
        pipe.write(f)
    (raw,) = read_all(pipe)
    assert isinstance(parse_pdu(raw), ResponsePdu)


def test_new_call_while_fragments_pending_faults_old_call():
    pipe = bound_pipe()
    frags = _fragments(_enum_request(1).getData(), 16, call_id=5)
    pipe.write(frags[0])
    pipe.write(RequestPdu(6, 0, 21, srvs.NetrServerGetInfo().getData()).pack())
    out = [parse_pdu(r) for r in read_all(pipe)]
    assert isinstance(out[0], FaultPdu) and out[0].call_id == 5
    assert isinstance(out[1], ResponsePdu) and out[1].call_id == 6


def test_oversized_request_is_refused():
    pipe = bound_pipe()
    chunk = b"\x00" * 60000
    pipe.write(RequestPdu(2, 0, 15, chunk, PFC_FIRST_FRAG).pack())
    sent = len(chunk)
    while sent <= MAX_REQUEST_SIZE:
        pipe.write(RequestPdu(2, 0, 15, chunk, 0).pack())
        sent += len(chunk)
    (raw,) = read_all(pipe)
    fault = parse_pdu(raw)
    assert isinstance(fault, FaultPdu) and fault.status == 0x1C00001B
    # the rest of the call is discarded, including its last fragment
    pipe.write(RequestPdu(2, 0, 15, chunk, 0).pack())
    pipe.write(RequestPdu(2, 0, 15, b"", PFC_LAST_FRAG).pack())
    assert pipe.pending_output() == 0 and not pipe.broken


def test_orphaned_drops_pending_call():
    pipe = bound_pipe()
    frags = _fragments(_enum_request(1).getData(), 16, call_id=5)
    pipe.write(frags[0])
    orphan = bytes([5, 0, PType.ORPHANED, 3, 0x10, 0, 0, 0]) + struct.pack("<HHI", 16, 0, 5)
    pipe.write(orphan)
    for f in frags[1:]:
        pipe.write(f)
    out = [parse_pdu(r) for r in read_all(pipe)]
    assert all(isinstance(p, FaultPdu) for p in out)  # no response for the orphaned call


# ------------------------------------------------------------------ message-mode reads


def test_read_is_message_mode():
    pipe = bound_pipe()
    pipe.write(impacket_request(_enum_request(1), 2))
    pipe.write(impacket_request(srvs.NetrServerGetInfo(), 3))
    total = pipe.pending_output()
    first_len = total - len(pipe._out[1])
    part = pipe.read(10)
    assert (
        len(part) == 10 and pipe.message_remaining() == first_len - 10
    )  # -> STATUS_BUFFER_OVERFLOW
    rest = pipe.read(1 << 16)
    assert len(rest) == first_len - 10 and pipe.message_remaining() == 0  # does not cross messages
    assert parse_pdu(part + rest).call_id == 2
    second = pipe.read(1 << 16)
    assert parse_pdu(second).call_id == 3
    assert pipe.read(100) == b"" and pipe.pending_output() == 0


def test_transact_overflow_then_read():
    pipe = srvsvc_pipe()
    out = pipe.transact(impacket_bind([(0, SRVS.pack(), NDR_SYNTAX.pack())]), 20)
    assert len(out) == 20 and pipe.message_remaining() > 0
    out += pipe.read(4280)
    assert rpcrt.MSRPCBindAck(out).getCtxItem(1)["Result"] == 0


def test_close_drops_state():
    pipe = bound_pipe()
    pipe.write(impacket_request(_enum_request(1)))
    pipe.close()
    assert pipe.pending_output() == 0 and not pipe.contexts
    with pytest.raises(RpcProtocolError):
        pipe.write(b"x")


def test_srvsvc_direct_call_unknown_opnum():
    with pytest.raises(RpcFault) as err:
        Srvsvc(list).call(0, b"", ctx())
    assert err.value.status == 0x1C010002 and err.value.did_not_execute
