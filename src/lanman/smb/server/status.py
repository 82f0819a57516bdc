"""What the server is doing, for ``lanman status`` (smbstatus, Get-SmbSession,
Get-SmbOpenFile) and the administrator's Close-SmbSession / Close-SmbOpenFile.

Sans-IO: a snapshot over :class:`ServerConnection` objects and the shared oplock and
byte-range-lock tables, at a FILETIME ``now`` the caller passes; the service layer holds the
core lock while calling in and publishes the result (``lanman.smb.server.status_service``).

Identifiers: a session is its SessionId (MS-SMB2 3.3.1.8, unique per server); an open is
``connection number << 32 | volatile FileId`` (unique per server process), both decimal as
Get-SmbSession / Get-SmbOpenFile print them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lanman.smb.wire.constants import FILE_SHARE_READ as _SHARE_READ
from lanman.smb.wire.constants import FILE_SHARE_WRITE as _SHARE_WRITE

from .oplocks import LEVEL_BATCH, LEVEL_EXCLUSIVE, LEVEL_II, LEVEL_LEASE, LEVEL_NONE
from .state import SessionState

__all__ = ["close_file", "close_session", "file_id_of", "snapshot"]

_DIALECTS = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}
_OPLOCKS = {
    LEVEL_NONE: "none",
    LEVEL_II: "level2",
    LEVEL_EXCLUSIVE: "exclusive",
    LEVEL_BATCH: "batch",
    LEVEL_LEASE: "lease",
}
_FILE_READ_DATA, _FILE_WRITE_DATA, _FILE_APPEND_DATA, _DELETE = 0x1, 0x2, 0x4, 0x10000
_TICKS = 10_000_000  # FILETIME ticks per second


def file_id_of(conn, volatile_id: int) -> int:
    return (conn.conn_id << 32) | (volatile_id & 0xFFFFFFFF)


def _access_words(mask: int) -> str:
    """RDONLY / WRONLY / RDWR as smbstatus prints an open's access (plus DELETE)."""
    r = bool(mask & _FILE_READ_DATA)
    w = bool(mask & (_FILE_WRITE_DATA | _FILE_APPEND_DATA))
    word = "RDWR" if r and w else "WRONLY" if w else "RDONLY" if r else "NONE"
    return word + ("+DELETE" if mask & _DELETE else "")


def _share_words(mode: int) -> str:
    """The open's ShareAccess as smbstatus' DenyMode: DENY_NONE, DENY_WRITE, ..."""
    if mode & (_SHARE_READ | _SHARE_WRITE) == (_SHARE_READ | _SHARE_WRITE):
        return "DENY_NONE"
    if mode & _SHARE_READ:
        return "DENY_WRITE"
    if mode & _SHARE_WRITE:
        return "DENY_READ"
    return "DENY_ALL"


def _user(session) -> str:
    if session.is_anonymous:
        return "(anonymous)"
    return f"{session.domain}\\{session.user}" if session.domain else session.user


def _oplock(conn, open_) -> str:
    holders = conn.ctx.oplocks.files.get(open_.oplock_key) if open_.oplock_key else None
    for h in holders or ():
        if h.conn is conn and h.volatile_id == open_.volatile_id:
            return _OPLOCKS.get(h.level, f"0x{h.level:02X}")
    return "none"


def _locks(conn, open_) -> list[dict]:
    table = conn.ctx.lock_tables.get(open_.oplock_key) if open_.oplock_key else None
    if table is None:
        return []
    return [
        {"offset": off, "length": length, "exclusive": excl}
        for off, length, excl in table.held_by((id(conn), open_.volatile_id))
    ]


def _sharing(conn, open_) -> tuple[int, bool]:
    """(ShareAccess, delete pending) of the open, from the open-file database."""
    if open_.file_key is None:
        return 0, False
    db = conn.ctx.opendb
    entry = db.entry(open_.file_key, (id(conn), open_.volatile_id))
    return (entry.share_access if entry else 0), db.is_delete_pending(open_.file_key)


