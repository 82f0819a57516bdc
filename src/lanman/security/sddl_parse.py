"""SDDL text -> security descriptor (MS-DTYP 2.5.1), with conditional expressions
(2.5.1.1) and resource attributes. Accepts what Windows accepts (keywords, aliases and
flags in any case, blanks between fields, ``#`` for ``0`` in octet strings); errors carry the
1-based column of the offending character.
"""

from __future__ import annotations

import re
import uuid

from lanman.directory.sid import validate_sid
from lanman.security.ace import ACE_FLAGS, ACE_TYPE_BY_SDDL, Ace
from lanman.security.acl import Acl
from lanman.security.aliases import resolve_alias
from lanman.security.claims import CLAIM_TYPE_BY_SDDL, ClaimAttribute, encode_claim
from lanman.security.conditional import (
    ATTR_DEVICE,
    ATTR_LOCAL,
    ATTR_RESOURCE,
    ATTR_USER,
    BASE_DECIMAL,
    BASE_HEX,
    BASE_OCTAL,
    NAME_STOP,
    OPS,
    SIGN_MINUS,
    SIGN_NONE,
    SIGN_PLUS,
    Attr,
    Composite,
    Expr,
    Int,
    Octets,
    Op,
    Sid,
    Str,
    encode_condition,
)
from lanman.security.descriptor import (
    CONTROL_FLAGS,
    SE_DACL_PRESENT,
    SE_SACL_PRESENT,
    SecurityDescriptor,
)
from lanman.security.errors import SddlError
from lanman.security.rights import COMPOUND_RIGHTS, LABEL_RIGHTS, RIGHTS

__all__ = ["device_references", "parse_condition", "parse_sddl"]

_WS = " \t\n\r\v\f"
_FIELD_END = re.compile(r"[;()]")
_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
_ATTR1 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:./_")
_HEX = frozenset("0123456789abcdefABCDEF")
_RIGHT_CODES = {code: value for code, value, _ in RIGHTS + COMPOUND_RIGHTS + LABEL_RIGHTS}
_FLAG_CODES = {code: value for code, value, _ in ACE_FLAGS}
_PREFIXES = {"user": ATTR_USER, "device": ATTR_DEVICE, "resource": ATTR_RESOURCE}
_KEYWORD_OPS = {info.sddl.lower(): code for code, info in OPS.items() if info.sddl[0].isalpha()}
_MEMBER_OPS = {k: v for k, v in _KEYWORD_OPS.items() if OPS[v].family == "member"}
_EXISTS_OPS = {k: v for k, v in _KEYWORD_OPS.items() if OPS[v].family == "exists"}
_WORD_OPS = {k: v for k, v in _KEYWORD_OPS.items() if OPS[v].family == "contains"}
_SYMBOL_OPS = (("==", 0x80), ("!=", 0x81), ("<=", 0x83), (">=", 0x85), ("<", 0x82), (">", 0x84))
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1


def _wcstoul(text: str, limit: int, base: int = 0) -> int:
    """A whole number as Windows' wcstoul reads it: optional sign, ``0x`` hex, leading-zero
    octal or decimal (``base`` 16 forces hex); too large saturates at ``limit``; a minus
    sign negates modulo ``limit + 1``. Anything left over is a ValueError."""
    t = text
    neg = False
    if t[:1] in "+-":
        neg, t = t[0] == "-", t[1:]
    if base == 16 or t[:2].lower() == "0x":
        digits, radix = (t[2:] if t[:2].lower() == "0x" else t), 16
    elif t[:1] == "0" and len(t) > 1:
        digits, radix = t[1:], 8
    else:
        digits, radix = t, 10
    valid = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[radix]
    if not digits or not all(c in valid for c in digits):
        raise ValueError(text)
    value = min(int(digits, radix), limit)
    return (-value) & limit if neg else value


