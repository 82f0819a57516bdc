"""Kerberos 5 ASN.1 types (RFC 4120 5, RFC 6113 FAST, MS-KILE 2.2) on asn1crypto.

The Kerberos module uses EXPLICIT TAGS: every context tag below is explicit, and every
[APPLICATION n] wrapper is an explicit outer tag around the SEQUENCE.

Helpers convert the small scalar encodings that asn1crypto handles slowly or not at all:
``KerberosTime`` (GeneralizedTime "YYYYMMDDHHMMSSZ" <-> unix seconds) and ``KerberosFlags``
(a BIT STRING of at least 32 bits <-> a 32-bit integer whose bit 0 is the MSB).
"""

# ruff: noqa: RUF012 - asn1crypto specs are class-level lists by design
from __future__ import annotations

import calendar
import time

from asn1crypto import core

__all__ = [
    "APOptions",
    "APRep",
    "APReq",
    "ASRep",
    "ASReq",
    "Authenticator",
    "AuthorizationData",
    "Checksum",
    "ETypeInfo2",
    "ETypeInfo2Entry",
    "EncAPRepPart",
    "EncASRepPart",
    "EncKDCRepPart",
    "EncTGSRepPart",
    "EncTicketPart",
    "EncryptedData",
    "EncryptionKey",
    "KDCOptions",
    "KDCReqBody",
    "KerbErrorData",
    "KerbPaPacRequest",
    "KerberosFlags",
    "KerberosTime",
    "KrbError",
    "KrbFastArmor",
    "KrbFastArmoredRep",
    "KrbFastArmoredReq",
    "KrbFastFinished",
    "KrbFastReq",
    "KrbFastResponse",
    "MethodData",
    "PaData",
    "PaEncTsEnc",
    "PaFxFastReply",
    "PaFxFastRequest",
    "PrincipalName",
    "TGSRep",
    "TGSReq",
    "Ticket",
    "TicketFlags",
    "flags_from_int",
    "flags_to_int",
    "kerberos_time",
    "message_type",
    "principal",
    "unix_time",
]

# Message types (RFC 4120 7.5.7) = APPLICATION tags.
MSG_AS_REQ = 10
MSG_AS_REP = 11
MSG_TGS_REQ = 12
MSG_TGS_REP = 13
MSG_AP_REQ = 14
MSG_AP_REP = 15
MSG_KRB_ERROR = 30

# Name types (RFC 4120 6.2, RFC 6111).
NT_UNKNOWN = 0
NT_PRINCIPAL = 1
NT_SRV_INST = 2
NT_SRV_HST = 3
NT_ENTERPRISE = 10
NT_WELLKNOWN = 11

# The anonymous principal WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS (RFC 6112 3, RFC 8062 3).
ANONYMOUS_NAME = ("WELLKNOWN", "ANONYMOUS")
ANONYMOUS_REALM = "WELLKNOWN:ANONYMOUS"

# PA-DATA types (RFC 4120 7.5.2, RFC 6113, MS-KILE).
PA_TGS_REQ = 1
PA_ENC_TIMESTAMP = 2
PA_PW_SALT = 3
PA_ETYPE_INFO = 11
PA_PK_AS_REQ = 16
PA_PK_AS_REP = 17
PA_ETYPE_INFO2 = 19
PA_PAC_REQUEST = 128
PA_FOR_USER = 129
PA_FX_COOKIE = 133
PA_FX_FAST = 136
PA_FX_ERROR = 137
PA_ENCRYPTED_CHALLENGE = 138
PA_REQ_ENC_PA_REP = 149
PA_SUPPORTED_ENCTYPES = 165
PA_PAC_OPTIONS = 167

# Authorization data types.
AD_IF_RELEVANT = 1
AD_WIN2K_PAC = 128

# FAST armor type (RFC 6113 5.4.1).
FX_FAST_ARMOR_AP_REQUEST = 1


# Ticket / KDC option flag bit numbers (RFC 4120 5.3, 5.4.1; RFC 6113; RFC 6806).
class TicketFlags:
    reserved = 0
    forwardable = 1
    forwarded = 2
    proxiable = 3
    proxy = 4
    may_postdate = 5
    postdated = 6
    invalid = 7
    renewable = 8
    initial = 9
    pre_authent = 10
    hw_authent = 11
    transited_policy_checked = 12
    ok_as_delegate = 13
    enc_pa_rep = 15
    anonymous = 16


class KDCOptions:
    forwardable = 1
    forwarded = 2
    proxiable = 3
    proxy = 4
    allow_postdate = 5
    postdated = 6
    renewable = 8
    cname_in_addl_tkt = 14
    canonicalize = 15
    request_anonymous = 16
    disable_transited_check = 26
    renewable_ok = 27
    enc_tkt_in_skey = 28
    renew = 30
    validate = 31


