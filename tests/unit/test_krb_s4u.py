"""KDC delegation driven with lanman's client: S4U2Self, S4U2Proxy (constrained delegation and
RBCD), user-to-user, forwarded TGTs, OK-AS-DELEGATE, Protected Users and NOT_DELEGATED."""

from __future__ import annotations

import importlib
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_krb_support import REALM, FakeDirectory, make_principal

from lanman.directory.delegation import rbcd_descriptor
from lanman.directory.model import UAC
from lanman.errors import ntstatus as st
from lanman.kerberos import asn1, client, crypto, der, pac_delegation, pac_logon
from lanman.kerberos import pac as P
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU
from lanman.kerberos.kdc import KdcCore, s4u
from lanman.kerberos.kdc.core import find_pac

NOW = 1_800_000_000.25
FWD = bit(KO.forwardable)
CANON = bit(KO.canonicalize)
PROXY = bit(KO.cname_in_addl_tkt)
U2U = bit(KO.enc_tkt_in_skey)


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env():
    d = FakeDirectory()
    # svc1: a service account with classic constrained delegation and protocol transition
    svc1 = d.add(make_principal("svc1", "Svc1-pass!", 1200, spns=["http/web.lanman.test"]))
    svc1.delegate_to = ["cifs/dc1.lanman.test"]
    svc1.uac |= UAC.TRUSTED_TO_AUTH_FOR_DELEGATION
    # WEB$: a computer trusted by FILES$ for resource-based constrained delegation
    web = d.add(
        make_principal("WEB$", "web-secret", 1201, kind="computer", spns=["host/web2.lanman.test"])
    )
    files = d.add(
        make_principal(
            "FILES$", "files-secret", 1202, kind="computer", spns=["cifs/files.lanman.test"]
        )
    )
    files.allowed_to_act = rbcd_descriptor([web.sid])
    d.add(make_principal("carol", "Carol-pass1", 1105)).uac |= UAC.NOT_DELEGATED
    d.add(make_principal("dave", "Dave-pass-1", 1106, groups=[513, 525])).protected_user = True
    d.principals["dc1$"].uac |= UAC.TRUSTED_FOR_DELEGATION | UAC.SERVER_TRUST_ACCOUNT
    return d, KdcCore(d, Clock())


def _err(rep: bytes) -> client.KrbErrorReply:
    assert asn1.message_type(rep) == asn1.MSG_KRB_ERROR, "expected a KRB-ERROR"
    return client.parse_error(rep)


def _status(e: client.KrbErrorReply) -> int | None:
    if not e.e_data:
        return None
    ed = asn1.KerbErrorData.load(e.e_data)
    return struct.unpack("<III", ed["data-value"].native)[0]


def _tgt(core, d, name, etype=18, options=client.DEFAULT_OPTIONS):
    p = d.principals[name.lower()]
    req, nonce = client.as_req(REALM, name, key=(etype, p.keys[etype]), now=NOW, options=options)
    return client.parse_as_rep(core.handle(req), p.keys[etype], etype, nonce)


def _tgs(core, tgt, sname, *, options=FWD | CANON, padata=None, tickets=None, subkey=None):
    req, _ = client.tgs_req(
        tgt,
        sname,
        now=NOW,
        options=options,
        padata=padata,
        additional_tickets=tickets,
        subkey=subkey,
    )
    rep = core.handle(req)
    if asn1.message_type(rep) == asn1.MSG_KRB_ERROR:
        raise client.parse_error(rep)
    return client.parse_tgs_rep(rep, tgt, subkey), rep


def _self(core, svc_tgt, user, *, options=FWD | CANON, sname=None, **kw):
    pa = client.pa_for_user(svc_tgt, user, **kw)
    svc = svc_tgt.cname["name-string"].native
    return _tgs(core, svc_tgt, sname or svc, options=options, padata=[pa])[0]


def _proxy(core, svc_tgt, evidence, spn, *, rbcd=True, options=FWD | CANON | PROXY):
    padata = [client.pa_pac_options()] if rbcd else []
    return _tgs(
        core, svc_tgt, spn.split("/"), options=options, padata=padata, tickets=[evidence.ticket]
    )[0]


