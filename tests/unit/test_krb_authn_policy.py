"""Authentication policies and silos in lanman's KDC against a real (SQLite) directory.

Each test names the behaviour it pins down; the expectations are Windows' as Samba's
Windows-validated krb5 tests establish them (AS: MS-KILE 3.3.5.6, TGS: 3.3.5.7)."""

from __future__ import annotations

import struct

import pytest

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
KDC_ERR_POLICY, KRB_ERR_GENERIC, KDC_ERR_NEVER_VALID = 12, 60, 11


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("authn")
    provision(path, realm="lanman.test", domain="LANMAN", host_name="DC1", admin_password=PW)
    s = Store(path / "lanman.sqlite")
    for u in ("alice", "bob", "carol"):
        s.add_user(u, PW)
    s.close()
    with Directory.open(path) as d:
        d.add_computer("WS1", password=PW)
        d.add_computer("WS2", password=PW)
        d.add_computer("SRV1", password=PW, spns=["http/srv1.lanman.test"])
        d.add_group("Tier0")
        d.add_member("Tier0", "WS1$")
    return path


@pytest.fixture
def env(home):
    d = Directory.open(home)
    core = KdcCore(d, lambda: NOW)
    yield d, core
    for p in d.authn.list_silos():
        d.authn.delete_silo(p.name, force=True)
    for p in d.authn.list_policies():
        d.authn.delete_policy(p.name, force=True)
    for g in ("Protected Users",):
        if any(m["name"] == "alice" for m in d.group_members(g)):
            d.remove_member(g, "alice")
    d.close()


def sd(d: Directory, sddl: str) -> bytes:
    return encode_sd(parse_sddl(sddl, d.domain_sid))


def key_of(d: Directory, name: str) -> bytes:
    p = d.find_principal(name)
    return crypto.string_to_key(AES, PW, p.salt)


def tgt(core, d, name, **kw):
    k = key_of(d, name)
    req, nonce = client.as_req(REALM, name, key=(AES, k), now=NOW, **kw)
    return client.parse_as_rep(core.handle(req), k, AES, nonce)


def err(rep: bytes) -> client.KrbErrorReply:
    assert asn1.message_type(rep) == asn1.MSG_KRB_ERROR
    return client.parse_error(rep)


def ext_status(e: client.KrbErrorReply) -> tuple[int, int] | None:
    """(NTSTATUS, flags) of a KERB-EXT-ERROR e-data, also inside a FAST PA-FX-ERROR."""
    if not e.e_data:
        return None
    ed = asn1.KerbErrorData.load(e.e_data)
    if ed["data-type"].native != 3:
        return None
    status, _, flags = struct.unpack("<III", ed["data-value"].native)
    return status, flags


def armored(core, d, user, device, password_ok=True):
    armor = tgt(core, d, device)
    k = key_of(d, user) if password_ok else crypto.string_to_key(AES, "wrong", b"x")
    req, _, _ = client.armored_as_req(REALM, user, armor, key=(AES, k), now=NOW)
    return core.handle(req)


def ticket_times(d: Directory, rep: bytes) -> tuple[int, int | None]:
    """(endtime - authtime, renew_till - authtime) from the issued TGT (krbtgt key)."""
    t = asn1.ASRep.load(rep)["ticket"]
    k = d.krbtgt().keys[t["enc-part"]["etype"].native]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(
            t["enc-part"]["etype"].native, k, KU.KDC_REP_TICKET, t["enc-part"]["cipher"].native
        )
    )
    auth = etp["authtime"].native
    renew = etp["renew-till"].native
    return int(etp["endtime"].native - auth), (None if renew is None else int(renew - auth))


# -- TGT lifetime ---------------------------------------------------------------------------


def test_enforced_user_lifetime_caps_tgt_and_renew_till_equals_end(env):
    """Enforced 60-minute user policy: a 1-hour TGT whose renew-till equals its end (still
    RENEWABLE, as Windows returns it)."""
    d, core = env
    d.authn.create_policy("sixty", enforced=True, user_tgt_lifetime=60 * TICKS_PER_MINUTE)
    d.authn.assign_policy("alice", "sixty")
    c = tgt(core, d, "alice")
    start = c.enc_part["authtime"].native
    assert c.endtime - start == 3600
    assert c.renew_till == c.endtime


