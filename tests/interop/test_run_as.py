"""``lanman up`` started as root serves files as an unprivileged account (``--run-as``), and
no share reaches the data directory -- checked with Samba's smbclient against a real server.

These tests start ``lanman up`` as root (``make test`` runs as root); their data directory
lives in a fresh 0755 directory under /tmp so that the service account can reach it.
The account is ``nobody`` (present on every Debian/Ubuntu system; nothing is created).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from interop_support import (
    EVERYONE_FULL,
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
        _lanman(home, "share", "add", "data", str(share), *EVERYONE_FULL)
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


def _answered(world, port: int) -> None:
    """One SMB exchange: the port listens before lanman up drops root, but no request is
    answered before the drop, so after this the process runs as its final identity."""
    cp = _smbclient(world, port, "alice", "ls")
    assert cp.returncode == 0, _out(cp)


def _out(cp) -> str:
    return cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


def test_run_as_user_cannot_read_root_only_file(world):
    pw = pwd.getpwnam(ACCOUNT)
    with served(world, "--run-as", ACCOUNT) as (proc, port, log_path):
        _answered(world, port)
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
        _answered(world, port)
        uid, _ = _ids(proc.pid)
        assert uid == [expected.pw_uid] * 4
        cp = _smbclient(world, port, "alice", "get secret.txt s1")
        assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    with served(world, "--run-as", "root") as (proc, port, log_path):
        _answered(world, port)
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
    fresh = world["base"] / "fresh-home"
    cp = run(
        [*lanman_cmd(), "--home", str(fresh), "up", "--run-as", "no-such-user-lanman"],
        timeout=60,
        check=False,
    )
    assert cp.returncode == 1 and "no such Unix account" in _out(cp)
    assert not fresh.exists()  # refused before the home is created


def test_smb_open_into_data_dir_denied_store_intact(world):
    """A share of '/' (added with --force) and a symlink in a share both lead to
    lanman.sqlite: every open is STATUS_ACCESS_DENIED and the running server's store stays
    sound (its SQLite locks are never dropped by a foreign descriptor)."""
    home = world["home"]
    _lanman(home, "share", "add", "root", "/", "--force", *EVERYONE_FULL)
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


# --- per-account Unix users (lanman user set NAME --unix-user U) ---------------------------


@pytest.fixture
def unix_user():
    """A throw-away Unix system user (removed afterwards, with its group)."""
    _require_root()
    name = "lmfs" + secrets.token_hex(4)
    run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        timeout=30,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        run(["userdel", name], check=False, timeout=30)
        with contextlib.suppress(KeyError):
            grp.getgrnam(name)
            run(["groupdel", name], check=False, timeout=30)


def _owned(path: Path, data: bytes, pw: pwd.struct_passwd, mode: int) -> None:
    path.write_bytes(data)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


def _cap_eff(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapEff")


def test_unix_user_mapping_applies_per_session(world, unix_user):
    """alice is mapped to a Unix user, bob is not (he gets the service account, nobody):
    each reads only what its Unix identity may, and files each creates belong to it."""
    share, home = world["share"], world["home"]
    nobody = pwd.getpwnam(ACCOUNT)
    _owned(share / "mapped-only.txt", b"for the mapped user\n", unix_user, 0o600)
    _owned(share / "nobody-only.txt", b"for nobody\n", nobody, 0o600)
    drop = share / "drop"
    drop.mkdir()
    os.chmod(drop, 0o777)
    cp = run(
        [*lanman_cmd(), "--home", str(home), "user", "set", "alice"]
        + ["--unix-user", unix_user.pw_name],
        timeout=60,
        check=True,
    )
    assert unix_user.pw_name.encode() in cp.stdout
    (world["work"] / "up.txt").write_bytes(b"uploaded\n")
    with served(world, "--run-as", ACCOUNT) as (proc, port, log_path):
        _answered(world, port)
        uid, _ = _ids(proc.pid)
        assert uid == [nobody.pw_uid] * 4
        assert _cap_eff(proc.pid) == (1 << 6) | (1 << 7)  # CAP_SETGID | CAP_SETUID only
        cp = _smbclient(world, port, "alice", "get mapped-only.txt a1; put up.txt drop\\a.txt")
        assert cp.returncode == 0, _out(cp) + log_path.read_text()
        assert (world["work"] / "a1").read_bytes() == b"for the mapped user\n"
        for name in ("nobody-only.txt", "secret.txt"):
            cp = _smbclient(world, port, "alice", f"get {name} a2")
            assert "NT_STATUS_ACCESS_DENIED" in _out(cp), (name, _out(cp))
        cp = _smbclient(world, port, "bob", "get nobody-only.txt b1; put up.txt drop\\b.txt")
        assert cp.returncode == 0, _out(cp)
        assert (world["work"] / "b1").read_bytes() == b"for nobody\n"
        for name in ("mapped-only.txt", "secret.txt"):
            cp = _smbclient(world, port, "bob", f"get {name} b2")
            assert "NT_STATUS_ACCESS_DENIED" in _out(cp), (name, _out(cp))
        st_a, st_b = (drop / "a.txt").stat(), (drop / "b.txt").stat()
        assert (st_a.st_uid, st_a.st_gid) == (unix_user.pw_uid, unix_user.pw_gid)
        assert (st_b.st_uid, st_b.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        # the server's own identity is unchanged after all those requests
        assert _ids(proc.pid)[0] == [nobody.pw_uid] * 4


def test_mapping_without_the_capability_gives_no_file_access(world, unix_user):
    """A server that cannot switch users (started unprivileged) refuses a mapped account's
    tree connect rather than serving it as the service account."""
    home = world["home"]
    _lanman(home, "user", "set", "alice", "--unix-user", unix_user.pw_name)
    nobody = pwd.getpwnam(ACCOUNT)
    for root, dirs, files in os.walk(home):
        for n in [root, *(os.path.join(root, x) for x in dirs + files)]:
            os.chown(n, nobody.pw_uid, nobody.pw_gid)
    port = free_port()
    log_path = world["base"] / "unpriv.log"
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
            + [*lanman_cmd(), "--home", str(home), "up", "--listen", HOST]
            + ["--smb-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": "/tmp"},
        )
    try:
        wait_port(port, 20.0, proc)
        assert _cap_eff(proc.pid) == 0
        cp = _smbclient(world, port, "alice", "ls")
        assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
        cp = _smbclient(world, port, "bob", "get public.txt p")
        assert cp.returncode == 0, _out(cp)
    finally:
        stop_process(proc)
    assert "cannot switch users" in log_path.read_text()


def test_fs_identity_is_per_thread(tmp_path):
    """lanman.fsid switches only the calling thread, and restores it."""
    _require_root()
    import threading

    from lanman.fsid import FsIdentity, identity_of

    secret = tmp_path / "secret"
    secret.write_bytes(b"s")
    os.chmod(secret, 0o600)
    fsid = FsIdentity()
    assert fsid.available
    inside = threading.Event()
    release = threading.Event()
    seen: dict = {}

    def worker() -> None:
        with fsid.as_user(identity_of(ACCOUNT)):
            try:
                secret.read_bytes()
                seen["worker"] = "read"
            except PermissionError:
                seen["worker"] = "denied"
            with fsid.as_user(identity_of(ACCOUNT)):  # nesting: no-op
                pass
            seen["nested"] = Path("/proc/thread-self/status").read_text().count("65534")
            inside.set()
            release.wait(10)
        seen["after"] = secret.read_bytes()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        assert secret.read_bytes() == b"s"  # the main thread is still root
    finally:
        release.set()
        t.join(10)
    assert seen["worker"] == "denied" and seen["after"] == b"s"
    with pytest.raises(ValueError):
        identity_of("root")


def test_status_socket_belongs_to_the_run_as_account(world):
    """The status socket is made after the drop: owned by the service account, mode 0600;
    root's `lanman status` reaches it."""
    import json
    import stat as st_mod

    pw = pwd.getpwnam(ACCOUNT)
    with served(world, "--run-as", ACCOUNT) as (proc, port, log_path):
        _answered(world, port)
        sock = world["home"] / "lanman-status.sock"
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = os.stat(sock)
        assert st_mod.S_ISSOCK(info.st_mode) and st_mod.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == pw.pw_uid, log_path.read_text()
        cp = run(
            [*lanman_cmd(), "--home", str(world["home"]), "status", "--json"],
            timeout=30,
            check=True,
        )
        data = json.loads(cp.stdout)
        assert data["server"]["pid"] == proc.pid and data["server"]["port"] == port
