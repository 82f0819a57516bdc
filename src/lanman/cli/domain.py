"""``lanman domain provision|show|krb5conf|set``: the domain this home is the controller of."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home
from lanman.directory import Directory, NotProvisionedError, provision

DEFAULT_KDC_PORT = 88


def open_directory(ctx: click.Context) -> Directory:
    """The directory of the command's home (closed with the context); a clear error when no
    domain is provisioned."""
    home = get_home(ctx)
    if not Directory.is_provisioned(home.path):
        raise NotProvisionedError(home.path)
    d = Directory.open(home.path)
    ctx.find_root().call_on_close(d.close)
    return d


def maybe_directory(ctx: click.Context) -> Directory | None:
    home = get_home(ctx)
    if not Directory.is_provisioned(home.path):
        return None
    return open_directory(ctx)


def parse_expires(value: str) -> int | None:
    """``never`` -> None; ``YYYY-MM-DD`` -> the account works through that day (it expires at
    the next midnight UTC, like ``net user /expires:``); ISO date-time -> that instant (UTC if
    no offset). Returns unix seconds."""
    v = value.strip()
    if v.lower() in ("never", "none", ""):
        return None
    try:
        if len(v) == 10:
            day = datetime.strptime(v, "%Y-%m-%d").replace(tzinfo=UTC)
            return int((day + timedelta(days=1)).timestamp())
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise CliError(
            f"{value!r} is not a date", "use YYYY-MM-DD, an ISO 8601 date-time or `never`"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def fmt_time(ts: int | None) -> str:
    if ts is None:
        return "Never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_secret(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline()
    if not line:
        raise CliError("no password on standard input", "pipe the password followed by a newline")
    return line.removesuffix("\n").removesuffix("\r")


@click.group("domain")
def domain() -> None:
    """Provision and inspect the domain (directory + KDC) this home serves."""


@domain.command("provision")
@click.option("--realm", required=True, help="Kerberos realm / DNS domain, e.g. LANMAN.TEST.")
@click.option("--domain", "netbios", required=True, help="NetBIOS domain name, e.g. LANMAN.")
@click.option(
    "--admin-password-stdin",
    is_flag=True,
    help="Read Administrator's password from one stdin line (else one is generated "
    "and shown once).",
)
@click.option(
    "--host-name",
    default=None,
    help="This host's computer name (default: server_name of lanman.toml; becomes it).",
)
@click.option("--domain-sid", default=None, help="Use this S-1-5-21-x-y-z instead of a new one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def domain_provision(
    ctx: click.Context,
    realm: str,
    netbios: str,
    admin_password_stdin: bool,
    host_name: str | None,
    domain_sid: str | None,
    as_json: bool,
) -> None:
    """Create the domain: SID, Administrator, Guest, krbtgt, well-known groups, this host's
    computer account with host/ and cifs/ SPNs. Existing users become domain users."""
    home = get_home(ctx, create=True)
    pw = _read_secret(admin_password_stdin)
    r = provision(
        home.path,
        realm=realm,
        domain=netbios,
        host_name=host_name or home.config.server_name,
        admin_password=pw,
        domain_sid=domain_sid,
    )
    changed = False
    if home.config.domain_name.upper() != r.domain:
        home.config.domain_name = r.domain  # NTLM's NetBIOS domain name (MsvAvNbDomainName)
        changed = True
    if home.config.server_name.upper() != r.dc_name.upper():
        # the server answers as its computer account (NTLM MsvAvNbComputerName, cifs/ SPN)
        home.config.server_name = r.dc_name
        changed = True
    if changed:
        home.save_config()
    from lanman.cli.audit import actor

    home.events.emit(
        "DOMAIN_PROVISIONED",
        source="lanman-cli",
        actor=actor(),
        domain=r.domain,
        realm=r.realm,
        domain_sid=r.domain_sid,
        dc_account=r.dc_account,
    )
    if as_json:
        echo_json(
            {
                "realm": r.realm,
                "domain": r.domain,
                "domain_sid": r.domain_sid,
                "dc_name": r.dc_name,
                "dc_account": r.dc_account,
                "admin_password": r.admin_password_generated,
                "rc4_only_users": r.migrated_users,
            }
        )
        return
    click.echo(f"Domain {r.domain} ({r.realm}) provisioned.")
    click.echo(f"Domain SID: {r.domain_sid}")
    click.echo(
        f"Domain controller account: {r.dc_account} (SPNs host/ and cifs/ for "
        f"{r.dc_name} and {r.dc_name.lower()}.{r.realm.lower()})"
    )
    click.echo("Accounts: Administrator (500), Guest (501, disabled), krbtgt (502).")
    if r.admin_password_generated:
        click.echo(f"Administrator password (shown once, not stored): {r.admin_password_generated}")
    if r.migrated_users:
        click.echo(
            f"Warning: {len(r.migrated_users)} existing user(s) became domain users: "
            f"{', '.join(r.migrated_users)}. Only their NT hashes are stored, so until their "
            "next password set they can use Kerberos with RC4 only (no AES keys) — run "
            "`lanman user passwd NAME` for each.",
            err=True,
        )
    click.echo("Next: `lanman domain krb5conf > krb5.conf` for Kerberos clients.")
    click.echo(
        "If `lanman up` is running on this home, restart it: the KDC and domain logons start "
        "with the server."
    )


@domain.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def domain_show(ctx: click.Context, as_json: bool) -> None:
    """Show the domain: names, SID, counts, lockout policy, RC4-only accounts."""
    info = open_directory(ctx).info()
    if as_json:
        echo_json(info)
        return
    t = Table(box=None, show_header=False)
    for label, key in (
        ("Realm", "realm"),
        ("NetBIOS domain", "domain"),
        ("DNS domain", "dns_domain"),
        ("Domain SID", "domain_sid"),
        ("Domain controller", "dc_dns_name"),
        ("Created", "created"),
        ("Users", "users"),
        ("Computers", "computers"),
        ("Groups", "groups"),
    ):
        t.add_row(label, escape(str(info[key])))
    lo = info["lockout"]
    t.add_row("Lockout threshold", "Never" if lo["threshold"] == 0 else str(lo["threshold"]))
    t.add_row(
        "Lockout duration",
        f"{lo['duration_seconds'] // 60} min" if lo["duration_seconds"] else "until unlocked",
    )
    t.add_row("Lockout window", f"{lo['window_seconds'] // 60} min")
    pp = info["password_policy"]
    t.add_row("Minimum password length", str(pp["min_password_length"]))
    t.add_row("Password complexity", "Enabled" if pp["password_complexity"] else "Disabled")
    t.add_row("Password history", f"{pp['password_history']} passwords remembered")
    t.add_row(
        "Maximum password age",
        f"{pp['max_password_age_days']} days" if pp["max_password_age_days"] else "never expires",
    )
    t.add_row("Minimum password age", f"{pp['min_password_age_days']} days")
    t.add_row("RC4-only accounts", escape(", ".join(info["rc4_only_accounts"]) or "none"))
    console().print(t)


def default_kdc_address(cfg) -> str:
    """``listen:kdc_port`` of lanman.toml (127.0.0.1 for a wildcard listen; port 88 when the
    configuration has no KDC port)."""
    port = getattr(cfg, "kdc_port", None) or DEFAULT_KDC_PORT
    host = getattr(cfg, "listen", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def krb5_conf(realm: str, dns_domain: str, kdc: str) -> str:
    return (
        "# krb5.conf for clients of lanman's KDC (lanman domain krb5conf)\n"
        "[libdefaults]\n"
        f"    default_realm = {realm}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    rdns = false\n"
        "    dns_canonicalize_hostname = false\n"
        "\n"
        "[realms]\n"
        f"    {realm} = {{\n"
        f"        kdc = {kdc}\n"
        f"        default_domain = {dns_domain}\n"
        "    }\n"
        "\n"
        "[domain_realm]\n"
        f"    .{dns_domain} = {realm}\n"
        f"    {dns_domain} = {realm}\n"
    )


@domain.command("krb5conf")
@click.option(
    "--kdc",
    default=None,
    metavar="HOST:PORT",
    help="KDC address (default: listen and kdc_port of lanman.toml, else 127.0.0.1:88).",
)
@click.pass_context
def domain_krb5conf(ctx: click.Context, kdc: str | None) -> None:
    """Print a krb5.conf for MIT/Heimdal clients of this domain."""
    d = open_directory(ctx)
    if kdc is None:
        kdc = default_kdc_address(get_home(ctx).config)
    elif any(c.isspace() for c in kdc) or not kdc:
        raise CliError(f"{kdc!r} is not HOST[:PORT]", "e.g. --kdc 127.0.0.1:8888")
    click.echo(krb5_conf(d.realm, d.dns_domain, kdc), nl=False)


@domain.command("set")
@click.option(
    "--lockout-threshold",
    type=int,
    default=None,
    help="Bad passwords before lockout (0 = never, the Default Domain Policy).",
)
@click.option(
    "--lockout-duration",
    type=int,
    default=None,
    help="Minutes an account stays locked (0 = until an administrator unlocks).",
)
@click.option(
    "--lockout-window",
    type=int,
    default=None,
    help="Minutes after which the bad-password count restarts.",
)
@click.option("--min-password-length", type=int, default=None, help="Characters (AD: 7).")
@click.option(
    "--password-complexity/--no-password-complexity",
    default=None,
    help="Three of upper, lower, digit, symbol; not the account name (AD: on).",
)
@click.option("--password-history", type=int, default=None, help="Passwords remembered (AD: 24).")
@click.option("--max-password-age", type=int, default=None, help="Days, 0 = never expire (AD: 42).")
@click.option("--min-password-age", type=int, default=None, help="Days (AD: 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the resulting policies as JSON.")
@click.pass_context
def domain_set(
    ctx: click.Context,
    lockout_threshold: int | None,
    lockout_duration: int | None,
    lockout_window: int | None,
    min_password_length: int | None,
    password_complexity: bool | None,
    password_history: int | None,
    max_password_age: int | None,
    min_password_age: int | None,
    as_json: bool,
) -> None:
    """Change the domain's account lockout and password policy (Default Domain Policy)."""
    d = open_directory(ctx)
    d.set_lockout_policy(
        threshold=lockout_threshold,
        duration=None if lockout_duration is None else lockout_duration * 60,
        window=None if lockout_window is None else lockout_window * 60,
    )
    pp = d.set_password_policy(
        min_length=min_password_length,
        complexity=password_complexity,
        history=password_history,
        max_age_days=max_password_age,
        min_age_days=min_password_age,
    )
    lo = d.lockout_policy
    if as_json:
        echo_json({"lockout": lo, "password_policy": pp.as_dict()})
        return
    click.echo(
        f"Lockout threshold {lo['threshold']}, duration {lo['duration_seconds'] // 60} "
        f"min, window {lo['window_seconds'] // 60} min."
    )
    a = pp.as_dict()
    click.echo(
        f"Passwords: at least {a['min_password_length']} characters, complexity "
        f"{'on' if a['password_complexity'] else 'off'}, {a['password_history']} remembered, "
        + (
            f"expire after {a['max_password_age_days']} days"
            if a["max_password_age_days"]
            else "never expire"
        )
        + f", minimum age {a['min_password_age_days']} days."
    )


