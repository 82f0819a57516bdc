"""Sans-IO KDC core: AS/TGS outcomes, Windows errors with NTSTATUS, PAC, replay, skew, fuzz."""

from __future__ import annotations

import importlib
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_krb_support import REALM, FakeDirectory

from lanman.kerberos import asn1, client, crypto
from lanman.kerberos import pac as P
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import KdcCore
from lanman.kerberos.kdc.core import find_pac

NOW = 1_800_000_000.25


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env():
    d = FakeDirectory()
    clock = Clock()
    return d, KdcCore(d, clock), clock


def _err(rep: bytes) -> client.KrbErrorReply:
    assert asn1.message_type(rep) == asn1.MSG_KRB_ERROR
    return client.parse_error(rep)


def _tgt(core, d, name="alice", etype=18, now=NOW, **kw):
    p = d.principals[name.lower()]
    req, nonce = client.as_req(REALM, name, key=(etype, p.keys[etype]), now=now, **kw)
    return client.parse_as_rep(core.handle(req), p.keys[etype], etype, nonce)


def _ext_status(e_data: bytes) -> tuple[int, int]:
    ed = asn1.KerbErrorData.load(e_data)
    assert ed["data-type"].native == 3
    status, _, flags = struct.unpack("<III", ed["data-value"].native)
    return status, flags


def test_preauth_required_lists_etype_info2(env):
    _d, core, _ = env
    req, _ = client.as_req(REALM, "alice", now=NOW)
    e = _err(core.handle(req))
    assert e.code == 25
    md = {p["padata-type"].native: p["padata-value"].native for p in asn1.MethodData.load(e.e_data)}
    info = asn1.ETypeInfo2.load(md[asn1.PA_ETYPE_INFO2])
    assert [x["etype"].native for x in info] == [18, 17, 23]
    assert info[0]["salt"].native == "LANMAN.TESTalice"
    assert asn1.PA_ENC_TIMESTAMP in md and asn1.PA_FX_FAST in md