class APOptions:
    use_session_key = 1
    mutual_required = 2


def bit(n: int) -> int:
    """The integer mask of flag bit ``n`` (bit 0 is the most significant of 32)."""
    return 1 << (31 - n)


# ---------------------------------------------------------------------------------------------
# Primitive helpers
# ---------------------------------------------------------------------------------------------


class KerberosString(core.GeneralString):
    pass


class KerberosTime(core.Primitive):
    """GeneralizedTime restricted to "YYYYMMDDHHMMSSZ" (RFC 4120 5.2.3); value = unix seconds."""

    tag = 24

    def set(self, value: object) -> None:
        if isinstance(value, (int, float)):
            value = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(int(value))).encode("ascii")
        elif isinstance(value, str):
            value = value.encode("ascii")
        if not isinstance(value, bytes):
            raise TypeError("KerberosTime needs unix seconds or a GeneralizedTime string")
        self.contents = value
        self._header = None
        if self._trailer != b"":
            self._trailer = b""

    @property
    def native(self) -> int | None:
        if self.contents is None:
            return None
        return unix_time(self.contents)


def unix_time(contents: bytes) -> int:
    s = contents.decode("ascii", "strict")
    if len(s) < 15 or not s.endswith("Z"):
        raise ValueError("KerberosTime must be YYYYMMDDHHMMSSZ")
    digits = s[:14]
    if not digits.isdigit():
        raise ValueError("bad KerberosTime")
    y, mo, d = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    h, mi, se = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("bad KerberosTime")
    return calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))


def kerberos_time(value: KerberosTime) -> int:
    return unix_time(value.contents)


class KerberosFlags(core.Primitive):
    """BIT STRING carrying 32 (or more) flag bits; value = int of the first 32 bits."""

    tag = 3

    def set(self, value: object) -> None:
        if isinstance(value, int):
            value = b"\x00" + (value & 0xFFFFFFFF).to_bytes(4, "big")
        if not isinstance(value, bytes):
            raise TypeError("KerberosFlags needs an int")
        self.contents = value
        self._header = None
        if self._trailer != b"":
            self._trailer = b""

    @property
    def native(self) -> int | None:
        if self.contents is None:
            return None
        return flags_to_int(self)


def flags_to_int(value: KerberosFlags) -> int:
    c = value.contents or b"\x00"
    body = (c[1:] + b"\x00\x00\x00\x00")[:4]
    return int.from_bytes(body, "big")


def flags_from_int(n: int) -> KerberosFlags:
    return KerberosFlags(n)


class Int32(core.Integer):
    pass


class SeqOfInt32(core.SequenceOf):
    _child_spec = Int32


class SeqOfKerberosString(core.SequenceOf):
    _child_spec = KerberosString


# ---------------------------------------------------------------------------------------------
# RFC 4120 5.2 basic types
# ---------------------------------------------------------------------------------------------


class PrincipalName(core.Sequence):
    _fields = [
        ("name-type", Int32, {"explicit": 0}),
        ("name-string", SeqOfKerberosString, {"explicit": 1}),
    ]


def principal(name_type: int, *components: str) -> PrincipalName:
    return PrincipalName({"name-type": name_type, "name-string": list(components)})


class HostAddress(core.Sequence):
    _fields = [
        ("addr-type", Int32, {"explicit": 0}),
        ("address", core.OctetString, {"explicit": 1}),
    ]


class HostAddresses(core.SequenceOf):
    _child_spec = HostAddress


class AuthorizationDataEntry(core.Sequence):
    _fields = [
        ("ad-type", Int32, {"explicit": 0}),
        ("ad-data", core.OctetString, {"explicit": 1}),
    ]


class AuthorizationData(core.SequenceOf):
    _child_spec = AuthorizationDataEntry


class PaData(core.Sequence):
    _fields = [
        ("padata-type", Int32, {"explicit": 1}),
        ("padata-value", core.OctetString, {"explicit": 2}),
    ]


class MethodData(core.SequenceOf):
    _child_spec = PaData


class EncryptedData(core.Sequence):
    _fields = [
        ("etype", Int32, {"explicit": 0}),
        ("kvno", core.Integer, {"explicit": 1, "optional": True}),
        ("cipher", core.OctetString, {"explicit": 2}),
    ]


class EncryptionKey(core.Sequence):
    _fields = [
        ("keytype", Int32, {"explicit": 0}),
        ("keyvalue", core.OctetString, {"explicit": 1}),
    ]


