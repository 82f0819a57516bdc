"""Security descriptor -> canonical SDDL, as Windows writes it (MS-DTYP 2.5.1)."""

from __future__ import annotations

from lanman.security.ace import ACE_FLAGS, Ace
from lanman.security.acl import Acl
from lanman.security.aliases import alias_of
from lanman.security.claims import claim_to_sddl, decode_claim
from lanman.security.conditional import decode_condition, expression_to_sddl
from lanman.security.descriptor import (
    CONTROL_FLAGS,
    SE_DACL_PRESENT,
    SE_SACL_PRESENT,
    SecurityDescriptor,
)
from lanman.security.errors import SecurityError
from lanman.security.rights import COMPOUND_RIGHTS, LABEL_RIGHTS, RIGHTS

__all__ = ["ace_to_sddl", "rights_to_sddl", "sd_to_sddl"]

_LABEL_TABLE = LABEL_RIGHTS + RIGHTS[3:]


def rights_to_sddl(mask: int, *, label: bool = False) -> str:
    """Rights string: a compound right on exact match, else single-bit codes low bit first,
    else ``0x..`` when some bit has no code; ``""`` for zero."""
    if mask == 0:
        return ""
    if not label:
        for code, value, _ in COMPOUND_RIGHTS:
            if mask == value:
                return code
    out, rest = [], mask
    for code, value, _ in _LABEL_TABLE if label else RIGHTS:
        if rest & value:
            out.append(code)
            rest &= ~value
    if rest:
        return f"0x{mask:x}"
    return "".join(out)


def _flags(flags: int) -> str:
    return "".join(code for code, value, _ in ACE_FLAGS if flags & value) + (
        f"0x{flags & ~0xFF:x}" if flags & ~0xFF else ""
    )


def ace_to_sddl(ace: Ace, domain_sid: str | None = None) -> str:
    """One ACE string ``(type;flags;rights;guid;guid;sid[;extra])``."""
    info = ace.info
    if info.sddl is None:
        raise SecurityError(f"ACE type 0x{ace.type:02x} has no SDDL form")
    if ace.flags & ~0xFF:  # pragma: no cover - flags are one byte
        raise SecurityError("bad ACE flags")
    flags = "".join(code for code, value, _ in ACE_FLAGS if ace.flags & value)
    rights = rights_to_sddl(ace.mask, label=info.family == "label")
    g1 = str(ace.object_type) if ace.object_type else ""
    g2 = str(ace.inherited_object_type) if ace.inherited_object_type else ""
    text = f"({info.sddl};{flags};{rights};{g1};{g2};{alias_of(ace.sid, domain_sid)}"
    if info.callback:
        text += ";" + expression_to_sddl(decode_condition(ace.application_data), domain_sid)
    elif ace.type == 0x12:
        text += ";" + claim_to_sddl(decode_claim(ace.application_data), domain_sid)
    return text + ")"


def _acl(acl: Acl | None, control: int, dacl: bool, dom: str | None) -> str:
    out = "".join(
        code for code, dbit, sbit, _ in CONTROL_FLAGS if control & (dbit if dacl else sbit)
    )
    if acl is None:
        return out + "NO_ACCESS_CONTROL"
    return out + "".join(ace_to_sddl(a, dom) for a in acl.aces)


def sd_to_sddl(sd: SecurityDescriptor, domain_sid: str | None = None) -> str:
    """Canonical SDDL of ``sd``: ``O:`` ``G:`` ``D:`` ``S:`` in that order, aliases where known."""
    parts = []
    if sd.owner is not None:
        parts.append("O:" + alias_of(sd.owner, domain_sid))
    if sd.group is not None:
        parts.append("G:" + alias_of(sd.group, domain_sid))
    if sd.dacl is not None or sd.control & SE_DACL_PRESENT:
        parts.append("D:" + _acl(sd.dacl, sd.control, True, domain_sid))
    if sd.sacl is not None or sd.control & SE_SACL_PRESENT:
        parts.append("S:" + _acl(sd.sacl, sd.control, False, domain_sid))
    return "".join(parts)
