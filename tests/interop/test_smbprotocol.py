"""smbprotocol (jborean93) with require_signing=True at a forced dialect."""

from __future__ import annotations

import os
import uuid

import pytest
import smbclient
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from interop_support import TamperProxy, unsigned_traffic
from smbprotocol.connection import Connection, Dialects, SigningAlgorithms

pytestmark = [pytest.mark.interop]

DIALECTS = {
    "3.1.1": (Dialects.SMB_3_1_1, "AES_GMAC"),
    "3.0.2": (Dialects.SMB_3_0_2, "AES_CMAC"),
    "3.0": (Dialects.SMB_3_0_0, "AES_CMAC"),
    "2.1": (Dialects.SMB_2_1_0, "HMAC_SHA256"),
    "2.0.2": (Dialects.SMB_2_0_2, "HMAC_SHA256"),
}


def open_session(host: str, port: int, user: str, password: str, dialect: int):
    """Connection forced to ``dialect`` + a signed session registered in a private cache."""
    cache: dict = {}
    conn = Connection(uuid.uuid4(), host, port, require_signing=True)
    conn.connect(dialect=dialect, timeout=15)
    cache[f"{host.lower()}:{port}"] = conn
    session = smbclient.register_session(
        host,
        username=user,
        password=password,
        port=port,
        connection_cache=cache,
        require_signing=True,
        auth_protocol="negotiate",
    )
    return conn, session, cache


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(DIALECTS))
def test_smbprotocol_signed_file_ops(target, name):
    dialect, _algo = DIALECTS[name]
    with TamperProxy(target.port) as proxy:
        conn, session, cache = open_session(
            target.host, proxy.port, target.user, target.password, dialect
        )
        try:
            assert conn.dialect == dialect
            assert conn.require_signing
            assert session.signing_required, "session must be signing-required"
            assert session.signing_key and len(session.signing_key) == 16
            if dialect == Dialects.SMB_3_1_1:
                assert conn.signing_algorithm_id == SigningAlgorithms.AES_GMAC
            else:
                assert conn.signing_algorithm_id is None  # implied by the dialect
            kw = {"port": proxy.port, "connection_cache": cache}
            root = rf"\\{target.host}\{target.share}"
            d = rf"{root}\sp_{name}"
            smbclient.mkdir(d, **kw)
            payload = os.urandom(300_000) + b"tail"
            with smbclient.open_file(rf"{d}\one.bin", mode="wb", **kw) as f:
                f.write(payload)
            with smbclient.open_file(rf"{d}\one.bin", mode="rb", **kw) as f:
                assert f.read() == payload
            assert (target.share_dir / f"sp_{name}" / "one.bin").read_bytes() == payload
            assert sorted(smbclient.listdir(d, **kw)) == ["one.bin"]
            smbclient.rename(rf"{d}\one.bin", rf"{d}\two.bin", **kw)
            assert sorted(smbclient.listdir(d, **kw)) == ["two.bin"]
            st = smbclient.stat(rf"{d}\two.bin", **kw)
            assert st.st_size == len(payload)
            smbclient.remove(rf"{d}\two.bin", **kw)
            assert smbclient.listdir(d, **kw) == []
            smbclient.rmdir(d, **kw)
            assert not (target.share_dir / f"sp_{name}").exists()
        finally:
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
    assert unsigned_traffic(proxy) == []
    assert set(proxy.dialects) == {int(dialect)}


@pytest.mark.timeout(60)
def test_smbprotocol_read_only_share(target):
    from smbprotocol.exceptions import SMBOSError

    _conn, _session, cache = open_session(
        target.host, target.port, target.user, target.password, Dialects.SMB_3_1_1
    )
    try:
        kw = {"port": target.port, "connection_cache": cache}
        ro = rf"\\{target.host}\{target.ro_share}"
        with smbclient.open_file(rf"{ro}\readme.txt", mode="rb", **kw) as f:
            assert f.read() == b"read-only share\n"
        with (
            pytest.raises((SMBOSError, PermissionError, OSError)),
            smbclient.open_file(rf"{ro}\new.txt", mode="wb", **kw) as f,
        ):
            f.write(b"x")
        assert not (target.ro_dir / "new.txt").exists()
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


@pytest.mark.timeout(60)
def test_smbprotocol_extended_attributes(target):
    """smbprotocol's setxattr/getxattr/listxattr/removexattr speak FileFullEaInformation
    (SET_INFO / QUERY_INFO): what a client stores comes back, names upper-cased as NTFS
    keeps them, and the host file carries them in its xattr."""
    _conn, _session, cache = open_session(
        target.host, target.port, target.user, target.password, Dialects.SMB_3_1_1
    )
    try:
        kw = {"port": target.port, "connection_cache": cache}
        path = rf"\\{target.host}\{target.share}\ea_peer.txt"
        with smbclient.open_file(path, mode="wb", **kw) as f:
            f.write(b"x")
        assert smbclient.listxattr(path, **kw) == []
        smbclient.setxattr(path, b"user.Color", b"blue", **kw)
        smbclient.setxattr(path, b"TAGS", b"a,b,c", **kw)
        assert smbclient.getxattr(path, b"USER.COLOR", **kw) == b"blue"  # NTFS upper-cases
        assert sorted(smbclient.listxattr(path, **kw)) == [b"TAGS", b"USER.COLOR"]
        smbclient.removexattr(path, b"TAGS", **kw)
        assert smbclient.listxattr(path, **kw) == [b"USER.COLOR"]
        host = target.share_dir / "ea_peer.txt"
        assert b"USER.COLOR" in os.getxattr(host, "user.lanman.ea")
        smbclient.remove(path, **kw)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
