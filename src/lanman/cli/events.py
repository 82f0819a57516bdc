"""``lanman events``: show the security and operational event log; ``lanman events export``
(Windows event XML or JSON) and ``lanman events clear``."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home, json_output


def check_time(option: str, value: str | None) -> None:
    """Refuse a --since/--until that is not ISO 8601 (one-line message and remedy)."""
    if value is None:
        return
    from datetime import datetime

    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"{option} {value!r} is not an ISO 8601 time",
            "use e.g. 2026-01-31 or 2026-01-31T12:00:00Z",
        ) from None


@click.group("events", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--limit",
    type=click.IntRange(1, 100000),
    default=100,
    show_default=True,
    help="At most this many events (newest first).",
)
@click.option("--id", "event_id", type=int, help="Only this event id (e.g. 9001).")
@click.option("--since", help="Only events at or after this ISO 8601 time (UTC if no zone).")
@click.option("--until", help="Only events at or before this ISO 8601 time.")
@click.pass_context
def events(
    ctx: click.Context,
    as_json: bool,
    limit: int,
    event_id: int | None,
    since: str | None,
    until: str | None,
) -> None:
    """Show the event log, newest first (`lanman events export` writes Windows event XML,
    `lanman events clear` empties it)."""
    if ctx.invoked_subcommand is not None:
        return
    check_time("--since", since)
    check_time("--until", until)
    rows = get_home(ctx).events.query(since=since, until=until, event_id=event_id, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No events were found that match the specified selection criteria.")
        return
    t = Table(
        "TimeCreated (UTC)", "Id", "Level", "Source", "Message", box=None, header_style="bold"
    )
    for r in rows:
        t.add_row(
            r["time_utc"][:19].replace("T", " "),
            str(r["event_id"]),
            r["level"],
            escape(r["source"]),
            escape(r["message"]),
        )
    console().print(t)


@events.command("clear")
@click.option(
    "--backup",
    type=click.Path(dir_okay=False, writable=True),
    help="First save every event to this file (JSON lines); it must not exist yet.",
)
@click.pass_context
@json_output
def events_clear(ctx: click.Context, backup: str | None) -> None:
    """Remove every event, like wevtutil cl; the clearing itself is logged (event 1102)."""
    import getpass
    import json
    import os

    home = get_home(ctx)
    note = ""
    if backup is not None:
        rows = home.events.query(limit=10**9)
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise CliError(
                f"cannot create backup file {backup!r}: {e.strerror}",
                "give a new file name in a writable directory",
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in reversed(rows):  # oldest first
                fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        note = f"; saved to {backup}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    removed = home.events.clear()
    home.events.emit("LOG_CLEARED", source="lanman-cli", user=user, removed=removed, backup=note)
    click.echo(f"Cleared {removed} events{note}.")


@events.command("export")
@click.option("--since", help="Only events at or after this ISO 8601 time (UTC if no zone).")
@click.option("--until", help="Only events at or before this ISO 8601 time.")
@click.option("--id", "event_id", type=int, help="Only this event id (e.g. 305).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xml", "json"]),
    default="xml",
    show_default=True,
    help="xml: Windows event XML (as `wevtutil qe /f:xml /e:Events`); json: a list.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (default: standard output).",
)
@click.pass_context
def events_export(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    event_id: int | None,
    fmt: str,
    output: str | None,
) -> None:
    """Export events oldest first, e.g. for a SIEM or Windows tooling."""
    import json

    from lanman.events.xml import events_to_xml

    check_time("--since", since)
    check_time("--until", until)
    home = get_home(ctx)
    rows = home.events.query(since=since, until=until, event_id=event_id, limit=10**9)
    rows.reverse()
    if fmt == "xml":
        text = events_to_xml(rows, computer=home.config.server_name)
    else:
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise CliError(
            f"cannot write {output!r}: {e.strerror}", "give a file in a writable directory"
        ) from None
    click.echo(f"Exported {len(rows)} events to {output} ({fmt}).", err=True)
