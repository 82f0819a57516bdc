"""``lanman sddl compile|decode|explain|check``: security descriptors and SDDL (MS-DTYP 2.5.1).

Exit codes: 0 success (``check``: access granted), 1 ``check``: access denied, 2 bad input
(SDDL, hex or options), with the message and the column on standard error.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache

import click

from lanman.cli._common import echo_json
from lanman.directory.sid import SidError, validate_sid
from lanman.security.access import access_check, compile_descriptor
from lanman.security.aliases import sid_name
from lanman.security.descriptor import decode_sd, encode_sd
from lanman.security.errors import SddlError, SecurityError
from lanman.security.explain import explain_sd
from lanman.security.rights import rights_in_words
from lanman.security.sddl_parse import parse_sddl
from lanman.security.sddl_write import ace_to_sddl, rights_to_sddl, sd_to_sddl
from lanman.security.token import SecurityToken, claim_from_python

EXIT_DENIED = 1
EXIT_BAD_INPUT = 2

_DOMAIN_OPT = click.option(
    "--domain-sid",
    metavar="SID",
    help="Domain SID for domain-relative aliases (DA, DU, ...).",
)
_JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def caret_lines(text: str | None, column: int | None) -> list[str]:
    """The SDDL text and a caret under its 1-based ``column`` (indented two spaces), or
    nothing when the text is too long or spans lines."""
    if text is None or column is None or "\n" in text or len(text) >= 400:
        return []
    return [f"  {text}", "  " + " " * (column - 1) + "^"]


def _fail(message: str, text: str | None = None, column: int | None = None) -> None:
    """Print an input error (with a caret under the column) and exit 2."""
    click.echo(f"lanman: {message}", err=True)
    for line in caret_lines(text, column):
        click.echo(line, err=True)
    sys.exit(EXIT_BAD_INPUT)


def _domain(domain_sid: str | None) -> str | None:
    if domain_sid is None:
        return None
    try:
        return validate_sid(domain_sid)
    except SidError as exc:
        _fail(f"--domain-sid: {exc}")
    return None  # pragma: no cover


def _parse(text: str, dom: str | None):
    try:
        return parse_sddl(text, dom)
    except SddlError as exc:
        _fail(f"bad SDDL: {exc.message} at column {exc.column}", text, exc.column)


@lru_cache(maxsize=8192)
def _compile_line(line: str, dom: str | None) -> str:
    try:
        return encode_sd(parse_sddl(line, dom)).hex()
    except SddlError as exc:
        return f"error: {exc.message} at column {exc.column}"
    except SecurityError as exc:
        return f"error: {exc.message}"


def _decode_hex(text: str):
    cleaned = re.sub(r"\s+", "", text)
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    try:
        blob = bytes.fromhex(cleaned)
    except ValueError:
        raise SecurityError("not hexadecimal") from None
    return blob, decode_sd(blob)


def _lines():
    for line in sys.stdin:
        yield line.rstrip("\r\n")


@click.group("sddl")
def sddl() -> None:
    """Security descriptors: compile SDDL to bytes, decode, explain, check access."""


@sddl.command("compile")
@click.argument("text", metavar="SDDL|-")
@_DOMAIN_OPT
@_JSON_OPT
def sddl_compile(text: str, domain_sid: str | None, as_json: bool) -> None:
    """Print the self-relative security descriptor for SDDL as lowercase hex.

    With "-", read one SDDL per line from standard input and write exactly one line per
    input line: the hex, or "error: <message> at column <n>".
    """
    dom = _domain(domain_sid)
    if text == "-":
        out = sys.stdout
        for line in _lines():
            result = _compile_line(line, dom)
            if as_json:
                key = "error" if result.startswith("error: ") else "hex"
                value = result[7:] if key == "error" else result
                result = json.dumps({"sddl": line, key: value}, ensure_ascii=False)
            out.write(result + "\n")
        return
    sd = _parse(text, dom)
    try:
        blob = encode_sd(sd)
    except SecurityError as exc:
        _fail(f"cannot compile: {exc.message}")
    if as_json:
        echo_json({"sddl": sd_to_sddl(sd, dom), "hex": blob.hex(), "length": len(blob)})
    else:
        click.echo(blob.hex())


@sddl.command("decode")
@click.argument("text", metavar="HEX|-")
@_DOMAIN_OPT
@_JSON_OPT
def sddl_decode(text: str, domain_sid: str | None, as_json: bool) -> None:
    """Print the canonical SDDL of a self-relative security descriptor given in hex.

    With "-", one hex descriptor per input line, one SDDL (or "error: ...") per output line.
    """
    dom = _domain(domain_sid)
    if text == "-":
        for line in _lines():
            try:
                click.echo(sd_to_sddl(_decode_hex(line)[1], dom))
            except SecurityError as exc:
                click.echo(f"error: {exc}")
        return
    try:
        blob, sd = _decode_hex(text)
        canonical = sd_to_sddl(sd, dom)
    except SecurityError as exc:
        _fail(f"bad security descriptor: {exc}")
    if as_json:
        echo_json({"sddl": canonical, "length": len(blob), "control": f"0x{sd.control:04x}"})
    else:
        click.echo(canonical)


def _print_explanation(info: dict) -> None:
    click.echo(f"Owner: {info['owner'] or '(none)'}")
    click.echo(f"Group: {info['group'] or '(none)'}")
    for key, title in (("dacl", "DACL"), ("sacl", "SACL")):
        acl = info[key]
        if acl is None:
            if key == "dacl":
                click.echo("DACL: absent (everyone gets full access)")
            continue
        flags = f" [{', '.join(acl['flags'])}]" if acl["flags"] else ""
        if acl["null"]:
            click.echo(f"{title}: NULL{flags} (everyone gets full access)")
            continue
        if not acl["aces"]:
            click.echo(
                f"{title}: empty{flags}" + (" (nobody gets access)" if key == "dacl" else "")
            )
            continue
        click.echo(f"{title}:{flags}")
        for n, ace in enumerate(acl["aces"], 1):
            click.echo(f"  {n}. {ace['sddl']}")
            click.echo(f"     {ace['type']}: {ace['who']}")
            click.echo(f"     rights: {ace['rights']}")
            if ace["flags"]:
                click.echo(f"     flags: {', '.join(ace['flags'])}")
            for extra in ("object_type", "inherited_object_type"):
                if extra in ace:
                    click.echo(f"     {extra.replace('_', ' ')}: {ace[extra]}")
            if "condition" in ace:
                click.echo(f"     when: {ace['condition']}")
                click.echo(f"     ({ace['note']})")
            if "attribute" in ace:
                a = ace["attribute"]
                click.echo(f"     attribute {a['name']!r} ({a['type']}): {a['values']}")


@sddl.command("explain")
@click.argument("text", metavar="SDDL")
@_DOMAIN_OPT
@_JSON_OPT
def sddl_explain(text: str, domain_sid: str | None, as_json: bool) -> None:
    """Print each ACE of SDDL in words: who, which rights, under which condition."""
    dom = _domain(domain_sid)
    info = explain_sd(_parse(text, dom), dom)
    if as_json:
        echo_json(info)
    else:
        _print_explanation(info)


def _rights(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        sd = parse_sddl(f"D:(A;;{text};;;WD)")
    except SddlError as exc:
        _fail(f"--rights: {exc.message} (an SDDL rights string like CR or FA, or a number)")
    return sd.dacl.aces[0].mask


def _claim_value(raw: str):
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", raw):
        return int(raw, 0) if not re.fullmatch(r"[+-]?0\d+", raw) else int(raw, 10)
    return raw


def _claims(specs: tuple[str, ...]) -> dict[str, dict]:
    out: dict[str, dict] = {"user": {}, "device": {}, "local": {}}
    for spec in specs:
        m = re.fullmatch(r"(user|device|local):([^=]+)=(.*)", spec, re.DOTALL)
        if not m:
            _fail(f"--claim {spec!r}: expected user:NAME=VALUE, device:NAME=VALUE or local:...")
        kind, name, raw = m.groups()
        values = out[kind].setdefault(name, [])
        values.append(_claim_value(raw))
    for kind, by_name in out.items():
        for name, values in by_name.items():
            kinds = {type(v) for v in values}
            if len(kinds) > 1:
                _fail(f"--claim {kind}:{name}: values mix numbers and strings")
    return out


@sddl.command("check")
@click.argument("text", metavar="SDDL")
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="SID",
    help="Token SID (alias or S-1-...): the first is the user, the rest its groups.",
)
@click.option(
    "--device", "devices", multiple=True, metavar="SID", help="Device SID (compound identity)."
)
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="KIND:NAME=VALUE",
    help='Claim: user:, device: or local:; "quoted" is a string, digits an integer; '
    "repeat a name for several values.",
)
@click.option(
    "--rights",
    required=True,
    metavar="RIGHTS",
    help="Desired access: SDDL rights (CR, FA, GR...) or a number (0x100).",
)
@_DOMAIN_OPT
@_JSON_OPT
def sddl_check(text, users, devices, claims, rights, domain_sid, as_json) -> None:
    """Run the access check (MS-DTYP 2.5.3.2) of a token against SDDL.

    Prints granted or denied and the ACE that decided. Exit status 0 when granted, 1 when
    denied, 2 for bad input.
    """
    dom = _domain(domain_sid)
    sd = _parse(text, dom)
    desired = _rights(rights)
    parsed = _claims(claims)
    try:
        token = SecurityToken.build(
            users,
            device_sids=devices,
            user_claims=[claim_from_python(k, v) for k, v in parsed["user"].items()],
            device_claims=[claim_from_python(k, v) for k, v in parsed["device"].items()],
            local_claims=[claim_from_python(k, v) for k, v in parsed["local"].items()],
            domain_sid=dom,
        )
    except (SidError, KeyError) as exc:
        _fail(f"--user/--device: {exc}")
    result = access_check(compile_descriptor(sd), token, desired)
    ace = None
    if result.ace_index is not None and sd.dacl is not None:
        ace = ace_to_sddl(sd.dacl.aces[result.ace_index], dom)
    if as_json:
        echo_json(
            {
                "allowed": result.allowed,
                "desired": f"0x{desired:08x}",
                "granted": f"0x{result.granted:08x}",
                "granted_sddl": rights_to_sddl(result.granted),
                "ace_index": result.ace_index,
                "ace": ace,
                "reason": result.reason,
                "token": sorted(sid_name(s, dom) for s in token.sids),
            }
        )
    else:
        verdict = "granted" if result.allowed else "denied"
        click.echo(f"Access {verdict}: {rights_in_words(desired)} (0x{desired:x})")
        click.echo(f"Granted: {rights_to_sddl(result.granted) or '-'} (0x{result.granted:x})")
        if ace is not None:
            click.echo(f"Decided by ACE {result.ace_index + 1}: {ace}")
        click.echo(f"Reason: {result.reason}")
    sys.exit(0 if result.allowed else EXIT_DENIED)
