"""Profile lanman's KDC in-process on recorded requests (no sockets).

    .venv/bin/python bench/profile_kdc.py [--kind tgs|as] [--requests N] [--fresh-tgts]
        [--cprofile]

Provisions a throw-away domain, records N requests the way bench_kdc.py's load generator
builds them, then times ``KdcCore.handle`` over them (best 200-request chunk, µs per request)
and optionally prints a cProfile of the whole run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("LANMAN_SRC") or str(REPO / "src"))

from bench_kdc import PASSWORD, REALM, SERVICE, USER, provision_home  # this folder

from lanman.directory import Directory
from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.kdc import KdcCore
from lanman.runtime import tune_gc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["tgs", "as"], default="tgs")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--fresh-tgts", action="store_true", help="one TGT per TGS-REQ")
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        provision_home(home)
        core = KdcCore(Directory.open(home))
        salt = (REALM + USER).encode()
        key = (18, crypto.string_to_key(18, PASSWORD, salt))
        n = args.requests
        now = time.time()
        if args.kind == "as":
            reqs = [client.as_req(REALM, USER, key=key, etypes=[18], now=now)[0] for _ in range(n)]
        else:
            count = n if args.fresh_tgts else 1
            tgts = []
            for _ in range(count):
                req, nonce = client.as_req(REALM, USER, key=key, etypes=[18])
                tgts.append(client.parse_as_rep(core.handle(req), key[1], key[0], nonce))
            reqs = [
                client.tgs_req(tgts[i % count], SERVICE, etypes=[18], now=now)[0] for i in range(n)
            ]
        expect = asn1.MSG_AS_REP if args.kind == "as" else asn1.MSG_TGS_REP
        prof = cProfile.Profile() if args.cprofile else None
        best = float("inf")
        chunk = 50
        if prof:
            prof.enable()
        gc_time = [0.0, 0.0]

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                gc_time[1] = time.perf_counter()
            else:
                gc_time[0] += time.perf_counter() - gc_time[1]

        tune_gc()  # as lanman up does once its services are started
        gc.callbacks.append(on_gc)
        each = []
        t_all = time.perf_counter()
        for i in range(0, n, chunk):
            t0 = time.perf_counter()
            for r in reqs[i : i + chunk]:
                t1 = time.perf_counter()
                rep = core.handle(r)
                each.append(time.perf_counter() - t1)
                assert asn1.message_type(rep) == expect, rep[:40]
            best = min(best, (time.perf_counter() - t0) / len(reqs[i : i + chunk]))
        mean = (time.perf_counter() - t_all) / n
        if prof:
            prof.disable()
            pstats.Stats(prof).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(35)
        gc.callbacks.remove(on_gc)
        each.sort()
        print(
            f"p50 {each[n // 2] * 1e6:.0f} µs, p90 {each[n * 9 // 10] * 1e6:.0f} µs, "
            f"p99 {each[n * 99 // 100] * 1e6:.0f} µs; GC {gc_time[0] / n * 1e6:.0f} µs/request"
        )
        print(
            f"{args.kind} fresh={args.fresh_tgts}: best chunk {best * 1e6:.0f} µs/request, "
            f"mean {mean * 1e6:.0f} µs/request"
        )


if __name__ == "__main__":
    main()
