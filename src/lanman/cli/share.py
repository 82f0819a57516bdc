"""``lanman share add|set|list|remove|grant|revoke|block|unblock|access`` (after New-SmbShare,
Set-SmbShare, Grant-/Revoke-/Block-/Unblock-/Get-SmbShareAccess)."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import WIN_BOOL, console, echo_json, get_home, json_output, yes_no


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
@click.option(
    "--full-access",
    "full_access",
    multiple=True,
    metavar="ACCOUNT",
    help="Grant Full share access (New-SmbShare -FullAccess); repeatable.",
)
@click.option(
    "--change-access",
    "change_access",
    multiple=True,
    metavar="ACCOUNT",
    help="Grant Change (read, write, delete) share access; repeatable.",
)
@click.option(
    "--read-access",
    "read_access",
    multiple=True,
    metavar="ACCOUNT",
    help="Grant Read share access; repeatable.",
)
@click.option(
    "--no-access",
    "no_access",
    multiple=True,
    metavar="ACCOUNT",
    help="Deny all share access (a deny ACE, New-SmbShare -NoAccess); repeatable.",
)
@click.pass_context
@json_output
def share_add(
    ctx: click.Context,
    name: str,
    path: str,
    read_only: bool,
    guest_ok: bool,
    remark: str,
    force: bool,
    encrypt_data: bool,
    full_access: tuple[str, ...],
    change_access: tuple[str, ...],
    read_access: tuple[str, ...],
    no_access: tuple[str, ...],
) -> None:
    """Share directory PATH as NAME.

    Share permissions as New-SmbShare sets them: without --full-access, --change-access,
    --read-access or --no-access, Everyone gets Read. ACCOUNT is a user, a group, Everyone,
    "Authenticated Users", BUILTIN\\Administrators or a SID.

    Refused: lanman's data directory (--home), any directory containing it or inside it
    (except its shares/ subdirectory), and '/' without --force."""
    from lanman.security.share import build_share_sd

    home = get_home(ctx, create=True)
    given = bool(full_access or change_access or read_access or no_access)
    sd = build_share_sd(
        full=[_sid(home, a) for a in full_access],
        change=[_sid(home, a) for a in change_access],
        read=[_sid(home, a) for a in read_access],
        no_access=[_sid(home, a) for a in no_access],
    )
    s = home.store.add_share(
        name,
        path,
        read_only=read_only,
        guest_ok=guest_ok,
        remark=remark,
        data_dir=home.path,
        force=force,
        encrypt_data=encrypt_data,
        security_descriptor=sd,
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
    if not given:
        click.echo(
            f"note: share permissions are Everyone Read (New-SmbShare's default); allow writes "
            f"with `lanman share grant {s.name} ACCOUNT --access-right change|full`.",
            err=True,
        )
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
@json_output
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
        echo_json([_share_json(None, s) for s in shares])
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
@json_output
def share_remove(ctx: click.Context, name: str) -> None:
    """Stop sharing NAME (the directory itself is left alone)."""
    home = get_home(ctx)
    home.store.remove_share(name)
    home.events.emit("SHARE_REMOVED", source="lanman-cli", share=name)
    click.echo(f"{name} was deleted successfully.")


# ---- share permissions (Grant-/Revoke-/Block-/Unblock-/Get-SmbShareAccess) ----------------


def _sid(home, account: str) -> str:
    from lanman.directory.identity import resolve_account

    return resolve_account(home.path, home.store, account)[0]


def _share_or_fail(home, name: str):
    from lanman.store import StoreError

    s = home.store.get_share(name)
    if s is None:
        raise StoreError(
            f"share {name!r} does not exist",
            "`lanman share list` shows the configured shares",
            "NERR_NetNameNotFound",
        )
    return s


def _access_rows(home, s) -> list[dict]:
    from lanman.directory.identity import account_name
    from lanman.security.share import entries

    return [
        {
            "name": s.name,
            "scope_name": "*",
            "account_name": account_name(home.path, home.store, e.sid),
            "sid": e.sid,
            "access_control_type": e.control,
            "access_right": e.right,
            "access_mask": e.mask,
        }
        for e in entries(s.security_descriptor)
    ]


def _share_json(home, s) -> dict:
    from lanman.security.descriptor import decode_sd
    from lanman.security.sddl_write import sd_to_sddl
    from lanman.security.share import LEGACY_SHARE

    d = asdict(s)
    sd = s.security_descriptor or LEGACY_SHARE
    d["security_descriptor"] = sd_to_sddl(decode_sd(sd))
    return d


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the share's permissions as JSON."
)


def _done(home, s, as_json: bool, text: str) -> None:
    if as_json:
        echo_json(_access_rows(home, s))
    else:
        click.echo(text)


def _changed(home, s, what: str) -> None:
    from lanman.security.descriptor import decode_sd
    from lanman.security.sddl_write import sd_to_sddl

    home.events.emit(
        "SHARE_CHANGED",
        source="lanman-cli",
        share=s.name,
        changes=f"{what}; permissions now {sd_to_sddl(decode_sd(s.security_descriptor))}",
    )


@share.command("grant")
@click.argument("name")
@click.argument("account")
@JSON_OPTION
@click.option(
    "--access-right",
    type=click.Choice(["full", "change", "read"], case_sensitive=False),
    required=True,
    help="Full, Change or Read (Grant-SmbShareAccess -AccessRight).",
)
@click.pass_context
def share_grant(
    ctx: click.Context, name: str, account: str, access_right: str, as_json: bool
) -> None:
    """Give ACCOUNT share access to NAME, like Grant-SmbShareAccess (replaces the account's
    allow entry; a block stays). Applies to new tree connects."""
    from lanman.directory.identity import resolve_account
    from lanman.security.share import ACCESS_RIGHTS, grant

    home = get_home(ctx)
    s = _share_or_fail(home, name)
    sid, label = resolve_account(home.path, home.store, account)
    s = home.store.set_share_security(
        s.name, grant(s.security_descriptor, sid, ACCESS_RIGHTS[access_right.lower()])
    )
    _changed(home, s, f"granted {access_right.capitalize()} to {label}")
    _done(home, s, as_json, f"{s.name}: {label} has {access_right.capitalize()} access.")


@share.command("revoke")
@click.argument("name")
@click.argument("account")
@JSON_OPTION
@click.pass_context
def share_revoke(ctx: click.Context, name: str, account: str, as_json: bool) -> None:
    """Remove ACCOUNT's allow entries from NAME's permissions, like Revoke-SmbShareAccess."""
    from lanman.directory.identity import resolve_account
    from lanman.security.share import revoke

    home = get_home(ctx)
    s = _share_or_fail(home, name)
    sid, label = resolve_account(home.path, home.store, account)
    sd, found = revoke(s.security_descriptor, sid)
    if not found:
        _done(home, s, as_json, f"{s.name}: {label} has no allow entry; nothing changed.")
        return
    s = home.store.set_share_security(s.name, sd)
    _changed(home, s, f"revoked {label}")
    _done(home, s, as_json, f"{s.name}: access of {label} revoked.")


@share.command("block")
@click.argument("name")
@click.argument("account")
@JSON_OPTION
@click.pass_context
def share_block(ctx: click.Context, name: str, account: str, as_json: bool) -> None:
    """Deny ACCOUNT all access to NAME, like Block-SmbShareAccess (a deny ACE that wins over
    every grant, groups included)."""
    from lanman.directory.identity import resolve_account
    from lanman.security.share import block

    home = get_home(ctx)
    s = _share_or_fail(home, name)
    sid, label = resolve_account(home.path, home.store, account)
    s = home.store.set_share_security(s.name, block(s.security_descriptor, sid))
    _changed(home, s, f"blocked {label}")
    _done(home, s, as_json, f"{s.name}: {label} is denied access.")


@share.command("unblock")
@click.argument("name")
@click.argument("account")
@JSON_OPTION
@click.pass_context
def share_unblock(ctx: click.Context, name: str, account: str, as_json: bool) -> None:
    """Remove ACCOUNT's deny entries from NAME, like Unblock-SmbShareAccess."""
    from lanman.directory.identity import resolve_account
    from lanman.security.share import unblock

    home = get_home(ctx)
    s = _share_or_fail(home, name)
    sid, label = resolve_account(home.path, home.store, account)
    sd, found = unblock(s.security_descriptor, sid)
    if not found:
        _done(home, s, as_json, f"{s.name}: {label} is not blocked; nothing changed.")
        return
    s = home.store.set_share_security(s.name, sd)
    _changed(home, s, f"unblocked {label}")
    _done(home, s, as_json, f"{s.name}: {label} is no longer denied.")


@share.command("access")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def share_access_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show NAME's share permissions, like Get-SmbShareAccess."""
    home = get_home(ctx)
    s = _share_or_fail(home, name)
    rows = _access_rows(home, s)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"{s.name}: no entries: nobody can connect.")
        return
    t = Table("Name", "AccountName", "AccessControlType", "AccessRight", box=None)
    for r in rows:
        t.add_row(
            escape(r["name"]),
            escape(r["account_name"]),
            r["access_control_type"],
            r["access_right"],
        )
    console().print(t)
