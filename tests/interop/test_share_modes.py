"""Share modes and delete-pending between two real clients: two smbprotocol (jborean93)
connections, each with its own signed session, against the server under test."""

from __future__ import annotations

import uuid

import pytest
import smbclient
from smbprotocol.connection import Connection
from smbprotocol.exceptions import SMBOSError

STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_DELETE_PENDING = 0xC0000056

pytestmark = [pytest.mark.interop]


class Client:
    """One TCP connection and session, in a connection cache of its own."""

    def __init__(self, target) -> None:
        self.target = target
        self.cache: dict = {}
        conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
        conn.connect(timeout=15)
        self.cache[f"{target.host.lower()}:{target.port}"] = conn
        smbclient.register_session(
            target.host,
            username=target.user,
            password=target.password,
            port=target.port,
            connection_cache=self.cache,
            require_signing=True,
            auth_protocol="ntlm",
        )

    def path(self, name: str) -> str:
        return rf"\\{self.target.host}\{self.target.share}\{name}"

    def open(self, name: str, mode: str, share: str | None = None):
        return smbclient.open_file(
            self.path(name),
            mode=mode,
            share_access=share,
            port=self.target.port,
            connection_cache=self.cache,
        )

    def call(self, fn, name: str, *args, **kw):
        return fn(self.path(name), *args, port=self.target.port, connection_cache=self.cache, **kw)

    def close(self) -> None:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self.cache)


def refused(status: int, fn, *args, **kw) -> None:
    """``fn`` fails with NTSTATUS ``status`` (smbclient raises SMBOSError for it)."""
    with pytest.raises(SMBOSError) as e:
        fn(*args, **kw)
    assert e.value.ntstatus == status, hex(e.value.ntstatus)


@pytest.fixture
def two_clients(target):
    a = Client(target)
    try:
        b = Client(target)
    except BaseException:
        a.close()
        raise
    yield a, b
    b.close()
    a.close()


@pytest.mark.timeout(120)
def test_second_client_writing_without_sharing_gets_sharing_violation(target, two_clients):
    a, b = two_clients
    name = f"share_{uuid.uuid4().hex[:8]}.txt"
    with a.open(name, "w", share=None) as fa:  # write, share nothing
        fa.write("first")
        fa.flush()
        refused(STATUS_SHARING_VIOLATION, b.open, name, "w", share="rwd")
        refused(STATUS_SHARING_VIOLATION, b.open, name, "r", share="rwd")
        assert b.call(smbclient.stat, name).st_size >= 0  # attributes only: admitted
    with b.open(name, "a", share=None) as fb:  # the first open is gone
        fb.write(" second")
    assert (target.share_dir / name).read_text() == "first second"
    b.call(smbclient.remove, name)


@pytest.mark.timeout(120)
def test_delete_waits_for_the_other_clients_close(target, two_clients):
    a, b = two_clients
    name = f"pending_{uuid.uuid4().hex[:8]}.txt"
    with a.open(name, "w", share="rwd") as fa:
        fa.write("x")
        fa.flush()
        b.call(smbclient.remove, name)  # delete-on-close open + close: now delete-pending
        assert (target.share_dir / name).exists()
        refused(STATUS_DELETE_PENDING, b.open, name, "r", share="rwd")
    assert not (target.share_dir / name).exists()