def test_tgt_flags_times_and_pac(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    assert tgt.flags & bit(TF.initial) and tgt.flags & bit(TF.pre_authent)
    assert tgt.flags & bit(TF.forwardable) and tgt.flags & bit(TF.renewable)
    assert tgt.endtime == int(NOW) + 10 * 3600
    krbtgt = d.krbtgt()
    enc = tgt.ticket["enc-part"]
    assert enc["etype"].native == 18 and enc["kvno"].native == 2
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(18, krbtgt.keys[18], KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    pac = P.Pac.parse(find_pac(etp))
    pac.verify(krbtgt.keys[18], krbtgt.keys[18])
    types = [t for t, _ in pac.buffers]
    assert types == [1, 10, 12, 17, 18, 6, 7]  # TGT: no ticket signature
    assert pac.get(P.PAC_REQUESTOR) == P.sid_to_bytes(d.principals["alice"].sid)
    assert struct.unpack("<II", pac.get(P.PAC_ATTRIBUTES_INFO)) == (2, P.PAC_WAS_GIVEN_IMPLICITLY)


def test_pac_logon_info_decodes_with_impacket(env):
    """impacket's NDR (a test peer) parses our KERB_VALIDATION_INFO."""
    pac_mod = importlib.import_module("impacket.krb5.pac")
    d, core, _ = env
    tgt = _tgt(core, d)
    krbtgt = d.krbtgt()
    enc = tgt.ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(18, krbtgt.keys[18], KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    pac = P.Pac.parse(find_pac(etp))
    raw = pac.get(P.PAC_LOGON_INFO)
    vi = pac_mod.VALIDATION_INFO()
    vi.fromString(raw)
    vi.fromStringReferents(raw, len(vi.getData()))
    kvi = vi["Data"]
    assert kvi["EffectiveName"] == "alice"
    assert kvi["UserId"] == 1103 and kvi["PrimaryGroupId"] == 513
    assert kvi["LogonDomainName"] == "LANMAN"
    assert kvi["LogonDomainId"].formatCanonical() == d.domain_sid


def test_no_pac_when_not_requested(env):
    d, core, _ = env
    tgt = _tgt(core, d, include_pac=False)
    krbtgt = d.krbtgt()
    enc = tgt.ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(18, krbtgt.keys[18], KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    assert find_pac(etp) is None


def test_service_ticket_pac_signatures(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW)
    stk = client.parse_tgs_rep(core.handle(req), tgt)
    svc = d.principals["dc1$"]
    enc = stk.ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(18, svc.keys[18], KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    pac = P.Pac.parse(find_pac(etp))
    # Ticket signature: over the EncTicketPart with the PAC replaced by one zero byte.
    body = asn1.EncTicketPart.load(etp.dump())
    fields = {k: body[k] for k, _, _ in asn1.EncTicketPart._fields if body[k].native is not None}
    inner = asn1.AuthorizationData([{"ad-type": 128, "ad-data": b"\x00"}])
    fields["authorization-data"] = [{"ad-type": 1, "ad-data": inner.dump()}]
    zeroed = asn1.EncTicketPart(fields).dump()
    pac.verify(svc.keys[18], d.krbtgt().keys[18], zeroed)
    assert [t for t, _ in pac.buffers] == [1, 10, 12, 6, 7, 16]


def test_tgs_enctype_follows_service_keys(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], etypes=[23], now=NOW)
    stk = client.parse_tgs_rep(core.handle(req), tgt)
    assert stk.session_etype == 23
    assert stk.ticket["enc-part"]["etype"].native == 18  # ticket under the strongest key
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], etypes=[1, 3], now=NOW)
    assert _err(core.handle(req)).code == 14


def test_rc4_login_and_subkey_reply(env):
    d, core, _ = env
    tgt = _tgt(core, d, etype=23)
    sub = (17, bytes(range(16)))
    req, _ = client.tgs_req(tgt, ["host", "dc1.lanman.test"], subkey=sub, now=NOW)
    stk = client.parse_tgs_rep(core.handle(req), tgt, subkey=sub)
    assert stk.cname["name-string"].native == ["alice"]


def test_wrong_password_preauth_failed(env):
    d, core, _ = env
    req, _ = client.as_req(REALM, "alice", key=(18, bytes(32)), now=NOW)
    assert _err(core.handle(req)).code == 24
    assert d.failures == ["alice"]
    assert not [e for e, _ in core.events if e == 4740]


def test_preauth_failure_that_locks_out_reports_4740(env, monkeypatch):
    d, core, _ = env
    monkeypatch.setattr(d, "record_logon_failure", lambda name: True)  # threshold reached
    req, _ = client.as_req(REALM, "alice", key=(18, bytes(32)), now=NOW)
    assert _err(core.handle(req, client="192.0.2.7")).code == 24
    (data,) = [x for e, x in core.events if e == 4740]
    assert data["user"] == "alice" and data["client"] == "192.0.2.7"


@pytest.mark.parametrize(
    ("attr", "value", "code", "status"),
    [
        ("disabled", True, 18, 0xC0000072),
        ("locked", True, 18, 0xC0000234),
        ("expires", int(NOW) - 10, 18, 0xC0000193),
        ("password_expired", True, 23, 0xC0000071),
    ],
)
def test_account_state_errors_carry_ntstatus(env, attr, value, code, status):
    d, core, _ = env
    setattr(d.principals["alice"], attr, value)
    p = d.principals["alice"]
    req, _ = client.as_req(REALM, "alice", key=(18, p.keys[18]), now=NOW)
    e = _err(core.handle(req))
    assert e.code == code
    assert _ext_status(e.e_data) == (status, 1)


def test_disabled_after_tgt_fails_tgs_with_flags_3(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    d.principals["alice"].disabled = True
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW)
    e = _err(core.handle(req))
    assert e.code == 18 and _ext_status(e.e_data) == (0xC0000072, 3)


def test_unknown_principals(env):
    d, core, _ = env
    req, _ = client.as_req(REALM, "mallory", now=NOW)
    assert _err(core.handle(req)).code == 6
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "ghost.lanman.test"], now=NOW)
    assert _err(core.handle(req)).code == 7


def test_unknown_etypes_and_rc4_less_account(env):
    _d, core, _ = env
    req, _ = client.as_req(REALM, "alice", etypes=[1, 3, 16], now=NOW)
    assert _err(core.handle(req)).code == 14
    req, _ = client.as_req(REALM, "bob", etypes=[23], now=NOW)  # bob has no RC4 key
    assert _err(core.handle(req)).code == 14


def test_protected_user_rc4_preauth_etype_nosupp_and_4h(env):
    d, core, _ = env
    alice = d.principals["alice"]
    alice.protected_user = True
    req, _ = client.as_req(REALM, "alice", key=(23, alice.keys[23]), now=NOW)
    e = _err(core.handle(req))
    assert e.code == 14 and e.e_data is None
    tgt = _tgt(core, d)
    assert tgt.endtime - int(NOW) == 4 * 3600
    assert not tgt.flags & bit(TF.forwardable)


def test_skew(env):
    d, core, _ = env
    alice = d.principals["alice"]
    req, _ = client.as_req(REALM, "alice", key=(18, alice.keys[18]), now=NOW - 600)
    assert _err(core.handle(req)).code == 37
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW + 400)
    assert _err(core.handle(req)).code == 37


