"""SPNEGO (RFC 4178 / MS-SPNG) acceptor and initiator: Windows bytes, pyspnego, impacket, fuzz."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
import spnego
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket import ntlm as impacket_ntlm
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp, TypesMech

from lanman.auth.ntlm import (
    AuthenticateMessage,
    AuthError,
    NegotiateFlags,
    NtlmAcceptor,
    NtlmInitiator,
)
from lanman.auth.spnego import (
    HINT_NAME,
    KRB5_OID,
    MS_KRB5_OID,
    NTLMSSP_OID,
    NegState,
    NegTokenInit,
    NegTokenResp,
    SpnegoAcceptor,
    SpnegoInitiator,
    decode_oid,
    encode_neg_token_init,
    encode_oid,
    negotiate_token,
    parse_token,
)
from lanman.crypto.md4 import nt_hash
from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
)

h = bytes.fromhex
NOW = 133_000_000_000_000_000
USERS = {"alice": nt_hash("Secret1!")}
IMPACKET_NTLM = TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]


def ntlm_acceptor(**kw: object) -> NtlmAcceptor:
    args: dict = {
        "lookup_nt_hash": lambda u: USERS.get(u.lower()),
        "server_name": "LANMAN",
        "domain_name": "LANMAN",
        "dns_computer_name": "lanman.example",
        "dns_domain_name": "example",
        "now_filetime": NOW,
    }
    args.update(kw)
    return NtlmAcceptor(**args)


def drive(acc: SpnegoAcceptor, client: object, first: bytes | None) -> None:
    """Run a pyspnego-style client (step(bytes) -> bytes | None) against ``acc``."""
    token = client.step(first)  # type: ignore[attr-defined]
    for _ in range(5):
        out, done = acc.step(token)
        token = client.step(out)  # type: ignore[attr-defined]
        if done:
            assert token is None
            return
    raise AssertionError("exchange did not finish")


def secbuf(pdu: bytes, *, request: bool) -> bytes:
    off, length = struct.unpack_from("<HH", pdu, 64 + (12 if request else 4))
    return pdu[off : off + length]


# --- DER basics --------------------------------------------------------------------------------


def test_spnego_oid_roundtrip() -> None:
    for oid in (NTLMSSP_OID, KRB5_OID, MS_KRB5_OID, "1.3.6.1.5.5.2", "2.999.1"):
        enc = encode_oid(oid)
        assert enc[0] == 0x06 and decode_oid(enc[2:]) == oid
    assert encode_oid(NTLMSSP_OID) == h("060A2B06010401823702020A")


def test_spnego_negotiate_token_shape() -> None:
    token = negotiate_token()
    parsed = parse_token(token)
    assert isinstance(parsed, NegTokenInit)
    assert parsed.mech_types == [NTLMSSP_OID] and parsed.hint_name is None
    windows = parse_token(negotiate_token(hints=True))  # the NegTokenInit2 form Windows sends
    assert isinstance(windows, NegTokenInit) and windows.hint_name == HINT_NAME
    # impacket (an independent decoder) reads it too.
    init = SPNEGO_NegTokenInit(token)
    assert init["MechTypes"] == [IMPACKET_NTLM]
    multi = parse_token(negotiate_token((MS_KRB5_OID, KRB5_OID, NTLMSSP_OID)))
    assert isinstance(multi, NegTokenInit) and multi.mech_types == [
        MS_KRB5_OID,
        KRB5_OID,
        NTLMSSP_OID,
    ]


def test_spnego_long_form_lengths() -> None:
    big = b"\x00" * 70000
    resp = NegTokenResp(NegState.ACCEPT_INCOMPLETE, response_token=big[:300]).encode()
    parsed = parse_token(resp)
    assert isinstance(parsed, NegTokenResp) and parsed.response_token == big[:300]


# --- Windows exchange (Anatomy blog: SMB 3.1.1 master session) ---------------------------------


def test_spnego_windows_exchange_byte_exact() -> None:
    from test_crypto_vectors import SS_REQ1, SS_REQ2, SS_RESP1, SS_RESP2

    first, challenge_resp = secbuf(SS_REQ1, request=True), secbuf(SS_RESP1, request=False)
    final_req, final_resp = secbuf(SS_REQ2, request=True), secbuf(SS_RESP2, request=False)
    ntlm = ntlm_acceptor(
        lookup_nt_hash=lambda u: nt_hash("Password01!") if u.lower() == "administrator" else None,
        server_name="SUT311",
        domain_name="SUT311",
        server_challenge=h("0D1D8BA31179D008"),
    )
    acc = SpnegoAcceptor(ntlm)
    out, done = acc.step(first)
    assert not done
    ours = parse_token(out)
    theirs = parse_token(challenge_resp)
    assert isinstance(ours, NegTokenResp) and isinstance(theirs, NegTokenResp)
    assert (ours.neg_state, ours.supported_mech) == (theirs.neg_state, theirs.supported_mech)
    assert theirs.response_token is not None
    ntlm.challenge_msg = theirs.response_token  # MIC covers the CHALLENGE Windows saw
    out, done = acc.step(final_req)
    assert done and acc.result is not None
    assert acc.result.session_key == h("270E1BA896585EEB7AF3472D3B4C75A7")
    # Client mechListMIC verified; our accept-completed token equals what Windows sent.
    assert out == final_resp


# --- pyspnego client ---------------------------------------------------------------------------


def test_spnego_pyspnego_negotiate_client() -> None:
    client = spnego.client(
        "alice", "Secret1!", hostname="lanman", service="cifs", protocol="negotiate"
    )
    ntlm = ntlm_acceptor()
    acc = SpnegoAcceptor(ntlm)
    first = client.step(negotiate_token())
    assert first is not None and first[0] == 0x60  # really SPNEGO-wrapped
    out, done = acc.step(first)
    token = client.step(out)
    out, done = acc.step(token)
    assert done
    assert client.step(out) is None  # pyspnego verified our mechListMIC
    assert client.complete and client.negotiated_protocol == "ntlm"
    assert acc.result is not None and client.session_key == acc.result.session_key
    final = parse_token(out)
    assert isinstance(final, NegTokenResp) and final.neg_state == NegState.ACCEPT_COMPLETED
    assert final.mech_list_mic is not None


def test_spnego_pyspnego_wrong_password() -> None:
    client = spnego.client("alice", "nope", hostname="lanman", service="cifs", protocol="negotiate")
    acc = SpnegoAcceptor(ntlm_acceptor())
    out, _ = acc.step(client.step(negotiate_token()))
    with pytest.raises(AuthError) as err:
        acc.step(client.step(out))
    assert err.value.status == STATUS_LOGON_FAILURE


def test_spnego_raw_ntlmssp_passthrough() -> None:
    client = spnego.client("alice", "Secret1!", hostname="lanman", service="cifs", protocol="ntlm")
    acc = SpnegoAcceptor(ntlm_acceptor())
    out, done = acc.step(client.step())
    assert out.startswith(b"NTLMSSP\x00") and not done
    out, done = acc.step(client.step(out))
    assert done and out == b"" and acc.result is not None and not acc.result.is_guest


# --- own initiator -----------------------------------------------------------------------------


def test_spnego_own_initiator_roundtrip() -> None:
    ini = SpnegoInitiator(NtlmInitiator("alice", "Secret1!", "DOM", "WS", NOW))
    acc = SpnegoAcceptor(ntlm_acceptor())
    drive(acc, ini, negotiate_token())
    assert ini.complete and acc.complete and acc.result is not None
    assert ini.ntlm.session_key == acc.result.session_key


def test_spnego_own_initiator_rejects_bad_server_mic() -> None:
    ini = SpnegoInitiator(NtlmInitiator("alice", "Secret1!", "DOM", "WS", NOW))
    acc = SpnegoAcceptor(ntlm_acceptor())
    out, _ = acc.step(ini.step(None))  # type: ignore[arg-type]
    out, _done = acc.step(ini.step(out))  # type: ignore[arg-type]
    final = parse_token(out)
    assert isinstance(final, NegTokenResp) and final.mech_list_mic is not None
    forged = NegTokenResp(NegState.ACCEPT_COMPLETED, mech_list_mic=bytes(16)).encode()
    with pytest.raises(AuthError) as err:
        ini.step(forged)
    assert err.value.status == STATUS_ACCESS_DENIED
    missing = NegTokenResp(NegState.ACCEPT_COMPLETED).encode()
    with pytest.raises(AuthError):
        _finish_with(missing)


def _finish_with(token: bytes) -> None:
    """Run a full exchange, then hand the initiator ``token`` as the server's final reply."""
    ini = SpnegoInitiator(NtlmInitiator("alice", "Secret1!", "DOM", "WS", NOW))
    acc = SpnegoAcceptor(ntlm_acceptor())
    out, _ = acc.step(ini.step(None))  # type: ignore[arg-type]
    acc.step(ini.step(out))  # type: ignore[arg-type]
    ini.step(token)


