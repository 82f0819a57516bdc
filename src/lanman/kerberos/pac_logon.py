"""PAC_LOGON_INFO decoding: the identity in a ticket (KERB_VALIDATION_INFO, MS-PAC 2.5).

:func:`parse_logon_info` reads what :func:`lanman.kerberos.pac.build_logon_info` (or a Windows
KDC) writes; :func:`identity_sids` gives the SIDs a token is built from.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanman.kerberos.pac import LOGON_RESOURCE_GROUPS, SE_GROUP_RESOURCE
from lanman.kerberos.pac_device import DeviceInfo
from lanman.kerberos.pac_ndr import (
    PacFormatError,
    SidAttr,
    decoding,
    open_type_serialization,
    read_group_array,
    read_rpc_sid,
    read_sid_and_attributes_array,
    read_ustr_body,
    read_ustr_header,
)
from lanman.rpc.ndr import NdrReader

__all__ = ["LogonIdentity", "identity_sids", "parse_logon_info"]


@dataclass(frozen=True, slots=True)
class LogonIdentity:
    """The identity fields of a KERB_VALIDATION_INFO (MS-PAC 2.5), RIDs joined to their domain
    SIDs: ``groups`` from GroupIds, ``extra_sids`` from ExtraSids, ``resource_groups`` from
    ResourceGroupIds in ResourceGroupDomainSid; each with its SE_GROUP_* attributes."""

    user_sid: str
    primary_group_sid: str
    groups: tuple[SidAttr, ...]
    extra_sids: tuple[SidAttr, ...]
    resource_group_domain_sid: str | None
    resource_groups: tuple[SidAttr, ...]
    user_flags: int
    user_account_control: int
    effective_name: str
    full_name: str
    logon_server: str
    logon_domain_name: str
    logon_domain_sid: str
    user_id: int
    primary_group_id: int
    logon_time: int  # FILETIME
    logon_count: int
    bad_password_count: int


def _filetime(r: NdrReader) -> int:
    low = r.u32()
    return low | r.u32() << 32


def parse_logon_info(data: bytes) -> LogonIdentity:
    """Decode a PAC_LOGON_INFO buffer: type serialization v1 (MS-RPCE 2.2.6) of a
    ``[unique] KERB_VALIDATION_INFO*`` (MS-PAC 2.5).  Raises :class:`PacFormatError`."""
    r = open_type_serialization(data, "PAC_LOGON_INFO")
    with decoding("PAC_LOGON_INFO"):
        return _kerb_validation_info(r)


def _kerb_validation_info(r: NdrReader) -> LogonIdentity:
    if r.u32() == 0:
        raise PacFormatError("PAC_LOGON_INFO: NULL KERB_VALIDATION_INFO")
    logon_time = _filetime(r)
    for _ in range(5):  # LogoffTime, KickOffTime, PasswordLastSet, PasswordCanChange/MustChange
        _filetime(r)
    names = [read_ustr_header(r) for _ in range(6)]  # EffectiveName, FullName, LogonScript, ...
    logon_count, bad_password_count = r.u16(), r.u16()
    user_id, primary_group_id = r.u32(), r.u32()
    group_count, groups_ref = r.u32(), r.u32()
    user_flags = r.u32()
    r.raw(16)  # UserSessionKey
    names += [read_ustr_header(r) for _ in range(2)]  # LogonServer, LogonDomainName
    domain_ref = r.u32()
    r.raw(8)  # Reserved1
    user_account_control = r.u32()
    r.u32()  # SubAuthStatus
    r.raw(16)  # LastSuccessfulILogon, LastFailedILogon
    r.u32()  # FailedILogonCount
    r.u32()  # Reserved3
    sid_count, extra_ref = r.u32(), r.u32()
    rg_domain_ref, rg_count, rg_ref = r.u32(), r.u32(), r.u32()
    for count, ref, what in (
        (group_count, groups_ref, "GroupIds"),
        (sid_count, extra_ref, "ExtraSids"),
        (rg_count, rg_ref, "ResourceGroupIds"),
    ):
        if count and not ref:
            raise PacFormatError(f"PAC_LOGON_INFO: {what} NULL with a count of {count}")
    # Deferred pointees, in the order of their pointers in the structure.
    text = [read_ustr_body(r, length) if ref else "" for length, ref in names[:6]]
    groups = read_group_array(r, group_count, "GroupIds") if groups_ref else []
    text += [read_ustr_body(r, length) if ref else "" for length, ref in names[6:]]
    if not domain_ref:
        raise PacFormatError("PAC_LOGON_INFO: NULL LogonDomainId")
    domain = read_rpc_sid(r)
    extra = read_sid_and_attributes_array(r, sid_count, "ExtraSids") if extra_ref else []
    rg_domain = read_rpc_sid(r) if rg_domain_ref else None
    rg = read_group_array(r, rg_count, "ResourceGroupIds") if rg_ref else []
    if rg and rg_domain is None:
        raise PacFormatError("PAC_LOGON_INFO: ResourceGroupIds without ResourceGroupDomainSid")
    return LogonIdentity(
        user_sid=f"{domain}-{user_id}",
        primary_group_sid=f"{domain}-{primary_group_id}",
        groups=tuple(SidAttr(f"{domain}-{rid}", attrs) for rid, attrs in groups),
        extra_sids=tuple(extra),
        resource_group_domain_sid=rg_domain,
        resource_groups=tuple(SidAttr(f"{rg_domain}-{rid}", attrs) for rid, attrs in rg),
        user_flags=user_flags,
        user_account_control=user_account_control,
        effective_name=text[0],
        full_name=text[1],
        logon_server=text[6],
        logon_domain_name=text[7],
        logon_domain_sid=domain,
        user_id=user_id,
        primary_group_id=primary_group_id,
        logon_time=logon_time,
        logon_count=logon_count,
        bad_password_count=bad_password_count,
    )


def identity_sids(
    identity: LogonIdentity | DeviceInfo, *, include_resource_groups: bool
) -> list[str]:
    """The SIDs a token is built from, each once, in PAC order: user, primary group, groups,
    extra SIDs, then resource groups (a device's DomainGroup memberships).

    Without ``include_resource_groups`` both the resource groups and the extra SIDs marked
    SE_GROUP_RESOURCE (MS-PAC 2.2.1) are left out, as for a TGT's identity: resource
    (domain-local) groups belong in service tickets.  A logon's ResourceGroupIds count only
    when UserFlags has LOGON_RESOURCE_GROUPS (MS-PAC 2.5), as Samba reads them."""
    sids = [identity.user_sid, identity.primary_group_sid]
    sids += [g.sid for g in identity.groups]
    sids += [
        e.sid
        for e in identity.extra_sids
        if include_resource_groups or not e.attributes & SE_GROUP_RESOURCE
    ]
    flagged = isinstance(identity, DeviceInfo) or identity.user_flags & LOGON_RESOURCE_GROUPS
    if include_resource_groups and flagged:
        sids += [g.sid for g in identity.resource_groups]
    return list(dict.fromkeys(sids))
