"""``lanman smb server-config|client-config get|set`` (after Get-/Set-SmbServerConfiguration and
Get-/Set-SmbClientConfiguration).

Signing and guest fields are effective values (Group Policy > local > profile default) shown with
their origin; ``set`` writes the local layer (the registry value Set-Smb*Configuration writes).
"""

from __future__ import annotations

import ipaddress

import click

from lanman.cli._common import (
    WIN_BOOL,
    CliError,
    console,
    echo_json,
    json_output,
    print_rows,
    yes_no,
)
from lanman.cli.policy import load_host, save
from lanman.config import ServerConfig
from lanman.policy.effective import Setting, client_policy, resolve, server_policy
from lanman.policy.hoststate import AUTH_DELAY, ENCRYPT_DATA, REJECT_UNENCRYPTED, TOML_KEYS

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
    (
        "EnableSMB1Protocol",
        "smb1_enabled",
        "SMB1 (NT LM 0.12) offered to clients that speak nothing newer (off by default)",
    ),
    (
        "EncryptData",
        "encrypt_data",
        "LanmanServer EncryptData: every session of an SMB 3 client that can encrypt is encrypted",
    ),
    (
        "RejectUnencryptedAccess",
        "reject_unencrypted_access",
        (
            "LanmanServer RejectUnencryptedAccess: clients that cannot encrypt are refused where "
            "encryption is required"
        ),
    ),
    (
        "EncryptionCiphers",
        "encryption_ciphers",
        "SMB 3.1.1 ciphers offered, in the server's order of preference",
    ),
    ("ServerName", "server_name", "NetBIOS name of the server"),
    ("DomainName", "domain_name", "workgroup / domain name in NTLM target info"),
    ("ServerGuid", "server_guid", "ServerGuid sent in NEGOTIATE"),
    ("Listen", "listen", "address `lanman up` binds to"),
    ("SmbPort", "smb_port", "TCP port (Windows clients only use 445)"),
    ("MaxConnections", "max_connections", "simultaneous connections accepted"),
    (
        "MaxConnectionsPerAddress",
        "max_connections_per_address",
        "simultaneous connections accepted from one source address",
    ),
    (
        "PreauthTimeout",
        "preauth_timeout",
        "seconds a new connection has to finish NEGOTIATE + SESSION_SETUP",
    ),
    (
        "InvalidAuthenticationDelayTimeInMs",
        "invalid_authentication_delay_ms",
        "authentication rate limiter: failed logons are answered after this delay (24H2: 2000)",
    ),
)
AUTH_DELAY_FIELD = "invalid_authentication_delay_ms"
#: config field -> catalogue value (boolean REG_DWORDs kept in the policy's local layer only)
POLICY_BOOLS = {"encrypt_data": ENCRYPT_DATA, "reject_unencrypted_access": REJECT_UNENCRYPTED}


def _fmt(v: object) -> str:
    return yes_no(v) if isinstance(v, bool) else str(v)


@click.group("smb")
def smb() -> None:
    """SMB server and client settings."""


@smb.group("server-config")
def server_config() -> None:
    """Show or change the SMB server configuration (policy layers and lanman.toml)."""


def _setting_bool(s: Setting | None) -> bool:
    return bool(s is not None and s.value)


def _origin(s: Setting | None) -> str:
    if s is None:
        return "default (profile has no SMB server signing)"
    if s.value is None:
        return "default (not applicable)"
    return s.origin


def _server_view(ctx: click.Context) -> tuple[list[tuple[str, object, str]], str]:
    home, host = load_host(ctx)
    cfg = home.config
    sp = server_policy(host)
    rows: list[tuple[str, object, str]] = []
    for ps, field, _ in SETTINGS:
        if field == "require_security_signature":
            rows.append((ps, _setting_bool(sp.require), _origin(sp.require)))
        elif field == "enable_security_signature":
            rows.append((ps, _setting_bool(sp.enable), _origin(sp.enable)))
        elif field == "map_to_guest":
            origin = "local" if cfg.map_to_guest != ServerConfig().map_to_guest else "default"
            rows.append((ps, cfg.map_to_guest, origin))
        elif field in POLICY_BOOLS:
            d = resolve(host, POLICY_BOOLS[field])
            if d.value is None:
                value = field == "reject_unencrypted_access"  # Windows' default where n/a
                origin = "default (profile has no SMB 3 encryption)"
            else:
                value, origin = bool(d.value), d.origin
            rows.append((ps, value, origin))
        elif field == AUTH_DELAY_FIELD:
            d = resolve(host, AUTH_DELAY)
            value = d.value or 0
            origin = d.origin if d.value is not None else "default (profile has no rate limiter)"
            rows.append((ps, value, origin))
        else:
            rows.append((ps, getattr(cfg, field), "lanman.toml"))
    return rows, host.profile_name