@pytest.fixture
def pyspnego_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "ntlm_users"
    creds.write_text("WORKGROUP:alice:Secret1!\n")
    monkeypatch.setenv("NTLM_USER_FILE", os.fspath(creds))


@pytest.mark.usefixtures("pyspnego_user_file")
def test_spnego_own_initiator_against_pyspnego_server() -> None:
    server = spnego.server(protocol="negotiate")
    ini = SpnegoInitiator(NtlmInitiator("alice", "Secret1!", "WORKGROUP", "WS", NOW))
    token = ini.step(None)
    for _ in range(5):
        out = server.step(token)
        token = ini.step(out)
        if token is None:
            break
    assert ini.complete and server.complete
    assert server.session_key == ini.ntlm.session_key


# --- mechListMIC rules -------------------------------------------------------------------------


def _ntlm_first(mechs: list[str], mech_token: bytes | None) -> tuple[bytes, bytes]:
    from lanman.auth.spnego import _encode_mech_types

    raw = _encode_mech_types(mechs)
    return raw, encode_neg_token_init(raw, mech_token=mech_token)


def test_spnego_non_preferred_mech_requires_mic() -> None:
    mechs = [MS_KRB5_OID, KRB5_OID, NTLMSSP_OID]
    for send_mic in (True, False):
        ntlm_ini = NtlmInitiator("alice", "Secret1!", now_filetime=NOW)
        raw, first = _ntlm_first(mechs, b"\x60\x03fake-kerberos-ap-req")
        acc = SpnegoAcceptor(ntlm_acceptor())
        out, _ = acc.step(first)
        resp = parse_token(out)
        assert isinstance(resp, NegTokenResp)
        assert resp.neg_state == NegState.REQUEST_MIC and resp.supported_mech == NTLMSSP_OID
        assert resp.response_token is None  # optimistic Kerberos token was dropped
        out, _ = acc.step(NegTokenResp(response_token=ntlm_ini.step(None)).encode())
        challenge = parse_token(out)
        assert isinstance(challenge, NegTokenResp) and challenge.response_token
        auth = ntlm_ini.step(challenge.response_token)
        mic = ntlm_ini.sign(raw) if send_mic else None
        token = NegTokenResp(response_token=auth, mech_list_mic=mic).encode()
        if send_mic:
            out, done = acc.step(token)
            final = parse_token(out)
            assert done and isinstance(final, NegTokenResp) and final.mech_list_mic is not None
            assert ntlm_ini.verify(raw, final.mech_list_mic)
        else:
            with pytest.raises(AuthError) as err:
                acc.step(token)
            assert err.value.status == STATUS_ACCESS_DENIED
            assert acc.result is None


