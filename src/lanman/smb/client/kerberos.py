"""Kerberos for lanman's SMB client: when to use it, and where the service ticket comes from.

The client builds the SPN ``cifs/<name as typed>`` (as Windows does). It uses Kerberos when
the target is a name, a ticket for that SPN can be had -- from a credential cache (MIT file
ccache: a cached ``cifs/`` ticket or a TGT) or from a user name and password (AS exchange) --
and the KDC knows the SPN. Otherwise it falls back to NTLM and says why when the reason is
one the user can fix (docs/SOURCES.md signing §7):

* an IP address has no SPN, so Kerberos cannot be used;
* a DNS alias (CNAME) has no SPN unless one was registered for it (``netdom computername
  /add``), so the ticket request fails and NTLM is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from lanman.auth.kerberos import ServiceTicket
from lanman.kerberos import asn1, client, crypto

__all__ = [
    "CcacheCredential",
    "KerberosPlan",
    "KerberosUnavailable",
    "KrbConf",
    "acquire_service_ticket",
    "canonical_name",
    "is_ip_literal",
    "parse_ccache",
    "read_krb5_conf",
]

KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
KDC_ERR_PREAUTH_REQUIRED = 25
_MAX_KDC_REPLY = 1 << 20

WHY_IP = (
    "connecting by IP address forces NTLM: Kerberos needs the service principal name "
    "cifs/<server name>, and no SPN exists for an address. NTLM session keys derive from the "
    "password hash (an attacker who knows or guesses the password and captures the logon can "
    "forge signatures) and NTLM does not authenticate the server. Connect by the server's "
    "name (NetBIOS or DNS) instead."
)
WHY_CNAME = (
    "{host} is a DNS alias (CNAME) of {canonical}: the ticket request for cifs/{host} failed "
    "because no SPN is registered for the alias, so NTLM is used instead of Kerberos (its "
    "keys derive from the password hash; the server is not authenticated). Connect by the "
    "server's real name, or register the alternate name and its SPNs (Windows: `netdom "
    "computername {canonical} /add:{host}`; lanman: `lanman spn add`) instead of a CNAME."
)
WHY_NO_SPN = (
    "the KDC knows no service principal cifs/{host}: NTLM is used instead of Kerberos. "
    "Connect by a name the server is registered under."
)


class KerberosUnavailable(Exception):
    """No ticket could be obtained; ``warning`` is the explanation to show (or "")."""

    def __init__(self, detail: str, warning: str = "", reason: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.warning = warning
        self.reason = reason


# --- names ---------------------------------------------------------------------------------


def is_ip_literal(host: str) -> bool:
    h = host.strip("[]")
    if "%" in h:
        h = h.split("%", 1)[0]
    try:
        ipaddress.ip_address(h)
    except ValueError:
        return False
    return True


def canonical_name(host: str) -> str | None:
    """The canonical DNS name of ``host`` (following CNAMEs), or None when unresolvable."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        if info[3]:
            return info[3].rstrip(".")
    return None


def is_alias(host: str, canonical: str | None) -> bool:
    """True when ``canonical`` is another host than ``host`` (not just its FQDN)."""
    if not canonical:
        return False
    a, b = host.rstrip(".").lower(), canonical.lower()
    if a == b:
        return False
    return a.split(".")[0] != b.split(".")[0]


# --- krb5.conf ------------------------------------------------------------------------------


@dataclass(slots=True)
class KrbConf:
    default_realm: str = ""
    kdcs: dict[str, list[str]] = field(default_factory=dict)


def read_krb5_conf(path: str | os.PathLike | None = None) -> KrbConf:
    """default_realm and [realms] kdc entries (what the client needs; the rest is ignored)."""
    if path is None:
        path = os.environ.get("KRB5_CONFIG", "/etc/krb5.conf").split(":")[0]
    conf = KrbConf()
    try:
        text = Path(path).read_text(errors="replace")[: 1 << 20]
    except OSError:
        return conf
    section, realm = "", ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            section, realm = m.group(1).lower(), ""
            continue
        if section == "libdefaults":
            k, _, v = line.partition("=")
            if k.strip() == "default_realm":
                conf.default_realm = v.strip()
        elif section == "realms":
            m = re.fullmatch(r"(\S+)\s*=\s*\{", line)
            if m:
                realm = m.group(1)
                continue
            if line.startswith("}"):
                realm = ""
                continue
            k, _, v = line.partition("=")
            if realm and k.strip() == "kdc":
                conf.kdcs.setdefault(realm.upper(), []).append(v.strip())
    return conf


# --- MIT file credential cache (ccache v3/v4) ------------------------------------------------


