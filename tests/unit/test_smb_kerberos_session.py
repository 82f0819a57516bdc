"""Kerberos SMB sessions in process: lanman's client and server, keys from the Kerberos subkey.

MS-SMB2 3.3.5.5.3 / 3.2.5.3.1: Session.SessionKey = the first 16 bytes of the GSS session key
(the acceptor subkey, MS-KILE 3.4.5.1); 2.1 signs with it directly (HMAC-SHA256), 3.1.1
derives the signing key with SP800-108 over the pre-authentication hash (AES-CMAC).
"""

from __future__ import annotations

import collections

import pytest
from smb_harness import NOW, make_context, track, untrack
from test_gss_krb5 import REALM, lookup, make_ticket

from lanman.auth.kerberos import KerberosAcceptor, KerberosInitiator
from lanman.auth.spnego import KRB5_OID, MS_KRB5_OID, NTLMSSP_OID, parse_token
from lanman.crypto.smb_signing import derive_keys
from lanman.errors import ntstatus as nts
from lanman.kerberos import gssapi
from lanman.smb.client import SmbClient, SmbClientError
from lanman.smb.client.connection import ClientConnection
from lanman.smb.server.connection import ServerConnection


class Transport:
    def __init__(self, ctx) -> None:
        self.server = ServerConnection(ctx, "192.0.2.30:50000")
        self.queue: collections.deque[bytes] = collections.deque()
        track(self)  # closed after the test if the client never closes its transport

    def send(self, parts) -> None:
        frame = b"".join(bytes(p) for p in parts)
        for bufs in self.server.receive_frame(frame, NOW):
            self.queue.append(b"".join(bytes(b) for b in bufs))

    def recv(self) -> bytes:
        if not self.queue:
            raise SmbClientError(nts.STATUS_IO_TIMEOUT, "no response queued")
        return self.queue.popleft()

    def close(self) -> None:
        untrack(self)
        self.server.connection_lost()


def kerberos_context(tmp_path, logons=None):
    ctx, _events, share = make_context(tmp_path)
    replay = gssapi.ReplayWindow()
    ctx.kerberos_acceptor = lambda: KerberosAcceptor(
        lookup,
        realm=REALM,
        domain="LANMAN",
        replay=replay,
        now=lambda: gssapi.time.time(),
        on_logon=(logons.append if logons is not None else None),
    )
    ctx.negotiate_mechs = (MS_KRB5_OID, KRB5_OID, NTLMSSP_OID)
    return ctx, share


def kerberos_client(ctx, dialect, ticket=None):
    t = Transport(ctx)
    conn = ClientConnection(
        dialects=(dialect,), require_signing=True, server_name="LANMAN", now_filetime=NOW
    )
    c = SmbClient(t, conn)
    c._kerberos = KerberosInitiator(
        ticket or make_ticket(authtime=gssapi.time.time() - 60, endtime=gssapi.time.time() + 3600)
    )
    c.negotiate()
    c.login("", "")
    return c, t


@pytest.mark.parametrize("dialect", [0x0311, 0x0210])
def test_kerberos_session_signs_with_the_subkey(tmp_path, dialect):
    logons = []
    ctx, share = kerberos_context(tmp_path, logons)
    c, t = kerberos_client(ctx, dialect)
    assert c.mechanism == "Kerberos" and c.conn.session.user == "dave"
    assert len(logons) == 1
    (session,) = t.server.sessions.values()
    assert session.user == "dave" and session.domain == "LANMAN"
    assert session.auth_package == "Kerberos" and session.token is not None
    subkey = logons[0].acceptor_subkey
    assert subkey is not None and subkey[1] != logons[0].initiator_subkey[1]
    keys = derive_keys(subkey[1][:16], dialect, session.preauth_hash if dialect == 0x0311 else None)
    assert session.session_key == subkey[1][:16]
    assert session.signing_key == keys.signing_key == c.conn.session.signing_key
    if dialect == 0x0210:
        assert session.signing_key == subkey[1][:16]
    else:
        assert session.signing_key != subkey[1][:16]
    assert session.signing_required
    c.tree_connect("data")
    (share / "k.txt").write_bytes(b"kerberos")
    assert c.read_bytes("k.txt") == b"kerberos"
    assert c.connection_info().signed
    c.close()


def test_negotiate_response_offers_kerberos_first(tmp_path):
    ctx, _ = kerberos_context(tmp_path)
    c, _ = kerberos_client(ctx, 0x0311)
    hint = parse_token(c.conn.gss_token)
    assert hint.mech_types == [MS_KRB5_OID, KRB5_OID, NTLMSSP_OID]
    c.close()


