"""SQLite schema of ``lanman.sqlite`` and its migrations.

One file holds every table (accounts, shares, the event log) so that a home directory is one
database plus ``lanman.toml``. ``PRAGMA user_version`` is the schema version; each entry of
:data:`MIGRATIONS` moves the file from version *n* to *n + 1* inside one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 6

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- Local accounts. Only the NT hash (MD4 of UTF-16LE password) is kept, never the password.
    CREATE TABLE users (
        name    TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        rid     INTEGER NOT NULL UNIQUE,
        nt_hash BLOB NOT NULL CHECK (length(nt_hash) = 16),
        enabled INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL
    );
    CREATE TABLE shares (
        name      TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        path      TEXT NOT NULL,
        read_only INTEGER NOT NULL DEFAULT 0,
        guest_ok  INTEGER NOT NULL DEFAULT 0,
        remark    TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time_utc  TEXT NOT NULL,
        event_id  INTEGER NOT NULL,
        level     TEXT NOT NULL,
        source    TEXT NOT NULL,
        message   TEXT NOT NULL,
        data_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_time ON events (time_utc);
    CREATE INDEX events_event_id ON events (event_id);
    -- Windows local accounts get RIDs from 1000 on and never reuse one.
    INSERT INTO meta (key, value) VALUES ('next_rid', '1000');
    """,
    # 1 -> 2: the domain directory (lanman.directory). Additive: local users stay as they are
    # and become domain users (same RID, domain SID) once `lanman domain provision` has run.
    """
    ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
    ALTER TABLE users ADD COLUMN uac INTEGER NOT NULL DEFAULT 512;
    ALTER TABLE users ADD COLUMN primary_group_rid INTEGER NOT NULL DEFAULT 513;
    -- unix seconds; NULL = never / not locked / unknown
    ALTER TABLE users ADD COLUMN account_expires INTEGER;
    ALTER TABLE users ADD COLUMN lockout_time INTEGER;
    ALTER TABLE users ADD COLUMN bad_pwd_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN bad_pwd_time INTEGER;
    ALTER TABLE users ADD COLUMN pwd_last_set INTEGER;
    ALTER TABLE users ADD COLUMN kvno INTEGER NOT NULL DEFAULT 1;
    -- 1 = only the NT hash is known (user created before the domain): RC4 until next password
    ALTER TABLE users ADD COLUMN keys_pending INTEGER NOT NULL DEFAULT 1;
    -- msDS-SupportedEncryptionTypes; NULL = not set (AES + RC4)
    ALTER TABLE users ADD COLUMN supported_enctypes INTEGER;
    ALTER TABLE users ADD COLUMN description TEXT NOT NULL DEFAULT '';
    CREATE TABLE domain (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        realm       TEXT NOT NULL,
        netbios     TEXT NOT NULL,
        sid         TEXT NOT NULL,
        dc_name     TEXT NOT NULL,
        created     TEXT NOT NULL,
        lockout_threshold INTEGER NOT NULL DEFAULT 0,
        lockout_duration  INTEGER NOT NULL DEFAULT 600,
        lockout_window    INTEGER NOT NULL DEFAULT 600
    );
    -- Password-derived long-term keys (never passwords). RC4 is users.nt_hash.
    CREATE TABLE kerberos_keys (
        rid   INTEGER NOT NULL REFERENCES users (rid) ON DELETE CASCADE,
        etype INTEGER NOT NULL,
        kvno  INTEGER NOT NULL,
        key   BLOB NOT NULL,
        salt  BLOB NOT NULL,
        PRIMARY KEY (rid, etype)
    );
    CREATE TABLE spns (
        spn TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        rid INTEGER NOT NULL REFERENCES users (rid) ON DELETE CASCADE
    );
    CREATE INDEX spns_rid ON spns (rid);
    CREATE TABLE groups (
        rid         INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        scope       TEXT NOT NULL DEFAULT 'global',
        description TEXT NOT NULL DEFAULT '',
        builtin     INTEGER NOT NULL DEFAULT 0
    );
    -- member_rid is an account (users.rid) or a group (groups.rid): nested groups are allowed.
    CREATE TABLE group_members (
        group_rid  INTEGER NOT NULL REFERENCES groups (rid) ON DELETE CASCADE,
        member_rid INTEGER NOT NULL,
        PRIMARY KEY (group_rid, member_rid)
    );
    CREATE INDEX group_members_member ON group_members (member_rid);
    """,
    # 2 -> 3: the event log's size, kept exact by triggers for every process that writes to it
    # (retention: lanman.events removes the oldest events past the configured maximum).
    """
    CREATE TABLE event_log_size (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        bytes INTEGER NOT NULL
    );
    INSERT INTO event_log_size (id, bytes) SELECT 1, COALESCE(SUM(
        length(message) + length(data_json) + length(source) + length(level) + 64), 0)
        FROM events;
    CREATE TRIGGER events_size_insert AFTER INSERT ON events BEGIN
        UPDATE event_log_size SET bytes = bytes + length(NEW.message) + length(NEW.data_json)
            + length(NEW.source) + length(NEW.level) + 64 WHERE id = 1;
    END;
    CREATE TRIGGER events_size_delete AFTER DELETE ON events BEGIN
        UPDATE event_log_size SET bytes = bytes - length(OLD.message) - length(OLD.data_json)
            - length(OLD.source) - length(OLD.level) - 64 WHERE id = 1;
    END;
    """,
    # 3 -> 4: per-share SMB 3 encryption (Set-SmbShare -EncryptData; MS-SMB2 Share.EncryptData).
    """
    ALTER TABLE shares ADD COLUMN encrypt_data INTEGER NOT NULL DEFAULT 0;
    """,
    # 4 -> 5: authentication policies and silos (MS-ADSC 2.120/2.121, MS-ADA2 msDS-AuthNPolicy*),
    # each account's assigned policy and silo, its object class, and Kerberos delegation
    # (msDS-AllowedToDelegateTo, msDS-AllowedToActOnBehalfOfOtherIdentity; MS-SFU 3.2.5.2).
    """
    CREATE TABLE authn_policies (
        name        TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        guid        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        enforced    INTEGER NOT NULL DEFAULT 0,
        protected   INTEGER NOT NULL DEFAULT 0,
        -- msDS-{User,Computer,Service}TGTLifetime: 100 ns ticks as AD stores them; NULL = unset
        user_tgt_lifetime     INTEGER,
        computer_tgt_lifetime INTEGER,
        service_tgt_lifetime  INTEGER,
        -- self-relative security descriptors (MS-DTYP 2.4.6); NULL = attribute absent
        user_allowed_from     BLOB,
        user_allowed_to       BLOB,
        service_allowed_from  BLOB,
        service_allowed_to    BLOB,
        computer_allowed_to   BLOB,
        user_allow_ntlm       INTEGER NOT NULL DEFAULT 0,
        service_allow_ntlm    INTEGER NOT NULL DEFAULT 0,
        strong_ntlm_policy    INTEGER,
        created     TEXT NOT NULL
    );
    CREATE TABLE authn_silos (
        name        TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        guid        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        enforced    INTEGER NOT NULL DEFAULT 0,
        protected   INTEGER NOT NULL DEFAULT 0,
        -- msDS-{User,Computer,Service}AuthNPolicy links (policy names)
        user_policy     TEXT,
        computer_policy TEXT,
        service_policy  TEXT,
        created     TEXT NOT NULL
    );
    -- msDS-AuthNPolicySiloMembers: the accounts permitted in a silo
    CREATE TABLE authn_silo_members (
        silo       TEXT NOT NULL REFERENCES authn_silos (name) ON DELETE CASCADE
                   ON UPDATE CASCADE COLLATE NOCASE,
        member_rid INTEGER NOT NULL REFERENCES users (rid) ON DELETE CASCADE,
        PRIMARY KEY (silo, member_rid)
    );
    CREATE INDEX authn_silo_members_rid ON authn_silo_members (member_rid);
    -- msDS-AssignedAuthNPolicy / msDS-AssignedAuthNPolicySilo (names; NULL = none)
    ALTER TABLE users ADD COLUMN assigned_policy TEXT;
    ALTER TABLE users ADD COLUMN assigned_silo TEXT;
    -- most-derived objectClass when it is not the one `kind` implies
    -- ('msDS-ManagedServiceAccount', 'msDS-GroupManagedServiceAccount'); NULL = from kind
    ALTER TABLE users ADD COLUMN object_class TEXT;
    -- msDS-AllowedToActOnBehalfOfOtherIdentity (resource-based constrained delegation)
    ALTER TABLE users ADD COLUMN allowed_to_act BLOB;
    -- msDS-AllowedToDelegateTo (classic constrained delegation)
    CREATE TABLE delegation_targets (
        rid INTEGER NOT NULL REFERENCES users (rid) ON DELETE CASCADE,
        spn TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (rid, spn)
    );
    -- domainControllerFunctionality (MS-ADTS 6.1.4.2): 7 = Windows Server 2016
    ALTER TABLE domain ADD COLUMN dc_functional_level INTEGER NOT NULL DEFAULT 7;
    """,
    # 5 -> 6: the domain password policy (MS-SAMR 2.2.3.5). An existing domain keeps behaving as
    # before (0 = no requirement); `lanman domain provision` writes AD's defaults.
    """
    ALTER TABLE domain ADD COLUMN min_pwd_length INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE domain ADD COLUMN pwd_complexity INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE domain ADD COLUMN pwd_history_length INTEGER NOT NULL DEFAULT 0;
    -- seconds; 0 = passwords never expire / may be changed at once
    ALTER TABLE domain ADD COLUMN max_pwd_age INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE domain ADD COLUMN min_pwd_age INTEGER NOT NULL DEFAULT 0;
    -- NT hashes of replaced passwords, for the history check (never passwords)
    CREATE TABLE password_history (
        rid      INTEGER NOT NULL REFERENCES users (rid) ON DELETE CASCADE,
        nt_hash  BLOB NOT NULL CHECK (length(nt_hash) = 16),
        set_time INTEGER NOT NULL
    );
    CREATE INDEX password_history_rid ON password_history (rid);
    """,
)


class SchemaTooNewError(RuntimeError):
    pass


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    The connection may be shared between threads; callers serialise access with a lock.
    """
    path = Path(path)
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this lanman supports "
            f"({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for stmt in _split(MIGRATIONS[version]):
                    conn.execute(stmt)
                version += 1
                conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
