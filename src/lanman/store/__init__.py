"""Accounts and shares in ``lanman.sqlite`` (one SQLite file in the home directory).

Accounts keep only the NT hash (MD4 of the UTF-16LE password, MS-NLMP 3.3.1): NTLM needs
nothing else, and the password itself is never written anywhere. Note that the NT hash is
password-equivalent for NTLM, so the file is created mode 0600.

Names are compared case-insensitively, as Windows does (``COLLATE NOCASE``; ASCII folding).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from lanman.crypto.md4 import nt_hash
from lanman.store import password_policy, schema

__all__ = [
    "Share",
    "Store",
    "StoreError",
    "User",
    "enforce_password_policy",
    "validate_password",
    "validate_share_name",
    "validate_user_name",
]

# Win32 / NERR codes that `net share` and `net user` report for the same mistakes
# (lmerr.h, winerror.h). Kept here until errors/win32.py exists to host them.
_WIN32: dict[str, tuple[int, str]] = {
    "ERROR_INVALID_NAME": (
        123,
        "The filename, directory name, or volume label syntax is incorrect.",
    ),
    "ERROR_ACCESS_DENIED": (5, "Access is denied."),
    "ERROR_INVALID_PARAMETER": (87, "The parameter is incorrect."),
    "NERR_UnknownDevDir": (2116, "The device or directory does not exist."),
    "NERR_DuplicateShare": (2118, "The name has already been shared."),
    "NERR_BadUsername": (2202, "The user name or group name parameter is invalid."),
    "NERR_UserNotFound": (2221, "The user name could not be found."),
    "NERR_UserExists": (2224, "The account already exists."),
    "NERR_PasswordTooShort": (
        2245,
        (
            "The password does not meet the password policy requirements. Check the minimum "
            "password length, password complexity and password history requirements."
        ),
    ),
    "NERR_NetNameNotFound": (2310, "This shared resource does not exist."),
}


class StoreError(ValueError):
    """A request the store refuses. ``str(e)`` is the one-line explanation.

    Attributes: ``message`` (our explanation), ``remedy`` (what to do), ``win32_name`` /
    ``win32_code`` / ``win32_text`` (the Windows error `net share`/`net user` would show).
    """

    def __init__(self, message: str, remedy: str = "", win32: str = "ERROR_INVALID_PARAMETER"):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.win32_name = win32
        self.win32_code, self.win32_text = _WIN32[win32]


@dataclass(slots=True)
class User:
    name: str
    rid: int
    nt_hash: bytes
    enabled: bool
    created: str

    def __repr__(self) -> str:  # never print the hash by accident
        return f"User(name={self.name!r}, rid={self.rid}, enabled={self.enabled})"


@dataclass(slots=True)
class Share:
    name: str
    path: str
    read_only: bool
    guest_ok: bool
    remark: str
    encrypt_data: bool = False  # Set-SmbShare -EncryptData (MS-SMB2 3.3.1.6 Share.EncryptData)


# --- validation -------------------------------------------------------------------------------

SHARE_NAME_MAX = 80
SHARE_NAME_BAD = set('\\/:*?"<>|')
RESERVED_SHARES = frozenset({"IPC$"})
USER_NAME_MAX = 20  # SAM account name limit
USER_NAME_BAD = set('"/\\[]:;|=,+*?<>')
PASSWORD_MAX = 256  # longest password Windows accepts


def _has_control(s: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in s)


def validate_share_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise StoreError(
            "share name is empty", "give a name of 1 to 80 characters", "ERROR_INVALID_NAME"
        )
    if len(name) > SHARE_NAME_MAX:
        raise StoreError(
            f"share name is {len(name)} characters long; the limit is {SHARE_NAME_MAX}",
            "choose a shorter name",
            "ERROR_INVALID_NAME",
        )
    bad = sorted({c for c in name if c in SHARE_NAME_BAD})
    if bad or _has_control(name):
        what = " ".join(bad) if bad else "control characters"
        raise StoreError(
            f"share name {name!r} contains characters Windows does not allow: {what}",
            'share names may not contain \\ / : * ? " < > | or control characters',
            "ERROR_INVALID_NAME",
        )
    if name.upper() in RESERVED_SHARES:
        raise StoreError(
            f"share name {name!r} is reserved for the server's own use",
            "choose another name; IPC$ (named pipes) is always present",
            "ERROR_INVALID_NAME",
        )
    return name


def validate_user_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise StoreError(
            "user name is empty", "give a name of 1 to 20 characters", "NERR_BadUsername"
        )
    if len(name) > USER_NAME_MAX:
        raise StoreError(
            f"user name is {len(name)} characters long; Windows allows at most {USER_NAME_MAX}",
            "choose a shorter name",
            "NERR_BadUsername",
        )
    bad = sorted({c for c in name if c in USER_NAME_BAD})
    if bad or _has_control(name):
        what = " ".join(bad) if bad else "control characters"
        raise StoreError(
            f"user name {name!r} contains characters Windows does not allow: {what}",
            'user names may not contain " / \\ [ ] : ; | = , + * ? < > or control characters',
            "NERR_BadUsername",
        )
    if set(name) <= {".", " "}:
        raise StoreError(
            f"user name {name!r} consists only of periods and spaces",
            "use at least one letter or digit",
            "NERR_BadUsername",
        )
    return name


def validate_password(password: str) -> str:
    if not isinstance(password, str) or password == "":
        raise StoreError(
            "empty passwords are refused", "give a non-empty password", "NERR_PasswordTooShort"
        )
    if len(password) > PASSWORD_MAX:
        raise StoreError(
            f"password is longer than {PASSWORD_MAX} characters",
            "use a shorter password",
            "NERR_PasswordTooShort",
        )
    return password


def _resolve_share_path(path: str | os.PathLike[str]) -> str:
    p = Path(path).expanduser()
    try:
        resolved = p.resolve(strict=True)
    except (FileNotFoundError, RuntimeError, OSError):
        raise StoreError(
            f"share path {str(path)!r} does not exist",
            f"create the directory first (mkdir -p {str(path)!r})",
            "NERR_UnknownDevDir",
        ) from None
    if not resolved.is_dir():
        raise StoreError(
            f"share path {str(resolved)!r} is not a directory",
            "give the path of a directory",
            "NERR_UnknownDevDir",
        )
    return str(resolved)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- store ------------------------------------------------------------------------------------


class Store:
    """Accounts and shares. Thread-safe (one connection, one lock); WAL lets other
    processes (the CLI while ``lanman up`` runs) read and write the same file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            # Create the file 0600 before SQLite touches it: it holds password-equivalent hashes.
            # (The only descriptor of the database lanman ever opens outside SQLite: O_EXCL
            # means the file did not exist, so no SQLite lock of this process can be on it;
            # closing any other descriptor of the file would drop the process's POSIX locks.)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as e:
            raise StoreError(
                f"cannot create {str(self.path)!r}: {e.strerror}",
                "check that the home directory exists and is writable",
            ) from None
        try:
            self._conn = schema.connect(self.path)
        except schema.SchemaTooNewError as e:
            raise StoreError(f"{self.path}: {e}", "upgrade lanman") from None
        except sqlite3.Error as e:
            raise StoreError(
                f"cannot open database {str(self.path)!r}: {e}",
                "check it with `lanman store check`; restore a backup with "
                "`lanman store restore FILE` if it is damaged",
            ) from None
        self._unix_users_table = False

    # Unix user mapping (``lanman user set NAME --unix-user U``, lanman.fsid). An additive
    # table created on first use (CREATE TABLE IF NOT EXISTS) rather than a numbered
    # migration: nothing else depends on it and older lanman versions simply ignore it.

    _UNIX_USERS_DDL = (
        "CREATE TABLE IF NOT EXISTS unix_users ("
        " rid INTEGER PRIMARY KEY REFERENCES users (rid) ON DELETE CASCADE,"
        " unix_user TEXT NOT NULL)"
    )

    def _has_unix_users(self, create: bool) -> bool:
        if self._unix_users_table:
            return True
        if create:
            self._conn.execute(self._UNIX_USERS_DDL)
        elif not self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unix_users'"
        ).fetchone():
            return False
        self._unix_users_table = True
        return True

    def set_unix_user(self, name: str, unix_user: str | None) -> None:
        """Map account ``name`` to Unix user ``unix_user`` (None: remove the mapping)."""
        with self._lock:
            self._has_unix_users(create=True)
            with _txn(self._conn) as c:
                row = c.execute("SELECT rid FROM users WHERE name = ?", (name,)).fetchone()
                if row is None:
                    raise _no_user(name)
                if unix_user is None:
                    c.execute("DELETE FROM unix_users WHERE rid = ?", (row[0],))
                else:
                    c.execute(
                        "INSERT OR REPLACE INTO unix_users (rid, unix_user) VALUES (?, ?)",
                        (row[0], unix_user),
                    )

    def get_unix_user(self, name: str) -> str | None:
        with self._lock:
            if not self._has_unix_users(create=False):
                return None
            row = self._conn.execute(
                "SELECT m.unix_user FROM unix_users m JOIN users u ON u.rid = m.rid "
                "WHERE u.name = ?",
                (name,),
            ).fetchone()
        return row[0] if row else None

    def unix_user_mappings(self) -> dict[str, str]:
        """``{account: unix user}`` for every mapped account."""
        with self._lock:
            if not self._has_unix_users(create=False):
                return {}
            rows = self._conn.execute(
                "SELECT u.name, m.unix_user FROM unix_users m JOIN users u ON u.rid = m.rid "
                "ORDER BY u.name"
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # users

    def add_user(self, name: str, password: str) -> User:
        validate_user_name(name)
        validate_password(password)
        digest = nt_hash(password)
        with self._lock, _txn(self._conn) as c:
            if c.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise user_exists_error(name)
            enforce_password_policy(c, name, password, None)
            rid = int(c.execute("SELECT value FROM meta WHERE key = 'next_rid'").fetchone()[0])
            c.execute("UPDATE meta SET value = ? WHERE key = 'next_rid'", (str(rid + 1),))
            user = User(name=name, rid=rid, nt_hash=digest, enabled=True, created=_now())
            c.execute(
                "INSERT INTO users (name, rid, nt_hash, enabled, created) VALUES (?, ?, ?, ?, ?)",
                (user.name, user.rid, user.nt_hash, 1, user.created),
            )
            _domain_keys(c, user.rid, password, new=True)
        return user

    def set_password(self, name: str, password: str) -> None:
        validate_password(password)
        digest = nt_hash(password)
        with self._lock, _txn(self._conn) as c:
            row = c.execute("SELECT rid, nt_hash FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise _no_user(name)
            rid, old_hash = int(row[0]), bytes(row[1])
            policy = enforce_password_policy(c, name, password, rid)
            c.execute("UPDATE users SET nt_hash = ? WHERE rid = ?", (digest, rid))
            if policy is not None:
                password_policy.remember(c, rid, old_hash, policy)
            _domain_keys(c, rid, password, new=False)

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._lock, _txn(self._conn) as c:
            cur = c.execute("UPDATE users SET enabled = ? WHERE name = ?", (int(enabled), name))
            if cur.rowcount == 0:
                raise _no_user(name)

    def remove_user(self, name: str) -> None:
        with self._lock, _txn(self._conn) as c:
            row = c.execute("SELECT rid FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise _no_user(name)
            c.execute("DELETE FROM group_members WHERE member_rid = ?", (row[0],))
            c.execute("DELETE FROM users WHERE rid = ?", (row[0],))

    def get_user(self, name: str) -> User | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, rid, nt_hash, enabled, created FROM users WHERE name = ?", (name,)
            ).fetchone()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, rid, nt_hash, enabled, created FROM users ORDER BY name"
            ).fetchall()
        return [_user(r) for r in rows]

    # shares

    def add_share(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        guest_ok: bool = False,
        remark: str = "",
        data_dir: str | os.PathLike[str] | None = None,
        force: bool = False,
        encrypt_data: bool = False,
    ) -> Share:
        """Add a share. With ``data_dir`` (the home), a path that is the home, contains it
        or lies inside it (but for its ``shares/``) is refused, and ``/`` unless ``force``
        (:func:`lanman.datadir.share_path_problem`)."""
        validate_share_name(name)
        if _has_control(remark):
            raise StoreError(
                "share remark contains control characters", "use printable text for --remark"
            )
        resolved = _resolve_share_path(path)
        if data_dir is not None:
            from lanman.datadir import share_path_problem

            problem = share_path_problem(resolved, data_dir, force)
            if problem is not None:
                remedy = (
                    "add --force to share '/' anyway (lanman's data directory stays "
                    "unreachable through it)"
                    if resolved == os.sep
                    else "share a directory outside the data directory (or one below its "
                    "shares/ subdirectory)"
                )
                raise StoreError(f"refusing to share: {problem}", remedy, "ERROR_ACCESS_DENIED")
        share = Share(
            name=name,
            path=resolved,
            read_only=bool(read_only),
            guest_ok=bool(guest_ok),
            remark=remark,
            encrypt_data=bool(encrypt_data),
        )
        with self._lock, _txn(self._conn) as c:
            if c.execute("SELECT 1 FROM shares WHERE name = ?", (name,)).fetchone():
                raise StoreError(
                    f"share {name!r} already exists",
                    f"choose another name, or `lanman share remove {name}` first",
                    "NERR_DuplicateShare",
                )
            c.execute(
                "INSERT INTO shares (name, path, read_only, guest_ok, remark, encrypt_data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    share.name,
                    share.path,
                    int(share.read_only),
                    int(share.guest_ok),
                    share.remark,
                    int(share.encrypt_data),
                ),
            )
        return share

    def set_share(self, name: str, *, encrypt_data: bool | None = None) -> Share:
        """Change a share's settings (like Set-SmbShare); returns the share as it now is."""
        with self._lock, _txn(self._conn) as c:
            if encrypt_data is not None:
                n = c.execute(
                    "UPDATE shares SET encrypt_data = ? WHERE name = ?",
                    (int(bool(encrypt_data)), name),
                ).rowcount
            else:
                n = len(c.execute("SELECT 1 FROM shares WHERE name = ?", (name,)).fetchall())
            if n == 0:
                raise StoreError(
                    f"share {name!r} does not exist",
                    "`lanman share list` shows the configured shares",
                    "NERR_NetNameNotFound",
                )
        share = self.get_share(name)
        assert share is not None
        return share

    def remove_share(self, name: str) -> None:
        with self._lock, _txn(self._conn) as c:
            if c.execute("DELETE FROM shares WHERE name = ?", (name,)).rowcount == 0:
                raise StoreError(
                    f"share {name!r} does not exist",
                    "`lanman share list` shows the configured shares",
                    "NERR_NetNameNotFound",
                )

    def get_share(self, name: str) -> Share | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, path, read_only, guest_ok, remark, encrypt_data FROM shares "
                "WHERE name = ?",
                (name,),
            ).fetchone()
        return _share(row) if row else None

    def list_shares(self) -> list[Share]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, path, read_only, guest_ok, remark, encrypt_data FROM shares "
                "ORDER BY name"
            ).fetchall()
        return [_share(r) for r in rows]


