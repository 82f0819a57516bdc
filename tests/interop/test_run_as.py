"""``lanman up`` started as root serves files as an unprivileged account (``--run-as``), and
no share reaches the data directory -- checked with Samba's smbclient against a real server.

These tests start ``lanman up`` as root (``make test`` runs as root); their data directory
lives in a fresh 0755 directory under /tmp so that the service account can reach it.
The account is ``nobody`` (present on every Debian/Ubuntu system; nothing is created).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from interop_support import (
    HOST,
    _lanman,
    free_port,
    lanman_cmd,
    random_password,
    require_tool,
    run,
    stop_process,
    wait_port,
)

ACCOUNT = "nobody"
SECRET = b"root only: 0600 root:root\n"
PUBLIC = b"world readable: 0644\n"


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("these tests start lanman up as root (run make test as root)", pytrace=False)


@pytest.fixture
def world():
    """A home with users alice and bob, share 'data' (root-owned 0755 directory holding a
    0600 and a 0644 root-owned file), all under a fresh 0755 directory in /tmp."""
    _require_root()
    base = Path(tempfile.mkdtemp(prefix="lanman-runas-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        share = base / "share"
        share.mkdir(mode=0o755)
        (share / "secret.txt").write_bytes(SECRET)
        os.chmod(share / "secret.txt", 0o600)
        (share / "public.txt").write_bytes(PUBLIC)
        os.chmod(share / "public.txt", 0o644)
        work = base / "work"
        work.mkdir()
        home = base / "home"
        users = {"alice": random_password(), "bob": random_password()}
        for name, pw in users.items():
            _lanman(home, "user", "add", name, "--password-stdin", input=(pw + "\n").encode())
        _lanman(home, "share", "add", "data", str(share))
        yield {"base": base, "home": home, "share": share, "work": work, "users": users}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def served(world, *up_args: str):
    """``lanman up`` on a free loopback port; always stopped (SIGTERM, then SIGKILL)."""
    port = free_port()
    log_path = world["base"] / f"up-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*lanman_cmd(), "--home", str(world["home"]), "up", "--listen", HOST]
            + ["--smb-port", str(port), *up_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        try:
            wait_port(port, 20.0, proc)
        except (RuntimeError, TimeoutError) as e:
            raise AssertionError(f"lanman up did not start: {e}\n{log_path.read_text()}") from None
        yield proc, port, log_path
    finally:
        stop_process(proc)


def _ids(pid: int) -> tuple[list[int], list[int]]:
    uid = gid = None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            uid = [int(x) for x in line.split()[1:]]
        elif line.startswith("Gid:"):
            gid = [int(x) for x in line.split()[1:]]
    assert uid is not None and gid is not None
    return uid, gid


def _smbclient(world, port: int, user: str, cmds: str, share: str = "data"):
    exe = require_tool("smbclient")
    return run(
        [
            exe,
            f"//{HOST}/{share}",
            "-p",
            str(port),
            "-U",
            f"{user}%{world['users'][user]}",
            "--client-protection=sign",
            "-c",
            cmds,
        ],
        timeout=60,
        check=False,
        cwd=world["work"],
        env={**os.environ, "HOME": "/tmp"},
    )


def _out(cp) -> str:
    return cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


def test_run_as_user_cannot_read_root_only_file(world):
    pw = pwd.getpwnam(ACCOUNT)
    with served(world, "--run-as", ACCOUNT) as (proc, port, log_path):
        uid, gid = _ids(proc.pid)
        assert uid == [pw.pw_uid] * 4 and gid == [pw.pw_gid] * 4, (uid, gid)
        for user in world["users"]:
            out_secret = world["work"] / f"secret-{user}"
            out_public = world["work"] / f"public-{user}"
            cp = _smbclient(world, port, user, f"ls; get public.txt {out_public.name}")
            assert cp.returncode == 0, _out(cp)
            assert "secret.txt" in _out(cp)  # listed: its attributes are not secret
            assert out_public.read_bytes() == PUBLIC
            cp = _smbclient(world, port, user, f"get secret.txt {out_secret.name}")
            assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
            assert not out_secret.exists() or out_secret.read_bytes() == b""
            # writes meet the Unix permissions too (the share directory is root's 0755)
            (world["work"] / "new.txt").write_bytes(b"new")
            cp = _smbclient(world, port, user, "put new.txt new.txt")
            assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
            assert not (world["share"] / "new.txt").exists()
        assert f"serving files as {ACCOUNT}" in log_path.read_text()
    # the data directory was handed to the account; the share's contents were not
    assert (world["home"] / "lanman.sqlite").stat().st_uid == pw.pw_uid
    assert world["home"].stat().st_mode & 0o777 == 0o700
    assert (world["share"] / "secret.txt").stat().st_uid == 0
    cp = run(
        [*lanman_cmd(), "--home", str(world["home"]), "store", "check"], timeout=60, check=False
    )
    assert cp.returncode == 0 and b": ok" in cp.stdout, _out(cp)


def test_default_account_and_explicit_root(world):
    try:
        expected = pwd.getpwnam("lanman")
    except KeyError:
        expected = pwd.getpwnam("nobody")
    with served(world) as (proc, port, log_path):
        uid, _ = _ids(proc.pid)
        assert uid == [expected.pw_uid] * 4
        cp = _smbclient(world, port, "alice", "get secret.txt s1")
        assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    with served(world, "--run-as", "root") as (proc, port, log_path):
        uid, _ = _ids(proc.pid)
        assert uid == [0, 0, 0, 0]
        assert "warning: --run-as root" in log_path.read_text()
        # (the contrast that proves the premise: root reads the 0600 file)
        cp = _smbclient(world, port, "alice", "get secret.txt s2")
        assert cp.returncode == 0, _out(cp)
        assert (world["work"] / "s2").read_bytes() == SECRET


def test_unreachable_home_is_a_clear_error(world):
    """A data directory the account cannot reach (here: below a 0700 directory) stops
    lanman up with a message, not a traceback."""
    hidden = world["base"] / "hidden"
    hidden.mkdir(mode=0o700)
    home = hidden / "home"
    world["home"].rename(home)
    port = free_port()
    cp = run(
        [*lanman_cmd(), "--home", str(home), "up", "--listen", HOST, "--smb-port", str(port)]
        + ["--run-as", ACCOUNT],
        timeout=60,
        check=False,
    )
    err = _out(cp)
    assert cp.returncode == 1, err
    assert "cannot enter" in err and str(hidden) in err and "Remedy:" in err
    assert "Traceback" not in err
    cp = run([*lanman_cmd(), "up", "--run-as", "no-such-user-lanman"], timeout=60, check=False)
    assert cp.returncode == 1 and "no such Unix account" in _out(cp)


def test_smb_open_into_data_dir_denied_store_intact(world):
    """A share of '/' (added with --force) and a symlink in a share both lead to
    lanman.sqlite: every open is STATUS_ACCESS_DENIED and the running server's store stays
    sound (its SQLite locks are never dropped by a foreign descriptor)."""
    home = world["home"]
    _lanman(home, "share", "add", "root", "/", "--force")
    (world["share"] / "db").symlink_to(home / "lanman.sqlite")
    (world["share"] / "home").symlink_to(home)
    rel_home = "\\".join(home.parts[1:])
    rel_share = "\\".join(world["share"].parts[1:])
    with served(world, "--run-as", ACCOUNT) as (proc, port, log_path):
        # as nobody, Unix permissions would allow the database (the home is nobody's now):
        # only the data-directory rule stands in the way
        for share, path in (
            ("root", f"{rel_home}\\lanman.sqlite"),
            ("root", f"{rel_home}\\lanman.sqlite-wal"),
            ("root", f"{rel_home}\\lanman.toml"),
            ("root", f"{rel_share}\\db"),
            ("root", f"{rel_share}\\home\\lanman.sqlite"),
        ):
            cp = _smbclient(world, port, "alice", f'get "{path}" got', share=share)
            assert "NT_STATUS_ACCESS_DENIED" in _out(cp), (share, path, _out(cp))
            assert not (world["work"] / "got").exists()
        cp = _smbclient(world, port, "alice", "get db got", share="data")
        assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
        cp = _smbclient(world, port, "alice", f'ls "{rel_home}\\*"', share="root")
        assert "lanman.sqlite" not in _out(cp)
        # the store of the running server is intact: a user added now can log on
        pw = random_password()
        _lanman(home, "user", "add", "carol", "--password-stdin", input=(pw + "\n").encode())
        world["users"]["carol"] = pw
        cp = _smbclient(world, port, "carol", "get public.txt carol.txt")
        assert cp.returncode == 0, _out(cp) + log_path.read_text()
        assert (home / "lanman.sqlite-shm").exists()
        cp = run([*lanman_cmd(), "--home", str(home), "store", "check"], timeout=60, check=False)
        assert cp.returncode == 0 and b": ok" in cp.stdout, _out(cp)
        assert proc.poll() is None
        log = log_path.read_text()
        assert "Traceback" not in log and "disk I/O error" not in log
