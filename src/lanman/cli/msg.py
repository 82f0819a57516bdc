"""``lanman msg``: the Windows msg command, plus the session table it works on.

``lanman msg {user|session|id|@file|*} [/SERVER:host] [/TIME:s] [/V] [/W] [message]`` sends;
``lanman msg sessions`` lists sessions (like qwinsta); ``session-add`` / ``session-remove``
manage lanman's own sessions; ``agent`` runs a session that shows messages in this terminal.
A user literally named like a verb is reached with ``lanman msg -- sessions ...``.

The listing is one command, :data:`sessions_cmd`, reached as ``lanman msg sessions`` and
``lanman session list`` (:mod:`lanman.cli.session`).  :func:`main` is the ``msg`` console
script: exactly the Windows syntax (``msg * /SERVER:host hello``), no lanman verbs, the home
from ``$LANMAN_HOME``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from lanman.cli._common import get_home, json_output
from lanman.msg.agent import InboxFollower
from lanman.msg.command import EXIT_FAILURE, USAGE, LocalBackend, MsgError, run_msg
from lanman.msg.delivery import IDOK
from lanman.msg.host import MsgHost, local_caller
from lanman.msg.sessions import SessionState
from lanman.msg.syntax import MsgArgs, MsgUsageError, parse_msg_args

__all__ = ["main", "msg", "msg_script", "sessions_cmd"]


def msg_state_dir(home) -> Path:
    return Path(home.path) / "msg"


def open_host(ctx: click.Context) -> MsgHost:
    home = get_home(ctx)

    def emit(name: str, **data) -> None:
        from lanman.events.catalogue import CATALOGUE

        if name in CATALOGUE:
            home.events.emit(name, source="msg", **data)

    return MsgHost.open(msg_state_dir(home), emit=emit)


class _MsgGroup(click.Group):
    """Verbs when the first word names one; the Windows msg syntax otherwise."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        if args and args[0] == "--":
            args = args[1:]
        ctx.meta["lanman.msg.argv"] = list(args)
        return super().parse_args(ctx, [])


def _backend_factory(ctx: click.Context):
    def make(a: MsgArgs):
        if a.server:
            from lanman.msg.remote import remote_backend

            return remote_backend(a)
        caller = local_caller()
        return LocalBackend(open_host(ctx), caller)

    return make


def _send(ctx: click.Context, argv: list[str]) -> None:
    """The Windows msg command line: parse, send, exit with run_msg's code."""
    try:
        a = parse_msg_args(argv)
    except MsgUsageError as exc:
        click.echo("Invalid parameter(s)", err=True)
        click.echo(str(exc), err=True)
        click.echo(USAGE, err=True, nl=False)
        ctx.exit(EXIT_FAILURE)
    if a.help:
        click.echo(USAGE, nl=False)
        ctx.exit(0)
    sender = a.user if a.server and a.user else local_caller().display
    rc = run_msg(a, _backend_factory(ctx), sender=sender)
    ctx.exit(rc)


@click.group("msg", cls=_MsgGroup, invoke_without_command=True, add_help_option=False)
@click.pass_context
def msg(ctx: click.Context) -> None:
    """Send a message to the sessions of a host (Windows msg syntax; see `lanman msg /?`)."""
    if ctx.invoked_subcommand is not None:
        return
    _send(ctx, ctx.meta.get("lanman.msg.argv", []))


