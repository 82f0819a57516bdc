"""FAST hide-client-names (RFC 6113 5.4.1): the anonymous principal in the clear parts of AS/TGS
replies and KRB-ERRORs, the real client only inside the armor (KrbFastFinished, PA-FX-ERROR)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_krb_support import REALM, FakeDirectory

from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import KdcCore

NOW = 1_800_000_000.25
AES256 = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96
ANON = ("WELLKNOWN:ANONYMOUS", asn1.NT_WELLKNOWN, ["WELLKNOWN", "ANONYMOUS"])
ALICE = (REALM, asn1.NT_PRINCIPAL, ["alice"])
HIDE = asn1.FAST_HIDE_CLIENT_NAMES


@pytest.fixture
def env():
    d = FakeDirectory()
    return d, KdcCore(d, lambda: NOW)


def _tgt(core: KdcCore, d: FakeDirectory, name: str) -> client.Credentials:
    key = d.principals[name.lower()].keys[AES256]
    req, nonce = client.as_req(REALM, name, key=(AES256, key), now=NOW)
    return client.parse_as_rep(core.handle(req), key, AES256, nonce)


def _who(crealm, cname) -> tuple[str, int, list[str]]:
    return crealm.native, cname["name-type"].native, list(cname["name-string"].native)


def _armored(
    akey: bytes, fast_options: int, padata: list, body: asn1.KDCReqBody, checksummed: bytes, armor
):
    """PA-FX-FAST{armored-data} over ``body`` (RFC 6113 5.4.2), checksum over ``checksummed``."""
    fast_req = asn1.KrbFastReq(
        {
            "fast-options": asn1.KerberosFlags(fast_options),
            "padata": padata,
            "req-body": body,
        }
    )
    ck = crypto.checksum_type_for(AES256)
    fields = {
        "req-checksum": {
            "cksumtype": ck,
            "checksum": crypto.make_checksum(ck, akey, KU.FAST_REQ_CHKSUM, checksummed),
        },
        "enc-fast-req": {
            "etype": AES256,
            "cipher": crypto.encrypt(AES256, akey, KU.FAST_ENC, fast_req.dump()),
        },
    }
    if armor is not None:
        fields["armor"] = {"armor-type": asn1.FX_FAST_ARMOR_AP_REQUEST, "armor-value": armor}
    req = asn1.PaFxFastRequest(name="armored-data", value=asn1.KrbFastArmoredReq(fields))
    return {"padata-type": asn1.PA_FX_FAST, "padata-value": req.dump()}


def _fast_response(akey: bytes, method_data) -> asn1.KrbFastResponse:
    md = {p["padata-type"].native: p["padata-value"].native for p in method_data}
    rep = asn1.PaFxFastReply.load(md[asn1.PA_FX_FAST]).chosen["enc-fast-rep"]
    assert rep["etype"].native == AES256
    plain = crypto.decrypt(AES256, akey, KU.FAST_REP, rep["cipher"].native)
    return asn1.KrbFastResponse.load(plain)


def _ticket_client(ticket: asn1.Ticket, key: bytes) -> tuple[str, int, list[str]]:
    ep = ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(ep["etype"].native, key, KU.KDC_REP_TICKET, ep["cipher"].native)
    )
    return _who(etp["crealm"], etp["cname"])


# -- AS exchange: armor = an AP-REQ with the DC1$ TGT (RFC 6113 5.4.1.1) -----------------------


def _fast_as_req(core, d, *, fast_options: int, password_ok: bool = True):
    armor_tgt = _tgt(core, d, "DC1$")
    subkey = os.urandom(32)
    auth = asn1.Authenticator(
        {
            "authenticator-vno": 5,
            "crealm": armor_tgt.crealm,
            "cname": armor_tgt.cname,
            "cusec": 250000,
            "ctime": int(NOW),
            "subkey": {"keytype": AES256, "keyvalue": subkey},
        }
    )
    ap = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_AP_REQ,
            "ap-options": asn1.KerberosFlags(0),
            "ticket": armor_tgt.ticket,
            "authenticator": {
                "etype": armor_tgt.session_etype,
                "cipher": crypto.encrypt(
                    armor_tgt.session_etype, armor_tgt.session_key, KU.AP_REQ_AUTH, auth.dump()
                ),
            },
        }
    ).dump()
    akey = crypto.cf2(
        AES256,
        subkey,
        armor_tgt.session_etype,
        armor_tgt.session_key,
        b"subkeyarmor",
        b"ticketarmor",
    )
    alice_key = d.principals["alice"].keys[AES256]
    ts_key = (
        alice_key if password_ok else crypto.string_to_key(AES256, "wrong", b"LANMAN.TESTalice")
    )
    plain_req = asn1.ASReq.load(client.as_req(REALM, "alice", key=(AES256, ts_key), now=NOW)[0])
    body = plain_req["req-body"]
    inner_padata = [
        {"padata-type": p["padata-type"].native, "padata-value": p["padata-value"].native}
        for p in plain_req["padata"]
    ]
    fx = _armored(akey, fast_options, inner_padata, body, asn1.der(body), ap)
    req = asn1.ASReq({"pvno": 5, "msg-type": asn1.MSG_AS_REQ, "padata": [fx], "req-body": body})
    return req.dump(), akey, body["nonce"].native, alice_key


def _as_rep(core, d, fast_options: int):
    data, akey, nonce, alice_key = _fast_as_req(core, d, fast_options=fast_options)
    out = core.handle(data)
    assert asn1.message_type(out) == asn1.MSG_AS_REP
    rep = asn1.ASRep.load(out)
    resp = _fast_response(akey, rep["padata"])
    assert resp["nonce"].native == nonce
    return rep, resp, akey, alice_key


def test_as_rep_hides_client_names(env):
    d, core = env
    rep, resp, akey, alice_key = _as_rep(core, d, HIDE)
    assert _who(rep["crealm"], rep["cname"]) == ANON
    fin = resp["finished"]
    assert _who(fin["crealm"], fin["cname"]) == (REALM, asn1.NT_PRINCIPAL, ["alice"])
    ck = fin["ticket-checksum"]
    assert crypto.verify_checksum(
        ck["cksumtype"].native,
        akey,
        KU.FAST_FINISHED,
        asn1.der(rep["ticket"]),
        ck["checksum"].native,
    )
    # The ticket (and its PAC) still name alice; the strengthened reply key opens the enc-part.
    assert _ticket_client(rep["ticket"], d.krbtgt().keys[AES256]) == ALICE
    sk = resp["strengthen-key"]
    reply_key = crypto.cf2(
        sk["keytype"].native,
        sk["keyvalue"].native,
        AES256,
        alice_key,
        b"strengthenkey",
        b"replykey",
    )
    ep = rep["enc-part"]
    enc = asn1.EncASRepPart.load(
        crypto.decrypt(AES256, reply_key, KU.AS_REP_ENCPART, ep["cipher"].native)
    )
    assert enc["nonce"].native == resp["nonce"].native


def test_as_rep_without_option_names_the_client(env):
    d, core = env
    rep, resp, _akey, _key = _as_rep(core, d, 0)
    assert _who(rep["crealm"], rep["cname"]) == ALICE
    fin = resp["finished"]
    assert _who(fin["crealm"], fin["cname"]) == ALICE


@pytest.mark.parametrize("hide", [True, False])
def test_as_error_under_fast_hides_client_only_outside(env, hide):
    """Wrong password under FAST: the clear KRB-ERROR is anonymous, the PA-FX-ERROR is not."""
    d, core = env
    data, akey, nonce, _key = _fast_as_req(
        core, d, fast_options=HIDE if hide else 0, password_ok=False
    )
    out = core.handle(data)
    err = asn1.KrbError.load(out)
    assert err["error-code"].native == 24  # KDC_ERR_PREAUTH_FAILED
    outer = _who(err["crealm"], err["cname"])
    assert outer == (ANON if hide else ALICE)
    assert err["realm"].native == REALM  # the server side stays as it was
    resp = _fast_response(akey, asn1.MethodData.load(err["e-data"].native))
    assert resp["nonce"].native == nonce
    md = {p["padata-type"].native: p["padata-value"].native for p in resp["padata"]}
    inner = asn1.KrbError.load(md[asn1.PA_FX_ERROR])
    assert inner["error-code"].native == 24
    assert _who(inner["crealm"], inner["cname"]) == ALICE


# -- TGS exchange: armor = the PA-TGS-REQ subkey + TGT session key (RFC 6113 5.4.1.1) ----------


def _fast_tgs(core, d, sname: list[str], fast_options: int):
    tgt = _tgt(core, d, "alice")
    subkey = (AES256, os.urandom(32))
    data, nonce = client.tgs_req(tgt, sname, now=NOW, subkey=subkey)
    plain = asn1.TGSReq.load(data)
    ap = plain["padata"][0]["padata-value"].native
    body = plain["req-body"]
    akey = crypto.cf2(
        AES256, subkey[1], tgt.session_etype, tgt.session_key, b"subkeyarmor", b"ticketarmor"
    )
    fx = _armored(akey, fast_options, [], body, ap, None)
    req = asn1.TGSReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_TGS_REQ,
            "padata": [{"padata-type": asn1.PA_TGS_REQ, "padata-value": ap}, fx],
            "req-body": body,
        }
    )
    return core.handle(req.dump()), tgt, subkey, akey, nonce


@pytest.mark.parametrize("hide", [True, False])
def test_tgs_rep_hides_client_names(env, hide):
    d, core = env
    out, tgt, subkey, akey, nonce = _fast_tgs(
        core, d, ["cifs", "dc1.lanman.test"], HIDE if hide else 0
    )
    assert asn1.message_type(out) == asn1.MSG_TGS_REP
    rep = asn1.TGSRep.load(out)
    assert _who(rep["crealm"], rep["cname"]) == (ANON if hide else ALICE)
    resp = _fast_response(akey, rep["padata"])
    assert resp["nonce"].native == nonce
    fin = resp["finished"]
    assert _who(fin["crealm"], fin["cname"]) == ALICE
    ck = fin["ticket-checksum"]
    assert crypto.verify_checksum(
        ck["cksumtype"].native,
        akey,
        KU.FAST_FINISHED,
        asn1.der(rep["ticket"]),
        ck["checksum"].native,
    )
    assert _ticket_client(rep["ticket"], d.principals["dc1$"].keys[AES256]) == ALICE
    creds = client.parse_tgs_rep(out, tgt, subkey)  # the reply key is unchanged
    assert creds.enc_part["nonce"].native == nonce


def test_tgs_error_under_fast_hides_client(env):
    d, core = env
    out, _, _, akey, _ = _fast_tgs(core, d, ["cifs", "nowhere.lanman.test"], HIDE)
    err = asn1.KrbError.load(out)
    assert err["error-code"].native == 7  # KDC_ERR_S_PRINCIPAL_UNKNOWN
    assert _who(err["crealm"], err["cname"]) == ANON
    resp = _fast_response(akey, asn1.MethodData.load(err["e-data"].native))
    md = {p["padata-type"].native: p["padata-value"].native for p in resp["padata"]}
    inner = asn1.KrbError.load(md[asn1.PA_FX_ERROR])
    assert inner["error-code"].native == 7
    assert _who(inner["crealm"], inner["cname"]) == ALICE


def test_unarmored_error_is_unchanged(env):
    """No FAST, no hiding: a plain wrong-password error still names the client."""
    _d, core = env
    bad = crypto.string_to_key(AES256, "wrong", b"LANMAN.TESTalice")
    req, _ = client.as_req(REALM, "alice", key=(AES256, bad), now=NOW)
    err = asn1.KrbError.load(core.handle(req))
    assert err["error-code"].native == 24
    assert _who(err["crealm"], err["cname"]) == ALICE