def _print_view(rows: list[tuple[str, object, str]], profile: str, as_json: bool) -> None:
    if as_json:
        data: dict[str, object] = {ps: v for ps, v, _ in rows}
        data["Origin"] = {ps: o for ps, _, o in rows}
        data["Profile"] = profile
        echo_json(data)
        return
    print_rows(["Name", "Value", "Origin"], [[ps, _fmt(v), origin] for ps, v, origin in rows])
    console().print(f"Profile: {profile}")


@server_config.command("get")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def server_config_get(ctx: click.Context, as_json: bool) -> None:
    """Show the configuration, like Get-SmbServerConfiguration (with each value's origin)."""
    rows, profile = _server_view(ctx)
    _print_view(rows, profile, as_json)


@server_config.command("set")
@click.option(
    "--require-security-signature",
    type=WIN_BOOL,
    help="true|false ($true/$false, 1/0). Local layer of LanmanServer RequireSecuritySignature.",
)
@click.option(
    "--enable-security-signature",
    type=WIN_BOOL,
    help="true|false. LanmanServer EnableSecuritySignature (SMB1 only; SMB2+ ignores it).",
)
@click.option(
    "--map-to-guest",
    type=WIN_BOOL,
    help="true|false. Map unknown users to guest on --guest-ok shares (default false).",
)
@click.option(
    "--enable-smb1-protocol",
    "smb1_enabled",
    type=WIN_BOOL,
    help="true|false. Offer SMB1 (NT LM 0.12) to SMB1-only clients (default false).",
)
@click.option(
    "--encrypt-data",
    "encrypt_data",
    type=WIN_BOOL,
    help="true|false. Encrypt every SMB 3 session (LanmanServer EncryptData; default false).",
)
@click.option(
    "--reject-unencrypted-access",
    "reject_unencrypted_access",
    type=WIN_BOOL,
    help="true|false. Refuse clients that cannot encrypt where encryption is required "
    "(LanmanServer RejectUnencryptedAccess; default true).",
)
@click.option(
    "--encryption-ciphers",
    help='SMB 3.1.1 ciphers in order of preference, e.g. "AES_128_GCM,AES_256_GCM" '
    "(Set-SmbServerConfiguration -EncryptionCiphers).",
)
@click.option("--listen", help="Address to bind, e.g. 127.0.0.1 or 0.0.0.0.")
@click.option("--smb-port", type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--server-name", help="NetBIOS server name (1-15 characters).")
@click.option("--max-connections", type=click.IntRange(1, 65536))
@click.option(
    "--max-connections-per-address",
    type=click.IntRange(1, 65536),
    help="Simultaneous connections from one source address (default 64).",
)
@click.option(
    "--preauth-timeout",
    type=click.IntRange(1, 3600),
    help="Seconds a connection has to set up a session (default 60).",
)
@click.option(
    "--invalid-authentication-delay-time-in-ms",
    AUTH_DELAY_FIELD,
    type=click.IntRange(0, 10000),
    help="Authentication rate limiter delay, 0-10000 ms (24H2 default 2000; 0 turns it off). "
    "Local layer of LanmanServer InvalidAuthenticationDelayTimeInMs.",
)
@click.pass_context
@json_output
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
    home, host = load_host(ctx)
    old_rows, _ = _server_view(ctx)
    old = {ps: v for ps, v, _ in old_rows}
    signing = {k: changes.pop(k) for k in list(changes) if k in TOML_KEYS}
    if AUTH_DELAY_FIELD in changes:
        from lanman.policy.catalogue import by_name

        delay = changes.pop(AUTH_DELAY_FIELD)
        signing[AUTH_DELAY_FIELD] = delay
        host.local.set_catalogue(by_name(AUTH_DELAY), int(delay), "local")
    for field, name in POLICY_BOOLS.items():
        if field in changes:
            from lanman.policy.catalogue import by_name

            value = changes.pop(field)
            signing[field] = value
            host.local.set_catalogue(by_name(name), int(bool(value)), "local")
    if "encryption_ciphers" in changes:
        from lanman.crypto.smb_encryption import parse_cipher_names

        try:
            names = parse_cipher_names(str(changes["encryption_ciphers"]))
        except ValueError as e:
            raise CliError(f"--encryption-ciphers: {e}", "e.g. AES_128_GCM,AES_256_GCM") from None
        changes["encryption_ciphers"] = ",".join(c.name for c in names)
    if changes:
        cfg = home.config
        new = ServerConfig(**{f: getattr(cfg, f) for f in ServerConfig.__dataclass_fields__})
        for k, v in changes.items():
            setattr(new, k, v)
        from lanman.config import save_config

        save_config(home.path, new)  # validates before writing
        home.config = new
    for k, v in signing.items():
        from lanman.policy.catalogue import by_name

        if k in TOML_KEYS:
            host.local.set_catalogue(by_name(TOML_KEYS[k]), int(bool(v)), "local")
    save(home, host)  # policy.toml, then lanman.toml holds the effective signing values
    new_rows, _ = _server_view(ctx)
    names = {field: ps for ps, field, _ in SETTINGS}
    lines = []
    origins = {}
    for k in [*signing, *changes]:
        ps = names[k]
        now = next(r for r in new_rows if r[0] == ps)
        origins[ps] = now[2]
        lines.append(f"{ps}: {_fmt(old[ps])} -> {_fmt(now[1])}")
    from lanman.cli.audit import actor

    home.events.emit(
        "SERVER_CONFIG_CHANGED", source="lanman-cli", actor=actor(), changes="; ".join(lines)
    )
    for line in lines:
        click.echo(line)
    click.echo("Saved; restart `lanman up` for the change to take effect.")
    for k, v in signing.items():
        ps = names[k]
        if origins.get(ps) == "group policy":
            click.echo(
                f"warning: Group Policy defines {ps}; the local value {_fmt(v)} has no effect "
                "while the policy is defined (lanman policy get).",
                err=True,
            )
    sp = server_policy(host)  # turning signing off warned in save() (cli/audit.py)
    if home.config.map_to_guest and sp.require_signing:
        click.echo(
            "note: guest sessions are never signed, even with "
            "RequireSecuritySignature true; clients that require signing refuse them.",
            err=True,
        )


# --- client ---------------------------------------------------------------------------------

CLIENT_FIELDS = ("RequireSecuritySignature", "EnableSecuritySignature", "EnableInsecureGuestLogons")


@smb.group("client-config")
def client_config() -> None:
    """Show or change the SMB client policy (Get-/Set-SmbClientConfiguration)."""


def _client_rows(ctx: click.Context) -> tuple[list[tuple[str, object, str]], str]:
    _home, host = load_host(ctx)
    cp = client_policy(host)
    guest = cp.allow_insecure_guest
    rows: list[tuple[str, object, str]] = [
        ("RequireSecuritySignature", _setting_bool(cp.require), _origin(cp.require)),
        ("EnableSecuritySignature", _setting_bool(cp.enable), _origin(cp.enable)),
        (
            "EnableInsecureGuestLogons",
            cp.insecure_guest_allowed,
            _origin(guest) if guest else "default (SMB1-only client: no insecure-guest rule)",
        ),
    ]
    return rows, host.profile_name


@client_config.command("get")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def client_config_get(ctx: click.Context, as_json: bool) -> None:
    """Show the client's signing and guest policy, like Get-SmbClientConfiguration."""
    rows, profile = _client_rows(ctx)
    _print_view(rows, profile, as_json)
    if not as_json:
        console().print("(EnableSecuritySignature affects SMB1 only; SMB2+ ignores it.)")


@client_config.command("set")
@click.option("--require-security-signature", type=WIN_BOOL, help="true|false.")
@click.option("--enable-security-signature", type=WIN_BOOL, help="true|false (SMB1 only).")
@click.option(
    "--enable-insecure-guest-logons", type=WIN_BOOL, help="true|false (AllowInsecureGuestAuth)."
)
@click.pass_context
@json_output
def client_config_set(
    ctx: click.Context,
    require_security_signature: bool | None,
    enable_security_signature: bool | None,
    enable_insecure_guest_logons: bool | None,
) -> None:
    """Change the local layer, like Set-SmbClientConfiguration."""
    wanted = {
        "RequireSecuritySignature": require_security_signature,
        "EnableSecuritySignature": enable_security_signature,
        "EnableInsecureGuestLogons": enable_insecure_guest_logons,
    }
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not wanted:
        raise CliError(
            "nothing to set", "give at least one option, e.g. --require-security-signature true"
        )
    home, host = load_host(ctx)
    cv = host.profile.client_values
    assert cv is not None
    targets = {
        "EnableSecuritySignature": cv[0],
        "RequireSecuritySignature": cv[1],
        "EnableInsecureGuestLogons": cv[2],
    }
    from lanman.policy.catalogue import by_name

    old_rows, _ = _client_rows(ctx)
    for ps, v in wanted.items():
        target = targets[ps]
        if target is None:
            raise CliError(
                f"{ps} does not exist on profile {host.profile_name} (SMB1-only client)",
                "choose a Windows 10 or later profile: lanman profile use win11-24h2-pro",
            )
        host.local.set_catalogue(by_name(target), int(v), "local")
    save(home, host)
    new_rows, _ = _client_rows(ctx)
    old = {r[0]: r[1] for r in old_rows}
    for ps, value, origin in new_rows:
        if ps in wanted:
            click.echo(f"{ps}: {_fmt(old[ps])} -> {_fmt(value)} (origin: {origin})")
            if origin == "group policy":
                click.echo(
                    f"warning: Group Policy defines {ps}; the local value has no effect.",
                    err=True,
                )
    if wanted.get("EnableInsecureGuestLogons"):
        click.echo(
            "warning: guest sessions are never signed or encrypted; a client that requires "
            "signing still refuses them (0xC05D0003).",
            err=True,
        )


from lanman.cli.matrix import matrix  # `lanman smb matrix` (after the group exists)

smb.add_command(matrix)
