"""The Kerberos V5 GSS-API mechanism (RFC 1964 framing, RFC 4121) -- sans-IO.

* Initial context token framing: ``0x60`` [APPLICATION 0] + mech OID + TOK_ID + message
  (RFC 2743 3.1, RFC 4121 4.1): ``01 00`` AP-REQ, ``02 00`` AP-REP, ``03 00`` KRB-ERROR.
* The authenticator checksum type 0x8003 carrying the GSS flags (RFC 4121 4.1.1).
* AP-REQ verification with the service's long-term keys (RFC 4120 3.2.3): ticket (key usage
  2), authenticator (usage 11), client name match, ticket times, clock skew, replay cache;
  and the mutual AP-REP (usage 12) with an acceptor subkey.
* The initiator side (AP-REQ from a service ticket, AP-REP check) for lanman's SMB client.
* MIC tokens (RFC 4121 4.2.6.1: TOK_ID ``04 04``, key usage 23 acceptor / 25 initiator) for
  the SPNEGO mechListMIC.

Every failure raises :class:`KrbApError` with the RFC 4120 7.5.9 error code.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanman.kerberos import asn1, crypto
from lanman.kerberos.crypto import KU

__all__ = [
    "GSS_C_CONF_FLAG",
    "GSS_C_DCE_STYLE",
    "GSS_C_DELEG_FLAG",
    "GSS_C_INTEG_FLAG",
    "GSS_C_MUTUAL_FLAG",
    "GSS_C_REPLAY_FLAG",
    "GSS_C_SEQUENCE_FLAG",
    "KRB5_MECH_OID",
    "MS_KRB5_MECH_OID",
    "TOK_AP_REP",
    "TOK_AP_REQ",
    "TOK_KRB_ERROR",
    "AcceptedContext",
    "GssChecksum",
    "InitiatorContext",
    "KrbApError",
    "ReplayWindow",
    "accept_ap_req",
    "build_gss_checksum",
    "krb_error_token",
    "make_ap_rep",
    "make_ap_req",
    "make_mic",
    "parse_ap_rep",
    "parse_gss_checksum",
    "unwrap_token",
    "verify_mic",
    "wrap_token",
]

KRB5_MECH_OID = "1.2.840.113554.1.2.2"
MS_KRB5_MECH_OID = "1.2.840.48018.1.2.2"
_MECH_OIDS = (KRB5_MECH_OID, MS_KRB5_MECH_OID)

TOK_AP_REQ = b"\x01\x00"
TOK_AP_REP = b"\x02\x00"
TOK_KRB_ERROR = b"\x03\x00"
TOK_MIC = b"\x04\x04"

GSS_C_DELEG_FLAG = 0x01
GSS_C_MUTUAL_FLAG = 0x02
GSS_C_REPLAY_FLAG = 0x04
GSS_C_SEQUENCE_FLAG = 0x08
GSS_C_CONF_FLAG = 0x10
GSS_C_INTEG_FLAG = 0x20
GSS_C_DCE_STYLE = 0x1000
GSS_CHECKSUM_TYPE = 0x8003

# RFC 4120 7.5.9
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
KRB_ERR_GENERIC = 60

_ERROR_NAMES = {
    KRB_AP_ERR_BAD_INTEGRITY: "KRB_AP_ERR_BAD_INTEGRITY",
    KRB_AP_ERR_TKT_EXPIRED: "KRB_AP_ERR_TKT_EXPIRED",
    KRB_AP_ERR_TKT_NYV: "KRB_AP_ERR_TKT_NYV",
    KRB_AP_ERR_REPEAT: "KRB_AP_ERR_REPEAT",
    KRB_AP_ERR_NOT_US: "KRB_AP_ERR_NOT_US",
    KRB_AP_ERR_BADMATCH: "KRB_AP_ERR_BADMATCH",
    KRB_AP_ERR_SKEW: "KRB_AP_ERR_SKEW",
    KRB_AP_ERR_BADVERSION: "KRB_AP_ERR_BADVERSION",
    KRB_AP_ERR_MSG_TYPE: "KRB_AP_ERR_MSG_TYPE",
    KRB_AP_ERR_MODIFIED: "KRB_AP_ERR_MODIFIED",
    KRB_AP_ERR_BADKEYVER: "KRB_AP_ERR_BADKEYVER",
    KRB_AP_ERR_NOKEY: "KRB_AP_ERR_NOKEY",
    KRB_AP_ERR_INAPP_CKSUM: "KRB_AP_ERR_INAPP_CKSUM",
    KRB_ERR_GENERIC: "KRB_ERR_GENERIC",
}

_MAX_TOKEN = 64 * 1024
DEFAULT_SKEW = 300.0

# MIC token flags (RFC 4121 4.2.2)
_SENT_BY_ACCEPTOR = 0x01
_SEALED = 0x02
_ACCEPTOR_SUBKEY = 0x04


class KrbApError(Exception):
    """An AP exchange or per-message token failed; ``code`` is the RFC 4120 error code."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        name = _ERROR_NAMES.get(code, f"KRB error {code}")
        super().__init__(f"{name}{': ' + detail if detail else ''}")

    @property
    def name(self) -> str:
        return _ERROR_NAMES.get(self.code, f"KRB error {self.code}")


