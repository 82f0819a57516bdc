"""Claims in the PAC: PAC_CLIENT_CLAIMS_INFO / PAC_DEVICE_CLAIMS_INFO (MS-PAC 2.11, 2.13).

Both buffers hold a CLAIMS_SET_METADATA (MS-ADTS 2.2.18.8) whose ClaimsSet bytes are a
CLAIMS_SET of CLAIMS_ARRAYs of CLAIM_ENTRYs (MS-ADTS 2.2.18), each an NDR type serialization
(MS-RPCE 2.2.6; encoding steps in MS-ADTS 3.1.1.11.2.5).  Claim values map to
:class:`~lanman.security.claims.ClaimAttribute` with the same type codes (CLAIM_TYPE ==
MS-DTYP 2.4.10.1 ValueType).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from lanman.kerberos.pac import type_serialize
from lanman.kerberos.pac_ndr import (
    PacFormatError,
    conformance,
    decoding,
    open_type_serialization,
)
from lanman.rpc.ndr import DeferredFn, NdrReader, NdrWriter
from lanman.security.claims import BOOLEAN, INT64, STRING, UINT64, ClaimAttribute
from lanman.security.evaluate import fold
from lanman.xpress_huff import XpressError, decompress

__all__ = [
    "CLAIMS_SOURCE_TYPE_AD",
    "CLAIMS_SOURCE_TYPE_CERTIFICATE",
    "SILO_CLAIM_ID",
    "ClaimsError",
    "DuplicateClaimValueError",
    "decode_claims_set",
    "encode_claims",
    "encode_claims_set",
    "silo_claim",
    "token_claims",
]

# CLAIMS_SOURCE_TYPE (MS-ADTS 2.2.18).
CLAIMS_SOURCE_TYPE_AD = 1
CLAIMS_SOURCE_TYPE_CERTIFICATE = 2
#: The source types Windows turns into token claims; arrays of other types are ignored.
TOKEN_SOURCE_TYPES = (CLAIMS_SOURCE_TYPE_AD, CLAIMS_SOURCE_TYPE_CERTIFICATE)

# CLAIMS_COMPRESSION_FORMAT (MS-ADTS 2.2.18).
COMPRESSION_FORMAT_NONE = 0
COMPRESSION_FORMAT_LZNT1 = 2
COMPRESSION_FORMAT_XPRESS = 3
COMPRESSION_FORMAT_XPRESS_HUFF = 4

#: The CLAIM_TYPEs a CLAIM_ENTRY may carry (MS-ADTS 2.2.18); BOOLEAN values are UINT64s.
ENTRY_TYPES = (INT64, UINT64, STRING, BOOLEAN)

#: The claim naming an account's authentication silo (MS-ADTS 3.1.1.11.2.18).
SILO_CLAIM_ID = "ad://ext/AuthenticationSilo"

#: Bound on a decompressed ClaimsSet (the PAC itself is at most 1 MiB).
MAX_CLAIMS_SET = 1 << 20

_U64 = (1 << 64) - 1


class ClaimsError(PacFormatError):
    """A claims buffer that does not decode or that Windows would not turn into claims."""


class DuplicateClaimValueError(ClaimsError):
    """One CLAIM_ENTRY repeats a value (strings compared without case); the KDC answers
    KDC_ERR_GENERIC (observed on Windows)."""


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def _claims_set(arrays: Sequence[tuple[int, Sequence[ClaimAttribute]]]) -> bytes:
    """CLAIMS_SET (MS-ADTS 2.2.18) behind a top-level pointer, type-serialized.

    Referent ids are numbered in the order the pointees are written (depth first), as
    Windows numbers them, so that a set Windows encoded re-encodes to the same bytes."""
    for _, claims in arrays:
        for claim in claims:
            if claim.value_type not in ENTRY_TYPES:
                raise ClaimsError(f"claim type {claim.value_type} cannot be in a CLAIM_ENTRY")
    ids = itertools.count(0x00020004, 4)  # 0x00020000 is the top-level pointer's
    arrays_ref = next(ids) if arrays else None
    # Per CLAIMS_ARRAY: its entries' referent, then per entry (Id, values, [string values]).
    plan = []
    for _, claims in arrays:
        entries_ref = next(ids) if claims else None
        refs = []
        for c in claims:
            id_ref = next(ids)
            values_ref = next(ids) if c.values else None
            strings = [next(ids) for _ in c.values] if c.value_type == STRING else []
            refs.append((id_ref, values_ref, strings))
        plan.append((entries_ref, refs))

    def value_array(claim: ClaimAttribute, strings: list[int]) -> DeferredFn:
        def body(w: NdrWriter) -> None:
            w.u32(len(claim.values))
            if claim.value_type == STRING:
                for v, ref in zip(claim.values, strings, strict=True):
                    w.pointer(lambda w2, s=v: w2.wstr(s), ref)
            else:
                for v in claim.values:
                    w.u64(int(v) & _U64)

        return body

    def entry_array(claims: Sequence[ClaimAttribute], refs: list) -> DeferredFn:
        def body(w: NdrWriter) -> None:
            w.u32(len(claims))
            # CLAIM_ENTRY: Id, Type, the union's discriminant (Type again; both 16-bit enums),
            # ValueCount, values (NULL when there are none).
            for claim, (id_ref, values_ref, strings) in zip(claims, refs, strict=True):
                w.pointer(lambda w2, n=claim.name: w2.wstr(n), id_ref)
                w.u16(claim.value_type)
                w.u16(claim.value_type)
                w.u32(len(claim.values))
                w.pointer(value_array(claim, strings) if claim.values else None, values_ref)

        return body

    def array_of_arrays(w: NdrWriter) -> None:
        w.u32(len(arrays))
        for (source_type, claims), (entries_ref, refs) in zip(arrays, plan, strict=True):
            w.u16(source_type)
            w.u32(len(claims))
            w.pointer(entry_array(claims, refs) if claims else None, entries_ref)

    def claims_set(w: NdrWriter) -> None:
        w.u32(len(arrays))
        w.pointer(array_of_arrays if arrays else None, arrays_ref)
        w.u16(0)  # usReservedType
        w.u32(0)  # ulReservedFieldSize
        w.u32(0)  # ReservedField (NULL)

    w = NdrWriter()
    w.top_level_pointer(claims_set)
    return type_serialize(w.getvalue())


def encode_claims(arrays: Iterable[tuple[int, Iterable[ClaimAttribute]]]) -> bytes:
    """A PAC_CLIENT_CLAIMS_INFO / PAC_DEVICE_CLAIMS_INFO buffer: CLAIMS_SET_METADATA with the
    CLAIMS_SET uncompressed (CompressionFormat NONE).  Windows compresses sets of 384 bytes
    and more with MS-XCA LZ77+Huffman; an uncompressed set is equally valid."""
    claims_set = _claims_set([(t, list(claims)) for t, claims in arrays])
    w = NdrWriter()

    def metadata(w2: NdrWriter) -> None:
        w2.u32(len(claims_set))  # ulClaimsSetSize

        def blob(w3: NdrWriter) -> None:
            w3.u32(len(claims_set))
            w3.raw(claims_set)

        w2.pointer(blob)
        w2.u16(COMPRESSION_FORMAT_NONE)
        w2.u32(len(claims_set))  # ulUncompressedClaimsSetSize
        w2.u16(0)  # usReservedType
        w2.u32(0)  # ulReservedFieldSize
        w2.u32(0)  # ReservedField (NULL)

    w.top_level_pointer(metadata)
    return type_serialize(w.getvalue())


def encode_claims_set(ad_claims: Iterable[ClaimAttribute]) -> bytes:
    """:func:`encode_claims` of one CLAIMS_ARRAY of source type AD."""
    return encode_claims([(CLAIMS_SOURCE_TYPE_AD, ad_claims)])


def silo_claim(silo_name: str) -> bytes:
    """The PAC_CLIENT_CLAIMS_INFO of an account in silo ``silo_name``: one AD claim
    ``ad://ext/AuthenticationSilo`` of type STRING with the silo's name (MS-ADTS
    3.1.1.11.2.18)."""
    return encode_claims_set([ClaimAttribute(SILO_CLAIM_ID, STRING, (silo_name,))])


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def _byte_array(r: NdrReader, ref: int, size: int, what: str) -> bytes:
    if not ref:
        if size:
            raise ClaimsError(f"{what}: NULL with a size of {size}")
        return b""
    conformance(r, size, 1, what)
    return r.raw(size)


def _metadata(data: bytes) -> bytes:
    """CLAIMS_SET_METADATA -> the (decompressed) ClaimsSet bytes; b"" when NULL."""
    r = open_type_serialization(data, "CLAIMS_SET_METADATA")
    if r.u32() == 0:
        return b""
    size, ref = r.u32(), r.u32()
    compression = r.u16()
    uncompressed = r.u32()
    r.u16()  # usReservedType
    reserved_size, reserved_ref = r.u32(), r.u32()
    blob = _byte_array(r, ref, size, "ClaimsSet")
    _byte_array(r, reserved_ref, reserved_size, "ReservedField")
    if compression == COMPRESSION_FORMAT_NONE:
        return blob
    if compression != COMPRESSION_FORMAT_XPRESS_HUFF:
        raise ClaimsError(f"claims compression format {compression} is not supported")
    if uncompressed > MAX_CLAIMS_SET:
        raise ClaimsError(f"uncompressed claims set of {uncompressed} bytes is too large")
    try:
        return decompress(blob, uncompressed)
    except XpressError as exc:
        raise ClaimsError(f"ClaimsSet: {exc}") from exc


def _entries(r: NdrReader, count: int) -> list[ClaimAttribute]:
    """CLAIM_ENTRY[count] pointee, then each entry's Id and values."""
    conformance(r, count, 16, "claim_entries")
    heads = []
    for _ in range(count):
        id_ref, vtype, switch = r.u32(), r.u16(), r.u16()
        if vtype != switch:
            raise ClaimsError("CLAIM_ENTRY union discriminant differs from its Type")
        if vtype not in ENTRY_TYPES:
            raise ClaimsError(f"claim type {vtype} cannot be in a CLAIM_ENTRY")
        if not id_ref:
            raise ClaimsError("CLAIM_ENTRY without an Id")
        n, values_ref = r.u32(), r.u32()
        if n and not values_ref:
            raise ClaimsError(f"CLAIM_ENTRY values NULL with a count of {n}")
        heads.append((vtype, n, values_ref))
    out = []
    for vtype, n, values_ref in heads:
        name = r.wstr()
        values: tuple = ()
        if values_ref:
            conformance(r, n, 4 if vtype == STRING else 8, "claim values")
            if vtype == STRING:
                refs = [r.u32() for _ in range(n)]
                if not all(refs):
                    raise ClaimsError("NULL claim string")
                values = tuple(r.wstr() for _ in refs)
            else:
                raw = tuple(r.u64() for _ in range(n))
                values = (
                    tuple(v - (1 << 64) if v >> 63 else v for v in raw) if vtype == INT64 else raw
                )
        out.append(ClaimAttribute(name, vtype, values))
    return out


