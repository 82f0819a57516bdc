"""Cost of one replay-cache check (``check_and_store``) per backend, in-process.

    PYTHONPATH=src python bench/bench_replay.py [--n 50000] [--procs 2]

Backends: the per-process dict (``ReplayCache``, not shared), the SQLite table
(``SharedReplayCache``) and the shared-memory table (``ShmReplayCache``). ``--procs P``: P
processes insert into one shared cache at once (lock contention); the rate is their sum.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from multiprocessing import Process, Queue

from lanman.kerberos.kdc.replay import ReplayCache, SharedReplayCache, ShmReplayCache

BACKENDS = {
    "dict (one process)": lambda d: ReplayCache(300, 400_000),
    "SQLite WAL (shared)": lambda d: SharedReplayCache(os.path.join(d, "r.sqlite"), 300, 400_000),
    "shm table (shared)": lambda d: ShmReplayCache(os.path.join(d, "r.shm"), 300, 400_000),
}


def _run(name: str, d: str, n: int, q: Queue | None) -> float:
    cache = BACKENDS[name](d)
    keys = [os.urandom(120) for _ in range(n)]  # an AES authenticator ciphertext is ~100-130 B
    now = time.time()
    t0 = time.perf_counter()
    for k in keys:
        cache.check_and_store(k, "krbtgt", now)
    dt = time.perf_counter() - t0
    if q is not None:
        q.put(dt)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    for name, make in BACKENDS.items():
        with tempfile.TemporaryDirectory(dir=base) as d:
            dt = _run(name, d, args.n, None)
        line = f"{name:22s} 1 proc: {dt / args.n * 1e6:6.1f} us/check"
        if "shared" in name and args.procs > 1:
            with tempfile.TemporaryDirectory(dir=base) as d:
                make(d)  # lay the file out before the processes open it
                q: Queue = Queue()
                ps = [Process(target=_run, args=(name, d, args.n, q)) for _ in range(args.procs)]
                t0 = time.perf_counter()
                for p in ps:
                    p.start()
                for p in ps:
                    p.join()
                wall = time.perf_counter() - t0
                per = [q.get() for _ in ps]
            line += (
                f";  {args.procs} procs at once: {max(per) / args.n * 1e6:6.1f} us/check each, "
                f"{args.procs * args.n / wall:8.0f} checks/s total (wall incl. start)"
            )
        print(line, flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
