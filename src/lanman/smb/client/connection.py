"""Sans-IO SMB2/3 client core (MS-SMB2 3.2): no sockets, no clocks, no globals.

:class:`ClientConnection` turns operations into bytes (:class:`Outgoing`) and received
messages into :class:`Incoming` objects, keeping what a Windows redirector keeps per
connection and session:

* **NEGOTIATE** (3.2.4.2.1): every dialect 2.0.2..3.1.1; at 3.1.1 the preauth integrity
  context (SHA-512, 32-byte salt) and SIGNING_CAPABILITIES (AES-GMAC, AES-CMAC, HMAC-SHA256,
  most preferred first). ``Connection.RequireSigning`` from the server's SecurityMode.
* **Credits / MessageIds** (3.2.4.1.3, 3.2.5.1.4): ``next_mid`` is the next id to use,
  ``high`` the first id not granted; every response adds its CreditResponse. Multi-credit
  requests (dialect >= 2.1 with LARGE_MTU) are charged ``ceil(size / 64 KiB)``.
* **SESSION_SETUP** (3.2.4.2.3, 3.2.5.3): SPNEGO/NTLMv2, anonymous (NTLM null session);
  IS_GUEST / IS_NULL are unauthenticated sessions with no key, checked against the client's
  guest policy (:func:`lanman.policy.decisions.guest_logon_allowed`); the 3.1.1 pre-auth hash
  covers every request leg and every MORE_PROCESSING response; the final SUCCESS response
  of a real user's session must be signed at 3.x (and whenever signing is required) and is
  verified with the new key.
* **Encryption** (3.2.4.1.8, 3.2.5.1.1): the client always offers encryption (3.1.1
  ENCRYPTION_CAPABILITIES with its ciphers, 3.0/3.0.2 SMB2_GLOBAL_CAP_ENCRYPTION) and encrypts
  when it was asked to (``encrypt``), when the server set SessionFlags ENCRYPT_DATA, and on
  trees whose ShareFlags has ENCRYPT_DATA; encrypted messages are not signed. A response that
  should have been encrypted but was not is discarded.
* **Signing requests** (3.2.4.1.1): when Session.SigningRequired, always for TREE_CONNECT at
  3.1.1, and for FSCTL_VALIDATE_NEGOTIATE_INFO.
* **Verifying responses** (3.2.5.1.3): every signed response of a session with a key is
  verified; a bad one is discarded (``Incoming.error`` = STATUS_INVALID_SIGNATURE). An
  unsigned response on a signing-required session is treated the same way (the peer will not
  sign). STATUS_PENDING interims and oplock breaks (MessageId 0xFFFFFFFFFFFFFFFF) are exempt.

Events a Windows client would log are queued in ``events`` as ``(catalogue name, fields)``;
the I/O layer drains them into the event log.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lanman.auth.ntlm import (
    AuthenticateMessage,
    AuthError,
    MechListMicError,
    NegotiateFlags,
    NtlmInitiator,
)
from lanman.auth.spnego import MECH_NAMES, NegTokenResp, SpnegoInitiator
from lanman.crypto.smb_encryption import (
    DEFAULT_CIPHER_ORDER,
    TRANSFORM_FLAG_ENCRYPTED,
    TRANSFORM_PROTOCOL_ID,
    CipherId,
    DecryptError,
    NonceCounter,
    decrypt_message,
    encrypt_message,
)
from lanman.crypto.smb_signing import (
    SigningAlgorithm,
    compute_signature,
    derive_keys,
    preauth_hash_update,
    verify_pdu,
)
from lanman.errors import ntstatus as nts
from lanman.policy.decisions import guest_logon_allowed
from lanman.smb.wire import negotiate as neg
from lanman.smb.wire._buf import pad8
from lanman.smb.wire.constants import (
    FSCTL_VALIDATE_NEGOTIATE_INFO,
    HASH_SHA_512,
    SMB2_0_IOCTL_IS_FSCTL,
    SMB2_HEADER_SIZE,
    Command,
    Dialect,
    GlobalCapabilities,
    HeaderFlags,
    NegotiateContextType,
    SecurityMode,
    SessionFlags,
    ShareFlags,
)
from lanman.smb.wire.header import SIGNATURE_OFFSET, Smb2Header, WireError
from lanman.smb.wire.query import IoctlRequest, unpack_ioctl_response
from lanman.smb.wire.session import SessionSetupRequest, SessionSetupResponse

from .errors import SmbClientError, SmbProtocolError

__all__ = [
    "ALL_DIALECTS",
    "ClientConnection",
    "ClientSession",
    "Incoming",
    "Outgoing",
    "dialect_label",
    "parse_dialect",
]

ALL_DIALECTS: tuple[int, ...] = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
DEFAULT_SIGNING_ALGORITHMS = (
    SigningAlgorithm.AES_GMAC,
    SigningAlgorithm.AES_CMAC,
    SigningAlgorithm.HMAC_SHA256,
)
CREDIT_UNIT = 65536
MAX_PLAIN = 16 * 1024 * 1024  # largest decrypted message accepted (Direct TCP's 24 bits)
NOTIFICATION_MID = 0xFFFFFFFFFFFFFFFF
ALGORITHM_NAMES = {
    SigningAlgorithm.HMAC_SHA256: "HMAC-SHA256",
    SigningAlgorithm.AES_CMAC: "AES-CMAC",
    SigningAlgorithm.AES_GMAC: "AES-GMAC",
}
_UNAUTHENTICATED = SessionFlags.IS_GUEST | SessionFlags.IS_NULL
_LABELS = {
    "2.0.2": 0x0202,
    "2.02": 0x0202,
    "2.1": 0x0210,
    "2.10": 0x0210,
    "3.0": 0x0300,
    "3.00": 0x0300,
    "3.0.2": 0x0302,
    "3.02": 0x0302,
    "3.1.1": 0x0311,
    "3.11": 0x0311,
}


def dialect_label(dialect: int | None) -> str:
    if dialect is None:
        return ""
    try:
        return Dialect(dialect).label
    except ValueError:
        return f"0x{dialect:04X}"


def parse_dialect(text: str) -> int:
    """ "3.1.1" / "SMB3_11" / "0x0311" -> 0x0311."""
    t = text.strip().upper().removeprefix("SMB").lstrip("_")
    if t.startswith("0X"):
        value = int(t, 16)
    else:
        t = t.replace("_", ".")
        if t in ("2.02", "2.0.2", "2.002"):
            t = "2.0.2"
        value = _LABELS.get(t.lower(), _LABELS.get(t))  # type: ignore[arg-type]
        if value is None and len(t) == 4 and t.replace(".", "").isdigit():
            value = _LABELS.get(f"{t[0]}.{t[2:]}")
    if value not in ALL_DIALECTS:
        raise ValueError(f"unknown SMB2 dialect {text!r} (use 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1)")
    return value


@dataclass(slots=True)
class Outgoing:
    """One SMB2 message to send (no transport framing). ``parts`` are sent back to back."""

    message_id: int
    command: int
    parts: list[bytes | memoryview]

    @property
    def data(self) -> bytes:
        return b"".join(bytes(p) for p in self.parts)


@dataclass(slots=True)
class Incoming:
    """One received PDU. ``error`` is set when the PDU was discarded (bad or missing
    signature): the request it answers fails with that error."""

    header: Smb2Header
    pdu: bytes | memoryview
    verified: bool = False
    error: SmbClientError | None = None

    @property
    def status(self) -> int:
        return self.header.status

    @property
    def command(self) -> int:
        return self.header.command

    @property
    def message_id(self) -> int:
        return self.header.message_id

    @property
    def is_interim(self) -> bool:
        return self.header.status == nts.STATUS_PENDING and self.header.is_async


@dataclass(slots=True)
class ClientSession:
    """MS-SMB2 3.2.1.3 Session (one per connection here)."""

    session_id: int = 0
    user: str = ""
    domain: str = ""
    state: str = "none"  # none | in_progress | valid
    session_flags: int = 0
    session_key: bytes = b""
    signing_key: bytes = b""
    signing_required: bool = False
    preauth_hash: bytes = b"\x00" * 64
    anonymous_requested: bool = False
    spnego: SpnegoInitiator | None = None
    ntlm: NtlmInitiator | None = None
    mechanism: str = ""  # "Kerberos" | "NTLM" once established
    encrypt_data: bool = False  # Session.EncryptData
    encryption_key: bytes = b""  # client to server
    decryption_key: bytes = b""  # server to client
    nonces: NonceCounter | None = None

    @property
    def is_guest(self) -> bool:
        return bool(self.session_flags & SessionFlags.IS_GUEST)

    @property
    def is_null(self) -> bool:
        return bool(self.session_flags & SessionFlags.IS_NULL)

    @property
    def has_key(self) -> bool:
        return bool(self.signing_key) and self.state == "valid"


@dataclass(slots=True)
class ClientConnection:
    """MS-SMB2 3.2.1.2 Connection plus its session, as a sans-IO state machine.

    ``require_signing`` is RequireMessageSigning (the client's RequireSecuritySignature);
    ``allow_insecure_guest`` is AllowInsecureGuestAuth (EnableInsecureGuestLogons).
    ``now_filetime`` feeds NTLM's timestamp when the server's CHALLENGE has none.
    """

    dialects: Sequence[int] = ALL_DIALECTS
    require_signing: bool = True
    allow_insecure_guest: bool = False
    signing_algorithms: Sequence[int] = DEFAULT_SIGNING_ALGORITHMS
    client_guid: bytes = field(default_factory=lambda: uuid.uuid4().bytes_le)
    workstation: str = "LANMAN"
    server_name: str = ""
    now_filetime: int = 0
    max_chunk: int = 1 << 20
    #: Encrypt every message of the session (RequireEncryption; ``lanman client --encrypt``).
    encrypt: bool = False
    ciphers: Sequence[int] = DEFAULT_CIPHER_ORDER
    #: (n) -> n random bytes, for the nonce prefix (the core draws no randomness itself).
    random_bytes: Callable[[int], bytes] = os.urandom
    cipher: CipherId | None = None  # Connection.CipherId
    encrypted_trees: set = field(default_factory=set)  # TreeIds with ShareFlags ENCRYPT_DATA

    # connection state
    state: str = "init"  # init | negotiating | negotiated | closed
    dialect: int | None = None
    security_mode: int = 0
    capabilities: int = 0
    server_security_mode: int = 0
    server_capabilities: int = 0
    server_guid: bytes = b""
    seen_server: dict = field(default_factory=dict)  # server_identity() after the logon
    require_signing_server: bool = False  # Connection.RequireSigning
    algorithm: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256
    max_read_size: int = 65536
    max_write_size: int = 65536
    max_transact_size: int = 65536
    gss_token: bytes = b""
    preauth_hash: bytes = b"\x00" * 64
    next_mid: int = 0
    high: int = 1
    session: ClientSession = field(default_factory=ClientSession)
    events: list[tuple[str, dict]] = field(default_factory=list)
    outstanding: dict[int, int] = field(default_factory=dict)  # mid -> command
    discarded: int = 0
    _negotiate_sent: bytes = b""

    # ---- credits ------------------------------------------------------------------------

    @property
    def multi_credit(self) -> bool:
        return (
            self.dialect is not None
            and self.dialect != 0x0202
            and bool(self.server_capabilities & GlobalCapabilities.LARGE_MTU)
        )

    @property
    def available(self) -> int:
        return self.high - self.next_mid

    def charge_for(self, payload: int) -> int:
        if not self.multi_credit:
            return 1
        return max(1, (payload - 1) // CREDIT_UNIT + 1) if payload else 1

    @property
    def read_chunk(self) -> int:
        return self._chunk(self.max_read_size)

    @property
    def write_chunk(self) -> int:
        return self._chunk(self.max_write_size)

    def _chunk(self, server_max: int) -> int:
        if not self.multi_credit:
            return min(server_max, CREDIT_UNIT)
        return max(CREDIT_UNIT, min(server_max, self.max_chunk))

    # ---- building requests --------------------------------------------------------------

    def _should_sign(self, command: int, sign: bool | None, session_id: int) -> bool:
        s = self.session
        if session_id == 0 or not s.has_key or command == Command.NEGOTIATE:
            return False
        if sign is not None:
            return sign
        if s.signing_required:
            return True
        return command == Command.TREE_CONNECT and self.dialect == 0x0311

    def request(
        self,
        command: int,
        body: bytes | memoryview,
        *,
        tree_id: int = 0,
        payload: int = 0,
        data: bytes | memoryview | None = None,
        sign: bool | None = None,
        credit_request: int | None = None,
        session_id: int | None = None,
    ) -> Outgoing:
        """Build one request. ``data`` is sent after ``body`` without being copied (WRITE
        payload); ``payload`` is the size moved, for the credit charge."""
        if self.state == "closed":
            raise SmbClientError(nts.STATUS_CONNECTION_DISCONNECTED, "connection closed")
        charge = self.charge_for(payload)
        if self.next_mid + charge > self.high:
            raise SmbProtocolError(f"{charge} credits needed, {self.available} granted")
        mid = self.next_mid
        self.next_mid += charge
        sid = self.session.session_id if session_id is None else session_id
        want = credit_request if credit_request is not None else max(charge + 8, 64)
        signing = self._should_sign(command, sign, sid)
        flags = HeaderFlags.SIGNED if signing else 0
        hdr = Smb2Header(
            command=command,
            credit_charge=charge if self.dialect and self.dialect != 0x0202 else 0,
            credit=min(want, 8192),
            flags=flags,
            message_id=mid,
            tree_id=tree_id,
            session_id=sid,
        )
        encrypting = self._should_encrypt(command, tree_id, sid)
        if encrypting:
            signing = False
            hdr.flags = 0
        head = bytearray(hdr.pack())
        head += body
        parts: list[bytes | memoryview] = [head]
        if data is not None and len(data):
            parts.append(data)
        if encrypting:
            s = self.session
            parts = encrypt_message(self.cipher, s.encryption_key, sid, s.nonces.next(), parts)
        elif signing:
            head[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] = compute_signature(
                self.session.signing_key,
                self.algorithm,
                parts,
                message_id=mid,
                is_response=False,
                is_cancel=command == Command.CANCEL,
            )
        self.outstanding[mid] = command
        return Outgoing(mid, command, parts)

    def _should_encrypt(self, command: int, tree_id: int, session_id: int) -> bool:
        """MS-SMB2 3.2.4.1.8: Session.EncryptData (not NEGOTIATE / SESSION_SETUP), or a tree
        whose share requires encryption (TREE_CONNECT itself excepted)."""
        s = self.session
        if self.cipher is None or not s.encryption_key or session_id != s.session_id:
            return False
        if command in (Command.NEGOTIATE, Command.SESSION_SETUP) or s.state != "valid":
            return False
        return s.encrypt_data or (
            command != Command.TREE_CONNECT and tree_id in self.encrypted_trees
        )

    def on_tree_connect(self, tree_id: int, share_flags: int) -> None:
        """Remember a tree whose share requires encryption (ShareFlags ENCRYPT_DATA)."""
        if share_flags & ShareFlags.ENCRYPT_DATA:
            if self.cipher is None or not self.session.encryption_key:
                raise SmbClientError(
                    nts.STATUS_ACCESS_DENIED,
                    "the share requires encryption, which this session cannot do",
                    command="TREE_CONNECT",
                )
            self.encrypted_trees.add(tree_id)
        else:
            self.encrypted_trees.discard(tree_id)

    @property
    def encrypted(self) -> bool:
        """Get-SmbConnection's Encrypted: the session's messages are encrypted."""
        return self.session.encrypt_data and bool(self.session.encryption_key)

    @property
    def cipher_name(self) -> str:
        return self.cipher.name.replace("_", "-") if self.cipher is not None else ""

    # ---- NEGOTIATE ----------------------------------------------------------------------

    def negotiate(self) -> Outgoing:
        """MS-SMB2 3.2.4.2.2.2 SMB2 NEGOTIATE with the configured dialects."""
        ds = [d for d in self.dialects if d in ALL_DIALECTS]
        if not ds:
            raise ValueError("no SMB2 dialect to offer")
        self.security_mode = int(
            SecurityMode.SIGNING_ENABLED
            | (SecurityMode.SIGNING_REQUIRED if self.require_signing else 0)
        )
        self.capabilities = int(GlobalCapabilities.LARGE_MTU) if max(ds) >= 0x0210 else 0
        # 3.2.4.2.2.2: a 3.x client that can encrypt says so (Samba answers the 3.1.1
        # encryption context only then); at 3.0/3.0.2 the bit means AES-128-CCM.
        if any(d >= 0x0300 for d in ds) and self.ciphers:
            self.capabilities |= int(GlobalCapabilities.ENCRYPTION)
        contexts: list[neg.NegotiateContext] = []
        if 0x0311 in ds:
            contexts.append(neg.preauth_context([HASH_SHA_512], os.urandom(32)))
            contexts.append(
                neg.id_list_context(
                    NegotiateContextType.SIGNING_CAPABILITIES,
                    [int(a) for a in self.signing_algorithms],
                )
            )
            if self.ciphers:
                contexts.append(
                    neg.id_list_context(
                        NegotiateContextType.ENCRYPTION_CAPABILITIES,
                        [int(c) for c in self.ciphers],
                    )
                )
        body = neg.NegotiateRequest(
            ds, self.security_mode, self.capabilities, self.client_guid, contexts
        ).pack()
        self.dialects = ds
        out = self.request(Command.NEGOTIATE, body, session_id=0, credit_request=64)
        self._negotiate_sent = out.data
        self.state = "negotiating"
        return out

    def on_negotiate(self, inc: Incoming) -> None:
        """MS-SMB2 3.2.5.2."""
        self._check(inc, "NEGOTIATE")
        try:
            r = neg.NegotiateResponse.unpack(inc.pdu)
        except WireError as e:
            raise SmbProtocolError(f"NEGOTIATE response: {e}") from None
        if r.dialect_revision not in self.dialects:
            raise SmbProtocolError(
                f"server chose dialect 0x{r.dialect_revision:04X}, which was not offered"
            )
        self.dialect = r.dialect_revision
        self.server_security_mode = r.security_mode
        self.server_capabilities = r.capabilities
        self.server_guid = r.server_guid
        self.require_signing_server = bool(r.security_mode & SecurityMode.SIGNING_REQUIRED)
        self.max_read_size = max(r.max_read_size, 4096)
        self.max_write_size = max(r.max_write_size, 4096)
        self.max_transact_size = max(r.max_transact_size, 4096)
        self.gss_token = r.security_buffer
        self.algorithm = (
            SigningAlgorithm.HMAC_SHA256 if self.dialect < 0x0300 else SigningAlgorithm.AES_CMAC
        )
        if self.dialect == 0x0311:
            have_preauth = False
            for c in r.contexts:
                if c.context_type == NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES:
                    algs, _salt = neg.parse_preauth_context(c.data)
                    if algs != [HASH_SHA_512]:
                        raise SmbClientError(nts.STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP)
                    have_preauth = True
                elif c.context_type == NegotiateContextType.SIGNING_CAPABILITIES:
                    algs = neg.parse_id_list_context(c.data)
                    if len(algs) != 1 or algs[0] not in [int(a) for a in self.signing_algorithms]:
                        raise SmbClientError(nts.STATUS_SMB_NO_SIGNING_ALGORITHM_OVERLAP)
                    self.algorithm = SigningAlgorithm(algs[0])
                elif c.context_type == NegotiateContextType.ENCRYPTION_CAPABILITIES:
                    ids = neg.parse_id_list_context(c.data)
                    if len(ids) != 1 or (ids[0] and ids[0] not in [int(x) for x in self.ciphers]):
                        raise SmbProtocolError("server chose a cipher that was not offered")
                    self.cipher = CipherId(ids[0]) if ids[0] else None
            if not have_preauth:
                raise SmbProtocolError("3.1.1 NEGOTIATE response without preauth context")
            self.preauth_hash = preauth_hash_update(
                preauth_hash_update(b"\x00" * 64, self._negotiate_sent), inc.pdu
            )
        elif (
            self.dialect in (0x0300, 0x0302)
            and self.server_capabilities & GlobalCapabilities.ENCRYPTION
            and CipherId.AES_128_CCM in self.ciphers
        ):
            self.cipher = CipherId.AES_128_CCM
        self.state = "negotiated"

    # ---- SESSION_SETUP ------------------------------------------------------------------

    def session_setup(
        self,
        user: str = "",
        password: str = "",
        domain: str = "",
        *,
        anonymous: bool = False,
        kerberos: object | None = None,
    ) -> Outgoing:
        """First SESSION_SETUP leg: SPNEGO NegTokenInit with an NTLM NEGOTIATE, or with a
        Kerberos AP-REQ when ``kerberos`` (a KerberosInitiator) is given and the server
        offers Kerberos."""
        if self.state != "negotiated":
            raise SmbProtocolError("SESSION_SETUP before NEGOTIATE")
        ntlm = NtlmInitiator(
            user or "",
            password or "",
            domain,
            workstation=self.workstation,
            now_filetime=self.now_filetime,
        )
        spnego = SpnegoInitiator(ntlm, None if anonymous else kerberos)
        if not user and kerberos is not None and not anonymous:
            user = getattr(kerberos, "user", "")
        self.session = ClientSession(
            user=user,
            domain=domain,
            state="in_progress",
            preauth_hash=self.preauth_hash,
            anonymous_requested=anonymous,
            spnego=spnego,
            ntlm=ntlm,
        )
        try:
            token = spnego.step(self.gss_token or None)
        except AuthError as e:
            raise SmbClientError(e.status, str(e), command="SESSION_SETUP") from None
        return self._setup_leg(token)

    def _setup_leg(self, token: bytes) -> Outgoing:
        body = SessionSetupRequest(token, security_mode=self.security_mode & 0xFF).pack()
        out = self.request(Command.SESSION_SETUP, body, sign=False)
        if self.dialect == 0x0311:
            self.session.preauth_hash = preauth_hash_update(self.session.preauth_hash, *out.parts)
        return out

    def on_session_setup(self, inc: Incoming) -> Outgoing | None:
        """Process a SESSION_SETUP response; return the next leg, or None when the session
        is established. Raises :class:`SmbClientError` on every failure, policy refusals
        included (events are queued first)."""
        s = self.session
        if inc.status == nts.STATUS_MORE_PROCESSING_REQUIRED:
            if inc.error:
                raise inc.error
            if s.session_id == 0:
                s.session_id = inc.header.session_id
            if self.dialect == 0x0311:
                s.preauth_hash = preauth_hash_update(s.preauth_hash, inc.pdu)
            try:
                server_token = SessionSetupResponse.unpack(inc.pdu).security_buffer
                if s.anonymous_requested:
                    token = _anonymous_token(self.workstation)
                else:
                    token = s.spnego.step(server_token)
            except AuthError as e:
                raise SmbClientError(e.status, str(e), command="SESSION_SETUP") from None
            except WireError as e:
                raise SmbProtocolError(f"SESSION_SETUP response: {e}") from None
            return self._setup_leg(token)
        self._check(inc, "SESSION_SETUP")
        try:
            resp = SessionSetupResponse.unpack(inc.pdu)
        except WireError as e:
            raise SmbProtocolError(f"SESSION_SETUP response: {e}") from None
        s.session_id = inc.header.session_id
        s.session_flags = resp.session_flags
        if resp.session_flags & _UNAUTHENTICATED:
            return self._unauthenticated_session(s)
        if s.anonymous_requested:
            raise SmbProtocolError("anonymous logon answered as an authenticated session")
        assert s.spnego is not None
        if s.spnego.mechanism == "Kerberos":
            # The AP-REP (and with it the session key: the acceptor's subkey) arrives in this
            # final response (MS-SMB2 3.2.5.3.1, MS-KILE 3.4.5.1).
            try:
                s.spnego.step(resp.security_buffer)
            except AuthError as e:
                raise SmbClientError(e.status, str(e), command="SESSION_SETUP") from None
        full = bytes(s.spnego.session_key).ljust(16, b"\x00")
        bits = self.cipher.key_bits if self.cipher is not None and self.dialect == 0x0311 else 128
        keys = derive_keys(
            full, self.dialect, s.preauth_hash if self.dialect == 0x0311 else None, bits
        )
        s.session_key = keys.session_key
        s.signing_key = keys.signing_key
        if self.cipher is not None:
            s.encryption_key = keys.client_encryption_key
            s.decryption_key = keys.client_decryption_key
            s.nonces = NonceCounter(self.cipher, self.random_bytes(4))
        s.encrypt_data = bool(self.cipher is not None) and bool(
            self.encrypt or resp.session_flags & SessionFlags.ENCRYPT_DATA
        )
        if self.encrypt and not s.encrypt_data:
            raise SmbClientError(
                nts.STATUS_ACCESS_DENIED,
                "encryption was required, but the server offered no common cipher "
                f"(dialect {dialect_label(self.dialect)})",
                command="SESSION_SETUP",
            )
        s.signing_required = bool(self.require_signing or self.require_signing_server)
        hdr = inc.header
        if hdr.is_signed:
            if not verify_pdu([inc.pdu], s.signing_key, self.algorithm, is_response=True):
                self._bad_signature(inc)
                s.signing_key = b""
                raise SmbClientError(
                    nts.STATUS_INVALID_SIGNATURE,
                    "final SESSION_SETUP response signature did not verify",
                    key="bad_signature",
                    command="SESSION_SETUP",
                )
        elif self.dialect >= 0x0300 or s.signing_required:
            # MS-SMB2 3.2.5.3.1: the final response of a real user's session is signed.
            self._server_will_not_sign(inc)
            s.signing_key = b""
            raise SmbClientError(
                nts.STATUS_INVALID_SIGNATURE,
                "the server sent an unsigned final SESSION_SETUP response",
                key="server_will_not_sign",
                command="SESSION_SETUP",
            )
        if s.spnego.mechanism != "Kerberos":
            try:
                s.spnego.step(resp.security_buffer)  # the server's mechListMIC
            except MechListMicError as e:
                raise self._mech_list_mic_failure(inc, s, e) from None
            except AuthError as e:
                raise SmbClientError(e.status, str(e), command="SESSION_SETUP") from None
        s.mechanism = s.spnego.mechanism
        s.state = "valid"
        self.seen_server = self.server_identity()  # kept for failures after the logon
        s.spnego = None
        return None

    def _unauthenticated_session(self, s: ClientSession) -> None:
        """IS_GUEST / IS_NULL: no key, nothing can be signed (docs/SOURCES.md signing §5)."""
        kind = "guest" if s.is_guest else "anonymous"
        decision = guest_logon_allowed(self.allow_insecure_guest, self.require_signing)
        fields = {
            "server": self.server_name,
            "user": s.user or "",
            "kind": kind,
            "dialect": dialect_label(self.dialect),
        }
        if not decision.allowed:
            key = "guest_blocked" if decision.win32 == 1272 else "guest_blocked_signing"
            self.events.append(
                ("CLIENT_REJECTED_INSECURE_GUEST_LOGON", dict(fields, reason=decision.win32_name))
            )
            s.state = "refused"
            raise SmbClientError(
                decision.ntstatus or nts.STATUS_ACCESS_DENIED,
                f"the server offered only a {kind} session",
                key=key,
                command="SESSION_SETUP",
            )
        s.signing_required = False
        s.state = "valid"
        s.spnego = None
        self.events.append(("CLIENT_ALLOWED_INSECURE_GUEST_LOGON", fields))

    # ---- FSCTL_VALIDATE_NEGOTIATE_INFO (3.0 / 3.0.2) ------------------------------------

    @property
    def needs_validate_negotiate(self) -> bool:
        return self.dialect in (0x0300, 0x0302) and self.session.has_key

    def validate_negotiate(self, tree_id: int) -> Outgoing:
        """MS-SMB2 3.2.4.20.8 (always signed)."""
        data = struct.pack(
            "<I16sHH", self.capabilities, self.client_guid, self.security_mode, len(self.dialects)
        ) + struct.pack(f"<{len(self.dialects)}H", *self.dialects)
        body = IoctlRequest(
            FSCTL_VALIDATE_NEGOTIATE_INFO, b"\xff" * 16, data, 0, 24, SMB2_0_IOCTL_IS_FSCTL
        ).pack()
        return self.request(
            Command.IOCTL, body, tree_id=tree_id, sign=True, payload=max(len(data), 24)
        )

    def on_validate_negotiate(self, inc: Incoming) -> None:
        """MS-SMB2 3.2.5.14.12: unsigned, ACCESS_DENIED or a mismatch terminates."""
        if inc.error:
            raise inc.error
        if not inc.verified:
            self.state = "closed"
            raise SmbClientError(
                nts.STATUS_ACCESS_DENIED,
                "VALIDATE_NEGOTIATE_INFO response not signed",
                key="server_will_not_sign",
            )
        if inc.status in (
            nts.STATUS_NOT_SUPPORTED,
            nts.STATUS_INVALID_DEVICE_REQUEST,
            nts.STATUS_FILE_CLOSED,
        ):
            return  # signed refusal from a server that predates the FSCTL
        if inc.status != nts.STATUS_SUCCESS:
            self.state = "closed"
            raise SmbClientError(inc.status, "secure dialect negotiation failed", command="IOCTL")
        out = bytes(unpack_ioctl_response(inc.pdu))
        if len(out) < 24:
            self.state = "closed"
            raise SmbProtocolError("VALIDATE_NEGOTIATE_INFO response truncated")
        caps, guid, mode, dialect = struct.unpack_from("<I16sHH", out)
        if (caps, guid, mode, dialect) != (
            self.server_capabilities,
            self.server_guid,
            self.server_security_mode,
            self.dialect,
        ):
            self.state = "closed"
            raise SmbClientError(
                nts.STATUS_ACCESS_DENIED,
                "secure dialect negotiation: the "
                "server's answer differs from its NEGOTIATE response "
                "(downgrade attempt?)",
                command="IOCTL",
            )

    # ---- receiving ----------------------------------------------------------------------

    def receive(self, message: bytes | bytearray | memoryview) -> list[Incoming]:
        """Split one received SMB2 message (compound allowed), account credits and check
        signatures (MS-SMB2 3.2.5.1)."""
        buf = memoryview(message)
        encrypted = False
        if len(buf) >= 4 and bytes(buf[:4]) == TRANSFORM_PROTOCOL_ID:
            buf = self._decrypt(buf)
            encrypted = True
        elif len(buf) >= 4 and bytes(buf[:4]) == b"\xfcSMB":
            raise SmbProtocolError("compressed message, but compression was not negotiated")
        out: list[Incoming] = []
        pos = 0
        for _ in range(64):
            try:
                hdr = Smb2Header.unpack(buf[pos:])
            except WireError as e:
                raise SmbProtocolError(str(e)) from None
            if not hdr.is_response:
                raise SmbProtocolError("received a request from the server")
            end = pos + hdr.next_command if hdr.next_command else len(buf)
            if end > len(buf) or (hdr.next_command and hdr.next_command < SMB2_HEADER_SIZE):
                raise SmbProtocolError("NextCommand out of bounds")
            pdu = buf[pos:end]
            self.high += hdr.credit
            inc = Incoming(hdr, pdu)
            if encrypted:
                inc.verified = True  # 3.2.5.1.3: an encrypted response needs no signature
            elif self._needs_encryption(hdr):
                self.discarded += 1
                inc.error = SmbClientError(
                    nts.STATUS_ACCESS_DENIED,
                    "unencrypted response on an encrypted session; response discarded",
                    command=_cmd(hdr.command),
                )
            else:
                self._check_signature(inc)
            if not inc.is_interim:
                self.outstanding.pop(hdr.message_id, None)
            out.append(inc)
            if not hdr.next_command:
                return out
            pos = end
        raise SmbProtocolError("compound response too long")

    def _decrypt(self, buf: memoryview) -> memoryview:
        """MS-SMB2 3.2.5.1.1.1: decrypt with the session's DecryptionKey; any failure is a
        protocol error (the connection is not trusted any more)."""
        s = self.session
        if self.cipher is None or not s.decryption_key:
            raise SmbProtocolError("encrypted message, but no encryption was negotiated")
        try:
            th, plain = decrypt_message(self.cipher, s.decryption_key, buf, max_size=MAX_PLAIN)
        except DecryptError as e:
            self.state = "closed"
            raise SmbProtocolError(f"encrypted response rejected: {e}") from None
        if th.flags != TRANSFORM_FLAG_ENCRYPTED or th.session_id != s.session_id:
            self.state = "closed"
            raise SmbProtocolError("encrypted response for another session")
        return memoryview(plain)

    def _needs_encryption(self, hdr: Smb2Header) -> bool:
        s = self.session
        if not (s.encrypt_data and s.encryption_key) or hdr.session_id != s.session_id:
            return False
        return not (
            hdr.message_id == NOTIFICATION_MID
            or hdr.command in (Command.NEGOTIATE, Command.SESSION_SETUP)
        )

    def _check_signature(self, inc: Incoming) -> None:
        hdr = inc.header
        s = self.session
        if hdr.message_id == NOTIFICATION_MID or inc.is_interim:
            return
        if hdr.session_id == 0 or hdr.session_id != s.session_id or not s.has_key:
            return  # nothing to verify with (yet): SESSION_SETUP handles its final leg
        if hdr.is_signed:
            if verify_pdu([inc.pdu], s.signing_key, self.algorithm, is_response=True):
                inc.verified = True
                return
            self._bad_signature(inc)
            inc.error = SmbClientError(
                nts.STATUS_INVALID_SIGNATURE,
                "response signature did not verify; response discarded",
                key="bad_signature",
                command=_cmd(hdr.command),
            )
            return
        if s.signing_required:
            self._server_will_not_sign(inc)
            inc.error = SmbClientError(
                nts.STATUS_INVALID_SIGNATURE,
                "unsigned response on a signing-required session; response discarded",
                key="server_will_not_sign",
                command=_cmd(hdr.command),
            )

    def _bad_signature(self, inc: Incoming) -> None:
        self.discarded += 1
        self.events.append(
            (
                "CLIENT_RESPONSE_SIGNATURE_INVALID",
                {
                    "server": self.server_name,
                    "command": _cmd(inc.command),
                    "message_id": inc.message_id,
                    "algorithm": ALGORITHM_NAMES.get(self.algorithm, ""),
                    "session_id": f"0x{inc.header.session_id:016x}",
                },
            )
        )

    def _mech_list_mic_failure(
        self, inc: Incoming, s: ClientSession, e: MechListMicError
    ) -> SmbClientError:
        """The server completed the logon without a valid mechListMIC (RFC 4178 5): its NTLM
        cannot sign (impacket's smbserver, fortra/impacket#1883). On a signing-required
        connection Windows' redirector fails the logon with STATUS_INVALID_SIGNATURE and logs
        31998; otherwise the logon is refused (STATUS_ACCESS_DENIED, as Samba's client does)."""
        s.signing_key = b""
        detail = f"{e.detail} (the server cannot sign NTLM sessions)"
        if s.signing_required:
            self._server_will_not_sign(inc)
            return SmbClientError(
                nts.STATUS_INVALID_SIGNATURE,
                detail,
                key="server_cannot_sign",
                command="SESSION_SETUP",
            )
        return SmbClientError(
            nts.STATUS_ACCESS_DENIED, detail, key="server_mechlistmic", command="SESSION_SETUP"
        )

    def server_identity(self) -> dict[str, object]:
        """What this connection saw of the server, for family recognition
        (:func:`lanman.scan.family.recognise_server`)."""
        sp = self.session.spnego if self.session is not None else None
        if sp is None and self.seen_server:
            return dict(self.seen_server)
        ntlm = getattr(sp, "ntlm", None)
        guid = self.server_guid
        return {
            "ntlm_version": getattr(ntlm, "server_version", "") or "",
            "server_guid": str(uuid.UUID(bytes_le=bytes(guid))) if len(guid) == 16 else "",
            "mechanisms": [MECH_NAMES.get(o, o) for o in getattr(sp, "offered_mechs", [])],
        }

    def _server_will_not_sign(self, inc: Incoming) -> None:
        self.discarded += 1
        self.events.append(
            (
                "CLIENT_SERVER_DOES_NOT_SUPPORT_SIGNING",
                {
                    "server": self.server_name,
                    "command": _cmd(inc.command),
                    "dialect": dialect_label(self.dialect),
                    "user": self.session.user,
                },
            )
        )

    @staticmethod
    def _check(inc: Incoming, what: str) -> None:
        if inc.error:
            raise inc.error
        if inc.status != nts.STATUS_SUCCESS:
            raise SmbClientError(inc.status, command=what)

    def drain_events(self) -> list[tuple[str, dict]]:
        ev, self.events = self.events, []
        return ev

    # ---- reporting ----------------------------------------------------------------------

    @property
    def signing_algorithm_name(self) -> str:
        if not self.session.has_key:
            return ""
        return ALGORITHM_NAMES.get(self.algorithm, str(self.algorithm))

    @property
    def signed(self) -> bool:
        """Get-SmbConnection's Signed: every message of the session is signed."""
        return self.session.has_key and self.session.signing_required


def _cmd(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"0x{command:04X}"


def _anonymous_token(workstation: str) -> bytes:
    """NTLM AUTHENTICATE with empty user and responses (MS-NLMP 3.2.5.1.2), in SPNEGO."""
    flags = int(
        NegotiateFlags.UNICODE
        | NegotiateFlags.NTLM
        | NegotiateFlags.ANONYMOUS
        | NegotiateFlags.EXTENDED_SESSIONSECURITY
    )
    auth = AuthenticateMessage(
        flags=flags, lm_response=b"\x00", nt_response=b"", workstation=workstation
    ).encode()
    return NegTokenResp(response_token=auth).encode()


def frame_pad(n: int) -> int:
    return pad8(n)
