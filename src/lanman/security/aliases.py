"""SDDL SID aliases (MS-DTYP 2.5.1.1 sid-token): two-letter names for well-known SIDs.

One table: alias -> SID, where a SID ending in ``-<rid>`` with the domain marker ``D`` is
relative to the domain SID given to the parser (``DA`` = ``<domain>-512``).
"""

from __future__ import annotations

from functools import lru_cache

from lanman.directory.sid import SidError, validate_sid

__all__ = ["ALIASES", "alias_of", "resolve_alias", "sid_name", "windows_sid_string"]

#: alias -> (absolute SID string, or ("D", rid) for a domain-relative one; what it is).
ALIASES: dict[str, tuple[str | tuple[str, int], str]] = {
    "AA": ("S-1-5-32-579", "access control assistance operators"),
    "AC": ("S-1-15-2-1", "all application packages"),
    "AN": ("S-1-5-7", "anonymous logon"),
    "AO": ("S-1-5-32-548", "account operators"),
    "AP": (("D", 525), "protected users"),
    "AS": ("S-1-18-1", "authentication authority asserted identity"),
    "AU": ("S-1-5-11", "authenticated users"),
    "BA": ("S-1-5-32-544", "builtin administrators"),
    "BG": ("S-1-5-32-546", "builtin guests"),
    "BO": ("S-1-5-32-551", "backup operators"),
    "BU": ("S-1-5-32-545", "builtin users"),
    "CA": (("D", 517), "cert publishers"),
    "CD": ("S-1-5-32-574", "certificate service DCOM access"),
    "CG": ("S-1-3-1", "creator group"),
    "CN": (("D", 522), "cloneable domain controllers"),
    "CO": ("S-1-3-0", "creator owner"),
    "CY": ("S-1-5-32-569", "cryptographic operators"),
    "DA": (("D", 512), "domain admins"),
    "DC": (("D", 515), "domain computers"),
    "DD": (("D", 516), "domain controllers"),
    "DG": (("D", 514), "domain guests"),
    "DU": (("D", 513), "domain users"),
    "EA": (("D", 519), "enterprise admins"),
    "ED": ("S-1-5-9", "enterprise domain controllers"),
    "EK": (("D", 527), "enterprise key admins"),
    "ER": ("S-1-5-32-573", "event log readers"),
    "ES": ("S-1-5-32-576", "RDS endpoint servers"),
    "HA": ("S-1-5-32-578", "Hyper-V administrators"),
    "HI": ("S-1-16-12288", "high integrity level"),
    "IS": ("S-1-5-32-568", "IIS_IUSRS"),
    "IU": ("S-1-5-4", "interactive"),
    "KA": (("D", 526), "key admins"),
    "LA": (("D", 500), "administrator account"),
    "LG": (("D", 501), "guest account"),
    "LS": ("S-1-5-19", "local service"),
    "LU": ("S-1-5-32-559", "performance log users"),
    "LW": ("S-1-16-4096", "low integrity level"),
    "ME": ("S-1-16-8192", "medium integrity level"),
    "MP": ("S-1-16-8448", "medium-plus integrity level"),
    "MS": ("S-1-5-32-577", "RDS management servers"),
    "MU": ("S-1-5-32-558", "performance monitor users"),
    "NO": ("S-1-5-32-556", "network configuration operators"),
    "NS": ("S-1-5-20", "network service"),
    "NU": ("S-1-5-2", "network"),
    "OW": ("S-1-3-4", "owner rights"),
    "PA": (("D", 520), "group policy creator owners"),
    "PO": ("S-1-5-32-550", "print operators"),
    "PS": ("S-1-5-10", "principal self"),
    "PU": ("S-1-5-32-547", "power users"),
    "RA": ("S-1-5-32-575", "RDS remote access servers"),
    "RC": ("S-1-5-12", "restricted code"),
    "RD": ("S-1-5-32-555", "remote desktop users"),
    "RE": ("S-1-5-32-552", "replicator"),
    "RM": ("S-1-5-32-580", "remote management users"),
    "RO": (("D", 498), "enterprise read-only domain controllers"),
    "RS": (("D", 553), "RAS and IAS servers"),
    "RU": ("S-1-5-32-554", "pre-Windows 2000 compatible access"),
    "SA": (("D", 518), "schema admins"),
    "SI": ("S-1-16-16384", "system integrity level"),
    "SO": ("S-1-5-32-549", "server operators"),
    "SS": ("S-1-18-2", "service asserted identity"),
    "SU": ("S-1-5-6", "service"),
    "SY": ("S-1-5-18", "local system"),
    "UD": ("S-1-5-84-0-0-0-0-0", "user-mode drivers"),
    "WD": ("S-1-1-0", "everyone"),
    "WR": ("S-1-5-33", "write restricted code"),
}

_ABSOLUTE = {sid: alias for alias, (sid, _) in ALIASES.items() if isinstance(sid, str)}
_RELATIVE = {sid[1]: alias for alias, (sid, _) in ALIASES.items() if isinstance(sid, tuple)}


def resolve_alias(alias: str, domain_sid: str | None) -> str | None:
    """The SID for the (case-insensitive) ``alias``; ``None`` if it is not an alias.

    Raises :class:`KeyError` (with the alias) for a domain-relative alias without a domain SID.
    """
    entry = ALIASES.get(alias.upper())
    if entry is None:
        return None
    entry = entry[0]
    if isinstance(entry, str):
        return entry
    if domain_sid is None:
        raise KeyError(alias.upper())
    return f"{domain_sid}-{entry[1]}"


@lru_cache(maxsize=4096)
def alias_of(sid: str, domain_sid: str | None = None) -> str:
    """The SDDL form of ``sid``: its alias where one exists (domain aliases only for
    ``domain_sid``), else the SID string itself."""
    alias = _ABSOLUTE.get(sid)
    if alias is not None:
        return alias
    if domain_sid is not None and sid.startswith(domain_sid + "-"):
        rest = sid[len(domain_sid) + 1 :]
        if rest.isdigit():
            alias = _RELATIVE.get(int(rest))
            if alias is not None:
                return alias
    return windows_sid_string(sid)


def windows_sid_string(sid: str) -> str:
    """``sid`` as Windows writes it: an authority of 2**32 or more as ``0x`` and upper-case
    hex digits without leading zeros (``S-1-0x12A05F200-30-40``)."""
    if sid[4:6] not in ("0x", "0X"):
        return sid
    head, _, rest = sid[4:].partition("-")
    return f"S-1-0x{int(head, 16):X}" + (f"-{rest}" if rest else "")


def sid_name(sid: str, domain_sid: str | None = None) -> str:
    """``Everyone (WD, S-1-1-0)``-style label of ``sid`` for explanations."""
    alias = alias_of(sid, domain_sid)
    if alias == sid:
        return sid
    return f"{ALIASES[alias][1]} ({alias}, {sid})"


def _check() -> None:  # the table itself must hold valid SIDs
    for sid in _ABSOLUTE:
        try:
            validate_sid(sid)
        except SidError as exc:  # pragma: no cover - table error
            raise AssertionError(sid) from exc


_check()
