"""SMB2/3 message signing and key derivation (MS-SMB2 3.1.4.1, 3.1.4.2, 3.1.5.1).

All functions work on *parts*: a sequence of buffers that, concatenated, form one SMB2 PDU
(header first).  Large READ/WRITE payloads are never copied or concatenated; the MACs are
fed incrementally.

A :class:`SigningKey` (what :func:`derive_keys` returns as ``signing_key``) keeps the MAC
primitive it was first used with -- an HMAC or CMAC state holding the keyed setup, an
``AESGCM`` object -- and reuses it for every later message, so the per-message cost is the
MAC itself, not a new cipher context.  Plain ``bytes`` keys still work (a one-off
:class:`SigningKey` is made for the call).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from lanman.crypto.kdf import kdf_sp800_108
from lanman.crypto.smb_encryption import CipherKey

__all__ = [
    "DIALECT_202",
    "DIALECT_210",
    "DIALECT_300",
    "DIALECT_302",
    "DIALECT_311",
    "PREAUTH_HASH_ZERO",
    "SMB2_CANCEL",
    "SMB2_FLAGS_SERVER_TO_REDIR",
    "SMB2_FLAGS_SIGNED",
    "SMB2_HEADER_SIZE",
    "SigningAlgorithm",
    "SigningKey",
    "SmbKeys",
    "compute_signature",
    "derive_keys",
    "preauth_hash_update",
    "sign_pdu",
    "signing_key",
    "verify_pdu",
]

DIALECT_202 = 0x0202
DIALECT_210 = 0x0210
DIALECT_300 = 0x0300
DIALECT_302 = 0x0302
DIALECT_311 = 0x0311

SMB2_HEADER_SIZE = 64
SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001
SMB2_FLAGS_SIGNED = 0x00000008
SMB2_CANCEL = 0x000C

_FLAGS_OFF = 16
_COMMAND_OFF = 12
_MESSAGE_ID_OFF = 24
_SIG_OFF = 48
_SIG_END = 64

PREAUTH_HASH_ZERO = b"\x00" * 64

Buffer = bytes | bytearray | memoryview


class SigningAlgorithm(IntEnum):
    """SMB2_SIGNING_CAPABILITIES algorithm ids (MS-SMB2 2.2.3.1.7)."""

    HMAC_SHA256 = 0
    AES_CMAC = 1
    AES_GMAC = 2


@dataclass(slots=True)
class SmbKeys:
    """Session keys seen from the server side (MS-SMB2 3.3.5.5.3).

    ``encryption_key`` encrypts server-to-client traffic (client DecryptionKey);
    ``decryption_key`` decrypts client-to-server traffic (client EncryptionKey).
    """

    session_key: bytes
    signing_key: bytes
    application_key: bytes
    encryption_key: bytes
    decryption_key: bytes

    @property
    def client_encryption_key(self) -> bytes:
        """Client's EncryptionKey (= server's DecryptionKey)."""
        return self.decryption_key

    @property
    def client_decryption_key(self) -> bytes:
        """Client's DecryptionKey (= server's EncryptionKey)."""
        return self.encryption_key


def _session_key16(session_key: bytes) -> bytes:
    """Session.SessionKey: first 16 bytes of the GSS key, zero-padded (MS-SMB2 3.3.5.5.3)."""
    return bytes(session_key[:16]).ljust(16, b"\x00")


def derive_keys(
    session_key: bytes, dialect: int, preauth_hash: bytes | None, cipher_key_bits: int = 128
) -> SmbKeys:
    """Derive the signing, application and cipher keys (MS-SMB2 3.3.5.5.3, 3.1.4.2).

    2.0.2/2.1: SigningKey = ApplicationKey = SessionKey; no cipher keys (empty).
    3.0/3.0.2: constant contexts.  3.1.1: context = Session.PreauthIntegrityHashValue.
    ``cipher_key_bits`` 256 (Connection.CipherId AES-256-CCM/GCM, 3.1.1 only) derives 32-byte
    cipher keys with L = 256 from the full GSS session key (Session.FullSessionKey); otherwise
    cipher keys are 128-bit from the 16-byte Session.SessionKey.
    """
    key = _session_key16(session_key)
    if cipher_key_bits not in (128, 256):
        raise ValueError("cipher_key_bits must be 128 or 256")
    if dialect in (DIALECT_202, DIALECT_210):
        return SmbKeys(key, SigningKey(key), key, b"", b"")
    if dialect in (DIALECT_300, DIALECT_302):
        return SmbKeys(
            session_key=key,
            signing_key=SigningKey(kdf_sp800_108(key, b"SMB2AESCMAC\x00", b"SmbSign\x00")),
            application_key=kdf_sp800_108(key, b"SMB2APP\x00", b"SmbRpc\x00"),
            encryption_key=CipherKey(kdf_sp800_108(key, b"SMB2AESCCM\x00", b"ServerOut\x00")),
            decryption_key=CipherKey(kdf_sp800_108(key, b"SMB2AESCCM\x00", b"ServerIn \x00")),
        )
    if dialect == DIALECT_311:
        if preauth_hash is None or len(preauth_hash) != 64:
            raise ValueError("dialect 3.1.1 needs the 64-byte preauth integrity hash")
        h = bytes(preauth_hash)
        ck = bytes(session_key) if cipher_key_bits == 256 else key
        return SmbKeys(
            session_key=key,
            signing_key=SigningKey(kdf_sp800_108(key, b"SMBSigningKey\x00", h)),
            application_key=kdf_sp800_108(key, b"SMBAppKey\x00", h),
            encryption_key=CipherKey(kdf_sp800_108(ck, b"SMBS2CCipherKey\x00", h, cipher_key_bits)),
            decryption_key=CipherKey(kdf_sp800_108(ck, b"SMBC2SCipherKey\x00", h, cipher_key_bits)),
        )
    raise ValueError(f"unknown SMB2 dialect 0x{dialect:04X}")


_NONCE = struct.Struct("<QI")
#: Up to this many bytes a PDU is MACed with AES-GMAC in one call (its parts joined); larger
#: ones (big READ/WRITE payloads) stream through a GCM context instead of being copied.
_GMAC_JOIN_MAX = 256 * 1024


def gmac_nonce(message_id: int, *, is_response: bool, is_cancel: bool) -> bytes:
    """12-byte AES-GMAC nonce (MS-SMB2 3.1.4.1): MessageId LE, then a LE u32 of role bits."""
    return _NONCE.pack(
        message_id & 0xFFFFFFFFFFFFFFFF, (1 if is_response else 0) | (2 if is_cancel else 0)
    )


class SigningKey(bytes):
    """A signing key (MS-SMB2 3.3.1.8 Session.SigningKey, 3.3.1.14 Channel.SigningKey) that
    keeps the keyed MAC primitive of each algorithm it signs with (made on first use, then
    reused). It is the key's bytes: comparisons, hashing and ``len`` are those of bytes."""

    def __reduce__(self):
        return (type(self), (bytes(self),))  # the primitives are rebuilt, never pickled

    def _primitive(self, algorithm: int):
        cache = self.__dict__
        prim = cache.get(algorithm)
        if prim is None:
            if algorithm == SigningAlgorithm.HMAC_SHA256:
                prim = hmac.new(bytes(self), digestmod=hashlib.sha256)
            elif algorithm == SigningAlgorithm.AES_CMAC:
                prim = CMAC(algorithms.AES(bytes(self)))
            elif algorithm == SigningAlgorithm.AES_GMAC:
                prim = (AESGCM(bytes(self)), algorithms.AES(bytes(self)))
            else:
                raise ValueError(f"unknown signing algorithm {algorithm!r}")
            cache[algorithm] = prim
        return prim

    def signature(
        self,
        algorithm: int,
        parts: Sequence[Buffer],
        *,
        message_id: int = 0,
        is_response: bool = False,
        is_cancel: bool = False,
    ) -> bytes:
        """The 16-byte signature of the PDU made of ``parts`` (MS-SMB2 3.1.4.1)."""
        prim = self._primitive(algorithm)
        if algorithm == SigningAlgorithm.AES_GMAC:
            nonce = gmac_nonce(message_id, is_response=is_response, is_cancel=is_cancel)
            aead, aes = prim
            if len(parts) == 1:
                return aead.encrypt(nonce, b"", parts[0])
            if sum(len(p) for p in parts) <= _GMAC_JOIN_MAX:
                return aead.encrypt(nonce, b"", b"".join(parts))
            enc = Cipher(aes, modes.GCM(nonce)).encryptor()
            for part in parts:
                enc.authenticate_additional_data(part)
            enc.finalize()
            return enc.tag
        mac = prim.copy()
        for part in parts:
            mac.update(part)
        if algorithm == SigningAlgorithm.AES_CMAC:
            return mac.finalize()
        return mac.digest()[:16]

    def verify(
        self,
        algorithm: int,
        parts: Sequence[Buffer],
        received: Buffer,
        *,
        message_id: int = 0,
        is_response: bool = False,
        is_cancel: bool = False,
    ) -> bool:
        """True when ``received`` is the signature of ``parts`` (constant-time compare)."""
        expected = self.signature(
            algorithm, parts, message_id=message_id, is_response=is_response, is_cancel=is_cancel
        )
        return hmac.compare_digest(expected, bytes(received))


