#!/usr/bin/env python3
"""cProfile of the SMB server core per request: ECHO and CREATE+CLOSE, in process.

No sockets and no event loop: ``tests/smb_harness.py``'s SmbTestClient packs signed
SMB3_11 requests (AES-GMAC) with lanman's codecs and hands them to
``ServerConnection.receive_frame``, exactly as the unit tests drive the server, so the
profile is the server's per-request cost plus the client's packing/verification (which
shows up under ``smb_harness`` and is easy to tell apart).  Kept for before/after
comparisons of the request path:

    .venv/bin/python bench/profile_smb.py                  # 5,000 of each, top 25
    .venv/bin/python bench/profile_smb.py --ops echo -n 20000 --sort cumulative

Prints microseconds per operation (unprofiled and profiled) and the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

import smb_harness as h


def op_echo(c: h.SmbTestClient, tid: int, i: int) -> None:
    r = c.echo()
    if r.status != 0:
        raise RuntimeError(f"ECHO status {r.status:#x}")


def op_create_close(c: h.SmbTestClient, tid: int, i: int) -> None:
    # the same path each time (like smb2.bench.path-contention-shared), created once
    fid = c.create(tid, "profile.dat")
    c.close_file(tid, fid)


OPS = {"echo": op_echo, "create-close": op_create_close}


def run(name: str, n: int, top: int, sort: str, callers: str = "") -> None:
    with tempfile.TemporaryDirectory(prefix="lanman-profile-") as tmp:
        ctx, _events, _share = h.make_context(Path(tmp))
        with h.SmbTestClient(ctx) as c:
            c.login(0x0311)
            tid = c.tree_connect("data")
            op = OPS[name]
            for i in range(min(200, n)):  # warm up (caches, first create)
                op(c, tid, i)
            start = time.perf_counter()
            for i in range(n):
                op(c, tid, i)
            plain = (time.perf_counter() - start) / n * 1e6
            prof = cProfile.Profile()
            start = time.perf_counter()
            prof.enable()
            for i in range(n):
                op(c, tid, i)
            prof.disable()
            profiled = (time.perf_counter() - start) / n * 1e6
    print(f"\n=== {name}: {n} ops, {plain:.1f} us/op ({profiled:.1f} us/op under cProfile)")
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    if callers:
        stats.print_callers(callers)
    text = out.getvalue()
    # drop pstats' preamble up to the column header
    print(text[text.find("   ncalls") :] if "   ncalls" in text else text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", default="echo,create-close", help="comma list of " + ",".join(OPS))
    ap.add_argument("-n", type=int, default=5000, help="operations profiled per kind")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="tottime", help="pstats key: tottime, cumulative, ...")
    ap.add_argument("--callers", default="", help="also print who calls functions matching this")
    args = ap.parse_args(argv)
    for name in (o for o in args.ops.split(",") if o):
        if name not in OPS:
            ap.error(f"unknown op {name}")
        run(name, args.n, args.top, args.sort, args.callers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
