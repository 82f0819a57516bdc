"""``lanman smb matrix``: lanman's client against lanman's server for every profile pair.

Each server profile gets its own lanman SMB server on 127.0.0.1 (random port); every client
profile connects to it with its effective policy. A cell is "signed" / "unsigned" (success)
or the code the client shows. Every cell is also compared with the table written from the
documents (:func:`lanman.policy.matrix.expected_outcome`); a differing cell is marked "!".
"""

from __future__ import annotations

import shutil
import sys

import click
from rich.console import Console
from rich.table import Table

from lanman.cli._common import CliError, echo_json
from lanman.policy.catalogue import by_name
from lanman.policy.matrix import (
    SCENARIOS,
    MatrixCell,
    Outcome,
    expected_outcome,
    profile_names,
    run_matrix,
)
from lanman.policy.profiles import PROFILES, get_profile

__all__ = ["matrix"]

_PROFILE = click.Choice(list(PROFILES), case_sensitive=False)


def _overrides(values: tuple[str, ...], side: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values:
        name, sep, data = item.partition("=")
        if not sep:
            raise CliError(
                f"--{side}-set wants NAME=DATA, got {item!r}",
                "e.g. --client-set LanmanWorkstation.AllowInsecureGuestAuth=1",
            )
        try:
            entry = by_name(name.strip())
            out[entry.name] = int(data.strip(), 0)
        except KeyError:
            raise CliError(
                f"unknown registry value {name!r}", "lanman policy get lists the catalogue"
            ) from None
        except ValueError:
            raise CliError(f"{item!r}: DATA must be a number (REG_DWORD)") from None
    return out


def _short(name: str) -> str:
    for prefix in ("ERROR_", "STATUS_"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _cell_text(o: Outcome, mismatch: bool) -> str:
    bang = " [bold red]![/]" if mismatch else ""
    if o.ok:
        colour = "green" if o.signed else "yellow"
        family = "" if o.family == "SMB2/3" else " (SMB1)"
        return f"[{colour}]{o.cell}{family}[/]{bang}"
    return f"[red]{o.code_display}[/]{bang}\n[dim]{_short(o.name)}[/]"


def _legend(cells: list[MatrixCell]) -> list[str]:
    seen: dict[tuple, Outcome] = {}
    for c in cells:
        for o in (c.observed, c.expected):
            if not o.ok:
                seen.setdefault((o.code, o.name, o.stage), o)
    lines = [
        "signed    success; every message of the session is signed",
        "unsigned  success without signing (SMB2/3: neither side requires it; guest sessions)",
        "(SMB1)    the pair spoke NT LM 0.12 (an SMB1-only profile on either side)",
        "!         lanman's observed outcome differs from the documents' expected table",
    ]
    for (_code, _name, stage), o in sorted(seen.items(), key=lambda kv: kv[0][0] or 0):
        lines.append(f"{o.code_display:<10} {o.name} at {stage or '?'}: {o.text}")
    return lines


def _width() -> int:
    """The terminal's width; 80 for a pipe or a file (as `ls` and `git` assume)."""
    return shutil.get_terminal_size((80, 24)).columns


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=_width())


def _print_records(con: Console, cl: list[str], sv: list[str], scen: str, by_key, what) -> None:
    """The matrix as one line per (client, server) pair, when it is wider than the output."""
    con.print(f"lanman smb matrix - scenario {scen} - {what}", style="bold", markup=False)
    for c in cl:
        con.print(f"client {c}:", markup=False)
        for s in sv:
            cell = by_key[(c, s, scen)]
            text = _cell_text(cell.observed, not cell.matches).replace("\n", " ")
            con.print(f"  server {s:<28} ", end="", markup=False)
            con.print(text)


@click.command("matrix")
@click.option(
    "--client-profile",
    "clients",
    multiple=True,
    type=_PROFILE,
    help="Client profile (repeatable; default: all).",
)
@click.option(
    "--server-profile",
    "servers",
    multiple=True,
    type=_PROFILE,
    help="Server profile (repeatable; default: all).",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice([*SCENARIOS, "all"]),
    help="user: a valid account (default); guest: the server offers only guest; all: both.",
)
@click.option(
    "--smb1-server",
    type=click.Choice(["default", "on"]),
    default="default",
    show_default=True,
    help="default: modern servers keep SMB1 off (EnableSMB1Protocol default); "
    "on: switch SMB1 on for them too.",
)
@click.option(
    "--client-set",
    multiple=True,
    metavar="NAME=DATA",
    help="Local registry override for every client, e.g. "
    "LanmanWorkstation.AllowInsecureGuestAuth=1 (repeatable).",
)
@click.option(
    "--server-set",
    multiple=True,
    metavar="NAME=DATA",
    help="Local registry override for every server, e.g. "
    "LanmanServer.RequireSecuritySignature=1 (repeatable).",
)
@click.option(
    "--expected-only",
    is_flag=True,
    help="Print the table written from the documents; open no sockets.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 when an observed cell differs from the expected table.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 120),
    default=10.0,
    show_default=True,
    help="Seconds for every socket operation.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def matrix(
    clients,
    servers,
    scenarios,
    smb1_server,
    client_set,
    server_set,
    expected_only,
    check,
    timeout,
    as_json,
) -> None:
    """Connect lanman's client to lanman's server over loopback for each profile pair.

    Rows are client profiles, columns server profiles; a cell is "signed", "unsigned" or the
    code the client shows (net use style: 1240, 1272, 3227320323, 0xC000A000, 5, 64).
    """
    cl = [get_profile(c).name for c in clients] or profile_names()
    sv = [get_profile(s).name for s in servers] or profile_names()
    sc = list(SCENARIOS) if "all" in scenarios else (list(dict.fromkeys(scenarios)) or ["user"])
    co = _overrides(client_set, "client")
    so = _overrides(server_set, "server")
    smb1 = smb1_server == "on"

    if expected_only:
        cells = [
            MatrixCell(
                c,
                s,
                scen,
                observed=(
                    e := expected_outcome(
                        c,
                        s,
                        scen,
                        client_overrides=co,
                        server_overrides=so,
                        smb1_servers=smb1,
                    )
                ),
                expected=e,
            )
            for scen in sc
            for s in sv
            for c in cl
        ]
        seconds = 0.0
    else:
        run = run_matrix(
            cl,
            sv,
            sc,
            client_overrides=co,
            server_overrides=so,
            smb1_servers=smb1,
            timeout=timeout,
        )
        cells, seconds = run.cells, run.seconds
    mismatches = [c for c in cells if not c.matches]

    if as_json:
        echo_json(
            {
                "clients": cl,
                "servers": sv,
                "scenarios": sc,
                "smb1_server": smb1_server,
                "client_overrides": co,
                "server_overrides": so,
                "mode": "expected" if expected_only else "observed",
                "seconds": round(seconds, 3),
                "cells": [c.as_dict() for c in cells],
                "mismatches": len(mismatches),
            }
        )
    else:
        con = _console()
        by_key = {(c.client, c.server, c.scenario): c for c in cells}
        as_records = 24 + 16 * len(sv) > con.width
        for scen in sc:
            what = "expected (documents)" if expected_only else "observed over 127.0.0.1"
            if as_records:
                _print_records(con, cl, sv, scen, by_key, what)
                continue
            t = Table(
                title=f"lanman smb matrix - scenario {scen} - {what}",
                show_lines=True,
                caption="rows: client profile; columns: server profile",
            )
            t.add_column("client \\ server", style="bold", no_wrap=True)
            for s in sv:
                t.add_column(s, overflow="fold")
            for c in cl:
                row = [c]
                for s in sv:
                    cell = by_key[(c, s, scen)]
                    row.append(_cell_text(cell.observed, not cell.matches))
                t.add_row(*row)
            con.print(t)
        con.print("Legend:", style="bold")
        for line in _legend(cells):
            con.print("  " + line, markup=False)
        if not expected_only:
            con.print(
                f"{len(cells)} connections in {seconds:.1f} s; "
                f"{len(mismatches)} differ from the documents' table.",
                markup=False,
            )
            for m in mismatches:
                con.print(
                    f"  ! {m.client} -> {m.server} ({m.scenario}): observed "
                    f"{m.observed.cell} at {m.observed.stage or '-'}, expected "
                    f"{m.expected.cell} at {m.expected.stage or '-'}",
                    markup=False,
                )
    if check and mismatches:
        sys.exit(1)
