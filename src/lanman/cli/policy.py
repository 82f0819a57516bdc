"""``lanman policy get|set "<Group Policy name>" enabled|disabled|not-defined [--scope ...]``.

The group layer stands for Group Policy (a domain GPO, or the Policies key of an
administrative template); the local layer for the registry / local security policy. Group
Policy wins; "not defined" falls through to local, then to the profile default.
"""

from __future__ import annotations

import click
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home, json_output, print_rows
from lanman.policy.catalogue import CATALOGUE, RegistryValue, by_gp_name, by_name
from lanman.policy.effective import Setting, resolve
from lanman.policy.hoststate import commit_host, open_host
from lanman.policy.layers import HostPolicy, PolicyFileError

STATES = {"enabled": 1, "disabled": 0, "not-defined": None}
#: what reg.exe / PowerShell users type for a boolean DWORD
_BOOL_WORDS = {"1": 1, "0": 0, "true": 1, "false": 0, "$true": 1, "$false": 0}


def state_name(v: int | tuple[str, ...] | None, entry: RegistryValue | None = None) -> str:
    if v is None:
        return "not defined"
    if isinstance(v, tuple):  # a REG_MULTI_SZ list of names
        return ", ".join(v) if v else "(none)"
    if entry is not None and entry.data_range is not None:
        return str(v)  # a number (e.g. milliseconds), not on/off
    return "enabled" if v else "disabled"


def parse_state(entry: RegistryValue, state: str) -> int | tuple[str, ...] | None:
    """enabled / disabled / not-defined, for a numeric setting a number in its range, for a
    list (NullSessionPipes) comma-separated names ("" or "none": an empty list)."""
    key = state.strip().lower()
    if entry.is_list:
        if key == "not-defined":
            return None
        if key in ("", "none", "(none)"):
            return ()
        names = tuple(dict.fromkeys(n.strip() for n in state.split(",") if n.strip()))
        if not entry.accepts(names):
            raise click.BadParameter(f"{state!r}: {entry.describe_allowed()}", param_hint="STATE")
        return names
    if key in STATES and not (entry.data_range is not None and key != "not-defined"):
        return STATES[key]
    if entry.data_range is None and key in _BOOL_WORDS:
        return _BOOL_WORDS[key]
    if entry.data_range is not None:
        try:
            v = int(key, 0)
        except ValueError:
            v = None
        if v is not None and entry.accepts(v):
            return v
        raise click.BadParameter(
            f"{state!r} is not a value for {entry.value}: give "
            f"{entry.describe_allowed()}, or not-defined",
            param_hint="STATE",
        )
    raise click.BadParameter(
        f"{state!r} is not one of enabled, disabled, not-defined", param_hint="STATE"
    )


def load_host(ctx: click.Context) -> tuple[object, HostPolicy]:
    home = get_home(ctx)
    try:
        return home, open_host(home)
    except PolicyFileError as e:
        raise CliError(e.message, e.remedy) from None


def save(home: object, host: HostPolicy, command: str = "") -> None:
    """Write the host policy, then log what changed (who, what, old -> new) and warn when
    signing was turned off. Every policy path (policy set, profile use, registry import,
    smb server-config/client-config set) goes through here."""
    from lanman.cli.audit import record_policy_change

    try:
        before = open_host(home)
    except PolicyFileError:
        before = None
    try:
        commit_host(home, host)
    except PolicyFileError as e:
        raise CliError(e.message, e.remedy) from None
    if before is not None:
        record_policy_change(home, before, host, command or _command_name())


def _command_name() -> str:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "lanman"
    return " ".join(["lanman", *ctx.command_path.split()[1:]])  # prog name may be "cli"


def find_entry(name: str) -> RegistryValue:
    """By Group Policy display name; lanman id, registry path or PowerShell name also work."""
    for lookup in (by_gp_name, by_name):
        try:
            return lookup(name)
        except KeyError:
            pass
    names = "; ".join(f'"{v.gp_name}"' for v in CATALOGUE if v.gp_name)
    raise CliError(f"no policy setting named {name!r}", f"known Group Policy names: {names}")


def fmt_value(s: Setting) -> str:
    if s.value is None:
        return "n/a"
    if isinstance(s.value, tuple):
        return state_name(s.value)
    if s.entry.data_range is not None:
        return str(s.value)
    return "True" if s.value else "False"


