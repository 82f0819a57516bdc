"""What a scan observed about one target, as plain data (no I/O, no policy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lanman.scan.probes import NtlmInfo, dialect_name
from lanman.smb.wire.constants import SecurityMode

__all__ = [
    "DialectResult",
    "HostResult",
    "SessionResult",
    "Smb1Result",
    "nmap_smb1_sentence",
    "nmap_smb2_sentence",
]


def nmap_smb2_sentence(security_mode: int) -> str:
    """The sentence nmap's smb2-security-mode prints for this SecurityMode."""
    enabled = bool(security_mode & SecurityMode.SIGNING_ENABLED)
    required = bool(security_mode & SecurityMode.SIGNING_REQUIRED)
    if enabled and required:
        return "Message signing enabled and required"
    if enabled:
        return "Message signing enabled but not required"
    if not required:
        return "Message signing is disabled and not required!"
    return "Message signing is disabled!"


def nmap_smb1_sentence(security_mode: int) -> str:
    """smb-security-mode's ``message_signing`` value (required / supported / disabled)."""
    if security_mode & 0x08:
        return "required"
    if security_mode & 0x04:
        return "supported"
    return "disabled (dangerous, but default)"


@dataclass(slots=True)
class DialectResult:
    """One SMB2 NEGOTIATE offering a single dialect."""

    dialect: int
    offered: bool
    security_mode: int | None = None
    status: int | None = None  # the error status when refused with an SMB2 error
    detail: str = ""

    @property
    def signing_enabled(self) -> bool | None:
        if self.security_mode is None:
            return None
        return bool(self.security_mode & SecurityMode.SIGNING_ENABLED)

    @property
    def signing_required(self) -> bool | None:
        if self.security_mode is None:
            return None
        return bool(self.security_mode & SecurityMode.SIGNING_REQUIRED)

    def as_dict(self) -> dict[str, object]:
        return {
            "dialect": dialect_name(self.dialect),
            "offered": self.offered,
            "security_mode": self.security_mode,
            "signing_enabled": self.signing_enabled,
            "signing_required": self.signing_required,
            "status": None if self.status is None else f"0x{self.status:08X}",
            "detail": self.detail or None,
        }


@dataclass(slots=True)
class Smb1Result:
    offered: bool
    security_mode: int | None = None
    signing: str | None = None  # disabled | enabled | required (MS-CIFS ServerSigningState)
    extended_security: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "offered": self.offered,
            "security_mode": self.security_mode,
            "signing": self.signing,
            "nmap_message_signing": (
                nmap_smb1_sentence(self.security_mode)
                if self.offered and self.security_mode is not None
                else None
            ),
            "extended_security": self.extended_security,
            "detail": self.detail or None,
        }


@dataclass(slots=True)
class SessionResult:
    """A SESSION_SETUP attempt (anonymous, guest or the given user)."""

    kind: str  # anonymous | guest | user
    attempted: bool = False
    accepted: bool = False
    session: str = ""  # what the server gave: user | guest | anonymous
    dialect: str = ""
    signed: bool = False
    signing_algorithm: str = ""
    tree_connect: str = ""  # the share connected ("" when none)
    #: the session is encrypted (server-wide EncryptData, SessionFlags ENCRYPT_DATA)
    encrypted: bool = False
    #: the share connected requires encryption (ShareFlags ENCRYPT_DATA)
    share_encrypted: bool = False
    cipher: str = ""  # the cipher the session negotiated, when any
    status: int | None = None
    code: int | None = None
    name: str = ""
    key: str | None = None
    detail: str = ""
    shares: list[dict[str, object]] | None = None  # NetrShareEnum level 1, when listed
    share_list_error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "attempted": self.attempted,
            "accepted": self.accepted,
            "session": self.session or None,
            "dialect": self.dialect or None,
            "signed": self.signed,
            "signing_algorithm": self.signing_algorithm or None,
            "tree_connect": self.tree_connect or None,
            "encrypted": self.encrypted,
            "share_encrypted": self.share_encrypted,
            "cipher": self.cipher or None,
            "status": None if self.status is None else f"0x{self.status:08X}",
            "code": self.code,
            "name": self.name or None,
            "key": self.key,
            "detail": self.detail or None,
            "can_list_shares": self.shares is not None,
            "shares": self.shares,
            "share_list_error": self.share_list_error or None,
        }


