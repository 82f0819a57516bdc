"""asyncio transport for the SMB server: Direct TCP framing (MS-SMB2 2.1, RFC 1002 4.3.1)
around a sans-IO :class:`ServerConnection`.

Small requests are processed on the event loop. Large READ/WRITE frames, FLUSH and
QUERY_DIRECTORY go to one worker thread per connection so that receiving the next 8 MiB from
the socket overlaps with writing the previous one to disk. Order is kept: while the worker has
work, every later frame of that connection queues behind it. One process-wide lock serializes
the cores of all connections (they share the open-file tables), but a worker's disk work
(``preadv``/``pwrite``, ``fsync``, a directory scan) runs with it released
(:func:`lanman.concurrency.blocking_section`): a slow disk stalls only its own connection.

What a peer that has not logged on can hold is bounded (:class:`TransportLimits`): connections
per source address and in all, a deadline for NEGOTIATE + SESSION_SETUP, and a small frame
limit until a user session exists. Receive buffers grow with the bytes that actually arrived,
never from the length prefix alone. Failed logons are answered only after the authentication
rate limiter's delay (:class:`lanman.limits.FailureBrake`), without holding anyone else up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lanman.concurrency import serving
from lanman.limits import DEFAULT_AUTH_DELAY_MS, ConnectionLimiter, FailureBrake, source_host
from lanman.smb.filestat import unix_ns_to_filetime
from lanman.smb.wire.constants import Command

from .connection import ServerConnection
from .state import ServerContext

log = logging.getLogger("lanman.smb")

# Largest frame accepted: an 8 MiB WRITE plus headers and a compound's small requests.
MAX_FRAME = 8 * 1024 * 1024 + 64 * 1024
LARGE = 1024 * 1024  # frames (or READ lengths) from here on go to the worker thread
MAX_QUEUED = 2  # frames waiting for the worker before the socket stops being read
IDLE_TIMEOUT = 15 * 60  # seconds without a frame before the connection is dropped
SMALL_REPLY = 64 * 1024  # replies up to this size are sent with a single write
GROW_FROM = 64 * 1024  # frames up to this size get their buffer at once; larger ones grow
STAGE_SIZE = 8 * 1024  # per-connection receive staging buffer (must stay below GROW_FROM)
#: large frame buffers a connection keeps for reuse: a client pipelining 8 MiB WRITEs has
#: several in flight, and a fresh buffer costs page faults (py-spy: with 4 clients writing,
#: most of the loop's time went to allocating them). Spares count in the buffer budget,
#: give way to any connection that needs room, and go after SPARE_IDLE s without a frame.
MAX_SPARES = 8
SPARE_IDLE = 2.0
MAX_BUFFERED = 256 * 1024 * 1024  # default TransportLimits.max_buffered


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """Bounds on what one peer, and all peers together, can make the server hold."""

    max_connections: int = 256
    max_per_address: int = 128
    #: NEGOTIATE + SESSION_SETUP must have produced a session within this many seconds.
    preauth_timeout: float = 60.0
    #: Largest frame accepted before a user session exists (Kerberos tickets with big PACs
    #: fit; MaxTokenSize is 48,000 bytes on Windows).
    preauth_max_frame: int = 128 * 1024
    idle_timeout: float = IDLE_TIMEOUT
    #: InvalidAuthenticationDelayTimeInMs (0 turns the rate limiter off).
    auth_delay_ms: int = DEFAULT_AUTH_DELAY_MS
    #: Bytes all connections together may hold in receive buffers (frames arriving, frames
    #: waiting for or on a worker, spare buffers). A frame larger than GROW_FROM is read only
    #: once its declared length fits (else its connection stops being read until buffers are
    #: freed); smaller frames always go through. Must hold at least one MAX_FRAME.
    max_buffered: int = MAX_BUFFERED


class _Shared:
    """State every connection of one listener shares (touched on the event loop only)."""

    def __init__(self, limits: TransportLimits, after_close=None) -> None:
        self.limits = limits
        #: called (on the loop, at most once a second) after connections ended
        self.after_close = after_close
        self._after_close_due = False
        self.registry: set = set()
        self.connections = ConnectionLimiter(limits.max_connections, limits.max_per_address)
        self.brake = FailureBrake(limits.auth_delay_ms)
        self.buffers = BufferBudget(max(limits.max_buffered, MAX_FRAME))

    def connection_ended(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.after_close is None or self._after_close_due:
            return
        self._after_close_due = True
        loop.call_later(1.0, self._run_after_close)

    def _run_after_close(self) -> None:
        self._after_close_due = False
        try:
            self.after_close()
        except Exception:  # a cleanup hook must not take the server down
            log.exception("after-close hook failed")


class BufferBudget:
    """The server-wide cap on receive-buffer bytes (:attr:`TransportLimits.max_buffered`).

    Large frames reserve their declared length before their buffer exists; a reservation is
    never partial, so connections waiting for room cannot hold each other up. When one does
    not fit, every connection's spare buffers are dropped first; what still does not fit
    waits (FIFO) until frames in progress are done."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.waiters: collections.deque = collections.deque()

    def try_reserve(self, n: int, registry) -> bool:
        if self.held + n > self.limit and not self.waiters:
            for proto in registry:  # idle memory makes room first, as much as it takes
                proto._drop_spares()
                if self.held + n <= self.limit:
                    break
        if self.held + n <= self.limit and not self.waiters or self.held == 0:
            self.held += n
            return True
        return False

    def force(self, n: int) -> None:
        self.held += n

    def release(self, n: int) -> None:
        self.held -= n
        while self.waiters:
            proto = self.waiters[0]
            if proto._budget_need and self.held and self.held + proto._budget_need > self.limit:
                return
            self.waiters.popleft()
            proto._budget_granted()


