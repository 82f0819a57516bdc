"""The Kerberos GSS mechanism: token framing, 0x8003 checksum, AP-REQ verification, AP-REP,
MIC tokens (RFC 4121), and the SPNEGO acceptor/initiator selecting Kerberos."""

from __future__ import annotations

import importlib
import struct

import pytest

from lanman.auth.kerberos import KerberosAcceptor, KerberosInitiator, ServiceTicket
from lanman.auth.ntlm import AuthError, NtlmAcceptor
from lanman.auth.spnego import (
    KRB5_OID,
    MS_KRB5_OID,
    NTLMSSP_OID,
    NegState,
    NegTokenInit,
    NegTokenResp,
    SpnegoAcceptor,
    SpnegoInitiator,
    _encode_mech_types,
    encode_neg_token_init,
    parse_token,
)
from lanman.kerberos import asn1, crypto, gssapi
from lanman.kerberos.crypto import KU

REALM = "LANMAN.TEST"
NOW = 1_800_000_000.0
SERVICE_KEY = bytes(range(32))
AES256 = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96


def make_ticket(
    *,
    session_key=(AES256, b"\x11" * 32),
    service_key=SERVICE_KEY,
    etype=AES256,
    cname=("dave",),
    authtime=NOW - 60,
    endtime=NOW + 36000,
    authz=None,
):
    fields = {
        "flags": asn1.KerberosFlags(asn1.bit(asn1.TicketFlags.pre_authent)),
        "key": {"keytype": session_key[0], "keyvalue": session_key[1]},
        "crealm": REALM,
        "cname": asn1.principal(asn1.NT_PRINCIPAL, *cname),
        "transited": {"tr-type": 1, "contents": b""},
        "authtime": int(authtime),
        "endtime": int(endtime),
    }
    if authz is not None:
        fields["authorization-data"] = authz
    enc = crypto.encrypt(etype, service_key, KU.KDC_REP_TICKET, asn1.EncTicketPart(fields).dump())
    ticket = asn1.Ticket(
        {
            "tkt-vno": 5,
            "realm": REALM,
            "sname": asn1.principal(asn1.NT_SRV_INST, "cifs", "LANMAN"),
            "enc-part": {"etype": etype, "kvno": 1, "cipher": enc},
        }
    )
    return ServiceTicket(ticket, session_key, REALM, asn1.principal(asn1.NT_PRINCIPAL, *cname))


def lookup(sname, realm, etype, kvno):
    if sname == ["cifs", "LANMAN"] and realm == REALM and etype == AES256:
        return SERVICE_KEY
    return None


def ap_req(t=None, now=NOW, **kw):
    t = t or make_ticket()
    return gssapi.make_ap_req(t.ticket, t.session_key, t.crealm, t.cname, now=now, **kw)


# --- framing --------------------------------------------------------------------------------


def test_token_framing_round_trip_and_bytes():
    tok = gssapi.wrap_token(gssapi.TOK_AP_REQ, b"\x6e\x00")
    assert tok[:2] == b"\x60\x0f"
    assert tok[2:13] == bytes.fromhex("06092a864886f712010202")  # 1.2.840.113554.1.2.2
    assert tok[13:15] == b"\x01\x00"
    assert gssapi.unwrap_token(tok) == (gssapi.KRB5_MECH_OID, b"\x01\x00", b"\x6e\x00")
    ms = gssapi.wrap_token(gssapi.TOK_AP_REP, b"x" * 300, gssapi.MS_KRB5_MECH_OID)
    assert ms[1] == 0x82 and gssapi.unwrap_token(ms)[0] == gssapi.MS_KRB5_MECH_OID


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x60",
        b"\x30\x03\x06\x01\x00",
        b"\x60\x05\x06\x03\x2a\x03\x04",  # other OID
        b"\x60\x20" + bytes(4),
        b"\x60\x84\xff\xff\xff\xff",
        b"\x60\x02\x05\x00",
    ],
)
def test_malformed_framing_is_rejected(bad):
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.unwrap_token(bad)
    assert e.value.code == gssapi.KRB_AP_ERR_MSG_TYPE


def test_gss_checksum_layout():
    raw = gssapi.build_gss_checksum(gssapi.GSS_C_MUTUAL_FLAG | gssapi.GSS_C_INTEG_FLAG)
    assert raw == struct.pack("<I", 16) + bytes(16) + struct.pack("<I", 0x22)
    assert gssapi.parse_gss_checksum(raw).flags == 0x22
    deleg = struct.pack("<I", 16) + bytes(16) + struct.pack("<I", 1) + b"\x01\x00\x03\x00abc"
    assert gssapi.parse_gss_checksum(deleg).delegation == b"abc"
    with pytest.raises(gssapi.KrbApError):
        gssapi.parse_gss_checksum(raw[:20])
    with pytest.raises(gssapi.KrbApError):
        gssapi.parse_gss_checksum(struct.pack("<I", 15) + raw[4:])


