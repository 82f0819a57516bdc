"""Security tokens (MS-DTYP 2.5.2): the SIDs, device SIDs and claims an access check uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanman.directory.sid import validate_sid
from lanman.security.aliases import resolve_alias
from lanman.security.claims import BOOLEAN, INT64, OCTET_STRING, STRING, UINT64, ClaimAttribute
from lanman.security.evaluate import claim_value

__all__ = ["SecurityToken", "claim_from_python"]


def _sid(text: str, domain_sid: str | None) -> str:
    sid = resolve_alias(text, domain_sid) if text[:2].upper() != "S-" else None
    return validate_sid(sid or text)


def claim_from_python(name: str, value: Any) -> ClaimAttribute:
    """A claim from a Python value: str, bool, int, bytes, or a list of one of them."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    first = values[0] if values else ""
    if isinstance(first, bool):
        vtype, values = BOOLEAN, tuple(int(v) for v in values)
    elif isinstance(first, int):
        vtype = UINT64 if any(v > (1 << 63) - 1 for v in values) else INT64
    elif isinstance(first, (bytes, bytearray)):
        vtype, values = OCTET_STRING, tuple(bytes(v) for v in values)
    else:
        vtype, values = STRING, tuple(str(v) for v in values)
    return ClaimAttribute(name, vtype, values)


@dataclass(slots=True)
class SecurityToken:
    """A token: ``sids`` are the user SID and every (enabled) group SID; ``device_sids`` are
    those of the device in a compound identity; claims are keyed by name (case-insensitive)."""

    sids: frozenset[str] = frozenset()
    device_sids: frozenset[str] = frozenset()
    user_claims: dict[str, ClaimAttribute] = field(default_factory=dict)
    device_claims: dict[str, ClaimAttribute] = field(default_factory=dict)
    local_claims: dict[str, ClaimAttribute] = field(default_factory=dict)
    user_sid: str | None = None
    privileges: frozenset[str] = frozenset()
    _values: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        sids: Iterable[str] = (),
        *,
        device_sids: Iterable[str] = (),
        user_claims: Mapping[str, Any] | Iterable[ClaimAttribute] = (),
        device_claims: Mapping[str, Any] | Iterable[ClaimAttribute] = (),
        local_claims: Mapping[str, Any] | Iterable[ClaimAttribute] = (),
        privileges: Iterable[str] = (),
        domain_sid: str | None = None,
    ) -> SecurityToken:
        """Build a token from SID strings or aliases (the first SID is the user) and claims
        given as ``{name: value}`` or :class:`ClaimAttribute` objects."""
        sid_list = [_sid(s, domain_sid) for s in sids]

        def claims(src: Any) -> dict[str, ClaimAttribute]:
            items = (
                [claim_from_python(k, v) for k, v in src.items()]
                if isinstance(src, Mapping)
                else list(src)
            )
            # several claims with one name: the last one wins (as Windows does)
            return {c.name.lower(): c for c in items}

        return cls(
            frozenset(sid_list),
            frozenset(_sid(s, domain_sid) for s in device_sids),
            claims(user_claims),
            claims(device_claims),
            claims(local_claims),
            sid_list[0] if sid_list else None,
            frozenset(privileges),
        )

    def eval_context(self) -> tuple:
        """What compiled conditions read: claim operands by name, SIDs, device SIDs, and the
        names of all claims, empty ones included (computed once per token)."""
        if self._values is None:

            def vals(claims: dict[str, ClaimAttribute]) -> dict:
                out = {}
                for key, claim in claims.items():
                    v = claim_value(claim)
                    if v is not None:
                        out[key] = v
                return out

            self._values = (
                vals(self.user_claims),
                vals(self.device_claims),
                vals(self.local_claims),
                self.sids,
                self.device_sids,
                frozenset(self.user_claims),
                frozenset(self.device_claims),
                frozenset(self.local_claims),
            )
        return self._values
