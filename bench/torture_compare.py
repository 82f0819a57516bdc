"""smbtorture suites against lanman and Samba smbd, side by side in one run.

Starts lanman (`lanman up`) and Debian's smbd (private smb.conf, ``server signing =
mandatory``) on free loopback ports, runs each smbtorture suite against both with the same
binary and the same time bound, and prints a per-suite table of passed sub-tests.

    .venv/bin/python bench/torture_compare.py [--suites smb2.lease,smb2.notify] [--json OUT]

Only 127.0.0.1 is contacted.  A suite that does not finish in its bound is reported as
"timeout" with the sub-tests it passed so far.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "interop"))

from interop_support import cleanup_target, start_lanman, start_samba
from torture import expectations, run_suite

#: every suite make test compares (tests/interop/torture_expect/), in name order
SUITES = sorted(expectations())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--bound", type=float, default=150.0, help="seconds per suite and server")
    ap.add_argument("--json", type=Path, help="write every result (with output) here")
    ap.add_argument("--only", choices=["lanman", "samba"], help="run against one server")
    args = ap.parse_args(argv)
    suites = [s for s in args.suites.split(",") if s]
    base = Path(tempfile.mkdtemp(prefix="lanman-torture-"))
    targets = {}
    try:
        if args.only != "samba":
            targets["lanman"] = start_lanman(base / "lanman")
        if args.only != "lanman":
            targets["samba"] = start_samba(Path(tempfile.gettempdir()))
        rows = []
        for suite in suites:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futs = {k: pool.submit(run_suite, t, suite, args.bound) for k, t in targets.items()}
                row = {k: f.result() for k, f in futs.items()}
            rows.append(row)
            cells = []
            for k in targets:
                r = row[k]
                cells.append(f"{k} {len(r['passed']):3d}{' (timeout)' if r['timeout'] else ''}")
            print(f"{suite:24s} " + "  ".join(cells), flush=True)
        total = {k: sum(len(r[k]["passed"]) for r in rows) for k in targets}
        print(f"{'total':24s} " + "  ".join(f"{k} {v:3d}" for k, v in total.items()))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    finally:
        for t in targets.values():
            cleanup_target(t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
