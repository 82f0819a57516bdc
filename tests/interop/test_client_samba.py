"""lanman's SMB client against Samba smbd (real sockets, loopback): docs/SOURCES.md signing §5/§6.

* ``server signing = mandatory``: works, signed, at 3.1.1 / 3.0 / 2.1, whatever the client
  requires;
* ``server signing = auto``: client requiring signing -> signed; not requiring -> unsigned;
* ``map to guest = bad user`` + ``guest ok = yes``: an unknown user gets a guest session:
  client requires signing -> 0xC05D0003; insecure guest logons disabled -> 1272 (+0x80070035);
  both permitted -> works as guest.
"""

from __future__ import annotations

import os

import pytest
from interop_support import cleanup_target
from samba_variants import GUEST_SHARE, start_samba_variant

from lanman.smb.client import SmbClient, SmbClientError, parse_dialect

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def samba_mandatory():
    t = start_samba_variant("mandatory")
    yield t
    cleanup_target(t)


@pytest.fixture(scope="module")
def samba_auto():
    t = start_samba_variant("auto")
    yield t
    cleanup_target(t)


def _connect(t, share="data", user=None, password=None, **kw):
    kw.setdefault("allow_insecure_guest", False)
    return SmbClient.connect(
        t.host,
        t.port,
        t.user if user is None else user,
        t.password if password is None else password,
        share=share,
        timeout=20,
        **kw,
    )


def _roundtrip(c: SmbClient, tmp_path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    src = tmp_path / "src"
    src.write_bytes(data)
    c.mkdir("cl")
    c.put(src, "cl/f.bin")
    assert c.stat("cl/f.bin").size == len(data)
    assert "f.bin" in {e.name for e in c.listdir("cl")}
    c.rename("cl/f.bin", "cl/g.bin")
    c.get("cl/g.bin", tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == data
    c.remove("cl/g.bin")
    c.rmdir("cl")


@pytest.mark.parametrize("dialect", ["3.1.1", "3.0", "2.1"])
@pytest.mark.parametrize("require", [True, False])
def test_mandatory_signed(samba_mandatory, tmp_path, dialect, require):
    c = _connect(samba_mandatory, dialects=(parse_dialect(dialect),), require_signing=require)
    try:
        info = c.connection_info()
        assert info.dialect == dialect
        assert info.signed, "Samba mandatory signing: every message is signed"
        assert not info.is_guest
        assert (
            info.signing_algorithm
            == {"3.1.1": "AES-GMAC", "3.0": "AES-CMAC", "2.1": "HMAC-SHA256"}[dialect]
        )
        assert c.conn.discarded == 0
        _roundtrip(c, tmp_path)
    finally:
        c.close()


@pytest.mark.parametrize("require", [True, False])
def test_auto(samba_auto, tmp_path, require):
    c = _connect(samba_auto, require_signing=require)
    try:
        info = c.connection_info()
        assert info.dialect == "3.1.1"
        assert info.signed is require
        _roundtrip(c, tmp_path)
    finally:
        c.close()


def test_auto_validate_negotiate_302(samba_auto, tmp_path):
    c = _connect(samba_auto, dialects=(0x0302,), require_signing=True)
    try:
        assert c._validated and c.connection_info().signed
        c.listdir("")
    finally:
        c.close()


def test_guest_share_client_requires_signing(samba_auto):
    with pytest.raises(SmbClientError) as ei:
        _connect(
            samba_auto,
            share=GUEST_SHARE,
            user="nosuchuser",
            password="whatever",
            require_signing=True,
            allow_insecure_guest=True,
        )
    e = ei.value
    assert e.win32.value == 3227320323
    assert e.win32.name == "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED"
    assert e.lines()[0] == "System error 3227320323 has occurred."


def test_guest_share_insecure_guest_disabled(samba_auto):
    with pytest.raises(SmbClientError) as ei:
        _connect(
            samba_auto,
            share=GUEST_SHARE,
            user="nosuchuser",
            password="whatever",
            require_signing=False,
            allow_insecure_guest=False,
        )
    e = ei.value
    assert e.win32.value == 1272 and e.win32.name == "ERROR_SMB_GUEST_LOGON_BLOCKED"
    text = "\n".join(e.lines())
    assert "organization's security policies block unauthenticated guest access" in text
    assert "Error code: 0x80070035 The network path was not found." in text


@pytest.mark.parametrize("samba", ["samba_auto", "samba_mandatory"])
def test_guest_share_both_permitted(request, samba):
    """Samba forces no signing for guests, even with ``server signing = mandatory``."""
    t = request.getfixturevalue(samba)
    c = _connect(
        t,
        share=GUEST_SHARE,
        user="nosuchuser",
        password="whatever",
        require_signing=False,
        allow_insecure_guest=True,
    )
    try:
        info = c.connection_info()
        assert info.is_guest and not info.signed
        assert "hello.txt" in {e.name for e in c.listdir("")}
        assert c.read_bytes("hello.txt") == b"hello guest\n"
    finally:
        c.close()


def test_real_user_on_mandatory_with_bad_password(samba_mandatory):
    """``bad user`` maps only unknown users: a wrong password stays a logon failure."""
    with pytest.raises(SmbClientError) as ei:
        _connect(samba_mandatory, password="wrong-password", require_signing=True)
    assert ei.value.status == 0xC000006D


@pytest.mark.parametrize("dialect", ["3.1.1", "3.0.2", "3.0"])
def test_encrypt_against_samba(samba_mandatory, tmp_path, dialect):
    """`lanman client --encrypt`: Samba agrees on the cipher and the keys (AES-128-GCM at
    3.1.1, AES-128-CCM at 3.0.x); every message after SESSION_SETUP is encrypted."""
    from interop_support import TamperProxy

    t = samba_mandatory
    with TamperProxy(t.port) as proxy:
        c = SmbClient.connect(
            t.host,
            proxy.port,
            t.user,
            t.password,
            share="data",
            timeout=20,
            dialects=(parse_dialect(dialect),),
            allow_insecure_guest=False,
            encrypt=True,
        )
        try:
            info = c.connection_info()
            assert info.encrypted
            assert info.cipher == ("AES-128-GCM" if dialect == "3.1.1" else "AES-128-CCM")
            _roundtrip(c, tmp_path)
        finally:
            c.close()
    assert proxy.transformed > 10
    plain = [m for m in proxy.requests if m.command not in (0, 1)]
    assert plain == [], plain
