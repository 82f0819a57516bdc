"""KDC worker processes: more CPUs for the same UDP and TCP sockets.

The parent binds the KDC's UDP socket and TCP listening socket once and starts ``N - 1`` worker
processes (``python -m lanman.kerberos.kdc.workers``) that inherit both descriptors; the parent
serves on them too.  All processes wait on the same sockets, so the kernel hands each datagram
or connection to whichever process is free -- also for a single client socket, which
``SO_REUSEPORT`` (one socket per process, chosen by a hash of the 4-tuple) would pin to one
process.  (MIT's ``krb5kdc -w N`` shares its sockets the same way.)

Coherence across processes:

* replay cache: a :class:`~lanman.kerberos.kdc.replay.ShmReplayCache` (a fixed-size hash
  table in a shared-memory file in a private temporary directory) used by the parent and every
  worker (a ``*.sqlite`` path selects the older SQLite table instead);
* directory: each worker opens the same SQLite directory; its principal cache is dropped when
  ``PRAGMA data_version`` moves, i.e. when any process (another worker recording a bad
  password, ``lanman user ...``) commits.

No orphans: each worker reads a pipe whose write end only the parent holds; when the parent
exits (or is killed) the pipe reaches EOF and the worker exits.  On Linux the worker also asks
for SIGTERM on the parent's death (``PR_SET_PDEATHSIG``).  A worker that dies is restarted by
the parent (:meth:`WorkerPool.restart_dead`), which logs why it died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["WorkerPool", "exit_reason", "main"]

STOP_TIMEOUT = 5.0


def _private_dir() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="lanman-kdc-", dir=base)


def exit_reason(returncode: int) -> str:
    """A dead worker's status in words (``killed by SIGKILL``, ``exit status 1``)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class WorkerPool:
    """``count`` worker processes serving ``udp``/``tcp`` (the parent keeps its own copies).

    :meth:`restart_dead` (called periodically by the parent's service) replaces a worker that
    died; one that keeps dying within ``QUICK_DEATH`` seconds of its start is restarted after a
    delay that doubles each time (up to ``MAX_BACKOFF``), so a worker that cannot start does not
    become a fork loop.
    """

    QUICK_DEATH = 5.0
    MAX_BACKOFF = 60.0

    def __init__(
        self,
        count: int,
        directory_path: str,
        replay_path: str,
        udp: socket.socket,
        tcp: socket.socket,
        clock_skew: int,
        clock=time.monotonic,
    ) -> None:
        self._clock = clock
        self._fds = (udp.fileno(), tcp.fileno())
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._env = env
        self._cmd = [
            sys.executable,
            "-m",
            "lanman.kerberos.kdc.workers",
            "--directory",
            directory_path,
            "--replay",
            replay_path,
            "--udp-fd",
            str(self._fds[0]),
            "--tcp-fd",
            str(self._fds[1]),
            "--clock-skew",
            str(clock_skew),
        ]
        self.procs: list[subprocess.Popen | None] = []
        self._started: list[float] = []
        self._quick: list[int] = []  # consecutive deaths soon after a start
        self._not_before: list[float] = []
        self._dead: list[tuple[int, str]] = []
        self.restarts = 0
        for _ in range(count):
            self.procs.append(self._spawn())
            self._started.append(clock())
            self._quick.append(0)
            self._not_before.append(0.0)
            self._dead.append((0, ""))

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            self._cmd, stdin=subprocess.PIPE, pass_fds=self._fds, env=self._env, close_fds=True
        )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None]

    def restart_dead(self) -> list[tuple[int, str, int | None]]:
        """Reap dead workers and start replacements: ``[(old pid, reason, new pid or None)]``
        (None: the replacement waits for its backoff; a later call starts it and reports the
        same old pid and reason)."""
        now = self._clock()
        events: list[tuple[int, str, int | None]] = []
        for i, p in enumerate(self.procs):
            if p is not None:
                rc = p.poll()
                if rc is None:
                    continue
                if p.stdin is not None:
                    with contextlib.suppress(OSError):
                        p.stdin.close()
                self._quick[i] = (
                    self._quick[i] + 1 if now - self._started[i] < self.QUICK_DEATH else 0
                )
                # the first quick death restarts at once; repeated ones wait 1, 2, 4 ... s
                delay = (
                    0.0
                    if self._quick[i] <= 1
                    else min(self.MAX_BACKOFF, 2.0 ** (self._quick[i] - 2))
                )
                self._not_before[i] = now + delay
                self._dead[i] = (p.pid, exit_reason(rc))
                self.procs[i] = None
                if delay > 0:
                    events.append((*self._dead[i], None))
                    continue
            elif now < self._not_before[i]:
                continue
            new = self._spawn()
            self.procs[i] = new
            self._started[i] = now
            self.restarts += 1
            events.append((*self._dead[i], new.pid))
        return events

    def stop(self) -> None:
        procs = [p for p in self.procs if p is not None]
        self.procs = []
        for p in procs:
            if p.stdin is not None:
                with contextlib.suppress(OSError):
                    p.stdin.close()  # EOF: the worker exits
        for p in procs:
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(STOP_TIMEOUT)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


async def _serve(args: argparse.Namespace) -> None:
    from lanman.directory import Directory
    from lanman.events import EventLog
    from lanman.kerberos.kdc.core import KdcConfig, KdcCore
    from lanman.kerberos.kdc.replay import open_shared_replay
    from lanman.kerberos.kdc.service import serve_sockets
    from lanman.runtime import tune_gc

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    parent = os.getppid()

    def on_stdin() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            stop.set()

    loop.add_reader(0, on_stdin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    directory = Directory.open(args.directory)
    core = KdcCore(directory, config=KdcConfig(clock_skew=args.clock_skew))
    events = EventLog(args.directory)
    core.emit = lambda name, **data: events.emit(name, source="kdc", **data)
    core.replay = open_shared_replay(args.replay, window=args.clock_skew)
    udp = socket.socket(fileno=args.udp_fd)
    tcp = socket.socket(fileno=args.tcp_fd)
    server = await serve_sockets(core, udp, tcp)
    tune_gc()
    try:
        await stop.wait()
    finally:
        await server.close()
        core.replay.close()
        events.close()
        directory.close()
        if os.getppid() != parent:
            # The parent died without cleaning up: the first worker to notice removes the
            # private replay-cache directory (only one the parent created for this purpose).
            d = os.path.dirname(os.path.abspath(args.replay))
            if os.path.basename(d).startswith("lanman-kdc-"):
                shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="lanman-kdc-worker")
    ap.add_argument("--directory", required=True)
    ap.add_argument("--replay", required=True)
    ap.add_argument("--udp-fd", type=int, required=True)
    ap.add_argument("--tcp-fd", type=int, required=True)
    ap.add_argument("--clock-skew", type=int, default=300)
    args = ap.parse_args(argv)
    _die_with_parent()
    if os.getppid() == 1:
        return  # the parent is already gone
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
