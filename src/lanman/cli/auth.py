"""``lanman auth policy|silo|impact|simulate`` and ``lanman user|computer auth``:
authentication policies and silos (Windows Server 2012 R2+), shaped like ``samba-tool domain
auth`` (4.21) and the PowerShell AD cmdlets (New-ADAuthenticationPolicy, ...).

A new policy or silo is created in audit mode unless ``--enforce`` (PowerShell's default: an
unenforced policy only logs what it would deny, events 305/306). Conditions are SDDL,
validated with the column of the first error and stored as self-relative security
descriptors (domain-relative aliases resolved with the domain SID).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from lanman.cli._common import CliError, console, echo_json, get_home, yes_no
from lanman.cli.domain import open_directory
from lanman.cli.sddl import caret_lines
from lanman.directory import Directory
from lanman.directory.authn import (
    MAX_TGT_LIFETIME_MINS,
    MIN_TGT_LIFETIME_MINS,
    TICKS_PER_MINUTE,
    AuthnPolicy,
    AuthnSilo,
)
from lanman.directory.errors import DirectoryError
from lanman.security.descriptor import decode_sd, encode_sd
from lanman.security.errors import SddlError, SecurityError
from lanman.security.sddl_parse import device_references
from lanman.security.sddl_write import sd_to_sddl

WIDTH = 80
DEVICE_IN_FROM = (
    "a device attribute is not applicable in this context (did you intend a user attribute?)"
)
_JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
STRONG_NTLM = {"disabled": 0, "optional": 1, "required": 2}


def _say(text: str) -> None:
    """Print a paragraph wrapped at 80 columns."""
    click.echo(textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False))


class SddlOptionError(CliError):
    """Bad SDDL in an option: where, the text with a caret under the column, and why."""

    def __init__(self, option: str, message: str, text: str, column: int | None):
        where = f" at column {column}" if column is not None else ""
        lines = [f"{option}: Unable to parse SDDL{where}", *caret_lines(text, column)]
        lines.append(f"  {message}")  # one line, so the message can be searched for
        super().__init__("\n".join(lines), "fix the SDDL (`lanman sddl explain SDDL` reads it)")
        self.sddl_message = message
        self.column = column


# --------------------------------------------------------------------------- descriptors


def _sd_sddl(blob: bytes | None, dom: str) -> str | None:
    if blob is None:
        return None
    try:
        return sd_to_sddl(decode_sd(blob), dom)
    except SecurityError as exc:
        return f"(invalid descriptor: {exc.message})"


def compile_condition(option: str, text: str, dom: str, *, allow_device: bool) -> bytes:
    """SDDL -> self-relative descriptor bytes; in a From condition (``allow_device`` False)
    device attributes and Device_Member_of operators are refused, as samba-tool does."""
    try:
        refs = device_references(text, dom)
        if refs and not allow_device:
            raise SddlOptionError(option, DEVICE_IN_FROM, text, refs[0][0])
        from lanman.security.sddl_parse import parse_sddl

        return encode_sd(parse_sddl(text, dom))
    except SddlError as exc:
        raise SddlOptionError(option, exc.message, text, exc.column) from None
    except SecurityError as exc:
        raise SddlOptionError(option, exc.message, text, None) from None


def _group_sddl(d: Directory, group: str) -> str:
    g = d.get_group(group)
    if g is None:
        raise CliError(f"group {group!r} does not exist", "`lanman group list` shows the groups")
    return f"O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {{SID({g.sid})}}))"


def _silo_sddl(d: Directory, silo: str) -> str:
    s = d.authn.get_silo(silo)
    if s is None:
        raise CliError(
            f"authentication policy silo {silo!r} does not exist",
            "create it first with `lanman auth silo create NAME`",
        )
    return f'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "{s.name}"))'


# (field, option stem, shorthand suffixes, is a From condition)
_CONDITIONS = (
    (
        "user_allowed_from",
        "user-allowed-to-authenticate-from",
        ("device-group", "device-silo"),
        True,
    ),
    ("user_allowed_to", "user-allowed-to-authenticate-to", ("by-group", "by-silo"), False),
    (
        "service_allowed_from",
        "service-allowed-to-authenticate-from",
        ("device-group", "device-silo"),
        True,
    ),
    ("service_allowed_to", "service-allowed-to-authenticate-to", ("by-group", "by-silo"), False),
    ("computer_allowed_to", "computer-allowed-to-authenticate-to", ("by-group", "by-silo"), False),
)
_LIFETIMES = (
    ("user_tgt_lifetime", "user-tgt-lifetime-mins", "users"),
    ("computer_tgt_lifetime", "computer-tgt-lifetime-mins", "computers"),
    ("service_tgt_lifetime", "service-tgt-lifetime-mins", "managed service accounts"),
)


def _key(stem: str) -> str:
    return stem.replace("-", "_")


def _policy_options(create: bool) -> Callable:
    def deco(f: Callable) -> Callable:
        opts = [
            click.option("--enforce", is_flag=True, help="Enforce the policy."),
            click.option(
                "--audit",
                is_flag=True,
                help="Only audit (log 305/306, deny nothing)"
                + (" — the default of a new policy." if create else "."),
            ),
            click.option("--protect", is_flag=True, help="Protect from accidental deletion."),
            click.option("--unprotect", is_flag=True, help="Allow deletion again."),
            click.option("--description", default=None, help="Description."),
            click.option(
                "--strong-ntlm-policy",
                type=click.Choice(["Disabled", "Optional", "Required"], case_sensitive=False),
                default=None,
                help="msDS-StrongNTLMPolicy.",
            ),
        ]
        for _, stem, who in _LIFETIMES:
            opts.append(
                click.option(
                    f"--{stem}",
                    _key(stem),
                    type=int,
                    metavar="N",
                    default=None,
                    help=f"TGT lifetime for {who}, {MIN_TGT_LIFETIME_MINS}.."
                    f"{MAX_TGT_LIFETIME_MINS} minutes.",
                )
            )
        for cls in ("user", "service"):
            opts.append(
                click.option(
                    f"--{cls}-allow-ntlm-auth/--no-{cls}-allow-ntlm-auth",
                    f"{cls}_allow_ntlm",
                    default=None,
                    help=f"Allow NTLM for {cls}s although a From condition is set.",
                )
            )
        for _, stem, shorts, is_from in _CONDITIONS:
            empty = "" if create else " (an empty string removes it)"
            opts.append(
                click.option(
                    f"--{stem}", _key(stem), metavar="SDDL", default=None, help=f"SDDL{empty}."
                )
            )
            for short in shorts:
                what = "GROUP" if short.endswith("group") else "SILO"
                opts.append(
                    click.option(
                        f"--{stem}-{short}",
                        _key(f"{stem}-{short}"),
                        metavar=what,
                        default=None,
                        help=f"Shorthand: {'devices' if is_from else 'accounts'} in {what}.",
                    )
                )
        opts.append(_JSON_OPT)
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _exclusive(a: bool, b: bool, na: str, nb: str) -> None:
    if a and b:
        raise CliError(f"--{na} and --{nb} cannot be used together.", f"give one of --{na}, --{nb}")


def _policy_attrs(d: Directory, opts: dict[str, Any], create: bool) -> dict[str, Any]:
    """The AuthnPolicy fields the options set (validated)."""
    _exclusive(opts["audit"], opts["enforce"], "audit", "enforce")
    _exclusive(opts["protect"], opts["unprotect"], "protect", "unprotect")
    attrs: dict[str, Any] = {}
    if opts["enforce"] or opts["audit"]:
        attrs["enforced"] = bool(opts["enforce"])
    if opts["protect"] or opts["unprotect"]:
        attrs["protected"] = bool(opts["protect"])
    if opts["description"] is not None:
        attrs["description"] = opts["description"]
    if opts["strong_ntlm_policy"] is not None:
        attrs["strong_ntlm_policy"] = STRONG_NTLM[opts["strong_ntlm_policy"].lower()]
    for field, stem, _ in _LIFETIMES:
        mins = opts[_key(stem)]
        if mins is None:
            continue
        if not MIN_TGT_LIFETIME_MINS <= mins <= MAX_TGT_LIFETIME_MINS:
            raise CliError(
                f"--{stem} must be between {MIN_TGT_LIFETIME_MINS} and {MAX_TGT_LIFETIME_MINS}",
                "give the lifetime in minutes (600 = 10 hours, the domain default)",
            )
        attrs[field] = mins * TICKS_PER_MINUTE
    for cls in ("user", "service"):
        if opts[f"{cls}_allow_ntlm"] is not None:
            attrs[f"{cls}_allow_ntlm"] = opts[f"{cls}_allow_ntlm"]
    dom = d.domain_sid
    for field, stem, shorts, is_from in _CONDITIONS:
        given = [(f"--{stem}", opts[_key(stem)])] + [
            (f"--{stem}-{s}", opts[_key(f"{stem}-{s}")]) for s in shorts
        ]
        given = [(o, v) for o, v in given if v is not None]
        if len(given) > 1:
            raise CliError(
                f"--{stem} argument repeated {len(given)} times.",
                "give one of " + ", ".join(o for o, _ in given),
            )
        if not given:
            continue
        option, value = given[0]
        if option.endswith("group"):
            text = _group_sddl(d, value)
        elif option.endswith("silo"):
            text = _silo_sddl(d, value)
        else:
            text = value
        if text.strip() == "":
            if create:
                raise CliError(f"{option}: empty SDDL", "give a security descriptor in SDDL")
            attrs[field] = None
            continue
        attrs[field] = compile_condition(option, text, dom, allow_device=not is_from)
    return attrs


def _mins(ticks: int | None) -> int | None:
    return None if ticks is None else ticks // TICKS_PER_MINUTE


def policy_json(p: AuthnPolicy, dom: str) -> dict[str, Any]:
    strong = {v: k.capitalize() for k, v in STRONG_NTLM.items()}
    return {
        "name": p.name,
        "guid": p.guid,
        "description": p.description,
        "enforced": p.enforced,
        "protected": p.protected,
        "user_tgt_lifetime_mins": _mins(p.user_tgt_lifetime),
        "computer_tgt_lifetime_mins": _mins(p.computer_tgt_lifetime),
        "service_tgt_lifetime_mins": _mins(p.service_tgt_lifetime),
        "user_allowed_to_authenticate_from": _sd_sddl(p.user_allowed_from, dom),
        "user_allowed_to_authenticate_to": _sd_sddl(p.user_allowed_to, dom),
        "service_allowed_to_authenticate_from": _sd_sddl(p.service_allowed_from, dom),
        "service_allowed_to_authenticate_to": _sd_sddl(p.service_allowed_to, dom),
        "computer_allowed_to_authenticate_to": _sd_sddl(p.computer_allowed_to, dom),
        "user_allow_ntlm_auth": p.user_allow_ntlm,
        "service_allow_ntlm_auth": p.service_allow_ntlm,
        "strong_ntlm_policy": strong.get(p.strong_ntlm_policy)
        if p.strong_ntlm_policy is not None
        else None,
        "created": p.created,
    }


def silo_json(d: Directory, s: AuthnSilo) -> dict[str, Any]:
    return {
        "name": s.name,
        "guid": s.guid,
        "description": s.description,
        "enforced": s.enforced,
        "protected": s.protected,
        "user_authentication_policy": s.user_policy,
        "computer_authentication_policy": s.computer_policy,
        "service_authentication_policy": s.service_policy,
        "members": d.authn.members(s.name),
        "created": s.created,
    }


def _kv_table(rows: list[tuple[str, Any]]) -> None:
    t = Table(box=None, show_header=False)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in rows:
        t.add_row(k, escape("-" if v is None or v == "" else str(v)))
    console().print(t)


def _mode(enforced: bool) -> str:
    return "enforced" if enforced else "audit"


def _level_warning(d: Directory) -> None:
    from lanman.directory.authn import DS_BEHAVIOR_WIN2012R2

    if d.authn.dc_functional_level < DS_BEHAVIOR_WIN2012R2:
        _say(
            "Warning: the domain controller functional level is below 2012 R2, so policies "
            "and silos are not applied (`lanman domain level raise 2016`)."
        )


def _created_message(what: str, name: str, enforced: bool, group: str) -> None:
    if enforced:
        _say(f"{what} {name} was created (enforced).")
        return
    _say(
        f"{what} {name} was created in audit mode: it is not enforced and only logs what it "
        "would deny (events 305/306)."
    )
    _say(f"Enforce it with `lanman auth {group} modify {name} --enforce`.")


@click.group("auth")
def auth() -> None:
    """Authentication policies and silos (Windows Server 2012 R2+ domain controllers)."""


# --------------------------------------------------------------------------- policies


@auth.group("policy")
def policy() -> None:
    """Authentication policies: TGT lifetimes and who may authenticate from/to where."""


@policy.command("create")
@click.argument("name")
@_policy_options(create=True)
@click.pass_context
def policy_create(ctx: click.Context, name: str, as_json: bool, **opts: Any) -> None:
    """Create policy NAME (audit mode unless --enforce)."""
    d = open_directory(ctx)
    attrs = _policy_attrs(d, opts, create=True)
    attrs.setdefault("enforced", False)
    p = d.authn.create_policy(name, **attrs)
    if as_json:
        echo_json(policy_json(p, d.domain_sid))
        return
    _created_message("Authentication policy", p.name, p.enforced, "policy")
    _level_warning(d)


@policy.command("modify")
@click.argument("name")
@_policy_options(create=False)
@click.pass_context
def policy_modify(ctx: click.Context, name: str, as_json: bool, **opts: Any) -> None:
    """Change policy NAME (only what the options give)."""
    d = open_directory(ctx)
    attrs = _policy_attrs(d, opts, create=False)
    p = d.authn.modify_policy(name, **attrs)
    if as_json:
        echo_json(policy_json(p, d.domain_sid))
        return
    _say(f"Authentication policy {p.name} was modified ({_mode(p.enforced)}).")


@policy.command("list")
@_JSON_OPT
@click.pass_context
def policy_list(ctx: click.Context, as_json: bool) -> None:
    """List the policies."""
    d = open_directory(ctx)
    ps = d.authn.list_policies()
    if as_json:
        echo_json([policy_json(p, d.domain_sid) for p in ps])
        return
    if not ps:
        click.echo("There are no entries in the list.")
        return
    t = Table("Name", "Mode", "Protected", "Description", box=None, header_style="bold")
    for p in ps:
        t.add_row(escape(p.name), _mode(p.enforced), yes_no(p.protected), escape(p.description))
    console().print(t)


@policy.command("view")
@click.argument("name")
@_JSON_OPT
@click.pass_context
def policy_view(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show policy NAME (conditions as SDDL, lifetimes in minutes)."""
    d = open_directory(ctx)
    j = policy_json(d.authn.require_policy(name), d.domain_sid)
    if as_json:
        echo_json(j)
        return
    labels = {
        "name": "Name",
        "description": "Description",
        "enforced": "Enforced",
        "protected": "Protected",
        "user_tgt_lifetime_mins": "User TGT lifetime (min)",
        "computer_tgt_lifetime_mins": "Computer TGT lifetime (min)",
        "service_tgt_lifetime_mins": "Service TGT lifetime (min)",
        "user_allowed_to_authenticate_from": "User allowed from",
        "user_allowed_to_authenticate_to": "User allowed to",
        "service_allowed_to_authenticate_from": "Service allowed from",
        "service_allowed_to_authenticate_to": "Service allowed to",
        "computer_allowed_to_authenticate_to": "Computer allowed to",
        "user_allow_ntlm_auth": "User NTLM allowed",
        "service_allow_ntlm_auth": "Service NTLM allowed",
        "strong_ntlm_policy": "Strong NTLM policy",
        "guid": "GUID",
        "created": "Created",
    }
    rows = [
        (label, yes_no(j[k]) if isinstance(j[k], bool) else j[k]) for k, label in labels.items()
    ]
    _kv_table(rows)


