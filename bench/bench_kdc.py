"""lanman KDC vs MIT krb5kdc: AS exchanges with PA-ENC-TIMESTAMP and TGS exchanges per second.

Both KDCs run on loopback with an equivalent realm (one user with AES keys, one cifs/ service,
a krbtgt with aes256), started by this script:

* lanman: ``lanman domain provision`` + ``lanman user add`` in a temporary home, then the KDC
  (``KdcCore`` over ``Directory.open``) in its own process;
* MIT: a private ``kdc.conf`` + ``kdb5_util create`` + ``kadmin.local addprinc``, then
  ``krb5kdc -n`` (foreground, one process).

The load generator is the same for both: it pre-builds unique requests (fresh nonces, fresh
timestamps/authenticators, so MIT's lookaside cache and the replay caches see no duplicates)
with lanman.kerberos.client, then keeps ``--window`` UDP requests in flight and counts replies
of the expected type (AS-REP / TGS-REP) per second.

``--policy`` adds a second lanman KDC in the same run whose user sits in an enforced
authentication policy silo with an AllowedToAuthenticateFrom condition (device in a group, so
every AS-REQ is FAST-armored with a member computer's TGT) and whose service has an
AllowedToAuthenticateTo condition, and compares it with the first lanman KDC doing the same
armored AS and plain TGS exchanges without any policy (target: within 10 %).

Usage: .venv/bin/python bench/bench_kdc.py [--requests 3000] [--window 32] [--policy] [--append]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from lanman.kerberos import asn1, client

REPO = Path(__file__).resolve().parents[1]
REALM = "BENCH.TEST"
USER = "benchuser"
PASSWORD = "Bench-Passw0rd-1"
SERVICE = ["cifs", "bench.bench.test"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_udp(port: int, probe: bytes, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while time.monotonic() < deadline:
            s.sendto(probe, ("127.0.0.1", port))
            try:
                s.recvfrom(65536)
                return
            except TimeoutError:
                continue
    raise TimeoutError(f"KDC on UDP {port} did not answer")


def exchange(port: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", port))
        return s.recvfrom(65536)[0]


# ----------------------------------------------------------------------------------------------
# KDCs
# ----------------------------------------------------------------------------------------------


def provision_home(home: Path) -> None:
    """A lanman home with the bench domain (REALM, host BENCH) and USER (shared by the bench
    scripts: this one, profile_kdc.py and kdc_replay.py)."""
    lanman = [str(REPO / ".venv" / "bin" / "lanman"), "--home", str(home)]
    subprocess.run(
        [*lanman, "domain", "provision", "--realm", REALM, "--domain", "BENCH"]
        + ["--host-name", "BENCH"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [*lanman, "user", "add", USER, "--password-stdin"],
        input=(PASSWORD + "\n").encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )


DEVICE = "BENCHWS$"
DEVICE_PASSWORD = "Bench-Device-Passw0rd-1"


def add_device(home: Path) -> None:
    """The computer whose TGT armors the AS-REQs (FAST, RFC 6113)."""
    from lanman.directory import Directory

    with Directory.open(home) as d:
        d.add_computer(DEVICE, password=DEVICE_PASSWORD)


def add_policies(home: Path) -> None:
    """USER in enforced silo T0 whose user policy needs a device in Tier0 (From) and a 10 h
    TGT; the service's account needs the user in Tier0 (To)."""
    from lanman.directory import Directory
    from lanman.security.descriptor import encode_sd
    from lanman.security.sddl_parse import parse_sddl

    with Directory.open(home) as d:
        d.add_group("Tier0")
        d.add_member("Tier0", DEVICE)
        d.add_member("Tier0", USER)
        sid = d.get_group("Tier0").sid
        cond = encode_sd(parse_sddl(f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {{SID({sid})}}))"))
        d.authn.create_policy(
            "T0-users", user_allowed_from=cond, user_tgt_lifetime=600 * 60 * 10_000_000
        )
        d.authn.create_policy("T0-service", enforced=True, computer_allowed_to=cond)
        d.authn.create_silo("T0", enforced=True, user_policy="T0-users")
        d.authn.grant_member("T0", USER)
        d.authn.assign_silo(USER, "T0")
        service = d.find_principal("/".join(SERVICE))
        d.authn.assign_policy(service.name, "T0-service")