def test_replay_detected(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW)
    client.parse_tgs_rep(core.handle(req), tgt)
    assert _err(core.handle(req)).code == 34


def test_renew(env):
    d, core, clock = env
    tgt = _tgt(core, d)
    clock.t = NOW + 3600
    opts = bit(asn1.KDCOptions.renew) | bit(asn1.KDCOptions.renewable)
    req, _ = client.tgs_req(tgt, ["krbtgt", REALM], options=opts, now=clock.t)
    new = client.parse_tgs_rep(core.handle(req), tgt)
    assert new.endtime == int(NOW + 3600) + 10 * 3600
    assert new.renew_till == tgt.renew_till
    # Not renewable: KDC_ERR_BADOPTION.
    nr = _tgt(core, d, now=clock.t, options=bit(asn1.KDCOptions.forwardable))
    req, _ = client.tgs_req(nr, ["krbtgt", REALM], options=opts, now=clock.t)
    assert _err(core.handle(req)).code == 13


def test_expired_tgt(env):
    d, core, clock = env
    tgt = _tgt(core, d)
    clock.t = NOW + 11 * 3600
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=clock.t)
    assert _err(core.handle(req)).code == 32


def test_tampered_pac_is_modified(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    krbtgt = d.krbtgt()
    enc = tgt.ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(18, krbtgt.keys[18], KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    pac = P.Pac.parse(find_pac(etp))
    pac.set(P.PAC_REQUESTOR, P.sid_to_bytes("S-1-5-21-1-2-3-500"))
    fields = {k: etp[k] for k, _, _ in asn1.EncTicketPart._fields if etp[k].native is not None}
    inner = asn1.AuthorizationData([{"ad-type": 128, "ad-data": pac.pack()}])
    fields["authorization-data"] = [{"ad-type": 1, "ad-data": inner.dump()}]
    cipher = crypto.encrypt(
        18, krbtgt.keys[18], KU.KDC_REP_TICKET, asn1.EncTicketPart(fields).dump()
    )
    forged = asn1.Ticket(
        {
            "tkt-vno": 5,
            "realm": REALM,
            "sname": asn1.principal(2, "krbtgt", REALM),
            "enc-part": {"etype": 18, "kvno": 2, "cipher": cipher},
        }
    )
    tgt.ticket = forged
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW)
    assert _err(core.handle(req)).code == 41


def test_canonicalize_and_enterprise_name(env):
    d, core, _ = env
    alice = d.principals["alice"]
    req, nonce = client.as_req(
        REALM,
        "ALICE",
        key=(18, alice.keys[18]),
        now=NOW,
        options=client.DEFAULT_OPTIONS | bit(asn1.KDCOptions.canonicalize),
    )
    tgt = client.parse_as_rep(core.handle(req), alice.keys[18], 18, nonce)
    assert tgt.cname["name-string"].native == ["alice"]


@pytest.mark.parametrize(
    "data", [b"\x6a\x00", b"\x6a\x05\x30\x03\x02\x01\x05", b"\x6c\x02\x30\x00", b"\x7e\x00"]
)
def test_malformed_is_generic_or_dropped(env, data):
    _, core, _ = env
    rep = core.handle(data)
    assert rep is None or _err(rep).code in (40, 60)


def test_non_kerberos_dropped_and_oversized(env):
    _, core, _ = env
    assert core.handle(b"GET / HTTP/1.0\r\n\r\n") is None
    assert _err(core.handle(b"\x6a" + bytes(70000))).code == 61


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400), st.integers(0, 5000))
def test_fuzz_handle_never_raises(env, junk, cut):
    d, core, _ = env
    alice = d.principals["alice"]
    req, _ = client.as_req(REALM, "alice", key=(18, alice.keys[18]), now=NOW)
    for data in (junk, b"\x6a" + junk, req[: cut % (len(req) + 1)] + junk):
        rep = core.handle(data)
        assert rep is None or asn1.message_type(rep) in (asn1.MSG_KRB_ERROR, asn1.MSG_AS_REP)


def test_mutated_requests_never_raise(env):
    d, core, _ = env
    tgt = _tgt(core, d)
    req, _ = client.tgs_req(tgt, ["cifs", "dc1.lanman.test"], now=NOW)
    for i in range(0, len(req), 7):
        for flip in (0x01, 0x80, 0xFF):
            b = bytearray(req)
            b[i] ^= flip
            rep = core.handle(bytes(b))
            assert rep is None or asn1.message_type(rep) in (asn1.MSG_KRB_ERROR, asn1.MSG_TGS_REP)
