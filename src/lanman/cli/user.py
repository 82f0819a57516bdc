"""``lanman user add|list|passwd|remove``. Passwords are hashed (NT hash) and never stored."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home, yes_no
from lanman.store import no_user_error, user_exists_error, validate_user_name


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CliError(
                "no password on standard input",
                "pipe the password followed by a newline, e.g. "
                "`printf '%s\\n' \"$PW\" | lanman user add NAME --password-stdin`",
            )
        line = line.removesuffix("\n")
        line = line.removesuffix("\r")
        return line
    return click.prompt(
        "Type a password for the user",
        hide_input=True,
        confirmation_prompt="Retype the password to confirm",
    )


@click.group("user")
def user() -> None:
    """Manage the local accounts that may log on to the SMB server."""


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@click.pass_context
def user_add(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create account NAME (prompts twice for the password unless --password-stdin)."""
    home = get_home(ctx)
    validate_user_name(name)  # fail before asking for a password
    if home.store.get_user(name) is not None:
        raise user_exists_error(name)
    u = home.store.add_user(name, _read_password(password_stdin))
    home.events.emit("USER_ADDED", source="lanman-cli", user=u.name, rid=u.rid)
    click.echo(f"User {u.name} was added (RID {u.rid}).")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the accounts (hashes are never shown)."""
    users = get_home(ctx).store.list_users()
    if as_json:
        echo_json(
            [
                {"name": u.name, "rid": u.rid, "enabled": u.enabled, "created": u.created}
                for u in users
            ]
        )
        return
    if not users:
        click.echo("There are no entries in the list.")
        return
    t = Table("Name", "RID", "Enabled", "Created", box=None, header_style="bold")
    for u in users:
        t.add_row(escape(u.name), str(u.rid), yes_no(u.enabled), u.created)
    console().print(t)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME."""
    home = get_home(ctx)
    if home.store.get_user(name) is None:
        raise no_user_error(name)
    home.store.set_password(name, _read_password(password_stdin))
    home.events.emit("USER_PASSWORD_CHANGED", source="lanman-cli", user=name)
    click.echo(f"The password of {name} was changed.")


@user.command("remove")
@click.argument("name")
@click.pass_context
def user_remove(ctx: click.Context, name: str) -> None:
    """Delete account NAME."""
    home = get_home(ctx)
    home.store.remove_user(name)
    home.events.emit("USER_REMOVED", source="lanman-cli", user=name)
    click.echo(f"User {name} was removed.")
