"""lanman.directory: SIDs, provisioning, keys, lookups, groups, SPNs, lockout, NTLM gate."""

from __future__ import annotations

import pytest
from impacket.krb5 import constants as kc
from impacket.krb5.crypto import _enctype_table
from impacket.ldap.ldaptypes import LDAP_SID

from lanman.crypto.md4 import nt_hash
from lanman.directory import AccountRestriction, Directory, DirectoryError, provision
from lanman.directory.model import UAC, WELL_KNOWN_GROUPS
from lanman.directory.sid import (
    SidError,
    domain_sid_of,
    new_domain_sid,
    rid_of,
    sid_from_bytes,
    sid_to_bytes,
    validate_sid,
)
from lanman.errors import ntstatus as st
from lanman.store import Store

SID = "S-1-5-21-1004336348-1177238915-682003330"
REALM = "LANMAN.TEST"


# --- SIDs (MS-DTYP 2.4.2) ------------------------------------------------------------------


def test_sid_binary_known_bytes():
    # BUILTIN\Administrators, MS-DTYP 2.4.2.2 layout
    b = sid_to_bytes("S-1-5-32-544")
    assert b == bytes.fromhex("01020000000000052000000020020000")
    assert sid_from_bytes(b) == "S-1-5-32-544"


@pytest.mark.parametrize(
    "sid",
    [
        "S-1-0-0",
        "S-1-1-0",
        "S-1-5-18",
        SID + "-500",
        "S-1-5-21-4294967295-1-2-3",
        "S-1-0x123456789ABC-1",
        "S-1-16-12288",
    ],
)
def test_sid_roundtrip_and_impacket(sid):
    b = sid_to_bytes(sid)
    assert sid_from_bytes(b) == validate_sid(sid)
    if not sid.startswith("S-1-0x"):  # impacket's LDAP_SID as an independent encoder
        theirs = LDAP_SID()
        theirs.fromCanonical(sid)
        assert theirs.getData() == b
        assert LDAP_SID(b).formatCanonical() == sid


def test_sid_large_authority_is_hex():
    assert sid_from_bytes(bytes.fromhex("0100123456789abc")) == "S-1-0x123456789ABC"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "S-1",
        "S-2-5-1",
        "S-1-5-4294967296",
        "X-1-5",
        "S-1-5-" + "-".join(["1"] * 16),
        "S-1-281474976710656-1",
    ],
)
def test_sid_invalid_strings(bad):
    with pytest.raises(SidError):
        sid_to_bytes(bad)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x01\x01\x00",
        bytes.fromhex("020100000000000512000000"),
        bytes.fromhex("0110000000000005") + b"\x00" * 64,
        bytes.fromhex("010200000000000520000000"),
    ],
)
def test_sid_invalid_bytes(raw):
    with pytest.raises(SidError):
        sid_from_bytes(raw)


def test_domain_sid_helpers():
    s = new_domain_sid()
    parts = s.split("-")
    assert parts[:4] == ["S", "1", "5", "21"] and len(parts) == 7
    assert all(0 < int(x) < 2**32 for x in parts[4:])
    assert new_domain_sid() != s
    assert rid_of(SID + "-512") == 512 and domain_sid_of(SID + "-512") == SID


# --- provisioning -------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path):
    s = Store(tmp_path / "lanman.sqlite")
    s.add_user("bob", "Old-pass1")  # a local user from before the domain
    s.close()
    r = provision(
        tmp_path,
        realm="lanman.test",
        domain="lanman",
        host_name="LANMAN",
        admin_password="Adm1n-pass",
        domain_sid=SID,
    )
    assert r.migrated_users == ["bob"] and r.admin_password_generated is None
    return tmp_path


@pytest.fixture
def d(home):
    with Directory.open(home) as directory:
        yield directory


def impacket_key(etype: int, password: str, salt: bytes) -> bytes:
    return _enctype_table[etype].string_to_key(password, salt, None).contents


def test_provision_names_and_sid(d):
    assert (d.realm, d.domain, d.dns_domain, d.domain_sid, d.dc_name) == (
        REALM,
        "LANMAN",
        "lanman.test",
        SID,
        "LANMAN",
    )