def _open(creds, principal) -> asn1.EncTicketPart:
    enc = creds.ticket["enc-part"]
    key = principal.keys[enc["etype"].native]
    return asn1.EncTicketPart.load(
        crypto.decrypt(enc["etype"].native, key, KU.KDC_REP_TICKET, enc["cipher"].native)
    )


def _pac(etp) -> P.Pac:
    return P.Pac.parse(find_pac(etp))


def _flags(creds) -> int:
    return creds.flags


# ---------------------------------------------------------------------------------------------
# S4U2Self
# ---------------------------------------------------------------------------------------------


def test_s4u2self_ticket_is_the_users_with_service_asserted_identity(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    t = _self(core, svc, "alice")
    assert t.cname["name-string"].native == ["alice"] and t.crealm == REALM
    assert t.ticket["sname"]["name-string"].native == ["svc1"]
    etp = _open(t, d.principals["svc1"])
    assert etp["cname"]["name-string"].native == ["alice"]
    pac = _pac(etp)
    krbtgt = d.krbtgt()
    pac.verify(d.principals["svc1"].keys[18], krbtgt.keys[18])
    info = pac_logon.parse_logon_info(pac.get(P.PAC_LOGON_INFO))
    assert info.user_id == 1103 and info.effective_name == "alice"
    extra = [e.sid for e in info.extra_sids]
    assert "S-1-18-2" in extra and "S-1-18-1" not in extra
    assert pac.get(P.PAC_TICKET_CHECKSUM) is not None
    assert pac.get(P.PAC_REQUESTOR) is None  # service ticket PAC


def test_s4u2self_pac_decodes_with_impacket(env):
    pac_mod = importlib.import_module("impacket.krb5.pac")
    d, core = env
    t = _self(core, _tgt(core, d, "svc1"), "alice")
    raw = _pac(_open(t, d.principals["svc1"])).get(P.PAC_LOGON_INFO)
    vi = pac_mod.VALIDATION_INFO()
    vi.fromString(raw)
    vi.fromStringReferents(raw, len(vi.getData()))
    kvi = vi["Data"]
    assert kvi["EffectiveName"] == "alice" and kvi["SidCount"] == 1
    assert kvi["ExtraSids"][0]["Sid"].formatCanonical() == "S-1-18-2"


@pytest.mark.parametrize(
    "uac_tta, delegate_to, user, options, forwardable",
    [
        (True, ["cifs/x"], "alice", FWD, True),  # protocol transition
        (False, ["cifs/x"], "alice", FWD, False),  # constrained without protocol transition
        (False, [], "alice", FWD, True),  # no msDS-AllowedToDelegateTo: forwardable (RBCD use)
        (True, ["cifs/x"], "alice", 0, False),  # not asked for
        (True, ["cifs/x"], "carol", FWD, False),  # NOT_DELEGATED
        (True, ["cifs/x"], "dave", FWD, False),  # Protected Users
    ],
)
def test_s4u2self_forwardable_rules(env, uac_tta, delegate_to, user, options, forwardable):
    """MS-SFU 3.2.5.1.2 (and Samba's Windows-validated s4u2self_* tests)."""
    d, core = env
    svc1 = d.principals["svc1"]
    svc1.delegate_to = delegate_to
    svc1.uac = (svc1.uac | UAC.TRUSTED_TO_AUTH_FOR_DELEGATION) if uac_tta else 0x200
    t = _self(core, _tgt(core, d, "svc1"), user, options=options | CANON)
    assert bool(t.flags & bit(TF.forwardable)) is forwardable


def test_s4u2self_checksum_types(env):
    d, core = env
    svc = _tgt(core, d, "svc1")  # AES256 session key
    assert _self(core, svc, "alice", cksumtype=crypto.CKSUM_HMAC_SHA1_96_AES256).cname
    with pytest.raises(client.KrbErrorReply) as e:
        _self(core, svc, "alice", cksumtype=crypto.CKSUM_RSA_MD5)
    assert e.value.code == 50  # KRB_AP_ERR_INAPP_CKSUM
    pa_type, value = client.pa_for_user(svc, "alice")
    bad = value.replace(b"alice", b"alicf")  # checksum no longer matches
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, svc, ["svc1"], padata=[(pa_type, bad)])
    assert e.value.code == 41  # KRB_AP_ERR_MODIFIED


