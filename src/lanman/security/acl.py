"""ACLs (MS-DTYP 2.4.5): header, revision choice and the binary codec."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from lanman.security.ace import ACE_TYPES, Ace, decode_ace, encode_ace
from lanman.security.errors import SecurityError

__all__ = ["ACL_REVISION", "ACL_REVISION_DS", "Acl", "decode_acl", "encode_acl", "revision_for"]

ACL_REVISION = 2
ACL_REVISION_DS = 4
MAX_ACES = 0xFFFF


@dataclass(slots=True)
class Acl:
    """An ACL. ``revision`` ``None`` means "as Windows chooses" (see :func:`revision_for`)."""

    aces: list[Ace] = field(default_factory=list)
    revision: int | None = None


def revision_for(aces: list[Ace]) -> int:
    """ACL_REVISION_DS (4) when an object ACE is present, else ACL_REVISION (2)."""
    for ace in aces:
        info = ACE_TYPES.get(ace.type)
        if info is not None and info.object:
            return ACL_REVISION_DS
    return ACL_REVISION


def encode_acl(acl: Acl) -> bytes:
    """The ACL in binary form."""
    if len(acl.aces) > MAX_ACES:
        raise SecurityError(f"{len(acl.aces)} ACEs exceed {MAX_ACES}")
    body = b"".join(encode_ace(a) for a in acl.aces)
    size = 8 + len(body)
    if size > 0xFFFF:
        raise SecurityError(f"ACL of {size} bytes exceeds 65535")
    rev = acl.revision if acl.revision is not None else revision_for(acl.aces)
    return struct.pack("<BBHHH", rev, 0, size, len(acl.aces), 0) + body


def decode_acl(data: bytes, pos: int = 0) -> Acl:
    """Decode the ACL at ``data[pos:]``; its AclSize bounds every ACE."""
    if pos + 8 > len(data):
        raise SecurityError("ACL header runs past the end", pos)
    rev, _sbz1, size, count, _sbz2 = struct.unpack_from("<BBHHH", data, pos)
    if rev not in (ACL_REVISION, 3, ACL_REVISION_DS):
        raise SecurityError(f"ACL revision {rev} (2, 3 or 4 expected)", pos)
    if size < 8 or pos + size > len(data):
        raise SecurityError(f"ACL size {size} runs past the end", pos)
    end, p, aces = pos + size, pos + 8, []
    for _ in range(count):
        ace, p = decode_ace(data, p, end)
        aces.append(ace)
    return Acl(aces, rev)
