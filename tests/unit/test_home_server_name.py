"""A new home names the server after the machine (Samba's `netbios name` default); an
existing home keeps the name in its lanman.toml."""

from __future__ import annotations

import socket

import pytest

from lanman.config import load_config, netbios_host_name
from lanman.home import Home


@pytest.mark.parametrize(
    ("host", "netbios"),
    [
        ("vm", "VM"),
        ("fileserver01.corp.example.com", "FILESERVER01"),
        ("a-very-long-host-name-indeed", "A-VERY-LONG-HOS"),
        ("odd:name*here", "ODD-NAME-HERE"),
        ("", "LANMAN"),
        ("...", "LANMAN"),
    ],
)
def test_netbios_host_name(host, netbios):
    assert netbios_host_name(host) == netbios


def test_new_home_takes_the_host_name(tmp_path):
    home = Home.open(tmp_path / "h")
    try:
        assert home.config.server_name == netbios_host_name(socket.gethostname())
        assert load_config(tmp_path / "h").server_name == home.config.server_name
    finally:
        home.close()


def test_existing_home_keeps_its_name(tmp_path):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "lanman.toml").write_text('[server]\nserver_name = "OLDNAME"\n')
    home = Home.open(tmp_path / "h")
    try:
        assert home.config.server_name == "OLDNAME"
    finally:
        home.close()
