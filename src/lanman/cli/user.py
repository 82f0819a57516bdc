"""``lanman user add|list|show|set|passwd|remove``. Passwords are never stored: only the NT
hash and, once a domain is provisioned, the AES keys derived from them."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home, json_output, yes_no
from lanman.cli.computer import delegation_command, principal_json
from lanman.cli.domain import fmt_time, maybe_directory, open_directory, parse_expires
from lanman.directory.model import ETYPE_NAMES, UAC, etype_order
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


def _active(p) -> bool:
    return not (p.uac & UAC.ACCOUNTDISABLE)


def _etypes(p) -> str:
    return ", ".join(ETYPE_NAMES[e] for e in etype_order(p.keys)) or "none"


@click.group("user")
def user() -> None:
    """Manage the accounts that may log on (local, or domain users once provisioned)."""


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@click.option("--disabled", is_flag=True, help="Create the account disabled.")
@click.option("--expires", default=None, help="Account expiry: YYYY-MM-DD (domain only).")
@click.pass_context
@json_output
def user_add(
    ctx: click.Context, name: str, password_stdin: bool, disabled: bool, expires: str | None
) -> None:
    """Create account NAME (prompts twice for the password unless --password-stdin)."""
    home = get_home(ctx, create=True)
    validate_user_name(name)  # fail before asking for a password
    if home.store.get_user(name) is not None:
        raise user_exists_error(name)
    d = maybe_directory(ctx)
    if expires is not None and d is None:
        raise CliError("--expires needs a domain", "run `lanman domain provision` first")
    exp = parse_expires(expires) if expires is not None else None
    u = home.store.add_user(name, _read_password(password_stdin))
    home.events.emit("USER_ADDED", source="lanman-cli", user=u.name, rid=u.rid, actor=_actor())
    if disabled:
        home.store.set_enabled(name, False)
    if d is None:
        click.echo(f"User {u.name} was added (RID {u.rid}).")
        return
    if expires is not None:
        d.set_account(name, expires=exp)
    p = d.get(name)
    assert p is not None
    click.echo(f"User {p.name} was added ({p.sid}).")
    click.echo(f"Kerberos keys: {_etypes(p)} (kvno {p.kvno}).")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the accounts (hashes are never shown; computers are in `lanman computer list`)."""
    d = maybe_directory(ctx)
    if d is not None:
        ps = [p for p in d.list_principals() if p.kind != "computer"]
        created = {u.name: u.created for u in get_home(ctx).store.list_users()}
        if as_json:
            echo_json([{**principal_json(p), "created": created.get(p.name, "")} for p in ps])
            return
        t = Table(
            "Name", "RID", "Enabled", "Locked", "Expires", "Keys", box=None, header_style="bold"
        )
        for p in ps:
            keys = _etypes(p) + (" (RC4 only until next password)" if p.keys_pending else "")
            t.add_row(
                escape(p.name),
                str(p.rid),
                yes_no(_active(p)),
                yes_no(p.locked),
                fmt_time(p.expires),
                keys,
            )
        console().print(t)
        return
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


