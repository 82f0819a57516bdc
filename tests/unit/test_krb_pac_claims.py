"""PAC identity codecs: PAC_LOGON_INFO decoding, claims (PAC_CLIENT/DEVICE_CLAIMS_INFO),
PAC_DEVICE_INFO, identity_sids.

Oracles: PACs issued by Windows Server 2019/2022, published in samba-team/samba
``python/samba/tests/krb5/claims_in_pac.py`` (``tests/data/samba_pac/``, see its README), the
claim rules Samba observed on Windows (``python/samba/tests/krb5/conditional_ace_tests.py``,
``pac_claim_cases``), and impacket's NDR structures (``impacket.krb5.pac``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5.ndr import NDRPOINTER, NDRUniConformantArray
from impacket.dcerpc.v5.nrpc import GROUP_MEMBERSHIP
from impacket.dcerpc.v5.rpcrt import TypeSerialization1
from impacket.krb5 import pac as IP

from lanman.kerberos import pac as P
from lanman.kerberos.pac_claims import (
    CLAIMS_SOURCE_TYPE_AD,
    CLAIMS_SOURCE_TYPE_CERTIFICATE,
    SILO_CLAIM_ID,
    ClaimsError,
    DuplicateClaimValueError,
    decode_claims_set,
    encode_claims,
    encode_claims_set,
    silo_claim,
    token_claims,
)
from lanman.kerberos.pac_device import (
    DeviceInfo,
    DomainGroupMembership,
    build_device_info,
    parse_device_info,
)
from lanman.kerberos.pac_logon import identity_sids, parse_logon_info
from lanman.kerberos.pac_ndr import PacFormatError, SidAttr
from lanman.security.claims import BOOLEAN, INT64, SID, STRING, UINT64, ClaimAttribute
from lanman.xpress_huff import XpressError, decompress

DATA = Path(__file__).resolve().parents[1] / "data" / "samba_pac"
DOMAIN = "S-1-5-21-1-2-3"
WIN22 = "S-1-5-21-1957174079-2605274266-1503923937"
CLAIMS_VALID = "S-1-5-21-0-0-0-497"  # Windows puts it in ExtraSids


def windows_pac(name: str) -> P.Pac:
    return P.Pac.parse(bytes.fromhex("".join((DATA / f"{name}.hex").read_text().split())))


def logon_info(**kw) -> P.LogonInfo:
    base = {
        "logon_time": 1_700_000_000.0,
        "effective_name": "alice",
        "full_name": "Alice Example",
        "user_id": 1104,
        "primary_group_id": 513,
        "group_ids": [513, 1105],
        "logon_server": "DC1",
        "logon_domain_name": "EXAMPLE",
        "logon_domain_id": DOMAIN,
    }
    base.update(kw)
    return P.LogonInfo(**base)


def rejects(fn, data: bytes) -> None:
    with pytest.raises(P.PacError):
        fn(data)


# ---------------------------------------------------------------------------------------------
# PAC_LOGON_INFO
# ---------------------------------------------------------------------------------------------


def test_logon_info_round_trip_with_resource_groups():
    info = logon_info(
        extra_sids=["S-1-18-1", ("S-1-5-21-7-7-7-9", P.RESOURCE_GROUP_ATTRS)],
        resource_group_domain_sid="S-1-5-21-5-5-5",
        resource_group_ids=[1000, 1001],
        user_account_control=0x210,
        logon_count=3,
        bad_password_count=1,
    )
    got = parse_logon_info(P.build_logon_info(info))
    assert got.user_sid == f"{DOMAIN}-1104"
    assert got.primary_group_sid == f"{DOMAIN}-513"
    assert got.groups == (SidAttr(f"{DOMAIN}-513", 7), SidAttr(f"{DOMAIN}-1105", 7))
    assert got.extra_sids == (
        SidAttr("S-1-18-1", P.GROUP_ATTRS),
        SidAttr("S-1-5-21-7-7-7-9", 0x20000007),
    )
    assert got.resource_group_domain_sid == "S-1-5-21-5-5-5"
    assert got.resource_groups == (
        SidAttr("S-1-5-21-5-5-5-1000", 0x20000007),
        SidAttr("S-1-5-21-5-5-5-1001", 0x20000007),
    )
    assert got.user_flags == P.LOGON_EXTRA_SIDS | P.LOGON_RESOURCE_GROUPS
    assert (got.effective_name, got.full_name) == ("alice", "Alice Example")
    assert (got.logon_server, got.logon_domain_name) == ("DC1", "EXAMPLE")
    assert got.user_account_control == 0x210
    assert (got.logon_count, got.bad_password_count) == (3, 1)
    assert got.logon_time == P.unix_to_filetime(1_700_000_000.0)


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
rids = st.integers(0, 0xFFFFFFFF)
sids = st.builds(
    lambda auth, subs: "S-1-" + str(auth) + "".join(f"-{s}" for s in subs),
    st.integers(0, 0xFFFFFFFF),
    st.lists(rids, max_size=15),
)


@settings(max_examples=150, deadline=None)
@given(
    names,
    names,
    rids,
    st.lists(rids, max_size=6),
    st.lists(st.tuples(sids, st.integers(0, 0xFFFFFFFF)), max_size=4),
    st.none() | sids,
    st.lists(rids, max_size=4),
)
def test_logon_info_round_trip_property(name, server, uid, groups, extra, rg_domain, rg_ids):
    info = logon_info(
        effective_name=name,
        logon_server=server,
        user_id=uid,
        group_ids=groups,
        extra_sids=extra,
        resource_group_domain_sid=rg_domain,
        resource_group_ids=rg_ids,
    )
    got = parse_logon_info(P.build_logon_info(info))
    assert (got.effective_name, got.logon_server, got.user_id) == (name, server, uid)
    assert [g.sid for g in got.groups] == [f"{DOMAIN}-{r}" for r in dict.fromkeys(groups)]
    assert got.extra_sids == tuple(SidAttr(s, a) for s, a in extra)
    want_rg = [f"{rg_domain}-{r}" for r in dict.fromkeys(rg_ids)] if rg_domain else []
    assert [g.sid for g in got.resource_groups] == want_rg


@pytest.mark.parametrize(
    ("name", "account", "user_sid", "server", "domain"),
    [
        ("uncompressed", "720fd3c3_10", f"{WIN22}-1198", "ABARTLET-DC-WIN", "WIN22"),
        ("compressed", "720fd3c3_6", f"{WIN22}-1197", "ABARTLET-DC-WIN", "WIN22"),
        (
            "int64_claim",
            "username",
            "S-1-5-21-4119591868-3001629103-3445594911-25155",
            "WIN2K19-DC",
            "example",
        ),
    ],
)
def test_logon_info_from_windows(name, account, user_sid, server, domain):
    """KERB_VALIDATION_INFO as Windows KDCs write it (Samba's claims_in_pac.py vectors)."""
    got = parse_logon_info(windows_pac(name).get(P.PAC_LOGON_INFO))
    assert got.effective_name == account
    assert got.user_sid == user_sid
    assert got.primary_group_sid == user_sid.rpartition("-")[0] + "-513"
    assert got.groups == (SidAttr(got.primary_group_sid, 7),)
    assert got.extra_sids == (SidAttr(CLAIMS_VALID, 7), SidAttr("S-1-18-1", 7))
    assert (got.logon_server, got.logon_domain_name) == (server, domain)
    assert got.user_flags == P.LOGON_EXTRA_SIDS
    assert got.user_account_control == 0x10
    assert got.resource_group_domain_sid is None and got.resource_groups == ()


def _impacket_logon_info() -> bytes:
    """A KERB_VALIDATION_INFO built with impacket's structures, as ticketer.py builds one."""
    k = IP.KERB_VALIDATION_INFO()
    for ft in ("LogonTime", "LogoffTime", "KickOffTime", "PasswordLastSet", "PasswordCanChange",
               "PasswordMustChange", "LastSuccessfulILogon", "LastFailedILogon"):  # fmt: skip
        k[ft]["dwLowDateTime"] = 0
        k[ft]["dwHighDateTime"] = 0
    k["EffectiveName"] = "bob"
    for f in ("FullName", "LogonScript", "ProfilePath", "HomeDirectory", "HomeDirectoryDrive"):
        k[f] = ""
    k["LogonCount"] = 7
    k["BadPasswordCount"] = 0
    k["UserId"] = 1200
    k["PrimaryGroupId"] = 513
    for rid in (513, 512):
        g = GROUP_MEMBERSHIP()
        g["RelativeId"] = rid
        g["Attributes"] = 7
        k["GroupIds"].append(g)
    k["GroupCount"] = 2
    k["UserFlags"] = P.LOGON_EXTRA_SIDS | P.LOGON_RESOURCE_GROUPS
    k["UserSessionKey"] = bytes(16)
    k["LogonServer"] = "DC2"
    k["LogonDomainName"] = "EXAMPLE"
    k["LogonDomainId"].fromCanonical(DOMAIN)
    k["LMKey"] = bytes(8)
    k["UserAccountControl"] = 0x210
    k["SubAuthStatus"] = 0
    k["FailedILogonCount"] = 0
    k["Reserved3"] = 0
    k["ExtraSids"] = IP.PKERB_SID_AND_ATTRIBUTES_ARRAY()
    for sid, attrs in (("S-1-18-1", 7), ("S-1-5-21-7-7-7-9", 0x20000007)):
        e = IP.KERB_SID_AND_ATTRIBUTES()
        e["Sid"].fromCanonical(sid)
        e["Attributes"] = attrs
        k["ExtraSids"].append(e)
    k["SidCount"] = 2
    k["ResourceGroupDomainSid"].fromCanonical("S-1-5-21-5-5-5")
    g = GROUP_MEMBERSHIP()
    g["RelativeId"] = 1000
    g["Attributes"] = 0x20000007
    k["ResourceGroupIds"].append(g)
    k["ResourceGroupCount"] = 1
    v = IP.VALIDATION_INFO()
    v["Data"] = k
    return v.getData() + v.getDataReferents()


def test_logon_info_built_by_impacket():
    got = parse_logon_info(_impacket_logon_info())
    assert got.effective_name == "bob" and got.logon_server == "DC2"
    assert got.user_sid == f"{DOMAIN}-1200"
    assert [g.sid for g in got.groups] == [f"{DOMAIN}-513", f"{DOMAIN}-512"]
    assert got.extra_sids[1] == SidAttr("S-1-5-21-7-7-7-9", P.RESOURCE_GROUP_ATTRS)
    assert got.resource_groups == (SidAttr("S-1-5-21-5-5-5-1000", 0x20000007),)
    assert got.user_account_control == 0x210 and got.logon_count == 7


def test_impacket_reads_our_logon_info():
    data = P.build_logon_info(
        logon_info(
            extra_sids=[("S-1-5-21-7-7-7-9", P.RESOURCE_GROUP_ATTRS)],
            resource_group_domain_sid="S-1-5-21-5-5-5",
            resource_group_ids=[1000],
        )
    )
    v = IP.VALIDATION_INFO()
    v.fromString(data)
    v.fromStringReferents(data, len(v.getData()))
    k = v["Data"]
    assert k["EffectiveName"] == "alice" and k["UserId"] == 1104
    assert k["UserFlags"] == P.LOGON_EXTRA_SIDS | P.LOGON_RESOURCE_GROUPS
    assert k["ResourceGroupDomainSid"].formatCanonical() == "S-1-5-21-5-5-5"
    assert [(g["RelativeId"], g["Attributes"]) for g in k["ResourceGroupIds"]] == [
        (1000, 0x20000007)
    ]
    assert [(e["Sid"].formatCanonical(), e["Attributes"]) for e in k["ExtraSids"]] == [
        ("S-1-5-21-7-7-7-9", 0x20000007)
    ]


def _patched(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + struct.pack("<I", value) + data[offset + 4 :]


# Offsets in a PAC_LOGON_INFO: 16 bytes of headers, the top-level referent, then the structure.
_KVI = 20
_GROUP_COUNT = _KVI + 48 + 48 + 4 + 8
_USER_FLAGS = _GROUP_COUNT + 8


def test_identity_sids_resource_groups():
    ident = parse_logon_info(
        P.build_logon_info(
            logon_info(
                extra_sids=["S-1-18-1", ("S-1-5-21-7-7-7-9", P.RESOURCE_GROUP_ATTRS)],
                resource_group_domain_sid="S-1-5-21-5-5-5",
                resource_group_ids=[1000],
            )
        )
    )
    base = [f"{DOMAIN}-1104", f"{DOMAIN}-513", f"{DOMAIN}-1105", "S-1-18-1"]
    assert identity_sids(ident, include_resource_groups=False) == base
    assert identity_sids(ident, include_resource_groups=True) == base + [
        "S-1-5-21-7-7-7-9",
        "S-1-5-21-5-5-5-1000",
    ]


def test_resource_groups_need_the_user_flag():
    data = P.build_logon_info(
        logon_info(resource_group_domain_sid="S-1-5-21-5-5-5", resource_group_ids=[1000])
    )
    assert struct.unpack_from("<I", data, _USER_FLAGS)[0] == P.LOGON_RESOURCE_GROUPS
    ident = parse_logon_info(_patched(data, _USER_FLAGS, 0))
    assert ident.resource_groups == (SidAttr("S-1-5-21-5-5-5-1000", 0x20000007),)
    assert "S-1-5-21-5-5-5-1000" not in identity_sids(ident, include_resource_groups=True)


def test_logon_info_malformed():
    good = P.build_logon_info(logon_info())
    assert struct.unpack_from("<I", good, _GROUP_COUNT)[0] == 2
    rejects(parse_logon_info, good[:15])
    rejects(parse_logon_info, b"\x02" + good[1:])  # version 2
    rejects(parse_logon_info, good[:1] + b"\x00" + good[2:])  # big-endian
    rejects(parse_logon_info, _patched(good, 8, len(good)))  # ObjectBufferLength too long
    rejects(parse_logon_info, _patched(good, 16, 0))  # NULL KERB_VALIDATION_INFO
    rejects(parse_logon_info, _patched(good, _GROUP_COUNT, 3))  # count != array size
    rejects(parse_logon_info, _patched(good, _GROUP_COUNT, 0x10000000))
    rejects(parse_logon_info, _patched(good, _GROUP_COUNT + 4, 0))  # NULL GroupIds, count 2


def _fuzz(fn, data: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    """Truncated data is rejected with a PacError; flipped bytes decode or raise PacError."""
    with pytest.raises(P.PacError):
        fn(data[: cut % len(data)])
    mutated = bytearray(data)
    for pos, byte in flips:
        mutated[pos % len(data)] = byte
    try:
        fn(bytes(mutated))
    except P.PacError:
        pass


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
flips = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4)


@FUZZ
@given(st.integers(0, 1 << 16), flips)
def test_logon_info_fuzz(cut, changes):
    data = P.build_logon_info(
        logon_info(
            extra_sids=["S-1-18-1"], resource_group_domain_sid="S-1-5-21-5", resource_group_ids=[9]
        )
    )
    _fuzz(parse_logon_info, data, cut, changes)


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------


def test_claims_from_windows_uncompressed_and_byte_exact_reencoding():
    data = windows_pac("uncompressed").get(P.PAC_CLIENT_CLAIMS)
    assert decode_claims_set(data) == [
        (
            CLAIMS_SOURCE_TYPE_AD,
            [
                ClaimAttribute("720fd3c3_9", BOOLEAN, (1,)),
                ClaimAttribute("720fd3c3_7", STRING, ("foo", "bar", "baz")),
                ClaimAttribute("720fd3c3_8", UINT64, (655369, 65543, 65542, 65536)),
            ],
        )
    ]
    assert encode_claims(decode_claims_set(data)) == data


def test_claims_from_windows_int64_byte_exact():
    data = windows_pac("int64_claim").get(P.PAC_CLIENT_CLAIMS)
    claims = decode_claims_set(data)
    assert claims == [
        (CLAIMS_SOURCE_TYPE_AD, [ClaimAttribute("a claim", INT64, (3, 42, -999, 1000, 20000))])
    ]
    assert encode_claims(claims) == data


def test_claims_from_windows_xpress_huff():
    """A CLAIMS_SET Windows compressed with MS-XCA LZ77+Huffman (8232 -> 553 bytes)."""
    data = windows_pac("compressed").get(P.PAC_CLIENT_CLAIMS)
    assert struct.unpack_from("<IIHxxI", data, 20)[0::2] == (553, 4)  # size, XPRESS_HUFF
    [(source, claims)] = decode_claims_set(data)
    assert source == CLAIMS_SOURCE_TYPE_AD
    assert [c.name for c in claims] == [f"720fd3c3_{i}" for i in (4, 0, 1, 2, 3)]
    assert claims[0] == ClaimAttribute("720fd3c3_4", BOOLEAN, (1,))
    assert claims[1].values[:3] == ("A first value.", "A second value.", "A third value.")
    assert claims[2].values == (
        "DC=win22,DC=example,DC=com",
        "CN=Users,DC=win22,DC=example,DC=com",
        "CN=Computers,DC=win22,DC=example,DC=com",
    )
    assert claims[3] == ClaimAttribute("720fd3c3_2", UINT64, (655369, 65543, 65542, 65536))
    # Re-encoded uncompressed, the CLAIMS_SET has the size Windows compressed from.
    ours = encode_claims([(source, claims)])
    uncompressed = struct.unpack_from("<I", data, 32)[0]
    assert uncompressed == 8232 == struct.unpack_from("<I", ours, 20)[0]
    assert decode_claims_set(ours) == [(source, claims)]


def test_xpress_huff_rejects_damage():
    data = windows_pac("compressed").get(P.PAC_CLIENT_CLAIMS)
    blob = data[52 : 52 + 553]  # after the headers, the metadata and the array size
    assert len(decompress(blob, 8232)) == 8232
    for bad in (blob[:200], blob[:300]):
        with pytest.raises(XpressError):
            decompress(bad, 8232)
    with pytest.raises(XpressError, match="complete"):
        decompress(bytes(256) + blob[256:], 8232)  # no code lengths at all
    with pytest.raises(XpressError, match="complete"):
        decompress(b"\xff" * 256 + blob[256:], 8232)  # 512 codes of 15 bits: 1/64 of the space
    with pytest.raises(XpressError, match="over-subscribed"):
        decompress(b"\x11" * 256 + blob[256:], 8232)  # 512 codes of 1 bit
    with pytest.raises(XpressError, match="outside"):
        decompress(blob, 8000)  # the last match runs past the expected size


claim_values = {
    INT64: st.lists(st.integers(-(1 << 63), (1 << 63) - 1), max_size=4, unique=True),
    UINT64: st.lists(st.integers(0, (1 << 64) - 1), max_size=4, unique=True),
    BOOLEAN: st.lists(st.integers(0, 1), max_size=2, unique=True),
    STRING: st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")),
        max_size=4,
    ),
}
claim_ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
claims_strategy = st.sampled_from(sorted(claim_values)).flatmap(
    lambda t: st.builds(lambda n, v: ClaimAttribute(n, t, tuple(v)), claim_ids, claim_values[t])
)
claim_arrays = st.lists(
    st.tuples(st.integers(0, 0xFFFF), st.lists(claims_strategy, max_size=4)), max_size=3
)


@settings(max_examples=200, deadline=None)
@given(claim_arrays)
def test_claims_round_trip(arrays):
    data = encode_claims(arrays)
    assert decode_claims_set(data) == [(t, list(c)) for t, c in arrays]
    assert encode_claims(decode_claims_set(data)) == data


def _case(*arrays):
    return encode_claims(
        [(t, [ClaimAttribute(n, vt, tuple(v)) for n, vt, v in c]) for t, c in arrays]
    )


def test_token_claims_windows_rules():
    """Rows of Samba's pac_claim_cases (outcomes observed on Windows)."""
    a = "a"
    last_wins = _case(
        (CLAIMS_SOURCE_TYPE_AD, [(a, STRING, ["not the value"]), (a, STRING, ["nor this"])]),
        (CLAIMS_SOURCE_TYPE_CERTIFICATE, [(a, STRING, ["nor this either"])]),
        (CLAIMS_SOURCE_TYPE_CERTIFICATE, [(a, STRING, ["the actual value"])]),
        (3, [(a, STRING, ["a red herring"])]),
    )
    assert token_claims(last_wins) == {"a": ClaimAttribute(a, STRING, ("the actual value",))}
    for ignored in (0, 3):
        assert token_claims(_case((ignored, [(a, STRING, ["foo"])]))) == {}
    cert = token_claims(_case((CLAIMS_SOURCE_TYPE_CERTIFICATE, [("A", STRING, ["foo"])])))
    assert cert == {"a": ClaimAttribute("A", STRING, ("foo",))}
    spread = _case(
        (CLAIMS_SOURCE_TYPE_AD, [("dup", STRING, ["foo"]), ("dup", STRING, ["foo"])]),
        (CLAIMS_SOURCE_TYPE_CERTIFICATE, [("dup", UINT64, [42]), ("dup", UINT64, [42])]),
        (CLAIMS_SOURCE_TYPE_CERTIFICATE, [("dup", STRING, ["foo", "bar"])]),
    )
    assert token_claims(spread)["dup"].values == ("foo", "bar")
    empty = _case(
        (CLAIMS_SOURCE_TYPE_AD, [("e", INT64, []), ("e", UINT64, []), ("e", BOOLEAN, [])]),
        (CLAIMS_SOURCE_TYPE_AD, [("e", STRING, [])]),
    )
    assert token_claims(empty) == {"e": ClaimAttribute("e", STRING, ())}


@pytest.mark.parametrize(
    ("vtype", "values"),
    [
        (INT64, [42, 42, 42]),
        (UINT64, [42, 42]),
        (STRING, ["foo", "foo"]),
        (STRING, ["FOO", "foo"]),
        (BOOLEAN, [0, 0]),
    ],
)
def test_token_claims_duplicate_values(vtype, values):
    data = _case((CLAIMS_SOURCE_TYPE_AD, [("a", vtype, values)]))
    assert decode_claims_set(data)[0][1][0].values == tuple(values)  # decodes as it is
    with pytest.raises(DuplicateClaimValueError):
        token_claims(data)


def test_token_claims_boolean_must_be_zero_or_one():
    with pytest.raises(ClaimsError):
        token_claims(_case((CLAIMS_SOURCE_TYPE_AD, [("b", BOOLEAN, [2])])))


def test_silo_claim():
    data = silo_claim("Tier0 Silo")
    assert decode_claims_set(data) == [
        (CLAIMS_SOURCE_TYPE_AD, [ClaimAttribute(SILO_CLAIM_ID, STRING, ("Tier0 Silo",))])
    ]
    assert SILO_CLAIM_ID == "ad://ext/AuthenticationSilo"
    assert "ad://ext/AuthenticationSilo".encode("utf-16-le") in data
    assert token_claims(data)["ad://ext/authenticationsilo"].values == ("Tier0 Silo",)
    assert data == encode_claims_set([ClaimAttribute(SILO_CLAIM_ID, STRING, ("Tier0 Silo",))])


def test_claims_unsupported_compression_and_types():
    data = encode_claims_set([ClaimAttribute("x", STRING, ("y",))])
    assert struct.unpack_from("<H", data, 28)[0] == 0  # CompressionFormat NONE
    for fmt in (2, 3, 7):  # LZNT1, XPRESS, unknown
        bad = data[:28] + struct.pack("<H", fmt) + data[30:]
        with pytest.raises(ClaimsError, match=f"compression format {fmt}"):
            decode_claims_set(bad)
    with pytest.raises(ClaimsError):
        encode_claims_set([ClaimAttribute("s", SID, ("S-1-1-0",))])
    # A CLAIM_ENTRY of type SID (5): Type and discriminant patched in the inner CLAIMS_SET.
    i = data.index(struct.pack("<HH", STRING, STRING))
    bad = data[:i] + struct.pack("<HH", SID, SID) + data[i + 4 :]
    with pytest.raises(ClaimsError, match="claim type 5"):
        decode_claims_set(bad)
    bad = data[:i] + struct.pack("<HH", STRING, INT64) + data[i + 4 :]
    with pytest.raises(ClaimsError, match="discriminant"):
        decode_claims_set(bad)


def test_empty_claims_buffers():
    assert decode_claims_set(encode_claims([])) == []
    assert token_claims(encode_claims([(CLAIMS_SOURCE_TYPE_AD, [])])) == {}


@FUZZ
@given(st.integers(0, 1 << 16), flips)
def test_claims_fuzz(cut, changes):
    data = _case(
        (CLAIMS_SOURCE_TYPE_AD, [("s", STRING, ["foo", "bar"]), ("i", INT64, [-1, 5])]),
        (CLAIMS_SOURCE_TYPE_CERTIFICATE, [("b", BOOLEAN, [1])]),
    )
    _fuzz(token_claims, data, cut, changes)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 1 << 16), flips)