@dataclass(slots=True)
class CcacheCredential:
    client: list[str]
    client_realm: str
    client_name_type: int
    server: list[str]
    server_realm: str
    key: tuple[int, bytes]
    authtime: int
    starttime: int
    endtime: int
    renew_till: int
    flags: int
    ticket: bytes

    @property
    def server_principal(self) -> str:
        return "/".join(self.server) + "@" + self.server_realm


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.off = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.off + n > len(self.data):
            raise ValueError("truncated credential cache")
        out = self.data[self.off : self.off + n]
        self.off += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def counted(self) -> bytes:
        n = self.u32()
        if n > 1 << 20:
            raise ValueError("oversized field in credential cache")
        return self.take(n)

    def principal(self, version: int) -> tuple[int, str, list[str]]:
        name_type = self.u32() if version != 0x0501 else 1
        count = self.u32()
        if version == 0x0501:
            count -= 1
        if count > 64:
            raise ValueError("too many principal components")
        realm = self.counted().decode("utf-8", "replace")
        comps = [self.counted().decode("utf-8", "replace") for _ in range(count)]
        return name_type, realm, comps


def parse_ccache(data: bytes) -> tuple[tuple[str, list[str]] | None, list[CcacheCredential]]:
    """-> ((default realm, components) or None, credentials); config entries skipped."""
    r = _Reader(bytes(data))
    version = r.u16()
    if version not in (0x0503, 0x0504):
        raise ValueError(f"unsupported ccache version 0x{version:04x}")
    if version == 0x0504:
        r.take(r.u16())
    if r.off >= len(r.data):
        return None, []
    _, realm, comps = r.principal(version)
    creds: list[CcacheCredential] = []
    for _ in range(10_000):
        if r.off >= len(r.data):
            break
        ctype, crealm, cl = r.principal(version)
        _, srealm, sv = r.principal(version)
        etype = r.u16()
        if version == 0x0503:
            r.u16()  # keyblock enctype is repeated in version 3
        key = r.counted()
        authtime, starttime, endtime, renew_till = (r.u32() for _ in range(4))
        r.u8()  # is_skey
        flags = r.u32()
        for _ in range(r.u32()):  # addresses
            r.u16()
            r.counted()
        for _ in range(r.u32()):  # authdata
            r.u16()
            r.counted()
        ticket = r.counted()
        r.counted()  # second ticket
        if srealm == "X-CACHECONF:":
            continue
        creds.append(
            CcacheCredential(
                cl,
                crealm,
                ctype,
                sv,
                srealm,
                (etype, key),
                authtime,
                starttime,
                endtime,
                renew_till,
                flags,
                ticket,
            )
        )
    return (realm, comps), creds


def cached_tgt_principal(ccache: str | None = None, now: float | None = None) -> str | None:
    """``user@REALM`` of the credential cache when it holds a live TGT of its own realm
    (``kinit`` was run), else None: what lets a client use Kerberos without -U."""
    path = _ccache_path(ccache)
    if path is None:
        return None
    try:
        default, creds = parse_ccache(path.read_bytes()[: 4 << 20])
    except (OSError, ValueError):
        return None
    if default is None:
        return None
    realm = default[0].upper()
    now = time.time() if now is None else now
    for c in creds:
        if c.server == ["krbtgt", realm] and c.endtime > now + 30:
            return f"{'/'.join(default[1])}@{realm}"
    return None


def _ccache_path(ccache: str | None) -> Path | None:
    name = ccache or os.environ.get("KRB5CCNAME") or f"/tmp/krb5cc_{os.getuid()}"
    if name.startswith("FILE:"):
        name = name[5:]
    elif ":" in name.split("/", 1)[0]:
        return None  # KEYRING:, KCM:, MEMORY: ... not readable here
    p = Path(name)
    return p if p.is_file() else None


# --- KDC exchanges -------------------------------------------------------------------------


def _kdc_send(kdc: str, data: bytes, timeout: float = 10.0) -> bytes:
    host, _, port = kdc.rpartition(":")
    if not host or not port.isdigit():
        host, port = kdc, "88"
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as s:
        s.sendall(struct.pack(">I", len(data)) + data)
        head = _recv(s, 4)
        n = struct.unpack(">I", head)[0]
        if n > _MAX_KDC_REPLY:
            raise OSError("oversized KDC reply")
        return _recv(s, n)


