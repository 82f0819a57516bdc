"""Delegation through the real (SQLite) directory: settings made with Directory.set_delegation
reach the KDC, and an S4U2Proxy target's AllowedToAuthenticateTo is checked against the
delegating service, not the impersonated user (MS-KILE 3.3.5.7)."""

from __future__ import annotations

import struct

import pytest

from lanman.directory import Directory, provision
from lanman.errors import ntstatus as st
from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import bit
from lanman.kerberos.kdc import KdcCore
from lanman.security.descriptor import encode_sd
from lanman.security.sddl_parse import parse_sddl
from lanman.store import Store

NOW = 1_800_000_000.0
REALM = "LANMAN.TEST"
PW = "Passw0rd-1"
AES = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96
TIER0 = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(%s)}))"
OPTS = bit(KO.forwardable) | bit(KO.canonicalize)
PROXY = OPTS | bit(KO.cname_in_addl_tkt)


@pytest.fixture
def env(tmp_path):
    provision(tmp_path, realm="lanman.test", domain="LANMAN", host_name="DC1", admin_password=PW)
    s = Store(tmp_path / "lanman.sqlite")
    for u in ("alice", "svc", "carol"):
        s.add_user(u, PW)
    s.close()
    d = Directory.open(tmp_path)
    d.add_computer("WS1", password=PW)
    d.add_computer("SRV1", password=PW, spns=["http/srv1.lanman.test"])
    d.add_group("Tier0")
    d.set_delegation("svc", allow_to=["http/srv1.lanman.test"], protocol_transition=True)
    d.set_delegation("SRV1", allow_from=["WS1"])
    d.set_account("carol", sensitive=True)
    yield d, KdcCore(d, lambda: NOW)
    d.close()


def _tgt(core, d, name):
    k = crypto.string_to_key(AES, PW, d.find_principal(name).salt)
    req, nonce = client.as_req(REALM, name, key=(AES, k), now=NOW)
    return client.parse_as_rep(core.handle(req), k, AES, nonce)


def _tgs(core, tgt, sname, options=OPTS, padata=None, tickets=None):
    req, _ = client.tgs_req(
        tgt, sname, now=NOW, options=options, padata=padata, additional_tickets=tickets
    )
    rep = core.handle(req)
    if asn1.message_type(rep) == asn1.MSG_KRB_ERROR:
        raise client.parse_error(rep)
    return client.parse_tgs_rep(rep, tgt)


def _s4u(core, d, service, user, target="http/srv1.lanman.test"):
    svc = _tgt(core, d, service)
    name = svc.cname["name-string"].native
    ev = _tgs(core, svc, name, padata=[client.pa_for_user(svc, user)])
    return _tgs(
        core,
        svc,
        target.split("/"),
        options=PROXY,
        padata=[client.pa_pac_options()],
        tickets=[ev.ticket],
    )


def _status(e: client.KrbErrorReply) -> int:
    ed = asn1.KerbErrorData.load(e.e_data)
    return struct.unpack("<III", ed["data-value"].native)[0]


def test_constrained_delegation_and_rbcd_from_directory_settings(env):
    d, core = env
    t = _s4u(core, d, "svc", "alice")
    assert t.cname["name-string"].native == ["alice"]
    t = _s4u(core, d, "WS1$", "alice")
    assert t.cname["name-string"].native == ["alice"]
    with pytest.raises(client.KrbErrorReply) as e:
        _s4u(core, d, "svc", "carol")  # NOT_DELEGATED
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_ACCOUNT_RESTRICTION)
    d.set_delegation("SRV1", clear_rbcd=True)
    with pytest.raises(client.KrbErrorReply) as e:
        _s4u(core, d, "WS1$", "alice")
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_NOT_FOUND)


def test_target_policy_is_checked_against_the_delegating_service(env):
    d, core = env
    tier0 = d.get_group("Tier0").sid
    d.authn.create_policy(
        "to", enforced=True, computer_allowed_to=encode_sd(parse_sddl(TIER0 % tier0))
    )
    d.authn.assign_policy("SRV1$", "to")
    d.add_member("Tier0", "alice")  # the user qualifies, the service does not
    with pytest.raises(client.KrbErrorReply) as e:
        _s4u(core, d, "svc", "alice")
    assert e.value.code == 12 and _status(e.value) == 0xC0000413  # AUTHENTICATION_FIREWALL
    d.remove_member("Tier0", "alice")
    d.add_member("Tier0", "svc")  # the service qualifies, the user does not
    t = _s4u(core, d, "svc", "alice")
    assert t.cname["name-string"].native == ["alice"]