# --- DER length helpers (the 0x60 wrapper only; the messages use asn1crypto) -----------------


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _oid_der(oid: str) -> bytes:
    arcs = [int(a) for a in oid.split(".")]
    body = bytearray()
    for value in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body += bytes(reversed(chunk))
    return b"\x06" + _der_len(len(body)) + bytes(body)


_OID_BY_DER = {_oid_der(o): o for o in _MECH_OIDS}


def wrap_token(tok_id: bytes, message: bytes, oid: str = KRB5_MECH_OID) -> bytes:
    """InitialContextToken framing: 0x60 len OID TOK_ID message (RFC 2743 3.1, RFC 4121 4.1)."""
    inner = _oid_der(oid) + tok_id + message
    return b"\x60" + _der_len(len(inner)) + inner


def unwrap_token(token: bytes) -> tuple[str, bytes, bytes]:
    """-> (mech OID, TOK_ID, message). Raises KrbApError(KRB_AP_ERR_MSG_TYPE) if malformed."""
    token = bytes(token)
    if len(token) > _MAX_TOKEN or len(token) < 2 or token[0] != 0x60:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "not a GSS-API initial context token")
    first = token[1]
    off = 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 3 or off + n > len(token):
            raise KrbApError(KRB_AP_ERR_MSG_TYPE, "bad GSS token length")
        length = int.from_bytes(token[off : off + n], "big")
        off += n
    if off + length != len(token):
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "GSS token length does not match")
    if off + 2 > len(token) or token[off] != 0x06:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "GSS token without mechanism OID")
    olen = token[off + 1]
    if olen >= 0x80 or off + 2 + olen + 2 > len(token):
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "bad mechanism OID")
    oid_der = token[off : off + 2 + olen]
    oid = _OID_BY_DER.get(oid_der)
    if oid is None:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "not the Kerberos V5 mechanism")
    off += 2 + olen
    return oid, token[off : off + 2], token[off + 2 :]


# --- the 0x8003 authenticator checksum (RFC 4121 4.1.1) --------------------------------------


@dataclass(slots=True)
class GssChecksum:
    flags: int
    bindings: bytes = bytes(16)
    delegation: bytes | None = None  # KRB-CRED when GSS_C_DELEG_FLAG
    extensions: bytes = b""


def build_gss_checksum(flags: int, bindings: bytes = bytes(16)) -> bytes:
    if len(bindings) != 16:
        raise ValueError("channel binding hash is 16 bytes")
    return struct.pack("<I", 16) + bindings + struct.pack("<I", flags & ~GSS_C_DELEG_FLAG)


