"""lanman domain|user|computer|group|spn|keytab through click's CliRunner in temporary homes."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner
from impacket.krb5.keytab import Keytab

from lanman.cli.main import cli
from lanman.config import netbios_host_name

#: a new home names its server after this machine, as Samba's `netbios name` does
DC = netbios_host_name(socket.gethostname())


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "home"

    def _run(*args: str, input: str | None = None, ok: bool = True):
        r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
        if ok:
            assert r.exit_code == 0, r.output + (r.stderr if r.stderr_bytes else "")
        return r

    _run.home = home
    return _run


@pytest.fixture
def prov(run):
    run("user", "add", "bob", "--password-stdin", input="Brick-pass1\n")
    r = run(
        "domain",
        "provision",
        "--realm",
        "lanman.test",
        "--domain",
        "lanman",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    assert "LANMAN.TEST" in r.output and "RC4 only" in r.output
    return run


def test_commands_need_a_domain(run):
    r = run("domain", "show", ok=False)
    assert r.exit_code == 1 and "does not exist" in r.output  # a read never creates a home
    assert not run.home.exists()
    run("user", "add", "bob", "--password-stdin", input="Bob-pass1\n")  # creates it
    r = run("domain", "show", ok=False)
    assert r.exit_code == 1 and "ERROR_NO_SUCH_DOMAIN" in r.output and "provision" in r.output


def test_provision_json_generates_admin_password(run):
    r = run("domain", "provision", "--realm", "x.test", "--domain", "X", "--json")
    data = json.loads(r.output)
    assert data["realm"] == "X.TEST" and data["dc_account"] == f"{DC}$"
    assert len(data["admin_password"]) >= 16 and data["domain_sid"].startswith("S-1-5-21-")
    r = run("domain", "provision", "--realm", "x.test", "--domain", "X", ok=False)
    assert "already provisioned" in r.output
    assert 'domain_name = "X"' in (run.home / "lanman.toml").read_text()


def test_domain_show_and_krb5conf(prov):
    info = json.loads(prov("domain", "show", "--json").output)
    assert info["realm"] == "LANMAN.TEST" and info["dc_name"] == DC
    assert info["rc4_only_accounts"] == ["bob"] and info["computers"] == 1
    from lanman.config import ServerConfig

    port = getattr(ServerConfig(), "kdc_port", 88)
    conf = prov("domain", "krb5conf").output
    for line in (
        "default_realm = LANMAN.TEST",
        "dns_lookup_kdc = false",
        "rdns = false",
        f"kdc = 127.0.0.1:{port}",
        ".lanman.test = LANMAN.TEST",
    ):
        assert line in conf
    assert "kdc = 10.0.0.5:8888" in prov("domain", "krb5conf", "--kdc", "10.0.0.5:8888").output


def test_domain_set_lockout(prov):
    prov("domain", "set", "--lockout-threshold", "5", "--lockout-duration", "15")
    lo = json.loads(prov("domain", "show", "--json").output)["lockout"]
    assert lo == {"threshold": 5, "duration_seconds": 900, "window_seconds": 600}


def test_user_lifecycle(prov):
    prov("user", "add", "carol", "--password-stdin", "--expires", "2030-01-31", input="Coral-pw1\n")
    users = {u["name"]: u for u in json.loads(prov("user", "list", "--json").output)}
    assert set(users) == {"Administrator", "Guest", "krbtgt", "bob", "carol"}
    c = users["carol"]
    assert c["enctypes"] == ["aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96", "arcfour-hmac"]
    assert c["expires"] == 1896134400 and c["sid"].endswith(f"-{c['rid']}")
    assert users["bob"]["rc4_only"] and users["bob"]["enctypes"] == ["arcfour-hmac"]
    assert not users["krbtgt"]["enabled"] and not users["Guest"]["enabled"]
    r = prov("user", "passwd", "bob", "--password-stdin", input="Brick-pass2\n")
    assert "kvno 2" in r.output
    prov("user", "set", "bob", "--disabled", "--locked", "--no-preauth")
    bob = json.loads(prov("user", "show", "bob", "--json").output)
    assert not bob["enabled"] and bob["locked"] and bob["uac"] & 0x400000
    assert bob["groups"] == ["Domain Users"] and not bob["rc4_only"]
    prov("user", "set", "bob", "--enabled", "--unlocked", "--expires", "never")
    bob = json.loads(prov("user", "show", "bob", "--json").output)
    assert bob["enabled"] and not bob["locked"] and bob["expires"] is None
    assert "Group memberships" in prov("user", "show", "Administrator").output
    r = prov("user", "remove", "krbtgt", ok=False)
    assert r.exit_code == 1 and "1371" in r.output
    r = prov("user", "remove", f"{DC}$", ok=False)
    assert "computer remove" in r.output
    prov("user", "remove", "carol")
    assert "carol" not in prov("user", "list").output
    r = prov("user", "set", "bob", "--expires", "someday", ok=False)
    assert "not a date" in r.output


def test_user_set_without_domain(run):
    run("user", "add", "dave", "--password-stdin", input="pw\n")
    run("user", "set", "dave", "--disabled")
    assert json.loads(run("user", "list", "--json").output)[0]["enabled"] is False
    r = run("user", "set", "dave", "--locked", ok=False)
    assert "domain" in r.output


def test_groups(prov):
    prov("group", "add", "Ops", "--description", "operators")
    prov("group", "addmember", "Ops", "bob", "Administrator")
    members = json.loads(prov("group", "members", "Ops", "--json").output)
    assert [m["name"] for m in members] == ["Administrator", "bob"]
    prov("group", "addmember", "Protected Users", "Ops")
    bob = json.loads(prov("user", "show", "bob", "--json").output)
    assert bob["protected_user"] and "arcfour-hmac" not in bob["enctypes"]
    prov("group", "removemember", "Ops", "bob")
    groups = {g["name"]: g for g in json.loads(prov("group", "list", "--json").output)}
    assert groups["Protected Users"]["rid"] == 525 and groups["Ops"]["rid"] >= 1000
    r = prov("group", "remove", "Domain Users", ok=False)
    assert "1372" in r.output
    r = prov("group", "addmember", "Nope", "bob", ok=False)
    assert "2220" in r.output
    prov("group", "remove", "Ops")


def test_computers_spns_and_keytab(prov, tmp_path):
    r = prov("computer", "add", "WS1", "--spn", "http/ws1.lanman.test")
    assert "WS1$" in r.output
    comps = {c["name"]: c for c in json.loads(prov("computer", "list", "--json").output)}
    assert set(comps) == {f"{DC}$", "WS1$"} and comps["WS1$"]["primary_group_rid"] == 515
    assert "http/ws1.lanman.test" in comps["WS1$"]["spns"]
    prov("spn", "add", "bob", "mssql/db.lanman.test:1433")
    rows = json.loads(prov("spn", "list", "bob", "--json").output)
    assert rows == [{"account": "bob", "spn": "mssql/db.lanman.test:1433"}]
    r = prov("spn", "add", "Administrator", "mssql/db.lanman.test:1433", ok=False)
    assert "8426" in r.output
    prov("spn", "remove", "bob", "mssql/db.lanman.test:1433")
    assert "There are no entries" in prov("spn", "list", "bob").output
    kt = tmp_path / "ws1.keytab"
    out = json.loads(prov("keytab", "export", "WS1$", str(kt), "--json").output)
    assert len(out) == 6 * 3 and out[0]["enctype"] == "aes256-cts-hmac-sha1-96"
    parsed = Keytab.loadFile(str(kt))
    assert {e.main_part["principal"].prettyPrint() for e in parsed.entries} >= {
        b"WS1$@LANMAN.TEST",
        b"http/ws1.lanman.test@LANMAN.TEST",
    }
    r = prov("keytab", "export", "bob", str(kt), "--append", "--no-rc4", ok=False)
    assert "only an RC4 key" in r.output
    prov("user", "passwd", "bob", "--password-stdin", input="Brick-pass2\n")
    prov("keytab", "export", "bob", str(kt), "--append", "--no-rc4", "--only")
    assert len(Keytab.loadFile(str(kt)).entries) == 20
    r = prov("keytab", "export", "nobody", str(tmp_path / "x"), ok=False)
    assert "nobody" in r.output
    prov("computer", "remove", "WS1")
    assert "WS1$" not in prov("computer", "list").output
