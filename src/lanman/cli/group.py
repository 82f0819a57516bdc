"""``lanman group add|list|members|addmember|removemember|remove``: domain groups."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import console, echo_json, json_output, yes_no
from lanman.cli.domain import open_directory


@click.group("group")
def group() -> None:
    """Manage domain groups and their members (nested groups allowed)."""


@group.command("add")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(["global", "domain_local", "universal"]),
    default="global",
    show_default=True,
)
@click.option("--description", default="")
@click.pass_context
@json_output
def group_add(ctx: click.Context, name: str, scope: str, description: str) -> None:
    """Create security group NAME."""
    g = open_directory(ctx).add_group(name, scope=scope, description=description)
    click.echo(f"Group {g.name} was added ({g.sid}).")


@group.command("remove")
@click.argument("name")
@click.pass_context
@json_output
def group_remove(ctx: click.Context, name: str) -> None:
    """Delete group NAME (built-in groups cannot be deleted)."""
    open_directory(ctx).remove_group(name)
    click.echo(f"Group {name} was removed.")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def group_list(ctx: click.Context, as_json: bool) -> None:
    """List the groups with their RIDs and scopes."""
    gs = open_directory(ctx).list_groups()
    if as_json:
        echo_json([g.as_dict() for g in gs])
        return
    t = Table("Name", "RID", "Scope", "Built-in", box=None, header_style="bold")
    for g in gs:
        t.add_row(escape(g.name), str(g.rid), g.scope, yes_no(g.builtin))
    console().print(t)


@group.command("members")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def group_members(ctx: click.Context, name: str, as_json: bool) -> None:
    """Direct members of group NAME (accounts whose primary group it is included)."""
    ms = open_directory(ctx).group_members(name)
    if as_json:
        echo_json(ms)
        return
    if not ms:
        click.echo("There are no entries in the list.")
        return
    t = Table("Name", "Kind", "SID", box=None, header_style="bold")
    for m in ms:
        t.add_row(escape(m["name"]), m["kind"], m["sid"])
    console().print(t)


@group.command("addmember")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@click.pass_context
@json_output
def group_addmember(ctx: click.Context, name: str, members: tuple[str, ...]) -> None:
    """Add accounts or groups MEMBERS to group NAME."""
    d = open_directory(ctx)
    for m in members:
        d.add_member(name, m)
        click.echo(f"{m} was added to {name}.")


@group.command("removemember")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@click.pass_context
@json_output
def group_removemember(ctx: click.Context, name: str, members: tuple[str, ...]) -> None:
    """Remove MEMBERS from group NAME."""
    d = open_directory(ctx)
    for m in members:
        d.remove_member(name, m)
        click.echo(f"{m} was removed from {name}.")
