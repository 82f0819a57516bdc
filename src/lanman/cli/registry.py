"""``lanman registry import|export FILE.reg`` ("Windows Registry Editor Version 5.00")."""

from __future__ import annotations

from pathlib import Path

import click

from lanman.cli._common import CliError, json_output
from lanman.cli.policy import load_host, save
from lanman.policy.catalogue import lookup_path
from lanman.policy.effective import resolve_all
from lanman.policy.regfile import RegFileError, dumps_reg, encode_reg, import_reg, read_reg_file


@click.group("registry")
def registry() -> None:
    """Import and export the policy layers as .reg files (regedit's format)."""


_SCOPE = click.option(
    "--scope",
    type=click.Choice(["local", "group"]),
    default="local",
    show_default=True,
    help="Layer to read/write. Values under HKLM\\SOFTWARE\\Policies always go to group.",
)


@registry.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_SCOPE
@click.pass_context
@json_output
def registry_import(ctx: click.Context, file: Path, scope: str) -> None:
    """Apply FILE (UTF-16LE or UTF-8). All or nothing: an error names the line."""
    home, host = load_host(ctx)
    try:
        raw = read_reg_file(file)
        new = import_reg(host, raw, str(file), scope)
    except RegFileError as e:
        raise CliError(e.message, e.remedy) from None
    before = {s.entry.name: (s.value, s.origin) for s in resolve_all(host)}
    save(home, new)
    changed = 0
    for s in resolve_all(new):
        if before[s.entry.name] != (s.value, s.origin):
            changed += 1
            shown = ", ".join(s.value) if isinstance(s.value, tuple) else s.value
            click.echo(f"{s.entry.path}: {shown} (origin: {s.origin})")
    foreign = sum(
        1
        for sc in ("local", "group")
        for k, v, _ in new.layer(sc).items()
        if lookup_path(k, v) is None
    )
    from lanman.cli.audit import actor

    home.events.emit(
        "REGISTRY_IMPORTED",
        source="lanman-cli",
        actor=actor(),
        file=str(file),
        scope=scope,
        changed=changed,
    )
    click.echo(f"Imported {file}; {changed} effective setting(s) changed.")
    if foreign:
        click.echo(
            f"note: {foreign} stored value(s) are not in lanman's catalogue; they are kept for "
            "export but not used.",
            err=True,
        )


@registry.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_SCOPE
@click.option(
    "--encoding",
    type=click.Choice(["utf-16", "utf-8"]),
    default="utf-16",
    show_default=True,
    help="utf-16: UTF-16LE with BOM, as regedit writes.",
)
@click.pass_context
def registry_export(ctx: click.Context, file: Path, scope: str, encoding: str) -> None:
    """Write one layer to FILE."""
    _home, host = load_host(ctx)
    data = encode_reg(dumps_reg(host, scope), encoding)
    try:
        file.write_bytes(data)
    except OSError as e:
        raise CliError(f"{file}: cannot write: {e.strerror}", "choose a writable path") from None
    click.echo(f"Exported the {scope} layer ({len(host.layer(scope))} value(s)) to {file}.")
