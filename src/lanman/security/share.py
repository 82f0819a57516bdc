"""Share permissions: the share-level security descriptor of New-SmbShare / Grant-SmbShareAccess.

A share's permissions are a self-relative security descriptor whose DACL holds one allow ACE
per account with Full (FILE_ALL_ACCESS), Change or Read rights and deny ACEs for blocked
accounts (Block-SmbShareAccess: deny Full), deny ACEs first (canonical order). The access a
session gets on a share is the access check of that descriptor for MAXIMUM_ALLOWED; it caps
every open of the tree connect (MS-SMB2 3.3.5.7 Share.ShareSecurity / TreeConnect.
MaximalAccess, 3.3.5.9). Pure: descriptors in, descriptors and rights out.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanman.security.access import access_check
from lanman.security.ace import Ace
from lanman.security.acl import Acl
from lanman.security.descriptor import (
    SE_DACL_PRESENT,
    SE_SELF_RELATIVE,
    SecurityDescriptor,
    decode_sd,
    encode_sd,
)
from lanman.security.rights import MAXIMUM_ALLOWED
from lanman.security.token import SecurityToken

__all__ = [
    "ACCESS_RIGHTS",
    "CHANGE",
    "DEFAULT_NEW_SHARE",
    "EVERYONE",
    "FULL",
    "LEGACY_SHARE",
    "READ",
    "ShareAccessEntry",
    "block",
    "build_share_sd",
    "entries",
    "grant",
    "revoke",
    "right_name",
    "share_access",
    "unblock",
]

FULL = 0x001F01FF  # FILE_ALL_ACCESS
CHANGE = 0x001301BF  # Read + write + delete (Windows "Change")
READ = 0x001200A9  # FILE_GENERIC_READ | FILE_EXECUTE

#: -AccessRight of Grant-SmbShareAccess -> mask
ACCESS_RIGHTS: dict[str, int] = {"full": FULL, "change": CHANGE, "read": READ}

EVERYONE = "S-1-1-0"
SYSTEM = "S-1-5-18"
_ALLOW, _DENY = 0x00, 0x01


def right_name(mask: int) -> str:
    """Full / Change / Read as Get-SmbShareAccess names them; Custom (0x...) otherwise."""
    for name, value in (("Full", FULL), ("Change", CHANGE), ("Read", READ)):
        if mask == value:
            return name
    return f"Custom (0x{mask:08X})"


@dataclass(frozen=True, slots=True)
class ShareAccessEntry:
    """One ACE as Get-SmbShareAccess shows it: AccessControlType Allow|Deny and AccessRight."""

    sid: str
    control: str  # "Allow" | "Deny"
    mask: int

    @property
    def right(self) -> str:
        return right_name(self.mask)


def build_share_sd(
    *,
    full: list[str] = (),  # type: ignore[assignment]
    change: list[str] = (),  # type: ignore[assignment]
    read: list[str] = (),  # type: ignore[assignment]
    no_access: list[str] = (),  # type: ignore[assignment]
) -> bytes:
    """New-SmbShare's descriptor for these SIDs. None given: Everyone Read (New-SmbShare's
    default). An account in several lists keeps the strongest allow right."""
    allow: dict[str, int] = {}
    for sids, mask in ((read, READ), (change, CHANGE), (full, FULL)):
        for sid in sids:
            allow[sid] = mask
    deny = list(dict.fromkeys(no_access))
    if not allow and not deny:
        allow = {EVERYONE: READ}
    return _encode([(s, _DENY, FULL) for s in deny] + [(s, _ALLOW, m) for s, m in allow.items()])


def _encode(aces: list[tuple[str, int, int]]) -> bytes:
    sd = SecurityDescriptor(
        owner=SYSTEM,
        group=SYSTEM,
        dacl=Acl([Ace(t, 0, m, s) for s, t, m in aces]),
        control=SE_SELF_RELATIVE | SE_DACL_PRESENT,
    )
    return encode_sd(sd)


#: Everyone Full: what shares made before share permissions existed keep (schema 7).
LEGACY_SHARE = _encode([(EVERYONE, _ALLOW, FULL)])
#: Everyone Read: New-SmbShare without -FullAccess/-ChangeAccess/-ReadAccess/-NoAccess.
DEFAULT_NEW_SHARE = build_share_sd()


def _aces(sd: bytes) -> list[tuple[str, int, int]]:
    d = decode_sd(sd)
    if d.dacl is None:
        return []
    return [(a.sid, a.type, a.mask) for a in d.dacl.aces if a.type in (_ALLOW, _DENY)]


def entries(sd: bytes | None) -> list[ShareAccessEntry]:
    """The ACEs of ``sd`` (None: the legacy Everyone Full)."""
    return [
        ShareAccessEntry(s, "Deny" if t == _DENY else "Allow", m)
        for s, t, m in _aces(sd if sd is not None else LEGACY_SHARE)
    ]


def _canonical(aces: list[tuple[str, int, int]]) -> bytes:
    return _encode([a for a in aces if a[1] == _DENY] + [a for a in aces if a[1] == _ALLOW])


def grant(sd: bytes | None, sid: str, mask: int) -> bytes:
    """Grant-SmbShareAccess: the account's allow ACE becomes ``mask`` (its deny ACEs stay)."""
    aces = [a for a in _aces(sd or LEGACY_SHARE) if not (a[0] == sid and a[1] == _ALLOW)]
    return _canonical([*aces, (sid, _ALLOW, mask)])


def revoke(sd: bytes | None, sid: str) -> tuple[bytes, bool]:
    """Revoke-SmbShareAccess: drop the account's allow ACEs; (descriptor, whether any was)."""
    before = _aces(sd or LEGACY_SHARE)
    after = [a for a in before if not (a[0] == sid and a[1] == _ALLOW)]
    return _canonical(after), len(after) != len(before)


def block(sd: bytes | None, sid: str) -> bytes:
    """Block-SmbShareAccess: a deny Full ACE for the account (one, before every allow)."""
    aces = [a for a in _aces(sd or LEGACY_SHARE) if not (a[0] == sid and a[1] == _DENY)]
    return _canonical([(sid, _DENY, FULL), *aces])


def unblock(sd: bytes | None, sid: str) -> tuple[bytes, bool]:
    """Unblock-SmbShareAccess: drop the account's deny ACEs."""
    before = _aces(sd or LEGACY_SHARE)
    after = [a for a in before if not (a[0] == sid and a[1] == _DENY)]
    return _canonical(after), len(after) != len(before)


def share_access(sd: bytes | None, token: SecurityToken) -> int:
    """The rights ``token`` holds on a share with descriptor ``sd`` (None: Everyone Full):
    0 means the tree connect is refused (STATUS_ACCESS_DENIED)."""
    if sd is None:
        return FULL
    return access_check(sd, token, MAXIMUM_ALLOWED).granted & FULL
