"""lanman.directory delegation settings: msDS-AllowedToDelegateTo, the RBCD descriptor
(msDS-AllowedToActOnBehalfOfOtherIdentity) and the delegation userAccountControl bits."""

from __future__ import annotations

import pytest

from lanman.directory import Directory, DirectoryError, provision
from lanman.directory.delegation import RBCD_RIGHTS, rbcd_descriptor, rbcd_sids
from lanman.directory.model import UAC
from lanman.security.access import access_check
from lanman.security.descriptor import decode_sd
from lanman.security.rights import ADS_CONTROL_ACCESS
from lanman.security.sddl_write import sd_to_sddl as to_sddl
from lanman.security.token import SecurityToken
from lanman.store import Store


@pytest.fixture
def d(tmp_path):
    s = Store(tmp_path / "lanman.sqlite")
    s.add_user("svc1", "Svc1-pass1")
    s.add_user("alice", "Alice-pass1")
    s.close()
    provision(
        tmp_path,
        realm="lanman.test",
        domain="lanman",
        host_name="LANMAN",
        admin_password="Adm1n-pass!",
    )
    with Directory.open(tmp_path) as directory:
        directory.add_computer("web", password="Web-pass-1234567")
        directory.add_computer("files", password="Files-pass-1234567")
        yield directory


def test_rbcd_descriptor_is_what_windows_writes():
    sd = rbcd_descriptor(["S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1106"])
    text = to_sddl(decode_sd(sd))
    assert text == (
        f"O:BAD:(A;;{RBCD_RIGHTS};;;S-1-5-21-1-2-3-1105)(A;;{RBCD_RIGHTS};;;S-1-5-21-1-2-3-1106)"
    )
    assert rbcd_sids(sd) == ["S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1106"]
    assert rbcd_descriptor([]) is None and rbcd_sids(None) == [] and rbcd_sids(b"junk") == []
    # the KDC's check: CONTROL_ACCESS for a token holding one of the SIDs
    yes = SecurityToken(sids=frozenset({"S-1-5-21-1-2-3-1105", "S-1-1-0"}))
    no = SecurityToken(sids=frozenset({"S-1-5-21-1-2-3-1107", "S-1-1-0"}))
    assert access_check(sd, yes, ADS_CONTROL_ACCESS).allowed
    assert not access_check(sd, no, ADS_CONTROL_ACCESS).allowed


def test_constrained_delegation_targets_and_protocol_transition(d):
    info = d.set_delegation(
        "svc1", allow_to=["cifs/files.lanman.test", "host/files"], protocol_transition=True
    )
    assert info.allowed_to == ["cifs/files.lanman.test", "host/files"]
    assert info.protocol_transition and not info.unconstrained
    p = d.get("svc1")
    assert p.delegate_to == ["cifs/files.lanman.test", "host/files"]
    assert p.uac & UAC.TRUSTED_TO_AUTH_FOR_DELEGATION
    info = d.set_delegation("svc1", remove_to=["host/files"], protocol_transition=False)
    assert info.allowed_to == ["cifs/files.lanman.test"] and not info.protocol_transition
    with pytest.raises(DirectoryError):
        d.set_delegation("svc1", remove_to=["host/nowhere"])
    with pytest.raises(DirectoryError):
        d.set_delegation("svc1", allow_to=["not an spn"])
    assert d.set_delegation("svc1", clear_to=True).allowed_to == []
    with pytest.raises(DirectoryError):
        d.set_delegation("nobody", allow_to=["cifs/x"])


def test_unconstrained_and_sensitive(d):
    assert d.set_delegation("web", unconstrained=True).unconstrained  # NAME finds NAME$
    assert d.get("WEB$").uac & UAC.TRUSTED_FOR_DELEGATION
    assert not d.set_delegation("web$", unconstrained=False).unconstrained
    p = d.set_account("alice", sensitive=True)
    assert p.uac & UAC.NOT_DELEGATED and d.delegation("alice").sensitive
    p = d.set_account("alice", sensitive=False)
    assert not p.uac & UAC.NOT_DELEGATED


def test_rbcd_from_account_names(d):
    info = d.set_delegation("files", allow_from=["web", "svc1"])
    web, svc1 = d.get("WEB$"), d.get("svc1")
    assert [e["sid"] for e in info.allowed_from] == [web.sid, svc1.sid]
    assert [e["name"] for e in info.allowed_from] == [web.name, "svc1"]
    blob = d.get("FILES$").allowed_to_act
    assert rbcd_sids(blob) == [web.sid, svc1.sid]
    info = d.set_delegation("files", allow_from=["svc1"])  # replaces
    assert [e["name"] for e in info.allowed_from] == ["svc1"]
    info = d.set_delegation("files", add_from=["S-1-5-21-9-9-9-1000"])
    assert [e["sid"] for e in info.allowed_from] == [svc1.sid, "S-1-5-21-9-9-9-1000"]
    assert info.allowed_from[1]["name"] is None
    info = d.set_delegation("files", clear_rbcd=True)
    assert info.allowed_from == [] and d.get("FILES$").allowed_to_act is None
    with pytest.raises(DirectoryError):
        d.set_delegation("files", allow_from=["nobody"])
    assert d.delegation("files").as_dict()["allowed_to_act"] == []
