"""Kerberos delegation settings of an account (MS-SFU 3.2.1, MS-ADA2/MS-ADA3):

* msDS-AllowedToDelegateTo (classic constrained delegation): table ``delegation_targets``;
* msDS-AllowedToActOnBehalfOfOtherIdentity (resource-based constrained delegation): column
  ``users.allowed_to_act``, a self-relative security descriptor as
  ``Set-ADComputer -PrincipalsAllowedToDelegateToAccount`` writes it:
  ``O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;<SID>)...`` (the KDC checks CONTROL_ACCESS);
* userAccountControl TRUSTED_FOR_DELEGATION (unconstrained), TRUSTED_TO_AUTH_FOR_DELEGATION
  (protocol transition) and NOT_DELEGATED ("account is sensitive and cannot be delegated").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from lanman.directory.errors import DirectoryError
from lanman.directory.model import UAC

__all__ = [
    "RBCD_RIGHTS",
    "Delegation",
    "rbcd_descriptor",
    "rbcd_sids",
]

#: The rights Active Directory stores for each principal (GA mapped for DS objects).
RBCD_RIGHTS = "CCDCLCSWRPWPDTLOCRSDRCWDWO"


def rbcd_descriptor(sids: list[str]) -> bytes | None:
    """The msDS-AllowedToActOnBehalfOfOtherIdentity descriptor for ``sids`` (None: no SIDs)."""
    if not sids:
        return None
    from lanman.security.descriptor import encode_sd
    from lanman.security.sddl_parse import parse_sddl

    aces = "".join(f"(A;;{RBCD_RIGHTS};;;{s})" for s in dict.fromkeys(sids))
    return encode_sd(parse_sddl(f"O:BAD:{aces}"))


def rbcd_sids(blob: bytes | None) -> list[str]:
    """The SIDs the descriptor's allow ACEs name (what ``lanman ... delegation`` shows)."""
    if not blob:
        return []
    from lanman.security.descriptor import decode_sd
    from lanman.security.errors import SecurityError

    try:
        sd = decode_sd(bytes(blob))
    except SecurityError:
        return []
    if sd.dacl is None:
        return []
    return [a.sid for a in sd.dacl.aces if a.type == 0]  # ACCESS_ALLOWED_ACE_TYPE


@dataclass(frozen=True, slots=True)
class Delegation:
    """One account's delegation settings, as ``lanman user|computer delegation`` shows them."""

    account: str
    allowed_to: list[str]  # msDS-AllowedToDelegateTo
    protocol_transition: bool  # TRUSTED_TO_AUTH_FOR_DELEGATION
    unconstrained: bool  # TRUSTED_FOR_DELEGATION
    sensitive: bool  # NOT_DELEGATED
    protected_user: bool
    allowed_from: list[dict]  # RBCD: [{"sid": ..., "name": ... or None}]

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "allowed_to_delegate_to": self.allowed_to,
            "protocol_transition": self.protocol_transition,
            "unconstrained": self.unconstrained,
            "sensitive": self.sensitive,
            "protected_user": self.protected_user,
            "allowed_to_act": self.allowed_from,
        }


def set_uac_bit(c: sqlite3.Connection, rid: int, bit: UAC, on: bool | None) -> None:
    if on is None:
        return
    (uac,) = c.execute("SELECT uac FROM users WHERE rid = ?", (rid,)).fetchone()
    uac = (int(uac) | bit) if on else (int(uac) & ~bit)
    c.execute("UPDATE users SET uac = ? WHERE rid = ?", (int(uac), rid))


def add_targets(c: sqlite3.Connection, rid: int, spns: list[str]) -> None:
    from lanman.directory.directory import validate_spn

    for spn in spns:
        validate_spn(spn.partition("@")[0])
        c.execute("INSERT OR IGNORE INTO delegation_targets (rid, spn) VALUES (?, ?)", (rid, spn))


def remove_targets(c: sqlite3.Connection, rid: int, spns: list[str], account: str) -> None:
    for spn in spns:
        cur = c.execute("DELETE FROM delegation_targets WHERE rid = ? AND spn = ?", (rid, spn))
        if cur.rowcount == 0:
            raise DirectoryError(
                f"{account!r} may not delegate to {spn!r} anyway",
                f"`lanman user delegation {account}` shows its settings",
                "ERROR_DS_OBJ_NOT_FOUND",
            )
