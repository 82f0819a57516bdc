"""``lanman sddl``: the README's examples, batch mode, errors (exit 2, never a traceback)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lanman.cli.main import cli

POLICY = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(S-1-5-21-1-2-3-1234)}))"


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(cli, ["sddl", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output + result.stderr
    return result


def test_compile_and_decode_round_trip() -> None:
    r = run("compile", POLICY)
    assert r.exit_code == 0
    hexed = r.output.strip()
    assert hexed.startswith("010004805c000000680000000000000014000000")
    d = run("decode", hexed)
    assert d.exit_code == 0 and d.output.strip() == POLICY


def test_compile_json() -> None:
    r = run("compile", "D:(A;;FA;;;WD)", "--json")
    data = json.loads(r.output)
    assert data["sddl"] == "D:(A;;FA;;;WD)" and data["length"] == len(data["hex"]) // 2


def test_decode_readme_example() -> None:
    blob = "010004800000000000000000000000001400000002001c0001000000000014001f011f00010100000000000100000000"
    r = run("decode", blob)
    assert r.exit_code == 0 and r.output.strip() == "D:(A;;0x1f011f;;;WD)"


def test_domain_relative_alias_needs_domain_sid() -> None:
    bad = run("compile", "D:(A;;FA;;;DA)")
    assert bad.exit_code == 2
    assert "column 12" in bad.stderr and "^" in bad.stderr
    good = run("compile", "D:(A;;FA;;;DA)", "--domain-sid", "S-1-5-21-1-2-3")
    assert good.exit_code == 0
    back = run("decode", good.output.strip(), "--domain-sid", "S-1-5-21-1-2-3")
    assert back.output.strip() == "D:(A;;FA;;;DA)"


def test_bad_sddl_exit_2_with_column() -> None:
    r = run("compile", "D:(XA;;FA;;;WD;(@User.x == ))")
    assert r.exit_code == 2
    assert "bad SDDL: expected an attribute or a literal" in r.stderr
    assert "column 28" in r.stderr
    assert r.stdout == ""


def test_bad_hex_exit_2() -> None:
    for text in ("zz", "0100", "01000480" + "ff" * 16):
        r = run("decode", text)
        assert r.exit_code == 2 and "bad security descriptor" in r.stderr


def test_batch_one_line_per_input_line() -> None:
    lines = ["D:(A;;FA;;;WD)", "D:(A;;ZZ;;;WD)", "", POLICY, "O:"]
    r = run("compile", "-", input="\n".join(lines) + "\n")
    out = r.stdout.splitlines()
    assert r.exit_code == 0 and len(out) == len(lines)
    assert (
        out[0]
        == "010004800000000000000000000000001400000002001c000100000000001400ff011f00010100000000000100000000"
    )
    assert out[1] == "error: unknown right 'ZZ' at column 7"
    assert out[2] == "0100008000000000000000000000000000000000"  # empty SDDL: empty descriptor
    assert out[4].startswith("error: ")
    back = run("decode", "-", input="\n".join(out) + "\n")
    assert back.output.splitlines()[0] == "D:(A;;FA;;;WD)"
    assert back.output.splitlines()[1].startswith("error: ")


def test_batch_json() -> None:
    r = run("compile", "-", "--json", input="D:(A;;FA;;;WD)\nD:(\n")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert "hex" in rows[0] and "error" in rows[1]


def test_explain_readme_example() -> None:
    sddl = 'O:SYG:SYD:(XD;;CR;;;WD;(@User.ad://ext/AuthenticationSilo != "T0"))(A;;CR;;;AU)'
    r = run("explain", sddl)
    assert r.exit_code == 0
    assert "deny: everyone (WD, S-1-1-0)" in r.output
    assert "the user's claim 'ad://ext/AuthenticationSilo' does not equal \"T0\"" in r.output
    assert "cannot be evaluated" in r.output
    data = json.loads(run("explain", sddl, "--json").output)
    assert [a["type"] for a in data["dacl"]["aces"]] == ["deny", "allow"]


def test_check_readme_example_and_json() -> None:
    args = [
        "check",
        'O:SYD:(XA;;CR;;;WD;(@USER.dept == "HR"))',
        "--user",
        "S-1-5-21-1-2-3-1105",
        "--user",
        "WD",
        "--claim",
        'user:dept="hr"',
        "--rights",
        "CR",
    ]
    r = run(*args)
    assert r.exit_code == 0
    assert r.output.splitlines()[0] == "Access granted: control access (CR) (0x100)"
    assert 'Decided by ACE 1: (XA;;CR;;;WD;(@USER.dept == "HR"))' in r.output
    denied = run(*args[:-4], "--claim", 'user:dept="it"', "--rights", "CR", "--json")
    assert denied.exit_code == 1
    assert json.loads(denied.output)["allowed"] is False


def test_check_device_and_numeric_claims() -> None:
    sddl = "D:(XA;;0x1f;;;AA;(Device_Member_of{SID(BA)} && @Device.legs >= 2))"
    ok = run(
        "check",
        sddl,
        "--user",
        "AA",
        "--device",
        "BA",
        "--claim",
        "device:legs=4",
        "--rights",
        "0x10",
    )
    assert ok.exit_code == 0
    no = run("check", sddl, "--user", "AA", "--claim", "device:legs=4", "--rights", "0x10")
    assert no.exit_code == 1


def test_check_bad_options_exit_2() -> None:
    assert run("check", "D:", "--user", "XX", "--rights", "CR").exit_code == 2
    assert run("check", "D:", "--user", "WD", "--rights", "QQ").exit_code == 2
    assert run("check", "D:", "--user", "WD", "--claim", "dept=1", "--rights", "CR").exit_code == 2
