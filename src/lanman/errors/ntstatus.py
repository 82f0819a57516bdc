"""NTSTATUS codes used by lanman: value, symbolic name and Windows message text.

One table (MS-ERREF 2.3.1; message texts as in the Windows SDK ntstatus.h). Code elsewhere
refers to the module-level constants (``STATUS_ACCESS_DENIED``) and raises
:class:`NtStatusError` to make a request fail with a given status.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NtStatus:
    value: int
    name: str
    message: str

    @property
    def signed(self) -> int:
        """The value as a signed 32-bit integer, as PowerShell prints it."""
        return self.value - (1 << 32) if self.value & 0x80000000 else self.value

    def __str__(self) -> str:
        return f"0x{self.value:08X} {self.name}: {self.message}"


_TABLE: tuple[tuple[int, str, str], ...] = (
    (0x00000000, "STATUS_SUCCESS", "The operation completed successfully."),
    (0x00000103, "STATUS_PENDING", "The operation that was requested is pending completion."),
    (
        0x0000010B,
        "STATUS_NOTIFY_CLEANUP",
        "Indicates that a notify change request has been completed due to closing the handle which made the notify change request.",
    ),
    (
        0x0000010C,
        "STATUS_NOTIFY_ENUM_DIR",
        "Indicates that a notify change request is being completed and that the information is not being returned in the caller's buffer.",
    ),
    (
        0x80000005,
        "STATUS_BUFFER_OVERFLOW",
        "The data was too large to fit into the specified buffer.",
    ),
    (
        0x80000006,
        "STATUS_NO_MORE_FILES",
        "No more files were found which match the file specification.",
    ),
    (0xC0000001, "STATUS_UNSUCCESSFUL", "Operation failed."),
    (0xC0000002, "STATUS_NOT_IMPLEMENTED", "The requested operation is not implemented."),
    (
        0xC0000003,
        "STATUS_INVALID_INFO_CLASS",
        "The specified information class is not a valid information class for the specified object.",
    ),
    (
        0xC0000004,
        "STATUS_INFO_LENGTH_MISMATCH",
        "The specified information record length does not match the length required for the specified information class.",
    ),
    (0xC0000008, "STATUS_INVALID_HANDLE", "An invalid HANDLE was specified."),
    (
        0xC000000D,
        "STATUS_INVALID_PARAMETER",
        "An invalid parameter was passed to a service or function.",
    ),
    (0xC000000F, "STATUS_NO_SUCH_FILE", "The file does not exist."),
    (
        0xC0000010,
        "STATUS_INVALID_DEVICE_REQUEST",
        "The specified request is not a valid operation for the target device.",
    ),
    (
        0xC0000011,
        "STATUS_END_OF_FILE",
        "The end-of-file marker has been reached. There is no valid data in the file beyond this marker.",
    ),
    (
        0xC0000016,
        "STATUS_MORE_PROCESSING_REQUIRED",
        "{Still Busy} The specified I/O request packet (IRP) cannot be disposed of because the I/O operation is not complete.",
    ),
    (
        0xC0000017,
        "STATUS_NO_MEMORY",
        "Not enough virtual memory or paging file quota is available to complete the specified operation.",
    ),
    (
        0xC0000022,
        "STATUS_ACCESS_DENIED",
        "A process has requested access to an object but has not been granted those access rights.",
    ),
    (
        0xC0000023,
        "STATUS_BUFFER_TOO_SMALL",
        "The buffer is too small to contain the entry. No information has been written to the buffer.",
    ),
    (0xC0000033, "STATUS_OBJECT_NAME_INVALID", "Object Name invalid."),
    (0xC0000034, "STATUS_OBJECT_NAME_NOT_FOUND", "Object Name not found."),
    (0xC0000035, "STATUS_OBJECT_NAME_COLLISION", "Object Name already exists."),
    (0xC0000039, "STATUS_OBJECT_PATH_INVALID", "Object Path Component was not a directory object."),
    (0xC000003A, "STATUS_OBJECT_PATH_NOT_FOUND", "The path does not exist."),
    (
        0xC000003B,
        "STATUS_OBJECT_PATH_SYNTAX_BAD",
        "Object Path Component was not a directory object.",
    ),
    (
        0xC0000043,
        "STATUS_SHARING_VIOLATION",
        "A file cannot be opened because the share access flags are incompatible.",
    ),
    (
        0xC0000054,
        "STATUS_FILE_LOCK_CONFLICT",
        "A requested read/write cannot be granted due to a conflicting file lock.",
    ),
    (
        0xC0000055,
        "STATUS_LOCK_NOT_GRANTED",
        "A requested file lock cannot be granted due to other existing locks.",
    ),
    (
        0xC0000056,
        "STATUS_DELETE_PENDING",
        "A non close operation has been requested of a file object with a delete pending.",
    ),
    (
        0xC000005A,
        "STATUS_INVALID_OWNER",
        "Indicates a particular Security ID may not be assigned as the owner of an object.",
    ),
    (
        0xC000005E,
        "STATUS_NO_LOGON_SERVERS",
        "There are currently no logon servers available to service the logon request.",
    ),
    (
        0xC0000061,
        "STATUS_PRIVILEGE_NOT_HELD",
        "A required privilege is not held by the client.",
    ),
    (
        0xC000006A,
        "STATUS_WRONG_PASSWORD",
        "When trying to update a password, this return status indicates that the value provided as the current password is not correct.",
    ),
    (
        0xC000006D,
        "STATUS_LOGON_FAILURE",
        "The attempted logon is invalid. This is either due to a bad username or authentication information.",
    ),
    (
        0xC000006E,
        "STATUS_ACCOUNT_RESTRICTION",
        "Indicates a referenced user name and authentication information are valid, but some user account restriction has prevented successful authentication (such as time-of-day restrictions).",
    ),
    (
        0xC0000072,
        "STATUS_ACCOUNT_DISABLED",
        "The referenced account is currently disabled and may not be logged on to.",
    ),
    (
        0xC0000079,
        "STATUS_INVALID_SECURITY_DESCR",
        "The SECURITY_DESCRIPTOR structure is not valid.",
    ),
    (0xC0000071, "STATUS_PASSWORD_EXPIRED", "The user account's password has expired."),
    (0xC0000193, "STATUS_ACCOUNT_EXPIRED", "The user account has expired."),
    (
        0xC0000224,
        "STATUS_PASSWORD_MUST_CHANGE",
        "The user password must be changed before signing in for the first time.",
    ),
    (
        0xC0000234,
        "STATUS_ACCOUNT_LOCKED_OUT",
        "The user account has been automatically locked because too many invalid logon attempts or password change attempts have been requested.",
    ),
    (0xC000007E, "STATUS_RANGE_NOT_LOCKED", "The range specified in NtUnlockFile was not locked."),
    (0xC000007F, "STATUS_DISK_FULL", "An operation failed because the disk was full."),
    (
        0xC00000A5,
        "STATUS_BAD_IMPERSONATION_LEVEL",
        "A specified impersonation level is invalid, or a required impersonation level was not provided.",
    ),
    (
        0xC00000BA,
        "STATUS_FILE_IS_A_DIRECTORY",
        "The file that was specified as a target is a directory and the caller specified that it could be anything but a directory.",
    ),
    (0xC00000BB, "STATUS_NOT_SUPPORTED", "The request is not supported."),
    (0xC00000C9, "STATUS_NETWORK_NAME_DELETED", "The network name was deleted."),
    (
        0xC00000CC,
        "STATUS_BAD_NETWORK_NAME",
        "{Network Name Not Found} The specified share name cannot be found on the remote server.",
    ),
    (
        0xC00000D0,
        "STATUS_REQUEST_NOT_ACCEPTED",
        "No more connections can be made to this remote computer at this time because the computer has already accepted the maximum number of connections.",
    ),
    (
        0xC0000101,
        "STATUS_DIRECTORY_NOT_EMPTY",
        "Indicates that the directory trying to be deleted is not empty.",
    ),
    (0xC0000103, "STATUS_NOT_A_DIRECTORY", "A requested opened file is not a directory."),
    (0xC0000120, "STATUS_CANCELLED", "The I/O request was canceled."),
    (
        0xC0000128,
        "STATUS_FILE_CLOSED",
        "An I/O request other than close and several other special case operations was attempted using a file object that had already been closed.",
    ),
    (
        0xC000014B,
        "STATUS_PIPE_BROKEN",
        "The pipe operation has failed because the other end of the pipe has been closed.",
    ),
    (
        0xC0000184,
        "STATUS_INVALID_DEVICE_STATE",
        "The device is not in a valid state to perform this request.",
    ),
    (0xC0000203, "STATUS_USER_SESSION_DELETED", "The remote user session has been deleted."),
    (0xC000020C, "STATUS_CONNECTION_DISCONNECTED", "The transport connection is now disconnected."),
    (
        0xC0000205,
        "STATUS_INSUFF_SERVER_RESOURCES",
        "Insufficient server resources exist to complete the request.",
    ),
    (
        0xC000022A,
        "STATUS_DUPLICATE_OBJECTID",
        "The attempt to insert the ID in the index failed because the ID is already in the index.",
    ),
    (0xC0000225, "STATUS_NOT_FOUND", "The object was not found."),
    (
        0xC0000467,
        "STATUS_FILE_NOT_AVAILABLE",
        "The file is temporarily unavailable.",
    ),
    (0xC0000272, "STATUS_NO_MATCH", "There was no match for the specified key in the index."),
    (
        0xC000035C,
        "STATUS_NETWORK_SESSION_EXPIRED",
        "The client session has expired; so the client must re-authenticate to continue accessing the remote resources.",
    ),
    (
        0xC000042A,
        "STATUS_REQUEST_OUT_OF_SEQUENCE",
        "The request was received out of sequence (a session binding over another signing algorithm).",
    ),
    (0xC0000380, "STATUS_SMARTCARD_WRONG_PIN", "An incorrect PIN was entered."),
    (
        0xC0000413,
        "STATUS_AUTHENTICATION_FIREWALL_FAILED",
        "The computer you are logging on to is protected by an authentication firewall. The specified account is not allowed to authenticate to the computer.",
    ),
    (
        0xC0000070,
        "STATUS_INVALID_WORKSTATION",
        "The user account is restricted such that it may not be used to log on from the source workstation.",
    ),
    (
        0xC0000133,
        "STATUS_TIME_DIFFERENCE_AT_DC",
        "The time at the primary domain controller is different from the time at the backup domain controller or member server by too large an amount.",
    ),
    (0xC000A000, "STATUS_INVALID_SIGNATURE", "The cryptographic signature is invalid."),
    (
        0xC05D0003,
        "STATUS_SMB_NO_SIGNING_ALGORITHM_OVERLAP",
        "Failed to negotiate a signing hash function.",
    ),
    (
        0xC05D0000,
        "STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP",
        "The client and server do not share a preauthentication integrity hash function.",
    ),
    (
        0xC00000B5,
        "STATUS_IO_TIMEOUT",
        "The specified I/O operation was not completed before the time-out period expired.",
    ),
    (
        0xC000009A,
        "STATUS_INSUFFICIENT_RESOURCES",
        "Insufficient system resources exist to complete the API.",
    ),
    (
        0xC0000099,
        "STATUS_ALLOTTED_SPACE_EXCEEDED",
        "When a block of memory is allotted for future updates, such as the memory allocated to hold discretionary access control and primary group information, successive updates may exceed the amount of memory originally allotted.",
    ),
    (
        0xC00000B0,
        "STATUS_PIPE_DISCONNECTED",
        "The specified named pipe is in the disconnected state.",
    ),
    (
        0xC00000AD,
        "STATUS_INVALID_PIPE_STATE",
        "The named pipe is not in the connected or closing state.",
    ),
    (
        0xC00000AB,
        "STATUS_INSTANCE_NOT_AVAILABLE",
        "The maximum number of instances of the specified pipe has been reached.",
    ),
    (
        0x80000012,
        "STATUS_NO_MORE_EAS",
        "No more extended attributes (EAs) were found for the file.",
    ),
    (
        0x80000013,
        "STATUS_INVALID_EA_NAME",
        "The specified extended attribute (EA) name contains at least one illegal character.",
    ),
    (
        0x80000014,
        "STATUS_EA_LIST_INCONSISTENT",
        "The extended attribute (EA) list is inconsistent.",
    ),
    (
        0xC000004F,
        "STATUS_EAS_NOT_SUPPORTED",
        "An operation involving EAs failed because the file system does not support EAs.",
    ),
    (0xC0000050, "STATUS_EA_TOO_LARGE", "An EA operation failed because the EA set is too large."),
    (
        0xC0000051,
        "STATUS_NONEXISTENT_EA_ENTRY",
        "An EA operation failed because the name or EA index is invalid.",
    ),
    (0xC0000052, "STATUS_NO_EAS_ON_FILE", "The file for which EAs were requested has no EAs."),
    (
        0xC00000E3,
        "STATUS_INVALID_OPLOCK_PROTOCOL",
        "An error status returned when an invalid opportunistic lock (oplock) acknowledgment is received by a file system.",
    ),
    (0xC000001E, "STATUS_INVALID_LOCK_SEQUENCE", "The requested lock sequence is not valid."),
    (
        0xC00001A1,
        "STATUS_INVALID_LOCK_RANGE",
        "A lock operation was attempted with a range that is not valid.",
    ),
    (
        0xC0000121,
        "STATUS_CANNOT_DELETE",
        "An attempt has been made to remove a file or directory that cannot be deleted.",
    ),
    (
        0xC00000D4,
        "STATUS_NOT_SAME_DEVICE",
        "{Incorrect Volume} The destination file of a rename request is located on a different device than the source of the rename request.",
    ),
    (0xC00000E9, "STATUS_UNEXPECTED_IO_ERROR", "An I/O error occurred."),
    (0xC00000E5, "STATUS_INTERNAL_ERROR", "An internal error occurred."),
    (
        0xC000001F,
        "STATUS_INVALID_VIEW_SIZE",
        "The specified view size is invalid for the section (a copy beyond the end of file).",
    ),
    (
        0xC0000275,
        "STATUS_NOT_A_REPARSE_POINT",
        "The NTFS file or directory is not a reparse point.",
    ),
    (0xC0000044, "STATUS_QUOTA_EXCEEDED", "Not enough quota is available to process this command."),
    # SMB client-side results (docs/SOURCES.md signing §5.2)
    (0xC00000C3, "STATUS_INVALID_NETWORK_RESPONSE", "The network responded incorrectly."),
    (
        0xC0000248,
        "STATUS_LOGIN_WKSTA_RESTRICTION",
        "The user account is restricted such that it may not be used to log on from the source workstation.",
    ),
    (0xC0000418, "STATUS_NTLM_BLOCKED", "The authentication failed since NTLM was blocked."),
    (
        0xC05D0002,
        "STATUS_SMB_GUEST_LOGON_BLOCKED",
        "You can't access this shared folder because your organization's security policies block unauthenticated guest access.",
    ),
    (
        0xC05D0006,
        "STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED",
        "You can't access this shared folder because your computer is configured to require SMB signing.",
    ),
    (
        0xC05D0007,
        "STATUS_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED",
        "The requested operation failed. Encryption is not supported for guest access.",
    ),
)

BY_VALUE: dict[int, NtStatus] = {}
for _v, _n, _m in _TABLE:
    BY_VALUE[_v] = NtStatus(_v, _n, _m)
BY_NAME: dict[str, NtStatus] = {s.name: s for s in BY_VALUE.values()}

# Names as constants for static analysis and readers (values also set from the table above).
STATUS_SUCCESS = 0x00000000
STATUS_PENDING = 0x00000103
STATUS_NOTIFY_CLEANUP = 0x0000010B
STATUS_BUFFER_OVERFLOW = 0x80000005
STATUS_NO_MORE_EAS = 0x80000012
STATUS_INVALID_EA_NAME = 0x80000013
STATUS_EA_LIST_INCONSISTENT = 0x80000014
STATUS_EAS_NOT_SUPPORTED = 0xC000004F
STATUS_EA_TOO_LARGE = 0xC0000050
STATUS_NONEXISTENT_EA_ENTRY = 0xC0000051
STATUS_NO_EAS_ON_FILE = 0xC0000052
STATUS_NO_MORE_FILES = 0x80000006
STATUS_UNSUCCESSFUL = 0xC0000001
STATUS_NOT_IMPLEMENTED = 0xC0000002
STATUS_INVALID_INFO_CLASS = 0xC0000003
STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_NO_SUCH_FILE = 0xC000000F
STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
STATUS_END_OF_FILE = 0xC0000011
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_BUFFER_TOO_SMALL = 0xC0000023
STATUS_OBJECT_NAME_INVALID = 0xC0000033
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_OBJECT_PATH_INVALID = 0xC0000039
STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
STATUS_OBJECT_PATH_SYNTAX_BAD = 0xC000003B
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_DELETE_PENDING = 0xC0000056
STATUS_INVALID_OWNER = 0xC000005A
STATUS_PRIVILEGE_NOT_HELD = 0xC0000061
STATUS_INVALID_SECURITY_DESCR = 0xC0000079
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_ACCOUNT_RESTRICTION = 0xC000006E
STATUS_ACCOUNT_DISABLED = 0xC0000072
STATUS_PASSWORD_EXPIRED = 0xC0000071
STATUS_ACCOUNT_EXPIRED = 0xC0000193
STATUS_PASSWORD_MUST_CHANGE = 0xC0000224
STATUS_ACCOUNT_LOCKED_OUT = 0xC0000234
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_DISK_FULL = 0xC000007F
STATUS_BAD_IMPERSONATION_LEVEL = 0xC00000A5
STATUS_FILE_IS_A_DIRECTORY = 0xC00000BA
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_NETWORK_NAME_DELETED = 0xC00000C9
STATUS_BAD_NETWORK_NAME = 0xC00000CC
STATUS_REQUEST_NOT_ACCEPTED = 0xC00000D0
STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
STATUS_NOT_A_DIRECTORY = 0xC0000103
STATUS_CANCELLED = 0xC0000120
STATUS_FILE_CLOSED = 0xC0000128
STATUS_INVALID_VIEW_SIZE = 0xC000001F
STATUS_NOT_A_REPARSE_POINT = 0xC0000275
STATUS_PIPE_BROKEN = 0xC000014B
STATUS_PIPE_DISCONNECTED = 0xC00000B0
STATUS_INVALID_DEVICE_STATE = 0xC0000184
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205
STATUS_NOT_FOUND = 0xC0000225
STATUS_DUPLICATE_OBJECTID = 0xC000022A
STATUS_FILE_NOT_AVAILABLE = 0xC0000467
STATUS_NO_MATCH = 0xC0000272
STATUS_NETWORK_SESSION_EXPIRED = 0xC000035C
STATUS_REQUEST_OUT_OF_SEQUENCE = 0xC000042A
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
STATUS_INTERNAL_ERROR = 0xC00000E5
STATUS_INVALID_OPLOCK_PROTOCOL = 0xC00000E3
STATUS_CANNOT_DELETE = 0xC0000121
STATUS_NOT_SAME_DEVICE = 0xC00000D4
STATUS_QUOTA_EXCEEDED = 0xC0000044
STATUS_UNEXPECTED_IO_ERROR = 0xC00000E9
STATUS_INVALID_LOCK_RANGE = 0xC00001A1
STATUS_INVALID_SIGNATURE = 0xC000A000
STATUS_TIME_DIFFERENCE_AT_DC = 0xC0000133
STATUS_AUTHENTICATION_FIREWALL_FAILED = 0xC0000413
STATUS_INVALID_WORKSTATION = 0xC0000070
STATUS_SMB_NO_SIGNING_ALGORITHM_OVERLAP = 0xC05D0003
STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D0000
STATUS_NOTIFY_ENUM_DIR = 0x0000010C
STATUS_CONNECTION_DISCONNECTED = 0xC000020C
STATUS_IO_TIMEOUT = 0xC00000B5
STATUS_INVALID_NETWORK_RESPONSE = 0xC00000C3
STATUS_LOGIN_WKSTA_RESTRICTION = 0xC0000248
STATUS_SMB_GUEST_LOGON_BLOCKED = 0xC05D0002
STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED = 0xC05D0006
STATUS_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED = 0xC05D0007


def lookup(value: int) -> NtStatus:
    """Return the table entry for ``value`` (an unnamed code gets a generic entry)."""
    value &= 0xFFFFFFFF
    found = BY_VALUE.get(value)
    if found is None:
        return NtStatus(value, f"0x{value:08X}", "Unknown NTSTATUS code.")
    return found


class NtStatusError(Exception):
    """Raised to fail the current request with an NTSTATUS code (MS-ERREF 2.3)."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status & 0xFFFFFFFF
        self.detail = detail
        entry = lookup(self.status)
        super().__init__(f"{entry.name} (0x{self.status:08X}){': ' + detail if detail else ''}")