class Checksum(core.Sequence):
    _fields = [
        ("cksumtype", Int32, {"explicit": 0}),
        ("checksum", core.OctetString, {"explicit": 1}),
    ]


# ---------------------------------------------------------------------------------------------
# Tickets (RFC 4120 5.3)
# ---------------------------------------------------------------------------------------------


class Ticket(core.Sequence):
    explicit = (1, 1)
    _fields = [
        ("tkt-vno", core.Integer, {"explicit": 0}),
        ("realm", KerberosString, {"explicit": 1}),
        ("sname", PrincipalName, {"explicit": 2}),
        ("enc-part", EncryptedData, {"explicit": 3}),
    ]


class SeqOfTicket(core.SequenceOf):
    _child_spec = Ticket


class TransitedEncoding(core.Sequence):
    _fields = [
        ("tr-type", Int32, {"explicit": 0}),
        ("contents", core.OctetString, {"explicit": 1}),
    ]


class EncTicketPart(core.Sequence):
    explicit = (1, 3)
    _fields = [
        ("flags", KerberosFlags, {"explicit": 0}),
        ("key", EncryptionKey, {"explicit": 1}),
        ("crealm", KerberosString, {"explicit": 2}),
        ("cname", PrincipalName, {"explicit": 3}),
        ("transited", TransitedEncoding, {"explicit": 4}),
        ("authtime", KerberosTime, {"explicit": 5}),
        ("starttime", KerberosTime, {"explicit": 6, "optional": True}),
        ("endtime", KerberosTime, {"explicit": 7}),
        ("renew-till", KerberosTime, {"explicit": 8, "optional": True}),
        ("caddr", HostAddresses, {"explicit": 9, "optional": True}),
        ("authorization-data", AuthorizationData, {"explicit": 10, "optional": True}),
    ]


# ---------------------------------------------------------------------------------------------
# KDC exchanges (RFC 4120 5.4)
# ---------------------------------------------------------------------------------------------


class KDCReqBody(core.Sequence):
    _fields = [
        ("kdc-options", KerberosFlags, {"explicit": 0}),
        ("cname", PrincipalName, {"explicit": 1, "optional": True}),
        ("realm", KerberosString, {"explicit": 2}),
        ("sname", PrincipalName, {"explicit": 3, "optional": True}),
        ("from", KerberosTime, {"explicit": 4, "optional": True}),
        ("till", KerberosTime, {"explicit": 5, "optional": True}),  # required; tolerate absence
        ("rtime", KerberosTime, {"explicit": 6, "optional": True}),
        ("nonce", core.Integer, {"explicit": 7}),
        ("etype", SeqOfInt32, {"explicit": 8}),
        ("addresses", HostAddresses, {"explicit": 9, "optional": True}),
        ("enc-authorization-data", EncryptedData, {"explicit": 10, "optional": True}),
        ("additional-tickets", SeqOfTicket, {"explicit": 11, "optional": True}),
    ]


_KDC_REQ_FIELDS = [
    ("pvno", core.Integer, {"explicit": 1}),
    ("msg-type", core.Integer, {"explicit": 2}),
    ("padata", MethodData, {"explicit": 3, "optional": True}),
    ("req-body", KDCReqBody, {"explicit": 4}),
]


class ASReq(core.Sequence):
    explicit = (1, 10)
    _fields = _KDC_REQ_FIELDS


class TGSReq(core.Sequence):
    explicit = (1, 12)
    _fields = _KDC_REQ_FIELDS


_KDC_REP_FIELDS = [
    ("pvno", core.Integer, {"explicit": 0}),
    ("msg-type", core.Integer, {"explicit": 1}),
    ("padata", MethodData, {"explicit": 2, "optional": True}),
    ("crealm", KerberosString, {"explicit": 3}),
    ("cname", PrincipalName, {"explicit": 4}),
    ("ticket", Ticket, {"explicit": 5}),
    ("enc-part", EncryptedData, {"explicit": 6}),
]


class ASRep(core.Sequence):
    explicit = (1, 11)
    _fields = _KDC_REP_FIELDS


class TGSRep(core.Sequence):
    explicit = (1, 13)
    _fields = _KDC_REP_FIELDS


class LastReqEntry(core.Sequence):
    _fields = [
        ("lr-type", Int32, {"explicit": 0}),
        ("lr-value", KerberosTime, {"explicit": 1}),
    ]


class LastReq(core.SequenceOf):
    _child_spec = LastReqEntry


