"""lanman.security micro-benchmark: access checks over compiled descriptors, SDDL compile,
and ``lanman sddl compile -`` on 10,000 lines; Samba's python3-samba (Debian 12, 4.17) on the
ordinary 10-ACE file DACL for comparison (it has no conditional-ACE support).

Measured:
* access checks/s and compiled-ACE evaluations/s for the two typical authentication-policy
  descriptors (``Member_of_any`` a group; the silo claim) and a 10-ACE file DACL (desired
  FILE_READ_DATA, granted by the 8th ACE, and MAXIMUM_ALLOWED over all 10);
* SDDL -> bytes (parse + encode), bytes -> compiled (uncached) and the cached lookup;
* the CLI batch: 10,000 distinct SDDL lines through ``lanman sddl compile -`` (wall time).

Usage: .venv/bin/python bench/bench_sddl.py [--seconds 1.0] [--append]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lanman.security.access import access_check, compile_descriptor, compiled_from_bytes
from lanman.security.descriptor import decode_sd, encode_sd
from lanman.security.rights import MAXIMUM_ALLOWED
from lanman.security.sddl_parse import parse_sddl
from lanman.security.token import SecurityToken

DOM = "S-1-5-21-1-2-3"
USER = f"{DOM}-1105"
POLICY_GROUP = f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {{SID({DOM}-1234)}}))"
POLICY_SILO = 'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0-Silo"))'
FILE_DACL = (
    "O:BAG:SYD:PAI(D;;FA;;;AN)(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1301bf;;;DA)(A;;FA;;;CO)"
    f"(A;;0x1200a9;;;{DOM}-2001)(A;;0x1200a9;;;{DOM}-2002)(A;;FR;;;BU)(A;;FX;;;AU)(A;;FR;;;WD)"
)


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def samba_rates(seconds: float) -> tuple[float, float] | None:
    """(from_sddl/s, access_check/s) of python3-samba on FILE_DACL, or None without it."""
    code = f"""
import time
from samba.dcerpc import security
from samba.security import access_check
dom = security.dom_sid({DOM!r})
s = {FILE_DACL!r}
t = security.token()
sids = [security.dom_sid(x) for x in ({USER!r}, "S-1-1-0", "S-1-5-32-545", "S-1-5-11")]
t.sids = sids  # keep the list alive: the binding does not copy it
t.num_sids = len(sids)
sd = security.descriptor.from_sddl(s, dom)
def rate(fn):
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < {seconds}:
        for _ in range(200):
            fn()
        n += 200
    return n / (time.perf_counter() - start)
