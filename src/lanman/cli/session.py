"""``lanman session``: the sessions of a host, like ``qwinsta`` / ``quser``.

``lanman session list [--server HOST[:PORT]] [-U user%pw] [--json]`` is the very command
``lanman msg sessions`` runs (:data:`lanman.cli.msg.sessions_cmd`), registered here a second
time under the name ``list``.
"""

from __future__ import annotations

import click

from lanman.cli.msg import sessions_cmd

__all__ = ["session"]


@click.group("session")
def session() -> None:
    """Sessions logged on to a host (local terminals, lanman agents; remote over MS-TSTS)."""


session.add_command(sessions_cmd, name="list")
