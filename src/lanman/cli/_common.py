"""Shared CLI plumbing: error display, the home in the click context, value types, output."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lanman.home import Home, default_home_path

EXIT_ERROR = 1


class CliError(Exception):
    """An error raised by CLI code itself (bad option combination, missing input)."""

    def __init__(self, message: str, remedy: str = ""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


def report_error(exc: BaseException) -> None:
    """Print a known error Windows-style on stderr: code line (if any), message, remedy."""
    code = getattr(exc, "win32_code", None)
    name = getattr(exc, "win32_name", None)
    text = getattr(exc, "win32_text", None)
    if code is not None and name:
        click.echo(f"System error {code} ({name}): {text}", err=True)
    message = getattr(exc, "message", None) or str(exc)
    click.echo(f"lanman: {message}", err=True)
    remedy = getattr(exc, "remedy", "")
    if remedy:
        click.echo(f"Remedy: {remedy}", err=True)


def hoist_global_option(args: list[str], name: str = "--home", keep_raw=("msg",)) -> list[str]:
    """Move ``--home DIR`` / ``--home=DIR`` given after the command (``lanman user list
    --home DIR``) in front of it, where the top-level group reads it. Stops at ``--``; the
    commands in ``keep_raw`` take free text (``msg``'s message) and are left alone."""
    out, moved, i = [], [], 0
    seen_command = False
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i:])
            break
        if not seen_command and not a.startswith("-"):
            if a in keep_raw:
                out.extend(args[i:])
                break
            seen_command = True
        if seen_command and a == name and i + 1 < len(args):
            moved += [a, args[i + 1]]
            i += 2
            continue
        if seen_command and a.startswith(name + "="):
            moved.append(a)
            i += 1
            continue
        out.append(a)
        i += 1
    return moved + out


class LanmanGroup(click.Group):
    """Top-level group: turns lanman errors into message + remedy on stderr and exit code 1;
    ``--home`` is accepted after the command too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_option(list(args)))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            if hasattr(exc, "remedy"):
                report_error(exc)
            else:
                if os.environ.get("LANMAN_DEBUG"):
                    raise
                click.echo(f"lanman: internal error: {type(exc).__name__}: {exc}", err=True)
                click.echo(
                    "Remedy: run again with LANMAN_DEBUG=1 for a traceback and report it", err=True
                )
                if os.environ.get("LANMAN_TRACEBACK_FILE"):
                    with open(os.environ["LANMAN_TRACEBACK_FILE"], "a") as fh:
                        traceback.print_exc(file=fh)
            ctx.exit(EXIT_ERROR)


class HomeRef:
    """Lazily opened :class:`Home`; closed when the command's context closes.

    Only the commands that set a server up create a missing home (``up``, ``user add``,
    ``share add``, ``domain provision``: ``create=True``); every other command fails on a
    missing home with a one-line error naming the path, instead of creating an empty one
    (a mistyped ``--home`` would otherwise answer "no entries")."""

    def __init__(self, path: Path | None):
        self.path = path
        self._home: Home | None = None

    def get(self, ctx: click.Context, create: bool = False) -> Home:
        if self._home is None:
            self._home = Home.open(self.path, create=create)
            ctx.find_root().call_on_close(self._home.close)
        return self._home

    def exists(self) -> bool:
        """Whether the home directory is there (without creating it)."""
        if self._home is not None:
            return True
        p = Path(self.path) if self.path is not None else default_home_path()
        return p.expanduser().is_dir()


def _ref(ctx: click.Context) -> HomeRef:
    ref = ctx.find_root().obj
    if not isinstance(ref, HomeRef):  # invoked without the root group (tests of subgroups)
        ref = HomeRef(None)
        ctx.find_root().obj = ref
    return ref


def get_home(ctx: click.Context, create: bool = False) -> Home:
    """The command's home; a missing one is an error unless ``create`` (setup commands)."""
    return _ref(ctx).get(ctx, create=create)


def get_home_if_exists(ctx: click.Context) -> Home | None:
    """The home when there is one, else None (``lanman client`` runs without a home, with
    the default client policy, like a Windows workstation with no local policy set)."""
    ref = _ref(ctx)
    return ref.get(ctx) if ref.exists() else None


_TRUE = {"true", "$true", "1"}
_FALSE = {"false", "$false", "0"}


class WinBool(click.ParamType):
    """true/false, PowerShell $true/$false, 1/0 — case-insensitive."""

    name = "true|false"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, bool):
            return value
        v = str(value).strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        self.fail(f"{value!r} is not a boolean; use true/false, $true/$false or 1/0", param, ctx)


WIN_BOOL = WinBool()


def console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def print_rows(headers: list[str], rows: list[list[str]], con: Console | None = None) -> None:
    """A table when every cell fits the output's width untruncated, else one record per
    block: the first column's value on its own line, then ``Header: value`` lines wrapped to
    the width (80 columns or a pipe never cut a registry path or a source short)."""
    con = con or console()
    widths = [max([len(h), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(headers)]
    if sum(widths) + 2 * (len(widths) - 1) + 2 <= con.width:
        t = Table(*headers, box=None, header_style="bold")
        for r in rows:
            t.add_row(*(str(c) for c in r))
        con.print(t)
        return
    label = max(len(h) for h in headers[1:]) + 2
    for r in rows:
        con.print(str(r[0]), markup=False, highlight=False, soft_wrap=True)
        for h, v in zip(headers[1:], r[1:], strict=True):
            text = textwrap.fill(
                str(v),
                width=max(con.width, label + 20),
                initial_indent=f"  {h + ':':<{label}}",
                subsequent_indent=" " * (label + 2),
                break_long_words=False,
                break_on_hyphens=False,
            )
            con.print(text, markup=False, highlight=False, soft_wrap=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def json_output(fn: Any) -> Any:
    """Give a command that changes something ``--json``: its human messages are collected and
    printed as ``{"ok": true, "command": ..., "result": ..., "messages": [...]}`` on stdout,
    where ``result`` is what the command returns (the object it created or changed, or None).
    Errors keep their usual stderr form and exit status."""
    import contextlib
    import functools
    import io

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        if not ctx.meta.pop("lanman.json", False):
            return fn(*args, **kwargs)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            result = fn(*args, **kwargs)
        echo_json(
            {
                "ok": True,
                "command": ctx.command_path.split(" ", 1)[-1],
                "result": result,
                "messages": [line for line in buf.getvalue().splitlines() if line.strip()],
            }
        )
        return result

    def remember(ctx: click.Context, _param: Any, value: bool) -> bool:
        if value:
            ctx.meta["lanman.json"] = True
        return value

    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Print the outcome as JSON.",
    )(wrapper)


def yes_no(v: bool) -> str:
    return "True" if v else "False"