def test_without_a_domain_only_ntlm_is_offered(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    t = Transport(ctx)
    c = SmbClient(t, ClientConnection(dialects=(0x0311,), now_filetime=NOW))
    c.negotiate()
    assert parse_token(c.conn.gss_token).mech_types == [NTLMSSP_OID]
    c._kerberos = KerberosInitiator(make_ticket())
    with pytest.raises(SmbClientError):
        c.login("", "")  # the server does not offer Kerberos and there is no NTLM fallback


def test_ticket_for_another_key_is_a_logon_failure(tmp_path):
    ctx, _ = kerberos_context(tmp_path)
    bad = make_ticket(
        service_key=b"\x55" * 32, authtime=gssapi.time.time(), endtime=gssapi.time.time() + 3600
    )
    with pytest.raises(SmbClientError) as e:
        kerberos_client(ctx, 0x0311, bad)
    assert e.value.status == nts.STATUS_LOGON_FAILURE


def test_replayed_session_setup_is_refused(tmp_path):
    ctx, _ = kerberos_context(tmp_path)
    c, _t = kerberos_client(ctx, 0x0210)
    # A second connection replaying the same AP-REQ token (same authenticator).
    k = KerberosInitiator(
        make_ticket(authtime=gssapi.time.time(), endtime=gssapi.time.time() + 3600)
    )
    token = k.step(None)
    acc = ctx.kerberos_acceptor()
    acc.step(token)
    acc2 = ctx.kerberos_acceptor()
    from lanman.auth.ntlm import AuthError

    with pytest.raises(AuthError, match="REPEAT"):
        acc2.step(token)
    c.close()


def test_ccache_parser_reads_mit_format(tmp_path):
    import struct

    from lanman.smb.client.kerberos import parse_ccache

    def counted(b):
        return struct.pack(">I", len(b)) + b

    def princ(realm, *comps):
        return (
            struct.pack(">II", 1, len(comps))
            + counted(realm.encode())
            + b"".join(counted(c.encode()) for c in comps)
        )

    cred = (
        princ(REALM, "dave")
        + princ(REALM, "krbtgt", REALM)
        + struct.pack(">H", 18)
        + counted(b"k" * 32)
        + struct.pack(">IIII", 1, 2, 3, 4)
        + b"\x00"
        + struct.pack(">I", 0x40E10000)
        + struct.pack(">II", 0, 0)
        + counted(b"TICKET")
        + counted(b"")
    )
    conf = (
        princ(REALM, "dave")
        + princ("X-CACHECONF:", "krb5_ccache_conf_data", "pa_type")
        + struct.pack(">H", 0)
        + counted(b"")
        + bytes(16)
        + b"\x00"
        + bytes(4)
        + bytes(8)
        + counted(b"2")
        + counted(b"")
    )
    data = (
        struct.pack(">HH", 0x0504, 12)
        + struct.pack(">HH", 1, 8)
        + bytes(8)
        + princ(REALM, "dave")
        + conf
        + cred
    )
    default, creds = parse_ccache(data)
    assert default == (REALM, ["dave"])
    assert len(creds) == 1 and creds[0].server == ["krbtgt", REALM]
    assert creds[0].key == (18, b"k" * 32) and creds[0].endtime == 3
    assert creds[0].ticket == b"TICKET"
    with pytest.raises(ValueError):
        parse_ccache(data[:-3])


def test_ip_address_warning_and_required_failure():
    from lanman.smb.client.kerberos import KerberosUnavailable, acquire_service_ticket

    with pytest.raises(KerberosUnavailable) as e:
        acquire_service_ticket(
            "192.0.2.7",
            realm=REALM,
            kdc="127.0.0.1:1",
            krb5_conf="/nonexistent",
            ccache="/nonexistent",
        )
    assert e.value.reason == "ip" and "IP address forces NTLM" in e.value.warning
    # auto mode without a cached ticket or an explicit KDC: no attempt, no warning
    with pytest.raises(KerberosUnavailable) as e:
        acquire_service_ticket(
            "192.0.2.7", realm=REALM, krb5_conf="/nonexistent", ccache="/nonexistent", auto=True
        )
    assert e.value.warning == ""


def test_alias_detection():
    from lanman.smb.client.kerberos import is_alias, is_ip_literal

    assert is_alias("files", "server1.lanman.test")
    assert not is_alias("server1", "server1.lanman.test")
    assert not is_alias("server1.lanman.test", "SERVER1.lanman.test")
    assert not is_alias("x", None)
    assert is_ip_literal("127.0.0.1") and is_ip_literal("[::1]") and not is_ip_literal("lanman")
