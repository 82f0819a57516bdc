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
import threading
from typing import Any

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
#
# Creating a ``cryptography`` cipher context costs ~10 us -- more than encrypting a whole
# ticket -- and the KDC runs about five AES operations per request.  So each AES key gets one
# long-lived CBC encryptor and one CBC decryptor (:class:`_Aes`), never finalized and only fed
# whole blocks.  A CBC context chains every message from the last ciphertext block it saw;
# :class:`_Aes` remembers that block (``last``) and cancels it out:
#
# * encrypt: the first plaintext block goes in XORed with ``last ^ IV``, so the context
#   computes E(P1 ^ IV) exactly as a fresh context with that IV would;
# * decrypt: the first output block is D(C1) ^ ``last``; XORing it with ``last ^ IV`` gives
#   D(C1) ^ IV.
#
# CTS decryption needs D(Cn) before it knows C(n-1) (the stolen bytes), so it feeds the
# decryptor twice: Cn alone, then C1..C(n-1) -- one context, no ECB contexts.
# A context serves one caller at a time (non-blocking lock); a caller in another thread that
# finds it busy uses a fresh one-shot context (``last`` = 0) instead of waiting.

_ZERO_BLOCK = bytes(16)
# Mode objects are immutable: one of each saves their construction on every new context.
_ECB = modes.ECB()
_CBC0 = modes.CBC(_ZERO_BLOCK)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class _Aes:
    """Reusable CBC contexts for one AES key (see above)."""

    __slots__ = ("_dec", "_dec_last", "_enc", "_enc_last", "_key", "_lock")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._enc: Any = None
        self._dec: Any = None
        self._enc_last = _ZERO_BLOCK
        self._dec_last = _ZERO_BLOCK

    def _fresh(self) -> Any:
        return Cipher(algorithms.AES(self._key), _CBC0)

    def cts_encrypt(self, plaintext: bytes, iv: bytes) -> bytes:
        n = len(plaintext)
        if n < 16:
            raise CryptoError("AES-CTS input shorter than one block")
        if len(iv) != 16:
            raise CryptoError("AES-CTS IV must be one block")
        pad = (-n) % 16
        owned = self._lock.acquire(blocking=False)
        try:
            if owned:
                enc = self._enc
                if enc is None:
                    enc = self._enc = self._fresh().encryptor()
                last = self._enc_last
            else:
                enc = self._fresh().encryptor()
                last = _ZERO_BLOCK
            mask = last if iv == _ZERO_BLOCK else _xor(last, iv)
            first = plaintext[:16]
            if mask != _ZERO_BLOCK:
                first = _xor(first, mask)
            c = enc.update(first + plaintext[16:] + bytes(pad) if pad else first + plaintext[16:])
            if owned:
                self._enc_last = c[-16:]
        finally:
            if owned:
                self._lock.release()
        if n == 16:
            return c
        # Swap the last two ciphertext blocks; truncate the (new) last one to the tail length.
        return c[:-32] + c[-16:] + c[-32 : -16 - pad if pad else -16]

    def cts_decrypt(self, ciphertext: bytes, iv: bytes) -> bytes:
        n = len(ciphertext)
        if n < 16:
            raise CryptoError("AES-CTS input shorter than one block")
        if len(iv) != 16:
            raise CryptoError("AES-CTS IV must be one block")
        owned = self._lock.acquire(blocking=False)
        try:
            if owned:
                dec = self._dec
                if dec is None:
                    dec = self._dec = self._fresh().decryptor()
                last = self._dec_last
            else:
                dec = self._fresh().decryptor()
                last = _ZERO_BLOCK
            if n == 16:
                out = dec.update(ciphertext)
                if owned:
                    self._dec_last = ciphertext
                mask = last if iv == _ZERO_BLOCK else _xor(last, iv)
                return _xor(out, mask) if mask != _ZERO_BLOCK else out
            full = 16 * ((n - 1) // 16)  # bytes up to and including the swapped full block
            tail = n - full  # 1..16 bytes in the last (partial) block
            cn = ciphertext[full - 16 : full]  # C(n), sent in position n-1
            cn_1_head = ciphertext[full:]  # the first ``tail`` bytes of C(n-1)
            dn = dec.update(cn)
            if last != _ZERO_BLOCK:
                dn = _xor(dn, last)  # D(C(n)) = P(n) (zero padded) ^ C(n-1)
            cn_1 = cn_1_head + dn[tail:]
            p_n = _xor(dn[:tail], cn_1_head)
            out = dec.update(ciphertext[: full - 16] + cn_1)
            if owned:
                self._dec_last = cn_1
        finally:
            if owned:
                self._lock.release()
        # The first block was chained from C(n) instead of the IV.
        return _xor(out[:16], cn if iv == _ZERO_BLOCK else _xor(cn, iv)) + out[16:] + p_n


class _Bounded:
    """A bounded memo: emptied when full (thread-tolerant: a lost race only costs a
    recomputation).  Not an LRU: a stream of one-shot session keys fills it quickly, and the
    hot keys (krbtgt, services) cost one recomputation each after it is emptied, which is
    cheaper than keeping an eviction order on every access."""

    __slots__ = ("_d", "_max", "get")

    def __init__(self, max_entries: int) -> None:
        self._d: dict[Any, Any] = {}
        self._max = max_entries
        self.get = self._d.get

    def put(self, key: Any, value: Any) -> None:
        d = self._d
        if len(d) >= self._max:
            d.clear()
        d[key] = value

    def clear(self) -> None:
        self._d.clear()

    def __len__(self) -> int:
        return len(self._d)


_AES_CACHE = _Bounded(1024)  # raw AES key -> _Aes (for callers of aes_cts_* with fixed keys)


def _aes(key: bytes) -> _Aes:
    a = _AES_CACHE.get(key)
    if a is None:
        if len(key) not in (16, 24, 32):
            raise CryptoError("bad AES key length")
        a = _Aes(key)
        _AES_CACHE.put(key, a)
    return a


def _aes_ecb_enc(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), _ECB).encryptor()
    return e.update(block) + e.finalize()