_ENC_KDC_REP_FIELDS = [
    ("key", EncryptionKey, {"explicit": 0}),
    ("last-req", LastReq, {"explicit": 1}),
    ("nonce", core.Integer, {"explicit": 2}),
    ("key-expiration", KerberosTime, {"explicit": 3, "optional": True}),
    ("flags", KerberosFlags, {"explicit": 4}),
    ("authtime", KerberosTime, {"explicit": 5}),
    ("starttime", KerberosTime, {"explicit": 6, "optional": True}),
    ("endtime", KerberosTime, {"explicit": 7}),
    ("renew-till", KerberosTime, {"explicit": 8, "optional": True}),
    ("srealm", KerberosString, {"explicit": 9}),
    ("sname", PrincipalName, {"explicit": 10}),
    ("caddr", HostAddresses, {"explicit": 11, "optional": True}),
    ("encrypted-pa-data", MethodData, {"explicit": 12, "optional": True}),
]


class EncKDCRepPart(core.Sequence):
    _fields = _ENC_KDC_REP_FIELDS


class EncASRepPart(core.Sequence):
    explicit = (1, 25)
    _fields = _ENC_KDC_REP_FIELDS


class EncTGSRepPart(core.Sequence):
    explicit = (1, 26)
    _fields = _ENC_KDC_REP_FIELDS


# ---------------------------------------------------------------------------------------------
# AP exchange (RFC 4120 5.5)
# ---------------------------------------------------------------------------------------------


class APReq(core.Sequence):
    explicit = (1, 14)
    _fields = [
        ("pvno", core.Integer, {"explicit": 0}),
        ("msg-type", core.Integer, {"explicit": 1}),
        ("ap-options", KerberosFlags, {"explicit": 2}),
        ("ticket", Ticket, {"explicit": 3}),
        ("authenticator", EncryptedData, {"explicit": 4}),
    ]


class Authenticator(core.Sequence):
    explicit = (1, 2)
    _fields = [
        ("authenticator-vno", core.Integer, {"explicit": 0}),
        ("crealm", KerberosString, {"explicit": 1}),
        ("cname", PrincipalName, {"explicit": 2}),
        ("cksum", Checksum, {"explicit": 3, "optional": True}),
        ("cusec", core.Integer, {"explicit": 4}),
        ("ctime", KerberosTime, {"explicit": 5}),
        ("subkey", EncryptionKey, {"explicit": 6, "optional": True}),
        ("seq-number", core.Integer, {"explicit": 7, "optional": True}),
        ("authorization-data", AuthorizationData, {"explicit": 8, "optional": True}),
    ]


class APRep(core.Sequence):
    explicit = (1, 15)
    _fields = [
        ("pvno", core.Integer, {"explicit": 0}),
        ("msg-type", core.Integer, {"explicit": 1}),
        ("enc-part", EncryptedData, {"explicit": 2}),
    ]


class EncAPRepPart(core.Sequence):
    explicit = (1, 27)
    _fields = [
        ("ctime", KerberosTime, {"explicit": 0}),
        ("cusec", core.Integer, {"explicit": 1}),
        ("subkey", EncryptionKey, {"explicit": 2, "optional": True}),
        ("seq-number", core.Integer, {"explicit": 3, "optional": True}),
    ]


# ---------------------------------------------------------------------------------------------
# KRB-ERROR (RFC 4120 5.9.1) and MS-KILE 2.2.1 KERB-ERROR-DATA / 2.2.2 KERB-EXT-ERROR
# ---------------------------------------------------------------------------------------------


class KrbError(core.Sequence):
    explicit = (1, 30)
    _fields = [
        ("pvno", core.Integer, {"explicit": 0}),
        ("msg-type", core.Integer, {"explicit": 1}),
        ("ctime", KerberosTime, {"explicit": 2, "optional": True}),
        ("cusec", core.Integer, {"explicit": 3, "optional": True}),
        ("stime", KerberosTime, {"explicit": 4}),
        ("susec", core.Integer, {"explicit": 5}),
        ("error-code", Int32, {"explicit": 6}),
        ("crealm", KerberosString, {"explicit": 7, "optional": True}),
        ("cname", PrincipalName, {"explicit": 8, "optional": True}),
        ("realm", KerberosString, {"explicit": 9}),
        ("sname", PrincipalName, {"explicit": 10}),
        ("e-text", KerberosString, {"explicit": 11, "optional": True}),
        ("e-data", core.OctetString, {"explicit": 12, "optional": True}),
    ]


class KerbErrorData(core.Sequence):
    _fields = [
        ("data-type", core.Integer, {"explicit": 1}),
        ("data-value", core.OctetString, {"explicit": 2, "optional": True}),
    ]


KERB_ERR_TYPE_EXTENDED = 3