@policy.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Unprotect a protected policy and delete it.")
@_JSON_OPT
@click.pass_context
def policy_delete(ctx: click.Context, name: str, force: bool, as_json: bool) -> None:
    """Delete policy NAME (its links from silos and accounts go with it)."""
    d = open_directory(ctx)
    _delete("policy", d.authn.require_policy(name), d.authn.delete_policy, force, as_json)


def _delete(what: str, obj: Any, delete: Callable, force: bool, as_json: bool) -> None:
    """Delete a policy or silo; a protected one only with --force (samba-tool's rule)."""
    if obj.protected and not force:
        raise CliError(
            f"authentication {what} {obj.name} is protected from accidental deletion",
            "give --force to unprotect and delete it",
        )
    delete(obj.name, force=True)
    if as_json:
        echo_json({"name": obj.name, "deleted": True})
        return
    click.echo(f"Authentication {what} {obj.name} was deleted.")


# --------------------------------------------------------------------------- silos


@auth.group("silo")
def silo() -> None:
    """Authentication policy silos: a policy per account class, and member accounts."""


def _silo_options(create: bool) -> Callable:
    def deco(f: Callable) -> Callable:
        opts = [
            click.option("--enforce", is_flag=True, help="Enforce the silo."),
            click.option(
                "--audit",
                is_flag=True,
                help="Only audit" + (" — the default of a new silo." if create else "."),
            ),
            click.option("--protect", is_flag=True, help="Protect from accidental deletion."),
            click.option("--unprotect", is_flag=True, help="Allow deletion again."),
            click.option("--description", default=None, help="Description."),
        ]
        for cls in ("user", "computer", "service"):
            opts.append(
                click.option(
                    f"--{cls}-authentication-policy",
                    f"{cls}_policy",
                    metavar="POLICY",
                    default=None,
                    help=f"Policy for {cls} members"
                    + ("." if create else " (an empty string removes it)."),
                )
            )
        opts.append(_JSON_OPT)
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _silo_attrs(opts: dict[str, Any]) -> dict[str, Any]:
    _exclusive(opts["audit"], opts["enforce"], "audit", "enforce")
    _exclusive(opts["protect"], opts["unprotect"], "protect", "unprotect")
    attrs: dict[str, Any] = {}
    if opts["enforce"] or opts["audit"]:
        attrs["enforced"] = bool(opts["enforce"])
    if opts["protect"] or opts["unprotect"]:
        attrs["protected"] = bool(opts["protect"])
    if opts["description"] is not None:
        attrs["description"] = opts["description"]
    for cls in ("user", "computer", "service"):
        v = opts[f"{cls}_policy"]
        if v is not None:
            attrs[f"{cls}_policy"] = v or None
    return attrs