def parse_gss_checksum(data: bytes) -> GssChecksum:
    if len(data) < 24:
        raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "GSS checksum shorter than 24 bytes")
    (lgth,) = struct.unpack_from("<I", data, 0)
    if lgth != 16:
        raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "GSS checksum Lgth is not 16")
    bnd = data[4:20]
    (flags,) = struct.unpack_from("<I", data, 20)
    deleg = None
    rest = data[24:]
    if flags & GSS_C_DELEG_FLAG:
        if len(rest) < 4:
            raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "delegation flag without KRB-CRED")
        dlg_opt, dlgth = struct.unpack_from("<HH", rest, 0)
        if dlg_opt != 1 or 4 + dlgth > len(rest):
            raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "bad delegation field")
        deleg = rest[4 : 4 + dlgth]
        rest = rest[4 + dlgth :]
    return GssChecksum(flags, bnd, deleg, rest)


# --- replay cache --------------------------------------------------------------------------


class ReplayWindow:
    """Authenticators seen within the skew window (RFC 4120 3.2.3, 10); bounded."""

    def __init__(self, window: float = DEFAULT_SKEW, max_entries: int = 100_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_store(self, cipher: bytes, server: str, now: float) -> bool:
        """True when fresh (and remembered); False for a replay."""
        with self._lock:
            return self._check_and_store(cipher, server, now)

    def _check_and_store(self, cipher: bytes, server: str, now: float) -> bool:
        if len(self._seen) >= self.max_entries:
            for k in [k for k, exp in self._seen.items() if exp <= now][: self.max_entries]:
                del self._seen[k]
            while len(self._seen) >= self.max_entries:
                del self._seen[next(iter(self._seen))]
        key = hashlib.sha256(server.encode() + b"\x00" + cipher).digest()
        exp = self._seen.get(key)
        if exp is not None and exp > now:
            return False
        self._seen[key] = now + 2 * self.window
        return True


# --- acceptor ------------------------------------------------------------------------------

#: (sname components, realm, etype, kvno or None) -> the service's long-term key, or None.
KeyLookup = Callable[[list[str], str, int, "int | None"], "bytes | None"]


@dataclass(slots=True)
class AcceptedContext:
    """A verified AP-REQ: who the client is and the keys of the security context."""

    cname: list[str]
    crealm: str
    sname: list[str]
    srealm: str
    ticket_key: tuple[int, bytes]
    initiator_subkey: tuple[int, bytes] | None
    gss_flags: int
    ap_options: int
    initiator_seq: int
    ctime: int
    cusec: int
    authtime: int
    endtime: int
    ticket_flags: int
    authorization_data: list[tuple[int, bytes]] = field(default_factory=list)
    acceptor_subkey: tuple[int, bytes] | None = None
    acceptor_seq: int = 0
    mech_oid: str = KRB5_MECH_OID

    @property
    def context_key(self) -> tuple[int, bytes]:
        """The GSS session key: acceptor subkey, else initiator subkey, else ticket key
        (RFC 4121 2, MS-KILE 3.4.5.1 / 3.1.1.2)."""
        return self.acceptor_subkey or self.initiator_subkey or self.ticket_key

    @property
    def client_principal(self) -> str:
        return "/".join(self.cname) + "@" + self.crealm

    @property
    def service_principal(self) -> str:
        return "/".join(self.sname) + "@" + self.srealm


def _decode(cls: Any, data: bytes, code: int, what: str) -> Any:
    try:
        value = cls.load(data)
        value.native  # noqa: B018 - force a full parse so garbage fails here
        return value
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise KrbApError(code, f"malformed {what}: {e.__class__.__name__}") from None


def _ad_entries(ad: Any, depth: int = 0) -> list[tuple[int, bytes]]:
    """Flatten AD-IF-RELEVANT containers (RFC 4120 5.2.6.1) into (ad-type, data)."""
    out: list[tuple[int, bytes]] = []
    if depth > 4:
        return out
    for entry in ad:
        t, data = entry["ad-type"].native, entry["ad-data"].native
        if t == asn1.AD_IF_RELEVANT:
            try:
                inner = asn1.AuthorizationData.load(data)
                out += _ad_entries(inner, depth + 1)
            except ValueError:
                continue
        else:
            out.append((t, data))
    return out


def accept_ap_req(
    message: bytes,
    lookup_key: KeyLookup,
    *,
    now: float | None = None,
    skew: float = DEFAULT_SKEW,
    replay: ReplayWindow | Any | None = None,
    require_gss_checksum: bool = True,
    expected_realm: str | None = None,
) -> AcceptedContext:
    """Verify a DER AP-REQ (RFC 4120 3.2.3) and return the accepted context."""
    now = time.time() if now is None else now
    if asn1.message_type(message) != asn1.MSG_AP_REQ:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "not an AP-REQ")
    req = _decode(asn1.APReq, message, KRB_AP_ERR_MSG_TYPE, "AP-REQ")
    if req["pvno"].native != 5:
        raise KrbApError(KRB_AP_ERR_BADVERSION, "pvno is not 5")
    if req["msg-type"].native != asn1.MSG_AP_REQ:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "msg-type is not AP-REQ")
    ap_options = asn1.flags_to_int(req["ap-options"])
    if ap_options & asn1.bit(asn1.APOptions.use_session_key):
        raise KrbApError(KRB_AP_ERR_NOKEY, "user-to-user tickets are not accepted")
    ticket = req["ticket"]
    srealm = ticket["realm"].native
    sname = list(ticket["sname"]["name-string"].native)
    if expected_realm is not None and srealm.upper() != expected_realm.upper():
        raise KrbApError(KRB_AP_ERR_NOT_US, f"ticket for realm {srealm}")
    tenc = ticket["enc-part"]
    etype = tenc["etype"].native
    kvno = tenc["kvno"].native
    key = lookup_key(sname, srealm, etype, kvno)
    if key is None:
        raise KrbApError(
            KRB_AP_ERR_NOKEY, f"no {crypto.etype_name(etype)} key for {'/'.join(sname)}@{srealm}"
        )
    try:
        plain = crypto.decrypt(etype, key, KU.KDC_REP_TICKET, tenc["cipher"].native)
    except crypto.CryptoError:
        # Windows answers KRB_AP_ERR_MODIFIED for a ticket it cannot decrypt (MS-KILE 3.4.5.1)
        raise KrbApError(
            KRB_AP_ERR_MODIFIED, "ticket does not decrypt with the service key"
        ) from None
    etp = _decode(asn1.EncTicketPart, plain, KRB_AP_ERR_MODIFIED, "EncTicketPart")
    tkey = (etp["key"]["keytype"].native, etp["key"]["keyvalue"].native)
    aenc = req["authenticator"]
    if aenc["etype"].native != tkey[0]:
        raise KrbApError(
            KRB_AP_ERR_BAD_INTEGRITY, "authenticator enctype differs from the ticket session key"
        )
    acipher = aenc["cipher"].native
    try:
        aplain = crypto.decrypt(tkey[0], tkey[1], KU.AP_REQ_AUTH, acipher)
    except crypto.CryptoError:
        raise KrbApError(
            KRB_AP_ERR_BAD_INTEGRITY, "authenticator does not decrypt with the ticket session key"
        ) from None
    auth = _decode(asn1.Authenticator, aplain, KRB_AP_ERR_BAD_INTEGRITY, "Authenticator")
    if auth["authenticator-vno"].native != 5:
        raise KrbApError(KRB_AP_ERR_BADVERSION, "authenticator-vno is not 5")
    cname = list(etp["cname"]["name-string"].native)
    crealm = etp["crealm"].native
    if list(auth["cname"]["name-string"].native) != cname or auth["crealm"].native != crealm:
        raise KrbApError(KRB_AP_ERR_BADMATCH, "authenticator client differs from the ticket's")
    ctime = auth["ctime"].native
    cusec = auth["cusec"].native
    if abs(ctime - now) > skew:
        raise KrbApError(KRB_AP_ERR_SKEW, f"client clock differs by {int(ctime - now)} s")
    starttime = (
        etp["starttime"].native if etp["starttime"].native is not None else etp["authtime"].native
    )
    tflags = asn1.flags_to_int(etp["flags"])
    if starttime - now > skew or tflags & asn1.bit(asn1.TicketFlags.invalid):
        raise KrbApError(KRB_AP_ERR_TKT_NYV, "ticket not yet valid")
    endtime = etp["endtime"].native
    if now - endtime > skew:
        raise KrbApError(KRB_AP_ERR_TKT_EXPIRED, "ticket expired")
    gss_flags = 0
    cksum = auth["cksum"]
    if cksum.native is None:
        if require_gss_checksum:
            raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "authenticator without the GSS checksum")
    else:
        if cksum["cksumtype"].native != GSS_CHECKSUM_TYPE:
            raise KrbApError(KRB_AP_ERR_INAPP_CKSUM, "authenticator checksum is not 0x8003")
        gss_flags = parse_gss_checksum(cksum["checksum"].native).flags
    # The replay check runs last so that a rejected message does not poison the cache.
    if replay is not None and not replay.check_and_store(acipher, "/".join(sname), now):
        raise KrbApError(KRB_AP_ERR_REPEAT, "authenticator replayed")
    sub = auth["subkey"]
    isub = (sub["keytype"].native, sub["keyvalue"].native) if sub.native is not None else None
    if isub is not None:
        try:
            if len(isub[1]) != crypto.key_length(isub[0]):
                raise KrbApError(KRB_AP_ERR_BAD_INTEGRITY, "bad subkey length")
        except crypto.CryptoError:
            raise KrbApError(KRB_AP_ERR_NOKEY, f"unsupported subkey enctype {isub[0]}") from None
    seq = auth["seq-number"].native
    ad = etp["authorization-data"]
    return AcceptedContext(
        cname=cname,
        crealm=crealm,
        sname=sname,
        srealm=srealm,
        ticket_key=tkey,
        initiator_subkey=isub,
        gss_flags=gss_flags,
        ap_options=ap_options,
        initiator_seq=(seq or 0) & 0xFFFFFFFF,
        ctime=ctime,
        cusec=cusec,
        authtime=etp["authtime"].native,
        endtime=endtime,
        ticket_flags=tflags,
        authorization_data=_ad_entries(ad) if ad.native is not None else [],
    )