def setting_json(s: Setting) -> dict[str, object]:
    d = s.as_dict()
    d["state"] = state_name(s.value, s.entry) if s.value is not None else "not applicable"
    d["local_state"] = state_name(s.local, s.entry)
    d["group_state"] = state_name(s.group, s.entry)
    return d


def _scope_remedy(entry: RegistryValue, scope: str) -> str:
    return entry.gp_path if scope == "group" and entry.gp_path else entry.path


@click.group("policy")
def policy() -> None:
    """Group Policy / local security policy settings (signing, insecure guest logons)."""


@policy.command("get")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def policy_get(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Show one policy setting (or all): effective state, origin, each layer, the default."""
    _home, host = load_host(ctx)
    entries = [find_entry(name)] if name else list(CATALOGUE)
    settings = [resolve(host, e.name) for e in entries]
    if as_json:
        data = [setting_json(s) for s in settings]
        echo_json(data[0] if name else {"profile": host.profile_name, "settings": data})
        return
    if name:
        s = settings[0]
        e = s.entry
        t = Table(box=None, show_header=False)
        rows = [
            ("Policy", e.gp_name or "(no Group Policy setting)"),
            ("Location", e.gp_location or "-"),
            ("Registry", e.path),
            ("Group Policy writes", e.gp_path or "-"),
            ("PowerShell", e.powershell or "-"),
            ("Effective", f"{state_name(s.value, s.entry) if s.applicable else 'not applicable'}"),
            ("Origin", s.origin),
            ("Group Policy layer", state_name(s.group, s.entry)),
            ("Local layer", state_name(s.local, s.entry)),
            (
                f"Default ({host.profile_name})",
                state_name(s.default.value, s.entry) if s.default.applicable else "not applicable",
            ),
            (
                "Default source",
                s.default.source + ("" if s.default.confirmed else " [unconfirmed]"),
            ),
        ]
        if s.default.conflict:
            rows.append(("Conflict", s.default.conflict))
        if e.smb1_only:
            rows.append(("Note", "SMB2 and later ignore this value; it affects SMB1 only"))
        for k, v in rows:
            t.add_row(k, v)
        console().print(t)
        return
    rows = []
    for s in settings:
        label = s.entry.gp_name or s.entry.path
        eff = state_name(s.value, s.entry) if s.applicable else "not applicable"
        rows.append([label, eff, s.origin])
    console().print(f"Profile: {host.profile_name}")
    print_rows(["Setting", "Effective", "Origin"], rows)


@policy.command("set")
@click.argument("name")
@click.argument("state", metavar="enabled|disabled|not-defined|NUMBER")
@click.option(
    "--scope",
    type=click.Choice(["local", "group"]),
    default="group",
    show_default=True,
    help="group: Group Policy layer (wins); local: the registry / local security policy.",
)
@click.pass_context
@json_output
def policy_set(ctx: click.Context, name: str, state: str, scope: str) -> None:
    """Define a setting as enabled or disabled in one layer, or remove it (not-defined)."""
    entry = find_entry(name)
    home, host = load_host(ctx)
    before = resolve(host, entry.name)
    host.layer(scope).set_catalogue(entry, parse_state(entry, state), scope)
    after = resolve(host, entry.name)
    save(home, host)
    label = entry.gp_name or entry.path
    click.echo(f"{label} [{scope}]: {state_name(parse_state(entry, state), entry)}")
    click.echo(f"  registry: {_scope_remedy(entry, scope)}")
    eff = state_name(after.value, entry) if after.applicable else "not applicable"
    click.echo(
        f"  effective: {eff} (origin: {after.origin}; was {state_name(before.value, entry)})"
    )
    if scope == "local" and after.origin == "group policy":
        click.echo(
            "warning: Group Policy defines this setting; the local value has no effect "
            f'(lanman policy set "{label}" not-defined --scope group)',
            err=True,
        )
    if entry.smb1_only:
        click.echo("note: SMB2 and later ignore this value; it affects SMB1 only.", err=True)
    if not after.applicable:
        click.echo(
            f"note: profile {host.profile_name} does not read this value ({after.default.source}).",
            err=True,
        )
