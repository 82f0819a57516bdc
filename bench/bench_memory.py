#!/usr/bin/env python3
"""Server memory under many short signed clients: lanman vs Samba smbd (issue 14 item 3).

Each client (smbprotocol, signing required, SMB 3.1.1) opens its own connection, logs on,
writes a 2 MiB file, reads it back, and disconnects. ``--clients`` of them run in rounds of
``--concurrency`` at a time (sequential = 1). For each server the table shows its resident
memory (VmRSS; VmHWM = the kernel's peak) before the clients, the peak while they ran, right
after, and after ``--idle`` seconds idle. Samba forks one smbd per connection: its figures
are the sum over the smbd process tree (the parent and what is left of its children).

    PYTHONPATH=src .venv/bin/python bench/bench_memory.py
    PYTHONPATH=src .venv/bin/python bench/bench_memory.py --servers lanman --clients 100 \\
        --lanman-env MALLOC_ARENA_MAX=2 --no-append

``--lanman-env K=V`` (repeatable) starts ``lanman up`` with that environment (to compare
glibc tunables). Results are printed and appended to bench/RESULTS.md with the command.
All traffic is on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))
sys.path.insert(0, str(HERE))

import interop_support as isup
from bench_smb import descendants, status_kib

SIZE = 2 * 2**20


def rss(pid: int) -> tuple[int, int, int]:
    """(sum VmRSS, sum VmHWM, processes) over the tree of ``pid``, KiB."""
    pids = descendants(pid)
    return (
        sum(status_kib(p, "VmRSS") for p in pids),
        sum(status_kib(p, "VmHWM") for p in pids),
        len(pids),
    )


class Peak:
    """Largest summed VmRSS of the tree seen while the clients run (sampled every 50 ms)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + 7200
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.peak = max(self.peak, rss(self.pid)[0])
            self._stop.wait(0.05)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(timeout=5)
        self.peak = max(self.peak, rss(self.pid)[0])


def one_client(t: isup.Target, n: int, payload: bytes) -> None:
    import smbclient

    cache: dict = {}
    kw = {
        "username": t.user,
        "password": t.password,
        "port": t.port,
        "connection_cache": cache,
    }
    try:
        smbclient.register_session(
            t.host,
            require_signing=True,
            encrypt=False,
            connection_timeout=30,
            auth_protocol="ntlm",
            **kw,
        )
        path = rf"\\{t.host}\{t.share}\mem-{n}-{uuid.uuid4().hex[:8]}.bin"
        with smbclient.open_file(path, mode="wb", **kw) as f:
            f.write(payload)
        with smbclient.open_file(path, mode="rb", **kw) as f:
            got = f.read()
        if got != payload:
            raise AssertionError(f"client {n}: read back differs")
        smbclient.remove(path, **kw)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def run_clients(t: isup.Target, clients: int, concurrency: int) -> int:
    payload = os.urandom(SIZE)
    failures = 0
    with ThreadPoolExecutor(concurrency) as pool:
        for fut in [pool.submit(one_client, t, n, payload) for n in range(clients)]:
            try:
                fut.result(timeout=600)
            except Exception:  # noqa: BLE001 - count, keep going
                failures += 1
                if failures <= 3:
                    traceback.print_exc()
    return failures


def measure(kind: str, base: Path, clients: int, concurrency: int, idle: float, env: dict):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        if kind == "lanman":
            t = isup.start_lanman(base / f"lanman-{concurrency}")
        else:
            t = isup.start_samba()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        time.sleep(1.0)
        before = rss(t.pid)
        start = time.monotonic()
        with Peak(t.pid) as peak:
            failures = run_clients(t, clients, concurrency)
        took = time.monotonic() - start
        time.sleep(0.5)
        after = rss(t.pid)
        time.sleep(idle)
        rested = rss(t.pid)
        return {
            "before": before[0],
            "peak": peak.peak,
            "hwm": rested[1],
            "after": after[0],
            "idle": rested[0],
            "procs": after[2],
            "failures": failures,
            "seconds": took,
        }
    finally:
        isup.cleanup_target(t)


def mb(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def render(rows: list, clients: int, idle: float) -> str:
    out = [
        (
            "| server | at a time | before MB | peak MB | VmHWM MB | right after MB "
            f"| after {idle:.0f} s idle MB | failed | s |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, conc, r in rows:
        if "error" in r:
            out.append(f"| {label} | {conc} | {r['error']} | | | | | | |")
            continue
        out.append(
            f"| {label} | {conc} | {mb(r['before'])} | {mb(r['peak'])} | {mb(r['hwm'])} "
            f"| {mb(r['after'])} | {mb(r['idle'])} | {r['failures']}/{clients} "
            f"| {r['seconds']:.0f} |"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="lanman,samba")
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--concurrency", default="1,16", help="comma list of clients at a time")
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--lanman-env", action="append", default=[], metavar="K=V")
    ap.add_argument("--label", default="", help="suffix for the lanman rows")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.lanman_env)
    if "PYTHONPATH" in os.environ:  # lanman up runs from this tree
        os.environ["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in os.environ["PYTHONPATH"].split(os.pathsep)
        )
    base = Path(tempfile.mkdtemp(prefix="lanman-bench-mem-"))
    os.chmod(base, 0o755)
    rows = []
    try:
        for conc in [int(c) for c in args.concurrency.split(",") if c]:
            for kind in [s for s in args.servers.split(",") if s]:
                label = kind
                if kind == "lanman" and (args.label or env):
                    label += " " + (args.label or " ".join(args.lanman_env))
                print(f"{label}: {args.clients} clients, {conc} at a time ...", flush=True)
                try:
                    r = measure(
                        kind, base, args.clients, conc, args.idle, env if kind == "lanman" else {}
                    )
                except Exception as e:  # noqa: BLE001
                    traceback.print_exc()
                    r = {"error": f"crashed: {e}"}
                rows.append((label, conc, r))
                print(render(rows[-1:], args.clients, args.idle), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    table = render(rows, args.clients, args.idle)
    print()
    print(table)
    if not args.no_append:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "PYTHONPATH=src .venv/bin/python bench/bench_memory.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        block = (
            f"\n## Server memory, {args.clients} signed clients x 2 MiB write+read — {stamp}\n\n"
            f"`{cmd}` (smbprotocol, SMB 3.1.1 signed, one connection per client; Samba = "
            "sum over its smbd processes)\n\n" + table + "\n"
        )
        with open(args.results, "a") as f:
            f.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