_CORE_LOCK = threading.Lock()


def _discard_push(parts: list) -> None:
    """ServerConnection.push of a connection that is gone."""


_READ = int(Command.READ)
_QUERY_DIRECTORY = int(Command.QUERY_DIRECTORY)
_FLUSH = int(Command.FLUSH)


def _for_worker(frame: memoryview) -> bool:
    """Large I/O, FLUSH and directory listings: their disk work (preadv/pwrite, fsync,
    the scan) runs with the core lock released, so other connections go on meanwhile."""
    if len(frame) >= LARGE:
        return True
    if len(frame) >= 64 and frame[:4] == b"\xfeSMB" and frame[12] == _FLUSH and not frame[13]:
        return True
    # An encrypted frame hides its command: a small one may be a large READ. Once a
    # connection encrypts, its frames go to the worker (order kept, I/O and cipher work off
    # the event loop).
    if len(frame) >= 4 and frame[:4] == b"\xfdSMB":
        return True
    if len(frame) >= 64 and frame[:4] == b"\xfeSMB" and frame[12] == _QUERY_DIRECTORY:
        return frame[13] == 0
    # A single READ asking for a lot: its work (preadv + signing) is large too.
    if (
        len(frame) >= 64 + 16
        and frame[:4] == b"\xfeSMB"
        and frame[12] | (frame[13] << 8) == _READ
        and struct.unpack_from("<I", frame, 20)[0] == 0
    ):  # not a compound
        return struct.unpack_from("<I", frame, 64 + 4)[0] >= LARGE
    return False


def frame_chunks(frames) -> list:
    """The byte strings that put ``frames`` on the wire (MS-SMB2 2.1 Direct TCP: a 4-byte
    big-endian length before each message): small pieces are gathered into one joined
    buffer; a part of SMALL_REPLY bytes or more (a READ payload) stays its own view."""
    out: list = []
    pending: list = []
    for parts in frames:
        pending.append(_PREFIX.pack(sum(len(p) for p in parts)))
        for p in parts:
            if len(p) >= SMALL_REPLY:
                if pending:
                    out.append(b"".join(pending))
                    pending = []
                out.append(p)
            else:
                pending.append(p)
    if pending:
        out.append(b"".join(pending))
    return out


_PREFIX = struct.Struct(">I")


