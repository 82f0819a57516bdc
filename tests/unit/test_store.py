"""Unit tests for lanman.store, lanman.config, lanman.events and lanman.home."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from lanman.config import ConfigError, ServerConfig, load_config, save_config
from lanman.crypto.md4 import nt_hash
from lanman.events import CATALOGUE, EventLog
from lanman.home import Home
from lanman.store import Store, StoreError
from lanman.store.schema import SCHEMA_VERSION


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "lanman.sqlite")
    yield s
    s.close()


def _md4_utf16(pw: str) -> bytes:
    return nt_hash(pw)


# --- schema -----------------------------------------------------------------------------------


def test_schema_versioned_wal_and_private(tmp_path: Path) -> None:
    p = tmp_path / "lanman.sqlite"
    Store(p).close()
    c = sqlite3.connect(p)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    c.close()
    assert p.stat().st_mode & 0o077 == 0
    Store(p).close()  # reopening an up-to-date file is a no-op


def test_schema_newer_than_supported_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "lanman.sqlite"
    c = sqlite3.connect(p)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(StoreError, match="newer"):
        Store(p)


def test_not_a_database(tmp_path: Path) -> None:
    p = tmp_path / "lanman.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(p)


# --- users ------------------------------------------------------------------------------------


def test_add_user_stores_only_nt_hash(store: Store) -> None:
    pw = "Correct-Horse-9-battery"
    u = store.add_user("Alice", pw)
    assert u.rid == 1000 and u.enabled and u.created.endswith("Z")
    assert len(u.nt_hash) == 16
    assert u.nt_hash == _md4_utf16(pw)
    # Known NT hash vector: "password" -> 8846f7eaee8fb117ad06bdd830b7586c
    v = store.add_user("bob", "password")
    assert v.nt_hash.hex() == "8846f7eaee8fb117ad06bdd830b7586c"
    assert v.rid == 1001
    store.close()
    blob = b"".join(f.read_bytes() for f in store.path.parent.iterdir() if f.is_file())
    for enc in ("utf-8", "utf-16-le"):
        assert pw.encode(enc) not in blob


def test_user_lookup_is_case_insensitive(store: Store) -> None:
    store.add_user("Alice", "pw1")
    assert store.get_user("ALICE").name == "Alice"
    assert store.get_user("nobody") is None
    with pytest.raises(StoreError, match="already exists") as ei:
        store.add_user("alice", "pw2")
    assert ei.value.win32_name == "NERR_UserExists"


def test_set_password_and_remove(store: Store) -> None:
    store.add_user("carol", "old")
    store.set_password("CAROL", "new")
    assert store.get_user("carol").nt_hash == _md4_utf16("new")
    with pytest.raises(StoreError, match="does not exist"):
        store.set_password("dave", "x")
    store.remove_user("Carol")
    assert store.list_users() == []
    with pytest.raises(StoreError, match="does not exist"):
        store.remove_user("carol")


def test_rids_are_never_reused(store: Store) -> None:
    a = store.add_user("a", "x")
    store.remove_user("a")
    b = store.add_user("b", "x")
    assert b.rid == a.rid + 1


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 21,
        'a"b',
        "a/b",
        "a\\b",
        "a[b",
        "a]b",
        "a:b",
        "a;b",
        "a|b",
        "a=b",
        "a,b",
        "a+b",
        "a*b",
        "a?b",
        "a<b",
        "a>b",
        "a\tb",
        "...",
        " . ",
    ],
)
def test_bad_user_names(store: Store, name: str) -> None:
    with pytest.raises(StoreError) as ei:
        store.add_user(name, "pw")
    assert ei.value.remedy
    assert store.list_users() == []


def test_user_name_limits(store: Store) -> None:
    assert store.add_user("x" * 20, "pw").name == "x" * 20
    assert store.add_user("john.doe-1", "pw")


def test_empty_password_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="empty password"):
        store.add_user("erin", "")
    store.add_user("erin", "ok")
    with pytest.raises(StoreError, match="empty password"):
        store.set_password("erin", "")


def test_user_repr_hides_hash(store: Store) -> None:
    u = store.add_user("frank", "pw")
    assert u.nt_hash.hex() not in repr(u)


# --- shares -----------------------------------------------------------------------------------


def test_add_share_resolves_path(store: Store, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    s = store.add_share("Data", "data", read_only=True, remark="hello")
    assert s.path == str((tmp_path / "data").resolve())
    assert Path(s.path).is_absolute()
    got = store.get_share("DATA")
    assert got == s and got.read_only and not got.guest_ok and got.remark == "hello"
    assert store.list_shares() == [s]


def test_share_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist") as ei:
        store.add_share("x", tmp_path / "missing")
    assert ei.value.win32_name == "NERR_UnknownDevDir"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        store.add_share("x", f)
    store.add_share("x", tmp_path)
    with pytest.raises(StoreError, match="already exists") as ei:
        store.add_share("X", tmp_path)
    assert ei.value.win32_name == "NERR_DuplicateShare"
    with pytest.raises(StoreError, match="does not exist"):
        store.remove_share("nope")
    store.remove_share("X")
    assert store.get_share("x") is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "s" * 81,
        "a\\b",
        "a/b",
        "a:b",
        "a*b",
        "a?b",
        'a"b',
        "a<b",
        "a>b",
        "a|b",
        "IPC$",
        "ipc$",
        "a\x01",
    ],
)
def test_bad_share_names(store: Store, tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError) as ei:
        store.add_share(name, tmp_path)
    assert ei.value.remedy


def test_share_name_limits(store: Store, tmp_path: Path) -> None:
    assert store.add_share("s" * 80, tmp_path)
    assert store.add_share("admin-data$", tmp_path)


def test_store_thread_safety(store: Store) -> None:
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(10):
                store.add_user(f"u{i}-{j}", "pw")
                store.get_user(f"u{i}-{j}")
        except Exception as e:  # noqa: BLE001  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    users = store.list_users()
    assert len(users) == 40 and len({u.rid for u in users}) == 40


# --- config -----------------------------------------------------------------------------------


def test_config_defaults_and_round_trip(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg == ServerConfig()
    assert cfg.require_security_signature is True and cfg.map_to_guest is False
    assert cfg.listen == "127.0.0.1" and cfg.smb_port == 4445
    save_config(tmp_path, cfg)
    assert len(cfg.server_guid) == 36
    cfg2 = load_config(tmp_path)
    assert cfg2 == cfg
    cfg2.server_name = 'we"ird\\'
    with pytest.raises(ConfigError):
        save_config(tmp_path, cfg2)  # invalid NetBIOS name never written
    assert load_config(tmp_path) == cfg


def test_buffer_cap_reaches_the_transport(tmp_path: Path) -> None:
    """lanman.toml max_buffered_mib becomes the transport's server-wide buffer cap."""
    from types import SimpleNamespace

    from lanman.smb.server.service import transport_limits
    from lanman.smb.server.transport import MAX_BUFFERED

    (tmp_path / "lanman.toml").write_text("[server]\nmax_buffered_mib = 64\n")
    cfg = load_config(tmp_path)
    assert ServerConfig().max_buffered_mib * 2**20 == MAX_BUFFERED
    home = SimpleNamespace(config=cfg, path=tmp_path)
    assert transport_limits(home).max_buffered == 64 * 2**20


