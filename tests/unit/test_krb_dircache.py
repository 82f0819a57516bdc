"""KDC principal cache: the "logon succeeded" write is skipped only when it would change nothing."""

from __future__ import annotations

import pytest

from lanman.directory import Directory
from lanman.directory.provision import provision
from lanman.kerberos.kdc.dircache import DirectoryCache
from lanman.store import Store

SID = "S-1-5-21-1-2-3"


@pytest.fixture
def home(tmp_path):
    s = Store(tmp_path / "lanman.sqlite")
    s.add_user("carol", "Carol-pass1")
    s.close()
    provision(
        tmp_path,
        realm="lanman.test",
        domain="lanman",
        host_name="LANMAN",
        admin_password="Adm1n-pass",
        domain_sid=SID,
    )
    with Directory.open(tmp_path) as d:
        d.set_lockout_policy(threshold=2, duration=0, window=3600)
    return tmp_path


def test_repeated_success_writes_once(home):
    with Directory.open(home) as d:
        c = DirectoryCache(d)
        c.begin_request()
        c.record_logon_success("carol")
        writes = d._conn.total_changes
        for _ in range(5):
            c.begin_request()
            assert c.find_principal("carol") is not None
            c.record_logon_success("carol")
        assert d._conn.total_changes == writes  # no-op resets skipped
        c.begin_request()
        c.record_logon_success("Administrator")  # another account: written once
        assert d._conn.total_changes == writes + 1
        c.begin_request()
        c.record_logon_success("carol")  # carol still known to be reset
        assert d._conn.total_changes == writes + 1


def test_failure_from_another_process_is_reset(home):
    with Directory.open(home) as d, Directory.open(home) as other:
        c = DirectoryCache(d)
        c.begin_request()
        c.record_logon_success("carol")
        assert not other.record_logon_failure("carol")  # count 1 (another connection)
        c.begin_request()
        c.record_logon_success("carol")  # must really reset the count to 0
        assert not other.record_logon_failure("carol")  # 1 again, not 2
        c.begin_request()
        assert not c.find_principal("carol").locked


def test_failure_through_the_cache_is_reset(home):
    with Directory.open(home) as d:
        c = DirectoryCache(d)
        c.begin_request()
        c.record_logon_success("carol")
        c.begin_request()
        assert not c.record_logon_failure("carol")
        c.begin_request()
        c.record_logon_success("carol")
        c.begin_request()
        assert not c.record_logon_failure("carol")  # would lock out without the reset
        c.begin_request()
        assert not c.find_principal("carol").locked
