"""``lanman service install|uninstall|show``: run ``lanman up`` as a systemd service.

``install`` creates the dedicated system account (``lanman`` by default: no home, no login
shell) that ``lanman up`` started as root drops to after binding its ports, and writes a
systemd unit that starts ``lanman up`` for this home. The unit starts as root only so that
ports below 1024 (445, 88) can be bound; the process then serves as the account.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import click

from lanman.cli._common import CliError, echo_json, json_output
from lanman.privileges import DEFAULT_ACCOUNT

UNIT_DIR = Path("/etc/systemd/system")
UNIT_NAME = "lanman.service"


def unit_text(exe: str, home: Path, account: str, listen: str | None, port: int | None) -> str:
    """The systemd unit for ``lanman up`` on ``home`` serving as ``account`` (pure)."""
    args = [exe, "--home", str(home), "up", "--run-as", account]
    if listen:
        args += ["--listen", listen]
    if port:
        args += ["--smb-port", str(port)]
    return "\n".join(
        [
            "[Unit]",
            "Description=lanman SMB file server and KDC",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=" + " ".join(_quote(a) for a in args),
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Restart=on-failure",
            "RestartSec=2",
            "# started as root to bind ports < 1024; lanman drops to the account right after",
            "NoNewPrivileges=no",
            "ProtectSystem=full",
            "PrivateTmp=yes",
            "LimitNOFILE=16384",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-:=" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lanman_exe() -> str:
    found = shutil.which("lanman")
    if found:
        return os.path.abspath(found)
    return os.path.join(os.path.dirname(sys.executable), "lanman")


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _home_path(ctx: click.Context) -> Path:
    from lanman.home import default_home_path

    ref = ctx.find_root().obj
    path = getattr(ref, "path", None)
    return Path(path if path is not None else default_home_path()).expanduser().absolute()


@click.group("service")
def service() -> None:
    """Install lanman up as a systemd service with its own system account."""


@service.command("install")
@click.option(
    "--account",
    default=DEFAULT_ACCOUNT,
    show_default=True,
    help="System account lanman up serves files as (created when missing).",
)
@click.option("--listen", help="Address the service binds (default: lanman.toml's listen).")
@click.option("--smb-port", type=click.IntRange(1, 65535), help="SMB port (445 for Windows).")
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=UNIT_DIR,
    show_default=True,
    help="Where the unit file is written.",
)
@click.option("--no-systemctl", is_flag=True, help="Write the unit only; do not run systemctl.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def service_install(
    ctx: click.Context,
    account: str,
    listen: str | None,
    smb_port: int | None,
    unit_dir: Path,
    no_systemctl: bool,
    as_json: bool,
) -> None:
    """Create the service account and write the systemd unit (needs root)."""
    if os.geteuid() != 0:
        raise CliError("lanman service install needs root", "run it with sudo")
    if account == "root":
        raise CliError(
            "the service account may not be root",
            "give a dedicated account (default lanman); lanman up --run-as root is for tests",
        )
    home = _home_path(ctx)
    created = False
    if not _account_exists(account):
        nologin = shutil.which("nologin") or "/usr/sbin/nologin"
        r = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", nologin, "--comment", "lanman file server", account],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        if r.returncode != 0:
            raise CliError(
                f"could not create system account {account!r}: {r.stderr.strip()}",
                "create it yourself (useradd --system) and run install again",
            )
        created = True
    unit_dir.mkdir(parents=True, exist_ok=True)
    unit = unit_dir / UNIT_NAME
    unit.write_text(unit_text(_lanman_exe(), home, account, listen, smb_port))
    os.chmod(unit, 0o644)
    enabled = False
    if not no_systemctl and shutil.which("systemctl") and unit_dir == UNIT_DIR:
        r = subprocess.run(
            ["systemctl", "daemon-reload"], capture_output=True, check=False, timeout=60
        )
        enabled = r.returncode == 0
    result = {
        "account": account,
        "account_created": created,
        "unit": str(unit),
        "home": str(home),
        "daemon_reloaded": enabled,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(f"System account: {account}" + (" (created)" if created else " (exists)"))
    click.echo(f"Unit written: {unit}")
    click.echo(f"Start it: systemctl enable --now {unit.name}")


@service.command("uninstall")
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=UNIT_DIR,
    show_default=True,
)
@click.option("--remove-account", metavar="NAME", help="Also delete this system account.")
@click.pass_context
@json_output
def service_uninstall(ctx: click.Context, unit_dir: Path, remove_account: str | None) -> None:
    """Remove the unit (and, if asked, the account). The home is left alone."""
    unit = unit_dir / UNIT_NAME
    if unit.exists():
        unit.unlink()
        click.echo(f"Removed {unit}")
    else:
        click.echo(f"No unit at {unit}")
    if remove_account:
        if remove_account == "root":
            raise CliError("refusing to remove root", "name the service account")
        if _account_exists(remove_account):
            r = subprocess.run(
                ["userdel", remove_account], capture_output=True, text=True, check=False, timeout=60
            )
            if r.returncode != 0:
                raise CliError(f"userdel {remove_account}: {r.stderr.strip()}")
            click.echo(f"Removed account {remove_account}")


@service.command("show")
@click.option("--account", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--listen")
@click.option("--smb-port", type=click.IntRange(1, 65535))
@click.pass_context
def service_show(
    ctx: click.Context, account: str, listen: str | None, smb_port: int | None
) -> None:
    """Print the unit that install would write (nothing is changed)."""
    click.echo(unit_text(_lanman_exe(), _home_path(ctx), account, listen, smb_port), nl=False)