def signing_key(key: Buffer) -> SigningKey:
    """``key`` as a :class:`SigningKey` (itself when it already is one)."""
    return key if isinstance(key, SigningKey) else SigningKey(key)


def compute_signature(
    key: Buffer,
    algorithm: SigningAlgorithm,
    parts: Sequence[Buffer],
    *,
    message_id: int = 0,
    is_response: bool = False,
    is_cancel: bool = False,
) -> bytes:
    """Return the 16-byte signature of the PDU made of ``parts`` (MS-SMB2 3.1.4.1).

    The caller has already set SMB2_FLAGS_SIGNED and zeroed header bytes 48..64.  The parts
    are MACed incrementally (small PDUs with AES-GMAC: joined once) and never copied
    otherwise. Pass a :class:`SigningKey` to reuse its MAC primitive.
    """
    return signing_key(key).signature(
        algorithm, parts, message_id=message_id, is_response=is_response, is_cancel=is_cancel
    )


def sign_pdu(buf: bytearray, key: bytes, algorithm: SigningAlgorithm, *, is_response: bool) -> None:
    """Sign one contiguous SMB2 PDU in place (MS-SMB2 3.1.4.1).

    Sets SMB2_FLAGS_SIGNED, zeroes the Signature field, computes and stores the signature.
    MessageId (offset 24) and Command (offset 12) feed the AES-GMAC nonce.
    """
    if len(buf) < SMB2_HEADER_SIZE:
        raise ValueError("buffer shorter than an SMB2 header")
    (flags,) = struct.unpack_from("<I", buf, _FLAGS_OFF)
    struct.pack_into("<I", buf, _FLAGS_OFF, flags | SMB2_FLAGS_SIGNED)
    buf[_SIG_OFF:_SIG_END] = bytes(16)
    (command,) = struct.unpack_from("<H", buf, _COMMAND_OFF)
    (message_id,) = struct.unpack_from("<Q", buf, _MESSAGE_ID_OFF)
    sig = compute_signature(
        key,
        algorithm,
        (buf,),
        message_id=message_id,
        is_response=is_response,
        is_cancel=command == SMB2_CANCEL,
    )
    buf[_SIG_OFF:_SIG_END] = sig


