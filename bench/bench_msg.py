#!/usr/bin/env python3
"""msg benchmark (issue 6): ``msg *`` to N agent sessions on one host.

For each route — ``local`` (``lanman --home H msg * ...``) and ``smb`` (``lanman msg *
/SERVER:127.0.0.1:<port> -U alice%pw ...`` against ``lanman up`` on 127.0.0.1) — it registers
``--sessions`` (default 200) agent sessions and runs the agents' receiving loop
(:class:`lanman.msg.agent.InboxFollower`, what ``lanman msg agent`` runs, 50 ms poll) for all
of them in this process, then measures, from the moment the ``msg`` command is started:

* ``delivered``: until every agent has seen the message (no ``/W``);
* ``answered``: with ``/W``, until the ``msg`` command has every response back (the agents
  answer OK as soon as they see a message that waits).

Each figure includes the ``msg`` process's start-up (interpreter, imports; also printed on its
own as ``startup``, the time ``lanman msg /?`` takes).  Results are printed and appended to
bench/RESULTS.md with date, ``uname -a`` and CPU.  Target: all delivered within 2 s.

    .venv/bin/python bench/bench_msg.py                 # 200 sessions, local and smb
    .venv/bin/python bench/bench_msg.py --sessions 50 --routes local --repeat 3

All traffic is on 127.0.0.1 (random free port); every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))
sys.path.insert(0, str(REPO / "src"))

import interop_support as isup

from lanman.msg.agent import InboxFollower
from lanman.msg.delivery import IDOK
from lanman.msg.host import MsgHost

POLL = 0.05  # the agent's poll interval (lanman msg agent)
WAIT_LIMIT = 120.0


class Agents:
    """N agent sessions of one msg state directory, followed by one thread."""

    def __init__(self, state_dir: Path, n: int, user: str) -> None:
        host = MsgHost.open(state_dir, os_sessions=False)
        for i in range(n):
            host.virtual.add(f"agent{i:04d}", user, pid=os.getpid())
        self.sessions = [s for s in host.sessions() if s.kind == "virtual"]
        assert len(self.sessions) == n, len(self.sessions)
        self.followers = [InboxFollower(state_dir, s) for s in self.sessions]
        self.seen: dict[str, dict[int, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for f in self.followers:
                for rec in f.poll():
                    now = time.monotonic()
                    with self._lock:
                        self.seen.setdefault(rec.get("message", ""), {})[f.session.session_id] = now
                    if rec.get("wait"):
                        f.respond(rec, IDOK)
            self._stop.wait(POLL)

    def wait_all(self, text: str, limit: float = WAIT_LIMIT) -> float | None:
        """Monotonic time the last agent saw ``text`` (None: not all within ``limit``)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self._lock:
                got = dict(self.seen.get(text, {}))
            if len(got) == len(self.followers):
                return max(got.values())
            time.sleep(0.01)
        return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _env() -> dict:
    return dict(os.environ, LANMAN_MSG_OS_SESSIONS="0")


def measure(cmd: list[str], agents: Agents, text: str, wait: bool) -> dict:
    t0 = time.monotonic()
    cp = subprocess.run(cmd, capture_output=True, timeout=WAIT_LIMIT, env=_env(), check=False)
    t_cmd = time.monotonic() - t0
    last = agents.wait_all(text)
    out = cp.stdout.decode(errors="replace")
    if cp.returncode != 0 or last is None:
        raise RuntimeError(
            f"msg failed rc={cp.returncode} delivered={last is not None}\n"
            f"{out[-2000:]}\n{cp.stderr.decode(errors='replace')[-2000:]}"
        )
    if wait:
        n = out.count("responded to by user: OK")
        if n != len(agents.followers):
            raise RuntimeError(f"/W: {n} OK responses of {len(agents.followers)}\n{out[-2000:]}")
    return {"delivered": last - t0, "command": t_cmd}


def startup_time() -> float:
    t0 = time.monotonic()
    subprocess.run(
        isup.lanman_cmd() + ["msg", "/?"], stdout=subprocess.DEVNULL, timeout=60, check=True
    )
    return time.monotonic() - t0


def run_route(route: str, n: int, repeat: int, base: Path) -> dict:
    if route == "local":
        home = base / "local-home"
        home.mkdir(parents=True)
        prefix = isup.lanman_cmd() + ["--home", str(home), "msg"]
        server = None
        user = "bench"
    else:
        server = isup.start_lanman(base / "smb", require_signing=True)
        home = server.home
        isup._lanman(
            home, "policy", "set", "--scope", "local", "TerminalServer.AllowRemoteRPC", "enabled"
        )
        user = server.user
        prefix = isup.lanman_cmd() + [
            "msg",
            f"/SERVER:{isup.HOST}:{server.port}",
            "-U",
            f"{server.user}%{server.password}",
        ]
    agents = Agents(home / "msg", n, user)
    try:
        plain, waited = [], []
        for i in range(repeat):
            text = f"bench {route} {i} {time.time_ns()}"
            plain.append(measure(prefix + ["*", text], agents, text, wait=False))
            text = f"bench {route} {i} W {time.time_ns()}"
            waited.append(measure(prefix + ["*", "/V", "/W", text], agents, text, wait=True))
        return {"route": route, "plain": plain, "waited": waited}
    finally:
        agents.stop()
        if server is not None:
            isup.cleanup_target(server)


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--routes", default="local,smb")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", type=float, default=2.0, help="delivery target, seconds")
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    if not 1 <= args.sessions <= 2000 or not 1 <= args.repeat <= 20:
        ap.error("--sessions 1..2000, --repeat 1..20")
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    boot = startup_time()
    results = []
    with tempfile.TemporaryDirectory(prefix="lanman-bench-msg-") as tmp:
        for route in routes:
            if route not in ("local", "smb"):
                ap.error(f"unknown route {route}")
            results.append(run_route(route, args.sessions, args.repeat, Path(tmp) / route))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {now} — msg * to {args.sessions} agent sessions",
        "",
        f"- machine: `{' '.join(platform.uname())}`",
        f"- CPU: {cpu_model()} x{os.cpu_count()}",
        (
            f"- command: `.venv/bin/python bench/bench_msg.py --sessions {args.sessions} "
            f"--routes {','.join(routes)} --repeat {args.repeat}`"
        ),
        f"- msg start-up alone (`lanman msg /?`): {boot:.2f} s (included in every figure)",
        "",
        f"Seconds from starting `msg` (median of {args.repeat}; min–max)",
        "",
        "| route | all delivered | `msg` exits | all /W responses back | target |",
        "|---|---:|---:|---:|---|",
    ]
    ok = True
    for r in results:
        d = [x["delivered"] for x in r["plain"]]
        w = [x["command"] for x in r["waited"]]
        c = [x["command"] for x in r["plain"]]
        met = max(d) <= args.target
        ok &= met
        lines.append(
            f"| {r['route']} | {statistics.median(d):.2f} ({min(d):.2f}–{max(d):.2f}) | "
            f"{statistics.median(c):.2f} | {statistics.median(w):.2f} ({min(w):.2f}–{max(w):.2f})"
            f" | ≤ {args.target:g} s: {'met' if met else 'NOT met'} |"
        )
    lines.append("")
    report = "\n".join(lines)
    print(report)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write("\n" + report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