@silo.command("create")
@click.argument("name")
@_silo_options(create=True)
@click.pass_context
def silo_create(ctx: click.Context, name: str, as_json: bool, **opts: Any) -> None:
    """Create silo NAME (audit mode unless --enforce)."""
    d = open_directory(ctx)
    attrs = _silo_attrs(opts)
    attrs.setdefault("enforced", False)
    s = d.authn.create_silo(name, **attrs)
    if as_json:
        echo_json(silo_json(d, s))
        return
    _created_message("Authentication silo", s.name, s.enforced, "silo")
    _level_warning(d)


@silo.command("modify")
@click.argument("name")
@_silo_options(create=False)
@click.pass_context
def silo_modify(ctx: click.Context, name: str, as_json: bool, **opts: Any) -> None:
    """Change silo NAME (only what the options give)."""
    d = open_directory(ctx)
    s = d.authn.modify_silo(name, **_silo_attrs(opts))
    if as_json:
        echo_json(silo_json(d, s))
        return
    _say(f"Authentication silo {s.name} was modified ({_mode(s.enforced)}).")


@silo.command("list")
@_JSON_OPT
@click.pass_context
def silo_list(ctx: click.Context, as_json: bool) -> None:
    """List the silos."""
    d = open_directory(ctx)
    ss = d.authn.list_silos()
    if as_json:
        echo_json([silo_json(d, s) for s in ss])
        return
    if not ss:
        click.echo("There are no entries in the list.")
        return
    t = Table("Name", "Mode", "Protected", "Members", "Description", box=None, header_style="bold")
    for s in ss:
        t.add_row(
            escape(s.name),
            _mode(s.enforced),
            yes_no(s.protected),
            str(len(s.members)),
            escape(s.description),
        )
    console().print(t)


