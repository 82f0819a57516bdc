"""The host policy of a lanman home, kept consistent with lanman.toml.

``lanman.toml``'s ``[server]`` keys ``require_security_signature`` and
``enable_security_signature`` predate the policy model. They stay valid:

* lanman writes them as the *effective* server values whenever the policy changes, and records
  what it wrote in ``policy.toml`` (``[lanman_toml]``);
* if lanman.toml then holds something else, someone edited it by hand: that edit is a
  local-layer change (LanmanServer\\Parameters value) and is absorbed into ``policy.toml``;
* a home without ``policy.toml`` uses lanman.toml's own defaults as that record, so a home
  whose lanman.toml says ``require_security_signature = false`` keeps serving unsigned.

``map_to_guest`` is not a registry value; it stays in lanman.toml and shows as "local" when
it differs from its default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from lanman.config import ServerConfig, save_config
from lanman.policy.catalogue import by_name
from lanman.policy.effective import ServerPolicy, Setting, resolve, server_policy
from lanman.policy.layers import HostPolicy, load_host, save_host

__all__ = [
    "TOML_KEYS",
    "EffectiveServer",
    "absorb_lanman_toml",
    "commit_host",
    "effective_server",
    "open_host",
]

AUTH_DELAY = "LanmanServer.InvalidAuthenticationDelayTimeInMs"
ENCRYPT_DATA = "LanmanServer.EncryptData"
REJECT_UNENCRYPTED = "LanmanServer.RejectUnencryptedAccess"
#: the anonymous-access values, in AnonymousPolicy.of's argument order
ANONYMOUS_VALUES = (
    "Lsa.RestrictAnonymous",
    "Lsa.RestrictAnonymousSAM",
    "LanmanServer.RestrictNullSessAccess",
    "LanmanServer.NullSessionPipes",
    "LanmanServer.NullSessionShares",
)

#: lanman.toml [server] key -> catalogue value it mirrors
TOML_KEYS = {
    "require_security_signature": "LanmanServer.RequireSecuritySignature",
    "enable_security_signature": "LanmanServer.EnableSecuritySignature",
}


def _baseline(host: HostPolicy) -> dict[str, bool]:
    defaults = ServerConfig()
    return {k: host.lanman_toml.get(k, getattr(defaults, k)) for k in TOML_KEYS}


def absorb_lanman_toml(host: HostPolicy, cfg: ServerConfig) -> HostPolicy:
    """Pure: a copy of ``host`` whose local layer includes lanman.toml hand edits."""
    out = host.copy()
    base = _baseline(host)
    for key, name in TOML_KEYS.items():
        value = getattr(cfg, key)
        if value != base[key]:
            out.local.set_catalogue(by_name(name), int(value), "local")
    return out


def open_host(home) -> HostPolicy:
    """The home's host policy with lanman.toml hand edits applied (nothing is written)."""
    return absorb_lanman_toml(load_host(home.path), home.config)


def commit_host(home, host: HostPolicy) -> None:
    """Save ``policy.toml``, then make lanman.toml hold the effective server values."""
    sp = server_policy(host)
    eff = {
        "require_security_signature": sp.require_signing,
        "enable_security_signature": bool(sp.enable and sp.enable.value),
    }
    host.lanman_toml = dict(eff)
    save_host(home.path, host)
    cfg = home.config
    if any(getattr(cfg, k) != v for k, v in eff.items()):
        new = ServerConfig(**{f.name: getattr(cfg, f.name) for f in fields(ServerConfig)})
        for k, v in eff.items():
            setattr(new, k, v)
        save_config(home.path, new)
        home.config = new


@dataclass(frozen=True, slots=True)
class EffectiveServer:
    """What ``lanman up`` serves with, and why."""

    profile: str
    policy: ServerPolicy
    map_to_guest: bool
    map_to_guest_origin: str
    auth_delay: Setting  # LanmanServer InvalidAuthenticationDelayTimeInMs
    encrypt: Setting | None = None  # LanmanServer EncryptData
    reject_unencrypted: Setting | None = None  # LanmanServer RejectUnencryptedAccess
    anonymous_settings: tuple[Setting, ...] = ()  # ANONYMOUS_VALUES, resolved

    @property
    def anonymous(self):
        """The :class:`~lanman.policy.anonymous.AnonymousPolicy` the server enforces."""
        from lanman.policy.anonymous import AnonymousPolicy

        if not self.anonymous_settings:
            return AnonymousPolicy()
        return AnonymousPolicy.of(*(s.value for s in self.anonymous_settings))

    @property
    def encrypt_data(self) -> bool:
        """EncryptData; off where the profile has no SMB 3 encryption."""
        return bool(self.encrypt is not None and self.encrypt.value)

    @property
    def reject_unencrypted_access(self) -> bool:
        """RejectUnencryptedAccess; Windows' default (on) where the profile has no value."""
        s = self.reject_unencrypted
        return True if s is None or s.value is None else bool(s.value)

    @property
    def auth_delay_ms(self) -> int:
        """The rate limiter's delay; 0 (off) where the profile has no rate limiter."""
        return self.auth_delay.value or 0

    @property
    def require_message_signing(self) -> bool:
        return self.policy.require_signing

    @property
    def require_origin(self) -> str:
        return self.policy.require.origin if self.policy.require else "default"

    def describe(self) -> str:
        a = self.anonymous
        req = "required" if self.require_message_signing else "not required"
        return (
            f"RequireSecuritySignature: signing {req} (origin: {self.require_origin}; "
            f"profile {self.profile}); MapToGuest {self.map_to_guest} "
            f"(origin: {self.map_to_guest_origin}); InvalidAuthenticationDelayTimeInMs "
            f"{self.auth_delay_ms} (origin: {self.auth_delay.origin}); EncryptData "
            f"{self.encrypt_data}; RejectUnencryptedAccess {self.reject_unencrypted_access}; "
            f"RestrictAnonymous {a.restrict_anonymous}; RestrictNullSessAccess "
            f"{int(a.restrict_null_sess_access)}; NullSessionPipes "
            f"{','.join(sorted(a.null_session_pipes)) or '(none)'}; NullSessionShares "
            f"{','.join(sorted(a.null_session_shares)) or '(none)'}"
        )


def effective_server(home) -> EffectiveServer:
    host = open_host(home)
    cfg = home.config
    return EffectiveServer(
        profile=host.profile_name,
        policy=server_policy(host),
        map_to_guest=cfg.map_to_guest,
        map_to_guest_origin="local"
        if cfg.map_to_guest != ServerConfig().map_to_guest
        else "default",
        auth_delay=resolve(host, AUTH_DELAY),
        encrypt=resolve(host, ENCRYPT_DATA),
        reject_unencrypted=resolve(host, REJECT_UNENCRYPTED),
        anonymous_settings=tuple(resolve(host, n) for n in ANONYMOUS_VALUES),
    )
