"""NTLMSSP (MS-NLMP): message codecs, NTLMv2 acceptor and initiator, session security.

Sans-IO: tokens in, tokens out; time (FILETIME) and randomness can be injected.  Only NTLMv2
is accepted; LM / NTLMv1 responses are refused with STATUS_LOGON_FAILURE, as Windows 11 24H2
does by default (LmCompatibilityLevel 5).  Session security always uses extended session
security (MS-NLMP 3.4.4.2); the old NTLMv1-style RC4/CRC32 signatures are not implemented.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Protocol

from lanman.crypto.md4 import nt_hash
from lanman.crypto.rc4 import RC4, rc4
from lanman.errors.ntstatus import (
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
)

__all__ = [
    "MSV_AV_FLAGS_MIC_PRESENT",
    "NTLMSSP_SIGNATURE",
    "AuthError",
    "AuthResult",
    "AuthenticateMessage",
    "AvId",
    "ChallengeMessage",
    "NegotiateFlags",
    "NegotiateMessage",
    "NtlmAcceptor",
    "NtlmInitiator",
    "NtlmLogonHooks",
    "NtlmSession",
    "compute_mic",
    "encode_av_pairs",
    "ntlmv2_response",
    "ntowfv2",
    "parse_av_pairs",
    "seal_key",
    "sign_key",
]

NTLMSSP_SIGNATURE = b"NTLMSSP\x00"
MSV_AV_FLAGS_MIC_PRESENT = 0x00000002
_MAX_TOKEN = 64 * 1024  # far above any real NTLM token; bounds the work per message


class NegotiateFlags(IntFlag):
    """NEGOTIATE flags (MS-NLMP 2.2.2.5)."""

    UNICODE = 0x00000001
    OEM = 0x00000002
    REQUEST_TARGET = 0x00000004
    SIGN = 0x00000010
    SEAL = 0x00000020
    DATAGRAM = 0x00000040
    LM_KEY = 0x00000080
    NTLM = 0x00000200
    ANONYMOUS = 0x00000800
    OEM_DOMAIN_SUPPLIED = 0x00001000
    OEM_WORKSTATION_SUPPLIED = 0x00002000
    ALWAYS_SIGN = 0x00008000
    TARGET_TYPE_DOMAIN = 0x00010000
    TARGET_TYPE_SERVER = 0x00020000
    EXTENDED_SESSIONSECURITY = 0x00080000
    IDENTIFY = 0x00100000
    REQUEST_NON_NT_SESSION_KEY = 0x00400000
    TARGET_INFO = 0x00800000
    VERSION = 0x02000000
    NEGOTIATE_128 = 0x20000000
    KEY_EXCH = 0x40000000
    NEGOTIATE_56 = 0x80000000


class AvId(IntEnum):
    """AV_PAIR AvId values (MS-NLMP 2.2.2.1)."""

    EOL = 0
    NB_COMPUTER_NAME = 1
    NB_DOMAIN_NAME = 2
    DNS_COMPUTER_NAME = 3
    DNS_DOMAIN_NAME = 4
    DNS_TREE_NAME = 5
    FLAGS = 6
    TIMESTAMP = 7
    SINGLE_HOST = 8
    TARGET_NAME = 9
    CHANNEL_BINDINGS = 10


# Version structure (MS-NLMP 2.2.2.10): 10.0 build 20348, NTLMSSP_REVISION_W2K3 (0x0F).
DEFAULT_VERSION = struct.pack("<BBH3xB", 10, 0, 20348, 0x0F)


class AuthError(Exception):
    """Authentication failed or the token was malformed; ``status`` is the NTSTATUS."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"0x{status:08X}{': ' + detail if detail else ''}")


class MechListMicError(AuthError):
    """The acceptor's SPNEGO mechListMIC (RFC 4178 5) was missing or did not verify: the
    negotiation is not integrity-protected (a server whose NTLM cannot sign)."""


def _malformed(detail: str) -> AuthError:
    return AuthError(STATUS_INVALID_PARAMETER, detail)


class NtlmLogonHooks(Protocol):
    """The account database's part in an NTLM logon (MS-APDS 3.1.5), for restrictions that
    need the AUTHENTICATE message's workstation or a verified password. Both may raise
    :class:`AuthError` to refuse the logon with its status."""

    def nt_hash(self, user: str, domain: str, workstation: str) -> bytes | None:
        """Before the password is checked: the account's NT hash (None: unknown account)."""
        ...

    def authorize(self, user: str, domain: str, workstation: str) -> None:
        """After the password (and MIC) checked out: may this user log on to this server?"""
        ...


