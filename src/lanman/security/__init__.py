"""MS-DTYP security engine: security descriptors, SDDL, conditional ACEs, the access check.

Pure functions over bytes and strings (no IO), shared by the file server and the KDC.
"""

from lanman.security.errors import SddlError, SecurityError

__all__ = ["SddlError", "SecurityError"]
