"""`lanman auth simulate` predicts what lanman's KDC answers: each scenario runs the real
KdcCore (AS, FAST-armored AS, TGS) and authpolicy.simulate on the same directory and compares
the Kerberos error, its KERB-EXT-ERROR status and the events."""

from __future__ import annotations

import struct

import pytest

from lanman.authpolicy.simulate import simulate
from lanman.directory import Directory, provision
from lanman.directory.authn import TICKS_PER_MINUTE
from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import KdcCore
from lanman.security.descriptor import encode_sd
from lanman.security.sddl_parse import parse_sddl
from lanman.store import Store

NOW = 1_800_000_000.0
REALM = "LANMAN.TEST"
PW = "Passw0rd-1"
AES = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96
SPN = "http/srv1.lanman.test"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim")
    provision(path, realm="lanman.test", domain="LANMAN", host_name="DC1", admin_password=PW)
    s = Store(path / "lanman.sqlite")
    s.add_user("alice", PW)
    s.close()
    with Directory.open(path) as d:
        d.add_computer("WS1", password=PW)
        d.add_computer("WS2", password=PW)
        d.add_computer("SRV1", password=PW, spns=[SPN])
        d.add_group("Tier0")
        d.add_member("Tier0", "WS1$")
        d.add_group("LocalT0", scope="domain_local")
        d.add_member("LocalT0", "WS2$")
    return path


@pytest.fixture
def env(home):
    d = Directory.open(home)
    yield d
    for s in d.authn.list_silos():
        d.authn.delete_silo(s.name, force=True)
    for p in d.authn.list_policies():
        d.authn.delete_policy(p.name, force=True)
    d.close()


def sd(d, sddl):
    return encode_sd(parse_sddl(sddl, d.domain_sid))


def key_of(d, name):
    return crypto.string_to_key(AES, PW, d.find_principal(name).salt)


def _ext_status(e_data: bytes | None) -> int | None:
    if not e_data:
        return None
    try:
        ed = asn1.KerbErrorData.load(e_data)
        data_type = ed["data-type"].native
    except ValueError:
        return None  # METHOD-DATA, not KERB-ERROR-DATA
    if data_type != 3:
        return None
    return struct.unpack("<III", ed["data-value"].native)[0]


def _fast_inner_error(e_data: bytes, akey: bytes) -> client.KrbErrorReply | None:
    """The KRB-ERROR inside a FAST reply's PA-FX-ERROR (RFC 6113 5.4.3)."""
    for p in asn1.MethodData.load(e_data):
        if p["padata-type"].native != asn1.PA_FX_FAST:
            continue
        enc = asn1.PaFxFastReply.load(p["padata-value"].native).chosen["enc-fast-rep"]
        fast = asn1.KrbFastResponse.load(
            crypto.decrypt(AES, akey, KU.FAST_REP, enc["cipher"].native)
        )
        for q in fast["padata"]:
            if q["padata-type"].native == asn1.PA_FX_ERROR:
                return client.parse_error(q["padata-value"].native)
    return None


def outcome(rep: bytes, akey: bytes | None = None) -> tuple[int, int | None] | None:
    """None for a ticket, else (error code, KERB-EXT-ERROR status or None); for an armored
    request the status of the error inside the FAST reply."""
    if asn1.message_type(rep) != asn1.MSG_KRB_ERROR:
        return None
    e = client.parse_error(rep)
    if akey is not None and e.e_data:
        inner = _fast_inner_error(e.e_data, akey)
        if inner is not None:
            assert inner.code == e.code
            return e.code, _ext_status(inner.e_data)
    return e.code, _ext_status(e.e_data)


