"""Known-answer tests for MD4, the SP800-108 KDF and SMB2/3 signing.

Vectors: RFC 1320 A.5; smb-signing fact sheet 1.7 A-D (Preauth blog / Anatomy blog appendix,
pike test_smb3_encryption_vector.py, smbj PacketSignatory test).
"""

from __future__ import annotations

import importlib

import pytest

from lanman.crypto.kdf import kdf_sp800_108
from lanman.crypto.md4 import md4, nt_hash
from lanman.crypto.smb_signing import (
    DIALECT_202,
    DIALECT_210,
    DIALECT_300,
    DIALECT_302,
    DIALECT_311,
    PREAUTH_HASH_ZERO,
    SigningAlgorithm,
    compute_signature,
    derive_keys,
    preauth_hash_update,
    sign_pdu,
    verify_pdu,
)

h = bytes.fromhex

# --- MD4 -------------------------------------------------------------------------------

RFC1320 = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("msg", "digest"), RFC1320)
def test_crypto_md4_rfc1320(msg: bytes, digest: str) -> None:
    assert md4(msg).hex() == digest


@pytest.mark.parametrize("n", [54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000])
def test_crypto_md4_padding_boundaries_against_reference(n: int) -> None:
    # pycryptodomex comes with impacket (a test peer); OpenSSL 3 usually lacks MD4.
    mod = importlib.import_module("Cryptodome.Hash.MD4")
    data = bytes(i % 251 for i in range(n))
    assert md4(data).hex() == mod.new(data).hexdigest()


