"""DCE/RPC NTLMSSP binds (MS-RPCE 3.3.1.5.2): lanman's sans-IO client against RpcPipe, sealing,
bad verifiers, anonymous refusal; TSTS stubs checked with impacket's NDR structures."""

from __future__ import annotations

import pytest
from impacket.dcerpc.v5 import tsts as T

from lanman.auth.ntlm import NtlmAcceptor, NtlmInitiator
from lanman.crypto.md4 import nt_hash
from lanman.msg.host import MsgHost
from lanman.rpc.auth import AuthLevel
from lanman.rpc.client import RpcCallError, RpcClient
from lanman.rpc.endpoint import CallContext, PipeProviders, open_pipe
from lanman.rpc.pdu import SyntaxId

PW = "Passw0rd!"


def _acceptor():
    return NtlmAcceptor(
        lookup_nt_hash=lambda u: nt_hash(PW) if u.lower() == "alice" else None,
        server_name="SRV",
        domain_name="WG",
        dns_computer_name="srv",
        dns_domain_name="wg",
        now_filetime=133_000_000_000_000_000,
        anonymous_allowed=False,
    )


@pytest.fixture()
def host(tmp_path):
    h = MsgHost.open(tmp_path, os_sessions=False)
    h.virtual.add("desk", "alice")
    return h


def _pipe(host, events=None):
    ctx = CallContext("alice", False, False, "127.0.0.1:1", "SRV")
    prov = PipeProviders(
        msg=host,
        auth=_acceptor,
        emit=(lambda n, **k: events.append(n)) if events is not None else None,
    )
    return open_pipe("LSM_API_service", ctx, prov)


def _bound(pipe, password=PW, level=AuthLevel.PKT_PRIVACY):
    c = RpcClient(
        SyntaxId.from_str("484809d6-4239-471b-b5bc-61df8c23ac48", 1, 0),
        ntlm=NtlmInitiator("alice", password, "WG"),
        auth_level=level,
    )
    pipe.write(c.bind())
    c.receive(pipe.read(65536))
    pipe.write(c.auth3())
    return c


def _call(pipe, c, opnum, stub):
    for f in c.request(opnum, stub):
        pipe.write(f)
    while True:
        got = c.receive(pipe.read(65536))
        if got is not None:
            return got


@pytest.mark.parametrize("level", [AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY])
def test_sealed_show_message_box(host, tmp_path, level):
    pipe = _pipe(host)
    c = _bound(pipe, level=level)
    req = T.RpcOpenSession()
    req["SessionId"] = 1
    out = _call(pipe, c, 0, req.getData())
    resp = T.RpcOpenSessionResponse(out)
    assert resp["ErrorCode"] == 0
    req = T.RpcShowMessageBox()
    req["hSession"] = resp["phSession"]
    req["szTitle"] = "T\x00"
    req["szMessage"] = "sealed hello\x00"
    req["ulStyle"] = 0
    req["ulTimeout"] = 0
    req["bDoNotWait"] = True
    out = _call(pipe, c, 9, req.getData())
    r = T.RpcShowMessageBoxResponse(out)
    assert r["ErrorCode"] == 0 and r["pulResponse"] == 32001
    assert "sealed hello" in (tmp_path / "inbox" / "desk.jsonl").read_text()
    assert pipe.ctx.user == "alice" and pipe.ctx.rpc_auth_level == level


def test_sealed_fragmentation(host):
    pipe = _pipe(host)
    c = _bound(pipe)
    c.max_xmit_frag = 1024  # force several request fragments, each with its own verifier
    req = T.RpcOpenSession()
    req["SessionId"] = 1
    h = T.RpcOpenSessionResponse(_call(pipe, c, 0, req.getData()))["phSession"]
    req = T.RpcShowMessageBox()
    req["hSession"] = h
    req["szTitle"] = "T\x00"
    req["szMessage"] = "y" * 1000 + "\x00"
    req["ulStyle"] = req["ulTimeout"] = 0
    req["bDoNotWait"] = True
    frags = c.request(9, req.getData())
    assert len(frags) > 1
    for f in frags:
        pipe.write(f)
    assert T.RpcShowMessageBoxResponse(c.receive(pipe.read(65536)))["ErrorCode"] == 0


def test_bad_verifier_rejected(host):
    events = []
    pipe = _pipe(host, events)
    c = _bound(pipe)
    frag = bytearray(c.request(0, b"\x01\x00\x00\x00")[0])
    frag[-3] ^= 0xFF  # corrupt the signature
    pipe.write(bytes(frag))
    with pytest.raises(RpcCallError) as ei:
        c.receive(pipe.read(65536))
    assert ei.value.status == 5
    assert "RPC_AUTH_FAILED" in events


def test_wrong_password_then_calls_denied(host):
    events = []
    pipe = _pipe(host, events)
    c = _bound(pipe, password="wrong")
    pipe.write(c.request(0, b"\x01\x00\x00\x00")[0])
    with pytest.raises(RpcCallError) as ei:
        c.receive(pipe.read(65536))
    assert ei.value.status == 5 and "RPC_AUTH_FAILED" in events


