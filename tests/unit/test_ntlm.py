"""NTLM (MS-NLMP) known answers and acceptor/initiator behaviour."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanman.auth.ntlm import (
    AuthenticateMessage,
    AuthError,
    AvId,
    ChallengeMessage,
    NegotiateFlags,
    NegotiateMessage,
    NtlmAcceptor,
    NtlmInitiator,
    encode_av_pairs,
    ntlmv2_response,
    ntowfv2,
    parse_av_pairs,
    seal_key,
    sign_key,
)
from lanman.crypto.md4 import nt_hash
from lanman.crypto.rc4 import RC4, rc4
from lanman.errors.ntstatus import STATUS_INVALID_PARAMETER, STATUS_LOGON_FAILURE

h = bytes.fromhex
NOW = 133_000_000_000_000_000  # a FILETIME in 2022
USERS = {"alice": nt_hash("Secret1!"), "empty": nt_hash("")}


def acceptor(**kw: object) -> NtlmAcceptor:
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


def run(acc: NtlmAcceptor, ini: NtlmInitiator) -> None:
    challenge = acc.step(ini.step(None))
    assert challenge is not None
    assert acc.step(ini.step(challenge)) is None


# --- MS-NLMP 4.2.4 (NTLMv2) ------------------------------------------------------------------


def test_ntlm_msnlmp_424_vectors() -> None:
    key = ntowfv2(nt_hash("Password"), "User", "Domain")
    assert key.hex() == "0c868a403bfd7a93a3001ef22ef02e3f"
    server_info = encode_av_pairs(
        [
            (AvId.NB_DOMAIN_NAME, "Domain".encode("utf-16-le")),
            (AvId.NB_COMPUTER_NAME, "Server".encode("utf-16-le")),
        ]
    )
    nt, lm, base = ntlmv2_response(key, h("0123456789abcdef"), b"\xaa" * 8, 0, server_info)
    assert nt[:16].hex() == "68cd0ab851e51c96aabc927bebef6a1c"  # NTProofStr
    assert lm.hex() == "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
    assert base.hex() == "8de40ccadbc14a82f15cb0ad0de95ca3"  # SessionBaseKey
    assert rc4(base, b"\x55" * 16).hex() == "c5dad2544fc9799094ce1ce90bc9d03e"


def test_ntlm_rc4_known_answer_and_stream_state() -> None:
    assert rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"
    handle = RC4(b"Key")
    assert handle.update(b"Plain") + handle.update(b"text") == rc4(b"Key", b"Plaintext")
    with pytest.raises(ValueError):
        RC4(b"")


# --- A real Windows exchange (Anatomy blog appendix, SMB 3.1.1 master session) --------------


def win_tokens() -> tuple[bytes, bytes, bytes]:
    """NEGOTIATE, CHALLENGE, AUTHENTICATE extracted from the blog's SESSION_SETUP PDUs."""
    from test_crypto_vectors import SS_REQ1, SS_REQ2, SS_RESP1

    def ntlm_token(pdu: bytes) -> bytes:
        return pdu[pdu.index(b"NTLMSSP\x00") :]

    neg = ntlm_token(SS_REQ1)
    chal_pdu = ntlm_token(SS_RESP1)
    chal = chal_pdu[: 56 + 12 + 80]  # header + TargetName + TargetInfo
    auth_all = ntlm_token(SS_REQ2)
    auth = auth_all[:0x1A6]
    return neg, chal, auth


def windows_acceptor() -> NtlmAcceptor:
    return acceptor(
        lookup_nt_hash=lambda u: nt_hash("Password01!") if u.lower() == "administrator" else None,
        server_name="SUT311",
        domain_name="SUT311",
        server_challenge=h("0D1D8BA31179D008"),
    )


def test_ntlm_windows_exchange_codecs() -> None:
    neg, chal, auth = win_tokens()
    n = NegotiateMessage.parse(neg)
    assert n.flags == 0xE2088297
    c = ChallengeMessage.parse(chal)
    assert c.flags == 0xE28A8215 and c.server_challenge == h("0D1D8BA31179D008")
    assert c.target_name == "SUT311"
    assert [i for i, _ in c.av_pairs] == [2, 1, 4, 3, 7]
    a = AuthenticateMessage.parse(auth)
    assert (a.user, a.domain, a.workstation) == ("administrator", "SUT311", "DRIVER311")
    assert a.mic == h("ECAC77A5F385A8BF9C38C706EEEDDCD3")
    assert a.encrypted_random_session_key == h("3B9BDFF38F5EE8F9663F11A0F4C03A78")
    assert a.nt_response[:16] == h("63078EB639FE03E20A231C3AE3BF2308")
    assert len(a.nt_response) == 238 and a.lm_response == bytes(24)


