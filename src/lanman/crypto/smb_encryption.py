"""SMB 3.x message encryption: SMB2 TRANSFORM_HEADER and the AES-CCM / AES-GCM ciphers
(MS-SMB2 2.2.41, 3.1.4.3, 3.3.4.1.4, 3.3.5.2.1.1).

Sans-IO: nothing here draws randomness or reads a clock. A sender owns a
:class:`NonceCounter` per encryption key, seeded by the caller with random bytes, so a nonce
is never used twice with one key (the counter runs to 2**64 messages, then refuses).

The Additional Authenticated Data is the transform header from offset 20 (Nonce through
SessionId, 32 bytes); the 16-byte AEAD tag is the header's Signature field. CCM uses the
first 11 bytes of the 16-byte Nonce field, GCM the first 12; the rest are zero on send.

A :class:`CipherKey` (the session's EncryptionKey / DecryptionKey as
``smb_signing.derive_keys`` returns them) keeps its ``AESGCM`` / ``AESCCM`` object and AES
key schedule from the first message on; messages up to :data:`_AEAD_MAX` bytes go through
that object in one call, larger GCM messages stream through a context built on the kept
AES key (no joined copy of a big READ/WRITE).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

__all__ = [
    "TRANSFORM_FLAG_ENCRYPTED",
    "TRANSFORM_HEADER_SIZE",
    "TRANSFORM_PROTOCOL_ID",
    "CipherId",
    "CipherKey",
    "DecryptError",
    "NonceCounter",
    "TransformHeader",
    "decrypt_message",
    "encrypt_message",
    "parse_cipher_names",
]

TRANSFORM_PROTOCOL_ID = b"\xfdSMB"
TRANSFORM_HEADER_SIZE = 52
TRANSFORM_FLAG_ENCRYPTED = 0x0001  # Flags (3.1.1) / EncryptionAlgorithm AES-128-CCM (3.0.x)
_AAD_OFFSET = 20
_TAG_SIZE = 16
_HDR = struct.Struct("<4s16s16sIHHQ")

Buffer = bytes | bytearray | memoryview


class CipherId(IntEnum):
    """SMB2_ENCRYPTION_CAPABILITIES cipher ids (MS-SMB2 2.2.3.1.2)."""

    AES_128_CCM = 0x0001
    AES_128_GCM = 0x0002
    AES_256_CCM = 0x0003
    AES_256_GCM = 0x0004

    @property
    def key_bits(self) -> int:
        """128 or 256: the L of the cipher-key KDF (MS-SMB2 3.3.5.5.3)."""
        return 256 if self in (CipherId.AES_256_CCM, CipherId.AES_256_GCM) else 128

    @property
    def is_gcm(self) -> bool:
        return self in (CipherId.AES_128_GCM, CipherId.AES_256_GCM)

    @property
    def nonce_size(self) -> int:
        """AES-CCM: 11-byte nonce; AES-GCM: 12-byte nonce (MS-SMB2 2.2.41)."""
        return 12 if self.is_gcm else 11


#: The order a Windows Server 2025 lists its ciphers in (Get-SmbServerConfiguration
#: EncryptionCiphers); lanman's default preference.
DEFAULT_CIPHER_ORDER: tuple[CipherId, ...] = (
    CipherId.AES_128_GCM,
    CipherId.AES_128_CCM,
    CipherId.AES_256_GCM,
    CipherId.AES_256_CCM,
)


def parse_cipher_names(text: str) -> tuple[CipherId, ...]:
    """``"AES_128_GCM, AES_256_GCM"`` (the EncryptionCiphers spelling; '-' also accepted)
    -> cipher ids in that order. ValueError on an unknown or repeated name, or none."""
    out: list[CipherId] = []
    for raw in text.split(","):
        name = raw.strip().upper().replace("-", "_")
        if not name:
            continue
        try:
            cid = CipherId[name]
        except KeyError:
            raise ValueError(
                f"unknown cipher {raw.strip()!r} (AES_128_GCM, AES_128_CCM, AES_256_GCM, "
                "AES_256_CCM)"
            ) from None
        if cid in out:
            raise ValueError(f"cipher {cid.name} listed twice")
        out.append(cid)
    if not out:
        raise ValueError("at least one cipher is needed")
    return tuple(out)


class CipherKey(bytes):
    """An SMB 3.x cipher key (MS-SMB2 3.3.1.8 Session.EncryptionKey / DecryptionKey) that
    keeps the AEAD object and AES key of its cipher once first used. It is the key's bytes
    (comparisons, ``len``, truthiness)."""

    def __reduce__(self):
        return (type(self), (bytes(self),))  # the cipher objects are rebuilt, never pickled

    def aead(self, cipher: CipherId) -> AESGCM | AESCCM:
        """The ``AESGCM`` (GCM ciphers) or ``AESCCM`` (16-byte tag) object of this key."""
        gcm = cipher.is_gcm
        obj = self.__dict__.get(gcm)
        if obj is None:
            obj = AESGCM(bytes(self)) if gcm else AESCCM(bytes(self), tag_length=_TAG_SIZE)
            self.__dict__[gcm] = obj
        return obj

    def aes(self) -> algorithms.AES:
        """The AES algorithm object of this key (streaming GCM of large messages)."""
        obj = self.__dict__.get("_aes")
        if obj is None:
            obj = self.__dict__["_aes"] = algorithms.AES(bytes(self))
        return obj


def cipher_key(key: Buffer) -> CipherKey:
    """``key`` as a :class:`CipherKey` (itself when it already is one)."""
    return key if isinstance(key, CipherKey) else CipherKey(key)


class DecryptError(ValueError):
    """A transform frame that is malformed or fails authentication."""


@dataclass(slots=True)
class TransformHeader:
    """MS-SMB2 2.2.41 SMB2 TRANSFORM_HEADER (52 bytes)."""

    signature: bytes
    nonce: bytes  # the full 16-byte field
    original_message_size: int
    flags: int
    session_id: int

    def pack(self) -> bytes:
        return _HDR.pack(
            TRANSFORM_PROTOCOL_ID,
            self.signature,
            self.nonce.ljust(16, b"\x00"),
            self.original_message_size,
            0,
            self.flags,
            self.session_id,
        )

    @classmethod
    def unpack(cls, frame: Buffer) -> TransformHeader:
        if len(frame) < TRANSFORM_HEADER_SIZE:
            raise DecryptError("transform header truncated")
        proto, sig, nonce, size, _reserved, flags, sid = _HDR.unpack_from(frame, 0)
        if proto != TRANSFORM_PROTOCOL_ID:
            raise DecryptError("not a transform header")
        return cls(sig, nonce, size, flags, sid)


class NonceCounter:
    """Unique nonces for one key (MS-SMB2 3.1.4.3: a nonce is never reused with a key).

    ``prefix`` (random bytes from the caller) fills the nonce's first bytes; a 64-bit
    little-endian message counter fills the last 8. CCM nonces are 11 bytes (3-byte prefix),
    GCM nonces 12 bytes (4-byte prefix).
    """

    __slots__ = ("_count", "_prefix", "size")

    def __init__(self, cipher: CipherId, prefix: bytes) -> None:
        self.size = cipher.nonce_size
        want = self.size - 8
        if len(prefix) < want:
            raise ValueError(f"nonce prefix needs {want} bytes")
        self._prefix = bytes(prefix[:want])
        self._count = 0

    def next(self) -> bytes:
        if self._count >= 0xFFFFFFFFFFFFFFFF:
            raise OverflowError("nonce space of this key used up")
        self._count += 1
        return self._prefix + struct.pack("<Q", self._count)


def _header(nonce: bytes, size: int, session_id: int) -> bytearray:
    return bytearray(
        TransformHeader(b"\x00" * 16, nonce, size, TRANSFORM_FLAG_ENCRYPTED, session_id).pack()
    )


def encrypt_message(
    cipher: CipherId,
    key: bytes,
    session_id: int,
    nonce: bytes,
    parts: Sequence[Buffer],
    *,
    in_place: bool = False,
) -> list[Buffer]:
    """Encrypt one SMB2 message (a compound included) made of ``parts`` (MS-SMB2 3.1.4.3).

    Returns ``[transform_header, ciphertext...]``. GCM runs incrementally over the parts (no
    joined copy of the plaintext); CCM needs its input in one piece (``cryptography`` has no
    streaming CCM), so its parts are joined once. With ``in_place`` (the caller owns the
    buffers and will not read them again, e.g. the server's READ buffers) a large writable
    memoryview part is overwritten with its own ciphertext instead of being copied.
    """
    if len(nonce) != cipher.nonce_size:
        raise ValueError("nonce size does not match the cipher")
    ck = cipher_key(key)
    size = sum(len(p) for p in parts)
    hdr = _header(nonce, size, session_id)
    aad = bytes(hdr[_AAD_OFFSET:])
    if cipher.is_gcm and size > _AEAD_MAX:
        enc = _Cipher(ck.aes(), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        out: list[Buffer] = [hdr]
        for p in parts:
            if not len(p):
                continue
            if in_place and isinstance(p, memoryview) and not p.readonly and len(p) > _CHUNK:
                _gcm_in_place(enc, p.cast("B"))
                out.append(p)
            else:
                out.append(enc.update(p))
        enc.finalize()
        tag = enc.tag
    else:
        # One call on the key's AEAD object. CCM has no streaming form in ``cryptography``,
        # so its parts are joined whatever their size; small GCM messages are joined too.
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        sealed = ck.aead(cipher).encrypt(nonce, data, aad)
        out = [hdr, memoryview(sealed)[:-_TAG_SIZE]]
        tag = sealed[-_TAG_SIZE:]
    hdr[4:20] = tag
    return out


#: Messages up to this size are encrypted/decrypted in one AEAD call (parts joined);
#: larger GCM ones stream through a context in pieces, in place where allowed.
_AEAD_MAX = 64 * 1024
_CHUNK = 256 * 1024  # in-place GCM works through a buffer in pieces this big


def _gcm_in_place(ctx, mv: memoryview) -> None:
    """Run a GCM encryptor/decryptor over the writable byte view ``mv`` in place, in
    _CHUNK pieces. GCM's output is as long as its input, but ``update_into`` wants 15 bytes
    of room past it: every piece but one at the very end writes over itself; that one goes
    through a small scratch buffer."""
    size = len(mv)
    for pos in range(0, size, _CHUNK):
        end = min(pos + _CHUNK, size)
        if end + 15 <= size:
            ctx.update_into(mv[pos:end], mv[pos : end + 15])
        else:
            scratch = bytearray(end - pos + 15)
            n = ctx.update_into(mv[pos:end], scratch)
            mv[pos : pos + n] = memoryview(scratch)[:n]


def decrypt_message(
    cipher: CipherId, key: bytes, frame: Buffer, *, max_size: int
) -> tuple[TransformHeader, bytearray | memoryview]:
    """Authenticate and decrypt one transform frame (MS-SMB2 3.3.5.2.1.1).

    Every length is checked before use: OriginalMessageSize must equal the ciphertext that
    follows the header and be at most ``max_size``. Raises :class:`DecryptError` on any
    failure; the plaintext is returned only once the tag has been verified. With GCM and a
    writable ``frame`` (the transport's receive buffer) the ciphertext is decrypted in place
    through a small scratch buffer and a view of the frame is returned: no second copy of a
    large WRITE is made.
    """
    th = TransformHeader.unpack(frame)
    view = memoryview(frame)
    body = view[TRANSFORM_HEADER_SIZE:]
    if th.original_message_size > max_size or th.original_message_size != len(body):
        raise DecryptError("OriginalMessageSize does not match the frame")
    if th.original_message_size < 64:
        raise DecryptError("encrypted message shorter than an SMB2 header")
    aad = bytes(view[_AAD_OFFSET:TRANSFORM_HEADER_SIZE])
    nonce = th.nonce[: cipher.nonce_size]
    ck = cipher_key(key)
    try:
        if cipher.is_gcm and len(body) > _AEAD_MAX:
            dec = _Cipher(ck.aes(), modes.GCM(nonce, th.signature)).decryptor()
            dec.authenticate_additional_data(aad)
            if view.readonly:
                out = bytearray(len(body) + 15)
                n = dec.update_into(body, out)
                dec.finalize()
                del out[n:]
                return th, out
            _gcm_in_place(dec, body)
            dec.finalize()  # raises InvalidTag: nothing decrypted is used before this
            return th, body
        # ciphertext || tag in one piece, authenticated and decrypted in one AEAD call
        sealed = b"".join((body, th.signature))
        plain = bytearray(len(body))
        ck.aead(cipher).decrypt_into(nonce, sealed, aad, plain)
        return th, plain
    except InvalidTag:
        raise DecryptError("decryption failed (bad tag)") from None
