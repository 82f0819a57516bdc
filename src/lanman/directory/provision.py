"""``lanman domain provision``: turn a lanman home into a domain controller's directory.

Creates (MS-DTYP 2.4.2.4 RIDs): the domain SID ``S-1-5-21-x-y-z``; Administrator (500, member
of Domain Admins, Schema Admins, Enterprise Admins, Group Policy Creator Owners); Guest (501,
disabled, primary group Domain Guests); krbtgt (502, random password, stored disabled as on
Windows); the well-known groups; and the host's computer account ``NAME$`` (primary group
Domain Controllers, SPNs host/ and cifs/ for its NetBIOS and DNS names, random machine
password). Existing local users become domain users with their RIDs; only their NT hashes are
known, so they stay RC4-only until their next password set.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from lanman.directory import accounts as acc
from lanman.directory.directory import (
    DB_FILE,
    _now_iso,
    _txn,
    create_computer,
    insert_account,
    random_machine_password,
)
from lanman.directory.errors import DirectoryError
from lanman.directory.keys import nt_hash
from lanman.directory.model import (
    ADMINISTRATOR_GROUPS,
    DOMAIN_GUESTS,
    DOMAIN_RID_ADMINISTRATOR,
    DOMAIN_RID_GUEST,
    DOMAIN_RID_KRBTGT,
    DOMAIN_USERS,
    UAC,
    WELL_KNOWN_GROUPS,
)
from lanman.directory.sid import new_domain_sid, validate_sid
from lanman.store import password_policy, schema, validate_password

__all__ = ["ProvisionResult", "provision", "validate_netbios_domain", "validate_realm"]

_REALM_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
_NETBIOS_BAD = set('\\/:*?"<>|.,;=+[] ')


def validate_realm(realm: str) -> str:
    """A DNS-style realm (``LANMAN.TEST``); returned in upper case as AD realms are."""
    if not isinstance(realm, str) or not _REALM_RE.match(realm) or len(realm) > 253:
        raise DirectoryError(
            f"{realm!r} is not a realm name",
            "give the DNS domain in upper case, e.g. --realm LANMAN.TEST",
        )
    return realm.upper()


def validate_netbios_domain(name: str) -> str:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= 15
        or any(c in _NETBIOS_BAD or ord(c) < 0x20 for c in name)
    ):
        raise DirectoryError(
            f"{name!r} is not a NetBIOS domain name",
            "use 1 to 15 letters, digits or hyphens, e.g. --domain LANMAN",
        )
    return name.upper()


@dataclass(slots=True)
class ProvisionResult:
    realm: str
    domain: str
    domain_sid: str
    dc_name: str
    dc_account: str
    admin_password_generated: str | None  # shown once when no admin password was given
    migrated_users: list[str] = field(default_factory=list)  # RC4-only until password set


def provision(
    home_path: str | Path,
    *,
    realm: str,
    domain: str,
    host_name: str,
    admin_password: str | None = None,
    domain_sid: str | None = None,
) -> ProvisionResult:
    """Provision the domain in the home at ``home_path`` (its ``lanman.sqlite``).

    Refuses when a domain already exists or when a local account already uses a name the
    domain needs (Administrator, Guest, krbtgt, ``HOST$``)."""
    realm = validate_realm(realm)
    domain = validate_netbios_domain(domain)
    host = host_name.rstrip("$").upper()
    if not 1 <= len(host) <= 15 or "." in host:
        raise DirectoryError(
            f"host name {host_name!r} is not a NetBIOS computer name",
            "set server_name in lanman.toml or pass --host-name",
        )
    generated = None
    if admin_password is None:
        while True:  # a generated password must meet the policy it is created under
            admin_password = generated = secrets.token_urlsafe(18)
            if password_policy.complexity_problem(admin_password, "Administrator") is None:
                break
    validate_password(admin_password)
    why = password_policy.check_password(
        password_policy.AD_DEFAULTS, admin_password, "Administrator", [], b""
    )
    if why is not None:
        raise DirectoryError(
            f"the Administrator password does not meet the domain's password policy: {why}",
            "choose a password of 7+ characters with three of: upper case, lower case, "
            "digits, symbols",
            "ERROR_INVALID_PARAMETER",
        )
    sid = validate_sid(domain_sid) if domain_sid else new_domain_sid()
    if not sid.startswith("S-1-5-21-") or len(sid.split("-")) != 7:
        raise DirectoryError(f"{sid!r} is not a domain SID (S-1-5-21-x-y-z)")

    path = Path(home_path)
    path = path if path.suffix == ".sqlite" else path / DB_FILE
    conn = schema.connect(path)
    try:
        migrated = _provision(conn, realm, domain, host, admin_password, sid)
    finally:
        conn.close()
    return ProvisionResult(
        realm=realm,
        domain=domain,
        domain_sid=sid,
        dc_name=host,
        dc_account=host + "$",
        admin_password_generated=generated,
        migrated_users=migrated,
    )


def _provision(
    conn: sqlite3.Connection, realm: str, domain: str, host: str, admin_password: str, sid: str
) -> list[str]:
    with _txn(conn) as c:
        if acc.domain_info(c) is not None:
            d = acc.domain_info(c)
            raise DirectoryError(
                f"domain {d.netbios} ({d.realm}) is already provisioned here",
                "use another --home for another domain",
                "ERROR_DOMAIN_EXISTS",
            )
        taken = [
            r[0]
            for r in c.execute(
                "SELECT name FROM users WHERE name IN (?, ?, ?, ?)",
                ("Administrator", "Guest", "krbtgt", host + "$"),
            )
        ]
        if taken:
            raise DirectoryError(
                f"local account(s) {', '.join(taken)} use names the domain needs",
                "rename or remove them (`lanman user remove NAME`) and provision again",
                "NERR_UserExists",
            )
        clash = [
            r[0]
            for r in c.execute(
                "SELECT name FROM users WHERE name IN ({})".format(
                    ",".join("?" * len(WELL_KNOWN_GROUPS))
                ),
                [g.name for g in WELL_KNOWN_GROUPS],
            )
        ]
        if clash:
            raise DirectoryError(
                f"local account(s) {', '.join(clash)} use group names",
                "remove them and provision again",
                "NERR_GroupExists",
            )
        c.execute(
            "INSERT INTO domain (id, realm, netbios, sid, dc_name, created) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            (realm, domain, sid, host, _now_iso()),
        )
        password_policy.save(c, password_policy.AD_DEFAULTS)  # the Default Domain Policy
        for g in WELL_KNOWN_GROUPS:
            c.execute(
                "INSERT INTO groups (rid, name, scope, description, builtin) "
                "VALUES (?, ?, ?, ?, 1)",
                (g.rid, g.name, g.scope.value, g.description),
            )
        migrated = [
            r[0] for r in c.execute("SELECT name FROM users WHERE kind = 'user' ORDER BY name")
        ]
        c.execute(
            "UPDATE users SET keys_pending = 1, primary_group_rid = ? WHERE kind = 'user'",
            (DOMAIN_USERS,),
        )

        def insert(
            name: str,
            rid: int,
            password: str,
            uac: int,
            pgid: int,
            enabled: bool,
            description: str,
            kind: str = "user",
        ) -> None:
            insert_account(
                c,
                name,
                password,
                kind=kind,
                uac=uac,
                primary_group_rid=pgid,
                rid=rid,
                enabled=enabled,
                description=description,
            )

        normal = int(UAC.NORMAL_ACCOUNT | UAC.DONT_EXPIRE_PASSWORD)
        insert(
            "Administrator",
            DOMAIN_RID_ADMINISTRATOR,
            admin_password,
            normal,
            DOMAIN_USERS,
            True,
            "Built-in account for administering the computer/domain",
        )
        for g in ADMINISTRATOR_GROUPS:
            c.execute(
                "INSERT INTO group_members (group_rid, member_rid) VALUES (?, ?)",
                (g, DOMAIN_RID_ADMINISTRATOR),
            )
        # Guest: empty password, disabled (PASSWD_NOTREQD as on Windows).
        c.execute(
            "INSERT INTO users (name, rid, nt_hash, enabled, created, kind, uac, "
            "primary_group_rid, keys_pending, description) VALUES (?, ?, ?, 0, ?, 'user', ?, ?, "
            "1, ?)",
            (
                "Guest",
                DOMAIN_RID_GUEST,
                nt_hash(""),
                _now_iso(),
                int(UAC.NORMAL_ACCOUNT | UAC.PASSWD_NOTREQD | UAC.DONT_EXPIRE_PASSWORD),
                DOMAIN_GUESTS,
                "Built-in account for guest access to the computer/domain",
            ),
        )
        acc.store_password_keys(c, DOMAIN_RID_GUEST, "", new=True)
        insert(
            "krbtgt",
            DOMAIN_RID_KRBTGT,
            random_machine_password(),
            int(UAC.NORMAL_ACCOUNT),
            DOMAIN_USERS,
            False,
            "Key Distribution Center Service Account",
            kind="krbtgt",
        )
        c.execute("INSERT INTO spns (spn, rid) VALUES ('kadmin/changepw', ?)", (DOMAIN_RID_KRBTGT,))
        # The DC's own computer account: NAME$ in Domain Controllers with host/ and cifs/ SPNs.
        dom = acc.domain_info(c)
        assert dom is not None
        create_computer(c, dom, host, dc=True)
    return migrated
