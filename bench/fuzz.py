#!/usr/bin/env python3
"""Mutation fuzzing of a real ``lanman up`` (SMB 2/3 + KDC + RPC pipes) for N minutes.

    .venv/bin/python bench/fuzz.py --minutes 10 [--seed 1] [--keep DIR]

Starts its own server on 127.0.0.1 (a fresh home with a provisioned domain, one user, one
share; rate limiter off so guessing-heavy cases run at full speed), runs the fuzzer of
``tests/fuzz/netfuzz.py`` and prints what it sent, what was answered, and every crash, hang
(no answer in 5 s) or traceback. Failing cases are written as JSON to ``--keep`` (default
``bench/fuzz-findings``); copy one into ``tests/fuzz/regressions/`` to make it a regression
test. ``--replay FILE`` sends one recorded case again. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

import netfuzz


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    ap.add_argument("--keep", type=Path, default=ROOT / "bench" / "fuzz-findings")
    ap.add_argument("--replay", type=Path, help="send one recorded case and check the server")
    ap.add_argument("--no-kdc", action="store_true", help="SMB only (no provisioned domain)")
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lanman-fuzz-"))
    t, proc = netfuzz.start_server(base, kdc=not a.no_kdc)
    try:
        if a.replay:
            f = netfuzz.Fuzzer(t, 0)
            netfuzz.replay(t, json.loads(a.replay.read_text()))
            ok = f.check({"category": "replay"}) and f.bystander_ok()
            print("server survived" if ok else "server FAILED", f.report.failures or "")
            return 0 if ok and not f.report.failures else 1
        print(f"seed {a.seed}; server on 127.0.0.1:{t.port} (KDC {t.kdc_port or 'off'})")
        fz = netfuzz.Fuzzer(t, a.seed, a.keep)
        report = fz.run(a.minutes * 60)
        print(report.summary())
        for f in report.failures:
            print(f"  {f['kind']}: {f['category']}: {f['detail'][:300]}")
        return 1 if report.failures else 0
    finally:
        netfuzz.stop_server(proc)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