@silo.command("view")
@click.argument("name")
@_JSON_OPT
@click.pass_context
def silo_view(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show silo NAME with its policies and members."""
    d = open_directory(ctx)
    j = silo_json(d, d.authn.require_silo(name))
    if as_json:
        echo_json(j)
        return
    members = ", ".join(
        m["name"] + ("" if m["assigned"] else " (not assigned)") for m in j["members"]
    )
    _kv_table(
        [
            ("Name", j["name"]),
            ("Description", j["description"]),
            ("Enforced", yes_no(j["enforced"])),
            ("Protected", yes_no(j["protected"])),
            ("User policy", j["user_authentication_policy"]),
            ("Computer policy", j["computer_authentication_policy"]),
            ("Service policy", j["service_authentication_policy"]),
            ("Members", members),
            ("GUID", j["guid"]),
            ("Created", j["created"]),
        ]
    )


@silo.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Unprotect a protected silo and delete it.")
@_JSON_OPT
@click.pass_context
def silo_delete(ctx: click.Context, name: str, force: bool, as_json: bool) -> None:
    """Delete silo NAME (accounts assigned to it are unassigned)."""
    d = open_directory(ctx)
    _delete("silo", d.authn.require_silo(name), d.authn.delete_silo, force, as_json)


@silo.group("member")
def silo_member() -> None:
    """Accounts permitted in a silo (msDS-AuthNPolicySiloMembers)."""


@silo_member.command("grant")
@click.argument("silo_name", metavar="SILO")
@click.argument("account")
@_JSON_OPT
@click.pass_context
def member_grant(ctx: click.Context, silo_name: str, account: str, as_json: bool) -> None:
    """Permit ACCOUNT in SILO (Grant-ADAuthenticationPolicySiloAccess)."""
    d = open_directory(ctx)
    d.authn.grant_member(silo_name, account)
    links = d.authn.account_links(account)
    s = d.authn.require_silo(silo_name)
    if as_json:
        echo_json(silo_json(d, s))
        return
    click.echo(f"{links['account']} was granted access to authentication silo {s.name}.")
    if (links["silo"] or "").lower() != s.name.lower():
        kind = "computer" if links["account"].endswith("$") else "user"
        _say(
            f"It belongs to the silo only once assigned: `lanman {kind} auth silo assign "
            f"{links['account']} {s.name}`."
        )


@silo_member.command("revoke")
@click.argument("silo_name", metavar="SILO")
@click.argument("account")
@_JSON_OPT
@click.pass_context
def member_revoke(ctx: click.Context, silo_name: str, account: str, as_json: bool) -> None:
    """Remove ACCOUNT from SILO's members (Revoke-ADAuthenticationPolicySiloAccess)."""
    d = open_directory(ctx)
    d.authn.revoke_member(silo_name, account)
    links = d.authn.account_links(account)
    s = d.authn.require_silo(silo_name)
    if as_json:
        echo_json(silo_json(d, s))
        return
    click.echo(f"{links['account']} was revoked access to authentication silo {s.name}.")


@silo_member.command("list")
@click.argument("silo_name", metavar="SILO")
@_JSON_OPT
@click.pass_context
def member_list(ctx: click.Context, silo_name: str, as_json: bool) -> None:
    """The accounts permitted in SILO, and whether each is assigned to it."""
    d = open_directory(ctx)
    ms = d.authn.members(silo_name)
    if as_json:
        echo_json(ms)
        return
    if not ms:
        click.echo("There are no entries in the list.")
        return
    t = Table("Name", "Kind", "RID", "Assigned", box=None, header_style="bold")
    for m in ms:
        t.add_row(escape(m["name"]), m["kind"], str(m["rid"]), yes_no(m["assigned"]))
    console().print(t)


# --------------------------------------------------------------------------- accounts


def account_auth_group(kind: str) -> click.Group:
    """``lanman user auth`` / ``lanman computer auth``: an account's policy and silo."""
    title = "User" if kind == "user" else "Computer"

    def resolve(d: Directory, name: str) -> str:
        p = d.get(name)
        if p is None and kind == "computer" and not name.endswith("$"):
            p = d.get(name + "$")
        if p is None:
            raise DirectoryError(
                f"{kind} {name!r} does not exist",
                f"`lanman {kind} list` shows the accounts",
                "NERR_UserNotFound",
            )
        if (p.kind == "computer") != (kind == "computer"):
            other = "computer" if p.kind == "computer" else "user"
            raise CliError(f"{p.name} is a {other} account", f"use `lanman {other} auth ...`")
        return p.name

    def status(links: dict) -> str:
        return "granted" if links["silo_member"] else "revoked"

    def links_json(links: dict) -> dict:
        return {**links, "status": status(links) if links["silo"] else None}

    @click.group("auth")
    def group() -> None:
        pass

    group.help = f"The authentication policy and silo of a {kind} account."

    def describe(what: str, links: dict) -> str:
        if what == "silo":
            return f"authentication silo {links['silo']} ({status(links)})"
        return f"authentication policy {links['policy']}"

    def link_commands(what: str, attribute: str, assign: Any) -> None:
        """assign / remove / view of the account's link ``what`` (policy or silo)."""

        @group.group(what)
        def sub() -> None:
            pass

        sub.help = f"The {what} assigned to a {kind} ({attribute})."

        def finish(name: str, as_json: bool, text: str) -> dict:
            d = ctx_directory()
            links = d.authn.account_links(name)
            if as_json:
                echo_json(links_json(links))
            else:
                click.echo(text.format(links=links, what=describe(what, links)))
            return links

        @sub.command("assign")
        @click.argument("account")
        @click.argument("target", metavar=what.upper())
        @_JSON_OPT
        @click.pass_context
        def do_assign(ctx: click.Context, account: str, target: str, as_json: bool) -> None:
            d = open_directory(ctx)
            name = resolve(d, account)
            assign(d.authn, name, target)
            links = finish(name, as_json, f"{title} {name} assigned to {{what}}.")
            if what == "silo" and not as_json and not links["silo_member"]:
                _say(
                    f"It belongs to the silo once granted: `lanman auth silo member grant "
                    f"{links['silo']} {name}`."
                )

        do_assign.help = f"Assign {kind} ACCOUNT to {what.upper()}" + (
            " (it also needs to be granted access)." if what == "silo" else "."
        )

        @sub.command("remove")
        @click.argument("account")
        @_JSON_OPT
        @click.pass_context
        def do_remove(ctx: click.Context, account: str, as_json: bool) -> None:
            d = open_directory(ctx)
            name = resolve(d, account)
            assign(d.authn, name, None)
            finish(name, as_json, f"{title} {name} has no assigned authentication {what} now.")

        do_remove.help = f"Remove the {what} assignment of {kind} ACCOUNT" + (
            " (membership stays)." if what == "silo" else "."
        )

        @sub.command("view")
        @click.argument("account")
        @_JSON_OPT
        @click.pass_context
        def do_view(ctx: click.Context, account: str, as_json: bool) -> None:
            name = resolve(open_directory(ctx), account)
            links = ctx_directory().authn.account_links(name)
            text = (
                f"{title} {{links[account]}} assigned to {{what}}"
                if links[what]
                else f"{title} {{links[account]}} has no assigned authentication {what}."
            )
            finish(name, as_json, text)

        do_view.help = f"Show the {what} of {kind} ACCOUNT" + (
            ": (granted) when it is a member." if what == "silo" else "."
        )

    def ctx_directory() -> Directory:
        return open_directory(click.get_current_context())

    link_commands("policy", "msDS-AssignedAuthNPolicy", lambda a, n, t: a.assign_policy(n, t))
    link_commands("silo", "msDS-AssignedAuthNPolicySilo", lambda a, n, t: a.assign_silo(n, t))
    return group


user_auth = account_auth_group("user")
computer_auth = account_auth_group("computer")


# --------------------------------------------------------------------------- impact


def _short_time(t: str | None) -> str:
    return (t or "-")[:16].replace("T", " ")


@auth.command("impact")
@click.option("--policy", "policy_name", metavar="P", help="Only events of this policy.")
@click.option("--silo", "silo_name", metavar="S", help="Only events of this silo.")
@click.option("--since", help="Only events at or after this ISO 8601 time (UTC if no zone).")
@_JSON_OPT
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report as an HTML page to this file.",
)
@click.pass_context
def auth_impact(
    ctx: click.Context,
    policy_name: str | None,
    silo_name: str | None,
    since: str | None,
    as_json: bool,
    html_file: str | None,
) -> None:
    """Who was (or, in audit mode, would have been) denied: per account, device, service and
    policy, how often, first and last seen (events 305/306, 105/106, 101)."""
    from lanman.authpolicy.impact import IMPACT_EVENTS, impact, render_html
    from lanman.cli.events import check_time

    if policy_name is not None and silo_name is not None:
        raise CliError("--policy and --silo cannot be used together.", "give one of them")
    check_time("--since", since)
    log = get_home(ctx).events
    rows = [
        r
        for eid in sorted(IMPACT_EVENTS)
        for r in log.query(since=since, event_id=eid, limit=10**9)
    ]
    report = impact(rows, policy=policy_name, silo=silo_name, since=since)
    if html_file is not None:
        try:
            with open(html_file, "w", encoding="utf-8") as fh:
                fh.write(render_html(report))
        except OSError as e:
            raise CliError(
                f"cannot write {html_file!r}: {e.strerror}", "give a file in a writable directory"
            ) from None
    if as_json:
        echo_json(report)
        return
    if html_file is not None:
        click.echo(f"Wrote {html_file}.")
    s = report["summary"]
    if not report["groups"]:
        click.echo("No authentication policy failures were logged for this selection.")
        return
    _say(
        f"{s['events']} events: {s['would_deny']} would have been denied (audit mode), "
        f"{s['denied']} were denied; {s['accounts']} accounts, {s['devices']} devices, "
        f"{s['services']} services, {_short_time(s['first_seen'])} to "
        f"{_short_time(s['last_seen'])} UTC."
    )
    t = Table(
        "Account",
        "Device",
        "Service",
        "Policy",
        "Outcome",
        "Count",
        "Last seen",
        box=None,
        header_style="bold",
    )
    for g in report["groups"]:
        t.add_row(
            escape(g["account"]),
            escape(g["device"] or "-"),
            escape(g["service"] or ("(TGT)" if "tgt" in g["kinds"] else "-")),
            escape(g["policy"] or "-"),
            g["outcome"],
            str(g["count"]),
            _short_time(g["last_seen"]),
        )
    console().print(t)


