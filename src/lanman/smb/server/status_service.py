"""The status socket of a running ``lanman up``: ``lanman status`` asks it what the server is
doing and passes on Close-SmbSession / Close-SmbOpenFile.

A UNIX stream socket ``lanman-status.sock`` in the home, mode 0600 (only the account the
server runs as, and root, can connect: what it reveals and what it can close is an
administrator's). One JSON request line, one JSON reply line:

    {"op": "status"}                       -> {"ok": true, "server": {...}, "sessions": [...], ...}
    {"op": "close-session", "id": N}       -> {"ok": true, "closed": {...}} | {"ok": false, ...}
    {"op": "close-file", "id": N}

The snapshot and the closes run under the core lock (``status.py`` is the sans-IO part).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path

from lanman.smb.filestat import unix_ns_to_filetime

from . import status

log = logging.getLogger("lanman.smb")

SOCKET_NAME = "lanman-status.sock"
MAX_REQUEST = 4096
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path less its NUL


class StatusUnavailable(Exception):
    """No server answers on the home's status socket."""


@contextlib.contextmanager
def _short_path(path: Path):
    """A path for bind/connect that fits sun_path: the path itself, or (Linux) the socket's
    name under /proc/self/fd/<descriptor of its directory>."""
    if len(os.fsencode(str(path))) <= _SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def socket_path(home_path: str | Path) -> Path:
    return Path(home_path) / SOCKET_NAME


def query(home_path: str | Path, request: dict, timeout: float = 10.0) -> dict:
    """Send ``request`` to the server of ``home_path``; its reply (StatusUnavailable if no
    server listens)."""
    path = socket_path(home_path)
    if not path.exists():
        raise StatusUnavailable(f"no status socket {path}")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        with _short_path(path) as p:
            try:
                s.connect(p)
            except (ConnectionRefusedError, FileNotFoundError) as e:
                raise StatusUnavailable(f"{path}: {e.strerror}") from None
        s.sendall(json.dumps(request).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    return json.loads(b"".join(chunks) or b"{}")


class StatusService:
    """Answers the status socket for the SMB servers (asyncio.Server objects of
    :func:`lanman.smb.server.transport.start_server`) of one ``lanman up``."""

    def __init__(self, home_path: str | Path, servers: list, emit, info: dict) -> None:
        self.path = socket_path(home_path)
        self.servers = servers
        self.emit = emit
        self.info = info
        self.server: asyncio.AbstractServer | None = None

    def _connections(self) -> list:
        out = []
        for srv in self.servers:
            shared = getattr(srv, "lanman_shared", None)
            for proto in list(shared.registry if shared is not None else ()):
                if proto.conn is not None:
                    out.append(proto.conn)
        return out

    def handle(self, request: dict) -> dict:
        """One request (run on the event loop, under the core lock)."""
        from .transport import _CORE_LOCK

        op = request.get("op")
        with _CORE_LOCK:
            conns = self._connections()
            if op == "status":
                now = unix_ns_to_filetime(time.time_ns())
                return {"ok": True, "server": self.info, **status.snapshot(conns, now)}
            if op in ("close-session", "close-file"):
                try:
                    ident = int(request.get("id"))
                except (TypeError, ValueError):
                    return {"ok": False, "error": "id must be a number"}
                if op == "close-session":
                    closed = status.close_session(conns, ident)
                else:
                    closed = status.close_file(conns, ident)
        if op == "close-session":
            if closed is None:
                return {"ok": False, "error": f"no session {ident}"}
            self.emit("SESSION_CLOSED_BY_ADMIN", **closed)
            return {"ok": True, "closed": closed}
        if op == "close-file":
            if closed is None:
                return {"ok": False, "error": f"no open file {ident}"}
            self.emit("FILE_CLOSED_BY_ADMIN", **closed)
            return {"ok": True, "closed": closed}
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10.0)
            try:
                request = json.loads(line[:MAX_REQUEST] or b"{}")
                reply = self.handle(request if isinstance(request, dict) else {})
            except (ValueError, UnicodeDecodeError):
                reply = {"ok": False, "error": "bad request"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # a status request must never take the server down
            log.exception("status socket request failed")
        finally:
            writer.close()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            # a stale socket of a server that is gone (a live one answers)
            try:
                query(self.path.parent, {"op": "ping"}, timeout=2.0)
                log.warning("another server answers on %s; not replacing it", self.path)
                return
            except (StatusUnavailable, OSError, ValueError):
                self.path.unlink()
        old = os.umask(0o177)
        try:
            with _short_path(self.path) as p:
                self.server = await asyncio.start_unix_server(self._client, path=p)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.server = None