def test_compressed_claims_fuzz(cut, changes):
    _fuzz(decode_claims_set, windows_pac("compressed").get(P.PAC_CLIENT_CLAIMS), cut, changes)


# ---------------------------------------------------------------------------------------------
# PAC_DEVICE_INFO
# ---------------------------------------------------------------------------------------------

DEVICE = DeviceInfo(
    user_id=1105,
    primary_group_id=515,
    account_domain_id=DOMAIN,
    account_group_ids=((515, 7), (1200, 7)),
    extra_sids=(SidAttr("S-1-18-1", 7),),
    domain_groups=(
        DomainGroupMembership("S-1-5-21-9-9-9", ((1000, 0x20000007), (1001, 0x20000007))),
        DomainGroupMembership("S-1-5-21-8-8-8", ()),
    ),
)


def test_device_info_round_trip_and_sids():
    got = parse_device_info(build_device_info(DEVICE))
    assert got == DEVICE
    assert identity_sids(got, include_resource_groups=False) == [
        f"{DOMAIN}-1105",
        f"{DOMAIN}-515",
        f"{DOMAIN}-1200",
        "S-1-18-1",
    ]
    assert identity_sids(got, include_resource_groups=True)[-2:] == [
        "S-1-5-21-9-9-9-1000",
        "S-1-5-21-9-9-9-1001",
    ]


