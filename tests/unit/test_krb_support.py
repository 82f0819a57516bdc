"""In-memory directory implementing the lanman.directory contract, for the KDC unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from lanman.kerberos import crypto

REALM = "LANMAN.TEST"
DOMAIN_SID = "S-1-5-21-1111-2222-3333"


@dataclass
class FakePrincipal:
    name: str
    realm: str
    upn: str
    sid: str
    rid: int
    kind: str
    keys: dict[int, bytes]
    salt: bytes
    kvno: int
    spns: list[str]
    group_rids: list[int]
    extra_sids: list[str] = field(default_factory=list)
    disabled: bool = False
    locked: bool = False
    expires: int | None = None
    password_expired: bool = False
    protected_user: bool = False
    uac: int = 0x200
    delegate_to: list[str] = field(default_factory=list)  # msDS-AllowedToDelegateTo
    allowed_to_act: bytes | None = None  # msDS-AllowedToActOnBehalfOfOtherIdentity


def make_principal(name, password, rid, kind="user", spns=(), rc4=True, groups=None):
    if kind == "computer":
        salt = crypto.default_salt(REALM, [name], is_computer=True, computer_name=name)
    elif kind == "krbtgt":
        salt = (REALM + "krbtgt").encode()
    else:
        salt = crypto.default_salt(REALM, [name], is_computer=False)
    keys = {e: crypto.string_to_key(e, password, salt) for e in (18, 17)}
    if rc4:
        keys[23] = crypto.string_to_key(23, password, b"")
    return FakePrincipal(
        name=name,
        realm=REALM,
        upn=f"{name}@{REALM.lower()}",
        sid=f"{DOMAIN_SID}-{rid}",
        rid=rid,
        kind=kind,
        keys=keys,
        salt=salt,
        kvno=2,
        spns=list(spns),
        group_rids=groups or ([515] if kind == "computer" else [513]),
    )


class FakeDirectory:
    realm = REALM
    domain = "LANMAN"
    domain_sid = DOMAIN_SID
    dc_name = "DC1"
    dns_domain = REALM.lower()

    def __init__(self) -> None:
        self.principals: dict[str, FakePrincipal] = {}
        self.failures: list[str] = []
        self.add(make_principal("krbtgt", "krbtgt-secret", 502, kind="krbtgt", rc4=True))
        self.add(make_principal("alice", "Passw0rd!", 1103))
        self.add(make_principal("bob", "Bob-Pass-1", 1104, rc4=False))
        self.add(
            make_principal(
                "DC1$",
                "machine-secret",
                1000,
                kind="computer",
                spns=["cifs/dc1.lanman.test", "host/dc1.lanman.test", "host/DC1"],
            )
        )

    def add(self, p: FakePrincipal) -> FakePrincipal:
        self.principals[p.name.lower()] = p
        return p

    def find_principal(self, name: str):
        n = name.lower()
        if "@" in n:
            n, _, realm = n.partition("@")
            if realm.upper() != REALM and realm != self.dns_domain:
                return None
        if n in self.principals:
            return self.principals[n]
        if n + "$" in self.principals:
            return self.principals[n + "$"]
        return None

    def find_by_spn(self, spn: str):
        s = spn.lower().partition("@")[0]
        for p in self.principals.values():
            if any(x.lower() == s for x in p.spns):
                return p
        return None

    def krbtgt(self):
        return self.principals["krbtgt"]

    def record_logon_failure(self, name: str) -> None:
        self.failures.append(name)

    def record_logon_success(self, name: str) -> None:
        pass


def write_keytab(path, principal: str, realm: str, keys: dict[int, bytes], kvno: int) -> None:
    """MIT keytab (format 0x0502) for ``principal`` ("svc/host" or "name")."""
    import struct
    import time

    def counted(b: bytes) -> bytes:
        return struct.pack(">H", len(b)) + b

    comps = principal.split("/")
    out = b"\x05\x02"
    for etype, key in keys.items():
        ent = struct.pack(">H", len(comps)) + counted(realm.encode())
        ent += b"".join(counted(c.encode()) for c in comps)
        ent += struct.pack(">IIBH", 1, int(time.time()), kvno & 0xFF, etype) + counted(key)
        ent += struct.pack(">I", kvno)
        out += struct.pack(">i", len(ent)) + ent
    with open(path, "wb") as f:
        f.write(out)
