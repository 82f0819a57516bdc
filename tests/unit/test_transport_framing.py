"""Direct TCP framing of the SMB transport (MS-SMB2 2.1): length prefixes and small requests
that arrive together are taken apart from one receive, frames cut anywhere are put back
together, and the replies of one delivery leave in one write.

The protocol object is driven directly (a fake asyncio transport, no sockets)."""

from __future__ import annotations

import asyncio
import struct

from smb_harness import make_context

from lanman.smb.server import transport as tp
from lanman.smb.wire.constants import Command
from lanman.smb.wire.header import Smb2Header
from lanman.smb.wire.negotiate import NegotiateRequest


class _Wire(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.writes: list[bytes] = []

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 40001), "sockname": ("127.0.0.1", 445)}.get(name, default)

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def write(self, data):
        self.writes.append(bytes(data))

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def _frame(command: int, message_id: int, body: bytes) -> bytes:
    pdu = Smb2Header(command=command, message_id=message_id, credit=16).pack() + body
    return struct.pack(">I", len(pdu)) + pdu


NEGOTIATE = _frame(Command.NEGOTIATE, 0, NegotiateRequest(dialects=[0x0202]).pack())


def _echo(mid: int) -> bytes:
    return _frame(Command.ECHO, mid, struct.pack("<HH", 4, 0))


def _replies(writes: list[bytes]) -> list[Smb2Header]:
    """The SMB2 messages in what was written, checking every length prefix."""
    data = b"".join(writes)
    out = []
    while data:
        (n,) = struct.unpack(">I", data[:4])
        out.append(Smb2Header.unpack(data[4 : 4 + n]))
        data = data[4 + n :]
    return out


def _feed(proto, data: bytes, step: int) -> None:
    view = memoryview(data)
    while view:
        buf = proto.get_buffer(len(view))
        n = min(len(buf), len(view), step)
        buf[:n] = view[:n]
        proto.buffer_updated(n)
        view = view[n:]


def _run(tmp_path, body) -> None:
    ctx, _, _ = make_context(tmp_path)
    shared = tp._Shared(tp.TransportLimits())

    async def main():
        proto = tp.SmbProtocol(ctx, shared)
        wire = _Wire()
        proto.connection_made(wire)
        try:
            body(proto, wire)
        finally:
            proto.connection_lost(None)
        assert shared.buffers.held == 0

    asyncio.run(main())


def test_requests_arriving_in_one_receive_are_all_answered(tmp_path):
    def body(proto, wire):
        stream = NEGOTIATE + b"".join(_echo(i) for i in range(1, 6))
        _feed(proto, stream, len(stream))  # one receive holds all six frames
        got = _replies(wire.writes)
        assert [h.command for h in got] == [Command.NEGOTIATE] + [Command.ECHO] * 5
        assert [h.message_id for h in got] == [0, 1, 2, 3, 4, 5]
        assert all(h.status == 0 for h in got)
        assert len(wire.writes) == 6  # one write per reply, prefix included
        assert not wire.closed

    _run(tmp_path, body)


def test_frames_cut_at_every_byte_are_reassembled(tmp_path):
    def body(proto, wire):
        stream = NEGOTIATE + _echo(1) + _echo(2)
        _feed(proto, stream, 1)
        assert [h.message_id for h in _replies(wire.writes)] == [0, 1, 2]
        assert not wire.closed

    _run(tmp_path, body)


def test_a_keepalive_between_frames_is_skipped_and_a_bad_prefix_closes(tmp_path):
    def body(proto, wire):
        stream = NEGOTIATE + b"\x85\x00\x00\x00" + _echo(1) + b"\x01\x00\x00\x10"
        _feed(proto, stream, 7)
        assert [h.message_id for h in _replies(wire.writes)] == [0, 1]
        assert wire.closed

    _run(tmp_path, body)


def test_a_frame_larger_than_the_staging_buffer_is_received_whole(tmp_path):
    def body(proto, wire):
        # an ECHO with padding behind it, longer than one staging buffer
        pad = bytes(3 * tp.STAGE_SIZE)
        pdu = Smb2Header(command=Command.ECHO, message_id=1, credit=1).pack()
        pdu += struct.pack("<HH", 4, 0) + pad
        stream = NEGOTIATE + struct.pack(">I", len(pdu)) + pdu + _echo(2)
        _feed(proto, stream, tp.STAGE_SIZE + 100)
        got = _replies(wire.writes)
        assert [h.message_id for h in got] == [0, 1, 2]

    _run(tmp_path, body)


def test_frames_already_received_wait_while_replies_are_unread(tmp_path):
    """One receive can carry dozens of small requests that each ask for a large reply: a
    peer that does not read its replies (write paused) must not have them all answered
    into the server's memory; they are answered once it reads again."""

    def body(proto, wire):
        _feed(proto, NEGOTIATE, len(NEGOTIATE))
        proto.pause_writing()  # the peer's socket is full
        stream = b"".join(_echo(i) for i in range(1, 6))
        _feed(proto, stream, len(stream))
        assert [h.message_id for h in _replies(wire.writes)] == [0]
        assert not proto._reading
        proto.resume_writing()
        assert [h.message_id for h in _replies(wire.writes)] == [0, 1, 2, 3, 4, 5]
        assert proto._reading and not wire.closed

    _run(tmp_path, body)


def test_small_parts_of_several_frames_are_joined_into_one_write():
    big = memoryview(bytearray(tp.SMALL_REPLY))
    chunks = tp.frame_chunks([[b"a" * 64, b"b" * 4], [b"c" * 64, big, b"\x00" * 4]])
    assert [len(c) for c in chunks] == [4 + 68 + 4 + 64, len(big), 4]
    assert chunks[0][:4] == struct.pack(">I", 68)
    assert chunks[0][72:76] == struct.pack(">I", 64 + len(big) + 4)
    assert chunks[1] is big
