"""lanman.kerberos.der produces exactly the bytes asn1crypto produces for the same values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lanman.kerberos import asn1, der

ints = st.integers(min_value=-(2**63), max_value=2**63)
int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40)
blob = st.binary(max_size=300)
big_blob = st.binary(min_size=0, max_size=70000)
times = st.integers(min_value=0, max_value=253402300799)  # up to 9999-12-31
opt_time = st.none() | times
names = st.tuples(int32, st.lists(latin1, max_size=4))
etypes = st.sampled_from([17, 18, 23, -128, 3, 1])


def _pn(nt_comps: tuple[int, list[str]]) -> tuple[bytes, asn1.PrincipalName]:
    nt, comps = nt_comps
    return der.principal_name(nt, comps), asn1.principal(nt, *comps)


@given(ints)
def test_integer(v):
    from asn1crypto import core

    assert der.integer(v) == core.Integer(v).dump()
    assert der.integer(v) == der.integer(v)  # cached path


@given(st.one_of(blob, big_blob))
@settings(max_examples=30)
def test_octet_string_lengths(b):
    from asn1crypto import core

    assert der.octet_string(b) == core.OctetString(b).dump()


@given(latin1)
def test_general_string(s):
    assert der.general_string(s) == asn1.KerberosString(s).dump()


@given(times)
def test_kerberos_time(t):
    assert der.kerberos_time(t) == asn1.KerberosTime(t).dump()


@given(u32)
def test_flags(v):
    assert der.flags(v) == asn1.KerberosFlags(v).dump()


@given(names)
def test_principal_name(n):
    a, b = _pn(n)
    assert a == b.dump()


@given(etypes, blob, st.none() | st.integers(min_value=0, max_value=2**32))
def test_encrypted_data(etype, cipher, kvno):
    fields = {"etype": etype, "cipher": cipher}
    if kvno is not None:
        fields["kvno"] = kvno
    assert der.encrypted_data(etype, cipher, kvno) == asn1.EncryptedData(fields).dump()


@given(st.lists(st.tuples(int32, blob), max_size=4))
def test_method_data_and_authorization_data(items):
    md = asn1.MethodData([{"padata-type": t, "padata-value": v} for t, v in items])
    assert der.method_data(items) == md.dump()
    ad = asn1.AuthorizationData([{"ad-type": t, "ad-data": v} for t, v in items])
    assert der.authorization_data(items) == ad.dump()


@given(st.lists(st.tuples(etypes, st.none() | latin1), max_size=4))
def test_etype_info2(entries):
    ref = []
    for e, s in entries:
        d = {"etype": e}
        if s is not None:
            d["salt"] = s
        ref.append(d)
    assert der.etype_info2(entries) == asn1.ETypeInfo2(ref).dump()


@given(int32, st.none() | blob)
def test_kerb_error_data(t, v):
    fields = {"data-type": t}
    if v is not None:
        fields["data-value"] = v
    assert der.kerb_error_data(t, v) == asn1.KerbErrorData(fields).dump()


@given(
    flags_value=u32,
    etype=etypes,
    key=blob,
    crealm=latin1,
    cname=names,
    authtime=times,
    starttime=opt_time,
    endtime=times,
    renew_till=opt_time,
    caddr=st.none() | st.lists(st.tuples(int32, blob), max_size=3),
    ad=st.none() | st.lists(st.tuples(int32, blob), max_size=3),
    big=st.booleans(),
)
def test_enc_ticket_part(
    flags_value, etype, key, crealm, cname, authtime, starttime, endtime, renew_till, caddr, ad, big
):
    if big and ad is not None:
        ad = [*ad, (128, bytes(1500))]
    cname_der, cname_obj = _pn(cname)
    fields = {
        "flags": asn1.KerberosFlags(flags_value),
        "key": {"keytype": etype, "keyvalue": key},
        "crealm": crealm,
        "cname": cname_obj,
        "transited": {"tr-type": 1, "contents": b""},
        "authtime": authtime,
        "endtime": endtime,
    }
    if starttime is not None:
        fields["starttime"] = starttime
    if renew_till is not None:
        fields["renew-till"] = renew_till
    if caddr is not None:
        fields["caddr"] = [{"addr-type": t, "address": a} for t, a in caddr]
    if ad is not None:
        fields["authorization-data"] = [{"ad-type": t, "ad-data": d} for t, d in ad]
    mine = der.enc_ticket_part(
        flags_value=flags_value,
        key=der.encryption_key(etype, key),
        crealm=crealm,
        cname=cname_der,
        authtime=authtime,
        starttime=starttime,
        endtime=endtime,
        renew_till=renew_till,
        caddr=der.host_addresses(caddr) if caddr is not None else None,
        authorization_data=der.authorization_data(ad) if ad is not None else None,
    )
    assert mine == asn1.EncTicketPart(fields).dump()


@given(
    realm=latin1,
    sname=names,
    etype=etypes,
    kvno=st.none() | st.integers(min_value=0, max_value=2**31),
    cipher=st.one_of(blob, st.binary(min_size=200, max_size=2000)),
)
def test_ticket(realm, sname, etype, kvno, cipher):
    sname_der, sname_obj = _pn(sname)
    enc = {"etype": etype, "cipher": cipher}
    if kvno is not None:
        enc["kvno"] = kvno
    ref = asn1.Ticket({"tkt-vno": 5, "realm": realm, "sname": sname_obj, "enc-part": enc})
    mine = der.ticket(realm, sname_der, der.encrypted_data(etype, cipher, kvno))
    assert mine == ref.dump()
    # and asn1crypto reads it back
    assert asn1.Ticket.load(mine)["realm"].native == realm


@given(
    app_n=st.sampled_from([25, 26]),
    etype=etypes,
    key=blob,
    last_req=st.lists(st.tuples(int32, times), max_size=2),
    nonce=st.integers(min_value=-(2**31), max_value=2**32),
    flags_value=u32,
    authtime=times,
    starttime=opt_time,
    endtime=times,
    renew_till=opt_time,
    key_expiration=opt_time,
    srealm=latin1,
    sname=names,
    caddr=st.none() | st.lists(st.tuples(int32, blob), max_size=2),
    epa=st.none() | st.lists(st.tuples(int32, blob), max_size=2),
)
def test_enc_kdc_rep_part(
    app_n,
    etype,
    key,
    last_req,
    nonce,
    flags_value,
    authtime,
    starttime,
    endtime,
    renew_till,
    key_expiration,
    srealm,
    sname,
    caddr,
    epa,
):
    sname_der, sname_obj = _pn(sname)
    fields = {
        "key": {"keytype": etype, "keyvalue": key},
        "last-req": [{"lr-type": t, "lr-value": v} for t, v in last_req],
        "nonce": nonce,
        "flags": asn1.KerberosFlags(flags_value),
        "authtime": authtime,
        "endtime": endtime,
        "srealm": srealm,
        "sname": sname_obj,
    }
    for k, v in (
        ("starttime", starttime),
        ("renew-till", renew_till),
        ("key-expiration", key_expiration),
    ):
        if v is not None:
            fields[k] = v
    if caddr is not None:
        fields["caddr"] = [{"addr-type": t, "address": a} for t, a in caddr]
    if epa is not None:
        fields["encrypted-pa-data"] = [{"padata-type": t, "padata-value": v} for t, v in epa]
    cls = asn1.EncASRepPart if app_n == 25 else asn1.EncTGSRepPart
    mine = der.enc_kdc_rep_part(
        app_n,
        key=der.encryption_key(etype, key),
        last_req=last_req,
        nonce=nonce,
        flags_value=flags_value,
        authtime=authtime,
        starttime=starttime,
        endtime=endtime,
        renew_till=renew_till,
        srealm=srealm,
        sname=sname_der,
        caddr=der.host_addresses(caddr) if caddr is not None else None,
        encrypted_pa_data=der.method_data(epa) if epa is not None else None,
        key_expiration=key_expiration,
    )
    assert mine == cls(fields).dump()


@given(
    msg_type=st.sampled_from([11, 13]),
    padata=st.none() | st.lists(st.tuples(int32, blob), max_size=3),
    crealm=latin1,
    cname=names,
    sname=names,
    etype=etypes,
    kvno=st.none() | st.integers(min_value=0, max_value=9),
    cipher=st.one_of(blob, st.binary(min_size=300, max_size=1500)),
)
def test_kdc_rep(msg_type, padata, crealm, cname, sname, etype, kvno, cipher):
    cname_der, cname_obj = _pn(cname)
    sname_der, sname_obj = _pn(sname)
    tkt = asn1.Ticket(
        {
            "tkt-vno": 5,
            "realm": crealm,
            "sname": sname_obj,
            "enc-part": {"etype": 18, "cipher": cipher},
        }
    )
    enc = {"etype": etype, "cipher": cipher[:100]}
    if kvno is not None:
        enc["kvno"] = kvno
    fields = {
        "pvno": 5,
        "msg-type": msg_type,
        "crealm": crealm,
        "cname": cname_obj,
        "ticket": tkt,
        "enc-part": enc,
    }
    if padata is not None:
        fields["padata"] = [{"padata-type": t, "padata-value": v} for t, v in padata]
    cls = asn1.ASRep if msg_type == 11 else asn1.TGSRep
    mine = der.kdc_rep(
        msg_type,
        padata=der.method_data(padata) if padata is not None else None,
        crealm=crealm,
        cname=cname_der,
        ticket_der=der.ticket(crealm, sname_der, der.encrypted_data(18, cipher)),
        enc_part=der.encrypted_data(etype, cipher[:100], kvno),
    )
    assert mine == cls(fields).dump()


@given(
    stime=times,
    susec=st.integers(min_value=0, max_value=999999),
    code=int32,
    realm=latin1,
    sname=names,
    crealm=st.none() | latin1,
    cname=st.none() | names,
    e_text=st.none() | latin1,
    e_data=st.none() | blob,
    ctime=opt_time,
    cusec=st.none() | st.integers(min_value=0, max_value=999999),
)
def test_krb_error(stime, susec, code, realm, sname, crealm, cname, e_text, e_data, ctime, cusec):
    sname_der, sname_obj = _pn(sname)
    fields = {
        "pvno": 5,
        "msg-type": 30,
        "stime": stime,
        "susec": susec,
        "error-code": code,
        "realm": realm,
        "sname": sname_obj,
    }
    cname_der = None
    if cname is not None:
        cname_der, fields["cname"] = _pn(cname)
    for k, v in (("crealm", crealm), ("e-text", e_text), ("e-data", e_data), ("ctime", ctime)):
        if v is not None:
            fields[k] = v
    if cusec is not None:
        fields["cusec"] = cusec
    mine = der.krb_error(
        stime=stime,
        susec=susec,
        error_code=code,
        realm=realm,
        sname=sname_der,
        crealm=crealm,
        cname=cname_der,
        e_text=e_text,
        e_data=e_data,
        ctime=ctime,
        cusec=cusec,
    )
    assert mine == asn1.KrbError(fields).dump()


def test_non_latin1_name_raises_value_error_like_asn1crypto():
    import pytest

    with pytest.raises(ValueError):
        der.general_string("\u0100")
    with pytest.raises(ValueError):
        asn1.KerberosString("\u0100").dump()
