"""The server-wide session table (MS-SMB2 3.3.1.5 GlobalSessionTable) and the channels of a
session (3.3.1.14), shared by every connection of one server.

A session lives on the connection that set it up (Session.Connection) and, after
multichannel binding (3.3.5.5.2), on further connections of the same client, each with its
own Channel.SigningKey. Sans-IO: ids come from the random source passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: SessionId values never handed out (0: none; all ones: the "related" placeholder)
_RESERVED_IDS = frozenset({0, 0xFFFFFFFFFFFFFFFF})


@dataclass(slots=True)
class Channel:
    """MS-SMB2 3.3.1.14 Channel: one connection a session is usable on."""

    connection: Any  # the ServerConnection
    signing_key: bytes  # Channel.SigningKey (2.x: the session key; 3.x: derived per channel)


class SessionTable:
    """MS-SMB2 3.3.1.5 GlobalSessionTable: SessionId -> Session, for the whole server.

    Bounded by ``limit`` (every connection's own count is bounded too, so this only
    protects against many connections each holding the per-connection maximum)."""

    def __init__(self, limit: int = 65536) -> None:
        self._sessions: dict[int, Any] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: int) -> Any:
        return self._sessions.get(session_id)

    def new_id(self, random_bytes: Callable[[int], bytes]) -> int:
        """A SessionId no live session holds (3.3.5.5.1: unique on the server); 0 when 64
        draws found none (a broken random source: the caller refuses the logon)."""
        for _ in range(64):
            sid = int.from_bytes(random_bytes(8), "little") | 1
            if sid not in _RESERVED_IDS and sid not in self._sessions:
                return sid
        return 0

    def add(self, session: Any) -> bool:
        """Register a new session; False when the server holds ``limit`` sessions."""
        if len(self._sessions) >= self.limit:
            return False
        self._sessions[session.session_id] = session
        return True

    def remove(self, session: Any) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
