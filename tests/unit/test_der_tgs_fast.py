"""Single-pass TGS readers (kdc/wire.py ``*_fast``) against the general readers: same result on
valid messages (hypothesis), same error class on mutated / truncated ones (fuzz)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanman.kerberos import asn1
from lanman.kerberos.der import DerError
from lanman.kerberos.kdc import wire

T0 = 1_700_000_000

names = st.builds(
    lambda nt, comps: {"name-type": nt, "name-string": comps},
    st.integers(-(2**31), 2**31 - 1),
    st.lists(
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=150),
        min_size=1,
        max_size=4,
    ),
)
realms = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)
times = st.integers(0, 2**33).map(lambda t: asn1.KerberosTime(t))
octets = st.binary(max_size=300)
ints = st.integers(-(2**31), 2**31 - 1)
flags = st.integers(0, 2**32 - 1).map(asn1.flags_from_int)
keys = st.builds(
    lambda t, v: {"keytype": t, "keyvalue": v}, ints, st.binary(min_size=1, max_size=40)
)
enc = st.builds(
    lambda e, k, c: (
        {"etype": e, "kvno": k, "cipher": c} if k is not None else {"etype": e, "cipher": c}
    ),
    ints,
    st.none() | ints,
    octets,
)


def _opt(d: dict, key: str, value) -> None:
    if value is not None:
        d[key] = value


@st.composite
def ap_reqs(draw) -> bytes:
    ticket = {
        "tkt-vno": draw(ints),
        "realm": draw(realms),
        "sname": draw(names),
        "enc-part": draw(enc),
    }
    return asn1.APReq(
        {
            "pvno": draw(ints),
            "msg-type": draw(ints),
            "ap-options": draw(flags),
            "ticket": ticket,
            "authenticator": draw(enc),
        }
    ).dump()


@st.composite
def tgs_reqs(draw) -> bytes:
    body: dict = {
        "kdc-options": draw(flags),
        "realm": draw(realms),
        "nonce": draw(ints),
        "etype": draw(st.lists(ints, max_size=6)),
    }
    _opt(body, "cname", draw(st.none() | names))
    _opt(body, "sname", draw(st.none() | names))
    for k in ("from", "till", "rtime"):
        _opt(body, k, draw(st.none() | times))
    _opt(
        body,
        "addresses",
        draw(
            st.none()
            | st.lists(
                st.builds(lambda t, a: {"addr-type": t, "address": a}, ints, octets), max_size=3
            )
        ),
    )
    pa = draw(
        st.lists(
            st.builds(
                lambda t, v: {"padata-type": t, "padata-value": v},
                st.sampled_from([133, 149, 7]),
                octets,
            ),
            max_size=3,
        )
    )
    if draw(st.booleans()):
        pa.insert(
            draw(st.integers(0, len(pa))), {"padata-type": 1, "padata-value": draw(ap_reqs())}
        )
    msg: dict = {"pvno": draw(ints), "msg-type": draw(ints), "req-body": body}
    if pa or draw(st.booleans()):
        msg["padata"] = pa
    return asn1.TGSReq(msg).dump()


@st.composite
def enc_ticket_parts(draw) -> bytes:
    d: dict = {
        "flags": draw(flags),
        "key": draw(keys),
        "crealm": draw(realms),
        "cname": draw(names),
        "transited": {"tr-type": draw(ints), "contents": draw(octets)},
        "authtime": draw(times),
        "endtime": draw(times),
    }
    _opt(d, "starttime", draw(st.none() | times))
    _opt(d, "renew-till", draw(st.none() | times))
    _opt(
        d,
        "caddr",
        draw(
            st.none()
            | st.lists(
                st.builds(lambda t, a: {"addr-type": t, "address": a}, ints, octets), max_size=2
            )
        ),
    )
    _opt(
        d,
        "authorization-data",
        draw(
            st.none()
            | st.lists(
                st.builds(
                    lambda t, a: {"ad-type": t, "ad-data": a}, ints, st.binary(max_size=2000)
                ),
                max_size=3,
            )
        ),
    )
    return asn1.EncTicketPart(d).dump()


@st.composite
def authenticators(draw) -> bytes:
    d: dict = {
        "authenticator-vno": draw(ints),
        "crealm": draw(realms),
        "cname": draw(names),
        "cusec": draw(ints),
        "ctime": draw(times),
    }
    _opt(
        d,
        "cksum",
        draw(st.none() | st.builds(lambda t, c: {"cksumtype": t, "checksum": c}, ints, octets)),
    )
    _opt(d, "subkey", draw(st.none() | keys))
    _opt(d, "seq-number", draw(st.none() | ints))
    return asn1.Authenticator(d).dump()


def _plain(obj):
    if obj is None or isinstance(obj, (int, str, bytes)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return {k: _plain(getattr(obj, k)) for k in obj.__slots__}


def _old_tgs(data: bytes):
    m = wire.parse_kdc_req(data, 12)
    ap_bytes = next((v for t, v in m.padata if t == 1), None)
    return m, (wire.parse_ap_req(ap_bytes) if ap_bytes is not None else None)


def _outcome(fn, data):
    try:
        return ("ok", _plain(fn(data)))
    except ValueError as exc:  # DerError and the KerberosTime reader's ValueError
        return ("error", type(exc) is DerError)


def _new_tgs(data: bytes):
    m, ap = wire.parse_tgs_req_fast(data, 1)
    if ap is None:  # the fast reader left the AP-REQ (if any) to the general reader
        ap_bytes = next((v for t, v in m.padata if t == 1), None)
        ap = wire.parse_ap_req(ap_bytes) if ap_bytes is not None else None
    return m, ap


@settings(max_examples=300, deadline=None)
@given(tgs_reqs())
def test_tgs_req_same_as_general_reader(data):
    old = _outcome(_old_tgs, data)
    assert _outcome(_new_tgs, data) == old
    if old[0] == "ok":  # the fast path itself took it (not the fallback)
        assert _plain(wire._tgs_req_1(data, 1)) == old[1]


@settings(max_examples=300, deadline=None)
@given(ap_reqs())
def test_ap_req_same_as_general_reader(data):
    assert _plain(wire._ap_req_1(data)) == _plain(wire.parse_ap_req(data))


@settings(max_examples=300, deadline=None)
@given(enc_ticket_parts())
def test_enc_ticket_part_same_as_general_reader(data):
    assert _plain(wire._enc_ticket_part_1(data)) == _plain(wire.parse_enc_ticket_part(data))
    assert _plain(wire.parse_enc_ticket_part_fast(data)) == _plain(wire.parse_enc_ticket_part(data))


@settings(max_examples=300, deadline=None)
@given(authenticators())
def test_authenticator_same_as_general_reader(data):
    assert _plain(wire._authenticator_1(data)) == _plain(wire.parse_authenticator(data))
    assert _plain(wire.parse_authenticator_fast(data)) == _plain(wire.parse_authenticator(data))


def _mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for kind, pos, val in ops:
        if not b:
            break
        p = pos % len(b)
        if kind == 0:
            b[p] = val
        elif kind == 1:
            del b[p:]
        elif kind == 2:
            b.insert(p, val)
        else:
            del b[p]
    return bytes(b)


mutations = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4
)


@settings(max_examples=400, deadline=None)
@given(tgs_reqs(), mutations)
def test_fuzz_tgs_req_never_accepts_what_general_rejects(data, ops):
    bad = _mutate(data, ops)
    assert _outcome(_new_tgs, bad) == _outcome(_old_tgs, bad)
    try:
        wire._tgs_req_1(bad, 1)
    except ValueError:
        pass
    else:  # the fast path accepted it: so did the general reader, with the same result
        assert _outcome(_old_tgs, bad)[0] == "ok"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        enc_ticket_parts().map(lambda d: ("etp", d)), authenticators().map(lambda d: ("auth", d))
    ),
    mutations,
)
def test_fuzz_decrypted_parts(kind_data, ops):
    kind, data = kind_data
    bad = _mutate(data, ops)
    fast, old = (
        (wire.parse_enc_ticket_part_fast, wire.parse_enc_ticket_part)
        if kind == "etp"
        else (wire.parse_authenticator_fast, wire.parse_authenticator)
    )
    assert _outcome(fast, bad) == _outcome(old, bad)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x6c",
        b"\x6c\x80\x30\x80\x00\x00\x00\x00",  # indefinite lengths
        b"\x6c\x85\x00\x00\x00\x00\x01\x30",  # 5-octet length
        b"\x6c\x84\xff\xff\xff\xff\x30\x00",  # length past the end
        b"\x6c\x02\x30\x00\x00",  # trailing data
    ],
)
def test_malformed_raise_der_error(data):
    with pytest.raises(DerError):
        wire.parse_tgs_req_fast(data, 1)
