#!/usr/bin/env python3
"""Request-rate benchmark (issue 14 item 5): lanman vs Samba smbd, one run, ratios.

Both servers are started on loopback (``interop_support.start_lanman`` / ``start_samba``,
signing mandatory) and every workload runs against lanman and then Samba back to back, so
the two see the same machine load:

* ``echo`` — smbtorture ``smb2.bench.echo`` (``torture:nprocs`` connections, qdepth 1,
  ``torture:timelimit`` s): ECHO requests/s.
* ``path-contention-shared`` — smbtorture ``smb2.bench.path-contention-shared``: every
  connection opens and closes the same path with shared access; opens/s.
  smbtorture prints one ``num/s=`` figure per second (aggregate of all connections); the
  table shows the median of those seconds.
* ``small-files`` — one smbclient session each: ``mput`` of ``--files`` 1 KiB files into a
  new directory, ``ls`` of it, ``deltree`` of it; files/s per phase (and for all three).
  The median wall time of an smbclient that only connects is subtracted from ``mput`` and
  ``deltree``; an ``ls`` is timed as the difference between a session listing 4 times and
  one listing once (connection setup cancels out).
* ``listing`` — ``ls`` of a directory of ``--entries`` files (created locally in the share
  beforehand), timed by difference as above; entries/s, median of 3.
* ``streams-N`` — N concurrent smbclient processes, each ``put``s then ``get``s its own
  ``--stream-mib`` MiB file signed at SMB3_11; aggregate MiB/s = N x size / wall time of
  the slowest (all start together).

Memory: while each workload runs, the server's process tree is sampled; "peak" is the
largest total VmRSS seen, "settled" the total VmRSS 2 s after the
workload finished; the last column is VmHWM (lifetime peak, so cumulative over the
workloads run so far; lanman is one process, so its VmHWM is the true peak).  For smbd that is the sum of all its processes (parent, per-connection
children, helpers).

    .venv/bin/python bench/bench_ops.py                      # the issue's sizes
    .venv/bin/python bench/bench_ops.py --quick --append     # small sizes, to RESULTS.md

All traffic is on 127.0.0.1; every command has a timeout.  Needs root (smbd) and Debian's
samba, smbclient and smbtorture.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))
sys.path.insert(0, str(HERE))

import interop_support as isup
from bench_smb import MemSampler, descendants, machine, status_kib, warm_memory

SERVERS = ("lanman", "samba")
TORTURE = {
    "echo": ("smb2.bench.echo", "echo"),
    "path-contention-shared": (
        "smb2.bench.path-contention-shared",
        "open",
    ),
}
NUMS = {name: re.compile(rf"\b{name}\[num/s=(\d+)") for name in ("echo", "open")}


# ----------------------------------------------------------------------------- memory


def tree_kib(root: int, key: str) -> int:
    return sum(status_kib(p, key) for p in descendants(root))


class TreeMem(MemSampler):
    """Peak of the summed VmRSS of the server's process tree while a workload runs."""

    def _sample(self):
        self.peak_kib = max(self.peak_kib, tree_kib(self.root, "VmRSS"))


def measure(t: isup.Target, fn):
    """Run ``fn()`` while sampling memory; returns (result dict, peak MiB, settled MiB)."""
    with TreeMem(t.pid) as mem:
        res = fn()
    peak = mem.peak_kib
    time.sleep(2.0)
    settled = tree_kib(t.pid, "VmRSS")
    res["peak_rss_mib"] = peak / 1024
    res["hwm_mib"] = tree_kib(t.pid, "VmHWM") / 1024
    res["settled_rss_mib"] = settled / 1024
    return res


# ----------------------------------------------------------------------------- workloads


