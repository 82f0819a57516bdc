"""Authentication policies and silos in the directory (MS-ADSC 2.120/2.121, MS-ADA2).

A policy (msDS-AuthNPolicy) holds per-account-class TGT lifetimes (100 ns ticks, as AD stores
them), the AllowedToAuthenticateFrom/To conditions as self-relative security descriptors and
the AllowedNTLMNetworkAuthentication switches; a silo (msDS-AuthNPolicySilo) names a policy per
class and the accounts permitted in it. Accounts point at one policy and one silo
(msDS-AssignedAuthNPolicy / msDS-AssignedAuthNPolicySilo); an account *belongs* to a silo only
when it is both assigned and a member (Set-ADAccountAuthenticationPolicySilo +
Grant-ADAuthenticationPolicySiloAccess). How the KDC combines these is
:mod:`lanman.authpolicy.resolve`; this module only stores them.

:class:`AuthnDirectory` is reached as ``Directory.authn``; :func:`load_config` takes the
snapshot the KDC evaluates against.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lanman.directory.errors import DirectoryError

if TYPE_CHECKING:
    from lanman.directory.directory import Directory

__all__ = [
    "DS_BEHAVIOR_WIN2012R2",
    "DS_BEHAVIOR_WIN2016",
    "MAX_TGT_LIFETIME_MINS",
    "MIN_TGT_LIFETIME_MINS",
    "TICKS_PER_MINUTE",
    "AuthnConfig",
    "AuthnDirectory",
    "AuthnPolicy",
    "AuthnSilo",
    "load_config",
]

# domainControllerFunctionality values (MS-ADTS 6.1.4.2)
DS_BEHAVIOR_WIN2012R2 = 6
DS_BEHAVIOR_WIN2016 = 7
DS_BEHAVIOR_WIN2025 = 10
FUNCTIONAL_LEVELS = {
    0: "2000",
    2: "2003",
    3: "2008",
    4: "2008 R2",
    5: "2012",
    6: "2012 R2",
    7: "2016",
    10: "2025",
}
TICKS_PER_SECOND = 10_000_000
TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
# samba-tool's bounds for --*-tgt-lifetime-mins (PowerShell takes any Int32 of minutes)
MIN_TGT_LIFETIME_MINS = 45
MAX_TGT_LIFETIME_MINS = 2147483647
NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class AuthnPolicy:
    """One msDS-AuthNPolicy object. Descriptor fields are self-relative SD bytes or None."""

    name: str
    guid: str = ""
    description: str = ""
    enforced: bool = False
    protected: bool = False
    user_tgt_lifetime: int | None = None  # msDS-UserTGTLifetime, 100 ns ticks
    computer_tgt_lifetime: int | None = None
    service_tgt_lifetime: int | None = None
    user_allowed_from: bytes | None = None  # msDS-UserAllowedToAuthenticateFrom
    user_allowed_to: bytes | None = None
    service_allowed_from: bytes | None = None
    service_allowed_to: bytes | None = None
    computer_allowed_to: bytes | None = None
    user_allow_ntlm: bool = False  # msDS-UserAllowedNTLMNetworkAuthentication
    service_allow_ntlm: bool = False
    strong_ntlm_policy: int | None = None
    created: str = ""


@dataclass(frozen=True, slots=True)
class AuthnSilo:
    """One msDS-AuthNPolicySilo object; ``members`` are account RIDs."""

    name: str
    guid: str = ""
    description: str = ""
    enforced: bool = False
    protected: bool = False
    user_policy: str | None = None  # msDS-UserAuthNPolicy
    computer_policy: str | None = None
    service_policy: str | None = None
    members: frozenset[int] = frozenset()
    created: str = ""


@dataclass(frozen=True, slots=True)
class AuthnConfig:
    """Everything policy resolution needs, taken at one instant (names lower-cased)."""

    policies: dict[str, AuthnPolicy] = field(default_factory=dict)
    silos: dict[str, AuthnSilo] = field(default_factory=dict)
    dc_functional_level: int = DS_BEHAVIOR_WIN2016
    domain_sid: str = ""

    def policy(self, name: str | None) -> AuthnPolicy | None:
        return self.policies.get(name.lower()) if name else None

    def silo(self, name: str | None) -> AuthnSilo | None:
        return self.silos.get(name.lower()) if name else None


POLICY_COLUMNS = tuple(f.name for f in fields(AuthnPolicy))
SILO_COLUMNS = tuple(f.name for f in fields(AuthnSilo) if f.name != "members")
_BOOL_FIELDS = {"enforced", "protected", "user_allow_ntlm", "service_allow_ntlm"}
_BLOB_FIELDS = {
    "user_allowed_from",
    "user_allowed_to",
    "service_allowed_from",
    "service_allowed_to",
    "computer_allowed_to",
}


def _policy_from_row(row: tuple) -> AuthnPolicy:
    values: dict[str, Any] = {}
    for col, v in zip(POLICY_COLUMNS, row, strict=True):
        if col in _BOOL_FIELDS:
            v = bool(v)
        elif col in _BLOB_FIELDS and v is not None:
            v = bytes(v)
        values[col] = v
    return AuthnPolicy(**values)


def _silos(c: sqlite3.Connection) -> dict[str, AuthnSilo]:
    members: dict[str, set[int]] = {}
    for silo, rid in c.execute("SELECT silo, member_rid FROM authn_silo_members"):
        members.setdefault(silo.lower(), set()).add(int(rid))
    out = {}
    for row in c.execute(f"SELECT {', '.join(SILO_COLUMNS)} FROM authn_silos ORDER BY name"):
        values = dict(zip(SILO_COLUMNS, row, strict=True))
        values["enforced"] = bool(values["enforced"])
        values["protected"] = bool(values["protected"])
        key = values["name"].lower()
        out[key] = AuthnSilo(**values, members=frozenset(members.get(key, ())))
    return out


def load_config(c: sqlite3.Connection, domain_sid: str = "") -> AuthnConfig:
    """The policies, silos and DC functional level as one snapshot."""
    policies = {
        r[0].lower(): _policy_from_row(r)
        for r in c.execute(f"SELECT {', '.join(POLICY_COLUMNS)} FROM authn_policies ORDER BY name")
    }
    level = c.execute("SELECT dc_functional_level FROM domain WHERE id = 1").fetchone()
    return AuthnConfig(
        policies=policies,
        silos=_silos(c),
        dc_functional_level=int(level[0]) if level else DS_BEHAVIOR_WIN2016,
        domain_sid=domain_sid,
    )


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise DirectoryError(
            f"invalid {what} name {name!r}",
            f"give 1 to {NAME_MAX} characters",
            "ERROR_INVALID_PARAMETER",
        )
    if any(ch in name for ch in ',+"\\<>;=\n\r\0'):
        raise DirectoryError(
            f"{what} name {name!r} contains a character a directory name may not hold",
            'avoid , + " \\ < > ; = and control characters',
            "ERROR_INVALID_PARAMETER",
        )
    return name


def tgt_lifetime_ticks(minutes: int) -> int:
    """Minutes (as PowerShell and samba-tool take them) to the stored 100 ns ticks."""
    if not MIN_TGT_LIFETIME_MINS <= minutes <= MAX_TGT_LIFETIME_MINS:
        raise DirectoryError(
            f"TGT lifetime {minutes} minutes is out of range",
            f"it must be between {MIN_TGT_LIFETIME_MINS} and {MAX_TGT_LIFETIME_MINS} minutes",
            "ERROR_INVALID_PARAMETER",
        )
    return minutes * TICKS_PER_MINUTE


class AuthnDirectory:
    """Policy and silo management on a :class:`Directory` (its connection and lock)."""

    def __init__(self, directory: Directory) -> None:
        self._d = directory

    # -- snapshot -------------------------------------------------------------------------
    def config(self) -> AuthnConfig:
        d = self._d
        with d._lock:
            return load_config(d._conn, d.domain_sid)

    @property
    def dc_functional_level(self) -> int:
        return self.config().dc_functional_level

    def set_dc_functional_level(self, level: int) -> None:
        if level not in FUNCTIONAL_LEVELS:
            raise DirectoryError(
                f"unknown functional level {level}",
                "use one of " + ", ".join(f"{k} ({v})" for k, v in FUNCTIONAL_LEVELS.items()),
            )
        d = self._d
        with d._lock:
            d._conn.execute("UPDATE domain SET dc_functional_level = ? WHERE id = 1", (level,))

    # -- policies -------------------------------------------------------------------------
    def get_policy(self, name: str) -> AuthnPolicy | None:
        return self.config().policy(name)

    def require_policy(self, name: str) -> AuthnPolicy:
        p = self.get_policy(name)
        if p is None:
            raise DirectoryError(
                f"authentication policy {name!r} does not exist",
                "`lanman auth policy list` shows the policies",
                "ERROR_DS_OBJ_NOT_FOUND",
            )
        return p

    def list_policies(self) -> list[AuthnPolicy]:
        return list(self.config().policies.values())

    def create_policy(self, name: str, **attrs: Any) -> AuthnPolicy:
        _check_name(name, "authentication policy")
        if self.get_policy(name) is not None:
            raise DirectoryError(
                f"authentication policy {name!r} already exists",
                "choose another name, or change it with `lanman auth policy modify`",
                "ERROR_INVALID_PARAMETER",
            )
        policy = replace(
            AuthnPolicy(name=name, guid=str(uuid.uuid4()), created=_now_iso()), **attrs
        )
        cols = POLICY_COLUMNS
        d = self._d
        with d._lock:
            d._conn.execute(
                f"INSERT INTO authn_policies ({', '.join(cols)}) VALUES "
                f"({', '.join('?' * len(cols))})",
                [_db(getattr(policy, c)) for c in cols],
            )
        return self.require_policy(name)

    def modify_policy(self, name: str, **attrs: Any) -> AuthnPolicy:
        old = self.require_policy(name)
        new = replace(old, **attrs)
        cols = [c for c in POLICY_COLUMNS if c not in ("name", "guid", "created")]
        d = self._d
        with d._lock:
            d._conn.execute(
                f"UPDATE authn_policies SET {', '.join(c + ' = ?' for c in cols)} WHERE name = ?",
                [*(_db(getattr(new, c)) for c in cols), old.name],
            )
        return self.require_policy(name)

    def delete_policy(self, name: str, *, force: bool = False) -> None:
        """Delete a policy; links to it from silos and accounts go with it (AD removes forward
        links to a deleted object). A protected policy needs ``force`` — or unprotecting."""
        p = self.require_policy(name)
        if p.protected and not force:
            raise DirectoryError(
                f"authentication policy {p.name!r} is protected from accidental deletion",
                "run `lanman auth policy modify NAME --unprotect` first",
                "ERROR_INVALID_PARAMETER",
            )
        d = self._d
        with d._lock:
            c = d._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("DELETE FROM authn_policies WHERE name = ?", (p.name,))
                for col in ("user_policy", "computer_policy", "service_policy"):
                    c.execute(f"UPDATE authn_silos SET {col} = NULL WHERE {col} = ?", (p.name,))
                c.execute(
                    "UPDATE users SET assigned_policy = NULL WHERE assigned_policy = ?", (p.name,)
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # -- silos ----------------------------------------------------------------------------
    def get_silo(self, name: str) -> AuthnSilo | None:
        return self.config().silo(name)

    def require_silo(self, name: str) -> AuthnSilo:
        s = self.get_silo(name)
        if s is None:
            raise DirectoryError(
                f"authentication policy silo {name!r} does not exist",
                "`lanman auth silo list` shows the silos",
                "ERROR_DS_OBJ_NOT_FOUND",
            )
        return s

    def list_silos(self) -> list[AuthnSilo]:
        return list(self.config().silos.values())

    def _policy_links(self, attrs: dict[str, Any]) -> dict[str, Any]:
        out = dict(attrs)
        for col in ("user_policy", "computer_policy", "service_policy"):
            if out.get(col):
                out[col] = self.require_policy(out[col]).name
        return out

    def create_silo(self, name: str, **attrs: Any) -> AuthnSilo:
        _check_name(name, "authentication policy silo")
        if self.get_silo(name) is not None:
            raise DirectoryError(
                f"authentication policy silo {name!r} already exists",
                "choose another name, or change it with `lanman auth silo modify`",
            )
        silo = replace(
            AuthnSilo(name=name, guid=str(uuid.uuid4()), created=_now_iso()),
            **self._policy_links(attrs),
        )
        d = self._d
        with d._lock:
            d._conn.execute(
                f"INSERT INTO authn_silos ({', '.join(SILO_COLUMNS)}) VALUES "
                f"({', '.join('?' * len(SILO_COLUMNS))})",
                [_db(getattr(silo, c)) for c in SILO_COLUMNS],
            )
        return self.require_silo(name)

    def modify_silo(self, name: str, **attrs: Any) -> AuthnSilo:
        old = self.require_silo(name)
        new = replace(old, **self._policy_links(attrs))
        cols = [c for c in SILO_COLUMNS if c not in ("name", "guid", "created")]
        d = self._d
        with d._lock:
            d._conn.execute(
                f"UPDATE authn_silos SET {', '.join(c + ' = ?' for c in cols)} WHERE name = ?",
                [*(_db(getattr(new, c)) for c in cols), old.name],
            )
        return self.require_silo(name)

    def delete_silo(self, name: str, *, force: bool = False) -> None:
        s = self.require_silo(name)
        if s.protected and not force:
            raise DirectoryError(
                f"authentication policy silo {s.name!r} is protected from accidental deletion",
                "run `lanman auth silo modify NAME --unprotect` first",
            )
        d = self._d
        with d._lock:
            c = d._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("DELETE FROM authn_silos WHERE name = ?", (s.name,))
                c.execute(
                    "UPDATE users SET assigned_silo = NULL WHERE assigned_silo = ?", (s.name,)
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _account_rid(self, account: str) -> tuple[int, str]:
        d = self._d
        with d._lock:
            row = d._conn.execute(
                "SELECT rid, name FROM users WHERE name = ?", (account,)
            ).fetchone()
            if row is None and not account.endswith("$"):
                row = d._conn.execute(
                    "SELECT rid, name FROM users WHERE name = ? AND kind = 'computer'",
                    (account + "$",),
                ).fetchone()
        if row is None:
            raise DirectoryError(
                f"account {account!r} does not exist",
                "`lanman user list` / `lanman computer list` show the accounts",
                "NERR_UserNotFound",
            )
        return int(row[0]), row[1]

    def grant_member(self, silo: str, account: str) -> None:
        """Grant-ADAuthenticationPolicySiloAccess: add to msDS-AuthNPolicySiloMembers."""
        s = self.require_silo(silo)
        rid, _ = self._account_rid(account)
        d = self._d
        with d._lock:
            d._conn.execute(
                "INSERT OR IGNORE INTO authn_silo_members (silo, member_rid) VALUES (?, ?)",
                (s.name, rid),
            )

    def revoke_member(self, silo: str, account: str) -> None:
        s = self.require_silo(silo)
        rid, name = self._account_rid(account)
        d = self._d
        with d._lock:
            cur = d._conn.execute(
                "DELETE FROM authn_silo_members WHERE silo = ? AND member_rid = ?", (s.name, rid)
            )
        if cur.rowcount == 0:
            raise DirectoryError(
                f"{name!r} is not a member of silo {s.name!r}",
                "`lanman auth silo member list SILO` shows the members",
                "ERROR_MEMBER_NOT_IN_GROUP",
            )

    def members(self, silo: str) -> list[dict[str, Any]]:
        s = self.require_silo(silo)
        d = self._d
        with d._lock:
            rows = d._conn.execute(
                "SELECT u.name, u.kind, u.rid, u.assigned_silo FROM authn_silo_members m "
                "JOIN users u ON u.rid = m.member_rid WHERE m.silo = ? ORDER BY u.name",
                (s.name,),
            ).fetchall()
        return [
            {
                "name": n,
                "kind": k,
                "rid": int(r),
                "assigned": (a or "").lower() == s.name.lower(),
            }
            for n, k, r, a in rows
        ]

    # -- account links --------------------------------------------------------------------
    def assign_policy(self, account: str, policy: str | None) -> None:
        """Set (or with None clear) msDS-AssignedAuthNPolicy of ``account``."""
        rid, _ = self._account_rid(account)
        name = self.require_policy(policy).name if policy else None
        d = self._d
        with d._lock:
            d._conn.execute("UPDATE users SET assigned_policy = ? WHERE rid = ?", (name, rid))

    def assign_silo(self, account: str, silo: str | None) -> None:
        """Set (or with None clear) msDS-AssignedAuthNPolicySilo of ``account``."""
        rid, _ = self._account_rid(account)
        name = self.require_silo(silo).name if silo else None
        d = self._d
        with d._lock:
            d._conn.execute("UPDATE users SET assigned_silo = ? WHERE rid = ?", (name, rid))

    def account_links(self, account: str) -> dict[str, Any]:
        """The account's assigned policy and silo, and whether it is a member of that silo."""
        rid, name = self._account_rid(account)
        d = self._d
        with d._lock:
            pol, silo = d._conn.execute(
                "SELECT assigned_policy, assigned_silo FROM users WHERE rid = ?", (rid,)
            ).fetchone()
            member = bool(
                silo
                and d._conn.execute(
                    "SELECT 1 FROM authn_silo_members WHERE silo = ? AND member_rid = ?",
                    (silo, rid),
                ).fetchone()
            )
        return {"account": name, "policy": pol, "silo": silo, "silo_member": member}

    def set_object_class(self, account: str, object_class: str | None) -> None:
        """Record the account's most-derived object class (e.g. a managed service account)."""
        if object_class not in (None, *ACCOUNT_OBJECT_CLASSES):
            raise DirectoryError(
                f"unknown object class {object_class!r}",
                "use one of " + ", ".join(ACCOUNT_OBJECT_CLASSES),
            )
        rid, _ = self._account_rid(account)
        d = self._d
        with d._lock:
            d._conn.execute("UPDATE users SET object_class = ? WHERE rid = ?", (object_class, rid))


# Object classes an account row may carry besides the user/computer its kind implies
# (MS-ADSC 2.140 msDS-GroupManagedServiceAccount, 2.142 msDS-ManagedServiceAccount).
ACCOUNT_OBJECT_CLASSES = (
    "user",
    "computer",
    "msDS-ManagedServiceAccount",
    "msDS-GroupManagedServiceAccount",
    "msDS-DelegatedManagedServiceAccount",
)


def _db(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value