def test_s4u2self_errors(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    with pytest.raises(client.KrbErrorReply) as e:  # a ticket to someone else
        _self(core, svc, "alice", sname=["cifs", "dc1.lanman.test"])
    assert e.value.code == 13
    with pytest.raises(client.KrbErrorReply) as e:
        _self(core, svc, "nobody")
    assert e.value.code == 6
    d.principals["alice"].disabled = True
    core.dir.directory = d  # (the fake has no change counter: drop the per-request cache)
    with pytest.raises(client.KrbErrorReply) as e:
        _self(core, svc, "alice")
    assert e.value.code == 18 and _status(e.value) == st.STATUS_ACCOUNT_DISABLED


def test_s4u_x509_user_and_reply_padata(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    subkey = (18, b"\x11" * 32)
    pa = client.pa_s4u_x509_user(subkey, "alice", REALM)
    t, rep = _tgs(core, svc, ["svc1"], padata=[pa], subkey=subkey)
    assert t.cname["name-string"].native == ["alice"]
    padata = {
        p["padata-type"].native: p["padata-value"].native for p in asn1.TGSRep.load(rep)["padata"]
    }
    f, _ = der.sequence(padata[130], 0, len(padata[130]))
    uid = padata[130][f[0][3] : f[0][2]]
    cf = der.fields(padata[130], f[1][1], f[1][2])
    ctype = der.req_int(padata[130], cf, 0)
    ck = der.get_octets(padata[130], cf, 1)
    assert crypto.verify_checksum(ctype, subkey[1], 27, uid, ck)  # USE_REPLY_KEY_USAGE
    # a PA-S4U-X509-USER checksummed with the wrong key is refused
    wrong = client.pa_s4u_x509_user((18, b"\x22" * 32), "alice", REALM)
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, svc, ["svc1"], padata=[wrong], subkey=subkey)
    assert e.value.code == 41


# ---------------------------------------------------------------------------------------------
# S4U2Proxy: classic constrained delegation
# ---------------------------------------------------------------------------------------------


def _delegation_info(creds, principal):
    pac = _pac(_open(creds, principal))
    return pac_delegation.parse_delegation_info(pac.get(P.PAC_DELEGATION_INFO)), pac


def test_constrained_delegation_with_protocol_transition(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    ev = _self(core, svc, "alice")
    assert ev.flags & bit(TF.forwardable)
    t = _proxy(core, svc, ev, "cifs/dc1.lanman.test", rbcd=False)
    assert t.cname["name-string"].native == ["alice"]
    assert t.ticket["sname"]["name-string"].native == ["cifs", "dc1.lanman.test"]
    assert t.flags & bit(TF.forwardable) and t.flags & bit(TF.ok_as_delegate)
    dc1 = d.principals["dc1$"]
    (target, transited), pac = _delegation_info(t, dc1)
    assert target == "cifs/dc1.lanman.test" and transited == ["svc1@LANMAN.TEST"]
    pac.verify(dc1.keys[18], d.krbtgt().keys[18])
    info = pac_logon.parse_logon_info(pac.get(P.PAC_LOGON_INFO))
    assert info.user_id == 1103  # the user's PAC


def test_constrained_delegation_with_the_users_own_ticket_and_rbcd_bit(env):
    """A forwardable service ticket the user got for svc1; PA-PAC-OPTIONS RBCD set as
    impacket/MIT send it: the target is in msDS-AllowedToDelegateTo, classic delegation wins."""
    d, core = env
    alice = _tgt(core, d, "alice")
    ev, _ = _tgs(core, alice, ["http", "web.lanman.test"])
    t = _proxy(core, _tgt(core, d, "svc1"), ev, "cifs/dc1.lanman.test", rbcd=True)
    assert t.cname["name-string"].native == ["alice"]
    (_, transited), _ = _delegation_info(t, d.principals["dc1$"])
    assert transited == ["http/web.lanman.test@LANMAN.TEST"]


def test_delegation_chain_appends_transited_services(env):
    d, core = env
    d.principals["dc1$"].delegate_to = ["cifs/files.lanman.test"]
    svc = _tgt(core, d, "svc1")
    hop1 = _proxy(core, svc, _self(core, svc, "alice"), "cifs/dc1.lanman.test", rbcd=False)
    hop2 = _proxy(core, _tgt(core, d, "DC1$"), hop1, "cifs/files.lanman.test", rbcd=False)
    (target, transited), _ = _delegation_info(hop2, d.principals["files$"])
    assert target == "cifs/files.lanman.test"
    assert transited == ["svc1@LANMAN.TEST", "cifs/dc1.lanman.test@LANMAN.TEST"]


def test_constrained_delegation_refusals(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    ev = _self(core, svc, "alice")
    # target not in the list, no RBCD asked, list not empty -> STATUS_NO_MATCH
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev, "cifs/files.lanman.test", rbcd=False)
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_NO_MATCH)
    # a service with no delegation at all -> STATUS_NOT_SUPPORTED
    bob = _tgt(core, d, "bob")
    d.principals["bob"].spns = ["http/bob.lanman.test"]
    ev_bob, _ = _tgs(core, _tgt(core, d, "alice"), ["http", "bob.lanman.test"])
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, bob, ev_bob, "cifs/dc1.lanman.test", rbcd=False)
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_NOT_SUPPORTED)
    # a non-forwardable evidence ticket -> STATUS_ACCOUNT_RESTRICTION
    alice = _tgt(core, d, "alice")
    ev2, _ = _tgs(core, alice, ["http", "web.lanman.test"], options=CANON)
    assert not ev2.flags & bit(TF.forwardable)
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev2, "cifs/dc1.lanman.test", rbcd=False)
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_ACCOUNT_RESTRICTION)
    # cname-in-addl-tkt without a ticket
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, svc, ["cifs", "dc1.lanman.test"], options=FWD | PROXY)
    assert e.value.code == 13
    # an evidence ticket issued to another service (DC1$'s ticket presented by svc1)
    ev3, _ = _tgs(core, alice, ["cifs", "dc1.lanman.test"])
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev3, "cifs/dc1.lanman.test", rbcd=False)
    assert e.value.code == 13


