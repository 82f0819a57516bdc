"""`lanman client` without -U: a live TGT in the credential cache means Kerberos; without one
the user is told to give -U (the cache is read, never created)."""

from __future__ import annotations

import pytest

from lanman.cli._common import CliError
from lanman.cli.client import _credentials
from lanman.smb.client.kerberos import cached_tgt_principal


def test_without_a_ticket_no_user_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'none'}")
    assert cached_tgt_principal() is None
    with pytest.raises(CliError, match="no user given"):
        _credentials(None, False, False, None)


def test_with_a_ticket_no_user_means_kerberos(monkeypatch):
    monkeypatch.setattr(
        "lanman.smb.client.kerberos.cached_tgt_principal", lambda *a, **k: "dave@LANMAN.TEST"
    )
    assert _credentials(None, False, False, None) == ("", "", False)
    with pytest.raises(CliError, match="no user given"):  # --no-kerberos: not from the cache
        _credentials(None, False, False, False)


def test_an_unreadable_cache_is_no_ticket(tmp_path, monkeypatch):
    bad = tmp_path / "cc"
    bad.write_bytes(b"\x05\x04garbage")
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{bad}")
    assert cached_tgt_principal() is None
