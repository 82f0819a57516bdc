"""``lanman keytab export PRINCIPAL FILE``: an MIT keytab (format 0x0502) of an account."""

from __future__ import annotations

import click

from lanman.cli._common import echo_json
from lanman.cli.domain import open_directory
from lanman.directory.keytab import write_keytab
from lanman.directory.model import ETYPE_NAMES


@click.group("keytab")
def keytab() -> None:
    """Export Kerberos keys for services and clients (keytab files are secrets)."""


@keytab.command("export")
@click.argument("principal")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--append", is_flag=True, help="Add to an existing keytab instead of replacing it.")
@click.option("--no-rc4", is_flag=True, help="Leave out the RC4 (NT hash) key.")
@click.option(
    "--only",
    is_flag=True,
    help="Only PRINCIPAL itself (default for a computer: also NAME$ and every SPN).",
)
@click.option("--json", "as_json", is_flag=True, help="List the written entries as JSON.")
@click.pass_context
def keytab_export(
    ctx: click.Context,
    principal: str,
    file: str,
    append: bool,
    no_rc4: bool,
    only: bool,
    as_json: bool,
) -> None:
    """Write the keys of PRINCIPAL (account, name@REALM or SPN) to FILE (mode 0600)."""
    d = open_directory(ctx)
    entries = d.keytab_entries(principal, with_spns=False if only else None, rc4=not no_rc4)
    write_keytab(file, entries, append=append)
    if as_json:
        echo_json(
            [
                {
                    "principal": e.principal,
                    "kvno": e.kvno,
                    "enctype": ETYPE_NAMES.get(e.enctype, str(e.enctype)),
                }
                for e in entries
            ]
        )
        return
    for e in entries:
        click.echo(f"  {e.principal} kvno {e.kvno} {ETYPE_NAMES.get(e.enctype, e.enctype)}")
    click.echo(f"Wrote {len(entries)} entries to {file}.")
