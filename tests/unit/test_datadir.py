"""The data directory is out of reach of SMB (lanman.datadir): ``share add`` refusals, the
file layer's refusal of every path that resolves into the home, and the store's health
commands (``lanman store check|backup|restore``, the check of ``lanman up``)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.errors.ntstatus import STATUS_ACCESS_DENIED, NtStatusError
from lanman.home import Home
from lanman.smb.server import fs as F
from lanman.smb.server.fs import ShareFS
from lanman.store import StoreError
from lanman.store.maintenance import StoreMaintenanceError, backup, check, restore

READ = F.FILE_GENERIC_READ
RW = F.FILE_GENERIC_READ | F.FILE_GENERIC_WRITE


def _ensure_home(home: Path) -> None:
    if not home.exists():
        Home.open(home).close()


def run(home: Path, *args: str, input: str | None = None):
    _ensure_home(home)  # only setup commands create a home (issue 15)
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in result.output + result.stderr
    return result


def _open(fs: ShareFS, path: str, access: int = READ, disposition: int = F.FILE_OPEN):
    handle, _ = fs.open(
        path,
        desired_access=access,
        share_access=7,
        create_disposition=disposition,
        create_options=0,
        file_attributes=0,
    )
    return handle


def _denied(fs: ShareFS, path: str, **kw) -> None:
    with pytest.raises(NtStatusError) as ei:
        _open(fs, path, **kw).close()
    assert ei.value.status == STATUS_ACCESS_DENIED, ei.value


@pytest.fixture
def home(tmp_path: Path):
    """A real home at tmp/top/home (with a user, so the database has content), opened."""
    h = Home.open(tmp_path / "top" / "home")
    h.store.add_user("alice", "Passw0rd-alice")
    yield h
    h.close()


# --- share add --------------------------------------------------------------------------


def test_share_add_refuses_data_dir_parent_inside_and_root(tmp_path: Path) -> None:
    home = tmp_path / "top" / "home"
    (tmp_path / "top").mkdir()
    assert run(home, "share", "list").exit_code == 0  # creates the home
    (home / "private").mkdir()
    (home / "shares" / "music").mkdir()
    for path in (home, tmp_path / "top", tmp_path, home / "private"):
        for extra in ((), ("--force",)):  # --force only ever allows '/'
            r = run(home, "share", "add", "x", str(path), *extra)
            assert r.exit_code == 1, (path, extra, r.output)
            assert "refusing to share" in r.stderr and "data directory" in r.stderr
            assert "ERROR_ACCESS_DENIED" in r.stderr and "Remedy:" in r.stderr
    # a symlink to the home is resolved before the check
    (tmp_path / "alias").symlink_to(home)
    r = run(home, "share", "add", "x", str(tmp_path / "alias"))
    assert r.exit_code == 1 and "data directory" in r.stderr
    r = run(home, "share", "add", "root", "/")
    assert r.exit_code == 1 and "whole file system" in r.stderr and "--force" in r.stderr
    assert run(home, "share", "list", "--json").output.strip() == "[]"
    r = run(home, "share", "add", "root", "/", "--force")
    assert r.exit_code == 0, r.stderr
    # the shares/ subtree is where share directories belong; elsewhere is fine too
    assert run(home, "share", "add", "music", str(home / "shares" / "music")).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    assert run(home, "share", "add", "data", str(tmp_path / "elsewhere")).exit_code == 0


def test_store_add_share_checks_only_with_data_dir(tmp_path: Path) -> None:
    h = Home.open(tmp_path / "h")
    try:
        with pytest.raises(StoreError, match="contains lanman's data directory"):
            h.store.add_share("x", tmp_path, data_dir=h.path, force=True)
        # embedders that pass no data_dir keep the old behaviour
        assert h.store.add_share("x", tmp_path).path == str(tmp_path.resolve())
    finally:
        h.close()


# --- the file layer ---------------------------------------------------------------------


def test_share_containing_home_cannot_reach_it(home: Home, tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "public.txt").write_text("public")
    (home.shares_root / "demo").mkdir()
    (home.shares_root / "demo" / "ok.txt").write_text("ok")
    (top / "db-link").symlink_to(home.db_path)
    (top / "home-link").symlink_to(home.path)
    os.link(home.db_path, top / "db-hardlink")
    fs = ShareFS(str(top), data_dir=home.path)  # as a share of '/' (or a legacy share) would
    for path in (
        "home\\lanman.sqlite",
        "home\\lanman.sqlite-wal",
        "home\\lanman.toml",
        "HOME\\LANMAN.SQLITE",  # case-insensitive lookup meets the same file
        "home",  # the home directory itself (its listing would show the database)
        "db-link",  # symlink inside the share to the database
        "home-link\\lanman.sqlite",  # symlink to the home on the way
        "home-link",
        "db-hardlink",  # hard link to the database
    ):
        _denied(fs, path)
    _denied(fs, "home\\new.txt", access=RW, disposition=F.FILE_CREATE)
    _denied(fs, "home\\lanman.sqlite", access=RW, disposition=F.FILE_OVERWRITE_IF)
    # rename into the home
    h = _open(fs, "public.txt", access=RW | F.DELETE)
    with pytest.raises(NtStatusError) as ei:
        h.rename("home\\lanman.sqlite", True)
    assert ei.value.status == STATUS_ACCESS_DENIED
    h.close()
    # ... while the rest of the share and the home's shares/ subtree stay reachable
    with _open(fs, "public.txt") as h:
        buf = bytearray(16)
        assert bytes(buf[: h.read_into(0, memoryview(buf))]) == b"public"
    with _open(fs, "home\\shares\\demo\\ok.txt") as h:
        assert h.stat().end_of_file == 2
    with _open(fs, "home-link\\shares\\demo\\ok.txt") as h:
        assert h.stat().end_of_file == 2
    root = _open(fs, "")
    names = {e.name for e in root.list_directory("*")}
    root.close()
    assert {"public.txt", "home", "db-hardlink"} <= names
    assert "db-link" not in names and "home-link" not in names  # symlinks into the home
    assert check(home.db_path) == []


def test_share_root_is_home_or_inside_it(home: Home, tmp_path: Path) -> None:
    """Shares recorded before the check (or edited into the database): refused at tree
    connect time; the home's shares/ subtree is a fine share root."""
    (tmp_path / "alias").symlink_to(home.path)
    for root in (home.path, _mk(home.path / "private"), tmp_path / "alias"):
        with pytest.raises(NtStatusError) as ei:
            ShareFS(str(root), data_dir=home.path)
        assert ei.value.status == STATUS_ACCESS_DENIED
    demo = _mk(home.shares_root / "demo")
    (demo / "a.txt").write_text("a")
    fs = ShareFS(str(demo), data_dir=home.path)
    with _open(fs, "a.txt") as h:
        assert h.stat().end_of_file == 1
    # the shares/ directory itself as a share: its parent (the home) stays out of reach
    (home.shares_root / "up").symlink_to("..")
    fs = ShareFS(str(home.shares_root), data_dir=home.path)
    _denied(fs, "up\\lanman.sqlite")
    _denied(fs, "up")


