"""``lanman scan TARGET ...``: which SMB servers break under a Windows client profile."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lanman.cli._common import CliError, console

EPILOG = """\b
Targets: a host name, an address, a CIDR block (at most 4096 addresses per run),
host:port, [ipv6]:port, or @FILE (one target per line, # comments).
\b
lanman scan sends traffic ONLY to the targets given: per target a few SMB NEGOTIATEs
(one per dialect, SMB1 included), one NTLM SESSION_SETUP stopped after the server's
CHALLENGE, an anonymous and a guest session attempt (IPC$ + srvsvc share list), and with
--user an authenticated, signed session and a tree connect. Nothing else is contacted.
\b
Exit status: 0 when every target works for every --profile; 1 when any target fails
(or is unreachable: a client would fail there too); 2 on usage errors.
"""


@click.command(epilog=EPILOG)
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="Client profile to judge against (repeatable; default win11-24h2-pro). "
    "See `lanman profile list`.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=445,
    show_default=True,
    help="Port for targets given without one.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="Hosts scanned at the same time.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    show_default=True,
    help="Seconds per host, all probes together.",
)
@click.option(
    "--user",
    "-U",
    default="",
    help="Account for an authenticated signed session (DOMAIN\\user allowed).",
)
@click.option("--password", default=None, help="Password for --user (prefer --password-file).")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File whose first line is the password for --user.",
)
@click.option(
    "--share", default="IPC$", show_default=True, help="Share to tree-connect with --user."
)
@click.option("--no-sessions", is_flag=True, help="Skip the anonymous and guest probes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per target and profile.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML report (summary chart + per-host details).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def scan(
    targets,
    profiles,
    port,
    concurrency,
    timeout,
    user,
    password,
    password_file,
    share,
    no_sessions,
    as_json,
    as_csv,
    html_file,
    no_progress,
) -> None:
    """Scan SMB servers: dialects, signing, guest access, and a verdict per client profile.

    For every target: reachability; SMB1 and its SecurityMode (3/7/15); every SMB2/3
    dialect probed on its own (SecurityMode, 3.1.1 signing algorithms and ciphers); SPNEGO
    mechanisms; server and domain names from the NTLM challenge; anonymous and guest
    sessions and whether a guest can list shares; with --user, an authenticated signed
    session and a tree connect. Then, per --profile, whether that Windows client works or
    the exact code it shows, with the remedy for the server's family, and a relay-risk flag
    where signing is not required.
    """
    from lanman.policy.profiles import get_profile
    from lanman.scan.report import render_csv, render_html, render_table, to_document
    from lanman.scan.scanner import ScanOptions
    from lanman.scan.scanner import scan as run_scan
    from lanman.scan.targets import TargetError, parse_targets

    try:
        names = tuple(get_profile(p).name for p in (profiles or ("win11-24h2-pro",)))
    except (KeyError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--profile") from None
    try:
        tlist = parse_targets(targets, default_port=port)
    except TargetError as e:
        raise click.UsageError(str(e)) from None
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as e:
            raise CliError(f"cannot read the password file: {e}") from None
    if user and password is None:
        password = click.prompt(f"Password for {user}", hide_input=True, err=True)
    domain = ""
    if "\\" in user:
        domain, user = user.split("\\", 1)
    opts = ScanOptions(
        timeout=timeout,
        user=user,
        password=password or "",
        domain=domain,
        share=share,
        sessions=not no_sessions,
        profiles=names,
    )

    err = console() if not (as_json or as_csv) else _stderr_console()
    show = not no_progress and err.is_terminal
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        with progress:
            task = progress.add_task("scanning", total=len(tlist))
            run = run_scan(
                tlist, opts, concurrency=concurrency, on_result=lambda r: progress.advance(task)
            )
    else:
        run = run_scan(tlist, opts, concurrency=concurrency)

    if html_file is not None:
        html_file.write_text(render_html(run), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(to_document(run), indent=2))
    elif as_csv:
        click.echo(render_csv(run), nl=False)
    else:
        render_table(run, console())
        if html_file is not None:
            console().print(f"HTML report: {html_file}")
    if run.interrupted:
        err.print(f"interrupted: {len(run.results)} of {run.targets} targets finished")
        sys.exit(130)
    failed = any(not v.works for h in run.results for v in h.verdicts)
    sys.exit(1 if failed else 0)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
