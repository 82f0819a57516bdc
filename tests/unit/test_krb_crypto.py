"""RFC 3961 / 3962 / 4757 published vectors and cross-checks for lanman.kerberos.crypto."""

from __future__ import annotations

import importlib

import pytest

from lanman.kerberos import crypto as kc

H = bytes.fromhex

# RFC 3961 Appendix A.1 n-fold vectors.
NFOLD = [
    (b"012345", 64, "be072631276b1955"),
    (b"password", 56, "78a07b6caf85fa"),
    (b"Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"),
    (b"password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
    (
        b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
        192,
        "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
    ),
    (b"Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"),
    (b"ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
    (b"kerberos", 64, "6b65726265726f73"),
    (b"kerberos", 128, "6b65726265726f737b9b5b2b93132b93"),
    (b"kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4"),
    (b"kerberos", 256, "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4"),
]


@pytest.mark.parametrize(("data", "bits", "out"), NFOLD)
def test_nfold_rfc3961(data: bytes, bits: int, out: str) -> None:
    assert kc.nfold(data, bits // 8) == H(out)


# RFC 3962 Appendix B string-to-key vectors: (iterations, password, salt, aes128, aes256)
S2K = [
    (
        1,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "42263c6e89f4fc28b8df68ee09799f15",
        "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161",
    ),
    (
        2,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "c651bf29e2300ac27fa469d693bdda13",
        "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff",
    ),
    (
        1200,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "4c01cd46d632d01e6dbe230a01ed642a",
        "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a",
    ),
    (
        5,
        "password",
        H("1234567878563412"),
        "e9b23d52273747dd5c35cb55be619d8e",
        "97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31",
    ),
    (
        1200,
        "X" * 64,
        b"pass phrase equals block size",
        "59d1bb789a828b1aa54ef9c2883f69ed",
        "89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34",
    ),
    (
        1200,
        "X" * 65,
        b"pass phrase exceeds block size",
        "cb8005dc5f90179a7f02104c0018751d",
        "d78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b",
    ),
    (
        50,
        "\U0001d11e",
        b"EXAMPLE.COMpianist",
        "f149c1f2e154a73452d43e7fe62a56e5",
        "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e",
    ),
]


@pytest.mark.parametrize(("it", "pw", "salt", "k128", "k256"), S2K)
def test_string_to_key_rfc3962(it: int, pw: str, salt: bytes, k128: str, k256: str) -> None:
    params = it.to_bytes(4, "big")
    assert kc.string_to_key(17, pw, salt, params) == H(k128)
    assert kc.string_to_key(18, pw, salt, params) == H(k256)


CTS_KEY = H("636869636b656e207465726979616b69")
CTS_IN = b"I would like the General Gau's Chicken, please, and wonton soup."
CTS = [
    (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
    (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
    (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
    (
        47,
        (
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e"
            "39312523a78662d5be7fcbcc98ebf5"
        ),
    ),
    (
        48,
        (
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd8"
            "39312523a78662d5be7fcbcc98ebf5a8"
        ),
    ),
    (
        64,
        (
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a8"
            "4807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8"
        ),
    ),
]


@pytest.mark.parametrize(("n", "out"), CTS)
def test_aes_cts_rfc3962(n: int, out: str) -> None:
    assert kc.aes_cts_encrypt(CTS_KEY, CTS_IN[:n]) == H(out)
    assert kc.aes_cts_decrypt(CTS_KEY, H(out)) == CTS_IN[:n]


def test_derive_key_mit_vectors() -> None:
    # DK(base, usage 2 || 0x99/0xAA) from the RFC 3962 one-iteration keys.
    base = H("42263c6e89f4fc28b8df68ee09799f15")
    assert kc.derive_key(base, b"\x00\x00\x00\x02\x99") == H("34280a382bc92769b2da2f9ef066854b")
    assert kc.derive_key(base, b"\x00\x00\x00\x02\xaa") == H("5b14fc4e250e14ddf9dccf1af6674f53")


@pytest.mark.parametrize("etype", [17, 18, 23])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100])
def test_encrypt_roundtrip_and_tamper(etype: int, size: int) -> None:
    key = kc.random_key(etype)
    pt = bytes(range(size % 256)) * 1 if size < 256 else b"x" * size
    ct = kc.encrypt(etype, key, 3, pt)
    assert kc.decrypt(etype, key, 3, ct) == pt
    bad = bytearray(ct)
    bad[-1] ^= 1
    with pytest.raises(kc.CryptoError):
        kc.decrypt(etype, key, 3, bytes(bad))
    with pytest.raises(kc.CryptoError):
        kc.decrypt(etype, key, 4, ct)


def test_rc4_key_is_nt_hash() -> None:
    assert kc.string_to_key(23, "password", b"ignored") == H("8846f7eaee8fb117ad06bdd830b7586c")


def test_default_salts() -> None:
    assert kc.default_salt("lanman.test", ["alice"], is_computer=False) == b"LANMAN.TESTalice"
    assert kc.default_salt("LANMAN.TEST", ["LANMAN$"], is_computer=True) == (
        b"LANMAN.TESThostlanman.lanman.test"
    )


def test_cross_check_with_impacket() -> None:
    """impacket (a test peer) decrypts what we encrypt and vice versa; checksums agree."""
    ic = importlib.import_module("impacket.krb5.crypto")
    for etype in (17, 18, 23):
        key = kc.random_key(etype)
        ikey = ic.Key(etype, key)
        enc = ic._enctype_table[etype]
        for usage in (1, 3, 7, 9, 11, 12):
            assert enc.decrypt(ikey, usage, kc.encrypt(etype, key, usage, b"hello kerberos")) == (
                b"hello kerberos"
            )
            assert kc.decrypt(etype, key, usage, enc.encrypt(ikey, usage, b"abc" * 9, None)) == (
                b"abc" * 9
            )
        ctype = kc.checksum_type_for(etype)
        ours = kc.make_checksum(ctype, key, 17, b"pac data")
        theirs = ic._checksum_table[ctype].checksum(ikey, 17, b"pac data")
        assert ours == theirs
        assert kc.prf(etype, key, b"\x01prf test") == enc.prf(ikey, b"\x01prf test")


def test_cf2_matches_impacket_shape() -> None:
    k1, k2 = kc.random_key(18), kc.random_key(18)
    a = kc.cf2(18, k1, 18, k2, b"subkeyarmor", b"ticketarmor")
    assert len(a) == 32
    assert a != kc.cf2(18, k1, 18, k2, b"subkeyarmor", b"other")
