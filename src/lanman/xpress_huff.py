"""LZ77+Huffman decompression (MS-XCA 2.2.4, "XPRESS_HUFF"), as Windows compresses claims.

Each block of up to 65536 output bytes starts with 256 bytes holding the 4-bit code lengths of
512 symbols (0-255 literals, 256-511 matches: low nibble a length, high nibble the number of
offset bits); the canonical Huffman codes are read MSB-first from 16-bit little-endian words,
while long match lengths are read as whole bytes in between.  Bounded: output never exceeds the
expected size, every match stays inside what was written, and the bit stream may run at most
two words past the input (read as zeros, as a decoder's look-ahead does).
"""

from __future__ import annotations

__all__ = ["XpressError", "decompress"]

_BLOCK = 65536
_MASK32 = 0xFFFFFFFF


class XpressError(ValueError):
    """Compressed data that does not decode to the expected size."""


def _decoding_table(lengths: list[int]) -> list[int]:
    """15-bit prefix -> symbol for the canonical code of ``lengths``: symbols by bit length,
    then by value (MS-XCA 2.2.4); a code that does not fill the table exactly is invalid."""
    table: list[int] = []
    for bits in range(1, 16):
        span = 1 << (15 - bits)
        for sym in range(512):
            if lengths[sym] == bits:
                table += [sym] * span
                if len(table) > 1 << 15:
                    raise XpressError("Huffman code lengths are over-subscribed")
    if len(table) != 1 << 15:
        raise XpressError("Huffman code lengths do not make a complete code")
    return table


class _Input:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> int:
        if self.pos + n > len(self.data):
            raise XpressError("compressed data truncated")
        v = int.from_bytes(self.data[self.pos : self.pos + n], "little")
        self.pos += n
        return v

    def word(self) -> int:
        """A 16-bit word of the bit stream; past the end the stream reads as zeros."""
        if self.pos + 2 > len(self.data):
            self.pos += 2
            return 0
        return self.take(2)


def decompress(data: bytes, size: int) -> bytes:
    """Decompress ``data`` to exactly ``size`` bytes (raises :class:`XpressError`)."""
    out = bytearray()
    src = _Input(bytes(data))
    while len(out) < size:
        head = src.take(256).to_bytes(256, "little")
        lengths = [n for b in head for n in (b & 15, b >> 4)]
        table = _decoding_table(lengths)
        bits = src.word() << 16 | src.word()
        extra = 16
        block_end = min(len(out) + _BLOCK, size)
        while len(out) < block_end:
            if src.pos > len(src.data) + 4:
                raise XpressError("bit stream runs past the compressed data")
            sym = table[bits >> 17]
            bits = (bits << lengths[sym]) & _MASK32
            extra -= lengths[sym]
            if extra < 0:
                bits |= src.word() << -extra
                extra += 16
            if sym < 256:
                out.append(sym)
                continue
            length, offset_bits = sym & 15, (sym - 256) >> 4
            if length == 15:
                length = src.take(1)
                if length == 255:
                    length = src.take(2) or src.take(4)
                    if length < 15:
                        raise XpressError("bad long match length")
                    length -= 15
                length += 15
            length += 3
            offset = (bits >> (32 - offset_bits) if offset_bits else 0) | 1 << offset_bits
            bits = (bits << offset_bits) & _MASK32
            extra -= offset_bits
            if extra < 0:
                bits |= src.word() << -extra
                extra += 16
            if offset > len(out) or len(out) + length > size:
                raise XpressError("match outside the output")
            start = len(out) - offset
            if offset >= length:
                out += out[start : start + length]
            else:
                out += (out[start:] * (length // offset + 1))[:length]
    return bytes(out)
