"""The session registry: who is logged on to this host, as MS-TSTS sessions (WinStations).

A session has a numeric id, a WinStation name (<= 32 chars), a user and a state
(WINSTATIONSTATECLASS, MS-TSTS 2.2.1.9).  Sessions come from providers:

* :class:`UtmpProvider` — the operating system's logged-on terminals (utmp ``USER_PROCESS``
  records, utmp(5)); names ``console`` (the first local VT session), ``tty<N>``, ``pts/<N>``;
* :class:`VirtualProvider` — lanman's own session table (``sessions.json`` in the msg state
  directory): sessions registered by ``lanman msg agent`` or by hand, delivering to an inbox
  file.  CI containers without logged-on users exercise delivery through it.

Session 0 (``Services``, Disconnected) is synthetic and reserved, as on Windows since Vista
(docs/SOURCES.md msg §6.1); it is never a message target.

Ids are kept stable in ``ids.json`` (key -> id), the lowest free id >= 1 is handed out, so a
session keeps its id for as long as it exists.  All file updates hold an ``fcntl`` lock.

The list is cached (the MS-TSTS server looks sessions up several times per message): it is
built again as soon as a provider's source changes (each provider's :meth:`stamp`: the
file's inode, size and mtime, and a counter of this process's own changes), and at the
latest after :data:`CACHE_SECONDS`, which bounds how late a dead agent or a stale utmp
record drops out.  Sessions the registry returns are shared: treat them as read-only.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "CACHE_SECONDS",
    "MAX_SESSION_ID",
    "SERVICES_SESSION_ID",
    "WINSTATIONNAME_LENGTH",
    "MsgSession",
    "SessionProvider",
    "SessionRegistry",
    "SessionState",
    "StaticProvider",
    "UtmpProvider",
    "VirtualProvider",
    "read_utmp",
]

#: WINSTATIONNAME_LENGTH (MS-TSTS 2.2.1.x; impacket constant): names hold at most 32 chars.
WINSTATIONNAME_LENGTH = 32
SERVICES_SESSION_ID = 0
#: Ids >= 65536 are listener sessions on Windows (MS-TSTS 2.2.2.13); we never hand them out.
MAX_SESSION_ID = 65535
#: Longest a cached session list is used while none of its sources changed.
CACHE_SECONDS = 1.0


class SessionState(enum.IntEnum):
    """WINSTATIONSTATECLASS (MS-TSTS 2.2.1.9) = WTS_CONNECTSTATE_CLASS."""

    ACTIVE = 0
    CONNECTED = 1
    CONNECT_QUERY = 2
    SHADOW = 3
    DISCONNECTED = 4
    IDLE = 5
    LISTEN = 6
    RESET = 7
    DOWN = 8
    INIT = 9

    @property
    def label(self) -> str:
        return {
            0: "Active",
            1: "Conn",
            2: "ConnQ",
            3: "Shadow",
            4: "Disc",
            5: "Idle",
            6: "Listen",
            7: "Reset",
            8: "Down",
            9: "Init",
        }[int(self)]


@dataclass(slots=True)
class MsgSession:
    """One session as msg and MS-TSTS see it."""

    session_id: int
    name: str
    user: str
    state: SessionState
    kind: str  # "services" | "tty" | "virtual"
    domain: str = ""
    tty: str | None = None  # device path for "tty" sessions
    inbox: str | None = None  # inbox file for "virtual" sessions
    remote_host: str = ""
    logon_time: float = 0.0
    key: str = ""  # identity used for the stable id map
    auto_response: int | None = None  # virtual sessions: answer /W at once with this ID*

    def as_dict(self) -> dict:
        d = asdict(self)
        d["state"] = self.state.label
        return d


class SessionProvider(Protocol):
    name: str

    def sessions(self) -> list[MsgSession]:
        """Current sessions; ``session_id`` may be 0 (the registry assigns stable ids)."""
        ...

    def stamp(self) -> object | None:
        """A value that changes whenever :meth:`sessions` may; None: do not cache."""
        ...


def _file_stamp(path: str | os.PathLike) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


# --------------------------------------------------------------------------- utmp

_UTMP_FMT = struct.Struct("<hi32s4s32s256shhiii4i20s")  # struct utmp on Linux (utmp(5)), 384 B
USER_PROCESS = 7


@dataclass(slots=True)
class UtmpEntry:
    line: str
    user: str
    host: str
    pid: int
    tv_sec: int


def read_utmp(
    path: str | os.PathLike = "/var/run/utmp", max_entries: int = 4096
) -> list[UtmpEntry]:
    """USER_PROCESS records of a Linux utmp file (bounded; a missing file gives [])."""
    try:
        data = Path(path).read_bytes()[: _UTMP_FMT.size * max_entries]
    except OSError:
        return []
    out = []
    for off in range(0, len(data) - _UTMP_FMT.size + 1, _UTMP_FMT.size):
        f = _UTMP_FMT.unpack_from(data, off)
        ut_type, pid, line, _id, user, host = f[0], f[1], f[2], f[3], f[4], f[5]
        if ut_type != USER_PROCESS:
            continue
        dec = lambda b: b.split(b"\0", 1)[0].decode("utf-8", "replace")
        line_s = dec(line)
        # wall(1) skips lines starting with ':' (X displays); so do we.
        if not line_s or line_s.startswith(":") or "/" in line_s.replace("pts/", "", 1):
            continue
        if pid > 0 and not os.path.exists(f"/proc/{pid}"):
            continue  # stale record
        out.append(UtmpEntry(line_s, dec(user), dec(host), pid, f[9]))
    return out


class UtmpProvider:
    """Terminal sessions from utmp (the write(1)/wall(1) view of who is logged on)."""

    name = "utmp"

    def __init__(self, path: str | os.PathLike = "/var/run/utmp") -> None:
        self.path = path

    def stamp(self) -> object:
        return _file_stamp(self.path)

    def sessions(self) -> list[MsgSession]:
        entries = sorted(read_utmp(self.path), key=lambda e: (e.tv_sec, e.line))
        out = []
        console_taken = False
        for e in entries:
            name = e.line
            if not console_taken and e.line.startswith("tty") and not e.host:
                name, console_taken = "console", True
            out.append(
                MsgSession(
                    0,
                    name[:WINSTATIONNAME_LENGTH],
                    e.user,
                    SessionState.ACTIVE,
                    "tty",
                    tty=f"/dev/{e.line}",
                    remote_host=e.host,
                    logon_time=float(e.tv_sec),
                    key=f"utmp:{e.line}:{e.pid}",
                )
            )
        return out


# --------------------------------------------------------------------------- virtual sessions


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _save_json(path: Path, value) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)


class VirtualProvider:
    """lanman's own session table (``<state_dir>/sessions.json``), delivering to inbox files."""

    name = "virtual"

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.state_dir = Path(state_dir)
        self.table = self.state_dir / "sessions.json"
        self.inbox_dir = self.state_dir / "inbox"

    #: Changes made by this process (a file's mtime may not move within one clock tick).
    _generation = 0

    def stamp(self) -> object:
        return (_file_stamp(self.table), VirtualProvider._generation)

    def _rows(self) -> list[dict]:
        rows = _load_json(self.table, [])
        return rows if isinstance(rows, list) else []

    def add(
        self,
        name: str,
        user: str,
        *,
        state: SessionState = SessionState.ACTIVE,
        domain: str = "",
        auto_response: int | None = None,
        pid: int | None = None,
    ) -> str:
        """Register (or replace) a virtual session; returns its key."""
        name = name.strip()
        if not name or len(name) > WINSTATIONNAME_LENGTH or name.isdigit() or name == "*":
            raise ValueError(f"invalid session name {name!r} (1-32 chars, not numeric, not '*')")
        if name.casefold() == "services":
            raise ValueError("'services' is reserved for session 0")
        with _locked(self.table):
            rows = [r for r in self._rows() if r.get("name", "").casefold() != name.casefold()]
            rows.append(
                {
                    "name": name,
                    "user": user,
                    "state": int(state),
                    "domain": domain,
                    "auto_response": auto_response,
                    "pid": pid,
                    "created": time.time(),
                }
            )
            _save_json(self.table, rows)
            VirtualProvider._generation += 1
        return f"virtual:{name.casefold()}"

    def remove(self, name: str) -> bool:
        with _locked(self.table):
            rows = self._rows()
            keep = [r for r in rows if r.get("name", "").casefold() != name.casefold()]
            if len(keep) == len(rows):
                return False
            _save_json(self.table, keep)
            VirtualProvider._generation += 1
        return True

    def sessions(self) -> list[MsgSession]:
        out = []
        for r in self._rows():
            try:
                name = str(r["name"])[:WINSTATIONNAME_LENGTH]
                pid = r.get("pid")
                if pid and not os.path.exists(f"/proc/{int(pid)}"):
                    continue  # agent went away
                key = f"virtual:{name.casefold()}"
                out.append(
                    MsgSession(
                        0,
                        name,
                        str(r.get("user", "")),
                        SessionState(int(r.get("state", 0))),
                        "virtual",
                        domain=str(r.get("domain", "")),
                        logon_time=float(r.get("created", 0.0)),
                        key=key,
                        auto_response=r.get("auto_response"),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
        return out


class StaticProvider:
    """A fixed list of sessions (tests)."""

    name = "static"

    def __init__(self, sessions: list[MsgSession]) -> None:
        self._sessions = sessions

    def sessions(self) -> list[MsgSession]:
        return list(self._sessions)

    def stamp(self) -> object | None:
        return None  # the list is the caller's: never cached


# --------------------------------------------------------------------------- registry


@dataclass(slots=True)
class SessionRegistry:
    """All sessions of this host with stable ids; session 0 ``Services`` first."""

    state_dir: Path
    providers: list[SessionProvider] = field(default_factory=list)
    host_domain: str = ""
    _cache: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def id_map_path(self) -> Path:
        return Path(self.state_dir) / "ids.json"

    def _assign(self, sessions: list[MsgSession]) -> None:
        path = self.id_map_path
        with _locked(path):
            ids: dict[str, int] = _load_json(path, {})
            if not isinstance(ids, dict):
                ids = {}
            live = {s.key for s in sessions}
            ids = {k: v for k, v in ids.items() if k in live and isinstance(v, int)}
            used = set(ids.values())
            changed = False
            next_id = 1
            for s in sessions:
                if s.key in ids:
                    continue
                while next_id in used:
                    next_id += 1
                if next_id > MAX_SESSION_ID:
                    raise RuntimeError("session ids exhausted")
                ids[s.key] = next_id
                used.add(next_id)
                changed = True
            if changed or len(ids) != len(_load_json(path, {}) or {}):
                _save_json(path, ids)
        for s in sessions:
            s.session_id = ids[s.key]

    def _stamp(self) -> tuple | None:
        stamps = []
        for p in self.providers:
            st = p.stamp() if hasattr(p, "stamp") else None
            if st is None:
                return None
            stamps.append((id(p), st))
        return (str(self.state_dir), tuple(stamps))

    def list(self) -> list[MsgSession]:
        """Session 0 and every provider's sessions, by id (cached: see the module notes)."""
        stamp = self._stamp()
        now = time.monotonic()
        cached = self._cache
        if stamp is not None and cached is not None and cached[0] == stamp and now < cached[1]:
            return list(cached[2])
        result = self._list_uncached()
        self._cache = (stamp, now + CACHE_SECONDS, result) if stamp is not None else None
        return list(result)

    def _list_uncached(self) -> list[MsgSession]:
        found: list[MsgSession] = []
        seen: set[str] = set()
        for p in self.providers:
            for s in p.sessions():
                if s.key and s.key not in seen:
                    seen.add(s.key)
                    found.append(s)
        self._assign(found)
        services = MsgSession(
            SERVICES_SESSION_ID,
            "Services",
            "",
            SessionState.DISCONNECTED,
            "services",
            key="services",
        )
        return [services, *sorted(found, key=lambda s: s.session_id)]

    def get(self, session_id: int) -> MsgSession | None:
        return next((s for s in self.list() if s.session_id == session_id), None)

    def resolve(self, target: str) -> list[MsgSession]:
        """Sessions a msg target names: ``*``, a session id, a session name, or a user name.

        Session 0 is never a target.  ``*`` and wildcards in names are allowed (KB 186480);
        a session name must identify an Active session (msg.md remarks) — other states are
        reached by id or user.
        """
        import fnmatch

        sessions = [s for s in self.list() if s.session_id != SERVICES_SESSION_ID]
        t = target.strip()
        if t == "*":
            return [
                s
                for s in sessions
                if s.state
                in (
                    SessionState.ACTIVE,
                    SessionState.CONNECTED,
                    SessionState.DISCONNECTED,
                    SessionState.IDLE,
                )
            ]
        if t.isdigit():
            return [s for s in sessions if s.session_id == int(t)]
        tf = t.casefold()
        if any(c in t for c in "*?["):
            return [
                s
                for s in sessions
                if fnmatch.fnmatch(s.name.casefold(), tf) or fnmatch.fnmatch(s.user.casefold(), tf)
            ]
        by_name = [
            s for s in sessions if s.name.casefold() == tf and s.state == SessionState.ACTIVE
        ]
        if by_name:
            return by_name
        return [s for s in sessions if s.user.casefold() == tf]
