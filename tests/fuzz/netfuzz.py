"""A mutation fuzzer for a running ``lanman up``, over loopback only.

Categories (each a generator of cases; a case is what is sent, so it can be replayed):

- ``preauth``: NEGOTIATE (every dialect, 3.1.1 contexts), SMB1 negotiate, SESSION_SETUP legs
  with NTLM and Kerberos tokens in SPNEGO — recorded from lanman's own client, one frame
  mutated, sent raw on a fresh connection;
- ``signed``: requests of every command (CREATE with each create context, IOCTL with each
  FSCTL, QUERY/SET_INFO classes, READ/WRITE/LOCK/FLUSH/QUERY_DIRECTORY/CLOSE) with mutated
  bodies, correctly signed on a live SMB 3.1.1 session, so that the server parses them;
- ``compound``: two or three signed, mutated requests chained with NextCommand;
- ``rpc``: DCE/RPC PDUs (bind, request) with mutations, written to the srvsvc pipe;
- ``kdc-udp`` / ``kdc-tcp``: AS-REQs (with and without PA-ENC-TIMESTAMP) mutated;
- ``sddl``: self-relative security descriptors mutated and decoded in-process (when the
  security package is present).

After every case the server must still be there; after every batch a bystander connection
must get an ECHO and a READ answered within :data:`HANG_SECONDS`; the server log must not
gain a traceback. A failing case is written as JSON (category, frames in hex, what failed) and
can be replayed with :func:`replay`. Every loop is bounded by count and time; traffic goes
only to the 127.0.0.0/8 address given.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HANG_SECONDS = 5.0
FSCTLS = (
    0x00140204,  # FSCTL_VALIDATE_NEGOTIATE_INFO
    0x0011C017,  # FSCTL_PIPE_TRANSCEIVE
    0x00144064,  # FSCTL_SRV_ENUMERATE_SNAPSHOTS
    0x00140078,  # FSCTL_SRV_REQUEST_RESUME_KEY
    0x001440F2,  # FSCTL_SRV_COPYCHUNK
    0x001480F2,  # FSCTL_SRV_COPYCHUNK_WRITE
    0x001401FC,  # FSCTL_QUERY_NETWORK_INTERFACE_INFO
    0x000900A8,  # FSCTL_GET_REPARSE_POINT
    0x000900C4,  # FSCTL_SET_SPARSE
    0x00060194,  # FSCTL_DFS_GET_REFERRALS
    0x000980C8,  # FSCTL_SET_ZERO_DATA
    0x000940CF,  # FSCTL_QUERY_ALLOCATED_RANGES
    0x0009003C,  # FSCTL_GET_OBJECT_ID
)
CREATE_CONTEXTS = (b"MxAc", b"QFid", b"DHnQ", b"DH2Q", b"DHnC", b"RqLs", b"AlSi", b"TWrp",
                   b"SecD", b"ExtA", b"DH2C", b"\x93\xad\x25\x50")  # fmt: skip
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)  # fmt: skip


@dataclass
class Target:
    host: str
    port: int
    user: str
    password: str
    share: str
    kdc_port: int = 0
    realm: str = ""
    log_path: Path | None = None
    pid: int | None = None


@dataclass
class Report:
    cases: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"{sum(self.cases.values())} cases in {self.seconds:.0f} s"]
        for cat in sorted(self.cases):
            lines.append(f"  {cat:10} {self.cases[cat]:7} sent, {self.answered[cat]:7} answered")
        kinds = Counter(f["kind"] for f in self.failures)
        lines.append(
            "  crashes {crash}, hangs {hang}, tracebacks {traceback}".format(
                crash=kinds["crash"], hang=kinds["hang"], traceback=kinds["traceback"]
            )
        )
        return "\n".join(lines)


# ---- mutation -------------------------------------------------------------------------------


def mutate(rng: random.Random, data: bytes, keep: int = 0) -> bytes:
    """One to four mutations of ``data`` after its first ``keep`` bytes."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if len(b) <= keep:
            b += rng.randbytes(rng.randint(1, 16))
            continue
        pos = rng.randrange(keep, len(b))
        op = rng.randrange(7)
        if op == 0:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos] = rng.randrange(256)
        elif op == 2:
            width = rng.choice((2, 4, 8))
            v = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            pos -= pos % width
            if pos + width <= len(b) and pos >= keep:
                b[pos : pos + width] = v.to_bytes(width, "little")
        elif op == 3:
            del b[rng.randrange(max(keep, pos), len(b)) :]  # truncate
        elif op == 4:
            b[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif op == 5:
            n = rng.randint(1, min(64, len(b) - pos))
            b[pos:pos] = b[pos : pos + n] * rng.randint(1, 8)
        else:
            width = rng.choice((2, 4))
            pos -= pos % width
            if pos + width <= len(b) and pos >= keep:
                old = int.from_bytes(b[pos : pos + width], "little")
                new = (old + rng.choice((-1, 1, 2, 8, 64, -64))) % (1 << (8 * width))
                b[pos : pos + width] = new.to_bytes(width, "little")
    return bytes(b)


# ---- seeds ----------------------------------------------------------------------------------


class _Recorder:
    """A client transport that records what the client sends (to seed ``preauth``)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.frames: list[bytes] = []

    def send(self, parts) -> None:
        self.frames.append(b"".join(bytes(p) for p in parts))
        self.inner.send(parts)

    def recv(self):
        return self.inner.recv()

    def close(self) -> None:
        self.inner.close()


def record_logons(t: Target) -> list[list[bytes]]:
    """Client frame sequences of real logons: every dialect with NTLM, 3.1.1 with Kerberos."""
    from lanman.smb.client.api import SmbClient
    from lanman.smb.client.transport import SocketTransport

    sequences = []
    for dialects in ((0x0311,), (0x0302,), (0x0300,), (0x0210,), (0x0202,)):
        rec = _Recorder(SocketTransport(t.host, t.port, timeout=10))
        with contextlib.closing(
            SmbClient.connect(
                t.host,
                t.port,
                t.user,
                t.password,
                share=t.share,
                dialects=dialects,
                transport=rec,
                kerberos=False,
            )
        ):
            pass
        sequences.append(rec.frames)
    if t.kdc_port:
        rec = _Recorder(SocketTransport(t.host, t.port, timeout=10))
        with (
            contextlib.suppress(Exception),
            contextlib.closing(
                SmbClient.connect(
                    t.host,
                    t.port,
                    t.user,
                    t.password,
                    share=t.share,
                    transport=rec,
                    kerberos=True,
                    kdc=f"{t.host}:{t.kdc_port}",
                    realm=t.realm,
                )
            ),
        ):
            pass
        if rec.frames:
            sequences.append(rec.frames)
    # An SMB1 NEGOTIATE offering "SMB 2.???" (multi-protocol negotiate).
    dialects = b"".join(b"\x02" + d + b"\x00" for d in (b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
    smb1 = (
        b"\xffSMB\x72" + b"\x00" * 4 + b"\x18" + struct.pack("<H", 0xC853) + b"\x00" * 20
        + b"\x00" + struct.pack("<H", len(dialects)) + dialects
    )  # fmt: skip
    sequences.append([smb1])
    return sequences


def _frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data) & 0xFFFFFF) + data


def _recv_some(s: socket.socket, deadline: float) -> tuple[int, bool]:
    """(bytes read, closed by the server) until ``deadline`` or close."""
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, False
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except TimeoutError:
            return got, False
        except OSError:
            return got, True
        if not data:
            return got, True
        got += len(data)


def send_raw(t: Target, frames: list[bytes], wait: float = 0.2) -> bool:
    """Send ``frames`` on a fresh connection (each answered or not within a moment, the last
    within ``wait``); True when the server answered anything."""
    with socket.create_connection((t.host, t.port), timeout=HANG_SECONDS) as s:
        answered = False
        for i, f in enumerate(frames):
            try:
                s.sendall(_frame(f))
            except OSError:
                return answered
            got, closed = _recv_some(s, time.monotonic() + (wait if i + 1 == len(frames) else 0.02))
            answered = answered or got > 0
            if closed:
                break
        return answered


# ---- live signed session ----------------------------------------------------------------


class Live:
    """A signed SMB 3.1.1 session with a file and a directory open, for ``signed`` cases."""

    def __init__(self, t: Target, timeout: float = HANG_SECONDS) -> None:
        from lanman.smb.client.api import SmbClient

        self.client = SmbClient.connect(
            t.host, t.port, t.user, t.password, share=t.share, dialects=(0x0311,),
            timeout=timeout, kerberos=False,
        )  # fmt: skip
        c = self.client
        name = f"fuzz-{os.getpid()}-{random.randrange(1 << 30)}.bin"
        self.file_id = c._open(name, 0x0012019F, 3).file_id  # GENERIC_RW, FILE_OPEN_IF
        self.dir_id = c._open("", 0x00100081, 1, options=1).file_id  # list, FILE_OPEN, dir
        self.name = name

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.remove(self.name)
        with contextlib.suppress(Exception):
            self.client.close()

    def send(self, command: int, body: bytes, expect_reply: bool = True) -> bool:
        """Send one signed request; True when a final response came back in time."""
        c = self.client
        c._ensure_credits(1)
        out = c.conn.request(command, body, tree_id=c.tree_id, sign=True)
        c._send(out)
        if not expect_reply:
            return True
        c._wait(out.message_id)
        return True

    def send_compound(self, items: list[tuple[int, bytes]]) -> bool:
        """A chain of signed requests (each PDU 8-aligned, NextCommand set before signing)."""
        from lanman.crypto.smb_signing import compute_signature
        from lanman.smb.wire.header import SIGNATURE_OFFSET, HeaderFlags, Smb2Header

        c = self.client
        conn = c.conn
        c._ensure_credits(len(items))
        pdus, mids = [], []
        for i, (command, body) in enumerate(items):
            size = 64 + len(body)
            pad = (-size) % 8 if i + 1 < len(items) else 0
            mid = conn.next_mid
            conn.next_mid += 1
            flags = HeaderFlags.SIGNED | (HeaderFlags.RELATED_OPERATIONS if i else 0)
            hdr = Smb2Header(
                command=command, credit_charge=1, credit=8, flags=flags, message_id=mid,
                tree_id=c.tree_id, session_id=conn.session.session_id,
                next_command=size + pad if i + 1 < len(items) else 0,
            )  # fmt: skip
            pdu = bytearray(hdr.pack() + body + b"\x00" * pad)
            pdu[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
                conn.session.signing_key, conn.algorithm, [pdu], message_id=mid,
                is_response=False,
            )  # fmt: skip
            conn.outstanding[mid] = command
            pdus.append(bytes(pdu))
            mids.append(mid)
        c.transport.send(pdus)
        for mid in mids:
            c._wait(mid)
        return True


def signed_templates(live: Live, rng: random.Random) -> tuple[int, bytes]:
    """A valid request body of a random command for ``live``'s open file / directory."""
    from lanman.smb.wire.constants import Command
    from lanman.smb.wire.create import CreateContext, CreateRequest
    from lanman.smb.wire.io import (
        LockElement,
        LockRequest,
        ReadRequest,
        pack_flush_request,
        pack_write_request_fixed,
    )
    from lanman.smb.wire.query import (
        IoctlRequest,
        QueryDirectoryRequest,
        QueryInfoRequest,
        SetInfoRequest,
    )

    fid = live.file_id if rng.random() < 0.8 else live.dir_id
    kind = rng.randrange(9)
    if kind == 0:
        ctxs = [
            CreateContext(
                rng.choice(CREATE_CONTEXTS), rng.randbytes(rng.choice((0, 4, 16, 32, 56)))
            )
            for _ in range(rng.randint(1, 3))
        ]
        name = rng.choice(("a.txt", "dir\\b.txt", "..\\x", "big:stream", "", "con", "a" * 300))
        req = CreateRequest(name, 0x0012019F, 0x80, 7, rng.randrange(6), rng.randrange(1 << 24),
                            rng.choice((0, 1, 8, 9, 0xFF)), 2, ctxs)  # fmt: skip
        return Command.CREATE, req.pack()
    if kind == 1:
        code = rng.choice(FSCTLS)
        req = IoctlRequest(code, fid, rng.randbytes(rng.choice((0, 8, 24, 40, 64))), 0, 65536, 1)
        return Command.IOCTL, req.pack()
    if kind == 2:
        req = QueryInfoRequest(rng.randint(1, 4), rng.randrange(80), 65536, rng.randrange(16), 0,
                               fid)  # fmt: skip
        return Command.QUERY_INFO, req.pack()
    if kind == 3:
        req = SetInfoRequest(
            rng.randint(1, 4), rng.randrange(80), 0, fid, rng.randbytes(rng.choice((8, 40, 64)))
        )
        return Command.SET_INFO, req.pack()
    if kind == 4:
        req = QueryDirectoryRequest(rng.choice((1, 2, 3, 12, 37, 38, 60)), rng.randrange(16), 0,
                                    live.dir_id, rng.choice(("*", "<\"*", "?>", "*.txt", "")),
                                    65536)  # fmt: skip
        return Command.QUERY_DIRECTORY, req.pack()
    if kind == 5:
        return Command.READ, ReadRequest(
            fid, rng.choice((0, 1, 4096, 65536)), rng.randrange(1 << 20)
        ).pack()
    if kind == 6:
        data = rng.randbytes(rng.randint(0, 512))
        return Command.WRITE, pack_write_request_fixed(
            fid, rng.randrange(1 << 20), len(data)
        ) + data
    if kind == 7:
        req = LockRequest(fid, [LockElement(rng.randrange(1 << 20), rng.randint(1, 4096),
                                            rng.choice((1, 2, 4, 0x12, 0x11)))])  # fmt: skip
        return Command.LOCK, req.pack()
    return Command.FLUSH, pack_flush_request(fid)


# ---- the run --------------------------------------------------------------------------------


class Fuzzer:
    def __init__(self, t: Target, seed: int, out_dir: Path | None = None) -> None:
        self.t = t
        self.rng = random.Random(seed)
        self.seed = seed
        self.out_dir = out_dir
        self.report = Report()
        self._log_offset = self._log_size()
        self._logons: list[list[bytes]] = []
        self._current: dict = {}
        self._ipc = None  # an SmbClient on IPC$ for ``rpc`` cases
        self._live_ids: tuple[bytes, bytes] | None = None  # (file, dir) ids of the live session

    # -- health -----------------------------------------------------------------------------
    def _log_size(self) -> int:
        if self.t.log_path is None:
            return 0
        try:
            return self.t.log_path.stat().st_size
        except OSError:
            return 0

    def _new_tracebacks(self) -> str:
        if self.t.log_path is None:
            return ""
        with open(self.t.log_path, "rb") as fh:
            fh.seek(self._log_offset)
            text = fh.read().decode(errors="replace")
            self._log_offset = fh.tell()
        bad = [ln for ln in text.splitlines() if "Traceback" in ln or "internal error" in ln]
        return "\n".join(bad[:5])

    def _alive(self) -> bool:
        if self.t.pid is None:
            return True
        try:
            os.kill(self.t.pid, 0)
        except OSError:
            return False
        return True

    def bystander_ok(self) -> bool:
        from lanman.smb.client.api import SmbClient

        try:
            with contextlib.closing(
                SmbClient.connect(self.t.host, self.t.port, self.t.user, self.t.password,
                                  share=self.t.share, timeout=HANG_SECONDS, kerberos=False)
            ) as c:  # fmt: skip
                c.echo()
                c.listdir("")
            return True
        except Exception:  # noqa: BLE001 - any failure is the verdict
            return False

    def _fail(self, kind: str, case: dict, detail: str) -> None:
        entry = {"kind": kind, "detail": detail, "seed": self.seed, **case}
        if self._live_ids:
            entry = json.loads(_tokenize(json.dumps(entry), self._live_ids))
        self.report.failures.append(entry)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            n = len(list(self.out_dir.glob("*.json")))
            path = self.out_dir / f"{case['category']}-{kind}-{n:03d}.json"
            path.write_text(json.dumps(entry, indent=1) + "\n")

    def check(self, case: dict) -> bool:
        if not self._alive():
            self._fail("crash", case, "server process exited")
            return False
        tb = self._new_tracebacks()
        if tb:
            self._fail("traceback", case, tb)
        return True

    # -- categories -------------------------------------------------------------------------
    def case_preauth(self) -> dict:
        if not self._logons:
            self._logons = record_logons(self.t)
        seq = self.rng.choice(self._logons)
        k = self.rng.randrange(len(seq))
        frames = [f.hex() for f in seq[:k]] + [mutate(self.rng, seq[k]).hex()]
        case = {"category": "preauth", "frames": frames}
        if send_raw(self.t, [bytes.fromhex(f) for f in frames]):
            self.report.answered["preauth"] += 1
        return case

    def case_signed(self, live: Live) -> dict:
        command, body = signed_templates(live, self.rng)
        body = mutate(self.rng, body)
        case = self._current = {"category": "signed", "command": int(command), "body": body.hex()}
        live.send(command, body)
        self.report.answered["signed"] += 1
        return case

    def case_compound(self, live: Live) -> dict:
        items = [signed_templates(live, self.rng) for _ in range(self.rng.randint(2, 3))]
        items = [(c, mutate(self.rng, b) if self.rng.random() < 0.7 else b) for c, b in items]
        case = self._current = {
            "category": "compound",
            "items": [[int(c), b.hex()] for c, b in items],
        }
        live.send_compound(items)
        self.report.answered["compound"] += 1
        return case

    def case_rpc(self, live: Live) -> dict:
        from lanman.rpc.client import RpcClient
        from lanman.rpc.interfaces.srvsvc import SRVSVC_UUID, SRVSVC_VERSION
        from lanman.rpc.pdu import SyntaxId

        rpc = RpcClient(SyntaxId.from_str(SRVSVC_UUID, *SRVSVC_VERSION))
        seeds = [rpc.bind()]
        rpc.bound = True
        seeds += rpc.request(15, struct.pack("<IIIII", 0x20000, 1, 1, 0, 0xFFFFFFFF))
        pdus = [mutate(self.rng, p) if self.rng.random() < 0.6 else p for p in seeds]
        case = self._current = {"category": "rpc", "pdus": [p.hex() for p in pdus]}
        if self._ipc is None:
            from lanman.smb.client.api import SmbClient

            self._ipc = SmbClient.connect(
                self.t.host,
                self.t.port,
                self.t.user,
                self.t.password,
                share="IPC$",
                timeout=1.0,  # a pipe READ with nothing to read waits, as on Windows
                kerberos=False,
            )
        c = self._ipc
        fid = c.open_pipe("srvsvc")
        from lanman.smb.client.errors import SmbClientError

        try:
            for p in pdus:
                try:
                    c.pipe_write(fid, p)
                    c.pipe_read(fid, 8192)
                except SmbClientError as exc:
                    if _is_timeout(exc):  # the READ waits for output that will not come
                        self._close_ipc()
                        return case
                    if exc.status == 0xC000020C:  # STATUS_CONNECTION_DISCONNECTED
                        raise
                    break  # the pipe refused this PDU (an answer all the same)
        finally:
            with contextlib.suppress(Exception):
                c.close_file(fid)
        self.report.answered["rpc"] += 1
        return case

    def _as_req(self) -> bytes:
        from lanman.kerberos.client import as_req
        from lanman.kerberos.crypto import string_to_key

        key = None
        if self.rng.random() < 0.5:
            salt = (self.t.realm + self.t.user).encode()
            key = (18, string_to_key(18, self.t.password, salt))
        return as_req(self.t.realm, self.t.user, key=key)[0]

    def case_kdc(self, tcp: bool) -> dict:
        data = mutate(self.rng, self._as_req())
        cat = "kdc-tcp" if tcp else "kdc-udp"
        case = {"category": cat, "data": data.hex()}
        if tcp:
            with socket.create_connection((self.t.host, self.t.kdc_port), timeout=2) as s:
                s.sendall(struct.pack(">I", len(data)) + data)
                got, _ = _recv_some(s, time.monotonic() + 0.5)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(data, (self.t.host, self.t.kdc_port))
                s.settimeout(0.5)
                try:
                    got = len(s.recv(65536))
                except TimeoutError:
                    got = 0
        if got:
            self.report.answered[cat] += 1
        return case

    def kdc_ok(self) -> bool:
        data = self._as_req()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(data, (self.t.host, self.t.kdc_port))
            s.settimeout(HANG_SECONDS)
            try:
                return bool(s.recv(65536))
            except TimeoutError:
                return False

    def case_sddl(self) -> dict:
        from lanman.security.descriptor import decode_sd
        from lanman.security.errors import SecurityError

        seed = self.rng.choice(_sd_seeds())
        data = mutate(self.rng, seed)
        case = {"category": "sddl", "data": data.hex()}
        start = time.monotonic()
        try:
            decode_sd(data)
        except SecurityError:
            pass
        except Exception as exc:  # noqa: BLE001 - an unexpected exception type is a finding
            self._fail("traceback", case, f"{type(exc).__name__}: {exc}")
        if time.monotonic() - start > 1.0:
            self._fail("hang", case, "decode took more than a second")
        self.report.answered["sddl"] += 1
        return case

    def _close_ipc(self) -> None:
        if self._ipc is not None:
            with contextlib.suppress(Exception):
                self._ipc.close()
            self._ipc = None

    # -- driver -----------------------------------------------------------------------------
    def run(self, seconds: float, max_cases: int = 10**7, batch: int = 50) -> Report:
        start = time.monotonic()
        live: Live | None = None
        cats = ["preauth", "signed", "signed", "compound", "rpc"]
        if self.t.kdc_port:
            cats += ["kdc-udp", "kdc-tcp"]
        cats.append("sddl")
        n = 0
        try:
            while n < max_cases and time.monotonic() - start < seconds:
                for _ in range(batch):
                    n += 1
                    cat = self.rng.choice(cats)
                    self.report.cases[cat] += 1
                    case: dict | None = {"category": cat}
                    self._current = case
                    try:
                        if cat == "preauth":
                            case = self.case_preauth()
                        elif cat == "sddl":
                            case = self.case_sddl()
                        elif cat.startswith("kdc"):
                            case = self.case_kdc(cat == "kdc-tcp")
                        else:
                            if live is None:
                                live = Live(self.t)
                                self._live_ids = (live.file_id, live.dir_id)
                            case = getattr(self, f"case_{cat}")(live)
                    except Exception as exc:  # noqa: BLE001 - closed or refused: reconnect
                        if _is_timeout(exc):
                            self._fail("hang", self._current, f"no answer in {HANG_SECONDS} s")
                        if live is not None:
                            live.close()
                            live = None
                        self._close_ipc()
                    if case is not None and not self.check(case):
                        return self.report
                if not self.bystander_ok():
                    self._fail("hang", {"category": "bystander"}, "bystander got no answer")
                if self.t.kdc_port and not self.kdc_ok():
                    self._fail("hang", {"category": "kdc"}, "KDC gave no answer")
        finally:
            if live is not None:
                live.close()
            self._close_ipc()
            self.report.seconds = time.monotonic() - start
        return self.report


_SDDL_SEEDS = (
    "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(BA), SID(S-1-5-21-1-2-3-1105)}))",
    'O:SYG:SYD:(XA;;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0"))',
    "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;AU)(D;;WD;;;BG)S:(AU;SAFA;FA;;;WD)",
    (
        'D:(XD;;FX;;;WD;(@DEVICE.os != "w" || !(Exists @USER.title)))'
        'S:(RA;;;;;WD;("Project",TS,0,"A","B"))(ML;;NW;;;LW)'
    ),
    "O:S-1-5-21-1-2-3-500D:(OA;;RP;bf967aba-0de6-11d0-a285-00aa003049e2;;AU)",
)


def _sd_seeds() -> list[bytes]:
    """Self-relative descriptors of every ACE family, compiled by lanman's SDDL parser."""
    global _SD_SEED_BYTES
    if not _SD_SEED_BYTES:
        from lanman.security.descriptor import encode_sd
        from lanman.security.sddl_parse import parse_sddl

        _SD_SEED_BYTES = [encode_sd(parse_sddl(t)) for t in _SDDL_SEEDS]
    return _SD_SEED_BYTES


_SD_SEED_BYTES: list[bytes] = []


def _tokenize(text: str, ids: tuple[bytes, bytes]) -> str:
    """Saved cases name the live session's open file / directory as <FILE> / <DIR>."""
    return text.replace(ids[0].hex(), "<FILE>").replace(ids[1].hex(), "<DIR>")


def _untokenize(text: str, live: Live) -> str:
    return text.replace("<FILE>", live.file_id.hex()).replace("<DIR>", live.dir_id.hex())


def _is_timeout(exc: BaseException) -> bool:
    from lanman.errors.ntstatus import STATUS_IO_TIMEOUT

    return isinstance(exc, TimeoutError) or getattr(exc, "status", None) == STATUS_IO_TIMEOUT


def replay(t: Target, case: dict) -> None:
    """Send one recorded case again (for regression tests and --replay)."""
    cat = case["category"]
    if cat == "wire":  # bytes exactly as given (framing included), then a moment's wait
        with socket.create_connection((t.host, t.port), timeout=HANG_SECONDS) as s:
            s.sendall(bytes.fromhex(case["data"]))
            _recv_some(s, time.monotonic() + case.get("wait", 0.5))
        return
    if cat == "preauth":
        send_raw(t, [bytes.fromhex(f) for f in case["frames"]])
        return
    if cat == "kdc-tcp" and "raw" in case:  # bytes exactly as given, framing included
        with socket.create_connection((t.host, t.kdc_port), timeout=2) as s:
            s.sendall(bytes.fromhex(case["raw"]))
            _recv_some(s, time.monotonic() + 0.5)
        return
    if cat in ("kdc-udp", "kdc-tcp"):
        data = bytes.fromhex(case["data"])
        if cat == "kdc-tcp":
            with socket.create_connection((t.host, t.kdc_port), timeout=2) as s:
                s.sendall(struct.pack(">I", len(data)) + data)
                _recv_some(s, time.monotonic() + 0.5)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(data, (t.host, t.kdc_port))
        return
    if cat == "sddl":
        from lanman.security.descriptor import decode_sd
        from lanman.security.errors import SecurityError

        with contextlib.suppress(SecurityError):
            decode_sd(bytes.fromhex(case["data"]))
        return
    live = Live(t)
    case = json.loads(_untokenize(json.dumps(case), live))
    try:
        with contextlib.suppress(Exception):
            if cat == "signed":
                live.send(case["command"], bytes.fromhex(case["body"]))
            elif cat == "compound":
                live.send_compound([(c, bytes.fromhex(b)) for c, b in case["items"]])
    finally:
        live.close()


# ---- a server to fuzz ------------------------------------------------------------------

LANMAN = [sys.executable, "-m", "lanman.cli.main"]
REALM = "FUZZ.TEST"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lanman(home: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [*LANMAN, "--home", str(home), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lanman up exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("lanman up did not start listening")


def start_server(base: Path, kdc: bool = True) -> tuple[Target, subprocess.Popen]:
    """``lanman up`` on 127.0.0.1 in a fresh home under ``base`` (rate limiter off)."""
    home, share = base / "home", base / "share"
    share.mkdir(parents=True)
    (share / "hello.txt").write_bytes(b"hello\n")
    password = "Fz-" + secrets.token_urlsafe(12)
    if kdc:
        _lanman(home, "domain", "provision", "--realm", REALM, "--domain", "FUZZ")
    _lanman(home, "user", "add", "fuzz", "--password-stdin", stdin=password + "\n")
    _lanman(home, "share", "add", "data", str(share), "--full-access", "Everyone")
    _lanman(
        home, "smb", "server-config", "set", "--invalid-authentication-delay-time-in-ms", "0",
        "--max-connections-per-address", "512", "--max-connections", "1024",
    )  # fmt: skip
    port, kdc_port = _free_port(), (_free_port() if kdc else 0)
    log = base / "server.log"
    args = [*LANMAN, "--home", str(home), "up", "--listen", "127.0.0.1", "--smb-port", str(port)]
    if os.geteuid() == 0:  # the home is a private temporary directory: keep root (--run-as)
        args += ["--run-as", "root"]
    if kdc:
        args += ["--kdc-port", str(kdc_port)]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        if kdc:
            _wait_port(kdc_port, proc)
    except BaseException:
        stop_server(proc)
        raise
    t = Target("127.0.0.1", port, "fuzz", password, "data", kdc_port, REALM, log, proc.pid)
    return t, proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
