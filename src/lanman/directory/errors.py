"""Errors of the directory, shown the way `net user` / `net group` / setspn show them."""

from __future__ import annotations

__all__ = ["AccountRestriction", "DirectoryError", "NotProvisionedError"]

# winerror.h / lmerr.h values and texts for the mistakes the directory refuses.
_WIN32: dict[str, tuple[int, str]] = {
    "ERROR_INVALID_PARAMETER": (87, "The parameter is incorrect."),
    "ERROR_NONE_MAPPED": (1332, "No mapping between account names and security IDs was done."),
    "ERROR_MEMBER_IN_GROUP": (
        1320,
        (
            "The specified user account is already a member of the "
            "specified group, or the specified group cannot be deleted "
            "because it contains a member."
        ),
    ),
    "ERROR_MEMBER_NOT_IN_GROUP": (
        1321,
        ("The specified user account is not a member of the specified group account."),
    ),
    "ERROR_SPECIAL_ACCOUNT": (1371, "Cannot perform this operation on built-in accounts."),
    "ERROR_SPECIAL_GROUP": (
        1372,
        ("Cannot perform this operation on this built-in special group."),
    ),
    "ERROR_DS_NAME_ERROR_NOT_UNIQUE": (
        8426,
        ("The name translation: Input name mapped to more than one output name."),
    ),
    "ERROR_DS_OBJ_NOT_FOUND": (8333, "Directory object not found."),
    "ERROR_DOMAIN_EXISTS": (1356, "The specified domain already exists."),
    "ERROR_NO_SUCH_DOMAIN": (
        1355,
        ("The specified domain either does not exist or could not be contacted."),
    ),
    "NERR_BadUsername": (2202, "The user name or group name parameter is invalid."),
    "NERR_GroupNotFound": (2220, "The group name could not be found."),
    "NERR_UserNotFound": (2221, "The user name could not be found."),
    "NERR_GroupExists": (2223, "The group already exists."),
    "NERR_UserExists": (2224, "The account already exists."),
}


class DirectoryError(ValueError):
    """A request the directory refuses; ``message`` explains, ``remedy`` says what to do."""

    def __init__(self, message: str, remedy: str = "", win32: str = "ERROR_INVALID_PARAMETER"):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.win32_name = win32
        self.win32_code, self.win32_text = _WIN32[win32]


class NotProvisionedError(DirectoryError):
    def __init__(self, home: object = ""):
        super().__init__(
            f"no domain is provisioned in {str(home)!r}" if home else "no domain is provisioned",
            "run `lanman domain provision --realm REALM --domain NETBIOS` first",
            "ERROR_NO_SUCH_DOMAIN",
        )


class AccountRestriction(Exception):
    """An account may not log on: ``status`` is the NTSTATUS Windows returns (MS-APDS 3.1.5)."""

    def __init__(self, status: int, detail: str, *, protected_user: bool = False):
        super().__init__(f"0x{status:08X}: {detail}")
        self.status = status
        self.detail = detail
        #: the refusal is Protected Users' (no NTLM): the caller logs events 100/4822
        self.protected_user = protected_user
