"""``lanman smb server-config get|set`` (after Get-/Set-SmbServerConfiguration)."""

from __future__ import annotations

import ipaddress

import click
from rich.table import Table

from lanman.cli._common import WIN_BOOL, CliError, console, echo_json, get_home, yes_no
from lanman.config import ServerConfig

# (PowerShell-style name, config field, meaning) — the order of `server-config get`.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    (
        "RequireSecuritySignature",
        "require_security_signature",
        "LanmanServer RequireSecuritySignature: every user session must sign (24H2 default)",
    ),
    (
        "EnableSecuritySignature",
        "enable_security_signature",
        "LanmanServer EnableSecuritySignature: signing offered (Windows ignores it for SMB2+)",
    ),
    (
        "MapToGuest",
        "map_to_guest",
        "guest mapping: unknown users may get an unsigned guest session on --guest-ok shares",
    ),
    ("ServerName", "server_name", "NetBIOS name of the server"),
    ("DomainName", "domain_name", "workgroup / domain name in NTLM target info"),
    ("ServerGuid", "server_guid", "ServerGuid sent in NEGOTIATE"),
    ("Listen", "listen", "address `lanman up` binds to"),
    ("SmbPort", "smb_port", "TCP port (Windows clients only use 445)"),
    ("MaxConnections", "max_connections", "simultaneous connections accepted"),
)


def _fmt(v: object) -> str:
    return yes_no(v) if isinstance(v, bool) else str(v)


@click.group("smb")
def smb() -> None:
    """SMB server (and later client) settings."""


@smb.group("server-config")
def server_config() -> None:
    """Show or change the SMB server configuration (lanman.toml)."""


@server_config.command("get")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def server_config_get(ctx: click.Context, as_json: bool) -> None:
    """Show the configuration, like Get-SmbServerConfiguration."""
    cfg = get_home(ctx).config
    if as_json:
        echo_json({ps: getattr(cfg, field) for ps, field, _ in SETTINGS})
        return
    t = Table("Name", "Value", box=None, header_style="bold")
    for ps, field, _meaning in SETTINGS:
        t.add_row(ps, _fmt(getattr(cfg, field)))
    console().print(t)


@server_config.command("set")
@click.option(
    "--require-security-signature",
    type=WIN_BOOL,
    help="true|false ($true/$false, 1/0). Default true, as Windows 11 24H2.",
)
@click.option("--enable-security-signature", type=WIN_BOOL, help="true|false.")
@click.option(
    "--map-to-guest",
    type=WIN_BOOL,
    help="true|false. Map unknown users to guest on --guest-ok shares (default false).",
)
@click.option("--listen", help="Address to bind, e.g. 127.0.0.1 or 0.0.0.0.")
@click.option("--smb-port", type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--server-name", help="NetBIOS server name (1-15 characters).")
@click.option("--max-connections", type=click.IntRange(1, 65536))
@click.pass_context
def server_config_set(ctx: click.Context, **opts: object) -> None:
    """Change settings, like Set-SmbServerConfiguration. Restart `lanman up` to apply."""
    changes = {k: v for k, v in opts.items() if v is not None}
    if not changes:
        raise CliError(
            "nothing to set", "give at least one option, e.g. --require-security-signature true"
        )
    if "listen" in changes:
        try:
            ipaddress.ip_address(changes["listen"])
        except ValueError:
            raise CliError(
                f"--listen {changes['listen']!r} is not an IP address",
                "use e.g. 127.0.0.1, 0.0.0.0 or ::1",
            ) from None
    home = get_home(ctx)
    cfg = home.config
    new = ServerConfig(**{f: getattr(cfg, f) for f in ServerConfig.__dataclass_fields__})
    for k, v in changes.items():
        setattr(new, k, v)
    from lanman.config import save_config

    save_config(home.path, new)  # validates before writing
    home.config = new
    names = {field: ps for ps, field, _ in SETTINGS}
    lines = []
    for k in changes:
        old, now = getattr(cfg, k), getattr(new, k)
        lines.append(f"{names[k]}: {_fmt(old)} -> {_fmt(now)}")
    home.events.emit("SERVER_CONFIG_CHANGED", source="lanman-cli", changes="; ".join(lines))
    for line in lines:
        click.echo(line)
    click.echo("Saved to lanman.toml; restart `lanman up` for the change to take effect.")
    if not new.require_security_signature:
        click.echo(
            "warning: signing is no longer required; unsigned sessions can be relayed "
            "(NTLM relay). Windows 11 24H2 requires it by default.",
            err=True,
        )
    if new.map_to_guest and new.require_security_signature:
        click.echo(
            "note: guest sessions are never signed, even with "
            "RequireSecuritySignature true; clients that require signing refuse them.",
            err=True,
        )
