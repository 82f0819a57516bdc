"""Claim attributes: CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1 (MS-DTYP 2.4.10.1), the payload of
resource attribute ACEs (``RA``), and the same model for the claims of a security token.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lanman.directory.sid import SidError, sid_from_bytes, sid_to_bytes
from lanman.security.aliases import alias_of
from lanman.security.conditional import escape_attr_name
from lanman.security.errors import SecurityError

__all__ = [
    "CLAIM_TYPES",
    "ClaimAttribute",
    "ClaimType",
    "claim_to_sddl",
    "decode_claim",
    "encode_claim",
]


@dataclass(frozen=True, slots=True)
class ClaimType:
    """One claim value type: code (MS-DTYP 2.4.10.1 ValueType), SDDL letters, Python kind."""

    code: int
    sddl: str
    kind: str  # "int" | "uint" | "str" | "sid" | "bool" | "bytes"


#: Claim value types (MS-DTYP 2.4.10.1) with their RA-ACE SDDL names (MS-DTYP 2.5.1.1).
CLAIM_TYPES: dict[int, ClaimType] = {
    t.code: t
    for t in (
        ClaimType(0x0001, "TI", "int"),
        ClaimType(0x0002, "TU", "uint"),
        ClaimType(0x0003, "TS", "str"),
        ClaimType(0x0005, "TD", "sid"),
        ClaimType(0x0006, "TB", "bool"),
        ClaimType(0x0010, "TX", "bytes"),
    )
}
CLAIM_TYPE_BY_SDDL = {t.sddl: t for t in CLAIM_TYPES.values()}

INT64, UINT64, STRING, SID, BOOLEAN, OCTET_STRING = 0x1, 0x2, 0x3, 0x5, 0x6, 0x10


@dataclass(frozen=True, slots=True)
class ClaimAttribute:
    """A named, typed, multi-valued claim (values are int, str, SID string or bytes)."""

    name: str
    value_type: int
    values: tuple
    flags: int = 0


def _u16z(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass") + b"\0\0"


def encode_claim(claim: ClaimAttribute) -> bytes:
    """CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1 in the layout Windows writes: header, value
    offsets, name, then the values in order."""
    kind = CLAIM_TYPES[claim.value_type].kind
    if "\0" in claim.name or (kind == "str" and any("\0" in v for v in claim.values)):
        raise SecurityError("a resource attribute's name and strings cannot contain NUL")
    n = len(claim.values)
    name = _u16z(claim.name)
    pos = 16 + 4 * n + len(name)
    offsets, blobs = [], []
    for v in claim.values:
        if kind in ("int", "uint", "bool"):
            blob = struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
        elif kind == "str":
            blob = _u16z(v)
        else:
            raw = sid_to_bytes(v) if kind == "sid" else bytes(v)
            blob = struct.pack("<I", len(raw)) + raw
        offsets.append(pos)
        blobs.append(blob)
        pos += len(blob)
    head = struct.pack("<IHHII", 16 + 4 * n, claim.value_type, 0, claim.flags, n)
    return head + struct.pack(f"<{n}I", *offsets) + name + b"".join(blobs)


def _read_z(data: bytes, off: int) -> str:
    end = off
    while True:
        if end + 2 > len(data):
            raise SecurityError("claim string without terminator", off)
        if data[end] == 0 and data[end + 1] == 0:
            break
        end += 2
    return data[off:end].decode("utf-16-le", "surrogatepass")


def decode_claim(data: bytes) -> ClaimAttribute:
    """Parse a CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1 (trailing ACE padding is ignored)."""
    data = bytes(data)
    if len(data) < 16:
        raise SecurityError("claim attribute shorter than its 16-byte header", 0)
    name_off, vtype, _reserved, flags, count = struct.unpack_from("<IHHII", data, 0)
    ctype = CLAIM_TYPES.get(vtype)
    if ctype is None:
        raise SecurityError(f"claim value type 0x{vtype:x} is not allowed here", 4)
    if count > (len(data) - 16) // 4:
        raise SecurityError(f"claim value count {count} exceeds the data", 12)
    if not 16 <= name_off < len(data):
        raise SecurityError("claim name offset outside the data", 0)
    name = _read_z(data, name_off)
    offsets = struct.unpack_from(f"<{count}I", data, 16)
    values = []
    for off in offsets:
        if not 16 <= off < len(data):
            raise SecurityError("claim value offset outside the data", off)
        if ctype.kind in ("int", "uint", "bool"):
            if off + 8 > len(data):
                raise SecurityError("claim integer runs past the end", off)
            (v,) = struct.unpack_from("<q" if ctype.kind == "int" else "<Q", data, off)
            values.append(v)
        elif ctype.kind == "str":
            values.append(_read_z(data, off))
        else:
            if off + 4 > len(data):
                raise SecurityError("claim value length runs past the end", off)
            (length,) = struct.unpack_from("<I", data, off)
            raw = data[off + 4 : off + 4 + length]
            if len(raw) != length:
                raise SecurityError("claim value runs past the end", off)
            if ctype.kind == "sid":
                try:
                    values.append(sid_from_bytes(raw))
                except SidError as exc:
                    raise SecurityError(f"bad SID claim value: {exc}", off) from exc
            else:
                values.append(raw)
    return ClaimAttribute(name, vtype, tuple(values), flags)


def claim_to_sddl(claim: ClaimAttribute, domain_sid: str | None = None) -> str:
    """The attribute-data of an RA ACE: ``("name",TS,0x0,"a","b")`` (MS-DTYP 2.5.1.1)."""
    ctype = CLAIM_TYPES[claim.value_type]
    parts = []
    for v in claim.values:
        if ctype.kind == "str":
            if '"' in v:
                raise SecurityError("a claim string with a double quote cannot be written as SDDL")
            parts.append(f'"{v}"')
        elif ctype.kind == "sid":
            parts.append(alias_of(v, domain_sid))
        elif ctype.kind == "bytes":
            parts.append("#" + v.hex())
        else:
            parts.append(str(v))
    values = "".join("," + p for p in parts)
    return f'("{escape_attr_name(claim.name)}",{ctype.sddl},0x{claim.flags:x}{values})'
