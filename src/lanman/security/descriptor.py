"""Self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6): control flags, model and codec."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lanman.directory.sid import SidError, sid_from_bytes, sid_to_bytes
from lanman.security.acl import Acl, decode_acl, encode_acl
from lanman.security.errors import SecurityError

__all__ = [
    "CONTROL_FLAGS",
    "SE_DACL_AUTO_INHERITED",
    "SE_DACL_PRESENT",
    "SE_DACL_PROTECTED",
    "SE_SACL_PRESENT",
    "SE_SELF_RELATIVE",
    "SecurityDescriptor",
    "decode_sd",
    "encode_sd",
]

SE_OWNER_DEFAULTED = 0x0001
SE_GROUP_DEFAULTED = 0x0002
SE_DACL_PRESENT = 0x0004
SE_DACL_DEFAULTED = 0x0008
SE_SACL_PRESENT = 0x0010
SE_SACL_DEFAULTED = 0x0020
SE_DACL_TRUSTED = 0x0040
SE_SERVER_SECURITY = 0x0080
SE_DACL_AUTO_INHERIT_REQ = 0x0100
SE_SACL_AUTO_INHERIT_REQ = 0x0200
SE_DACL_AUTO_INHERITED = 0x0400
SE_SACL_AUTO_INHERITED = 0x0800
SE_DACL_PROTECTED = 0x1000
SE_SACL_PROTECTED = 0x2000
SE_RM_CONTROL_VALID = 0x4000
SE_SELF_RELATIVE = 0x8000

#: Control bits that SDDL spells, per ACL (MS-DTYP 2.5.1.1 acl-flags), in Windows' order.
CONTROL_FLAGS: tuple[tuple[str, int, int, str], ...] = (
    # SDDL, DACL bit, SACL bit, words
    ("P", SE_DACL_PROTECTED, SE_SACL_PROTECTED, "protected (does not inherit)"),
    ("AR", SE_DACL_AUTO_INHERIT_REQ, SE_SACL_AUTO_INHERIT_REQ, "auto-inherit requested"),
    ("AI", SE_DACL_AUTO_INHERITED, SE_SACL_AUTO_INHERITED, "auto-inherited"),
)


@dataclass(slots=True)
class SecurityDescriptor:
    """A security descriptor. ``dacl``/``sacl`` ``None`` with the PRESENT bit set in
    ``control`` is a NULL ACL; without the bit, the ACL is absent."""

    owner: str | None = None
    group: str | None = None
    dacl: Acl | None = None
    sacl: Acl | None = None
    control: int = SE_SELF_RELATIVE
    sbz1: int = 0

    @property
    def dacl_present(self) -> bool:
        return bool(self.control & SE_DACL_PRESENT) or self.dacl is not None

    @property
    def sacl_present(self) -> bool:
        return bool(self.control & SE_SACL_PRESENT) or self.sacl is not None


def encode_sd(sd: SecurityDescriptor) -> bytes:
    """Self-relative form in Windows' layout: header, SACL, DACL, owner, group."""
    control = sd.control | SE_SELF_RELATIVE
    if sd.dacl is not None:
        control |= SE_DACL_PRESENT
    if sd.sacl is not None:
        control |= SE_SACL_PRESENT
    parts, pos = [], 20
    offsets = {"owner": 0, "group": 0, "sacl": 0, "dacl": 0}
    for key, blob in (
        ("sacl", encode_acl(sd.sacl) if sd.sacl is not None else None),
        ("dacl", encode_acl(sd.dacl) if sd.dacl is not None else None),
        ("owner", sid_to_bytes(sd.owner) if sd.owner is not None else None),
        ("group", sid_to_bytes(sd.group) if sd.group is not None else None),
    ):
        if blob is not None:
            offsets[key] = pos
            parts.append(blob)
            pos += len(blob)
    head = struct.pack(
        "<BBHIIII",
        1,
        sd.sbz1,
        control,
        offsets["owner"],
        offsets["group"],
        offsets["sacl"],
        offsets["dacl"],
    )
    return head + b"".join(parts)


def _sid_at(data: bytes, off: int, what: str) -> str:
    if off + 8 > len(data):
        raise SecurityError(f"{what} SID offset {off} runs past the end", off)
    need = 8 + 4 * data[off + 1]
    try:
        return sid_from_bytes(data[off : off + need])
    except SidError as exc:
        raise SecurityError(f"bad {what} SID: {exc}", off) from exc


def decode_sd(data: bytes | bytearray | memoryview) -> SecurityDescriptor:
    """Parse a self-relative security descriptor; every offset is bounded by the buffer."""
    data = bytes(data)
    if len(data) < 20:
        raise SecurityError(f"a security descriptor is at least 20 bytes, got {len(data)}", 0)
    rev, sbz1, control, o_off, g_off, s_off, d_off = struct.unpack_from("<BBHIIII", data, 0)
    if rev != 1:
        raise SecurityError(f"security descriptor revision {rev} (only 1 exists)", 0)
    if not control & SE_SELF_RELATIVE:
        raise SecurityError("security descriptor is not self-relative", 2)
    for off, what in ((o_off, "owner"), (g_off, "group"), (s_off, "SACL"), (d_off, "DACL")):
        if off and (off < 20 or off >= len(data)):
            raise SecurityError(f"{what} offset {off} outside the descriptor", 4)
    owner = _sid_at(data, o_off, "owner") if o_off else None
    group = _sid_at(data, g_off, "group") if g_off else None
    sacl = decode_acl(data, s_off) if s_off and control & SE_SACL_PRESENT else None
    dacl = decode_acl(data, d_off) if d_off and control & SE_DACL_PRESENT else None
    return SecurityDescriptor(owner, group, dacl, sacl, control, sbz1)