def enforce_password_policy(
    c: sqlite3.Connection, name: str, password: str, rid: int | None
) -> password_policy.PasswordPolicy | None:
    """Refuse ``password`` for account ``name`` when the domain's password policy does not
    allow it (no domain, a computer account or krbtgt: no check). Returns the policy."""
    policy = password_policy.load(c)
    if policy is None or name.endswith("$"):
        return None
    if rid is not None:
        row = c.execute("SELECT kind FROM users WHERE rid = ?", (rid,)).fetchone()
        if row is not None and row[0] in ("computer", "krbtgt"):
            return None
    previous = password_policy.previous_hashes(c, rid) if rid is not None else []
    why = password_policy.check_password(policy, password, name, previous, nt_hash(password))
    if why is not None:
        raise StoreError(
            f"the password for {name} does not meet the domain's password policy: {why}",
            "choose another password (`lanman domain show` lists the policy)",
            "NERR_PasswordTooShort",
        )
    return policy


def _domain_keys(c: sqlite3.Connection, rid: int, password: str, *, new: bool) -> None:
    """Once a domain is provisioned, an account's password also yields its AES keys
    (lanman.directory keeps them; only password-derived keys, never the password)."""
    if c.execute("SELECT 1 FROM domain WHERE id = 1").fetchone() is None:
        return
    from lanman.directory.accounts import store_password_keys

    store_password_keys(c, rid, password, new=new)


class _txn:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def user_exists_error(name: str) -> StoreError:
    return StoreError(
        f"user {name!r} already exists",
        f"choose another name, or `lanman user passwd {name}`",
        "NERR_UserExists",
    )


def no_user_error(name: str) -> StoreError:
    return _no_user(name)


def _no_user(name: str) -> StoreError:
    return StoreError(
        f"user {name!r} does not exist",
        "`lanman user list` shows the accounts",
        "NERR_UserNotFound",
    )


def _user(row: tuple) -> User:
    return User(
        name=row[0], rid=int(row[1]), nt_hash=bytes(row[2]), enabled=bool(row[3]), created=row[4]
    )


def _share(row: tuple) -> Share:
    return Share(
        name=row[0],
        path=row[1],
        read_only=bool(row[2]),
        guest_ok=bool(row[3]),
        remark=row[4],
        encrypt_data=bool(row[5]),
    )
