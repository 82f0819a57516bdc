"""Putting a message in front of a session, and getting the user's response back.

* ``tty`` sessions: written to the terminal like write(1)/wall(1) — only when the terminal
  accepts messages (``mesg y``: group write bit set), control and escape characters stripped
  (terminal injection), CR LF line ends, non-blocking open with ``O_NOCTTY``, never a terminal
  the sender may not write to.  A terminal cannot answer: the response is IDASYNC.
* ``virtual`` sessions: one JSON line appended to the session's inbox file
  (``<state_dir>/inbox/<name>.jsonl``); ``lanman msg agent`` shows it and writes the user's
  response to ``<state_dir>/inbox/<name>.<msgid>.response``.  With ``wait`` the sender polls
  for that file until the timeout (IDTIMEOUT).

Responses are the MessageBox IDs of MS-TSTS 3.3.4.1.10 / WTSSendMessageW.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lanman.concurrency import blocking_section
from lanman.msg.sessions import MsgSession

__all__ = [
    "IDABORT",
    "IDASYNC",
    "IDCANCEL",
    "IDIGNORE",
    "IDNO",
    "IDOK",
    "IDRETRY",
    "IDTIMEOUT",
    "IDYES",
    "MAX_MESSAGE_CHARS",
    "MAX_TITLE_CHARS",
    "DeliveryError",
    "Message",
    "deliver",
    "response_name",
    "sanitize",
]

IDOK, IDCANCEL, IDABORT, IDRETRY, IDIGNORE, IDYES, IDNO = 1, 2, 3, 4, 5, 6, 7
IDTRYAGAIN, IDCONTINUE = 10, 11
IDTIMEOUT = 32000
IDASYNC = 32001
_NAMES = {
    IDOK: "OK",
    IDCANCEL: "Cancel",
    IDABORT: "Abort",
    IDRETRY: "Retry",
    IDIGNORE: "Ignore",
    IDYES: "Yes",
    IDNO: "No",
    IDTRYAGAIN: "Try Again",
    IDCONTINUE: "Continue",
    IDTIMEOUT: "timed out",
    IDASYNC: "asynchronous",
}

#: Bound on message and title length, in characters: the LegacyApi IDL range(0,1024)
#: (MS-TSTS 3.7.4.1.8); applied to every route so no path carries more.
MAX_MESSAGE_CHARS = 1024
MAX_TITLE_CHARS = 1024
#: Longest a sender waits for a response, whatever /TIME says (a day).
MAX_WAIT_SECONDS = 86400
_POLL = 0.02

# C0 controls except TAB and LF, DEL, C1 controls; ESC sequences are removed whole first.
_ESC_SEQ = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def response_name(code: int) -> str:
    return _NAMES.get(code, f"response {code}")


def sanitize(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Bound the length, drop escape sequences and control characters (keep TAB and LF)."""
    text = text[:limit].replace("\r\n", "\n").replace("\r", "\n")
    text = _ESC_SEQ.sub("", text)
    return _CONTROL.sub("", text)


class DeliveryError(Exception):
    """A message could not be put in front of a session; ``win32`` is the Windows error code."""

    def __init__(self, win32: int, detail: str) -> None:
        super().__init__(detail)
        self.win32 = win32
        self.detail = detail


@dataclass(slots=True)
class Message:
    sender: str  # authenticated sender, shown in the banner (never client-supplied)
    text: str
    title: str = ""
    style: int = 0  # MessageBox uType
    timeout: int = 60  # seconds the message stays up / the sender waits
    wait: bool = False  # /W, bDoNotWait == FALSE
    sender_host: str = ""
    msg_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    sent_at: float = field(default_factory=time.time)


def _tty_banner(m: Message) -> str:
    at = time.strftime("%H:%M", time.localtime(m.sent_at))
    who = f"{m.sender}@{m.sender_host}" if m.sender_host else m.sender
    title = f" — {sanitize(m.title, MAX_TITLE_CHARS)}" if m.title.strip() else ""
    return f"\r\n\aMessage from {who} at {at}{title} ...\r\n"


def deliver_tty(session: MsgSession, m: Message) -> int:
    """write(1)-style delivery; IDASYNC on success (a terminal cannot respond)."""
    path = session.tty
    if not path or not path.startswith("/dev/"):
        raise DeliveryError(2, f"session {session.name} has no terminal")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DeliveryError(2, f"{path}: {exc.strerror}") from None
    if not stat.S_ISCHR(st.st_mode):
        raise DeliveryError(5, f"{path} is not a terminal")
    if not st.st_mode & stat.S_IWGRP:
        raise DeliveryError(5, f"{session.user or session.name} has messages disabled (mesg n)")
    if not os.access(path, os.W_OK):
        raise DeliveryError(5, f"no permission to write to {path}")
    body = sanitize(m.text).replace("\n", "\r\n")
    data = (_tty_banner(m) + body + "\r\nEOF\r\n").encode("utf-8", "replace")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise DeliveryError(5, f"{path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + 5.0  # wall(1)-like bound for a stuck terminal
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DeliveryError(1460, f"{path}: terminal does not accept output") from None
                with blocking_section():
                    time.sleep(_POLL)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.ENXIO):
                    raise DeliveryError(2, f"{path}: hung up") from None
                raise DeliveryError(5, f"{path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return IDASYNC


def inbox_path(state_dir: Path, session: MsgSession) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.#-]", "_", session.name.casefold())
    return Path(state_dir) / "inbox" / f"{safe}.jsonl"


def response_path(state_dir: Path, session: MsgSession, msg_id: str) -> Path:
    return inbox_path(state_dir, session).with_suffix(f".{msg_id}.response")


def deliver_inbox(
    state_dir: Path, session: MsgSession, m: Message, *, sleep=time.sleep, clock=time.monotonic
) -> int:
    path = inbox_path(state_dir, session)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "id": m.msg_id,
        "time": m.sent_at,
        "session_id": session.session_id,
        "session": session.name,
        "sender": m.sender,
        "sender_host": m.sender_host,
        "title": sanitize(m.title, MAX_TITLE_CHARS),
        "message": sanitize(m.text),
        "style": m.style,
        "timeout": m.timeout,
        "wait": m.wait,
    }
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write(2) with O_APPEND: lines never interleave
    finally:
        os.close(fd)
    if not m.wait:
        return IDASYNC
    if session.auto_response is not None:
        return int(session.auto_response)
    rpath = response_path(state_dir, session, m.msg_id)
    limit = min(m.timeout if m.timeout > 0 else MAX_WAIT_SECONDS, MAX_WAIT_SECONDS)
    deadline = clock() + limit
    with blocking_section():  # a server running this call keeps serving others meanwhile
        while True:
            try:
                value = int(rpath.read_text().strip() or "0")
                rpath.unlink(missing_ok=True)
                return value
            except (OSError, ValueError):
                pass
            if clock() >= deadline:
                return IDTIMEOUT
            sleep(_POLL)


def deliver(state_dir: Path, session: MsgSession, m: Message) -> int:
    """Deliver ``m`` to one session; returns the response ID or raises DeliveryError."""
    if session.kind == "tty":
        return deliver_tty(session, m)
    if session.kind == "virtual":
        return deliver_inbox(state_dir, session, m)
    raise DeliveryError(
        7045 if session.session_id == 0 else 2, f"session {session.name} cannot display messages"
    )
