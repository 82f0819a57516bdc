"""impacket SMBConnection (client) at each dialect it can force.

impacket 0.13.1 accepts SMB2_DIALECT_002, _21, _30 and _311 as ``preferredDialect`` (it
then negotiates exactly that one); SMB2_DIALECT_302 is *not* accepted there ("Unknown
dialect"), 3.0.2 is only reachable through the multi-protocol negotiate (``None``), which
starts with an SMB1 NEGOTIATE offering "SMB 2.002"/"SMB 2.???" and upgrades via the 0x02FF
wildcard response.  It signs with HMAC-SHA256 (2.x) and AES-CMAC (3.x); it
sends no SIGNING_CAPABILITIES context, so at 3.1.1 the server must fall back to AES-CMAC.
"""

from __future__ import annotations

import contextlib
import io
import os

import impacket  # noqa: F401 - a test peer: a missing one fails, never skips
import pytest
from impacket import smb3structs as s3
from impacket.smbconnection import SMBConnection
from interop_support import TamperProxy, unsigned_traffic

pytestmark = [pytest.mark.interop]

DIALECTS = {
    "2.0.2": s3.SMB2_DIALECT_002,
    "2.1": s3.SMB2_DIALECT_21,
    "3.0": s3.SMB2_DIALECT_30,
    "3.1.1": s3.SMB2_DIALECT_311,
    "multi-protocol": None,  # SMB1 negotiate -> SMB2 wildcard -> highest (3.1.1)
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(DIALECTS))
def test_impacket_client(target, name):
    dialect = DIALECTS[name]
    with TamperProxy(target.port) as proxy:
        conn = SMBConnection(
            target.host, target.host, sess_port=proxy.port, preferredDialect=dialect, timeout=15
        )
        try:
            if dialect is None:
                assert conn.getDialect() == s3.SMB2_DIALECT_311
            else:
                assert conn.getDialect() == dialect
            # impacket (client) encrypts every 3.x session whose server advertises
            # encryption (Samba and lanman do).  This suite is about signing, so switch
            # impacket's encryption off (test_encryption.py covers it).
            conn._SMBConnection._Connection["SupportsEncryption"] = False
            conn.login(target.user, target.password)
            assert not conn.isGuestSession()
            assert conn.isSigningRequired(), "server must require signing"
            shares = {s["shi1_netname"][:-1] for s in conn.listShares()}
            assert {target.share, target.ro_share, "IPC$"} <= shares, shares

            payload = os.urandom(200_000) + name.encode()
            fname = f"imp_{name}.bin"
            conn.putFile(target.share, fname, io.BytesIO(payload).read)
            assert (target.share_dir / fname).read_bytes() == payload
            names = {f.get_longname() for f in conn.listPath(target.share, "*")}
            assert fname in names and "." in names, names
            buf = io.BytesIO()
            conn.getFile(target.share, fname, buf.write)
            assert buf.getvalue() == payload
            conn.deleteFile(target.share, fname)
            assert not (target.share_dir / fname).exists()
        finally:
            with contextlib.suppress(Exception):  # best effort: the test already asserted
                conn.logoff()
            conn.close()
    if dialect is None:
        assert proxy.dialects == [s3.SMB2_DIALECT_WILDCARD, s3.SMB2_DIALECT_311], [
            hex(d) for d in proxy.dialects
        ]
    else:
        assert set(proxy.dialects) == {dialect}
    assert unsigned_traffic(proxy) == []
