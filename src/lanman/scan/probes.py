"""Sans-IO probe codecs for ``lanman scan``: build request bytes, parse response bytes.

Nothing here opens a socket or reads a clock; :mod:`lanman.scan.scanner` moves the bytes.
Every probe is a single request on a fresh connection (a server answers one NEGOTIATE per
connection, MS-SMB2 3.3.5.3.1), so each function builds exactly one message and each parser
reads exactly one answer.

* :func:`smb2_negotiate` / :func:`parse_smb2_negotiate` — MS-SMB2 2.2.3 / 2.2.4. For 3.1.1 the
  request carries PREAUTH_INTEGRITY, ENCRYPTION and SIGNING capabilities contexts
  (2.2.3.1.1/2/7); the server answers with the one cipher and the one signing algorithm it
  chose (2.2.4.1.2, 2.2.4.1.7), so the scanner repeats the 3.1.1 NEGOTIATE without the
  chosen ones until nothing is left to learn every algorithm the server offers.
* :func:`smb1_negotiate` / :func:`parse_smb1_negotiate` — MS-CIFS 2.2.4.52 with only the
  "NT LM 0.12" dialect; SecurityMode 3 / 7 / 15 (KB 887429).
* :func:`ntlm_session_setup` / :func:`parse_ntlm_challenge` — SESSION_SETUP carrying SPNEGO
  with an NTLM NEGOTIATE; the server's NTLM CHALLENGE names the server and its domain
  (MS-NLMP 2.2.1.2, 2.2.2.1). The scanner stops there: no credentials are sent.
* :func:`netr_share_enum_request` / :func:`parse_netr_share_enum` — MS-SRVS 3.1.4.8, level 1.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from lanman.auth import spnego
from lanman.auth.ntlm import AvId, ChallengeMessage, NtlmInitiator
from lanman.rpc.ndr import NdrReader, NdrWriter
from lanman.smb.smb1 import wire as w1
from lanman.smb.wire import negotiate as neg
from lanman.smb.wire.constants import (
    HASH_SHA_512,
    Command,
    NegotiateContextType,
    SecurityMode,
)
from lanman.smb.wire.header import Smb2Header, WireError
from lanman.smb.wire.session import SessionSetupRequest, SessionSetupResponse

__all__ = [
    "CIPHERS",
    "DIALECTS",
    "MECH_NAMES",
    "SIGNING_ALGORITHMS",
    "NtlmInfo",
    "ProbeError",
    "Smb1Negotiate",
    "Smb2Negotiate",
    "dialect_name",
    "frame",
    "netr_share_enum_request",
    "ntlm_session_setup",
    "parse_netr_share_enum",
    "parse_ntlm_challenge",
    "parse_smb1_negotiate",
    "parse_smb2_negotiate",
    "smb1_negotiate",
    "smb2_negotiate",
    "unframe_length",
]

#: Every SMB2/3 dialect, oldest first (MS-SMB2 2.2.3 Dialects).
DIALECTS: tuple[int, ...] = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
_DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}
#: MS-SMB2 2.2.3.1.7 SigningAlgorithms.
SIGNING_ALGORITHMS: dict[int, str] = {0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}
#: MS-SMB2 2.2.3.1.2 Ciphers.
CIPHERS: dict[int, str] = {1: "AES-128-CCM", 2: "AES-128-GCM", 3: "AES-256-CCM", 4: "AES-256-GCM"}
#: SPNEGO mechanism OIDs -> names (one table: lanman.auth.spnego.MECH_NAMES).
MECH_NAMES = spnego.MECH_NAMES

CAP_DFS = 0x01
CAP_LARGE_MTU = 0x04
CAP_ENCRYPTION = 0x40
MAX_FRAME = 1 << 20


class ProbeError(ValueError):
    """An answer that is not what the probe asked for (not SMB, truncated, malformed)."""


def dialect_name(dialect: int) -> str:
    return _DIALECT_NAMES.get(dialect, f"0x{dialect:04X}")


def frame(message: bytes) -> bytes:
    """Direct TCP transport framing (MS-SMB2 2.1): a zero byte and a 24-bit length."""
    return struct.pack(">I", len(message)) + message


def unframe_length(head: bytes) -> int | None:
    """Length of the frame whose 4-byte header is ``head``; None for a keep-alive (0x85)."""
    if len(head) != 4:
        raise ProbeError("frame header truncated")
    if head[0] == 0x85:
        return None
    if head[0] != 0:
        raise ProbeError(f"not a Direct TCP frame (type 0x{head[0]:02X})")
    n = struct.unpack(">I", b"\x00" + head[1:])[0]
    if n > MAX_FRAME:
        raise ProbeError(f"frame of {n} bytes is larger than any NEGOTIATE answer")
    return n


# ---- SMB2 NEGOTIATE ----------------------------------------------------------------------


def smb2_negotiate(
    dialects: tuple[int, ...] | list[int],
    *,
    signing_algorithms: tuple[int, ...] | list[int] = (2, 1, 0),
    ciphers: tuple[int, ...] | list[int] = (4, 2, 3, 1),
    client_guid: bytes = b"\x00" * 16,
    salt: bytes | None = None,
    message_id: int = 0,
) -> bytes:
    """One SMB2 NEGOTIATE offering ``dialects`` with SecurityMode SIGNING_ENABLED (a client
    that does not require signing: the server's answer shows the server's own policy).

    When 3.1.1 is offered the request carries the preauth context (SHA-512), an ENCRYPTION
    context with ``ciphers`` (omitted when empty) and a SIGNING context with
    ``signing_algorithms`` (omitted when empty).
    """
    contexts: list[neg.NegotiateContext] = []
    if 0x0311 in dialects:
        contexts.append(
            neg.preauth_context([HASH_SHA_512], salt if salt is not None else os.urandom(32))
        )
        if ciphers:
            contexts.append(
                neg.id_list_context(NegotiateContextType.ENCRYPTION_CAPABILITIES, list(ciphers))
            )
        if signing_algorithms:
            contexts.append(
                neg.id_list_context(
                    NegotiateContextType.SIGNING_CAPABILITIES, list(signing_algorithms)
                )
            )
    caps = CAP_DFS
    if max(dialects) >= 0x0210:
        caps |= CAP_LARGE_MTU
    if max(dialects) >= 0x0300:
        caps |= CAP_ENCRYPTION
    body = neg.NegotiateRequest(
        list(dialects), int(SecurityMode.SIGNING_ENABLED), caps, client_guid, contexts
    ).pack()
    hdr = Smb2Header(Command.NEGOTIATE, credit=1, message_id=message_id)
    return hdr.pack() + body


@dataclass(slots=True)
class Smb2Negotiate:
    """What one SMB2 NEGOTIATE answer says (MS-SMB2 2.2.4)."""

    status: int
    dialect: int = 0
    security_mode: int = 0
    capabilities: int = 0
    server_guid: str = ""
    system_time: int = 0
    mechanisms: list[str] = field(default_factory=list)
    mechanism_oids: list[str] = field(default_factory=list)
    hint_name: str | None = None
    signing_algorithm: int | None = None
    cipher: int | None = None
    context_types: list[int] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status == 0

    @property
    def signing_enabled(self) -> bool:
        return bool(self.security_mode & SecurityMode.SIGNING_ENABLED)

    @property
    def signing_required(self) -> bool:
        return bool(self.security_mode & SecurityMode.SIGNING_REQUIRED)


def parse_smb2_negotiate(message: bytes) -> Smb2Negotiate:
    """Parse an SMB2 NEGOTIATE response; an error response gives ``status`` only."""
    try:
        hdr = Smb2Header.unpack(message)
    except WireError as e:
        raise ProbeError(f"not an SMB2 answer: {e}") from None
    if hdr.command != Command.NEGOTIATE or not hdr.is_response:
        raise ProbeError(f"SMB2 answer to NEGOTIATE has command {hdr.command}")
    if hdr.status != 0:
        return Smb2Negotiate(status=hdr.status)
    try:
        r = neg.NegotiateResponse.unpack(message)
    except (WireError, struct.error) as e:
        raise ProbeError(f"NEGOTIATE response: {e}") from None
    out = Smb2Negotiate(
        status=0,
        dialect=r.dialect_revision,
        security_mode=r.security_mode,
        capabilities=r.capabilities,
        server_guid=str(r.server_guid_uuid),
        system_time=r.system_time,
    )
    out.mechanism_oids, out.hint_name = _mechanisms(r.security_buffer)
    out.mechanisms = [MECH_NAMES.get(o, o) for o in out.mechanism_oids]
    for c in r.contexts:
        out.context_types.append(c.context_type)
        try:
            if c.context_type == NegotiateContextType.SIGNING_CAPABILITIES:
                ids = neg.parse_id_list_context(c.data)
                out.signing_algorithm = ids[0] if ids else None
            elif c.context_type == NegotiateContextType.ENCRYPTION_CAPABILITIES:
                ids = neg.parse_id_list_context(c.data)
                out.cipher = ids[0] if ids else None
        except WireError:
            continue  # a malformed context tells us nothing; the rest still counts
    return out


def _mechanisms(token: bytes) -> tuple[list[str], str | None]:
    """SPNEGO NegTokenInit2 mechTypes from the NEGOTIATE security buffer (MS-SPNG 3.2.5.2)."""
    if not token:
        return [], None
    try:
        t = spnego.parse_token(token)
    except Exception:  # noqa: BLE001 - hostile input: an unreadable token lists nothing
        return [], None
    if isinstance(t, spnego.NegTokenInit):
        return list(t.mech_types), t.hint_name
    return [], None


# ---- SMB1 NEGOTIATE ----------------------------------------------------------------------


def smb1_negotiate() -> bytes:
    """SMB_COM_NEGOTIATE offering only "NT LM 0.12" (no "SMB 2.???" upgrade dialect)."""
    flags2 = (
        w1.Flags2.UNICODE
        | w1.Flags2.NT_STATUS
        | w1.Flags2.EXTENDED_SECURITY
        | w1.Flags2.LONG_NAMES
        | w1.Flags2.SMB_SECURITY_SIGNATURE
    )
    hdr = w1.Smb1Header(
        w1.Command.NEGOTIATE,
        0,
        int(w1.Flags.CASE_INSENSITIVE | w1.Flags.CANONICALIZED_PATHS),
        int(flags2),
        pid=0xFEFF,
        mid=1,
    )
    return bytes(w1.pack_message(hdr, [w1.negotiate_request(["NT LM 0.12"])]))


@dataclass(slots=True)
class Smb1Negotiate:
    """SMB1 answer: ``offered`` when the server chose NT LM 0.12."""

    offered: bool
    status: int = 0
    security_mode: int | None = None
    capabilities: int = 0
    extended_security: bool = False
    mechanisms: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def signing_state(self) -> str:
        """MS-CIFS 3.2.5.2 ServerSigningState: disabled | enabled | required."""
        from lanman.smb.smb1.client import server_signing_state

        return server_signing_state(self.security_mode or 0)


def parse_smb1_negotiate(message: bytes) -> Smb1Negotiate:
    if message[:4] == b"\xfeSMB":
        return Smb1Negotiate(False, detail="answered with SMB2")
    try:
        m = w1.Message.parse(message)
    except (WireError, struct.error, ValueError) as e:
        raise ProbeError(f"not an SMB1 answer: {e}") from None
    if m.header.command != w1.Command.NEGOTIATE:
        raise ProbeError("SMB1 answer is not a NEGOTIATE response")
    if m.header.status != 0:
        return Smb1Negotiate(False, status=m.header.status, detail="NEGOTIATE refused")
    if not m.blocks:
        raise ProbeError("SMB1 NEGOTIATE response without parameters")
    try:
        r = w1.NegotiateResponse.parse(m.blocks[0])
    except (WireError, struct.error) as e:
        raise ProbeError(f"SMB1 NEGOTIATE response: {e}") from None
    if r.dialect_index != 0:
        return Smb1Negotiate(False, detail="no dialect acceptable (NT LM 0.12 refused)")
    mechs: list[str] = []
    if r.extended:
        mechs = [MECH_NAMES.get(o, o) for o in _mechanisms(r.security_blob)[0]]
    return Smb1Negotiate(True, 0, r.security_mode, r.capabilities, r.extended, mechs)


# ---- NTLM CHALLENGE ----------------------------------------------------------------------


def ntlm_session_setup(message_id: int = 1, *, workstation: str = "LANMAN-SCAN") -> bytes:
    """SESSION_SETUP with SPNEGO NegTokenInit carrying an NTLM NEGOTIATE (MS-SMB2 2.2.5)."""
    ntlm = NtlmInitiator("", "", "", workstation=workstation)
    mechs = spnego._encode_mech_types([spnego.NTLMSSP_OID])
    token = spnego.encode_neg_token_init(mechs, ntlm.step(None))
    hdr = Smb2Header(Command.SESSION_SETUP, credit=1, message_id=message_id)
    return (
        hdr.pack()
        + SessionSetupRequest(token, security_mode=int(SecurityMode.SIGNING_ENABLED)).pack()
    )


@dataclass(slots=True)
class NtlmInfo:
    """Names from the NTLM CHALLENGE's TargetName and AV pairs (MS-NLMP 2.2.2.1)."""

    target_name: str = ""
    netbios_computer: str = ""
    netbios_domain: str = ""
    dns_computer: str = ""
    dns_domain: str = ""
    dns_tree: str = ""
    version: str = ""  # "major.minor.build" from the VERSION field, when present
    status: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "target_name": self.target_name or None,
            "netbios_computer": self.netbios_computer or None,
            "netbios_domain": self.netbios_domain or None,
            "dns_computer": self.dns_computer or None,
            "dns_domain": self.dns_domain or None,
            "dns_tree": self.dns_tree or None,
            "version": self.version or None,
        }