def smbclient_wall(t: isup.Target, cmd: str, timeout: float, cwd=None) -> float:
    start = time.monotonic()
    cp = isup.smbclient(t, "-c", cmd, cwd=cwd, check=False, timeout=timeout)
    wall = time.monotonic() - start
    out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
    if cp.returncode != 0 or "NT_STATUS" in out:
        m = re.search(r"NT_STATUS_[A-Z_]+", out)
        raise RuntimeError(f"smbclient -c {cmd[:40]!r}: {m.group(0) if m else out[-200:]}")
    return wall


def connect_cost(t: isup.Target, timeout: float) -> float:
    return statistics.median(smbclient_wall(t, "exit", timeout) for _ in range(5))


def torture(t: isup.Target, test: str, key: str, nprocs: int, seconds: int) -> dict:
    cmd = [
        isup.require_tool("smbtorture"),
        t.unc(),
        "-p",
        str(t.port),
        "-U",
        f"{t.user}%{t.password}",
        f"--option=torture:nprocs={nprocs}",
        f"--option=torture:timelimit={seconds}",
        test,
    ]
    cp = subprocess.run(cmd, check=False, capture_output=True, timeout=seconds + 120)
    # smbtorture reports the verdict on stdout, the per-second figures on stderr
    out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
    per_second = [int(x) for x in NUMS[key].findall(out)]
    if not per_second or f"success: {test.rsplit('.', 1)[1]}" not in out:
        return {"error": f"smbtorture failed: {out[-200:]!r}"}
    return {"rate": statistics.median(per_second), "samples": per_second}


def listing_wall(t: isup.Target, d: str, timeout: float, extra: int = 3) -> float:
    """Wall time of one ``ls`` of ``d``, connection setup excluded: the difference between
    a session that lists ``1 + extra`` times and one that lists once, per extra listing."""
    once = smbclient_wall(t, f"cd {d}; ls", timeout)
    many = smbclient_wall(t, f"cd {d}" + "; ls" * (1 + extra), timeout)
    return max(many - once, 1e-3) / extra


def small_files(t: isup.Target, local: Path, n: int, base_cost: float, timeout: float) -> dict:
    d = "smallfiles"
    put = smbclient_wall(t, f"mkdir {d}; cd {d}; prompt off; lcd {local}; mput *", timeout)
    put = max(put - base_cost, 1e-3)
    ls = listing_wall(t, d, timeout)
    rm = max(smbclient_wall(t, f"deltree {d}", timeout) - base_cost, 1e-3)
    return {"rate": n / (put + ls + rm), "put": n / put, "ls": n / ls, "rm": n / rm}


def listing(t: isup.Target, n: int, timeout: float) -> dict:
    d = t.share_dir / "bigdir"
    d.mkdir(exist_ok=True)
    for i in range(n):
        (d / f"entry_{i:06d}.txt").touch()
    if t.kind == "samba":
        os.chown(d, *_owner(t.share_dir))
    walls = [listing_wall(t, "bigdir", timeout, extra=2) for _ in range(3)]
    shutil.rmtree(d, ignore_errors=True)
    return {"rate": n / statistics.median(walls)}


