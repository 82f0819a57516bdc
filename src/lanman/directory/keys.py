"""Long-term Kerberos keys of directory accounts.

AES keys come from the password with the Active Directory salt (MS-KILE 3.1.1.2: users
``REALMsAMAccountName``, computers ``REALMhost<name without $, lower case>.<realm lower case>``)
and the default PBKDF2 iteration count (4096, RFC 3962); the RC4 key is the NT hash
(RFC 4757). The string-to-key functions belong to :mod:`lanman.kerberos.crypto`.
"""

from __future__ import annotations

from lanman.crypto.md4 import nt_hash
from lanman.directory.model import ETYPE_AES128, ETYPE_AES256

__all__ = ["account_salt", "derive_aes_keys", "nt_hash"]


def _crypto():
    from lanman.kerberos import crypto  # imported late: owned by the Kerberos code

    return crypto


def account_salt(realm: str, name: str, kind: str) -> bytes:
    """The AD salt of account ``name`` (sAMAccountName) in ``realm``."""
    crypto = _crypto()
    if kind == "computer":
        return crypto.default_salt(realm.upper(), [name], is_computer=True, computer_name=name)
    return crypto.default_salt(realm.upper(), [name], is_computer=False)


def derive_aes_keys(
    realm: str, name: str, kind: str, password: str
) -> tuple[dict[int, bytes], bytes]:
    """``({18: aes256 key, 17: aes128 key}, salt)`` for ``password``."""
    crypto = _crypto()
    salt = account_salt(realm, name, kind)
    keys = {
        ETYPE_AES256: crypto.string_to_key(ETYPE_AES256, password, salt),
        ETYPE_AES128: crypto.string_to_key(ETYPE_AES128, password, salt),
    }
    return keys, salt
