"""lanman auth policy|silo|impact|simulate, lanman user|computer auth and lanman domain level
through click's CliRunner in a provisioned temporary home."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.directory import Directory
from lanman.directory.authn import TICKS_PER_MINUTE
from lanman.security.descriptor import decode_sd
from lanman.security.sddl_write import sd_to_sddl


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "home"

    def _run(*args: str, input: str | None = None, ok: bool = True):
        r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
        if ok:
            assert r.exit_code == 0, r.output
        else:
            assert r.exit_code != 0, r.output
        return r

    _run.home = home
    return _run


@pytest.fixture
def dom(run):
    run(
        "domain",
        "provision",
        "--realm",
        "lanman.test",
        "--domain",
        "lanman",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    run("user", "add", "bob", "--password-stdin", input="Brick-pass1\n")
    for c in ("PC1", "PC2", "FS1"):
        run("computer", "add", c)
    run("group", "add", "Devs")
    run("group", "addmember", "Devs", "PC1$")
    return run


def jrun(run, *args):
    return json.loads(run(*args, "--json").output)


def directory(run) -> Directory:
    return Directory.open(run.home)


def stored_sddl(run, policy: str, field: str) -> str:
    with directory(run) as d:
        blob = getattr(d.authn.require_policy(policy), field)
        return sd_to_sddl(decode_sd(blob), d.domain_sid)


def group_sid(run, name: str) -> str:
    with directory(run) as d:
        return d.get_group(name).sid


def fits(text: str) -> None:
    for line in text.splitlines():
        assert len(line.rstrip()) <= 80, line


# ------------------------------------------------------------------------- policies


def test_create_defaults_to_audit_and_says_so(dom):
    r = dom("auth", "policy", "create", "P")
    assert "audit mode" in r.output and "--enforce" in r.output
    fits(r.output)
    j = jrun(dom, "auth", "policy", "view", "P")
    assert j["enforced"] is False and j["protected"] is False and j["name"] == "P"
    j = jrun(dom, "auth", "policy", "create", "Q", "--enforce")
    assert j["enforced"] is True
    r = dom("auth", "policy", "create", "E", "--enforce")
    assert "(enforced)" in r.output and "audit" not in r.output


def test_create_all_fields_json(dom):
    j = jrun(
        dom,
        "auth",
        "policy",
        "create",
        "P",
        "--description",
        "desc",
        "--user-tgt-lifetime-mins",
        "60",
        "--computer-tgt-lifetime-mins",
        "45",
        "--service-tgt-lifetime-mins",
        "2147483647",
        "--user-allow-ntlm-auth",
        "--no-service-allow-ntlm-auth",
        "--protect",
        "--strong-ntlm-policy",
        "Required",
        "--user-allowed-to-authenticate-to",
        "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of {SID(DU)}))",
    )
    assert j["user_tgt_lifetime_mins"] == 60 and j["computer_tgt_lifetime_mins"] == 45
    assert j["service_tgt_lifetime_mins"] == 2147483647
    assert j["user_allow_ntlm_auth"] is True and j["service_allow_ntlm_auth"] is False
    assert j["protected"] is True and j["description"] == "desc"
    assert j["strong_ntlm_policy"] == "Required"
    assert (
        j["user_allowed_to_authenticate_to"] == "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of {SID(DU)}))"
    )
    with directory(dom) as d:
        p = d.authn.require_policy("P")
        assert p.user_tgt_lifetime == 60 * TICKS_PER_MINUTE
        # stored as binary descriptor bytes; the DU alias resolved with the domain SID
        sd = decode_sd(p.user_allowed_to)
        assert sd.owner == "S-1-5-18"
        assert f"SID({d.domain_sid}-513)" in sd_to_sddl(sd)


@pytest.mark.parametrize("opt", ["user", "computer", "service"])
@pytest.mark.parametrize("value", ["44", "2147483648", "0", "-5"])
def test_lifetime_bounds(dom, opt, value):
    r = dom("auth", "policy", "create", "P", f"--{opt}-tgt-lifetime-mins", value, ok=False)
    assert f"--{opt}-tgt-lifetime-mins must be between 45 and 2147483647" in r.output
    assert dom("auth", "policy", "list", "--json").output.strip() == "[]"


def test_shorthands_write_samba_sddl(dom):
    sid = group_sid(dom, "Devs")
    dom("auth", "silo", "create", "Developers")
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-allowed-to-authenticate-from-device-group",
        "Devs",
        "--user-allowed-to-authenticate-to-by-silo",
        "Developers",
        "--service-allowed-to-authenticate-from-device-silo",
        "Developers",
        "--service-allowed-to-authenticate-to-by-group",
        "Devs",
        "--computer-allowed-to-authenticate-to-by-group",
        "Devs",
    )
    grp = f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {{SID({sid})}}))"
    silo = 'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "Developers"))'
    assert stored_sddl(dom, "P", "user_allowed_from") == grp
    assert stored_sddl(dom, "P", "user_allowed_to") == silo
    assert stored_sddl(dom, "P", "service_allowed_from") == silo
    assert stored_sddl(dom, "P", "service_allowed_to") == grp
    assert stored_sddl(dom, "P", "computer_allowed_to") == grp
    dom(
        "auth",
        "policy",
        "modify",
        "P",
        "--user-allowed-to-authenticate-from-device-silo",
        "Developers",
    )
    assert stored_sddl(dom, "P", "user_allowed_from") == silo


def test_shorthand_unknown_group_or_silo(dom):
    r = dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-allowed-to-authenticate-from-device-group",
        "Nope",
        ok=False,
    )
    assert "group 'Nope' does not exist" in r.output
    r = dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-allowed-to-authenticate-to-by-silo",
        "Nope",
        ok=False,
    )
    assert "silo 'Nope' does not exist" in r.output


def test_repeated_condition_refused(dom):
    r = dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-allowed-to-authenticate-from",
        "O:SYG:SYD:(A;;CR;;;WD)",
        "--user-allowed-to-authenticate-from-device-group",
        "Devs",
        ok=False,
    )
    assert "--user-allowed-to-authenticate-from argument repeated 2 times." in r.output


def test_mutually_exclusive_flags(dom):
    r = dom("auth", "policy", "create", "P", "--audit", "--enforce", ok=False)
    assert "--audit and --enforce cannot be used together." in r.output
    r = dom("auth", "policy", "create", "P", "--protect", "--unprotect", ok=False)
    assert "--protect and --unprotect cannot be used together." in r.output
    r = dom("auth", "silo", "create", "S", "--audit", "--enforce", ok=False)
    assert "cannot be used together" in r.output


def _caret_column(output: str, sddl: str) -> int:
    lines = output.splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip() == sddl)
    caret = lines[i + 1]
    assert caret.strip() == "^"
    return caret.index("^") - lines[i].index(sddl[0]) + 1


def test_bad_sddl_rejected_with_column(dom):
    bad = "*INVALID SDDL*"
    r = dom("auth", "policy", "create", "P", "--user-allowed-to-authenticate-from", bad, ok=False)
    assert "Unable to parse SDDL at column 1" in r.output
    assert _caret_column(r.output, bad) == 1
    bad = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of {secret club}))"
    r = dom("auth", "policy", "create", "P", "--user-allowed-to-authenticate-to", bad, ok=False)
    assert "at column 40" in r.output and _caret_column(r.output, bad) == 40
    assert "Traceback" not in r.output
    bad = "O:SYG:SYD:(A;;;;ZZ)"
    r = dom("auth", "policy", "create", "P", "--computer-allowed-to-authenticate-to", bad, ok=False)
    assert "--computer-allowed-to-authenticate-to: Unable to parse SDDL" in r.output
    assert dom("auth", "policy", "list", "--json").output.strip() == "[]"


@pytest.mark.parametrize(
    ("cond", "col"),
    [
        ('(@Device.claim == "foo")', 29),
        ("(Not_Device_Member_of {SID(WD)})", 29),
        ("(Device_Member_of_any {SID(WD)})", 29),
        ("(Member_of {SID(WD)} && @User.a == @Device.b)", 63),
    ],
)
def test_device_attribute_refused_in_from(dom, cond, col):
    sddl = f"O:SYG:SYD:(XA;OICI;CR;;;WD;{cond})"
    for opt in ("user", "service"):
        r = dom(
            "auth", "policy", "create", "P", f"--{opt}-allowed-to-authenticate-from", sddl, ok=False
        )
        assert "a device attribute is not applicable in this context" in r.output
        assert "(did you intend a user attribute?)" in r.output
        assert f"at column {col}" in r.output and _caret_column(r.output, sddl) == col
    # a To condition may use the device (compound identity)
    dom("auth", "policy", "create", "P", "--user-allowed-to-authenticate-to", sddl)


def test_modify_list_view_and_clear(dom):
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-allowed-to-authenticate-from",
        "O:SYG:SYD:(A;;CR;;;WD)",
    )
    j = jrun(
        dom,
        "auth",
        "policy",
        "modify",
        "P",
        "--enforce",
        "--description",
        "x",
        "--user-tgt-lifetime-mins",
        "90",
    )
    assert j["enforced"] and j["description"] == "x" and j["user_tgt_lifetime_mins"] == 90
    assert j["user_allowed_to_authenticate_from"] == "O:SYG:SYD:(A;;CR;;;WD)"
    j = jrun(dom, "auth", "policy", "modify", "P", "--user-allowed-to-authenticate-from", "")
    assert j["user_allowed_to_authenticate_from"] is None and j["enforced"]
    j = jrun(dom, "auth", "policy", "modify", "P", "--audit")
    assert j["enforced"] is False
    r = dom("auth", "policy", "modify", "P", "--audit")
    assert "(audit)" in r.output
    lst = jrun(dom, "auth", "policy", "list")
    assert [p["name"] for p in lst] == ["P"]
    out = dom("auth", "policy", "list").output
    assert "P" in out and "audit" in out
    fits(out)
    view = dom("auth", "policy", "view", "P").output
    assert "User TGT lifetime (min)" in view and "90" in view
    fits(view)
    r = dom("auth", "policy", "view", "Nope", ok=False)
    assert "does not exist" in r.output


def test_protected_delete_refused_unless_force(dom):
    dom("auth", "policy", "create", "P", "--protect")
    r = dom("auth", "policy", "delete", "P", ok=False)
    assert "protected from accidental deletion" in r.output and "--force" in r.output
    assert jrun(dom, "auth", "policy", "view", "P")["name"] == "P"
    assert jrun(dom, "auth", "policy", "delete", "P", "--force") == {"name": "P", "deleted": True}
    assert jrun(dom, "auth", "policy", "list") == []
    dom("auth", "policy", "create", "Q")
    assert "was deleted" in dom("auth", "policy", "delete", "Q").output
    dom("auth", "silo", "create", "S", "--protect")
    r = dom("auth", "silo", "delete", "S", ok=False)
    assert "protected from accidental deletion" in r.output
    dom("auth", "silo", "modify", "S", "--unprotect")
    dom("auth", "silo", "delete", "S")
    assert jrun(dom, "auth", "silo", "list") == []


# ------------------------------------------------------------------------- silos


def test_silo_lifecycle_and_members(dom):
    dom("auth", "policy", "create", "UP")
    r = dom(
        "auth", "silo", "create", "S", "--user-authentication-policy", "UP", "--description", "d"
    )
    assert "audit mode" in r.output
    fits(r.output)
    j = jrun(dom, "auth", "silo", "view", "S")
    assert j["user_authentication_policy"] == "UP" and j["enforced"] is False
    assert j["members"] == [] and j["description"] == "d"
    r = dom("auth", "silo", "create", "T", "--user-authentication-policy", "Nope", ok=False)
    assert "does not exist" in r.output
    j = jrun(
        dom, "auth", "silo", "modify", "S", "--enforce", "--computer-authentication-policy", "UP"
    )
    assert j["enforced"] and j["computer_authentication_policy"] == "UP"
    j = jrun(dom, "auth", "silo", "modify", "S", "--user-authentication-policy", "")
    assert j["user_authentication_policy"] is None

    r = dom("auth", "silo", "member", "grant", "S", "bob")
    assert "granted access" in r.output and "user auth silo assign bob S" in r.output
    j = jrun(dom, "auth", "silo", "member", "grant", "S", "PC1")  # computer without $
    assert [m["name"] for m in j["members"]] == ["bob", "PC1$"]
    ms = jrun(dom, "auth", "silo", "member", "list", "S")
    assert [(m["name"], m["assigned"]) for m in ms] == [("bob", False), ("PC1$", False)]
    dom("user", "auth", "silo", "assign", "bob", "S")
    ms = jrun(dom, "auth", "silo", "member", "list", "S")
    assert ms[0]["assigned"] is True
    out = dom("auth", "silo", "member", "list", "S").output
    assert "bob" in out and "PC1$" in out
    assert len(jrun(dom, "auth", "silo", "list")) == 1
    assert "S" in dom("auth", "silo", "list").output
    fits(dom("auth", "silo", "view", "S").output)
    r = dom("auth", "silo", "member", "revoke", "S", "bob")
    assert "revoked" in r.output
    r = dom("auth", "silo", "member", "revoke", "S", "bob", ok=False)
    assert "is not a member" in r.output
    assert [m["name"] for m in jrun(dom, "auth", "silo", "member", "list", "S")] == ["PC1$"]
    assert jrun(dom, "auth", "silo", "member", "revoke", "S", "PC1$")["members"] == []
    assert "no entries" in dom("auth", "silo", "member", "list", "S").output


# ------------------------------------------------------------------------- accounts


def test_user_auth_policy_and_silo(dom):
    dom("auth", "policy", "create", "P")
    dom("auth", "silo", "create", "S")
    assert (
        "has no assigned authentication policy"
        in dom("user", "auth", "policy", "view", "bob").output
    )
    r = dom("user", "auth", "policy", "assign", "bob", "P")
    assert "User bob assigned to authentication policy P" in r.output
    j = jrun(dom, "user", "auth", "policy", "view", "bob")
    assert j["policy"] == "P" and j["account"] == "bob"
    assert (
        "assigned to authentication policy P" in dom("user", "auth", "policy", "view", "bob").output
    )
    dom("user", "auth", "policy", "remove", "bob")
    assert jrun(dom, "user", "auth", "policy", "view", "bob")["policy"] is None

    assert (
        "has no assigned authentication silo" in dom("user", "auth", "silo", "view", "bob").output
    )
    r = dom("user", "auth", "silo", "assign", "bob", "S")
    assert "User bob assigned to authentication silo S (revoked)" in r.output
    assert "member grant S bob" in r.output
    assert "(revoked)" in dom("user", "auth", "silo", "view", "bob").output
    dom("auth", "silo", "member", "grant", "S", "bob")
    assert (
        "User bob assigned to authentication silo S (granted)"
        in dom("user", "auth", "silo", "view", "bob").output
    )
    j = jrun(dom, "user", "auth", "silo", "view", "bob")
    assert j["silo"] == "S" and j["silo_member"] is True and j["status"] == "granted"
    dom("user", "auth", "silo", "remove", "bob")
    j = jrun(dom, "user", "auth", "silo", "view", "bob")
    assert j["silo"] is None and j["status"] is None
    r = dom("user", "auth", "silo", "assign", "bob", "Nope", ok=False)
    assert "does not exist" in r.output
    r = dom("user", "auth", "policy", "view", "PC1$", ok=False)
    assert "computer account" in r.output and "lanman computer auth" in r.output
    r = dom("user", "auth", "policy", "view", "nobody", ok=False)
    assert "does not exist" in r.output


def test_computer_auth_with_or_without_dollar(dom):
    dom("auth", "policy", "create", "P")
    dom("auth", "silo", "create", "S")
    r = dom("computer", "auth", "policy", "assign", "PC1", "P")
    assert "Computer PC1$ assigned to authentication policy P" in r.output
    assert jrun(dom, "computer", "auth", "policy", "view", "PC1$")["policy"] == "P"
    dom("computer", "auth", "silo", "assign", "PC1$", "S")
    dom("auth", "silo", "member", "grant", "S", "PC1$")
    out = dom("computer", "auth", "silo", "view", "PC1").output
    assert "Computer PC1$ assigned to authentication silo S (granted)" in out
    dom("computer", "auth", "silo", "remove", "PC1")
    dom("computer", "auth", "policy", "remove", "PC1")
    j = jrun(dom, "computer", "auth", "policy", "view", "PC1")
    assert j["policy"] is None
    r = dom("computer", "auth", "policy", "view", "bob", ok=False)
    assert "user account" in r.output


# ------------------------------------------------------------------------- domain level


def test_domain_level(dom):
    j = jrun(dom, "domain", "level", "show")
    assert j["dc_functional_level"] == 7 and j["name"] == "2016"
    assert "2016 (7)" in dom("domain", "level", "show").output
    r = dom("domain", "level", "raise", "2012R2", ok=False)
    assert "already 2016" in r.output and "only be raised" in r.output
    r = dom("domain", "level", "raise", "1999", ok=False)
    assert "unknown functional level" in r.output
    j = jrun(dom, "domain", "level", "raise", "2025")
    assert j["dc_functional_level"] == 10
    assert jrun(dom, "domain", "level", "show")["name"] == "2025"


def test_commands_need_a_domain(run):
    r = run("auth", "policy", "list", ok=False)
    assert "provision" in r.output


# ------------------------------------------------------------------------- simulate


def _setup_policy(dom, *extra):
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--user-tgt-lifetime-mins",
        "60",
        "--user-allowed-to-authenticate-from-device-group",
        "Devs",
        *extra,
    )
    dom("user", "auth", "policy", "assign", "bob", "P")


def test_simulate_no_policy(dom):
    j = jrun(dom, "auth", "simulate", "bob")
    assert j["policy"] is None and j["issued"] is True and j["error"] is None
    assert j["as"]["outcome"] == "allowed" and j["tgs"] is None and j["events"] == []
    out = dom("auth", "simulate", "bob").output
    assert "no authentication policy applies" in out and "tickets issued" in out


def test_simulate_enforced_allow_and_lifetime(dom):
    _setup_policy(dom, "--enforce")
    j = jrun(dom, "auth", "simulate", "bob", "--device", "PC1")
    assert j["as"]["outcome"] == "allowed" and j["as"]["armored"] is True
    assert j["tgt_lifetime_mins"] == 60 and j["issued"] is True
    assert j["policy"]["name"] == "P" and j["policy"]["enforced"] is True
    assert j["ntlm"]["outcome"] == "denied"
    assert j["ntlm"]["error"]["status_name"] == "STATUS_ACCOUNT_RESTRICTION"


def test_simulate_enforced_deny_from(dom):
    _setup_policy(dom, "--enforce")
    j = jrun(dom, "auth", "simulate", "bob", "--device", "PC2")
    assert j["as"]["outcome"] == "denied" and j["as"]["reason"] == "ACCESS_DENIED"
    assert j["as"]["event"] == 105 and j["events"] == [105, 4820] and j["issued"] is False
    # armored but the device is not granted: KDC_ERR_POLICY without a KERB-EXT-ERROR status
    assert j["error"] == {"code": 12, "name": "KDC_ERR_POLICY", "status": None, "status_name": None}
    out = dom("auth", "simulate", "bob", "--device", "PC2").output
    assert "refused with KDC_ERR_POLICY (12)" in out
    fits(out)


def test_simulate_no_device_is_fast_required(dom):
    _setup_policy(dom, "--enforce")
    j = jrun(dom, "auth", "simulate", "bob")
    assert j["as"]["reason"] == "FAST_REQUIRED" and j["as"]["armored"] is False
    assert j["error"]["code"] == 12 and j["error"]["status_name"] == "STATUS_INVALID_WORKSTATION"


def test_simulate_audit_issues_and_would_log(dom):
    _setup_policy(dom)  # audit mode
    j = jrun(dom, "auth", "simulate", "bob", "--device", "PC2")
    assert j["as"]["outcome"] == "audit" and j["as"]["event"] == 305
    assert j["issued"] is True and j["error"] is None and j["events"] == [305]
    assert j["tgt_lifetime_mins"] is None  # an audit-mode policy does not cap the TGT
    assert j["ntlm"]["outcome"] == "audit" and j["ntlm"]["error"] is None
    out = dom("auth", "simulate", "bob", "--device", "PC2").output
    assert "would be denied" in out and "305" in out


def test_simulate_descriptor_without_owner_is_generic_error(dom):
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--enforce",
        "--user-allowed-to-authenticate-from",
        "D:(A;;CR;;;WD)",
    )
    dom("user", "auth", "policy", "assign", "bob", "P")
    j = jrun(dom, "auth", "simulate", "bob", "--device", "PC1")
    assert j["as"]["reason"] == "DESCRIPTOR_NO_OWNER"
    assert j["error"] == {
        "code": 60,
        "name": "KRB_ERR_GENERIC",
        "status": None,
        "status_name": None,
    }


def test_simulate_service_to_check(dom):
    dom(
        "auth",
        "policy",
        "create",
        "SVC",
        "--enforce",
        "--computer-allowed-to-authenticate-to-by-group",
        "Devs",
    )
    dom("computer", "auth", "policy", "assign", "FS1", "SVC")
    j = jrun(dom, "auth", "simulate", "bob", "--service", "cifs/FS1")
    t = j["tgs"]
    assert t["outcome"] == "denied" and t["event"] == 106 and t["reached"] is True
    assert j["error"]["status"] == "0xC0000413"
    assert j["error"]["status_name"] == "STATUS_AUTHENTICATION_FIREWALL_FAILED"
    assert j["service_account"] == "FS1$"
    # bob joins Devs: allowed
    dom("group", "addmember", "Devs", "bob")
    j = jrun(dom, "auth", "simulate", "bob", "--service", "cifs/FS1")
    assert j["tgs"]["outcome"] == "allowed" and j["issued"] is True
    # the device is seen through Device_Member_of (compound identity)
    dom("group", "removemember", "Devs", "bob")
    dom(
        "auth",
        "policy",
        "modify",
        "SVC",
        "--computer-allowed-to-authenticate-to",
        f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Device_Member_of {{SID({group_sid(dom, 'Devs')})}}))",
    )
    assert (
        jrun(dom, "auth", "simulate", "bob", "--service", "cifs/FS1")["tgs"]["outcome"] == "denied"
    )
    j = jrun(dom, "auth", "simulate", "bob", "--device", "PC1", "--service", "cifs/FS1")
    assert j["tgs"]["outcome"] == "allowed"
    dom("auth", "policy", "modify", "SVC", "--audit")
    j = jrun(dom, "auth", "simulate", "bob", "--service", "FS1$")
    assert j["tgs"]["outcome"] == "audit" and j["events"] == [306] and j["issued"]


def test_simulate_silo_claim_in_device_token(dom):
    dom("auth", "silo", "create", "DevSilo", "--enforce")
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--enforce",
        "--user-allowed-to-authenticate-from-device-silo",
        "DevSilo",
    )
    dom("user", "auth", "policy", "assign", "bob", "P")
    assert jrun(dom, "auth", "simulate", "bob", "--device", "PC1")["as"]["outcome"] == "denied"
    dom("computer", "auth", "silo", "assign", "PC1", "DevSilo")
    dom("auth", "silo", "member", "grant", "DevSilo", "PC1")
    assert jrun(dom, "auth", "simulate", "bob", "--device", "PC1")["as"]["outcome"] == "allowed"


def test_simulate_silo_without_policy_ignores_direct(dom):
    _setup_policy(dom, "--enforce")
    dom("auth", "silo", "create", "S", "--enforce")
    dom("user", "auth", "silo", "assign", "bob", "S")
    dom("auth", "silo", "member", "grant", "S", "bob")
    j = jrun(dom, "auth", "simulate", "bob")
    assert j["policy"] is None and j["silo"] == "S" and j["issued"]
    assert "belongs to silo S" in dom("auth", "simulate", "bob").output


def test_simulate_unknown_names(dom):
    r = dom("auth", "simulate", "nobody", ok=False)
    assert "does not exist" in r.output
    r = dom("auth", "simulate", "bob", "--device", "NOPC", ok=False)
    assert "device 'NOPC' does not exist" in r.output


# ------------------------------------------------------------------------- impact (CLI)


def _log_events(run):
    from lanman.home import Home

    home = Home.open(run.home, create=True)
    try:
        ev = home.events
        ev.emit(
            "AUTHN_POLICY_TGT_AUDIT",
            source="kdc",
            account="bob",
            device="PC2$",
            policy="P",
            silo="",
            reason="ACCESS_DENIED",
            client="10.0.0.2",
        )
        ev.emit(
            "AUTHN_POLICY_TGT_AUDIT",
            source="kdc",
            account="bob",
            device="PC2$",
            policy="P",
            silo="",
            reason="ACCESS_DENIED",
            client="10.0.0.2",
        )
        ev.emit(
            "AUTHN_POLICY_SERVICE_TICKET_DENIED",
            source="kdc",
            account="eve",
            device="PC3$",
            service="cifs/FS1",
            policy="SVC",
            silo="S",
            reason="ACCESS_DENIED",
        )
        ev.emit("USER_ADDED", source="lanman-cli", user="x", rid=1)
    finally:
        home.close()


def test_impact_cli(dom, tmp_path):
    _log_events(dom)
    j = jrun(dom, "auth", "impact")
    assert j["summary"]["events"] == 3 and j["summary"]["groups"] == 2
    top = j["groups"][0]
    assert (top["account"], top["device"], top["policy"], top["count"]) == ("bob", "PC2$", "P", 2)
    assert top["outcome"] == "would-deny"
    j = jrun(dom, "auth", "impact", "--policy", "svc")
    assert [g["account"] for g in j["groups"]] == ["eve"] and j["groups"][0]["outcome"] == "denied"
    j = jrun(dom, "auth", "impact", "--silo", "S")
    assert [g["account"] for g in j["groups"]] == ["eve"]
    assert jrun(dom, "auth", "impact", "--since", "2999-01-01")["groups"] == []
    out = dom("auth", "impact").output
    assert "bob" in out and "would-deny" in out and "3 events" in out
    fits(out)
    page = tmp_path / "impact.html"
    dom("auth", "impact", "--html", str(page))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "cifs/FS1" in text and "PC2$" in text
    r = dom("auth", "impact", "--since", "yesterday", ok=False)
    assert "ISO 8601" in r.output
    assert "No authentication policy failures" in dom("auth", "impact", "--policy", "Nope").output


def test_principal_sids_and_domain_local(dom):
    from lanman.authpolicy.simulate import domain_local_sids, principal_sids
    from lanman.authpolicy.tokens import AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY, CLAIMS_VALID

    dom("group", "add", "Local", "--scope", "domain_local")
    dom("group", "addmember", "Local", "Devs")
    with directory(dom) as d:
        pc = d.get("PC1$")
        sids = principal_sids(pc, d.domain_sid)
        assert sids[0] == pc.sid
        assert f"{d.domain_sid}-515" in sids  # Domain Computers, the primary group
        assert d.get_group("Devs").sid in sids
        assert d.get_group("Local").sid not in sids  # domain-local: added by the KDC
        assert sids[-1] == AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY
        assert CLAIMS_VALID not in sids  # only a PAC with claims (an enforced silo) has it
        assert len(sids) == len(set(sids))
        with_claims = principal_sids(pc, d.domain_sid, asserted=None, claims_valid=True)
        assert (
            with_claims[-1] == CLAIMS_VALID
            and AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY not in with_claims
        )
        assert domain_local_sids(pc, d.domain_sid) == [d.get_group("Local").sid]


def test_simulate_domain_local_group_of_device(dom):
    dom("group", "add", "Local", "--scope", "domain_local")
    dom("group", "addmember", "Local", "PC2$")
    dom(
        "auth",
        "policy",
        "create",
        "P",
        "--enforce",
        "--user-allowed-to-authenticate-from-device-group",
        "Local",
    )
    dom("user", "auth", "policy", "assign", "bob", "P")
    assert jrun(dom, "auth", "simulate", "bob", "--device", "PC2")["as"]["outcome"] == "allowed"
    assert jrun(dom, "auth", "simulate", "bob", "--device", "PC1")["as"]["outcome"] == "denied"


def test_simulate_below_2012r2_no_policy(dom):
    _setup_policy(dom, "--enforce")
    with directory(dom) as d:
        d.authn.set_dc_functional_level(4)  # 2008 R2
    j = jrun(dom, "auth", "simulate", "bob")
    assert j["policy"] is None and j["issued"] is True
    assert "not applied below 2012 R2" in dom("domain", "level", "show").output
    assert "not applied" in dom("auth", "silo", "create", "Low").output
    assert jrun(dom, "domain", "level", "raise", "2012 R2")["authentication_policies"] is True
    assert jrun(dom, "auth", "simulate", "bob")["issued"] is False
