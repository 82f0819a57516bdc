"""``lanman.toml``: server settings that are not per-share or per-account.

Layout (one flat table; unknown keys are an error so that typos do not go unnoticed)::

    [server]
    listen = "127.0.0.1"
    smb_port = 4445
    server_name = "LANMAN"
    domain_name = "WORKGROUP"
    require_security_signature = true   # LanmanServer\\Parameters\\RequireSecuritySignature
    enable_security_signature = true    # ...\\EnableSecuritySignature (SMB1 only on Windows)
    map_to_guest = false
    smb1_enabled = false                # EnableSMB1Protocol: SMB1 (NT LM 0.12) off by default
    encryption_ciphers = "AES_128_GCM,AES_128_CCM,AES_256_GCM,AES_256_CCM"  # EncryptionCiphers
    server_guid = "..."                 # uuid4, generated on first save
    max_connections = 256
    max_connections_per_address = 128   # simultaneous connections from one source address
    preauth_timeout = 60                # seconds to finish NEGOTIATE + SESSION_SETUP
    max_buffered_mib = 256              # receive buffers all connections together may hold
    oplock_break_timeout = 35           # seconds a CREATE waits for an oplock/lease break ack
    directory_leasing = true            # SMB 3.x directory leases (R/RH on directories)
    event_log_max_kib = 20480           # event log maximum; the oldest events go first
    kdc_port = 4088                     # KDC (UDP+TCP) when a domain is provisioned

Read with :mod:`tomllib`; written by the small writer below (flat tables of str/int/bool).
A file that does not parse or holds a wrong value raises :class:`ConfigError` naming the file,
the line and what is wrong; the file is never rewritten behind the user's back.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["CONFIG_FILE", "ConfigError", "ServerConfig", "load_config", "save_config"]

CONFIG_FILE = "lanman.toml"
_TABLE = "server"


class ConfigError(ValueError):
    """``lanman.toml`` is unreadable or wrong. ``str(e)`` names file, line and problem."""

    def __init__(
        self, message: str, remedy: str = "", *, path: Path | None = None, line: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.path = path
        self.line = line


@dataclass(slots=True)
class ServerConfig:
    listen: str = "127.0.0.1"
    smb_port: int = 4445
    server_name: str = "LANMAN"
    domain_name: str = "WORKGROUP"
    require_security_signature: bool = True  # LanmanServer RequireSecuritySignature, 24H2 default
    enable_security_signature: bool = True
    map_to_guest: bool = False  # guest mapping off by default
    smb1_enabled: bool = False  # Set-SmbServerConfiguration -EnableSMB1Protocol; off by default
    server_guid: str = ""  # generated uuid4 on first save, persisted
    max_connections: int = 256
    max_connections_per_address: int = 128
    preauth_timeout: int = 60  # seconds for NEGOTIATE + SESSION_SETUP to produce a session
    #: MiB of receive buffers all connections together may hold (frames arriving or waiting
    #: for a worker); past it large frames wait (TransportLimits.max_buffered)
    max_buffered_mib: int = 256
    #: seconds a conflicting CREATE waits for an oplock/lease break acknowledgment (Windows:
    #: 35; MS-SMB2 3.3.2.1 Oplock Break Acknowledgment Timer)
    oplock_break_timeout: int = 35
    #: SMB 3.x directory leases (SMB2_GLOBAL_CAP_DIRECTORY_LEASING): clients cache listings
    #: until an entry changes; off where the share also changes beyond inotify's sight (NFS)
    directory_leasing: bool = True
    event_log_max_kib: int = 20480  # like Windows' Security log: 20 MiB, overwrite oldest
    kdc_port: int = 4088  # KDC UDP+TCP port when a domain is provisioned (Windows: 88)
    #: Set-SmbServerConfiguration -EncryptionCiphers: the SMB 3.1.1 ciphers offered, in the
    #: server's order of preference (Windows Server 2025's default order).
    encryption_ciphers: str = "AES_128_GCM,AES_128_CCM,AES_256_GCM,AES_256_CCM"


def _check_listen(v: str) -> str | None:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return 'is not an IPv4 or IPv6 address (for example "127.0.0.1" or "0.0.0.0")'
    return None


def _check_port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be between 1 and 65535"


_NETBIOS_BAD = set('\\/:*?"<>|.')


def netbios_host_name(host_name: str) -> str:
    """The NetBIOS computer name Windows and Samba derive from a DNS host name: the first
    label, upper-cased, cut to 15 characters, characters NetBIOS forbids replaced by ``-``
    (MS-NBTE 2.2.1); ``LANMAN`` when nothing usable is left."""
    label = host_name.split(".", 1)[0].strip().upper()[:15]
    name = "".join("-" if c in _NETBIOS_BAD or ord(c) < 0x21 else c for c in label).strip("-")
    return name or "LANMAN"


def _check_netbios(v: str) -> str | None:
    if not 1 <= len(v) <= 15:
        return "must be 1 to 15 characters (NetBIOS name)"
    if any(c in _NETBIOS_BAD or ord(c) < 0x20 for c in v):
        return 'may not contain \\ / : * ? " < > | . or control characters'
    return None


def _check_domain(v: str) -> str | None:
    if not 1 <= len(v) <= 15:
        return "must be 1 to 15 characters (NetBIOS domain name)"
    if any(c in _NETBIOS_BAD or ord(c) < 0x20 for c in v):
        return 'may not contain \\ / : * ? " < > | . or control characters'
    return None


def _check_guid(v: str) -> str | None:
    if v == "":
        return None
    try:
        uuid.UUID(v)
    except ValueError:
        return 'is not a GUID (for example "0f8fad5b-d9cb-469f-a165-70867728950e")'
    return None


def _check_max_conn(v: int) -> str | None:
    return None if 1 <= v <= 65536 else "must be between 1 and 65536"


def _check_preauth(v: int) -> str | None:
    return None if 1 <= v <= 3600 else "must be between 1 and 3600 (seconds)"


def _check_buffered(v: int) -> str | None:
    # at least two of the largest frames (8 MiB WRITE + headers) must fit
    return None if 24 <= v <= 65536 else "must be between 24 and 65536 (MiB)"


def _check_break_timeout(v: int) -> str | None:
    return None if 1 <= v <= 300 else "must be between 1 and 300 (seconds)"


def _check_log_size(v: int) -> str | None:
    return None if 64 <= v <= 4 * 1024 * 1024 else "must be between 64 and 4194304 (KiB)"


def _check_ciphers(v: str) -> str | None:
    from lanman.crypto.smb_encryption import parse_cipher_names

    try:
        parse_cipher_names(v)
    except ValueError as e:
        return f'{e} (a comma-separated list, e.g. "AES_128_GCM,AES_256_GCM")'
    return None


_CHECKS = {
    "encryption_ciphers": _check_ciphers,
    "event_log_max_kib": _check_log_size,
    "max_connections_per_address": _check_max_conn,
    "preauth_timeout": _check_preauth,
    "max_buffered_mib": _check_buffered,
    "oplock_break_timeout": _check_break_timeout,
    "listen": _check_listen,
    "smb_port": _check_port,
    "server_name": _check_netbios,
    "domain_name": _check_domain,
    "server_guid": _check_guid,
    "max_connections": _check_max_conn,
    "kdc_port": _check_port,
}
_TYPES: dict[str, type] = {
    f.name: type(getattr(ServerConfig(), f.name)) for f in fields(ServerConfig)
}
_TYPE_NAMES = {bool: "true or false", int: "an integer", str: "a quoted string"}


def validate(cfg: ServerConfig) -> list[tuple[str, str]]:
    """Return ``[(key, problem), ...]`` for every invalid field."""
    problems = []
    for key, typ in _TYPES.items():
        value = getattr(cfg, key)
        if type(value) is not typ:
            problems.append((key, f"must be {_TYPE_NAMES[typ]}"))
            continue
        check = _CHECKS.get(key)
        if check and (msg := check(value)):
            problems.append((key, msg))
    return problems


def _line_of(text: str, key: str, table: str | None = _TABLE) -> int | None:
    """Best-effort line number (1-based) of ``key = ...`` (or ``[table]``) in ``text``."""
    pat = re.compile(rf"^\s*(?:\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
    if table is None:
        pat = re.compile(rf"^\s*\[\s*{re.escape(key)}\s*\]")
    for i, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return i
    return None


def load_config(home: Path) -> ServerConfig:
    """Read ``home/lanman.toml``; a missing file gives the defaults (nothing is written)."""
    path = Path(home) / CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ServerConfig()
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot read: {e.strerror}", "check the file's permissions", path=path
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not valid UTF-8 (byte {e.start})",
            "save the file as UTF-8",
            path=path,
            line=line,
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib messages end with "(at line L, column C)"; keep them, lead with file:line.
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(
            f"{where}: invalid TOML: {msg}",
            f"fix the syntax at that line, or move {path.name} away to start from the defaults",
            path=path,
            line=line,
        ) from None

    cfg = ServerConfig()
    for key in doc:
        if key != _TABLE:
            line = _line_of(text, key) or _line_of(text, key, None)
            raise ConfigError(
                f"{path}:{line or '?'}: unknown {'table' if isinstance(doc[key], dict) else 'key'}"
                f" {key!r}; settings belong in the [{_TABLE}] table",
                f"move it under [{_TABLE}] or remove it",
                path=path,
                line=line,
            )
    table = doc.get(_TABLE, {})
    for key, value in table.items():
        line = _line_of(text, key)
        if key not in _TYPES:
            known = ", ".join(_TYPES)
            raise ConfigError(
                f"{path}:{line or '?'}: unknown key {key!r} in [{_TABLE}]",
                f"known keys: {known}",
                path=path,
                line=line,
            )
        typ = _TYPES[key]
        if type(value) is not typ:
            raise ConfigError(
                f"{path}:{line or '?'}: {key} must be {_TYPE_NAMES[typ]}, not {value!r}",
                f"for example: {key} = {_format(_example(key))}",
                path=path,
                line=line,
            )
        setattr(cfg, key, value)
    for key, problem in validate(cfg):
        line = _line_of(text, key)
        raise ConfigError(
            f"{path}:{line or '?'}: {key} = {_format(getattr(cfg, key))} {problem}",
            f"fix the value or delete the line to use the default "
            f"({_format(getattr(ServerConfig(), key))})",
            path=path,
            line=line,
        )
    return cfg


def _example(key: str) -> object:
    return str(uuid.uuid4()) if key == "server_guid" else getattr(ServerConfig(), key)


def save_config(home: Path, cfg: ServerConfig) -> None:
    """Write ``home/lanman.toml`` atomically. Generates ``server_guid`` if it is empty
    (and stores it in ``cfg``). Invalid values raise :class:`ConfigError` before writing."""
    if not cfg.server_guid:
        cfg.server_guid = str(uuid.uuid4())
    problems = validate(cfg)
    if problems:
        key, problem = problems[0]
        raise ConfigError(f"{key} = {_format(getattr(cfg, key))} {problem}", "give a valid value")
    path = Path(home) / CONFIG_FILE
    text = dumps({_TABLE: {f.name: getattr(cfg, f.name) for f in fields(ServerConfig)}})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise ConfigError(
            f"{path}: cannot write: {e.strerror}",
            "check that the home directory is writable",
            path=path,
        ) from None


# --- tiny TOML writer (flat tables of str / int / bool) ---------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        out = ['"']
        for ch in value:
            o = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\t":
                out.append("\\t")
            elif o < 0x20 or o == 0x7F:
                out.append(f"\\u{o:04X}")
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _format(k)


def dumps(tables: dict[str, dict[str, object]]) -> str:
    lines = [
        "# lanman configuration. `lanman smb server-config set` edits this file;",
        "# hand edits are fine (restart `lanman up` to apply).",
    ]
    for name, table in tables.items():
        lines.append("")
        lines.append(f"[{_key(name)}]")
        for k, v in table.items():
            lines.append(f"{_key(k)} = {_format(v)}")
    return "\n".join(lines) + "\n"
