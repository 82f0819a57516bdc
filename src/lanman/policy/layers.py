"""Per-host policy state: one profile plus two registry layers, persisted in the lanman home.

A :class:`Layer` is a small registry: ``(key, value name) -> RegData``. The **local** layer is
what ``reg add``/regedit/``Set-Smb*Configuration`` write; the **group** layer is what Group
Policy applies (values under ``HKLM\\SOFTWARE\\Policies`` always belong to it). Layers hold any
registry value a ``.reg`` file brings, so that import/export round-trips; only catalogue values
(:mod:`lanman.policy.catalogue`) are interpreted.

Storage: ``policy.toml`` in the home, written atomically::

    profile = "win11-24h2-enterprise"

    [lanman_toml]                 # what lanman last wrote to lanman.toml's [server] table
    require_security_signature = true
    enable_security_signature = true

    [[local]]
    key = "HKLM\\\\SYSTEM\\\\CurrentControlSet\\\\Services\\\\LanmanServer\\\\Parameters"
    value = "RequireSecuritySignature"
    type = "REG_DWORD"
    data = 0

    [[group]]
    ...

lanman.toml's ``require_security_signature`` / ``enable_security_signature`` stay valid: lanman
keeps them equal to the *effective* server values; a hand edit that makes them differ from
``[lanman_toml]`` is taken as a local-layer change (see :func:`absorb_lanman_toml`). A home
without ``policy.toml`` behaves as the default profile with empty layers (plus that rule, with
lanman.toml's own defaults as the baseline).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from lanman.policy.catalogue import (
    RegistryValue,
    is_policies_key,
    key_id,
    lookup_path,
    normalize_key,
)
from lanman.policy.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile

__all__ = [
    "POLICY_FILE",
    "HostPolicy",
    "Layer",
    "PolicyFileError",
    "RegData",
    "load_host",
    "save_host",
]

POLICY_FILE = "policy.toml"
SCOPES = ("local", "group")

REG_TYPES = {
    "REG_NONE": 0,
    "REG_SZ": 1,
    "REG_EXPAND_SZ": 2,
    "REG_BINARY": 3,
    "REG_DWORD": 4,
    "REG_DWORD_BIG_ENDIAN": 5,
    "REG_LINK": 6,
    "REG_MULTI_SZ": 7,
    "REG_RESOURCE_LIST": 8,
    "REG_FULL_RESOURCE_DESCRIPTOR": 9,
    "REG_RESOURCE_REQUIREMENTS_LIST": 10,
    "REG_QWORD": 11,
}
REG_TYPE_NAMES = {v: k for k, v in REG_TYPES.items()}


class PolicyFileError(ValueError):
    def __init__(self, message: str, remedy: str = ""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


@dataclass(frozen=True, slots=True)
class RegData:
    """A registry value's type and data: int for REG_DWORD, str for REG_SZ, bytes otherwise."""

    type: int
    data: int | str | bytes

    @classmethod
    def dword(cls, v: int) -> RegData:
        return cls(REG_TYPES["REG_DWORD"], int(v))

    @classmethod
    def multi_sz(cls, names: tuple[str, ...]) -> RegData:
        """REG_MULTI_SZ as the registry stores it: UTF-16LE strings, each NUL-terminated,
        then an empty string (an empty list is two NULs)."""
        text = "".join(n + "\0" for n in names) + "\0"
        return cls(REG_TYPES["REG_MULTI_SZ"], text.encode("utf-16-le"))

    def names(self) -> tuple[str, ...] | None:
        """The strings of a REG_MULTI_SZ (None for any other type or undecodable data)."""
        if self.type != REG_TYPES["REG_MULTI_SZ"] or not isinstance(self.data, bytes):
            return None
        if len(self.data) % 2:
            return None
        text = self.data.decode("utf-16-le", "replace")
        return tuple(n for n in text.split("\0") if n.strip())

    @property
    def type_name(self) -> str:
        return REG_TYPE_NAMES.get(self.type, f"REG_TYPE_{self.type}")


