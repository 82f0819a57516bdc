"""Target specifications for ``lanman scan``: host, address, CIDR, host:port, @file.

Pure parsing (no DNS, no sockets). A CIDR block expands to at most :data:`MAX_ADDRESSES`
addresses in total across all specifications; above the cap :class:`TargetError` says so
(the scanner refuses nothing else: it is the administrator's tool, and it sends traffic only
to the targets given).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_PORT", "MAX_ADDRESSES", "Target", "TargetError", "parse_targets"]

DEFAULT_PORT = 445
MAX_ADDRESSES = 4096
MAX_FILE_LINES = 100_000


class TargetError(ValueError):
    """A target specification that cannot be used (bad syntax, CIDR above the cap)."""


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int = DEFAULT_PORT

    @property
    def label(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return h if self.port == DEFAULT_PORT else f"{h}:{self.port}"


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"{spec!r}: port must be 1-65535")
    return int(text)


def _split(spec: str, default_port: int) -> tuple[str, int]:
    """host | host:port | [v6] | [v6]:port | bare v6 | CIDR (v6 CIDR only bare or [..])."""
    s = spec.strip()
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise TargetError(f"{spec!r}: missing ']'")
        host, rest = s[1:end], s[end + 1 :]
        if not rest:
            return host, default_port
        if not rest.startswith(":"):
            raise TargetError(f"{spec!r}: expected ':port' after ']'")
        return host, _port(rest[1:], spec)
    if s.count(":") == 1:
        host, port = s.split(":")
        return host, _port(port, spec)
    return s, default_port  # a name, an IPv4 address or CIDR, or a bare IPv6 address


def _expand(host: str, port: int, spec: str, budget: int) -> list[Target]:
    if "/" in host:
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError as e:
            raise TargetError(f"{spec!r}: {e}") from None
        if net.num_addresses > 2 and net.version == 4:
            hosts = net.num_addresses - 2  # network and broadcast are not hosts
        else:
            hosts = net.num_addresses
        if hosts > budget:
            raise TargetError(
                f"{spec!r} expands to {net.num_addresses} addresses; lanman scan takes at most "
                f"{MAX_ADDRESSES} in one run (split the range or use a longer prefix)"
            )
        addrs = list(net.hosts()) if net.num_addresses > 2 else list(net)
        return [Target(str(a), port) for a in addrs]
    if not host:
        raise TargetError(f"{spec!r}: empty host")
    if any(c.isspace() for c in host):
        raise TargetError(f"{spec!r}: spaces in a host name")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass  # a host name, resolved at scan time
    return [Target(host, port)]


def _lines(path: str) -> Iterable[str]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise TargetError(f"@{path}: {e.strerror or e}") from None
    for i, line in enumerate(text.splitlines()):
        if i >= MAX_FILE_LINES:
            raise TargetError(f"@{path}: more than {MAX_FILE_LINES} lines")
        line = line.split("#", 1)[0].strip()
        if line:
            yield from line.split()


def parse_targets(specs: Iterable[str], default_port: int = DEFAULT_PORT) -> list[Target]:
    """Expand ``specs`` (order kept, duplicates dropped); at most :data:`MAX_ADDRESSES`."""
    out: list[Target] = []
    seen: set[Target] = set()

    def add(spec: str) -> None:
        host, port = _split(spec, default_port)
        for t in _expand(host, port, spec, MAX_ADDRESSES - len(out)):
            if t not in seen:
                seen.add(t)
                out.append(t)
        if len(out) > MAX_ADDRESSES:
            raise TargetError(f"more than {MAX_ADDRESSES} targets in one run")

    for spec in specs:
        if spec.startswith("@"):
            for line in _lines(spec[1:]):
                add(line)
        else:
            add(spec)
    if not out:
        raise TargetError("no targets given")
    return out
