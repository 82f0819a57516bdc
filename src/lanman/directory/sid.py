"""Security identifiers (MS-DTYP 2.4.2): string form <-> binary form, domain SIDs.

String form (MS-DTYP 2.4.2.1): ``S-1-<IdentifierAuthority>-<SubAuthority>...``; the authority
is decimal when it is below 2**32, else ``0x`` and twelve hex digits. Binary form (2.4.2.2):
Revision (1 byte, always 1), SubAuthorityCount (1 byte, at most 15), IdentifierAuthority
(6 bytes, big-endian), then SubAuthorityCount 32-bit little-endian sub-authorities.
"""

from __future__ import annotations

import re
import secrets
import struct

__all__ = [
    "MAX_SUB_AUTHORITIES",
    "SidError",
    "domain_sid_of",
    "new_domain_sid",
    "rid_of",
    "sid_from_bytes",
    "sid_to_bytes",
    "validate_sid",
]

MAX_SUB_AUTHORITIES = 15
_SID_RE = re.compile(r"^S-1-(0[xX][0-9A-Fa-f]{12}|\d+)((?:-\d+){0,15})$", re.IGNORECASE)


class SidError(ValueError):
    """A SID string or buffer that MS-DTYP 2.4.2 does not allow."""


def _parse(sid: str) -> tuple[int, list[int]]:
    if not isinstance(sid, str):
        raise SidError("a SID must be a string")
    m = _SID_RE.match(sid.strip())
    if not m:
        raise SidError(f"{sid!r} is not a SID (S-1-<authority>-<sub-authority>...)")
    auth_s = m.group(1)
    authority = int(auth_s, 16) if auth_s.lower().startswith("0x") else int(auth_s)
    if authority >= 1 << 48:
        raise SidError(f"identifier authority of {sid!r} does not fit in 48 bits")
    subs = [int(x) for x in m.group(2).split("-")[1:]]
    for s in subs:
        if s >= 1 << 32:
            raise SidError(f"sub-authority {s} of {sid!r} does not fit in 32 bits")
    return authority, subs


def _format(authority: int, subs: list[int]) -> str:
    auth = str(authority) if authority < 1 << 32 else f"0x{authority:012X}"
    return "S-1-" + auth + "".join(f"-{s}" for s in subs)


def validate_sid(sid: str) -> str:
    """Return the canonical string form of ``sid`` (raises :class:`SidError`)."""
    return _format(*_parse(sid))


def sid_to_bytes(sid: str) -> bytes:
    """MS-DTYP 2.4.2.2 binary form of the string SID ``sid``."""
    authority, subs = _parse(sid)
    return (
        struct.pack("<BB", 1, len(subs))
        + authority.to_bytes(6, "big")
        + struct.pack(f"<{len(subs)}I", *subs)
    )


def sid_from_bytes(data: bytes | memoryview, *, exact: bool = True) -> str:
    """String form of the binary SID at the start of ``data``.

    With ``exact`` (the default) trailing bytes are an error; otherwise they are ignored and the
    SID's own length (8 + 4 * SubAuthorityCount) decides.
    """
    data = bytes(data)
    if len(data) < 8:
        raise SidError(f"a binary SID is at least 8 bytes, got {len(data)}")
    revision, count = data[0], data[1]
    if revision != 1:
        raise SidError(f"SID revision {revision} (only 1 exists)")
    if count > MAX_SUB_AUTHORITIES:
        raise SidError(f"SubAuthorityCount {count} exceeds {MAX_SUB_AUTHORITIES}")
    need = 8 + 4 * count
    if len(data) < need or (exact and len(data) != need):
        raise SidError(f"binary SID with {count} sub-authorities is {need} bytes, got {len(data)}")
    authority = int.from_bytes(data[2:8], "big")
    subs = list(struct.unpack_from(f"<{count}I", data, 8))
    return _format(authority, subs)


def new_domain_sid() -> str:
    """A fresh domain SID ``S-1-5-21-x-y-z`` with three random 32-bit sub-authorities
    (what Windows setup and dcpromo generate; none of them zero)."""
    return "S-1-5-21-" + "-".join(str(secrets.randbelow(0xFFFFFFFF) + 1) for _ in range(3))


def rid_of(sid: str) -> int:
    """The last sub-authority (the RID) of ``sid``."""
    _, subs = _parse(sid)
    if not subs:
        raise SidError(f"{sid!r} has no sub-authority")
    return subs[-1]


def domain_sid_of(sid: str) -> str:
    """``sid`` without its RID."""
    authority, subs = _parse(sid)
    if not subs:
        raise SidError(f"{sid!r} has no sub-authority")
    return _format(authority, subs[:-1])