assert access_check(sd, t, 1) == 1
checks = rate(lambda: access_check(sd, t, 1))  # first: the token does not survive the other loop
print(rate(lambda: security.descriptor.from_sddl(s, dom)), checks)
"""
    try:
        out = subprocess.run(
            ["/usr/bin/python3", "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()
        return float(out[0]), float(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"python3-samba comparison skipped: {exc}", file=sys.stderr)
        return None


def batch_lines(n: int) -> list[str]:
    lines = []
    for i in range(n):
        k = i % 4
        if k == 0:
            lines.append(f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {{SID({DOM}-{1000 + i})}}))")
        elif k == 1:
            lines.append(
                f'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "S{i}"))'
            )
        elif k == 2:
            lines.append(FILE_DACL.replace("-2001)", f"-{3000 + i})"))
        else:
            lines.append(f"O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;{DOM}-{i})(A;;FR;;;WD)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--append", action="store_true", help="append the results to bench/RESULTS.md")
    args = ap.parse_args()
    s = args.seconds

    member = SecurityToken.build([USER, "WD", "AU", f"{DOM}-513", f"{DOM}-1234"])
    silo = SecurityToken.build(
        [USER, "WD", "AU"], user_claims={"ad://ext/AuthenticationSilo": "T0-Silo"}
    )
    file_user = SecurityToken.build([USER, "WD", "AU", "BU", f"{DOM}-513"])
    c_group = compiled_from_bytes(encode_sd(parse_sddl(POLICY_GROUP)))
    c_silo = compiled_from_bytes(encode_sd(parse_sddl(POLICY_SILO)))
    file_blob = encode_sd(parse_sddl(FILE_DACL, DOM))
    c_file = compiled_from_bytes(file_blob)
    assert access_check(c_group, member, 0x100).allowed
    assert access_check(c_silo, silo, 0x100).allowed
    assert access_check(c_file, file_user, 0x1).ace_index == 7

    rows = []
    r = rate(lambda: access_check(c_group, member, 0x100), s)
    rows.append(("policy SD, Member_of_any (1 conditional ACE)", r, r))
    r = rate(lambda: access_check(c_silo, silo, 0x100), s)
    rows.append(("policy SD, silo claim == (1 conditional ACE)", r, r))
    r = rate(lambda: access_check(c_file, file_user, 0x1), s)
    rows.append(("file DACL of 10 ACEs, FILE_READ_DATA (8th ACE grants)", r, r * 8))
    r = rate(lambda: access_check(c_file, file_user, MAXIMUM_ALLOWED), s)
    rows.append(("file DACL of 10 ACEs, MAXIMUM_ALLOWED", r, r * 10))
    r = rate(lambda: access_check(file_blob, file_user, 0x1), s)
    rows.append(("file DACL from bytes (cache hit) + check", r, r * 8))

    parse_rate = rate(lambda: encode_sd(parse_sddl(FILE_DACL, DOM)), s)
    policy_parse = rate(lambda: encode_sd(parse_sddl(POLICY_GROUP)), s)
    compile_rate = rate(lambda: compile_descriptor(decode_sd(file_blob)), s)

    lines = batch_lines(args.lines)
    with tempfile.NamedTemporaryFile("w", suffix=".sddl", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
        path = fh.name
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        start = time.perf_counter()
        with open(path) as stdin:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lanman.cli.main",
                    "sddl",
                    "compile",
                    "-",
                    "--domain-sid",
                    DOM,
                ],
                stdin=stdin,
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
        batch = time.perf_counter() - start
    finally:
        os.unlink(path)
    produced = out.stdout.splitlines()
    assert len(produced) == len(lines) and not any(x.startswith("error") for x in produced)

    samba = samba_rates(s)
    now = datetime.now(UTC)
    text = [
        f"### lanman.security (`bench/bench_sddl.py`) — {now:%Y-%m-%d %H:%M} UTC",
        "",
        (
            f"Machine: {platform.node()} ({os.cpu_count()} CPUs, {platform.machine()}, Python "
            f"{platform.python_version()}); one process, {s:g} s per figure."
        ),
        "",
        "| access check | checks/s | ACEs examined/s |",
        "|---|---:|---:|",
    ]
    text += [f"| {name} | {r:,.0f} | {e:,.0f} |" for name, r, e in rows]
    text += [
        "",
        "| compile | per second |",
        "|---|---:|",
        f"| SDDL -> bytes, 10-ACE file DACL | {parse_rate:,.0f} |",
        f"| SDDL -> bytes, policy SD (conditional ACE) | {policy_parse:,.0f} |",
        f"| bytes -> compiled descriptor (uncached), 10-ACE DACL | {compile_rate:,.0f} |",
        "",
        (
            f"`lanman sddl compile -` on {len(lines):,} distinct lines (policy SDs and file DACLs): "
            f"{batch:.2f} s wall, process start included ({len(lines) / batch:,.0f} lines/s)."
        ),
    ]
    if samba:
        text += [
            "",
            (
                f"python3-samba 4.17 on the same 10-ACE DACL: `descriptor.from_sddl` {samba[0]:,.0f}/s "
                f"(lanman {parse_rate / samba[0]:.2f}x, lanman also encodes), `access_check` "
                f"{samba[1]:,.0f}/s (lanman compiled {rows[2][1] / samba[1]:.2f}x). Samba 4.17 "
                "parses no conditional ACEs, so the policy SDs have no Samba figure."
            ),
        ]
    report = "\n".join(text) + "\n"
    print(report)
    if args.append:
        with open(REPO / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + report)


if __name__ == "__main__":
    main()