# --- AP-REQ ---------------------------------------------------------------------------------


def test_ap_req_accepted_and_ap_rep_agrees_on_keys():
    msg, ictx = ap_req()
    replay = gssapi.ReplayWindow()
    ctx = gssapi.accept_ap_req(msg, lookup, now=NOW, replay=replay)
    assert ctx.cname == ["dave"] and ctx.crealm == REALM and ctx.sname == ["cifs", "LANMAN"]
    assert ctx.initiator_subkey == ictx.initiator_subkey
    assert ctx.gss_flags & gssapi.GSS_C_MUTUAL_FLAG
    assert ctx.initiator_seq == ictx.initiator_seq
    rep = gssapi.make_ap_rep(ctx)
    gssapi.parse_ap_rep(rep, ictx)
    assert ictx.established
    assert ctx.acceptor_subkey is not None and ctx.acceptor_subkey != ctx.initiator_subkey
    assert ictx.context_key == ctx.context_key == ctx.acceptor_subkey
    assert ictx.acceptor_seq == ctx.acceptor_seq


def test_context_key_precedence_without_acceptor_subkey():
    msg, ictx = ap_req()
    ctx = gssapi.accept_ap_req(msg, lookup, now=NOW)
    gssapi.parse_ap_rep(gssapi.make_ap_rep(ctx, acceptor_subkey=False), ictx)
    assert ctx.context_key == ctx.initiator_subkey == ictx.context_key


def test_wrong_service_key():
    msg, _ = ap_req(make_ticket(service_key=b"\x22" * 32))
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_MODIFIED


def test_no_key_for_the_service():
    msg, _ = ap_req()
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lambda *a: None, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_NOKEY


@pytest.mark.parametrize("offset", [-301, 301])
def test_clock_skew(offset):
    msg, _ = ap_req(now=NOW + offset)
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_SKEW
    msg, _ = ap_req(now=NOW + offset / 2)
    gssapi.accept_ap_req(msg, lookup, now=NOW)  # within five minutes


def test_replay_is_detected():
    msg, _ = ap_req()
    replay = gssapi.ReplayWindow()
    gssapi.accept_ap_req(msg, lookup, now=NOW, replay=replay)
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW + 1, replay=replay)
    assert e.value.code == gssapi.KRB_AP_ERR_REPEAT
    fresh, _ = ap_req(now=NOW + 2)
    gssapi.accept_ap_req(fresh, lookup, now=NOW + 2, replay=replay)


def test_tampered_authenticator():
    msg, _ = ap_req()
    req = asn1.APReq.load(msg)
    cipher = bytearray(req["authenticator"]["cipher"].native)
    cipher[20] ^= 1
    req2 = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": 14,
            "ap-options": asn1.KerberosFlags(0),
            "ticket": req["ticket"],
            "authenticator": {"etype": AES256, "cipher": bytes(cipher)},
        }
    )
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(req2.dump(), lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_BAD_INTEGRITY


def test_authenticator_of_another_client():
    t = make_ticket()
    other = ServiceTicket(
        t.ticket, t.session_key, REALM, asn1.principal(asn1.NT_PRINCIPAL, "mallory")
    )
    msg, _ = ap_req(other)
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_BADMATCH


def test_expired_and_future_tickets():
    msg, _ = ap_req(make_ticket(endtime=NOW - 400))
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_TKT_EXPIRED
    msg, _ = ap_req(make_ticket(authtime=NOW + 3600))
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_TKT_NYV


def test_authenticator_without_gss_checksum():
    t = make_ticket()
    auth = asn1.Authenticator(
        {"authenticator-vno": 5, "crealm": REALM, "cname": t.cname, "cusec": 0, "ctime": int(NOW)}
    ).dump()
    msg = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": 14,
            "ap-options": asn1.KerberosFlags(0),
            "ticket": t.ticket,
            "authenticator": {
                "etype": AES256,
                "cipher": crypto.encrypt(AES256, t.session_key[1], KU.AP_REQ_AUTH, auth),
            },
        }
    ).dump()
    with pytest.raises(gssapi.KrbApError) as e:
        gssapi.accept_ap_req(msg, lookup, now=NOW)
    assert e.value.code == gssapi.KRB_AP_ERR_INAPP_CKSUM
    ctx = gssapi.accept_ap_req(msg, lookup, now=NOW, require_gss_checksum=False)
    assert ctx.context_key == t.session_key  # no subkeys: the ticket session key


