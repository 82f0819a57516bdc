"""ACEs (MS-DTYP 2.4.4): the type and flag tables, the model and the binary codec."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from lanman.directory.sid import SidError, sid_from_bytes
from lanman.directory.sid import sid_to_bytes as _sid_to_bytes
from lanman.security.errors import SecurityError

__all__ = [
    "ACE_FLAGS",
    "ACE_TYPES",
    "CONTAINER_INHERIT",
    "INHERITED",
    "INHERIT_ONLY",
    "NO_PROPAGATE_INHERIT",
    "OBJECT_INHERIT",
    "Ace",
    "AceType",
    "decode_ace",
    "encode_ace",
]


@dataclass(frozen=True, slots=True)
class AceType:
    """One ACE type (MS-DTYP 2.4.4.1): byte, SDDL name, family, layout."""

    code: int
    sddl: str | None  # None: no SDDL spelling (binary only)
    family: str  # allow | deny | audit | alarm | label | resource | scoped | filter
    object: bool = False  # has Flags + ObjectType + InheritedObjectType (2.4.4.3)
    callback: bool = False  # ApplicationData holds a conditional expression
    opaque: bool = False  # body not in the mask+SID layout (compound ACE)


#: ACE types (MS-DTYP 2.4.4.1; SDDL names from 2.5.1.1, with ZA = 0x0B and XU = 0x0D as
#: Windows and 2.4.4.1 number them).
ACE_TYPES: dict[int, AceType] = {
    t.code: t
    for t in (
        AceType(0x00, "A", "allow"),
        AceType(0x01, "D", "deny"),
        AceType(0x02, "AU", "audit"),
        AceType(0x03, "AL", "alarm"),
        AceType(0x04, None, "allow", opaque=True),  # ACCESS_ALLOWED_COMPOUND_ACE
        AceType(0x05, "OA", "allow", object=True),
        AceType(0x06, "OD", "deny", object=True),
        AceType(0x07, "OU", "audit", object=True),
        AceType(0x08, "OL", "alarm", object=True),
        AceType(0x09, "XA", "allow", callback=True),
        AceType(0x0A, "XD", "deny", callback=True),
        AceType(0x0B, "ZA", "allow", object=True, callback=True),
        AceType(0x0C, None, "deny", object=True, callback=True),
        AceType(0x0D, "XU", "audit", callback=True),
        AceType(0x0E, None, "alarm", callback=True),
        AceType(0x0F, None, "audit", object=True, callback=True),
        AceType(0x10, None, "alarm", object=True, callback=True),
        AceType(0x11, "ML", "label"),
        AceType(0x12, "RA", "resource"),
        AceType(0x13, "SP", "scoped"),
        AceType(0x14, None, "filter", callback=True),  # SYSTEM_ACCESS_FILTER_ACE
    )
}
ACE_TYPE_BY_SDDL = {t.sddl: t for t in ACE_TYPES.values() if t.sddl}

OBJECT_INHERIT = 0x01
CONTAINER_INHERIT = 0x02
NO_PROPAGATE_INHERIT = 0x04
INHERIT_ONLY = 0x08
INHERITED = 0x10

#: ACE flags (MS-DTYP 2.4.4.1 AceFlags) in the order Windows writes them in SDDL.
ACE_FLAGS: tuple[tuple[str, int, str], ...] = (
    ("OI", OBJECT_INHERIT, "object inherit"),
    ("CI", CONTAINER_INHERIT, "container inherit"),
    ("NP", NO_PROPAGATE_INHERIT, "no propagate"),
    ("IO", INHERIT_ONLY, "inherit only"),
    ("ID", INHERITED, "inherited"),
    ("CR", 0x20, "critical"),
    ("SA", 0x40, "audit success"),
    ("FA", 0x80, "audit failure"),
)

sid_to_bytes = lru_cache(maxsize=8192)(_sid_to_bytes)

_OBJECT_TYPE_PRESENT = 0x1
_INHERITED_OBJECT_TYPE_PRESENT = 0x2


@dataclass(slots=True)
class Ace:
    """One ACE. ``application_data`` is everything after the SID (conditional expression or
    claim attribute, with the padding of a decoded ACE); ``opaque`` is the raw body of a
    type this model does not split (compound ACEs)."""

    type: int
    flags: int = 0
    mask: int = 0
    sid: str = "S-1-1-0"
    object_type: uuid.UUID | None = None
    inherited_object_type: uuid.UUID | None = None
    application_data: bytes = b""
    opaque: bytes | None = field(default=None, repr=False)

    @property
    def info(self) -> AceType:
        info = ACE_TYPES.get(self.type)
        return info if info is not None else AceType(self.type, None, "unknown", opaque=True)


def encode_ace(ace: Ace) -> bytes:
    """The ACE in binary form, padded with zeros to a 4-byte boundary (MS-DTYP 2.4.4.1)."""
    info = ace.info
    if info.opaque:
        body = ace.opaque or b""
    else:
        parts = [struct.pack("<I", ace.mask & 0xFFFFFFFF)]
        if info.object:
            oflags = (_OBJECT_TYPE_PRESENT if ace.object_type else 0) | (
                _INHERITED_OBJECT_TYPE_PRESENT if ace.inherited_object_type else 0
            )
            parts.append(struct.pack("<I", oflags))
            if ace.object_type:
                parts.append(ace.object_type.bytes_le)
            if ace.inherited_object_type:
                parts.append(ace.inherited_object_type.bytes_le)
        parts.append(sid_to_bytes(ace.sid))
        parts.append(ace.application_data)
        body = b"".join(parts)
    size = 4 + len(body)
    if size % 4:
        body += b"\0" * (4 - size % 4)
        size = 4 + len(body)
    if size > 0xFFFF:
        raise SecurityError(f"ACE of {size} bytes exceeds 65535")
    return struct.pack("<BBH", ace.type, ace.flags, size) + body


def decode_ace(data: bytes, pos: int, end: int) -> tuple[Ace, int]:
    """Decode the ACE at ``data[pos:]`` (not beyond ``end``); returns it and the next offset."""
    if pos + 4 > end:
        raise SecurityError("ACE header runs past the end of the ACL", pos)
    atype, aflags, size = struct.unpack_from("<BBH", data, pos)
    if size < 4 or pos + size > end:
        raise SecurityError(f"ACE size {size} runs past the end of the ACL", pos)
    if size % 4:
        raise SecurityError(f"ACE size {size} is not a multiple of 4", pos)
    stop = pos + size
    info = ACE_TYPES.get(atype)
    if info is None or info.opaque:
        return Ace(atype, aflags, opaque=bytes(data[pos + 4 : stop])), stop
    p = pos + 4
    if p + 4 > stop:
        raise SecurityError("ACE too short for its access mask", p)
    (mask,) = struct.unpack_from("<I", data, p)
    p += 4
    otype = itype = None
    if info.object:
        if p + 4 > stop:
            raise SecurityError("object ACE too short for its flags", p)
        (oflags,) = struct.unpack_from("<I", data, p)
        p += 4
        if oflags & _OBJECT_TYPE_PRESENT:
            if p + 16 > stop:
                raise SecurityError("object ACE too short for its ObjectType", p)
            otype = uuid.UUID(bytes_le=bytes(data[p : p + 16]))
            p += 16
        if oflags & _INHERITED_OBJECT_TYPE_PRESENT:
            if p + 16 > stop:
                raise SecurityError("object ACE too short for its InheritedObjectType", p)
            itype = uuid.UUID(bytes_le=bytes(data[p : p + 16]))
            p += 16
    if p + 8 > stop:
        raise SecurityError("ACE too short for its SID", p)
    count = data[p + 1]
    sid_end = p + 8 + 4 * count
    if sid_end > stop:
        raise SecurityError("ACE SID runs past the end of the ACE", p)
    try:
        sid = sid_from_bytes(data[p:sid_end])
    except SidError as exc:
        raise SecurityError(f"bad ACE SID: {exc}", p) from exc
    app = bytes(data[sid_end:stop])
    return Ace(atype, aflags, mask, sid, otype, itype, app), stop
