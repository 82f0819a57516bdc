"""``lanman`` command line: ``lanman [--home DIR] <group> <verb>``."""

from __future__ import annotations

from pathlib import Path

import click

from lanman.cli._common import HomeRef, LanmanGroup
from lanman.cli.auth import auth, computer_auth, user_auth
from lanman.cli.check import check
from lanman.cli.client import client
from lanman.cli.computer import computer
from lanman.cli.domain import domain
from lanman.cli.events import events
from lanman.cli.group import group
from lanman.cli.keytab import keytab
from lanman.cli.msg import msg
from lanman.cli.policy import policy
from lanman.cli.profile import profile
from lanman.cli.registry import registry
from lanman.cli.scan import scan
from lanman.cli.sddl import sddl
from lanman.cli.service import service
from lanman.cli.session import session
from lanman.cli.share import share
from lanman.cli.smb import smb
from lanman.cli.spn import spn
from lanman.cli.store import store
from lanman.cli.up import up
from lanman.cli.user import user


@click.group(cls=LanmanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="LANMAN_HOME",
    help="Data directory (default: $LANMAN_HOME, else ./lanman-home).",
)
@click.version_option(package_name="lanman", prog_name="lanman")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """lanman: Windows-grade network security services (SMB server that signs like Windows)."""
    ctx.obj = HomeRef(home)


cli.add_command(up)
cli.add_command(check)
cli.add_command(share)
cli.add_command(user)
cli.add_command(smb)
cli.add_command(events)
cli.add_command(policy)
cli.add_command(profile)
cli.add_command(registry)
cli.add_command(msg)
cli.add_command(session)
cli.add_command(client)
cli.add_command(domain)
cli.add_command(computer)
cli.add_command(group)
cli.add_command(spn)
cli.add_command(keytab)
cli.add_command(scan)
cli.add_command(store)
cli.add_command(service)
cli.add_command(sddl)
cli.add_command(auth)
user.add_command(user_auth)
computer.add_command(computer_auth)


def main() -> None:
    cli(prog_name="lanman")


if __name__ == "__main__":
    main()
