"""``msg``: resolve targets, send, report in Windows' wording, return an exit code.

Output (docs/SOURCES.md msg §1.3; compatibility behaviour, marked where unconfirmed):

* ``/V``: ``Sending message to session <name>, display time <t>`` then, without ``/W``,
  ``Async message sent to session <name>`` [observed-3p]; with ``/W`` the response line
  ``Message to session <name> responded to by user: <OK|timed out|...>`` [our wording; no
  capture exists];
* ``Error <n> getting session names`` when the session list cannot be read (1722 = the RPC
  server is unavailable, e.g. AllowRemoteRPC = 0; 5 = access denied) [observed-3p];
* ``Error sending message to session <name> : Error <n>`` per failed session [observed-3p];
* ``No session exists for <target>`` when nothing matches [unconfirmed].

Exit code 0 when every addressed session got the message, 1 otherwise (usage errors too).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from lanman.msg.delivery import IDTIMEOUT, MAX_MESSAGE_CHARS, Message, response_name
from lanman.msg.host import Caller, MsgHost, SendResult
from lanman.msg.sessions import SERVICES_SESSION_ID, MsgSession, SessionRegistry
from lanman.msg.syntax import MsgArgs, MsgUsageError, expand_targets

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "USAGE",
    "LocalBackend",
    "MsgBackend",
    "MsgError",
    "run_msg",
]

EXIT_OK = 0
EXIT_FAILURE = 1

USAGE = """\
Send a message to the sessions logged on to a host.

usage: msg {user | session-name | session-id | @file | *} [/SERVER:host[:port]]
           [/TIME:seconds] [/V] [/W] [message]

  user          every session of that user
  session-name  an active session by name (console, tty1, pts/3, an agent session)
  session-id    a session by number (see `lanman msg sessions`)
  @file         a file listing users, session names or ids
  *             every session on the host
  /SERVER:host  the host to send to (default: this one); over SMB with DCE/RPC (MS-TSTS)
  /TIME:s       how long the message stays up and /W waits (default 60)
  /V            report each session the message is sent to
  /W            wait for each response (OK, timed out, ...); most useful with /V
  message       the text; without it, read standard input (a prompt on a terminal)

POSIX forms: -s/--server HOST, -t/--time S, -v/--verbose, -w/--wait, --user/--password for
/SERVER. Exit status 0 when all sessions got the message, 1 otherwise.
"""


class MsgError(Exception):
    """A Windows error that stops msg (e.g. 1722 while getting session names)."""

    def __init__(self, win32: int, detail: str = "") -> None:
        super().__init__(detail or f"error {win32}")
        self.win32 = win32
        self.detail = detail


class MsgBackend(Protocol):
    def list_sessions(self, users: bool = True) -> list[MsgSession]:
        """All sessions of the target host; raise :class:`MsgError` when unavailable.

        ``users=False``: the caller needs no user names (targets ``*`` and session ids), so
        a remote backend may skip asking for them, one call per session.
        """
        ...

    def send(self, session: MsgSession, m: Message) -> SendResult: ...


@dataclass(slots=True)
class LocalBackend:
    host: MsgHost
    caller: Caller

    def list_sessions(self, users: bool = True) -> list[MsgSession]:
        return self.host.sessions()

    def send(self, session: MsgSession, m: Message) -> SendResult:
        return self.host.send_one(self.caller, session, m)


def _select(sessions: list[MsgSession], targets: list[str]) -> dict[str, list[MsgSession]]:
    """target -> sessions, resolved as SessionRegistry.resolve does, on a fixed list."""
    reg = _FixedRegistry(sessions)
    return {t: reg.resolve(t) for t in targets}


class _FixedRegistry(SessionRegistry):
    def __init__(self, sessions: list[MsgSession]) -> None:
        self._fixed = sessions

    def list(self) -> list[MsgSession]:  # type: ignore[override]
        return list(self._fixed)


def read_message(stdin: TextIO, err: TextIO) -> str:
    if stdin.isatty():
        err.write("Enter the message; end it with Ctrl-D on a new line:\n")
        err.flush()
    return stdin.read(MAX_MESSAGE_CHARS * 4 + 1)


def run_msg(
    args: MsgArgs,
    backend_factory: Callable[[MsgArgs], MsgBackend],
    *,
    sender: str,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    stdin = stdin or sys.stdin
    try:
        targets = expand_targets(args.target)
    except MsgUsageError as exc:
        err.write(f"Invalid parameter(s)\n{exc}\n")
        return EXIT_FAILURE
    text = args.message if args.message is not None else read_message(stdin, err)
    text = text.rstrip("\n")
    if len(text) > MAX_MESSAGE_CHARS:
        err.write(f"msg: the message is longer than {MAX_MESSAGE_CHARS} characters; it was cut\n")
        text = text[:MAX_MESSAGE_CHARS]
    backend = None
    try:
        backend = backend_factory(args)
        sessions = backend.list_sessions(users=_needs_users(targets))
    except MsgError as exc:
        err.write(f"Error {exc.win32} getting session names\n")
        if exc.detail:
            err.write(f"lanman: {exc.detail}\n")
        _close(backend)
        return EXIT_FAILURE
    try:
        return _send_all(args, backend, sessions, targets, text, sender, out, err)
    finally:
        _close(backend)


def _needs_users(targets: list[str]) -> bool:
    """Whether resolving ``targets`` may look at user names (not for ``*`` and ids)."""
    return any(t.strip() != "*" and not t.strip().isdigit() for t in targets)


def _close(backend) -> None:
    close = getattr(backend, "close", None)
    if close is not None:
        close()


def _send_all(
    args: MsgArgs,
    backend: MsgBackend,
    sessions: list[MsgSession],
    targets: list[str],
    text: str,
    sender: str,
    out: TextIO,
    err: TextIO,
) -> int:
    chosen: list[MsgSession] = []
    seen: set[int] = set()
    missing = []
    for t, found in _select(sessions, targets).items():
        found = [s for s in found if s.session_id != SERVICES_SESSION_ID]
        if not found:
            missing.append(t)
        for s in found:
            if s.session_id not in seen:
                seen.add(s.session_id)
                chosen.append(s)
    rc = EXIT_OK
    for t in missing:
        err.write(f"No session exists for {t}\n")
        rc = EXIT_FAILURE
    for s in chosen:
        if args.verbose:
            out.write(f"Sending message to session {s.name}, display time {args.time}\n")
            out.flush()
        m = Message(sender=sender, text=text, timeout=args.time, wait=args.wait)
        res = backend.send(s, m)
        if not res.ok:
            err.write(f"Error sending message to session {s.name} : Error {res.error}\n")
            if res.detail:
                err.write(f"lanman: {res.detail}\n")
            rc = EXIT_FAILURE
            continue
        if args.verbose:
            if args.wait:
                out.write(
                    f"Message to session {s.name} responded to by user: "
                    f"{response_name(res.response or 0)}\n"
                )
            else:
                out.write(f"Async message sent to session {s.name}\n")
        if args.wait and res.response == IDTIMEOUT and not args.verbose:
            out.write(f"Message to session {s.name} timed out\n")
    out.flush()
    return rc
