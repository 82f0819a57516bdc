"""Conditional expressions of callback ACEs: the syntax tree, its binary token form
(MS-DTYP 2.4.4.17.4-8, postfix after the ``artx`` signature) and its canonical SDDL form
(MS-DTYP 2.5.1.1, as Windows writes it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lanman.directory.sid import SidError, sid_from_bytes, sid_to_bytes
from lanman.security.aliases import alias_of
from lanman.security.errors import SecurityError

__all__ = [
    "ARTX",
    "ATTR_DEVICE",
    "ATTR_LOCAL",
    "ATTR_RESOURCE",
    "ATTR_USER",
    "NAME_STOP",
    "OPS",
    "Attr",
    "Composite",
    "Expr",
    "Int",
    "Octets",
    "Op",
    "OpInfo",
    "Sid",
    "Str",
    "decode_condition",
    "encode_condition",
    "escape_attr_name",
    "expression_to_sddl",
]

#: ApplicationData signature of a conditional ACE (MS-DTYP 2.4.4.17.4).
ARTX = b"artx"

# Literal token bytes (MS-DTYP 2.4.4.17.5).
TOK_PAD = 0x00
TOK_INT8, TOK_INT16, TOK_INT32, TOK_INT64 = 0x01, 0x02, 0x03, 0x04
TOK_UNICODE = 0x10
TOK_OCTETS = 0x18
TOK_COMPOSITE = 0x50
TOK_SID = 0x51
# Attribute token bytes (MS-DTYP 2.4.4.17.8).
ATTR_LOCAL, ATTR_USER, ATTR_RESOURCE, ATTR_DEVICE = 0xF8, 0xF9, 0xFA, 0xFB
ATTR_PREFIX = {
    ATTR_LOCAL: "",
    ATTR_USER: "@USER.",
    ATTR_RESOURCE: "@RESOURCE.",
    ATTR_DEVICE: "@DEVICE.",
}

SIGN_PLUS, SIGN_MINUS, SIGN_NONE = 1, 2, 3
BASE_OCTAL, BASE_DECIMAL, BASE_HEX = 1, 2, 3

_MAX_NESTING = 32  # composites inside composites; Windows never writes any


@dataclass(frozen=True, slots=True)
class OpInfo:
    """One operator token: byte, SDDL spelling, operand count, family."""

    code: int
    sddl: str
    arity: int
    family: str  # "rel" | "contains" | "member" | "exists" | "and" | "or" | "not"


#: Operator tokens (MS-DTYP 2.4.4.17.6 and 2.4.4.17.7); spelling is Windows' canonical one.
OPS: dict[int, OpInfo] = {
    i.code: i
    for i in (
        OpInfo(0x80, "==", 2, "rel"),
        OpInfo(0x81, "!=", 2, "rel"),
        OpInfo(0x82, "<", 2, "rel"),
        OpInfo(0x83, "<=", 2, "rel"),
        OpInfo(0x84, ">", 2, "rel"),
        OpInfo(0x85, ">=", 2, "rel"),
        OpInfo(0x86, "Contains", 2, "contains"),
        OpInfo(0x88, "Any_of", 2, "contains"),
        OpInfo(0x8E, "Not_Contains", 2, "contains"),
        OpInfo(0x8F, "Not_Any_of", 2, "contains"),
        OpInfo(0x89, "Member_of", 1, "member"),
        OpInfo(0x8A, "Device_Member_of", 1, "member"),
        OpInfo(0x8B, "Member_of_any", 1, "member"),
        OpInfo(0x8C, "Device_Member_of_any", 1, "member"),
        OpInfo(0x90, "Not_Member_of", 1, "member"),
        OpInfo(0x91, "Not_Device_Member_of", 1, "member"),
        OpInfo(0x92, "Not_Member_of_any", 1, "member"),
        OpInfo(0x93, "Not_Device_Member_of_any", 1, "member"),
        OpInfo(0x87, "Exists", 1, "exists"),
        OpInfo(0x8D, "Not_Exists", 1, "exists"),
        OpInfo(0xA0, "&&", 2, "and"),
        OpInfo(0xA1, "||", 2, "or"),
        OpInfo(0xA2, "!", 1, "not"),
    )
}


@dataclass(frozen=True, slots=True)
class Int:
    """Integer literal: value (two's complement 64-bit), sign and base as written."""

    value: int
    sign: int = SIGN_NONE
    base: int = BASE_DECIMAL
    token: int = TOK_INT64


@dataclass(frozen=True, slots=True)
class Str:
    """Unicode string literal."""

    value: str


@dataclass(frozen=True, slots=True)
class Octets:
    """Octet string literal."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Sid:
    """SID literal (string form)."""

    sid: str


@dataclass(frozen=True, slots=True)
class Composite:
    """Composite literal: a list of literals."""

    items: tuple


@dataclass(frozen=True, slots=True)
class Attr:
    """Attribute reference: token kind (local/user/resource/device) and name."""

    kind: int
    name: str


@dataclass(frozen=True, slots=True)
class Op:
    """Operator applied to its operands (one or two)."""

    code: int
    operands: tuple


Expr = Int | Str | Octets | Sid | Composite | Attr | Op


# ---------------------------------------------------------------------------- encoding


def _u16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _encode_literal(node: Expr, out: bytearray) -> None:
    if isinstance(node, Int):
        out.append(node.token)
        out += struct.pack("<qBB", _signed64(node.value), node.sign, node.base)
    elif isinstance(node, Str):
        data = _u16(node.value)
        out.append(TOK_UNICODE)
        out += struct.pack("<I", len(data)) + data
    elif isinstance(node, Octets):
        out.append(TOK_OCTETS)
        out += struct.pack("<I", len(node.value)) + node.value
    elif isinstance(node, Sid):
        data = sid_to_bytes(node.sid)
        out.append(TOK_SID)
        out += struct.pack("<I", len(data)) + data
    elif isinstance(node, Composite):
        inner = bytearray()
        for item in node.items:
            _encode_literal(item, inner)
        out.append(TOK_COMPOSITE)
        out += struct.pack("<I", len(inner)) + inner
    else:
        raise SecurityError(f"{type(node).__name__} is not a literal")


def _signed64(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def _encode(node: Expr, out: bytearray) -> None:
    if isinstance(node, Op):
        for operand in node.operands:
            _encode(operand, out)
        out.append(node.code)
    elif isinstance(node, Attr):
        data = _u16(node.name)
        out.append(node.kind)
        out += struct.pack("<I", len(data)) + data
    else:
        _encode_literal(node, out)


def encode_condition(node: Expr) -> bytes:
    """ApplicationData for ``node``: ``artx`` + postfix tokens (no padding; the ACE pads)."""
    out = bytearray(ARTX)
    _encode(node, out)
    return bytes(out)


# ---------------------------------------------------------------------------- decoding


def _read_len(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 4 > end:
        raise SecurityError("conditional token length runs past the end", pos)
    (length,) = struct.unpack_from("<I", data, pos)
    pos += 4
    if length > end - pos:
        raise SecurityError(f"conditional token of {length} bytes runs past the end", pos)
    return length, pos


def _read_text(data: bytes, pos: int, end: int) -> tuple[str, int]:
    length, pos = _read_len(data, pos, end)
    if length % 2:
        raise SecurityError("UTF-16 string with an odd byte length", pos)
    try:
        text = data[pos : pos + length].decode("utf-16-le", "surrogatepass")
    except UnicodeDecodeError as exc:  # pragma: no cover - surrogatepass accepts all pairs
        raise SecurityError("string is not UTF-16", pos) from exc
    return text, pos + length


def _decode_literal(data: bytes, pos: int, end: int, depth: int) -> tuple[Expr, int]:
    tok = data[pos]
    pos += 1
    if TOK_INT8 <= tok <= TOK_INT64:
        if pos + 10 > end:
            raise SecurityError("integer token runs past the end", pos)
        value, sign, base = struct.unpack_from("<qBB", data, pos)
        if sign not in (1, 2, 3) or base not in (1, 2, 3):
            raise SecurityError(f"integer token with sign {sign} / base {base}", pos)
        return Int(value, sign, base, tok), pos + 10
    if tok == TOK_UNICODE:
        text, pos = _read_text(data, pos, end)
        return Str(text), pos
    if tok == TOK_OCTETS:
        length, pos = _read_len(data, pos, end)
        return Octets(bytes(data[pos : pos + length])), pos + length
    if tok == TOK_SID:
        length, pos = _read_len(data, pos, end)
        try:
            sid = sid_from_bytes(data[pos : pos + length])
        except SidError as exc:
            raise SecurityError(f"bad SID token: {exc}", pos) from exc
        return Sid(sid), pos + length
    if tok == TOK_COMPOSITE:
        if depth >= _MAX_NESTING:
            raise SecurityError("composites nested too deeply", pos)
        length, pos = _read_len(data, pos, end)
        stop, items = pos + length, []
        while pos < stop:
            item, pos = _decode_literal(data, pos, stop, depth + 1)
            items.append(item)
        return Composite(tuple(items)), pos
    raise SecurityError(f"unknown conditional token 0x{tok:02x}", pos - 1)


def decode_condition(app_data: bytes) -> Expr:
    """The expression in a callback ACE's ApplicationData (MS-DTYP 2.4.4.17.4).

    Trailing zero bytes are padding; anything else that does not form exactly one expression
    raises :class:`SecurityError`.
    """
    data = bytes(app_data)
    if data[:4] != ARTX:
        raise SecurityError("conditional ACE data does not start with 'artx'", 0)
    pos, end, stack = 4, len(data), []
    while pos < end:
        tok = data[pos]
        if tok == TOK_PAD:
            if any(data[pos:]):
                raise SecurityError("non-zero bytes after padding", pos)
            break
        info = OPS.get(tok)
        if info is not None:
            if len(stack) < info.arity:
                raise SecurityError(f"operator {info.sddl} lacks operands", pos)
            operands = tuple(stack[-info.arity :])
            del stack[-info.arity :]
            stack.append(Op(tok, operands))
            pos += 1
        elif tok in ATTR_PREFIX:
            name, pos = _read_text(data, pos + 1, end)
            stack.append(Attr(tok, name))
        else:
            node, pos = _decode_literal(data, pos, end, 0)
            stack.append(node)
    if len(stack) != 1:
        raise SecurityError(f"conditional expression leaves {len(stack)} values, not one", pos)
    return stack[0]


# ---------------------------------------------------------------------------- SDDL form

#: Characters that end an attribute name in SDDL and so are written ``%hhhh`` inside one
#: (the set Windows accepted from Samba's tests; every other character may appear as is).
NAME_STOP = frozenset('\0\t\n\v\f\r !"%&()<=>|')


def escape_attr_name(name: str) -> str:
    """``name`` with the characters of :data:`NAME_STOP` written as ``%hhhh`` (MS-DTYP
    2.5.1.1 attr-char2)."""
    if NAME_STOP.isdisjoint(name):
        return name
    return "".join(f"%{ord(c):04x}" if c in NAME_STOP else c for c in name)


def _int_sddl(node: Int) -> str:
    value = node.value
    if node.sign == SIGN_MINUS:
        prefix, magnitude = "-", abs(value)
    else:
        prefix = "+" if node.sign == SIGN_PLUS else ""
        magnitude = value if value >= 0 or node.base == BASE_DECIMAL else value & 0xFFFFFFFFFFFFFFFF
        if magnitude < 0:
            prefix, magnitude = "-", -magnitude
    if node.base == BASE_HEX:
        return f"{prefix}0x{magnitude:x}"
    if node.base == BASE_OCTAL:
        return f"{prefix}0{magnitude:o}"
    return f"{prefix}{magnitude}"


def _sddl(node: Expr, dom: str | None) -> str:
    if isinstance(node, Op):
        info = OPS[node.code]
        fam = info.family
        if fam in ("and", "or"):
            left, right = node.operands
            return f"({_sddl(left, dom)}) {info.sddl} ({_sddl(right, dom)})"
        if fam == "not":
            return f"!({_sddl(node.operands[0], dom)})"
        if info.arity == 1:
            return f"{info.sddl} {_sddl(node.operands[0], dom)}"
        left, right = node.operands
        return f"{_sddl(left, dom)} {info.sddl} {_sddl(right, dom)}"
    if isinstance(node, Attr):
        return ATTR_PREFIX[node.kind] + escape_attr_name(node.name)
    if isinstance(node, Int):
        return _int_sddl(node)
    if isinstance(node, Str):
        if '"' in node.value:
            raise SecurityError("a string with a double quote cannot be written as SDDL")
        return f'"{node.value}"'
    if isinstance(node, Octets):
        return "#" + node.value.hex()
    if isinstance(node, Sid):
        return f"SID({alias_of(node.sid, dom)})"
    if isinstance(node, Composite):
        return "{" + ", ".join(_sddl(i, dom) for i in node.items) + "}"
    raise SecurityError(f"cannot write {type(node).__name__} as SDDL")


def expression_to_sddl(node: Expr, domain_sid: str | None = None) -> str:
    """Canonical SDDL of a condition, with its enclosing parentheses (as Windows writes it)."""
    return f"({_sddl(node, domain_sid)})"
