"""Win32 error codes and HRESULTs as Windows shows them: value, symbolic name, message text.

One table (MS-ERREF 2.1/2.2; names and texts as in the Windows SDK 10.0.26100 winerror.h,
docs/SOURCES.md signing §5.2). ``net use`` prints Win32 values in decimal ("System error 1272
has occurred.") and HRESULT-typed values as unsigned decimal ("System error 3227320323");
Explorer prints HRESULTs in hex ("Error code: 0x80070035").

:func:`from_ntstatus` maps the NTSTATUS codes an SMB client meets to the Win32 error the
Windows redirector reports (MS-ERREF 2.3 / RtlNtStatusToDosError for the common ones).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BY_VALUE",
    "Win32Error",
    "from_ntstatus",
    "hresult_from_win32",
    "lookup",
]


@dataclass(frozen=True, slots=True)
class Win32Error:
    value: int
    name: str
    message: str

    @property
    def is_hresult(self) -> bool:
        return self.value > 0xFFFF

    @property
    def hex(self) -> str:
        return f"0x{self.value:08X}"

    def system_error_line(self) -> str:
        """What ``net use`` prints: "System error N has occurred." (N unsigned decimal)."""
        return f"System error {self.value} has occurred."

    def __str__(self) -> str:
        return f"{self.value} ({self.hex}) {self.name}: {self.message}"


_GUEST_BLOCKED_TEXT = (
    "You can't access this shared folder because your organization's security policies "
    "block unauthenticated guest access. These policies help protect your PC from unsafe or "
    "malicious devices on the network."
)
_GUEST_SIGNING_TEXT = (
    "You can't access this shared folder because your computer is configured to require SMB "
    "signing. These policies help protect your PC from unsafe or malicious devices on the "
    "network."
)

_TABLE: tuple[tuple[int, str, str], ...] = (
    (0, "ERROR_SUCCESS", "The operation completed successfully."),
    (2, "ERROR_FILE_NOT_FOUND", "The system cannot find the file specified."),
    (3, "ERROR_PATH_NOT_FOUND", "The system cannot find the path specified."),
    (5, "ERROR_ACCESS_DENIED", "Access is denied."),
    (6, "ERROR_INVALID_HANDLE", "The handle is invalid."),
    (
        32,
        "ERROR_SHARING_VIOLATION",
        "The process cannot access the file because it is being used by another process.",
    ),
    (53, "ERROR_BAD_NETPATH", "The network path was not found."),
    (50, "ERROR_NOT_SUPPORTED", "The request is not supported."),
    (59, "ERROR_UNEXP_NET_ERR", "An unexpected network error occurred."),
    (64, "ERROR_NETNAME_DELETED", "The specified network name is no longer available."),
    (67, "ERROR_BAD_NET_NAME", "The network name cannot be found."),
    (80, "ERROR_FILE_EXISTS", "The file exists."),
    (86, "ERROR_INVALID_PASSWORD", "The specified network password is not correct."),
    (87, "ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
    (112, "ERROR_DISK_FULL", "There is not enough space on the disk."),
    (121, "ERROR_SEM_TIMEOUT", "The semaphore timeout period has expired."),
    (145, "ERROR_DIR_NOT_EMPTY", "The directory is not empty."),
    (183, "ERROR_ALREADY_EXISTS", "Cannot create a file when that file already exists."),
    (267, "ERROR_DIRECTORY", "The directory name is invalid."),
    (
        1219,
        "ERROR_SESSION_CREDENTIAL_CONFLICT",
        (
            "Multiple connections to a server or shared resource by the same user, using more "
            "than one user name, are not allowed."
        ),
    ),
    (1231, "ERROR_NETWORK_UNREACHABLE", "The network location cannot be reached."),
    (
        1240,
        "ERROR_LOGIN_WKSTA_RESTRICTION",
        "The account is not authorized to log in from this station.",
    ),
    (1272, "ERROR_SMB_GUEST_LOGON_BLOCKED", _GUEST_BLOCKED_TEXT),
    (1326, "ERROR_LOGON_FAILURE", "The user name or password is incorrect."),
    (
        1327,
        "ERROR_ACCOUNT_RESTRICTION",
        "Account restrictions are preventing this user from signing in.",
    ),
    (
        1331,
        "ERROR_ACCOUNT_DISABLED",
        "This user can't sign in because this account is currently disabled.",
    ),
    (1359, "ERROR_INTERNAL_ERROR", "An internal error occurred."),
    (
        1935,
        "ERROR_AUTHENTICATION_FIREWALL_FAILED",
        (
            "The computer you are signing into is protected by an authentication firewall. "
            "The specified account is not allowed to authenticate to the computer."
        ),
    ),
    (1937, "ERROR_NTLM_BLOCKED", "The authentication failed since NTLM was blocked."),
    # HRESULT-typed "SMB status codes" (winerror.h, FACILITY 0x5D)
    (
        0xC05D0000,
        "ERROR_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP",
        "Failed to negotiate a preauthentication integrity hash function.",
    ),
    (
        0xC05D0002,
        "ERROR_SMB_NO_SIGNING_ALGORITHM_OVERLAP",
        "Failed to negotiate a signing hash function.",
    ),
    (0xC05D0003, "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED", _GUEST_SIGNING_TEXT),
    (
        0xC05D0004,
        "ERROR_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED",
        "The requested operation failed. Encryption is not supported for guest access.",
    ),
    # HRESULT_FROM_WIN32(ERROR_BAD_NETPATH): what Explorer shows over the detailed error
    (0x80070035, "ERROR_BAD_NETPATH", "The network path was not found."),
    (0x80070005, "E_ACCESSDENIED", "Access is denied."),
)

BY_VALUE: dict[int, Win32Error] = {v: Win32Error(v, n, m) for v, n, m in _TABLE}
BY_NAME: dict[str, Win32Error] = {}
for _e in BY_VALUE.values():
    BY_NAME.setdefault(_e.name, _e)

ERROR_ACCESS_DENIED = 5
ERROR_BAD_NETPATH = 53
ERROR_BAD_NET_NAME = 67
ERROR_INVALID_PASSWORD = 86
ERROR_LOGIN_WKSTA_RESTRICTION = 1240
ERROR_SMB_GUEST_LOGON_BLOCKED = 1272
ERROR_LOGON_FAILURE = 1326
ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED = 0xC05D0003  # 3227320323
E_BAD_NETPATH = 0x80070035


def lookup(value: int) -> Win32Error:
    value &= 0xFFFFFFFF
    found = BY_VALUE.get(value)
    if found is None:
        return Win32Error(value, f"0x{value:08X}", "Unknown error.")
    return found


def hresult_from_win32(code: int) -> int:
    """HRESULT_FROM_WIN32 (MS-ERREF 2.1.2): 0x8007xxxx for a 16-bit Win32 code."""
    if code <= 0 or code > 0xFFFF:
        return code & 0xFFFFFFFF
    return 0x80070000 | code


#: NTSTATUS -> Win32 for what the SMB redirector reports (MS-ERREF 2.3 mapping).
_FROM_NT: dict[int, int] = {
    0x00000000: 0,
    0xC0000022: 5,  # STATUS_ACCESS_DENIED
    0xC000000D: 87,  # STATUS_INVALID_PARAMETER
    0xC000000F: 2,  # STATUS_NO_SUCH_FILE
    0xC0000034: 2,  # STATUS_OBJECT_NAME_NOT_FOUND
    0xC000003A: 3,  # STATUS_OBJECT_PATH_NOT_FOUND
    0xC0000035: 183,  # STATUS_OBJECT_NAME_COLLISION
    0xC0000043: 32,  # STATUS_SHARING_VIOLATION
    0xC000006D: 1326,  # STATUS_LOGON_FAILURE
    0xC000006A: 86,  # STATUS_WRONG_PASSWORD
    0xC000006E: 1327,  # STATUS_ACCOUNT_RESTRICTION
    0xC0000072: 1331,  # STATUS_ACCOUNT_DISABLED
    0xC000007F: 112,  # STATUS_DISK_FULL
    0xC00000CC: 67,  # STATUS_BAD_NETWORK_NAME
    0xC00000C9: 64,  # STATUS_NETWORK_NAME_DELETED
    0xC0000101: 145,  # STATUS_DIRECTORY_NOT_EMPTY
    0xC0000103: 267,  # STATUS_NOT_A_DIRECTORY
    0xC00000BA: 5,  # STATUS_FILE_IS_A_DIRECTORY -> access denied, as Windows reports it
    0xC0000248: 1240,  # STATUS_LOGIN_WKSTA_RESTRICTION (mapping [unconfirmed], §5.2)
    0xC05D0002: 1272,  # STATUS_SMB_GUEST_LOGON_BLOCKED
    0xC05D0006: 0xC05D0003,  # STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED
    0xC05D0007: 0xC05D0004,  # STATUS_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED
    0xC05D0003: 0xC05D0002,  # STATUS_SMB_NO_SIGNING_ALGORITHM_OVERLAP
    0xC05D0000: 0xC05D0000,  # STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP
    0xC0000413: 1935,  # STATUS_AUTHENTICATION_FIREWALL_FAILED
    0xC0000418: 1937,  # STATUS_NTLM_BLOCKED
    0xC0000203: 59,  # STATUS_USER_SESSION_DELETED
    0xC000020C: 64,  # STATUS_CONNECTION_DISCONNECTED
    0xC00000B5: 121,  # STATUS_IO_TIMEOUT
    0xC00000BB: 50,  # STATUS_NOT_SUPPORTED
    0xC00000C3: 59,  # STATUS_INVALID_NETWORK_RESPONSE
}


def from_ntstatus(status: int) -> Win32Error | None:
    """The Win32 error for an NTSTATUS, or None where no mapping is confirmed (e.g.
    STATUS_INVALID_SIGNATURE, which Windows shows as the NTSTATUS itself)."""
    code = _FROM_NT.get(status & 0xFFFFFFFF)
    return None if code is None else lookup(code)
