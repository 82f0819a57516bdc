"""PAC fast paths: cached KERB_VALIDATION_INFO template, single-pack signing, verification over
the received bytes -- each equal to the straightforward encoding / check."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanman.kerberos import crypto
from lanman.kerberos import pac as P

DOM = "S-1-5-21-1-2-3"


def _info(t: float, name: str = "alice", groups=(513, 512)) -> P.LogonInfo:
    return P.LogonInfo(
        logon_time=t,
        effective_name=name,
        full_name="Alice A",
        user_id=1105,
        primary_group_id=groups[0],
        group_ids=list(groups),
        logon_server="DC1",
        logon_domain_name="LANMAN",
        logon_domain_id=DOM,
        extra_sids=["S-1-18-1"],
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**33), st.sampled_from(["alice", "bob", "x" * 40]))
def test_logon_info_template_equals_full_encoding(t: int, name: str) -> None:
    info = _info(t, name)
    assert P.build_logon_info(info) == P._encode_logon_info(info, t)
    assert P.build_logon_info(info) == P._encode_logon_info(info, t)  # from the cache


def _pac(t: int) -> P.Pac:
    return P.Pac(
        [
            (P.PAC_LOGON_INFO, P.build_logon_info(_info(t))),
            (P.PAC_CLIENT_INFO, P.client_info(t, "alice")),
            (P.PAC_UPN_DNS_INFO, P.upn_dns_info("alice@x", "X", "alice", DOM + "-1105")),
        ]
    )


@pytest.mark.parametrize("ticket_body", [None, b"\x63\x03\x30\x01\x00"])
@pytest.mark.parametrize(("s_etype", "k_etype"), [(18, 18), (17, 18), (23, 18), (18, 23)])
def test_sign_returns_pack_and_verifies(ticket_body, s_etype: int, k_etype: int) -> None:
    sk, kk = crypto.random_key(s_etype), crypto.random_key(k_etype)
    pac = _pac(1_800_000_000)
    signed = pac.sign(s_etype, sk, k_etype, kk, ticket_body)
    assert signed == pac.pack()
    pac.verify(sk, kk, ticket_body)  # the re-packing verifier agrees
    again = P.verify_bytes(signed, sk, kk)
    assert again.buffers == pac.buffers
    # the signature is over the zeroed PAC
    s = pac.get(P.PAC_SERVER_CHECKSUM)
    assert crypto.verify_checksum(
        struct.unpack("<i", s[:4])[0], sk, crypto.KU.APP_DATA_CKSUM, pac._zeroed(), s[4:]
    )


def test_verify_bytes_rejects_tampering() -> None:
    sk, kk = os.urandom(32), os.urandom(32)
    signed = _pac(1_800_000_000).sign(18, sk, 18, kk)
    P.verify_bytes(signed, None, kk)
    with pytest.raises(P.PacError):
        P.verify_bytes(signed, sk, os.urandom(32))
    with pytest.raises(P.PacError):
        P.verify_bytes(signed, os.urandom(32), kk)
    for i in (8, 40, 100, len(signed) - 1):
        bad = bytearray(signed)
        bad[i] ^= 0x40
        with pytest.raises(P.PacError):
            P.verify_bytes(bytes(bad), sk, kk)
    with pytest.raises(P.PacError):
        P.verify_bytes(signed[:20], sk, kk)
    no_sig = P.Pac([(P.PAC_CLIENT_INFO, P.client_info(0, "a"))]).pack()
    with pytest.raises(P.PacError):
        P.verify_bytes(no_sig, sk, kk)