class SmbProtocol(asyncio.BufferedProtocol):
    """Reads each frame into a buffer of its own size: frames up to 64 KiB get it at once,
    larger ones reuse a spare buffer of the connection, else get their declared length once
    a user session exists (the budget holds it already) and grow (x2) with what has arrived
    before."""

    def __init__(self, ctx: ServerContext, shared: _Shared) -> None:
        self.ctx = ctx
        self.shared = shared
        self.limits = shared.limits
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.peer_host = "?"
        self._admitted = False
        #: what one receive brings while no frame is in progress: length prefixes and
        #: small requests (fixed size per connection, outside the buffer budget)
        self._stage = bytearray(STAGE_SIZE)
        self._stage_view = memoryview(self._stage)
        self._staged = 0
        self._draining = False  # _drain_stage is running (never re-entered)
        self._stash = b""  # the start of a frame waiting for budget (see _drain_stage)
        self._last_frame = 0.0  # loop time of the last complete frame (idle timeout)
        self._buf: bytearray | None = None  # the frame being received (may grow)
        self._want = 0  # its length
        self._frame_got = 0
        self._preauth: asyncio.TimerHandle | None = None
        self._authed = False  # a user session exists: full frame size allowed
        self._failures_seen = 0
        self._spares: list[bytearray] = []  # large buffers to reuse (no page faults)
        self._spare_timer: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._queue: collections.deque[memoryview] = collections.deque()
        self._busy = False  # the worker holds a frame
        self._paused = False  # too many frames queued for the worker
        self._write_paused = False  # the peer does not read its replies fast enough
        self._reading = True
        self._worker: ThreadPoolExecutor | None = None
        self._held = 0  # bytes of the buffer budget this connection holds
        self._budget_need = 0  # the frame length waiting for room in the budget
        self._buf_held = 0  # budget bytes of the frame being received

    # ---- connection life --------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer_host = source_host(peer)
        refused = self.shared.connections.admit(self.peer_host)
        if refused is not None:
            log.debug("refusing %s: %s", self.peer_host, refused)
            transport.abort()
            return
        self._admitted = True
        # Replies a peer leaves unread are bounded: past this, its requests are not read.
        transport.set_write_buffer_limits(high=2 * MAX_FRAME, low=MAX_FRAME // 2)
        local = transport.get_extra_info("sockname") or ("", 0)
        self.conn = ServerConnection(
            self.ctx, client_address=f"{peer[0]}:{peer[1]}", server_address=str(local[0])
        )
        self.conn.push = self._push_threadsafe
        self.shared.registry.add(self)
        self._preauth = self.loop.call_later(
            self.limits.preauth_timeout, self._close, "no session set up in time"
        )
        self._touch()

    def connection_lost(self, exc) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self.shared.connections.release(self.peer_host)
        if self._idle is not None:
            self._idle.cancel()
        if self._preauth is not None:
            self._preauth.cancel()
        self.shared.registry.discard(self)
        self._release_buffers()
        if self._worker is not None:
            self._worker.shutdown(wait=False)
            self._worker = None
        if self.conn is not None:
            with _CORE_LOCK:
                self.conn.connection_lost(unix_ns_to_filetime(time.time_ns()))
            # conn.push is a bound method of this protocol: without it the cycle
            # protocol <-> connection waits for a full garbage collection.
            self.conn.push = _discard_push
        self.shared.connection_ended(self.loop)

    def _release_buffers(self) -> None:
        """Give back what this connection holds but a frame on the worker (released when
        that frame is done): spares, the frame being received, queued frames."""
        self._drop_spares()
        freed = sum(len(f.obj) for f in self._queue)
        self._queue.clear()
        if self._buf is not None:
            freed += self._buf_held
            self._buf = None
        self._stash = b""
        if self._budget_need:
            self._budget_need = 0
            with contextlib.suppress(ValueError):
                self.shared.buffers.waiters.remove(self)
        self._give_back(freed)

    def _give_back(self, n: int) -> None:
        if n:
            self._held -= n
            self.shared.buffers.release(n)

    def _drop_spares(self) -> None:
        freed = sum(len(b) for b in self._spares)
        self._spares.clear()
        if self._spare_timer is not None:
            self._spare_timer.cancel()
            self._spare_timer = None
        self._give_back(freed)

    def _spares_idle(self) -> None:
        """Spares go once the connection has been quiet for SPARE_IDLE seconds."""
        self._spare_timer = None
        left = self._last_frame + SPARE_IDLE - self.loop.time()
        if left > 0 and self._spares:
            self._spare_timer = self.loop.call_later(left, self._spares_idle)
            return
        self._drop_spares()

    def _touch(self) -> None:
        """(Re)start the idle timer from now. Frames only note their time (_last_frame);
        the timer, when it fires, waits on for what is left since the last one."""
        if self._idle is not None:
            self._idle.cancel()
        self._last_frame = self.loop.time()
        self._idle = self.loop.call_later(self.limits.idle_timeout, self._idle_check)

    def _idle_check(self) -> None:
        left = self._last_frame + self.limits.idle_timeout - self.loop.time()
        if left > 0:
            self._idle = self.loop.call_later(left, self._idle_check)
            return
        self._close("idle timeout")

    # ---- receiving ----------------------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._buf is None:
            return self._stage_view[self._staged :]
        return memoryview(self._buf)[self._frame_got : self._want]

    def buffer_updated(self, nbytes: int) -> None:
        if self._buf is None:
            self._staged += nbytes
            self._drain_stage()
            return
        self._frame_got += nbytes
        if self._frame_got < self._want:
            self._grow()
            return
        self._frame_done()

    def _drain_stage(self) -> None:
        """Take the frames out of what one receive put in the staging buffer: length
        prefixes and small requests arrive together (one recv per request, not one for the
        prefix and one for the body). Complete frames are copied into buffers of their own
        (they may wait for the worker); the start of a longer one becomes its buffer's
        first bytes and the rest is received into that buffer directly."""
        if self._closing():
            return
        self._draining = True
        try:
            self._drain_frames()
        finally:
            self._draining = False

    def _drain_frames(self) -> None:
        stage, view, pos, end = self._stage, self._stage_view, 0, self._staged
        # A pause (worker queue full, replies unread, budget) holds the rest of the stage
        # back too: one receive can carry dozens of small READs asking for a MiB each, and
        # the pause must bound what they make the server hold. Reading resumes through
        # _update_reading, which drains the stage first.
        while (
            end - pos >= 4
            and self._buf is None
            and not (self._paused or self._write_paused or self._budget_need)
            and not self._closing()
        ):
            kind = stage[pos]
            length = int.from_bytes(stage[pos + 1 : pos + 4], "big")
            pos += 4
            if kind == 0x85:  # NetBIOS keep-alive
                continue
            limit = MAX_FRAME if self._authed else self.limits.preauth_max_frame
            if kind != 0x00 or length < 4 or length > limit:
                self._staged = 0
                self._close(f"bad Direct TCP frame (type {kind}, length {length})")
                return
            self._want, self._frame_got = length, 0
            got = min(end - pos, length)
            if not self._reserve(length):
                # waits for room in the budget (reading stops): what arrived of it already
                # is kept for _budget_granted (at most the staging buffer, < GROW_FROM)
                self._stash = bytes(view[pos : pos + got])
                pos += got
                break
            self._buf = self._new_buffer(length)
            self._buf[:got] = view[pos : pos + got]
            self._frame_got = got
            pos += got
            if got == length:
                self._frame_done()
            else:
                self._grow()
        rest = end - pos
        if rest and pos:
            stage[:rest] = stage[pos:end]
        self._staged = rest if not self._closing() else 0

    def _grow(self) -> None:
        """The frame's buffer is full but the frame is not: grow it (x2) with what arrived."""
        if self._frame_got == len(self._buf):
            bigger = bytearray(min(self._want, 2 * len(self._buf)))
            bigger[: self._frame_got] = self._buf
            self._buf = bigger

    def _frame_done(self) -> None:
        frame = memoryview(self._buf)[: self._want]
        self._buf = None
        self._last_frame = self.loop.time()
        # Large I/O, and every request of a connection that holds a named pipe (an RPC call
        # may wait for a person, msg /W), run on the worker: the loop keeps serving others.
        if self._busy or _for_worker(frame) or self.conn.has_pipe_opens:
            self._queue.append(frame)
            self._kick()
            if len(self._queue) >= MAX_QUEUED and not self._paused:
                self._paused = True
                self._update_reading()
        else:
            self._finish(self._process(frame), frame)

    def _reserve(self, length: int) -> bool:
        """Room in the server's buffer budget for a frame of ``length`` (a spare large
        enough is already counted). False: reading stops until :meth:`_budget_granted`."""
        if length <= GROW_FROM:
            self.shared.buffers.force(length)
            self._held += length
            self._buf_held = length
            return True
        if any(len(s) >= length for s in self._spares):
            self._buf_held = 0  # set by _new_buffer
            return True
        if self.shared.buffers.try_reserve(length, self.shared.registry):
            self._held += length
            self._buf_held = length
            return True
        self._budget_need = length
        self.shared.buffers.waiters.append(self)
        self._update_reading()
        return False

    def _budget_granted(self) -> None:
        length, self._budget_need = self._budget_need, 0
        if not self._admitted:
            return
        self.shared.buffers.force(length)
        self._held += length
        self._buf_held = length
        # room was granted for this frame: a spare (its budget held already) is not used
        self._buf = self._new_buffer(length, spares=False)
        if self._stash:
            got = len(self._stash)
            self._buf[:got] = self._stash
            self._frame_got, self._stash = got, b""
        self._update_reading()

    def _new_buffer(self, length: int, *, spares: bool = True) -> bytearray:
        if length <= GROW_FROM:
            return bytearray(length)
        for i, spare in enumerate(self._spares if spares else ()):  # memory held already
            if len(spare) >= length:
                del self._spares[i]
                self._buf_held = len(spare)
                return spare
        if self._authed:
            # the budget holds the declared length already; growing (x2) to it would
            # copy the frame seven times over on the loop (an 8 MiB WRITE, py-spy: most
            # of the loop's time with 4 clients writing)
            return bytearray(length)
        return bytearray(GROW_FROM)

    def _recycle(self, frame: memoryview) -> None:
        """A frame is done: keep its buffer as a spare (large, at most MAX_SPARES,
        connection alive) or give its budget back. Its budget is its length (see
        :meth:`_reserve`)."""
        buf = frame.obj
        if (
            self._admitted
            and isinstance(buf, bytearray)
            and len(buf) >= LARGE
            and len(self._spares) < MAX_SPARES
            and not self.shared.buffers.waiters
        ):
            self._spares.append(buf)
            if self._spare_timer is None:
                self._spare_timer = self.loop.call_later(SPARE_IDLE, self._spares_idle)
            return
        self._give_back(len(buf))

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
        if self._busy:  # held back by the rate limiter; _release goes on
            return
        if self._paused and len(self._queue) < MAX_QUEUED:
            self._paused = False
            self._update_reading()
        self._kick()

    def _finish(self, outgoing: list | None, frame: memoryview) -> None:
        failures = self.conn.failed_logons
        if outgoing and failures > self._failures_seen:
            # Authentication rate limiter: hold the failure (and this connection's later
            # frames, which queue behind _busy) back; other connections go on.
            self._failures_seen = failures
            wait = self.shared.brake.wait_for_failure(self.peer_host, self.loop.time())
            if wait > 0:
                self._busy = True
                self.loop.call_later(wait, self._release, outgoing, frame)
                return
        self._deliver(outgoing, frame)

    def _release(self, outgoing: list, frame: memoryview) -> None:
        self._busy = False
        self._deliver(outgoing, frame)
        if self._paused and len(self._queue) < MAX_QUEUED:
            self._paused = False
            self._update_reading()
        self._kick()

    # ---- back-pressure: a peer that does not read its replies stops being read --------

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        want = not (self._paused or self._write_paused or self._budget_need)
        if want and self._staged >= 4 and self._buf is None and not self._draining:
            self._drain_stage()  # frames held back in the stage by the pause go first
            want = not (self._paused or self._write_paused or self._budget_need)
        if want == self._reading or self._closing():
            return
        self._reading = want
        if want:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def _deliver(self, outgoing: list | None, frame: memoryview) -> None:
        self._recycle(frame)
        if outgoing is None:
            self._close("internal error")
            return
        if outgoing:
            self._send_frames(outgoing)
        if self.conn.closed:
            log.info("closing %s: %s", self.conn.client_address, self.conn.disconnect_reason)
            self._close(self.conn.disconnect_reason)
            return
        if self._preauth is not None and self.conn.has_session:
            self._preauth.cancel()
            self._preauth = None
        if not self._authed and self.conn.authenticated:
            self._authed = True

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
        self._send_frames((parts,))

    def _send_frames(self, frames) -> None:
        """Write ``frames`` (each a list of buffers) with their Direct TCP length prefixes
        in as few writes as possible: everything small (prefixes, headers, replies up to
        SMALL_REPLY, a compound's or a burst's replies together) joined into one buffer, large
        payloads passed on as the views they are. An ECHO's reply is one write, one send()."""
        if self.transport is None or self.transport.is_closing():
            return
        for chunk in frame_chunks(frames):
            self.transport.write(chunk)

    def _close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.conn is not None and not self.conn.closed and reason:
                log.info("closing %s: %s", self.conn.client_address, reason)
            self.transport.close()


async def start_server(
    ctx: ServerContext,
    host: str,
    port: int,
    limits: TransportLimits | None = None,
    *,
    start_serving: bool = True,
    after_close=None,
) -> asyncio.AbstractServer:
    """Listen on ``host:port`` with ``limits`` (defaults: :class:`TransportLimits`).
    ``after_close()`` runs on the loop a second after connections ended (coalesced;
    ``lanman up`` returns freed heap memory there).
    ``start_serving=False``: bound and listening, but nothing is accepted before
    ``await server.start_serving()`` (lanman up drops root in between)."""
    loop = asyncio.get_running_loop()
    shared = _Shared(limits or TransportLimits(), after_close)
    server = await loop.create_server(
        lambda: SmbProtocol(ctx, shared),
        host,
        port,
        reuse_address=True,
        start_serving=start_serving,
    )
    server.lanman_shared = shared  # type: ignore[attr-defined]  # for tests and diagnostics
    _drive_break_timer(ctx, loop)
    return server


BREAK_TIMER_INTERVAL = 0.5  # seconds between checks of the oplock/lease break deadlines


def _drive_break_timer(ctx: ServerContext, loop: asyncio.AbstractEventLoop) -> None:
    """The clock of the oplock/lease break acknowledgment timers (MS-SMB2 3.3.6.2, 3.3.6.5):
    the sans-IO table is told the time; expired breaks resume the CREATEs that wait."""
    if ctx.break_timer_loop is loop:
        return
    ctx.break_timer_loop = loop

    def tick() -> None:
        if loop.is_closed() or ctx.break_timer_loop is not loop:
            return
        with _CORE_LOCK:
            try:
                table = ctx.oplocks
                deadline = table.next_deadline()
                now = unix_ns_to_filetime(time.time_ns())
                if deadline is not None and deadline <= now:
                    table.tick(now)
            except Exception:  # a bug must not stop the timer
                log.exception("oplock break timer")
        loop.call_later(BREAK_TIMER_INTERVAL, tick)

    tick()


async def close_connections(server: asyncio.AbstractServer, timeout: float = 2.0) -> None:
    """Close every connection ``server`` (from :func:`start_server`) accepted and wait up
    to ``timeout`` for them to end: before Python 3.13 ``Server.close()`` only stops
    listening, and a loop closed under live transports leaks their sockets."""
    shared = getattr(server, "lanman_shared", None)
    registry: set = shared.registry if shared is not None else set()
    for proto in list(registry):
        proto._close("server stopping")
    deadline = time.monotonic() + timeout
    while registry and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def run_durable_scavenger(ctx: ServerContext, interval: float = 5.0) -> None:
    """Drive the durable open scavenger timer (MS-SMB2 3.3.2.1) with the wall clock:
    disconnected durable opens whose timeout ran out are closed."""
    from .durable_handles import scavenge

    while True:
        await asyncio.sleep(interval)
        with _CORE_LOCK:
            try:
                scavenge(ctx, unix_ns_to_filetime(time.time_ns()))
            except Exception:  # a bug must not stop the timer
                log.exception("durable open scavenger failed")
