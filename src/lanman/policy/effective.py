"""Effective values: Group Policy wins, "not defined" falls through to local, then the profile.

:func:`effective_setting` is the pure rule. :func:`client_policy` / :func:`server_policy` apply
it to the values a host's SMB client / server actually reads under its profile (an NT 4.0 SP3
client reads ``Rdr\\Parameters``, a modern one ``LanmanWorkstation\\Parameters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lanman.policy.catalogue import CATALOGUE, RegistryValue, by_name
from lanman.policy.layers import HostPolicy, Layer
from lanman.policy.profiles import Default, Profile, get_profile

__all__ = [
    "ORIGINS",
    "ClientPolicy",
    "ServerPolicy",
    "Setting",
    "client_policy",
    "effective_setting",
    "resolve",
    "resolve_all",
    "server_policy",
]

Origin = Literal["group policy", "local", "default"]
ORIGINS: tuple[str, ...] = ("group policy", "local", "default")

LayerLike = Layer | Mapping[str, int | None] | None


def _layer_value(layer: LayerLike, entry: RegistryValue) -> int | None:
    if layer is None:
        return None
    if isinstance(layer, Layer):
        return layer.catalogue_value(entry)
    return layer.get(entry.name)


def effective_setting(
    name: str, local: LayerLike, group: LayerLike, profile: Profile | str
) -> tuple[int | None, Origin]:
    """Effective data of catalogue value ``name`` and where it comes from.

    ``local`` / ``group`` are layers (or ``{catalogue name: data}`` mappings; a missing key or
    None is "not defined"). Group Policy wins; otherwise the local registry; otherwise the
    profile's default — which is None when the profile does not read the value at all.
    """
    entry = by_name(name)
    prof = get_profile(profile) if isinstance(profile, str) else profile
    g = _layer_value(group, entry)
    if g is not None:
        return g, "group policy"
    v = _layer_value(local, entry)
    if v is not None:
        return v, "local"
    return prof.default(entry.name).value, "default"


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective value with its origin, and the layers it was resolved from."""

    entry: RegistryValue
    value: int | None
    origin: str
    local: int | None
    group: int | None
    default: Default

    @property
    def enabled(self) -> bool:
        return bool(self.value)

    @property
    def applicable(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.entry.name,
            "path": self.entry.path,
            "group_policy_name": self.entry.gp_name,
            "value": self.value,
            "origin": self.origin,
            "local": self.local,
            "group": self.group,
            "default": self.default.value,
            "default_source": self.default.source,
            "default_confirmed": self.default.confirmed,
            "conflict": self.default.conflict or None,
        }


def resolve(host: HostPolicy, name: str) -> Setting:
    entry = by_name(name)
    value, origin = effective_setting(entry.name, host.local, host.group, host.profile)
    return Setting(
        entry=entry,
        value=value,
        origin=origin,
        local=host.local.catalogue_value(entry),
        group=host.group.catalogue_value(entry),
        default=host.profile.default(entry.name),
    )


def resolve_all(host: HostPolicy) -> list[Setting]:
    return [resolve(host, v.name) for v in CATALOGUE]


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """What the host's SMB client obeys. ``allow_insecure_guest`` None: no such rule (SMB1-only
    clients accept guest sessions)."""

    enable: Setting
    require: Setting
    allow_insecure_guest: Setting | None

    @property
    def require_signing(self) -> bool:
        return self.require.enabled

    @property
    def enable_signing(self) -> bool:
        """SMB1 only; SMB2+ ignores EnableSecuritySignature. Require implies enable."""
        return self.enable.enabled or self.require.enabled

    @property
    def insecure_guest_allowed(self) -> bool:
        return True if self.allow_insecure_guest is None else self.allow_insecure_guest.enabled


@dataclass(frozen=True, slots=True)
class ServerPolicy:
    """What the host's SMB server obeys; None settings: the profile has no signing server."""

    enable: Setting | None
    require: Setting | None

    @property
    def require_signing(self) -> bool:
        return self.require is not None and self.require.enabled

    @property
    def enable_signing(self) -> bool:
        """SMB1 only. Require implies enable (MS-CIFS: 0x08 only with 0x04)."""
        return self.require_signing or (self.enable is not None and self.enable.enabled)


def client_policy(host: HostPolicy) -> ClientPolicy:
    cv = host.profile.client_values
    assert cv is not None
    en, req, guest = cv
    return ClientPolicy(
        enable=resolve(host, en),
        require=resolve(host, req),
        allow_insecure_guest=resolve(host, guest) if guest else None,
    )


def server_policy(host: HostPolicy) -> ServerPolicy:
    sv = host.profile.server_values
    if sv is None:
        return ServerPolicy(None, None)
    return ServerPolicy(enable=resolve(host, sv[0]), require=resolve(host, sv[1]))
