"""Property tests: random descriptors round-trip through bytes and SDDL; random input never
crashes the decoder or the parser (only SecurityError / SddlError)."""

from __future__ import annotations

import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanman.security.access import compile_descriptor
from lanman.security.ace import Ace
from lanman.security.acl import Acl
from lanman.security.aliases import ALIASES
from lanman.security.claims import ClaimAttribute, encode_claim
from lanman.security.conditional import (
    ATTR_DEVICE,
    ATTR_LOCAL,
    ATTR_RESOURCE,
    ATTR_USER,
    OPS,
    Attr,
    Composite,
    Int,
    Octets,
    Op,
    Sid,
    Str,
    decode_condition,
    encode_condition,
)
from lanman.security.descriptor import SecurityDescriptor, decode_sd, encode_sd
from lanman.security.errors import SddlError, SecurityError
from lanman.security.sddl_parse import parse_sddl
from lanman.security.sddl_write import sd_to_sddl

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOMAIN = "S-1-5-21-1-2-3"

well_known = [s for s, _ in ALIASES.values() if isinstance(s, str)]
sids = st.one_of(
    st.sampled_from(well_known),
    st.builds(
        lambda auth, subs: (
            "S-1-"
            + (str(auth) if auth < 1 << 32 else f"0x{auth:012X}")
            + "".join(f"-{x}" for x in subs)
        ),
        st.integers(0, (1 << 48) - 1),
        st.lists(st.integers(0, (1 << 32) - 1), max_size=15),
    ),
    st.integers(0, 2000).map(lambda rid: f"{DOMAIN}-{rid}"),
)
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=12
)
_KEYWORDS = {i.sddl.lower() for i in OPS.values()}
local_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_:./]{0,10}", fullmatch=True).filter(
    lambda n: n.lower() not in _KEYWORDS
)
strings = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters='"'), max_size=10
)


@st.composite
def ints(draw):
    base = draw(st.sampled_from([1, 2, 3]))
    sign = draw(st.sampled_from([1, 2, 3]))
    if sign == 2:
        value = draw(st.integers(-(1 << 63), 0))
    elif sign == 1 or base == 2:
        value = draw(st.integers(0, (1 << 63) - 1))
    else:
        value = draw(st.integers(-(1 << 63), (1 << 63) - 1))
    return Int(value, sign, base)


scalars = st.one_of(ints(), strings.map(Str), st.binary(max_size=8).map(Octets), sids.map(Sid))
values = st.one_of(scalars, st.lists(scalars, max_size=4).map(lambda x: Composite(tuple(x))))
prefixed = st.builds(Attr, st.sampled_from([ATTR_USER, ATTR_DEVICE, ATTR_RESOURCE]), names)
attrs = st.one_of(prefixed, st.builds(Attr, st.just(ATTR_LOCAL), local_names))
REL = [c for c, i in OPS.items() if i.family in ("rel", "contains")]
MEMBER = [c for c, i in OPS.items() if i.family == "member"]
EXISTS = [c for c, i in OPS.items() if i.family == "exists"]

leaf_conditions = st.one_of(
    attrs,
    st.builds(
        lambda c, a, b: Op(c, (a, b)), st.sampled_from(REL), attrs, st.one_of(prefixed, values)
    ),
    st.builds(lambda c, v: Op(c, (v,)), st.sampled_from(MEMBER), values),
    st.builds(lambda c, a: Op(c, (a,)), st.sampled_from(EXISTS), attrs),
)
conditions = st.recursive(
    leaf_conditions,
    lambda inner: st.one_of(
        st.builds(lambda a, b: Op(0xA0, (a, b)), inner, inner),
        st.builds(lambda a, b: Op(0xA1, (a, b)), inner, inner),
        st.builds(lambda a: Op(0xA2, (a,)), inner),
    ),
    max_leaves=8,
)


@st.composite
def claims(draw):
    vtype = draw(st.sampled_from([1, 2, 3, 5, 6, 0x10]))
    gen = {
        1: st.integers(-(1 << 63), (1 << 63) - 1),
        2: st.integers(0, (1 << 64) - 1),
        3: strings.filter(lambda v: "\0" not in v),  # NUL-terminated in the binary form
        5: sids,
        6: st.integers(0, 1),
        0x10: st.binary(max_size=6),
    }[vtype]
    vals = draw(st.lists(gen, max_size=3))
    flags = draw(st.integers(0, 0xFFFFFFFF)) & ~0xFF00
    return ClaimAttribute(draw(names), vtype, tuple(vals), flags)


guids = st.one_of(st.none(), st.uuids().map(lambda u: uuid.UUID(int=u.int)))


