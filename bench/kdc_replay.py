"""Record TGS-REQs once, replay them in-process with a fixed clock (for instruction counts).

    .venv/bin/python bench/kdc_replay.py record DIR N [--one-tgt]   # provision DIR/home, N requests
    .venv/bin/python bench/kdc_replay.py replay DIR N               # handle the first N of them

``bench/kdc_icount.sh DIR`` runs ``replay`` under valgrind (callgrind) with 0 and 200 requests
and prints instructions per request: a deterministic figure for comparing code versions on a VM
whose speed moves too much for wall-clock A/B runs.  ``LANMAN_SRC`` selects the source tree.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("LANMAN_SRC") or str(REPO / "src"))

from bench_kdc import PASSWORD, REALM, SERVICE, USER, provision_home  # this folder

from lanman.directory import Directory
from lanman.kerberos import asn1, client, crypto
from lanman.kerberos.kdc import KdcCore


def record(work: Path, n: int, one_tgt: bool) -> None:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    provision_home(home)
    core = KdcCore(Directory.open(home))
    key = (18, crypto.string_to_key(18, PASSWORD, (REALM + USER).encode()))
    now = time.time()
    reqs, tgt = [], None
    for _ in range(n):
        if tgt is None or not one_tgt:
            req, nonce = client.as_req(REALM, USER, key=key, etypes=[18])
            tgt = client.parse_as_rep(core.handle(req), key[1], key[0], nonce)
        reqs.append(client.tgs_req(tgt, SERVICE, etypes=[18], now=now)[0])
    (work / "requests.pickle").write_bytes(pickle.dumps((now, reqs)))


def replay(work: Path, n: int) -> None:
    now, reqs = pickle.loads((work / "requests.pickle").read_bytes())
    core = KdcCore(Directory.open(work / "home"), now=lambda: now + 1)
    core.handle(reqs[-1])  # warm the directory cache (the last request is never replayed)
    t0 = time.perf_counter()
    for r in reqs[: min(n, len(reqs) - 1)]:
        rep = core.handle(r)
        assert asn1.message_type(rep) == asn1.MSG_TGS_REP, rep[:60]
    if n:
        print(f"{(time.perf_counter() - t0) / n * 1e6:.0f} µs/request", file=sys.stderr)


if __name__ == "__main__":
    mode, work, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if mode == "record":
        work.mkdir(parents=True, exist_ok=True)
        record(work, count, "--one-tgt" in sys.argv[4:])
    else:
        replay(work, count)
