"""NTLM interop with peers nobody here wrote: pyspnego and impacket (in-process, no sockets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import spnego
from impacket import ntlm as impacket_ntlm

from lanman.auth.ntlm import AuthError, NtlmAcceptor, NtlmInitiator
from lanman.crypto.md4 import nt_hash

NOW = 133_000_000_000_000_000
USERS = {"alice": nt_hash("Secret1!")}


def acceptor(**kw: object) -> NtlmAcceptor:
    return NtlmAcceptor(
        lookup_nt_hash=lambda u: USERS.get(u.lower()),
        server_name="LANMAN",
        domain_name="LANMAN",
        dns_computer_name="lanman.example",
        dns_domain_name="example",
        now_filetime=NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_ntlm_interop_pyspnego_client() -> None:
    client = spnego.client("alice", "Secret1!", hostname="lanman", service="cifs", protocol="ntlm")
    acc = acceptor()
    challenge = acc.step(client.step())
    assert acc.step(client.step(challenge)) is None
    assert client.complete and acc.result is not None
    assert acc.result.user == "alice" and not acc.result.is_guest
    assert client.session_key == acc.result.session_key
    for n in range(3):
        data = b"client to server %d" % n
        assert acc.verify(data, client.sign(data))
        data = b"server to client %d" % n
        client.verify(data, acc.sign(data))  # raises on a bad signature


def test_ntlm_interop_pyspnego_client_wrong_password() -> None:
    client = spnego.client("alice", "bad", hostname="lanman", service="cifs", protocol="ntlm")
    acc = acceptor()
    challenge = acc.step(client.step())
    with pytest.raises(AuthError):
        acc.step(client.step(challenge))


@pytest.mark.parametrize("by_hash", [False, True])
def test_ntlm_interop_impacket_client(by_hash: bool) -> None:
    acc = acceptor()
    type1 = impacket_ntlm.getNTLMSSPType1("WS", "", signingRequired=True, use_ntlmv2=True)
    challenge = acc.step(type1.getData())
    if by_hash:
        type3, exported = impacket_ntlm.getNTLMSSPType3(
            type1, challenge, "Alice", "", "WORKGROUP", nthash=nt_hash("Secret1!"), use_ntlmv2=True
        )
    else:
        type3, exported = impacket_ntlm.getNTLMSSPType3(
            type1, challenge, "Alice", "Secret1!", "WORKGROUP", use_ntlmv2=True
        )
    assert acc.step(type3.getData()) is None
    assert acc.result is not None and acc.result.user == "Alice"
    assert acc.result.domain == "WORKGROUP" and acc.result.workstation == "WS"
    assert exported == acc.result.session_key


def test_ntlm_interop_impacket_client_wrong_password() -> None:
    acc = acceptor()
    type1 = impacket_ntlm.getNTLMSSPType1("WS", "", signingRequired=True, use_ntlmv2=True)
    challenge = acc.step(type1.getData())
    type3, _ = impacket_ntlm.getNTLMSSPType3(type1, challenge, "alice", "nope", "", use_ntlmv2=True)
    with pytest.raises(AuthError):
        acc.step(type3.getData())


def test_ntlm_interop_impacket_parses_our_challenge() -> None:
    acc = acceptor()
    type1 = impacket_ntlm.getNTLMSSPType1("WS", "", signingRequired=True, use_ntlmv2=True)
    parsed = impacket_ntlm.NTLMAuthChallenge(acc.step(type1.getData()))
    assert parsed["challenge"] == acc.server_challenge
    info = impacket_ntlm.AV_PAIRS(parsed["TargetInfoFields"])
    assert info[impacket_ntlm.NTLMSSP_AV_HOSTNAME][1] == "LANMAN".encode("utf-16-le")


@pytest.fixture
def pyspnego_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "ntlm_users"
    creds.write_text("WORKGROUP:alice:Secret1!\n")
    monkeypatch.setenv("NTLM_USER_FILE", os.fspath(creds))


@pytest.mark.usefixtures("pyspnego_user_file")
def test_ntlm_interop_initiator_against_pyspnego_server() -> None:
    server = spnego.server(protocol="ntlm")
    ini = NtlmInitiator("alice", "Secret1!", "WORKGROUP", "WS", NOW, target_name="cifs/lanman")
    challenge = server.step(ini.step(None))
    assert server.step(ini.step(challenge)) is None
    assert server.complete and server.session_key == ini.session_key
    server.verify(b"abc", ini.sign(b"abc"))
    assert ini.verify(b"xyz", server.sign(b"xyz"))


@pytest.mark.usefixtures("pyspnego_user_file")
def test_ntlm_interop_initiator_wrong_password_rejected_by_pyspnego() -> None:
    server = spnego.server(protocol="ntlm")
    ini = NtlmInitiator("alice", "wrong", "WORKGROUP", "WS", NOW)
    challenge = server.step(ini.step(None))
    with pytest.raises(spnego.exceptions.SpnegoError):
        server.step(ini.step(challenge))