class _DomainGroups(NDRUniConformantArray):
    item = IP.DOMAIN_GROUP_MEMBERSHIP


class _PDomainGroups(NDRPOINTER):
    referent = (("Data", _DomainGroups),)


class _DeviceInfo(IP.PAC_DEVICE_INFO):
    """impacket's PAC_DEVICE_INFO with DomainGroup pointing to DOMAIN_GROUP_MEMBERSHIPs (its
    own declaration points to KERB_SID_AND_ATTRIBUTES by mistake)."""

    structure = IP.PAC_DEVICE_INFO.structure[:-1] + (("DomainGroup", _PDomainGroups),)


class _PDeviceInfo(NDRPOINTER):
    referent = (("Data", _DeviceInfo),)


class _DeviceInfoBuffer(TypeSerialization1):
    structure = (("Data", _PDeviceInfo),)


def test_impacket_reads_our_device_info():
    data = build_device_info(DEVICE)
    x = _DeviceInfoBuffer()
    x.fromString(data)
    x.fromStringReferents(data, len(x.getData()))
    d = x["Data"]
    assert (d["UserId"], d["PrimaryGroupId"]) == (1105, 515)
    assert d["AccountDomainId"].formatCanonical() == DOMAIN
    assert [(g["RelativeId"], g["Attributes"]) for g in d["AccountGroupIds"]] == [
        (515, 7),
        (1200, 7),
    ]
    assert [(e["Sid"].formatCanonical(), e["Attributes"]) for e in d["ExtraSids"]] == [
        ("S-1-18-1", 7)
    ]
    assert [
        (
            g["DomainId"].formatCanonical(),
            [(m["RelativeId"], m["Attributes"]) for m in g["GroupIds"]],
        )
        for g in d["DomainGroup"]
    ] == [("S-1-5-21-9-9-9", [(1000, 0x20000007), (1001, 0x20000007)]), ("S-1-5-21-8-8-8", [])]


@settings(max_examples=100, deadline=None)
@given(
    rids,
    rids,
    sids,
    st.lists(st.tuples(rids, rids), max_size=4),
    st.lists(st.builds(SidAttr, sids, rids), max_size=3),
    st.lists(
        st.builds(
            DomainGroupMembership, sids, st.lists(st.tuples(rids, rids), max_size=3).map(tuple)
        ),
        max_size=3,
    ),
)
def test_device_info_round_trip_property(uid, gid, domain, groups, extra, domains):
    info = DeviceInfo(uid, gid, domain, tuple(groups), tuple(extra), tuple(domains))
    assert parse_device_info(build_device_info(info)) == info


@FUZZ
@given(st.integers(0, 1 << 16), flips)
def test_device_info_fuzz(cut, changes):
    _fuzz(parse_device_info, build_device_info(DEVICE), cut, changes)


def test_errors_are_pac_errors():
    assert issubclass(DuplicateClaimValueError, ClaimsError)
    assert issubclass(ClaimsError, PacFormatError)
    assert issubclass(PacFormatError, P.PacError) and issubclass(P.PacError, ValueError)