def windows_sid(text: str) -> str:
    """``S-1-...`` as Windows reads it in SDDL: each number as wcstoul reads it (blanks after
    a '-', ``0x`` hex, sub-authorities saturating at 0xffffffff); a revision written in hex
    makes the remaining numbers hex, as Windows does. Returns the canonical SID string."""
    if text[:2].upper() != "S-":
        raise ValueError("a SID starts with S-")
    parts = text[2:].split("-")
    if len(parts) < 2:
        raise ValueError("a SID has a revision and an identifier authority")
    nums, base = [], 0
    for k, part in enumerate(parts):
        part = part.lstrip(_WS)
        if not part or part[0] in "+-":
            raise ValueError("empty or signed number")
        limit = 0xFF if k == 0 else (1 << 64) if k == 1 else 0xFFFFFFFF
        nums.append(_wcstoul(part, limit, base))
        if k == 0 and part[:2].lower() == "0x":
            base = 16
    if nums[0] != 1:
        raise ValueError(f"revision {nums[0]} (only 1 exists)")
    if nums[1] >= 1 << 48:
        raise ValueError("identifier authority does not fit in 48 bits")
    if len(nums) - 2 > 15:
        raise ValueError("more than 15 sub-authorities")
    auth = str(nums[1]) if nums[1] < 1 << 32 else f"0x{nums[1]:012X}"
    return validate_sid("S-1-" + auth + "".join(f"-{x}" for x in nums[2:]))


_SID_CACHE: dict[tuple[str, str | None], str] = {}  # SID field text -> canonical SID


