"""The SMB2 commands the server answers, one row each: what a request of that command needs
before its handler runs (MS-SMB2 3.3.5.2) and which handler runs it.

``ServerConnection`` reads only this table: the session check (3.3.5.2.9: NEGOTIATE,
SESSION_SETUP, ECHO and CANCEL need none; an expired session still serves LOGOFF, CLOSE and
LOCK), the tree check (3.3.5.2.11: STATUS_NETWORK_NAME_DELETED for an unknown TreeId), the
credit charge of payload-sized requests (3.3.5.2.5) and the handler method. A command
missing here is answered STATUS_INVALID_PARAMETER (3.3.5.2.6 leaves unknown commands to
the server; Windows answers so).
"""

from __future__ import annotations

from dataclasses import dataclass

from lanman.smb.wire.constants import Command

__all__ = ["COMMANDS", "CommandSpec"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What the dispatcher checks before a command's handler runs."""

    command: Command
    #: method of ServerConnection (sessions.py / files.py / connection.py) that answers it
    handler: str
    #: a valid session is required (3.3.5.2.9)
    needs_session: bool = True
    #: still processed on a session past its Kerberos ticket's end (3.3.5.2.9)
    while_expired: bool = False
    #: the TreeId must name a tree connect of the session (3.3.5.2.11)
    needs_tree: bool = True
    #: the payload size sets the minimum CreditCharge (3.3.5.2.5)
    sized_charge: bool = False


_ROWS = (
    CommandSpec(Command.NEGOTIATE, "_negotiate", needs_session=False, needs_tree=False),
    CommandSpec(Command.SESSION_SETUP, "_session_setup", needs_session=False, needs_tree=False),
    CommandSpec(Command.LOGOFF, "_logoff", while_expired=True, needs_tree=False),
    CommandSpec(Command.TREE_CONNECT, "_tree_connect", needs_tree=False),
    CommandSpec(Command.TREE_DISCONNECT, "_tree_disconnect"),
    CommandSpec(Command.CREATE, "_create"),
    CommandSpec(Command.CLOSE, "_close", while_expired=True),
    CommandSpec(Command.FLUSH, "_flush"),
    CommandSpec(Command.READ, "_read", sized_charge=True),
    CommandSpec(Command.WRITE, "_write", sized_charge=True),
    CommandSpec(Command.LOCK, "_lock", while_expired=True),
    CommandSpec(Command.IOCTL, "_ioctl", sized_charge=True),
    # CANCEL is handled before dispatch (it consumes no MessageId and gets no response)
    CommandSpec(Command.CANCEL, "", needs_session=False, needs_tree=False),
    CommandSpec(Command.ECHO, "_echo", needs_session=False, needs_tree=False),
    CommandSpec(Command.QUERY_DIRECTORY, "_query_directory", sized_charge=True),
    CommandSpec(Command.CHANGE_NOTIFY, "_change_notify", sized_charge=True),
    CommandSpec(Command.QUERY_INFO, "_query_info", sized_charge=True),
    CommandSpec(Command.SET_INFO, "_set_info", sized_charge=True),
    # OPLOCK_BREAK carries a FileId or a LeaseKey, not necessarily a live TreeId (3.3.5.22)
    CommandSpec(Command.OPLOCK_BREAK, "_oplock_break_ack", needs_tree=False),
)

#: Command value -> its row
COMMANDS: dict[int, CommandSpec] = {int(r.command): r for r in _ROWS}
