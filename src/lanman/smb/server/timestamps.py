"""When a write changes LastWriteTime: the per-open rules, sans-IO (times in Unix ns).

Windows does not move LastWriteTime on every WRITE. What smbtorture's ``smb2.timestamps``
checks (and Windows Server 2016 does, MS-FSA 2.1.5.3 / 2.1.5.14.2 plus the cache manager):

- the first write on an open schedules one *delayed* update, :data:`WRITE_TIME_DELAY` later;
  until then queries see the old time;
- FLUSH, SET_INFO EndOfFile and SET_INFO Basic (even with all times 0) perform a pending
  update at once;
- after the delayed update, further writes on that open do not move the time again, but the
  CLOSE of the open sets it to the close time;
- a client that sets LastWriteTime on the open (a value > 0), or freezes it with -1
  (MS-FSA 2.1.5.14.2 "UserSetModificationTime"), stops every automatic update by this open;
  -2 thaws it.

The file system below updates mtime on every ``pwrite``; :mod:`lanman.smb.server.fs` puts the
visible time back after each write and applies what this state machine decides.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the delay of the first write's update (Windows and Samba: 2 seconds)
WRITE_TIME_DELAY = 2_000_000_000

#: FileBasicInformation time values with a special meaning (MS-FSA 2.1.5.14.2)
TIME_UNCHANGED = 0
TIME_FREEZE = -1
TIME_THAW = -2


@dataclass(slots=True)
class WriteTimeState:
    """LastWriteTime bookkeeping of one open."""

    frozen: bool = False  # the client set or froze the time: no automatic update
    due: int | None = None  # when the pending delayed update happens (ns)
    fired: bool = False  # the delayed update happened
    update_on_close: bool = False  # written after the delayed update: CLOSE sets the time

    def on_write(self, now: int) -> None:
        """A WRITE happened at ``now``; the caller keeps the previous visible time."""
        if self.frozen:
            return
        if not self.fired and self.due is None:
            self.due = now + WRITE_TIME_DELAY
        elif self.fired:
            self.update_on_close = True

    def due_update(self, now: int) -> int | None:
        """The time to apply now if the delayed update is due (``None``: nothing to do)."""
        if self.due is not None and now >= self.due:
            when = self.due
            self.due = None
            self.fired = True
            return when
        return None

    def flush_pending(self, now: int) -> int | None:
        """FLUSH / SET_INFO: a pending update happens at ``now``."""
        if self.due is None:
            return None
        self.due = None
        self.fired = True
        return now

    def on_close(self, now: int) -> int | None:
        """The time CLOSE applies, if any."""
        if self.frozen:
            return None
        if self.due is not None or self.update_on_close:
            self.due = None
            self.update_on_close = False
            return now
        return None

    def on_set_write_time(self, value: int) -> None:
        """SET_INFO FileBasicInformation.LastWriteTime was ``value`` (MS-FSA 2.1.5.14.2)."""
        if value == TIME_THAW:
            self.frozen = False
        elif value == TIME_FREEZE or value > 0:
            self.frozen = True
            self.due = None
            self.update_on_close = False


def set_time_value(value: int) -> int | None:
    """The FILETIME a FileBasicInformation field asks to store, or ``None`` for 0 / -1 / -2."""
    return value if value > 0 else None