class _RawCommand(click.Command):
    """Every argument goes to the Windows parser untouched (``--``, ``/?``, ``-v`` too)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["lanman.msg.argv"] = list(args)
        return super().parse_args(ctx, [])


@click.command("msg", cls=_RawCommand, add_help_option=False)
@click.pass_context
def msg_script(ctx: click.Context) -> None:
    """msg {user | session-name | session-id | @file | *} [/SERVER:host] [/TIME:s] [/V] [/W]
    [message]"""
    _send(ctx, ctx.meta.get("lanman.msg.argv", []))


def main(argv: list[str] | None = None) -> None:
    """The ``msg`` console script (pyproject ``[project.scripts]``)."""
    from lanman.cli._common import HomeRef

    msg_script.main(
        args=sys.argv[1:] if argv is None else list(argv), prog_name="msg", obj=HomeRef(None)
    )


@click.command("sessions")
@click.option("--server", "-s", help="Host to ask (host[:port]); default this one.")
@click.option("--user", "-U", help="user[%password] for --server.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def sessions_cmd(ctx: click.Context, server: str | None, user: str | None, as_json: bool) -> None:
    """List sessions like qwinsta: SESSIONNAME USERNAME ID STATE TYPE DEVICE."""
    if server:
        from lanman.msg.remote import remote_backend

        a = MsgArgs(target="*", server=server)
        if user:
            a.user, sep, pw = user.partition("%")
            a.password = pw if sep else None
        backend = remote_backend(a)
        try:
            rows = backend.list_sessions()
        except MsgError as exc:
            click.echo(f"Error {exc.win32} getting session names", err=True)
            if exc.detail:
                click.echo(f"lanman: {exc.detail}", err=True)
            ctx.exit(EXIT_FAILURE)
        finally:
            backend.close()
    else:
        rows = open_host(ctx).sessions()
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in rows], indent=2))
        return
    click.echo(f" {'SESSIONNAME':<18}{'USERNAME':<20}{'ID':>6}  {'STATE':<8}{'TYPE':<10}DEVICE")
    for s in rows:
        device = s.tty or (s.inbox or "")
        click.echo(
            f" {s.name:<18}{s.user:<20}{s.session_id:>6}  {s.state.label:<8}{s.kind:<10}{device}"
        )


msg.add_command(sessions_cmd)


_RESPONSES = {"ok": IDOK, "cancel": 2, "yes": 6, "no": 7, "timeout": 32000}


@msg.command("session-add")
@click.argument("name")
@click.option("--user", "user", required=True, help="User the session belongs to.")
@click.option(
    "--state",
    type=click.Choice([s.name.lower() for s in SessionState]),
    default="active",
    show_default=True,
)
@click.option(
    "--auto-response",
    type=click.Choice(sorted(_RESPONSES)),
    help="Answer /W at once with this response (tests, unattended hosts).",
)
@click.pass_context
@json_output
def session_add(
    ctx: click.Context, name: str, user: str, state: str, auto_response: str | None
) -> None:
    """Register one of lanman's own sessions (messages go to its inbox file)."""
    host = open_host(ctx)
    try:
        host.virtual.add(
            name,
            user,
            state=SessionState[state.upper()],
            auto_response=_RESPONSES.get(auto_response or ""),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    s = next(s for s in host.sessions() if s.name.casefold() == name.casefold())
    click.echo(f"Session {s.name} registered with id {s.session_id}.")


@msg.command("session-remove")
@click.argument("name")
@click.pass_context
@json_output
def session_remove(ctx: click.Context, name: str) -> None:
    """Remove one of lanman's own sessions."""
    if not open_host(ctx).virtual.remove(name):
        click.echo(f"No session exists for {name}", err=True)
        ctx.exit(EXIT_FAILURE)
    click.echo(f"Session {name} removed.")


@msg.command("agent")
@click.option("--name", help="Session name (default: agent#<pid>).")
@click.option("--user", help="Session user (default: you).")
@click.option(
    "--respond",
    type=click.Choice(sorted(_RESPONSES)),
    default=None,
    help="Answer messages that wait with this response instead of asking.",
)
@click.option("--max-seconds", type=float, default=0, help="Stop after this long (0: never).")
@click.pass_context
def agent(
    ctx: click.Context, name: str | None, user: str | None, respond: str | None, max_seconds: float
) -> None:
    """Register a session and show incoming messages in this terminal (Ctrl-C stops)."""
    host = open_host(ctx)
    name = name or f"agent#{os.getpid()}"
    host.virtual.add(name, user or local_caller().user, pid=os.getpid())
    s = next(s for s in host.sessions() if s.name.casefold() == name.casefold())
    follower = InboxFollower(host.state_dir, s)
    click.echo(f"lanman msg agent: session {s.name} (id {s.session_id}); Ctrl-C stops.")
    sys.stdout.flush()
    start = time.monotonic()
    try:
        while not max_seconds or time.monotonic() - start < max_seconds:
            for rec in follower.poll():
                title = f" — {rec.get('title')}" if str(rec.get("title", "")).strip() else ""
                click.echo(f"\nMessage from {rec.get('sender')}{title}:\n{rec.get('message')}")
                if rec.get("wait"):
                    code = _RESPONSES.get(respond or "")
                    if code is None:
                        code = IDOK if click.confirm("OK?", default=True) else 2
                    follower.respond(rec, code)
                sys.stdout.flush()
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        host.virtual.remove(name)