@pytest.mark.parametrize("garbage", [b"", b"\x6e\x00", b"\x6e\x03\x30\x01\x00", b"\x30" * 40])
def test_garbage_ap_req(garbage):
    with pytest.raises(gssapi.KrbApError):
        gssapi.accept_ap_req(garbage, lookup, now=NOW)


def test_tampered_ap_rep_fails_mutual_authentication():
    msg, ictx = ap_req()
    ctx = gssapi.accept_ap_req(msg, lookup, now=NOW)
    rep = bytearray(gssapi.make_ap_rep(ctx))
    rep[-3] ^= 0x40
    with pytest.raises(gssapi.KrbApError):
        gssapi.parse_ap_rep(bytes(rep), ictx)
    assert not ictx.established


# --- MIC tokens -----------------------------------------------------------------------------


def _established():
    msg, ictx = ap_req()
    ctx = gssapi.accept_ap_req(msg, lookup, now=NOW)
    gssapi.parse_ap_rep(gssapi.make_ap_rep(ctx), ictx)
    return ctx, ictx


def test_mic_both_directions():
    ctx, ictx = _established()
    data = b"\x30\x0c\x06\x0a" + b"mechtypes!"
    mic = gssapi.make_mic(ctx.context_key, 7, data, from_acceptor=True, acceptor_subkey=True)
    assert mic[:3] == b"\x04\x04\x05" and mic[3:8] == b"\xff" * 5 and len(mic) == 28
    assert (
        gssapi.verify_mic(ictx.context_key, mic, data, from_acceptor=True, acceptor_subkey=True)
        == 7
    )
    imic = gssapi.make_mic(ictx.context_key, 9, data, from_acceptor=False, acceptor_subkey=True)
    assert imic[2] == 0x04
    assert (
        gssapi.verify_mic(ctx.context_key, imic, data, from_acceptor=False, acceptor_subkey=True)
        == 9
    )
    for args in [(mic, data + b"x", True), (imic, data, True), (mic, data, False)]:
        with pytest.raises(gssapi.KrbApError):
            gssapi.verify_mic(
                ctx.context_key, args[0], args[1], from_acceptor=args[2], acceptor_subkey=True
            )


def test_initiator_mic_matches_impacket():
    impacket_gss = importlib.import_module("impacket.krb5.gssapi")
    from impacket.krb5 import crypto as icrypto

    key = bytes(range(100, 132))
    data = b"0123456789abcdef"  # a multiple of 4: impacket adds no padding
    theirs = impacket_gss.GSSAPI_AES256().GSS_GetMIC(icrypto.Key(18, key), data, 5)
    ours = gssapi.make_mic((AES256, key), 5, data, from_acceptor=False, acceptor_subkey=True)
    assert ours == theirs


# --- SPNEGO with Kerberos -------------------------------------------------------------------


def _ntlm():
    return NtlmAcceptor(
        lookup_nt_hash=lambda n: None,
        server_name="LANMAN",
        domain_name="LANMAN",
        dns_computer_name="lanman",
        dns_domain_name="lanman.test",
        now_filetime=0,
    )


def _krb_acceptor(**kw):
    return KerberosAcceptor(
        lookup, realm=REALM, domain="LANMAN", now=lambda: NOW, replay=gssapi.ReplayWindow(), **kw
    )


@pytest.mark.parametrize("first", [MS_KRB5_OID, KRB5_OID])
def test_spnego_one_leg_with_mech_list_mic_both_ways(first):
    acc = SpnegoAcceptor(_ntlm(), _krb_acceptor())
    ini_k = KerberosInitiator(make_ticket(), now=lambda: NOW)
    ini = SpnegoInitiator(None, ini_k)
    tok = ini.step(encode_neg_token_init(_encode_mech_types([MS_KRB5_OID, KRB5_OID, NTLMSSP_OID])))
    init = parse_token(tok)
    assert isinstance(init, NegTokenInit) and init.mech_types == [MS_KRB5_OID, KRB5_OID]
    if first == KRB5_OID:  # a client listing the standard OID first (MIT, Heimdal)
        ini.mech_types_raw = _encode_mech_types([KRB5_OID, MS_KRB5_OID])
        tok = encode_neg_token_init(ini.mech_types_raw, mech_token=init.mech_token)
    out, done = acc.step(tok)
    assert done and acc.mechanism == "Kerberos"
    resp = parse_token(out)
    assert isinstance(resp, NegTokenResp)
    assert resp.neg_state == NegState.ACCEPT_COMPLETED and resp.supported_mech == first
    assert resp.mech_list_mic is not None
    assert ini.step(out) is None and ini.complete
    assert ini.session_key == acc.result.session_key
    assert acc.result.user == "dave" and acc.result.domain == "LANMAN"
    assert len(acc.result.session_key) == 32


