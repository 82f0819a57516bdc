"""Known-answer and negative tests for SMB 3.x encryption (crypto/smb_encryption.py).

Vectors: Microsoft Open Specifications blog posts "Encryption in SMB 3.0: A protocol
perspective" (2012, AES-128-CCM, dialect 3.0) and "SMB 3.1.1 Encryption in Windows 10" (2015,
AES-128-GCM, dialect 3.1.1): session keys, the WRITE request each client encrypted and the
transform frames on the wire in both directions (the same values appear in the pike test suite,
test_smb3_encryption_vector.py).
"""

from __future__ import annotations

import pytest

from lanman.crypto.smb_encryption import (
    TRANSFORM_HEADER_SIZE,
    CipherId,
    DecryptError,
    NonceCounter,
    TransformHeader,
    decrypt_message,
    encrypt_message,
    parse_cipher_names,
)
from lanman.crypto.smb_signing import DIALECT_300, DIALECT_311, derive_keys

h = bytes.fromhex
MAX = 8 * 1024 * 1024 + 64 * 1024

# --- SMB 3.0, AES-128-CCM ------------------------------------------------------------------
KEYS_30 = derive_keys(h("B4546771B515F766A86735532DD6C4F0"), DIALECT_300, None)
SID_30 = 0x8E40014000011
WRITE_30 = h(
    "FE534D4240000100000000000900400008000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "3100700017000000000000000000000015010000390000020100000039020000"
    "00000000000000007000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"
)
FRAME_30 = h(
    "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A"
    "744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5"
    "2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4"
    "4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5"
    "AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6"
    "C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB"
)
RESP_FRAME_30 = h(
    "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
    "00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
    "E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
    "1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
    "77309E5B"
)
RESP_30 = h(
    "FE534D4240000100000000000900210009000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "11000000170000000000000000000000"
)

# --- SMB 3.1.1, AES-128-GCM ----------------------------------------------------------------
PREAUTH_311 = h(
    "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9"
    "77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770"
)
KEYS_311 = derive_keys(h("419FDDF34C1E001909D362AE7FB6AF79"), DIALECT_311, PREAUTH_311)
SID_311 = 0x100000000025
WRITE_311 = h(
    "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000031007000170000000000000000000000"
    "0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
    "72797074696F6E2074657374696E67"
)
FRAME_311 = h(
    "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000"
    "0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02"
    "D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4"
    "4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
    "1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8"
)
RESP_FRAME_311 = h(
    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
    "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
    "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
    "82E03C9E18A050FF0EA1C967"
)
RESP_311 = h(
    "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000011000000170000000000000000000000"
)


def _joined(parts) -> bytes:
    return b"".join(bytes(p) for p in parts)


def test_encryption_30_ccm_request_vector() -> None:
    """The client's encrypted WRITE: our decryption key (client EncryptionKey) opens it, and
    encrypting the same plaintext with the same nonce gives the same bytes."""
    th, plain = decrypt_message(
        CipherId.AES_128_CCM, KEYS_30.decryption_key, FRAME_30, max_size=MAX
    )
    assert bytes(plain) == WRITE_30
    assert th.session_id == SID_30 and th.original_message_size == len(WRITE_30)
    out = encrypt_message(
        CipherId.AES_128_CCM, KEYS_30.decryption_key, SID_30, th.nonce[:11], [WRITE_30]
    )
    # The blog's client filled all 16 nonce bytes; we send the 5 unused ones as zero, so
    # compare with the vector's header rebuilt the same way.
    th2 = TransformHeader.unpack(_joined(out))
    assert th2.nonce == th.nonce[:11] + bytes(5)
    ref = TransformHeader(th.signature, th.nonce[:11], len(WRITE_30), 1, SID_30).pack()
    assert ref[20:] == _joined(out)[20:TRANSFORM_HEADER_SIZE]