@pytest.mark.parametrize("user", ["carol", "dave"])
@pytest.mark.parametrize("rbcd", [False, True])
def test_sensitive_users_cannot_be_delegated(env, user, rbcd):
    d, core = env
    svc_name, target = (
        ("WEB$", "cifs/files.lanman.test") if rbcd else ("svc1", "cifs/dc1.lanman.test")
    )
    svc = _tgt(core, d, svc_name)
    ev = _self(core, svc, user)
    assert not ev.flags & bit(TF.forwardable)
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev, target, rbcd=rbcd)
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_ACCOUNT_RESTRICTION)


def test_bronze_bit_tampered_forwardable_flag_is_refused(env):
    """CVE-2020-17049: the service knows its own key and may set FORWARDABLE on an evidence
    ticket; the PAC ticket signature (krbtgt key) no longer matches."""
    d, core = env
    svc1 = d.principals["svc1"]
    svc1.uac = 0x200  # constrained delegation without protocol transition
    svc = _tgt(core, d, "svc1")
    ev = _self(core, svc, "alice")
    assert not ev.flags & bit(TF.forwardable)
    etp = _open(ev, svc1)
    flags = asn1.flags_to_int(etp["flags"]) | bit(TF.forwardable)
    etp["flags"] = asn1.flags_from_int(flags)
    cipher = crypto.encrypt(18, svc1.keys[18], KU.KDC_REP_TICKET, etp.dump(force=True))
    tampered = client.plain_ticket(ev.ticket)
    tampered["enc-part"] = asn1.EncryptedData({"etype": 18, "kvno": 2, "cipher": cipher})
    ev.ticket = tampered
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev, "cifs/dc1.lanman.test", rbcd=False)
    assert e.value.code == 41


def test_target_policy_hook_sees_the_delegating_service(env):
    d, core = env
    seen = []
    core.check_service_policy = lambda **kw: seen.append(kw)
    svc = _tgt(core, d, "svc1")
    _proxy(core, svc, _self(core, svc, "alice"), "cifs/dc1.lanman.test")
    (call,) = seen
    assert call["target"].name == "DC1$" and call["client"].name == "alice"
    ident = call["proxy_identity"]
    assert ident.service.name == "svc1" and ident.identity.sid == d.principals["svc1"].sid