def test_crypto_nt_hash() -> None:
    # MS-NLMP 4.2.2.1.2 NTOWFv1("Password") and Anatomy blog NtHash("Password01!").
    assert nt_hash("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"
    assert nt_hash("Password01!").hex() == "7c4fe5eada682714a036e39378362bab"


# --- Vector A: preauth hash chain and 3.1.1 keys (pike / Preauth blog) -------------------

NEG_REQ = h(
    "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32"
    "6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000"
    "010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000"
    "0200060000000000020002000100"
)
NEG_RESP = h(
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000"
    "000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942"
    "BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001"
    "80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182"
    "3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51"
    "FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000"
    "5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000"
    "7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000"
    "3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562"
    "6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075"
    "626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4"
    "83CA5B65385A251117BEB30712E50000020004000000000001000200"
)
SS_REQ1 = h(
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000019000001010000000000000058004A00"
    "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
    "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
    "000F"
)
SS_RESP1 = h(
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000"
    "190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003"
    "0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038"
    "00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53"
    "005500540033003100310002000C0053005500540033003100310001000C00530055005400330031"
    "00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1"
    "A1F5ADCBAED00100000000"
)
SS_REQ2 = h(
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000"
    "1900000000100000000000000000000000000000000000001900000101000000000000005800CF01"
    "0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000"
    "001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000"
    "001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055"
    "005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049"
    "0056004500520033003100310000000000000000000000000000000000000000000000000063078E"
    "B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000"
    "0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055"
    "00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004"
    "00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B"
    "8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016"
    "0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F"
    "5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000"
)
# Final SESSION_SETUP response (flags 0x9) of the master session (Anatomy blog appendix).
SS_RESP2 = h(
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
    "1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01"
    "00A3120410010000003B453CDC3524164200000000"
)
PREAUTH_FINAL = h(
    "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97"
    "51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01"
)
SESSION_KEY_311 = h("270E1BA896585EEB7AF3472D3B4C75A7")


def test_crypto_preauth_hash_chain() -> None:
    expected = [
        (
            "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0"
            "CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426"
        ),
        (
            "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99"
            "7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513"
        ),
        (
            "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33"
            "197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9"
        ),
        (
            "2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336"
            "4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387"
        ),
        PREAUTH_FINAL.hex(),
    ]
    value = PREAUTH_HASH_ZERO
    for pdu, exp in zip((NEG_REQ, NEG_RESP, SS_REQ1, SS_RESP1, SS_REQ2), expected, strict=True):
        value = preauth_hash_update(value, pdu)
        assert value.hex().upper() == exp.upper()
    # Split parts hash the same as the whole PDU.
    assert preauth_hash_update(PREAUTH_HASH_ZERO, NEG_REQ[:10], memoryview(NEG_REQ)[10:]) == (
        preauth_hash_update(PREAUTH_HASH_ZERO, NEG_REQ)
    )


def test_crypto_derive_keys_311_vector_a() -> None:
    keys = derive_keys(SESSION_KEY_311, DIALECT_311, PREAUTH_FINAL)
    assert keys.signing_key.hex().upper() == "73FE7A9A77BEF0BDE49C650D8CCB5F76"
    # Server EncryptionKey = client DecryptionKey and vice versa; blog lists client-side names.
    assert keys.client_encryption_key.hex().upper() == "629BCBC54422A0F572B97F45989B6073"
    assert keys.client_decryption_key.hex().upper() == "E2AF0DCEFAC68DA71A0DFBD0D1350D74"
    assert keys.decryption_key == keys.client_encryption_key
    assert keys.application_key.hex().upper() == "6D7AD7954E9EC61E907B4D473DC178FF"


def test_crypto_kdf_needs_both_nuls() -> None:
    good = kdf_sp800_108(SESSION_KEY_311, b"SMBSigningKey\x00", PREAUTH_FINAL)
    bad = kdf_sp800_108(SESSION_KEY_311, b"SMBSigningKey", PREAUTH_FINAL)
    assert good.hex().upper() == "73FE7A9A77BEF0BDE49C650D8CCB5F76"
    assert bad != good
    assert len(kdf_sp800_108(b"k" * 16, b"L\x00", b"C\x00", 256)) == 32
    with pytest.raises(ValueError):
        kdf_sp800_108(b"k", b"", b"", 300)


# --- Vector B: 3.1.1 AES-CMAC signatures incl. multichannel binding (Anatomy blog) -------

BIND_REQ1 = h(
    "FE534D4240000100000000000100800008000000000000000200000000000000FFFE000000000000"
    "190000000010000068BD0C58F613CE1334B1EB51C68D39EA19000101010000000000000058004A00"
    "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
    "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
    "000F"
)
BIND_RESP1 = h(
    "FE534D4240000100160000C00100010009000000000000000200000000000000FFFE000000000000"
    "1900000000100000014A71CAE724995E612430E2BE87578C090000004800B300A181B03081ADA003"
    "0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038"
    "00000015828AE23823DA68E32D2FE1000000000000000050005000440000000A0092270000000F53"
    "005500540033003100310002000C0053005500540033003100310001000C00530055005400330031"
    "00310004000C0053005500540033003100310003000C005300550054003300310031000700080041"
    "3B42AECBAED00100000000"
)
BIND_RESP2 = h(
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
    "19000000001000008D604217FFBACF40635BF9D8729921500900000048001D00A11B3019A0030A01"
    "00A312041001000000CFB046FC5D368E2200000000"
)
BIND_PREAUTH = h(
    "EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A10BD022124CE2512"
    "3BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C"
)
BIND_SESSION_KEY = h("84B9DBB730116A8FA6E9889555C265F9")


def _resign(pdu: bytes, key: bytes, algorithm: SigningAlgorithm, is_response: bool) -> bytes:
    buf = bytearray(pdu)
    sign_pdu(buf, key, algorithm, is_response=is_response)
    return bytes(buf)


@pytest.mark.parametrize(
    ("pdu", "is_response"),
    [(SS_RESP2, True), (BIND_REQ1, False), (BIND_RESP1, True)],
    ids=["final-response", "binding-request", "binding-more-processing"],
)
def test_crypto_cmac_signatures_master_key(pdu: bytes, is_response: bool) -> None:
    key = derive_keys(SESSION_KEY_311, DIALECT_311, PREAUTH_FINAL).signing_key
    assert _resign(pdu, key, SigningAlgorithm.AES_CMAC, is_response) == pdu
    assert verify_pdu([pdu], key, SigningAlgorithm.AES_CMAC, is_response=is_response)


def test_crypto_cmac_signature_binding_channel_key() -> None:
    keys = derive_keys(BIND_SESSION_KEY, DIALECT_311, BIND_PREAUTH)
    assert keys.signing_key.hex().upper() == "C962BCA1A9DD1697B030644199705431"
    assert _resign(BIND_RESP2, keys.signing_key, SigningAlgorithm.AES_CMAC, True) == BIND_RESP2
    # Split into header / body / single bytes: same answer, nothing concatenated by caller.
    parts = [BIND_RESP2[:64], memoryview(BIND_RESP2)[64:70], bytearray(BIND_RESP2[70:])]
    assert verify_pdu(parts, keys.signing_key, SigningAlgorithm.AES_CMAC, is_response=True)


# --- Vector C: 3.0 keys (Anatomy blog) and encryption-blog keys (pike) ----------------------


@pytest.mark.parametrize("dialect", [DIALECT_300, DIALECT_302])
def test_crypto_derive_keys_30(dialect: int) -> None:
    keys = derive_keys(h("7CD451825D0450D235424E44BA6E78CC"), dialect, None)
    assert keys.signing_key.hex().upper() == "0B7E9C5CAC36C0F6EA9AB275298CEDCE"
    assert keys.client_encryption_key.hex().upper() == "FAD27796665B313EBB578F388632B4F7"
    assert keys.client_decryption_key.hex().upper() == "B0F0427F7CEB416D1D9DCC0CD4F99447"
    assert keys.application_key.hex().upper() == "BB23A4575AA26C721AF525AF15A87B4F"
    second = derive_keys(h("4E01A2B313BCF660CC250BEF021AEDE6"), dialect, None)
    assert second.signing_key.hex().upper() == "BA1A17DBBFEC349BCA105563D598952F"


def test_crypto_derive_keys_encryption_blogs() -> None:
    k30 = derive_keys(h("B4546771B515F766A86735532DD6C4F0"), DIALECT_300, None)
    assert k30.client_encryption_key.hex().upper() == "261B72350558F2E9DCF613070383EDBF"
    assert k30.client_decryption_key.hex().upper() == "8FE2B57EC34D2DB5B1A9727F526BBDB5"
    preauth = h(
        "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9"
        "77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770"
    )
    k311 = derive_keys(h("419FDDF34C1E001909D362AE7FB6AF79"), DIALECT_311, preauth)
    assert k311.client_encryption_key.hex().upper() == "A2F5E80E5D59103034F32E52F698E5EC"
    assert k311.client_decryption_key.hex().upper() == "748C50868C90F302962A5C35F5F9A8BF"


def test_crypto_derive_keys_2x_and_padding() -> None:
    for dialect in (DIALECT_202, DIALECT_210):
        keys = derive_keys(b"\x01\x02", dialect, None)
        assert keys.signing_key == b"\x01\x02" + bytes(14)
        assert keys.application_key == keys.signing_key
    long_key = bytes(range(32))
    assert derive_keys(long_key, DIALECT_210, None).signing_key == long_key[:16]
    # 3.x uses the truncated 16-byte SessionKey as KDF input.
    assert (
        derive_keys(long_key, DIALECT_300, None).signing_key
        == derive_keys(long_key[:16], DIALECT_300, None).signing_key
    )
    with pytest.raises(ValueError):
        derive_keys(long_key, DIALECT_311, None)
    with pytest.raises(ValueError):
        derive_keys(long_key, 0x0222, None)


# --- Vector D: SMB 2.1 HMAC-SHA256 (smbj) -----------------------------------------------

SMBJ_KEY = h("75c5cb91419e3a45ce9ef869dfd3e2a8")
SMBJ_PDU = h(
    "fe534d4240001000060000800e00200009000000000000001500000000000000"
    "0000000001000000250000000024000046efdd50d6cdaa25bac7c4b5d49a0e08"
    "090000000000000005"
)


def test_crypto_hmac_sha256_signature_vector_d() -> None:
    assert len(SMBJ_PDU) == 73
    assert _resign(SMBJ_PDU, SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, True) == SMBJ_PDU
    assert verify_pdu([SMBJ_PDU], SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True)
    tampered = bytearray(SMBJ_PDU)
    tampered[-1] ^= 1  # the trailing byte after the fixed body is covered
    assert not verify_pdu([tampered], SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True)


# --- GMAC and general properties ----------------------------------------------------------


def test_crypto_gmac_matches_aesgcm_reference() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = bytes(range(16))
    pdu = bytearray(SMBJ_PDU)
    pdu[48:64] = bytes(16)
    for is_resp, is_cancel in [(False, False), (True, False), (False, True), (True, True)]:
        nonce = (0x15).to_bytes(8, "little") + (
            (1 if is_resp else 0) | (2 if is_cancel else 0)
        ).to_bytes(4, "little")
        ref = AESGCM(key).encrypt(nonce, b"", bytes(pdu))
        sig = compute_signature(
            key,
            SigningAlgorithm.AES_GMAC,
            [pdu[:64], memoryview(pdu)[64:]],
            message_id=0x15,
            is_response=is_resp,
            is_cancel=is_cancel,
        )
        assert sig == ref


def test_crypto_gmac_sign_verify_roles_and_cancel() -> None:
    key = bytes(range(16))
    pdu = bytearray(SMBJ_PDU)
    sign_pdu(pdu, key, SigningAlgorithm.AES_GMAC, is_response=True)
    assert verify_pdu([pdu], key, SigningAlgorithm.AES_GMAC, is_response=True)
    assert not verify_pdu([pdu], key, SigningAlgorithm.AES_GMAC, is_response=False)
    cancel = bytearray(SMBJ_PDU)
    cancel[12:14] = (0x000C).to_bytes(2, "little")
    sign_pdu(cancel, key, SigningAlgorithm.AES_GMAC, is_response=False)
    mid = int.from_bytes(cancel[24:32], "little")
    zeroed = bytearray(cancel)
    zeroed[48:64] = bytes(16)
    assert bytes(cancel[48:64]) == compute_signature(
        key, SigningAlgorithm.AES_GMAC, [zeroed], message_id=mid, is_cancel=True
    )


def test_crypto_sign_pdu_sets_flag() -> None:
    buf = bytearray(SMBJ_PDU)
    buf[16:20] = (1).to_bytes(4, "little")
    sign_pdu(buf, SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True)
    assert int.from_bytes(buf[16:20], "little") == 9
    assert bytes(buf) == SMBJ_PDU


def test_crypto_verify_pdu_short_or_empty() -> None:
    assert not verify_pdu([], SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True)
    assert not verify_pdu([SMBJ_PDU[:63]], SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True)
    # header only in parts[0], body in another part
    assert verify_pdu(
        [SMBJ_PDU[:64], SMBJ_PDU[64:]], SMBJ_KEY, SigningAlgorithm.HMAC_SHA256, is_response=True
    )


def test_crypto_verify_does_not_copy_payload_large() -> None:
    key = bytes(16)
    header = bytearray(SMBJ_PDU[:64])
    payload = memoryview(bytearray(8 * 1024 * 1024))
    header[48:64] = bytes(16)
    header[16] |= 8
    for algorithm in SigningAlgorithm:
        mid = int.from_bytes(header[24:32], "little")
        sig = compute_signature(key, algorithm, [header, payload], message_id=mid, is_response=True)
        signed = bytearray(header)
        signed[48:64] = sig
        assert verify_pdu([signed, payload], key, algorithm, is_response=True)