def test_spnego_bad_client_mic_access_denied() -> None:
    ntlm_ini = NtlmInitiator("alice", "Secret1!", now_filetime=NOW)
    raw, first = _ntlm_first([NTLMSSP_OID], ntlm_ini.step(None))
    acc = SpnegoAcceptor(ntlm_acceptor())
    out, _ = acc.step(first)
    challenge = parse_token(out)
    assert isinstance(challenge, NegTokenResp) and challenge.response_token
    auth = ntlm_ini.step(challenge.response_token)
    # A MIC over a different mech list (what a downgrade would produce) must fail.
    from lanman.auth.spnego import _encode_mech_types

    assert raw != _encode_mech_types([KRB5_OID, NTLMSSP_OID])
    wrong = ntlm_ini.sign(_encode_mech_types([KRB5_OID, NTLMSSP_OID]))
    with pytest.raises(AuthError) as err:
        acc.step(NegTokenResp(response_token=auth, mech_list_mic=wrong).encode())
    assert err.value.status == STATUS_ACCESS_DENIED
    assert acc.result is None


def test_spnego_no_ntlm_in_mech_list() -> None:
    _, first = _ntlm_first([KRB5_OID], b"x")
    with pytest.raises(AuthError) as err:
        SpnegoAcceptor(ntlm_acceptor()).step(first)
    assert err.value.status == STATUS_LOGON_FAILURE