def make_ap_rep(
    ctx: AcceptedContext, *, acceptor_subkey: bool = True, seq: int | None = None
) -> bytes:
    """The mutual-authentication AP-REP (RFC 4120 3.2.4), sealed with the ticket session key
    (key usage 12). With ``acceptor_subkey`` a fresh key of the context's enctype becomes the
    GSS context key (RFC 4121 2)."""
    etype, key = ctx.ticket_key
    fields: dict[str, Any] = {"ctime": ctx.ctime, "cusec": ctx.cusec}
    if acceptor_subkey:
        sub_etype = (ctx.initiator_subkey or ctx.ticket_key)[0]
        ctx.acceptor_subkey = (sub_etype, crypto.random_key(sub_etype))
        fields["subkey"] = {"keytype": sub_etype, "keyvalue": ctx.acceptor_subkey[1]}
    ctx.acceptor_seq = (int.from_bytes(os.urandom(4), "big") & 0x3FFFFFFF) if seq is None else seq
    fields["seq-number"] = ctx.acceptor_seq
    enc = crypto.encrypt(etype, key, KU.AP_REP_ENCPART, asn1.EncAPRepPart(fields).dump())
    return asn1.APRep(
        {"pvno": 5, "msg-type": asn1.MSG_AP_REP, "enc-part": {"etype": etype, "cipher": enc}}
    ).dump()


