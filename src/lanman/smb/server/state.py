"""Server-side abstract data model: global settings, sessions, tree connects, opens
(MS-SMB2 3.3.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class ShareRecord(Protocol):
    name: str
    path: str
    read_only: bool
    guest_ok: bool
    remark: str
    # encrypt_data (Share.EncryptData, MS-SMB2 3.3.1.6) is read with getattr: default False.


@dataclass(slots=True)
class ServerSettings:
    """The global settings of MS-SMB2 3.3.1.1 that lanman exposes."""

    server_name: str = "LANMAN"
    domain_name: str = "WORKGROUP"
    dns_domain_name: str = ""
    server_guid: bytes = b"\x00" * 16
    require_message_signing: bool = True  # RequireSecuritySignature
    enable_security_signature: bool = True  # EnableSecuritySignature (SMB1 only)
    smb1_enabled: bool = False  # EnableSMB1Protocol (off by default, as modern Windows)
    map_to_guest: bool = False
    max_read_size: int = 8 * 1024 * 1024
    max_write_size: int = 8 * 1024 * 1024
    max_transact_size: int = 8 * 1024 * 1024
    max_opens_per_connection: int = 4096
    max_async_per_connection: int = 256
    #: seconds a CREATE waits for an oplock/lease break acknowledgment before the break
    #: times out (MS-SMB2 3.3.2.1 Oplock Break Acknowledgment Timer; 35 s on Windows)
    oplock_break_timeout: float = 35.0
    max_sessions_per_connection: int = 64
    #: IsMultiChannelCapable (MS-SMB2 3.3.1.1): SMB2_GLOBAL_CAP_MULTI_CHANNEL is echoed to a
    #: 3.x client that offers it, and such a client may bind its session to more
    #: connections (3.3.5.5, session_binding.py)
    multichannel: bool = True
    #: directory leases (MS-SMB2 3.3.1.1 "the server supports directory leasing"):
    #: SMB2_GLOBAL_CAP_DIRECTORY_LEASING at 3.x, and R/RH leases on directories that a
    #: change of one of their entries breaks (dirleases.py)
    directory_leasing: bool = True
    #: EncryptData: every session of an SMB 3.x client that can encrypt is encrypted
    #: (MS-SMB2 3.3.1.1 EncryptData; Set-SmbServerConfiguration -EncryptData).
    encrypt_data: bool = False
    #: RejectUnencryptedAccess: unencrypted access to a session/share that requires
    #: encryption is refused with STATUS_ACCESS_DENIED (MS-SMB2 3.3.1.1).
    reject_unencrypted_access: bool = True
    #: EncryptionCiphers, the server's preference order; empty: encryption not offered.
    encryption_ciphers: tuple = (0x0002, 0x0001, 0x0004, 0x0003)
    #: RestrictAnonymous / RestrictNullSessAccess / NullSessionPipes / NullSessionShares
    #: (lanman.policy.anonymous.AnonymousPolicy); None: Windows 11's defaults.
    anonymous: object = None


EventSink = Callable[..., None]  # (event_name: str, **fields) -> None

#: Session.unix_id of an account mapped to a Unix user the server cannot switch to.
UNMAPPABLE = "unmappable"


@dataclass(slots=True)
class ServerContext:
    """What a connection needs from the rest of lanman; shared by all connections."""

    settings: ServerSettings
    lookup_nt_hash: Callable[[str], bytes | None]
    get_share: Callable[[str], ShareRecord | None]
    list_shares: Callable[[], list[ShareRecord]]
    emit_event: EventSink = lambda *a, **k: None
    #: (user, password_ok) after each NTLM logon with a known user: bad-password counting and
    #: lockout (the directory's badPwdCount) -- MS-SAMR 3.1.1.8.1 semantics.
    record_logon: Callable[..., None] = lambda user, ok, client="": None
    #: lanman.auth.ntlm.NtlmLogonHooks of a provisioned domain (Protected Users and
    #: authentication policies, MS-APDS 3.1.5); None: lookup_nt_hash alone.
    ntlm_hooks: Any = None
    server_start_time: int = 0
    oplocks: Any = None  # OplockTable shared by all connections (set in __post_init__)
    #: opendb.OpenDb: every open's access, share mode and delete-on-close, per file
    #: (set in __post_init__); the place cross-connection per-file state hangs off
    opendb: Any = None
    #: durable.DurableTable: the durable opens of every connection, connected or not
    durable: Any = None
    #: the event loop whose timer drives oplocks.tick (transport.start_server sets it)
    break_timer_loop: Any = None
    lock_tables: dict = field(default_factory=dict)  # file key -> ByteRangeLocks
    notify: Any = None  # notify.NotifyHub shared by all connections (set in __post_init__)
    sparse_files: set = field(default_factory=set)  # file keys FSCTL_SET_SPARSE marked (fsctl.py)
    msg: Any = None  # lanman.msg.server.MsgServerBinding: TSTS pipes (None: not offered)
    #: () -> lanman.auth.kerberos.KerberosAcceptor, set when the home has a provisioned domain
    #: (None: NTLM only).
    kerberos_acceptor: Callable[[], Any] | None = None
    #: SPNEGO mechTypes of the NEGOTIATE response (MS-SPNG 3.2.5.2).
    negotiate_mechs: tuple[str, ...] = ("1.3.6.1.4.1.311.2.2.10",)
    #: The server's home (lanman.datadir): the file layer refuses every path that resolves
    #: into it, whatever the share (None: nothing to protect).
    data_dir: str | None = None
    #: account name -> lanman.fsid.UnixIdentity its file access runs as, None (the service
    #: account) or UNMAPPABLE (mapped, but the server cannot switch: no file access).
    unix_identity: Callable[[str], Any] = lambda user: None
    fs_identity: Any = None  # lanman.fsid.FsIdentity when any account may be mapped
    #: Unix uid -> the SID of the account mapped to it (None: none), for the owner of a file
    #: without a stored security descriptor (smb/server/filesd.py)
    sid_for_uid: Callable[[int], str | None] = lambda uid: None
    #: (n) -> n random bytes: nonce prefixes of the encryption keys (the core draws no
    #: randomness itself; tests pass a deterministic source).
    random_bytes: Callable[[int], bytes] = field(default=None)  # type: ignore[assignment]
    #: (AuthResult) -> the SIDs of the session's token (user first): the PAC's for Kerberos,
    #: the store's/directory's for NTLM (lanman.directory.identity.logon_sids). The default
    #: gives every real user Everyone + Authenticated Users (tests, embedders).
    logon_sids: Callable[[Any], list[str]] = field(default=None)  # type: ignore[assignment]
    #: MS-SMB2 3.3.1.5 GlobalSessionTable (lanman.smb.server.session_table.SessionTable):
    #: sessions by SessionId across connections (binding, PreviousSessionId, error signing)
    sessions: Any = None

    def __post_init__(self) -> None:
        if self.random_bytes is None:
            import os

            self.random_bytes = os.urandom
        if self.logon_sids is None:
            self.logon_sids = default_logon_sids
        if self.sessions is None:
            from .session_table import SessionTable

            self.sessions = SessionTable()
        if self.oplocks is None:
            from .oplocks import OplockTable

            self.oplocks = OplockTable(
                break_timeout=int(self.settings.oplock_break_timeout * 10_000_000)
            )
        if self.notify is None:
            from .notify import NotifyHub

            self.notify = NotifyHub()
        if self.opendb is None:
            from .opendb import OpenDb

            self.opendb = OpenDb()
        if self.durable is None:
            from .durable import DurableTable

            self.durable = DurableTable()


def default_logon_sids(result) -> list[str]:
    """The PAC's SIDs, else Everyone, NETWORK and Authenticated Users (guest: Everyone,
    NETWORK, BUILTIN\\Guests; anonymous: ANONYMOUS LOGON)."""
    from lanman.directory.identity import ANONYMOUS, network_logon_extras

    if result.is_anonymous:
        return [ANONYMOUS]
    if result.is_guest:
        return network_logon_extras(guest=True)
    return [*result.sids, *network_logon_extras()]


@dataclass(slots=True)
class TreeConnect:
    """MS-SMB2 3.3.1.9."""

    tree_id: int
    share_name: str
    is_ipc: bool
    fs: Any  # ShareFS for disk shares, None for IPC$
    read_only: bool
    maximal_access: int
    encrypt_data: bool = False  # Share.EncryptData when the tree was connected
    #: what the share's permissions grant the session (MS-SMB2 3.3.1.6 Share.ShareSecurity
    #: checked at TREE_CONNECT); caps every open of the tree
    share_access: int = 0x001F01FF


class SessionState(str, Enum):
    """Session.State (MS-SMB2 3.3.1.8); an expired session is Valid past its ExpirationTime."""

    IN_PROGRESS = "in_progress"
    VALID = "valid"


@dataclass(slots=True)
class Session:
    """MS-SMB2 3.3.1.8."""

    session_id: int
    state: SessionState = SessionState.IN_PROGRESS
    auth: Any = None  # SpnegoAcceptor while in progress
    user: str = ""
    domain: str = ""
    is_guest: bool = False
    is_anonymous: bool = False
    session_key: bytes = b""
    signing_key: bytes = b""
    application_key: bytes = b""
    signing_required: bool = False
    #: MS-SMB2 3.3.1.8 EncryptData, EncryptionKey (server to client), DecryptionKey
    encrypt_data: bool = False
    encryption_key: bytes = b""
    decryption_key: bytes = b""
    nonces: Any = None  # crypto.smb_encryption.NonceCounter for encryption_key
    client_security_mode: int = 0
    preauth_hash: bytes = b""
    trees: dict[int, TreeConnect] = field(default_factory=dict)
    #: lanman.fsid.UnixIdentity the session's file access runs as (None: the service
    #: account; UNMAPPABLE: mapped but not switchable, so no file access).
    unix_id: Any = None
    #: lanman.security.SecurityToken of the logon (built once at SESSION_SETUP)
    token: Any = None
    #: authentication package: "Kerberos" | "NTLM" | "" (guest/anonymous/in progress)
    auth_package: str = ""
    #: the connection's clock at logon and at the last request (lanman status idle time)
    logon_time: float = 0.0
    last_activity: float = 0.0
    #: Close-SmbSession: an administrator closed the session; its next request gets
    #: STATUS_USER_SESSION_DELETED (MS-SMB2 3.3.5.2.9)
    closed_by_admin: bool = False
    #: Session.Connection's Dialect and signing algorithm: a binding request is verified and
    #: answered with them (3.3.5.2.4), and must come over the same dialect/cipher (3.3.5.5)
    dialect: int = 0
    signing_algorithm: Any = None
    cipher: Any = None
    #: Session.ChannelList (3.3.1.8): ServerConnection.conn_id -> session_table.Channel
    channels: dict = field(default_factory=dict)
    #: Session.ExpirationTime (FILETIME; 0: never): the Kerberos ticket's endtime; past it
    #: requests get STATUS_NETWORK_SESSION_EXPIRED until a re-authentication (3.3.5.2.9)
    expiration_time: int = 0

    @property
    def can_sign(self) -> bool:
        """Keys exist only for a real user's first logon; a later anonymous or guest
        re-authentication keeps them (3.3.5.5.3: re-authentication changes no key)."""
        return bool(self.signing_key)

    @property
    def can_encrypt(self) -> bool:
        return bool(self.encryption_key)

    def expired(self, now: int) -> bool:
        return bool(self.expiration_time) and now >= self.expiration_time


@dataclass(slots=True)
class DirectoryScan:
    """Enumeration state of an open directory (QUERY_DIRECTORY)."""

    entries: list = field(default_factory=list)
    index: int = 0
    started: bool = False


@dataclass(slots=True)
class Open:
    """MS-SMB2 3.3.1.10."""

    volatile_id: int
    session_id: int
    tree_id: int
    kind: str  # "file" | "dir" | "pipe"
    granted_access: int
    handle: Any  # fs OpenFile, or rpc RpcPipe
    smb_path: str = ""
    scan: DirectoryScan | None = None
    position: int = 0
    mode: int = 0
    oplock_key: tuple | None = None
    resume_key: bytes = b""  # FSCTL_SRV_REQUEST_RESUME_KEY's key, once asked (fsctl.py)
    #: opendb key (st_dev, st_ino) of a file or directory open; its ShareAccess and
    #: delete-on-close live in ServerContext.opendb under (key, (id(conn), volatile_id))
    file_key: tuple | None = None
    #: the lease state granted with the open (Open.Lease.LeaseState at CREATE; caching.py)
    lease_state: int = 0
    durable: Any = None  # durable.DurableOpen while Open.IsDurable (MS-SMB2 3.3.1.10)
    channel_sequence: int = 0  # Open.ChannelSequence (3.3.5.2.10)
    #: Open.IsReplayEligible (3.3.5.9.10): a DH2Q open not yet used by any other request
    replay_eligible: bool = False
    #: Open.LockSequenceArray (3.3.5.14, lock_sequence.py)
    lock_sequences: Any = None
    ea_index: int = 0  # where the next FileFullEaInformation enumeration goes on (eas.py)

    @property
    def file_id(self) -> bytes:
        v = self.volatile_id.to_bytes(8, "little")
        return v + v
