"""The KDC's replay caches: shared-memory table across handles, expiry, refusal when full."""

from __future__ import annotations

import os
import signal

import pytest

from lanman.kerberos.kdc.replay import (
    ReplayCache,
    ReplayCacheFull,
    ShmReplayCache,
    open_shared_replay,
)
from lanman.kerberos.kdc.workers import exit_reason

NOW = 1_800_000_000.0


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "replay.shm")


def test_two_handles_share_one_table(path):
    a = ShmReplayCache(path, window=300, max_entries=1000)
    b = ShmReplayCache(path)  # geometry from the file's header
    try:
        assert a.capacity == b.capacity
        assert a.check_and_store(b"x" * 100, "krbtgt", NOW)
        assert not b.check_and_store(b"x" * 100, "krbtgt", NOW)
        assert not a.check_and_store(b"x" * 100, "krbtgt", NOW + 1)
        # the server name is part of the key
        assert b.check_and_store(b"x" * 100, "cifs", NOW)
        assert len(a) == 2
    finally:
        a.close()
        b.close()


def test_entries_expire_after_twice_the_window(path):
    c = ShmReplayCache(path, window=300, max_entries=100)
    try:
        assert c.check_and_store(b"a" * 64, "krbtgt", NOW)
        assert not c.check_and_store(b"a" * 64, "krbtgt", NOW + 600)
        assert c.check_and_store(b"a" * 64, "krbtgt", NOW + 602)
    finally:
        c.close()


def test_full_table_refuses_and_never_evicts_live_entries(path):
    c = ShmReplayCache(path, window=300, max_entries=32)
    try:
        stored = []
        with pytest.raises(ReplayCacheFull):
            for _ in range(10 * c.capacity):
                k = os.urandom(48)
                assert c.check_and_store(k, "krbtgt", NOW)
                stored.append(k)
        assert len(stored) >= c.capacity // 2  # two-choice buckets fill well before refusing
        assert len(c) == len(stored) <= c.capacity
        for k in stored:  # every accepted authenticator is still a replay
            assert not c.check_and_store(k, "krbtgt", NOW + 10)
        # once the window has passed, the slots are reused
        assert c.check_and_store(os.urandom(48), "krbtgt", NOW + 700)
    finally:
        c.close()


def test_foreign_file_is_rejected(path):
    with open(path, "wb") as f:
        f.write(b"not a cache" * 100)
    with pytest.raises(ValueError):
        ShmReplayCache(path)


def test_open_shared_replay_backends(tmp_path):
    shm = open_shared_replay(str(tmp_path / "r.shm"))
    sql = open_shared_replay(str(tmp_path / "r.sqlite"))
    try:
        assert isinstance(shm, ShmReplayCache)
        assert type(sql).__name__ == "SharedReplayCache"
    finally:
        shm.close()
        sql.close()


def test_in_process_cache_refuses_when_full():
    c = ReplayCache(window=300, max_entries=3)
    for i in range(3):
        assert c.check_and_store(bytes([i]) * 40, "krbtgt", NOW)
    with pytest.raises(ReplayCacheFull):
        c.check_and_store(b"z" * 40, "krbtgt", NOW)
    assert not c.check_and_store(b"\x00" * 40, "krbtgt", NOW)  # still remembered
    assert c.check_and_store(b"z" * 40, "krbtgt", NOW + 601)  # expired entries make room


def test_exit_reason():
    assert exit_reason(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_reason(1) == "exit status 1"


def test_full_cache_is_svc_unavailable_not_repeat(tmp_path):
    """A TGS-REQ the KDC cannot remember is refused with KDC_ERR_SVC_UNAVAILABLE (29)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_krb_support import REALM, FakeDirectory

    from lanman.kerberos import asn1, client
    from lanman.kerberos.kdc import KdcCore

    d = FakeDirectory()
    core = KdcCore(d, lambda: NOW)
    p = d.principals["alice"]
    req, nonce = client.as_req(REALM, "alice", key=(18, p.keys[18]), now=NOW)
    tgt = client.parse_as_rep(core.handle(req), p.keys[18], 18, nonce)
    core.replay = ShmReplayCache(str(tmp_path / "r.shm"), window=300, max_entries=1)
    try:
        sname = ["cifs", "dc1.lanman.test"]
        codes = []
        for _ in range(core.replay.capacity + 1):
            rep = core.handle(client.tgs_req(tgt, sname, now=NOW)[0])
            if asn1.message_type(rep) == asn1.MSG_KRB_ERROR:
                codes.append(client.parse_error(rep).code)
        assert codes and set(codes) == {29}
    finally:
        core.replay.close()


class _FakeProc:
    pids = iter(range(1000, 2000))

    def __init__(self) -> None:
        self.pid = next(self.pids)
        self.rc: int | None = None
        self.stdin = None

    def poll(self) -> int | None:
        return self.rc


def test_worker_restart_and_backoff(monkeypatch):
    import socket

    from lanman.kerberos.kdc.workers import WorkerPool

    monkeypatch.setattr(WorkerPool, "_spawn", lambda self: _FakeProc())
    now = 0.0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        pool = WorkerPool(2, "/nonexistent", "/nonexistent/r.shm", u, t, 300, clock=lambda: now)
    a, b = pool.procs
    assert pool.restart_dead() == []
    now = 100.0
    a.rc = -signal.SIGKILL  # dies long after its start: restarted at once
    (ev,) = pool.restart_dead()
    assert ev[:2] == (a.pid, "killed by SIGKILL") and ev[2] == pool.procs[0].pid
    c = pool.procs[0]
    c.rc = 1  # first quick death: restarted at once
    now = 101.0
    (ev,) = pool.restart_dead()
    assert ev == (c.pid, "exit status 1", pool.procs[0].pid)
    d = pool.procs[0]
    d.rc = 1  # second quick death in a row: waits 1 s
    now = 102.0
    assert pool.restart_dead() == [(d.pid, "exit status 1", None)]
    now = 102.5
    assert pool.restart_dead() == []
    now = 103.1
    (ev,) = pool.restart_dead()
    assert ev[:2] == (d.pid, "exit status 1") and ev[2] == pool.procs[0].pid
    assert pool.procs[1] is b and pool.restarts == 3
