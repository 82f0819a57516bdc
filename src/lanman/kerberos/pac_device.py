"""PAC_DEVICE_INFO: the device's identity in a compound (FAST-armored) ticket (MS-PAC 2.12)."""

from __future__ import annotations

from dataclasses import dataclass

from lanman.kerberos.pac import (
    group_membership_array,
    rpc_sid,
    sid_and_attributes_array,
    type_serialize,
)
from lanman.kerberos.pac_ndr import (
    PacFormatError,
    SidAttr,
    conformance,
    decoding,
    open_type_serialization,
    read_group_array,
    read_rpc_sid,
    read_sid_and_attributes_array,
)
from lanman.rpc.ndr import NdrReader, NdrWriter

__all__ = ["DeviceInfo", "DomainGroupMembership", "build_device_info", "parse_device_info"]


@dataclass(frozen=True, slots=True)
class DomainGroupMembership:
    """PAC_DOMAIN_GROUP_MEMBERSHIP (MS-PAC 2.2.3): group RIDs (with attributes) of one domain."""

    domain_id: str
    group_ids: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The fields of PAC_DEVICE_INFO (MS-PAC 2.12); ``groups`` and ``resource_groups`` give
    AccountGroupIds and the DomainGroup memberships as SIDs (for :func:`~lanman.kerberos.
    pac_logon.identity_sids`)."""

    user_id: int
    primary_group_id: int
    account_domain_id: str
    account_group_ids: tuple[tuple[int, int], ...] = ()
    extra_sids: tuple[SidAttr, ...] = ()
    domain_groups: tuple[DomainGroupMembership, ...] = ()

    @property
    def user_sid(self) -> str:
        return f"{self.account_domain_id}-{self.user_id}"

    @property
    def primary_group_sid(self) -> str:
        return f"{self.account_domain_id}-{self.primary_group_id}"

    @property
    def groups(self) -> tuple[SidAttr, ...]:
        return tuple(SidAttr(f"{self.account_domain_id}-{r}", a) for r, a in self.account_group_ids)

    @property
    def resource_groups(self) -> tuple[SidAttr, ...]:
        return tuple(
            SidAttr(f"{d.domain_id}-{r}", a) for d in self.domain_groups for r, a in d.group_ids
        )


def build_device_info(info: DeviceInfo) -> bytes:
    """PAC_DEVICE_INFO buffer: type serialization v1 (MS-RPCE 2.2.6) of a
    ``[unique] PAC_DEVICE_INFO*``."""
    groups, extra, domains = list(info.account_group_ids), list(info.extra_sids), info.domain_groups

    def domain_array(w: NdrWriter) -> None:
        w.u32(len(domains))
        for d in domains:
            w.pointer(rpc_sid(d.domain_id))
            w.u32(len(d.group_ids))
            w.pointer(group_membership_array(list(d.group_ids)))

    def body(w: NdrWriter) -> None:
        w.u32(info.user_id)
        w.u32(info.primary_group_id)
        w.pointer(rpc_sid(info.account_domain_id))
        w.u32(len(groups))
        w.pointer(group_membership_array(groups))
        w.u32(len(extra))
        w.pointer(sid_and_attributes_array(extra))
        w.u32(len(domains))
        w.pointer(domain_array if domains else None)

    w = NdrWriter()
    w.top_level_pointer(body)
    return type_serialize(w.getvalue())


def parse_device_info(data: bytes) -> DeviceInfo:
    """Decode a PAC_DEVICE_INFO buffer (MS-PAC 2.12).  Raises :class:`PacFormatError`."""
    r = open_type_serialization(data, "PAC_DEVICE_INFO")
    with decoding("PAC_DEVICE_INFO"):
        return _device_info(r)


def _device_info(r: NdrReader) -> DeviceInfo:
    if r.u32() == 0:
        raise PacFormatError("PAC_DEVICE_INFO: NULL PAC_DEVICE_INFO")
    user_id, primary_group_id, domain_ref = r.u32(), r.u32(), r.u32()
    group_count, groups_ref = r.u32(), r.u32()
    sid_count, extra_ref = r.u32(), r.u32()
    domain_count, domains_ref = r.u32(), r.u32()
    for count, ref, what in (
        (group_count, groups_ref, "AccountGroupIds"),
        (sid_count, extra_ref, "ExtraSids"),
        (domain_count, domains_ref, "DomainGroup"),
    ):
        if count and not ref:
            raise PacFormatError(f"PAC_DEVICE_INFO: {what} NULL with a count of {count}")
    if not domain_ref:
        raise PacFormatError("PAC_DEVICE_INFO: NULL AccountDomainId")
    domain = read_rpc_sid(r)
    groups = read_group_array(r, group_count, "AccountGroupIds") if groups_ref else []
    extra = read_sid_and_attributes_array(r, sid_count, "ExtraSids") if extra_ref else []
    domains = []
    if domains_ref:
        conformance(r, domain_count, 12, "DomainGroup")
        heads = [(r.u32(), r.u32(), r.u32()) for _ in range(domain_count)]
        for sid_ref, count, ids_ref in heads:
            if not sid_ref or (count and not ids_ref):
                raise PacFormatError("PAC_DEVICE_INFO: DomainGroup with a NULL pointer")
            sid = read_rpc_sid(r)
            ids = read_group_array(r, count, "DomainGroup GroupIds") if ids_ref else []
            domains.append(DomainGroupMembership(sid, tuple(ids)))
    return DeviceInfo(
        user_id, primary_group_id, domain, tuple(groups), tuple(extra), tuple(domains)
    )
