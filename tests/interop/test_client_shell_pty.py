"""``lanman client //HOST/SHARE`` without ``-c`` on a terminal: the interactive ``smb: \\>``
shell, driven under a pseudo-terminal (``pty``) against ``lanman up`` on loopback."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import select
import subprocess
import termios
import time

import pytest
from interop_support import cleanup_target, lanman_cmd
from samba_variants import start_lanman_guest

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    t = start_lanman_guest(tmp_path_factory.mktemp("shsrv"))
    yield t
    cleanup_target(t)


class Pty:
    def __init__(self, cmd: list[str], cwd) -> None:
        self.master, slave = pty.openpty()
        env = dict(os.environ, TERM="dumb")

        def controlling_tty() -> None:  # a session whose terminal is the pty: Ctrl-C is SIGINT
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.p = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            close_fds=True,
            preexec_fn=controlling_tty,  # noqa: PLW1509 (no threads started before it)
        )
        os.close(slave)
        self.buf = b""

    def expect(self, text: bytes, timeout: float = 30) -> bytes:
        """Read until ``text`` appears; returns what came before it (and drops it)."""
        end = time.monotonic() + timeout
        while text not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {text!r}; got {self.buf!r}; rc {self.p.poll()}"
                )
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"EOF waiting for {text!r}; got {self.buf!r}")
                self.buf += chunk
        before, _, self.buf = self.buf.partition(text)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> int:
        try:
            return self.p.wait(timeout=30)
        finally:
            os.close(self.master)
            if self.p.poll() is None:
                self.p.kill()


def test_interactive_shell_under_a_pty(server, tmp_path):
    t = server
    payload = os.urandom(200_000)
    (tmp_path / "up.bin").write_bytes(payload)
    cmd = lanman_cmd() + ["--home", str(tmp_path / "h"), "client", t.unc(), "-p", str(t.port)]
    sh = Pty(cmd + ["-U", f"{t.user}%{t.password}"], cwd=tmp_path)
    try:
        root, docs = b"smb: \\> ", b"smb: \\docs\\> "
        sh.expect(root, timeout=60)
        sh.send("mkdir docs")
        sh.expect(root)
        sh.send("cd docs")
        sh.expect(docs)
        sh.send("put up.bin")
        assert b"putting file up.bin" in sh.expect(docs)
        sh.send("ls")
        assert b"up.bin" in sh.expect(docs)
        sh.send("get up.bin down.bin")
        assert b"getting file up.bin of size 200000" in sh.expect(docs)
        sh.send("frobnicate")
        assert b"frobnicate: command not found" in sh.expect(docs)
        sh.send("get nosuch")
        assert b"NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\docs\\nosuch" in sh.expect(
            docs
        )
        sh.send("rm up.bin")
        sh.expect(docs)
        sh.send("cd ..")
        sh.expect(root)
        sh.send("rmdir docs")
        sh.expect(root)
        sh.send("exit")
        assert sh.close() == 0
    finally:
        if sh.p.poll() is None:
            sh.p.kill()
    got = (tmp_path / "down.bin").read_bytes()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert not (t.share_dir / "docs").exists()


def test_ctrl_c_cancels_the_line_and_ctrl_d_exits_0(server, tmp_path):
    t = server
    cmd = lanman_cmd() + ["--home", str(tmp_path / "h"), "client", t.unc(), "-p", str(t.port)]
    sh = Pty(cmd + ["-U", f"{t.user}%{t.password}"], cwd=tmp_path)
    try:
        root = b"smb: \\> "
        sh.expect(root, timeout=60)
        # Ctrl-C: the line is dropped. Typed as a person would, not in the instant between
        # readline printing the prompt and waiting for keys (a SIGINT there waits for a key).
        time.sleep(0.5)
        os.write(sh.master, b"mkdir never")
        time.sleep(0.2)
        os.write(sh.master, b"\x03")
        sh.expect(root)
        sh.send("pwd")
        assert b"Current directory is \\" in sh.expect(root)
        os.write(sh.master, b"\x04")  # Ctrl-D at an empty prompt
        assert sh.close() == 0
    finally:
        if sh.p.poll() is None:
            sh.p.kill()
    assert not (t.share_dir / "never").exists()
