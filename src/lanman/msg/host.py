"""The msg service of one host: sessions, the Message permission, delivery and its log.

:class:`MsgHost` is what both the local ``lanman msg`` and the MS-TSTS RPC interfaces call.
It holds no sockets; the SMB server reaches it through :func:`host_for_server`.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lanman.msg.delivery import (
    DeliveryError,
    Message,
    deliver,
)
from lanman.msg.sessions import (
    SERVICES_SESSION_ID,
    MsgSession,
    SessionProvider,
    SessionRegistry,
    UtmpProvider,
    VirtualProvider,
)

__all__ = ["Caller", "MsgHost", "SendResult", "local_caller"]

#: Session permission bits (MS-TSTS; impacket tsts constants).
WINSTATION_QUERY = 0x0001
WINSTATION_MSG = 0x0080

EventSink = Callable[..., None]


@dataclass(slots=True, frozen=True)
class Caller:
    """Who sends: the authenticated RPC caller, or the local OS user."""

    user: str
    domain: str = ""
    is_admin: bool = False
    address: str = "local"

    @property
    def display(self) -> str:
        return f"{self.domain}\\{self.user}" if self.domain else self.user


def local_caller() -> Caller:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Caller(user, socket.gethostname().split(".")[0].upper(), os.geteuid() == 0)


@dataclass(slots=True)
class SendResult:
    session: MsgSession
    response: int | None = None
    error: int | None = None  # Win32 code
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class MsgHost:
    state_dir: Path
    providers: list[SessionProvider] = field(default_factory=list)
    emit: EventSink = lambda *a, **k: None
    #: Extra users (case-insensitive) holding WINSTATION_MSG on every session; "*" = anyone
    #: authenticated.  By default only administrators and the session's own user may send.
    senders: frozenset[str] = frozenset()
    _registry: SessionRegistry | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike,
        *,
        os_sessions: bool = True,
        emit: EventSink | None = None,
    ) -> MsgHost:
        d = Path(state_dir)
        providers: list[SessionProvider] = [VirtualProvider(d)]
        if os_sessions and os.environ.get("LANMAN_MSG_OS_SESSIONS", "1") != "0":
            providers.insert(0, UtmpProvider())
        senders = frozenset()
        sf = d / "senders"
        if sf.exists():
            senders = frozenset(x.strip().casefold() for x in sf.read_text().split() if x.strip())
        return cls(d, providers, emit or (lambda *a, **k: None), senders)

    @property
    def registry(self) -> SessionRegistry:
        """One registry per host, so its session list cache lives as long as the host."""
        reg = self._registry
        if reg is None or reg.providers is not self.providers or reg.state_dir != self.state_dir:
            reg = self._registry = SessionRegistry(self.state_dir, self.providers)
        return reg

    @property
    def virtual(self) -> VirtualProvider:
        for p in self.providers:
            if isinstance(p, VirtualProvider):
                return p
        return VirtualProvider(self.state_dir)

    def sessions(self) -> list[MsgSession]:
        return self.registry.list()

    def permissions(self, caller: Caller, session: MsgSession) -> int:
        """The caller's access mask on a session (WINSTATION_QUERY is granted to all)."""
        rights = WINSTATION_QUERY
        if session.session_id == SERVICES_SESSION_ID:
            return rights
        if (
            caller.is_admin
            or "*" in self.senders
            or caller.user.casefold() in self.senders
            or (session.user and session.user.casefold() == caller.user.casefold())
        ):
            rights |= WINSTATION_MSG
        return rights

    def send_one(self, caller: Caller, session: MsgSession, m: Message) -> SendResult:
        """Check WINSTATION_MSG, deliver, log (MS-TSTS 3.3.4.1.10 / 3.7.4.1.8)."""
        res = SendResult(session)
        if session.session_id == SERVICES_SESSION_ID:
            res.error, res.detail = 7045, "session 0 does not display messages"
        elif not self.permissions(caller, session) & WINSTATION_MSG:
            res.error, res.detail = 5, "the sender lacks the Message permission on the session"
        else:
            try:
                res.response = deliver(self.state_dir, session, m)
            except DeliveryError as exc:
                res.error, res.detail = exc.win32, exc.detail
        fields = {
            "sender": caller.display,
            "client": caller.address,
            "session_id": session.session_id,
            "session": session.name,
            "user": session.user or "-",
            "length": len(m.text),
        }
        if res.ok:
            self.emit("MSG_DELIVERED", response=res.response, **fields)
        else:
            self.emit("MSG_DELIVERY_FAILED", error=res.error, reason=res.detail, **fields)
        return res
