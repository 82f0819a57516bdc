"""lanman service install|show|uninstall: the system account and the systemd unit."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.cli.service import unit_text


def test_unit_text_runs_up_as_the_account(tmp_path):
    text = unit_text("/opt/lanman/bin/lanman", tmp_path / "my home", "lanman", "0.0.0.0", 445)
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert "--run-as lanman" in exec_line and "--smb-port 445" in exec_line
    assert f'"{tmp_path / "my home"}"' in exec_line  # quoted: the path has a space
    assert "WantedBy=multi-user.target" in text


def test_install_creates_account_and_unit(tmp_path):
    assert os.geteuid() == 0, "creating a system account needs root (make test runs as root)"
    name = "lmsvc" + secrets.token_hex(3)
    runner = CliRunner()
    try:
        r = runner.invoke(
            cli,
            ["--home", str(tmp_path / "h"), "service", "install", "--account", name,
             "--unit-dir", str(tmp_path / "units"), "--json"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        pw = pwd.getpwnam(name)
        assert pw.pw_uid != 0 and pw.pw_shell.endswith("nologin")
        unit = (tmp_path / "units" / "lanman.service").read_text()
        assert f"--run-as {name}" in unit and str(tmp_path / "h") in unit
        r = runner.invoke(
            cli,
            ["--home", str(tmp_path / "h"), "service", "install", "--account", name,
             "--unit-dir", str(tmp_path / "units")],
        )  # fmt: skip
        assert r.exit_code == 0 and "(exists)" in r.output
        r = runner.invoke(
            cli,
            ["--home", str(tmp_path / "h"), "service", "uninstall", "--unit-dir",
             str(tmp_path / "units"), "--remove-account", name],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert not (tmp_path / "units" / "lanman.service").exists()
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def test_install_refuses_root_account(tmp_path):
    r = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path / "h"), "service", "install", "--account", "root",
         "--unit-dir", str(tmp_path / "u")],
    )  # fmt: skip
    assert r.exit_code == 1
    assert "root" in (r.stderr if hasattr(r, "stderr") else r.output)