def test_provision_well_known_accounts(d):
    admin, guest, krbtgt = d.get("administrator"), d.get("GUEST"), d.krbtgt()
    assert (admin.rid, guest.rid, krbtgt.rid) == (500, 501, 502)
    assert admin.sid == SID + "-500" and krbtgt.sid == SID + "-502"
    assert admin.group_rids[0] == 513 and {512, 518, 519, 520} <= set(admin.group_rids)
    assert guest.disabled and guest.group_rids[0] == 514
    assert krbtgt.kind == "krbtgt" and krbtgt.uac & UAC.ACCOUNTDISABLE and not krbtgt.disabled
    assert set(krbtgt.keys) == {17, 18, 23} and krbtgt.salt == b"LANMAN.TESTkrbtgt"


def test_provision_groups(d):
    groups = {g.rid: g for g in d.list_groups()}
    for rid, name in (
        (512, "Domain Admins"),
        (513, "Domain Users"),
        (514, "Domain Guests"),
        (515, "Domain Computers"),
        (516, "Domain Controllers"),
        (518, "Schema Admins"),
        (519, "Enterprise Admins"),
        (525, "Protected Users"),
    ):
        assert groups[rid].name == name and groups[rid].builtin
        assert groups[rid].sid == f"{SID}-{rid}"
    assert len(groups) == len(WELL_KNOWN_GROUPS)
    assert groups[519].scope == "universal" and groups[513].scope == "global"
    assert groups[512].as_dict()["group_type"] == -2147483646  # global security group


def test_provision_dc_computer(d):
    dc = d.get("lanman$")
    assert dc.name == "LANMAN$" and dc.kind == "computer" and dc.group_rids[0] == 516
    assert dc.uac & UAC.SERVER_TRUST_ACCOUNT
    assert set(dc.spns) == {
        "host/LANMAN",
        "host/lanman.lanman.test",
        "cifs/LANMAN",
        "cifs/lanman.lanman.test",
    }
    assert dc.salt == b"LANMAN.TESThostlanman.lanman.test"
    assert dc.rid >= 1000 and dc.sid == f"{SID}-{dc.rid}"


def test_provision_refuses_twice_and_name_clash(home, tmp_path_factory):
    with pytest.raises(DirectoryError) as e:
        provision(home, realm="X.TEST", domain="X", host_name="LANMAN")
    assert e.value.win32_name == "ERROR_DOMAIN_EXISTS"
    other = tmp_path_factory.mktemp("clash")
    s = Store(other / "lanman.sqlite")
    s.add_user("Administrator", "pw")
    s.close()
    with pytest.raises(DirectoryError, match="Administrator"):
        provision(other, realm="X.TEST", domain="X", host_name="H")
    assert not Directory.is_provisioned(other)  # nothing half-done


def test_generated_admin_password(tmp_path):
    r = provision(tmp_path, realm="a.test", domain="A", host_name="H1")
    with Directory.open(tmp_path) as d:
        admin = d.get("Administrator")
        assert admin.keys[23] == nt_hash(r.admin_password_generated)


# --- keys ---------------------------------------------------------------------------------


def test_user_keys_match_independent_string_to_key(d):
    admin = d.get("Administrator")
    assert admin.salt == b"LANMAN.TESTAdministrator"
    assert admin.keys[18] == impacket_key(18, "Adm1n-pass", admin.salt)
    assert admin.keys[17] == impacket_key(17, "Adm1n-pass", admin.salt)
    assert admin.keys[23] == nt_hash("Adm1n-pass")
    assert admin.kvno == 1


def test_keys_equal_kerberos_crypto(d):
    from lanman.kerberos import crypto

    admin = d.get("Administrator")
    assert admin.keys[18] == crypto.string_to_key(18, "Adm1n-pass", b"LANMAN.TESTAdministrator")


def test_computer_keys_use_host_salt(d):
    p, _pw = d.add_computer("ws1", password="machine-pw")
    assert p.name == "ws1$" and p.group_rids[0] == 515
    assert p.salt == b"LANMAN.TESThostws1.lanman.test"
    assert p.keys[18] == impacket_key(18, "machine-pw", p.salt)