def test_spnego_anonymous_and_guest_complete_without_mic() -> None:
    # anonymous
    ntlm_ini = NtlmInitiator("x", "y")
    _, first = _ntlm_first([NTLMSSP_OID], ntlm_ini.step(None))
    acc = SpnegoAcceptor(ntlm_acceptor())
    acc.step(first)
    anon = AuthenticateMessage(
        flags=int(NegotiateFlags.UNICODE | NegotiateFlags.ANONYMOUS), lm_response=b"\x00"
    )
    out, done = acc.step(NegTokenResp(response_token=anon.encode()).encode())
    final = parse_token(out)
    assert done and isinstance(final, NegTokenResp)
    assert final.neg_state == NegState.ACCEPT_COMPLETED and final.mech_list_mic is None
    assert acc.result is not None and acc.result.is_anonymous
    # guest (unknown user, guest allowed), client MIC is ignored since there is no key
    ini = SpnegoInitiator(NtlmInitiator("mallory", "pw", now_filetime=NOW))
    acc = SpnegoAcceptor(ntlm_acceptor(guest_allowed=True))
    out, _ = acc.step(ini.step(None))  # type: ignore[arg-type]
    out, done = acc.step(ini.step(out))  # type: ignore[arg-type]
    final = parse_token(out)
    assert done and isinstance(final, NegTokenResp) and final.mech_list_mic is None
    assert acc.result is not None and acc.result.is_guest and acc.result.session_key == b""


# --- impacket decodes our tokens; impacket-built tokens drive our acceptor ---------------------


def test_spnego_impacket_tokens() -> None:
    acc = SpnegoAcceptor(ntlm_acceptor())
    init = SPNEGO_NegTokenInit()
    init["MechTypes"] = [IMPACKET_NTLM]
    type1 = impacket_ntlm.getNTLMSSPType1("WS", "", signingRequired=True, use_ntlmv2=True)
    init["MechToken"] = type1.getData()
    out, done = acc.step(init.getData())
    resp = SPNEGO_NegTokenResp(out)
    assert resp["NegState"] == b"\x01" and resp["SupportedMech"] == IMPACKET_NTLM
    type3, exported = impacket_ntlm.getNTLMSSPType3(
        type1, resp["ResponseToken"], "alice", "Secret1!", "", use_ntlmv2=True
    )
    second = SPNEGO_NegTokenResp()
    second["ResponseToken"] = type3.getData()
    out, done = acc.step(second.getData())  # impacket sends no mechListMIC: accepted
    assert done and acc.result is not None and acc.result.session_key == exported
    # impacket's NegTokenResp parser cannot read a token holding only negState + mechListMIC
    # (the shape Windows sends too); its SMB client never parses the final response.
    final = parse_token(out)
    assert isinstance(final, NegTokenResp) and final.mech_list_mic is not None


# --- malformed DER -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"\x60",
        b"\x60\x84\xff\xff\xff\xff",  # huge length
        b"\x60\x80\x00\x00",  # indefinite length
        b"\x60\x85\x01\x00\x00\x00\x00",  # 5-byte length
        b"\xa1\x03\x30\x01",  # truncated
        b"\xa1\x05\x30\x03\xa0\x01\x0a",  # nested overrun
        b"\x7f\x01\x00",  # high tag number
        b"\x60\x08\x06\x06\x2b\x06\x01\x05\x05\x03",  # not SPNEGO OID
        b"\xa0\x02\x30\x00",  # NegTokenInit without mechTypes
        b"\xa1\x07\x30\x05\xa0\x03\x0a\x01\x07",  # negState out of range
        b"\xa0\x06\x30\x04\xa0\x02\x30\x00" + b"\x00",  # trailing byte
        negotiate_token()[:-1],
    ],
)
def test_spnego_malformed(token: bytes) -> None:
    with pytest.raises(AuthError) as err:
        SpnegoAcceptor(ntlm_acceptor()).step(token)
    assert err.value.status in (STATUS_INVALID_PARAMETER, STATUS_LOGON_FAILURE)


def test_spnego_second_leg_must_be_resp() -> None:
    ini = SpnegoInitiator(NtlmInitiator("alice", "Secret1!", now_filetime=NOW))
    acc = SpnegoAcceptor(ntlm_acceptor())
    first = ini.step(None)
    assert first is not None
    acc.step(first)
    with pytest.raises(AuthError):
        acc.step(first)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_spnego_fuzz_random(data: bytes) -> None:
    try:
        SpnegoAcceptor(ntlm_acceptor()).step(data)
    except AuthError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_spnego_fuzz_mutated_valid(data: st.DataObject) -> None:
    ini = NtlmInitiator("alice", "Secret1!", now_filetime=NOW)
    base = bytearray(
        encode_neg_token_init(h("300C060A2B06010401823702020A"), mech_token=ini.step(None))
    )
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        SpnegoAcceptor(ntlm_acceptor()).step(bytes(base[:cut]))
    except AuthError:
        pass
