"""The domain's password policy (Default Domain Policy: minimum length, complexity, history,
maximum and minimum age), checked whenever a domain account's password is set.

Values and meaning as Windows' "Account Policies/Password Policy" (MS-SAMR 2.2.3.5
DOMAIN_PASSWORD_INFORMATION; complexity as Windows' passfilt: the password does not contain the
account name (when 3+ characters) and has characters of three of five categories). A new
domain gets AD's defaults (7, on, 24, 42 days, 1 day); a domain upgraded from before password
policies keeps behaving as it did (all 0 = none) until ``lanman domain set`` changes it.
Computer accounts (random machine passwords) and krbtgt are not subject to it.
"""

from __future__ import annotations

import sqlite3
import time
import unicodedata
from dataclasses import dataclass

__all__ = ["AD_DEFAULTS", "PasswordPolicy", "check_password", "complexity_problem", "load"]

DAY = 86400


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 0  # MinimumPasswordLength (0..14 in the GUI; samba allows more)
    complexity: bool = False  # PasswordComplexity
    history: int = 0  # PasswordHistorySize (0..24)
    max_age: int = 0  # MaximumPasswordAge in seconds; 0 = never expires
    min_age: int = 0  # MinimumPasswordAge in seconds

    def as_dict(self) -> dict:
        return {
            "min_password_length": self.min_length,
            "password_complexity": self.complexity,
            "password_history": self.history,
            "max_password_age_days": self.max_age // DAY,
            "min_password_age_days": self.min_age // DAY,
        }


AD_DEFAULTS = PasswordPolicy(7, True, 24, 42 * DAY, 1 * DAY)
_COLUMNS = "min_pwd_length, pwd_complexity, pwd_history_length, max_pwd_age, min_pwd_age"


def load(c: sqlite3.Connection) -> PasswordPolicy | None:
    """The domain's policy, or None when no domain is provisioned."""
    row = c.execute(f"SELECT {_COLUMNS} FROM domain WHERE id = 1").fetchone()
    if row is None:
        return None
    return PasswordPolicy(int(row[0]), bool(row[1]), int(row[2]), int(row[3]), int(row[4]))


def save(c: sqlite3.Connection, p: PasswordPolicy) -> None:
    c.execute(
        "UPDATE domain SET min_pwd_length = ?, pwd_complexity = ?, pwd_history_length = ?, "
        "max_pwd_age = ?, min_pwd_age = ? WHERE id = 1",
        (p.min_length, int(p.complexity), p.history, p.max_age, p.min_age),
    )


def _category(ch: str) -> int | None:
    if ch.isdigit() and ch.isascii():
        return 2
    cat = unicodedata.category(ch)
    if cat == "Lu":
        return 0
    if cat == "Ll":
        return 1
    if cat.startswith("L"):
        return 4  # letters without case (e.g. CJK)
    return 3  # everything else counts as a special character


def complexity_problem(password: str, account: str) -> str | None:
    """Why ``password`` fails Windows' complexity rule for ``account`` (None: it passes)."""
    name = account.rstrip("$")
    if len(name) >= 3 and name.lower() in password.lower():
        return "it contains the account name"
    kinds = {k for k in map(_category, password) if k is not None}
    if len(kinds) < 3:
        return (
            "it needs characters from three of: upper case, lower case, digits, symbols, "
            "other letters"
        )
    return None


def check_password(
    policy: PasswordPolicy, password: str, account: str, previous: list[bytes], new_hash: bytes
) -> str | None:
    """The policy's objection to ``password`` (None: acceptable). ``previous`` are the NT
    hashes the history remembers, newest first (the current one included)."""
    if len(password) < policy.min_length:
        return f"it is shorter than the minimum of {policy.min_length} characters"
    if policy.complexity:
        why = complexity_problem(password, account)
        if why:
            return why
    if policy.history and new_hash in previous[: policy.history]:
        return f"it is one of the last {policy.history} passwords of {account}"
    return None


def previous_hashes(c: sqlite3.Connection, rid: int) -> list[bytes]:
    cur = c.execute("SELECT nt_hash FROM users WHERE rid = ?", (rid,)).fetchone()
    rows = c.execute(
        "SELECT nt_hash FROM password_history WHERE rid = ? ORDER BY set_time DESC, rowid DESC",
        (rid,),
    ).fetchall()
    return ([bytes(cur[0])] if cur else []) + [bytes(r[0]) for r in rows]


def remember(c: sqlite3.Connection, rid: int, old_hash: bytes, policy: PasswordPolicy) -> None:
    """Keep the replaced hash for the history check; forget what the history no longer needs."""
    if policy.history <= 1:
        c.execute("DELETE FROM password_history WHERE rid = ?", (rid,))
        return
    c.execute(
        "INSERT INTO password_history (rid, nt_hash, set_time) VALUES (?, ?, ?)",
        (rid, old_hash, int(time.time())),
    )
    c.execute(
        "DELETE FROM password_history WHERE rid = ? AND rowid NOT IN (SELECT rowid FROM "
        "password_history WHERE rid = ? ORDER BY set_time DESC, rowid DESC LIMIT ?)",
        (rid, rid, policy.history - 1),
    )
