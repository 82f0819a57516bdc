"""KRB-ERROR codes (RFC 4120 7.5.9, RFC 6113) and MS-KILE KERB-EXT-ERROR e-data."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lanman.kerberos import asn1, der

__all__ = ["KdcError", "ext_error_edata", "krb_error"]

KDC_ERR_NONE = 0
KDC_ERR_NAME_EXP = 1
KDC_ERR_SERVICE_EXP = 2
KDC_ERR_BAD_PVNO = 3
KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
KDC_ERR_PRINCIPAL_NOT_UNIQUE = 8
KDC_ERR_NULL_KEY = 9
KDC_ERR_CANNOT_POSTDATE = 10
KDC_ERR_NEVER_VALID = 11
KDC_ERR_POLICY = 12
KDC_ERR_BADOPTION = 13
KDC_ERR_ETYPE_NOSUPP = 14
KDC_ERR_SUMTYPE_NOSUPP = 15
KDC_ERR_PADATA_TYPE_NOSUPP = 16
KDC_ERR_CLIENT_REVOKED = 18
KDC_ERR_SERVICE_REVOKED = 19
KDC_ERR_TGT_REVOKED = 20
KDC_ERR_CLIENT_NOTYET = 21
KDC_ERR_KEY_EXPIRED = 23
KDC_ERR_PREAUTH_FAILED = 24
KDC_ERR_PREAUTH_REQUIRED = 25
KDC_ERR_SERVER_NOMATCH = 26
KDC_ERR_SVC_UNAVAILABLE = 29  # a local failure: MIT's client library tries the next KDC
KRB_AP_ERR_BAD_INTEGRITY = 31
KRB_AP_ERR_TKT_EXPIRED = 32
KRB_AP_ERR_TKT_NYV = 33
KRB_AP_ERR_REPEAT = 34
KRB_AP_ERR_NOT_US = 35
KRB_AP_ERR_BADMATCH = 36
KRB_AP_ERR_SKEW = 37
KRB_AP_ERR_BADVERSION = 39
KRB_AP_ERR_MSG_TYPE = 40
KRB_AP_ERR_MODIFIED = 41
KRB_AP_ERR_BADKEYVER = 44
KRB_AP_ERR_NOKEY = 45
KRB_AP_ERR_INAPP_CKSUM = 50
KRB_ERR_RESPONSE_TOO_BIG = 52
KRB_ERR_GENERIC = 60
KRB_ERR_FIELD_TOOLONG = 61
KDC_ERR_WRONG_REALM = 68
KDC_ERR_PREAUTH_EXPIRED = 90
KDC_ERR_MORE_PREAUTH_DATA_REQUIRED = 91
KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS = 93

# NTSTATUS values Windows puts in KERB-EXT-ERROR (MS-ERREF 2.3.1).
STATUS_WRONG_PASSWORD = 0xC000006A
STATUS_ACCOUNT_RESTRICTION = 0xC000006E
STATUS_INVALID_LOGON_HOURS = 0xC000006F
STATUS_INVALID_WORKSTATION = 0xC0000070
STATUS_PASSWORD_EXPIRED = 0xC0000071
STATUS_ACCOUNT_DISABLED = 0xC0000072
STATUS_ACCOUNT_EXPIRED = 0xC0000193
STATUS_PASSWORD_MUST_CHANGE = 0xC0000224
STATUS_ACCOUNT_LOCKED_OUT = 0xC0000234


@dataclass(slots=True)
class KdcError(Exception):
    """An error the KDC answers with a KRB-ERROR."""

    code: int
    e_text: str = ""
    status: int | None = None  # NTSTATUS for KERB-EXT-ERROR
    padata: list[tuple[int, bytes]] | None = None  # METHOD-DATA e-data
    cname: der.Name | asn1.PrincipalName | None = None
    crealm: str | None = None

    def __str__(self) -> str:
        return f"KRB error {self.code}: {self.e_text}"


def ext_error_edata(status: int, *, tgs: bool = False) -> bytes:
    """KERB-ERROR-DATA{KERB_ERR_TYPE_EXTENDED, KERB-EXT-ERROR} (MS-KILE 2.2.1, 2.2.2).

    flags: 1 in AS errors, 3 in TGS errors (as Windows/Samba send them)."""
    ext = struct.pack("<III", status, 0, 3 if tgs else 1)
    return der.kerb_error_data(asn1.KERB_ERR_TYPE_EXTENDED, ext)


def method_data(padata: list[tuple[int, bytes]]) -> bytes:
    return der.method_data(padata)


def krb_error(
    code: int,
    *,
    now: float,
    realm: str,
    sname: der.Name | asn1.PrincipalName | None = None,
    cname: der.Name | asn1.PrincipalName | None = None,
    crealm: str | None = None,
    e_text: str = "",
    e_data: bytes | None = None,
) -> bytes:
    if sname is None:
        sname_der = _krbtgt_sname(realm)
    else:
        sname_der = _pn_der(sname)
    return der.krb_error(
        stime=int(now),
        susec=int((now % 1) * 1_000_000),
        error_code=code,
        realm=realm,
        sname=sname_der,
        crealm=(crealm or realm) if cname is not None else None,
        cname=_pn_der(cname) if cname is not None else None,
        e_text=e_text or None,
        e_data=e_data,
    )


def _pn_der(pn: der.Name | asn1.PrincipalName | bytes) -> bytes:
    if isinstance(pn, der.Name):
        return pn.der
    if isinstance(pn, bytes):
        return pn
    return der.tlv(0x30, pn.contents or b"")


_SNAME_CACHE: dict[str, bytes] = {}


def _krbtgt_sname(realm: str) -> bytes:
    hit = _SNAME_CACHE.get(realm)
    if hit is None:
        hit = der.principal_name(asn1.NT_SRV_INST, ["krbtgt", realm])
        if len(_SNAME_CACHE) < 64:
            _SNAME_CACHE[realm] = hit
    return hit
