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
#: SMB2 header, SMB1 header, TRANSFORM_HEADER, COMPRESSION_TRANSFORM_HEADER (MS-SMB2 2.2)
_SMB_MAGICS = (b"\xfeSMB", b"\xffSMB", b"\xfdSMB", b"\xfcSMB")


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
        self.received = 0  # responses received (the first tells an SMB server apart)

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
            self._not_smb(bytes(head), f"bad Direct-TCP length {length}")
        buf = bytearray(length)
        self._read_exact(memoryview(buf))
        if not self.received and bytes(buf[:4]) not in _SMB_MAGICS:
            self._not_smb(bytes(head) + bytes(buf[:60]), "no SMB header in the first reply")
        self.received += 1
        return buf

    def _not_smb(self, first: bytes, why: str) -> None:
        """The peer answered, but not in SMB (an HTTP, TLS or SSH server on that port)."""
        try:
            self.sock.settimeout(0.2)
            first += self.sock.recv(60)
        except OSError:
            pass
        self.close()
        if self.received:
            raise SmbClientError(nts.STATUS_INVALID_NETWORK_RESPONSE, why)
        raise SmbClientError(
            nts.STATUS_INVALID_NETWORK_RESPONSE,
            f"{self.host}:{self.port} is not an SMB server (it answered "
            f"{_preview(first)}{_guess(first)})",
            key="not_smb_server",
        )

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


def _preview(data: bytes) -> str:
    """The first bytes, printable ASCII as text (``HTTP/1.1 400 Bad Request``), else hex."""
    head = data[:40]
    text = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    if text and all(32 <= b < 127 for b in text):
        return repr(text.decode("ascii"))
    return head.hex(" ")


def _guess(data: bytes) -> str:
    if data.startswith(b"HTTP/") or data[:20].lower().startswith((b"<!doctype", b"<html")):
        return ": an HTTP server"
    if data.startswith(b"SSH-"):
        return ": an SSH server"
    if data[:1] == b"\x15" and data[1:2] == b"\x03":
        return ": a TLS server"
    return ""
