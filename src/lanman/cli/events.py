"""``lanman events``: show the security and operational event log."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home


@click.command("events")
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
@click.pass_context
def events(
    ctx: click.Context, as_json: bool, limit: int, event_id: int | None, since: str | None
) -> None:
    """Show the event log, newest first."""
    if since is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise CliError(
                f"--since {since!r} is not an ISO 8601 time",
                "use e.g. 2026-01-31 or 2026-01-31T12:00:00Z",
            ) from None
    rows = get_home(ctx).events.query(since=since, event_id=event_id, limit=limit)
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
