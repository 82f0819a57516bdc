"""Blocking Direct-TCP transport (MS-SMB2 2.1): 4-byte length prefix, then one SMB2 message.

Every receive is bounded by a timeout and the 24-bit length limit; the payload is read into
one preallocated buffer (``recv_into``) and sent with ``sendmsg`` without joining parts.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from typing import Protocol

from lanman.errors import ntstatus as nts

from .errors import SmbClientError

__all__ = ["MAX_MESSAGE", "SocketTransport", "Transport"]

MAX_MESSAGE = 0x00FFFFFF


class Transport(Protocol):
    def send(self, parts: Sequence[bytes | memoryview]) -> None: ...

    def recv(self) -> bytes | bytearray | memoryview: ...

    def close(self) -> None: ...


class SocketTransport:
    def __init__(
        self, host: str, port: int = 445, *, timeout: float = 30.0, connect_timeout: float = 10.0
    ) -> None:
        self.host, self.port = host, port
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as e:
            raise SmbClientError(
                nts.STATUS_CONNECTION_DISCONNECTED,
                f"cannot connect to {host}:{port}: {e}",
                key="bad_netpath",
            ) from None
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = False

    def send(self, parts: Sequence[bytes | memoryview]) -> None:
        total = sum(len(p) for p in parts)
        if total > MAX_MESSAGE:
            raise ValueError("SMB2 message too large for Direct TCP framing")
        bufs: list[bytes | memoryview] = [struct.pack(">I", total), *parts]
        try:
            while bufs:
                sent = self.sock.sendmsg(bufs)
                while sent and bufs:
                    n = len(bufs[0])
                    if sent >= n:
                        sent -= n
                        bufs.pop(0)
                    else:
                        bufs[0] = memoryview(bufs[0])[sent:]
                        sent = 0
        except OSError as e:
            self.close()
            raise SmbClientError(nts.STATUS_CONNECTION_DISCONNECTED, f"send: {e}") from None

    def _read_exact(self, view: memoryview) -> None:
        pos = 0
        while pos < len(view):
            try:
                n = self.sock.recv_into(view[pos:])
            except TimeoutError:
                self.close()
                raise SmbClientError(
                    nts.STATUS_IO_TIMEOUT, "the server did not answer in time"
                ) from None
            except OSError as e:
                self.close()
                raise SmbClientError(nts.STATUS_CONNECTION_DISCONNECTED, f"recv: {e}") from None
            if n == 0:
                self.close()
                raise SmbClientError(
                    nts.STATUS_CONNECTION_DISCONNECTED, "the server closed the connection"
                )
            pos += n

    def recv(self) -> bytearray:
        head = bytearray(4)
        self._read_exact(memoryview(head))
        (length,) = struct.unpack(">I", head)
        if length >> 24 or length < 64:
            self.close()
            raise SmbClientError(
                nts.STATUS_INVALID_NETWORK_RESPONSE, f"bad Direct-TCP length {length}"
            )
        buf = bytearray(length)
        self._read_exact(memoryview(buf))
        return buf

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