def aes_cts_encrypt(key: bytes, plaintext: bytes, iv: bytes = _ZERO_BLOCK) -> bytes:
    return _aes(key).cts_encrypt(plaintext, iv)


def aes_cts_decrypt(key: bytes, ciphertext: bytes, iv: bytes = _ZERO_BLOCK) -> bytes:
    return _aes(key).cts_decrypt(ciphertext, iv)


# ---------------------------------------------------------------------------------------------
# RFC 3961 simplified profile: DK, string-to-key, encrypt, checksum, PRF
# ---------------------------------------------------------------------------------------------
#
# DK(key, constant) is deterministic, so derived keys are cached (bounded LRU), and so are the
# per-(key, usage) objects the hot paths need: the Ke cipher contexts, and HMAC objects keyed
# with Ki / Kc that are copied per message instead of re-keyed.

_DK_CACHE = _Bounded(4096)
_NFOLD_CACHE: dict[bytes, bytes] = {}


def _nfold16(constant: bytes) -> bytes:
    if len(constant) == 16:
        return constant
    block = _NFOLD_CACHE.get(constant)
    if block is None:
        block = nfold(constant, 16)
        if len(_NFOLD_CACHE) < 1024:
            _NFOLD_CACHE[constant] = block
    return block


class _Deriver:
    """DK(base, constant) for one AES base key: one ECB context serves every constant (Ke, Ki
    and Kc of all usages), so a fresh session key costs one context, not one per derived key.
    Busy context (another thread): a one-shot context instead of waiting."""

    __slots__ = ("_base", "_enc", "_lock")

    def __init__(self, base: bytes) -> None:
        self._base = base
        self._enc: Any = None
        self._lock = threading.Lock()

    def derive(self, constant: bytes) -> bytes:
        block = _nfold16(constant)
        k = len(self._base)
        owned = self._lock.acquire(blocking=False)
        try:
            enc = self._enc if owned else None
            if enc is None:
                enc = Cipher(algorithms.AES(self._base), _ECB).encryptor()
                if owned:
                    self._enc = enc
            out = block = enc.update(block)
            while len(out) < k:  # RFC 3961 5.1: K1 = E(constant), K(i+1) = E(Ki)
                block = enc.update(block)
                out += block
        finally:
            if owned:
                self._lock.release()
        return out[:k]


_DERIVERS = _Bounded(1024)


def _deriver(base: bytes) -> _Deriver:
    d = _DERIVERS.get(base)
    if d is None:
        d = _Deriver(base)
        _DERIVERS.put(base, d)
    return d


def derive_key(base: bytes, constant: bytes) -> bytes:
    """DK(base, constant) for the AES enctypes (random-to-key is the identity)."""
    ck = (base, constant)
    hit = _DK_CACHE.get(ck)
    if hit is not None:
        return hit
    result = _deriver(base).derive(constant)
    _DK_CACHE.put(ck, result)
    return result