# ---------------------------------------------------------------------------------------------
# Pre-authentication (RFC 4120 5.2.7, MS-KILE 2.2.3)
# ---------------------------------------------------------------------------------------------


class PaEncTsEnc(core.Sequence):
    _fields = [
        ("patimestamp", KerberosTime, {"explicit": 0}),
        ("pausec", core.Integer, {"explicit": 1, "optional": True}),
    ]


class ETypeInfo2Entry(core.Sequence):
    _fields = [
        ("etype", Int32, {"explicit": 0}),
        ("salt", KerberosString, {"explicit": 1, "optional": True}),
        ("s2kparams", core.OctetString, {"explicit": 2, "optional": True}),
    ]


class ETypeInfo2(core.SequenceOf):
    _child_spec = ETypeInfo2Entry


class KerbPaPacRequest(core.Sequence):
    _fields = [("include-pac", core.Boolean, {"explicit": 0})]


class PaPacOptions(core.Sequence):
    _fields = [("options", KerberosFlags, {"explicit": 0})]


# ---------------------------------------------------------------------------------------------
# FAST (RFC 6113 5.4)
# ---------------------------------------------------------------------------------------------


class KrbFastArmor(core.Sequence):
    _fields = [
        ("armor-type", Int32, {"explicit": 0}),
        ("armor-value", core.OctetString, {"explicit": 1}),
    ]


class KrbFastArmoredReq(core.Sequence):
    _fields = [
        ("armor", KrbFastArmor, {"explicit": 0, "optional": True}),
        ("req-checksum", Checksum, {"explicit": 1}),
        ("enc-fast-req", EncryptedData, {"explicit": 2}),
    ]


class PaFxFastRequest(core.Choice):
    _alternatives = [("armored-data", KrbFastArmoredReq, {"explicit": 0})]


class KrbFastReq(core.Sequence):
    _fields = [
        ("fast-options", KerberosFlags, {"explicit": 0}),
        ("padata", MethodData, {"explicit": 1}),
        ("req-body", KDCReqBody, {"explicit": 2}),
    ]


class KrbFastFinished(core.Sequence):
    _fields = [
        ("timestamp", KerberosTime, {"explicit": 0}),
        ("usec", core.Integer, {"explicit": 1}),
        ("crealm", KerberosString, {"explicit": 2}),
        ("cname", PrincipalName, {"explicit": 3}),
        ("ticket-checksum", Checksum, {"explicit": 4}),
    ]


class KrbFastResponse(core.Sequence):
    _fields = [
        ("padata", MethodData, {"explicit": 0}),
        ("strengthen-key", EncryptionKey, {"explicit": 1, "optional": True}),
        ("finished", KrbFastFinished, {"explicit": 2, "optional": True}),
        ("nonce", core.Integer, {"explicit": 3}),
    ]


class KrbFastArmoredRep(core.Sequence):
    _fields = [("enc-fast-rep", EncryptedData, {"explicit": 0})]


class PaFxFastReply(core.Choice):
    _alternatives = [("armored-data", KrbFastArmoredRep, {"explicit": 0})]


# FAST option bits (RFC 6113 5.4.1): 0 reserved, 1 hide-client-names; 16 kdc-follow-referrals.
# Bits 0-15 are critical: a KDC fails a request carrying one it does not know. It knows
# hide-client-names (which Heimdal, e.g. Samba's smbclient, sets on every FAST request) and
# applies it: the anonymous principal in the clear, the real client in KrbFastFinished.
FAST_HIDE_CLIENT_NAMES = bit(1)
FAST_CRITICAL_MASK = 0xFFFF0000 & ~bit(0) & ~FAST_HIDE_CLIENT_NAMES


_APP_TAGS = {
    MSG_AS_REQ: ASReq,
    MSG_TGS_REQ: TGSReq,
    MSG_AS_REP: ASRep,
    MSG_TGS_REP: TGSRep,
    MSG_AP_REQ: APReq,
    MSG_AP_REP: APRep,
    MSG_KRB_ERROR: KrbError,
}


def message_type(data: bytes) -> int | None:
    """The APPLICATION tag number of a DER message (its Kerberos msg-type), or None."""
    if len(data) < 2:
        return None
    b0 = data[0]
    if b0 & 0xE0 != 0x60:  # application class, constructed
        return None
    tag = b0 & 0x1F
    return tag if tag != 0x1F else None


def der(value: core.Asn1Value) -> bytes:
    """DER of a value without the explicit context tag of the field it was parsed from."""
    if value.explicit and value.explicit[-1][0] == 2:  # context-class field wrapper
        return value.untag().dump()
    return value.dump()
