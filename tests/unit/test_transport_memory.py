"""What the SMB transport holds for a connection is given back when it ends, and the
receive buffers of all connections together stay within TransportLimits.max_buffered.

The protocol objects are driven directly (a fake asyncio transport, no sockets)."""

from __future__ import annotations

import asyncio
import gc
import struct
import threading
import time
import weakref

from smb_harness import make_context

from lanman.smb.server import transport as tp

BIG = 2 * 1024 * 1024  # a frame for the worker thread (>= tp.LARGE)


class FakeTransport(asyncio.Transport):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.closed = False
        self.reading = True
        self.written: list = []

    def get_extra_info(self, name, default=None):
        if name == "peername":
            return ("127.0.0.1", 40000 + self.n)
        if name == "sockname":
            return ("127.0.0.1", 445)
        return default

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def write(self, data):
        self.written.append(bytes(data))

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True


def _open(ctx, shared, n):
    proto = tp.SmbProtocol(ctx, shared)
    proto.connection_made(FakeTransport(n))
    proto._authed = True  # full frame size, as after SESSION_SETUP
    return proto


def _feed(proto, data: bytes) -> None:
    """Hand ``data`` to the protocol the way asyncio's BufferedProtocol reading does."""
    view = memoryview(data)
    while view:
        buf = proto.get_buffer(len(view))
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        proto.buffer_updated(n)
        view = view[n:]
        if not proto.transport.reading:
            assert not view, "data fed while reading is paused"


def _frame_header(length: int) -> bytes:
    return struct.pack(">I", length)


def _smb_frame(length: int) -> bytes:
    """A Direct TCP frame of ``length`` bytes: an SMB2 WRITE header with nothing valid
    behind it (the core answers with an error; only the buffers matter here)."""
    hdr = bytearray(64)
    hdr[:4] = b"\xfeSMB"
    struct.pack_into("<HHIHH", hdr, 4, 64, 1, 0, 0x0009, 1)
    return _frame_header(length) + bytes(hdr) + bytes(length - 64)


async def _settle(protos, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(not p._busy and not p._queue for p in protos):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("worker frames not done in time")


def test_fifty_connections_release_buffers_threads_and_objects(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits())
    threads_before = threading.active_count()

    async def main():
        refs = []
        gc.disable()  # released without waiting for the cyclic collector
        try:
            for n in range(50):
                proto = _open(ctx, shared, n)
                _feed(proto, _smb_frame(BIG))
                await _settle([proto])
                assert proto._spares, "a large frame's buffer is kept for reuse while open"
                assert shared.buffers.held > 0
                proto.connection_lost(None)
                assert not proto._spares and proto._buf is None and not proto._queue
                assert proto._worker is None
                refs.append(weakref.ref(proto))
                del proto
            assert shared.buffers.held == 0
            assert not shared.registry
            assert all(r() is None for r in refs), "connections kept alive by a cycle"
        finally:
            gc.enable()

    asyncio.run(main())
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads_before, "worker threads left running"


def test_a_frame_cut_off_by_disconnect_gives_its_budget_back(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits())

    async def main():
        proto = _open(ctx, shared, 0)
        _feed(proto, _smb_frame(BIG)[: 300 * 1024])  # header + part of the body
        assert shared.buffers.held == BIG
        proto.connection_lost(None)
        assert shared.buffers.held == 0

    asyncio.run(main())


def test_buffered_bytes_cap_makes_a_large_frame_wait_for_room(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    limit = tp.MAX_FRAME
    shared = tp._Shared(tp.TransportLimits(max_buffered=limit))

    async def main():
        a = _open(ctx, shared, 1)
        b = _open(ctx, shared, 2)
        c = _open(ctx, shared, 3)
        try:
            _feed(a, _smb_frame(8 * 1024 * 1024)[: 100 * 1024])  # a reserves 8 MiB
            assert shared.buffers.held == 8 * 1024 * 1024
            _feed(b, _frame_header(BIG))  # does not fit: b stops being read
            assert not b.transport.reading and b._budget_need == BIG and b._buf is None
            assert shared.buffers.held <= limit
            # small frames are never held back
            _feed(c, _smb_frame(1024))
            await _settle([c])
            assert c._buf is None and c._frame_got == 1024, "read in full and processed"
            assert shared.buffers.held == 8 * 1024 * 1024
            a.connection_lost(None)  # room again: b is read on
            assert b.transport.reading and b._budget_need == 0 and b._buf is not None
            assert shared.buffers.held == BIG
            _feed(b, _smb_frame(BIG)[4:])
            await _settle([b])
        finally:
            for p in (a, b, c):
                p.connection_lost(None)
        assert shared.buffers.held == 0
        assert not shared.buffers.waiters

    asyncio.run(main())


def test_spare_buffers_are_dropped_before_anyone_waits(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits(max_buffered=tp.MAX_FRAME))

    async def main():
        a = _open(ctx, shared, 1)
        b = _open(ctx, shared, 2)
        try:
            _feed(a, _smb_frame(8 * 1024 * 1024))
            await _settle([a])
            assert a._spares  # idle, holding an 8 MiB spare
            _feed(b, _frame_header(BIG))
            assert not a._spares, "the spare made room"
            assert b.transport.reading and b._buf is not None
            assert shared.buffers.held == BIG
        finally:
            a.connection_lost(None)
            b.connection_lost(None)
        assert shared.buffers.held == 0

    asyncio.run(main())


def test_heap_helpers_answer_without_failing():
    from lanman import heap

    assert isinstance(heap.trim(), bool)  # (limit_arenas is process-wide: lanman up only)


def test_a_large_frame_after_logon_gets_its_whole_buffer_at_once(tmp_path):
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits())

    async def main():
        a = _open(ctx, shared, 1)  # authenticated: the budget holds the declared length
        b = tp.SmbProtocol(ctx, shared)
        b.connection_made(FakeTransport(2))  # before SESSION_SETUP
        try:
            _feed(a, _frame_header(BIG) + b"\xfe")
            assert len(a._buf) == BIG, "no x2 growth (copies) once a session exists"
            _feed(b, _frame_header(100_000) + b"\xfe")
            assert len(b._buf) == tp.GROW_FROM, "before logon a buffer grows with the data"
        finally:
            a.connection_lost(None)
            b.connection_lost(None)
        assert shared.buffers.held == 0

    asyncio.run(main())


def test_spares_go_after_a_quiet_spell_and_only_as_many_as_room_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(tp, "SPARE_IDLE", 0.2)
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits(max_buffered=tp.MAX_FRAME))
    need = tp.MAX_FRAME - BIG  # fits beside one spare, not beside two

    async def main():
        a, b, c = (_open(ctx, shared, n) for n in (1, 2, 3))
        try:
            for p in (a, b):
                _feed(p, _smb_frame(BIG))
            await _settle([a, b])
            assert a._spares and b._spares and shared.buffers.held == 2 * BIG
            _feed(c, _frame_header(need))
            assert c._buf is not None and c.transport.reading
            assert bool(a._spares) != bool(b._spares), "one spare made room, one stayed"
            await asyncio.sleep(0.5)  # quiet: the other spare goes too
            assert not a._spares and not b._spares
            assert shared.buffers.held == need  # c's frame in progress only
        finally:
            for p in (a, b, c):
                p.connection_lost(None)
        assert shared.buffers.held == 0

    asyncio.run(main())