# ---------------------------------------------------------------------------------------------
# S4U2Proxy: resource-based constrained delegation
# ---------------------------------------------------------------------------------------------


def test_rbcd(env):
    d, core = env
    web = _tgt(core, d, "WEB$")
    ev = _self(core, web, "alice")
    t = _proxy(core, web, ev, "cifs/files.lanman.test")
    assert t.cname["name-string"].native == ["alice"]
    (target, transited), _ = _delegation_info(t, d.principals["files$"])
    assert target == "cifs/files.lanman.test" and transited == ["WEB$@LANMAN.TEST"]


def test_rbcd_with_non_forwardable_s4u2self_ticket(env):
    """WEB$ has msDS-AllowedToDelegateTo but no protocol transition: its S4U2Self tickets are
    not forwardable, and RBCD still takes them (MS-SFU 3.1.5.2.1, 3.2.5.2.3)."""
    d, core = env
    d.principals["web$"].delegate_to = ["cifs/elsewhere.lanman.test"]
    web = _tgt(core, d, "WEB$")
    ev = _self(core, web, "alice")
    assert not ev.flags & bit(TF.forwardable)
    assert _proxy(core, web, ev, "cifs/files.lanman.test").cname["name-string"].native == ["alice"]


def test_rbcd_refusals(env):
    d, core = env
    web = _tgt(core, d, "WEB$")
    ev = _self(core, web, "alice")
    with pytest.raises(client.KrbErrorReply) as e:  # no RBCD bit, no msDS-AllowedToDelegateTo
        _proxy(core, web, ev, "cifs/files.lanman.test", rbcd=False)
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_NOT_SUPPORTED)
    d.principals["files$"].allowed_to_act = rbcd_descriptor([d.principals["svc1"].sid])
    with pytest.raises(client.KrbErrorReply) as e:  # descriptor names someone else
        _proxy(core, web, ev, "cifs/files.lanman.test")
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_NOT_FOUND)
    d.principals["files$"].allowed_to_act = rbcd_descriptor([d.principals["web$"].sid])
    # the user's own non-forwardable ticket (not from S4U2Self)
    alice = _tgt(core, d, "alice")
    ev2, _ = _tgs(core, alice, ["host", "web2.lanman.test"], options=CANON)
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, web, ev2, "cifs/files.lanman.test")
    assert (e.value.code, _status(e.value)) == (13, st.STATUS_ACCOUNT_RESTRICTION)


def _kw(**kw):
    return kw


@pytest.mark.parametrize(
    "args, kind, status",
    [
        (_kw(in_allowed_to=True, evidence_forwardable=True), "constrained", None),
        (_kw(in_allowed_to=True, evidence_forwardable=True, sensitive=True), None, "AR"),
        (_kw(in_allowed_to=True), None, "AR"),
        (_kw(in_allowed_to=True, rbcd_requested=True, rbcd_granted=True), None, "AR"),
        (
            _kw(in_allowed_to=True, rbcd_requested=True, rbcd_granted=True, evidence_s4u2self=True),
            "rbcd",
            None,
        ),
        (_kw(allowed_to_empty=True, evidence_forwardable=True), None, "NS"),
        (_kw(evidence_forwardable=True), None, "NM"),
        (_kw(rbcd_requested=True, evidence_forwardable=True), None, "NF"),
        (_kw(rbcd_requested=True, rbcd_granted=True, evidence_forwardable=True), "rbcd", None),
        (_kw(rbcd_requested=True, rbcd_granted=True, evidence_s4u2self=True), "rbcd", None),
        (_kw(rbcd_requested=True, rbcd_granted=True), None, "AR"),
        (
            _kw(rbcd_requested=True, rbcd_granted=True, evidence_s4u2self=True, sensitive=True),
            None,
            "AR",
        ),
    ],
)
def test_proxy_decision_truth_table(args, kind, status):
    base = {
        "in_allowed_to": False,
        "allowed_to_empty": False,
        "rbcd_requested": False,
        "rbcd_granted": False,
        "evidence_forwardable": False,
        "evidence_s4u2self": False,
        "sensitive": False,
    }
    codes = {
        "AR": st.STATUS_ACCOUNT_RESTRICTION,
        "NS": st.STATUS_NOT_SUPPORTED,
        "NM": st.STATUS_NO_MATCH,
        "NF": st.STATUS_NOT_FOUND,
        None: None,
    }
    dec = s4u.proxy_decision(**{**base, **args})
    assert dec.kind == kind and dec.status == codes[status]
    assert dec.code == (0 if kind else 13)