_AV_FIELDS = {
    AvId.NB_COMPUTER_NAME: "netbios_computer",
    AvId.NB_DOMAIN_NAME: "netbios_domain",
    AvId.DNS_COMPUTER_NAME: "dns_computer",
    AvId.DNS_DOMAIN_NAME: "dns_domain",
    AvId.DNS_TREE_NAME: "dns_tree",
}


def parse_ntlm_challenge(message: bytes) -> NtlmInfo:
    """The SESSION_SETUP answer: STATUS_MORE_PROCESSING_REQUIRED with a SPNEGO NegTokenResp
    whose responseToken is the NTLM CHALLENGE (or a raw NTLMSSP token)."""
    try:
        hdr = Smb2Header.unpack(message)
    except WireError as e:
        raise ProbeError(f"not an SMB2 answer: {e}") from None
    if hdr.command != Command.SESSION_SETUP:
        raise ProbeError("answer is not a SESSION_SETUP response")
    if hdr.status != 0xC0000016:  # STATUS_MORE_PROCESSING_REQUIRED
        return NtlmInfo(status=hdr.status)
    try:
        token = SessionSetupResponse.unpack(message).security_buffer
    except (WireError, struct.error) as e:
        raise ProbeError(f"SESSION_SETUP response: {e}") from None
    raw = token
    if not token.startswith(b"NTLMSSP\x00"):
        try:
            t = spnego.parse_token(token)
        except Exception as e:  # noqa: BLE001 - hostile input
            raise ProbeError(f"SPNEGO answer unreadable: {e}") from None
        raw = getattr(t, "response_token", None) or b""
    try:
        ch = ChallengeMessage.parse(raw)
    except Exception as e:  # noqa: BLE001 - hostile input
        raise ProbeError(f"NTLM CHALLENGE unreadable: {e}") from None
    info = NtlmInfo(target_name=ch.target_name)
    for av_id, value in ch.av_pairs:
        name = _AV_FIELDS.get(av_id)
        if name:
            setattr(info, name, value.decode("utf-16-le", "replace"))
    if ch.version and len(ch.version) >= 4:
        major, minor, build = struct.unpack_from("<BBH", ch.version)
        info.version = f"{major}.{minor}.{build}"
    return info


