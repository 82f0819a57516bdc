"""NTLM logons against a provisioned domain: the directory's account restrictions, Protected
Users and authentication policies (MS-APDS 3.1.5) for the SMB server, which runs as the DC's
own computer account (``NAME$``, made by ``lanman domain provision``).

The decisions are :mod:`lanman.authpolicy.ntlm`; this module looks the accounts up, writes
the events the decisions name and turns a refusal into :class:`AuthError`, whose detail is the
reason the logon-failure event (551) carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from lanman.auth.ntlm import AuthError
from lanman.authpolicy.ntlm import (
    NtlmDenial,
    ntlm_client_denial,
    ntlm_server_denial,
    protected_user_denial,
    server_restricted,
)
from lanman.directory import AccountRestriction, Directory
from lanman.errors.ntstatus import STATUS_LOGON_FAILURE

__all__ = ["DirectoryNtlmLogon"]

log = logging.getLogger("lanman.smb")


class DirectoryNtlmLogon:
    """:class:`lanman.auth.ntlm.NtlmLogonHooks` over the directory of ``home_path``;
    ``emit(event_name, **fields)`` writes catalogue events."""

    def __init__(self, home_path: str | Path, emit: Callable[..., None]) -> None:
        self.home_path = Path(home_path)
        self.emit = emit

    def _refuse(self, denial: NtlmDenial) -> AuthError:
        for name, data in denial.events:
            self.emit(name, **data)
        log.info("NTLM logon refused (0x%08X): %s", denial.status, denial.reason)
        return AuthError(denial.status, denial.reason)

    def nt_hash(self, user: str, domain: str, workstation: str) -> bytes | None:
        """Account restrictions, then Protected Users, then the client restriction of the
        user's authentication policy -- all before the password is looked at."""
        with Directory.open(self.home_path) as d:
            try:
                found = d.ntlm_logon_account(user)
            except AccountRestriction as exc:
                if exc.protected_user:
                    account = user.rsplit("@", 1)[0] if "@" in user else user
                    stored = d.get(account)
                    account = stored.name if stored is not None else account
                    raise self._refuse(protected_user_denial(account, workstation)) from None
                raise AuthError(exc.status, exc.detail) from None
            if found is None:
                return None
            principal, nt_hash = found
            denial = ntlm_client_denial(principal, d.authn_config(), workstation)
            if denial is not None:
                raise self._refuse(denial)
            return nt_hash

    def authorize(self, user: str, domain: str, workstation: str) -> None:
        """The server restriction: the To condition of the server account's policy on the
        user (only after a correct password)."""
        with Directory.open(self.home_path) as d:
            # the server has no account in the directory, or no To condition: nothing to check
            server = d.get(f"{d.dc_name}$")
            cfg = d.authn_config()
            if not server_restricted(server, cfg):
                return
            try:
                found = d.ntlm_logon_account(user)
            except AccountRestriction as exc:  # changed since nt_hash()
                raise AuthError(exc.status, exc.detail) from None
            if found is None:  # removed since nt_hash(): as if it never existed
                raise AuthError(STATUS_LOGON_FAILURE, "unknown user")
            denial = ntlm_server_denial(server, found[0], cfg)
            if denial is not None:
                raise self._refuse(denial)