class _UsageKeys:
    """What encrypt/decrypt/make_checksum need for one (AES key, usage)."""

    __slots__ = ("_base", "_kc", "_ke", "_ki", "_usage")

    def __init__(self, base: bytes, usage: int) -> None:
        self._base = base
        self._usage = usage
        self._ke: _Aes | None = None
        self._ki: Any = None
        self._kc: Any = None

    @property
    def ke(self) -> _Aes:
        ke = self._ke
        if ke is None:
            ke = self._ke = _Aes(_deriver(self._base).derive(_usage_const(self._usage, 0xAA)))
        return ke

    def mac_ki(self, data: bytes) -> bytes:
        proto = self._ki
        if proto is None:
            ki = _deriver(self._base).derive(_usage_const(self._usage, 0x55))
            proto = self._ki = _hmac_sha1(ki)
        h = proto.copy()
        h.update(data)
        return h.digest()[:12]

    def mac_kc(self, data: bytes) -> bytes:
        proto = self._kc
        if proto is None:
            kc = _deriver(self._base).derive(_usage_const(self._usage, 0x99))
            proto = self._kc = _hmac_sha1(kc)
        h = proto.copy()
        h.update(data)
        return h.digest()[:12]


try:  # OpenSSL's HMAC object itself: copy/update/digest without hmac.HMAC's Python layer
    from _hashlib import hmac_new as _openssl_hmac_new
except ImportError:  # pragma: no cover - CPython without OpenSSL
    _openssl_hmac_new = None


def _hmac_sha1(key: bytes) -> Any:
    """A keyed HMAC-SHA1 prototype to ``copy()`` per message."""
    if _openssl_hmac_new is not None:
        return _openssl_hmac_new(key, b"", "sha1")
    return hmac.new(key, None, hashlib.sha1)


_USAGE_CACHE = _Bounded(2048)


def _usage_keys(key: bytes, usage: int) -> _UsageKeys:
    ck = (key, usage)
    u = _USAGE_CACHE.get(ck)
    if u is None:
        u = _UsageKeys(key, usage)
        _USAGE_CACHE.put(ck, u)
    return u


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
        u = _usage_keys(key, usage)
        conf = confounder if confounder is not None else os.urandom(16)
        data = conf + plaintext
        return u.ke.cts_encrypt(data, _ZERO_BLOCK) + u.mac_ki(data)
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
        u = _usage_keys(key, usage)
        data = u.ke.cts_decrypt(ciphertext[:-12], _ZERO_BLOCK)
        if not hmac.compare_digest(u.mac_ki(data), ciphertext[-12:]):
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
        return _usage_keys(key, usage).mac_kc(data)
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
    """RFC 6113 5.1 PRF+: PRF(key, 1 || pepper) || PRF(key, 2 || pepper) || ..."""
    if etype in (ETYPE_AES128_CTS_HMAC_SHA1_96, ETYPE_AES256_CTS_HMAC_SHA1_96):
        kp = derive_key(key, b"prf")  # once for every block
        blocks = (hashlib.sha1(bytes([i]) + pepper).digest()[:16] for i in range(1, 256))
        out = b""
        for tmp in blocks:
            if len(out) >= nbytes:
                break
            out += _aes_ecb_enc(kp, tmp)
        return out[:nbytes]
    out = b""
    i = 1
    while len(out) < nbytes and i < 256:
        out += prf(etype, key, bytes([i]) + pepper)
        i += 1
    return out[:nbytes]


# PRF+ of cf2's second key: the long-lived side (a client's long-term key, an armor ticket's
# session key that a device reuses for many requests). Deterministic, so only work is saved.
_PRF2_CACHE: dict[tuple[int, bytes, bytes, int], bytes] = {}
_PRF2_CACHE_MAX = 4096


def cf2(
    etype1: int, key1: bytes, etype2: int, key2: bytes, pepper1: bytes, pepper2: bytes
) -> bytes:
    """RFC 6113 5.1 KRB-FX-CF2; the result has enctype ``etype1``."""
    n = key_length(etype1)
    a = _prf_plus(etype1, key1, pepper1, n)
    ck = (etype2, key2, pepper2, n)
    b = _PRF2_CACHE.get(ck)
    if b is None:
        b = _prf_plus(etype2, key2, pepper2, n)
        if len(_PRF2_CACHE) >= _PRF2_CACHE_MAX:
            _PRF2_CACHE.clear()
        _PRF2_CACHE[ck] = b
    return _xor(a, b)
