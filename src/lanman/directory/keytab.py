"""MIT keytab files, format version 0x0502 (the format MIT krb5, Heimdal, Samba and Java read).

File: the two bytes 0x05 0x02, then records. Each record is a signed 32-bit big-endian length
(negative = a hole left by a deleted entry, skipped) followed by the entry:

    uint16 num_components            (version 2: the realm is not counted)
    counted_octet_string realm       (uint16 length + bytes)
    counted_octet_string component * num_components
    uint32 name_type                 (version 2 only)
    uint32 timestamp                 (seconds since 1970)
    uint8  vno8                      (key version, low 8 bits)
    uint16 keytype                   (enctype)
    counted_octet_string key
    uint32 vno                       (full key version; optional, present when room is left)

All integers are big-endian in version 2.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "KRB5_NT_PRINCIPAL",
    "KRB5_NT_SRV_HST",
    "KeytabEntry",
    "KeytabError",
    "encode_entry",
    "encode_keytab",
    "parse_keytab",
    "write_keytab",
]

KEYTAB_VERSION = b"\x05\x02"
KRB5_NT_PRINCIPAL = 1
KRB5_NT_SRV_INST = 2
KRB5_NT_SRV_HST = 3


class KeytabError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class KeytabEntry:
    components: tuple[str, ...]
    realm: str
    name_type: int
    timestamp: int
    kvno: int
    enctype: int
    key: bytes

    @property
    def principal(self) -> str:
        return "/".join(self.components) + "@" + self.realm

    def __repr__(self) -> str:
        return f"KeytabEntry({self.principal!r}, kvno={self.kvno}, enctype={self.enctype})"


def _counted(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise KeytabError("keytab string longer than 65535 bytes")
    return struct.pack(">H", len(b)) + b


def encode_entry(e: KeytabEntry) -> bytes:
    """One record: length prefix + entry."""
    body = struct.pack(">H", len(e.components)) + _counted(e.realm.encode("utf-8"))
    for c in e.components:
        body += _counted(c.encode("utf-8"))
    body += struct.pack(">IIBH", e.name_type, e.timestamp & 0xFFFFFFFF, e.kvno & 0xFF, e.enctype)
    body += _counted(bytes(e.key)) + struct.pack(">I", e.kvno & 0xFFFFFFFF)
    return struct.pack(">i", len(body)) + body


def encode_keytab(entries: list[KeytabEntry]) -> bytes:
    return KEYTAB_VERSION + b"".join(encode_entry(e) for e in entries)


def write_keytab(
    path: str | os.PathLike[str], entries: list[KeytabEntry], *, append: bool = False
) -> None:
    """Write (or with ``append`` add to) the keytab at ``path``; a new file is mode 0600."""
    p = Path(path)
    if append and p.exists() and p.stat().st_size > 0:
        head = p.read_bytes()[:2]
        if head != KEYTAB_VERSION:
            raise KeytabError(f"{p} is not a version 0x0502 keytab (starts with {head.hex()})")
        with open(p, "ab") as fh:
            fh.write(b"".join(encode_entry(e) for e in entries))
        return
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(encode_keytab(entries))


def parse_keytab(data: bytes) -> list[KeytabEntry]:
    """Parse a version 0x0502 keytab (bounded: every length is checked against the buffer)."""
    if data[:2] != KEYTAB_VERSION:
        raise KeytabError("not a version 0x0502 keytab")
    out: list[KeytabEntry] = []
    pos = 2
    n = len(data)

    def take(k: int) -> bytes:
        nonlocal pos
        if pos + k > end:
            raise KeytabError("truncated keytab entry")
        b = data[pos : pos + k]
        pos += k
        return b

    while pos + 4 <= n:
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size < 0:
            pos += -size
            continue
        if size == 0:
            break
        end = pos + size
        if end > n:
            raise KeytabError("keytab record runs past the end of the file")
        (ncomp,) = struct.unpack(">H", take(2))
        (rlen,) = struct.unpack(">H", take(2))
        realm = take(rlen).decode("utf-8")
        comps = []
        for _ in range(ncomp):
            (clen,) = struct.unpack(">H", take(2))
            comps.append(take(clen).decode("utf-8"))
        name_type, ts, vno8, etype = struct.unpack(">IIBH", take(11))
        (klen,) = struct.unpack(">H", take(2))
        key = take(klen)
        kvno = struct.unpack(">I", take(4))[0] if end - pos >= 4 else vno8
        out.append(KeytabEntry(tuple(comps), realm, name_type, ts, kvno, etype, key))
        pos = end
    return out
