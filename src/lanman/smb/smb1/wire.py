"""SMB1 (CIFS) wire codec: the 32-byte header, parameter/data blocks, AndX chains and the
messages lanman speaks (MS-CIFS 2.2.3, 2.2.4; MS-SMB 2.2.4).

Sans-IO and bounded: every count, length and offset read from the wire is checked against
the buffer before use; a violation raises :class:`WireError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from lanman.smb.wire.header import WireError

__all__ = [
    "ANDX_NONE",
    "Capabilities",
    "Command",
    "Flags",
    "Flags2",
    "Message",
    "Smb1Header",
    "WireError",
]

SMB1_PROTOCOL_ID = b"\xffSMB"
HEADER_SIZE = 32
SIGNATURE_OFFSET = 14  # SecurityFeatures (MS-CIFS 2.2.3.1)
ANDX_NONE = 0xFF
MAX_DIALECTS = 64
MAX_STRING = 2048  # characters in any path / name we accept


class Command(IntEnum):
    """MS-CIFS 2.2.2.1 command codes used here."""

    CLOSE = 0x04
    TRANSACTION = 0x25
    ECHO = 0x2B
    READ_ANDX = 0x2E
    WRITE_ANDX = 0x2F
    TRANSACTION2 = 0x32
    TRANSACTION2_SECONDARY = 0x33
    TREE_DISCONNECT = 0x71
    NEGOTIATE = 0x72
    SESSION_SETUP_ANDX = 0x73
    LOGOFF_ANDX = 0x74
    TREE_CONNECT_ANDX = 0x75
    NT_CREATE_ANDX = 0xA2
    NT_CANCEL = 0xA4


ANDX_COMMANDS = {
    Command.SESSION_SETUP_ANDX,
    Command.LOGOFF_ANDX,
    Command.TREE_CONNECT_ANDX,
    Command.NT_CREATE_ANDX,
    Command.READ_ANDX,
    Command.WRITE_ANDX,
}


class Flags(IntFlag):
    """MS-CIFS 2.2.3.1 Flags."""

    CASE_INSENSITIVE = 0x08
    CANONICALIZED_PATHS = 0x10
    REPLY = 0x80


class Flags2(IntFlag):
    """MS-CIFS 2.2.3.1 / MS-SMB 2.2.3.1 Flags2."""

    LONG_NAMES = 0x0001
    EAS = 0x0002
    SMB_SECURITY_SIGNATURE = 0x0004
    SMB_SECURITY_SIGNATURE_REQUIRED = 0x0010
    IS_LONG_NAME = 0x0040
    EXTENDED_SECURITY = 0x0800
    DFS = 0x1000
    PAGING_IO = 0x2000
    NT_STATUS = 0x4000
    UNICODE = 0x8000


class Capabilities(IntFlag):
    """MS-CIFS 2.2.4.52.2 / MS-SMB 2.2.4.5.2 server capabilities."""

    RAW_MODE = 0x00000001
    MPX_MODE = 0x00000002
    UNICODE = 0x00000004
    LARGE_FILES = 0x00000008
    NT_SMBS = 0x00000010
    RPC_REMOTE_APIS = 0x00000020
    STATUS32 = 0x00000040
    LEVEL_II_OPLOCKS = 0x00000080
    NT_FIND = 0x00000200
    DFS = 0x00001000
    LARGE_READX = 0x00004000
    LARGE_WRITEX = 0x00008000
    EXTENDED_SECURITY = 0x80000000


# Trans2 subcommands (MS-CIFS 2.2.6)
TRANS2_GET_DFS_REFERRAL = 0x0010

# SESSION_SETUP_ANDX response Action (MS-CIFS 2.2.4.53.2)
SMB_SETUP_GUEST = 0x0001

# TREE_CONNECT_ANDX request Flags / response OptionalSupport (MS-SMB 2.2.4.7)
TREE_CONNECT_ANDX_DISCONNECT_TID = 0x0001
TREE_CONNECT_ANDX_EXTENDED_RESPONSE = 0x0008
SMB_SUPPORT_SEARCH_BITS = 0x0001

_HDR = struct.Struct("<4sBIBHH8sHHHHH")


@dataclass(slots=True)
class Smb1Header:
    """MS-CIFS 2.2.3.1 SMB_Header. ``pid`` combines PIDHigh and PIDLow."""

    command: int
    status: int = 0
    flags: int = 0
    flags2: int = 0
    signature: bytes = b"\x00" * 8
    tid: int = 0
    pid: int = 0
    uid: int = 0
    mid: int = 0

    @property
    def is_reply(self) -> bool:
        return bool(self.flags & Flags.REPLY)

    def pack(self) -> bytes:
        return _HDR.pack(
            SMB1_PROTOCOL_ID,
            self.command,
            self.status,
            self.flags,
            self.flags2,
            (self.pid >> 16) & 0xFFFF,
            self.signature,
            0,
            self.tid,
            self.pid & 0xFFFF,
            self.uid,
            self.mid,
        )

    @classmethod
    def unpack(cls, buf: bytes | memoryview) -> Smb1Header:
        if len(buf) < HEADER_SIZE:
            raise WireError("SMB1 header truncated")
        (proto, command, status, flags, flags2, pid_high, sig, _r, tid, pid_low, uid, mid) = (
            _HDR.unpack_from(buf, 0)
        )
        if proto != SMB1_PROTOCOL_ID:
            raise WireError("not an SMB1 message")
        return cls(command, status, flags, flags2, sig, tid, (pid_high << 16) | pid_low, uid, mid)


@dataclass(slots=True)
class Block:
    """One command's parameter words and data bytes, with where the bytes start in the
    message (strings are aligned relative to the start of the SMB header)."""

    command: int
    words: bytes
    data: bytes
    data_offset: int

    @property
    def word_count(self) -> int:
        return len(self.words) // 2


def _read_block(buf: bytes, off: int, command: int) -> Block:
    if off >= len(buf):
        raise WireError("SMB1 parameter block beyond end")
    wc = buf[off]
    words_end = off + 1 + 2 * wc
    if words_end + 2 > len(buf):
        raise WireError("SMB1 WordCount beyond end")
    (bc,) = struct.unpack_from("<H", buf, words_end)
    data_off = words_end + 2
    if data_off + bc > len(buf):
        raise WireError("SMB1 ByteCount beyond end")
    return Block(command, buf[off + 1 : words_end], buf[data_off : data_off + bc], data_off)


@dataclass(slots=True)
class Message:
    """A parsed SMB1 message: header and the chain of command blocks (AndX followed)."""

    header: Smb1Header
    blocks: list[Block]
    raw: bytes

    @classmethod
    def parse(cls, frame: bytes | memoryview, max_chain: int = 4) -> Message:
        buf = bytes(frame)
        hdr = Smb1Header.unpack(buf)
        blocks = [_read_block(buf, HEADER_SIZE, hdr.command)]
        seen = {HEADER_SIZE}
        while blocks[-1].command in ANDX_COMMANDS and blocks[-1].word_count >= 2:
            nxt, _res, off = struct.unpack_from("<BBH", blocks[-1].words, 0)
            if nxt == ANDX_NONE:
                break
            if len(blocks) >= max_chain:
                raise WireError("AndX chain too long")
            if off in seen or off < HEADER_SIZE or off >= len(buf):
                raise WireError("bad AndXOffset")
            seen.add(off)
            blocks.append(_read_block(buf, off, nxt))
        return cls(hdr, blocks, buf)


def pack_message(hdr: Smb1Header, blocks: list[tuple[int, bytes, bytes]]) -> bytearray:
    """Assemble ``hdr`` and ``(command, words, data)`` blocks into one message, filling in
    the AndX fields (AndXCommand, AndXOffset) of every AndX block's first two words."""
    out = bytearray(hdr.pack())
    positions = []
    for i, (command, words, data) in enumerate(blocks):
        if len(words) % 2 or len(words) > 510 or len(data) > 0xFFFF:
            raise ValueError("bad SMB1 block")
        positions.append(len(out))
        out.append(len(words) // 2)
        out += words
        out += struct.pack("<H", len(data))
        out += data
    for i, (command, words, _data) in enumerate(blocks):
        if command in ANDX_COMMANDS and len(words) >= 4:
            p = positions[i] + 1
            if i + 1 < len(blocks):
                struct.pack_into("<BBH", out, p, blocks[i + 1][0], 0, positions[i + 1])
            else:
                struct.pack_into("<BBH", out, p, ANDX_NONE, 0, 0)
    return out


# ---- strings --------------------------------------------------------------------------


def read_string(data: bytes, pos: int, unicode: bool, abs_offset: int) -> tuple[str, int]:
    """A null-terminated string at ``data[pos:]``; Unicode strings are 2-aligned relative to
    the SMB header (``abs_offset`` is where ``data`` starts in the message). Returns the
    string and the position after its terminator (or the end of data if unterminated)."""
    if unicode:
        if (abs_offset + pos) % 2:
            pos += 1
        end = pos
        while end + 1 < len(data) and data[end : end + 2] != b"\x00\x00":
            end += 2
        if (end - pos) // 2 > MAX_STRING:
            raise WireError("string too long")
        text = data[pos:end].decode("utf-16-le", "replace")
        return text, min(end + 2, len(data))
    end = data.find(b"\x00", pos)
    if end < 0:
        end = len(data)
    if end - pos > MAX_STRING:
        raise WireError("string too long")
    return data[pos:end].decode("latin-1"), min(end + 1, len(data))


def encode_string(text: str, unicode: bool, abs_offset: int) -> bytes:
    """Encode with terminator; a pad byte first if Unicode text would start odd."""
    if unicode:
        pad = b"\x00" if abs_offset % 2 else b""
        return pad + text.encode("utf-16-le") + b"\x00\x00"
    return text.encode("latin-1", "replace") + b"\x00"


# ---- NEGOTIATE (MS-CIFS 2.2.4.52, MS-SMB 2.2.4.5) ----------------------------------------


def parse_negotiate_dialects(block: Block) -> list[str]:
    data = block.data
    dialects: list[str] = []
    i = 0
    while i < len(data):
        if data[i] != 0x02:
            raise WireError("SMB1 dialect BufferFormat is not 0x02")
        end = data.find(b"\x00", i + 1)
        if end < 0:
            raise WireError("unterminated SMB1 dialect string")
        dialects.append(data[i + 1 : end].decode("ascii", "replace"))
        if len(dialects) > MAX_DIALECTS:
            raise WireError("too many SMB1 dialects")
        i = end + 1
    return dialects


def negotiate_request(dialects: list[str]) -> tuple[int, bytes, bytes]:
    data = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    return (Command.NEGOTIATE, b"", data)


_NEG_RESP = struct.Struct("<HBHHIIIIQhB")  # 34 bytes = 17 words


@dataclass(slots=True)
class NegotiateResponse:
    """NT LM 0.12 NEGOTIATE response (MS-SMB 2.2.4.5.2.1 with extended security)."""

    dialect_index: int
    security_mode: int
    max_mpx_count: int = 50
    max_number_vcs: int = 1
    max_buffer_size: int = 16644
    max_raw_size: int = 65536
    session_key: int = 0
    capabilities: int = 0
    system_time: int = 0
    server_time_zone: int = 0
    challenge: bytes = b""  # non-extended security only
    server_guid: bytes = b"\x00" * 16
    security_blob: bytes = b""
    domain_name: str = ""  # non-extended only

    @property
    def extended(self) -> bool:
        return bool(self.capabilities & Capabilities.EXTENDED_SECURITY)

    def block(self) -> tuple[int, bytes, bytes]:
        words = _NEG_RESP.pack(
            self.dialect_index,
            self.security_mode,
            self.max_mpx_count,
            self.max_number_vcs,
            self.max_buffer_size,
            self.max_raw_size,
            self.session_key,
            self.capabilities,
            self.system_time,
            self.server_time_zone,
            0 if self.extended else len(self.challenge),
        )
        if self.extended:
            data = self.server_guid + self.security_blob
        else:
            data = self.challenge + self.domain_name.encode("utf-16-le") + b"\x00\x00"
        return (Command.NEGOTIATE, words, data)

    @classmethod
    def parse(cls, block: Block) -> NegotiateResponse:
        if block.word_count == 1:  # "no dialect acceptable" (DialectIndex 0xFFFF)
            (idx,) = struct.unpack_from("<H", block.words, 0)
            return cls(idx, 0)
        if block.word_count != 17:
            raise WireError("NEGOTIATE response WordCount is not 17")
        (idx, mode, mpx, vcs, maxbuf, maxraw, skey, caps, systime, tz, clen) = _NEG_RESP.unpack(
            block.words
        )
        r = cls(idx, mode, mpx, vcs, maxbuf, maxraw, skey, caps, systime, tz)
        if r.extended:
            if len(block.data) < 16:
                raise WireError("NEGOTIATE response without ServerGUID")
            r.server_guid, r.security_blob = block.data[:16], block.data[16:]
        else:
            if len(block.data) < clen:
                raise WireError("NEGOTIATE challenge truncated")
            r.challenge = block.data[:clen]
        return r


# ---- SESSION_SETUP_ANDX (MS-SMB 2.2.4.6) -------------------------------------------------

_SS_EXT_REQ = struct.Struct("<BBHHHHIHII")  # 24 bytes, WordCount 12
_SS_BASIC_REQ = struct.Struct("<BBHHHHIHHII")  # 26 bytes, WordCount 13


@dataclass(slots=True)
class SessionSetupRequest:
    max_buffer_size: int = 16644
    max_mpx_count: int = 50
    vc_number: int = 0
    session_key: int = 0
    capabilities: int = 0
    security_blob: bytes = b""  # extended security
    oem_password: bytes = b""  # basic security
    unicode_password: bytes = b""
    account_name: str = ""
    primary_domain: str = ""
    native_os: str = ""
    native_lanman: str = ""
    extended: bool = True

    @classmethod
    def parse(cls, block: Block, unicode: bool) -> SessionSetupRequest:
        if block.word_count == 12:
            (_c, _r, _o, maxbuf, mpx, vc, skey, blob_len, _res, caps) = _SS_EXT_REQ.unpack(
                block.words
            )
            if blob_len > len(block.data):
                raise WireError("SecurityBlobLength beyond ByteCount")
            r = cls(maxbuf, mpx, vc, skey, caps, block.data[:blob_len])
            pos = blob_len
            r.native_os, pos = read_string(block.data, pos, unicode, block.data_offset)
            r.native_lanman, pos = read_string(block.data, pos, unicode, block.data_offset)
            return r
        if block.word_count == 13:
            (_c, _r, _o, maxbuf, mpx, vc, skey, oem_len, uni_len, _res, caps) = (
                _SS_BASIC_REQ.unpack(block.words)
            )
            if oem_len + uni_len > len(block.data):
                raise WireError("password lengths beyond ByteCount")
            r = cls(maxbuf, mpx, vc, skey, caps, extended=False)
            r.oem_password = block.data[:oem_len]
            r.unicode_password = block.data[oem_len : oem_len + uni_len]
            pos = oem_len + uni_len
            r.account_name, pos = read_string(block.data, pos, unicode, block.data_offset)
            r.primary_domain, pos = read_string(block.data, pos, unicode, block.data_offset)
            return r
        raise WireError("SESSION_SETUP_ANDX WordCount is neither 12 nor 13")

    def block(self, unicode: bool, data_offset: int) -> tuple[int, bytes, bytes]:
        words = _SS_EXT_REQ.pack(
            ANDX_NONE,
            0,
            0,
            self.max_buffer_size,
            self.max_mpx_count,
            self.vc_number,
            self.session_key,
            len(self.security_blob),
            0,
            self.capabilities,
        )
        data = bytearray(self.security_blob)
        data += encode_string(self.native_os, unicode, data_offset + len(data))
        data += encode_string(self.native_lanman, unicode, data_offset + len(data))
        return (Command.SESSION_SETUP_ANDX, words, bytes(data))


@dataclass(slots=True)
class SessionSetupResponse:
    action: int = 0
    security_blob: bytes = b""
    native_os: str = "Windows Server 2003 3790 Service Pack 2"
    native_lanman: str = "lanman"
    primary_domain: str = ""
    extended: bool = True

    def block(self, unicode: bool, data_offset: int) -> tuple[int, bytes, bytes]:
        if self.extended:
            words = struct.pack("<BBHHH", ANDX_NONE, 0, 0, self.action, len(self.security_blob))
            data = bytearray(self.security_blob)
        else:
            words = struct.pack("<BBHH", ANDX_NONE, 0, 0, self.action)
            data = bytearray()
        data += encode_string(self.native_os, unicode, data_offset + len(data))
        data += encode_string(self.native_lanman, unicode, data_offset + len(data))
        if not self.extended:
            data += encode_string(self.primary_domain, unicode, data_offset + len(data))
        return (Command.SESSION_SETUP_ANDX, words, bytes(data))

    @classmethod
    def parse(cls, block: Block, unicode: bool) -> SessionSetupResponse:
        if block.word_count == 0:
            return cls(0, b"", "", "")
        if block.word_count == 4:
            _c, _r, _o, action, blob_len = struct.unpack("<BBHHH", block.words)
            if blob_len > len(block.data):
                raise WireError("SecurityBlobLength beyond ByteCount")
            return cls(action, block.data[:blob_len], "", "")
        if block.word_count == 3:
            _c, _r, _o, action = struct.unpack("<BBHH", block.words)
            return cls(action, b"", "", "", extended=False)
        raise WireError("SESSION_SETUP_ANDX response WordCount")


# ---- TREE_CONNECT_ANDX (MS-CIFS 2.2.4.55, MS-SMB 2.2.4.7) ------------------------------


@dataclass(slots=True)
class TreeConnectRequest:
    path: str
    service: str = "?????"
    flags: int = TREE_CONNECT_ANDX_EXTENDED_RESPONSE
    password: bytes = b"\x00"

    @classmethod
    def parse(cls, block: Block, unicode: bool) -> TreeConnectRequest:
        if block.word_count != 4:
            raise WireError("TREE_CONNECT_ANDX WordCount is not 4")
        _c, _r, _o, flags, pw_len = struct.unpack("<BBHHH", block.words)
        if pw_len > len(block.data):
            raise WireError("PasswordLength beyond ByteCount")
        pos = pw_len
        path, pos = read_string(block.data, pos, unicode, block.data_offset)
        service, pos = read_string(block.data, pos, False, block.data_offset)
        return cls(path, service, flags, block.data[:pw_len])

    def block(self, unicode: bool, data_offset: int) -> tuple[int, bytes, bytes]:
        words = struct.pack("<BBHHH", ANDX_NONE, 0, 0, self.flags, len(self.password))
        data = bytearray(self.password)
        data += encode_string(self.path, unicode, data_offset + len(data))
        data += encode_string(self.service, False, 0)
        return (Command.TREE_CONNECT_ANDX, words, bytes(data))


@dataclass(slots=True)
class TreeConnectResponse:
    service: str
    native_file_system: str = ""
    optional_support: int = SMB_SUPPORT_SEARCH_BITS
    maximal_access: int | None = None  # extended response (WordCount 7)
    guest_maximal_access: int = 0

    def block(self, unicode: bool, data_offset: int) -> tuple[int, bytes, bytes]:
        if self.maximal_access is None:
            words = struct.pack("<BBHH", ANDX_NONE, 0, 0, self.optional_support)
        else:
            words = struct.pack(
                "<BBHHII",
                ANDX_NONE,
                0,
                0,
                self.optional_support,
                self.maximal_access,
                self.guest_maximal_access,
            )
        data = bytearray(self.service.encode("ascii") + b"\x00")
        data += encode_string(self.native_file_system, unicode, data_offset + len(data))
        return (Command.TREE_CONNECT_ANDX, words, bytes(data))

    @classmethod
    def parse(cls, block: Block, unicode: bool) -> TreeConnectResponse:
        if block.word_count not in (3, 7):
            raise WireError("TREE_CONNECT_ANDX response WordCount")
        (support,) = struct.unpack_from("<H", block.words, 4)
        maximal = None
        guest = 0
        if block.word_count == 7:
            maximal, guest = struct.unpack_from("<II", block.words, 6)
        service, pos = read_string(block.data, 0, False, block.data_offset)
        nfs, _ = read_string(block.data, pos, unicode, block.data_offset)
        return cls(service, nfs, support, maximal, guest)


# ---- TRANSACTION2 (MS-CIFS 2.2.4.46) -----------------------------------------------------

_T2_REQ = struct.Struct("<HHHHBBHIHHHHHBB")  # 28 bytes before Setup


@dataclass(slots=True)
class Trans2Request:
    setup: list[int]
    parameters: bytes
    data: bytes = b""
    max_parameter_count: int = 1024
    max_data_count: int = 16384

    @property
    def subcommand(self) -> int:
        return self.setup[0] if self.setup else -1

    @classmethod
    def parse(cls, block: Block, raw: bytes) -> Trans2Request:
        if block.word_count < 14:
            raise WireError("TRANSACTION2 WordCount below 14")
        (tpc, tdc, mpc, mdc, _msc, _r1, _flags, _timeout, _r2, pc, po, dc, do, setup_count, _r3) = (
            _T2_REQ.unpack_from(block.words, 0)
        )
        if block.word_count != 14 + setup_count:
            raise WireError("TRANSACTION2 SetupCount disagrees with WordCount")
        setup = list(struct.unpack_from(f"<{setup_count}H", block.words, 28))
        if pc != tpc or dc != tdc:
            raise WireError("secondary TRANSACTION2 requests are not supported")
        for off, cnt in ((po, pc), (do, dc)):
            if cnt and (off < HEADER_SIZE or off + cnt > len(raw)):
                raise WireError("TRANSACTION2 offset beyond end")
        return cls(setup, raw[po : po + pc], raw[do : do + dc], mpc, mdc)

    def block(self, data_offset: int) -> tuple[int, bytes, bytes]:
        """``data_offset``: where the block's data bytes start in the message."""
        n = len(self.setup)
        # Parameters start 4-aligned after the block's data start.
        po = data_offset + ((-data_offset) % 4)
        do = po + len(self.parameters)
        do += (-do) % 4
        words = _T2_REQ.pack(
            len(self.parameters),
            len(self.data),
            self.max_parameter_count,
            self.max_data_count,
            0,
            0,
            0,
            0,
            0,
            len(self.parameters),
            po,
            len(self.data),
            do if self.data else 0,
            n,
            0,
        )
        words += struct.pack(f"<{n}H", *self.setup)
        data = bytearray(b"\x00" * (po - data_offset))
        data += self.parameters
        data += b"\x00" * (do - po - len(self.parameters)) if self.data else b""
        data += self.data
        return (Command.TRANSACTION2, words, bytes(data))

    @staticmethod
    def data_offset_for(setup_count: int) -> int:
        return HEADER_SIZE + 1 + 2 * (14 + setup_count) + 2


def dfs_referral_parameters(path: str, max_level: int = 3) -> bytes:
    """REQ_GET_DFS_REFERRAL (MS-DFSC 2.2.2): MaxReferralLevel + RequestFileName."""
    return struct.pack("<H", max_level) + path.encode("utf-16-le") + b"\x00\x00"


# ---- ECHO (MS-CIFS 2.2.4.39), LOGOFF_ANDX, TREE_DISCONNECT ----------------------------------


def echo_request(data: bytes, count: int = 1) -> tuple[int, bytes, bytes]:
    return (Command.ECHO, struct.pack("<H", count), data)


def andx_empty(command: int) -> tuple[int, bytes, bytes]:
    return (command, struct.pack("<BBH", ANDX_NONE, 0, 0), b"")