@dataclass(slots=True)
class HostResult:
    """Everything learned about one target (``verdicts`` are added by the verdict step)."""

    target: str
    host: str
    port: int
    address: str = ""
    reachable: bool = False
    error: str = ""
    smb2_negotiated: DialectResult | None = None  # all dialects offered at once (as nmap)
    dialects: list[DialectResult] = field(default_factory=list)
    signing_algorithms: list[str] = field(default_factory=list)
    ciphers: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    server_guid: str = ""
    smb1: Smb1Result | None = None
    ntlm: NtlmInfo | None = None
    anonymous: SessionResult | None = None
    guest: SessionResult | None = None
    user: SessionResult | None = None
    family: str = "unknown"
    family_evidence: str = ""
    seconds: float = 0.0
    verdicts: list = field(default_factory=list)  # list[lanman.scan.verdicts.Verdict]

    # ---- derived facts -----------------------------------------------------------------

    @property
    def smb2_offered(self) -> list[DialectResult]:
        return [d for d in self.dialects if d.offered]

    @property
    def speaks_smb(self) -> bool:
        return (
            bool(self.smb2_offered)
            or bool(self.smb1 and self.smb1.offered)
            or bool(self.smb2_negotiated and self.smb2_negotiated.offered)
        )

    @property
    def signing_required(self) -> bool | None:
        """Required on every SMB dialect the server offers (None: nothing offered)."""
        modes = [bool(d.signing_required) for d in self.smb2_offered]
        if self.smb1 is not None and self.smb1.offered:
            modes.append(self.smb1.signing == "required")
        if not modes:
            return None
        return all(modes)

    @property
    def relay_reasons(self) -> list[str]:
        out = [
            f"SMB {dialect_name(d.dialect)}: signing not required"
            for d in self.smb2_offered
            if not d.signing_required
        ]
        if self.smb1 is not None and self.smb1.offered and self.smb1.signing != "required":
            out.append(
                f"SMB1: signing {self.smb1.signing} (SecurityMode {self.smb1.security_mode})"
            )
        return out

    @property
    def relay_risk(self) -> bool:
        return bool(self.relay_reasons)

    @property
    def nmap_smb2(self) -> str:
        n = self.smb2_negotiated
        if n is None or not n.offered or n.security_mode is None:
            return ""
        return nmap_smb2_sentence(n.security_mode)

    @property
    def guest_accepted(self) -> bool:
        return bool(self.guest and self.guest.accepted and self.guest.session == "guest")

    @property
    def anonymous_accepted(self) -> bool:
        return bool(self.anonymous and self.anonymous.accepted)

    @property
    def guest_can_list_shares(self) -> bool:
        return bool(self.guest and self.guest.accepted and self.guest.shares is not None)

    @property
    def anonymous_can_list_shares(self) -> bool:
        """A null session listed the shares (srvsvc NetrShareEnum): Windows refuses it under
        RestrictNullSessAccess (srvsvc not a null-session pipe) or RestrictAnonymous = 1."""
        return bool(
            self.anonymous
            and self.anonymous.accepted
            and self.anonymous.session == "anonymous"
            and self.anonymous.shares is not None
        )

    @property
    def findings(self) -> list[str]:
        """Security findings besides relay risk, one sentence each."""
        out = []
        if self.anonymous_can_list_shares:
            assert self.anonymous is not None and self.anonymous.shares is not None
            names = ", ".join(str(s["name"]) for s in self.anonymous.shares)
            out.append(
                f"anonymous share enumeration allowed (null session listed: {names or 'none'}); "
                "Windows: RestrictNullSessAccess 1 with srvsvc not in NullSessionPipes, or "
                'RestrictAnonymous 1 ("Network access: Do not allow anonymous enumeration of '
                'SAM accounts and shares")'
            )
        return out
