"""``lanman store check|backup|restore``: the health and backups of ``lanman.sqlite``.

These commands work on the database file directly (through SQLite) and do not open the home
the way the other commands do, so that they also work on a store too damaged to open.
"""

from __future__ import annotations

from pathlib import Path

import click

from lanman.cli._common import EXIT_ERROR, CliError, HomeRef, json_output
from lanman.home import DB_FILE, default_home_path


def _db_path(ctx: click.Context) -> Path:
    ref = ctx.find_root().obj
    path = ref.path if isinstance(ref, HomeRef) else None
    home = (Path(path) if path is not None else default_home_path()).expanduser().absolute()
    if not home.is_dir():
        raise CliError(f"home directory {str(home)!r} does not exist", "pass --home DIR")
    return home / DB_FILE


def _wrap(fn):
    from lanman.store.maintenance import StoreMaintenanceError

    try:
        return fn()
    except StoreMaintenanceError as e:
        raise CliError(e.message, e.remedy) from None
    except OSError as e:
        raise CliError(f"{e.filename or 'file'}: {e.strerror}", "check the path") from None


@click.group("store")
def store() -> None:
    """Check, back up and restore the account database (lanman.sqlite)."""


@store.command("check")
@click.option("--quick", is_flag=True, help="PRAGMA quick_check instead of integrity_check.")
@click.pass_context
@json_output
def store_check(ctx: click.Context, quick: bool) -> None:
    """Print 'ok', or the problems found (exit status 1)."""
    from lanman.store.maintenance import check

    db = _db_path(ctx)
    problems = check(db, quick=quick)
    if not problems:
        click.echo(f"{db}: ok")
        return
    click.echo(f"{db}: {len(problems)} problem(s)")
    for p in problems:
        click.echo(f"  {p}")
    click.echo(
        "Remedy: restore a backup with `lanman store restore FILE` (with lanman up stopped)",
        err=True,
    )
    ctx.exit(EXIT_ERROR)


@store.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite DEST if it exists.")
@click.pass_context
@json_output
def store_backup(ctx: click.Context, dest: Path, force: bool) -> None:
    """Write a consistent copy of the store to DEST (safe while lanman up runs)."""
    from lanman.store.maintenance import backup

    db = _db_path(ctx)
    _wrap(lambda: backup(db, dest, force=force))
    click.echo(f"Backup of {db} written to {dest} (mode 0600: it holds NT hashes and keys).")


@store.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@json_output
def store_restore(ctx: click.Context, source: Path) -> None:
    """Replace the store with the backup SOURCE (checked first; nothing changes if it is bad)."""
    from lanman.store.maintenance import restore

    db = _db_path(ctx)
    how = _wrap(lambda: restore(source, db))
    click.echo(f"Restored {db} from {source} ({how}).")
    if how == "in place":
        click.echo("Restart lanman up so that it does not serve cached accounts.")
