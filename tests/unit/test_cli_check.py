"""`lanman check`: exit 0 on a sound home, 1 naming file and line on each broken input;
nothing is created or changed."""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.home import Home


def run(home, *args):
    r = CliRunner().invoke(cli, ["--home", str(home), "check", *args])
    return r.exit_code, r.output


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    h = Home.open(path, create=True)
    share = tmp_path / "data"
    share.mkdir()
    h.store.add_share("data", share)
    h.close()
    return path


def test_sound_home_exits_0_with_settings_and_origins(home):
    code, out = run(home, "--no-ports")
    assert code == 0, out
    assert "LanmanServer.RequireSecuritySignature = enabled  (default)" in out
    assert "0 error(s)" in out
    data = json.loads(run(home, "--no-ports", "--json")[1])
    assert data["ok"] is True and data["problems"] == []
    assert any(s["name"] == "LanmanServer.RequireSecuritySignature" for s in data["settings"])


def test_missing_home_is_an_error_and_is_not_created(tmp_path):
    missing = tmp_path / "typo-home"
    code, out = run(missing)
    assert code == 1 and "does not exist" in out
    assert not missing.exists()


def test_broken_lanman_toml_names_file_and_line(home):
    text = (home / "lanman.toml").read_text()
    (home / "lanman.toml").write_text(text + "smb_port = 99999\n")
    code, out = run(home, "--no-ports", "--json")
    assert code == 1
    p = json.loads(out)["problems"][0]
    assert p["area"] == "config" and p["file"].endswith("lanman.toml")
    assert p["line"] == len(text.splitlines()) + 1


def test_toml_syntax_error_line(home):
    (home / "lanman.toml").write_text("[server]\nlisten = \n")
    code, out = run(home, "--no-ports")
    assert code == 1 and "lanman.toml:2" in out


def test_broken_policy_toml_entry_line(home):
    (home / "policy.toml").write_text(
        'profile = "win11-24h2-pro"\n\n[[local]]\nkey = "k"\nvalue = "v"\ntype = "REG_DWORD"\n'
        "data = -1\n"
    )
    code, out = run(home, "--no-ports", "--json")
    assert code == 1
    p = json.loads(out)["problems"][0]
    assert p["area"] == "policy" and p["line"] == 3 and "REG_DWORD" in p["message"]


def test_share_whose_directory_vanished(home, tmp_path):
    (tmp_path / "data").rmdir()
    code, out = run(home, "--no-ports")
    assert code == 1 and "share 'data'" in out and "does not exist" in out


def test_share_that_contains_the_data_directory(home, tmp_path):
    c = sqlite3.connect(home / "lanman.sqlite")
    c.execute("INSERT INTO shares (name, path) VALUES ('evil', ?)", (str(tmp_path),))
    c.commit()
    c.close()
    code, out = run(home, "--no-ports")
    assert code == 1 and "contains lanman's data directory" in out


def test_corrupt_database(home):
    db = home / "lanman.sqlite"
    for side in ("-wal", "-shm"):
        (home / f"lanman.sqlite{side}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    code, out = run(home, "--no-ports")
    assert code == 1 and "[database]" in out


def test_port_in_use_warns_and_unbindable_address_fails(home):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        text = (home / "lanman.toml").read_text()
        text = "\n".join(
            f"smb_port = {port}" if line.startswith("smb_port") else line
            for line in text.splitlines()
        )
        (home / "lanman.toml").write_text(text + "\n")
        code, out = run(home)
        assert code == 0 and "WARNING: [port]" in out and "in use" in out
    finally:
        s.close()
    text = (home / "lanman.toml").read_text()
    text = "\n".join(
        'listen = "192.0.2.1"' if line.startswith("listen") else line for line in text.splitlines()
    )
    (home / "lanman.toml").write_text(text + "\n")
    code, out = run(home)
    assert code == 1 and "not an address of this machine" in out
