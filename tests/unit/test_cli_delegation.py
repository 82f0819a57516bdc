"""lanman computer|user delegation and user set --sensitive through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "home"

    def _run(*args: str, input: str | None = None, ok: bool = True):
        r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
        if ok:
            assert r.exit_code == 0, r.output
        return r

    _run("user", "add", "svc1", "--password-stdin", input="Svc1-pass1\n")
    _run("user", "add", "alice", "--password-stdin", input="Alice-pass1\n")
    _run(
        "domain",
        "provision",
        "--realm",
        "lanman.test",
        "--domain",
        "lanman",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    _run("computer", "add", "web")
    _run("computer", "add", "files")
    return _run


def _json(run, *args):
    return json.loads(run(*args, "--json").output)


def test_user_constrained_delegation_and_protocol_transition(run):
    info = _json(run, "user", "delegation", "svc1")
    assert info == {
        "account": "svc1",
        "allowed_to_delegate_to": [],
        "protocol_transition": False,
        "unconstrained": False,
        "sensitive": False,
        "protected_user": False,
        "allowed_to_act": [],
    }
    info = _json(
        run,
        "user",
        "delegation",
        "svc1",
        "--allow-to",
        "cifs/files.lanman.test",
        "--allow-to",
        "host/files",
        "--protocol-transition",
    )
    assert info["allowed_to_delegate_to"] == ["cifs/files.lanman.test", "host/files"]
    assert info["protocol_transition"]
    info = _json(
        run, "user", "delegation", "svc1", "--remove-to", "host/files", "--no-protocol-transition"
    )
    assert info["allowed_to_delegate_to"] == ["cifs/files.lanman.test"]
    assert not info["protocol_transition"]
    out = run("user", "delegation", "svc1").output
    assert "cifs/files.lanman.test" in out and "msDS-AllowedToDelegateTo" in out
    r = run("user", "delegation", "svc1", "--remove-to", "host/nowhere", ok=False)
    assert r.exit_code == 1 and "host/nowhere" in r.output
    r = run("user", "delegation", "svc1", "--allow-to", "bad spn", ok=False)
    assert r.exit_code == 1


def test_computer_rbcd_and_unconstrained(run):
    info = _json(
        run, "computer", "delegation", "files", "--allow-from", "web", "--allow-from", "svc1"
    )
    assert [e["name"].lower() for e in info["allowed_to_act"]] == ["web$", "svc1"]
    assert all(e["sid"].startswith("S-1-5-21-") for e in info["allowed_to_act"])
    info = _json(run, "computer", "delegation", "files", "--clear-rbcd")
    assert info["allowed_to_act"] == []
    info = _json(run, "computer", "delegation", "web$", "--unconstrained")
    assert info["unconstrained"] and info["account"].lower() == "web$"
    assert not _json(run, "computer", "delegation", "web", "--no-unconstrained")["unconstrained"]
    r = run("computer", "delegation", "files", "--allow-from", "nobody", ok=False)
    assert r.exit_code == 1 and "nobody" in r.output
    r = run("computer", "delegation", "svc1", ok=False)  # a user, not a computer
    assert r.exit_code == 1
    r = run("user", "delegation", "web$", ok=False)  # a computer, not a user
    assert r.exit_code == 1


def test_user_set_sensitive(run):
    run("user", "set", "alice", "--sensitive")
    assert _json(run, "user", "delegation", "alice")["sensitive"]
    show = _json(run, "user", "show", "alice")
    assert show["uac"] & 0x100000
    run("user", "set", "alice", "--not-sensitive")
    assert not _json(run, "user", "delegation", "alice")["sensitive"]