@dataclass(slots=True)
class AuthResult:
    """Outcome of a successful authentication (for MS-SMB2 3.3.5.5.3)."""

    user: str
    domain: str
    session_key: bytes  # ExportedSessionKey (16 bytes); b"" for anonymous / guest
    is_guest: bool
    is_anonymous: bool
    workstation: str
    #: the logon's SIDs when the authentication carries them (Kerberos: the PAC's
    #: KERB_VALIDATION_INFO, user first); () for NTLM, where the server looks them up
    sids: tuple[str, ...] = ()


# --- primitives (MS-NLMP 3.3.2, 3.4.5) ------------------------------------------------------


def _hmac_md5(key: bytes, *data: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.md5)
    for d in data:
        mac.update(d)
    return mac.digest()


def ntowfv2(nt_hash_: bytes, user: str, domain: str) -> bytes:
    """NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) || UserDom)) (3.3.2)."""
    return _hmac_md5(nt_hash_, (user.upper() + domain).encode("utf-16-le"))


def ntlmv2_response(
    response_key_nt: bytes,
    server_challenge: bytes,
    client_challenge: bytes,
    timestamp: int,
    av_pairs: bytes,
) -> tuple[bytes, bytes, bytes]:
    """Compute (NtChallengeResponse, LMv2 response, SessionBaseKey) (MS-NLMP 3.3.2).

    ``av_pairs`` is the encoded AV_PAIR list (with its MsvAvEOL) that goes into the
    NTLMv2_CLIENT_CHALLENGE ("ServerName" in the spec pseudo-code).
    """
    temp = (
        b"\x01\x01"
        + bytes(6)
        + struct.pack("<Q", timestamp)
        + client_challenge
        + bytes(4)
        + av_pairs
        + bytes(4)
    )
    nt_proof_str = _hmac_md5(response_key_nt, server_challenge, temp)
    lm_response = _hmac_md5(response_key_nt, server_challenge, client_challenge) + client_challenge
    session_base_key = _hmac_md5(response_key_nt, nt_proof_str)
    return nt_proof_str + temp, lm_response, session_base_key


_CLIENT_SIGN = b"session key to client-to-server signing key magic constant\x00"
_SERVER_SIGN = b"session key to server-to-client signing key magic constant\x00"
_CLIENT_SEAL = b"session key to client-to-server sealing key magic constant\x00"
_SERVER_SEAL = b"session key to server-to-client sealing key magic constant\x00"


def sign_key(exported_session_key: bytes, *, client: bool) -> bytes:
    """SIGNKEY with extended session security (MS-NLMP 3.4.5.2)."""
    return hashlib.md5(exported_session_key + (_CLIENT_SIGN if client else _SERVER_SIGN)).digest()


def seal_key(exported_session_key: bytes, flags: int, *, client: bool) -> bytes:
    """SEALKEY with extended session security (MS-NLMP 3.4.5.3)."""
    if flags & NegotiateFlags.NEGOTIATE_128:
        key = exported_session_key
    elif flags & NegotiateFlags.NEGOTIATE_56:
        key = exported_session_key[:7]
    else:
        key = exported_session_key[:5]
    return hashlib.md5(key + (_CLIENT_SEAL if client else _SERVER_SEAL)).digest()


def compute_mic(
    exported_session_key: bytes, negotiate: bytes, challenge: bytes, auth: bytes
) -> bytes:
    """MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE) (3.1.5.1.2).

    ``auth`` must have its MIC field (offset 72..88) zeroed.
    """
    return _hmac_md5(exported_session_key, negotiate, challenge, auth)


# --- AV pairs (MS-NLMP 2.2.2.1) ----------------------------------------------------------------


def parse_av_pairs(data: bytes) -> list[tuple[int, bytes]]:
    """Parse an AV_PAIR list up to MsvAvEOL; every length is bounded by ``data``."""
    pairs: list[tuple[int, bytes]] = []
    off = 0
    while True:
        if off + 4 > len(data):
            raise _malformed("AV_PAIR list not terminated")
        av_id, av_len = struct.unpack_from("<HH", data, off)
        off += 4
        if off + av_len > len(data):
            raise _malformed("AV_PAIR value overruns its buffer")
        if av_id == AvId.EOL:
            return pairs
        pairs.append((av_id, bytes(data[off : off + av_len])))
        off += av_len
        if len(pairs) > 64:
            raise _malformed("too many AV_PAIRs")


