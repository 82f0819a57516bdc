"""``lanman status [--json]``, ``lanman status close-session ID``, ``close-file ID``: who is
connected to the running ``lanman up`` of this home and what they hold open, like smbstatus,
Get-SmbSession / Get-SmbOpenFile and Close-SmbSession / Close-SmbOpenFile.

Read-only towards the home: it never creates one; it asks the server over the home's status
socket (``lanman.smb.server.status_service``)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json

__all__ = ["status"]


def _home_path(ctx: click.Context) -> Path:
    from lanman.home import default_home_path

    ref = ctx.find_root().obj
    path = getattr(ref, "path", None) or default_home_path()
    if not Path(path).is_dir():
        raise CliError(
            f"no lanman home at {str(path)!r}",
            "give the home of the running server with --home (or $LANMAN_HOME)",
        )
    return Path(path)


def _ask(ctx: click.Context, request: dict) -> dict:
    from lanman.smb.server.status_service import StatusUnavailable, query, socket_path

    home = _home_path(ctx)
    try:
        reply = query(home, request)
    except StatusUnavailable:
        raise CliError(
            f"no running server answers on {socket_path(home)}",
            f"start it with `lanman --home {home} up`; `lanman status` talks to the server "
            "of this home only",
        ) from None
    except PermissionError:
        raise CliError(
            f"permission denied on {socket_path(home)}",
            "run lanman status as the account the server runs as (or root)",
        ) from None
    return reply


def _idle(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


@click.group("status", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Sessions, tree connects, open files and byte-range locks of the running server
    (smbstatus, Get-SmbSession, Get-SmbOpenFile)."""
    if ctx.invoked_subcommand is not None:
        return
    data = _ask(ctx, {"op": "status"})
    if as_json:
        data.pop("ok", None)
        echo_json(data)
        return
    out = console()
    srv = data.get("server", {})
    click.echo(
        f"lanman {srv.get('server_name', '')} (pid {srv.get('pid')}) on {srv.get('listen')}:{srv.get('port')}"
    )
    sessions = data.get("sessions", [])
    if not sessions:
        click.echo("No sessions.")
    else:
        t = Table(
            "SessionId",
            "User",
            "Client",
            "Dialect",
            "Auth",
            "Signed",
            "Encrypted",
            "Idle",
            "Files",
            box=None,
            header_style="bold",
            title="Sessions",
            title_justify="left",
        )
        for s in sessions:
            t.add_row(
                str(s["session_id"]),
                escape(s["user"]),
                escape(s["client"]),
                s["dialect"],
                s["auth"],
                "yes" if s["signed"] else "no",
                "yes" if s["encrypted"] else "no",
                _idle(s["idle_seconds"]),
                str(s["open_files"]),
            )
        out.print(t)
    trees = data.get("trees", [])
    if trees:
        t = Table(
            "Share",
            "SessionId",
            "User",
            "Client",
            "Encrypted",
            box=None,
            header_style="bold",
            title="Tree connects",
            title_justify="left",
        )
        for tr in trees:
            t.add_row(
                escape(tr["share"]),
                str(tr["session_id"]),
                escape(tr["user"]),
                escape(tr["client"]),
                "yes" if tr["encrypted"] else "no",
            )
        out.print(t)
    files = data.get("files", [])
    if files:
        t = Table(
            "FileId",
            "User",
            "Share",
            "Path",
            "Access",
            "ShareMode",
            "Oplock",
            "Locks",
            box=None,
            header_style="bold",
            title="Open files",
            title_justify="left",
        )
        for f in files:
            t.add_row(
                str(f["file_id"]),
                escape(f["user"]),
                escape(f["share"]),
                escape(f["path"] or "\\"),
                f["access"],
                f["share_mode"],
                f["oplock"],
                str(f["locks"]),
            )
        out.print(t)
    locks = data.get("locks", [])
    if locks:
        t = Table(
            "FileId",
            "Share",
            "Path",
            "Offset",
            "Length",
            "Type",
            box=None,
            header_style="bold",
            title="Byte-range locks",
            title_justify="left",
        )
        for lk in locks:
            t.add_row(
                str(lk["file_id"]),
                escape(lk["share"]),
                escape(lk["path"]),
                str(lk["offset"]),
                str(lk["length"]),
                "exclusive" if lk["exclusive"] else "shared",
            )
        out.print(t)


def _close(ctx: click.Context, op: str, ident: int, as_json: bool, what: str) -> None:
    reply = _ask(ctx, {"op": op, "id": ident})
    if not reply.get("ok"):
        raise CliError(
            reply.get("error", f"{what} {ident} could not be closed"),
            "`lanman status` lists the current ids",
        )
    if as_json:
        echo_json(reply["closed"])
        return
    c = reply["closed"]
    path = c.get("path") or "\\"
    extra = f", {c['files']} open file(s) closed" if "files" in c else f" ({path})"
    click.echo(f"Closed {what} {ident} of {c.get('user') or '?'} from {c.get('client')}{extra}.")


@status.command("close-session")
@click.argument("session_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def close_session(ctx: click.Context, session_id: int, as_json: bool) -> None:
    """End session SESSION_ID and close its files (Close-SmbSession); the client's next
    request gets STATUS_USER_SESSION_DELETED."""
    _close(ctx, "close-session", session_id, as_json, "session")


@status.command("close-file")
@click.argument("file_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def close_file(ctx: click.Context, file_id: int, as_json: bool) -> None:
    """Close open file FILE_ID (Close-SmbOpenFile); the client's next I/O on it gets
    STATUS_FILE_CLOSED."""
    _close(ctx, "close-file", file_id, as_json, "file")