def test_unenforced_lifetime_is_ignored(env):
    d, core = env
    d.authn.create_policy("soft", enforced=False, user_tgt_lifetime=60 * TICKS_PER_MINUTE)
    d.authn.assign_policy("alice", "soft")
    c = tgt(core, d, "alice")
    assert c.endtime - c.enc_part["authtime"].native == 10 * 3600


@pytest.mark.parametrize(("minutes", "expected"), [(360, 6 * 3600), (60, 3600)])
def test_policy_lifetime_overrides_protected_users_both_ways(env, minutes, expected):
    """Protected Users' 4 h yields to an enforced policy, longer or shorter."""
    d, core = env
    d.add_member("Protected Users", "alice")
    d.authn.create_policy("pu", enforced=True, user_tgt_lifetime=minutes * TICKS_PER_MINUTE)
    d.authn.assign_policy("alice", "pu")
    c = tgt(core, d, "alice")
    assert c.endtime - c.enc_part["authtime"].native == expected


def test_negative_lifetime_is_never_valid(env):
    """Enforced negative lifetime: KDC_ERR_NEVER_VALID with STATUS_TIME_DIFFERENCE_AT_DC."""
    d, core = env
    d.authn.create_policy("neg", enforced=True, user_tgt_lifetime=-60 * TICKS_PER_MINUTE)
    d.authn.assign_policy("alice", "neg")
    req, _ = client.as_req(REALM, "alice", key=(AES, key_of(d, "alice")), now=NOW)
    e = err(core.handle(req))
    assert e.code == KDC_ERR_NEVER_VALID and ext_status(e) == (0xC0000133, 1)


# -- AllowedToAuthenticateFrom --------------------------------------------------------------


def _from_policy(d, sddl, enforced=True, name="from"):
    d.authn.create_policy(name, enforced=enforced, user_allowed_from=sd(d, sddl))
    d.authn.assign_policy("alice", name)


TIER0 = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(%s)}))"


def test_from_condition_needs_fast(env):
    """Unarmored, pre-authenticated AS-REQ + enforced From: KDC_ERR_POLICY, e-data
    STATUS_INVALID_WORKSTATION (flags 1), event 105 naming account and policy. Without any
    pre-authentication the client first hears PREAUTH_REQUIRED offering PA-FX-FAST (how MIT
    `kinit -T` learns that FAST is available)."""
    d, core = env
    _from_policy(d, TIER0 % d.get_group("Tier0").sid)
    first = err(core.handle(client.as_req(REALM, "alice", now=NOW)[0]))
    assert first.code == 25
    offered = [p["padata-type"].native for p in asn1.MethodData.load(first.e_data)]
    assert asn1.PA_FX_FAST in offered and not core.events
    req, _ = client.as_req(REALM, "alice", key=(AES, key_of(d, "alice")), now=NOW)
    e = err(core.handle(req))
    assert e.code == KDC_ERR_POLICY and ext_status(e) == (0xC0000070, 1)
    ids = [i for i, _ in core.events]
    assert 105 in ids and 4820 in ids
    data = dict(core.events)[105]
    assert data["account"] == "alice" and data["policy"] == "from"
    assert data["reason"] == "FAST_REQUIRED"


def test_from_condition_member_device_allowed_non_member_denied(env):
    """Armored with a Tier0 computer's TGT: TGT issued; with a non-member's: KDC_ERR_POLICY."""
    d, core = env
    _from_policy(d, TIER0 % d.get_group("Tier0").sid)
    ok = armored(core, d, "alice", "WS1$")
    assert asn1.message_type(ok) == asn1.MSG_AS_REP
    e = err(armored(core, d, "alice", "WS2$"))
    assert e.code == KDC_ERR_POLICY
    assert dict(core.events)[105]["device"] == "WS2$"


def test_wrong_password_with_denying_from_reports_policy(env):
    """A wrong password with a denying From condition: KDC_ERR_POLICY, not PREAUTH_FAILED."""
    d, core = env
    _from_policy(d, TIER0 % d.get_group("Tier0").sid)
    assert err(armored(core, d, "alice", "WS2$", password_ok=False)).code == KDC_ERR_POLICY


def test_audit_mode_never_changes_the_reply_and_logs_305(env):
    d, core = env
    _from_policy(d, TIER0 % d.get_group("Tier0").sid, enforced=False)
    c = tgt(core, d, "alice")  # not even armored
    assert c.endtime
    assert asn1.message_type(armored(core, d, "alice", "WS2$")) == asn1.MSG_AS_REP
    audits = [e for i, e in core.events if i == 305]
    assert {a["reason"] for a in audits} == {"FAST_REQUIRED", "ACCESS_DENIED"}
    assert audits[-1]["device"] == "WS2$" and audits[-1]["policy"] == "from"
    assert 105 not in [i for i, _ in core.events]


