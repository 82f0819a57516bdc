""".reg import/export: formats regedit writes and people type, atomic errors, round trips."""

from __future__ import annotations

import pytest

from lanman.policy.effective import resolve_all
from lanman.policy.layers import HostPolicy
from lanman.policy.regfile import RegFileError, dumps_reg, encode_reg, import_reg, parse_reg

# The AllowRemoteRPC fix from docs/SOURCES.md msg §2 (reg add ... /t REG_DWORD /d 1), as a file.
ALLOW_REMOTE_RPC = (
    "Windows Registry Editor Version 5.00\r\n"
    "\r\n"
    "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server]\r\n"
    '"AllowRemoteRPC"=dword:00000001\r\n'
)

MIXED = """Windows Registry Editor Version 5.00

; signing as Windows 11 24H2 Home, guest allowed by Group Policy
[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters]
"RequireSecuritySignature"=dword:00000000
"EnableSecuritySignature"=dword:00000001

[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]
"RequireSecuritySignature"=dword:00000000
"Description"="lanman \\"test\\" server"
"Blob"=hex:01,02,03,\\
  04,05
"Multi"=hex(7):61,00,00,00,00,00
@="default value"

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation]
"AllowInsecureGuestAuth"=dword:00000001
"""


def _eff(host: HostPolicy) -> dict:
    return {s.entry.name: (s.value, s.origin) for s in resolve_all(host)}


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: b"\xff\xfe" + t.encode("utf-16-le"),  # regedit
        lambda t: t.encode("utf-16-le"),  # no BOM
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.replace("\r\n", "\n").encode("ascii"),
    ],
)
def test_allow_remote_rpc_example_imports(encode) -> None:
    host = import_reg(HostPolicy(), encode(ALLOW_REMOTE_RPC), "rpc.reg")
    eff = _eff(host)
    assert eff["TerminalServer.AllowRemoteRPC"] == (1, "local")


def test_mixed_file_layers_and_round_trip() -> None:
    host = import_reg(HostPolicy(), MIXED.encode(), "m.reg")
    eff = _eff(host)
    assert eff["LanmanWorkstation.RequireSecuritySignature"] == (0, "local")
    assert eff["LanmanServer.RequireSecuritySignature"] == (0, "local")
    assert eff["LanmanWorkstation.AllowInsecureGuestAuth"] == (1, "group policy")
    assert len(host.local) == 7 and len(host.group) == 1
    # export (both layers, regedit's UTF-16LE) and import into a fresh host
    local = encode_reg(dumps_reg(host, "local"))
    group = encode_reg(dumps_reg(host, "group"))
    assert local.startswith(b"\xff\xfeW\x00i\x00n\x00")
    again = import_reg(HostPolicy(), local, "l.reg", "local")
    again = import_reg(again, group, "g.reg", "group")
    assert _eff(again) == eff
    assert again.local.entries == host.local.entries
    assert again.group.entries == host.group.entries
    # and a third time: export is stable
    assert dumps_reg(again, "local") == dumps_reg(host, "local")


def test_scope_group_and_deletions() -> None:
    host = import_reg(HostPolicy(), MIXED.encode(), "m.reg", "group")
    assert _eff(host)["LanmanServer.RequireSecuritySignature"] == (0, "group policy")
    delete = """Windows Registry Editor Version 5.00
[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters]
"RequireSecuritySignature"=-
[-HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer]
"""
    after = import_reg(host, delete.encode(), "d.reg", "group")
    eff = _eff(after)
    assert eff["LanmanWorkstation.RequireSecuritySignature"] == (1, "default")
    assert eff["LanmanServer.RequireSecuritySignature"] == (1, "default")
    assert eff["LanmanWorkstation.EnableSecuritySignature"] == (1, "group policy")
    assert eff["LanmanWorkstation.AllowInsecureGuestAuth"] == (1, "group policy")
    assert host.group.entries != after.group.entries  # the input host is untouched


BROKEN = [
    ("REGEDIT5\n", 1, "first line"),
    ("", 1, "empty file"),
    ('Windows Registry Editor Version 5.00\n\n"A"=dword:1\n', 3, "outside a [key]"),
    ("Windows Registry Editor Version 5.00\n[HKEY_NOWHERE\\X]\n", 2, "unknown root"),
    ("Windows Registry Editor Version 5.00\n[HKLM\\X\n", 2, "closing ]"),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A"=dword:1234567890\n', 3, "bad dword"),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A"=dword:zz\n', 3, "bad dword"),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A=dword:1\n', 3, "unterminated"),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A"dword:1\n', 3, "missing ="),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A"=hex:1,zz\n', 3, "hex byte"),
    ('Windows Registry Editor Version 5.00\n[HKLM\\X]\n"A"=qword:1\n', 3, "cannot read"),
    ("Windows Registry Editor Version 5.00\n[HKLM\\X]\nA=1\n", 3, "expected"),
    (
        (
            "Windows Registry Editor Version 5.00\n\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\n"
            '"EnableSecuritySignature"=dword:00000000\n'
            '"RequireSecuritySignature"=dword:00000002\n'
        ),
        5,
        "not allowed",
    ),
    (
        (
            "Windows Registry Editor Version 5.00\n\n"
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server]\n"
            '"AllowRemoteRPC"="1"\n'
        ),
        4,
        "must be REG_DWORD",
    ),
]


@pytest.mark.parametrize(("text", "line", "what"), BROKEN)
def test_broken_files_name_the_line_and_change_nothing(text: str, line: int, what: str) -> None:
    host = HostPolicy()
    with pytest.raises(RegFileError) as ei:
        import_reg(host, text.encode(), "bad.reg")
    assert ei.value.line == line
    assert f"bad.reg:{line}" in ei.value.message and what in ei.value.message
    assert len(host.local) == 0 and len(host.group) == 0


def test_broken_file_in_utf16_reports_line() -> None:
    text = ALLOW_REMOTE_RPC + '"X"=dword:nothex\r\n'
    with pytest.raises(RegFileError) as ei:
        parse_reg(b"\xff\xfe" + text.encode("utf-16-le"), "u.reg")
    assert ei.value.line == 5


def test_invalid_utf8_is_reported() -> None:
    with pytest.raises(RegFileError) as ei:
        parse_reg(b"Windows Registry Editor Version 5.00\n\xff\xfe\xff\n", "x.reg")
    assert "x.reg:2" in ei.value.message


def test_regedit4_header_and_hex4_dword() -> None:
    text = 'REGEDIT4\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server]\n"AllowRemoteRPC"=hex(4):01,00,00,00\n'
    host = import_reg(HostPolicy(), text.encode(), "r4.reg")
    assert _eff(host)["TerminalServer.AllowRemoteRPC"] == (1, "local")
