"""SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP and Kerberos, with a small bounded DER codec.

Only what SMB needs: the server's NegTokenInit2 for the NEGOTIATE response, an acceptor that
selects Kerberos (MS_KRB5_OID / KRB5_OID, when given a Kerberos acceptor) or NTLMSSP and
exchanges mechListMIC, and a matching initiator.  Every DER length is
checked against its enclosing buffer; anything malformed raises
``AuthError(STATUS_INVALID_PARAMETER)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from lanman.auth.ntlm import (
    NTLMSSP_SIGNATURE,
    AuthError,
    AuthResult,
    MechListMicError,
    NtlmAcceptor,
    NtlmInitiator,
)
from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_INVALID_PARAMETER,
    STATUS_LOGON_FAILURE,
)

__all__ = [
    "KRB5_OID",
    "MS_KRB5_OID",
    "NEGOEX_OID",
    "NTLMSSP_OID",
    "SPNEGO_OID",
    "NegState",
    "NegTokenInit",
    "NegTokenResp",
    "SpnegoAcceptor",
    "SpnegoInitiator",
    "decode_oid",
    "encode_oid",
    "negotiate_token",
    "parse_token",
]

SPNEGO_OID = "1.3.6.1.5.5.2"
NTLMSSP_OID = "1.3.6.1.4.1.311.2.2.10"
KRB5_OID = "1.2.840.113554.1.2.2"
MS_KRB5_OID = "1.2.840.48018.1.2.2"
NEGOEX_OID = "1.3.6.1.4.1.311.2.2.30"
#: SPNEGO mechanism OIDs (RFC 4178, MS-SPNG 2.2.1) -> the names reports show.
MECH_NAMES: dict[str, str] = {
    MS_KRB5_OID: "MS-KRB5",
    KRB5_OID: "Kerberos",
    NTLMSSP_OID: "NTLM",
    NEGOEX_OID: "NegoEx",
    "1.2.840.113554.1.2.2.3": "KRB5-U2U",
}
HINT_NAME = "not_defined_in_RFC4178@please_ignore"  # MS-SPNG 2.2.1

_MAX_TOKEN = 64 * 1024
_MAX_DEPTH_ITEMS = 64

# Universal and context tags used here (X.690 8.1.2).
_T_ENUMERATED = 0x0A
_T_OCTET_STRING = 0x04
_T_OID = 0x06
_T_SEQUENCE = 0x30
_T_GENERAL_STRING = 0x1B
_T_APPLICATION_0 = 0x60


def _ctx(n: int) -> int:
    """Constructed context-specific tag [n]."""
    return 0xA0 | n


class NegState(IntEnum):
    """NegTokenResp negState (RFC 4178 4.2.2)."""

    ACCEPT_COMPLETED = 0
    ACCEPT_INCOMPLETE = 1
    REJECT = 2
    REQUEST_MIC = 3


def _bad(detail: str) -> AuthError:
    return AuthError(STATUS_INVALID_PARAMETER, detail)


# --- DER -------------------------------------------------------------------------------------


def _read_tlv(buf: bytes, off: int, end: int) -> tuple[int, int, int]:
    """Return (tag, content_start, content_end) of the TLV at ``off``; bounded by ``end``."""
    if off + 2 > end:
        raise _bad("DER: truncated header")
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise _bad("DER: high tag numbers are not used by SPNEGO")
    first = buf[off + 1]
    off += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise _bad("DER: indefinite or oversized length")
        if off + n > end:
            raise _bad("DER: truncated length")
        length = int.from_bytes(buf[off : off + n], "big")
        off += n
    if length > end - off:
        raise _bad("DER: length overruns its container")
    return tag, off, off + length


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + content


def _items(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Split a constructed value into (tag, content_start, content_end, tlv_start) items."""
    out = []
    off = start
    while off < end:
        tag, cs, ce = _read_tlv(buf, off, end)
        out.append((tag, cs, ce, off))
        off = ce
        if len(out) > _MAX_DEPTH_ITEMS:
            raise _bad("DER: too many elements")
    return out