def _claims_arrays(blob: bytes) -> list[tuple[int, list[ClaimAttribute]]]:
    r = open_type_serialization(blob, "CLAIMS_SET")
    if r.u32() == 0:
        return []
    count, arrays_ref = r.u32(), r.u32()
    r.u16()  # usReservedType
    reserved_size, reserved_ref = r.u32(), r.u32()
    heads = []
    if arrays_ref:
        conformance(r, count, 12, "claims_arrays")
        heads = [(r.u16(), r.u32(), r.u32()) for _ in range(count)]
    elif count:
        raise ClaimsError(f"claims_arrays NULL with a count of {count}")
    out = []
    for source_type, n, entries_ref in heads:
        if n and not entries_ref:
            raise ClaimsError(f"claim_entries NULL with a count of {n}")
        out.append((source_type, _entries(r, n) if entries_ref else []))
    _byte_array(r, reserved_ref, reserved_size, "ReservedField")
    return out


def decode_claims_set(data: bytes) -> list[tuple[int, list[ClaimAttribute]]]:
    """Decode a PAC_CLIENT_CLAIMS_INFO / PAC_DEVICE_CLAIMS_INFO buffer (uncompressed or
    XPRESS_HUFF): [(claims source type, [claims])] in wire order.  Raises
    :class:`PacFormatError` (:class:`ClaimsError` for what only claims forbid)."""
    with decoding("claims"):
        blob = _metadata(data)
        return _claims_arrays(blob) if blob else []


