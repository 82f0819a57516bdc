"""Security descriptors in words (for ``lanman sddl explain``): who, which rights, under
which condition. Pure functions over the model."""

from __future__ import annotations

from lanman.security.ace import ACE_FLAGS, Ace
from lanman.security.aliases import sid_name
from lanman.security.claims import CLAIM_TYPES, decode_claim
from lanman.security.conditional import (
    ATTR_DEVICE,
    ATTR_LOCAL,
    ATTR_RESOURCE,
    ATTR_USER,
    OPS,
    Attr,
    Composite,
    Expr,
    Op,
    Sid,
    decode_condition,
    expression_to_sddl,
)
from lanman.security.descriptor import CONTROL_FLAGS, SecurityDescriptor
from lanman.security.rights import rights_in_words
from lanman.security.sddl_write import ace_to_sddl

__all__ = ["condition_in_words", "explain_ace", "explain_sd"]

_WHOSE = {
    ATTR_USER: "the user's claim",
    ATTR_DEVICE: "the device's claim",
    ATTR_RESOURCE: "the object's resource attribute",
    ATTR_LOCAL: "the local attribute",
}
_REL_WORDS = {
    "==": "equals",
    "!=": "does not equal",
    "<": "is less than",
    "<=": "is at most",
    ">": "is greater than",
    ">=": "is at least",
    "Contains": "contains all of",
    "Not_Contains": "does not contain all of",
    "Any_of": "is any of",
    "Not_Any_of": "is none of",
}
_FAMILY_WORDS = {
    "allow": "allow",
    "deny": "deny",
    "audit": "audit",
    "alarm": "alarm",
    "label": "mandatory integrity label",
    "resource": "resource attribute",
    "scoped": "central access policy",
    "filter": "access filter",
}


def _operand(node: Expr, dom: str | None) -> str:
    if isinstance(node, Attr):
        return f"{_WHOSE[node.kind]} {node.name!r}"
    if isinstance(node, Sid):
        return sid_name(node.sid, dom)
    if isinstance(node, Composite):
        return "{" + ", ".join(_operand(i, dom) for i in node.items) + "}"
    if isinstance(node, Op):
        return "(" + condition_in_words(node, dom) + ")"
    return expression_to_sddl(node, dom)[1:-1]


def condition_in_words(node: Expr, domain_sid: str | None = None) -> str:
    """An English sentence for a conditional expression."""
    dom = domain_sid
    if not isinstance(node, Op):
        if isinstance(node, Attr):
            return f"{_operand(node, dom)} is set and non-zero/non-empty"
        return f"the literal {_operand(node, dom)} is true"
    info = OPS[node.code]
    fam = info.family
    if fam in ("and", "or"):
        a, b = (condition_in_words(o, dom) for o in node.operands)
        return f"({a}) {'and' if fam == 'and' else 'or'} ({b})"
    if fam == "not":
        return f"not ({condition_in_words(node.operands[0], dom)})"
    if fam == "exists":
        verb = "has" if node.code == 0x87 else "does not have"
        a = node.operands[0]
        what = _operand(a, dom)
        return f"the token {verb} {what}" if isinstance(a, Attr) else f"{verb} {what}"
    if fam == "member":
        who = "the device" if "Device" in info.sddl else "the user"
        neg = " not" if info.sddl.startswith("Not_") else ""
        quant = "at least one of" if info.sddl.endswith("_any") else "every one of"
        operand = node.operands[0]
        items = operand.items if isinstance(operand, Composite) else (operand,)
        names = ", ".join(_operand(i, dom) for i in items)
        return f"{who} is{neg} a member of {quant}: {names}"
    a, b = node.operands
    return f"{_operand(a, dom)} {_REL_WORDS[info.sddl]} {_operand(b, dom)}"


def explain_ace(ace: Ace, domain_sid: str | None = None) -> dict:
    """One ACE as a dict of words (and its canonical SDDL)."""
    info = ace.info
    out: dict = {
        "sddl": ace_to_sddl(ace, domain_sid) if info.sddl else None,
        "type": _FAMILY_WORDS.get(info.family, info.family),
        "who": sid_name(ace.sid, domain_sid),
        "rights": rights_in_words(ace.mask, label=info.family == "label"),
        "mask": f"0x{ace.mask:08x}",
        "flags": [words for code, value, words in ACE_FLAGS if ace.flags & value],
    }
    if ace.object_type:
        out["object_type"] = str(ace.object_type)
    if ace.inherited_object_type:
        out["inherited_object_type"] = str(ace.inherited_object_type)
    if info.callback:
        out["condition"] = condition_in_words(decode_condition(ace.application_data), domain_sid)
        if info.family == "deny":
            out["note"] = "denies when the condition is true or cannot be evaluated (unknown)"
        elif info.family == "allow":
            out["note"] = "allows only when the condition is true"
    if ace.type == 0x12:
        claim = decode_claim(ace.application_data)
        out["attribute"] = {
            "name": claim.name,
            "type": CLAIM_TYPES[claim.value_type].sddl,
            "values": [v.hex() if isinstance(v, bytes) else v for v in claim.values],
        }
    return out


def _acl_words(control: int, dacl: bool) -> list[str]:
    return [words for _c, d, s, words in CONTROL_FLAGS if control & (d if dacl else s)]


def explain_sd(sd: SecurityDescriptor, domain_sid: str | None = None) -> dict:
    """The whole descriptor in words."""
    out: dict = {
        "owner": sid_name(sd.owner, domain_sid) if sd.owner else None,
        "group": sid_name(sd.group, domain_sid) if sd.group else None,
    }
    for key, acl, present, is_dacl in (
        ("dacl", sd.dacl, sd.dacl_present, True),
        ("sacl", sd.sacl, sd.sacl_present, False),
    ):
        if not present:
            out[key] = None
        elif acl is None:
            out[key] = {"null": True, "flags": _acl_words(sd.control, is_dacl)}
        else:
            out[key] = {
                "null": False,
                "flags": _acl_words(sd.control, is_dacl),
                "aces": [explain_ace(a, domain_sid) for a in acl.aces],
            }
    return out