def test_ntlm_windows_exchange_acceptor() -> None:
    neg, chal, auth = win_tokens()
    acc = windows_acceptor()
    acc.step(neg)
    acc.challenge_msg = chal  # the MIC covers the exact CHALLENGE bytes Windows received
    assert acc.step(auth) is None
    assert acc.result is not None
    assert acc.result.session_key.hex().upper() == "270E1BA896585EEB7AF3472D3B4C75A7"
    assert (acc.result.user, acc.result.workstation) == ("administrator", "DRIVER311")
    esk = acc.result.session_key
    assert sign_key(esk, client=False).hex().upper() == "E1BD8B416B0B709D295E12F2CF18E6C5"
    assert sign_key(esk, client=True).hex().upper() == "D43F36C44BCE0630250A09EA0C2E8C2C"
    flags = 0xE2888215
    assert seal_key(esk, flags, client=False).hex().upper() == "B0F5A0B32C81FF34A878E1409B3B0EF2"
    assert seal_key(esk, flags, client=True).hex().upper() == "31E5557D99BE13F1B2665C7C7C52CE70"
    # The SPNEGO mechListMIC Windows sent (client seq 0) and the one it received (server seq 0).
    mech_types = h("300C060A2B06010401823702020A")
    assert acc.verify(mech_types, h("0100000063775A9A5FD97F0600000000"))
    assert acc.sign(mech_types) == h("010000003B453CDC3524164200000000")


def test_ntlm_windows_exchange_tampered_mic() -> None:
    neg, chal, auth = win_tokens()
    acc = windows_acceptor()
    acc.step(neg)
    acc.challenge_msg = chal
    bad = bytearray(auth)
    bad[72] ^= 0x01
    with pytest.raises(AuthError) as err:
        acc.step(bytes(bad))
    assert err.value.status == STATUS_LOGON_FAILURE
    # A modified NEGOTIATE (e.g. a relay that strips flags) also breaks the MIC.
    acc = windows_acceptor()
    acc.step(neg[:12] + struct.pack("<I", 0xE2088297 & ~0x10) + neg[16:])
    acc.challenge_msg = chal
    with pytest.raises(AuthError):
        acc.step(auth)


def test_ntlm_windows_exchange_wrong_password() -> None:
    neg, _chal, auth = win_tokens()
    acc = acceptor(lookup_nt_hash=lambda u: nt_hash("nope"), server_challenge=h("0D1D8BA31179D008"))
    acc.step(neg)
    with pytest.raises(AuthError) as err:
        acc.step(auth)
    assert err.value.status == STATUS_LOGON_FAILURE


# --- round trips -------------------------------------------------------------------------------


def test_ntlm_roundtrip_and_signing() -> None:
    acc = acceptor()
    ini = NtlmInitiator("ALICE", "Secret1!", "ANYDOMAIN", "WS1", NOW, target_name="cifs/lanman")
    run(acc, ini)
    res = acc.result
    assert res is not None and not res.is_guest and not res.is_anonymous
    assert (res.user, res.domain, res.workstation) == ("ALICE", "ANYDOMAIN", "WS1")
    assert len(res.session_key) == 16 and res.session_key == ini.session_key
    for n in range(3):
        msg = b"message %d" % n
        assert acc.verify(msg, ini.sign(msg))
        assert ini.verify(msg, acc.sign(msg))
    sig = ini.sign(b"x")
    assert not acc.verify(b"y", sig)  # wrong data
    assert not acc.verify(b"x", ini.sign(b"x")[:15])  # short
    # replay with an old sequence number fails
    old = ini.sign(b"z")
    ini.sign(b"skip")
    assert acc.verify(b"z", old)
    assert not acc.verify(b"z", old)


def test_ntlm_roundtrip_with_nt_hash_and_fixed_randomness() -> None:
    acc = acceptor(server_challenge=b"\x01" * 8)
    ini = NtlmInitiator(
        "alice",
        nt_hash_=nt_hash("Secret1!"),
        now_filetime=NOW,
        client_challenge=b"\x02" * 8,
        exported_session_key=b"\x03" * 16,
    )
    run(acc, ini)
    assert acc.result is not None and acc.result.session_key == b"\x03" * 16
    signature = acc.sign(b"abc")
    assert signature[:4] == b"\x01\x00\x00\x00" and signature[12:] == bytes(4)


def test_ntlm_challenge_contents() -> None:
    acc = acceptor(server_challenge=b"\x11" * 8)
    ini = NtlmInitiator("alice", "Secret1!", now_filetime=NOW)
    chal = ChallengeMessage.parse(acc.step(ini.step(None)))  # type: ignore[arg-type]
    assert chal.server_challenge == b"\x11" * 8
    pairs = dict(chal.av_pairs)
    assert pairs[AvId.NB_COMPUTER_NAME] == "LANMAN".encode("utf-16-le")
    assert pairs[AvId.DNS_COMPUTER_NAME] == "lanman.example".encode("utf-16-le")
    assert pairs[AvId.TIMESTAMP] == struct.pack("<Q", NOW)
    for flag in (
        NegotiateFlags.KEY_EXCH,
        NegotiateFlags.SIGN,
        NegotiateFlags.TARGET_INFO,
        NegotiateFlags.UNICODE,
    ):
        assert chal.flags & flag


