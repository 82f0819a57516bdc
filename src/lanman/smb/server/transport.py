"""asyncio transport for the SMB server: Direct TCP framing (MS-SMB2 2.1, RFC 1002 4.3.1)
around a sans-IO :class:`ServerConnection`.

Small requests are processed on the event loop. Large READ/WRITE frames go to one worker
thread per connection so that receiving the next 8 MiB from the socket overlaps with
writing the previous one to disk (``pwrite``/``preadv`` release the GIL). Order is kept:
while the worker has work, every later frame of that connection queues behind it. One
process-wide lock serializes the cores of all connections (they share oplock and lock
tables), exactly as the single-threaded loop did.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from lanman.concurrency import serving
from lanman.smb.filestat import unix_ns_to_filetime

from .connection import ServerConnection
from .state import ServerContext

log = logging.getLogger("lanman.smb")

# Largest frame accepted: an 8 MiB WRITE plus headers and a compound's small requests.
MAX_FRAME = 8 * 1024 * 1024 + 64 * 1024
LARGE = 1024 * 1024  # frames (or READ lengths) from here on go to the worker thread
MAX_QUEUED = 2  # frames waiting for the worker before the socket stops being read
IDLE_TIMEOUT = 15 * 60  # seconds without a frame before the connection is dropped

_CORE_LOCK = threading.Lock()
_READ = 0x0008


def _is_large(frame: memoryview) -> bool:
    if len(frame) >= LARGE:
        return True
    # A single READ asking for a lot: its work (preadv + signing) is large too.
    if (
        len(frame) >= 64 + 16
        and frame[:4] == b"\xfeSMB"
        and frame[12] | (frame[13] << 8) == _READ
        and struct.unpack_from("<I", frame, 20)[0] == 0
    ):  # not a compound
        return struct.unpack_from("<I", frame, 64 + 4)[0] >= LARGE
    return False


class SmbProtocol(asyncio.BufferedProtocol):
    """Reads each frame straight into a buffer of its own size (no re-copying)."""

    def __init__(self, ctx: ServerContext, registry: set) -> None:
        self.ctx = ctx
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._hdr = bytearray(4)
        self._hdr_got = 0
        self._frame: memoryview | None = None
        self._frame_got = 0
        self._spares: list[bytearray] = []  # large buffers to reuse (no page faults)
        self._idle: asyncio.TimerHandle | None = None
        self._queue: collections.deque[memoryview] = collections.deque()
        self._busy = False  # the worker holds a frame
        self._paused = False
        self._worker: ThreadPoolExecutor | None = None

    # ---- connection life --------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.conn = ServerConnection(self.ctx, client_address=f"{peer[0]}:{peer[1]}")
        self.conn.push = self._push_threadsafe
        self.registry.add(self)
        self._touch()

    def connection_lost(self, exc) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.registry.discard(self)
        self._queue.clear()
        if self._worker is not None:
            self._worker.shutdown(wait=False)
        if self.conn is not None:
            with _CORE_LOCK:
                self.conn.connection_lost()

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = self.loop.call_later(IDLE_TIMEOUT, self._close, "idle timeout")

    # ---- receiving ----------------------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._frame is None:
            return memoryview(self._hdr)[self._hdr_got :]
        return self._frame[self._frame_got :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._frame is None:
            self._hdr_got += nbytes
            if self._hdr_got < 4:
                return
            self._hdr_got = 0
            kind = self._hdr[0]
            length = struct.unpack(">I", b"\x00" + bytes(self._hdr[1:4]))[0]
            if kind == 0x85:  # NetBIOS keep-alive
                return
            if kind != 0x00 or length < 4 or length > MAX_FRAME:
                self._close(f"bad Direct TCP frame (type {kind}, length {length})")
                return
            self._frame = self._new_buffer(length)
            self._frame_got = 0
            return
        self._frame_got += nbytes
        if self._frame_got < len(self._frame):
            return
        frame, self._frame = self._frame, None
        self._touch()
        # Large I/O, and every request of a connection that holds a named pipe (an RPC call
        # may wait for a person, msg /W), run on the worker: the loop keeps serving others.
        if self._busy or _is_large(frame) or self.conn.has_pipe_opens:
            self._queue.append(frame)
            self._kick()
            if len(self._queue) >= MAX_QUEUED and not self._paused:
                self._paused = True
                self.transport.pause_reading()
        else:
            self._finish(self._process(frame), frame)

    def _new_buffer(self, length: int) -> memoryview:
        if length >= LARGE:
            for i, spare in enumerate(self._spares):
                if len(spare) >= length:
                    del self._spares[i]
                    return memoryview(spare)[:length]
        return memoryview(bytearray(length))

    def _recycle(self, frame: memoryview) -> None:
        buf = frame.obj
        if isinstance(buf, bytearray) and len(buf) >= LARGE and len(self._spares) < 2:
            self._spares.append(buf)

    # ---- processing ----------------------------------------------------------------------

    def _process(self, frame: memoryview, *, worker: bool = False) -> list | None:
        """Run the sans-IO core (any thread); None if it raised. On the worker thread a
        request may wait in a blocking section (msg /W) with the core lock released."""
        try:
            with _CORE_LOCK:
                if not worker:
                    return self.conn.receive_frame(frame, unix_ns_to_filetime(time.time_ns()))
                with serving(_CORE_LOCK.release, _CORE_LOCK.acquire):
                    return self.conn.receive_frame(frame, unix_ns_to_filetime(time.time_ns()))
        except Exception:  # a bug must cost this connection only
            log.exception("internal error; dropping connection %s", self.conn.client_address)
            return None

    def _kick(self) -> None:
        if self._busy or not self._queue:
            return
        self._busy = True
        frame = self._queue.popleft()
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="lanman-smb-io")
        fut = self._worker.submit(self._process, frame, worker=True)
        fut.add_done_callback(
            lambda f, fr=frame: self.loop.call_soon_threadsafe(self._worker_done, f, fr)
        )

    def _worker_done(self, fut, frame: memoryview) -> None:
        self._busy = False
        out = None if fut.cancelled() or fut.exception() else fut.result()
        self._finish(out, frame)
        if (
            self._paused
            and len(self._queue) < MAX_QUEUED
            and self.transport is not None
            and not self.transport.is_closing()
        ):
            self._paused = False
            self.transport.resume_reading()
        self._kick()

    def _finish(self, outgoing: list | None, frame: memoryview) -> None:
        self._recycle(frame)
        if outgoing is None:
            self._close("internal error")
            return
        for parts in outgoing:
            self._send(parts)
        if self.conn.closed:
            log.info("closing %s: %s", self.conn.client_address, self.conn.disconnect_reason)
            self._close(self.conn.disconnect_reason)

    # ---- sending -------------------------------------------------------------------------

    def _push_threadsafe(self, parts: list) -> None:
        """Unsolicited frames (oplock breaks) raised by another connection's request."""
        if (
            threading.current_thread() is threading.main_thread()
            and asyncio._get_running_loop() is self.loop
        ):
            self._send(parts)
        else:
            self.loop.call_soon_threadsafe(self._send, parts)

    def _send(self, parts: list) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        size = sum(len(p) for p in parts)
        self.transport.write(struct.pack(">I", size))
        for p in parts:
            self.transport.write(p)

    def _close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def start_server(
    ctx: ServerContext, host: str, port: int, max_connections: int = 256
) -> asyncio.AbstractServer:
    """Listen on ``host:port``; connections beyond ``max_connections`` are refused."""
    loop = asyncio.get_running_loop()
    registry: set = set()

    def factory() -> asyncio.BaseProtocol:
        if len(registry) >= max_connections:
            return _Refuse()
        return SmbProtocol(ctx, registry)

    server = await loop.create_server(factory, host, port, reuse_address=True)
    server.lanman_connections = registry  # type: ignore[attr-defined]  (close_connections)
    return server


async def close_connections(server: asyncio.AbstractServer, timeout: float = 2.0) -> None:
    """Close every connection ``server`` (from :func:`start_server`) accepted and wait up
    to ``timeout`` for them to end: before Python 3.13 ``Server.close()`` only stops
    listening, and a loop closed under live transports leaks their sockets."""
    registry: set = getattr(server, "lanman_connections", set())
    for proto in list(registry):
        proto._close("server stopping")
    deadline = time.monotonic() + timeout
    while registry and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        transport.close()
