"""KDC worker processes: more CPUs for the same UDP and TCP sockets.

The parent binds the KDC's UDP socket and TCP listening socket once and starts ``N - 1`` worker
processes (``python -m lanman.kerberos.kdc.workers``) that inherit both descriptors; the parent
serves on them too.  All processes wait on the same sockets, so the kernel hands each datagram
or connection to whichever process is free -- also for a single client socket, which
``SO_REUSEPORT`` (one socket per process, chosen by a hash of the 4-tuple) would pin to one
process.  (MIT's ``krb5kdc -w N`` shares its sockets the same way.)

Coherence across processes:

* replay cache: a :class:`~lanman.kerberos.kdc.replay.SharedReplayCache` (one SQLite file in a
  private temporary directory) used by the parent and every worker;
* directory: each worker opens the same SQLite directory; its principal cache is dropped when
  ``PRAGMA data_version`` moves, i.e. when any process (another worker recording a bad
  password, ``lanman user ...``) commits.

No orphans: each worker reads a pipe whose write end only the parent holds; when the parent
exits (or is killed) the pipe reaches EOF and the worker exits.  On Linux the worker also asks
for SIGTERM on the parent's death (``PR_SET_PDEATHSIG``).
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
from pathlib import Path

__all__ = ["WorkerPool", "main"]

STOP_TIMEOUT = 5.0


def _private_dir() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="lanman-kdc-", dir=base)


class WorkerPool:
    """``count`` worker processes serving ``udp``/``tcp`` (the parent keeps its own copies)."""

    def __init__(
        self,
        count: int,
        directory_path: str,
        replay_path: str,
        udp: socket.socket,
        tcp: socket.socket,
        clock_skew: int,
    ) -> None:
        self.procs: list[subprocess.Popen] = []
        fds = (udp.fileno(), tcp.fileno())
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        for _ in range(count):
            cmd = [
                sys.executable,
                "-m",
                "lanman.kerberos.kdc.workers",
                "--directory",
                directory_path,
                "--replay",
                replay_path,
                "--udp-fd",
                str(fds[0]),
                "--tcp-fd",
                str(fds[1]),
                "--clock-skew",
                str(clock_skew),
            ]
            self.procs.append(
                subprocess.Popen(cmd, stdin=subprocess.PIPE, pass_fds=fds, env=env, close_fds=True)
            )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.stdin is not None:
                with contextlib.suppress(OSError):
                    p.stdin.close()  # EOF: the worker exits
        for p in self.procs:
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(STOP_TIMEOUT)
        self.procs = []


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
    from lanman.kerberos.kdc.replay import SharedReplayCache
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
    core.replay = SharedReplayCache(args.replay, window=args.clock_skew)
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