def encode_av_pairs(pairs: list[tuple[int, bytes]]) -> bytes:
    """Encode AV pairs and the terminating MsvAvEOL."""
    out = bytearray()
    for av_id, value in pairs:
        out += struct.pack("<HH", av_id, len(value)) + value
    out += struct.pack("<HH", AvId.EOL, 0)
    return bytes(out)


def _av_get(pairs: list[tuple[int, bytes]], av_id: int) -> bytes | None:
    for pid, value in pairs:
        if pid == av_id:
            return value
    return None


# --- message codecs (MS-NLMP 2.2.1) ------------------------------------------------------------


def _check_header(buf: bytes, msg_type: int, min_len: int) -> None:
    if len(buf) > _MAX_TOKEN:
        raise _malformed("NTLM token too large")
    if len(buf) < min_len or buf[:8] != NTLMSSP_SIGNATURE:
        raise _malformed("not an NTLMSSP message")
    (found,) = struct.unpack_from("<I", buf, 8)
    if found != msg_type:
        raise _malformed(f"expected NTLM message type {msg_type}, got {found}")


def _field(buf: bytes, off: int) -> bytes:
    """Read a (Len, MaxLen, BufferOffset) field descriptor and return its payload, bounded."""
    length, _maxlen, offset = struct.unpack_from("<HHI", buf, off)
    if length == 0:
        return b""
    if offset + length > len(buf):
        raise _malformed("NTLM field overruns the message")
    return bytes(buf[offset : offset + length])


def _decode_str(raw: bytes, unicode: bool) -> str:
    if unicode:
        if len(raw) % 2:
            raise _malformed("odd-length UTF-16 string")
        try:
            # Strict: a lone surrogate names no account and could not be hashed (NTOWFv2).
            return raw.decode("utf-16-le")
        except UnicodeDecodeError:
            raise _malformed("invalid UTF-16 string") from None
    return raw.decode("cp437")


def _encode_str(text: str, unicode: bool) -> bytes:
    return text.encode("utf-16-le") if unicode else text.encode("cp437", errors="replace")