def snapshot(conns: Iterable, now: int) -> dict:
    """Sessions, tree connects, open files and byte-range locks of ``conns`` at ``now``."""
    sessions, trees, files, locks = [], [], [], []
    for conn in conns:
        if conn is None or conn.closed:
            continue
        if conn.smb1 is not None:
            _smb1(conn, now, sessions, trees)
            continue
        dialect = _DIALECTS.get(conn.dialect or 0, f"0x{conn.dialect or 0:04X}")
        for s in list(conn.sessions.values()):
            if s.state is not SessionState.VALID:
                continue
            first = next(iter(s.channels.values()), None)
            if first is not None and first.connection is not conn:
                continue  # a multichannel session is listed once, on its first channel
            idle = max(0, (now - (s.last_activity or now)) // _TICKS)
            encrypted_trees = any(t.encrypt_data for t in s.trees.values())
            sessions.append(
                {
                    "session_id": s.session_id,
                    "user": _user(s),
                    "client": conn.client_address,
                    "dialect": dialect,
                    "auth": s.auth_package or ("guest" if s.is_guest else "anonymous"),
                    "signed": bool(s.signing_required),
                    "encrypted": bool(s.encrypt_data or encrypted_trees),
                    "idle_seconds": int(idle),
                    "connected_seconds": int(max(0, now - (s.logon_time or now)) // _TICKS),
                    "trees": len(s.trees),
                    "open_files": sum(
                        1 for o in conn.opens.values() if o.session_id == s.session_id
                    ),
                }
            )
            for t in list(s.trees.values()):
                trees.append(
                    {
                        "session_id": s.session_id,
                        "tree_id": t.tree_id,
                        "share": t.share_name,
                        "user": _user(s),
                        "client": conn.client_address,
                        "encrypted": bool(t.encrypt_data or s.encrypt_data),
                        "maximal_access": f"0x{t.maximal_access:08X}",
                    }
                )
        for o in list(conn.opens.values()):
            if o.kind == "pipe":
                continue
            s = conn.sessions.get(o.session_id)
            tree = s.trees.get(o.tree_id) if s is not None else None
            root = getattr(tree.fs, "root", "") if tree is not None and tree.fs else ""
            fid = file_id_of(conn, o.volatile_id)
            held = _locks(conn, o)
            share_access, delete_pending = _sharing(conn, o)
            files.append(
                {
                    "file_id": fid,
                    "session_id": o.session_id,
                    "user": _user(s) if s is not None else "",
                    "client": conn.client_address,
                    "share": tree.share_name if tree is not None else "",
                    "path": o.smb_path,
                    "local_path": f"{root.rstrip('/')}/{o.smb_path.replace(chr(92), '/')}"
                    if root
                    else "",
                    "directory": o.kind == "dir",
                    "access": _access_words(o.granted_access),
                    "access_mask": f"0x{o.granted_access:08X}",
                    "share_mode": _share_words(share_access),
                    "share_access": share_access,
                    "delete_pending": delete_pending,
                    "oplock": _oplock(conn, o) if o.kind == "file" else "none",
                    "locks": len(held),
                }
            )
            for lk in held:
                locks.append(
                    {"file_id": fid, "share": files[-1]["share"], "path": o.smb_path, **lk}
                )
    return {"sessions": sessions, "trees": trees, "files": files, "locks": locks}


def _smb1(conn, now: int, sessions: list, trees: list) -> None:
    """An SMB1 (NT LM 0.12) connection: its sessions and tree connects (it has no opens)."""
    smb1 = conn.smb1
    for s in list(smb1.sessions.values()):
        if s.state is not SessionState.VALID:
            continue
        since = int(max(0, now - (s.logon_time or now)) // _TICKS)
        sessions.append(
            {
                "session_id": s.uid,
                "user": _user(s),
                "client": conn.client_address,
                "dialect": "NT LM 0.12",
                "auth": s.auth_package or ("guest" if s.is_guest else "anonymous"),
                "signed": bool(smb1.signing_active),
                "encrypted": False,
                "idle_seconds": since,  # SMB1 requests are not timed: since logon
                "connected_seconds": since,
                "trees": len(s.trees),
                "open_files": 0,
            }
        )
        for t in list(s.trees.values()):
            trees.append(
                {
                    "session_id": s.uid,
                    "tree_id": t.tid,
                    "share": t.share_name,
                    "user": _user(s),
                    "client": conn.client_address,
                    "encrypted": False,
                    "maximal_access": "",
                }
            )


def _find_session(conns: Iterable, session_id: int):
    for conn in conns:
        if conn is None or conn.closed or conn.smb1 is not None:
            continue
        s = conn.sessions.get(session_id)
        if s is not None and s.state is SessionState.VALID:
            return conn, s
    return None, None


def close_session(conns: Iterable, session_id: int) -> dict | None:
    """Close-SmbSession: end session ``session_id`` as a LOGOFF would (its opens closed,
    its trees gone); the client's next request on it gets STATUS_USER_SESSION_DELETED.
    None when no such session exists."""
    conn, s = _find_session(conns, session_id)
    if conn is None:
        return None
    info = {"session_id": session_id, "user": _user(s), "client": conn.client_address}
    info["files"] = conn.admin_close_session(session_id)
    return info


def close_file(conns: Iterable, file_id: int) -> dict | None:
    """Close-SmbOpenFile: close open ``file_id``; the client's next request on the handle
    gets STATUS_FILE_CLOSED. None when no such open exists."""
    conn_id, vid = file_id >> 32, file_id & 0xFFFFFFFF
    for conn in conns:
        if conn is None or conn.closed or conn.smb1 is not None or conn.conn_id != conn_id:
            continue
        o = conn.opens.get(vid)
        if o is None or o.kind == "pipe":
            return None
        s = conn.sessions.get(o.session_id)
        tree = s.trees.get(o.tree_id) if s is not None else None
        info = {
            "file_id": file_id,
            "user": _user(s) if s is not None else "",
            "client": conn.client_address,
            "share": tree.share_name if tree is not None else "",
            "path": o.smb_path,
        }
        conn.admin_close_open(o)
        return info
    return None