def _owner(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_uid, st.st_gid


def streams(t: isup.Target, src: Path, work: Path, n: int, size_mib: int, timeout: float) -> dict:
    dirs = []
    for i in range(n):
        w = work / f"{t.kind}-stream-{n}-{i}"
        w.mkdir(parents=True, exist_ok=True)
        if not (w / "src.bin").exists():
            os.symlink(src, w / "src.bin")
        dirs.append(w)

    def run_all(cmd_for) -> float:
        errors: list[str] = []

        def one(i: int):
            try:
                smbclient_wall(t, cmd_for(i), timeout, cwd=dirs[i])
            except Exception as e:  # noqa: BLE001 - report, not crash
                errors.append(str(e))

        ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        start = time.monotonic()
        for th in ths:
            th.start()
        for th in ths:
            th.join(timeout + 30)
        if errors:
            raise RuntimeError(errors[0])
        return time.monotonic() - start

    total = n * size_mib
    w = run_all(lambda i: f"put src.bin stream_{i}.bin")
    r = run_all(lambda i: f"get stream_{i}.bin /dev/null")
    for i in range(n):
        (t.share_dir / f"stream_{i}.bin").unlink(missing_ok=True)
    return {"write": total / w, "read": total / r, "rate": 2 * total / (w + r)}


# ----------------------------------------------------------------------------- driver


def run_all(args, base: Path) -> tuple[dict, dict]:
    targets: dict[str, isup.Target] = {}
    results: dict[str, dict] = {s: {} for s in args.servers}
    connect: dict[str, float] = {}
    try:
        for kind in args.servers:
            (base / kind).mkdir(parents=True, exist_ok=True)
            targets[kind] = (
                isup.start_lanman(base / kind) if kind == "lanman" else isup.start_samba()
            )
            connect[kind] = connect_cost(targets[kind], args.timeout)
        local = base / "small"
        local.mkdir()
        for i in range(args.files):
            (local / f"f{i:05d}.dat").write_bytes(os.urandom(1024))
        src = base / "stream.bin"
        if args.stream_clients:
            isup.make_random_file(src, args.stream_mib * 2**20, seed=14)
            os.chmod(src, 0o644)
            # every stream client's remote and local copies, once, before either server
            # (bench_smb.warm_memory: a VM's first touch of a page is slow)
            warm_memory(base, 2 * max(args.stream_clients) * args.stream_mib * 2**20)
        os.chmod(base, 0o755)

        workloads = [
            (
                name,
                lambda t, test=test, key=key: torture(t, test, key, args.nprocs, args.seconds),
            )
            for name, (test, key) in TORTURE.items()
        ]
        workloads.append(
            (
                "small-files",
                lambda t: small_files(t, local, args.files, connect[t.kind], args.timeout),
            )
        )
        workloads.append(("listing", lambda t: listing(t, args.entries, args.timeout)))
        for n in args.stream_clients:
            workloads.append(
                (
                    f"streams-{n}",
                    lambda t, n=n: streams(t, src, base / "work", n, args.stream_mib, args.timeout),
                )
            )
        for name, fn in workloads:
            if args.only and name not in args.only:
                continue
            for kind, t in targets.items():
                print(f"{name}: {kind} ...", flush=True)
                try:
                    results[kind][name] = measure(t, lambda fn=fn, t=t: fn(t))
                except Exception as e:  # noqa: BLE001 - one failure must not end the run
                    traceback.print_exc()
                    results[kind][name] = {"error": str(e)[:160]}
                r = results[kind][name]
                print(
                    f"  {', '.join(f'{k}={v:.1f}' for k, v in r.items() if isinstance(v, float))}"
                )
    finally:
        for t in targets.values():
            isup.cleanup_target(t)
    return results, connect


def fmt(v, spec=".0f"):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


UNITS = {
    "echo": "requests/s",
    "path-contention-shared": "opens/s",
    "small-files": "files/s (put+ls+deltree)",
    "listing": "entries/s",
}


def render(results: dict, connect: dict, args) -> str:
    lm, sb = results.get("lanman", {}), results.get("samba", {})
    names = list(dict.fromkeys([*lm, *sb]))
    lines = [
        f"smbtorture: {args.nprocs} connections, {args.seconds} s; small files: {args.files} x "
        f"1 KiB; listing: {args.entries} entries; streams: {args.stream_mib} MiB per client, "
        "signed SMB3_11 (put then get, aggregate). smbclient connect (subtracted from put/rm): "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in connect.items()),
        "",
        (
            "| workload | unit | lanman | Samba | lanman/Samba "
            "| lanman RSS MiB peak/settled/VmHWM | Samba RSS MiB peak/settled/VmHWM |"
        ),
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def row(name, unit, key):
        a, b = lm.get(name, {}), sb.get(name, {})
        va, vb = a.get(key), b.get(key)
        ratio = va / vb if isinstance(va, float | int) and vb else None
        mem = [
            "/".join(fmt(x.get(k)) for k in ("peak_rss_mib", "settled_rss_mib", "hwm_mib"))
            if x
            else "-"
            for x in (a, b)
        ]
        err = "; ".join(
            f"{k}: {x['error']}" for k, x in (("lanman", a), ("Samba", b)) if "error" in x
        )
        lines.append(
            f"| {name} | {unit} | {fmt(va)} | {fmt(vb)} | {fmt(ratio, '.2f')} | {mem[0]} | "
            f"{mem[1]} |" + (f" {err}" if err else "")
        )

    for name in names:
        if name.startswith("streams-"):
            row(name, "MiB/s (write+read)", "rate")
            for key in ("write", "read"):
                lines_before = len(lines)
                row(name, f"MiB/s {key}", key)
                lines[lines_before] = lines[lines_before].replace(
                    f"| {name} |", f"| {name} {key} |", 1
                )
        elif name == "small-files":
            row(name, UNITS[name], "rate")
            for key in ("put", "ls", "rm"):
                i = len(lines)
                row(name, f"files/s {key}", key)
                lines[i] = lines[i].replace(f"| {name} |", f"| {name} {key} |", 1)
        else:
            row(name, UNITS.get(name, ""), "rate")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--only", default="", help="comma list of workloads (default all)")
    ap.add_argument("--nprocs", type=int, default=4, help="smbtorture connections")
    ap.add_argument("--seconds", type=int, default=10, help="smbtorture time limit")
    ap.add_argument("--files", type=int, default=2000, help="small files (1 KiB each)")
    ap.add_argument("--entries", type=int, default=10000, help="directory listing size")
    ap.add_argument("--stream-mib", type=int, default=256, help="MiB per streaming client")
    ap.add_argument("--stream-clients", default="1,4,16", help="comma list of client counts")
    ap.add_argument(
        "--quick", action="store_true", help="5 s torture, 500 files, 32 MiB per stream"
    )
    ap.add_argument("--timeout", type=float, default=1200, help="per smbclient command, s")
    ap.add_argument("--append", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.files, args.stream_mib = 5, 500, 32
    args.servers = [s for s in args.servers.split(",") if s]
    args.only = [s for s in args.only.split(",") if s]
    args.stream_clients = [int(n) for n in args.stream_clients.split(",") if n]
    for s in args.servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s}")
    for tool in ("smbclient", "smbtorture", "smbd"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            print(f"missing {tool}: apt-get install -y smbclient samba", file=sys.stderr)
            return 2

    base = Path(tempfile.mkdtemp(prefix="lanman-benchops-"))
    started = time.monotonic()
    try:
        results, connect = run_all(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    took = time.monotonic() - started
    table = render(results, connect, args)
    print()
    print(table)
    if args.append:
        uname, cpu = machine()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        ver = (
            subprocess.run(
                ["smbclient", "--version"], check=False, stdout=subprocess.PIPE, timeout=10
            )
            .stdout.decode()
            .strip()
        )
        block = [
            f"\n## SMB request rates, lanman vs Samba — {stamp}\n",
            "- command: `.venv/bin/python bench/bench_ops.py "
            + " ".join(argv if argv is not None else sys.argv[1:])
            + f"` ({took:.0f} s)",
            f"- machine: `{uname}`; CPU: {cpu}",
            (
                f"- clients: smbtorture / smbclient {ver}; servers: lanman `up`, Debian smbd "
                "(private smb.conf, signing mandatory), both on loopback"
            ),
            (
                "- the machine (2 CPUs) was shared with other engineers' work during the "
                "run: absolute numbers are low and noisy; the two servers ran each workload "
                "back to back, so compare the ratios"
            ),
            "",
            table,
            "",
        ]
        with open(args.results, "a") as f:
            f.write("\n".join(block) + "\n")
        print(f"\nappended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
