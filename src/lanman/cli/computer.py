"""``lanman computer add|list|show|remove``: computer accounts (NAME$) of the domain."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import console, echo_json, yes_no
from lanman.cli.domain import _read_secret, open_directory
from lanman.directory.model import ETYPE_NAMES, UAC, Principal, etype_order


def principal_json(p: Principal) -> dict:
    return {
        "name": p.name,
        "rid": p.rid,
        "sid": p.sid,
        "kind": p.kind,
        "upn": p.upn,
        "enabled": not (p.uac & UAC.ACCOUNTDISABLE),
        "locked": p.locked,
        "expires": p.expires,
        "password_expired": p.password_expired,
        "protected_user": p.protected_user,
        "uac": p.uac,
        "kvno": p.kvno,
        "enctypes": [ETYPE_NAMES[e] for e in etype_order(p.keys)],
        "rc4_only": p.keys_pending,
        "primary_group_rid": p.primary_group_rid,
        "group_rids": p.group_rids,
        "spns": p.spns,
    }


@click.group("computer")
def computer() -> None:
    """Manage computer accounts (NAME$) and their SPNs."""


@computer.command("add")
@click.argument("name")
@click.option("--spn", "spns", multiple=True, help="Extra SPN (repeatable).")
@click.option("--no-default-spns", is_flag=True, help="Do not add host/ and cifs/ SPNs.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the machine password from stdin (default: 120 random characters).",
)
@click.pass_context
def computer_add(
    ctx: click.Context,
    name: str,
    spns: tuple[str, ...],
    no_default_spns: bool,
    password_stdin: bool,
) -> None:
    """Create computer account NAME$ (keys from a random machine password)."""
    d = open_directory(ctx)
    p, _ = d.add_computer(
        name,
        password=_read_secret(password_stdin),
        spns=list(spns),
        default_spns=not no_default_spns,
    )
    click.echo(f"Computer {p.name} was added ({p.sid}).")
    for s in p.spns:
        click.echo(f"  SPN {s}")
    click.echo(f"Export its keys with `lanman keytab export {p.name} FILE`.")


@computer.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def computer_list(ctx: click.Context, as_json: bool) -> None:
    """List the computer accounts."""
    ps = open_directory(ctx).list_principals("computer")
    if as_json:
        echo_json([principal_json(p) for p in ps])
        return
    t = Table("Name", "SID", "Enabled", "Kvno", "SPNs", box=None, header_style="bold")
    for p in ps:
        t.add_row(
            escape(p.name), p.sid, yes_no(not p.disabled), str(p.kvno), escape(", ".join(p.spns))
        )
    console().print(t)


@computer.command("remove")
@click.argument("name")
@click.pass_context
def computer_remove(ctx: click.Context, name: str) -> None:
    """Delete computer account NAME$ (and its SPNs and keys)."""
    sam = name if name.endswith("$") else name + "$"
    open_directory(ctx).remove_account(sam, kind="computer")
    click.echo(f"Computer {sam} was removed.")
