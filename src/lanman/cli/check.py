"""``lanman check [--json]``: validate a home like Samba's testparm (exit 0 sound, 1 not)."""

from __future__ import annotations

from pathlib import Path

import click

from lanman.cli._common import echo_json
from lanman.cli.policy import setting_json, state_name
from lanman.home import default_home_path
from lanman.homecheck import ERROR, check_home
from lanman.policy.catalogue import CATALOGUE
from lanman.policy.effective import resolve


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-ports", is_flag=True, help="Do not try to bind the listening ports.")
@click.option("--quiet", "-q", is_flag=True, help="Only the problems, not the settings.")
@click.pass_context
def check(ctx: click.Context, as_json: bool, no_ports: bool, quiet: bool) -> None:
    """Check lanman.toml, policy.toml, the database, shares, ports and the domain; print the
    effective settings with their origins. Changes nothing; exit status 1 on any error."""
    ref = ctx.find_root().obj
    path = getattr(ref, "path", None) or default_home_path()
    problems, summary = check_home(Path(path), ports=not no_ports)
    host = summary.pop("host_policy", None)
    settings = [resolve(host, e.name) for e in CATALOGUE] if host is not None else []
    failed = any(p.severity == ERROR for p in problems)
    if as_json:
        echo_json(
            {
                **summary,
                "ok": not failed,
                "problems": [p.as_dict() for p in problems],
                "settings": [setting_json(s) for s in settings],
            }
        )
        ctx.exit(1 if failed else 0)
    click.echo(f"Home: {summary['home']}")
    for p in problems:
        where = f"{p.file}:{p.line}: " if p.file and p.line else (f"{p.file}: " if p.file else "")
        message = (
            p.message if not where or p.message.startswith(p.file or "\0") else where + p.message
        )
        click.echo(f"{p.severity.upper()}: [{p.area}] {message}")
        if p.remedy:
            click.echo(f"  Remedy: {p.remedy}")
    if not quiet and settings:
        click.echo(f"\nEffective policy (profile {summary.get('profile', '?')}):")
        for s in settings:
            eff = state_name(s.value, s.entry) if s.applicable else "not applicable"
            click.echo(f"  {s.entry.name} = {eff}  ({s.origin})")
    if "listen" in summary and not quiet:
        click.echo(f"Server: {summary['server_name']} on {summary['listen']}:{summary['smb_port']}")
    n_err = sum(p.severity == ERROR for p in problems)
    n_warn = len(problems) - n_err
    click.echo(
        f"\n{'Problems found' if failed else 'Loaded'}: {n_err} error(s), {n_warn} warning(s)."
    )
    ctx.exit(1 if failed else 0)
