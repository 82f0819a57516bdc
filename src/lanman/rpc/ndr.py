"""Small NDR 2.0 (little-endian) marshalling helpers (C706 ch. 14, MS-RPCE 2.2.5).

Deliberately explicit: interface code writes the IDL shape by hand with an :class:`NdrWriter`
and reads requests with an :class:`NdrReader`.  Rules used (C706 14.2-14.3):

* primitives are aligned to their size (hyper to 8) relative to the stub start;
* a top-level ``[ref]`` pointer has no wire representation; its pointee follows in place;
* a ``[unique]``/``[ptr]`` pointer is a 4-byte referent id (0 = NULL); for a top-level pointer
  the pointee follows immediately, for a pointer embedded in a structure or array the pointee is
  *deferred* until the enclosing top-level construct is complete (C706 14.3.12.3);
* ``[string] wchar_t*`` is conformant varying: MaxCount, Offset (0), ActualCount (u32 each),
  then ActualCount UTF-16LE units including the terminating NUL;
* context handles (``policy_handle``) are 20 raw bytes: u32 attributes + 16-byte uuid.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "MAX_ARRAY_ELEMENTS",
    "MAX_STRING_CHARS",
    "ContextHandle",
    "NdrError",
    "NdrReader",
    "NdrWriter",
]

#: Upper bound on characters accepted in one conformant string (defensive, not from the spec).
MAX_STRING_CHARS = 1 << 16
#: Upper bound on elements accepted in one conformant array.
MAX_ARRAY_ELEMENTS = 1 << 16


class NdrError(ValueError):
    """Stub data that does not decode; the RPC layer answers fault nca_s_fault_ndr (0x6f7)."""


@dataclass(slots=True, frozen=True)
class ContextHandle:
    """Context handle on the wire (C706 14.3.12 ndr_context_handle): u32 attributes + uuid."""

    attributes: int
    uuid: bytes  # 16 bytes

    SIZE = 20

    def pack(self) -> bytes:
        return struct.pack("<I", self.attributes) + self.uuid

    @property
    def is_null(self) -> bool:
        return self.attributes == 0 and self.uuid == b"\x00" * 16


DeferredFn = Callable[["NdrWriter"], None]


class NdrWriter:
    """NDR encoder with a deferred-pointee queue.

    Call :meth:`pointer` for an embedded unique pointer: it writes the referent id now and
    queues the callable that writes the pointee.  :meth:`flush_deferred` (called automatically by
    :meth:`top_level`) emits queued pointees in FIFO order; pointees queued *while* writing a
    pointee are emitted right after it, as MIDL-generated stubs do.
    """

    __slots__ = ("_buf", "_deferred", "_next_referent")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._deferred: list[DeferredFn] = []
        self._next_referent = 0x00020000

    # -- primitives ---------------------------------------------------------------------------
    def align(self, n: int) -> None:
        self._buf += b"\x00" * ((-len(self._buf)) % n)

    def u8(self, v: int) -> None:
        self._buf += struct.pack("<B", v)

    def u16(self, v: int) -> None:
        self.align(2)
        self._buf += struct.pack("<H", v)

    def u32(self, v: int) -> None:
        self.align(4)
        self._buf += struct.pack("<I", v & 0xFFFFFFFF)

    def i32(self, v: int) -> None:
        self.align(4)
        self._buf += struct.pack("<i", v)

    def u64(self, v: int) -> None:
        self.align(8)
        self._buf += struct.pack("<Q", v)

    def raw(self, data: bytes) -> None:
        self._buf += data

    def context_handle(self, handle: ContextHandle) -> None:
        self.align(4)
        self._buf += handle.pack()

    # -- pointers -----------------------------------------------------------------------------
    def referent_id(self) -> int:
        ref = self._next_referent
        self._next_referent += 4
        return ref

    def pointer(self, pointee: DeferredFn | None, referent: int | None = None) -> None:
        """Embedded unique pointer: referent id now (``referent`` when the caller numbers
        them itself), pointee deferred (NULL if ``None``)."""
        if pointee is None:
            self.u32(0)
            return
        self.u32(self.referent_id() if referent is None else referent)
        self._deferred.append(pointee)

    def top_level_pointer(self, pointee: DeferredFn | None) -> None:
        """Top-level unique pointer: referent id followed at once by the pointee and its deferrals."""
        if pointee is None:
            self.u32(0)
            return
        self.u32(self.referent_id())
        self.top_level(pointee)

    def top_level(self, fn: DeferredFn) -> None:
        """Write a top-level construct then all pointees it deferred."""
        outer = self._deferred
        self._deferred = []
        fn(self)
        self.flush_deferred()
        self._deferred = outer

    def flush_deferred(self) -> None:
        while self._deferred:
            queue = self._deferred
            self._deferred = []
            for fn in queue:
                fn(self)
                self.flush_deferred()

    # -- strings and arrays -------------------------------------------------------------------
    def wstr(self, text: str) -> None:
        """Conformant varying ``[string] wchar_t*`` including the terminating NUL."""
        data = text.encode("utf-16-le", errors="surrogatepass") + b"\x00\x00"
        count = len(data) // 2
        self.u32(count)
        self.u32(0)
        self.u32(count)
        self._buf += data

    def conformant_array(
        self, items: list, write_item: Callable[[NdrWriter, object], None]
    ) -> None:
        """``[size_is(n)]`` array: MaxCount then the elements (embedded pointees deferred)."""
        self.u32(len(items))
        for item in items:
            write_item(self, item)

    def getvalue(self) -> bytes:
        self.flush_deferred()
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)


class NdrReader:
    """Bounded NDR decoder; any overrun or inconsistent count raises :class:`NdrError`."""

    __slots__ = ("_data", "pos")

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self._data):
            raise NdrError(f"stub truncated: need {n} bytes at {self.pos}, have {len(self._data)}")
        view = self._data[self.pos : self.pos + n]
        self.pos += n
        return view

    def align(self, n: int) -> None:
        pad = (-self.pos) % n
        self._take(pad)

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        self.align(2)
        return struct.unpack("<H", self._take(2))[0]

    def u32(self) -> int:
        self.align(4)
        return struct.unpack("<I", self._take(4))[0]

    def i32(self) -> int:
        self.align(4)
        return struct.unpack("<i", self._take(4))[0]

    def u64(self) -> int:
        self.align(8)
        return struct.unpack("<Q", self._take(8))[0]

    def raw(self, n: int) -> bytes:
        return bytes(self._take(n))

    def context_handle(self) -> ContextHandle:
        self.align(4)
        attrs = self.u32()
        return ContextHandle(attrs, bytes(self._take(16)))

    def referent_id(self) -> int:
        """A unique/full pointer's referent id; 0 means NULL."""
        return self.u32()

    def wstr(self, max_chars: int = MAX_STRING_CHARS) -> str:
        """Conformant varying wide string, cut at the first NUL (the terminator)."""
        max_count = self.u32()
        offset = self.u32()
        actual = self.u32()
        if offset != 0 or actual > max_count or actual > max_chars:
            raise NdrError(f"bad string counts max={max_count} offset={offset} actual={actual}")
        data = bytes(self._take(actual * 2))
        text = data.decode("utf-16-le", errors="surrogatepass")
        # C semantics: the string ends at the first NUL (some clients pad with extra NULs).
        return text.split("\x00", 1)[0]

    def unique_wstr(self, max_chars: int = MAX_STRING_CHARS) -> str | None:
        """Top-level ``[unique, string] wchar_t*``: referent id then (if non-NULL) the string."""
        if self.referent_id() == 0:
            return None
        return self.wstr(max_chars)

    def array_count(self, max_elements: int = MAX_ARRAY_ELEMENTS) -> int:
        """The MaxCount of a conformant array, bounded."""
        count = self.u32()
        if count > max_elements:
            raise NdrError(f"array count {count} exceeds limit {max_elements}")
        return count

    @property
    def remaining(self) -> int:
        return len(self._data) - self.pos
