"""``lanman spn add|list|remove``: service principal names (like ``setspn -S / -L / -D``)."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import console, echo_json, json_output
from lanman.cli.domain import open_directory


@click.group("spn")
def spn() -> None:
    """Manage service principal names (unique in the domain)."""


@spn.command("add")
@click.argument("account")
@click.argument("name")
@click.pass_context
@json_output
def spn_add(ctx: click.Context, account: str, name: str) -> None:
    """Register SPN NAME (serviceclass/host[:port]) on ACCOUNT."""
    open_directory(ctx).add_spn(account, name)
    click.echo(f"Registered {name} on {account}.")


@spn.command("remove")
@click.argument("account")
@click.argument("name")
@click.pass_context
@json_output
def spn_remove(ctx: click.Context, account: str, name: str) -> None:
    """Unregister SPN NAME from ACCOUNT."""
    open_directory(ctx).remove_spn(account, name)
    click.echo(f"Unregistered {name} from {account}.")


@spn.command("list")
@click.argument("account", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def spn_list(ctx: click.Context, account: str | None, as_json: bool) -> None:
    """List the SPNs (of ACCOUNT, or of every account)."""
    rows = open_directory(ctx).list_spns(account)
    if as_json:
        echo_json([{"account": a, "spn": s} for a, s in rows])
        return
    if not rows:
        click.echo("There are no entries in the list.")
        return
    t = Table("Account", "SPN", box=None, header_style="bold")
    for a, s in rows:
        t.add_row(escape(a), escape(s))
    console().print(t)
