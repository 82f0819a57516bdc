"""PAC_DELEGATION_INFO decoding: S4U_DELEGATION_INFO (MS-PAC 2.9), the services an S4U2Proxy
ticket went through.  :func:`lanman.kerberos.pac.delegation_info` writes it; the KDC reads the
evidence ticket's to append the next hop (MS-SFU 3.2.5.2.2)."""

from __future__ import annotations

from lanman.kerberos.pac_ndr import (
    PacFormatError,
    decoding,
    fits,
    open_type_serialization,
    read_ustr_body,
    read_ustr_header,
)

__all__ = ["MAX_TRANSITED", "parse_delegation_info"]

#: More hops than any deployment chains; a longer list is refused, not truncated.
MAX_TRANSITED = 64


def parse_delegation_info(data: bytes) -> tuple[str, list[str]]:
    """-> (S4U2proxyTarget, S4UTransitedServices); raises :class:`PacFormatError`."""
    what = "S4U_DELEGATION_INFO"
    r = open_type_serialization(data, what)
    with decoding(what):
        if r.u32() == 0:
            raise PacFormatError(f"{what}: NULL top-level pointer")
        target_len, target_ref = read_ustr_header(r)
        count, array_ref = r.u32(), r.u32()
        if count > MAX_TRANSITED:
            raise PacFormatError(f"{what}: {count} transited services")
        target = read_ustr_body(r, target_len) if target_ref else ""
        names: list[str] = []
        if array_ref:
            if r.u32() != count:
                raise PacFormatError(f"{what}: array size is not TransitedListSize")
            fits(r, count, 8, what)
            heads = [read_ustr_header(r) for _ in range(count)]
            names = [read_ustr_body(r, n) if ref else "" for n, ref in heads]
        elif count:
            raise PacFormatError(f"{what}: NULL S4UTransitedServices with entries")
        return target, names