class _Parser:
    __slots__ = ("dom", "i", "n", "s")

    def __init__(self, text: str, domain_sid: str | None):
        self.s, self.i, self.n, self.dom = text, 0, len(text), domain_sid

    # -- helpers -------------------------------------------------------------------------
    def err(self, message: str, at: int | None = None) -> SddlError:
        return SddlError(message, (self.i if at is None else at) + 1)

    def ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in _WS:
            i += 1
        self.i = i

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def expect(self, ch: str, what: str) -> None:
        self.ws()
        if self.peek() != ch:
            found = repr(self.peek()) if self.i < self.n else "the end"
            raise self.err(f"expected {what}, found {found}")
        self.i += 1

    def sid(self, text: str, at: int) -> str:
        """A SID field: ``S-1-...`` as Windows reads it (see :func:`windows_sid`), or an
        alias (blanks around it allowed)."""
        cached = _SID_CACHE.get((text, self.dom))
        if cached is not None:
            return cached
        sid = self._sid(text, at)
        if len(_SID_CACHE) > 4096:
            _SID_CACHE.clear()
        _SID_CACHE[(text, self.dom)] = sid
        return sid

    def _sid(self, text: str, at: int) -> str:
        lead = len(text) - len(text.lstrip(_WS))
        text, at = text[lead:], at + lead
        if not text:
            raise self.err("a SID is missing", at)
        if text[:2].upper() == "S-":
            try:
                return windows_sid(text)
            except ValueError as exc:
                raise self.err(f"bad SID {text!r}: {exc}", at) from None
        text = text.rstrip(_WS)
        try:
            sid = resolve_alias(text, self.dom)
        except KeyError:
            raise self.err(
                f"SID alias {text.upper()} is relative to the domain: give the domain SID", at
            ) from None
        if sid is None:
            raise self.err(f"{text!r} is neither a SID nor a SID alias", at)
        return sid

    # -- descriptor ----------------------------------------------------------------------
    def descriptor(self) -> SecurityDescriptor:
        sd, seen = SecurityDescriptor(), set()
        while True:
            self.ws()
            if self.i >= self.n:
                return sd
            at = self.i
            part = self.s[at : at + 2]
            if part not in ("O:", "G:", "D:", "S:"):
                raise self.err("expected O:, G:, D: or S:")
            if part in seen:
                raise self.err(f"{part} appears twice")
            seen.add(part)
            self.i += 2
            if part in ("O:", "G:"):
                sid = self.top_sid()
                if part == "O:":
                    sd.owner = sid
                else:
                    sd.group = sid
            else:
                self.acl(sd, dacl=part == "D:")

    def top_sid(self) -> str:
        # Windows ends an owner/group SID one character before the next ':' (the letter of
        # the next component): "O:S-1-2-0x200D:" is S-1-2-512 then a DACL.
        at = self.i
        colon = self.s.find(":", at)
        end = self.n if colon < 0 else colon - 1
        text = self.s[at:end] if end > at else ""
        if not text.strip(_WS):
            raise self.err("expected a SID or a two-letter SID alias", at)
        self.i = end
        return self.sid(text.rstrip(_WS), at)

    def acl(self, sd: SecurityDescriptor, *, dacl: bool) -> None:
        control, null = 0, False
        while True:
            self.ws()
            rest = self.s[self.i : self.i + 17].upper()
            if rest.startswith("NO_ACCESS_CONTROL"):
                null, self.i = True, self.i + 17
                continue
            for code, dbit, sbit, _ in CONTROL_FLAGS:
                if rest.startswith(code):
                    control |= dbit if dacl else sbit
                    self.i += len(code)
                    if code == "AI" and self.peek() in _WS and self.peek():
                        raise self.err("Windows accepts no blank after the AI flag")
                    break
            else:
                break
        aces = []
        while True:
            self.ws()
            if self.peek() != "(":
                break
            at = self.i
            ace = self.ace()
            if dacl and ace.info.family not in ("allow", "deny"):
                raise self.err(f"a {ace.info.sddl} ACE does not belong in a DACL", at + 1)
            aces.append(ace)
        if null and aces:
            raise self.err("NO_ACCESS_CONTROL (a NULL ACL) cannot have ACEs")
        sd.control |= control | (SE_DACL_PRESENT if dacl else SE_SACL_PRESENT)
        acl = None if null else Acl(aces)
        if dacl:
            sd.dacl = acl
        else:
            sd.sacl = acl

    # -- ACE -----------------------------------------------------------------------------
    def field(self, last: bool = False) -> tuple[str, int]:
        s, start = self.s, self.i
        m = _FIELD_END.search(s, start)
        i = m.start() if m else self.n
        if i < self.n and s[i] == "(":
            raise self.err("unexpected '(' inside an ACE field", i)
        if i >= self.n:
            raise self.err("ACE is not closed with ')'", i)
        if s[i] == ")" and not last:
            raise self.err("ACE has too few fields", i)
        self.i = i
        return s[start:i], start

    def ace(self) -> Ace:
        self.i += 1  # '('
        tname, at = self.field()
        tname = tname.strip(_WS)
        info = ACE_TYPE_BY_SDDL.get(tname.upper())
        if info is None:
            raise self.err(f"unknown ACE type {tname!r}", at)
        self.i += 1
        ftext, at = self.field()
        flags = self.codes(ftext.strip(_WS), _FLAG_CODES, "ACE flag", at)
        self.i += 1
        rtext, at = self.field()
        lead = len(rtext) - len(rtext.lstrip(_WS))
        mask = self.rights(rtext[lead:], at + lead)
        self.i += 1
        guids = []
        for _ in range(2):
            gtext, at = self.field()
            self.i += 1
            if not gtext.strip(_WS):
                guids.append(None)
                continue
            if not _GUID_RE.fullmatch(gtext):
                raise self.err(f"{gtext!r} is not a GUID", at)
            if not info.object:
                raise self.err(f"a {info.sddl} ACE has no object GUIDs", at)
            try:
                guids.append(uuid.UUID(gtext))
            except ValueError:
                raise self.err(f"{gtext!r} is not a GUID", at) from None
        stext, at = self.field(last=True)
        sid = self.sid(stext, at)
        ace = Ace(info.code, flags, mask, sid, guids[0], guids[1])
        if info.callback or info.code == 0x12:
            if self.peek() != ";":
                what = "a condition" if info.callback else "attribute data"
                raise self.err(f"{info.sddl} ACE needs {what} after the SID")
            self.i += 1
            if info.callback:
                ace.application_data = encode_condition(self.condition())
            else:
                ace.application_data = encode_claim(self.resource_attribute())
        self.expect(")", "')' closing the ACE")
        return ace

    def codes(self, text: str, table: dict[str, int], what: str, at: int) -> int:
        if len(text) % 2:
            raise self.err(f"bad {what}s {text!r}", at)
        value = 0
        for k in range(0, len(text), 2):
            code = table.get(text[k : k + 2].upper())
            if code is None:
                raise self.err(f"unknown {what} {text[k : k + 2]!r}", at + k)
            value |= code
        return value

    def rights(self, text: str, at: int) -> int:
        if not text:
            return 0
        if text[0].isdigit() or text[0] in "+-":
            try:
                return _wcstoul(text, 0xFFFFFFFF)
            except ValueError:
                raise self.err(f"bad access mask {text!r}", at) from None
        return self.codes(text, _RIGHT_CODES, "right", at)

    # -- conditional expressions (MS-DTYP 2.5.1.1) ----------------------------------------
    def condition(self) -> Expr:
        self.expect("(", "'(' starting the condition")
        node = self.or_expr()
        self.expect(")", "')' or an operator")
        return node

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while True:
            self.ws()
            if self.s.startswith("||", self.i):
                self.i += 2
                left = Op(0xA1, (left, self.and_expr()))
            else:
                return left

    def and_expr(self) -> Expr:
        left = self.factor()
        while True:
            self.ws()
            if self.s.startswith("&&", self.i):
                self.i += 2
                left = Op(0xA0, (left, self.factor()))
            else:
                return left

    def factor(self) -> Expr:
        self.ws()
        c = self.peek()
        if c == "!":
            self.i += 1
            self.ws()
            if self.peek() != "(":
                raise self.err("'!' must be followed by a parenthesised expression")
            return Op(0xA2, (self.factor(),))
        if c == "(":
            self.i += 1
            node = self.or_expr()
            self.expect(")", "')' or an operator")
            return node
        return self.term()

    def word(self) -> str:
        s, i = self.s, self.i
        while i < self.n and (s[i] in _ATTR1 or (s[i] == "@" and i > self.i)):
            i += 1
        w, self.i = s[self.i : i], i
        return w

    def term(self) -> Expr:
        at, c = self.i, self.peek()
        if c == "@":
            attr = self.prefixed_attr()
        elif c and (c.isalpha() or c == "_"):
            w = self.word()
            key = w.lower()
            if key in _MEMBER_OPS:
                return Op(_MEMBER_OPS[key], (self.member_operand(),))
            if key in _EXISTS_OPS:
                self.ws()
                return Op(_EXISTS_OPS[key], (self.any_attr(),))
            attr = Attr(ATTR_LOCAL, w)
        else:
            found = repr(c) if c else "the end"
            raise self.err(f"expected an attribute or a condition, found {found}", at)
        self.ws()
        op = self.operator()
        if op is None:
            return attr
        return Op(op, (attr, self.rhs()))

    def any_attr(self) -> Attr:
        if self.peek() == "@":
            return self.prefixed_attr()
        at, w = self.i, self.word()
        if not w or w[0].isdigit():
            raise self.err("expected an attribute name", at)
        return Attr(ATTR_LOCAL, w)

    def prefixed_attr(self) -> Attr:
        at = self.i
        dot = self.s.find(".", at)
        kind = _PREFIXES.get(self.s[at + 1 : dot].lower()) if dot > 0 else None
        if kind is None:
            raise self.err("expected @User., @Device. or @Resource.", at)
        self.i = dot + 1
        name = self.attr2_name()
        if not name:
            raise self.err("attribute name is empty")
        return Attr(kind, name)

    def attr2_name(self, stop: str = "") -> str:
        s, out = self.s, []
        while self.i < self.n:
            c = s[self.i]
            if c == "%":
                h = s[self.i + 1 : self.i + 5]
                if len(h) != 4 or not all(x in _HEX for x in h) or int(h, 16) == 0:
                    raise self.err("'%' must be followed by four hex digits (not 0000)")
                out.append(chr(int(h, 16)))
                self.i += 5
            elif c not in NAME_STOP and c not in stop:
                out.append(c)
                self.i += 1
            else:
                break
        return "".join(out)

    def operator(self) -> int | None:
        s, i = self.s, self.i
        for text, code in _SYMBOL_OPS:
            if s.startswith(text, i):
                self.i += len(text)
                return code
        j = i
        while j < self.n and s[j] in _ATTR1:
            j += 1
        code = _WORD_OPS.get(s[i:j].lower())
        if code is not None:
            self.i = j
        return code

    def rhs(self) -> Expr:
        self.ws()
        c = self.peek()
        if c == "@":
            return self.prefixed_attr()
        if (
            c in ('"', "#", "{", "+", "-")
            or c.isdigit()
            or self.s[self.i : self.i + 4].upper() == "SID("
        ):
            return self.value()
        if c and (c.isalpha() or c == "_"):
            raise self.err("a local attribute cannot be on the right-hand side")
        found = repr(c) if c else "the end"
        raise self.err(f"expected an attribute or a literal, found {found}")

    def member_operand(self) -> Expr:
        depth = 0
        self.ws()
        while self.peek() == "(":
            self.i += 1
            depth += 1
            self.ws()
        node = self.value()
        for _ in range(depth):
            self.expect(")", "')'")
        return node

    def value(self) -> Expr:
        self.ws()
        if self.peek() != "{":
            return self.literal()
        self.i += 1
        items = []
        self.ws()
        if self.peek() == "}":
            self.i += 1
            return Composite(())
        while True:
            items.append(self.literal())
            self.ws()
            c = self.peek()
            self.i += 1
            if c == "}":
                return Composite(tuple(items))
            if c != ",":
                self.i -= 1
                raise self.err("expected ',' or '}' in a composite")

    def literal(self) -> Expr:
        self.ws()
        at, c = self.i, self.peek()
        if c == '"':
            end = self.s.find('"', at + 1)
            if end < 0:
                raise self.err("string is not closed with '\"'", at)
            self.i = end + 1
            return Str(self.s[at + 1 : end])
        if c == "#":
            return Octets(self.octets())
        if self.s[at : at + 4].upper() == "SID(":
            end = self.s.find(")", at + 4)
            if end < 0:
                raise self.err("SID( is not closed with ')'", at)
            self.i = end + 1
            return Sid(self.sid(self.s[at + 4 : end], at + 4))
        if c in "+-" and c or c.isdigit():
            return self.integer()
        found = repr(c) if c else "the end"
        raise self.err(f"expected a literal (number, string, #octets, SID(...)), found {found}")

    def octets(self, *, marker: bool = True) -> bytes:
        """``#`` and hex digits, a ``#`` after the first standing for ``0`` and an odd count
        taking a leading ``0`` (as Windows reads them); without ``marker`` (RA TX values)
        the leading ``#`` is optional."""
        s = self.s
        start = self.i + 1 if marker or s[self.i : self.i + 1] == "#" else self.i
        j = start
        while j < self.n and (s[j] in _HEX or s[j] == "#"):
            j += 1
        digits = s[start:j].replace("#", "0")
        self.i = j
        if len(digits) % 2:
            digits = "0" + digits
        return bytes.fromhex(digits)

    def integer(
        self, *, lo: int = -(1 << 63), hi: int = _INT64_MAX, unsigned_wrap: bool = True
    ) -> Int:
        s, at = self.s, self.i
        sign = SIGN_NONE
        if s[at] in "+-":
            sign = SIGN_PLUS if s[at] == "+" else SIGN_MINUS
            self.i += 1
        i = self.i
        if s[i : i + 2].lower() == "0x":
            base, j, digits_ok = BASE_HEX, i + 2, _HEX
        elif s[i : i + 1] == "0" and s[i + 1 : i + 2].isdigit():
            base, j, digits_ok = BASE_OCTAL, i + 1, frozenset("01234567")
        else:
            base, j, digits_ok = BASE_DECIMAL, i, frozenset("0123456789")
        k = j
        while k < self.n and s[k] in _HEX:
            k += 1
        digits = s[j:k]
        if not digits or any(d not in digits_ok for d in digits):
            raise self.err(f"bad number {s[at:k]!r}", at)
        if k < self.n and (s[k] in _ATTR1 and s[k] != "."):
            raise self.err(f"bad number {s[at : k + 1]!r}", at)
        self.i = k
        magnitude = int(digits, {BASE_HEX: 16, BASE_OCTAL: 8, BASE_DECIMAL: 10}[base])
        value = -magnitude if sign == SIGN_MINUS else magnitude
        if base != BASE_DECIMAL and unsigned_wrap and sign != SIGN_MINUS:
            fits = magnitude <= _UINT64_MAX  # Windows keeps 0xffffffffffffffff as a bit pattern
        else:
            fits = lo <= value <= hi
        if not fits:
            raise self.err(f"number {s[at:k]} does not fit in 64 bits", at)
        return Int(value, sign, base)

    # -- resource attributes (RA ACE attribute data) -------------------------------------
    def resource_attribute(self) -> ClaimAttribute:
        self.expect("(", "'(' starting the attribute data")
        self.expect('"', "'\"' starting the attribute name")
        name = self.attr2_name(stop='"')
        if not name:
            raise self.err("attribute name is empty")
        self.expect('"', "'\"' closing the attribute name")
        self.expect(",", "','")
        self.ws()
        at = self.i
        tname = self.s[at : at + 2].upper()
        ctype = CLAIM_TYPE_BY_SDDL.get(tname)
        if ctype is None:
            raise self.err("expected an attribute type TI, TU, TS, TD, TX or TB", at)
        self.i += 2
        self.expect(",", "','")
        self.ws()
        at = self.i
        flags = self.integer().value
        if not 0 <= flags <= 0xFFFFFFFF or flags & 0xFF00:
            raise self.err("attribute flags must be a 32-bit value outside 0xff00", at)
        values = []
        while True:
            self.ws()
            if self.peek() != ",":
                break
            self.i += 1
            self.ws()
            values.append(self.resource_value(ctype.kind))
        self.expect(")", "')' closing the attribute data")
        return ClaimAttribute(name, ctype.code, tuple(values), flags)

    def resource_value(self, kind: str) -> object:
        at = self.i
        if kind == "str":
            node = self.literal()
            if not isinstance(node, Str):
                raise self.err("a TS value is a quoted string", at)
            return node.value
        if kind == "sid":
            j = at
            while j < self.n and self.s[j] not in ",)" + _WS:
                j += 1
            self.i = j
            return self.sid(self.s[at:j], at)
        if kind == "bytes":
            return self.octets(marker=False)
        value = self.integer(
            unsigned_wrap=False, hi=_UINT64_MAX if kind == "uint" else _INT64_MAX
        ).value
        if kind == "uint" and value < 0:
            raise self.err("a TU value cannot be negative", at)
        if kind == "bool" and value not in (0, 1):
            raise self.err("a TB value is 0 or 1", at)
        return value