def kdc_run(d, user, device=None, service=None):
    """What the KDC answers: the AS (armored by ``device``'s TGT), then the TGS."""
    core = KdcCore(d, lambda: NOW)
    k = key_of(d, user)
    akey = None
    if device is None:
        req, nonce = client.as_req(REALM, user, key=(AES, k), now=NOW)
    else:
        dk = key_of(d, device)
        dreq, dnonce = client.as_req(REALM, device, key=(AES, dk), now=NOW)
        armor = client.parse_as_rep(core.handle(dreq), dk, AES, dnonce)
        core.events.clear()
        req, nonce, akey = client.armored_as_req(REALM, user, armor, key=(AES, k), now=NOW)
    rep = core.handle(req)
    result = outcome(rep, akey if device is not None else None)
    if result is None and service is not None and device is None:
        tgt = client.parse_as_rep(rep, k, AES, nonce)
        treq, _ = client.tgs_req(tgt, service.split("/", 1), now=NOW)
        result = outcome(core.handle(treq))
    return result, [i for i, _ in core.events]


def predicted(r):
    e = r["error"]
    if e is None:
        return None
    return e["code"], None if e["status"] is None else int(e["status"], 16)


def check(d, user, device=None, service=None):
    got, events = kdc_run(d, user, device, service)
    r = simulate(d, user, device=device, service=service)
    assert predicted(r) == got, r
    assert sorted(r["events"]) == sorted(events), (r["events"], events)
    return r


T0 = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(%s)}))"


@pytest.mark.parametrize("enforced", [True, False])
@pytest.mark.parametrize("device", [None, "WS1$", "WS2$"])
def test_from_condition(env, enforced, device):
    d = env
    d.authn.create_policy(
        "from", enforced=enforced, user_allowed_from=sd(d, T0 % d.get_group("Tier0").sid)
    )
    d.authn.assign_policy("alice", "from")
    r = check(d, "alice", device)
    assert r["issued"] is (device == "WS1$" or not enforced)


def test_from_domain_local_group_of_the_device(env):
    d = env
    d.authn.create_policy(
        "from", enforced=True, user_allowed_from=sd(d, T0 % d.get_group("LocalT0").sid)
    )
    d.authn.assign_policy("alice", "from")
    assert check(d, "alice", "WS2$")["issued"]
    assert not check(d, "alice", "WS1$")["issued"]


@pytest.mark.parametrize("sddl", ["D:(A;;CR;;;WD)", "O:SY", "O:SYD:(A;;CR;;;S-1-18-1)"])
def test_from_descriptor_shapes(env, sddl):
    d = env
    d.authn.create_policy("from", enforced=True, user_allowed_from=sd(d, sddl))
    d.authn.assign_policy("alice", "from")
    check(d, "alice", "WS2$")


def test_from_silo_claim(env):
    d = env
    d.authn.create_silo("T0", enforced=True)
    d.authn.grant_member("T0", "WS1$")
    d.authn.assign_silo("WS1$", "T0")
    cond = 'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0"))'
    d.authn.create_policy("from", enforced=True, user_allowed_from=sd(d, cond))
    d.authn.assign_policy("alice", "from")
    assert check(d, "alice", "WS1$")["issued"]
    assert not check(d, "alice", "WS2$")["issued"]


@pytest.mark.parametrize(
    ("sddl", "enforced"),
    [
        (T0, True),
        (T0, False),
        ("D:(A;;CR;;;WD)", True),  # no owner in a TGS: KDC_ERR_POLICY, STATUS_INVALID_PARAMETER
        ("O:SYD:(A;;CR;;;WD)", True),
    ],
)
def test_to_condition(env, sddl, enforced):
    d = env
    text = sddl % d.get_group("Tier0").sid if "%s" in sddl else sddl
    d.authn.create_policy("to", enforced=enforced, computer_allowed_to=sd(d, text))
    d.authn.assign_policy("SRV1$", "to")
    check(d, "alice", service=SPN)


def test_to_self_allowed(env):
    d = env
    d.authn.create_policy("to", enforced=True, computer_allowed_to=sd(d, "O:SYD:(D;;CR;;;WD)"))
    d.authn.assign_policy("SRV1$", "to")
    assert check(d, "SRV1$", service=SPN)["issued"]


def test_negative_lifetime(env):
    d = env
    d.authn.create_policy("neg", enforced=True, user_tgt_lifetime=-60 * TICKS_PER_MINUTE)
    d.authn.assign_policy("alice", "neg")
    r = check(d, "alice")
    assert r["error"]["name"] == "KDC_ERR_NEVER_VALID"
