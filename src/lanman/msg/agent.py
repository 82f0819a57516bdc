"""The receiving end of a lanman session: follow its inbox, answer messages that wait.

``lanman msg agent`` runs one :class:`InboxFollower` in a terminal; the benchmark runs many in
one process.  Messages arrive as JSON lines appended to ``<state_dir>/inbox/<name>.jsonl``
(:func:`lanman.msg.delivery.deliver_inbox`); the answer to a message sent with ``/W`` is the
MessageBox ID written to its response file, atomically (write a temporary file, rename), so
the waiting sender never reads a half-written answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lanman.msg.delivery import inbox_path, response_path
from lanman.msg.sessions import MsgSession

__all__ = ["MAX_READ", "InboxFollower"]

#: Bound on what one poll reads (a flood of messages is taken in several polls).
MAX_READ = 1 << 20


class InboxFollower:
    """New messages of one session since the follower started."""

    def __init__(self, state_dir: str | os.PathLike, session: MsgSession) -> None:
        self.state_dir = Path(state_dir)
        self.session = session
        self.path = inbox_path(self.state_dir, session)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self.pos = self.path.stat().st_size

    def poll(self) -> list[dict]:
        """Complete records appended since the last poll (a partial last line waits)."""
        try:
            if self.path.stat().st_size <= self.pos:
                return []
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                chunk = fh.read(MAX_READ)
        except OSError:
            return []
        chunk = chunk[: chunk.rfind(b"\n") + 1]
        self.pos += len(chunk)
        out = []
        for line in chunk.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def respond(self, rec: dict, code: int) -> None:
        """Answer a message that waits (``rec["wait"]``) with a MessageBox ID."""
        msg_id = str(rec.get("id", ""))
        if not msg_id.isalnum():
            return  # not one of ours: never let a record name a path
        final = response_path(self.state_dir, self.session, msg_id)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp.write_text(str(int(code)))
        os.replace(tmp, final)
