"""impacket against lanman's KDC: the silo claim of an enforced silo's member, read from the
service ticket impacket's getST.py obtained, with impacket's own ccache, crypto, ASN.1 and
PAC structures (PACTYPE / PAC_INFO_BUFFER / PAC_CLIENT_CLAIMS_INFO; impacket keeps the claims
blob opaque, so lanman's MS-ADTS decoder reads the CLAIMS_SET inside it).
"""

from __future__ import annotations

import os

import pytest
from test_kdc import KdcThread, _bind_88, _impacket

from lanman.directory import Directory, provision
from lanman.kerberos.kdc import KdcCore
from lanman.kerberos.pac_claims import token_claims
from lanman.store import Store

REALM = "CLAIMS.TEST"
PW = "Claims-Passw0rd-1"


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    home = tmp_path_factory.mktemp("claims-home")
    provision(home, realm=REALM.lower(), domain="CLAIMS", host_name="DC1", admin_password=PW)
    s = Store(home / "lanman.sqlite")
    s.add_user("amy", PW)
    s.add_user("bob", PW)
    s.close()
    d = Directory.open(home)
    d.authn.create_silo("T0-Silo", enforced=True)
    d.authn.grant_member("T0-Silo", "amy")
    d.authn.assign_silo("amy", "T0-Silo")
    d.authn.grant_member("T0-Silo", "bob")  # granted but not assigned: no claim
    host = _bind_88()
    k = KdcThread(KdcCore(d), host, 88)
    k.start()
    k.directory = d
    yield k
    k.stop()
    d.close()


def _pac_buffers(d: Directory, ccache_path, spn: str) -> dict[int, bytes]:
    from impacket.krb5 import constants
    from impacket.krb5.asn1 import AD_IF_RELEVANT, EncTicketPart, Ticket
    from impacket.krb5.ccache import CCache
    from impacket.krb5.crypto import Key, _enctype_table
    from impacket.krb5.pac import PAC_INFO_BUFFER, PACTYPE
    from pyasn1.codec.der import decoder

    cc = CCache.loadFile(str(ccache_path))
    cred = next(c for c in cc.credentials if spn in c["server"].prettyPrint().decode())
    ticket = decoder.decode(cred.ticket["data"], asn1Spec=Ticket())[0]
    etype = int(ticket["enc-part"]["etype"])
    account = d.find_by_spn(spn)
    plain = _enctype_table[etype].decrypt(
        Key(etype, account.keys[etype]), 2, bytes(ticket["enc-part"]["cipher"])
    )
    etp = decoder.decode(plain, asn1Spec=EncTicketPart())[0]
    pac_bytes = None
    for ad in etp["authorization-data"]:
        if int(ad["ad-type"]) == constants.AuthorizationDataType.AD_IF_RELEVANT.value:
            for inner in decoder.decode(bytes(ad["ad-data"]), asn1Spec=AD_IF_RELEVANT())[0]:
                if int(inner["ad-type"]) == constants.AuthorizationDataType.AD_WIN2K_PAC.value:
                    pac_bytes = bytes(inner["ad-data"])
    assert pac_bytes is not None, "no PAC in the service ticket"
    pac = PACTYPE(pac_bytes)
    out = {}
    raw = pac["Buffers"]
    for i in range(pac["cBuffers"]):
        info = PAC_INFO_BUFFER(raw[i * 16 : (i + 1) * 16])
        off = info["Offset"]
        out[info["ulType"]] = pac_bytes[off : off + info["cbBufferSize"]]
    return out


@pytest.mark.parametrize(("user", "claim"), [("amy", "T0-Silo"), ("bob", None)])
def test_service_ticket_pac_carries_the_silo_claim(kdc, tmp_path, user, claim):
    from impacket.krb5.pac import PAC_CLIENT_CLAIMS_INFO

    r = _impacket("getTGT.py", "-dc-ip", kdc.host, f"{REALM}/{user}:{PW}", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ, KRB5CCNAME=str(tmp_path / f"{user}.ccache"))
    spn = f"cifs/dc1.{REALM.lower()}"
    s = _impacket(
        "getST.py",
        "-dc-ip",
        kdc.host,
        "-k",
        "-no-pass",
        "-spn",
        spn,
        f"{REALM}/{user}",
        cwd=tmp_path,
        env=env,
    )
    assert s.returncode == 0, s.stdout + s.stderr
    st = next(tmp_path.glob(f"{user}*cifs*.ccache"))
    buffers = _pac_buffers(kdc.directory, st, spn)
    if claim is None:
        assert 13 not in buffers
        return
    blob = PAC_CLIENT_CLAIMS_INFO(buffers[13])["Claims"]
    claims = token_claims(blob)
    assert claims["ad://ext/authenticationsilo"].name == "ad://ext/AuthenticationSilo"
    assert claims["ad://ext/authenticationsilo"].values == (claim,)
