"""Shared helpers for the interop suite: peers, servers under test, loopback proxy.

Everything here talks to 127.0.0.1 only, picks random free ports, and bounds every
wait/loop by count and time.  A missing peer tool is a FAILURE (``require_tool``),
never a skip: in CI the Debian peers must be installed (``make test`` does that).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SAMBA_UNIX_USER = "lanmantest"
DEFAULT_USER = "alice"
SHARE = "data"
RO_SHARE = "ro"
#: `lanman share add` options for the tests' shares: new shares get New-SmbShare's default
#: (Everyone Read); the tests write, so they ask for Everyone Full
EVERYONE_FULL = ("--full-access", "Everyone")

# SMB2 header constants used by the proxy / assertions
SMB2_MAGIC = b"\xfeSMB"
SMB2_FLAGS_SERVER_TO_REDIR = 0x1
SMB2_FLAGS_ASYNC = 0x2
SMB2_FLAGS_RELATED = 0x4
SMB2_FLAGS_SIGNED = 0x8
STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_ACCESS_DENIED = 0xC0000022
SMB2_WRITE = 0x0009
SMB2_READ = 0x0008
SMB2_TREE_CONNECT = 0x0003
SMB2_QUERY_DIRECTORY = 0x000E
SMB2_CREATE = 0x0005

# smbclient --option='client max protocol=...' names, and the dialect each really selects
SMBCLIENT_PROTOCOLS = ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"]
PROTOCOL_DIALECT = {
    "SMB2_02": 0x0202,
    "SMB2_10": 0x0210,
    "SMB3_00": 0x0300,
    "SMB3_02": 0x0302,
    "SMB3_11": 0x0311,
}


# --------------------------------------------------------------------------- tools


def require_tool(name: str) -> str:
    """Return the absolute path of an external peer, or FAIL (not skip) the test."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if not path:
        pkg = {
            "smbclient": "smbclient",
            "smbd": "samba",
            "smbpasswd": "samba-common-bin",
            "smbtorture": "samba-testsuite",
            "nmap": "nmap",
            "tshark": "tshark",
        }.get(name, name)
        pytest.fail(
            f"required interop peer {name!r} is not installed "
            f"(Debian package {pkg!r}; `make test` installs it when running as root: "
            f"apt-get install -y {pkg})",
            pytrace=False,
        )
    return path


def lanman_cmd() -> list[str]:
    exe = REPO / ".venv" / "bin" / "lanman"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "lanman.cli.main"]


def keep_root_args() -> list[str]:
    """``lanman up`` started as root serves files as an unprivileged account by default
    (``--run-as``). The suite's homes live under pytest's private (0700) temporary directory
    and its share directories belong to root, so servers the suite starts as root keep root
    explicitly; test_run_as.py exercises the drop itself."""
    return ["--run-as", "root"] if os.geteuid() == 0 else []


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (bind to 0, read back, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with rc={proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError as e:  # not yet listening
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"port {port} did not accept connections within {timeout}s ({last})")


def random_password(n: int = 20) -> str:
    # smbclient -U user%pw, smbtorture -U, impacket: keep it shell/URL/percent-safe
    alphabet = string.ascii_letters + string.digits
    return "Pw1-" + "".join(secrets.choice(alphabet) for _ in range(n))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_random_file(path: Path, size: int, seed: int = 0) -> str:
    """Write ``size`` pseudo-random bytes quickly (SHAKE stream); return sha256."""
    h = hashlib.sha256()
    block = 1 << 20
    shake = hashlib.shake_256(f"lanman-interop-{seed}".encode()).digest(block)
    with open(path, "wb") as f:
        remaining = size
        i = 0
        while remaining > 0:
            # vary each block so a shifted/misplaced chunk is detected
            chunk = struct.pack("<Q", i) + shake[8 : min(block, remaining)]
            chunk = chunk[: min(block, remaining)]
            f.write(chunk)
            h.update(chunk)
            remaining -= len(chunk)
            i += 1
    return h.hexdigest()


def run(
    cmd: list[str],
    timeout: float = 120,
    input: bytes | None = None,
    check: bool = False,
    env: dict | None = None,
    cwd=None,
) -> subprocess.CompletedProcess:
    try:
        cp = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,  # checked below, with the output in the message
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"command timed out after {timeout}s: {cmd!r}\n"
            f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}"
        ) from None
    if check and cp.returncode != 0:
        raise AssertionError(
            f"command failed rc={cp.returncode}: {' '.join(map(str, cmd))}\n"
            f"--- stdout\n{cp.stdout.decode(errors='replace')}\n"
            f"--- stderr\n{cp.stderr.decode(errors='replace')}"
        )
    return cp


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- targets


