"""``lanman share add|set|list|remove`` (after New-SmbShare / Set-SmbShare)."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import WIN_BOOL, console, echo_json, get_home, yes_no


@click.group("share")
def share() -> None:
    """Manage the file shares the SMB server offers."""


@share.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(file_okay=False, path_type=str))
@click.option("--read-only", is_flag=True, help="Refuse writes on this share.")
@click.option(
    "--guest-ok",
    is_flag=True,
    help="Allow guest sessions (also needs --map-to-guest true in server-config).",
)
@click.option("--remark", default="", help="Description shown by `smbclient -L`.")
@click.option(
    "--force",
    is_flag=True,
    help="Allow sharing '/' (the data directory stays unreachable through SMB).",
)
@click.option(
    "--encrypt-data",
    is_flag=True,
    help="Require SMB 3 encryption on this share (New-SmbShare -EncryptData $true).",
)
@click.pass_context
def share_add(
    ctx: click.Context,
    name: str,
    path: str,
    read_only: bool,
    guest_ok: bool,
    remark: str,
    force: bool,
    encrypt_data: bool,
) -> None:
    """Share directory PATH as NAME.

    Refused: lanman's data directory (--home), any directory containing it or inside it
    (except its shares/ subdirectory), and '/' without --force."""
    home = get_home(ctx, create=True)
    s = home.store.add_share(
        name,
        path,
        read_only=read_only,
        guest_ok=guest_ok,
        remark=remark,
        data_dir=home.path,
        force=force,
        encrypt_data=encrypt_data,
    )
    home.events.emit(
        "SHARE_ADDED",
        source="lanman-cli",
        share=s.name,
        path=s.path,
        read_only=s.read_only,
        guest_ok=s.guest_ok,
    )
    click.echo(f"{s.name} was shared successfully ({s.path}).")
    if encrypt_data:
        _encrypt_note(home)
    if guest_ok:
        if not home.config.map_to_guest:
            click.echo(
                "warning: guests reach this share only after "
                "`lanman smb server-config set --map-to-guest true`.",
                err=True,
            )
        click.echo(
            "warning: guest sessions are never signed; Windows 11 24H2 and other clients "
            "that require signing refuse them.",
            err=True,
        )


def _encrypt_note(home) -> None:
    from lanman.policy.hoststate import effective_server

    if effective_server(home).reject_unencrypted_access:
        click.echo(
            "note: clients that cannot encrypt (SMB 2.x, or 3.x without encryption) get "
            "STATUS_ACCESS_DENIED on this share (RejectUnencryptedAccess).",
            err=True,
        )


@share.command("set")
@click.argument("name")
@click.option(
    "--encrypt-data",
    type=WIN_BOOL,
    required=True,
    help="true|false. Require SMB 3 encryption on this share (Set-SmbShare -EncryptData).",
)
@click.pass_context
def share_set(ctx: click.Context, name: str, encrypt_data: bool) -> None:
    """Change a share's settings, like Set-SmbShare. Applies to new tree connects."""
    home = get_home(ctx)
    s = home.store.set_share(name, encrypt_data=encrypt_data)
    home.events.emit(
        "SHARE_CHANGED", source="lanman-cli", share=s.name, changes=f"EncryptData: {s.encrypt_data}"
    )
    click.echo(f"{s.name}: EncryptData {yes_no(s.encrypt_data)}.")
    if s.encrypt_data:
        _encrypt_note(home)


@share.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def share_list(ctx: click.Context, as_json: bool) -> None:
    """List the shares."""
    shares = get_home(ctx).store.list_shares()
    if as_json:
        echo_json([asdict(s) for s in shares])
        return
    if not shares:
        click.echo("There are no entries in the list.")
        return
    t = Table(
        "Name",
        "Path",
        "ReadOnly",
        "GuestOk",
        "EncryptData",
        "Remark",
        box=None,
        header_style="bold",
    )
    for s in shares:
        t.add_row(
            escape(s.name),
            escape(s.path),
            yes_no(s.read_only),
            yes_no(s.guest_ok),
            yes_no(s.encrypt_data),
            escape(s.remark),
        )
    console().print(t)


@share.command("remove")
@click.argument("name")
@click.pass_context
def share_remove(ctx: click.Context, name: str) -> None:
    """Stop sharing NAME (the directory itself is left alone)."""
    home = get_home(ctx)
    home.store.remove_share(name)
    home.events.emit("SHARE_REMOVED", source="lanman-cli", share=name)
    click.echo(f"{name} was deleted successfully.")