def test_migrated_user_is_rc4_only_until_password_set(home, d):
    bob = d.get("bob")
    assert bob.sid == SID + "-1000" and bob.keys_pending and set(bob.keys) == {23}
    assert bob.keys[23] == nt_hash("Old-pass1") and bob.group_rids == [513]
    assert d.info()["rc4_only_accounts"] == ["bob"]
    with Store(home / "lanman.sqlite") as s:
        s.set_password("bob", "New-pass2")
    bob = d.get("bob")
    assert not bob.keys_pending and set(bob.keys) == {17, 18, 23} and bob.kvno == 2
    assert bob.keys[18] == impacket_key(18, "New-pass2", b"LANMAN.TESTbob")


def test_store_add_user_after_provision_has_aes_keys(home, d):
    with Store(home / "lanman.sqlite") as s:
        s.add_user("Carol", "Coral-pw1")
    carol = d.find_principal("carol@lanman.test")
    assert carol.name == "Carol" and carol.kvno == 1 and carol.salt == b"LANMAN.TESTCarol"
    assert carol.keys[17] == impacket_key(17, "Coral-pw1", b"LANMAN.TESTCarol")


def test_kvno_increments_on_each_password_change(d):
    k1 = d.krbtgt()
    k2 = d.set_password("krbtgt", "new-krbtgt-secret")
    k3 = d.set_password("krbtgt", "another")
    assert (k1.kvno, k2.kvno, k3.kvno) == (1, 2, 3) and k2.keys[18] != k3.keys[18]


def test_protected_users_have_no_rc4_and_no_ntlm(d):
    d.set_password("bob", "Brick-pw-1")
    d.add_member("Protected Users", "bob")
    bob = d.get("bob")
    assert bob.protected_user and set(bob.keys) == {17, 18} and 525 in bob.group_rids
    with pytest.raises(AccountRestriction) as e:
        d.ntlm_logon_hash("bob")
    assert e.value.status == st.STATUS_ACCOUNT_RESTRICTION


def test_protected_users_nested(d):
    d.add_group("Tier0")
    d.add_member("Protected Users", "Tier0")
    d.add_member("Tier0", "Administrator")
    admin = d.get("Administrator")
    assert admin.protected_user and 23 not in admin.keys
    assert d.get_group("Tier0").rid in admin.group_rids


def test_no_rc4_flag(d):
    p = d.set_account("Administrator", rc4=False)
    assert set(p.keys) == {17, 18}
    assert set(d.set_account("Administrator", rc4=True).keys) == {17, 18, 23}


# --- lookups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("administrator", "Administrator"),
        ("Administrator@LANMAN.TEST", "Administrator"),
        ("administrator@lanman.test", "Administrator"),
        ("Administrator@lanman.test@LANMAN.TEST", "Administrator"),
        ("LANMAN$", "LANMAN$"),
        ("lanman$@lanman.test", "LANMAN$"),
        ("cifs/lanman.lanman.test", "LANMAN$"),
        ("CIFS/LANMAN.LANMAN.TEST@lanman.test", "LANMAN$"),
        ("host/LANMAN", "LANMAN$"),
        ("http/lanman.lanman.test", "LANMAN$"),  # sPNMappings
        ("krbtgt", "krbtgt"),
        ("krbtgt/LANMAN.TEST", "krbtgt"),
        ("krbtgt/LANMAN.TEST@LANMAN.TEST", "krbtgt"),
        ("kadmin/changepw", "krbtgt"),
        ("nobody", None),
        ("Administrator@OTHER.TEST", None),
        ("krbtgt/OTHER.TEST", None),
        ("ldap/lanman.lanman.test", None),
        ("cifs/other.lanman.test", None),
        ("", None),
    ],
)
def test_find_principal(d, name, expected):
    p = d.find_principal(name)
    assert (p.name if p else None) == expected


