"""The domain password policy (Default Domain Policy): Windows' complexity rule, length,
history, maximum age; AD defaults for a new domain, none for one upgraded from before."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.directory import Directory
from lanman.kerberos import client, crypto
from lanman.kerberos.kdc import KdcCore
from lanman.store import Store, StoreError
from lanman.store.password_policy import (
    AD_DEFAULTS,
    PasswordPolicy,
    check_password,
    complexity_problem,
)


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Passw0rd", True),  # upper, lower, digit
        ("password!", False),  # lower + symbol only
        ("PASSWORD1!", True),  # upper, digit, symbol
        ("pässwört1", False),  # lower + digit (ä, ö are lower-case letters)
        ("密码Passw", True),  # caseless letters, upper, lower
        ("xyz-Alice-1", False),  # contains the account name
        ("Al1-abc", True),  # "Al" is too short a part to matter
    ],
)
def test_complexity_rule(password, ok):
    assert (complexity_problem(password, "alice") is None) is ok


def test_length_and_history():
    p = PasswordPolicy(min_length=8, complexity=False, history=2)
    assert "shorter" in check_password(p, "short", "alice", [], b"h")
    assert "last 2" in check_password(p, "longenough", "alice", [b"x", b"h"], b"h")
    assert check_password(p, "longenough", "alice", [b"x", b"y", b"h"], b"h") is None


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "home"

    def _run(*args, input=None):
        return CliRunner().invoke(cli, ["--home", str(home), *args], input=input)

    r = _run(
        "domain",
        "provision",
        "--realm",
        "pp.test",
        "--domain",
        "PP",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    assert r.exit_code == 0, r.output
    _run.home = home
    return _run


def test_new_domain_has_ad_defaults_and_refuses_weak_passwords(run):
    info = json.loads(run("domain", "show", "--json").output)
    assert info["password_policy"] == AD_DEFAULTS.as_dict()
    assert info["password_policy"]["max_password_age_days"] == 42
    r = run("user", "add", "dave", "--password-stdin", input="x\n")
    assert r.exit_code == 1 and "2245" in r.output and "shorter than the minimum of 7" in r.output
    r = run("user", "add", "dave", "--password-stdin", input="dave-Secret1\n")
    assert r.exit_code == 1 and "contains the account name" in r.output
    assert run("user", "add", "dave", "--password-stdin", input="Good-Secret1\n").exit_code == 0


def test_history_refuses_a_recent_password(run):
    assert run("user", "add", "erin", "--password-stdin", input="First-Secret1\n").exit_code == 0
    assert (
        run("user", "passwd", "erin", "--password-stdin", input="Second-Secret2\n").exit_code == 0
    )
    r = run("user", "passwd", "erin", "--password-stdin", input="First-Secret1\n")
    assert r.exit_code == 1 and "last 24 passwords" in r.output
    run("domain", "set", "--password-history", "0")
    assert run("user", "passwd", "erin", "--password-stdin", input="First-Secret1\n").exit_code == 0


def test_domain_set_changes_the_policy(run):
    r = run(
        "domain",
        "set",
        "--min-password-length",
        "3",
        "--no-password-complexity",
        "--max-password-age",
        "0",
        "--json",
    )
    assert r.exit_code == 0, r.output
    pp = json.loads(r.output)["password_policy"]
    assert pp["min_password_length"] == 3 and pp["password_complexity"] is False
    assert pp["max_password_age_days"] == 0
    assert run("user", "add", "fay", "--password-stdin", input="abc\n").exit_code == 0
    r = run("domain", "set", "--password-history", "25")
    assert r.exit_code == 1 and "out of range" in r.output


def test_max_password_age_expires_for_kerberos(run):
    home = run.home
    assert run("user", "add", "gus", "--password-stdin", input="Gold-Secret1\n").exit_code == 0
    c = sqlite3.connect(home / "lanman.sqlite")
    c.execute(
        "UPDATE users SET pwd_last_set = ? WHERE name = 'gus'", (int(time.time()) - 43 * 86400,)
    )
    c.commit()
    c.close()
    with Directory.open(home) as d:
        p = d.find_principal("gus")
        assert p.password_expired
        key = crypto.string_to_key(18, "Gold-Secret1", p.salt)
        req, _ = client.as_req("PP.TEST", "gus", key=(18, key))
        e = client.parse_error(KdcCore(d).handle(req))
        assert e.code == 23  # KDC_ERR_KEY_EXPIRED
        d.set_password_policy(max_age_days=0)
        assert not d.find_principal("gus").password_expired


def test_store_api_enforces_it_too(run):
    s = Store(run.home / "lanman.sqlite")
    try:
        with pytest.raises(StoreError, match="password policy"):
            s.add_user("hal", "weak")
    finally:
        s.close()


def test_upgraded_domain_keeps_no_policy(tmp_path):
    """A domain from before password policies (schema 2) keeps accepting what it did."""
    home = tmp_path / "home"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "schema_v2_home", home)
    with Directory.open(home) as d:
        assert d.password_policy == PasswordPolicy()
    s = Store(home / "lanman.sqlite")
    try:
        s.add_user("ivy", "x")
    finally:
        s.close()
