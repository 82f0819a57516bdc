"""The domain directory: accounts, groups, SIDs, SPNs and Kerberos keys (see docs/ARCHITECTURE.md).

Public API (the KDC and the SMB server use :class:`Directory`; contract in /tmp/contract.md):
:class:`Directory`, :class:`Principal`, :func:`provision`, the SID helpers of
:mod:`lanman.directory.sid` and the keytab writer of :mod:`lanman.directory.keytab`.
"""

from lanman.directory.directory import HOST_SPN_ALIASES, Directory, Group, validate_spn
from lanman.directory.errors import AccountRestriction, DirectoryError, NotProvisionedError
from lanman.directory.model import UAC, WELL_KNOWN_GROUPS, GroupScope, Principal
from lanman.directory.provision import ProvisionResult, provision

__all__ = [
    "HOST_SPN_ALIASES",
    "UAC",
    "WELL_KNOWN_GROUPS",
    "AccountRestriction",
    "Directory",
    "DirectoryError",
    "Group",
    "GroupScope",
    "NotProvisionedError",
    "Principal",
    "ProvisionResult",
    "provision",
    "validate_spn",
]
