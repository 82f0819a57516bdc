"""Evaluation of conditional expressions (MS-DTYP 2.4.4.17): three-valued logic over a
token's SIDs and claims and an object's resource attributes, compiled to closures.

Windows' observed rules, beyond the spec text: strings compare case-insensitively by
upper-casing each UTF-16 code unit (only case pairs Windows knows), then by code unit;
``==`` on composites is order-insensitive set equality where the lengths must match;
``<``-family on composites and mismatched types give UNKNOWN; ``Contains`` an empty
composite is FALSE; ``Any_of`` needs a composite (or an attribute) on its right.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lanman.security.claims import CLAIM_TYPES, ClaimAttribute
from lanman.security.conditional import (
    ATTR_DEVICE,
    ATTR_LOCAL,
    ATTR_RESOURCE,
    ATTR_USER,
    OPS,
    Attr,
    Composite,
    Expr,
    Int,
    Octets,
    Op,
    Sid,
    Str,
)

__all__ = ["FALSE", "TRUE", "UNKNOWN", "Value", "claim_value", "compile_expression", "fold"]

TRUE, FALSE, UNKNOWN = True, False, None

# Case pairs that Python's Unicode tables know but Windows' upcase table does not (added
# to Unicode after 5.1): code points on either side of such a pair stay as they are.
_NO_FOLD = (
    (0x0526, 0x052F),
    (0x037F, 0x037F),
    (0x03F3, 0x03F3),
    (0x10C7, 0x10C7),
    (0x10CD, 0x10CD),
    (0x13F8, 0x13FD),
    (0x1C80, 0x1CBF),
    (0x2C70, 0x2C70),
    (0x2C7E, 0x2C7F),
    (0x2CEB, 0x2CEE),
    (0x2CF2, 0x2CF3),
    (0x2D27, 0x2D27),
    (0x2D2D, 0x2D2D),
    (0xA660, 0xA661),
    (0xA698, 0xA69B),
    (0xA78D, 0xA78D),
    (0xA790, 0xA7FF),
    (0xAB70, 0xABBF),
)


def _no_fold(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _NO_FOLD)


@lru_cache(maxsize=65536)
def _upcase_char(c: str) -> str:
    u = c.upper()
    if len(u) != 1 or ord(u) > 0xFFFF or ord(c) > 0xFFFF or _no_fold(ord(c)) or _no_fold(ord(u)):
        return c
    return u


@lru_cache(maxsize=16384)
def fold(text: str) -> bytes:
    """Comparison key of a string: upper-cased code unit by code unit, as UTF-16BE bytes
    (so that bytes order is UTF-16 code unit order)."""
    if text.isascii():
        return text.upper().encode("utf-16-be")
    return "".join(_upcase_char(c) for c in text).encode("utf-16-be", "surrogatepass")


class Value:
    """An operand: ``kind`` (int/str/sid/bytes, ``None`` for an empty composite, ``mixed``),
    comparison keys, whether it is a composite and whether it came from a literal."""

    __slots__ = ("composite", "items", "kind", "literal")

    def __init__(self, kind: str | None, items: tuple, composite: bool, literal: bool):
        self.kind, self.items, self.composite, self.literal = kind, items, composite, literal


def _key(node: Expr) -> tuple[str, Any]:
    if isinstance(node, Int):
        return "int", node.value
    if isinstance(node, Str):
        return "str", fold(node.value)
    if isinstance(node, Sid):
        return "sid", node.sid
    if isinstance(node, Octets):
        return "bytes", node.value
    return "mixed", id(node)  # nested composite: never equal to anything


def _literal_value(node: Expr) -> Value:
    if isinstance(node, Composite):
        keys = [_key(i) for i in node.items]
        kinds = {k for k, _ in keys}
        kind = None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"
        return Value(kind, tuple(v for _, v in keys), True, True)
    kind, v = _key(node)
    return Value(kind, (v,), False, True)


_KIND = {"int": "int", "uint": "int", "bool": "bool", "str": "str", "sid": "sid", "bytes": "bytes"}


def claim_value(claim: ClaimAttribute) -> Value | None:
    """The operand a claim stands for; ``None`` (missing) for a claim without values."""
    if not claim.values:
        return None
    kind = _KIND[CLAIM_TYPES[claim.value_type].kind]
    items = tuple(fold(v) for v in claim.values) if kind == "str" else tuple(claim.values)
    return Value(kind, items, len(items) != 1, False)


def _same_kind(a: Value, b: Value) -> bool:
    """Comparable operands: the same kind, or a boolean claim against integers 0/1 (a
    boolean against 42 is UNKNOWN, as Windows evaluates it)."""
    if a.kind == b.kind:
        return a.kind != "mixed"
    if {a.kind, b.kind} == {"bool", "int"}:
        ints = a if a.kind == "int" else b
        return all(x in (0, 1) for x in ints.items)
    return False


def _truth(v: Any) -> bool | None:
    """A value used where a boolean is needed (MS-DTYP 2.4.4.17.7)."""
    if v is None or v is True or v is False:
        return v
    if v.kind in ("int", "bool"):
        return any(x != 0 for x in v.items)
    if v.kind == "str":
        return any(x != b"" for x in v.items)
    return UNKNOWN


def _eq(a: Value, b: Value) -> bool | None:
    if a.composite or b.composite:
        if a.items and b.items and not _same_kind(a, b):
            return UNKNOWN
        if len(a.items) != len(b.items):
            return FALSE
        return set(a.items) == set(b.items)
    if not _same_kind(a, b):
        return UNKNOWN
    return a.items[0] == b.items[0]


def _order(a: Value, b: Value) -> tuple | None:
    if a.composite or b.composite or a.kind not in ("int", "str", "bool"):
        return None
    if not _same_kind(a, b):
        return None
    return a.items[0], b.items[0]


def _not(r: bool | None) -> bool | None:
    return None if r is None else not r


def _rel(code: int) -> Callable[[Value, Value], bool | None]:
    if code == 0x80:
        return _eq
    if code == 0x81:
        return lambda a, b: _not(_eq(a, b))
    cmp = {
        0x82: lambda x, y: x < y,
        0x83: lambda x, y: x <= y,
        0x84: lambda x, y: x > y,
        0x85: lambda x, y: x >= y,
    }[code]

    def order(a: Value, b: Value) -> bool | None:
        pair = _order(a, b)
        return None if pair is None else cmp(*pair)

    return order


def _contains(a: Value | None, b: Value | None) -> bool | None:
    if b is not None and b.composite and not b.items:
        return FALSE
    if a is None or b is None:
        return UNKNOWN
    if not _same_kind(a, b):
        return UNKNOWN
    return set(b.items) <= set(a.items)


def _any_of(a: Value | None, b: Value | None) -> bool | None:
    if a is None or b is None:
        return UNKNOWN
    if b.literal and not b.composite:
        return UNKNOWN
    if not b.items:
        return FALSE
    if not _same_kind(a, b):
        return UNKNOWN
    return not set(a.items).isdisjoint(b.items)


Ctx = tuple  # (token, resource values dict)
Fn = Callable[[Ctx], Any]


def _attr_fn(node: Attr) -> Fn:
    key = node.name.lower()
    if node.kind == ATTR_RESOURCE:
        return lambda ctx: ctx[1].get(key)
    slot = {ATTR_USER: 0, ATTR_DEVICE: 1, ATTR_LOCAL: 2}[node.kind]
    return lambda ctx: ctx[0][slot].get(key)


def _compile(node: Expr) -> tuple[Fn, bool]:
    """(function, produces_boolean)."""
    if isinstance(node, Attr):
        return _attr_fn(node), False
    if not isinstance(node, Op):
        value = _literal_value(node)
        return (lambda ctx: value), False
    info = OPS[node.code]
    fam = info.family
    if fam in ("and", "or", "not"):
        subs = []
        for operand in node.operands:
            f, is_bool = _compile(operand)
            subs.append(f if is_bool else (lambda ctx, f=f: _truth(f(ctx))))
        if fam == "not":
            (f,) = subs
            return (lambda ctx: _not(f(ctx))), True
        left, right = subs
        if fam == "and":

            def conj(ctx: Ctx) -> bool | None:
                a = left(ctx)
                if a is False:
                    return FALSE
                b = right(ctx)
                if b is False:
                    return FALSE
                return TRUE if a is True and b is True else UNKNOWN

            return conj, True

        def disj(ctx: Ctx) -> bool | None:
            a = left(ctx)
            if a is True:
                return TRUE
            b = right(ctx)
            if b is True:
                return TRUE
            return FALSE if a is False and b is False else UNKNOWN

        return disj, True
    if fam == "exists":
        f, is_bool = _compile(node.operands[0])
        if is_bool or not isinstance(node.operands[0], Attr):
            return (lambda ctx: UNKNOWN), True
        negate = node.code == 0x8D
        attr = node.operands[0]
        key = attr.name.lower()
        slot = {ATTR_USER: 5, ATTR_DEVICE: 6, ATTR_LOCAL: 7}.get(attr.kind)

        def exists(ctx: Ctx) -> bool | None:
            if f(ctx) is not None:
                return not negate
            if slot is not None and key in ctx[0][slot]:
                return UNKNOWN  # a claim with no values (Windows: unknown)
            return negate

        return exists, True
    if fam == "member":
        f, is_bool = _compile(node.operands[0])
        device = "Device" in info.sddl
        anyof = info.sddl.endswith("_any")
        negate = info.sddl.startswith("Not_")

        def member(ctx: Ctx) -> bool | None:
            v = f(ctx)
            if is_bool or v is None or v.kind not in ("sid", None):
                return UNKNOWN
            have = ctx[0][4] if device else ctx[0][3]
            if anyof:
                r = not have.isdisjoint(v.items)
            else:
                r = have.issuperset(v.items)
            return r != negate

        return member, True
    # two-operand comparisons
    (lf, lb), (rf, rb) = (_compile(o) for o in node.operands)
    if lb or rb:
        return (lambda ctx: UNKNOWN), True
    if fam == "contains":
        base = _contains if "Contains" in info.sddl else _any_of
        if info.sddl.startswith("Not_"):
            return (lambda ctx: _not(base(lf(ctx), rf(ctx)))), True
        return (lambda ctx: base(lf(ctx), rf(ctx))), True
    rel = _rel(node.code)

    def compare(ctx: Ctx) -> bool | None:
        a = lf(ctx)
        if a is None:
            return UNKNOWN
        b = rf(ctx)
        if b is None:
            return UNKNOWN
        return rel(a, b)

    return compare, True


def compile_expression(node: Expr) -> Callable[[Ctx], bool | None]:
    """A function of ``(token values, resource values)`` giving TRUE, FALSE or UNKNOWN."""
    f, is_bool = _compile(node)
    if is_bool:
        return f
    return lambda ctx: _truth(f(ctx))
