"""Account names <-> SIDs for share permissions and session tokens.

An account is a well-known principal (Everyone, Authenticated Users, BUILTIN\\Administrators,
...), a group or account of the provisioned domain, or a local user (machine SID + RID, the
machine SID kept in the store). ``logon_sids`` gives what a Windows server puts in the token of
a network logon (MS-DTYP 2.5.2; MS-APDS 3.1.5 for NTLM): user, primary and other groups,
Everyone, NETWORK, Authenticated Users, BUILTIN\\Users.
"""

from __future__ import annotations

from pathlib import Path

from lanman.directory.errors import DirectoryError
from lanman.directory.sid import SidError, validate_sid

EVERYONE = "S-1-1-0"
NETWORK = "S-1-5-2"
AUTHENTICATED_USERS = "S-1-5-11"
ANONYMOUS = "S-1-5-7"
BUILTIN_USERS = "S-1-5-32-545"
BUILTIN_GUESTS = "S-1-5-32-546"
BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
#: NTLM authentication (MS-DTYP 2.4.2.4 "NTLM Authentication"), in NTLM network logons' tokens
NTLM_AUTHENTICATION = "S-1-5-64-10"

#: Names Windows resolves without a directory (lower-case key -> (SID, display name)).
WELL_KNOWN: dict[str, tuple[str, str]] = {
    k.lower(): v
    for k, v in {
        "Everyone": (EVERYONE, "Everyone"),
        "Authenticated Users": (AUTHENTICATED_USERS, "NT AUTHORITY\\Authenticated Users"),
        "NT AUTHORITY\\Authenticated Users": (
            AUTHENTICATED_USERS,
            "NT AUTHORITY\\Authenticated Users",
        ),
        "NETWORK": (NETWORK, "NT AUTHORITY\\NETWORK"),
        "NT AUTHORITY\\NETWORK": (NETWORK, "NT AUTHORITY\\NETWORK"),
        "ANONYMOUS LOGON": (ANONYMOUS, "NT AUTHORITY\\ANONYMOUS LOGON"),
        "NT AUTHORITY\\ANONYMOUS LOGON": (ANONYMOUS, "NT AUTHORITY\\ANONYMOUS LOGON"),
        "SYSTEM": ("S-1-5-18", "NT AUTHORITY\\SYSTEM"),
        "NT AUTHORITY\\SYSTEM": ("S-1-5-18", "NT AUTHORITY\\SYSTEM"),
        "BUILTIN\\Administrators": (BUILTIN_ADMINISTRATORS, "BUILTIN\\Administrators"),
        "Administrators": (BUILTIN_ADMINISTRATORS, "BUILTIN\\Administrators"),
        "BUILTIN\\Users": (BUILTIN_USERS, "BUILTIN\\Users"),
        "Users": (BUILTIN_USERS, "BUILTIN\\Users"),
        "BUILTIN\\Guests": (BUILTIN_GUESTS, "BUILTIN\\Guests"),
        "Guests": (BUILTIN_GUESTS, "BUILTIN\\Guests"),
    }.items()
}
_BY_SID = {sid: label for sid, label in WELL_KNOWN.values()}

#: domain-relative RIDs of lanman's builtin groups that stand for BUILTIN\\ aliases
_BUILTIN_ALIAS_RIDS = {544: BUILTIN_ADMINISTRATORS, 545: BUILTIN_USERS, 546: BUILTIN_GUESTS}


def _directory(home_path):
    from lanman.directory import Directory

    if Directory.is_provisioned(home_path):
        return Directory.open(home_path)
    return None


def _strip_domain(name: str, domains: tuple[str, ...]) -> str:
    for sep in ("\\", "/"):
        if sep in name:
            dom, _, rest = name.partition(sep)
            if dom.upper() in domains:
                return rest
    if "@" in name:
        rest, _, realm = name.rpartition("@")
        if realm.upper() in domains or realm.split(".")[0].upper() in domains:
            return rest
    return name


def resolve_account(home_path: str | Path, store, name: str) -> tuple[str, str]:
    """``(sid, display name)`` of ``name`` (a SID string, a well-known name, DOMAIN\\name,
    name@realm or a bare account or group name). Raises DirectoryError when unknown."""
    text = name.strip()
    if text.upper().startswith("S-1-"):
        try:
            sid = validate_sid(text.upper())
        except SidError as e:
            raise DirectoryError(f"{text!r} is not a valid SID: {e}", "give S-1-...") from None
        return sid, account_name(home_path, store, sid)
    wk = WELL_KNOWN.get(text.lower())
    if wk is not None:
        return wk
    d = _directory(home_path)
    if d is not None:
        with d:
            bare = _strip_domain(text, (d.domain.upper(), d.realm.upper()))
            g = d.get_group(bare)
            if g is not None:
                return g.sid, f"{d.domain}\\{g.name}"
            p = d.get(bare)
            if p is not None:
                return p.sid, f"{d.domain}\\{p.name}"
            where = f"the domain {d.domain}"
    else:
        bare = text.split("\\", 1)[-1]
        u = store.get_user(bare)
        if u is not None:
            return f"{store.machine_sid()}-{u.rid}", u.name
        where = "the local accounts"
    raise DirectoryError(
        f"no account or group {name!r} in {where}",
        "give a user (`lanman user list`), a group, Everyone, Authenticated Users, "
        "BUILTIN\\Administrators or a SID",
        "ERROR_NONE_MAPPED",
    )


def account_name(home_path: str | Path, store, sid: str) -> str:
    """The name Get-SmbShareAccess shows for ``sid`` (the SID itself when unknown)."""
    label = _BY_SID.get(sid)
    if label is not None:
        return label
    d = _directory(home_path)
    prefix, _, rid = sid.rpartition("-")
    if d is not None:
        with d:
            if prefix == d.domain_sid and rid.isdigit():
                p = d.get_by_rid(int(rid))
                if p is not None:
                    return f"{d.domain}\\{p.name}"
                for g in d.list_groups():
                    if g.rid == int(rid):
                        return f"{d.domain}\\{g.name}"
        return sid
    if prefix == store.machine_sid() and rid.isdigit():
        for u in store.list_users():
            if u.rid == int(rid):
                return u.name
    return sid


def logon_sids(home_path: str | Path, store, user: str) -> list[str]:
    """The SIDs of a network logon of ``user`` (user SID first); [] for an unknown user."""
    d = _directory(home_path)
    sids: list[str] = []
    if d is not None:
        with d:
            p = d.get(user)
            if p is None:
                return []
            sids.append(p.sid)
            for g in d.groups_of(p.name):
                sids.append(g.sid)
                if g.rid in _BUILTIN_ALIAS_RIDS:
                    sids.append(_BUILTIN_ALIAS_RIDS[g.rid])
    else:
        u = store.get_user(user)
        if u is None:
            return []
        machine = store.machine_sid()
        sids += [f"{machine}-{u.rid}", f"{machine}-513"]  # the user, "None" (primary group)
    sids += [EVERYONE, NETWORK, AUTHENTICATED_USERS, BUILTIN_USERS]
    return list(dict.fromkeys(sids))


def network_logon_extras(*, guest: bool = False) -> list[str]:
    """The well-known SIDs every network logon's token holds besides its groups."""
    if guest:
        return [EVERYONE, NETWORK, BUILTIN_GUESTS]
    return [EVERYONE, NETWORK, AUTHENTICATED_USERS, BUILTIN_USERS]
