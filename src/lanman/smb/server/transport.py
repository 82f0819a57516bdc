"""asyncio transport for the SMB server: Direct TCP framing (MS-SMB2 2.1, RFC 1002 4.3.1)
around a sans-IO :class:`ServerConnection`."""

from __future__ import annotations

import asyncio
import logging
import struct
import time

from lanman.smb.filestat import unix_ns_to_filetime

from .connection import ServerConnection
from .state import ServerContext

log = logging.getLogger("lanman.smb")

# Largest frame accepted: an 8 MiB WRITE plus headers and a compound's small requests.
MAX_FRAME = 8 * 1024 * 1024 + 64 * 1024
REUSE_MIN = 1024 * 1024  # frames at least this large reuse the connection's buffer
IDLE_TIMEOUT = 15 * 60  # seconds without a frame before the connection is dropped


class SmbProtocol(asyncio.BufferedProtocol):
    """Reads each frame straight into a buffer of its own size (no re-copying)."""

    def __init__(self, ctx: ServerContext, registry: set) -> None:
        self.ctx = ctx
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self._hdr = bytearray(4)
        self._hdr_got = 0
        self._frame: memoryview | None = None
        self._spare: bytearray | None = None
        self._frame_got = 0
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.conn = ServerConnection(self.ctx, client_address=f"{peer[0]}:{peer[1]}")
        self.conn.push = self._send
        self.registry.add(self)
        self._touch()

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(IDLE_TIMEOUT, self._close, "idle timeout")

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._frame is None:
            return memoryview(self._hdr)[self._hdr_got:]
        return memoryview(self._frame)[self._frame_got:]

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
            # Reuse the last large buffer: a fresh 8 MiB bytearray per WRITE costs page
            # faults and zero-filling. The core never keeps views into a frame after
            # receive_frame returns, so one buffer per connection is safe.
            if length >= REUSE_MIN and self._spare is not None and len(self._spare) >= length:
                self._frame = memoryview(self._spare)[:length]
            else:
                self._frame = memoryview(bytearray(length))
                if length >= REUSE_MIN:
                    self._spare = self._frame.obj
            self._frame_got = 0
            return
        self._frame_got += nbytes
        if self._frame_got < len(self._frame):
            return
        frame, self._frame = self._frame, None
        self._touch()
        self._handle(frame)
        if len(frame) < REUSE_MIN:
            self._spare = None  # streaming stopped: give the big buffer back

    def _handle(self, frame: memoryview) -> None:
        conn = self.conn
        try:
            outgoing = conn.receive_frame(frame, unix_ns_to_filetime(time.time_ns()))
        except Exception:  # a bug must cost this connection only
            log.exception("internal error; dropping connection %s", conn.client_address)
            self._close("internal error")
            return
        for parts in outgoing:
            self._send(parts)
        if conn.closed:
            log.info("closing %s: %s", conn.client_address, conn.disconnect_reason)
            self._close(conn.disconnect_reason)

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

    def connection_lost(self, exc) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.registry.discard(self)
        if self.conn is not None:
            self.conn.connection_lost()


async def start_server(ctx: ServerContext, host: str, port: int,
                       max_connections: int = 256) -> asyncio.AbstractServer:
    """Listen on ``host:port``; connections beyond ``max_connections`` are refused."""
    loop = asyncio.get_running_loop()
    registry: set = set()

    def factory() -> asyncio.BaseProtocol:
        if len(registry) >= max_connections:
            return _Refuse()
        return SmbProtocol(ctx, registry)

    return await loop.create_server(factory, host, port, reuse_address=True)


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        transport.close()
