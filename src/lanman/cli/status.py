"""``lanman status [--json]``, ``lanman status close-session ID``, ``close-file ID``: who is
connected to the running ``lanman up`` of this home and what they hold open, like smbstatus,
Get-SmbSession / Get-SmbOpenFile and Close-SmbSession / Close-SmbOpenFile.

Read-only towards the home: it never creates one; it asks the server over the home's status
socket (``lanman.smb.server.status_service``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    _table(
        out,
        "Sessions",
        ("SessionId", "User", "Client", "Dialect", "Auth", "Signed", "Encrypted", "Idle", "Files"),
        (
            (
                s["session_id"],
                s["user"],
                s["client"],
                s["dialect"],
                s["auth"],
                _yes(s["signed"]),
                _yes(s["encrypted"]),
                _idle(s["idle_seconds"]),
                s["open_files"],
            )
            for s in sessions
        ),
    )
    _table(
        out,
        "Tree connects",
        ("Share", "SessionId", "User", "Client", "Encrypted"),
        (
            (tr["share"], tr["session_id"], tr["user"], tr["client"], _yes(tr["encrypted"]))
            for tr in data.get("trees", [])
        ),
    )
    _table(
        out,
        "Open files",
        ("FileId", "User", "Share", "Path", "Access", "ShareMode", "Oplock", "Locks"),
        (
            (
                f["file_id"],
                f["user"],
                f["share"],
                f["path"] or "\\",
                f["access"],
                f["share_mode"],
                f["oplock"],
                f["locks"],
            )
            for f in data.get("files", [])
        ),
    )
    _table(
        out,
        "Byte-range locks",
        ("FileId", "Share", "Path", "Offset", "Length", "Type"),
        (
            (
                lk["file_id"],
                lk["share"],
                lk["path"],
                lk["offset"],
                lk["length"],
                "exclusive" if lk["exclusive"] else "shared",
            )
            for lk in data.get("locks", [])
        ),
    )


def _yes(v: bool) -> str:
    return "yes" if v else "no"


def _table(out: Any, title: str, columns: tuple[str, ...], rows: Any) -> None:
    """One section of the status listing (nothing when it has no rows)."""
    rows = list(rows)
    if not rows:
        return
    t = Table(*columns, box=None, header_style="bold", title=title, title_justify="left")
    for r in rows:
        t.add_row(*(escape(str(v)) for v in r))
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