def verify_pdu(
    parts: Sequence[Buffer], key: bytes, algorithm: SigningAlgorithm, *, is_response: bool
) -> bool:
    """Check the signature of a received PDU (MS-SMB2 3.1.5.1, 3.3.5.2.4).

    ``parts[0]`` must hold at least the 64-byte header.  Only the header is copied (to zero
    its Signature field); payload parts are MACed in place.  ``is_response`` describes the
    *sender* of the PDU (True when verifying a server response).
    """
    if not parts or len(parts[0]) < SMB2_HEADER_SIZE:
        return False
    first = memoryview(parts[0]).cast("B")
    header = bytearray(first[:SMB2_HEADER_SIZE])
    received = bytes(header[_SIG_OFF:_SIG_END])
    header[_SIG_OFF:_SIG_END] = bytes(16)
    (command,) = struct.unpack_from("<H", header, _COMMAND_OFF)
    (message_id,) = struct.unpack_from("<Q", header, _MESSAGE_ID_OFF)
    rebuilt: list[Buffer] = [header]
    if len(first) > SMB2_HEADER_SIZE:
        rebuilt.append(first[SMB2_HEADER_SIZE:])
    rebuilt.extend(parts[1:])
    return signing_key(key).verify(
        algorithm,
        rebuilt,
        received,
        message_id=message_id,
        is_response=is_response,
        is_cancel=command == SMB2_CANCEL,
    )


def preauth_hash_update(h: bytes, *parts: Buffer) -> bytes:
    """PreauthIntegrityHashValue = SHA-512(H || message) (MS-SMB2 3.3.5.4, 3.3.5.5)."""
    sha = hashlib.sha512(h)
    for part in parts:
        sha.update(part)
    return sha.digest()