@st.composite
def aces(draw, sacl: bool):
    kinds = (
        ["AU", "AL", "OU", "OL", "XU", "ML", "RA", "SP"]
        if sacl
        else ["A", "D", "OA", "OD", "XA", "XD", "ZA"]
    )
    code = {
        "A": 0,
        "D": 1,
        "AU": 2,
        "AL": 3,
        "OA": 5,
        "OD": 6,
        "OU": 7,
        "OL": 8,
        "XA": 9,
        "XD": 10,
        "ZA": 11,
        "XU": 13,
        "ML": 0x11,
        "RA": 0x12,
        "SP": 0x13,
    }[draw(st.sampled_from(kinds))]
    ace = Ace(code, draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFFFFFF)), draw(sids))
    if code in (5, 6, 7, 8, 11):
        ace.object_type, ace.inherited_object_type = draw(guids), draw(guids)
    if code in (9, 10, 11, 13):
        ace.application_data = encode_condition(draw(conditions))
    if code == 0x12:
        ace.application_data = encode_claim(draw(claims()))
    return ace


@st.composite
def descriptors(draw):
    sd = SecurityDescriptor(draw(st.one_of(st.none(), sids)), draw(st.one_of(st.none(), sids)))
    for is_dacl in (True, False):
        choice = draw(st.sampled_from(["absent", "null", "list"]))
        if choice == "absent":
            continue
        bits = draw(st.sets(st.sampled_from([0x1000, 0x0100, 0x0400])))
        for b in bits:
            sd.control |= b if is_dacl else b << 1
        acl = None if choice == "null" else Acl(draw(st.lists(aces(not is_dacl), max_size=5)))
        sd.control |= 0x4 if is_dacl else 0x10
        if is_dacl:
            sd.dacl = acl
        else:
            sd.sacl = acl
    return sd


@SETTINGS
@given(descriptors())
def test_bytes_and_sddl_round_trip(sd: SecurityDescriptor) -> None:
    blob = encode_sd(sd)
    decoded = decode_sd(blob)
    assert encode_sd(decoded) == blob  # decode . encode = identity
    text = sd_to_sddl(decoded, DOMAIN)
    again = parse_sddl(text, DOMAIN)
    assert encode_sd(again) == blob  # SDDL carries everything
    assert sd_to_sddl(again, DOMAIN) == text  # parse . write = identity on canonical SDDL
    compile_descriptor(decoded)


@SETTINGS
@given(conditions)
def test_condition_tokens_round_trip(node) -> None:
    data = encode_condition(node)
    assert encode_condition(decode_condition(data + b"\0" * (-len(data) % 4))) == data


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    for blob in (data, b"\x01\x00\x04\x80" + data, b"artx" + data):
        try:
            sd = decode_sd(blob)
            sd_to_sddl(sd)
            compile_descriptor(sd)
        except SecurityError:
            pass
        try:
            decode_condition(blob)
        except SecurityError:
            pass


@SETTINGS
@given(descriptors(), st.data())
def test_mutated_descriptors_never_crash(sd: SecurityDescriptor, data) -> None:
    blob = bytearray(encode_sd(sd))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_sd(bytes(blob))
        sd_to_sddl(decoded)
        compile_descriptor(decoded)
    except SecurityError:
        pass


SDDL_CHARS = st.sampled_from(
    list('OGDS:();AXIC0x1fFRW@User.Device==!&&|{}"#SID-5 ,abTsPM') + ["Member_of", "SID(", "S-1-"]
)


@SETTINGS
@given(st.lists(SDDL_CHARS, max_size=60).map("".join))
def test_random_sddl_only_raises_sddl_error(text: str) -> None:
    try:
        parse_sddl(text, DOMAIN)
    except SddlError as exc:
        assert exc.column is not None and 1 <= exc.column <= len(text) + 1


_DATA = Path(__file__).resolve().parents[1] / "data" / "samba_sddl"
SEEDS = [
    line.partition(" -> ")[0]
    for name in (
        "conditional_aces.txt",
        "windows_non_canonical_excerpt.txt",
        "windows_is_less_fussy.txt",
    )
    for line in (_DATA / name).read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


@SETTINGS
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_corpus_sddl(seed: str, data) -> None:
    """Near-valid SDDL: only SddlError, and whatever parses has a canonical fixed point."""
    text = list(seed)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = data.draw(st.sampled_from(list('();:{}"#@!&|=<> ,-0x1aSIDWA%')))
        if op == "insert":
            text.insert(i, ch)
        elif i < len(text):
            if op == "delete":
                del text[i]
            else:
                text[i] = ch
    mutated = "".join(text)
    try:
        sd = parse_sddl(mutated, DOMAIN)
    except SddlError as exc:
        assert 1 <= exc.column <= len(mutated) + 1
        return
    try:
        blob = encode_sd(sd)
    except SecurityError:
        return  # e.g. an ACE grown beyond 65535 bytes
    canonical = sd_to_sddl(decode_sd(blob), DOMAIN)
    assert encode_sd(parse_sddl(canonical, DOMAIN)) == blob