def test_find_by_spn_after_spn_add(d):
    d.add_spn("bob", "http/web.lanman.test")
    assert d.find_by_spn("HTTP/web.lanman.test@LANMAN.TEST").name == "bob"
    assert "http/web.lanman.test" in d.get("bob").spns
    with pytest.raises(DirectoryError) as e:
        d.add_spn("Administrator", "http/WEB.lanman.test")
    assert e.value.win32_name == "ERROR_DS_NAME_ERROR_NOT_UNIQUE"
    d.remove_spn("bob", "http/web.lanman.test")
    assert d.find_by_spn("http/web.lanman.test") is None
    with pytest.raises(DirectoryError):
        d.add_spn("bob", "not an spn")


# --- groups -------------------------------------------------------------------------------


def test_group_membership(d):
    g = d.add_group("Ops", description="operators")
    assert g.rid >= 1000 and g.sid == f"{SID}-{g.rid}"
    d.add_member("Ops", "bob")
    assert [m["name"] for m in d.group_members("Ops")] == ["bob"]
    assert g.rid in d.get("bob").group_rids
    with pytest.raises(DirectoryError) as e:
        d.add_member("Ops", "bob")
    assert e.value.win32_code == 1320
    d.remove_member("Ops", "bob")
    assert g.rid not in d.get("bob").group_rids
    with pytest.raises(DirectoryError) as e:
        d.remove_member("Ops", "bob")
    assert e.value.win32_code == 1321
    names = [m["name"] for m in d.group_members("Domain Users")]
    assert "bob" in names and "Administrator" in names and "LANMAN$" not in names


def test_group_cycles_and_builtins(d):
    d.add_group("A")
    d.add_group("B")
    d.add_member("A", "B")
    with pytest.raises(DirectoryError, match="cycle"):
        d.add_member("B", "A")
    with pytest.raises(DirectoryError):
        d.add_member("A", "A")
    with pytest.raises(DirectoryError) as e:
        d.remove_group("Domain Admins")
    assert e.value.win32_name == "ERROR_SPECIAL_GROUP"
    with pytest.raises(DirectoryError):
        d.add_group("bob")  # an account has that name
    d.remove_group("B")
    assert d.get_group("B") is None


def test_domain_local_groups_not_in_group_rids(d):
    d.add_group("Res", scope="domain_local")
    d.add_member("Res", "bob")
    assert d.get_group("Res").rid not in d.get("bob").group_rids


def test_remove_account_cleans_up(d):
    _p, _ = d.add_computer("WS2", spns=["http/ws2.lanman.test"])
    d.add_member("Domain Admins", "WS2$")
    d.remove_account("WS2$", kind="computer")
    assert d.find_by_spn("http/ws2.lanman.test") is None and d.get("WS2$") is None
    assert all(m["name"] != "WS2$" for m in d.group_members("Domain Admins"))
    for builtin in ("krbtgt", "Administrator", "LANMAN$"):
        with pytest.raises(DirectoryError):
            d.remove_account(builtin)


# --- account state, lockout, NTLM gate ----------------------------------------------------


def test_lockout_default_off(d):
    for _ in range(50):
        assert d.record_logon_failure("bob", now=1000) is False
    assert not d.get("bob", now=1001).locked


def test_lockout_threshold_duration_window(d):
    d.set_lockout_policy(threshold=3, duration=600, window=300)
    assert not d.record_logon_failure("bob", now=1000)
    assert not d.record_logon_failure("bob", now=1100)
    assert d.record_logon_failure("bob", now=1200)
    assert d.get("bob", now=1201).locked and d.get("bob", now=1201).uac & UAC.LOCKOUT
    with pytest.raises(AccountRestriction) as e:
        d.ntlm_logon_hash("bob", now=1300)
    assert e.value.status == st.STATUS_ACCOUNT_LOCKED_OUT
    assert not d.get("bob", now=1800).locked  # duration elapsed
    assert d.ntlm_logon_hash("bob", now=1800) == nt_hash("Old-pass1")