@user.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def user_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show domain account NAME with its group memberships (like `net user NAME /domain`)."""
    d = open_directory(ctx)
    p = d.get(name)
    if p is None:
        raise no_user_error(name)
    groups = d.groups_of(p.name)
    if as_json:
        echo_json({**principal_json(p), "groups": [g.name for g in groups]})
        return
    t = Table(box=None, show_header=False)
    rows = [
        ("User name", p.name),
        ("SID", p.sid),
        ("UPN", p.upn),
        ("Account active", yes_no(_active(p))),
        ("Locked out", yes_no(p.locked)),
        ("Account expires", fmt_time(p.expires)),
        ("Password must change", yes_no(p.password_expired)),
        ("Protected Users", yes_no(p.protected_user)),
        ("userAccountControl", f"0x{p.uac:08X}"),
        ("Key version", str(p.kvno)),
        (
            "Kerberos keys",
            _etypes(p) + (" (RC4 only until next password)" if p.keys_pending else ""),
        ),
        ("Group memberships", ", ".join(g.name for g in groups) or "*None"),
    ]
    if p.spns:
        rows.append(("SPNs", ", ".join(p.spns)))
    for k, v in rows:
        t.add_row(k, escape(v))
    console().print(t)


@user.command("set")
@click.argument("name")
@click.option("--disabled/--enabled", "disabled", default=None, help="Disable or enable.")
@click.option("--expires", default=None, help="YYYY-MM-DD, ISO date-time or `never`.")
@click.option(
    "--locked/--unlocked",
    "locked",
    default=None,
    help="Lock out now, or unlock (clears the bad-password count).",
)
@click.option(
    "--preauth/--no-preauth",
    "preauth",
    default=None,
    help="Require Kerberos pre-authentication (--no-preauth sets DONT_REQUIRE_PREAUTH).",
)
@click.option(
    "--must-change-password/--no-must-change-password",
    "must_change",
    default=None,
    help="User must change the password at next logon.",
)
@click.option(
    "--rc4/--no-rc4",
    "rc4",
    default=None,
    help="Allow RC4 for this account (msDS-SupportedEncryptionTypes).",
)
@click.option(
    "--sensitive/--not-sensitive",
    "sensitive",
    default=None,
    help="Account is sensitive and cannot be delegated (NOT_DELEGATED).",
)
@click.option(
    "--unix-user",
    "unix_user",
    metavar="U",
    default=None,
    help="File access of NAME's SMB sessions runs as Unix user U (lanman up started as "
    "root); an empty string removes the mapping.",
)
@click.pass_context
@json_output
def user_set(
    ctx: click.Context,
    name: str,
    disabled: bool | None,
    expires: str | None,
    locked: bool | None,
    preauth: bool | None,
    must_change: bool | None,
    rc4: bool | None,
    sensitive: bool | None,
    unix_user: str | None,
) -> None:
    """Change account flags of NAME, or the Unix user its file access runs as."""
    home = get_home(ctx)
    if unix_user is not None:
        _set_unix_user(home, name, unix_user)
        if all(
            v is None for v in (disabled, expires, locked, preauth, must_change, rc4, sensitive)
        ):
            return
    d = maybe_directory(ctx)
    if d is None:
        if any(v is not None for v in (expires, locked, preauth, must_change, rc4, sensitive)):
            raise CliError(
                "only --disabled/--enabled work without a domain",
                "run `lanman domain provision` first",
            )
        if disabled is None:
            raise CliError("nothing to change", "give --disabled or --enabled")
        was = home.store.get_user(name)
        home.store.set_enabled(name, not disabled)
        if was is not None and was.enabled == disabled:  # the state really changed
            _audit_account(home, name, {"disabled": (not was.enabled, disabled)})
        click.echo(f"User {name} is now {'disabled' if disabled else 'enabled'}.")
        return
    old = d.get(name)
    p = d.set_account(
        name,
        enabled=None if disabled is None else not disabled,
        expires=parse_expires(expires) if expires is not None else False,
        locked=locked,
        preauth=preauth,
        password_expired=must_change,
        rc4=rc4,
        sensitive=sensitive,
    )
    if old is not None:
        _audit_account(home, p.name, _account_diff(old, p))
    click.echo(
        f"User {p.name}: active {yes_no(_active(p))}, locked {yes_no(p.locked)}, "
        f"expires {fmt_time(p.expires)}, uac 0x{p.uac:08X}."
    )


def _actor() -> str:
    from lanman.cli.audit import actor

    return actor()


_AUDITED = ("disabled", "locked", "expires", "password_expired", "uac")


def _account_diff(old, new) -> dict[str, tuple[object, object]]:
    return {
        a: (getattr(old, a), getattr(new, a))
        for a in _AUDITED
        if getattr(old, a) != getattr(new, a)
    }


def _audit_account(home, name: str, diff: dict[str, tuple[object, object]]) -> None:
    """4722/4725 (enabled/disabled), 4740/4767 (locked out/unlocked), 4738 (other changes),
    each naming the local user who ran the command."""
    from lanman.cli.audit import actor

    who = actor()
    ev = home.events
    if "disabled" in diff:
        ev.emit(
            "USER_DISABLED" if diff["disabled"][1] else "USER_ENABLED",
            source="lanman-cli",
            user=name,
            actor=who,
        )
    if "locked" in diff:
        if diff["locked"][1]:
            ev.emit(
                "USER_LOCKED_OUT",
                source="lanman-cli",
                user=name,
                actor=who,
                client="-",
                reason="locked by an administrator (lanman user set --locked)",
            )
        else:
            ev.emit("USER_UNLOCKED", source="lanman-cli", user=name, actor=who)
    rest = {k: v for k, v in diff.items() if k not in ("disabled", "locked")}
    if rest:

        def show(k: str, v: object) -> str:
            return f"0x{v:08X}" if k == "uac" and isinstance(v, int) else str(v)

        ev.emit(
            "USER_CHANGED",
            source="lanman-cli",
            user=name,
            actor=who,
            changes="; ".join(f"{k}: {show(k, a)} -> {show(k, b)}" for k, (a, b) in rest.items()),
        )


def _set_unix_user(home, name: str, unix_user: str) -> None:
    import pwd

    if home.store.get_user(name) is None:
        raise no_user_error(name)
    if unix_user == "":
        home.store.set_unix_user(name, None)
        click.echo(f"User {name}: no Unix user mapping (files are served as lanman up's account).")
        return
    try:
        pw = pwd.getpwnam(unix_user)
    except KeyError:
        raise CliError(
            f"--unix-user {unix_user!r}: no such Unix account", "give an existing Unix user name"
        ) from None
    if pw.pw_uid == 0:
        raise CliError(
            "--unix-user: mapping to root (uid 0) is refused",
            "map the account to an unprivileged Unix user",
        )
    home.store.set_unix_user(name, pw.pw_name)
    click.echo(
        f"User {name}: file access runs as Unix user {pw.pw_name} (uid {pw.pw_uid}) from its "
        "next logon; lanman up must be started as root (restart it if no account was mapped "
        "when it started)."
    )


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one stdin line.")
@click.pass_context
@json_output
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME."""
    home = get_home(ctx)
    if home.store.get_user(name) is None:
        raise no_user_error(name)
    home.store.set_password(name, _read_password(password_stdin))
    home.events.emit("USER_PASSWORD_CHANGED", source="lanman-cli", user=name, actor=_actor())
    click.echo(f"The password of {name} was changed.")
    d = maybe_directory(ctx)
    if d is not None:
        p = d.get(name)
        if p is not None:
            click.echo(f"Kerberos keys: {_etypes(p)} (kvno {p.kvno}).")


@user.command("remove")
@click.argument("name")
@click.pass_context
@json_output
def user_remove(ctx: click.Context, name: str) -> None:
    """Delete account NAME."""
    home = get_home(ctx)
    d = maybe_directory(ctx)
    if d is not None:
        p = d.get(name)
        if p is not None and p.kind == "computer":
            raise CliError(
                f"{p.name} is a computer account", f"use `lanman computer remove {p.name}`"
            )
        if p is None:
            raise no_user_error(name)
        d.remove_account(p.name)
    else:
        home.store.remove_user(name)
    home.events.emit("USER_REMOVED", source="lanman-cli", user=name, actor=_actor())
    click.echo(f"User {name} was removed.")


delegation_command(user, "user")
