"""8.3 short names (MS-FSCC 2.1.5.2.1) for FileAlternateNameInformation and the ShortName of
FileBothDirectoryInformation / FileIdBothDirectoryInformation, and their resolution back to
the long name on CREATE. Pure functions, plus one bounded cache.

A name that is already valid 8.3 (1-8 characters, optionally a dot and 1-3 more, all from
the 8.3 character set, one dot at most) has no separate short name: its alternate name is
the name upper-cased, and directory listings leave ShortName empty, as NTFS does.

Any other name gets a deterministic *hashed* short name (the host file system stores none),
``PPHHHH~H.EXT``: up to two characters of the cleaned base name, five base-36 characters of a
CRC-32 of the long name around the ``~``, and up to three cleaned characters of the last
extension. Cleaning upper-cases and turns characters outside the 8.3 set into ``_``.

:class:`ShortNameCache` remembers which long name a short name stood for in a directory, so
that a CREATE by the short name after the long file went away recreates the long name
(Samba's mangling cache behaves so; smbtorture's ``smb2.mangle`` relies on it). It holds at
most :data:`CACHE_ENTRIES` entries.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict

_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$%'-_@~`!(){}^#&")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CACHE_ENTRIES = 4096


def is_8dot3(name: str) -> bool:
    """True when ``name`` is a valid 8.3 name by itself (any case)."""
    if not name or name[0] == "." or name.count(".") > 1:
        return False
    base, _, ext = name.partition(".")
    if not 1 <= len(base) <= 8 or len(ext) > 3 or ("." in name and not ext):
        return False
    return all(c.upper() in _ALLOWED for c in base + ext)


def _clean(s: str) -> str:
    return "".join(c.upper() if c.upper() in _ALLOWED else "_" for c in s if c not in " .")


def _hash36(name: str) -> str:
    h = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    out = []
    for _ in range(5):
        h, d = divmod(h, 36)
        out.append(_BASE36[d])
    return "".join(out)


def short_name(name: str) -> str:
    """The 8.3 name of ``name`` (its upper-case self when it is 8.3 already)."""
    if is_8dot3(name):
        return name.upper()
    dot = name.rfind(".")
    base, ext = (name[:dot], name[dot + 1 :]) if dot > 0 else (name, "")
    h = _hash36(name)
    short = (_clean(base)[:2] or "_") + h[:4] + "~" + h[4]
    ext3 = _clean(ext)[:3]
    return f"{short}.{ext3}" if ext3 else short


def listing_short_name(name: str) -> str:
    """ShortName of a directory entry: empty when the name is 8.3 already."""
    return "" if is_8dot3(name) or name in (".", "..") else short_name(name)


def could_be_short(name: str) -> bool:
    """True when ``name`` has the shape of a generated short name."""
    return "~" in name and is_8dot3(name)


def resolve(names: list[str], wanted: str) -> str | None:
    """The long name among ``names`` whose generated short name is ``wanted``."""
    folded = wanted.casefold()
    for n in names:
        if not is_8dot3(n) and short_name(n).casefold() == folded:
            return n
    return None


class ShortNameCache:
    """(directory key, SHORT) -> long name, least recently used dropped past the cap."""

    def __init__(self, cap: int = CACHE_ENTRIES):
        self.cap = cap
        self._map: OrderedDict[tuple[object, str], str] = OrderedDict()

    def remember(self, directory: object, long_name: str) -> None:
        if is_8dot3(long_name):
            return
        key = (directory, short_name(long_name).upper())
        self._map[key] = long_name
        self._map.move_to_end(key)
        while len(self._map) > self.cap:
            self._map.popitem(last=False)

    def lookup(self, directory: object, short: str) -> str | None:
        return self._map.get((directory, short.upper()))

    def __len__(self) -> int:
        return len(self._map)