def _recv(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("KDC closed the connection")
        buf += chunk
    return bytes(buf)


def _as_exchange(kdc: str, realm: str, user: str, password: str) -> client.Credentials:
    req, nonce = client.as_req(realm, user)
    rep = _kdc_send(kdc, req)
    if asn1.message_type(rep) != asn1.MSG_KRB_ERROR:
        raise ValueError("the KDC answered an AS-REQ without pre-authentication")
    err = client.parse_error(rep)
    if err.code != KDC_ERR_PREAUTH_REQUIRED:
        raise err
    etype, salt, params = crypto.ETYPE_AES256_CTS_HMAC_SHA1_96, None, None
    if err.e_data:
        for pa in asn1.MethodData.load(err.e_data):
            if pa["padata-type"].native == asn1.PA_ETYPE_INFO2:
                for entry in asn1.ETypeInfo2.load(pa["padata-value"].native):
                    if entry["etype"].native in crypto.SUPPORTED_ETYPES:
                        etype = entry["etype"].native
                        s = entry["salt"].native
                        salt = s.encode("utf-8") if s is not None else None
                        params = entry["s2kparams"].native
                        break
                break
    if salt is None:
        salt = crypto.default_salt(realm, [user], is_computer=False)
    key = crypto.string_to_key(etype, password, salt, params)
    req, nonce = client.as_req(realm, user, key=(etype, key), etypes=[etype])
    return client.parse_as_rep(_kdc_send(kdc, req), key, etype, nonce)


def _tgs_exchange(kdc: str, tgt: client.Credentials, sname: list[str]) -> client.Credentials:
    req, _ = client.tgs_req(tgt, sname)
    return client.parse_tgs_rep(_kdc_send(kdc, req), tgt)


def _creds_from_ccache(c: CcacheCredential) -> client.Credentials:
    return client.Credentials(
        ticket=asn1.Ticket.load(c.ticket),
        session_etype=c.key[0],
        session_key=c.key[1],
        crealm=c.client_realm,
        cname=asn1.principal(c.client_name_type or 1, *c.client),
        flags=c.flags,
        endtime=c.endtime,
        renew_till=c.renew_till or None,
        enc_part=None,  # type: ignore[arg-type]
    )


@dataclass(slots=True)
class KerberosPlan:
    """How the ticket was obtained (for ``ConnectionInfo`` and tests)."""

    spn: str
    source: str  # "ccache service ticket" | "ccache TGT" | "password"
    realm: str


def acquire_service_ticket(
    host: str,
    *,
    user: str = "",
    password: str = "",
    realm: str = "",
    kdc: str = "",
    ccache: str | None = None,
    krb5_conf: str | None = None,
    now: float | None = None,
    auto: bool = False,
) -> tuple[ServiceTicket, KerberosPlan]:
    """A ticket for ``cifs/<host>``; raises :class:`KerberosUnavailable` with the reason.

    ``auto`` (Kerberos not explicitly requested): only a credential cache holding a ticket of
    the realm or an explicit ``kdc`` make Kerberos worth trying -- a system krb5.conf alone
    does not send a password to its KDCs."""
    now = time.time() if now is None else now
    conf = read_krb5_conf(krb5_conf)
    cache_creds: list[CcacheCredential] = []
    default_principal = None
    path = _ccache_path(ccache)
    if path is not None and not password:
        try:
            default_principal, cache_creds = parse_ccache(path.read_bytes()[: 4 << 20])
        except (OSError, ValueError):
            cache_creds = []
    if user and "@" in user:
        user, _, urealm = user.partition("@")
        realm = realm or urealm.upper()
    realm = (
        realm or (default_principal[0] if default_principal else "") or conf.default_realm
    ).upper()
    if not realm:
        raise KerberosUnavailable("no Kerberos realm known (no ccache, krb5.conf or --realm)")
    if (
        user
        and default_principal
        and not password
        and "/".join(default_principal[1]).lower() != user.lower()
    ):
        cache_creds = []  # the cache belongs to someone else
    live = [c for c in cache_creds if c.endtime > now + 30 and c.server_realm.upper() == realm]
    if auto and not live and not kdc:
        raise KerberosUnavailable("no Kerberos ticket cached and no KDC given")
    if is_ip_literal(host):
        # Only worth a warning when Kerberos was otherwise possible.
        raise KerberosUnavailable(f"{host} is an IP address", WHY_IP, "ip")
    sname = ["cifs", host]
    spn = f"cifs/{host}@{realm}"
    for c in live:
        if [x.lower() for x in c.server] == [
            x.lower() for x in sname
        ] and c.server_realm.upper() == realm:
            creds = _creds_from_ccache(c)
            return (
                ServiceTicket.from_credentials(creds, spn),
                KerberosPlan(spn, "ccache service ticket", realm),
            )
    kdcs = [kdc] if kdc else conf.kdcs.get(realm, [])
    if not kdcs:
        raise KerberosUnavailable(f"no KDC known for {realm}")
    tgt = None
    source = ""
    for c in live:
        if c.server == ["krbtgt", realm] and c.server_realm.upper() == realm:
            tgt, source = _creds_from_ccache(c), "ccache TGT"
            break
    errors: list[str] = []
    for k in kdcs[:3]:
        try:
            if tgt is None:
                if not (user and password):
                    raise KerberosUnavailable("no ticket-granting ticket and no password")
                tgt, source = _as_exchange(k, realm, user, password), "password"
            creds = _tgs_exchange(k, tgt, sname)
            return ServiceTicket.from_credentials(creds, spn), KerberosPlan(spn, source, realm)
        except client.KrbErrorReply as e:
            if e.code == KDC_ERR_S_PRINCIPAL_UNKNOWN:
                canon = canonical_name(host)
                if is_alias(host, canon):
                    raise KerberosUnavailable(
                        f"no SPN {spn}", WHY_CNAME.format(host=host, canonical=canon), "cname"
                    ) from None
                raise KerberosUnavailable(
                    f"no SPN {spn}", WHY_NO_SPN.format(host=host), "no_spn"
                ) from None
            errors.append(f"{k}: KRB-ERROR {e.code} {e.e_text}".strip())
        except (OSError, ValueError, crypto.CryptoError) as e:
            errors.append(f"{k}: {e}")
    raise KerberosUnavailable("; ".join(errors) or "no KDC answered")
