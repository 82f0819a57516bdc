"""The domain directory in ``lanman.sqlite``: accounts, groups, SPNs and keys.

:class:`Directory` is the API the KDC and the SMB server use (see /tmp/contract.md) and the
one the CLI manages the domain with. It shares the ``users`` table with
:class:`lanman.store.Store`: a local account created by ``lanman user add`` is a domain user
(same RID under the domain SID) once a domain is provisioned.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from lanman.directory import accounts as acc
from lanman.directory import delegation as dlg
from lanman.directory.authn import AuthnConfig, AuthnDirectory
from lanman.directory.errors import AccountRestriction, DirectoryError, NotProvisionedError
from lanman.directory.keys import nt_hash
from lanman.directory.model import (
    DOMAIN_COMPUTERS,
    DOMAIN_CONTROLLERS,
    DOMAIN_RID_KRBTGT,
    ETYPE_RC4,
    FIRST_ALLOCATED_RID,
    UAC,
    GroupScope,
    Principal,
    etype_order,
)
from lanman.errors.ntstatus import (
    STATUS_ACCOUNT_DISABLED,
    STATUS_ACCOUNT_EXPIRED,
    STATUS_ACCOUNT_LOCKED_OUT,
    STATUS_ACCOUNT_RESTRICTION,
    STATUS_PASSWORD_MUST_CHANGE,
)
from lanman.store import enforce_password_policy, password_policy, schema, validate_password

__all__ = ["HOST_SPN_ALIASES", "Directory", "Group", "random_machine_password"]

DB_FILE = "lanman.sqlite"

# Service classes a "host/" SPN stands for (the default sPNMappings of CN=Directory Service,
# MS-ADTS 6.1.1.2.4.1.2): a ticket for cifs/NAME is issued with host/NAME's account.
HOST_SPN_ALIASES = frozenset(
    [
        "alerter",
        "appmgmt",
        "cisvc",
        "clipsrv",
        "browser",
        "dhcp",
        "dnscache",
        "replicator",
        "eventlog",
        "eventsystem",
        "policyagent",
        "oakley",
        "dmserver",
        "dns",
        "mcsvc",
        "fax",
        "msiserver",
        "ias",
        "messenger",
        "netlogon",
        "netman",
        "netdde",
        "netddedsm",
        "nmagent",
        "plugplay",
        "protectedstorage",
        "rasman",
        "rpclocator",
        "rpc",
        "rpcss",
        "remoteaccess",
        "rsvp",
        "samss",
        "scardsvr",
        "scesrv",
        "seclogon",
        "scm",
        "dcom",
        "cifs",
        "spooler",
        "snmp",
        "schedule",
        "tapisrv",
        "trksvr",
        "trkwks",
        "ups",
        "time",
        "wins",
        "www",
        "http",
        "w3svc",
        "iisadmin",
        "msdtc",
    ]
)

_SPN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[^/@\s]+(?::\d{1,5})?(?:/[^/@\s]+)?$")
_NAME_BAD = set('"/\\[]:;|=,+*?<>@')
COMPUTER_NAME_MAX = 15  # NetBIOS name; the sAMAccountName adds "$"
GROUP_NAME_MAX = 64


def random_machine_password() -> str:
    """120 random characters, as Windows machine passwords are (printable ASCII here)."""
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#%&()*+,-.:;<=>?@[]^_{}~"
    )
    return "".join(secrets.choice(alphabet) for _ in range(120))


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Group:
    __slots__ = ("builtin", "description", "name", "rid", "scope", "sid")

    def __init__(self, rid: int, name: str, scope: str, description: str, builtin: bool, sid: str):
        self.rid, self.name, self.scope = rid, name, scope
        self.description, self.builtin, self.sid = description, builtin, sid

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "rid": self.rid,
            "sid": self.sid,
            "scope": self.scope,
            "group_type": GroupScope(self.scope).group_type,
            "builtin": self.builtin,
            "description": self.description,
        }


class _txn:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _check_name(name: str, what: str, limit: int) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DirectoryError(
            f"{what} name is empty", f"give a name of 1 to {limit} characters", "NERR_BadUsername"
        )
    if len(name) > limit:
        raise DirectoryError(
            f"{what} name {name!r} is longer than {limit} characters",
            "choose a shorter name",
            "NERR_BadUsername",
        )
    if any(c in _NAME_BAD or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise DirectoryError(
            f"{what} name {name!r} contains characters Windows does not allow",
            'names may not contain " / \\ [ ] : ; | = , + * ? < > @',
            "NERR_BadUsername",
        )
    return name


def validate_spn(spn: str) -> str:
    """``serviceclass/host[:port][/servicename]`` (MS-ADTS 2.2.21), no realm."""
    if not isinstance(spn, str) or not _SPN_RE.match(spn):
        raise DirectoryError(
            f"{spn!r} is not a service principal name",
            "write serviceclass/host[:port][/name], e.g. cifs/server.example.test",
        )
    return spn


class Directory:
    """The domain directory of one lanman home. Thread-safe (one connection + lock)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        dom = acc.domain_info(conn)
        if dom is None:
            conn.close()
            raise NotProvisionedError(path.parent)
        self._dom = dom
        self.authn = AuthnDirectory(self)

    # --- opening --------------------------------------------------------------------------

    @staticmethod
    def _db_path(home_path: str | Path) -> Path:
        p = Path(home_path)
        return p if p.suffix == ".sqlite" else p / DB_FILE

    @classmethod
    def open(cls, home_path: str | Path) -> Directory:
        """Open the directory of the home ``home_path`` (a directory or its lanman.sqlite).
        Raises :class:`NotProvisionedError` when no domain was provisioned there."""
        path = cls._db_path(home_path)
        if not path.exists():
            raise NotProvisionedError(path.parent)
        return cls(schema.connect(path), path)

    @classmethod
    def is_provisioned(cls, home_path: str | Path) -> bool:
        path = cls._db_path(home_path)
        if not path.exists():
            return False
        conn = schema.connect(path)
        try:
            return acc.domain_info(conn) is not None
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reload(self) -> acc.DomainInfo:
        dom = acc.domain_info(self._conn)
        assert dom is not None
        self._dom = dom
        return dom

    # --- domain facts ---------------------------------------------------------------------

    @property
    def realm(self) -> str:
        return self._dom.realm

    @property
    def domain(self) -> str:
        return self._dom.netbios

    @property
    def domain_sid(self) -> str:
        return self._dom.sid

    @property
    def dc_name(self) -> str:
        return self._dom.dc_name

    @property
    def dns_domain(self) -> str:
        return self._dom.dns_domain

    @property
    def dc_dns_name(self) -> str:
        return f"{self.dc_name.lower()}.{self.dns_domain}"

    @property
    def lockout_policy(self) -> dict[str, int]:
        d = self._reload()
        return {
            "threshold": d.lockout_threshold,
            "duration_seconds": d.lockout_duration,
            "window_seconds": d.lockout_window,
        }

    def set_lockout_policy(
        self,
        *,
        threshold: int | None = None,
        duration: int | None = None,
        window: int | None = None,
    ) -> None:
        """Account lockout policy (Default Domain Policy: threshold 0 = never lock out;
        duration 0 = until an administrator unlocks; window = ResetLockoutCount)."""
        for label, v, lo, hi in (
            ("threshold", threshold, 0, 999),
            ("duration", duration, 0, 99999 * 60),
            ("window", window, 60, 99999 * 60),
        ):
            if v is not None and not lo <= v <= hi:
                raise DirectoryError(
                    f"lockout {label} {v} is out of range {lo}..{hi}",
                    "Windows allows threshold 0-999, durations up to 99999 minutes",
                )
        with self._lock, _txn(self._conn) as c:
            if threshold is not None:
                c.execute("UPDATE domain SET lockout_threshold = ? WHERE id = 1", (threshold,))
            if duration is not None:
                c.execute("UPDATE domain SET lockout_duration = ? WHERE id = 1", (duration,))
            if window is not None:
                c.execute("UPDATE domain SET lockout_window = ? WHERE id = 1", (window,))
        self._reload()

    @property
    def password_policy(self) -> password_policy.PasswordPolicy:
        with self._lock:
            p = password_policy.load(self._conn)
        assert p is not None
        return p

    def set_password_policy(
        self,
        *,
        min_length: int | None = None,
        complexity: bool | None = None,
        history: int | None = None,
        max_age_days: int | None = None,
        min_age_days: int | None = None,
    ) -> password_policy.PasswordPolicy:
        """The Default Domain Policy's password settings (Windows' ranges: length 0..14 in
        the GUI — up to 255 here as Samba allows —, history 0..24, ages 0..999 days, minimum
        age below maximum)."""
        for label, v, hi in (
            ("minimum password length", min_length, 255),
            ("password history", history, 24),
            ("maximum password age", max_age_days, 999),
            ("minimum password age", min_age_days, 998),
        ):
            if v is not None and not 0 <= v <= hi:
                raise DirectoryError(f"{label} {v} is out of range 0..{hi}")
        import dataclasses

        day = password_policy.DAY
        with self._lock, _txn(self._conn) as c:
            cur = password_policy.load(c)
            assert cur is not None
            new = dataclasses.replace(
                cur,
                **{
                    k: v
                    for k, v in (
                        ("min_length", min_length),
                        ("complexity", complexity),
                        ("history", history),
                        ("max_age", None if max_age_days is None else max_age_days * day),
                        ("min_age", None if min_age_days is None else min_age_days * day),
                    )
                    if v is not None
                },
            )
            if new.max_age and new.min_age >= new.max_age:
                raise DirectoryError(
                    "the minimum password age must be less than the maximum",
                    "lower --min-password-age or raise --max-password-age",
                )
            password_policy.save(c, new)
        self._reload()
        return new

    def info(self) -> dict:
        with self._lock:
            dom = self._reload()
            counts = dict(
                self._conn.execute("SELECT kind, count(*) FROM users GROUP BY kind").fetchall()
            )
            ngroups = self._conn.execute("SELECT count(*) FROM groups").fetchone()[0]
            pending = [
                r[0]
                for r in self._conn.execute(
                    "SELECT name FROM users WHERE keys_pending = 1 ORDER BY name"
                )
            ]
        return {
            "realm": dom.realm,
            "domain": dom.netbios,
            "dns_domain": dom.dns_domain,
            "domain_sid": dom.sid,
            "dc_name": dom.dc_name,
            "dc_dns_name": self.dc_dns_name,
            "created": dom.created,
            "users": counts.get("user", 0) + counts.get("krbtgt", 0),
            "computers": counts.get("computer", 0),
            "groups": ngroups,
            "rc4_only_accounts": pending,
            "password_policy": self.password_policy.as_dict(),
            "lockout": {
                "threshold": dom.lockout_threshold,
                "duration_seconds": dom.lockout_duration,
                "window_seconds": dom.lockout_window,
            },
        }

    # --- principals -----------------------------------------------------------------------

    def _row_by_name(self, name: str) -> tuple | None:
        return self._conn.execute(
            f"SELECT {acc.ACCOUNT_COLUMNS} FROM users WHERE name = ?", (name,)
        ).fetchone()

    def _row_by_rid(self, rid: int) -> tuple | None:
        return self._conn.execute(
            f"SELECT {acc.ACCOUNT_COLUMNS} FROM users WHERE rid = ?", (rid,)
        ).fetchone()

    def _principal(self, row: tuple | None, now: int | None = None) -> Principal | None:
        return acc.principal_from_row(self._conn, self._dom, row, now) if row else None

    def get(self, name: str, now: int | None = None) -> Principal | None:
        """The account whose sAMAccountName is ``name`` (case-insensitive)."""
        with self._lock:
            return self._principal(self._row_by_name(name), now)

    def get_by_rid(self, rid: int) -> Principal | None:
        with self._lock:
            return self._principal(self._row_by_rid(rid))

    def _realm_ok(self, realm: str) -> bool:
        return realm.upper() == self.realm.upper()

    def find_principal(self, name: str, now: int | None = None) -> Principal | None:
        """By sAMAccountName (case-insensitive), ``name@REALM``, UPN (``name@dns.domain``,
        also as an enterprise name ``name@dns.domain@REALM``), or SPN ``svc/host[@REALM]``."""
        if not isinstance(name, str) or not name:
            return None
        base = name
        if "@" in name:
            head, realm = name.rsplit("@", 1)
            if self._realm_ok(realm):
                base = head
            elif "/" not in head and realm.lower() == self.dns_domain:
                base = name  # UPN form handled below
            else:
                return None
        if "/" in base:
            return self.find_by_spn(base, now=now)
        if "@" in base:  # implicit UPN: sAMAccountName@dns domain
            user, suffix = base.rsplit("@", 1)
            if suffix.lower() not in (self.dns_domain, self.realm.lower()):
                return None
            base = user
        return self.get(base, now)

    def find_by_spn(self, spn: str, now: int | None = None) -> Principal | None:
        """The account holding service principal name ``spn`` (``svc/host[@REALM]``).
        ``krbtgt/REALM`` is the krbtgt account; a class in :data:`HOST_SPN_ALIASES` falls back
        to the ``host/`` SPN of the same host, as Windows' sPNMappings do."""
        if not isinstance(spn, str) or "/" not in spn:
            return None
        if "@" in spn:
            spn, realm = spn.rsplit("@", 1)
            if not self._realm_ok(realm):
                return None
        svc, _, rest = spn.partition("/")
        if svc.lower() == "krbtgt":
            return (
                self.krbtgt()
                if self._realm_ok(rest) or rest.upper() == self.domain.upper()
                else None
            )
        with self._lock:
            row = self._conn.execute("SELECT rid FROM spns WHERE spn = ?", (spn,)).fetchone()
            if row is None and svc.lower() in HOST_SPN_ALIASES:
                row = self._conn.execute(
                    "SELECT rid FROM spns WHERE spn = ?", (f"host/{rest}",)
                ).fetchone()
            return self._principal(self._row_by_rid(row[0]), now) if row else None

    def authn_config(self) -> AuthnConfig:
        """Authentication policies, silos and the DC functional level (one snapshot)."""
        return self.authn.config()

    def krbtgt(self) -> Principal:
        p = self.get_by_rid(DOMAIN_RID_KRBTGT)
        if p is None:
            raise DirectoryError(
                "the krbtgt account is missing",
                "restore lanman.sqlite from a backup",
                "ERROR_DS_OBJ_NOT_FOUND",
            )
        return p

    def list_principals(self, kind: str | None = None) -> list[Principal]:
        with self._lock:
            if kind is None:
                rows = self._conn.execute(
                    f"SELECT {acc.ACCOUNT_COLUMNS} FROM users ORDER BY name"
                ).fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT {acc.ACCOUNT_COLUMNS} FROM users WHERE kind = ? ORDER BY name", (kind,)
                ).fetchall()
            return [acc.principal_from_row(self._conn, self._dom, r) for r in rows]

    # --- logon accounting (account lockout, MS-SAMR 3.1.1.8.x) -----------------------------

    def record_logon_failure(self, name: str, now: int | None = None) -> bool:
        """Count a bad password for ``name``; returns True when this failure locked it out.

        badPwdCount restarts when the previous failure is older than the observation window;
        at ``threshold`` failures (if the threshold is not 0) the account is locked for
        ``duration`` seconds (0: until unlocked)."""
        now = int(time.time()) if now is None else now
        with self._lock, _txn(self._conn) as c:
            dom = acc.domain_info(c)
            assert dom is not None
            self._dom = dom
            row = c.execute(
                "SELECT rid, bad_pwd_count, bad_pwd_time, lockout_time FROM users WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return False
            rid, count, last, lockout_time = row
            if acc.is_locked(lockout_time, dom, now):
                return False
            if last is None or now - last >= dom.lockout_window:
                count = 0
            count += 1
            locks = dom.lockout_threshold > 0 and count >= dom.lockout_threshold
            c.execute(
                "UPDATE users SET bad_pwd_count = ?, bad_pwd_time = ?, "
                "lockout_time = ? WHERE rid = ?",
                (count, now, now if locks else None, rid),
            )
            return locks

    def record_logon_success(self, name: str, now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        with self._lock, _txn(self._conn) as c:
            row = c.execute(
                "SELECT rid, lockout_time FROM users WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return
            if row[1] is not None and acc.is_locked(row[1], self._dom, now):
                return
            c.execute(
                "UPDATE users SET bad_pwd_count = 0, lockout_time = NULL WHERE rid = ?", (row[0],)
            )

    def ntlm_logon_hash(self, name: str, now: int | None = None) -> bytes | None:
        """NT hash for an NTLM logon of ``name``, or None if there is no such account.

        Raises :class:`AccountRestriction` as :meth:`ntlm_logon_account` does."""
        found = self.ntlm_logon_account(name, now)
        return found[1] if found is not None else None

    def ntlm_logon_account(
        self, name: str, now: int | None = None
    ) -> tuple[Principal, bytes] | None:
        """The account and NT hash for an NTLM logon of ``name``; None: no such account.

        Raises :class:`AccountRestriction` with the NTSTATUS Windows returns for a locked,
        disabled or expired account, a password that must change, and members of Protected
        Users (STATUS_ACCOUNT_RESTRICTION, MS-APDS 3.1.5; ``protected_user`` set). The krbtgt
        account never logs on. Authentication policies are the caller's
        (:mod:`lanman.authpolicy.ntlm`).
        """
        now = int(time.time()) if now is None else now
        if "@" in name:
            name = (
                name.rsplit("@", 1)[0]
                if name.rsplit("@", 1)[1].lower() in (self.dns_domain, self.realm.lower())
                else name
            )
        p = self.get(name, now)
        if p is None:
            return None
        if p.locked:
            raise AccountRestriction(STATUS_ACCOUNT_LOCKED_OUT, f"{p.name} is locked out")
        if p.disabled or p.rid == DOMAIN_RID_KRBTGT:
            raise AccountRestriction(STATUS_ACCOUNT_DISABLED, f"{p.name} is disabled")
        if p.expires is not None and now >= p.expires:
            raise AccountRestriction(STATUS_ACCOUNT_EXPIRED, f"{p.name} has expired")
        if p.protected_user:
            raise AccountRestriction(
                STATUS_ACCOUNT_RESTRICTION,
                f"{p.name} is in Protected Users: no NTLM",
                protected_user=True,
            )
        if p.password_expired:
            raise AccountRestriction(
                STATUS_PASSWORD_MUST_CHANGE, f"{p.name} must change the password"
            )
        with self._lock:
            row = self._conn.execute("SELECT nt_hash FROM users WHERE rid = ?", (p.rid,)).fetchone()
        return (p, bytes(row[0])) if row else None

    # --- accounts -------------------------------------------------------------------------

    def add_computer(
        self,
        name: str,
        *,
        password: str | None = None,
        spns: list[str] | tuple[str, ...] = (),
        dc: bool = False,
        default_spns: bool = True,
    ) -> tuple[Principal, str]:
        """Create computer account ``NAME$`` (workstation trust account; with ``dc`` a domain
        controller's server trust account). Unless ``default_spns`` is False it gets host/ and
        cifs/ SPNs for its NetBIOS and DNS names. Returns the principal and the password."""
        with self._lock, _txn(self._conn) as c:
            sam, password = create_computer(
                c, self._dom, name, password=password, spns=spns, dc=dc, default_spns=default_spns
            )
        p = self.get(sam)
        assert p is not None
        return p, password

    def remove_account(self, name: str, *, kind: str | None = None) -> None:
        with self._lock, _txn(self._conn) as c:
            row = c.execute("SELECT rid, kind FROM users WHERE name = ?", (name,)).fetchone()
            if row is None or (kind is not None and row[1] != kind):
                raise DirectoryError(
                    f"{kind or 'account'} {name!r} does not exist", "", "NERR_UserNotFound"
                )
            rid = row[0]
            if rid < FIRST_ALLOCATED_RID or name.rstrip("$").upper() == self.dc_name.upper():
                raise DirectoryError(
                    f"{name!r} is a built-in account of the domain",
                    "disable it instead (`lanman user set NAME --disabled`)",
                    "ERROR_SPECIAL_ACCOUNT",
                )
            c.execute("DELETE FROM group_members WHERE member_rid = ?", (rid,))
            c.execute("DELETE FROM users WHERE rid = ?", (rid,))

    def set_password(self, name: str, password: str, now: int | None = None) -> Principal:
        """New password: NT hash and AES keys, key version + 1 (any account, krbtgt too)."""
        validate_password(password)
        with self._lock, _txn(self._conn) as c:
            row = c.execute("SELECT rid, nt_hash FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise DirectoryError(f"account {name!r} does not exist", "", "NERR_UserNotFound")
            policy = enforce_password_policy(c, name, password, row[0])
            c.execute("UPDATE users SET nt_hash = ? WHERE rid = ?", (nt_hash(password), row[0]))
            if policy is not None:
                password_policy.remember(c, row[0], bytes(row[1]), policy)
            acc.store_password_keys(c, row[0], password, new=False, now=now)
        p = self.get(name)
        assert p is not None
        return p

    def set_account(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        expires: int | None | bool = False,
        locked: bool | None = None,
        preauth: bool | None = None,
        password_expired: bool | None = None,
        rc4: bool | None = None,
        description: str | None = None,
        sensitive: bool | None = None,
    ) -> Principal:
        """Change account flags. ``expires``: unix seconds, None = never, False = unchanged.
        ``sensitive``: NOT_DELEGATED ("account is sensitive and cannot be delegated").
        ``locked=False`` unlocks (and clears badPwdCount); ``locked=True`` locks now.
        ``rc4=False`` sets msDS-SupportedEncryptionTypes to AES only; True allows RC4 again."""
        now = int(time.time())
        with self._lock, _txn(self._conn) as c:
            row = c.execute(
                "SELECT rid, uac, supported_enctypes FROM users WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise DirectoryError(
                    f"account {name!r} does not exist",
                    "`lanman user list` shows the accounts",
                    "NERR_UserNotFound",
                )
            rid, uac, supported = row
            if enabled is not None:
                c.execute("UPDATE users SET enabled = ? WHERE rid = ?", (int(enabled), rid))
            if expires is not False:
                c.execute("UPDATE users SET account_expires = ? WHERE rid = ?", (expires, rid))
            if locked is True:
                c.execute("UPDATE users SET lockout_time = ? WHERE rid = ?", (now, rid))
            elif locked is False:
                c.execute(
                    "UPDATE users SET lockout_time = NULL, bad_pwd_count = 0 WHERE rid = ?", (rid,)
                )
            if preauth is not None:
                uac = (
                    (uac & ~UAC.DONT_REQUIRE_PREAUTH)
                    if preauth
                    else (uac | UAC.DONT_REQUIRE_PREAUTH)
                )
            if sensitive is not None:
                uac = (uac | UAC.NOT_DELEGATED) if sensitive else (uac & ~UAC.NOT_DELEGATED)
            if password_expired is not None:
                if password_expired:
                    c.execute("UPDATE users SET pwd_last_set = 0 WHERE rid = ?", (rid,))
                else:
                    c.execute("UPDATE users SET pwd_last_set = ? WHERE rid = ?", (now, rid))
            c.execute("UPDATE users SET uac = ? WHERE rid = ?", (int(uac), rid))
            if rc4 is not None:
                base = supported or 0x1C
                supported = (base | 0x4) if rc4 else (base & ~0x4) or 0x18
                c.execute("UPDATE users SET supported_enctypes = ? WHERE rid = ?", (supported, rid))
            if description is not None:
                c.execute("UPDATE users SET description = ? WHERE rid = ?", (description, rid))
        p = self.get(name)
        assert p is not None
        return p

    # --- groups ---------------------------------------------------------------------------

    def _group(self, row: tuple) -> Group:
        return Group(
            int(row[0]), row[1], row[2], row[3], bool(row[4]), f"{self.domain_sid}-{row[0]}"
        )

    def get_group(self, name: str) -> Group | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT rid, name, scope, description, builtin FROM groups WHERE name = ?", (name,)
            ).fetchone()
        return self._group(row) if row else None

    def _require_group(self, name: str) -> Group:
        g = self.get_group(name)
        if g is None:
            raise DirectoryError(
                f"group {name!r} does not exist",
                "`lanman group list` shows the groups",
                "NERR_GroupNotFound",
            )
        return g

    def list_groups(self) -> list[Group]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT rid, name, scope, description, builtin FROM groups ORDER BY rid"
            ).fetchall()
        return [self._group(r) for r in rows]

    def add_group(self, name: str, *, scope: str = "global", description: str = "") -> Group:
        _check_name(name, "group", GROUP_NAME_MAX)
        try:
            scope = GroupScope(scope).value
        except ValueError:
            raise DirectoryError(
                f"unknown group scope {scope!r}", "use global, domain_local or universal"
            ) from None
        with self._lock, _txn(self._conn) as c:
            if c.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
                raise DirectoryError(f"group {name!r} already exists", "", "NERR_GroupExists")
            if c.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise DirectoryError(
                    f"{name!r} is already the name of an account",
                    "choose another name",
                    "NERR_UserExists",
                )
            rid = acc.allocate_rid(c)
            c.execute(
                "INSERT INTO groups (rid, name, scope, description, builtin) "
                "VALUES (?, ?, ?, ?, 0)",
                (rid, name, scope, description),
            )
        g = self.get_group(name)
        assert g is not None
        return g

    def remove_group(self, name: str) -> None:
        g = self._require_group(name)
        if g.builtin:
            raise DirectoryError(
                f"{name!r} is a built-in group of the domain", "", "ERROR_SPECIAL_GROUP"
            )
        with self._lock, _txn(self._conn) as c:
            if c.execute("SELECT 1 FROM users WHERE primary_group_rid = ?", (g.rid,)).fetchone():
                raise DirectoryError(
                    f"group {name!r} is the primary group of an account",
                    "",
                    "ERROR_MEMBER_IN_GROUP",
                )
            c.execute("DELETE FROM group_members WHERE member_rid = ?", (g.rid,))
            c.execute("DELETE FROM groups WHERE rid = ?", (g.rid,))

    def _member_rid(self, c: sqlite3.Connection, member: str) -> tuple[int, str]:
        row = c.execute("SELECT rid, kind FROM users WHERE name = ?", (member,)).fetchone()
        if row:
            return int(row[0]), row[1]
        row = c.execute("SELECT rid FROM groups WHERE name = ?", (member,)).fetchone()
        if row:
            return int(row[0]), "group"
        raise DirectoryError(
            f"{member!r} is neither an account nor a group", "", "NERR_UserNotFound"
        )

    def add_member(self, group: str, member: str) -> None:
        g = self._require_group(group)
        with self._lock, _txn(self._conn) as c:
            rid, kind = self._member_rid(c, member)
            if rid == g.rid:
                raise DirectoryError("a group cannot be a member of itself")
            if kind == "group" and rid in acc.group_closure(c, g.rid, None):
                raise DirectoryError(f"adding {member!r} to {group!r} would make a cycle")
            if (
                c.execute(
                    "SELECT 1 FROM group_members WHERE group_rid = ? AND member_rid = ?",
                    (g.rid, rid),
                ).fetchone()
                or c.execute(
                    "SELECT 1 FROM users WHERE rid = ? AND primary_group_rid = ?", (rid, g.rid)
                ).fetchone()
            ):
                raise DirectoryError(
                    f"{member!r} is already a member of {group!r}", "", "ERROR_MEMBER_IN_GROUP"
                )
            c.execute(
                "INSERT INTO group_members (group_rid, member_rid) VALUES (?, ?)", (g.rid, rid)
            )

    def remove_member(self, group: str, member: str) -> None:
        g = self._require_group(group)
        with self._lock, _txn(self._conn) as c:
            rid, _ = self._member_rid(c, member)
            if c.execute(
                "SELECT 1 FROM users WHERE rid = ? AND primary_group_rid = ?", (rid, g.rid)
            ).fetchone():
                raise DirectoryError(
                    f"{group!r} is the primary group of {member!r}",
                    "a primary group cannot be removed",
                    "ERROR_MEMBER_IN_GROUP",
                )
            if (
                c.execute(
                    "DELETE FROM group_members WHERE group_rid = ? AND member_rid = ?", (g.rid, rid)
                ).rowcount
                == 0
            ):
                raise DirectoryError(
                    f"{member!r} is not a member of {group!r}", "", "ERROR_MEMBER_NOT_IN_GROUP"
                )

    def group_members(self, name: str) -> list[dict]:
        """Direct members (accounts whose primary group this is, included) of group ``name``."""
        g = self._require_group(name)
        out: list[dict] = []
        with self._lock:
            for rid, uname, kind in self._conn.execute(
                "SELECT rid, name, kind FROM users WHERE primary_group_rid = ? OR rid IN "
                "(SELECT member_rid FROM group_members WHERE group_rid = ?) ORDER BY name",
                (g.rid, g.rid),
            ):
                out.append(
                    {"name": uname, "rid": rid, "sid": f"{self.domain_sid}-{rid}", "kind": kind}
                )
            for rid, gname in self._conn.execute(
                "SELECT rid, name FROM groups WHERE rid IN "
                "(SELECT member_rid FROM group_members WHERE group_rid = ?) ORDER BY name",
                (g.rid,),
            ):
                out.append(
                    {"name": gname, "rid": rid, "sid": f"{self.domain_sid}-{rid}", "kind": "group"}
                )
        return out

    def groups_of(self, name: str) -> list[Group]:
        """Every group of account ``name`` (primary first, nested included)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT rid, primary_group_rid FROM users WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return []
            rids = acc.group_closure(self._conn, row[0], row[1])
            by_rid = {g.rid: g for g in self.list_groups()}
        return [by_rid[r] for r in rids if r in by_rid]

    # --- SPNs -----------------------------------------------------------------------------

    def add_spn(self, account: str, spn: str) -> None:
        validate_spn(spn)
        if spn.split("/", 1)[0].lower() == "krbtgt":
            raise DirectoryError("krbtgt/ names belong to the krbtgt account")
        with self._lock, _txn(self._conn) as c:
            row = c.execute("SELECT rid FROM users WHERE name = ?", (account,)).fetchone()
            if row is None:
                raise DirectoryError(f"account {account!r} does not exist", "", "NERR_UserNotFound")
            _add_spn(c, row[0], spn)

    def remove_spn(self, account: str, spn: str) -> None:
        with self._lock, _txn(self._conn) as c:
            cur = c.execute(
                "DELETE FROM spns WHERE spn = ? AND rid = (SELECT rid FROM users WHERE name = ?)",
                (spn, account),
            )
            if cur.rowcount == 0:
                raise DirectoryError(
                    f"{account!r} has no SPN {spn!r}",
                    f"`lanman spn list {account}` shows its SPNs",
                    "ERROR_DS_OBJ_NOT_FOUND",
                )

    def list_spns(self, account: str | None = None) -> list[tuple[str, str]]:
        """``[(account, spn), ...]``."""
        with self._lock:
            if account is None:
                rows = self._conn.execute(
                    "SELECT u.name, s.spn FROM spns s JOIN users u "
                    "ON u.rid = s.rid ORDER BY u.name, s.spn"
                ).fetchall()
            else:
                if self._row_by_name(account) is None:
                    raise DirectoryError(
                        f"account {account!r} does not exist", "", "NERR_UserNotFound"
                    )
                rows = self._conn.execute(
                    "SELECT u.name, s.spn FROM spns s JOIN users u "
                    "ON u.rid = s.rid WHERE u.name = ? ORDER BY s.spn",
                    (account,),
                ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # --- delegation (MS-SFU 3.2.1) ---------------------------------------------------------

    def _account_row(self, c: sqlite3.Connection, name: str) -> tuple[int, str]:
        row = c.execute("SELECT rid, name FROM users WHERE name = ?", (name,)).fetchone()
        if row is None and not name.endswith("$"):
            row = c.execute("SELECT rid, name FROM users WHERE name = ?", (name + "$",)).fetchone()
        if row is None:
            raise DirectoryError(
                f"account {name!r} does not exist",
                "`lanman user list` and `lanman computer list` show the accounts",
                "NERR_UserNotFound",
            )
        return int(row[0]), row[1]

    def delegation(self, name: str) -> dlg.Delegation:
        """The delegation settings of account ``name`` (NAME or NAME$)."""
        with self._lock:
            _rid, sam = self._account_row(self._conn, name)
        p = self.get(sam)
        assert p is not None
        allowed_from = []
        for sid in dlg.rbcd_sids(p.allowed_to_act):
            who = None
            if sid.upper().startswith(self.domain_sid.upper() + "-"):
                q = self.get_by_rid(int(sid.rsplit("-", 1)[1]))
                who = q.name if q is not None else None
            allowed_from.append({"sid": sid, "name": who})
        return dlg.Delegation(
            account=p.name,
            allowed_to=list(p.delegate_to),
            protocol_transition=bool(p.uac & UAC.TRUSTED_TO_AUTH_FOR_DELEGATION),
            unconstrained=bool(p.uac & UAC.TRUSTED_FOR_DELEGATION),
            sensitive=bool(p.uac & UAC.NOT_DELEGATED),
            protected_user=p.protected_user,
            allowed_from=allowed_from,
        )

    def set_delegation(
        self,
        name: str,
        *,
        allow_to: list[str] | tuple[str, ...] = (),
        remove_to: list[str] | tuple[str, ...] = (),
        clear_to: bool = False,
        protocol_transition: bool | None = None,
        unconstrained: bool | None = None,
        allow_from: list[str] | tuple[str, ...] | None = None,
        add_from: list[str] | tuple[str, ...] = (),
        clear_rbcd: bool = False,
    ) -> dlg.Delegation:
        """Change who account ``name`` may delegate to and who may delegate to it.

        ``allow_to``/``remove_to``: SPNs of msDS-AllowedToDelegateTo. ``allow_from`` replaces the
        RBCD descriptor with one granting these accounts (or SIDs); ``add_from`` adds to it;
        ``clear_rbcd`` removes it (as ``Set-ADComputer -PrincipalsAllowedToDelegateToAccount``
        with $null). ``protocol_transition``: TRUSTED_TO_AUTH_FOR_DELEGATION;
        ``unconstrained``: TRUSTED_FOR_DELEGATION."""
        with self._lock, _txn(self._conn) as c:
            rid, sam = self._account_row(c, name)
            if clear_to:
                c.execute("DELETE FROM delegation_targets WHERE rid = ?", (rid,))
            dlg.remove_targets(c, rid, list(remove_to), sam)
            dlg.add_targets(c, rid, list(allow_to))
            dlg.set_uac_bit(c, rid, UAC.TRUSTED_TO_AUTH_FOR_DELEGATION, protocol_transition)
            dlg.set_uac_bit(c, rid, UAC.TRUSTED_FOR_DELEGATION, unconstrained)
            if clear_rbcd or allow_from is not None or add_from:
                (old,) = c.execute(
                    "SELECT allowed_to_act FROM users WHERE rid = ?", (rid,)
                ).fetchone()
                sids = [] if clear_rbcd or allow_from is not None else dlg.rbcd_sids(old)
                for who in [*(allow_from or ()), *add_from]:
                    sids.append(self._sid_of(c, who))
                c.execute(
                    "UPDATE users SET allowed_to_act = ? WHERE rid = ?",
                    (dlg.rbcd_descriptor(sids), rid),
                )
        return self.delegation(sam)

    def _sid_of(self, c: sqlite3.Connection, who: str) -> str:
        """An account name (NAME or NAME$) or a SID string."""
        if who.upper().startswith("S-1-"):
            from lanman.directory.sid import validate_sid

            return validate_sid(who)
        rid, _ = self._account_row(c, who)
        return f"{self.domain_sid}-{rid}"

    # --- keytabs --------------------------------------------------------------------------

    def keytab_entries(
        self,
        principal: str,
        *,
        with_spns: bool | None = None,
        rc4: bool = True,
        now: int | None = None,
    ) -> list:
        """Keytab entries for ``principal`` (account name, name@REALM or SPN): one per key.

        For a computer account (or with ``with_spns``) the entries also cover its
        sAMAccountName and every SPN, as ``ktpass``/``net ads keytab`` produce."""
        from lanman.directory.keytab import KRB5_NT_PRINCIPAL, KRB5_NT_SRV_HST, KeytabEntry

        p = self.find_principal(principal)
        if p is None:
            raise DirectoryError(
                f"no account or SPN {principal!r} in the directory",
                "`lanman user list`, `lanman computer list` and `lanman spn list` show what exists",
                "ERROR_DS_OBJ_NOT_FOUND",
            )
        if not p.keys:
            raise DirectoryError(
                f"{p.name} has no usable keys", f"set its password (`lanman user passwd {p.name}`)"
            )
        given = (
            principal.rsplit("@", 1)[0]
            if "@" in principal and self._realm_ok(principal.rsplit("@", 1)[1])
            else principal
        )
        if "@" in given:  # UPN form: use the account name
            given = p.name
        if "/" not in given:
            given = p.name  # canonical case of the sAMAccountName
        names = [given]
        if with_spns or (with_spns is None and p.kind == "computer"):
            names += [p.name] + p.spns
        ts = int(time.time()) if now is None else now
        out = []
        for n in dict.fromkeys(names):
            comps = tuple(n.split("/"))
            nt = KRB5_NT_SRV_HST if len(comps) > 1 else KRB5_NT_PRINCIPAL
            for etype in etype_order(p.keys):
                if etype == ETYPE_RC4 and not rc4:
                    continue
                out.append(KeytabEntry(comps, self.realm, nt, ts, p.kvno, etype, p.keys[etype]))
        if not out:
            raise DirectoryError(
                f"{p.name} has only an RC4 key and RC4 was excluded",
                f"set its password (`lanman user passwd {p.name}`) to derive AES keys",
            )
        return out


def insert_account(
    c: sqlite3.Connection,
    name: str,
    password: str,
    *,
    kind: str,
    uac: int,
    primary_group_rid: int,
    rid: int | None = None,
    enabled: bool = True,
    description: str = "",
) -> int:
    """Insert an account row with its NT hash and (domain provisioned) AES keys."""
    if c.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise DirectoryError(
            f"account {name!r} already exists", "choose another name", "NERR_UserExists"
        )
    if c.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
        raise DirectoryError(
            f"{name!r} is already the name of a group", "choose another name", "NERR_GroupExists"
        )
    rid = acc.allocate_rid(c) if rid is None else rid
    c.execute(
        "INSERT INTO users (name, rid, nt_hash, enabled, created, kind, uac, primary_group_rid, "
        "keys_pending, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        (
            name,
            rid,
            nt_hash(password),
            int(enabled),
            _now_iso(),
            kind,
            uac,
            primary_group_rid,
            description,
        ),
    )
    acc.store_password_keys(c, rid, password, new=True)
    return rid


def create_computer(
    c: sqlite3.Connection,
    dom: acc.DomainInfo,
    name: str,
    *,
    password: str | None = None,
    spns: list[str] | tuple[str, ...] = (),
    dc: bool = False,
    default_spns: bool = True,
) -> tuple[str, str]:
    """Insert computer account ``NAME$`` inside the caller's transaction; returns
    ``(sAMAccountName, password)``."""
    short = name.removesuffix("$")
    _check_name(short, "computer", COMPUTER_NAME_MAX)
    if "." in short:
        raise DirectoryError(
            f"computer name {short!r} contains a period",
            "give the NetBIOS name (at most 15 characters, no periods)",
            "NERR_BadUsername",
        )
    sam = short + "$"
    password = password if password is not None else random_machine_password()
    validate_password(password)
    all_spns = list(spns)
    if default_spns:
        dns = f"{short.lower()}.{dom.dns_domain}"
        all_spns = [
            f"host/{short.upper()}",
            f"host/{dns}",
            f"cifs/{short.upper()}",
            f"cifs/{dns}",
            *all_spns,
        ]
    for s in all_spns:
        validate_spn(s)
    uac = (
        (UAC.SERVER_TRUST_ACCOUNT | UAC.TRUSTED_FOR_DELEGATION)
        if dc
        else UAC.WORKSTATION_TRUST_ACCOUNT
    )
    rid = insert_account(
        c,
        sam,
        password,
        kind="computer",
        uac=int(uac),
        primary_group_rid=DOMAIN_CONTROLLERS if dc else DOMAIN_COMPUTERS,
    )
    for s in dict.fromkeys(all_spns):
        _add_spn(c, rid, s)
    return sam, password


def _add_spn(c: sqlite3.Connection, rid: int, spn: str) -> None:
    row = c.execute(
        "SELECT u.name FROM spns s JOIN users u ON u.rid = s.rid WHERE s.spn = ?", (spn,)
    ).fetchone()
    if row:
        raise DirectoryError(
            f"SPN {spn!r} is already registered on {row[0]!r}",
            "an SPN must be unique in the domain (setspn -S refuses duplicates "
            "too); remove it there first",
            "ERROR_DS_NAME_ERROR_NOT_UNIQUE",
        )
    c.execute("INSERT INTO spns (spn, rid) VALUES (?, ?)", (spn, rid))