def krb_error_token(
    err: KrbApError,
    realm: str,
    sname: list[str] | None = None,
    now: float | None = None,
    oid: str = KRB5_MECH_OID,
) -> bytes:
    """A GSS KRB-ERROR token (TOK_ID 03 00) for a failed AP-REQ (RFC 4121 4.1)."""
    now = time.time() if now is None else now
    msg = asn1.KrbError(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_KRB_ERROR,
            "stime": int(now),
            "susec": int((now % 1) * 1e6),
            "error-code": err.code,
            "realm": realm or "UNKNOWN",
            "sname": asn1.principal(asn1.NT_SRV_INST, *(sname or ["cifs"])),
        }
    ).dump()
    return wrap_token(TOK_KRB_ERROR, msg, oid)


# --- initiator -----------------------------------------------------------------------------


@dataclass(slots=True)
class InitiatorContext:
    ticket_key: tuple[int, bytes]
    initiator_subkey: tuple[int, bytes]
    initiator_seq: int
    ctime: int
    cusec: int
    gss_flags: int
    acceptor_subkey: tuple[int, bytes] | None = None
    acceptor_seq: int = 0
    established: bool = False

    @property
    def context_key(self) -> tuple[int, bytes]:
        return self.acceptor_subkey or self.initiator_subkey or self.ticket_key


