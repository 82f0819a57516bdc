"""Benchmark: ``lanman scan`` over 250 loopback targets with concurrency 64 (target < 30 s).

The fleet is real lanman SMB servers (lanman's server core, as ``lanman up`` runs it): five
server processes on 127.0.0.1 .. 127.0.0.5, each listening on 50 ports; half of the ports
require signing, the other half do not and map unknown users to guest on a guest-ok share.
Every target gets the full probe set (5 dialects + 3.1.1 algorithm rounds, SMB1, NTLM
challenge, anonymous and guest sessions with a srvsvc share listing).

Traffic goes only to 127.0.0.0/8. Run: ``.venv/bin/python bench/bench_scan.py``
(``--targets N --concurrency C``; ``--no-append`` to skip bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROCESSES = 5

SERVE = r"""
import asyncio, os, sys, uuid
from dataclasses import dataclass
from lanman.crypto.md4 import nt_hash
from lanman.smb.server.state import ServerContext, ServerSettings
from lanman.smb.server.transport import start_server

host, ports, root = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], sys.argv[3]

@dataclass
class Share:
    name: str
    path: str
    read_only: bool = False
    guest_ok: bool = True
    remark: str = "bench"

share = Share("data", root)
hashes = {"bench": nt_hash("Bench-Passw0rd!")}

def ctx(require):
    return ServerContext(
        settings=ServerSettings(server_name="BENCH", server_guid=uuid.uuid4().bytes_le,
                                require_message_signing=require, map_to_guest=not require),
        lookup_nt_hash=lambda n: hashes.get(n.lower()),
        get_share=lambda n: share if n.lower() == "data" else None,
        list_shares=lambda: [share])

async def main():
    servers = [await start_server(ctx(i % 2 == 0), host, p) for i, p in enumerate(ports)]
    print("ready", flush=True)
    await asyncio.sleep(600)  # bounded: the benchmark stops us long before

asyncio.run(main())
"""


def free_ports(host: str, n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def start_fleet(n_targets: int, root: str) -> tuple[list[subprocess.Popen], list[tuple[str, int]]]:
    procs, targets = [], []
    per = -(-n_targets // PROCESSES)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for i in range(PROCESSES):
        count = min(per, n_targets - len(targets))
        if count <= 0:
            break
        host = f"127.0.0.{i + 1}"
        ports = free_ports(host, count)
        p = subprocess.Popen(
            [sys.executable, "-c", SERVE, host, ",".join(map(str, ports)), root],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        procs.append(p)
        targets += [(host, port) for port in ports]
    for p in procs:
        line = p.stdout.readline().decode().strip()  # bounded by the child's own start
        if line != "ready":
            raise SystemExit(f"bench server did not start: {line!r}")
    return procs, targets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=250)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--no-append", action="store_true")
    a = ap.parse_args()

    sys.path.insert(0, str(REPO / "src"))
    from lanman.scan.scanner import ScanOptions, scan
    from lanman.scan.targets import Target

    root = tempfile.mkdtemp(prefix="lanman-bench-scan-")
    procs, addrs = start_fleet(a.targets, root)
    try:
        targets = [Target(h, p) for h, p in addrs]
        opts = ScanOptions(timeout=a.timeout, profiles=("win11-24h2-pro", "win10"))
        t0 = time.monotonic()
        run = scan(targets, opts, concurrency=a.concurrency)
        secs = time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    errors = [h for h in run.results if h.error or not h.reachable]
    works = sum(1 for h in run.results for v in h.verdicts if v.works)
    rate = len(run.results) / secs
    probes = [h.seconds for h in run.results]
    print(
        f"lanman scan: {len(run.results)} targets, concurrency {a.concurrency}: "
        f"{secs:.2f} s, {rate:.1f} targets/s (per-host median "
        f"{sorted(probes)[len(probes) // 2]:.3f} s, max {max(probes):.3f} s); "
        f"errors {len(errors)}; verdicts works {works}/{2 * len(run.results)}"
    )
    ok = secs < 30 and not errors
    print("PASS (< 30 s)" if ok else "FAIL")
    if not a.no_append:
        with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(
                f"\n## lanman scan — {dt.date.today().isoformat()} — {platform.node()} "
                f"({os.cpu_count()} CPUs, Python {platform.python_version()})\n\n"
                f"`bench/bench_scan.py`: {len(run.results)} loopback targets (lanman server core, "
                f"{len(procs)} processes on 127.0.0.1-{len(procs)}, half signing-required, half "
                f"guest), full probe set, concurrency {a.concurrency}: **{secs:.2f} s, "
                f"{rate:.1f} targets/s** (per-host median {sorted(probes)[len(probes) // 2]:.3f} s,"
                f" max {max(probes):.3f} s), {len(errors)} errors. Target: < 30 s.\n"
            )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