def test_ntlm_wrong_password() -> None:
    acc = acceptor()
    with pytest.raises(AuthError) as err:
        run(acc, NtlmInitiator("alice", "wrong", now_filetime=NOW))
    assert err.value.status == STATUS_LOGON_FAILURE
    assert acc.result is None
    with pytest.raises(AuthError):  # one attempt per context
        acc.step(b"NTLMSSP\x00")


def test_ntlm_known_user_wrong_password_never_guest() -> None:
    acc = acceptor(guest_allowed=True)
    with pytest.raises(AuthError):
        run(acc, NtlmInitiator("alice", "wrong", now_filetime=NOW))


def test_ntlm_unknown_user_guest_or_failure() -> None:
    acc = acceptor(guest_allowed=True)
    run(acc, NtlmInitiator("mallory", "whatever", now_filetime=NOW))
    assert acc.result is not None and acc.result.is_guest and acc.result.session_key == b""
    assert acc.result.user == "mallory"
    with pytest.raises(AuthError) as err:
        run(acceptor(), NtlmInitiator("mallory", "whatever", now_filetime=NOW))
    assert err.value.status == STATUS_LOGON_FAILURE


def test_ntlm_empty_password_account_refused() -> None:
    with pytest.raises(AuthError):
        run(acceptor(guest_allowed=True), NtlmInitiator("empty", "", now_filetime=NOW))


def _anonymous_authenticate(lm: bytes) -> bytes:
    return AuthenticateMessage(
        flags=int(NegotiateFlags.UNICODE | NegotiateFlags.NTLM | NegotiateFlags.ANONYMOUS),
        lm_response=lm,
    ).encode()


@pytest.mark.parametrize("lm", [b"", b"\x00"])
def test_ntlm_anonymous(lm: bytes) -> None:
    acc = acceptor()
    acc.step(NtlmInitiator("x", "y").step(None))
    acc.step(_anonymous_authenticate(lm))
    assert acc.result is not None and acc.result.is_anonymous and acc.result.session_key == b""
    with pytest.raises(AuthError):
        acc.sign(b"data")
    assert not acc.verify(b"data", bytes(16))


def test_ntlm_anonymous_refused() -> None:
    acc = acceptor(anonymous_allowed=False)
    acc.step(NtlmInitiator("x", "y").step(None))
    with pytest.raises(AuthError) as err:
        acc.step(_anonymous_authenticate(b""))
    assert err.value.status == STATUS_LOGON_FAILURE


def test_ntlm_v1_and_lm_responses_refused() -> None:
    acc = acceptor()
    acc.step(NtlmInitiator("x", "y").step(None))
    v1 = AuthenticateMessage(
        flags=int(NegotiateFlags.UNICODE | NegotiateFlags.NTLM),
        lm_response=bytes(24),
        nt_response=b"\x01" * 24,
        user="alice",
    ).encode()
    with pytest.raises(AuthError) as err:
        acc.step(v1)
    assert err.value.status == STATUS_LOGON_FAILURE


def test_ntlm_mic_announced_but_absent() -> None:
    acc = acceptor()
    ini = NtlmInitiator("alice", "Secret1!", now_filetime=NOW)
    auth = ini.step(acc.step(ini.step(None)))
    parsed = AuthenticateMessage.parse(auth)
    # Re-encode without Version/MIC: the AV flags still promise a MIC.
    no_mic = parsed.encode(with_mic=False)
    with pytest.raises(AuthError) as err:
        acc.step(no_mic)
    assert err.value.status == STATUS_LOGON_FAILURE


def test_ntlm_oem_strings() -> None:
    acc = acceptor()
    neg = NegotiateMessage(int(NegotiateFlags.OEM | NegotiateFlags.NTLM), "DOM", "WS").encode()
    assert NegotiateMessage.parse(neg).domain == ""  # *_SUPPLIED flags not set
    chal = ChallengeMessage.parse(acc.step(neg))  # type: ignore[arg-type]
    assert chal.flags & NegotiateFlags.OEM and not chal.flags & NegotiateFlags.UNICODE
    assert chal.target_name == "LANMAN"


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"NTLMSSP\x00",
        b"NTLMSSP\x00\x02\x00\x00\x00" + bytes(8),  # wrong type for the state
        b"NOTNTLM\x00\x01\x00\x00\x00" + bytes(8),  # wrong signature
        b"NTLMSSP\x00\x01\x00\x00\x00" + bytes(4096 * 17),
    ],
)
def test_ntlm_malformed_negotiate(token: bytes) -> None:
    with pytest.raises(AuthError) as err:
        acceptor().step(token)
    assert err.value.status == STATUS_INVALID_PARAMETER


