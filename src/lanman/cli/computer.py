"""``lanman computer add|list|show|remove``: computer accounts (NAME$) of the domain."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import console, echo_json, json_output, yes_no
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
        "delegate_to": p.delegate_to,
        "sensitive": bool(p.uac & UAC.NOT_DELEGATED),
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
@json_output
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
@json_output
def computer_remove(ctx: click.Context, name: str) -> None:
    """Delete computer account NAME$ (and its SPNs and keys)."""
    sam = name if name.endswith("$") else name + "$"
    open_directory(ctx).remove_account(sam, kind="computer")
    click.echo(f"Computer {sam} was removed.")


# --- delegation (MS-SFU): shared by `lanman computer delegation` and `lanman user delegation` ---


def show_delegation(info, as_json: bool) -> None:
    if as_json:
        echo_json(info.as_dict())
        return
    t = Table(box=None, show_header=False)
    rbcd = [f"{e['name'] or '?'} ({e['sid']})" for e in info.allowed_from]
    rows = [
        ("Account", info.account),
        ("Unconstrained (TRUSTED_FOR_DELEGATION)", yes_no(info.unconstrained)),
        ("Protocol transition (TRUSTED_TO_AUTH_FOR_DELEGATION)", yes_no(info.protocol_transition)),
        ("msDS-AllowedToDelegateTo", ", ".join(info.allowed_to) or "*None"),
        ("msDS-AllowedToActOnBehalfOfOtherIdentity", ", ".join(rbcd) or "*None"),
        ("Sensitive, cannot be delegated", yes_no(info.sensitive)),
        ("Protected Users", yes_no(info.protected_user)),
    ]
    for k, v in rows:
        t.add_row(k, escape(v))
    console().print(t)


def delegation_command(group: click.Group, what: str) -> None:
    """Add ``delegation NAME`` to ``group`` (``computer`` or ``user``)."""

    @group.command("delegation")
    @click.argument("name")
    @click.option(
        "--allow-to",
        "allow_to",
        multiple=True,
        metavar="SPN",
        help="Allow constrained delegation to SPN (msDS-AllowedToDelegateTo; repeatable).",
    )
    @click.option(
        "--remove-to", "remove_to", multiple=True, metavar="SPN", help="Remove SPN from that list."
    )
    @click.option("--clear-to", is_flag=True, help="Empty msDS-AllowedToDelegateTo.")
    @click.option(
        "--protocol-transition/--no-protocol-transition",
        "protocol_transition",
        default=None,
        help="S4U2Self tickets forwardable: any authentication protocol "
        "(TRUSTED_TO_AUTH_FOR_DELEGATION).",
    )
    @click.option(
        "--unconstrained/--no-unconstrained",
        "unconstrained",
        default=None,
        help="Trust for delegation to any service: clients forward their TGT "
        "(TRUSTED_FOR_DELEGATION, OK-AS-DELEGATE on its tickets).",
    )
    @click.option(
        "--allow-from",
        "allow_from",
        multiple=True,
        metavar="ACCOUNT",
        help="Resource-based constrained delegation: ACCOUNT (name or SID) may delegate to "
        "NAME; replaces the list (repeatable), like "
        "Set-ADComputer -PrincipalsAllowedToDelegateToAccount.",
    )
    @click.option(
        "--add-from", "add_from", multiple=True, metavar="ACCOUNT", help="Add to that list."
    )
    @click.option("--clear-rbcd", is_flag=True, help="Remove the RBCD descriptor.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def delegation(
        ctx: click.Context,
        name: str,
        allow_to: tuple[str, ...],
        remove_to: tuple[str, ...],
        clear_to: bool,
        protocol_transition: bool | None,
        unconstrained: bool | None,
        allow_from: tuple[str, ...],
        add_from: tuple[str, ...],
        clear_rbcd: bool,
        as_json: bool,
    ) -> None:
        """Show or change the Kerberos delegation settings of NAME (without options: show)."""
        d = open_directory(ctx)
        sam = name
        if what == "computer" and not name.endswith("$"):
            sam = name + "$"
        p = d.get(sam)
        if p is None or (what == "computer") != (p.kind == "computer"):
            from lanman.directory.errors import DirectoryError

            raise DirectoryError(
                f"{what} {sam!r} does not exist",
                f"`lanman {what} list` shows the accounts",
                "NERR_UserNotFound",
            )
        changes = any((allow_to, remove_to, clear_to, allow_from, add_from, clear_rbcd)) or any(
            v is not None for v in (protocol_transition, unconstrained)
        )
        if changes:
            info = d.set_delegation(
                sam,
                allow_to=allow_to,
                remove_to=remove_to,
                clear_to=clear_to,
                protocol_transition=protocol_transition,
                unconstrained=unconstrained,
                allow_from=list(allow_from) if allow_from else None,
                add_from=add_from,
                clear_rbcd=clear_rbcd,
            )
        else:
            info = d.delegation(sam)
        show_delegation(info, as_json)


delegation_command(computer, "computer")