def make_ap_req(
    ticket: asn1.Ticket,
    session_key: tuple[int, bytes],
    crealm: str,
    cname: asn1.PrincipalName,
    *,
    gss_flags: int = GSS_C_MUTUAL_FLAG
    | GSS_C_REPLAY_FLAG
    | GSS_C_SEQUENCE_FLAG
    | GSS_C_INTEG_FLAG
    | GSS_C_CONF_FLAG,
    now: float | None = None,
    subkey: tuple[int, bytes] | None = None,
) -> tuple[bytes, InitiatorContext]:
    """A DER AP-REQ with the GSS checksum and a fresh initiator subkey."""
    now = time.time() if now is None else now
    etype = session_key[0]
    subkey = subkey or (etype, crypto.random_key(etype))
    seq = int.from_bytes(os.urandom(4), "big") & 0x3FFFFFFF
    ctime, cusec = int(now), int((now % 1) * 1e6)
    auth = asn1.Authenticator(
        {
            "authenticator-vno": 5,
            "crealm": crealm,
            "cname": cname,
            "cksum": {"cksumtype": GSS_CHECKSUM_TYPE, "checksum": build_gss_checksum(gss_flags)},
            "cusec": cusec,
            "ctime": ctime,
            "subkey": {"keytype": subkey[0], "keyvalue": subkey[1]},
            "seq-number": seq,
        }
    ).dump()
    options = asn1.bit(asn1.APOptions.mutual_required) if gss_flags & GSS_C_MUTUAL_FLAG else 0
    ap = asn1.APReq(
        {
            "pvno": 5,
            "msg-type": asn1.MSG_AP_REQ,
            "ap-options": asn1.KerberosFlags(options),
            "ticket": ticket,
            "authenticator": {
                "etype": etype,
                "cipher": crypto.encrypt(etype, session_key[1], KU.AP_REQ_AUTH, auth),
            },
        }
    ).dump()
    return ap, InitiatorContext(session_key, subkey, seq, ctime, cusec, gss_flags)


