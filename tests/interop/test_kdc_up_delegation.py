"""Delegation end to end: `lanman user|computer delegation` on a provisioned domain, changed
while `lanman up` runs, then MIT ``kvno -I USER -P SPN`` (S4U2Self + S4U2Proxy) against it:
classic constrained delegation, RBCD, and a sensitive (NOT_DELEGATED) user refused.
"""

from __future__ import annotations

import json

import pytest
from interop_support import lanman_up, random_password
from test_kdc_up import _lanman, _run, _tool

REALM = "DELEG.TEST"
DNS = REALM.lower()


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    base = tmp_path_factory.mktemp("kdcup-deleg")
    home = base / "home"
    _lanman(home, "domain", "provision", "--realm", REALM, "--domain", "DELEG")
    pw = {name: random_password() for name in ("svc1", "alice", "carol", "web")}
    for user in ("svc1", "alice", "carol"):
        _lanman(home, "user", "add", user, "--password-stdin", input_text=pw[user] + "\n")
    _lanman(home, "spn", "add", "svc1", f"http/svc1.{DNS}")
    _lanman(home, "computer", "add", "web", "--password-stdin", input_text=pw["web"] + "\n")
    _lanman(home, "computer", "add", "files")
    with lanman_up(home, base / "up.log") as up:
        env = up.krb5_env(home, base)
        # configured while the KDC runs: its directory cache must see the change
        _lanman(
            home,
            "user",
            "delegation",
            "svc1",
            "--allow-to",
            f"cifs/files.{DNS}",
            "--protocol-transition",
        )
        _lanman(home, "computer", "delegation", "files", "--allow-from", "web")
        _lanman(home, "user", "set", "carol", "--sensitive")
        yield {"home": home, "base": base, "env": env, "pw": pw}


def _kinit(domain, principal: str, password: str, name: str) -> dict:
    env = dict(domain["env"], KRB5CCNAME=f"FILE:{domain['base'] / (name + '.cc')}")
    r = _run([_tool("kinit"), "-f", principal], env, password + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    return env


def test_cli_shows_the_settings(domain):
    info = json.loads(_lanman(domain["home"], "user", "delegation", "svc1", "--json"))
    assert info["allowed_to_delegate_to"] == [f"cifs/files.{DNS}"] and info["protocol_transition"]
    info = json.loads(_lanman(domain["home"], "computer", "delegation", "files", "--json"))
    assert [e["name"].lower() for e in info["allowed_to_act"]] == ["web$"]


def test_constrained_delegation_against_lanman_up(domain):
    env = _kinit(domain, "svc1", domain["pw"]["svc1"], "svc1")
    r = _run([_tool("kvno"), "-I", "alice", "-P", f"cifs/files.{DNS}"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    k = _run([_tool("klist")], env).stdout
    assert f"cifs/files.{DNS}@{REALM}" in k, k


def test_rbcd_against_lanman_up(domain):
    env = _kinit(domain, "WEB$", domain["pw"]["web"], "web")
    r = _run([_tool("kvno"), "-I", "alice", "-P", f"cifs/files.{DNS}"], env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sensitive_user_refused_against_lanman_up(domain):
    env = _kinit(domain, "svc1", domain["pw"]["svc1"], "svc1-carol")
    r = _run([_tool("kvno"), "-I", "carol", "-P", f"cifs/files.{DNS}"], env)
    out = r.stdout + r.stderr
    print(out)
    assert r.returncode != 0 and "KDC can't fulfill requested option" in out, out
