"""Connection-level operations on the directory tables (shared by :class:`Directory` and
:class:`lanman.store.Store`, which calls :func:`store_password_keys` so that ``lanman user
add|passwd`` also keep AES keys once a domain exists).

Every function takes an open ``sqlite3.Connection``; the caller owns the transaction.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from lanman.directory.keys import derive_aes_keys
from lanman.directory.model import (
    DOMAIN_RID_KRBTGT,
    ETYPE_RC4,
    ETYPE_TO_SET_BIT,
    PROTECTED_USERS,
    UAC,
    Principal,
)

__all__ = [
    "DomainInfo",
    "allocate_rid",
    "domain_info",
    "group_closure",
    "principal_from_row",
    "store_password_keys",
]

ACCOUNT_COLUMNS = (
    "name, rid, kind, uac, primary_group_rid, account_expires, lockout_time, bad_pwd_count, "
    "bad_pwd_time, pwd_last_set, kvno, keys_pending, supported_enctypes, nt_hash, enabled, "
    "created, description, assigned_policy, assigned_silo, object_class, allowed_to_act"
)


@dataclass(frozen=True, slots=True)
class DomainInfo:
    realm: str
    netbios: str
    sid: str
    dc_name: str
    created: str
    lockout_threshold: int
    lockout_duration: int  # seconds; 0 = until an administrator unlocks
    lockout_window: int  # seconds (ResetLockoutCount / "observation window")
    max_pwd_age: int = 0  # seconds (MaximumPasswordAge); 0 = passwords never expire

    @property
    def dns_domain(self) -> str:
        return self.realm.lower()


def domain_info(c: sqlite3.Connection) -> DomainInfo | None:
    row = c.execute(
        "SELECT realm, netbios, sid, dc_name, created, lockout_threshold, lockout_duration, "
        "lockout_window, max_pwd_age FROM domain WHERE id = 1"
    ).fetchone()
    return DomainInfo(*row) if row else None


def allocate_rid(c: sqlite3.Connection) -> int:
    """Next free RID (shared by users, computers and groups; never reused)."""
    rid = int(c.execute("SELECT value FROM meta WHERE key = 'next_rid'").fetchone()[0])
    while (
        c.execute("SELECT 1 FROM users WHERE rid = ?", (rid,)).fetchone()
        or c.execute("SELECT 1 FROM groups WHERE rid = ?", (rid,)).fetchone()
    ):
        rid += 1
    c.execute("UPDATE meta SET value = ? WHERE key = 'next_rid'", (str(rid + 1),))
    return rid


def store_password_keys(
    c: sqlite3.Connection, rid: int, password: str, *, new: bool, now: int | None = None
) -> bool:
    """After ``users.nt_hash`` of account ``rid`` was set from ``password``: derive and keep its
    AES keys, bump the key version (unless ``new``) and clear ``keys_pending``.

    Does nothing and returns False when no domain is provisioned (local accounts need the NT
    hash only)."""
    dom = domain_info(c)
    if dom is None:
        return False
    row = c.execute("SELECT name, kind, kvno FROM users WHERE rid = ?", (rid,)).fetchone()
    if row is None:
        return False
    name, kind, kvno = row[0], row[1], int(row[2])
    kvno = kvno if new else kvno + 1
    keys, salt = derive_aes_keys(
        dom.realm, name, "computer" if kind == "computer" else "user", password
    )
    c.execute("DELETE FROM kerberos_keys WHERE rid = ?", (rid,))
    for etype, key in keys.items():
        c.execute(
            "INSERT INTO kerberos_keys (rid, etype, kvno, key, salt) VALUES (?, ?, ?, ?, ?)",
            (rid, etype, kvno, key, salt),
        )
    c.execute(
        "UPDATE users SET kvno = ?, keys_pending = 0, pwd_last_set = ? WHERE rid = ?",
        (kvno, int(now if now is not None else time.time()), rid),
    )
    return True


def group_closure(c: sqlite3.Connection, rid: int, primary_group_rid: int | None) -> list[int]:
    """Every group ``rid`` belongs to, directly, through its primary group or nested
    (breadth-first, bounded by the number of groups)."""
    seen: dict[int, None] = {}
    frontier = [rid]
    if primary_group_rid is not None:
        seen[primary_group_rid] = None
        frontier.append(primary_group_rid)
    limit = c.execute("SELECT count(*) FROM groups").fetchone()[0] + 2
    for _ in range(limit):
        if not frontier:
            break
        marks = ",".join("?" * len(frontier))
        rows = c.execute(
            f"SELECT DISTINCT group_rid FROM group_members WHERE member_rid IN ({marks})", frontier
        ).fetchall()
        frontier = [r[0] for r in rows if r[0] not in seen and r[0] != rid]
        for g in frontier:
            seen[g] = None
    return list(seen)


def is_locked(lockout_time: int | None, dom: DomainInfo, now: int) -> bool:
    if lockout_time is None:
        return False
    if dom.lockout_duration == 0:
        return True
    return now < lockout_time + dom.lockout_duration


def _too_old(dom: DomainInfo, kind: str, uac: int, pwd_last_set: int | None, now: int) -> bool:
    """MaximumPasswordAge passed (users only; DONT_EXPIRE_PASSWORD exempts, MS-SAMR 3.1.1.8)."""
    if not dom.max_pwd_age or kind != "user" or uac & UAC.DONT_EXPIRE_PASSWORD:
        return False
    return pwd_last_set is not None and pwd_last_set + dom.max_pwd_age <= now


def principal_from_row(
    c: sqlite3.Connection, dom: DomainInfo, row: tuple, now: int | None = None
) -> Principal:
    """Build a :class:`Principal` from a ``SELECT {ACCOUNT_COLUMNS}`` row."""
    (
        name,
        rid,
        kind,
        uac,
        pgrid,
        expires,
        lockout_time,
        _bad,
        _bad_t,
        pwd_last_set,
        kvno,
        keys_pending,
        supported,
        nt_hash,
        enabled,
        _created,
        _descr,
        assigned_policy,
        assigned_silo,
        object_class,
        allowed_to_act,
    ) = row
    now = int(time.time()) if now is None else now
    closure = group_closure(c, rid, pgrid)
    scopes = dict(c.execute("SELECT rid, scope FROM groups").fetchall())
    # Global and universal groups go to the PAC's GroupIds; domain-local groups are expanded
    # by the resource's domain (MS-PAC 2.2.1), so they are left out here.
    group_rids = [g for g in closure if scopes.get(g, "global") != "domain_local"]
    protected = PROTECTED_USERS in closure
    locked = is_locked(lockout_time, dom, now)
    uac_v = int(uac) | (0 if enabled else UAC.ACCOUNTDISABLE) | (UAC.LOCKOUT if locked else 0)
    key_rows = c.execute(
        "SELECT etype, key, salt FROM kerberos_keys WHERE rid = ?", (rid,)
    ).fetchall()
    keys: dict[int, bytes] = {int(e): bytes(k) for e, k, _ in key_rows}
    salt = bytes(key_rows[0][2]) if key_rows else b""
    # RC4 = NT hash, except for Protected Users (MS-KILE 3.3.5.6: no RC4 pre-authentication)
    if not protected:
        keys[ETYPE_RC4] = bytes(nt_hash)
    if supported:  # msDS-SupportedEncryptionTypes restricts what the account may use
        keys = {e: k for e, k in keys.items() if ETYPE_TO_SET_BIT.get(e, 0) & supported}
    spns = [r[0] for r in c.execute("SELECT spn FROM spns WHERE rid = ? ORDER BY spn", (rid,))]
    upn = f"{name}@{dom.dns_domain}"  # implicit UPN (MS-ADTS 5.1.1.1.1)
    delegate_to = [
        r[0]
        for r in c.execute("SELECT spn FROM delegation_targets WHERE rid = ? ORDER BY spn", (rid,))
    ]
    return Principal(
        name=name,
        realm=dom.realm,
        upn=upn,
        sid=f"{dom.sid}-{rid}",
        rid=int(rid),
        kind=kind,
        keys=keys,
        salt=salt,
        kvno=int(kvno),
        spns=spns,
        group_rids=group_rids,
        extra_sids=[],
        # krbtgt is stored disabled as on Windows (uac 0x202), yet the KDC uses its keys.
        disabled=(not enabled) and rid != DOMAIN_RID_KRBTGT,
        locked=locked,
        expires=int(expires) if expires is not None else None,
        password_expired=(pwd_last_set == 0)
        or bool(int(uac) & UAC.PASSWORD_EXPIRED)
        or _too_old(dom, kind, int(uac), pwd_last_set, now),
        protected_user=protected,
        uac=uac_v,
        primary_group_rid=int(pgrid),
        keys_pending=bool(keys_pending),
        domain_local_rids=[g for g in closure if scopes.get(g) == "domain_local"],
        object_class=object_class or ("computer" if kind == "computer" else "user"),
        assigned_policy=assigned_policy,
        assigned_silo=assigned_silo,
        delegate_to=delegate_to,
        allowed_to_act=bytes(allowed_to_act) if allowed_to_act is not None else None,
    )