def test_encryption_30_ccm_response_vector() -> None:
    _th, plain = decrypt_message(
        CipherId.AES_128_CCM, KEYS_30.client_decryption_key, RESP_FRAME_30, max_size=MAX
    )
    assert bytes(plain) == RESP_30


def test_encryption_311_gcm_request_vector_exact() -> None:
    th, plain = decrypt_message(
        CipherId.AES_128_GCM, KEYS_311.decryption_key, FRAME_311, max_size=MAX
    )
    assert bytes(plain) == WRITE_311
    # GCM nonce is 12 bytes and the rest was zero: re-encryption reproduces the frame exactly.
    out = encrypt_message(
        CipherId.AES_128_GCM, KEYS_311.decryption_key, SID_311, th.nonce[:12], [WRITE_311]
    )
    assert _joined(out) == FRAME_311
    # Split parts (header / body / payload views) give the same frame.
    mv = memoryview(WRITE_311)
    out = encrypt_message(
        CipherId.AES_128_GCM,
        KEYS_311.decryption_key,
        SID_311,
        th.nonce[:12],
        [mv[:64], mv[64:112], mv[112:]],
    )
    assert _joined(out) == FRAME_311


def test_encryption_311_gcm_response_vector_exact() -> None:
    th, plain = decrypt_message(
        CipherId.AES_128_GCM, KEYS_311.encryption_key, RESP_FRAME_311, max_size=MAX
    )
    assert bytes(plain) == RESP_311
    out = encrypt_message(
        CipherId.AES_128_GCM, KEYS_311.encryption_key, SID_311, th.nonce[:12], [RESP_311]
    )
    assert _joined(out) == RESP_FRAME_311