def _mk(p: Path) -> Path:
    p.mkdir(exist_ok=True)
    return p


# --- store check / backup / restore -----------------------------------------------------


def _corrupt(db: Path) -> None:
    """Overwrite the b-tree page header of the users table (a structural error)."""
    c = sqlite3.connect(db)
    (root,) = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()
    (page_size,) = c.execute("PRAGMA page_size").fetchone()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size + (100 if root == 1 else 0))
        f.write(b"\x0d\xff\xff\xff\xff\xff\xff\xff")


def test_store_check_backup_restore_cli(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run(home, "user", "add", "alice", "--password-stdin", input="pw-alice\n").exit_code == 0
    r = run(home, "store", "check")
    assert r.exit_code == 0 and r.output.strip().endswith(": ok")
    bak = tmp_path / "backup.sqlite"
    r = run(home, "store", "backup", str(bak))
    assert r.exit_code == 0, r.stderr
    assert bak.stat().st_mode & 0o077 == 0
    assert not Path(f"{bak}-wal").exists()  # self-contained
    r = run(home, "store", "backup", str(bak))
    assert r.exit_code == 1 and "exists" in r.stderr
    assert run(home, "user", "add", "bob", "--password-stdin", input="pw-bob\n").exit_code == 0
    # restore into the live store (in place): bob disappears, alice stays
    r = run(home, "store", "restore", str(bak))
    assert r.exit_code == 0 and "in place" in r.output, r.stderr
    names = [u["name"] for u in json.loads(run(home, "user", "list", "--json").output)]
    assert names == ["alice"]
    # a damaged store: check says so (exit 1), up refuses to start with a clear message
    _corrupt(home / "lanman.sqlite")
    r = run(home, "store", "check")
    assert r.exit_code == 1 and "problem" in r.output and "store restore" in r.stderr
    assert run(home, "store", "check", "--quick").exit_code == 1
    r = run(home, "store", "backup", str(tmp_path / "b2.sqlite"))
    assert r.exit_code == 1 and "damaged" in r.stderr


def test_up_refuses_damaged_store(tmp_path: Path, monkeypatch) -> None:
    calls: list = []
    mod = types.ModuleType("lanman.smb.server.service")
    mod.run = lambda *a, **k: calls.append(a)
    monkeypatch.setitem(sys.modules, "lanman.smb.server.service", mod)
    home = tmp_path / "h"
    assert run(home, "user", "add", "alice", "--password-stdin", input="pw-alice\n").exit_code == 0
    _corrupt(home / "lanman.sqlite")
    r = run(home, "up", "--run-as", "root" if os.geteuid() == 0 else str(os.geteuid()))
    assert r.exit_code == 1
    assert "damaged" in r.stderr and "store restore" in r.stderr
    assert calls == []
    # not a database at all: also a clear message, and restore repairs it by replacement
    bak = tmp_path / "good.sqlite"
    good = tmp_path / "good"
    assert run(good, "user", "add", "carol", "--password-stdin", input="pw-carol\n").exit_code == 0
    assert run(good, "store", "backup", str(bak)).exit_code == 0
    (home / "lanman.sqlite").write_bytes(b"not a database " * 500)
    r = run(home, "up")
    assert r.exit_code == 1 and "not a database" in r.stderr and "store restore" in r.stderr
    r = run(home, "store", "restore", str(bak))
    assert r.exit_code == 0 and "replaced" in r.output, r.stderr
    assert run(home, "store", "check").exit_code == 0
    assert "carol" in run(home, "user", "list").output


def test_restore_refuses_bad_backups_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run(home, "user", "add", "alice", "--password-stdin", input="pw-alice\n").exit_code == 0
    db = home / "lanman.sqlite"
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"junk" * 1000)
    with pytest.raises(StoreMaintenanceError, match="not a sound lanman store"):
        restore(junk, db)
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreMaintenanceError):
        restore(empty, db)
    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE t (x)")
    c.execute("PRAGMA user_version = 1")
    c.close()
    with pytest.raises(StoreMaintenanceError, match="missing tables"):
        restore(other, db)
    damaged = tmp_path / "damaged.sqlite"
    backup(db, damaged)
    _corrupt(damaged)
    r = run(home, "store", "restore", str(damaged))
    assert r.exit_code == 1 and "not a sound lanman store" in r.stderr
    assert check(db) == [] and "alice" in run(home, "user", "list").output
    assert check(tmp_path / "missing.sqlite") == [f"{tmp_path / 'missing.sqlite'} does not exist"]
    assert not (tmp_path / "missing.sqlite").exists()  # check never creates a database
