"""``lanman up --run-as`` plumbing and ``lanman user set --unix-user`` (lanman.privileges,
the store's Unix user mapping). The privilege drop itself, which needs root, is exercised
end to end in tests/interop/test_run_as.py."""

from __future__ import annotations

import os
import pwd
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.home import Home
from lanman.privileges import PrivilegeError, RunAs, hand_home_to, resolve_run_as
from lanman.store import StoreError


def run(home: Path, *args: str, input: str | None = None):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in result.output + result.stderr
    return result


def _some_unix_user() -> pwd.struct_passwd:
    return pwd.getpwnam("nobody")


def test_store_unix_user_mapping(tmp_path: Path) -> None:
    with _opened(tmp_path / "h") as h:
        assert h.store.unix_user_mappings() == {}
        assert h.store.get_unix_user("alice") is None  # no table yet: nothing is written
        h.store.add_user("alice", "pw-alice-1")
        h.store.add_user("bob", "pw-bob-1")
        h.store.set_unix_user("ALICE", "nobody")  # account names are case-insensitive
        assert h.store.get_unix_user("alice") == "nobody"
        assert h.store.get_unix_user("bob") is None
        assert h.store.unix_user_mappings() == {"alice": "nobody"}
        with pytest.raises(StoreError, match="does not exist"):
            h.store.set_unix_user("carol", "nobody")
        h.store.remove_user("alice")  # the mapping goes with the account
        h.store.add_user("alice", "pw-alice-2")  # a new account (new RID): not mapped
        assert h.store.get_unix_user("alice") is None
        h.store.set_unix_user("bob", "nobody")
        h.store.set_unix_user("bob", None)
        assert h.store.unix_user_mappings() == {}


class _opened:
    def __init__(self, path: Path):
        self.h = Home.open(path)

    def __enter__(self) -> Home:
        return self.h

    def __exit__(self, *exc) -> None:
        self.h.close()


def test_cli_user_set_unix_user(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run(home, "user", "add", "alice", "--password-stdin", input="pw-alice\n").exit_code == 0
    nobody = _some_unix_user()
    r = run(home, "user", "set", "alice", "--unix-user", nobody.pw_name)
    assert r.exit_code == 0 and f"uid {nobody.pw_uid}" in r.output, r.stderr
    r = run(home, "user", "set", "alice", "--unix-user", "root")
    assert r.exit_code == 1 and "root" in r.stderr and "Remedy:" in r.stderr
    r = run(home, "user", "set", "alice", "--unix-user", "0")
    assert r.exit_code == 1
    r = run(home, "user", "set", "alice", "--unix-user", "no-such-unix-user-x")
    assert r.exit_code == 1 and "no such Unix account" in r.stderr
    r = run(home, "user", "set", "nobody-here", "--unix-user", nobody.pw_name)
    assert r.exit_code == 1 and "does not exist" in r.stderr
    with _opened(home) as h:
        assert h.store.unix_user_mappings() == {"alice": nobody.pw_name}
    r = run(home, "user", "set", "alice", "--unix-user", "")
    assert r.exit_code == 0 and "no Unix user mapping" in r.output
    with _opened(home) as h:
        assert h.store.unix_user_mappings() == {}


def test_resolve_run_as() -> None:
    if os.geteuid() == 0:
        root = resolve_run_as("root")
        assert root is not None and root.is_root and root.explicit
        default = resolve_run_as(None)
        assert default is not None and not default.explicit
        assert default.name in ("lanman", "nobody") and not default.is_root
        nobody = resolve_run_as("nobody")
        assert nobody.uid == _some_unix_user().pw_uid and nobody.gid in nobody.groups
    else:
        assert resolve_run_as(None) is None  # not root: stays who it is
        me = pwd.getpwuid(os.geteuid()).pw_name
        assert resolve_run_as(me) is None
        with pytest.raises(PrivilegeError, match="needs lanman up to be started as root"):
            resolve_run_as("nobody")
    with pytest.raises(PrivilegeError, match="no such Unix account"):
        resolve_run_as("no-such-unix-user-x")


def test_hand_home_to_skips_shares(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "h"
    Home.open(home).close()
    (home / "shares" / "demo").mkdir()
    (home / "shares" / "demo" / "f").write_text("x")
    (home / "msg").mkdir()
    (home / "msg" / "state.json").write_text("{}")
    (home / "link").symlink_to("/etc/passwd")
    calls: list = []
    monkeypatch.setattr(
        os, "chown", lambda p, u, g, follow_symlinks=True: calls.append((str(p), follow_symlinks))
    )
    hand_home_to(home, RunAs("svc", 12345, 12345, (12345,), True))
    names = {os.path.relpath(p, home) for p, _ in calls}
    assert {".", "lanman.sqlite", "lanman.toml", "msg", "msg/state.json", "link"} <= names
    assert not any(n.startswith("shares") for n in names)
    assert all(follow is False for _, follow in calls)  # lchown: links are never followed


def test_up_run_as_unknown_account_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    calls: list = []
    mod = types.ModuleType("lanman.smb.server.service")
    mod.run = lambda *a, **k: calls.append((a, k))
    monkeypatch.setitem(sys.modules, "lanman.smb.server.service", mod)
    r = run(tmp_path / "h", "up", "--run-as", "no-such-unix-user-x")
    assert r.exit_code == 1 and "no such Unix account" in r.stderr and "Remedy:" in r.stderr
    assert calls == [] and not (tmp_path / "h").exists()
    if os.geteuid() == 0:
        r = run(tmp_path / "h", "up", "--run-as", "root")
        assert r.exit_code == 0 and "warning: --run-as root" in r.stderr
        assert calls[-1][1] == {}  # nothing to drop
        r = run(tmp_path / "h", "up", "--run-as", "nobody")
        assert r.exit_code == 0 and "serving files as nobody" in r.output
        assert callable(calls[-1][1]["after_bind"])  # (not called: the fake serves nothing)