@dataclass(slots=True)
class Layer:
    """An ordered registry: ``(key id, value id) -> (key, value name, RegData)``."""

    entries: dict[tuple[str, str], tuple[str, str, RegData]] = field(default_factory=dict)

    def set(self, key: str, value: str, data: RegData) -> None:
        key = normalize_key(key)
        self.entries[(key_id(key), value.casefold())] = (key, value, data)

    def get(self, key: str, value: str) -> RegData | None:
        hit = self.entries.get((key_id(key), value.casefold()))
        return hit[2] if hit else None

    def delete(self, key: str, value: str) -> bool:
        return self.entries.pop((key_id(key), value.casefold()), None) is not None

    def delete_key(self, key: str) -> int:
        """Delete every value of ``key`` and its subkeys; return how many."""
        k = key_id(key)
        doomed = [i for i in self.entries if i[0] == k or i[0].startswith(k + "\\")]
        for i in doomed:
            del self.entries[i]
        return len(doomed)

    def copy(self) -> Layer:
        return Layer(dict(self.entries))

    def items(self) -> list[tuple[str, str, RegData]]:
        return list(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    # --- catalogue view ---------------------------------------------------------------

    def catalogue_value(self, entry: RegistryValue) -> int | tuple[str, ...] | None:
        """The DWORD (or, for a REG_MULTI_SZ list, the tuple of names) this layer sets for
        ``entry`` (None: not defined). In the group layer the Group Policy location (Policies
        key) wins over the plain key."""
        for key in (entry.gp_key, entry.key):
            if key is None:
                continue
            d = self.get(key, entry.value)
            if d is None:
                continue
            if entry.is_list:
                names = d.names()
                if names is not None:
                    return names
            elif isinstance(d.data, int) and d.type == REG_TYPES["REG_DWORD"]:
                return d.data
        return None

    def set_catalogue(
        self, entry: RegistryValue, value: int | tuple[str, ...] | None, scope: str
    ) -> None:
        """Set (or with None remove) ``entry`` where the given scope keeps it."""
        key = entry.gp_key if scope == "group" and entry.gp_key else entry.key
        for k in (entry.key, entry.gp_key):
            if k:
                self.delete(k, entry.value)
        if value is None:
            return
        if entry.is_list:
            self.set(key, entry.value, RegData.multi_sz(tuple(value)))  # type: ignore[arg-type]
        else:
            self.set(key, entry.value, RegData.dword(int(value)))  # type: ignore[arg-type]

    def catalogue_values(self) -> dict[str, int | tuple[str, ...]]:
        """``{catalogue name: DWORD}`` for every catalogue value this layer defines."""
        out: dict[str, int | tuple[str, ...]] = {}
        for key, value, _data in self.items():
            hit = lookup_path(key, value)
            if hit is not None:
                v = self.catalogue_value(hit[0])
                if v is not None:
                    out[hit[0].name] = v
        return out


def target_scope(key: str, scope: str) -> str:
    """The layer a value at ``key`` goes to when written with ``scope``."""
    return "group" if is_policies_key(key) else scope


@dataclass(slots=True)
class HostPolicy:
    """A host: one profile plus local and Group Policy layers."""

    profile_name: str = DEFAULT_PROFILE
    local: Layer = field(default_factory=Layer)
    group: Layer = field(default_factory=Layer)
    #: lanman.toml [server] signing values as lanman last wrote them (None: never written)
    lanman_toml: dict[str, bool] = field(default_factory=dict)
    exists: bool = False

    @property
    def profile(self) -> Profile:
        return get_profile(self.profile_name)

    def layer(self, scope: str) -> Layer:
        if scope not in SCOPES:
            raise ValueError(scope)
        return self.local if scope == "local" else self.group

    def copy(self) -> HostPolicy:
        return HostPolicy(
            self.profile_name,
            self.local.copy(),
            self.group.copy(),
            dict(self.lanman_toml),
            self.exists,
        )


# --- persistence --------------------------------------------------------------------------


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _data_to_toml(d: RegData) -> str:
    if d.type == REG_TYPES["REG_DWORD"] and isinstance(d.data, int):
        return str(d.data)
    if d.type == REG_TYPES["REG_SZ"] and isinstance(d.data, str):
        return _toml_str(d.data)
    assert isinstance(d.data, bytes)
    return _toml_str("hex:" + d.data.hex())


def dumps_host(host: HostPolicy) -> str:
    lines = [
        "# lanman host policy: profile, local (registry) layer, Group Policy layer.",
        "# Written by `lanman profile use`, `lanman policy set`, `lanman smb *-config set`,",
        "# `lanman registry import`. Restart `lanman up` to apply.",
        f"profile = {_toml_str(host.profile_name)}",
    ]
    if host.lanman_toml:
        lines += ["", "[lanman_toml]"]
        for k, v in host.lanman_toml.items():
            lines.append(f"{k} = {'true' if v else 'false'}")
    for scope in SCOPES:
        for key, value, data in host.layer(scope).items():
            lines += [
                "",
                f"[[{scope}]]",
                f"key = {_toml_str(key)}",
                f"value = {_toml_str(value)}",
                f"type = {_toml_str(data.type_name)}",
                f"data = {_data_to_toml(data)}",
            ]
    return "\n".join(lines) + "\n"


def _parse_entry(path: Path, scope: str, i: int, e: object) -> tuple[str, str, RegData]:
    where = f"{path}: [[{scope}]] entry {i + 1}"
    if not isinstance(e, dict) or not {"key", "value", "type", "data"} <= set(e):
        raise PolicyFileError(f"{where}: needs key, value, type and data", _REMEDY)
    key, value, tname, data = e["key"], e["value"], e["type"], e["data"]
    if not isinstance(key, str) or not isinstance(value, str) or tname not in REG_TYPES:
        raise PolicyFileError(f"{where}: bad key, value or type {tname!r}", _REMEDY)
    t = REG_TYPES[tname]
    if t == REG_TYPES["REG_DWORD"]:
        if type(data) is not int or not 0 <= data <= 0xFFFFFFFF:
            raise PolicyFileError(f"{where}: REG_DWORD data must be 0..4294967295", _REMEDY)
        return key, value, RegData(t, data)
    if t == REG_TYPES["REG_SZ"]:
        if not isinstance(data, str):
            raise PolicyFileError(f"{where}: REG_SZ data must be a string", _REMEDY)
        return key, value, RegData(t, data)
    if not isinstance(data, str) or not re.fullmatch(r"hex:([0-9a-fA-F]{2})*", data):
        raise PolicyFileError(f'{where}: {tname} data must be "hex:..."', _REMEDY)
    return key, value, RegData(t, bytes.fromhex(data[4:]))


_REMEDY = "fix the entry, or export what you need and delete policy.toml to start over"


def load_host(home: Path) -> HostPolicy:
    """Read ``home/policy.toml``; a missing file gives the default profile, empty layers."""
    path = Path(home) / POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return HostPolicy()
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyFileError(f"{path}: cannot read: {e}", "check the file") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyFileError(f"{path}: invalid TOML: {e}", _REMEDY) from None
    name = doc.get("profile", DEFAULT_PROFILE)
    if not isinstance(name, str) or name.lower() not in PROFILES:
        raise PolicyFileError(
            f"{path}: unknown profile {name!r}", "lanman profile list shows the known profiles"
        )
    host = HostPolicy(profile_name=name.lower(), exists=True)
    mirror = doc.get("lanman_toml", {})
    if isinstance(mirror, dict):
        host.lanman_toml = {k: v for k, v in mirror.items() if isinstance(v, bool)}
    for scope in SCOPES:
        entries = doc.get(scope, [])
        if not isinstance(entries, list):
            raise PolicyFileError(
                f"{path}: {scope} must be an array of tables [[{scope}]]", _REMEDY
            )
        layer = host.layer(scope)
        for i, e in enumerate(entries):
            layer.set(*_parse_entry(path, scope, i, e))
    return host


def save_host(home: Path, host: HostPolicy) -> None:
    """Write ``home/policy.toml`` atomically (temp file + fsync + rename)."""
    path = Path(home) / POLICY_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(dumps_host(host))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise PolicyFileError(f"{path}: cannot write: {e.strerror}", "check permissions") from None
    host.exists = True