# --------------------------------------------------------------------------- simulate


def _verdict_line(label: str, v: dict[str, Any]) -> str:
    event = f", event {v['event']}" if v["event"] else ""
    if v["outcome"] == "allowed":
        return f"{label}: allowed"
    if v["outcome"] == "audit":
        return f"{label}: would be denied ({v['reason']}); audit mode{event}"
    err = v["error"] or {}
    parts = [f"{err['name']} ({err['code']})"] if err.get("name") else []
    if err.get("status_name"):
        parts.append(err["status_name"])
    return f"{label}: denied ({v['reason']}): {', '.join(parts) or 'refused'}{event}"


def _out(text: str) -> None:
    """One simulate line, continuation lines indented, at most 80 columns."""
    click.echo(
        textwrap.fill(
            text, WIDTH, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False
        )
    )


@auth.command("simulate")
@click.argument("account")
@click.option("--device", metavar="COMPUTER", help="The computer whose TGT armors the AS-REQ.")
@click.option("--service", metavar="SPN", help="The service a ticket is asked for.")
@_JSON_OPT
@click.pass_context
def auth_simulate(
    ctx: click.Context, account: str, device: str | None, service: str | None, as_json: bool
) -> None:
    """What the KDC would decide for ACCOUNT, without a network exchange: its policy, the
    From check (AS-REQ armored by --device's TGT; without one FAST is missing), the TGT
    lifetime, the To check of --service, and the Kerberos error it would answer with."""
    from lanman.authpolicy.simulate import simulate

    d = open_directory(ctx)
    r = simulate(d, account, device=device, service=service)
    if as_json:
        echo_json(r)
        return
    pol = r["policy"]
    if pol is None and r["silo"]:
        _say(
            f"{r['account']}: no authentication policy applies (it belongs to silo "
            f"{r['silo']}, which names no policy for its class; its own policy is ignored)."
        )
    elif pol is None:
        _out(f"{r['account']}: no authentication policy applies.")
    else:
        src = f", from silo {pol['silo']}" if pol["silo"] else ""
        _out(
            f"{r['account']} ({pol['account_class']}): policy {pol['name']} "
            f"({_mode(pol['enforced'])}{src})"
        )
    armor = f"armored with {r['device']}'s TGT" if r["device"] else "not armored"
    _out(_verdict_line(f"AS-REQ ({armor})", r["as"]))
    life = r["tgt_lifetime_mins"]
    _out(f"TGT lifetime: {f'{life} minutes' if life else 'the domain default'}")
    if r["tgs"] is not None:
        t = r["tgs"]
        sp = t["policy"]
        where = f" (policy {sp['name']}, {_mode(sp['enforced'])})" if sp else " (no policy)"
        line = _verdict_line(f"TGS-REQ {r['service']}{where}", t)
        if not t["reached"]:
            line += " [not reached: no TGT]"
        _out(line)
    if r["ntlm"]["outcome"] != "allowed":
        _out(_verdict_line("NTLM", r["ntlm"]))
    if r["issued"]:
        extra = f"; would log event(s) {', '.join(map(str, r['events']))}" if r["events"] else ""
        _out(f"Result: tickets issued{extra}.")
    else:
        e = r["error"]
        status = f", {e['status_name']} ({e['status']})" if e["status"] else ""
        _out(f"Result: refused with {e['name']} ({e['code']}){status}.")