# ---- srvsvc NetrShareEnum ----------------------------------------------------------------


def netr_share_enum_request(server: str, level: int = 1) -> bytes:
    """NetrShareEnum stub (MS-SRVS 3.1.4.8): ServerName, SHARE_ENUM_STRUCT with an empty
    container of ``level``, PreferedMaximumLength 0xFFFFFFFF, a resume handle of 0."""
    wr = NdrWriter()
    wr.top_level_pointer(lambda ww: ww.wstr(f"\\\\{server}"))
    wr.u32(level)
    wr.u32(level)  # union discriminant
    wr.top_level_pointer(lambda ww: (ww.u32(0), ww.u32(0)))  # EntriesRead 0, Buffer NULL
    wr.u32(0xFFFFFFFF)
    wr.top_level_pointer(lambda ww: ww.u32(0))
    return wr.getvalue()


MAX_SHARES = 4096


def parse_netr_share_enum(stub: bytes) -> tuple[int, list[tuple[str, int, str]]]:
    """(NET_API_STATUS, [(netname, type, remark)]) from a level-1 NetrShareEnum response."""
    r = NdrReader(stub)
    level = r.u32()
    r.u32()  # union tag
    shares: list[tuple[str, int, str]] = []
    if r.referent_id():
        count = r.u32()
        if r.referent_id():
            n = r.array_count(MAX_SHARES)
            if n != count:
                raise ProbeError("share array count mismatch")
            fixed = []
            for _ in range(n):
                if level == 1:
                    fixed.append((r.referent_id(), r.u32(), r.referent_id()))
                else:
                    fixed.append((r.referent_id(), 0, 0))
            for name_ref, stype, remark_ref in fixed:
                name = r.wstr() if name_ref else ""
                remark = r.wstr() if remark_ref else ""
                shares.append((name, stype, remark))
    r.u32()  # TotalEntries
    if r.referent_id():
        r.u32()
    status = r.u32()
    return status, shares