# ---------------------------------------------------------------------------------------------
# User-to-user, forwarded TGTs, OK-AS-DELEGATE, flags of sensitive accounts
# ---------------------------------------------------------------------------------------------


def test_user_to_user(env):
    d, core = env
    bob_tgt = _tgt(core, d, "bob")
    alice = _tgt(core, d, "alice")
    t, _ = _tgs(core, alice, ["bob"], options=FWD | CANON | U2U, tickets=[bob_tgt.ticket])
    enc = t.ticket["enc-part"]
    assert enc["etype"].native == bob_tgt.session_etype and enc["kvno"].native is None
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(
            bob_tgt.session_etype, bob_tgt.session_key, KU.KDC_REP_TICKET, enc["cipher"].native
        )
    )
    assert etp["cname"]["name-string"].native == ["alice"]
    _pac(etp).verify(bob_tgt.session_key, d.krbtgt().keys[18])
    with pytest.raises(client.KrbErrorReply) as e:  # the TGT is not bob's
        _tgs(core, alice, ["bob"], options=U2U, tickets=[alice.ticket])
    assert e.value.code == 26  # KDC_ERR_SERVER_NOMATCH
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, alice, ["bob"], options=U2U)
    assert e.value.code == 13


def test_forwarded_tgt_and_ok_as_delegate(env):
    d, core = env
    alice = _tgt(core, d, "alice")
    t, _ = _tgs(core, alice, ["krbtgt", REALM], options=FWD | bit(KO.forwarded))
    assert t.flags & bit(TF.forwarded) and t.flags & bit(TF.forwardable)
    assert not t.flags & bit(TF.ok_as_delegate)
    # tickets from a forwarded TGT are FORWARDED too (RFC 4120 2.6)
    st_, _ = _tgs(core, t, ["cifs", "dc1.lanman.test"])
    assert st_.flags & bit(TF.forwarded) and st_.flags & bit(TF.ok_as_delegate)
    plain, _ = _tgs(core, alice, ["http", "web.lanman.test"])
    assert not plain.flags & bit(TF.ok_as_delegate)
    nofwd = _tgt(core, d, "alice", options=bit(KO.renewable))
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, nofwd, ["krbtgt", REALM], options=FWD | bit(KO.forwarded))
    assert e.value.code == 13


@pytest.mark.parametrize("user", ["carol", "dave"])
def test_sensitive_accounts_get_no_forwardable_tickets(env, user):
    d, core = env
    tgt = _tgt(core, d, user)
    assert not tgt.flags & bit(TF.forwardable) and not tgt.flags & bit(TF.proxiable)
    t, _ = _tgs(core, tgt, ["cifs", "dc1.lanman.test"], options=FWD | bit(KO.proxiable) | CANON)
    assert not t.flags & (bit(TF.forwardable) | bit(TF.proxiable))
    with pytest.raises(client.KrbErrorReply) as e:
        _tgs(core, tgt, ["krbtgt", REALM], options=FWD | bit(KO.forwarded))
    assert e.value.code == 13


def test_not_delegated_in_pac_uac(env):
    d, core = env
    t, _ = _tgs(core, _tgt(core, d, "carol"), ["cifs", "dc1.lanman.test"])
    info = pac_logon.parse_logon_info(_pac(_open(t, d.principals["dc1$"])).get(P.PAC_LOGON_INFO))
    assert info.user_account_control & s4u.ACB_NOT_DELEGATED


# ---------------------------------------------------------------------------------------------
# PAC codecs
# ---------------------------------------------------------------------------------------------


