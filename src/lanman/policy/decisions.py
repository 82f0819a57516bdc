"""Pure signing and guest decisions, each a truth table from docs/SOURCES.md (signing).

No I/O, no state: the SMB client, the server and ``lanman smb matrix`` call these with values
from :mod:`lanman.policy.effective`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SMB1_OUTCOMES",
    "GuestDecision",
    "Smb1Failure",
    "guest_logon_allowed",
    "smb1_failure",
    "smb1_security_mode",
    "smb1_signing_outcome",
    "smb1_state",
    "smb2_session_signing_required",
    "smb2_signing_outcome",
]

SigningState = Literal["disabled", "enabled", "required"]
Smb1Outcome = Literal["signed", "unsigned", "blocked"]

# MS-CIFS 2.2.4.52.2 NEGOTIATE response SecurityMode bits.
NEGOTIATE_USER_SECURITY = 0x01
NEGOTIATE_ENCRYPT_PASSWORDS = 0x02
NEGOTIATE_SECURITY_SIGNATURES_ENABLED = 0x04
NEGOTIATE_SECURITY_SIGNATURES_REQUIRED = 0x08


def smb2_session_signing_required(
    client_require: bool, server_require: bool, is_guest: bool, is_anonymous: bool
) -> bool:
    """Session.SigningRequired for an SMB2/3 session (MS-SMB2 3.3.5.5.3 step 5, 3.2.5.3.1).

    Required when either side's RequireSecuritySignature is set (the client's shows as
    SIGNING_REQUIRED in its SecurityMode; the server's as RequireMessageSigning, and the client
    then sets Connection.RequireSigning). Guest and anonymous sessions have no session key and
    are never made signing-required (Anatomy blog; Samba and ksmbd "force no signing"; a client
    that requires signing refuses them instead, see :func:`guest_logon_allowed`).
    EnableSecuritySignature plays no part: SMB2+ ignores it.
    """
    if is_guest or is_anonymous:
        return False
    return bool(client_require or server_require)


def smb2_signing_outcome(client_require: bool, server_require: bool) -> str:
    """windows-itpro 'Digitally sign communications (always)' matrix for SMB2/3: either side
    requires -> "signed"; neither -> "unsigned" (authenticated sessions)."""
    return "signed" if client_require or server_require else "unsigned"


def smb1_state(enable: bool, require: bool) -> SigningState:
    """An SMB1 side's signing state from its Enable/RequireSecuritySignature pair."""
    if require:
        return "required"
    return "enabled" if enable else "disabled"


#: MS-SMB 3.2.4.2.4 "Signing" table: (client policy, ServerSigningState) -> result.
SMB1_OUTCOMES: dict[tuple[str, str], Smb1Outcome] = {
    ("disabled", "disabled"): "unsigned",
    ("disabled", "enabled"): "unsigned",
    ("disabled", "required"): "blocked",
    ("enabled", "disabled"): "unsigned",
    ("enabled", "enabled"): "signed",
    ("enabled", "required"): "signed",
    ("required", "disabled"): "blocked",
    ("required", "enabled"): "signed",
    ("required", "required"): "signed",
}


def smb1_signing_outcome(client_state: str, server_state: str) -> Smb1Outcome:
    """MS-SMB 3.2.4.2.4: "signed" | "unsigned" | "blocked" (the connection SHOULD be closed)."""
    try:
        return SMB1_OUTCOMES[(client_state, server_state)]
    except KeyError:
        raise ValueError(
            f"signing states are disabled|enabled|required, got {client_state!r}, {server_state!r}"
        ) from None


def smb1_security_mode(server_enable: bool, server_require: bool) -> int:
    """SMB1 NEGOTIATE response SecurityMode as KB 887429 reads it in a trace: 3 (signing
    disabled), 7 (enabled, not required), 15 (required). User security and encrypted
    passwords are always on; REQUIRED implies ENABLED (MS-CIFS 2.2.4.52.2)."""
    mode = NEGOTIATE_USER_SECURITY | NEGOTIATE_ENCRYPT_PASSWORDS
    if server_enable or server_require:
        mode |= NEGOTIATE_SECURITY_SIGNATURES_ENABLED
    if server_require:
        mode |= NEGOTIATE_SECURITY_SIGNATURES_REQUIRED
    return mode


