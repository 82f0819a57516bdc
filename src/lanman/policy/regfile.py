"""``.reg`` files ("Windows Registry Editor Version 5.00") in and out of a host's layers.

Reading accepts what regedit writes (UTF-16LE with BOM, CRLF) and what people type (UTF-8 or
ASCII, with or without BOM, LF), the ``REGEDIT4`` header, ``;`` comments, ``\\`` line
continuations, ``[KEY]``, ``[-KEY]`` (delete the key and its subkeys), ``"name"=-`` (delete the
value), ``@=`` (the default value), ``"str"``, ``dword:0000002a`` (8 hex digits), ``hex:..`` and ``hex(N):..``.

A file is parsed and checked completely before anything is applied: any error names the line
and nothing changes. Values that lanman's catalogue knows must be REG_DWORD with allowed data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lanman.policy.catalogue import is_policies_key, key_id, long_key, lookup_path, normalize_key
from lanman.policy.layers import REG_TYPES, HostPolicy, RegData, target_scope

__all__ = [
    "HEADER",
    "RegFileError",
    "RegOp",
    "apply_ops",
    "dumps_reg",
    "encode_reg",
    "import_reg",
    "parse_reg",
]

HEADER = "Windows Registry Editor Version 5.00"
HEADER4 = "REGEDIT4"
_ROOTS = (
    "HKEY_LOCAL_MACHINE",
    "HKEY_CURRENT_USER",
    "HKEY_CLASSES_ROOT",
    "HKEY_USERS",
    "HKEY_CURRENT_CONFIG",
    "HKLM",
    "HKCU",
    "HKCR",
    "HKU",
    "HKCC",
)


class RegFileError(ValueError):
    def __init__(self, message: str, remedy: str = "", line: int | None = None):
        super().__init__(message)
        self.message = message
        self.remedy = remedy or "fix the file; nothing was imported"
        self.line = line


@dataclass(frozen=True, slots=True)
class RegOp:
    op: str  # "set" | "delete-value" | "delete-key"
    key: str
    value: str | None
    data: RegData | None
    line: int


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith(b"\xff\xfe"):
        enc, raw = "utf-16-le", raw[2:]
    elif raw.startswith(b"\xfe\xff"):
        enc, raw = "utf-16-be", raw[2:]
    elif raw.startswith(b"\xef\xbb\xbf"):
        enc, raw = "utf-8", raw[3:]
    elif len(raw) >= 2 and raw[0] != 0 and raw[1] == 0:
        enc = "utf-16-le"
    else:
        enc = "utf-8"
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as e:
        unit = 2 if enc.startswith("utf-16") else 1
        line = raw[: e.start].decode(enc, "replace").count("\n") + 1 if unit == 1 else None
        if unit == 2:
            line = raw[: e.start - e.start % 2].decode(enc, "replace").count("\n") + 1
        raise RegFileError(
            f"{name}:{line}: not valid {enc.upper()} (byte {e.start + (2 if enc != 'utf-8' else 0)})",
            "save the file as UTF-16LE (regedit's 'Registration Files') or UTF-8",
            line,
        ) from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) with ``\\`` continuations joined."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for n, line in enumerate(text.splitlines(), 1):
        s = line.rstrip()
        if pending is not None:
            s = pending + s.lstrip()
        else:
            start = n
        if s.endswith("\\") and not s.lstrip().startswith(("[", ";")):
            pending = s[:-1]
            continue
        pending = None
        out.append((start, s))
    if pending is not None:
        out.append((start, pending))
    return out


def _parse_string(s: str, i: int, where: str) -> tuple[str, int]:
    """Parse a ``"..."`` at s[i]; return (text, index after the closing quote)."""
    assert s[i] == '"'
    out = []
    i += 1
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if i + 1 >= len(s):
                break
            out.append(s[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise RegFileError(f'{where}: unterminated string (missing closing ")', line=None)


def _strip_comment(rest: str) -> str:
    return rest.split(";", 1)[0].strip()


def _parse_hex_bytes(body: str, where: str) -> bytes:
    body = body.replace(" ", "").replace("\t", "")
    body = body.removesuffix(",")
    if not body:
        return b""
    parts = body.split(",")
    if not all(re.fullmatch(r"[0-9a-fA-F]{1,2}", p) for p in parts):
        raise RegFileError(f"{where}: bad hex byte list {body[:40]!r} (expected e.g. hex:01,ab)")
    return bytes(int(p, 16) for p in parts)


def _parse_data(s: str, where: str) -> RegData | None:
    """Data after ``=``; None means ``-`` (delete)."""
    s = s.strip()
    if s == "-":
        return None
    if s.startswith('"'):
        text, end = _parse_string(s, 0, where)
        if _strip_comment(s[end:]):
            raise RegFileError(f"{where}: unexpected text after the string: {s[end:].strip()!r}")
        return RegData(REG_TYPES["REG_SZ"], text)
    low = s.lower()
    if low.startswith("dword:"):
        body = _strip_comment(s[6:])
        if not re.fullmatch(r"[0-9a-fA-F]{1,8}", body):
            raise RegFileError(
                f"{where}: bad dword {body!r}: write 8 hex digits, e.g. dword:00000001"
            )
        return RegData.dword(int(body, 16))
    m = re.match(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:(.*)$", s, re.IGNORECASE)
    if m:
        t = int(m.group(1), 16) if m.group(1) else REG_TYPES["REG_BINARY"]
        data = _parse_hex_bytes(_strip_comment(m.group(2)), where)
        if t == REG_TYPES["REG_DWORD"]:
            if len(data) != 4:
                raise RegFileError(f"{where}: hex(4) (REG_DWORD) needs exactly 4 bytes")
            return RegData.dword(int.from_bytes(data, "little"))
        if t == REG_TYPES["REG_SZ"]:
            if len(data) % 2:
                raise RegFileError(f"{where}: hex(1) (REG_SZ) needs UTF-16LE bytes")
            return RegData(t, data.decode("utf-16-le", "replace").rstrip("\0"))
        return RegData(t, data)
    raise RegFileError(
        f"{where}: cannot read the data {s[:40]!r}",
        'use "text", dword:00000001, hex:.., hex(N):.. or - (delete)',
    )


def _check_catalogue(key: str, value: str, data: RegData, where: str) -> None:
    hit = lookup_path(key, value)
    if hit is None:
        return
    entry = hit[0]
    allowed = entry.describe_allowed()
    if entry.is_list:
        if data.names() is None:
            raise RegFileError(
                f"{where}: {entry.value} must be {entry.type} (hex(7):.. UTF-16LE strings), "
                f"not {data.type_name}",
                f'write it as "{entry.value}"=hex(7):73,00,72,00,76,00,00,00,00,00 (regedit\'s '
                "form of a multi-string)",
            )
        return
    if data.type != REG_TYPES["REG_DWORD"] or not isinstance(data.data, int):
        raise RegFileError(
            f"{where}: {entry.value} must be {entry.type} ({allowed}), not {data.type_name}",
            f'write it as "{entry.value}"=dword:00000001',
        )
    if not entry.accepts(data.data):
        raise RegFileError(
            f"{where}: {entry.value}=dword:{data.data:08x} is not allowed; use {allowed}",
            f"{entry.value}: " + "; ".join(f"{k} = {v}" for k, v in entry.meaning.items()),
        )


def parse_reg(raw: bytes | str, name: str = "<reg>") -> list[RegOp]:
    """Parse a whole .reg file into operations; :class:`RegFileError` names the line."""
    text = _decode(raw, name) if isinstance(raw, bytes) else raw
    ops: list[RegOp] = []
    key: str | None = None
    seen_header = False
    for n, line in _logical_lines(text):
        where = f"{name}:{n}"
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        if not seen_header:
            if s.lstrip("\ufeff") not in (HEADER, HEADER4):
                raise RegFileError(
                    f"{where}: not a registry file: the first line must be {HEADER!r}",
                    f"start the file with the line: {HEADER}",
                    n,
                )
            seen_header = True
            continue
        try:
            if s.startswith("["):
                if not s.endswith("]"):
                    raise RegFileError(f"{where}: key line without closing ]")
                body = s[1:-1].strip()
                delete = body.startswith("-")
                body = body[1:].strip() if delete else body
                root = body.split("\\", 1)[0].upper()
                if root not in _ROOTS:
                    raise RegFileError(
                        f"{where}: unknown root key {root!r}",
                        "keys start with HKEY_LOCAL_MACHINE (lanman's values are all under it)",
                    )
                k = normalize_key(body)
                if delete:
                    ops.append(RegOp("delete-key", k, None, None, n))
                    key = None
                else:
                    key = k
                continue
            if key is None:
                raise RegFileError(
                    f"{where}: value outside a [key] section (or under a deleted [-key])",
                    "put a [HKEY_LOCAL_MACHINE\\...] line above it",
                )
            if s.startswith("@"):
                vname, rest = "", s[1:]
            elif s.startswith('"'):
                vname, end = _parse_string(s, 0, where)
                rest = s[end:]
            else:
                raise RegFileError(
                    f'{where}: expected "ValueName"=data, @=data, [KEY] or ; comment',
                    'e.g. "RequireSecuritySignature"=dword:00000001',
                )
            rest = rest.lstrip()
            if not rest.startswith("="):
                raise RegFileError(f"{where}: missing = after the value name")
            data = _parse_data(rest[1:], where)
            if data is None:
                ops.append(RegOp("delete-value", key, vname, None, n))
            else:
                _check_catalogue(key, vname, data, where)
                ops.append(RegOp("set", key, vname, data, n))
        except RegFileError as e:
            if e.line is None:
                e.line = n
            if not e.message.startswith(name):
                e.message = f"{where}: {e.message}"
            raise
    if not seen_header:
        raise RegFileError(f"{name}:1: empty file: no {HEADER!r} header", line=1)
    return ops


def apply_ops(host: HostPolicy, ops: list[RegOp], scope: str = "local") -> HostPolicy:
    """Pure: a copy of ``host`` with ``ops`` applied to ``scope`` (Policies keys: group)."""
    out = host.copy()
    for op in ops:
        layer = out.layer(target_scope(op.key, scope))
        if op.op == "set":
            assert op.value is not None and op.data is not None
            layer.set(op.key, op.value, op.data)
        elif op.op == "delete-value":
            assert op.value is not None
            layer.delete(op.key, op.value)
        else:
            layer.delete_key(op.key)
            kid = key_id(op.key)
            if (
                scope == "local"
                and not is_policies_key(op.key)
                and ("hklm\\software\\policies".startswith(kid + "\\"))
            ):
                out.group.delete_key(op.key)  # deleting an ancestor of the Policies key
    return out


def import_reg(host: HostPolicy, raw: bytes, name: str, scope: str = "local") -> HostPolicy:
    return apply_ops(host, parse_reg(raw, name), scope)


def _reg_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hex_lines(prefix: str, data: bytes) -> str:
    """regedit style: comma-separated bytes, wrapped before 80 columns with ``,\\``."""
    if not data:
        return prefix
    parts = [f"{b:02x}" for b in data]
    lines: list[str] = []
    cur = prefix
    for i, p in enumerate(parts):
        piece = p + ("," if i < len(parts) - 1 else "")
        if len(cur) + len(piece) > 77 and cur.strip():
            lines.append(cur + "\\")
            cur = "  "
        cur += piece
    lines.append(cur)
    return "\r\n".join(lines)


def _format_value(name: str, d: RegData) -> str:
    left = "@" if name == "" else _reg_str(name)
    if d.type == REG_TYPES["REG_DWORD"] and isinstance(d.data, int):
        return f"{left}=dword:{d.data:08x}"
    if d.type == REG_TYPES["REG_SZ"] and isinstance(d.data, str):
        if any(ord(c) < 0x20 for c in d.data):
            return _hex_lines(f"{left}=hex(1):", (d.data + "\0").encode("utf-16-le"))
        return f"{left}={_reg_str(d.data)}"
    assert isinstance(d.data, bytes)
    tag = "hex:" if d.type == REG_TYPES["REG_BINARY"] else f"hex({d.type:x}):"
    return _hex_lines(f"{left}={tag}", d.data)


def dumps_reg(host: HostPolicy, scope: str = "local") -> str:
    """The layer ``scope`` as .reg text (CRLF line ends, regedit layout, keys sorted)."""
    by_key: dict[str, tuple[str, list[tuple[str, RegData]]]] = {}
    for key, value, data in host.layer(scope).items():
        by_key.setdefault(key_id(key), (key, []))[1].append((value, data))
    lines = [HEADER, ""]
    for kid in sorted(by_key):
        key, values = by_key[kid]
        lines.append(f"[{long_key(key)}]")
        for value, data in sorted(values, key=lambda v: v[0].casefold()):
            lines.append(_format_value(value, data))
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def encode_reg(text: str, encoding: str = "utf-16") -> bytes:
    """``utf-16`` = UTF-16LE with BOM (as regedit writes); ``utf-8`` without BOM."""
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode("utf-8")


def read_reg_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise RegFileError(f"{path}: cannot read: {e.strerror}", "check the path") from None
