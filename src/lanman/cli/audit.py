"""The administrative audit trail of the command line (issue 15 item 8).

Every change of policy or configuration is an event naming **who** (:func:`actor`: the local
user running the command; the sudo caller when run through sudo), **what** and **old -> new**.
Turning SMB signing off, by whatever path, also prints a warning about NTLM relay attacks and
logs it (event 9151). The events are in :mod:`lanman.events.catalogue`.
"""

from __future__ import annotations

import getpass
import os

import click

from lanman.policy.effective import Setting, resolve_all
from lanman.policy.layers import HostPolicy

__all__ = [
    "SIGNING_VALUES",
    "actor",
    "policy_changes",
    "record_policy_change",
    "signing_turned_off",
]

#: Catalogue values whose 1 -> 0 turns signing off (server or client, any release's names).
SIGNING_VALUES = {
    "LanmanServer.RequireSecuritySignature": "SMB server",
    "LanmanServer.EnableSecuritySignature": "SMB server, SMB1",
    "LanmanWorkstation.RequireSecuritySignature": "SMB client",
    "LanmanWorkstation.EnableSecuritySignature": "SMB client, SMB1",
    "Rdr.RequireSecuritySignature": "NT 4.0 SMB client",
    "Rdr.EnableSecuritySignature": "NT 4.0 SMB client",
    "VNETSUP.RequireSecuritySignature": "Windows 98 SMB client",
    "VNETSUP.EnableSecuritySignature": "Windows 98 SMB client",
    "LanmanServer.EnableW9xsecuritysignature": "SMB server, NT 4.0/9x clients",
}


_login_name = getpass.getuser  # the test suite replaces it


def actor() -> str:
    """The person behind the command: ``SUDO_USER`` when root runs it through sudo, else the
    login name (``getpass.getuser``), else the numeric uid."""
    try:
        name = _login_name()
    except Exception:  # noqa: BLE001 - no passwd entry, no LOGNAME: fall back to the uid
        name = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    if sudo and name == "root" and sudo != "root":
        return f"{sudo} (via sudo as root)"
    return name


def _show(v: object) -> str:
    if v is None:
        return "not defined"
    if isinstance(v, tuple):
        return ", ".join(v) if v else "(none)"
    return str(v)


def policy_changes(before: HostPolicy, after: HostPolicy) -> list[tuple[Setting, Setting]]:
    """Pure: (old, new) settings of every catalogue value whose effective value, origin or
    layer data differ between two host states."""
    old = {s.entry.name: s for s in resolve_all(before)}
    out = []
    for s in resolve_all(after):
        o = old[s.entry.name]
        if (o.value, o.origin, o.local, o.group) != (s.value, s.origin, s.local, s.group):
            out.append((o, s))
    return out


def signing_turned_off(changes: list[tuple[Setting, Setting]]) -> list[tuple[Setting, Setting]]:
    """Pure: the changes that take a signing value from on to off (effective)."""
    return [
        (o, s)
        for o, s in changes
        if s.entry.name in SIGNING_VALUES and bool(o.value) and s.value == 0
    ]


def record_policy_change(home, before: HostPolicy, after: HostPolicy, command: str) -> None:
    """Write 9152 (profile), 9150 per changed value and 9151 per signing value turned off;
    print the relay warning on stderr."""
    who = actor()
    ev = home.events
    if before.profile_name != after.profile_name:
        ev.emit(
            "POLICY_PROFILE_CHANGED",
            source="lanman-cli",
            actor=who,
            old=before.profile_name,
            new=after.profile_name,
            command=command,
        )
    changes = policy_changes(before, after)
    for o, s in changes:
        ev.emit(
            "POLICY_VALUE_CHANGED",
            source="lanman-cli",
            actor=who,
            command=command,
            setting=s.entry.name,
            path=s.entry.path,
            old=_show(o.value),
            new=_show(s.value),
            old_origin=o.origin,
            new_origin=s.origin,
            old_local=_show(o.local),
            new_local=_show(s.local),
            old_group=_show(o.group),
            new_group=_show(s.group),
        )
    for o, s in signing_turned_off(changes):
        role = SIGNING_VALUES[s.entry.name]
        ev.emit(
            "SIGNING_TURNED_OFF",
            source="lanman-cli",
            actor=who,
            command=command,
            setting=s.entry.name,
            old=_show(o.value),
            new=_show(s.value),
            role=role,
        )
        click.echo(
            f"warning: {s.entry.value} is now off for the {role} ({s.entry.path}: "
            f"{_show(o.value)} -> {_show(s.value)}). Unsigned SMB sessions can be tampered "
            "with and their NTLM authentication relayed to other servers (NTLM relay "
            "attacks); Windows 11 24H2 requires signing by default. Logged as event 9151.",
            err=True,
        )