def test_delegation_info_codec_and_impacket():
    pac_mod = importlib.import_module("impacket.krb5.pac")
    raw = P.delegation_info("cifs/t.lanman.test", ["svc1@LANMAN.TEST", "host/x@LANMAN.TEST"])
    assert pac_delegation.parse_delegation_info(raw) == (
        "cifs/t.lanman.test",
        ["svc1@LANMAN.TEST", "host/x@LANMAN.TEST"],
    )
    body = raw[20:]  # after the type serialization header and the top-level referent
    x = pac_mod.S4U_DELEGATION_INFO()
    x.fromString(body)
    x.fromStringReferents(body, len(x.getData()))
    assert x["S4U2proxyTarget"] == "cifs/t.lanman.test"
    names = [s["Data"] if not isinstance(s, str) else s for s in x["S4UTransitedServices"]]
    assert [n.decode("utf-16-le") if isinstance(n, bytes) else n for n in names] == [
        "svc1@LANMAN.TEST",
        "host/x@LANMAN.TEST",
    ]
    for junk in (b"", raw[:24], raw[:16] + b"\x00" * 8):
        with pytest.raises(P.PacError):
            pac_delegation.parse_delegation_info(junk)


# ---------------------------------------------------------------------------------------------
# Hostile input: bad S4U padata and additional tickets cost the request only
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "padata",
    [
        [(asn1.PA_FOR_USER, b"")],
        [(asn1.PA_FOR_USER, b"\x30\x03\xa0\x01\x00")],
        [(asn1.PA_FOR_USER, b"\x30\x80" + b"\x00" * 8)],
        [(130, b"\x30\x00")],
        [(130, b"\x30\x05\xa0\x03\x30\x01\x00")],
        [(asn1.PA_PAC_OPTIONS, b"\x04\x00")],
    ],
)
def test_malformed_s4u_padata_is_a_krb_error(env, padata):
    d, core = env
    svc = _tgt(core, d, "svc1")
    req, _ = client.tgs_req(svc, ["svc1"], now=NOW, padata=padata)
    rep = core.handle(req)
    if padata[0][0] != asn1.PA_PAC_OPTIONS:  # (ignored outside S4U2Proxy)
        assert _err(rep).code in (60, 13)
    # the PA-PAC-OPTIONS case in an S4U2Proxy request
    ev = _self(core, svc, "alice")
    req, _ = client.tgs_req(
        svc,
        ["cifs", "dc1.lanman.test"],
        now=NOW,
        options=FWD | PROXY,
        padata=padata,
        additional_tickets=[ev.ticket],
    )
    rep = core.handle(req)
    if padata[0][0] == asn1.PA_PAC_OPTIONS:
        assert _err(rep).code == 60
    else:
        assert asn1.message_type(rep) in (asn1.MSG_KRB_ERROR, asn1.MSG_TGS_REP)


def test_additional_tickets_are_bounded(env):
    d, core = env
    alice = _tgt(core, d, "alice")
    req, _ = client.tgs_req(
        alice, ["bob"], now=NOW, options=U2U, additional_tickets=[alice.ticket] * 5
    )
    assert _err(core.handle(req)).code == 60


def test_garbage_evidence_ticket(env):
    d, core = env
    svc = _tgt(core, d, "svc1")
    ev = _self(core, svc, "alice")
    t = client.plain_ticket(ev.ticket)
    t["enc-part"] = asn1.EncryptedData({"etype": 18, "kvno": 2, "cipher": b"\x00" * 64})
    ev.ticket = t
    with pytest.raises(client.KrbErrorReply) as e:
        _proxy(core, svc, ev, "cifs/dc1.lanman.test")
    assert e.value.code == 31  # KRB_AP_ERR_BAD_INTEGRITY


def test_s4u2self_with_user_to_user(env):
    """S4U2Self+U2U (impacket getST -u2u): the ticket to the service itself, encrypted in the
    session key of its own TGT."""
    d, core = env
    svc = _tgt(core, d, "svc1")
    pa = client.pa_for_user(svc, "alice")
    t, _ = _tgs(core, svc, ["svc1"], options=FWD | CANON | U2U, padata=[pa], tickets=[svc.ticket])
    enc = t.ticket["enc-part"]
    etp = asn1.EncTicketPart.load(
        crypto.decrypt(svc.session_etype, svc.session_key, KU.KDC_REP_TICKET, enc["cipher"].native)
    )
    assert etp["cname"]["name-string"].native == ["alice"]
    with pytest.raises(client.KrbErrorReply) as e:  # the proxy path takes no U2U
        _tgs(core, svc, ["cifs", "dc1.lanman.test"], options=PROXY | U2U, tickets=[svc.ticket])
    assert e.value.code == 13
