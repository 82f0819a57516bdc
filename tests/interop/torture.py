"""Running Samba's smbtorture against a server under test, and reading its verdicts.

Syntax: ``smbtorture //127.0.0.1/data -p PORT -U user%pw TEST`` (``-p`` is
``--smb-ports``).  The output is subunit-like text: one ``success: NAME`` /
``failure: NAME [...]`` / ``error:`` / ``skip:`` / ``xfail:`` / ``uxsuccess:`` line per
sub-test; the exit code is 0 when nothing failed (skips do not count).  Shared by the
interop tests and bench/torture_compare.py.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from interop_support import require_tool

RESULT_LINE = re.compile(r"^(success|failure|error|skip|xfail|uxsuccess): (\S+)", re.MULTILINE)

#: sub-tests each suite must pass against lanman: one file per suite, one name per line
EXPECT_DIR = Path(__file__).resolve().parent / "torture_expect"
#: a line in an expectation file that also requires lanman >= Samba in the same run
AT_LEAST_SAMBA = "# at-least-samba"


def parse(out: str) -> dict[str, str]:
    """Sub-test name -> smbtorture's verdict (the last one reported wins)."""
    return {name: kind for kind, name in RESULT_LINE.findall(out)}


def run_suite(target, suite: str, bound: float = 150.0, *extra: str) -> dict:
    """Run one suite with smbtorture's own runtime bound plus a hard kill 30 s later."""
    cmd = [
        require_tool("smbtorture"),
        target.unc(),
        "-p",
        str(target.port),
        "-U",
        f"{target.user}%{target.password}",
        f"--maximum-runtime={int(bound)}",
        *extra,
        suite,
    ]
    t0 = time.monotonic()
    timed_out = False
    try:
        cp = subprocess.run(cmd, check=False, capture_output=True, timeout=bound + 30)
        out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
        rc = cp.returncode
    except subprocess.TimeoutExpired as e:
        timed_out = True
        out = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
            errors="replace"
        )
        rc = None
    # smbtorture's own --maximum-runtime stops the suite early: that too is "not finished"
    timed_out = timed_out or "maximum runtime exceeded" in out
    results = parse(out)
    return {
        "suite": suite,
        "rc": rc,
        "timeout": timed_out,
        "seconds": round(time.monotonic() - t0, 1),
        "passed": sorted(n for n, k in results.items() if k == "success"),
        "results": results,
        "output": out,
    }


def expectations() -> dict[str, tuple[set[str], bool]]:
    """suite -> (sub-tests lanman must pass, whether lanman must also pass >= Samba)."""
    out = {}
    for f in sorted(EXPECT_DIR.glob("*.txt")):
        lines = [ln.strip() for ln in f.read_text().splitlines()]
        names = {ln for ln in lines if ln and not ln.startswith("#")}
        out[f.stem] = (names, AT_LEAST_SAMBA in lines)
    return out


#: (suite, lanman passed, Samba passed) of this session's runs, printed at its end
TABLE: list[tuple[str, int, int]] = []
