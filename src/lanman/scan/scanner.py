"""The thin I/O layer of ``lanman scan``: sockets, deadlines and a bounded worker pool.

Traffic goes only to the targets given (each name is resolved once; every probe connects to
that address and port). Every host has one deadline (``timeout`` seconds for all its probes);
every socket operation is bounded by what is left of it; every loop has a fixed bound.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Self

from lanman.errors import ntstatus as nts
from lanman.scan import probes as pr
from lanman.scan.model import DialectResult, HostResult, SessionResult, Smb1Result
from lanman.scan.targets import Target

__all__ = ["ScanOptions", "ScanRun", "scan", "scan_host"]

MAX_ROUNDS = 8  # bound on keep-alive frames skipped and on algorithm-enumeration rounds


@dataclass(frozen=True, slots=True)
class ScanOptions:
    timeout: float = 10.0  # per host, all probes together
    user: str = ""
    password: str = ""
    domain: str = ""
    share: str = "IPC$"
    sessions: bool = True  # anonymous / guest probes (and share listing)
    profiles: tuple[str, ...] = ("win11-24h2-pro",)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        t = self.end - time.monotonic()
        if t <= 0:
            raise TimeoutError("per-host timeout reached")
        return t


class _Wire:
    """One TCP connection that exchanges whole Direct TCP frames."""

    def __init__(self, address: tuple, deadline: _Deadline) -> None:
        self.deadline = deadline
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(deadline.left())
            self.sock.connect(address)
        except BaseException:
            self.sock.close()
            raise

    def _recv_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            self.sock.settimeout(self.deadline.left())
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def exchange(self, message: bytes) -> bytes | None:
        """Send one message; the answer, or None when the server closed the connection."""
        self.sock.settimeout(self.deadline.left())
        try:
            self.sock.sendall(pr.frame(message))
            for _ in range(MAX_ROUNDS):
                head = self._recv_exact(4)
                if head is None:
                    return None
                n = pr.unframe_length(head)
                if n is None:
                    continue  # NetBIOS keep-alive
                return self._recv_exact(n)
        except (ConnectionResetError, BrokenPipeError):
            return None
        return None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _resolve(target: Target) -> tuple:
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"cannot resolve {target.host}")
    return infos[0][4][:2]


def _negotiate(address: tuple, dl: _Deadline, dialects, **kw) -> pr.Smb2Negotiate | None:
    with _Wire(address, dl) as wire:
        answer = wire.exchange(pr.smb2_negotiate(dialects, **kw))
    if answer is None:
        return None
    return pr.parse_smb2_negotiate(answer)


def _dialect_result(dialect: int, r: pr.Smb2Negotiate | None, err: str = "") -> DialectResult:
    if r is None:
        return DialectResult(dialect, False, detail=err or "connection closed")
    if not r.accepted:
        return DialectResult(dialect, False, status=r.status, detail=nts.lookup(r.status).name)
    if r.dialect != dialect and dialect != 0:
        return DialectResult(dialect, False, detail=f"answered {pr.dialect_name(r.dialect)}")
    return DialectResult(r.dialect if dialect == 0 else dialect, True, r.security_mode)


def _probe_algorithms(
    address: tuple, dl: _Deadline, first: pr.Smb2Negotiate, res: HostResult
) -> None:
    """Repeat the 3.1.1 NEGOTIATE without the algorithms already chosen until the server has
    nothing more to choose (MS-SMB2 3.3.5.2.5 / 3.3.5.2.7 pick one each time)."""
    signing = [a for a in pr.SIGNING_ALGORITHMS]
    ciphers = [c for c in pr.CIPHERS]
    signing_order = [2, 1, 0]
    cipher_order = [4, 2, 3, 1]
    r: pr.Smb2Negotiate | None = first
    for _ in range(MAX_ROUNDS):
        if r is None or not r.accepted:
            return
        progressed = False
        if r.signing_algorithm in signing:
            signing.remove(r.signing_algorithm)
            res.signing_algorithms.append(pr.SIGNING_ALGORITHMS[r.signing_algorithm])
            progressed = True
        elif r.signing_algorithm is not None and r.signing_algorithm not in pr.SIGNING_ALGORITHMS:
            res.signing_algorithms.append(f"0x{r.signing_algorithm:04X}")
        if r.cipher in ciphers:
            ciphers.remove(r.cipher)
            res.ciphers.append(pr.CIPHERS[r.cipher])
            progressed = True
        if not progressed or not (signing or ciphers):
            return
        r = _negotiate(
            address,
            dl,
            [0x0311],
            signing_algorithms=[a for a in signing_order if a in signing],
            ciphers=[c for c in cipher_order if c in ciphers],
        )


def _ntlm_probe(address: tuple, dl: _Deadline, res: HostResult) -> None:
    """NEGOTIATE (all dialects, as nmap and Windows do) then SESSION_SETUP with an NTLM
    NEGOTIATE; read the CHALLENGE and hang up."""
    with _Wire(address, dl) as wire:
        answer = wire.exchange(pr.smb2_negotiate(pr.DIALECTS))
        if answer is None:
            res.smb2_negotiated = DialectResult(0, False, detail="connection closed")
            return
        r = pr.parse_smb2_negotiate(answer)
        res.smb2_negotiated = _dialect_result(0, r)
        if not r.accepted:
            return
        res.mechanisms = r.mechanisms
        res.server_guid = r.server_guid
        answer = wire.exchange(pr.ntlm_session_setup(1))
    if answer is not None:
        try:
            info = pr.parse_ntlm_challenge(answer)
        except pr.ProbeError as e:
            res.ntlm = pr.NtlmInfo()
            res.error = res.error or f"NTLM probe: {e}"
            return
        res.ntlm = info


def _smb1_probe(address: tuple, dl: _Deadline) -> Smb1Result:
    with _Wire(address, dl) as wire:
        answer = wire.exchange(pr.smb1_negotiate())
    if answer is None:
        return Smb1Result(False, detail="connection closed after NEGOTIATE (SMB1 off)")
    try:
        r = pr.parse_smb1_negotiate(answer)
    except pr.ProbeError as e:
        return Smb1Result(False, detail=str(e))
    if not r.offered:
        return Smb1Result(False, detail=r.detail)
    return Smb1Result(True, r.security_mode, r.signing_state, r.extended_security)


# ---- sessions (the real client) ------------------------------------------------------------


def _now_filetime() -> int:
    from lanman.smb.filestat import unix_ns_to_filetime

    return unix_ns_to_filetime(time.time_ns())


def _session(
    address: tuple, dl: _Deadline, kind: str, opts: ScanOptions, server_name: str
) -> SessionResult:
    from lanman.smb.client import SmbClient, SmbClientError

    out = SessionResult(kind, attempted=True)
    if kind == "user":
        user, password, domain = opts.user, opts.password, opts.domain
        share = opts.share or "IPC$"
        require, allow_guest = True, False
    elif kind == "guest":
        # an account nobody has: "map to guest = bad user" servers answer with a guest
        user, password, domain = f"lanman-scan-{secrets.token_hex(4)}", secrets.token_hex(8), ""
        share, require, allow_guest = "IPC$", False, True
    else:
        user, password, domain, share, require, allow_guest = "", "", "", "IPC$", False, True
    try:
        client = SmbClient.connect(
            address[0],
            address[1],
            user,
            password,
            domain=domain,
            share=share,
            require_signing=require,
            allow_insecure_guest=allow_guest,
            anonymous=kind == "anonymous",
            timeout=max(0.1, dl.left()),
            now_filetime=_now_filetime(),
        )
    except SmbClientError as e:
        if kind == "anonymous" and "anonymous logon answered as an authenticated" in str(e):
            # the server accepted the null session but did not flag it IS_NULL (Samba)
            out.accepted, out.session = True, "anonymous"
            out.detail = "null session accepted without the IS_NULL flag"
            return out
        out.status = e.status
        out.code = e.win32_code if e.win32_code is not None else e.status
        out.name = e.win32_name or nts.lookup(e.status).name
        out.key = e.key
        out.detail = f"{e.command}: {e.detail}" if e.detail else e.command
        # the session itself may have been set up before the tree connect failed
        out.accepted = e.command == "TREE_CONNECT"
        return out
    except (OSError, TimeoutError) as e:
        out.detail = f"{type(e).__name__}: {e}"
        return out
    try:
        info = client.connection_info()
        out.accepted = True
        out.session = "anonymous" if info.is_anonymous else "guest" if info.is_guest else "user"
        out.dialect = info.dialect
        out.signed = info.signed
        out.signing_algorithm = info.signing_algorithm
        out.tree_connect = share
        out.encrypted = client.conn.session.encrypt_data
        out.share_encrypted = client.tree_id in client.conn.encrypted_trees
        out.cipher = client.conn.cipher_name
        if kind != "user" and share.upper() == "IPC$":
            try:
                out.shares = _list_shares(client, server_name)
            except Exception as e:  # noqa: BLE001 - reported, the scan goes on
                out.share_list_error = f"{type(e).__name__}: {e}"
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001, S110 - best effort on the way out
            pass
    return out


def _list_shares(client, server_name: str) -> list[dict[str, object]]:
    """srvsvc NetrShareEnum level 1 over \\PIPE\\srvsvc (no RPC authentication)."""
    from lanman.rpc.client import RpcClient
    from lanman.rpc.interfaces.srvsvc import SRVSVC_UUID, SRVSVC_VERSION
    from lanman.rpc.pdu import SyntaxId

    fid = client.open_pipe("srvsvc")
    try:
        rpc = RpcClient(SyntaxId.from_str(SRVSVC_UUID, *SRVSVC_VERSION))

        def read_pdu() -> bytes:
            buf = b""
            for _ in range(64):
                chunk, more = client.pipe_read(fid, 8192)
                buf += chunk
                if not more:
                    return buf
            raise pr.ProbeError("srvsvc answer too large")

        client.pipe_write(fid, rpc.bind())
        rpc.receive(read_pdu())
        for frag in rpc.request(15, pr.netr_share_enum_request(server_name)):
            client.pipe_write(fid, frag)
        stub = None
        for _ in range(64):
            stub = rpc.receive(read_pdu())
            if stub is not None:
                break
        if stub is None:
            raise pr.ProbeError("srvsvc answer did not complete")
        status, shares = pr.parse_netr_share_enum(stub)
        if status != 0:
            raise pr.ProbeError(f"NetrShareEnum returned {status}")
        return [{"name": n, "type": t, "remark": r} for n, t, r in shares]
    finally:
        try:
            client.close_file(fid)
        except Exception:  # noqa: BLE001, S110
            pass


# ---- one host ---------------------------------------------------------------------------------


def scan_host(target: Target, opts: ScanOptions) -> HostResult:
    """Every probe against one target, within ``opts.timeout`` seconds."""
    from lanman.scan.family import recognise
    from lanman.scan.verdicts import verdicts_for

    t0 = time.monotonic()
    res = HostResult(target.label, target.host, target.port)
    dl = _Deadline(opts.timeout)
    try:
        address = _resolve(target)
        res.address = address[0]
        try:
            _ntlm_probe(address, dl, res)
        except (ConnectionRefusedError, TimeoutError, OSError) as e:
            res.error = f"{type(e).__name__}: {e}"
            raise _Stop from None
        res.reachable = True
        for d in pr.DIALECTS:
            try:
                r = _negotiate(address, dl, [d])
                res.dialects.append(_dialect_result(d, r))
                if d == 0x0311 and r is not None and r.accepted and r.dialect == 0x0311:
                    _probe_algorithms(address, dl, r, res)
            except pr.ProbeError as e:
                res.dialects.append(DialectResult(d, False, detail=str(e)))
            except (ConnectionResetError, BrokenPipeError) as e:
                res.dialects.append(DialectResult(d, False, detail=str(e)))
        try:
            res.smb1 = _smb1_probe(address, dl)
        except (ConnectionResetError, BrokenPipeError) as e:
            res.smb1 = Smb1Result(False, detail=str(e))
        server_name = (res.ntlm.netbios_computer if res.ntlm else "") or target.host
        if res.smb2_offered:
            if opts.sessions:
                res.anonymous = _session(address, dl, "anonymous", opts, server_name)
                res.guest = _session(address, dl, "guest", opts, server_name)
            if opts.user:
                res.user = _session(address, dl, "user", opts, server_name)
    except _Stop:
        pass
    except TimeoutError as e:
        res.error = res.error or f"timeout: {e}"
    except pr.ProbeError as e:
        res.error = res.error or f"not SMB: {e}"
        res.reachable = True
    except OSError as e:
        res.error = res.error or f"{type(e).__name__}: {e}"
    res.family, res.family_evidence = recognise(res)
    res.verdicts = verdicts_for(res, opts.profiles, credentials=bool(opts.user))
    res.seconds = time.monotonic() - t0
    return res


class _Stop(Exception):
    pass


# ---- many hosts -------------------------------------------------------------------------------


@dataclass(slots=True)
class ScanRun:
    results: list[HostResult]
    targets: int
    seconds: float
    interrupted: bool = False
    profiles: tuple[str, ...] = ()


def scan(
    targets: Sequence[Target],
    opts: ScanOptions,
    *,
    concurrency: int = 32,
    on_result: Callable[[HostResult], None] | None = None,
) -> ScanRun:
    """Scan ``targets`` with at most ``concurrency`` hosts in flight; results keep the
    target order. Ctrl-C (KeyboardInterrupt) stops waiting: hosts already finished are
    returned with ``interrupted`` set (hosts in flight end at their own deadline)."""
    t0 = time.monotonic()
    workers = max(1, min(int(concurrency), len(targets), 1024))
    done: dict[int, HostResult] = {}
    interrupted = False
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lanman-scan")
    try:
        futures = {pool.submit(scan_host, t, opts): i for i, t in enumerate(targets)}
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                r = fut.result()
            except Exception as e:  # noqa: BLE001 - a bug in one host's probes
                t = targets[i]
                r = HostResult(t.label, t.host, t.port, error=f"{type(e).__name__}: {e}")
                from lanman.scan.verdicts import verdicts_for

                r.verdicts = verdicts_for(r, opts.profiles, credentials=bool(opts.user))
            done[i] = r
            if on_result is not None:
                on_result(r)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    results = [done[i] for i in sorted(done)]
    return ScanRun(results, len(targets), time.monotonic() - t0, interrupted, tuple(opts.profiles))


def default_concurrency() -> int:
    return min(64, (os.cpu_count() or 4) * 8)