def parse_sddl(text: str, domain_sid: str | None = None) -> SecurityDescriptor:
    """Parse an SDDL security descriptor string (MS-DTYP 2.5.1); raises :class:`SddlError`.

    ``domain_sid`` resolves domain-relative aliases (``DA``, ``DU``, ...)."""
    if not isinstance(text, str):
        raise SddlError("SDDL must be a string", 1)
    return _Parser(text, domain_sid).descriptor()


def parse_condition(text: str, domain_sid: str | None = None) -> Expr:
    """Parse one parenthesised conditional expression (MS-DTYP 2.5.1.1)."""
    p = _Parser(text, domain_sid)
    node = p.condition()
    p.ws()
    if p.i != p.n:
        raise p.err("unexpected text after the condition")
    return node


_DEVICE_MEMBER_OPS = frozenset({0x8A, 0x8C, 0x91, 0x93})  # (Not_)Device_Member_of(_any)


class _DeviceFinder(_Parser):
    """A parser that also notes where conditions refer to the device (@Device. attributes,
    Device_Member_of operators)."""

    __slots__ = ("found",)

    def __init__(self, text: str, domain_sid: str | None):
        super().__init__(text, domain_sid)
        self.found: list[tuple[int, str]] = []

    def prefixed_attr(self) -> Attr:
        at = self.i
        attr = super().prefixed_attr()
        if attr.kind == ATTR_DEVICE:
            self.found.append((at + 1, "attribute"))
        return attr

    def term(self) -> Expr:
        at = self.i
        node = super().term()
        if isinstance(node, Op) and node.code in _DEVICE_MEMBER_OPS:
            self.found.append((at + 1, "operator"))
        return node


def device_references(text: str, domain_sid: str | None = None) -> list[tuple[int, str]]:
    """Parse SDDL (raising :class:`SddlError` as :func:`parse_sddl` does) and return the
    1-based columns at which a condition refers to the device, in order, each with
    ``"attribute"`` (``@Device.``) or ``"operator"`` (``Device_Member_of`` and friends).

    An AllowedToAuthenticateFrom condition is evaluated with the *device* as the user of the
    access check and no device at all, so such references can never match there."""
    if not isinstance(text, str):
        raise SddlError("SDDL must be a string", 1)
    finder = _DeviceFinder(text, domain_sid)
    finder.descriptor()
    return sorted(finder.found)