def test_anonymous_rpc_auth_refused(host):
    pipe = _pipe(host)
    c = RpcClient(
        SyntaxId.from_str("484809d6-4239-471b-b5bc-61df8c23ac48", 1, 0),
        ntlm=NtlmInitiator("", "", ""),
        auth_level=AuthLevel.PKT_PRIVACY,
    )
    pipe.write(c.bind())
    c.receive(pipe.read(65536))
    pipe.write(c.auth3())
    assert pipe.auth_session is None and pipe.auth_failed


def test_spnego_bind_nak(host):
    from lanman.rpc.pdu import (
        NDR_SYNTAX,
        AuthVerifier,
        BindNakPdu,
        BindPdu,
        ContextElement,
        parse_pdu,
    )

    pipe = _pipe(host)
    b = BindPdu(
        1,
        4280,
        4280,
        0,
        [
            ContextElement(
                0, SyntaxId.from_str("484809d6-4239-471b-b5bc-61df8c23ac48", 1, 0), [NDR_SYNTAX]
            )
        ],
        auth=AuthVerifier(9, 6, 0, 1, b"\x60\x00"),
    )
    pipe.write(b.pack())
    nak = parse_pdu(pipe.read(65536))
    assert isinstance(nak, BindNakPdu) and nak.provider_reject_reason == 8


def test_enum_and_info_parse_with_impacket(host):
    pipe = _pipe(host)
    ctx = pipe.ctx
    from lanman.rpc.interfaces.tsts import TermSrvEnumeration, TermSrvSession, TstsHandles

    handles = TstsHandles()
    e = TermSrvEnumeration(host, handles)
    h = T.RpcOpenEnumResponse(e.call(0, b"", ctx))["phEnum"]
    req = T.RpcGetEnumResult()
    req["hEnum"] = h
    req["Level"] = 1
    resp = T.RpcGetEnumResultResponse(e.call(5, req.getData(), ctx))
    rows = [
        (
            x["SessionInfo"]["SessionEnum_Level1"]["SessionId"],
            x["SessionInfo"]["SessionEnum_Level1"]["State"],
            x["SessionInfo"]["SessionEnum_Level1"]["Name"],
        )
        for x in resp["ppSessionEnumResult"]
    ]
    assert rows == [(0, 4, "Services"), (1, 0, "desk")]
    s = TermSrvSession(host, handles)
    req = T.RpcGetSessionInformationEx()
    req["SessionId"] = 1
    req["Level"] = 1
    info = T.RpcGetSessionInformationExResponse(s.call(17, req.getData(), ctx))
    lvl1 = info["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    assert lvl1["UserName"] == "alice" and lvl1["SessionName"] == "desk"


def test_legacy_send_message_impacket_stub(host, tmp_path):
    from lanman.rpc.interfaces.tsts import LegacyApi, TstsHandles

    api = LegacyApi(host, TstsHandles())
    ctx = CallContext("alice", False, False, "x", "SRV")
    h = T.RpcWinStationOpenServerResponse(api.call(0, b"", ctx))["phServer"]
    req = T.RpcWinStationSendMessage()
    req["hServer"] = h
    req["LogonId"] = 1
    req["pTitle"] = T.ZEROPAD("T", 1024)
    req["pMessage"] = T.ZEROPAD("legacy", 1024)
    req["DoNotWait"] = True
    r = T.RpcWinStationSendMessageResponse(api.call(7, req.getData(), ctx))
    assert r["pResult"] == 0 and r["pResponse"] == 32001 and r["ErrorCode"]
    req["LogonId"] = 9
    r = T.RpcWinStationSendMessageResponse(api.call(7, req.getData(), ctx))
    assert r["pResult"] == 0xC00A0015 and not r["ErrorCode"]
    other = CallContext("mallory", False, False, "x", "SRV")
    req["LogonId"] = 1
    r = T.RpcWinStationSendMessageResponse(api.call(7, req.getData(), other))
    assert r["pResult"] == 0xC0000022


def test_pipe_access_truth_table():
    from lanman.msg.server import PipeAccess, pipe_access

    assert pipe_access(False, is_anonymous=False, is_guest=False) is PipeAccess.NOT_FOUND
    assert pipe_access(False, is_anonymous=True, is_guest=False) is PipeAccess.NOT_FOUND
    assert pipe_access(True, is_anonymous=True, is_guest=False) is PipeAccess.ACCESS_DENIED
    assert pipe_access(True, is_anonymous=False, is_guest=True) is PipeAccess.ACCESS_DENIED
    assert pipe_access(True, is_anonymous=False, is_guest=False) is PipeAccess.ALLOWED


def test_no_msg_host_no_pipe():
    ctx = CallContext("alice", False, False, "x", "SRV")
    assert open_pipe("LSM_API_service", ctx, PipeProviders()) is None