@pytest.mark.parametrize("cipher", list(CipherId))
def test_encryption_round_trip_every_cipher(cipher: CipherId) -> None:
    key = bytes(range(cipher.key_bits // 8))
    nonces = NonceCounter(cipher, b"\xaa\xbb\xcc\xdd")
    msg = WRITE_311 + b"x" * 5000
    frame = _joined(encrypt_message(cipher, key, 7, nonces.next(), [msg[:64], msg[64:]]))
    th, plain = decrypt_message(cipher, key, frame, max_size=MAX)
    assert bytes(plain) == msg and th.session_id == 7
    assert th.nonce[cipher.nonce_size :] == bytes(16 - cipher.nonce_size)


@pytest.mark.parametrize("cipher", list(CipherId))
def test_encryption_every_bit_flip_rejected(cipher: CipherId) -> None:
    key = bytes(range(cipher.key_bits // 8))
    frame = bytearray(
        _joined(encrypt_message(cipher, key, 9, NonceCounter(cipher, b"1234").next(), [RESP_311]))
    )
    # Signature, nonce (used part), size, flags, session id, ciphertext: all covered.
    positions = [*range(4, 20), *range(20, 20 + cipher.nonce_size), *range(36, len(frame))]
    for pos in positions:
        for bit in (0, 7):
            bad = bytearray(frame)
            bad[pos] ^= 1 << bit
            with pytest.raises(DecryptError):
                decrypt_message(cipher, key, bad, max_size=MAX)


def test_encryption_lengths_bounded() -> None:
    key = bytes(16)
    frame = bytearray(
        _joined(
            encrypt_message(
                CipherId.AES_128_GCM,
                key,
                1,
                NonceCounter(CipherId.AES_128_GCM, b"abcd").next(),
                [RESP_311],
            )
        )
    )
    with pytest.raises(DecryptError):
        decrypt_message(CipherId.AES_128_GCM, key, frame[:40], max_size=MAX)
    with pytest.raises(DecryptError):
        decrypt_message(CipherId.AES_128_GCM, key, frame, max_size=len(RESP_311) - 1)
    with pytest.raises(DecryptError):  # truncated ciphertext
        decrypt_message(CipherId.AES_128_GCM, key, frame[:-1], max_size=MAX)
    with pytest.raises(DecryptError):
        decrypt_message(CipherId.AES_128_GCM, key, b"\xfeSMB" + bytes(60), max_size=MAX)


def test_encryption_nonce_counter_unique_and_sized() -> None:
    gcm = NonceCounter(CipherId.AES_128_GCM, b"\x01\x02\x03\x04\x05")
    ccm = NonceCounter(CipherId.AES_256_CCM, b"\x01\x02\x03")
    seen = {gcm.next() for _ in range(1000)}
    assert len(seen) == 1000 and all(len(n) == 12 for n in seen)
    assert len(ccm.next()) == 11
    with pytest.raises(ValueError):
        NonceCounter(CipherId.AES_128_GCM, b"\x01")


def test_encryption_256_bit_keys() -> None:
    full = bytes(range(32))
    k = derive_keys(full, DIALECT_311, PREAUTH_311, cipher_key_bits=256)
    assert len(k.encryption_key) == 32 and len(k.decryption_key) == 32
    assert len(k.signing_key) == 16
    # Ki is the full session key for 256-bit ciphers, the 16-byte one otherwise.
    k128 = derive_keys(full, DIALECT_311, PREAUTH_311)
    from lanman.crypto.kdf import kdf_sp800_108

    assert k.decryption_key == kdf_sp800_108(full, b"SMBC2SCipherKey\x00", PREAUTH_311, 256)
    assert k128.decryption_key == kdf_sp800_108(full[:16], b"SMBC2SCipherKey\x00", PREAUTH_311)


def test_encryption_cipher_names() -> None:
    assert parse_cipher_names("AES_128_GCM, aes-256-gcm") == (
        CipherId.AES_128_GCM,
        CipherId.AES_256_GCM,
    )
    for bad in ("", "AES_512_GCM", "AES_128_GCM,AES_128_GCM"):
        with pytest.raises(ValueError):
            parse_cipher_names(bad)


@pytest.mark.parametrize("size", [300_000, 1_000_003])
def test_encryption_gcm_in_place_decryption(size: int) -> None:
    """A writable frame is decrypted in place (view of the frame); a bad tag still fails and
    the caller must drop the frame."""
    key = bytes(range(32))
    msg = RESP_311 + bytes(range(256)) * (size // 256)
    frame = bytearray(
        _joined(
            encrypt_message(
                CipherId.AES_256_GCM,
                key,
                3,
                NonceCounter(CipherId.AES_256_GCM, b"wxyz").next(),
                [msg],
            )
        )
    )
    _th, plain = decrypt_message(CipherId.AES_256_GCM, key, frame, max_size=MAX)
    assert isinstance(plain, memoryview) and plain.obj is frame
    assert bytes(plain) == msg
    frame2 = bytearray(
        _joined(
            encrypt_message(
                CipherId.AES_256_GCM,
                key,
                3,
                NonceCounter(CipherId.AES_256_GCM, b"wxyz").next(),
                [msg],
            )
        )
    )
    frame2[-5] ^= 1
    with pytest.raises(DecryptError):
        decrypt_message(CipherId.AES_256_GCM, key, frame2, max_size=MAX)


def test_encryption_gcm_in_place_encryption_matches_copying() -> None:
    key = bytes(16)
    nonce = b"\x01" * 12
    payload = bytes(range(256)) * 4000  # > 256 KiB
    ref = _joined(encrypt_message(CipherId.AES_128_GCM, key, 5, nonce, [RESP_311, payload]))
    buf = bytearray(payload)
    out = encrypt_message(
        CipherId.AES_128_GCM, key, 5, nonce, [RESP_311, memoryview(buf)], in_place=True
    )
    assert _joined(out) == ref
    assert out[-1].obj is buf and bytes(buf) != payload  # overwritten with ciphertext
    _th, plain = decrypt_message(CipherId.AES_128_GCM, key, ref, max_size=MAX)
    assert bytes(plain) == RESP_311 + payload