def test_ntlm_authenticate_field_overrun() -> None:
    acc = acceptor()
    acc.step(NtlmInitiator("x", "y").step(None))
    bad = bytearray(AuthenticateMessage(flags=1, user="alice", nt_response=b"\x01" * 60).encode())
    struct.pack_into("<HHI", bad, 36, 10, 10, 0xFFFFFFF0)  # UserName points past the end
    with pytest.raises(AuthError) as err:
        acc.step(bytes(bad))
    assert err.value.status == STATUS_INVALID_PARAMETER


def test_ntlm_av_pairs_bounds() -> None:
    assert parse_av_pairs(encode_av_pairs([(1, b"ab")])) == [(1, b"ab")]
    for bad in (b"", b"\x01\x00\x05\x00ab", b"\x01\x00\x00\x00"):
        with pytest.raises(AuthError):
            parse_av_pairs(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_ntlm_fuzz_authenticate(data: bytes) -> None:
    acc = acceptor(guest_allowed=True)
    acc.step(NtlmInitiator("x", "y").step(None))
    try:
        acc.step(b"NTLMSSP\x00\x03\x00\x00\x00" + data)
    except AuthError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_ntlm_fuzz_challenge(data: bytes) -> None:
    ini = NtlmInitiator("alice", "pw")
    ini.step(None)
    try:
        ini.step(b"NTLMSSP\x00\x02\x00\x00\x00" + data)
    except AuthError:
        pass


@pytest.mark.parametrize("field_offset", [28, 36])  # DomainNameFields, UserNameFields
def test_ntlm_authenticate_with_lone_surrogate_is_malformed(field_offset: int) -> None:
    # Found by tests/fuzz: a domain (or user) of invalid UTF-16 used to raise UnicodeEncodeError
    # from NTOWFv2 instead of a protocol error.
    acc = acceptor()
    ini = NtlmInitiator("alice", "Secret1!", "ANYDOMAIN", "WS1", NOW)
    auth = bytearray(ini.step(acc.step(ini.step(None))))
    length, _, offset = struct.unpack_from("<HHI", auth, field_offset)
    assert length >= 2
    auth[offset : offset + 2] = b"\x4b\xd9"  # U+D94B, a high surrogate with no low one
    with pytest.raises(AuthError) as err:
        acc.step(bytes(auth))
    assert err.value.status == STATUS_INVALID_PARAMETER


class _Hooks:
    """NtlmLogonHooks recording its calls; ``refuse_after`` fails authorize()."""

    def __init__(self, refuse_after: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.refuse_after = refuse_after

    def nt_hash(self, user: str, domain: str, workstation: str) -> bytes | None:
        self.calls.append(("nt_hash", user, domain, workstation))
        return USERS.get(user.lower())

    def authorize(self, user: str, domain: str, workstation: str) -> None:
        self.calls.append(("authorize", user, domain, workstation))
        if self.refuse_after is not None:
            raise AuthError(self.refuse_after, "refused by the server's policy")


def test_ntlm_hooks_see_the_workstation_and_authorize_after_the_password() -> None:
    hooks = _Hooks()
    acc = acceptor(hooks=hooks, lookup_nt_hash=lambda u: pytest.fail("hooks replace lookup"))
    run(acc, NtlmInitiator("alice", "Secret1!", "DOM", "WS7", NOW))
    assert hooks.calls == [("nt_hash", "alice", "DOM", "WS7"), ("authorize", "alice", "DOM", "WS7")]
    assert acc.result is not None and acc.result.workstation == "WS7"


def test_ntlm_hooks_wrong_password_is_never_authorized() -> None:
    hooks = _Hooks(refuse_after=0xC0000413)
    acc = acceptor(hooks=hooks)
    with pytest.raises(AuthError) as err:
        run(acc, NtlmInitiator("alice", "wrong", "DOM", "WS7", NOW))
    assert err.value.status == STATUS_LOGON_FAILURE and acc.bad_password
    assert [c[0] for c in hooks.calls] == ["nt_hash"]


def test_ntlm_hooks_authorize_refusal_is_not_a_bad_password() -> None:
    acc = acceptor(hooks=_Hooks(refuse_after=0xC0000413))
    with pytest.raises(AuthError) as err:
        run(acc, NtlmInitiator("alice", "Secret1!", "DOM", "WS7", NOW))
    assert err.value.status == 0xC0000413 and not acc.bad_password
    assert acc.result is None and acc.session is None
