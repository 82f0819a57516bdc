"""Output that fits 80 columns and pipes: nothing cut short (no "…"), no line wider than 80
unless it is one unbreakable name (a registry path) printed whole."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.home import Home


@pytest.fixture
def home(tmp_path):
    Home.open(tmp_path / "h").close()  # read commands never create one
    return str(tmp_path / "h")


COMMANDS = [
    ["profile", "show", "win11-24h2-pro"],
    ["policy", "get"],
    ["smb", "server-config", "get"],
    ["smb", "client-config", "get"],
    ["smb", "matrix", "--expected-only"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_fits_80_columns(home, args):
    r = CliRunner().invoke(cli, ["--home", home, *args], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output, r.output
    for line in r.output.splitlines():
        if len(line) > 80:
            assert " " not in line.strip(), f"a wide line that could wrap: {line!r}"


def test_wide_terminal_keeps_the_table(home):
    r = CliRunner().invoke(cli, ["--home", home, "policy", "get"], env={"COLUMNS": "250"})
    assert r.exit_code == 0
    header = next(ln for ln in r.output.splitlines() if "Setting" in ln)
    assert "Effective" in header and "Origin" in header