def test_from_user_identity_is_not_in_the_device_token(env):
    """Allow the machine, deny the user: still allowed (the user is not in the token)."""
    d, core = env
    ws1 = d.find_principal("WS1$").sid
    alice = d.find_principal("alice").sid
    _from_policy(d, f"O:SYD:(D;;CR;;;{alice})(A;;CR;;;{ws1})")
    assert asn1.message_type(armored(core, d, "alice", "WS1$")) == asn1.MSG_AS_REP


@pytest.mark.parametrize(
    ("sid", "allowed"),
    [
        ("WD", True),
        ("AU", True),
        ("S-1-18-1", True),
        ("NU", False),
        ("S-1-18-2", False),
        ("S-1-5-21-0-0-0-496", False),
    ],
)
def test_device_token_well_known_sids(env, sid, allowed):
    """§2.3 device token: Everyone, Authenticated Users, AA-asserted identity yes; Network,
    Service asserted identity, Compounded Authentication no."""
    d, core = env
    _from_policy(d, f"O:SYD:(A;;CR;;;{sid})")
    rep = armored(core, d, "alice", "WS2$")
    assert (asn1.message_type(rep) == asn1.MSG_AS_REP) is allowed


def test_from_null_dacl_allows_and_no_owner_is_generic_error(env):
    """O:SY (no DACL) grants (Windows; Samba differs); a descriptor without owner:
    KRB_ERR_GENERIC when enforced."""
    d, core = env
    _from_policy(d, "O:SY")
    assert asn1.message_type(armored(core, d, "alice", "WS2$")) == asn1.MSG_AS_REP
    d.authn.delete_policy("from")
    _from_policy(d, "D:(A;;CR;;;WD)")
    assert err(armored(core, d, "alice", "WS1$")).code == KRB_ERR_GENERIC


def test_silo_claim_admits_only_devices_in_the_enforced_silo(env):
    """From `@USER.ad://ext/AuthenticationSilo == "T0"` admits devices that belong to the
    enforced silo T0 (the device's silo claim is its @User claim)."""
    d, core = env
    d.authn.create_silo("T0", enforced=True)
    d.authn.grant_member("T0", "WS1$")
    d.authn.assign_silo("WS1$", "T0")
    _from_policy(d, 'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0"))')
    assert asn1.message_type(armored(core, d, "alice", "WS1$")) == asn1.MSG_AS_REP
    assert err(armored(core, d, "alice", "WS2$")).code == KDC_ERR_POLICY
    d.authn.modify_silo("T0", enforced=False)  # an unenforced silo gives no claim
    assert err(armored(core, d, "alice", "WS1$")).code == KDC_ERR_POLICY


def test_silo_membership_needs_assignment_and_grant(env):
    """A user in an enforced silo gets the silo's policy only when assigned *and* granted."""
    d, core = env
    d.authn.create_policy("short", user_tgt_lifetime=60 * TICKS_PER_MINUTE)  # audit policy
    d.authn.create_silo("S", enforced=True, user_policy="short")
    d.authn.assign_silo("alice", "S")
    c = tgt(core, d, "alice")
    assert c.endtime - c.enc_part["authtime"].native == 10 * 3600
    d.authn.grant_member("S", "alice")
    c = tgt(core, d, "alice")
    assert c.endtime - c.enc_part["authtime"].native == 3600


# -- AllowedToAuthenticateTo ----------------------------------------------------------------


def _to_policy(d, sddl, enforced=True):
    d.authn.create_policy("to", enforced=enforced, computer_allowed_to=sd(d, sddl))
    d.authn.assign_policy("SRV1$", "to")


def _st(core, d, user):
    t = tgt(core, d, user)
    req, _ = client.tgs_req(t, ["http", "srv1.lanman.test"], now=NOW)
    return core.handle(req), t