class _Payload:
    """Builds the variable-length payload and the matching field descriptors."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.data = bytearray()

    def add(self, value: bytes) -> bytes:
        offset = self.base + len(self.data)
        self.data += value
        return struct.pack("<HHI", len(value), len(value), offset)


@dataclass(slots=True)
class NegotiateMessage:
    """NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1)."""

    flags: int
    domain: str = ""
    workstation: str = ""
    version: bytes | None = None

    @classmethod
    def parse(cls, buf: bytes) -> NegotiateMessage:
        _check_header(buf, 1, 16)
        (flags,) = struct.unpack_from("<I", buf, 12)
        domain = workstation = ""
        version = None
        if len(buf) >= 32:
            # OEM strings, only meaningful when the *_SUPPLIED flags are set.
            if flags & NegotiateFlags.OEM_DOMAIN_SUPPLIED:
                domain = _field(buf, 16).decode("cp437")
            if flags & NegotiateFlags.OEM_WORKSTATION_SUPPLIED:
                workstation = _field(buf, 24).decode("cp437")
            if flags & NegotiateFlags.VERSION and len(buf) >= 40:
                version = bytes(buf[32:40])
        return cls(flags, domain, workstation, version)

    def encode(self) -> bytes:
        payload = _Payload(40)
        dom = (
            payload.add(self.domain.encode("cp437"))
            if self.domain
            else struct.pack("<HHI", 0, 0, 0)
        )
        ws = (
            payload.add(self.workstation.encode("cp437"))
            if self.workstation
            else struct.pack("<HHI", 0, 0, 0)
        )
        version = self.version or DEFAULT_VERSION
        head = NTLMSSP_SIGNATURE + struct.pack("<II", 1, self.flags) + dom + ws + version
        return head + bytes(payload.data)


@dataclass(slots=True)
class ChallengeMessage:
    """CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2)."""

    flags: int
    server_challenge: bytes
    target_name: str = ""
    target_info: bytes = b""  # encoded AV pairs
    version: bytes | None = None

    @classmethod
    def parse(cls, buf: bytes) -> ChallengeMessage:
        _check_header(buf, 2, 48)
        (flags,) = struct.unpack_from("<I", buf, 20)
        unicode = bool(flags & NegotiateFlags.UNICODE)
        target_name = _decode_str(_field(buf, 12), unicode)
        challenge = bytes(buf[24:32])
        target_info = _field(buf, 40)
        if target_info:
            parse_av_pairs(target_info)  # validate
        version = bytes(buf[48:56]) if flags & NegotiateFlags.VERSION and len(buf) >= 56 else None
        return cls(flags, challenge, target_name, target_info, version)

    @property
    def av_pairs(self) -> list[tuple[int, bytes]]:
        return parse_av_pairs(self.target_info) if self.target_info else []

    def encode(self) -> bytes:
        unicode = bool(self.flags & NegotiateFlags.UNICODE)
        payload = _Payload(56)
        name = payload.add(_encode_str(self.target_name, unicode))
        info = payload.add(self.target_info)
        head = (
            NTLMSSP_SIGNATURE
            + struct.pack("<I", 2)
            + name
            + struct.pack("<I", self.flags)
            + self.server_challenge
            + bytes(8)
            + info
            + (self.version or DEFAULT_VERSION)
        )
        return head + bytes(payload.data)


@dataclass(slots=True)
class AuthenticateMessage:
    """AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3)."""

    flags: int
    lm_response: bytes = b""
    nt_response: bytes = b""
    domain: str = ""
    user: str = ""
    workstation: str = ""
    encrypted_random_session_key: bytes = b""
    version: bytes | None = None
    mic: bytes | None = None  # 16 bytes at offset 72 when present
    raw: bytes = field(default=b"", repr=False)

    HEADER_SIZE = 88  # with Version and MIC

    @classmethod
    def parse(cls, buf: bytes) -> AuthenticateMessage:
        _check_header(buf, 3, 64)
        (flags,) = struct.unpack_from("<I", buf, 60)
        unicode = bool(flags & NegotiateFlags.UNICODE)
        lm = _field(buf, 12)
        nt = _field(buf, 20)
        domain = _decode_str(_field(buf, 28), unicode)
        user = _decode_str(_field(buf, 36), unicode)
        workstation = _decode_str(_field(buf, 44), unicode)
        enc_key = _field(buf, 52)
        # The payload starts after the lowest non-empty field offset; Version / MIC exist
        # only if the fixed part extends that far.
        offsets = [
            struct.unpack_from("<I", buf, off + 4)[0]
            for off in (12, 20, 28, 36, 44, 52)
            if struct.unpack_from("<H", buf, off)[0]
        ]
        payload_start = min(offsets, default=len(buf))
        version = bytes(buf[64:72]) if payload_start >= 72 and len(buf) >= 72 else None
        mic = bytes(buf[72:88]) if payload_start >= 88 and len(buf) >= 88 else None
        return cls(flags, lm, nt, domain, user, workstation, enc_key, version, mic, bytes(buf))

    def encode(self, *, with_mic: bool = True) -> bytes:
        """Encode with Version and (zeroed or given) MIC; the payload follows offset 88."""
        unicode = bool(self.flags & NegotiateFlags.UNICODE)
        payload = _Payload(self.HEADER_SIZE if with_mic else 72)
        dom = payload.add(_encode_str(self.domain, unicode))
        user = payload.add(_encode_str(self.user, unicode))
        ws = payload.add(_encode_str(self.workstation, unicode))
        lm = payload.add(self.lm_response)
        nt = payload.add(self.nt_response)
        key = payload.add(self.encrypted_random_session_key)
        head = (
            NTLMSSP_SIGNATURE
            + struct.pack("<I", 3)
            + lm
            + nt
            + dom
            + user
            + ws
            + key
            + struct.pack("<I", self.flags)
            + (self.version or DEFAULT_VERSION)
        )
        if with_mic:
            head += self.mic or bytes(16)
        return head + bytes(payload.data)


# --- session security (MS-NLMP 3.4) ------------------------------------------------------------


@dataclass(slots=True)
class NtlmSession:
    """Per-direction signing state with extended session security (MS-NLMP 3.4.4.2).

    ``send`` signs with our keys, ``recv`` verifies with the peer's; each direction keeps its
    own sequence number and RC4 handle.
    """

    exported_session_key: bytes
    flags: int
    is_client: bool
    send_sign_key: bytes = b""
    recv_sign_key: bytes = b""
    send_seq: int = 0
    recv_seq: int = 0
    _send_seal: RC4 | None = None
    _recv_seal: RC4 | None = None

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """(Re)derive keys and restart sequence numbers and RC4 state (MS-NLMP 3.1.5.1)."""
        esk, flags, me = self.exported_session_key, self.flags, self.is_client
        self.send_sign_key = sign_key(esk, client=me)
        self.recv_sign_key = sign_key(esk, client=not me)
        self._send_seal = RC4(seal_key(esk, flags, client=me))
        self._recv_seal = RC4(seal_key(esk, flags, client=not me))
        self.send_seq = 0
        self.recv_seq = 0

    def _signature(self, key: bytes, handle: RC4 | None, seq: int, data: bytes) -> bytes:
        checksum = _hmac_md5(key, struct.pack("<I", seq), data)[:8]
        if self.flags & NegotiateFlags.KEY_EXCH and handle is not None:
            checksum = handle.update(checksum)
        return struct.pack("<I", 1) + checksum + struct.pack("<I", seq)

    def sign(self, data: bytes) -> bytes:
        """MAC(Handle, SigningKey, SeqNum, Message) -> NTLMSSP_MESSAGE_SIGNATURE (3.4.4.2)."""
        sig = self._signature(self.send_sign_key, self._send_seal, self.send_seq, data)
        self.send_seq = (self.send_seq + 1) & 0xFFFFFFFF
        return sig

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Verify a peer signature; the receive sequence advances even on failure."""
        expected = self._signature(self.recv_sign_key, self._recv_seal, self.recv_seq, data)
        self.recv_seq = (self.recv_seq + 1) & 0xFFFFFFFF
        return len(signature) == 16 and hmac.compare_digest(expected, bytes(signature))

    def seal(
        self, plaintext: bytes, prefix: bytes = b"", suffix: bytes = b""
    ) -> tuple[bytes, bytes]:
        """SEAL (MS-NLMP 3.4.3): RC4-encrypt ``plaintext`` with our sealing handle, then sign.

        The signature covers ``prefix + plaintext + suffix``; DCE/RPC signs the whole PDU but
        encrypts only the stub (MS-RPCE 3.3.1.5.2).  Order matters: the body is encrypted
        before the checksum is run through the same RC4 stream.
        """
        assert self._send_seal is not None
        cipher = self._send_seal.update(bytes(plaintext))
        return cipher, self.sign(bytes(prefix) + bytes(plaintext) + bytes(suffix))

    def unseal(
        self, ciphertext: bytes, signature: bytes, prefix: bytes = b"", suffix: bytes = b""
    ) -> tuple[bytes, bool]:
        """Decrypt with the peer's sealing handle and verify the signature over
        ``prefix + plaintext + suffix``; returns (plaintext, signature_ok)."""
        assert self._recv_seal is not None
        plain = self._recv_seal.update(bytes(ciphertext))
        return plain, self.verify(bytes(prefix) + plain + bytes(suffix), signature)