def parse_level(text: str) -> int:
    """A functional level by name (2012R2, "2012 R2", 2016, ...) or by number (6, 7, ...)."""
    from lanman.directory.authn import FUNCTIONAL_LEVELS

    key = text.strip().replace(" ", "").replace("_", "").lower()
    for n, label in FUNCTIONAL_LEVELS.items():
        if key == label.replace(" ", "").lower():
            return n
    if key.isdigit() and int(key) in FUNCTIONAL_LEVELS:
        return int(key)
    raise CliError(
        f"unknown functional level {text!r}",
        "use one of " + ", ".join(v.replace(" ", "") for v in FUNCTIONAL_LEVELS.values()),
    )


def _level_json(level: int) -> dict:
    from lanman.directory.authn import DS_BEHAVIOR_WIN2012R2, DS_BEHAVIOR_WIN2016, FUNCTIONAL_LEVELS

    return {
        "dc_functional_level": level,
        "name": FUNCTIONAL_LEVELS.get(level, str(level)),
        "authentication_policies": level >= DS_BEHAVIOR_WIN2012R2,
        "policy_ntlm_switches": level >= DS_BEHAVIOR_WIN2016,
    }


@domain.group("level")
def domain_level() -> None:
    """The domain controller functional level (policies and silos need 2012 R2 or later)."""


@domain_level.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def domain_level_show(ctx: click.Context, as_json: bool) -> None:
    """Show the domain controller functional level."""
    j = _level_json(open_directory(ctx).authn.dc_functional_level)
    if as_json:
        echo_json(j)
        return
    click.echo(f"Domain controller functional level: {j['name']} ({j['dc_functional_level']})")
    if not j["authentication_policies"]:
        click.echo("Authentication policies and silos are not applied below 2012 R2.")


@domain_level.command("raise")
@click.argument("level")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def domain_level_raise(ctx: click.Context, level: str, as_json: bool) -> None:
    """Raise the domain controller functional level to LEVEL (e.g. 2016)."""
    d = open_directory(ctx)
    new = parse_level(level)
    old = d.authn.dc_functional_level
    if new <= old:
        cur = _level_json(old)
        raise CliError(
            f"the functional level is already {cur['name']} ({old})",
            "a functional level can only be raised",
        )
    d.authn.set_dc_functional_level(new)
    j = _level_json(new)
    if as_json:
        echo_json(j)
        return
    click.echo(
        f"Domain controller functional level raised from {_level_json(old)['name']} to "
        f"{j['name']} ({new})."
    )