def test_to_condition_denies_outside_group_with_firewall_status(env):
    """TGS to a service whose enforced To condition the user fails: KDC_ERR_POLICY with
    STATUS_AUTHENTICATION_FIREWALL_FAILED (flags 3), event 106; allowed after joining."""
    d, core = env
    _to_policy(d, TIER0 % d.get_group("Tier0").sid)
    rep, _ = _st(core, d, "bob")
    e = err(rep)
    assert e.code == KDC_ERR_POLICY and ext_status(e) == (0xC0000413, 3)
    ev = dict(core.events)[106]
    assert ev["account"] == "bob" and ev["service"] == "http/srv1.lanman.test"
    d.add_member("Tier0", "bob")
    try:
        rep, _t = _st(core, d, "bob")
        assert asn1.message_type(rep) == asn1.MSG_TGS_REP
    finally:
        d.remove_member("Tier0", "bob")


def test_to_condition_audit_mode_issues_and_logs_306(env):
    d, core = env
    _to_policy(d, TIER0 % d.get_group("Tier0").sid, enforced=False)
    rep, _ = _st(core, d, "bob")
    assert asn1.message_type(rep) == asn1.MSG_TGS_REP
    assert 306 in [i for i, _ in core.events] and 106 not in [i for i, _ in core.events]


def test_to_self_is_always_allowed(env):
    """Authenticating to yourself is allowed even by a denying descriptor."""
    d, core = env
    _to_policy(d, "O:SYD:(D;;CR;;;WD)")
    rep, _ = _st(core, d, "SRV1$")
    assert asn1.message_type(rep) == asn1.MSG_TGS_REP


def test_to_no_owner_in_tgs_is_policy_with_invalid_parameter(env):
    d, core = env
    _to_policy(d, "D:(A;;CR;;;WD)")
    e = err(_st(core, d, "bob")[0])
    assert e.code == KDC_ERR_POLICY and ext_status(e) == (0xC000000D, 3)


def test_as_req_for_a_service_checks_its_to_condition(env):
    """An AS-REQ whose sname is the service evaluates that service's To condition."""
    d, core = env
    _to_policy(d, "O:SYD:(D;;CR;;;WD)")
    k = key_of(d, "bob")
    req, _ = client.as_req(REALM, "bob", key=(AES, k), now=NOW, sname=["http", "srv1.lanman.test"])
    assert err(core.handle(req)).code == KDC_ERR_POLICY


# -- Protected Users --------------------------------------------------------------------------


def test_protected_user_rc4_preauth_is_etype_nosupp_without_edata(env):
    """Protected Users: RC4 pre-authentication -> KDC_ERR_ETYPE_NOSUPP with no e-data; RC4
    not offered in ETYPE-INFO2; event 104; an AES TGT logs 303."""
    d, core = env
    d.add_member("Protected Users", "alice")
    from lanman.directory.keys import nt_hash

    req, _ = client.as_req(REALM, "alice", key=(23, nt_hash(PW)), now=NOW)
    e = err(core.handle(req))
    assert e.code == 14 and not e.e_data
    assert 104 in [i for i, _ in core.events]
    pre = err(core.handle(client.as_req(REALM, "alice", now=NOW)[0]))
    md = asn1.MethodData.load(pre.e_data)
    info = next(
        asn1.ETypeInfo2.load(p["padata-value"].native)
        for p in md
        if p["padata-type"].native == asn1.PA_ETYPE_INFO2
    )
    assert 23 not in [x["etype"].native for x in info]
    tgt(core, d, "alice")
    assert 303 in [i for i, _ in core.events]


# -- claims and identity in the PAC -------------------------------------------------------


def _tgt_pac(d: Directory, c: client.Credentials):
    from lanman.kerberos import pac as P
    from lanman.kerberos.kdc.core import find_pac

    ep = c.ticket["enc-part"]
    k = d.krbtgt().keys[ep["etype"].native]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(ep["etype"].native, k, KU.KDC_REP_TICKET, ep["cipher"].native)
    )
    return P.Pac.parse(find_pac(etp))


