"""Directory data model: account types, userAccountControl bits, well-known RIDs and groups.

Sources: MS-ADTS 2.2.16 (userAccountControl bits), MS-DTYP 2.4.2.4 (well-known domain RIDs),
MS-ADTS 6.1.1.2.x / 3.1.1.1 (default groups and their scopes), MS-KILE 2.2.7
(msDS-SupportedEncryptionTypes bits).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "DOMAIN_RID_ADMINISTRATOR",
    "DOMAIN_RID_GUEST",
    "DOMAIN_RID_KRBTGT",
    "ETYPE_AES128",
    "ETYPE_AES256",
    "ETYPE_NAMES",
    "ETYPE_RC4",
    "UAC",
    "WELL_KNOWN_GROUPS",
    "GroupScope",
    "Principal",
    "WellKnownGroup",
]

# Kerberos encryption types (RFC 3962, RFC 4757); same numbers as lanman.kerberos.crypto.
ETYPE_AES256 = 18
ETYPE_AES128 = 17
ETYPE_RC4 = 23
ETYPE_NAMES = {
    ETYPE_AES256: "aes256-cts-hmac-sha1-96",
    ETYPE_AES128: "aes128-cts-hmac-sha1-96",
    ETYPE_RC4: "arcfour-hmac",
}


def etype_order(etypes) -> list[int]:
    """Strongest first: aes256, aes128, then RC4 (the order clients and keytabs use)."""
    rank = {ETYPE_AES256: 0, ETYPE_AES128: 1, ETYPE_RC4: 2}
    return sorted(etypes, key=lambda e: (rank.get(e, 9), e))


# msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7).
SET_RC4 = 0x4
SET_AES128 = 0x8
SET_AES256 = 0x10
ETYPE_TO_SET_BIT = {ETYPE_RC4: SET_RC4, ETYPE_AES128: SET_AES128, ETYPE_AES256: SET_AES256}

# Well-known account RIDs (MS-DTYP 2.4.2.4).
DOMAIN_RID_ADMINISTRATOR = 500
DOMAIN_RID_GUEST = 501
DOMAIN_RID_KRBTGT = 502
FIRST_ALLOCATED_RID = 1000  # RIDs below this are reserved for well-known objects


class UAC(enum.IntFlag):
    """userAccountControl bits (MS-ADTS 2.2.16)."""

    SCRIPT = 0x1
    ACCOUNTDISABLE = 0x2
    HOMEDIR_REQUIRED = 0x8
    LOCKOUT = 0x10
    PASSWD_NOTREQD = 0x20
    PASSWD_CANT_CHANGE = 0x40
    ENCRYPTED_TEXT_PWD_ALLOWED = 0x80
    TEMP_DUPLICATE_ACCOUNT = 0x100
    NORMAL_ACCOUNT = 0x200
    INTERDOMAIN_TRUST_ACCOUNT = 0x800
    WORKSTATION_TRUST_ACCOUNT = 0x1000
    SERVER_TRUST_ACCOUNT = 0x2000
    DONT_EXPIRE_PASSWORD = 0x10000
    MNS_LOGON_ACCOUNT = 0x20000
    SMARTCARD_REQUIRED = 0x40000
    TRUSTED_FOR_DELEGATION = 0x80000
    NOT_DELEGATED = 0x100000
    USE_DES_KEY_ONLY = 0x200000
    DONT_REQUIRE_PREAUTH = 0x400000
    PASSWORD_EXPIRED = 0x800000
    TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000
    NO_AUTH_DATA_REQUIRED = 0x2000000
    PARTIAL_SECRETS_ACCOUNT = 0x4000000


class GroupScope(enum.StrEnum):
    """groupType scope bits (MS-ADTS 2.2.12); every lanman group is a security group."""

    GLOBAL = "global"  # GROUP_TYPE_ACCOUNT_GROUP 0x2
    DOMAIN_LOCAL = "domain_local"  # GROUP_TYPE_RESOURCE_GROUP 0x4
    UNIVERSAL = "universal"  # GROUP_TYPE_UNIVERSAL_GROUP 0x8

    @property
    def group_type(self) -> int:
        """Signed 32-bit groupType with GROUP_TYPE_SECURITY_ENABLED (0x80000000)."""
        bits = {"global": 0x2, "domain_local": 0x4, "universal": 0x8}[self.value]
        return (bits | 0x80000000) - (1 << 32)


@dataclass(frozen=True, slots=True)
class WellKnownGroup:
    rid: int
    name: str
    scope: GroupScope
    description: str


# The domain groups a new Windows Server 2016+ domain has at fixed RIDs (MS-DTYP 2.4.2.4).
WELL_KNOWN_GROUPS: tuple[WellKnownGroup, ...] = (
    WellKnownGroup(
        498,
        "Enterprise Read-only Domain Controllers",
        GroupScope.UNIVERSAL,
        "Members of this group are Read-Only Domain Controllers in the enterprise",
    ),
    WellKnownGroup(
        512, "Domain Admins", GroupScope.GLOBAL, "Designated administrators of the domain"
    ),
    WellKnownGroup(513, "Domain Users", GroupScope.GLOBAL, "All domain users"),
    WellKnownGroup(514, "Domain Guests", GroupScope.GLOBAL, "All domain guests"),
    WellKnownGroup(
        515,
        "Domain Computers",
        GroupScope.GLOBAL,
        "All workstations and servers joined to the domain",
    ),
    WellKnownGroup(
        516, "Domain Controllers", GroupScope.GLOBAL, "All domain controllers in the domain"
    ),
    WellKnownGroup(
        517,
        "Cert Publishers",
        GroupScope.DOMAIN_LOCAL,
        "Members of this group are permitted to publish certificates to the directory",
    ),
    WellKnownGroup(
        518, "Schema Admins", GroupScope.UNIVERSAL, "Designated administrators of the schema"
    ),
    WellKnownGroup(
        519,
        "Enterprise Admins",
        GroupScope.UNIVERSAL,
        "Designated administrators of the enterprise",
    ),
    WellKnownGroup(
        520,
        "Group Policy Creator Owners",
        GroupScope.GLOBAL,
        "Members in this group can modify group policy for the domain",
    ),
    WellKnownGroup(
        521,
        "Read-only Domain Controllers",
        GroupScope.GLOBAL,
        "Members of this group are Read-Only Domain Controllers in the domain",
    ),
    WellKnownGroup(
        522,
        "Cloneable Domain Controllers",
        GroupScope.GLOBAL,
        "Members of this group that are domain controllers may be cloned.",
    ),
    WellKnownGroup(
        525,
        "Protected Users",
        GroupScope.GLOBAL,
        "Members of this group are afforded additional protections against "
        "authentication security threats.",
    ),
    WellKnownGroup(
        526,
        "Key Admins",
        GroupScope.GLOBAL,
        "Members of this group can perform administrative actions on key objects "
        "within the domain.",
    ),
    WellKnownGroup(
        527,
        "Enterprise Key Admins",
        GroupScope.UNIVERSAL,
        "Members of this group can perform administrative actions on key objects "
        "within the forest.",
    ),
    WellKnownGroup(
        553,
        "RAS and IAS Servers",
        GroupScope.DOMAIN_LOCAL,
        "Servers in this group can access remote access properties of users",
    ),
    WellKnownGroup(
        571,
        "Allowed RODC Password Replication Group",
        GroupScope.DOMAIN_LOCAL,
        "Members in this group can have their passwords replicated to all "
        "read-only domain controllers in the domain",
    ),
    WellKnownGroup(
        572,
        "Denied RODC Password Replication Group",
        GroupScope.DOMAIN_LOCAL,
        "Members in this group cannot have their passwords replicated to any "
        "read-only domain controllers in the domain",
    ),
)

DOMAIN_ADMINS = 512
DOMAIN_USERS = 513
DOMAIN_GUESTS = 514
DOMAIN_COMPUTERS = 515
DOMAIN_CONTROLLERS = 516
SCHEMA_ADMINS = 518
ENTERPRISE_ADMINS = 519
GROUP_POLICY_CREATOR_OWNERS = 520
PROTECTED_USERS = 525

# Groups the built-in Administrator belongs to besides its primary group (Domain Users).
ADMINISTRATOR_GROUPS = (
    DOMAIN_ADMINS,
    SCHEMA_ADMINS,
    ENTERPRISE_ADMINS,
    GROUP_POLICY_CREATOR_OWNERS,
)


@dataclass(slots=True)
class Principal:
    """One security principal as the KDC and the NTLM acceptor see it (see /tmp/contract.md).

    ``keys`` holds only the keys the account may use: AES256/AES128 when derived, and RC4 (the
    NT hash) unless the account is in Protected Users (MS-KILE 3.3.5.6) or its
    msDS-SupportedEncryptionTypes excludes RC4.
    """

    name: str
    realm: str
    upn: str
    sid: str
    rid: int
    kind: str  # "user" | "computer" | "krbtgt"
    keys: dict[int, bytes]
    salt: bytes
    kvno: int
    spns: list[str] = field(default_factory=list)
    group_rids: list[int] = field(default_factory=list)
    extra_sids: list[str] = field(default_factory=list)
    disabled: bool = False
    locked: bool = False
    expires: int | None = None
    password_expired: bool = False
    protected_user: bool = False
    uac: int = int(UAC.NORMAL_ACCOUNT)
    # lanman extras (not in the contract, safe to ignore)
    primary_group_rid: int = DOMAIN_USERS
    keys_pending: bool = False  # only the NT hash is known: AES keys come with the next password
    # authentication policies (MS-ADSC 2.269 user: msDS-AssignedAuthNPolicy[Silo])
    domain_local_rids: list[int] = field(default_factory=list)  # expanded by the KDC
    object_class: str = "user"  # most-derived objectClass: user, computer, msDS-…ServiceAccount
    assigned_policy: str | None = None
    assigned_silo: str | None = None
    # delegation (MS-SFU): msDS-AllowedToDelegateTo and the RBCD descriptor
    # msDS-AllowedToActOnBehalfOfOtherIdentity (self-relative SD bytes)
    delegate_to: list[str] = field(default_factory=list)
    allowed_to_act: bytes | None = None

    def __repr__(self) -> str:  # never print keys by accident
        return (
            f"Principal(name={self.name!r}, realm={self.realm!r}, sid={self.sid!r}, "
            f"kind={self.kind!r}, kvno={self.kvno}, etypes={sorted(self.keys)})"
        )

    @property
    def principal_name(self) -> str:
        return f"{self.name}@{self.realm}"