@dataclasses.dataclass
class Target:
    """A running SMB server under test (lanman or Samba smbd), reachable on 127.0.0.1."""

    kind: str  # "lanman" | "samba"
    host: str
    port: int
    user: str
    password: str
    share: str
    share_dir: Path
    ro_share: str
    ro_dir: Path
    home: Path
    require_signing: bool = True
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    _start: Callable[[Target], None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def is_lanman(self) -> bool:
        return self.kind == "lanman"

    def unc(self, share: str | None = None) -> str:
        return f"//{self.host}/{share or self.share}"

    def log_text(self, limit: int = 20000) -> str:
        if self.log_path and self.log_path.exists():
            data = self.log_path.read_bytes()[-limit:]
            return data.decode(errors="replace")
        return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def restart(self, require_signing: bool | None = None) -> None:
        """Stop, optionally change RequireSecuritySignature, start again (same port)."""
        self.stop()
        if require_signing is not None:
            self.require_signing = require_signing
        assert self._start is not None
        self._start(self)

    # ---- lanman-only
    def events(self) -> list:
        """Security events as parsed JSON (``lanman events --json``)."""
        assert self.is_lanman, "events are a lanman feature"
        cp = run(
            lanman_cmd() + ["--home", str(self.home), "events", "--json"], timeout=30, check=True
        )
        text = cp.stdout.decode(errors="replace").strip()
        if not text:
            return []
        try:
            data = json.loads(text)
        except json.JSONDecodeError:  # JSON lines
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(data, dict):
            for key in ("events", "items", "records"):
                if isinstance(data.get(key), list):
                    return data[key]
            return [data]
        return list(data)


def _lanman(home: Path, *args: str, input: bytes | None = None) -> None:
    run(lanman_cmd() + ["--home", str(home), *args], input=input, timeout=60, check=True)


def lanman_cli(
    home: Path, *args: str, input_text: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess:
    """One ``lanman --home HOME ...`` command (text in/out); ``ok`` requires exit status 0."""
    r = subprocess.run(
        [*lanman_cmd(), "--home", str(home), *args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@dataclasses.dataclass
class UpProcess:
    """A running ``lanman up`` (see :func:`lanman_up`)."""

    proc: subprocess.Popen
    smb_port: int
    kdc_port: int | None
    log_path: Path

    def krb5_env(self, home: Path, base: Path) -> dict[str, str]:
        """Environment for MIT tools: a krb5.conf naming this KDC and a private ccache."""
        conf = base / "krb5.conf"
        conf.write_text(
            lanman_cli(home, "domain", "krb5conf", "--kdc", f"{HOST}:{self.kdc_port}").stdout
        )
        return {**os.environ, "KRB5_CONFIG": str(conf), "KRB5CCNAME": f"FILE:{base / 'cc'}"}


@contextlib.contextmanager
def lanman_up(home: Path, log_path: Path, *extra: str, kdc: bool = True):
    """``lanman up`` for HOME on free loopback ports (SMB, and the KDC when ``kdc``), its
    output appended to ``log_path``; yields an :class:`UpProcess` once the ports accept
    connections and stops the server on exit."""
    smb_port = free_port()
    kdc_port = free_port() if kdc else None
    cmd = [*lanman_cmd(), "--home", str(home), "up", "--listen", HOST]
    cmd += ["--smb-port", str(smb_port)]
    if kdc_port is not None:
        cmd += ["--kdc-port", str(kdc_port)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*cmd, *keep_root_args(), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        try:
            wait_port(smb_port, 20.0, proc)
            if kdc_port is not None:
                wait_port(kdc_port, 20.0, proc)
        except (RuntimeError, TimeoutError) as e:
            out = log_path.read_text(errors="replace")
            raise AssertionError(f"lanman up did not start: {e}\n--- output\n{out}") from None
        yield UpProcess(proc, smb_port, kdc_port, log_path)
    finally:
        stop_process(proc)


def _lanman_start(t: Target) -> None:
    _lanman(
        t.home,
        "smb",
        "server-config",
        "set",
        "--require-security-signature",
        "true" if t.require_signing else "false",
    )
    _spawn(
        t,
        "lanman",
        lanman_cmd()
        + ["--home", str(t.home), "up", "--listen", HOST, "--smb-port", str(t.port)]
        + keep_root_args(),
    )


def _spawn(t: Target, what: str, cmd: list, **popen_kw) -> None:
    """Start a server with its output in ``t.log_path`` and wait for its port."""
    with open(t.log_path, "ab") as logf:
        t.proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen_kw
        )
    try:
        wait_port(t.port, 15.0, t.proc)
    except (RuntimeError, TimeoutError) as e:
        stop_process(t.proc)
        raise AssertionError(f"{what} did not start: {e}\n--- output\n{t.log_text()}") from None


def start_lanman(base: Path, require_signing: bool = True, port: int | None = None) -> Target:
    home = base / "home"
    share_dir = base / "share-data"
    ro_dir = base / "share-ro"
    for d in (home, share_dir, ro_dir):
        d.mkdir(parents=True, exist_ok=True)
    (ro_dir / "readme.txt").write_bytes(b"read-only share\n")
    password = random_password()
    t = Target(
        "lanman",
        HOST,
        port or free_port(),
        DEFAULT_USER,
        password,
        SHARE,
        share_dir,
        RO_SHARE,
        ro_dir,
        home,
        require_signing,
        log_path=base / "lanman.log",
        _start=_lanman_start,
    )
    _lanman(home, "user", "add", DEFAULT_USER, "--password-stdin", input=(password + "\n").encode())
    _lanman(home, "share", "add", SHARE, str(share_dir), *EVERYONE_FULL)
    _lanman(home, "share", "add", RO_SHARE, str(ro_dir), "--read-only", *EVERYONE_FULL)
    _lanman_start(t)
    return t


# ---- Samba smbd with a private configuration


def ensure_unix_user(name: str = SAMBA_UNIX_USER) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.fail(f"unix user {name!r} missing and not root to create it", pytrace=False)
    run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        timeout=30,
    )
    return pwd.getpwnam(name)


SMB_CONF = """\
[global]
    server role = standalone server
    workgroup = LANMANTEST
    netbios name = SAMBATEST
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = {port}
    disable netbios = yes
    server signing = {signing}
    server min protocol = SMB2_02
    passdb backend = tdbsam:{d}/private/passdb.tdb
    private dir = {d}/private
    lock directory = {d}/lock
    state directory = {d}/state
    cache directory = {d}/cache
    pid directory = {d}/pid
    ncalrpc dir = {d}/ncalrpc
    binddns dir = {d}/bind-dns
    log file = {d}/log.%m
    max log size = 0
    log level = {loglevel}
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    map to guest = never
    usershare path =
    kernel oplocks = no
    smb2 leases = yes

[{share}]
    path = {share_dir}
    read only = no
    guest ok = no
    create mask = 0755
    directory mask = 0755

[{ro_share}]
    path = {ro_dir}
    read only = yes
    guest ok = no
"""


def _write_samba_conf(t: Target) -> Path:
    d = t.home
    conf = d / "smb.conf"
    conf.write_text(
        SMB_CONF.format(
            port=t.port,
            d=d,
            share=t.share,
            share_dir=t.share_dir,
            ro_share=t.ro_share,
            ro_dir=t.ro_dir,
            signing="mandatory" if t.require_signing else "auto",
            loglevel=os.environ.get("LANMAN_SAMBA_LOGLEVEL", "1"),
        )
    )
    return conf


def _samba_start(t: Target) -> None:
    conf = _write_samba_conf(t)
    _spawn(
        t,
        "smbd",
        [
            require_tool("smbd"),
            "--foreground",
            "--no-process-group",
            "--debug-stdout",
            f"--configfile={conf}",
        ],
        # smbd signals its whole process group on shutdown: keep it out of ours
        start_new_session=True,
    )


def start_samba(
    base: Path | None = None, require_signing: bool = True, port: int | None = None
) -> Target:
    """Start Debian's smbd with a private smb.conf on a free loopback port.

    ``base`` must be traversable by the unix user; we therefore always use a fresh
    0755 directory under /tmp (pytest's tmp dirs are 0700 root).
    """
    require_tool("smbd")
    smbpasswd = require_tool("smbpasswd")
    pw = ensure_unix_user()
    d = Path(tempfile.mkdtemp(prefix="lanman-samba-"))
    os.chmod(d, 0o755)
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "bind-dns"):
        (d / sub).mkdir()
    share_dir = d / "share-data"
    ro_dir = d / "share-ro"
    share_dir.mkdir()
    ro_dir.mkdir()
    (ro_dir / "readme.txt").write_bytes(b"read-only share\n")
    os.chmod(ro_dir, 0o755)
    os.chown(share_dir, pw.pw_uid, pw.pw_gid)
    os.chmod(share_dir, 0o755)
    password = random_password()
    # the Samba account must be a unix user: use it directly as the SMB user name
    t = Target(
        "samba",
        HOST,
        port or free_port(),
        SAMBA_UNIX_USER,
        password,
        SHARE,
        share_dir,
        RO_SHARE,
        ro_dir,
        d,
        require_signing,
        log_path=d / "smbd.out",
        _start=_samba_start,
    )
    _write_samba_conf(t)
    run(
        [smbpasswd, "-c", str(d / "smb.conf"), "-a", "-s", SAMBA_UNIX_USER],
        input=f"{password}\n{password}\n".encode(),
        check=True,
        timeout=30,
    )
    _samba_start(t)
    return t


def kill_by_config(config_dir: Path, timeout: float = 5.0) -> int:
    """Stop every process whose command line names a file in ``config_dir``: smbd hands
    RPC to samba-dcerpcd/rpcd_* helpers in sessions of their own, which outlive smbd."""
    needle = str(config_dir).encode()
    victims = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                victims.append(int(entry.name))
        except OSError:
            continue
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in victims:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return len(victims)


def cleanup_target(t: Target) -> None:
    t.stop()
    if t.kind == "samba":
        kill_by_config(t.home)
        shutil.rmtree(t.home, ignore_errors=True)


# --------------------------------------------------------------------------- clients


def smbclient(
    t: Target,
    *args: str,
    protocol: str = "SMB3_11",
    sign: bool = True,
    timeout: float = 120,
    share: str | None = None,
    cwd=None,
    check: bool = True,
    extra: tuple = (),
    unc: bool = True,
    port: int | None = None,
) -> subprocess.CompletedProcess:
    """Run Samba's smbclient against the target with min=max protocol (forces dialect).

    ``port`` overrides the target port (to go through a proxy).
    """
    exe = require_tool("smbclient")
    cmd = [exe]
    if unc:
        cmd.append(t.unc(share))
    cmd += [
        "-p",
        str(port or t.port),
        "-U",
        f"{t.user}%{t.password}",
        f"--client-protection={'sign' if sign else 'off'}",
        f"--option=client max protocol={protocol}",
        f"--option=client min protocol={protocol}",
        "--option=client smb encrypt=off",
        *extra,
        *args,
    ]
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return run(cmd, timeout=timeout, check=check, cwd=cwd, env=env)


# --------------------------------------------------------------------------- tamper proxy


def _parse_smb2_chain(pdu: bytes):
    """Yield (offset, length) of each SMB2 message in a (possibly compound) PDU."""
    off = 0
    for _ in range(64):
        if pdu[off : off + 4] != SMB2_MAGIC or len(pdu) < off + 64:
            return
        nxt = struct.unpack_from("<I", pdu, off + 20)[0]
        end = off + nxt if nxt else len(pdu)
        yield off, end - off
        if not nxt or end >= len(pdu):
            return
        off = end


@dataclasses.dataclass
class Smb2Msg:
    command: int
    flags: int
    message_id: int
    status: int
    session_id: int
    offset: int  # offset inside the PDU
    length: int


def parse_messages(pdu: bytes) -> list[Smb2Msg]:
    out = []
    for off, ln in _parse_smb2_chain(pdu):
        status, command = struct.unpack_from("<IH", pdu, off + 8)
        flags, _next = struct.unpack_from("<II", pdu, off + 16)
        mid = struct.unpack_from("<Q", pdu, off + 24)[0]
        sid = struct.unpack_from("<Q", pdu, off + 40)[0]
        out.append(Smb2Msg(command, flags, mid, status, sid, off, ln))
    return out


Mutator = Callable[[int, bytes], bytes | None]  # (pdu_index, pdu) -> new pdu or None


class TamperProxy:
    """Loopback TCP proxy that understands the 4-byte direct-TCP framing.

    ``mutate(index, pdu)`` is called for every client->server PDU (index counts from 0
    on each connection); it returns replacement bytes or None.  Server->client PDUs are
    recorded (parsed SMB2 headers) so tests can assert the status the server sent for a
    tampered message id, and whether the server closed the connection.
    """

    def __init__(self, target_port: int, mutate: Mutator | None = None, max_seconds: float = 300.0):
        self.target_port = target_port
        self.mutate = mutate
        self.max_seconds = max_seconds
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.5)
        self.port = self.lsock.getsockname()[1]
        self.responses: list[Smb2Msg] = []
        self.requests: list[Smb2Msg] = []
        self.tampered: list[Smb2Msg] = []  # the messages we modified (original headers)
        self.server_closed = threading.Event()
        self.transformed = 0  # encrypted (transform header) PDUs seen, either direction
        self.dialects: list[int] = []  # DialectRevision of each NEGOTIATE response seen
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []

    def __enter__(self):
        th = threading.Thread(target=self._accept_loop, daemon=True)
        th.start()
        self._threads.append(th)
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop.set()
        with contextlib.suppress(OSError):
            self.lsock.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        for th in self._threads:
            th.join(timeout=5)

    def status_for(self, message_id: int) -> int | None:
        """Final (non-PENDING) status the server answered for message_id, if any."""
        with self._lock:
            for r in self.responses:
                if r.message_id == message_id and r.status != STATUS_PENDING:
                    return r.status
        return None

    def _accept_loop(self):
        deadline = time.monotonic() + self.max_seconds
        conns = 0
        while not self._stop.is_set() and time.monotonic() < deadline and conns < 64:
            try:
                c, _ = self.lsock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns += 1
            try:
                s = socket.create_connection((HOST, self.target_port), timeout=10)
            except OSError as e:
                self.errors.append(f"upstream connect: {e}")
                c.close()
                continue
            c.settimeout(None)
            s.settimeout(None)
            with self._lock:
                self._socks += [c, s]
            t1 = threading.Thread(target=self._pump, args=(c, s, True), daemon=True)
            t2 = threading.Thread(target=self._pump, args=(s, c, False), daemon=True)
            t1.start()
            t2.start()
            self._threads += [t1, t2]

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _pump(self, src: socket.socket, dst: socket.socket, c2s: bool):
        index = 0
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                hdr = self._recv_exact(src, 4)
                if hdr is None:
                    break
                length = struct.unpack(">I", hdr)[0] & 0x00FFFFFF
                if hdr[0] != 0 or length > 16 * 1024 * 1024 + 65536:
                    self.errors.append(f"bad framing {hdr!r}")
                    break
                pdu = self._recv_exact(src, length) or b""
                if len(pdu) != length:
                    break
                if pdu[:4] == b"\xfdSMB":
                    self.transformed += 1
                if c2s:
                    msgs = parse_messages(pdu)
                    with self._lock:
                        self.requests += msgs
                    if self.mutate is not None:
                        new = self.mutate(index, pdu)
                        if new is not None and new != pdu:
                            with self._lock:
                                self.tampered += msgs
                            pdu = new
                    index += 1
                else:
                    msgs = parse_messages(pdu)
                    for m in msgs:
                        if m.command == 0 and m.status == 0 and len(pdu) >= m.offset + 70:
                            self.dialects.append(struct.unpack_from("<H", pdu, m.offset + 68)[0])
                    with self._lock:
                        self.responses += msgs
                dst.sendall(struct.pack(">I", len(pdu)) + pdu)
        except OSError:
            pass
        finally:
            if not c2s:
                self.server_closed.set()
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


SMB2_SESSION_SETUP = 0x0001
SMB2_NEGOTIATE = 0x0000
SMB2_CANCEL = 0x000C
SMB2_OPLOCK_BREAK = 0x0012


def unsigned_traffic(proxy: TamperProxy) -> list[str]:
    """Describe requests/responses that should have been signed but were not.

    On a signing-required session every request with a SessionId (other than
    SESSION_SETUP legs and CANCEL) must be signed, and so must every final response to
    it (interim STATUS_PENDING and oplock breaks excepted).
    """
    bad = []
    if proxy.transformed:
        bad.append(f"{proxy.transformed} encrypted PDUs: signing was not exercised")
    if not any(m.flags & SMB2_FLAGS_SIGNED for m in proxy.requests):
        bad.append("no signed request seen at all")
    for m in proxy.requests:
        if (
            m.session_id
            and m.command not in (SMB2_SESSION_SETUP, SMB2_CANCEL, SMB2_NEGOTIATE)
            and not m.flags & SMB2_FLAGS_SIGNED
        ):
            bad.append(f"request cmd=0x{m.command:x} mid={m.message_id} unsigned")
    for m in proxy.responses:
        if (
            m.session_id
            and m.command
            not in (SMB2_SESSION_SETUP, SMB2_CANCEL, SMB2_NEGOTIATE, SMB2_OPLOCK_BREAK)
            and m.status != STATUS_PENDING
            and m.message_id != 0xFFFFFFFFFFFFFFFF
            and not m.flags & SMB2_FLAGS_SIGNED
        ):
            bad.append(
                f"response cmd=0x{m.command:x} mid={m.message_id} status=0x{m.status:08x} unsigned"
            )
    return bad
