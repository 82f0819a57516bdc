"""The dispatch table (lanman.smb.server.commands): one row per SMB2 command of MS-SMB2
2.2.1, each naming a handler the connection has, with the 3.3.5.2.9 / 3.3.5.2.11 rules."""

from __future__ import annotations

from smb_harness import SmbTestClient, make_context

from lanman.smb.server.commands import COMMANDS
from lanman.smb.server.connection import ServerConnection
from lanman.smb.server.request import AsyncKind
from lanman.smb.wire.constants import Command

STATUS_INVALID_PARAMETER = 0xC000000D


def test_every_command_has_one_row_and_a_handler() -> None:
    assert set(COMMANDS) == {int(c) for c in Command}
    for code, spec in COMMANDS.items():
        assert spec.command == code
        if code == Command.CANCEL:
            assert spec.handler == ""  # answered before dispatch, never with a response
            continue
        assert callable(getattr(ServerConnection, spec.handler)), spec
        assert ServerConnection._handlers[code] is getattr(ServerConnection, spec.handler)


def test_session_and_tree_rules_match_the_spec() -> None:
    sessionless = {c for c, s in COMMANDS.items() if not s.needs_session}
    assert sessionless == {Command.NEGOTIATE, Command.SESSION_SETUP, Command.ECHO, Command.CANCEL}
    expired_ok = {c for c, s in COMMANDS.items() if s.while_expired}
    assert expired_ok == {Command.LOGOFF, Command.CLOSE, Command.LOCK}
    treeless = {c for c, s in COMMANDS.items() if not s.needs_tree}
    assert Command.TREE_CONNECT in treeless and Command.CREATE not in treeless
    assert all(s.needs_session for s in COMMANDS.values() if s.needs_tree)


def test_unknown_command_is_invalid_parameter(tmp_path) -> None:
    ctx, _events, _share = make_context(tmp_path)
    with SmbTestClient(ctx) as c:
        c.login()
        r = c.request(0x0013, b"\x04\x00\x00\x00")  # past OPLOCK_BREAK: no such command
        assert r.status == STATUS_INVALID_PARAMETER
        assert not c.conn.closed


def test_async_kinds_are_checked() -> None:
    assert AsyncKind("lock") is AsyncKind.LOCK
    assert AsyncKind.NOTIFY == "notify"  # compares with the names the handlers use
