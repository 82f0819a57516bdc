"""msg: send messages to the sessions logged on to a host, locally and over SMB (MS-TSTS).

* :mod:`lanman.msg.sessions` — session registry and providers (utmp, lanman's own table);
* :mod:`lanman.msg.delivery` — terminal / inbox delivery, responses;
* :mod:`lanman.msg.host` — :class:`MsgHost`: permission check, delivery, events;
* :mod:`lanman.msg.syntax` — the Windows ``msg`` command line;
* :mod:`lanman.msg.command` — the command itself (local or ``/SERVER:``), output and exit codes.
"""

from lanman.msg.delivery import IDASYNC, IDOK, IDTIMEOUT, Message
from lanman.msg.host import Caller, MsgHost, SendResult
from lanman.msg.sessions import MsgSession, SessionRegistry, SessionState

__all__ = [
    "IDASYNC",
    "IDOK",
    "IDTIMEOUT",
    "Caller",
    "Message",
    "MsgHost",
    "MsgSession",
    "SendResult",
    "SessionRegistry",
    "SessionState",
]
