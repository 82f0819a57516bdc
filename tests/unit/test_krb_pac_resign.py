"""PAC re-signing by splicing (pac.resign) gives the bytes Pac.sign gives after a full re-pack."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lanman.kerberos import crypto
from lanman.kerberos import pac as P

KEYS = {17: bytes(range(16)), 18: bytes(range(32)), 23: bytes(range(100, 116))}

buffer_types = st.sampled_from(
    [
        P.PAC_LOGON_INFO,
        P.PAC_CLIENT_INFO,
        P.PAC_UPN_DNS_INFO,
        P.PAC_ATTRIBUTES_INFO,
        P.PAC_REQUESTOR,
        P.PAC_SERVER_CHECKSUM,
        P.PAC_KDC_CHECKSUM,
        P.PAC_TICKET_CHECKSUM,
        P.PAC_FULL_CHECKSUM,
        P.PAC_DEVICE_INFO,
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(buffer_types, st.binary(max_size=90)), max_size=8),
    st.sampled_from([(), (P.PAC_ATTRIBUTES_INFO, P.PAC_REQUESTOR)]),
    st.sampled_from([17, 18, 23]),
    st.sampled_from([17, 18, 23]),
    st.none() | st.binary(max_size=200),
)
def test_resign_matches_full_sign(buffers, drop, s_etype, k_etype, ticket_body):
    pac = P.Pac([(t, d) for t, d in buffers if t not in P.SIGNATURE_TYPES and t not in drop])
    want = pac.sign(s_etype, KEYS[s_etype], k_etype, KEYS[k_etype], ticket_body)
    got = P.resign(buffers, drop, s_etype, KEYS[s_etype], k_etype, KEYS[k_etype], ticket_body)
    assert got == want
    back = P.verify_bytes(got, KEYS[s_etype], KEYS[k_etype])
    P.Pac(back.buffers).verify(KEYS[s_etype], KEYS[k_etype], ticket_body)


def test_resign_drops_and_orders_signatures_last():
    bufs = [
        (P.PAC_LOGON_INFO, b"L" * 13),
        (P.PAC_SERVER_CHECKSUM, b"x" * 16),
        (P.PAC_REQUESTOR, b"R" * 24),
        (P.PAC_KDC_CHECKSUM, b"y" * 16),
        (P.PAC_CLIENT_INFO, b"C" * 5),
    ]
    out = P.resign(bufs, (P.PAC_REQUESTOR,), 18, KEYS[18], 18, KEYS[18], b"tkt")
    types = [t for t, _o, _z in P._buffer_table(out)]
    assert types == [
        P.PAC_LOGON_INFO,
        P.PAC_CLIENT_INFO,
        P.PAC_SERVER_CHECKSUM,
        P.PAC_KDC_CHECKSUM,
        P.PAC_TICKET_CHECKSUM,
    ]
    assert crypto.checksum_type_for(18) == P.Pac.parse(out)._sig_type(
        P.Pac.parse(out).get(P.PAC_TICKET_CHECKSUM)
    )