def parse_ap_rep(message: bytes, ctx: InitiatorContext) -> None:
    """Check the server's AP-REP (mutual authentication) and adopt its subkey/sequence."""
    mt = asn1.message_type(message)
    if mt == asn1.MSG_KRB_ERROR:
        err = _decode(asn1.KrbError, message, KRB_AP_ERR_MSG_TYPE, "KRB-ERROR")
        raise KrbApError(err["error-code"].native, err["e-text"].native or "server error")
    if mt != asn1.MSG_AP_REP:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "not an AP-REP")
    rep = _decode(asn1.APRep, message, KRB_AP_ERR_MSG_TYPE, "AP-REP")
    ep = rep["enc-part"]
    etype, key = ctx.ticket_key
    if ep["etype"].native != etype:
        raise KrbApError(KRB_AP_ERR_BAD_INTEGRITY, "AP-REP enctype mismatch")
    try:
        plain = crypto.decrypt(etype, key, KU.AP_REP_ENCPART, ep["cipher"].native)
    except crypto.CryptoError:
        raise KrbApError(KRB_AP_ERR_MODIFIED, "AP-REP does not decrypt") from None
    enc = _decode(asn1.EncAPRepPart, plain, KRB_AP_ERR_MODIFIED, "EncAPRepPart")
    if enc["ctime"].native != ctx.ctime or enc["cusec"].native != ctx.cusec:
        raise KrbApError(KRB_AP_ERR_MUT_FAIL, "AP-REP does not echo the authenticator time")
    sub = enc["subkey"]
    if sub.native is not None:
        ctx.acceptor_subkey = (sub["keytype"].native, sub["keyvalue"].native)
    ctx.acceptor_seq = (enc["seq-number"].native or 0) & 0xFFFFFFFF
    ctx.established = True


KRB_AP_ERR_MUT_FAIL = 46
_ERROR_NAMES[KRB_AP_ERR_MUT_FAIL] = "KRB_AP_ERR_MUT_FAIL"


# --- MIC tokens (RFC 4121 4.2.6.1) ---------------------------------------------------------


def _mic_usage(from_acceptor: bool) -> int:
    return KU.GSS_ACCEPTOR_SIGN if from_acceptor else KU.GSS_INITIATOR_SIGN


def make_mic(
    key: tuple[int, bytes], seq: int, data: bytes, *, from_acceptor: bool, acceptor_subkey: bool
) -> bytes:
    """A GSS MIC token over ``data``; ``key`` is the context key (see ``context_key``)."""
    etype, k = key
    if etype == crypto.ETYPE_RC4_HMAC:
        raise KrbApError(KRB_ERR_GENERIC, "RFC 4757 (RC4) MIC tokens are not implemented")
    flags = (_SENT_BY_ACCEPTOR if from_acceptor else 0) | (
        _ACCEPTOR_SUBKEY if acceptor_subkey else 0
    )
    header = TOK_MIC + bytes((flags,)) + b"\xff" * 5 + struct.pack(">Q", seq)
    ck = crypto.make_checksum(
        crypto.checksum_type_for(etype), k, _mic_usage(from_acceptor), data + header
    )
    return header + ck


def verify_mic(
    key: tuple[int, bytes], token: bytes, data: bytes, *, from_acceptor: bool, acceptor_subkey: bool
) -> int:
    """Check a MIC token; return its sequence number. Raises KrbApError."""
    etype, k = key
    if etype == crypto.ETYPE_RC4_HMAC:
        raise KrbApError(KRB_ERR_GENERIC, "RFC 4757 (RC4) MIC tokens are not implemented")
    token = bytes(token)
    if len(token) < 16 + 12 or token[:2] != TOK_MIC or token[3:8] != b"\xff" * 5:
        raise KrbApError(KRB_AP_ERR_MSG_TYPE, "not an RFC 4121 MIC token")
    flags = token[2]
    if bool(flags & _SENT_BY_ACCEPTOR) != from_acceptor:
        raise KrbApError(KRB_AP_ERR_MODIFIED, "MIC token direction flag is wrong")
    if bool(flags & _ACCEPTOR_SUBKEY) != acceptor_subkey:
        raise KrbApError(KRB_AP_ERR_MODIFIED, "MIC token AcceptorSubkey flag is wrong")
    if flags & _SEALED:
        raise KrbApError(KRB_AP_ERR_MODIFIED, "MIC token with the Sealed flag")
    if not crypto.verify_checksum(
        crypto.checksum_type_for(etype), k, _mic_usage(from_acceptor), data + token[:16], token[16:]
    ):
        raise KrbApError(KRB_AP_ERR_MODIFIED, "MIC checksum does not verify")
    return struct.unpack_from(">Q", token, 8)[0]
