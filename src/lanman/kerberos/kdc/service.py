"""asyncio KDC service: UDP datagrams and TCP with a 4-byte length prefix (RFC 4120 7.2.1-7.2.2).

Bounded everywhere: requests over ``MAX_MESSAGE`` are refused (TCP: KRB_ERR_FIELD_TOOLONG then
close; a length with the reserved high bit set closes at once), each TCP connection handles at
most ``MAX_REQUESTS_PER_CONN`` requests with an idle timeout, and at most ``MAX_CONNECTIONS``
TCP connections are open at a time, ``MAX_PER_ADDRESS`` of them from one source address. A
request body is read as it arrives (never allocated from the length prefix alone).

A failed pre-authentication (wrong password) is answered only after the authentication rate
limiter's delay for that client address (:class:`lanman.limits.FailureBrake`, the same
InvalidAuthenticationDelayTimeInMs the SMB server uses); other clients are not held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import struct
from dataclasses import dataclass, field

from lanman.kerberos.kdc import errors as E
from lanman.kerberos.kdc.core import KdcCore
from lanman.limits import ConnectionLimiter, FailureBrake, source_host

__all__ = ["KdcServer", "serve_sockets", "start_kdc"]

log = logging.getLogger("lanman.kdc")

MAX_MESSAGE = 65536
MAX_UDP_REPLY = 4096  # like MIT's max_dgram_reply_size: bigger answers say "use TCP"
MAX_REQUESTS_PER_CONN = 64
MAX_CONNECTIONS = 256
MAX_PER_ADDRESS = 32
IDLE_TIMEOUT = 15.0
SUPERVISE_INTERVAL = 0.5  # how often the parent looks for dead worker processes


def _answer(core: KdcCore, data: bytes, brake: FailureBrake, addr: object) -> tuple:
    """(reply or None, seconds to hold it back): the core's answer and the rate limiter's."""
    before = core.preauth_failures
    try:
        reply = core.handle(data, source_host(addr))
    except Exception:
        log.exception("KDC core failed on a request")
        reply = E.krb_error(E.KRB_ERR_GENERIC, now=core.now(), realm=core.realm)
    wait = 0.0
    if core.preauth_failures != before and reply is not None:
        wait = brake.wait_for_failure(source_host(addr), asyncio.get_running_loop().time())
    return reply, wait


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, core: KdcCore, brake: FailureBrake) -> None:
        self.core = core
        self.brake = brake
        self.transport: asyncio.DatagramTransport | None = None
        # Answers held back by the rate limiter: a client's retransmission of the same
        # datagram meanwhile is dropped, not counted as one more failed logon.
        self._held: set[tuple[object, int]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        key = (addr, hash(data))
        if key in self._held:
            return
        reply, wait = _answer(self.core, data, self.brake, addr)
        if reply is None or self.transport is None:
            return
        if len(reply) > MAX_UDP_REPLY:
            reply = E.krb_error(
                E.KRB_ERR_RESPONSE_TOO_BIG, now=self.core.now(), realm=self.core.realm
            )
        if wait > 0 and len(self._held) < 4096:
            self._held.add(key)
            asyncio.get_running_loop().call_later(wait, self._send, reply, addr, key)
        else:
            self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple, key: tuple | None = None) -> None:
        self._held.discard(key)  # type: ignore[arg-type]
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


@dataclass
class KdcServer:
    core: KdcCore
    host: str
    udp_transport: asyncio.DatagramTransport | None = None
    tcp_server: asyncio.Server | None = None
    port: int = 0
    workers: object = None  # a workers.WorkerPool when other processes share the sockets
    replay_dir: str | None = None
    supervisor: asyncio.Task | None = None
    brake: FailureBrake = field(default_factory=lambda: FailureBrake(0))
    limiter: ConnectionLimiter = field(
        default_factory=lambda: ConnectionLimiter(MAX_CONNECTIONS, MAX_PER_ADDRESS)
    )
    _conns: set[asyncio.Task] = field(default_factory=set)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = writer.get_extra_info("peername")
        address = source_host(peer)
        if self.limiter.admit(address) is not None:
            writer.close()
            return
        if task is not None:
            self._conns.add(task)
        try:
            for _ in range(MAX_REQUESTS_PER_CONN):
                try:
                    head = await asyncio.wait_for(reader.readexactly(4), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                (length,) = struct.unpack(">I", head)
                if length & 0x80000000:  # reserved bit: extension negotiation we don't do
                    return
                if length > MAX_MESSAGE or length == 0:
                    reply = E.krb_error(
                        E.KRB_ERR_FIELD_TOOLONG, now=self.core.now(), realm=self.core.realm
                    )
                    writer.write(struct.pack(">I", len(reply)) + reply)
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()
                    return
                try:
                    data = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply, wait = _answer(self.core, data, self.brake, peer)
                if reply is None:
                    return
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(struct.pack(">I", len(reply)) + reply)
                try:
                    await writer.drain()
                except ConnectionError:
                    return
        finally:
            self.limiter.release(address)
            if task is not None:
                self._conns.discard(task)
            writer.close()

    async def _supervise(self) -> None:
        """Restart worker processes that die, logging why (until :meth:`close`)."""
        while self.workers is not None:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            pool = self.workers
            if pool is None:
                return
            try:
                events = pool.restart_dead()  # type: ignore[attr-defined]
            except OSError as e:
                log.error("cannot restart a KDC worker process: %s", e)
                continue
            for old, reason, new in events:
                if new is None:
                    log.error(
                        "KDC worker pid %d died (%s) again soon after its start; "
                        "restarting it later",
                        old,
                        reason,
                    )
                else:
                    log.warning(
                        "KDC worker pid %d died (%s); restarted as pid %d", old, reason, new
                    )

    async def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.supervisor
            self.supervisor = None
        if self.udp_transport is not None:
            self.udp_transport.close()
        if self.tcp_server is not None:
            self.tcp_server.close()
            for t in list(self._conns):
                t.cancel()
            await self.tcp_server.wait_closed()
        if self.workers is not None:
            pool, self.workers = self.workers, None
            await asyncio.get_running_loop().run_in_executor(None, pool.stop)  # type: ignore[attr-defined]
        if self.replay_dir is not None:
            close = getattr(self.core.replay, "close", None)
            if close is not None:
                close()
            shutil.rmtree(self.replay_dir, ignore_errors=True)
            self.replay_dir = None


async def serve_sockets(
    core: KdcCore, udp: socket.socket, tcp: socket.socket, host: str = "", auth_delay_ms: int = 0
) -> KdcServer:
    """Serve on already-bound sockets (a listening TCP socket and a UDP socket)."""
    loop = asyncio.get_running_loop()
    server = KdcServer(
        core=core, host=host or tcp.getsockname()[0], brake=FailureBrake(auth_delay_ms)
    )
    server.port = tcp.getsockname()[1]
    server.tcp_server = await asyncio.start_server(
        server._tcp_client, sock=tcp, limit=MAX_MESSAGE + 8
    )
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(core, server.brake), sock=udp)
    server.udp_transport = transport  # type: ignore[assignment]
    return server


def _bind(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    tcp = socket.socket(family, socket.SOCK_STREAM)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, port))
        tcp.listen(128)
        udp.bind((host, tcp.getsockname()[1]))
    except OSError:
        tcp.close()
        udp.close()
        raise
    return udp, tcp


async def start_kdc(
    core: KdcCore,
    host: str = "127.0.0.1",
    port: int = 88,
    workers: int = 1,
    auth_delay_ms: int = 0,
    shared_replay: str = "shm",
) -> KdcServer:
    """Bind UDP and TCP on the same port (0: pick a free TCP port and use it for UDP too).

    ``workers`` > 1 (and a directory opened from a file, ``core.directory.path``): ``workers - 1``
    extra processes serve the same sockets (see :mod:`lanman.kerberos.kdc.workers`), and every
    process, this one included, uses one replay cache shared across processes (a
    shared-memory table, :class:`~lanman.kerberos.kdc.replay.ShmReplayCache`); a worker that
    dies is restarted.
    ``shared_replay="sqlite"``: the older SQLite replay table instead (kept for comparison).
    ``auth_delay_ms``: the rate limiter's delay for failed pre-authentication (0: none)."""
    path = getattr(core.directory, "path", None)
    if workers <= 1 or path is None:
        loop = asyncio.get_running_loop()
        server = KdcServer(core=core, host=host, brake=FailureBrake(auth_delay_ms))
        server.tcp_server = await asyncio.start_server(
            server._tcp_client, host, port, reuse_address=True, limit=MAX_MESSAGE + 8
        )
        bound = server.tcp_server.sockets[0].getsockname()[1]
        server.port = bound
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(core, server.brake), local_addr=(host, bound)
        )
        server.udp_transport = transport  # type: ignore[assignment]
        return server

    from lanman.kerberos.kdc.replay import open_shared_replay
    from lanman.kerberos.kdc.workers import WorkerPool, _private_dir

    if shared_replay not in ("shm", "sqlite"):
        raise ValueError(f"shared_replay {shared_replay!r}: 'shm' or 'sqlite'")
    udp, tcp = _bind(host, port)
    replay_dir = _private_dir()
    try:
        replay_path = os.path.join(replay_dir, f"replay.{shared_replay}")
        core.replay = open_shared_replay(
            replay_path, window=core.config.clock_skew, max_entries=core.config.replay_entries
        )
        pool = WorkerPool(workers - 1, str(path), replay_path, udp, tcp, core.config.clock_skew)
    except BaseException:
        udp.close()
        tcp.close()
        shutil.rmtree(replay_dir, ignore_errors=True)
        raise
    server = await serve_sockets(core, udp, tcp, host, auth_delay_ms)
    server.workers = pool
    server.replay_dir = replay_dir
    server.supervisor = asyncio.get_running_loop().create_task(server._supervise())
    log.info("KDC: %d processes (worker pids %s)", workers, ", ".join(map(str, pool.pids)))
    return server
