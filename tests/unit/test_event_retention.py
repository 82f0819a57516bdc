"""Event log retention: a maximum size with overwrite-oldest, and a logged clear."""

from __future__ import annotations

import pytest

from lanman.events import DEFAULT_MAX_BYTES, EventLog


@pytest.fixture
def log(tmp_path):
    ev = EventLog(tmp_path / "lanman.sqlite", max_bytes=1024 * 1024)
    yield ev
    ev.close()


def _fail(ev: EventLog, i: int) -> None:
    ev.emit(
        "LOGON_FAILURE",
        source="smb",
        client=f"127.0.0.2:{40000 + i % 20000}",
        domain="",
        user=f"guess{i}",
        status="0xC000006D STATUS_LOGON_FAILURE",
        reason="authentication failed",
    )


def test_50000_failed_logons_stay_under_the_maximum(log, tmp_path):
    for i in range(50_000):
        _fail(log, i)
    size = log.size_bytes()
    assert 0 < size <= log.max_bytes
    newest = log.query(limit=1)[0]
    assert newest["data"]["user"] == "guess49999"  # the newest survive...
    kept = log.query(limit=100_000)
    assert kept[-1]["data"]["user"] != "guess0"  # ...the oldest were overwritten
    assert 2000 < len(kept) < 50_000
    users = [int(r["data"]["user"][5:]) for r in kept]
    assert users == sorted(users, reverse=True) and users[0] - users[-1] == len(kept) - 1
    # SQLite reuses the freed pages: the file does not grow without bound either.
    db = (tmp_path / "lanman.sqlite").stat().st_size
    wal = tmp_path / "lanman.sqlite-wal"
    db += wal.stat().st_size if wal.exists() else 0
    assert db < 8 * log.max_bytes, f"database + WAL are {db} bytes"


def test_size_is_recounted_when_another_writer_adds_events(tmp_path):
    path = tmp_path / "lanman.sqlite"
    a, b = EventLog(path, max_bytes=64 * 1024), EventLog(path, max_bytes=64 * 1024)
    try:
        for i in range(3000):
            _fail(a if i % 2 else b, i)
        assert a.size_bytes() <= 64 * 1024 and b.size_bytes() == a.size_bytes()
    finally:
        a.close()
        b.close()


def test_clear_is_logged(log):
    for i in range(10):
        _fail(log, i)
    assert log.clear() == 10
    assert log.query() == []
    log.emit("LOG_CLEARED", source="lanman-cli", user="root", removed=10, backup="")
    (only,) = log.query()
    assert only["event_id"] == 1102 and "10 events removed" in only["message"]


def test_default_maximum_is_20_mib(tmp_path):
    ev = EventLog(tmp_path / "x.sqlite")
    try:
        assert ev.max_bytes == DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    finally:
        ev.close()
    with pytest.raises(ValueError):
        EventLog(tmp_path / "y.sqlite", max_bytes=10)


def test_size_counter_matches_the_rows(log):
    for i in range(500):
        _fail(log, i)
    conn = log._connection()
    recount = conn.execute(
        "SELECT SUM(length(message) + length(data_json) + length(source) + length(level) + 64)"
        " FROM events"
    ).fetchone()[0]
    assert log.size_bytes() == recount
