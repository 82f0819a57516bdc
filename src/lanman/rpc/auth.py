"""DCE/RPC connection-oriented security with NTLMSSP (MS-RPCE 2.2.1.1.7-8, 2.2.2.11, 3.3.1.5.2).

Sans-IO helpers shared by the pipe endpoint (server) and :mod:`lanman.rpc.client`:

* :func:`protect` builds a request/response PDU carrying a sec_trailer and an NTLMSSP
  signature: at PKT_INTEGRITY the whole PDU (header, body, padding, trailer) is signed; at
  PKT_PRIVACY the stub and its padding are also RC4-sealed (MS-NLMP 3.4.3);
* :func:`unprotect` reverses that for a received PDU, by the trailer found at
  ``frag_length - auth_length - 8`` (never by assumed alignment), and reports a bad
  signature as :class:`RpcAuthError`.

Only RPC_C_AUTHN_WINNT (10, raw NTLMSSP) is implemented; SPNEGO (9) and Kerberos (16) binds
are refused with bind_nak "authentication type not recognized".
"""

from __future__ import annotations

import enum
import struct

from lanman.auth.ntlm import NtlmSession
from lanman.rpc.pdu import COMMON_HEADER_SIZE, SEC_TRAILER_SIZE, CommonHeader

__all__ = [
    "AUTH_PAD_ALIGN",
    "NTLM_SIGNATURE_SIZE",
    "RPC_C_AUTHN_GSS_KERBEROS",
    "RPC_C_AUTHN_GSS_NEGOTIATE",
    "RPC_C_AUTHN_WINNT",
    "AuthLevel",
    "RpcAuthError",
    "protect",
    "unprotect",
]

RPC_C_AUTHN_GSS_NEGOTIATE = 9
RPC_C_AUTHN_WINNT = 10
RPC_C_AUTHN_GSS_KERBEROS = 16
NTLM_SIGNATURE_SIZE = 16
#: Stub padding before the sec_trailer that we emit (MS-RPCE 2.2.2.11 uses 16; peers accept any).
AUTH_PAD_ALIGN = 16


class AuthLevel(enum.IntEnum):
    """RPC_C_AUTHN_LEVEL_* (MS-RPCE 2.2.1.1.8)."""

    DEFAULT = 0
    NONE = 1
    CONNECT = 2
    CALL = 3
    PKT = 4
    PKT_INTEGRITY = 5
    PKT_PRIVACY = 6


class RpcAuthError(Exception):
    """A PDU whose verifier is missing, malformed or does not verify."""


_TRAILER = struct.Struct("<BBBBI")


def protect(
    ptype: int,
    pfc_flags: int,
    call_id: int,
    fixed: bytes,
    stub: bytes,
    *,
    session: NtlmSession,
    auth_type: int,
    auth_level: int,
    auth_context_id: int,
) -> bytes:
    """A request/response PDU with ``fixed`` (the 8 type-specific header bytes, or 24 with an
    object uuid) and ``stub`` signed (PKT_INTEGRITY) or sealed (PKT_PRIVACY)."""
    pad = (-len(stub)) % AUTH_PAD_ALIGN
    body = bytes(stub) + b"\x00" * pad
    trailer = _TRAILER.pack(auth_type, auth_level, pad, 0, auth_context_id)
    frag_length = COMMON_HEADER_SIZE + len(fixed) + len(body) + SEC_TRAILER_SIZE
    frag_length += NTLM_SIGNATURE_SIZE
    if frag_length > 0xFFFF:
        raise ValueError("PDU larger than 65535 bytes")
    hdr = CommonHeader(ptype, pfc_flags, frag_length, NTLM_SIGNATURE_SIZE, call_id).pack()
    prefix = hdr + bytes(fixed)
    if auth_level >= AuthLevel.PKT_PRIVACY:
        body, sig = session.seal(body, prefix, trailer)
    else:
        sig = session.sign(prefix + body + trailer)
    return prefix + body + trailer + sig


def unprotect(
    raw: bytes,
    body_start: int,
    *,
    session: NtlmSession,
    auth_level: int,
    auth_context_id: int,
) -> bytes:
    """Verify (and unseal) one received PDU; return its stub without auth padding."""
    if len(raw) < body_start + SEC_TRAILER_SIZE:
        raise RpcAuthError("PDU too short for a verifier")
    frag_length, auth_length = struct.unpack_from("<HH", raw, 8)
    if frag_length != len(raw) or auth_length != NTLM_SIGNATURE_SIZE:
        raise RpcAuthError(f"bad auth_length {auth_length} for NTLMSSP")
    trailer_at = frag_length - auth_length - SEC_TRAILER_SIZE
    if trailer_at < body_start:
        raise RpcAuthError("sec_trailer overlaps the PDU body")
    _a_type, a_level, pad, _r, ctx_id = _TRAILER.unpack_from(raw, trailer_at)
    if a_level != auth_level or ctx_id != auth_context_id:
        raise RpcAuthError("verifier level or context id differs from the bind")
    if trailer_at - pad < body_start:
        raise RpcAuthError("auth_pad_length exceeds the body")
    prefix = raw[:body_start]
    body = raw[body_start:trailer_at]
    trailer = raw[trailer_at : trailer_at + SEC_TRAILER_SIZE]
    sig = raw[trailer_at + SEC_TRAILER_SIZE :]
    if auth_level >= AuthLevel.PKT_PRIVACY:
        body, ok = session.unseal(body, sig, prefix, trailer)
    else:
        ok = session.verify(prefix + body + trailer, sig)
    if not ok:
        raise RpcAuthError("signature does not verify")
    return bytes(body[: len(body) - pad])