def _expect(buf: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """The value must be exactly one TLV with ``tag``; return its content bounds."""
    found, cs, ce = _read_tlv(buf, start, end)
    if found != tag or ce != end:
        raise _bad(f"DER: expected tag 0x{tag:02X}")
    return cs, ce


def encode_oid(oid: str) -> bytes:
    """DER-encode a dotted OID (X.690 8.19), including the 0x06 header."""
    arcs = [int(a) for a in oid.split(".")]
    if len(arcs) < 2:
        raise ValueError("OID needs at least two arcs")
    body = bytearray()
    for value in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body += bytes(reversed(chunk))
    return _tlv(_T_OID, bytes(body))


def decode_oid(content: bytes) -> str:
    """Decode OID *content* octets (no header) to dotted form; bounded arc size."""
    if not content or content[-1] & 0x80:
        raise _bad("DER: bad OID")
    arcs: list[int] = []
    value = 0
    nbytes = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        nbytes += 1
        if nbytes > 5:
            raise _bad("DER: OID arc too large")
        if not byte & 0x80:
            arcs.append(value)
            value = 0
            nbytes = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


# --- tokens ----------------------------------------------------------------------------------


@dataclass(slots=True)
class NegTokenInit:
    """NegTokenInit / NegTokenInit2 (RFC 4178 4.2.1, MS-SPNG 2.2.1)."""

    mech_types: list[str]
    mech_types_raw: bytes = b""  # the MechTypeList DER exactly as received (for mechListMIC)
    mech_token: bytes | None = None
    mech_list_mic: bytes | None = None
    hint_name: str | None = None


@dataclass(slots=True)
class NegTokenResp:
    """NegTokenResp (RFC 4178 4.2.2)."""

    neg_state: NegState | None = None
    supported_mech: str | None = None
    response_token: bytes | None = None
    mech_list_mic: bytes | None = None
    extra: dict[int, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        parts = b""
        if self.neg_state is not None:
            parts += _tlv(_ctx(0), _tlv(_T_ENUMERATED, bytes((int(self.neg_state),))))
        if self.supported_mech is not None:
            parts += _tlv(_ctx(1), encode_oid(self.supported_mech))
        if self.response_token is not None:
            parts += _tlv(_ctx(2), _tlv(_T_OCTET_STRING, self.response_token))
        if self.mech_list_mic is not None:
            parts += _tlv(_ctx(3), _tlv(_T_OCTET_STRING, self.mech_list_mic))
        return _tlv(_ctx(1), _tlv(_T_SEQUENCE, parts))


def _encode_mech_types(mechs: Iterable[str]) -> bytes:
    return _tlv(_T_SEQUENCE, b"".join(encode_oid(m) for m in mechs))


def encode_neg_token_init(
    mech_types_raw: bytes,
    mech_token: bytes | None = None,
    mech_list_mic: bytes | None = None,
    hint_name: str | None = None,
) -> bytes:
    """GSS-API InitialContextToken carrying NegTokenInit(2) (RFC 2743 3.1, RFC 4178 4.2.1)."""
    parts = _tlv(_ctx(0), mech_types_raw)
    if mech_token is not None:
        parts += _tlv(_ctx(2), _tlv(_T_OCTET_STRING, mech_token))
    if hint_name is not None:  # NegTokenInit2 negHints [3], hintAddress never present
        hints = _tlv(_ctx(0), _tlv(_T_GENERAL_STRING, hint_name.encode("ascii")))
        parts += _tlv(_ctx(3), _tlv(_T_SEQUENCE, hints))
        if mech_list_mic is not None:
            parts += _tlv(_ctx(4), _tlv(_T_OCTET_STRING, mech_list_mic))
    elif mech_list_mic is not None:
        parts += _tlv(_ctx(3), _tlv(_T_OCTET_STRING, mech_list_mic))
    inner = _tlv(_ctx(0), _tlv(_T_SEQUENCE, parts))
    return _tlv(_T_APPLICATION_0, encode_oid(SPNEGO_OID) + inner)


def negotiate_token(mechs: Iterable[str] = (NTLMSSP_OID,), *, hints: bool = False) -> bytes:
    """The SMB2 NEGOTIATE response security buffer (MS-SMB2 3.3.5.4, MS-SPNG 3.2.5.2).

    Plain RFC 4178 NegTokenInit by default: Windows adds MS-SPNG negHints (NegTokenInit2),
    which no client needs and which Wireshark 4.0 flags as a malformed mechListMIC, so a
    capture of lanman dissects clean. ``hints=True`` gives the Windows form.
    """
    return encode_neg_token_init(_encode_mech_types(mechs), hint_name=HINT_NAME if hints else None)


def _octets(buf: bytes, cs: int, ce: int) -> bytes:
    s, e = _expect(buf, cs, ce, _T_OCTET_STRING)
    return bytes(buf[s:e])


def _parse_init(buf: bytes, start: int, end: int) -> NegTokenInit:
    s, e = _expect(buf, start, end, _T_SEQUENCE)
    init = NegTokenInit(mech_types=[])
    seen: set[int] = set()
    for tag, cs, ce, _ in _items(buf, s, e):
        if tag in seen:
            raise _bad("SPNEGO: duplicate field")
        seen.add(tag)
        if tag == _ctx(0):
            ms, me = _expect(buf, cs, ce, _T_SEQUENCE)
            init.mech_types_raw = bytes(buf[cs:ce])
            for otag, os_, oe, _ in _items(buf, ms, me):
                if otag != _T_OID:
                    raise _bad("SPNEGO: mechTypes element is not an OID")
                init.mech_types.append(decode_oid(bytes(buf[os_:oe])))
        elif tag == _ctx(1):
            pass  # reqFlags: ignored (MS-SPNG 2.2.1)
        elif tag == _ctx(2):
            init.mech_token = _octets(buf, cs, ce)
        elif tag == _ctx(3):
            inner_tag = _read_tlv(buf, cs, ce)[0]
            if inner_tag == _T_OCTET_STRING:  # RFC 4178 mechListMIC
                init.mech_list_mic = _octets(buf, cs, ce)
            elif inner_tag == _T_SEQUENCE:  # MS-SPNG negHints
                hs, he = _expect(buf, cs, ce, _T_SEQUENCE)
                for htag, hcs, hce, _ in _items(buf, hs, he):
                    if htag == _ctx(0):
                        ns, ne = _expect(buf, hcs, hce, _T_GENERAL_STRING)
                        init.hint_name = bytes(buf[ns:ne]).decode("latin-1")
            else:
                raise _bad("SPNEGO: bad [3] field")
        elif tag == _ctx(4):
            init.mech_list_mic = _octets(buf, cs, ce)
        else:
            raise _bad("SPNEGO: unknown NegTokenInit field")
    if _ctx(0) not in seen:
        raise _bad("SPNEGO: NegTokenInit without mechTypes")
    return init


def _parse_resp(buf: bytes, start: int, end: int) -> NegTokenResp:
    s, e = _expect(buf, start, end, _T_SEQUENCE)
    resp = NegTokenResp()
    seen: set[int] = set()
    for tag, cs, ce, _ in _items(buf, s, e):
        if tag in seen:
            raise _bad("SPNEGO: duplicate field")
        seen.add(tag)
        if tag == _ctx(0):
            vs, ve = _expect(buf, cs, ce, _T_ENUMERATED)
            if ve - vs != 1 or buf[vs] > 3:
                raise _bad("SPNEGO: bad negState")
            resp.neg_state = NegState(buf[vs])
        elif tag == _ctx(1):
            os_, oe = _expect(buf, cs, ce, _T_OID)
            resp.supported_mech = decode_oid(bytes(buf[os_:oe]))
        elif tag == _ctx(2):
            resp.response_token = _octets(buf, cs, ce)
        elif tag == _ctx(3):
            resp.mech_list_mic = _octets(buf, cs, ce)
        else:
            resp.extra[tag] = bytes(buf[cs:ce])
    return resp


def parse_token(token: bytes) -> NegTokenInit | NegTokenResp:
    """Parse an InitialContextToken(NegTokenInit) or a bare NegTokenInit / NegTokenResp."""
    buf = bytes(token)
    if len(buf) > _MAX_TOKEN:
        raise _bad("SPNEGO token too large")
    tag, cs, ce = _read_tlv(buf, 0, len(buf))
    if ce != len(buf):
        raise _bad("SPNEGO: trailing bytes")
    if tag == _T_APPLICATION_0:
        otag, os_, oe = _read_tlv(buf, cs, ce)
        if otag != _T_OID or decode_oid(bytes(buf[os_:oe])) != SPNEGO_OID:
            raise _bad("GSS-API token is not SPNEGO")
        tag, cs2, ce2 = _read_tlv(buf, oe, ce)
        if ce2 != ce or tag != _ctx(0):
            raise _bad("SPNEGO: expected NegTokenInit")
        return _parse_init(buf, cs2, ce2)
    if tag == _ctx(0):
        return _parse_init(buf, cs, ce)
    if tag == _ctx(1):
        return _parse_resp(buf, cs, ce)
    raise _bad("not a SPNEGO token")


def _is_krb5_token(token: bytes) -> bool:
    try:
        _tag, cs, ce = _read_tlv(token, 0, len(token))
        otag, os_, oe = _read_tlv(token, cs, ce)
        return otag == _T_OID and decode_oid(bytes(token[os_:oe])) in (KRB5_OID, MS_KRB5_OID)
    except AuthError:
        return False


# --- acceptor --------------------------------------------------------------------------------


class SpnegoAcceptor:
    """Server side of SPNEGO (RFC 4178 5, MS-SPNG 3.2.5): Kerberos or NTLMSSP.

    With ``kerberos`` (a :class:`lanman.auth.kerberos.KerberosAcceptor`), the first of the
    client's mechTypes that lanman supports is selected; a Kerberos answer names the OID the
    client used (MS_KRB5 or KRB5) as supportedMech, carries the AP-REP and a mechListMIC.
    """

    def __init__(self, ntlm: NtlmAcceptor, kerberos: Any = None) -> None:
        self.ntlm = ntlm
        self.kerberos = kerberos
        self.mech: Any = ntlm
        self.selected_mech = ""
        self.mech_types_raw = b""
        self.mic_required = False
        self.raw_ntlm = False
        self.raw_krb5 = False
        self.complete = False
        self._started = False
        self._krb_state = ""  # "" | "token" (AP-REQ awaited) | "mic" (client MIC awaited)

    @property
    def result(self) -> AuthResult | None:
        return self.mech.result

    @property
    def mechanism(self) -> str:
        """ "Kerberos" or "NTLM" (after the first token)."""
        return "Kerberos" if self.mech is self.kerberos and self.kerberos is not None else "NTLM"

    def step(self, token: bytes) -> tuple[bytes, bool]:
        """Consume a client token; return (response token, complete)."""
        token = bytes(token)
        if self.complete:
            raise _bad("SPNEGO exchange already complete")
        if self.raw_ntlm or (not self._started and token.startswith(NTLMSSP_SIGNATURE)):
            self.raw_ntlm = True
            self._started = True
            out = self.ntlm.step(token)
            if out is None:
                self.complete = True
                return b"", True
            return out, False
        if (
            not self._started
            and self.kerberos is not None
            and token[:1] == b"\x60"
            and _is_krb5_token(token)
        ):
            # A bare GSS Kerberos token without SPNEGO (RFC 4121 4.1).
            self.raw_krb5 = True
            self._started = True
            self.mech = self.kerberos
            out = self.kerberos.step(token)
            self.complete = True
            return out or b"", True

        parsed = parse_token(token)
        if not self._started:
            if not isinstance(parsed, NegTokenInit):
                raise _bad("SPNEGO: first token must be NegTokenInit")
            self._started = True
            return self._on_init(parsed)
        if not isinstance(parsed, NegTokenResp):
            raise _bad("SPNEGO: expected NegTokenResp")
        if self._krb_state:
            return self._on_krb_resp(parsed)
        return self._on_resp(parsed)

    def _supported(self) -> tuple[str, ...]:
        if self.kerberos is None:
            return (NTLMSSP_OID,)
        return (MS_KRB5_OID, KRB5_OID, NTLMSSP_OID)

    def _krb_mic(self) -> bytes | None:
        k = self.kerberos
        return k.sign(self.mech_types_raw) if k.can_sign else None

    def _on_krb_init(self, init: NegTokenInit, oid: str, preferred: bool) -> tuple[bytes, bool]:
        self.mech = self.kerberos
        self.selected_mech = oid
        if preferred and init.mech_token is not None:
            out = self.kerberos.step(init.mech_token)
            self.complete = True
            resp = NegTokenResp(NegState.ACCEPT_COMPLETED, oid, out, self._krb_mic())
            return resp.encode(), True
        self._krb_state = "token"
        state = NegState.ACCEPT_INCOMPLETE if preferred else NegState.REQUEST_MIC
        return NegTokenResp(state, oid).encode(), False

    def _on_krb_resp(self, resp: NegTokenResp) -> tuple[bytes, bool]:
        if resp.neg_state == NegState.REJECT:
            raise AuthError(STATUS_LOGON_FAILURE, "client rejected the negotiation")
        k = self.kerberos
        if self._krb_state == "token":
            if resp.response_token is None:
                raise _bad("SPNEGO: NegTokenResp without the Kerberos AP-REQ")
            out = k.step(resp.response_token)
            if not self.mic_required:
                self.complete = True
                return NegTokenResp(
                    NegState.ACCEPT_COMPLETED, None, out, self._krb_mic()
                ).encode(), True
            # RFC 4178 5 (d): a non-preferred mechanism: both sides exchange mechListMIC.
            self._krb_state = "mic"
            return NegTokenResp(
                NegState.ACCEPT_INCOMPLETE, None, out, self._krb_mic()
            ).encode(), False
        if resp.mech_list_mic is None or not k.verify(self.mech_types_raw, resp.mech_list_mic):
            k.result = None
            raise AuthError(STATUS_ACCESS_DENIED, "mechListMIC missing or invalid")
        self.complete = True
        return NegTokenResp(NegState.ACCEPT_COMPLETED).encode(), True

    def _on_init(self, init: NegTokenInit) -> tuple[bytes, bool]:
        supported = self._supported()
        selected = next((m for m in init.mech_types if m in supported), None)
        if selected is None:
            raise AuthError(STATUS_LOGON_FAILURE, "no mutually supported SPNEGO mechanism")
        self.mech_types_raw = init.mech_types_raw
        if selected in (MS_KRB5_OID, KRB5_OID):
            preferred = init.mech_types[0] == selected
            self.mic_required = not preferred
            return self._on_krb_init(init, selected, preferred)
        self.selected_mech = NTLMSSP_OID
        preferred = init.mech_types[0] == NTLMSSP_OID
        # RFC 4178 5 (c)/(d): a non-preferred selection makes the mechListMIC exchange mandatory.
        self.mic_required = not preferred
        if preferred and init.mech_token is not None:
            challenge = self.ntlm.step(init.mech_token)
            resp = NegTokenResp(NegState.ACCEPT_INCOMPLETE, NTLMSSP_OID, challenge)
            return resp.encode(), False
        # The optimistic token (if any) belongs to another mechanism: drop it and ask for NTLM.
        state = NegState.ACCEPT_INCOMPLETE if preferred else NegState.REQUEST_MIC
        return NegTokenResp(state, NTLMSSP_OID).encode(), False

    def _on_resp(self, resp: NegTokenResp) -> tuple[bytes, bool]:
        if resp.neg_state == NegState.REJECT:
            raise AuthError(STATUS_LOGON_FAILURE, "client rejected the negotiation")
        if resp.response_token is None:
            raise _bad("SPNEGO: NegTokenResp without responseToken")
        out = self.ntlm.step(resp.response_token)
        if out is not None:
            return NegTokenResp(NegState.ACCEPT_INCOMPLETE, response_token=out).encode(), False

        result = self.ntlm.result
        assert result is not None
        self.complete = True
        if not result.session_key:  # anonymous / guest: nothing to sign with (MS-SPNG 3.2.5.1)
            return NegTokenResp(NegState.ACCEPT_COMPLETED).encode(), True
        if resp.mech_list_mic is not None:
            if not self.ntlm.verify(self.mech_types_raw, resp.mech_list_mic):
                self.ntlm.result = None
                raise AuthError(STATUS_ACCESS_DENIED, "failed to verify mechListMIC")
        elif self.mic_required:
            self.ntlm.result = None
            raise AuthError(STATUS_ACCESS_DENIED, "mechListMIC required but missing")
        mic = self.ntlm.sign(self.mech_types_raw)
        self.ntlm.reset_crypto()
        return NegTokenResp(NegState.ACCEPT_COMPLETED, mech_list_mic=mic).encode(), True


# --- initiator -------------------------------------------------------------------------------


class SpnegoInitiator:
    """Client side of SPNEGO (RFC 4178 5, MS-SPNG 3.1.5): NTLMSSP, or Kerberos when given a
    :class:`lanman.auth.kerberos.KerberosInitiator` and the server offers it."""

    def __init__(self, ntlm: NtlmInitiator | None, kerberos: Any = None) -> None:
        self.ntlm = ntlm
        self.kerberos = kerberos
        self.mech: Any = ntlm
        self.mech_types_raw = _encode_mech_types([NTLMSSP_OID])
        self.complete = False
        self._state = "init"
        #: mechanism OIDs the server's NegTokenInit2 hint offered (empty without a hint)
        self.offered_mechs: list[str] = []

    @property
    def mechanism(self) -> str:
        return "Kerberos" if self.kerberos is not None and self.mech is self.kerberos else "NTLM"

    @property
    def session_key(self) -> bytes:
        return self.mech.session_key

    def step(self, token: bytes | None) -> bytes | None:
        """None or the server's NegTokenInit2 -> first token; then NegTokenResp in, out."""
        if self._state == "init":
            hint = parse_token(token) if token else None
            if hint is not None and not isinstance(hint, NegTokenInit):
                raise AuthError(STATUS_LOGON_FAILURE, "server sent no NegTokenInit")
            offered = hint.mech_types if hint is not None else None
            self.offered_mechs = list(offered or [])
            if self.kerberos is not None and (
                offered is None or MS_KRB5_OID in offered or KRB5_OID in offered
            ):
                self.mech = self.kerberos
                oids = [MS_KRB5_OID, KRB5_OID]
                self.mech_types_raw = _encode_mech_types(oids)
                self._state = "krb"
                return encode_neg_token_init(
                    self.mech_types_raw, mech_token=self.kerberos.step(None)
                )
            if self.ntlm is None:
                raise AuthError(STATUS_LOGON_FAILURE, "server does not offer Kerberos")
            if offered is not None and NTLMSSP_OID not in offered:
                raise AuthError(STATUS_LOGON_FAILURE, "server does not offer NTLMSSP")
            self.mech = self.ntlm
            self._state = "challenge"
            return encode_neg_token_init(self.mech_types_raw, mech_token=self.ntlm.step(None))
        if token is None:
            raise _bad("SPNEGO: server token expected")
        resp = parse_token(token)
        if not isinstance(resp, NegTokenResp):
            raise _bad("SPNEGO: expected NegTokenResp")
        if resp.neg_state == NegState.REJECT:
            raise AuthError(STATUS_LOGON_FAILURE, "server rejected the negotiation")
        if self._state in ("krb", "krb_mic"):
            return self._krb_step(resp)
        assert self.ntlm is not None
        if self._state == "challenge":
            if resp.supported_mech not in (None, NTLMSSP_OID) or resp.response_token is None:
                raise AuthError(STATUS_LOGON_FAILURE, "server did not select NTLMSSP")
            auth = self.ntlm.step(resp.response_token)
            mic = self.ntlm.sign(self.mech_types_raw)
            self._state = "final"
            return NegTokenResp(response_token=auth, mech_list_mic=mic).encode()
        if self._state == "final":
            if resp.neg_state != NegState.ACCEPT_COMPLETED:
                raise AuthError(STATUS_LOGON_FAILURE, "server did not complete")
            if resp.mech_list_mic is None or not self.ntlm.verify(
                self.mech_types_raw, resp.mech_list_mic
            ):
                raise MechListMicError(
                    STATUS_ACCESS_DENIED,
                    "the server's SPNEGO mechListMIC is "
                    + ("missing" if resp.mech_list_mic is None else "invalid"),
                )
            self.ntlm.reset_crypto()
            self.complete = True
            self._state = "done"
            return None
        raise _bad("SPNEGO exchange already complete")

    def _krb_step(self, resp: NegTokenResp) -> bytes | None:
        k = self.kerberos
        if self._state == "krb":
            if resp.supported_mech not in (None, MS_KRB5_OID, KRB5_OID):
                raise AuthError(STATUS_LOGON_FAILURE, "server did not select Kerberos")
            if resp.response_token is None:
                raise AuthError(STATUS_LOGON_FAILURE, "server sent no AP-REP")
            k.step(resp.response_token)  # mutual authentication (raises on failure)
            if resp.mech_list_mic is not None and not k.verify(
                self.mech_types_raw, resp.mech_list_mic
            ):
                raise MechListMicError(STATUS_ACCESS_DENIED, "the server's mechListMIC is invalid")
            if resp.neg_state in (None, NegState.ACCEPT_COMPLETED):
                self.complete = True
                self._state = "done"
                return None
            # The server asks for our mechListMIC (RFC 4178 5 (d)).
            self._state = "krb_mic"
            return NegTokenResp(mech_list_mic=k.sign(self.mech_types_raw)).encode()
        if resp.neg_state != NegState.ACCEPT_COMPLETED:
            raise AuthError(STATUS_LOGON_FAILURE, "server did not complete")
        self.complete = True
        self._state = "done"
        return None
