"""Samba's SDDL corpora (Windows-observed behaviour) and the MS-DTYP examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lanman.security.conditional import decode_condition, encode_condition
from lanman.security.descriptor import decode_sd, encode_sd
from lanman.security.errors import SddlError
from lanman.security.sddl_parse import parse_condition, parse_sddl
from lanman.security.sddl_write import sd_to_sddl

DATA = Path(__file__).resolve().parents[1] / "data" / "samba_sddl"
DOMAIN = "S-1-2-3-4"  # the domain SID the corpora were produced with


def corpus(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        src, _, out = line.partition(" -> ")
        rows.append((src, out or src))
    return rows


CANONICAL = corpus("conditional_aces.txt")
WINDOWS_ONLY = corpus("conditional_aces_windows_only.txt")
CASE_INSENSITIVE = corpus("conditional_aces_case_insensitive.txt")
SHOULD_FAIL = corpus("conditional_aces_should_fail.txt")
WINDOWS_BYTES = json.loads((DATA / "conditional_aces.txt.json").read_text(encoding="utf-8"))


def test_corpus_sizes() -> None:
    # every line of every file is a case below; the counts pin the vendored files
    assert (len(CANONICAL), len(WINDOWS_ONLY), len(CASE_INSENSITIVE)) == (73, 11, 1)
    assert len(SHOULD_FAIL) == 11
    assert len(WINDOWS_BYTES) == 60


@pytest.mark.parametrize("src,expected", CANONICAL + WINDOWS_ONLY + CASE_INSENSITIVE)
def test_canonical_sddl(src: str, expected: str) -> None:
    sd = parse_sddl(src, DOMAIN)
    assert sd_to_sddl(sd, DOMAIN) == expected
    # the canonical form is a fixed point, and survives the binary form
    blob = encode_sd(sd)
    assert sd_to_sddl(decode_sd(blob), DOMAIN) == expected
    assert encode_sd(parse_sddl(expected, DOMAIN)) == blob


@pytest.mark.parametrize("src,_out", SHOULD_FAIL)
def test_should_fail(src: str, _out: str) -> None:
    with pytest.raises(SddlError) as info:
        parse_sddl(src, DOMAIN)
    assert 1 <= info.value.column <= len(src) + 1


@pytest.mark.parametrize("src", sorted(WINDOWS_BYTES))
def test_windows_bytes(src: str) -> None:
    expected = bytes(WINDOWS_BYTES[src])
    assert encode_sd(parse_sddl(src, DOMAIN)).hex() == expected.hex()
    decoded = decode_sd(expected)
    assert encode_sd(decoded) == expected  # decode then encode is the identity
    assert sd_to_sddl(decoded, DOMAIN) == sd_to_sddl(parse_sddl(src, DOMAIN), DOMAIN)


def test_every_windows_bytes_key_is_in_the_text_corpora() -> None:
    inputs = {src for src, _ in CANONICAL + WINDOWS_ONLY}
    assert set(WINDOWS_BYTES) <= inputs


# MS-DTYP 2.5.1.4: SDDL string to binary security descriptor example.
SPEC_SDDL = "O:BAG:BAD:P(A;CIOI;GRGX;;;BU)(A;CIOI;GA;;;BA)(A;CIOI;GA;;;SY)(A;CIOI;GA;;;CO)S:P(AU;FA;GR;;;WD)"
SPEC_BYTES = bytes.fromhex(
    "010014b090000000a00000001400000030000000"
    "02001c000100000002801400000000800101000000000001"
    "00000000"
    "020060000400000000031800000000a0010200000000000520000000"
    "21020000"
    "0003180000000010010200000000000520000000"
    "20020000"
    "00031400000000100101000000000005"
    "12000000"
    "00031400000000100101000000000003"
    "00000000"
    "010200000000000520000000"
    "20020000"
    "010200000000000520000000"
    "20020000"
)


def test_ms_dtyp_2_5_1_4_example() -> None:
    assert encode_sd(parse_sddl(SPEC_SDDL)) == SPEC_BYTES
    assert sd_to_sddl(decode_sd(SPEC_BYTES)) == (
        "O:BAG:BAD:P(A;OICI;GXGR;;;BU)(A;OICI;GA;;;BA)(A;OICI;GA;;;SY)(A;OICI;GA;;;CO)"
        "S:P(AU;FA;GR;;;WD)"
    )


def test_ms_dtyp_2_4_4_17_9_example() -> None:
    # (Title=="VP"): a local attribute compared with a string, in postfix tokens
    spec = bytes.fromhex(
        "61 72 74 78 f8 0a 00 00 00 54 00 69 00 74 00 6c 00 65 00"
        " 10 04 00 00 00 56 00 50 00 80 00 00 00"
    )
    node = parse_condition('(Title=="VP")')
    assert encode_condition(node) == spec[:-3]  # the spec shows the ACE's zero padding
    assert decode_condition(spec) == node


# General SDDL as observed on Windows (libcli/security/tests/windows/ in Samba). The
# domain-relative aliases (LG, DU) need a domain; any one will do.
WIN_DOMAIN = "S-1-5-21-11-22-33"
WIN_SHOULD_FAIL = corpus("windows_should_fail.txt")
WIN_FUSSY = corpus("windows_is_fussy.txt")  # Windows refuses (audit ACEs in a DACL)
WIN_LESS_FUSSY = corpus("windows_is_less_fussy.txt")
WIN_WEIRD = corpus("windows_is_weird.txt")  # Windows accepts, with surprising results
WIN_NON_CANONICAL = corpus("windows_non_canonical_excerpt.txt")


def test_windows_corpus_sizes() -> None:
    assert (len(WIN_SHOULD_FAIL), len(WIN_FUSSY), len(WIN_LESS_FUSSY)) == (42, 1, 23)
    assert (len(WIN_WEIRD), len(WIN_NON_CANONICAL)) == (10, 35)


@pytest.mark.parametrize("src,_out", WIN_SHOULD_FAIL + WIN_FUSSY)
def test_windows_rejects(src: str, _out: str) -> None:
    with pytest.raises(SddlError):
        parse_sddl(src, WIN_DOMAIN)


@pytest.mark.parametrize("src,expected", WIN_LESS_FUSSY + WIN_WEIRD + WIN_NON_CANONICAL)
def test_windows_accepts(src: str, expected: str) -> None:
    if src == expected and sd_to_sddl(parse_or_none(src) or _EMPTY, WIN_DOMAIN) != src:
        # the harness writes "input -> input" for what Windows refused ("D:AI (A;;...)")
        with pytest.raises(SddlError):
            parse_sddl(src, WIN_DOMAIN)
        return
    sd = parse_sddl(src, WIN_DOMAIN)
    assert sd_to_sddl(sd, WIN_DOMAIN) == expected
    assert sd_to_sddl(decode_sd(encode_sd(sd)), WIN_DOMAIN) == expected


_EMPTY = parse_sddl("")


def parse_or_none(src: str):
    try:
        return parse_sddl(src, WIN_DOMAIN)
    except SddlError:
        return None
