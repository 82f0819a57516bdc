"""Per-file security descriptors against Samba's smbcacls: list a file's ACL, add an ACE
denying a second user, and that user's next open fails with NT_STATUS_ACCESS_DENIED while
the owner keeps access; the descriptor survives a server restart.

smbcacls (Samba 4.17) has no port option: it always dials 445/139. The tests give it a
private network namespace whose loopback port 445 is forwarded to lanman's loopback port
(a listening socket made inside the namespace by a thread that ``setns``-es there and back);
only 127.0.0.1 is contacted on either side. Needs root (CAP_SYS_ADMIN) and ``unshare``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
from interop_support import (
    _lanman,
    cleanup_target,
    random_password,
    require_tool,
    run,
    smbclient,
    start_lanman,
    stop_process,
)

pytestmark = [pytest.mark.interop]

CLONE_NEWNET = 0x40000000


def _out(cp) -> str:
    return cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


class Netns445:
    """A network namespace (held by ``unshare --net sleep``) whose 127.0.0.1:445 forwards
    to 127.0.0.1:``port`` of ours; :meth:`cmd` prefixes a command to run inside it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "3600"])
        self.ns = f"/proc/{self.holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while os.readlink(self.ns) == os.readlink("/proc/self/ns/net"):
            if time.monotonic() > deadline or self.holder.poll() is not None:
                raise RuntimeError("unshare --net did not start")
            time.sleep(0.02)
        run(["nsenter", f"--net={self.ns}", "ip", "link", "set", "lo", "up"], check=True)
        self.listener = self._listen_inside()
        self.stopped = False
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _listen_inside(self) -> socket.socket:
        libc = ctypes.CDLL(None, use_errno=True)
        out: list = []

        def work() -> None:
            back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            inside = os.open(self.ns, os.O_RDONLY)
            try:
                if libc.setns(inside, CLONE_NEWNET) != 0:
                    out.append(OSError(ctypes.get_errno(), "setns"))
                    return
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 445))
                s.listen(8)
                out.append(s)
            finally:
                libc.setns(back, CLONE_NEWNET)
                os.close(back)
                os.close(inside)

        t = threading.Thread(target=work)  # setns changes only this thread's namespace
        t.start()
        t.join()
        if not out or isinstance(out[0], Exception):
            raise RuntimeError(f"cannot listen in the namespace: {out}")
        return out[0]

    def _accept(self) -> None:
        self.listener.settimeout(0.5)
        while not self.stopped:
            try:
                a, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            b = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self.conns += [a, b]
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cmd(self, *args: str) -> list[str]:
        return ["nsenter", f"--net={self.ns}", *args]

    def close(self) -> None:
        self.stopped = True
        self.thread.join(timeout=5)
        for s in [self.listener, *self.conns]:
            s.close()
        stop_process(self.holder)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    require_tool("smbcacls")
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        pytest.fail(
            "needs root, unshare and nsenter (util-linux) for a private port 445", pytrace=False
        )
    base = tmp_path_factory.mktemp("smbcacls")
    t = start_lanman(base)
    pw = random_password()
    _lanman(t.home, "user", "add", "bob", "--password-stdin", input=(pw + "\n").encode())
    bob = dataclasses.replace(t, user="bob", password=pw)
    try:
        ns = Netns445(t.port)
    except (RuntimeError, OSError) as e:
        cleanup_target(t)
        pytest.fail(f"no private network namespace: {e}", pytrace=False)
    yield t, bob, ns
    ns.close()
    cleanup_target(t)


def smbcacls(ns: Netns445, who, path: str, *args: str, check: bool = True):
    cmd = ns.cmd(
        require_tool("smbcacls"),
        f"//127.0.0.1/{who.share}",
        path,
        "-U",
        f"{who.user}%{who.password}",
        "--numeric",
        "--client-protection=sign",
        "--option=client min protocol=SMB2_02",
        *args,
    )
    env = dict(os.environ, HOME="/tmp")
    return run(cmd, timeout=60, check=check, env=env)


def _owner_sid(ns, who, path: str) -> str:
    m = re.search(r"^OWNER:(S-1-[0-9-]+)$", _out(smbcacls(ns, who, path)), re.MULTILINE)
    assert m, "no OWNER line"
    return m.group(1)


@pytest.mark.timeout(180)
def test_list_deny_second_user_and_persist(srv, tmp_path):
    t, bob, ns = srv
    (tmp_path / "up.txt").write_bytes(b"alice's secret\n")
    smbclient(t, "-c", "put up.txt secret.txt; put up.txt bobs.txt", cwd=tmp_path)

    listing = _out(smbcacls(ns, t, "secret.txt"))
    assert "REVISION:1" in listing, listing
    alice_sid = _owner_sid(ns, t, "secret.txt")
    assert alice_sid.startswith("S-1-5-21-"), listing  # the creator's SID, not a default
    # the share root's default, inherited: Authenticated Users full control (type 0: allow)
    assert re.search(r"^ACL:S-1-5-11:0/0x0/0x001f01ff$", listing, re.MULTILINE), listing

    # bob's SID: the owner of a file bob creates
    smbclient(bob, "-c", "put up.txt made-by-bob.txt", cwd=tmp_path)
    bob_sid = _owner_sid(ns, bob, "made-by-bob.txt")
    assert bob_sid != alice_sid

    # bob can read alice's file until she denies him
    smbclient(bob, "-c", "get secret.txt before.txt", cwd=tmp_path)
    assert (tmp_path / "before.txt").read_bytes() == b"alice's secret\n"
    smbcacls(ns, t, "secret.txt", "-a", f"ACL:{bob_sid}:DENIED/0x0/FULL")
    listing = _out(smbcacls(ns, t, "secret.txt"))
    assert re.search(rf"^ACL:{bob_sid}:1/0x0/0x001f01ff$", listing, re.MULTILINE), (
        listing
    )  # 1: deny

    cp = smbclient(bob, "-c", "get secret.txt after.txt", cwd=tmp_path, check=False)
    assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    assert not (tmp_path / "after.txt").exists()
    cp = smbcacls(ns, bob, "secret.txt", check=False)  # nor may he read the ACL
    assert cp.returncode != 0 and "ACCESS_DENIED" in _out(cp), _out(cp)
    smbclient(t, "-c", "get secret.txt mine.txt", cwd=tmp_path)
    assert (tmp_path / "mine.txt").read_bytes() == b"alice's secret\n"
    smbclient(bob, "-c", "get bobs.txt other.txt", cwd=tmp_path)  # other files unaffected

    # persisted with the file: still denied after a restart of the server
    t.restart()
    cp = smbclient(bob, "-c", "get secret.txt again.txt", cwd=tmp_path, check=False)
    assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    smbcacls(ns, t, "secret.txt", "-D", f"ACL:{bob_sid}:DENIED/0x0/FULL")
    smbclient(bob, "-c", "get secret.txt finally.txt", cwd=tmp_path)
    assert (tmp_path / "finally.txt").read_bytes() == b"alice's secret\n"
