"""Principal lookups for the KDC, cached while the directory has not changed.

Building a ``Principal`` from lanman's SQLite directory costs ~130 us (account row, group
closure, keys, SPNs), and an AS or TGS exchange needs three or four of them (client, server,
krbtgt twice).  :class:`DirectoryCache` keeps the principals the KDC looked up and drops them
all as soon as the directory *may* have changed:

* for a ``lanman.directory.Directory`` (an SQLite connection ``_conn``) the change token is
  ``(PRAGMA data_version, total_changes)``: ``data_version`` moves when another connection
  (``lanman user ...`` in another process) commits, ``total_changes`` when this connection
  writes (password change, lockout counter, group membership ...).  The token is read once per
  request (~3 us).  The KDC's own "logon succeeded" write (bad-password count back to 0) keeps
  the cache when nothing else changed, since it changes no field a ``Principal`` carries except
  ``locked``, which it can only clear for an account that was not locked; and once it has
  reset an account, it does not write again for that account until the token moves (the
  write would change nothing: one SQLite transaction saved per AS exchange);
* every entry also expires after ``ttl`` seconds, and a principal that is locked out is never
  cached (its lockout ends with time, not with a write);
* a directory without such a token (the in-memory test directory, any other implementation of
  the contract) is never cached across requests: only within one request.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

__all__ = ["DirectoryCache"]

_MISS = object()


class DirectoryCache:
    __slots__ = (
        "_cache",
        "_conn",
        "_lock",
        "_reset",
        "_token",
        "directory",
        "max_entries",
        "ttl",
    )

    def __init__(self, directory: Any, ttl: float = 5.0, max_entries: int = 4096) -> None:
        self.directory = directory
        self.ttl = ttl
        self.max_entries = max_entries
        conn = getattr(directory, "_conn", None)
        self._conn: sqlite3.Connection | None = (
            conn if isinstance(conn, sqlite3.Connection) else None
        )
        self._lock = getattr(directory, "_lock", None)
        self._cache: dict[tuple[str, Any], tuple[float, Any]] = {}
        self._token: object = None
        # Accounts whose bad-password count this cache reset to 0 at directory state _token:
        # while the token stays the same, nothing wrote to the directory, so resetting again
        # would be a no-op write (one SQLite transaction per AS exchange).
        self._reset: set[str] = set()

    # -- validity -----------------------------------------------------------------------------
    def _read_token(self) -> object:
        conn = self._conn
        if conn is None:
            return None
        if self._lock is not None:
            with self._lock:
                return (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        return (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)

    def begin_request(self) -> None:
        """Called once per KDC request: drop everything if the directory changed."""
        if self._conn is None:
            self._cache.clear()  # per-request memo only
            return
        try:
            token = self._read_token()
        except sqlite3.Error:
            token = None
        if token is None or token != self._token:
            self._cache.clear()
            self._reset.clear()
            self._token = token

    # -- lookups ------------------------------------------------------------------------------
    def _get(self, kind: str, name: Any, fetch: Any) -> Any:
        key = (kind, name)
        hit = self._cache.get(key, _MISS)
        now = time.monotonic()
        if hit is not _MISS and hit[0] > now:  # type: ignore[index]
            return hit[1]  # type: ignore[index]
        value = fetch()
        if value is not None and getattr(value, "locked", False):
            return value
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[key] = (now + self.ttl, value)
        return value

    def find_principal(self, name: str) -> Any:
        return self._get("p", name, lambda: self.directory.find_principal(name))

    def find_by_spn(self, spn: str) -> Any:
        return self._get("s", spn, lambda: self.directory.find_by_spn(spn))

    def krbtgt(self) -> Any:
        return self._get("k", "", self.directory.krbtgt)

    def memo(self, key: tuple, fetch: Any) -> Any:
        """``fetch()`` computed once while the directory is unchanged (values derived only
        from directory state: effective policies, identities, policy verdicts)."""
        return self._get("m", key, fetch)  # type: ignore[arg-type]

    def authn_config(self) -> Any:
        """The directory's authentication policies and silos (None: it has none)."""
        fetch = getattr(self.directory, "authn_config", None)
        if fetch is None:
            return None
        return self._get("a", "", fetch)

    # -- writes -------------------------------------------------------------------------------
    def record_logon_success(self, name: str) -> None:
        conn = self._conn
        if conn is None or self._lock is None:
            self.directory.record_logon_success(name)
            self._cache.clear()
            return
        with self._lock:
            before = self._read_token()
            if name in self._reset and before == self._token and before is not None:
                return  # already reset, and nothing has written to the directory since
            self.directory.record_logon_success(name)
            after = self._read_token()
        if (
            before == self._token
            and isinstance(before, tuple)
            and isinstance(after, tuple)
            and after[0] == before[0]
            and after[1] - before[1] <= 1
        ):
            self._token = after  # only our own reset of the bad-password count
            self._reset.add(name)  # (the other accounts in _reset were not touched)
        else:
            self._cache.clear()
            self._reset.clear()
            self._token = after

    def record_logon_failure(self, name: str) -> Any:
        try:
            return self.directory.record_logon_failure(name)
        finally:
            self._cache.clear()
            self._reset.clear()
            self._token = None
