"""systemd's readiness protocol (sd_notify(3)): one datagram to ``$NOTIFY_SOCKET``.

``lanman up`` under a ``Type=notify`` unit reports ``READY=1`` once every socket is bound and
serving, ``RELOADING=1`` / ``READY=1`` around a SIGHUP reload and ``STOPPING=1`` on shutdown.
Without ``$NOTIFY_SOCKET`` (not started by systemd) nothing is sent. Never raises.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify"]


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``); True when a notification socket took it."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.settimeout(1.0)
            s.sendto(state.encode(), path)
        return True
    except OSError:
        return False
