"""The msg command line, Windows syntax and POSIX options (docs/SOURCES.md msg §1.1).

``msg {user | sessionname | sessionID | @file | *} [/SERVER:host] [/TIME:seconds] [/V] [/W]
[message]`` — switches are case-insensitive and may come anywhere before the message; the
POSIX forms are ``-s/--server HOST``, ``-t/--time SECONDS``, ``-v/--verbose``, ``-w/--wait``.
``--`` ends option parsing.  Everything after the target that is not a switch is the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_TIME", "MsgArgs", "MsgUsageError", "expand_targets", "parse_msg_args"]

#: /TIME default observed in msg /V output ("display time 60"), docs/SOURCES.md msg §1.1.
DEFAULT_TIME = 60
MAX_TIME = 86400
MAX_TARGET_FILE = 64 * 1024
MAX_TARGETS = 4096


class MsgUsageError(ValueError):
    """Bad arguments: msg prints "Invalid parameter(s)" and the usage."""


@dataclass(slots=True)
class MsgArgs:
    target: str = ""
    server: str | None = None
    time: int = DEFAULT_TIME
    verbose: bool = False
    wait: bool = False
    message: str | None = None
    help: bool = False
    user: str | None = None  # /SERVER credentials: -U user[%password]
    password: str | None = None
    domain: str = ""


def _time(value: str) -> int:
    try:
        t = int(value, 10)
    except ValueError:
        raise MsgUsageError(f"/TIME needs a number of seconds, not {value!r}") from None
    if not 0 <= t <= MAX_TIME:
        raise MsgUsageError(f"/TIME must be 0..{MAX_TIME}")
    return t


def parse_msg_args(argv: list[str]) -> MsgArgs:
    a = MsgArgs()
    words: list[str] = []
    i = 0
    options_done = False
    while i < len(argv):
        tok = argv[i]
        i += 1
        low = tok.lower()
        if options_done or len(words) >= 2:  # the message has started: take it verbatim
            words.append(tok)
            continue
        if tok == "--":
            options_done = True
            continue
        if low in ("/?", "-?", "-h", "--help", "/help"):
            a.help = True
            continue
        if low.startswith(("/server:", "--server=")):
            a.server = tok.split(":", 1)[1] if low.startswith("/") else tok.split("=", 1)[1]
            if not a.server:
                raise MsgUsageError("/SERVER needs a host name")
            continue
        if low in ("-s", "--server", "/server"):
            if i >= len(argv):
                raise MsgUsageError(f"{tok} needs a host name")
            a.server = argv[i]
            i += 1
            continue
        if low.startswith(("/time:", "--time=")):
            a.time = _time(tok.split(":" if low.startswith("/") else "=", 1)[1])
            continue
        if low in ("-t", "--time", "/time"):
            if i >= len(argv):
                raise MsgUsageError(f"{tok} needs seconds")
            a.time = _time(argv[i])
            i += 1
            continue
        if low in ("-u", "--user", "--password", "--domain"):
            if i >= len(argv):
                raise MsgUsageError(f"{tok} needs a value")
            value = argv[i]
            i += 1
            if low == "--password":
                a.password = value
            elif low == "--domain":
                a.domain = value
            else:
                user, sep, pw = value.partition("%")
                a.user = user
                if sep:
                    a.password = pw
            continue
        if low in ("/v", "-v", "--verbose"):
            a.verbose = True
            continue
        if low in ("/w", "-w", "--wait"):
            a.wait = True
            continue
        if low in ("/vw", "/wv", "-vw", "-wv"):
            a.verbose = a.wait = True
            continue
        is_switchy = tok[:1] in ("/", "-") and len(tok) > 1 and not any(c.isspace() for c in tok)
        if is_switchy and not tok[1:].isdigit():
            raise MsgUsageError(f"unknown switch {tok}")
        words.append(tok)
    if a.help:
        return a
    if not words:
        raise MsgUsageError("a target (user, session name, session id, @file or *) is required")
    a.target = words[0]
    if len(words) > 1:
        a.message = " ".join(words[1:])
    return a


def expand_targets(target: str, base: Path | None = None) -> list[str]:
    """``@file`` -> the names/ids listed in it (one per line or separated by blanks)."""
    if not target.startswith("@"):
        return [target]
    path = Path(target[1:])
    if base is not None and not path.is_absolute():
        path = base / path
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_TARGET_FILE + 1)
    except OSError as exc:
        raise MsgUsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_TARGET_FILE:
        raise MsgUsageError(f"{path} is larger than {MAX_TARGET_FILE} bytes")
    text = data.decode("utf-8-sig", "replace")
    names = [
        w for line in text.splitlines() if not line.lstrip().startswith("#") for w in line.split()
    ]
    if not names:
        raise MsgUsageError(f"{path} lists no user, session name or session id")
    return names[:MAX_TARGETS]
