"""Signing and cipher keys that keep their MAC/AEAD objects (lanman.crypto.smb_signing
SigningKey, smb_encryption CipherKey): the same bytes on the wire as a key used once, for
every algorithm, message size and buffer kind; plain bytes keys keep working."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from lanman.crypto import smb_encryption as enc
from lanman.crypto.smb_signing import (
    SigningAlgorithm,
    SigningKey,
    compute_signature,
    derive_keys,
    gmac_nonce,
)

KEY = bytes(range(16))
SIZES = [64, 68, 4096, 64 * 1024 + 3, 300 * 1024 + 5]


def _reference(algorithm, key: bytes, data: bytes, message_id: int) -> bytes:
    if algorithm == SigningAlgorithm.HMAC_SHA256:
        return hmac.new(key, data, hashlib.sha256).digest()[:16]
    if algorithm == SigningAlgorithm.AES_CMAC:
        c = CMAC(algorithms.AES(key))
        c.update(data)
        return c.finalize()
    nonce = gmac_nonce(message_id, is_response=True, is_cancel=False)
    return AESGCM(key).encrypt(nonce, b"", data)


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
@pytest.mark.parametrize("size", SIZES)
def test_a_kept_key_signs_as_a_fresh_one(algorithm, size):
    key = SigningKey(KEY)
    for message_id in (1, 2):  # the second message reuses the kept primitive
        data = os.urandom(size)
        parts = [data[:64], memoryview(data)[64:]] if size > 64 else [data]
        want = _reference(algorithm, KEY, data, message_id)
        got = key.signature(algorithm, parts, message_id=message_id, is_response=True)
        assert got == want
        assert compute_signature(KEY, algorithm, parts, message_id=message_id, is_response=True)
        assert key.verify(algorithm, parts, want, message_id=message_id, is_response=True)
        assert not key.verify(algorithm, parts, bytes(16), message_id=message_id, is_response=True)


def test_keys_stay_bytes_and_derive_keys_hands_out_key_objects():
    keys = derive_keys(os.urandom(16), 0x0311, os.urandom(64), 256)
    assert isinstance(keys.signing_key, SigningKey)
    assert isinstance(keys.encryption_key, enc.CipherKey)
    assert len(keys.encryption_key) == 32
    plain = bytes(keys.signing_key)
    assert keys.signing_key == plain and hash(keys.signing_key) == hash(plain)
    keys.signing_key.signature(SigningAlgorithm.AES_CMAC, [b"x" * 64])
    import pickle

    assert pickle.loads(pickle.dumps(keys.signing_key)) == plain


@pytest.mark.parametrize("cipher", list(enc.CipherId))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("in_place", [False, True])
def test_encrypt_and_decrypt_match_a_one_shot_aead(cipher, size, in_place):
    key = enc.CipherKey(os.urandom(cipher.key_bits // 8))
    nonce = os.urandom(cipher.nonce_size)
    message = os.urandom(size)
    parts = [message[:64], memoryview(bytearray(message[64:]))]
    frame_parts = enc.encrypt_message(cipher, key, 7, nonce, parts, in_place=in_place)
    frame = b"".join(bytes(p) for p in frame_parts)
    th = enc.TransformHeader.unpack(frame)
    aad = frame[20:52]
    one_shot = (AESGCM if cipher.is_gcm else AESCCM)(bytes(key)).encrypt(nonce, message, aad)
    assert frame[52:] + th.signature == one_shot
    for buf in (frame, bytearray(frame)):  # read-only and writable (decrypted in place)
        _th, plain = enc.decrypt_message(cipher, key, buf, max_size=1 << 24)
        assert bytes(plain) == message
    bad = bytearray(frame)
    bad[-1] ^= 1
    with pytest.raises(enc.DecryptError):
        enc.decrypt_message(cipher, bytes(key), bad, max_size=1 << 24)  # plain bytes key
