"""``lanman profile list|show|use``: the Windows release whose defaults this host has."""

from __future__ import annotations

import click
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, json_output, print_rows
from lanman.cli.policy import load_host, save, state_name
from lanman.policy.catalogue import CATALOGUE
from lanman.policy.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile


def _profile(name: str) -> Profile:
    try:
        return get_profile(name)
    except KeyError:
        raise CliError(
            f"unknown profile {name!r}", "known profiles: " + ", ".join(PROFILES)
        ) from None


def _summary(p: Profile) -> dict[str, object]:
    def d(name: str | None) -> int | None:
        return p.default(name).value if name else None

    cv, sv = p.client_values, p.server_values
    return {
        "name": p.name,
        "title": p.title,
        "dialects": p.dialects,
        "client_require_signing": d(cv[1]) if cv else None,
        "client_allow_insecure_guest": d(cv[2]) if cv and cv[2] else None,
        "server_require_signing": d(sv[1]) if sv else None,
    }


@click.group("profile")
def profile() -> None:
    """Per-release defaults (nt4-sp3 ... win11-24h2-*, server2025)."""


@profile.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def profile_list(ctx: click.Context, as_json: bool) -> None:
    """List the profiles; * marks this host's."""
    _home, host = load_host(ctx)
    rows = [dict(_summary(p), current=p.name == host.profile_name) for p in PROFILES.values()]
    if as_json:
        echo_json(rows)
        return
    t = Table(box=None, header_style="bold")
    t.add_column("")
    t.add_column("Profile", no_wrap=True)
    for col in ("Release", "Client requires", "Insecure guest", "Server requires"):
        t.add_column(col)

    def yn(v: object) -> str:
        return "n/a" if v is None else ("yes" if v else "no")

    for r in rows:
        t.add_row(
            "*" if r["current"] else "",
            str(r["name"]),
            str(r["title"]),
            yn(r["client_require_signing"]),
            "n/a"
            if r["client_allow_insecure_guest"] is None
            else ("allowed" if r["client_allow_insecure_guest"] else "blocked"),
            yn(r["server_require_signing"]),
        )
    console().print(t)
    console().print(f"(a new home uses {DEFAULT_PROFILE})")


@profile.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def profile_show(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Every default of a profile (this host's if NAME is omitted), with its source."""
    if name is None:
        _home, host = load_host(ctx)
        name = host.profile_name
    p = _profile(name)
    values = []
    for v in CATALOGUE:
        d = p.default(v.name)
        values.append(
            {
                "name": v.name,
                "path": v.path,
                "group_policy_name": v.gp_name,
                "default": d.value,
                "applicable": d.applicable,
                "source": d.source,
                "confirmed": d.confirmed,
                "conflict": d.conflict or None,
            }
        )
    if as_json:
        echo_json(dict(_summary(p), notes=list(p.notes), values=values))
        return
    console().print(f"{p.name}: {p.title} ({p.dialects})")
    rows = []
    for row in values:
        dv = row["default"]
        if dv is None:
            default = "not applicable"
        elif isinstance(dv, tuple):
            default = state_name(dv)
        else:
            default = f"{dv} ({state_name(dv)})"
        src = str(row["source"]) + ("" if row["confirmed"] else " [unconfirmed]")
        if row["conflict"]:
            src += f" CONFLICT: {row['conflict']}"
        rows.append([str(row["path"]), default, src])
    print_rows(["Value", "Default", "Source"], rows)
    for n in p.notes:
        console().print(f"note: {n}")


@profile.command("use")
@click.argument("name")
@click.pass_context
@json_output
def profile_use(ctx: click.Context, name: str) -> None:
    """Make NAME this host's profile (layers are kept). Restart `lanman up` to apply."""
    p = _profile(name)
    home, host = load_host(ctx)
    old = host.profile_name
    host.profile_name = p.name
    save(home, host)
    click.echo(f"Profile: {old} -> {p.name} ({p.title})")