# --- acceptor (server) -------------------------------------------------------------------------

_SERVER_ECHO_FLAGS = (
    NegotiateFlags.SIGN
    | NegotiateFlags.SEAL
    | NegotiateFlags.KEY_EXCH
    | NegotiateFlags.NEGOTIATE_56
    | NegotiateFlags.NEGOTIATE_128
    | NegotiateFlags.IDENTIFY
)


class NtlmAcceptor:
    """Server side of NTLM (MS-NLMP 3.2.5): NEGOTIATE -> CHALLENGE, AUTHENTICATE -> result."""

    def __init__(
        self,
        *,
        lookup_nt_hash: Callable[[str], bytes | None],
        server_name: str,
        domain_name: str,
        dns_computer_name: str,
        dns_domain_name: str,
        now_filetime: int,
        server_challenge: bytes | None = None,
        guest_allowed: bool = False,
        anonymous_allowed: bool = True,
        hooks: NtlmLogonHooks | None = None,
    ) -> None:
        self.attempted_user = ""
        self.attempted_domain = ""
        self.bad_password = False
        if server_challenge is not None and len(server_challenge) != 8:
            raise ValueError("server_challenge must be 8 bytes")
        self._lookup = lookup_nt_hash
        self._hooks = hooks  # when set, replaces lookup_nt_hash
        self.server_name = server_name
        self.domain_name = domain_name
        self.dns_computer_name = dns_computer_name
        self.dns_domain_name = dns_domain_name
        self.now_filetime = now_filetime
        self.server_challenge = server_challenge or os.urandom(8)
        self.guest_allowed = guest_allowed
        self.anonymous_allowed = anonymous_allowed
        self.result: AuthResult | None = None
        self.negotiated_flags = 0
        self.negotiate_msg = b""
        self.challenge_msg = b""
        self.session: NtlmSession | None = None
        self._state = "negotiate"

    @property
    def complete(self) -> bool:
        return self.result is not None

    def step(self, token: bytes) -> bytes | None:
        """Process one client token (MS-NLMP 3.2.5.1.1 / 3.2.5.1.2)."""
        token = bytes(token)
        if self._state == "negotiate":
            return self._on_negotiate(token)
        if self._state == "authenticate":
            self._state = "done"  # one attempt per context, success or not
            self._on_authenticate(token)
            return None
        raise AuthError(STATUS_INVALID_PARAMETER, "NTLM exchange already finished")

    def _on_negotiate(self, token: bytes) -> bytes:
        neg = NegotiateMessage.parse(token)
        flags = (
            NegotiateFlags.REQUEST_TARGET
            | NegotiateFlags.NTLM
            | NegotiateFlags.ALWAYS_SIGN
            | NegotiateFlags.TARGET_TYPE_SERVER
            | NegotiateFlags.EXTENDED_SESSIONSECURITY
            | NegotiateFlags.TARGET_INFO
            | NegotiateFlags.VERSION
            | (neg.flags & _SERVER_ECHO_FLAGS)
        )
        flags |= (
            NegotiateFlags.UNICODE if neg.flags & NegotiateFlags.UNICODE else NegotiateFlags.OEM
        )
        target_info = encode_av_pairs(
            [
                (AvId.NB_DOMAIN_NAME, self.domain_name.encode("utf-16-le")),
                (AvId.NB_COMPUTER_NAME, self.server_name.encode("utf-16-le")),
                (AvId.DNS_DOMAIN_NAME, self.dns_domain_name.encode("utf-16-le")),
                (AvId.DNS_COMPUTER_NAME, self.dns_computer_name.encode("utf-16-le")),
                (AvId.TIMESTAMP, struct.pack("<Q", self.now_filetime)),
            ]
        )
        challenge = ChallengeMessage(
            flags=int(flags),
            server_challenge=self.server_challenge,
            target_name=self.server_name,
            target_info=target_info,
        ).encode()
        self.negotiate_msg = token
        self.challenge_msg = challenge
        self.negotiated_flags = int(flags)
        self._state = "authenticate"
        return challenge

    def _on_authenticate(self, token: bytes) -> None:
        auth = AuthenticateMessage.parse(token)
        self.attempted_user = auth.user  # for bad-password accounting by the caller
        self.attempted_domain = auth.domain  # for the logon-failure event (551)
        lm_empty = auth.lm_response in (b"", b"\x00")
        if not auth.user and not auth.nt_response and lm_empty:
            # Anonymous (MS-NLMP 3.2.5.1.2): no key, no signing.
            if not self.anonymous_allowed:
                raise AuthError(STATUS_LOGON_FAILURE, "anonymous logon refused")
            self.result = AuthResult("", "", b"", False, True, auth.workstation)
            return

        if not auth.user:
            stored = None
        elif self._hooks is not None:
            stored = self._hooks.nt_hash(auth.user, auth.domain, auth.workstation)
        else:
            stored = self._lookup(auth.user)
        if stored is None:
            if self.guest_allowed:
                self.result = AuthResult(auth.user, auth.domain, b"", True, False, auth.workstation)
                return
            raise AuthError(STATUS_LOGON_FAILURE, "unknown user")
        if hmac.compare_digest(stored, nt_hash("")):
            raise AuthError(STATUS_LOGON_FAILURE, "accounts with an empty password may not log on")

        # 16-byte NTProofStr + 28-byte fixed NTLMv2_CLIENT_CHALLENGE + MsvAvEOL at least.
        # 24 bytes or fewer is an LM / NTLMv1 response (refused); anything longer is an
        # NTLMv2 response that must parse: a truncated one, or one whose AV_PAIR list
        # overruns, fails with STATUS_INVALID_PARAMETER as on Windows and Samba (Samba bug
        # 14932, NetApp's NTLMv2 responses; smbtorture smb2.session.ntlmssp_bug14932).
        if len(auth.nt_response) <= 24:
            raise AuthError(STATUS_LOGON_FAILURE, "LM / NTLMv1 responses are refused")
        if len(auth.nt_response) < 16 + 28 + 4:
            raise AuthError(STATUS_INVALID_PARAMETER, "truncated NTLMv2 response")
        blob = auth.nt_response[16:]
        try:
            client_pairs = parse_av_pairs(blob[28:])
        except AuthError as exc:
            raise AuthError(STATUS_INVALID_PARAMETER, "malformed NTLMv2 AV pairs") from exc
        if blob[0] != 1 or blob[1] != 1:
            raise AuthError(STATUS_LOGON_FAILURE, "unknown NTLMv2 response version")
        # Timestamp (blob[8:16]) is accepted without a skew check: lanman runs on loopback tests.

        nt_proof = auth.nt_response[:16]
        session_base_key = None
        # Clients differ in the UserDom they hash: what they sent, empty, or our names.
        for dom in dict.fromkeys((auth.domain, "", self.domain_name, self.server_name)):
            key_nt = ntowfv2(stored, auth.user, dom)
            if hmac.compare_digest(_hmac_md5(key_nt, self.server_challenge, blob), nt_proof):
                session_base_key = _hmac_md5(key_nt, nt_proof)
                break
        if session_base_key is None:
            self.bad_password = True
            raise AuthError(STATUS_LOGON_FAILURE, "wrong password")

        key_exchange_key = session_base_key  # NTLMv2 (MS-NLMP 3.4.5.1)
        if auth.flags & NegotiateFlags.KEY_EXCH:
            if len(auth.encrypted_random_session_key) != 16:
                raise AuthError(STATUS_LOGON_FAILURE, "missing EncryptedRandomSessionKey")
            exported = rc4(key_exchange_key, auth.encrypted_random_session_key)
        else:
            exported = key_exchange_key

        av_flags = _av_get(client_pairs, AvId.FLAGS)
        mic_present = (
            av_flags is not None
            and len(av_flags) == 4
            and (struct.unpack("<I", av_flags)[0] & MSV_AV_FLAGS_MIC_PRESENT)
        )
        if mic_present:
            if auth.mic is None:
                raise AuthError(STATUS_LOGON_FAILURE, "MIC announced but missing")
            zeroed = token[:72] + bytes(16) + token[88:]
            mic = compute_mic(exported, self.negotiate_msg, self.challenge_msg, zeroed)
            if not hmac.compare_digest(mic, auth.mic):
                raise AuthError(STATUS_LOGON_FAILURE, "MIC mismatch")

        if self._hooks is not None:
            self._hooks.authorize(auth.user, auth.domain, auth.workstation)
        self.negotiated_flags = auth.flags
        self.session = NtlmSession(exported, auth.flags, is_client=False)
        self.result = AuthResult(auth.user, auth.domain, exported, False, False, auth.workstation)

    # Session security with the server's keys (send = server-to-client).
    def sign(self, data: bytes) -> bytes:
        """NTLMSSP_MESSAGE_SIGNATURE over ``data`` with the next server sequence number."""
        if self.session is None:
            raise AuthError(STATUS_INVALID_PARAMETER, "no NTLM session key")
        return self.session.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Check a client signature with the next client sequence number."""
        if self.session is None:
            return False
        return self.session.verify(data, signature)

    def reset_crypto(self) -> None:
        """Restart sequence numbers / RC4 state (done after the SPNEGO mechListMIC)."""
        if self.session is not None:
            self.session.reset()


# --- initiator (client) ------------------------------------------------------------------------

_CLIENT_FLAGS = (
    NegotiateFlags.UNICODE
    | NegotiateFlags.OEM
    | NegotiateFlags.REQUEST_TARGET
    | NegotiateFlags.SIGN
    | NegotiateFlags.NTLM
    | NegotiateFlags.ALWAYS_SIGN
    | NegotiateFlags.EXTENDED_SESSIONSECURITY
    | NegotiateFlags.TARGET_INFO
    | NegotiateFlags.VERSION
    | NegotiateFlags.NEGOTIATE_128
    | NegotiateFlags.KEY_EXCH
    | NegotiateFlags.NEGOTIATE_56
)


class NtlmInitiator:
    """Client side of NTLMv2 with MIC and KEY_EXCH (MS-NLMP 3.1.5)."""

    def __init__(
        self,
        user: str,
        password: str | None = None,
        domain: str = "",
        workstation: str = "",
        now_filetime: int = 0,
        *,
        nt_hash_: bytes | None = None,
        target_name: str | None = None,
        client_challenge: bytes | None = None,
        exported_session_key: bytes | None = None,
    ) -> None:
        if nt_hash_ is None:
            if password is None:
                raise ValueError("password or nt_hash_ is required")
            nt_hash_ = nt_hash(password)
        self.user = user
        self.domain = domain
        self.workstation = workstation
        self.now_filetime = now_filetime
        self.target_name = target_name
        self._nt_hash = nt_hash_
        self._client_challenge = client_challenge or os.urandom(8)
        self._exported = exported_session_key or os.urandom(16)
        self.negotiate_msg = b""
        self.session: NtlmSession | None = None
        self.complete = False
        #: the CHALLENGE's VERSION field as "major.minor.build" ("" when absent): tells the
        #: server family (impacket's placeholder 255.255.65535, Samba's 6.1.0, ...)
        self.server_version = ""

    @property
    def session_key(self) -> bytes:
        """ExportedSessionKey (valid once the AUTHENTICATE message was produced)."""
        return self._exported if self.complete else b""

    def step(self, token: bytes | None) -> bytes:
        """None -> NEGOTIATE; CHALLENGE -> AUTHENTICATE (MS-NLMP 3.1.5.1)."""
        if token is None and not self.negotiate_msg:
            self.negotiate_msg = NegotiateMessage(int(_CLIENT_FLAGS)).encode()
            return self.negotiate_msg
        if token is None or not self.negotiate_msg or self.complete:
            raise AuthError(STATUS_INVALID_PARAMETER, "unexpected NTLM step")
        return self._authenticate(bytes(token))

    def _authenticate(self, token: bytes) -> bytes:
        chal = ChallengeMessage.parse(token)
        if chal.version and len(chal.version) >= 4:
            major, minor, build = struct.unpack_from("<BBH", chal.version)
            self.server_version = f"{major}.{minor}.{build}"
        flags = int(_CLIENT_FLAGS) & chal.flags
        flags |= NegotiateFlags.NTLM | NegotiateFlags.EXTENDED_SESSIONSECURITY
        if not flags & (NegotiateFlags.UNICODE | NegotiateFlags.OEM):
            flags |= NegotiateFlags.UNICODE
        if flags & NegotiateFlags.UNICODE:
            flags &= ~NegotiateFlags.OEM
        pairs = [(i, v) for i, v in chal.av_pairs if i not in (AvId.FLAGS, AvId.TARGET_NAME)]
        server_flags = _av_get(chal.av_pairs, AvId.FLAGS)
        av_flags = (
            struct.unpack("<I", server_flags)[0] if server_flags and len(server_flags) == 4 else 0
        )
        pairs.append((AvId.FLAGS, struct.pack("<I", av_flags | MSV_AV_FLAGS_MIC_PRESENT)))
        if self.target_name is not None:
            pairs.append((AvId.TARGET_NAME, self.target_name.encode("utf-16-le")))
        ts = _av_get(chal.av_pairs, AvId.TIMESTAMP)
        timestamp = struct.unpack("<Q", ts)[0] if ts and len(ts) == 8 else self.now_filetime

        key_nt = ntowfv2(self._nt_hash, self.user, self.domain)
        nt_resp, lm_resp, session_base_key = ntlmv2_response(
            key_nt, chal.server_challenge, self._client_challenge, timestamp, encode_av_pairs(pairs)
        )
        if ts is not None:
            lm_resp = bytes(24)  # MS-NLMP 3.1.5.1.2: Z(24) when the server sent a timestamp
        if flags & NegotiateFlags.KEY_EXCH:
            enc_key = rc4(session_base_key, self._exported)
        else:
            self._exported = session_base_key
            enc_key = b""
        auth = AuthenticateMessage(
            flags=flags,
            lm_response=lm_resp,
            nt_response=nt_resp,
            domain=self.domain,
            user=self.user,
            workstation=self.workstation,
            encrypted_random_session_key=enc_key,
        )
        zeroed = auth.encode()
        mic = compute_mic(self._exported, self.negotiate_msg, token, zeroed)
        self.session = NtlmSession(self._exported, flags, is_client=True)
        self.complete = True
        return zeroed[:72] + mic + zeroed[88:]

    def sign(self, data: bytes) -> bytes:
        """NTLMSSP_MESSAGE_SIGNATURE with the client keys (MS-NLMP 3.4.4.2)."""
        if self.session is None:
            raise AuthError(STATUS_INVALID_PARAMETER, "no NTLM session key")
        return self.session.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Check a server signature."""
        if self.session is None:
            return False
        return self.session.verify(data, signature)

    def reset_crypto(self) -> None:
        """Restart sequence numbers / RC4 state (done after the SPNEGO mechListMIC)."""
        if self.session is not None:
            self.session.reset()
