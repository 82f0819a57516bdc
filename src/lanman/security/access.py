"""The access check (MS-DTYP 2.5.3.2) over compiled descriptors.

A descriptor is compiled once (SIDs, masks and conditions turned into sets and closures) and
cached by its bytes, so the KDC and the file server pay the parsing cost once per SD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from lanman.security.ace import ACE_TYPES, INHERIT_ONLY
from lanman.security.claims import decode_claim
from lanman.security.conditional import decode_condition
from lanman.security.descriptor import SecurityDescriptor, decode_sd
from lanman.security.errors import SecurityError
from lanman.security.evaluate import claim_value, compile_expression
from lanman.security.rights import (
    ACCESS_SYSTEM_SECURITY,
    ADS_CONTROL_ACCESS,
    FILE_GENERIC_MAPPING,
    MAXIMUM_ALLOWED,
    READ_CONTROL,
    WRITE_DAC,
    GenericMapping,
    map_generic,
)
from lanman.security.token import SecurityToken

__all__ = [
    "AccessResult",
    "CompiledAce",
    "CompiledDescriptor",
    "access_check",
    "compile_descriptor",
    "compiled_from_bytes",
]

OWNER_RIGHTS = "S-1-3-4"


@dataclass(frozen=True, slots=True)
class CompiledAce:
    """A DACL ACE reduced to what the check needs."""

    index: int
    allow: bool
    mask: int
    sid: str
    condition: Callable | None  # None: unconditional


@dataclass(frozen=True, slots=True)
class CompiledDescriptor:
    """A descriptor ready for :func:`access_check`; ``aces`` is ``None`` for a NULL DACL."""

    owner: str | None
    aces: tuple[CompiledAce, ...] | None
    resource: dict
    has_owner_rights_ace: bool
    sd: SecurityDescriptor


@dataclass(frozen=True, slots=True)
class AccessResult:
    """Outcome: the rights granted, whether all desired rights were, and which DACL ACE
    decided (index, or ``None`` when no ACE did: NULL DACL, owner rights, nothing matched)."""

    allowed: bool
    granted: int
    ace_index: int | None
    reason: str


def compile_descriptor(sd: SecurityDescriptor) -> CompiledDescriptor:
    """Compile ``sd``: skip inherit-only and non-access ACEs, compile each condition,
    collect the resource attributes of the SACL (MS-DTYP 2.4.4.17.8)."""
    resource: dict = {}
    if sd.sacl is not None:
        for ace in sd.sacl.aces:
            if ace.type == 0x12:
                claim = decode_claim(ace.application_data)
                v = claim_value(claim)
                if v is not None:
                    resource[claim.name.lower()] = v
    if sd.dacl is None:
        return CompiledDescriptor(sd.owner, None, resource, False, sd)
    aces, owner_rights = [], False
    for index, ace in enumerate(sd.dacl.aces):
        info = ACE_TYPES.get(ace.type)
        if info is None or info.family not in ("allow", "deny") or info.opaque:
            continue
        if ace.sid == OWNER_RIGHTS:
            owner_rights = True
        if ace.flags & INHERIT_ONLY:
            continue
        if info.object and ace.object_type is not None:
            continue  # applies to one object type; no object-type list is checked here
        cond = compile_expression(decode_condition(ace.application_data)) if info.callback else None
        aces.append(CompiledAce(index, info.family == "allow", ace.mask, ace.sid, cond))
    return CompiledDescriptor(sd.owner, tuple(aces), resource, owner_rights, sd)


@lru_cache(maxsize=4096)
def compiled_from_bytes(blob: bytes) -> CompiledDescriptor:
    """Decode and compile a self-relative descriptor, cached by its bytes."""
    return compile_descriptor(decode_sd(blob))


def access_check(
    sd: CompiledDescriptor | SecurityDescriptor | bytes,
    token: SecurityToken,
    desired: int,
    mapping: GenericMapping = FILE_GENERIC_MAPPING,
) -> AccessResult:
    """MS-DTYP 2.5.3.2 for ``desired`` (generic rights mapped; MAXIMUM_ALLOWED supported).

    Allowed ACEs grant the rights not yet granted; a deny ACE for a still-wanted right
    refuses. XA/ZA conditions must be TRUE; XD conditions deny when TRUE or UNKNOWN
    (MS-DTYP 2.4.4.17.3). The owner gets READ_CONTROL and WRITE_DAC unless the DACL has an
    OWNER RIGHTS ACE. A NULL or absent DACL grants everything.
    """
    if isinstance(sd, (bytes, bytearray, memoryview)):
        csd = compiled_from_bytes(bytes(sd))
    elif isinstance(sd, SecurityDescriptor):
        csd = compile_descriptor(sd)
    else:
        csd = sd
    want_max = bool(desired & MAXIMUM_ALLOWED)
    remaining = map_generic(desired & ~MAXIMUM_ALLOWED, mapping)
    granted = 0
    if remaining & ACCESS_SYSTEM_SECURITY:
        if "SeSecurityPrivilege" not in token.privileges:
            return AccessResult(False, 0, None, "ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege")
        granted |= ACCESS_SYSTEM_SECURITY
        remaining &= ~ACCESS_SYSTEM_SECURITY
    if csd.aces is None:
        granted |= remaining | (mapping.all if want_max else 0)
        return AccessResult(
            bool(granted) or not desired, granted, None, "NULL DACL grants all access"
        )
    if desired == 0:
        return AccessResult(False, 0, None, "no access was asked for")
    sids = token.sids
    is_owner = csd.owner is not None and csd.owner in sids
    if is_owner and not csd.has_owner_rights_ace:
        implicit = READ_CONTROL | WRITE_DAC
        granted |= implicit if want_max else implicit & remaining
        remaining &= ~implicit
    denied = 0
    last = None
    ctx = None
    for ace in csd.aces:
        sid = ace.sid
        if not (sid in sids or (sid == OWNER_RIGHTS and is_owner)):
            continue
        if ace.condition is not None:
            if ctx is None:
                ctx = (token.eval_context(), csd.resource)
            result = ace.condition(ctx)
            if ace.allow and result is not True:
                continue
            if not ace.allow and result is False:
                continue
        mask = ace.mask
        if ace.allow:
            if want_max:
                granted |= mask & ~denied
            new = remaining & mask
            if new:
                granted |= new
                remaining &= ~new
                last = ace.index
                if not remaining and not want_max:
                    return AccessResult(True, granted, last, "granted")
        else:
            if want_max:
                denied |= mask & ~granted
            if remaining & mask:
                return AccessResult(False, granted & ~mask, ace.index, "denied by ACE")
    if remaining:
        return AccessResult(False, granted, last, "not every right asked for was granted")
    if want_max and not granted:
        return AccessResult(False, 0, None, "no ACE grants any right")
    return AccessResult(True, granted, last, "granted")


def check_bytes(blob: bytes, token: SecurityToken, desired: int) -> bool:
    """Shortcut for hot paths: is ``desired`` granted by the descriptor ``blob``?"""
    try:
        return access_check(compiled_from_bytes(blob), token, desired).allowed
    except SecurityError:
        return False


def authn_policy_check(blob: bytes, token: SecurityToken) -> AccessResult:
    """The check of an authentication policy's AllowedToAuthenticateFrom/To descriptor
    (MS-KILE 3.3.5.6/3.3.5.7): CONTROL_ACCESS (CR) over the DACL. A descriptor that does not
    decode, or has no owner, denies (as Samba's KDC and its Windows-validated tests do)."""
    try:
        csd = compiled_from_bytes(bytes(blob))
    except SecurityError as exc:
        return AccessResult(False, 0, None, f"invalid security descriptor: {exc}")
    if csd.owner is None:
        return AccessResult(False, 0, None, "security descriptor has no owner")
    return access_check(csd, token, ADS_CONTROL_ACCESS)


__all__ += ["authn_policy_check", "check_bytes"]