@dataclass(frozen=True, slots=True)
class Smb1Failure:
    """How a blocked SMB1 connection fails (KB 887429 scenarios)."""

    stage: str
    win32: int | None
    win32_name: str | None
    ntstatus: int | None
    ntstatus_name: str | None
    text: str


def smb1_failure(client_state: str, server_state: str) -> Smb1Failure | None:
    """None unless :func:`smb1_signing_outcome` is "blocked"; then what the client sees."""
    if smb1_signing_outcome(client_state, server_state) != "blocked":
        return None
    if client_state == "required":  # server disabled
        return Smb1Failure(
            stage="negotiate",
            win32=1240,
            win32_name="ERROR_LOGIN_WKSTA_RESTRICTION",
            ntstatus=0xC0000248,
            ntstatus_name="STATUS_LOGIN_WKSTA_RESTRICTION",
            text="The account is not authorized to log in from this station.",
        )
    return Smb1Failure(  # client disabled, server required
        stage="tree connect",
        win32=5,
        win32_name="ERROR_ACCESS_DENIED",
        ntstatus=0xC0000022,
        ntstatus_name="STATUS_ACCESS_DENIED",
        text="Access is denied.",
    )


@dataclass(frozen=True, slots=True)
class GuestDecision:
    allowed: bool
    win32: int | None = None
    win32_name: str | None = None
    ntstatus: int | None = None
    ntstatus_name: str | None = None
    text: str = ""
    #: what Explorer shows on top ("Error code: 0x80070035 The network path was not found.")
    explorer_hresult: int | None = None


GUEST_OK = GuestDecision(True)
GUEST_BLOCKED = GuestDecision(
    False,
    win32=1272,
    win32_name="ERROR_SMB_GUEST_LOGON_BLOCKED",
    ntstatus=0xC05D0002,
    ntstatus_name="STATUS_SMB_GUEST_LOGON_BLOCKED",
    text=(
        "You can't access this shared folder because your organization's security policies "
        "block unauthenticated guest access. These policies help protect your PC from unsafe "
        "or malicious devices on the network."
    ),
    explorer_hresult=0x80070035,
)
GUEST_BLOCKED_SIGNING = GuestDecision(
    False,
    win32=0xC05D0003,  # net use prints it as 3227320323
    win32_name="ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED",
    ntstatus=0xC05D0006,
    ntstatus_name="STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED",
    text=(
        "You can't access this shared folder because your computer is configured to require "
        "SMB signing. These policies help protect your PC from unsafe or malicious devices on "
        "the network."
    ),
)
GUEST_BLOCKED_ENCRYPTION = GuestDecision(
    False,
    win32=0xC05D0004,
    win32_name="ERROR_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED",
    ntstatus=0xC05D0007,
    ntstatus_name="STATUS_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED",
    text="The requested operation failed. Encryption is not supported for guest access.",
)


def guest_logon_allowed(
    client_allow_insecure_guest: bool,
    client_require_signing: bool,
    client_require_encryption: bool = False,
) -> GuestDecision:
    """May an SMB2/3 client accept a session the server marked IS_GUEST? (docs/SOURCES.md signing §5)

    Insecure guest logons off -> 1272; else signing required -> 0xC05D0003 (System error
    3227320323); else encryption required -> 0xC05D0004; else allowed. The order follows the
    24H2 experience the documents describe: enabling insecure guest logons alone still leaves
    the signing error.
    """
    if not client_allow_insecure_guest:
        return GUEST_BLOCKED
    if client_require_signing:
        return GUEST_BLOCKED_SIGNING
    if client_require_encryption:
        return GUEST_BLOCKED_ENCRYPTION
    return GUEST_OK
