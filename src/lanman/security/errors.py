"""Errors of the security package: bad binary structures and bad SDDL text."""

from __future__ import annotations

__all__ = ["SddlError", "SecurityError"]


class SecurityError(ValueError):
    """A security descriptor, ACL, ACE or conditional expression that MS-DTYP 2.4 does not allow.

    ``column`` is the 1-based column in the SDDL text for parse errors, the byte offset for binary
    decode errors (or ``None`` when there is no single place to point at).
    """

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message if column is None else f"{message} (column {column})")
        self.message = message
        self.column = column


class SddlError(SecurityError):
    """SDDL text (MS-DTYP 2.5.1) that Windows would reject; ``column`` is 1-based."""