def test_spnego_kerberos_not_first_requires_client_mic():
    enc = _encode_mech_types
    acc = SpnegoAcceptor(_ntlm(), _krb_acceptor())
    k = KerberosInitiator(make_ticket(), now=lambda: NOW)
    raw = enc(["1.3.6.1.4.1.311.2.2.30", KRB5_OID])  # NEGOEX first: not supported
    out, done = acc.step(encode_neg_token_init(raw))
    resp = parse_token(out)
    assert not done and resp.neg_state == NegState.REQUEST_MIC and resp.supported_mech == KRB5_OID
    out, done = acc.step(NegTokenResp(response_token=k.step(None)).encode())
    resp = parse_token(out)
    assert not done and resp.mech_list_mic is not None
    k.step(resp.response_token)
    assert k.verify(raw, resp.mech_list_mic)
    bad = NegTokenResp(mech_list_mic=b"\x04\x04\x04" + bytes(25)).encode()
    acc2 = SpnegoAcceptor(_ntlm(), _krb_acceptor())
    acc2.step(encode_neg_token_init(raw))
    k2 = KerberosInitiator(make_ticket(), now=lambda: NOW)
    acc2.step(NegTokenResp(response_token=k2.step(None)).encode())
    with pytest.raises(AuthError):
        acc2.step(bad)
    out, done = acc.step(NegTokenResp(mech_list_mic=k.sign(raw)).encode())
    assert done and parse_token(out).neg_state == NegState.ACCEPT_COMPLETED
    assert acc.result.user == "dave"


def test_spnego_without_kerberos_acceptor_still_picks_ntlm():
    acc = SpnegoAcceptor(_ntlm())
    enc = _encode_mech_types
    out, done = acc.step(
        encode_neg_token_init(enc([MS_KRB5_OID, NTLMSSP_OID]), mech_token=b"\x60\x00")
    )
    resp = parse_token(out)
    assert not done and resp.supported_mech == NTLMSSP_OID and acc.mechanism == "NTLM"


def test_spnego_bad_ap_req_is_logon_failure():
    acc = SpnegoAcceptor(_ntlm(), _krb_acceptor())
    msg, _ = ap_req(make_ticket(service_key=b"\x33" * 32))
    enc = _encode_mech_types
    with pytest.raises(AuthError) as e:
        acc.step(
            encode_neg_token_init(
                enc([MS_KRB5_OID]), mech_token=gssapi.wrap_token(gssapi.TOK_AP_REQ, msg)
            )
        )
    assert e.value.status == 0xC000006D and "KRB_AP_ERR_MODIFIED" in e.value.detail
    assert acc.kerberos.error_token[:1] == b"\x60"


def test_raw_krb5_token_without_spnego():
    acc = SpnegoAcceptor(_ntlm(), _krb_acceptor())
    msg, ictx = ap_req()
    out, done = acc.step(gssapi.wrap_token(gssapi.TOK_AP_REQ, msg))
    assert done and acc.raw_krb5
    _, tok_id, rep = gssapi.unwrap_token(out)
    assert tok_id == gssapi.TOK_AP_REP
    gssapi.parse_ap_rep(rep, ictx)


def test_pac_server_signature_is_checked():
    from lanman.kerberos.pac import Pac, signature_buffer

    pac = Pac([(1, b"\x00" * 8)])
    pac.sign(AES256, SERVICE_KEY, AES256, b"\x44" * 32)
    good = asn1.AuthorizationData(
        [
            {
                "ad-type": 1,
                "ad-data": asn1.AuthorizationData([{"ad-type": 128, "ad-data": pac.pack()}]).dump(),
            }
        ]
    )
    acc = _krb_acceptor()
    msg, _ = ap_req(make_ticket(authz=good))
    acc.step(gssapi.wrap_token(gssapi.TOK_AP_REQ, msg))
    assert acc.result is not None
    forged = Pac([(1, b"\x01" * 8), (6, signature_buffer(16)), (7, signature_buffer(16))])
    bad = asn1.AuthorizationData([{"ad-type": 128, "ad-data": forged.pack()}])
    acc = _krb_acceptor()
    msg, _ = ap_req(make_ticket(authz=bad))
    with pytest.raises(AuthError, match="PAC"):
        acc.step(gssapi.wrap_token(gssapi.TOK_AP_REQ, msg))