def test_config_string_escaping(tmp_path: Path) -> None:
    import tomllib

    from lanman.config import dumps

    vals = {"a": 'q"b\\s\nn\tt\x01\x7fé'}
    assert tomllib.loads(dumps({"t": vals}))["t"] == vals


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[server]\nsmb_port = 4445\nlisten = \n", 3, "invalid TOML"),
        ('[server]\nsmb_port = "445"\n', 2, "smb_port must be an integer"),
        ("[server]\nsmb_port = 70000\n", 2, "between 1 and 65535"),
        ("[server]\n\nrequire_security_signature = 1\n", 3, "true or false"),
        ('[server]\nlisten = "localhost"\n', 2, "not an IPv4 or IPv6 address"),
        ("[server]\nsmb_prot = 445\n", 2, "unknown key 'smb_prot'"),
        ('listen = "127.0.0.1"\n', 1, "unknown key 'listen'"),
        ('[server]\nserver_guid = "nope"\n', 2, "not a GUID"),
        ("[server]\nmax_buffered_mib = 8\n", 2, "between 24 and 65536 (MiB)"),
    ],
)
def test_broken_config_precise(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    p = tmp_path / "lanman.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path)
    e = ei.value
    assert str(p) in str(e) and f":{line}:" in str(e) and fragment in str(e)
    assert e.line == line and e.remedy
    assert p.read_text() == text


# --- events -----------------------------------------------------------------------------------


def test_event_catalogue() -> None:
    for name in (
        "SMB_SIGNATURE_VERIFY_FAILED",
        "SMB_UNSIGNED_REQUEST_ON_SIGNED_SESSION",
        "LOGON_FAILURE",
        "GUEST_LOGON_REFUSED",
    ):
        ev = CATALOGUE[name]
        assert ev.name == name and ev.id and ev.level and ev.template
    assert len({e.id for e in CATALOGUE.values()}) == len(CATALOGUE)


def test_event_log_write_query(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "lanman.sqlite")
    log.write(9001, "Error", "SMBServer", "bad sig", client="127.0.0.1:5555", command="WRITE")
    log.emit("LOGON_FAILURE", source="SMBServer", client="10.0.0.1", user="eve", password="hunter2")
    rows = log.query()
    assert [r["event_id"] for r in rows] == [551, 9001]  # newest first
    assert rows[1]["data"] == {"client": "127.0.0.1:5555", "command": "WRITE"}
    assert rows[1]["name"] == "SMB_SIGNATURE_VERIFY_FAILED"
    assert "eve" in rows[0]["message"] and rows[0]["level"] == "Error"
    assert rows[0]["data"]["password"] == "[redacted]"
    assert log.query(event_id=9001)[0]["message"] == "bad sig"
    assert log.query(limit=1)[0]["event_id"] == 551
    assert log.query(since="2999-01-01") == []
    assert len(log.query(since="2000-01-01T00:00:00Z")) == 2
    log.close()
    assert b"hunter2" not in (tmp_path / "lanman.sqlite").read_bytes()


def test_event_log_never_raises(tmp_path: Path, capsys) -> None:
    log = EventLog(tmp_path / "no-such-dir" / "lanman.sqlite")
    log.write(1, "Error", "x", "msg")  # must not raise
    assert "could not write event 1" in capsys.readouterr().err


def test_event_log_threads(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "lanman.sqlite")
    threads = [
        threading.Thread(target=lambda: [log.write(7, "Information", "t", "m") for _ in range(25)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(log.query(limit=1000)) == 100
    log.close()


# --- home -------------------------------------------------------------------------------------


def test_home_open_and_demo(tmp_path: Path) -> None:
    h = Home.open(tmp_path / "h")
    assert (tmp_path / "h" / "lanman.toml").exists()
    assert h.shares_root.is_dir() and h.config.server_guid
    assert (tmp_path / "h").stat().st_mode & 0o077 == 0
    pw = h.ensure_demo()
    assert pw and len(pw) >= 16
    assert h.store.get_user("demo").nt_hash == nt_hash(pw)
    share = h.store.get_share("demo")
    assert (Path(share.path) / "README.txt").is_file()
    assert h.ensure_demo() is None
    guid = h.config.server_guid
    h.close()
    h2 = Home.open(tmp_path / "h", create=False)
    assert h2.config.server_guid == guid  # persisted
    h2.close()
    blob = b"".join(f.read_bytes() for f in (tmp_path / "h").iterdir() if f.is_file())
    assert pw.encode() not in blob


def test_home_missing_without_create(tmp_path: Path) -> None:
    from lanman.home import HomeError

    with pytest.raises(HomeError, match="does not exist"):
        Home.open(tmp_path / "nope", create=False)


def test_home_broken_config_untouched(tmp_path: Path) -> None:
    (tmp_path / "h").mkdir()
    p = tmp_path / "h" / "lanman.toml"
    p.write_text("[server\n")
    with pytest.raises(ConfigError, match=r"lanman\.toml:1: invalid TOML"):
        Home.open(tmp_path / "h")
    assert p.read_text() == "[server\n"