def test_silo_member_tgt_carries_silo_claim_and_claims_valid(env):
    """An enforced silo's member: PAC_CLIENT_CLAIMS_INFO with ad://ext/AuthenticationSilo =
    the silo name, Claims Valid and S-1-18-1 in ExtraSids; nothing for an audit silo."""
    from lanman.kerberos import pac as P
    from lanman.kerberos.pac_claims import token_claims
    from lanman.kerberos.pac_logon import parse_logon_info

    d, core = env
    d.authn.create_silo("T0", enforced=True)
    d.authn.grant_member("T0", "alice")
    d.authn.assign_silo("alice", "T0")
    pac = _tgt_pac(d, tgt(core, d, "alice"))
    claims = token_claims(pac.get(P.PAC_CLIENT_CLAIMS))
    assert claims["ad://ext/authenticationsilo"].values == ("T0",)
    extra = [e.sid for e in parse_logon_info(pac.get(P.PAC_LOGON_INFO)).extra_sids]
    assert "S-1-18-1" in extra and "S-1-5-21-0-0-0-497" in extra
    d.authn.modify_silo("T0", enforced=False)
    pac = _tgt_pac(d, tgt(core, d, "alice"))
    assert pac.get(P.PAC_CLIENT_CLAIMS) is None
    extra = [e.sid for e in parse_logon_info(pac.get(P.PAC_LOGON_INFO)).extra_sids]
    assert "S-1-5-21-0-0-0-497" not in extra


def test_to_check_reads_the_tgt_pac_not_the_directory(env):
    """The user's token comes from the TGT's PAC: a group joined after the TGT was issued does
    not count until a new TGT (Windows behaviour; kvno needs a fresh kinit)."""
    d, core = env
    _to_policy(d, TIER0 % d.get_group("Tier0").sid)
    old = tgt(core, d, "carol")
    d.add_member("Tier0", "carol")
    try:
        req, _ = client.tgs_req(old, ["http", "srv1.lanman.test"], now=NOW)
        assert err(core.handle(req)).code == KDC_ERR_POLICY
        rep, _t = _st(core, d, "carol")
        assert asn1.message_type(rep) == asn1.MSG_TGS_REP
    finally:
        d.remove_member("Tier0", "carol")


def _forged_armor(core, d, device: str, mutate) -> client.Credentials:
    """A TGT for ``device`` whose PAC (signed with the real krbtgt key) was changed by
    ``mutate(pac)``: what a KDC would see from another DC, or a tampered-but-trusted PAC."""
    import dataclasses

    from lanman.kerberos.der import Name

    real = tgt(core, d, device)
    p = d.find_principal(device)
    pac = mutate(core, p)
    der = core.issue_ticket(
        flags=real.flags,
        session_etype=real.session_etype,
        session_key=real.session_key,
        crealm=REALM,
        cname=Name(1, [device]),
        authtime=int(NOW),
        starttime=int(NOW),
        endtime=int(NOW) + 3600,
        renew_till=None,
        server=d.krbtgt(),
        sname=core.krbtgt_principal_name(),
        pac=pac,
        service_ticket=False,
    )
    return dataclasses.replace(real, ticket=asn1.Ticket.load(der))


def test_device_token_trusts_the_armor_pac_extra_sids(env):
    """§2.3: the device's groups come from the armor TGT's PAC (ExtraSids included), not from
    the directory: WS2 is not in Tier0, but its PAC says so."""
    import dataclasses

    d, core = env
    tier0 = d.get_group("Tier0").sid
    _from_policy(d, TIER0 % tier0)
    armor = _forged_armor(
        core,
        d,
        "WS2$",
        lambda c, p: c.build_pac(
            dataclasses.replace(p, extra_sids=[tier0]), int(NOW), requested=None
        ),
    )
    req, _, _ = client.armored_as_req(REALM, "alice", armor, key=(AES, key_of(d, "alice")), now=NOW)
    assert asn1.message_type(core.handle(req)) == asn1.MSG_AS_REP


def test_duplicate_claim_values_in_the_armor_pac_fail_with_generic_error(env):
    """§5.2: a claims blob repeating a value inside one claim entry -> KRB_ERR_GENERIC."""
    from lanman.kerberos import pac as P
    from lanman.kerberos.pac_claims import encode_claims_set
    from lanman.security.claims import STRING, ClaimAttribute

    d, core = env
    _from_policy(d, 'O:SYD:(XA;;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0"))')

    def mutate(c, p):
        pac = c.build_pac(p, int(NOW), requested=None)
        pac.set(
            P.PAC_CLIENT_CLAIMS,
            encode_claims_set(
                [ClaimAttribute("ad://ext/AuthenticationSilo", STRING, ("T0", "t0"))]
            ),
        )
        return pac

    armor = _forged_armor(core, d, "WS1$", mutate)
    req, _, _ = client.armored_as_req(REALM, "alice", armor, key=(AES, key_of(d, "alice")), now=NOW)
    assert err(core.handle(req)).code == KRB_ERR_GENERIC