def _check_values(claim: ClaimAttribute) -> None:
    keys = [fold(v) for v in claim.values] if claim.value_type == STRING else list(claim.values)
    if len(set(keys)) != len(keys):
        raise DuplicateClaimValueError(f"claim {claim.name!r} repeats a value")
    if claim.value_type == BOOLEAN and any(v not in (0, 1) for v in claim.values):
        raise ClaimsError(f"boolean claim {claim.name!r} has a value other than 0 or 1")


def token_claims(data: bytes) -> dict[str, ClaimAttribute]:
    """The claims a token gets from a claims buffer, keyed by lower-cased ID (as
    :class:`~lanman.security.token.SecurityToken` keys them), with Windows' rules: only arrays
    of source type AD or CERTIFICATE count, a later claim with the same ID replaces an earlier
    one, and a claim that repeats a value raises :class:`DuplicateClaimValueError`.  A boolean
    other than 0 or 1 (which crashes Windows) raises :class:`ClaimsError`."""
    out: dict[str, ClaimAttribute] = {}
    for source_type, claims in decode_claims_set(data):
        if source_type not in TOKEN_SOURCE_TYPES:
            continue
        for claim in claims:
            _check_values(claim)
            out.pop(claim.name.lower(), None)
            out[claim.name.lower()] = claim
    return out