def start_lanman(
    work: Path, port: int, workers: int = 1, policies: bool = False, replay: str = "shm"
) -> subprocess.Popen:
    home = work / ("lanman-policy-home" if policies else "lanman-home")
    provision_home(home)
    add_device(home)
    if policies:
        add_policies(home)
    code = (
        "import asyncio,signal,sys\n"
        "from lanman.directory import Directory\n"
        "from lanman.kerberos.kdc import KdcCore\n"
        "from lanman.kerberos.kdc.service import start_kdc\n"
        "from lanman.runtime import tune_gc\n"
        "async def main():\n"
        f"    d = Directory.open({str(home)!r})\n"
        "    stop = asyncio.Event()\n"
        "    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)\n"
        f"    s = await start_kdc(KdcCore(d), '127.0.0.1', {port}, workers={workers}, shared_replay={replay!r})\n"
        "    tune_gc()  # as lanman up does once its services are started\n"
        "    await stop.wait()\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "lanman.log", "wb"),
    )


def start_mit(work: Path, port: int, workers: int = 1) -> tuple[subprocess.Popen, dict]:
    for tool in ("krb5kdc", "kdb5_util", "kadmin.local"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install krb5-kdc krb5-admin-server")
    d = work / "mit"
    d.mkdir()
    conf = d / "krb5.conf"
    kdcconf = d / "kdc.conf"
    conf.write_text(
        f"[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n"
        f"[realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
    )
    kdcconf.write_text(
        "[kdcdefaults]\n"
        f" kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n"
        "[realms]\n"
        f" {REALM} = {{\n"
        f"  database_name = {d / 'principal'}\n"
        f"  key_stash_file = {d / 'stash'}\n"
        f"  acl_file = {d / 'kadm5.acl'}\n"
        "  master_key_type = aes256-cts-hmac-sha1-96\n"
        "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
        "  max_life = 10h 0m 0s\n  max_renewable_life = 7d 0h 0m 0s\n"
        " }\n"
        f"[logging]\n kdc = FILE:{d / 'kdc.log'}\n"
    )
    env = {**os.environ, "KRB5_CONFIG": str(conf), "KRB5_KDC_PROFILE": str(kdcconf)}
    subprocess.run(
        ["kdb5_util", "create", "-s", "-r", REALM, "-P", "master-bench-pw"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for q in (
        f"addprinc +requires_preauth -pw {PASSWORD} {USER}",
        f"addprinc -randkey {'/'.join(SERVICE)}",
        f"modprinc -maxlife 10h -maxrenewlife 7d krbtgt/{REALM}",
    ):
        subprocess.run(
            ["kadmin.local", "-r", REALM, "-q", q],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    wargs = ["-w", str(workers)] if workers > 1 else []
    proc = subprocess.Popen(
        ["krb5kdc", "-n", *wargs, "-r", REALM, "-P", str(d / "kdc.pid")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(d / "krb5kdc.err", "wb"),  # noqa: SIM115 - owned by the child
    )
    return proc, env


# ----------------------------------------------------------------------------------------------
# Load generator
# ----------------------------------------------------------------------------------------------


def user_key(port: int) -> tuple[int, bytes]:
    """Ask the KDC for ETYPE-INFO2 (salt) and derive the aes256 key like a client would."""
    from lanman.kerberos import crypto

    req, _ = client.as_req(REALM, USER, etypes=[18])
    err = client.parse_error(exchange(port, req))
    md = asn1.MethodData.load(err.e_data)
    salt = None
    for pa in md:
        if pa["padata-type"].native == asn1.PA_ETYPE_INFO2:
            salt = asn1.ETypeInfo2.load(pa["padata-value"].native)[0]["salt"].native
    assert salt is not None, "no ETYPE-INFO2"
    return 18, crypto.string_to_key(18, PASSWORD, salt.encode())


def blast(port: int, requests: list[bytes], expect: int, window: int) -> tuple[float, int, int]:
    """Send all requests keeping ``window`` in flight; -> (seconds, ok replies, other replies)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect(("127.0.0.1", port))
    s.settimeout(2.0)
    sent = ok = bad = 0
    n = len(requests)
    t0 = time.perf_counter()
    while sent < min(window, n):
        s.send(requests[sent])
        sent += 1
    received = 0
    while received < n:
        try:
            data = s.recv(65536)
        except TimeoutError:
            break  # lost datagrams: stop, count what arrived
        received += 1
        if asn1.message_type(data) == expect:
            ok += 1
        else:
            bad += 1
        if sent < n:
            s.send(requests[sent])
            sent += 1
    dt = time.perf_counter() - t0
    s.close()
    return dt, ok, bad


def get_tgts(port: int, key: tuple[int, bytes], count: int) -> list:
    """``count`` different TGTs (one AS exchange each, not timed)."""
    tgts = []
    for _ in range(count):
        req, nonce = client.as_req(REALM, USER, key=key, etypes=[18])
        tgts.append(client.parse_as_rep(exchange(port, req), key[1], key[0], nonce))
    return tgts


def device_tgt(port: int) -> client.Credentials:
    from lanman.kerberos import crypto

    salt = f"{REALM}host{DEVICE.lower().rstrip('$')}.{REALM.lower()}".encode()
    key = crypto.string_to_key(18, DEVICE_PASSWORD, salt)
    req, nonce = client.as_req(REALM, DEVICE, key=(18, key), etypes=[18])
    return client.parse_as_rep(exchange(port, req), key, 18, nonce)


def run_armored(name: str, port: int, n: int, window: int) -> float:
    """AS exchanges FAST-armored with the device's TGT (what a From condition requires)."""
    key = user_key(port)
    armor = device_tgt(port)
    now = time.time()
    reqs = [
        client.armored_as_req(REALM, USER, armor, key=key, now=now, etypes=[18])[0]
        for _ in range(n)
    ]
    dt, ok, bad = blast(port, reqs, asn1.MSG_AS_REP, window)
    print(f"{name:>14}: armored AS {ok / dt:8.0f}/s ({ok} ok, {bad} other)", flush=True)
    return ok / dt


def armored_tgt(port: int, key: tuple[int, bytes]) -> client.Credentials:
    armor = device_tgt(port)
    req, nonce, akey = client.armored_as_req(REALM, USER, armor, key=key, etypes=[18])
    return client.parse_armored_as_rep(exchange(port, req), akey, key[1], key[0], nonce)


def run_tgs(name: str, port: int, n: int, window: int, tgt: client.Credentials) -> float:
    now = time.time()
    reqs = [client.tgs_req(tgt, SERVICE, etypes=[18], now=now)[0] for _ in range(n)]
    dt, ok, bad = blast(port, reqs, asn1.MSG_TGS_REP, window)
    print(f"{name:>14}: TGS {ok / dt:8.0f}/s ({ok} ok, {bad} other)", flush=True)
    return ok / dt


def run_one(
    name: str,
    port: int,
    n: int,
    window: int,
    fresh_tgts: int = 0,
    tgt_modes: list[int] | None = None,
) -> dict:
    """AS, then TGS once per entry of ``tgt_modes`` (0: one TGT for all TGS-REQs, a client's
    session; N: N different TGTs used in turn, many clients: a KDC-side cache of decrypted TGTs
    gains nothing when N >= n). -> {"as", "tgs" (first mode), "tgs:N" per mode, ...}."""
    modes = tgt_modes if tgt_modes is not None else [fresh_tgts]
    key = user_key(port)
    now = time.time()
    as_reqs = [client.as_req(REALM, USER, key=key, etypes=[18], now=now)[0] for _ in range(n)]
    dt, ok, bad = blast(port, as_reqs, asn1.MSG_AS_REP, window)
    out: dict = {"as": ok / dt, "as_bad": bad}
    line = f"{name:>7}: AS {out['as']:8.0f}/s ({ok} ok, {bad} other)"
    for mode in modes:
        tgts = get_tgts(port, key, max(1, mode))
        now = time.time()
        tgs_reqs = [
            client.tgs_req(tgts[i % len(tgts)], SERVICE, etypes=[18], now=now)[0] for i in range(n)
        ]
        dt2, ok2, bad2 = blast(port, tgs_reqs, asn1.MSG_TGS_REP, window)
        out[f"tgs:{mode}"] = ok2 / dt2
        out.setdefault("tgs", ok2 / dt2)
        out.setdefault("tgs_bad", bad2)
        what = f"{mode} TGTs" if mode else "one TGT"
        line += f"   TGS ({what}) {ok2 / dt2:8.0f}/s ({ok2} ok, {bad2} other)"
    print(line, flush=True)
    return out


def measure(work: Path, workers: int, args: argparse.Namespace) -> dict:
    """Both KDCs with ``workers`` processes each; -> best of the rounds per KDC and exchange."""
    results: dict[str, list[dict]] = {"lanman": [], "mit": []}
    sub = work / f"w{workers}"
    sub.mkdir()
    lport, mport = free_port(), free_port()
    lproc = start_lanman(sub, lport, workers, replay=args.lanman_replay)
    mproc, _ = start_mit(sub, mport, workers)
    try:
        probe, _ = client.as_req(REALM, USER)
        wait_udp(lport, probe)
        wait_udp(mport, probe)
        print(f"-- {workers} process(es) per KDC", flush=True)
        for _ in range(args.rounds):
            for kdc, port in (("MIT", mport), ("lanman", lport)):
                results[kdc.lower()].append(
                    run_one(kdc, port, args.requests, args.window, tgt_modes=args.tgt_modes)
                )
    finally:
        for p in (lproc, mproc):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    metrics = ["as"] + [f"tgs:{m}" for m in args.tgt_modes]
    best = {k: {m: max(r[m] for r in v) for m in metrics} for k, v in results.items()}
    best["runs"] = results  # type: ignore[assignment]
    return best


def _mode_name(mode: int) -> str:
    return f"TGS ({mode} fresh TGTs)" if mode else "TGS (one TGT)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--workers",
        default="1",
        help="comma-separated process counts per KDC, e.g. 1,2 (MIT: krb5kdc -w N)",
    )
    ap.add_argument(
        "--fresh-tgts",
        default="0",
        metavar="N[,N...]",
        help="rotate N different TGTs over the TGS-REQs (0: one TGT for all of them); "
        "a list measures each in the same run, e.g. 0,2000",
    )
    ap.add_argument(
        "--policy",
        action="store_true",
        help="also measure a lanman KDC with an enforced silo (From + To conditions)",
    )
    ap.add_argument(
        "--lanman-replay",
        choices=("shm", "sqlite"),
        default="shm",
        help="lanman's cross-process replay cache with >1 process (sqlite: the older one)",
    )
    ap.add_argument("--note", default="", help="a sentence appended to the RESULTS.md entry")
    ap.add_argument("--append", action="store_true", help="append the result to bench/RESULTS.md")
    args = ap.parse_args()
    args.tgt_modes = [int(x) for x in args.fresh_tgts.split(",") if x.strip()] or [0]
    args.fresh_tgts = args.tgt_modes[0]  # the policy mode measures one
    if args.policy:
        policy_mode(args)
        return
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-kdc-") as tmp:
        for w in counts:
            best = measure(Path(tmp), w, args)
            summary = []
            for m in ["as"] + [f"tgs:{x}" for x in args.tgt_modes]:
                ratio = best["lanman"][m] / best["mit"][m]
                summary.append(
                    f"{m} lanman {best['lanman'][m]:.0f}/s vs MIT {best['mit'][m]:.0f}/s "
                    f"({ratio:.2f})"
                )
            print(f"{w} process(es), best of {args.rounds}: " + "; ".join(summary), flush=True)
            rows.append((w, best))
    if args.append:
        mit_version = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "krb5-kdc"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        fresh = ",".join(map(str, args.tgt_modes))
        with open(REPO / "bench" / "RESULTS.md", "a") as f:
            f.write(
                f"\n## KDC: lanman vs MIT krb5kdc — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"Machine: {platform.node()} ({os.cpu_count()} CPUs, {platform.machine()}, "
                f"Python {platform.python_version()}), MIT krb5kdc {mit_version}, "
                f"`bench/bench_kdc.py --requests {args.requests} --window {args.window} "
                f"--rounds {args.rounds} --workers {args.workers}"
                f"{f' --fresh-tgts {fresh}' if fresh != '0' else ''}"
                f"{' --lanman-replay sqlite' if args.lanman_replay == 'sqlite' else ''}`; "
                "UDP on loopback, same load generator (pre-built unique AS-REQ with "
                "PA-ENC-TIMESTAMP aes256 / TGS-REQ with a fresh authenticator, one TGT for all "
                "or N different TGTs in turn), N processes per KDC (lanman "
                "`start_kdc(workers=N)` = `lanman up --kdc-workers N`, MIT `krb5kdc -w N`), "
                "best of the rounds.\n\n"
                "| processes | exchange | lanman /s | MIT /s | ratio |\n|---:|---|---:|---:|---:|\n"
            )
            for w, best in rows:
                for m in ["as"] + [f"tgs:{x}" for x in args.tgt_modes]:
                    label = "AS (pre-auth)" if m == "as" else _mode_name(int(m.split(":")[1]))
                    f.write(
                        f"| {w} | {label} | {best['lanman'][m]:.0f} | {best['mit'][m]:.0f} | "
                        f"{best['lanman'][m] / best['mit'][m]:.2f} |\n"
                    )
            if args.note:
                f.write(f"\n{args.note}\n")


def policy_mode(args: argparse.Namespace) -> None:
    """lanman without policies vs lanman with an enforced silo, MIT for reference; same run."""
    with tempfile.TemporaryDirectory(prefix="bench-kdc-policy-") as tmp:
        work = Path(tmp)
        ports = {"plain": free_port(), "policy": free_port(), "mit": free_port()}
        (work / "plain").mkdir()
        (work / "policy").mkdir()
        procs = [
            start_lanman(work / "plain", ports["plain"]),
            start_lanman(work / "policy", ports["policy"], policies=True),
        ]
        mproc, _ = start_mit(work, ports["mit"])
        procs.append(mproc)
        rows: dict[str, dict[str, list[float]]] = {k: {} for k in ports}
        try:
            probe, _ = client.as_req(REALM, USER)
            for port in ports.values():
                wait_udp(port, probe)
            for _ in range(args.rounds):
                for label in ("plain", "policy"):
                    r = rows[label]
                    name = f"lanman {label}"
                    port = ports[label]
                    r.setdefault("armored AS", []).append(
                        run_armored(name, port, args.requests, args.window)
                    )
                    tgt = armored_tgt(port, user_key(port))
                    r.setdefault("TGS", []).append(
                        run_tgs(name, port, args.requests, args.window, tgt)
                    )
                one = run_one("MIT", ports["mit"], args.requests, args.window)
                rows["mit"].setdefault("AS", []).append(one["as"])
                rows["mit"].setdefault("TGS", []).append(one["tgs"])
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    best = {k: {m: max(v) for m, v in r.items()} for k, r in rows.items()}
    lines = []
    for m in ("armored AS", "TGS"):
        plain, pol = best["plain"][m], best["policy"][m]
        mit = best["mit"].get("AS" if m == "armored AS" else "TGS")
        lines.append((m, plain, pol, pol / plain, mit))
        print(
            f"{m}: lanman {plain:.0f}/s, with policies {pol:.0f}/s (ratio {pol / plain:.2f}); "
            f"MIT {mit:.0f}/s",
            flush=True,
        )
    if args.append:
        with open(REPO / "bench" / "RESULTS.md", "a") as f:
            f.write(
                f"\n## KDC with authentication policies — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
                f"\n\nMachine: {platform.node()} ({os.cpu_count()} CPUs), "
                f"`bench/bench_kdc.py --policy --requests {args.requests} --window "
                f"{args.window} --rounds {args.rounds}`: two lanman KDCs and MIT krb5kdc in one "
                'run, one process each, UDP on loopback, best of the rounds. "with policies" = '
                "the user in an enforced silo whose policy has a From condition (device in "
                "Tier0; every AS-REQ FAST-armored with a member computer's TGT) and the "
                "service with a To condition (user in Tier0). MIT's AS column is unarmored "
                "AS (reference only).\n\n"
                "| exchange | lanman /s | lanman with policies /s | ratio | MIT /s |\n"
                "|---|---:|---:|---:|---:|\n"
            )
            for m, plain, pol, ratio, mit in lines:
                f.write(f"| {m} | {plain:.0f} | {pol:.0f} | {ratio:.2f} | {mit:.0f} |\n")


if __name__ == "__main__":
    main()
