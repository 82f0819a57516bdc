"""SMB1 switches: EnableSMB1Protocol in lanman.toml / server-config, EnableSecuritySignature
(and its Group Policy) reaching the SMB1 server's SecurityMode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.config import ConfigError, ServerConfig, load_config
from lanman.home import Home
from lanman.policy.decisions import smb1_security_mode

SERVER_IF_CLIENT = "Microsoft network server: Digitally sign communications (if client agrees)"
SERVER_ALWAYS = "Microsoft network server: Digitally sign communications (always)"


def _ensure_home(home: Path) -> None:
    if not home.exists():
        Home.open(home).close()


def run(home: Path, *args: str):
    _ensure_home(home)  # only setup commands create a home (issue 15)
    r = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert "Traceback" not in r.output + r.stderr
    return r


def settings(home: Path):
    from lanman.smb.server.service import build_context

    h = Home.open(home)
    try:
        return build_context(h).settings
    finally:
        h.close()


def test_smb1_off_by_default(tmp_path: Path) -> None:
    assert ServerConfig().smb1_enabled is False
    h = tmp_path / "h"
    r = run(h, "smb", "server-config", "get", "--json")
    assert r.exit_code == 0
    assert json.loads(r.output)["EnableSMB1Protocol"] is False
    assert settings(h).smb1_enabled is False


def test_enable_smb1_protocol_and_security_modes(tmp_path: Path) -> None:
    h = tmp_path / "h"
    r = run(h, "smb", "server-config", "set", "--enable-smb1-protocol", "true")
    assert r.exit_code == 0, r.stderr
    assert "EnableSMB1Protocol: False -> True" in r.output
    assert "smb1_enabled = true" in (h / "lanman.toml").read_text()
    assert (
        json.loads(run(h, "smb", "server-config", "get", "--json").output)["EnableSMB1Protocol"]
        is True
    )
    for enable, require, mode in (
        ("false", "false", 3),
        ("true", "false", 7),
        ("true", "true", 15),
    ):
        r = run(
            h,
            "smb",
            "server-config",
            "set",
            "--enable-security-signature",
            enable,
            "--require-security-signature",
            require,
        )
        assert r.exit_code == 0, r.stderr
        s = settings(h)
        assert s.smb1_enabled is True
        assert smb1_security_mode(s.enable_security_signature, s.require_message_signing) == mode
    # Group Policy "(if client agrees)" disabled wins over the local value
    assert (
        run(h, "smb", "server-config", "set", "--require-security-signature", "false").exit_code
        == 0
    )
    assert run(h, "policy", "set", SERVER_IF_CLIENT, "disabled").exit_code == 0
    s = settings(h)
    assert smb1_security_mode(s.enable_security_signature, s.require_message_signing) == 3


def test_bad_smb1_enabled_value_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "lanman.toml").write_text('[server]\nsmb1_enabled = "yes"\n')
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path)
    assert "smb1_enabled" in str(ei.value) and ":2" in str(ei.value)
