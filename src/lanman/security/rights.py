"""Access masks (MS-DTYP 2.4.3) and their SDDL rights strings (MS-DTYP 2.5.1.1 rights)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACCESS_SYSTEM_SECURITY",
    "ADS_CONTROL_ACCESS",
    "COMPOUND_RIGHTS",
    "DS_GENERIC_MAPPING",
    "FILE_GENERIC_MAPPING",
    "GENERIC_ALL",
    "GENERIC_EXECUTE",
    "GENERIC_READ",
    "GENERIC_WRITE",
    "LABEL_RIGHTS",
    "MAXIMUM_ALLOWED",
    "RIGHTS",
    "GenericMapping",
    "map_generic",
    "rights_in_words",
]

DELETE = 0x00010000
READ_CONTROL = 0x00020000
WRITE_DAC = 0x00040000
WRITE_OWNER = 0x00080000
SYNCHRONIZE = 0x00100000
ACCESS_SYSTEM_SECURITY = 0x01000000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_ALL = 0x10000000
GENERIC_EXECUTE = 0x20000000
GENERIC_WRITE = 0x40000000
GENERIC_READ = 0x80000000
#: ACTRL_DS_CONTROL_ACCESS, the right an authentication policy grants (MS-KILE 3.3.5.6).
ADS_CONTROL_ACCESS = 0x00000100

#: Single-bit SDDL rights in the order Windows writes them (low bit first), with words.
RIGHTS: tuple[tuple[str, int, str], ...] = (
    ("CC", 0x00000001, "create child"),
    ("DC", 0x00000002, "delete child"),
    ("LC", 0x00000004, "list children"),
    ("SW", 0x00000008, "self write"),
    ("RP", 0x00000010, "read property"),
    ("WP", 0x00000020, "write property"),
    ("DT", 0x00000040, "delete tree"),
    ("LO", 0x00000080, "list object"),
    ("CR", 0x00000100, "control access"),
    ("SD", DELETE, "delete"),
    ("RC", READ_CONTROL, "read control"),
    ("WD", WRITE_DAC, "write DAC"),
    ("WO", WRITE_OWNER, "write owner"),
    ("GA", GENERIC_ALL, "generic all"),
    ("GX", GENERIC_EXECUTE, "generic execute"),
    ("GW", GENERIC_WRITE, "generic write"),
    ("GR", GENERIC_READ, "generic read"),
)

#: Multi-bit SDDL rights: written only when the mask is exactly one of them.
COMPOUND_RIGHTS: tuple[tuple[str, int, str], ...] = (
    ("FA", 0x001F01FF, "file all access"),
    ("FR", 0x00120089, "file read"),
    ("FW", 0x00120116, "file write"),
    ("FX", 0x001200A0, "file execute"),
    ("KA", 0x000F003F, "key all access"),
    ("KR", 0x00020019, "key read"),
    ("KW", 0x00020006, "key write"),
    ("KX", 0x00020019, "key execute"),
)

#: Mandatory label ACE rights (MS-DTYP 2.4.4.13): written instead of CC/DC/LC for ML ACEs.
LABEL_RIGHTS: tuple[tuple[str, int, str], ...] = (
    ("NW", 0x00000001, "no write up"),
    ("NR", 0x00000002, "no read up"),
    ("NX", 0x00000004, "no execute up"),
)


@dataclass(frozen=True, slots=True)
class GenericMapping:
    """GENERIC_MAPPING (MS-DTYP 2.5.3.1): what each generic right means for an object class."""

    read: int
    write: int
    execute: int
    all: int


#: Files and directories (MS-SMB2 / MS-FSCC): FILE_GENERIC_* rights.
FILE_GENERIC_MAPPING = GenericMapping(0x00120089, 0x00120116, 0x001200A0, 0x001F01FF)
#: Directory objects (MS-ADTS 5.1.3.2).
DS_GENERIC_MAPPING = GenericMapping(0x00020094, 0x00020028, 0x00020004, 0x000F01FF)


def map_generic(mask: int, mapping: GenericMapping) -> int:
    """``mask`` with its generic bits replaced by the object-specific rights (MS-DTYP 2.5.3.1)."""
    if not mask & 0xF0000000:
        return mask
    out = mask & 0x0FFFFFFF
    if mask & GENERIC_READ:
        out |= mapping.read
    if mask & GENERIC_WRITE:
        out |= mapping.write
    if mask & GENERIC_EXECUTE:
        out |= mapping.execute
    if mask & GENERIC_ALL:
        out |= mapping.all
    return out


def rights_in_words(mask: int, *, label: bool = False) -> str:
    """A short English rendering of ``mask`` for ``lanman sddl explain``."""
    if mask == 0:
        return "no rights"
    for code, value, words in COMPOUND_RIGHTS:
        if mask == value and not label:
            return f"{words} ({code})"
    table = LABEL_RIGHTS + RIGHTS[3:] if label else RIGHTS
    parts, rest = [], mask
    for code, value, words in table:
        if rest & value:
            parts.append(f"{words} ({code})")
            rest &= ~value
    if mask & MAXIMUM_ALLOWED:
        parts.append("maximum allowed")
        rest &= ~MAXIMUM_ALLOWED
    if mask & ACCESS_SYSTEM_SECURITY:
        parts.append("access system security")
        rest &= ~ACCESS_SYSTEM_SECURITY
    if rest:
        parts.append(f"other bits 0x{rest:x}")
    return ", ".join(parts)
