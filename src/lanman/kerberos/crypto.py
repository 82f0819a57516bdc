"""Kerberos cryptography: RFC 3961 simplified profile, RFC 3962 AES, RFC 4757 RC4-HMAC.

Own implementation on top of ``cryptography`` primitives (AES-ECB/CBC, PBKDF2, HMAC).

* ``string_to_key`` / ``default_salt``  -- key derivation from passwords (contract with the
  directory).
* ``encrypt`` / ``decrypt``             -- the enctype's authenticated encryption for a key usage.
* ``make_checksum`` / ``verify_checksum`` -- keyed checksums (15, 16, -138) and rsa-md5 (7).
* ``prf`` / ``cf2``                     -- RFC 3961 PRF and RFC 6113 KRB-FX-CF2 (FAST armor key).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from lanman.crypto.md4 import nt_hash
from lanman.crypto.rc4 import rc4

__all__ = [
    "CKSUM_HMAC_MD5",
    "CKSUM_HMAC_SHA1_96_AES128",
    "CKSUM_HMAC_SHA1_96_AES256",
    "CKSUM_RSA_MD5",
    "ETYPE_AES128_CTS_HMAC_SHA1_96",
    "ETYPE_AES256_CTS_HMAC_SHA1_96",
    "ETYPE_RC4_HMAC",
    "KU",
    "SUPPORTED_ETYPES",
    "CryptoError",
    "aes_cts_decrypt",
    "aes_cts_encrypt",
    "cf2",
    "checksum_type_for",
    "decrypt",
    "default_salt",
    "derive_key",
    "encrypt",
    "etype_name",
    "key_length",
    "make_checksum",
    "nfold",
    "prf",
    "random_key",
    "string_to_key",
    "verify_checksum",
]

ETYPE_AES128_CTS_HMAC_SHA1_96 = 17
ETYPE_AES256_CTS_HMAC_SHA1_96 = 18
ETYPE_RC4_HMAC = 23
SUPPORTED_ETYPES = (ETYPE_AES256_CTS_HMAC_SHA1_96, ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_RC4_HMAC)

CKSUM_RSA_MD5 = 7
CKSUM_HMAC_SHA1_96_AES128 = 15
CKSUM_HMAC_SHA1_96_AES256 = 16
CKSUM_HMAC_MD5 = -138

_ETYPE_NAMES = {
    ETYPE_AES256_CTS_HMAC_SHA1_96: "aes256-cts-hmac-sha1-96",
    ETYPE_AES128_CTS_HMAC_SHA1_96: "aes128-cts-hmac-sha1-96",
    ETYPE_RC4_HMAC: "arcfour-hmac",
}
_KEYLEN = {ETYPE_AES256_CTS_HMAC_SHA1_96: 32, ETYPE_AES128_CTS_HMAC_SHA1_96: 16, ETYPE_RC4_HMAC: 16}


class KU:
    """Key usage numbers (RFC 4120 7.5.1, RFC 6113 5.4, MS-PAC / MS-KILE)."""

    AS_REQ_PA_ENC_TIMESTAMP = 1
    KDC_REP_TICKET = 2
    AS_REP_ENCPART = 3
    TGS_REQ_AD_SESSKEY = 4
    TGS_REQ_AD_SUBKEY = 5
    TGS_REQ_AUTH_CKSUM = 6
    TGS_REQ_AUTH = 7
    TGS_REP_ENCPART_SESSKEY = 8
    TGS_REP_ENCPART_SUBKEY = 9
    AP_REQ_AUTH_CKSUM = 10
    AP_REQ_AUTH = 11
    AP_REP_ENCPART = 12
    KRB_PRIV_ENCPART = 13
    KRB_CRED_ENCPART = 14
    KRB_SAFE_CKSUM = 15
    APP_DATA_CKSUM = 17  # PAC signatures
    KRB_ERROR_CKSUM = 18
    AD_KDCISSUED_CKSUM = 19
    GSS_ACCEPTOR_SEAL = 22
    GSS_ACCEPTOR_SIGN = 23
    GSS_INITIATOR_SEAL = 24
    GSS_INITIATOR_SIGN = 25
    PA_PKINIT_KX = 44
    FAST_REQ_CHKSUM = 50
    FAST_ENC = 51
    FAST_REP = 52
    FAST_FINISHED = 53
    ENC_CHALLENGE_CLIENT = 54
    ENC_CHALLENGE_KDC = 55
    AS_REQ = 56


class CryptoError(Exception):
    """Integrity failure, bad length or unsupported enctype/checksum."""


def etype_name(etype: int) -> str:
    return _ETYPE_NAMES.get(etype, f"etype-{etype}")


def key_length(etype: int) -> int:
    try:
        return _KEYLEN[etype]
    except KeyError:
        raise CryptoError(f"unsupported enctype {etype}") from None


def random_key(etype: int) -> bytes:
    return os.urandom(key_length(etype))


# ---------------------------------------------------------------------------------------------
# RFC 3961 n-fold
# ---------------------------------------------------------------------------------------------


def nfold(data: bytes, nbytes: int) -> bytes:
    """RFC 3961 5.1 n-fold of ``data`` to ``nbytes`` bytes (one's-complement addition)."""
    inlen = len(data)
    lcm = inlen * nbytes // _gcd(inlen, nbytes)
    bits = inlen * 8
    value = int.from_bytes(data, "big")
    # Concatenate copies, each rotated right by 13 bits more than the previous one.
    big = 0
    copies = lcm // inlen
    for i in range(copies):
        r = (13 * i) % bits
        rotated = ((value >> r) | (value << (bits - r))) & ((1 << bits) - 1) if r else value
        big = (big << bits) | rotated
    # Add the nbytes-sized chunks with end-around carry.
    chunk_bits = nbytes * 8
    mask = (1 << chunk_bits) - 1
    total = 0
    for i in range(lcm // nbytes):
        total += (big >> (chunk_bits * i)) & mask
    while total > mask:
        total = (total & mask) + (total >> chunk_bits)
    return total.to_bytes(nbytes, "big")


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


# ---------------------------------------------------------------------------------------------
# AES: CTS mode (RFC 3962 5: CBC with ciphertext stealing, last two blocks swapped, IV 0)
# ---------------------------------------------------------------------------------------------


def _aes_ecb_enc(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def _aes_ecb_dec(key: bytes, block: bytes) -> bytes:
    d = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return d.update(block) + d.finalize()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def aes_cts_encrypt(key: bytes, plaintext: bytes, iv: bytes = bytes(16)) -> bytes:
    n = len(plaintext)
    if n < 16:
        raise CryptoError("AES-CTS input shorter than one block")
    if n == 16:
        return _aes_ecb_enc(key, _xor(plaintext, iv))
    pad = (-n) % 16
    padded = plaintext + bytes(pad)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    c = enc.update(padded) + enc.finalize()
    # Swap the last two ciphertext blocks; truncate the (new) last one to the tail length.
    tail = 16 - pad
    return c[:-32] + c[-16:] + c[-32:-16][:tail]


def aes_cts_decrypt(key: bytes, ciphertext: bytes, iv: bytes = bytes(16)) -> bytes:
    n = len(ciphertext)
    if n < 16:
        raise CryptoError("AES-CTS input shorter than one block")
    if n == 16:
        return _xor(_aes_ecb_dec(key, ciphertext), iv)
    tail = n - 16 * ((n - 1) // 16)  # 1..16 bytes in the last (partial) block
    head = ciphertext[: n - tail - 16]
    cn_1 = ciphertext[n - tail - 16 : n - tail]  # encrypted "second to last" (full) block
    cn = ciphertext[n - tail :]
    dn = _aes_ecb_dec(key, cn_1)
    # dn = Pn xor C(n-1)' padded with the stolen bytes
    c_prev = cn + dn[tail:]
    pn = _xor(dn[:tail], cn)
    prev_iv = head[-16:] if head else iv
    if head:
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        p_head = dec.update(head) + dec.finalize()
    else:
        p_head = b""
    pn_1 = _xor(_aes_ecb_dec(key, c_prev), prev_iv)
    return p_head + pn_1 + pn


# ---------------------------------------------------------------------------------------------
# RFC 3961 simplified profile: DK, string-to-key, encrypt, checksum, PRF
# ---------------------------------------------------------------------------------------------

_DK_CACHE: dict[tuple[bytes, bytes], bytes] = {}
_DK_CACHE_MAX = 4096


def derive_key(base: bytes, constant: bytes) -> bytes:
    """DK(base, constant) for the AES enctypes (random-to-key is the identity)."""
    ck = (base, constant)
    hit = _DK_CACHE.get(ck)
    if hit is not None:
        return hit
    k = len(base)
    block = nfold(constant, 16) if len(constant) != 16 else constant
    out = b""
    while len(out) < k:
        block = _aes_ecb_enc(base, block)
        out += block
    result = out[:k]
    if len(_DK_CACHE) >= _DK_CACHE_MAX:
        _DK_CACHE.clear()
    _DK_CACHE[ck] = result
    return result


def string_to_key(etype: int, password: str, salt: bytes, params: bytes | None = None) -> bytes:
    """RFC 3962 4 (PBKDF2-HMAC-SHA1 + DK "kerberos") or RFC 4757 (NT hash, salt ignored)."""
    if etype == ETYPE_RC4_HMAC:
        return nt_hash(password)
    if etype not in (ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_AES256_CTS_HMAC_SHA1_96):
        raise CryptoError(f"unsupported enctype {etype}")
    iterations = 4096
    if params:
        if len(params) != 4:
            raise CryptoError("bad s2kparams")
        iterations = struct.unpack(">I", params)[0]
        if iterations == 0:
            iterations = 1 << 32  # RFC 3962: 0 means 2**32 (not practical, but faithful)
    keylen = _KEYLEN[etype]
    tkey = PBKDF2HMAC(
        algorithm=hashes.SHA1(), length=keylen, salt=salt, iterations=iterations
    ).derive(password.encode("utf-8"))
    return derive_key(tkey, b"kerberos")


def default_salt(
    realm: str, principal_components: list[str], *, is_computer: bool, computer_name: str = ""
) -> bytes:
    """AD salts (MS-KILE 3.1.1.2).

    Users: REALM (upper case) + user name components (case preserved).
    Computers: REALM + "host" + lower(name without "$") + "." + lower(realm).
    """
    realm_u = realm.upper()
    if is_computer:
        name = computer_name or (principal_components[0] if principal_components else "")
        name = name.rstrip("$").lower()
        return (realm_u + "host" + name + "." + realm.lower()).encode("utf-8")
    return (realm_u + "".join(principal_components)).encode("utf-8")


def _usage_const(usage: int, tail: int) -> bytes:
    return struct.pack(">IB", usage, tail)


def _rc4_usage(usage: int) -> int:
    # RFC 4757: the AS-REP enc-part uses 8 like the TGS-REP; 23 (GSS wrap signing) uses 13.
    return {3: 8, 23: 13}.get(usage, usage)


def encrypt(
    etype: int, key: bytes, usage: int, plaintext: bytes, confounder: bytes | None = None
) -> bytes:
    if etype in (ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_AES256_CTS_HMAC_SHA1_96):
        if len(key) != _KEYLEN[etype]:
            raise CryptoError("wrong key length")
        ke = derive_key(key, _usage_const(usage, 0xAA))
        ki = derive_key(key, _usage_const(usage, 0x55))
        conf = confounder if confounder is not None else os.urandom(16)
        data = conf + plaintext
        mac = hmac.new(ki, data, hashlib.sha1).digest()[:12]
        return aes_cts_encrypt(ke, data) + mac
    if etype == ETYPE_RC4_HMAC:
        k1 = hmac.new(key, struct.pack("<I", _rc4_usage(usage)), hashlib.md5).digest()
        conf = confounder if confounder is not None else os.urandom(8)
        data = conf + plaintext
        cks = hmac.new(k1, data, hashlib.md5).digest()
        k3 = hmac.new(k1, cks, hashlib.md5).digest()
        return cks + rc4(k3, data)
    raise CryptoError(f"unsupported enctype {etype}")


def decrypt(etype: int, key: bytes, usage: int, ciphertext: bytes) -> bytes:
    if etype in (ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_AES256_CTS_HMAC_SHA1_96):
        if len(key) != _KEYLEN[etype]:
            raise CryptoError("wrong key length")
        if len(ciphertext) < 16 + 12:
            raise CryptoError("ciphertext too short")
        ke = derive_key(key, _usage_const(usage, 0xAA))
        ki = derive_key(key, _usage_const(usage, 0x55))
        data = aes_cts_decrypt(ke, ciphertext[:-12])
        mac = hmac.new(ki, data, hashlib.sha1).digest()[:12]
        if not hmac.compare_digest(mac, ciphertext[-12:]):
            raise CryptoError("integrity check failed")
        return data[16:]
    if etype == ETYPE_RC4_HMAC:
        if len(ciphertext) < 16 + 8:
            raise CryptoError("ciphertext too short")
        # TGS-REP enc-parts under a subkey (9) are sealed with 8 by some peers (RFC 4757 errata).
        for u in (_rc4_usage(usage), 8) if usage == 9 else (_rc4_usage(usage),):
            k1 = hmac.new(key, struct.pack("<I", u), hashlib.md5).digest()
            cks = ciphertext[:16]
            k3 = hmac.new(k1, cks, hashlib.md5).digest()
            data = rc4(k3, ciphertext[16:])
            if hmac.compare_digest(hmac.new(k1, data, hashlib.md5).digest(), cks):
                return data[8:]
        raise CryptoError("integrity check failed")
    raise CryptoError(f"unsupported enctype {etype}")


def checksum_type_for(etype: int) -> int:
    """The mandatory keyed checksum of an enctype."""
    return {
        ETYPE_AES256_CTS_HMAC_SHA1_96: CKSUM_HMAC_SHA1_96_AES256,
        ETYPE_AES128_CTS_HMAC_SHA1_96: CKSUM_HMAC_SHA1_96_AES128,
        ETYPE_RC4_HMAC: CKSUM_HMAC_MD5,
    }[etype]


def make_checksum(cksumtype: int, key: bytes | None, usage: int, data: bytes) -> bytes:
    if cksumtype in (CKSUM_HMAC_SHA1_96_AES128, CKSUM_HMAC_SHA1_96_AES256):
        want = 16 if cksumtype == CKSUM_HMAC_SHA1_96_AES128 else 32
        if key is None or len(key) != want:
            raise CryptoError("wrong key for checksum type")
        kc = derive_key(key, _usage_const(usage, 0x99))
        return hmac.new(kc, data, hashlib.sha1).digest()[:12]
    if cksumtype == CKSUM_HMAC_MD5:
        if key is None:
            raise CryptoError("keyed checksum needs a key")
        ksign = hmac.new(key, b"signaturekey\x00", hashlib.md5).digest()
        tmp = hashlib.md5(struct.pack("<I", _rc4_usage(usage)) + data).digest()
        return hmac.new(ksign, tmp, hashlib.md5).digest()
    if cksumtype == CKSUM_RSA_MD5:
        return hashlib.md5(data).digest()
    raise CryptoError(f"unsupported checksum type {cksumtype}")


def verify_checksum(
    cksumtype: int, key: bytes | None, usage: int, data: bytes, cksum: bytes
) -> bool:
    try:
        expect = make_checksum(cksumtype, key, usage, data)
    except CryptoError:
        return False
    return hmac.compare_digest(expect, cksum)


def prf(etype: int, key: bytes, data: bytes) -> bytes:
    """RFC 3961 pseudo-random function (RFC 3962 3 for AES; HMAC-SHA1 for RC4 as MIT does)."""
    if etype in (ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_AES256_CTS_HMAC_SHA1_96):
        tmp = hashlib.sha1(data).digest()[:16]
        kp = derive_key(key, b"prf")
        return _aes_ecb_enc(kp, tmp)
    if etype == ETYPE_RC4_HMAC:
        return hmac.new(key, data, hashlib.sha1).digest()
    raise CryptoError(f"unsupported enctype {etype}")


def _prf_plus(etype: int, key: bytes, pepper: bytes, nbytes: int) -> bytes:
    out = b""
    i = 1
    while len(out) < nbytes and i < 256:
        out += prf(etype, key, bytes([i]) + pepper)
        i += 1
    return out[:nbytes]


def cf2(
    etype1: int, key1: bytes, etype2: int, key2: bytes, pepper1: bytes, pepper2: bytes
) -> bytes:
    """RFC 6113 5.1 KRB-FX-CF2; the result has enctype ``etype1``."""
    n = key_length(etype1)
    a = _prf_plus(etype1, key1, pepper1, n)
    b = _prf_plus(etype2, key2, pepper2, n)
    return _xor(a, b)