def test_lockout_window_resets_and_success_resets(d):
    d.set_lockout_policy(threshold=2, duration=0, window=60)
    d.record_logon_failure("bob", now=1000)
    assert not d.record_logon_failure("bob", now=1100)  # previous one outside the window
    d.record_logon_success("bob", now=1101)
    assert not d.record_logon_failure("bob", now=1102)
    assert d.record_logon_failure("bob", now=1103)
    assert d.get("bob", now=10**9).locked  # duration 0: until an administrator unlocks
    assert not d.set_account("bob", locked=False).locked


def test_lockout_policy_bounds(d):
    with pytest.raises(DirectoryError):
        d.set_lockout_policy(threshold=1000)
    assert d.lockout_policy == {"threshold": 0, "duration_seconds": 600, "window_seconds": 600}


def test_ntlm_gate_statuses(d):
    assert d.ntlm_logon_hash("nobody") is None
    assert d.ntlm_logon_hash("bob") == nt_hash("Old-pass1")
    assert d.ntlm_logon_hash("bob@lanman.test") == nt_hash("Old-pass1")
    cases = [
        ({"enabled": False}, st.STATUS_ACCOUNT_DISABLED),
        ({"expires": 100}, st.STATUS_ACCOUNT_EXPIRED),
        ({"locked": True}, st.STATUS_ACCOUNT_LOCKED_OUT),
        ({"password_expired": True}, st.STATUS_PASSWORD_MUST_CHANGE),
    ]
    for change, status in cases:
        d.set_account("bob", **change)
        with pytest.raises(AccountRestriction) as e:
            d.ntlm_logon_hash("bob")
        assert e.value.status == status
        d.set_account("bob", enabled=True, expires=None, locked=False, password_expired=False)
    assert d.ntlm_logon_hash("bob") == nt_hash("Old-pass1")
    for name in ("krbtgt", "Guest"):
        with pytest.raises(AccountRestriction) as e:
            d.ntlm_logon_hash(name)
        assert e.value.status == st.STATUS_ACCOUNT_DISABLED


def test_account_flags(d):
    p = d.set_account("bob", preauth=False, expires=2_000_000_000)
    assert p.uac & UAC.DONT_REQUIRE_PREAUTH and p.expires == 2_000_000_000
    p = d.set_account("bob", preauth=True, expires=None)
    assert not p.uac & UAC.DONT_REQUIRE_PREAUTH and p.expires is None


def test_smb_build_context_uses_directory(tmp_path):
    from lanman.auth.ntlm import AuthError
    from lanman.home import Home
    from lanman.smb.server.service import build_context

    home = Home.open(tmp_path / "h")
    home.store.add_user("alice", "Aqua-pw1")
    ctx = build_context(home)
    assert ctx.lookup_nt_hash("alice") == nt_hash("Aqua-pw1")  # no domain yet: the store
    provision(
        home.path,
        realm="lanman.test",
        domain="LANMAN",
        host_name="LANMAN",
        admin_password="Adm1n-pw",
    )
    assert ctx.lookup_nt_hash("administrator") == nt_hash("Adm1n-pw")
    with Directory.open(home.path) as d:
        d.set_account("alice", enabled=False)
    with pytest.raises(AuthError) as e:
        ctx.lookup_nt_hash("alice")
    assert e.value.status == st.STATUS_ACCOUNT_DISABLED
    with Directory.open(home.path) as d:
        d.set_account("alice", enabled=True, locked=True)
    with pytest.raises(AuthError) as e:
        ctx.lookup_nt_hash("alice")
    assert e.value.status == st.STATUS_ACCOUNT_LOCKED_OUT
    home.close()


def test_not_provisioned(tmp_path):
    from lanman.directory import NotProvisionedError

    Store(tmp_path / "lanman.sqlite").close()
    assert not Directory.is_provisioned(tmp_path)
    with pytest.raises(NotProvisionedError):
        Directory.open(tmp_path)


def test_principal_repr_hides_keys(d):
    r = repr(d.get("Administrator"))
    assert "keys" not in r.replace("etypes", "") and str(d.get("Administrator").keys[18]) not in r


def test_impacket_constants_agree():
    assert kc.EncryptionTypes.aes256_cts_hmac_sha1_96.value == 18
    assert kc.EncryptionTypes.rc4_hmac.value == 23
