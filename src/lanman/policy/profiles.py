"""Per-release defaults of every catalogue value, each with its documented source.

A :class:`Profile` gives, for every :data:`~lanman.policy.catalogue.CATALOGUE` entry, either a
:class:`Default` (the data a fresh install behaves as if it had, the document that says so, and
any disagreement between documents) or :data:`NOT_APPLICABLE` (the release does not read the
value). It also names which catalogue values its SMB client and server actually read: an
NT 4.0 SP3 client reads ``Rdr\\Parameters``, a Windows 98 client ``VxD\\VNETSUP``.

Sources are cited by short names; see docs/SOURCES.md signing §4.2 (defaults table) and §5
(guest logons), docs/SOURCES.md msg §2 (AllowRemoteRPC).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from lanman.policy.catalogue import CATALOGUE

__all__ = [
    "DEFAULT_PROFILE",
    "NOT_APPLICABLE",
    "PROFILES",
    "Default",
    "Profile",
    "get_profile",
]


@dataclass(frozen=True, slots=True)
class Default:
    """A default value. ``value`` None means the release does not read it (not applicable)."""

    value: int | tuple[str, ...] | None  # a tuple of names for REG_MULTI_SZ lists
    source: str
    conflict: str = ""
    confirmed: bool = True

    @property
    def applicable(self) -> bool:
        return self.value is not None


NOT_APPLICABLE = Default(None, "the release does not read this value")

# --- sources ----------------------------------------------------------------------------------
KB887429 = "KB 887429 (docs/SOURCES.md signing §4.2: NT4/2000/XP/2003 client enabled, not required)"
KB887429_DC = "KB 887429 (docs/SOURCES.md signing §4.2: server signing enabled on DCs only)"
KB887429_2003DC = "KB 887429 (docs/SOURCES.md signing §4.2: required on Windows Server 2003 DCs)"
KB887429_FIRST = (
    "KB 887429 (docs/SOURCES.md signing §4.2: NT 4.0 SP3 / Windows 98 first with signing)"
)
ANATOMY_CLIENT = (
    "Anatomy blog 'Signing configuration' (Get-SmbClientConfiguration: Enable=True, Require=False)"
)
ANATOMY_SERVER = (
    "Anatomy blog 'Signing configuration' (Get-SmbServerConfiguration: Enable=False, Require=False)"
)
SIGNING_24H2 = "windowsserverdocs smb-signing.md (10/25/2024; docs/SOURCES.md signing §4.2)"
DC_POLICY = (
    "windows-itpro-docs microsoft-network-server-digitally-sign-communications-always.md "
    "(Default Domain Controller Policy = Enabled); smb-signing-overview.md"
)
GUEST_1709 = (
    "enable-insecure-guest-logons-smb2-and-smb3.md (docs/SOURCES.md signing §5: Windows 10 1709+ "
    "Enterprise/Education/Pro for Workstations and Server block SMB2/3 guest by default)"
)
GUEST_24H2_PRO = (
    "enable-insecure-guest-logons-smb2-and-smb3.md (docs/SOURCES.md signing §5: Home/Pro allowed until "
    "Windows 11 Pro Insider 25267, then blocked in 24H2 Pro)"
)
W9X = "Policy CSP LocalPoliciesSecurityOptions (docs/SOURCES.md signing §4.1: must be set to 1 on W2000)"
REMOTE_RPC = "docs/SOURCES.md msg §2 ('Default 0 on Vista+ client SKUs' widely reported)"

HARDENING_CONFLICT = (
    "smb-security-hardening.md says 24H2 and Server 2025 require signing for 'all outbound "
    "and inbound' connections; the more specific windowsserverdocs smb-signing.md says Server 2025 requires it "
    "outbound only and 24H2 Home neither. lanman follows windowsserverdocs smb-signing.md."
)
SMB1_ONLY = "ignored by SMB2+; SMB1 is not installed by default on this release"


def _na(why: str) -> Default:
    return Default(None, why)


def _unconfirmed(value: int, source: str, conflict: str = "") -> Default:
    return Default(value, source, conflict, confirmed=False)


# Names of catalogue entries, short.
LW_REQ = "LanmanWorkstation.RequireSecuritySignature"
LW_EN = "LanmanWorkstation.EnableSecuritySignature"
LW_GUEST = "LanmanWorkstation.AllowInsecureGuestAuth"
LS_REQ = "LanmanServer.RequireSecuritySignature"
LS_EN = "LanmanServer.EnableSecuritySignature"
LS_W9X = "LanmanServer.EnableW9xsecuritysignature"
RDR_REQ = "Rdr.RequireSecuritySignature"
RDR_EN = "Rdr.EnableSecuritySignature"
VN_REQ = "VNETSUP.RequireSecuritySignature"
VN_EN = "VNETSUP.EnableSecuritySignature"
REMOTE = "TerminalServer.AllowRemoteRPC"
LS_DELAY = "LanmanServer.InvalidAuthenticationDelayTimeInMs"
LS_ENC = "LanmanServer.EncryptData"
LS_REJ = "LanmanServer.RejectUnencryptedAccess"
RA = "Lsa.RestrictAnonymous"
RA_SAM = "Lsa.RestrictAnonymousSAM"
RNSA = "LanmanServer.RestrictNullSessAccess"
NS_PIPES = "LanmanServer.NullSessionPipes"
NS_SHARES = "LanmanServer.NullSessionShares"
_SP = "windows-itpro-docs security-policy-settings "
ANON_ENUM = _SP + "network-access-do-not-allow-anonymous-enumeration-of-sam-accounts-and-shares.md"
ANON_SAM = _SP + "network-access-do-not-allow-anonymous-enumeration-of-sam-accounts.md"
ANON_RESTRICT = _SP + "network-access-restrict-anonymous-access-to-named-pipes-and-shares.md"
ANON_PIPES = _SP + "network-access-named-pipes-that-can-be-accessed-anonymously.md"
ANON_SHARES = _SP + "network-access-shares-that-can-be-accessed-anonymously.md"
#: "Previous to the release of Windows Server 2003 with Service Pack 1 (SP1) these named pipes
#: were allowed anonymous access by default" (the RestrictNullSessAccess page's impact section).
LEGACY_PIPES = (
    "COMNAP",
    "COMNODE",
    "SQL\\QUERY",
    "SPOOLSS",
    "LLSRPC",
    "netlogon",
    "lsarpc",
    "samr",
    "browser",
)
DC_PIPES = ("lsarpc", "netlogon", "samr")
SMB3_ENCRYPTION = (
    "Set-SmbServerConfiguration: EncryptData $false and RejectUnencryptedAccess $true by "
    "default since SMB 3.0 (Windows 8 / Server 2012)"
)
RATE_LIMITER = (
    "SMB authentication rate limiter (Windows 11 24H2 and Server 2025 security hardening): "
    "2,000 ms by default"
)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    title: str
    defaults: MappingProxyType  # catalogue name -> Default
    #: catalogue names the SMB client reads: (enable, require, allow insecure guest or None)
    client_values: tuple[str, str, str | None] | None
    #: catalogue names the SMB server reads: (enable, require); None: no SMB server signing
    server_values: tuple[str, str] | None = (LS_EN, LS_REQ)
    dialects: str = "SMB2/3 (SMB1 off by default)"
    is_dc: bool = False
    notes: tuple[str, ...] = ()

    def default(self, name: str) -> Default:
        return self.defaults[name]


_NO_RATE_LIMITER = _na("no SMB authentication rate limiter before Windows 11 24H2 / Server 2025")

_NO_SMB3 = _na("no SMB 3 encryption before Windows 8 / Server 2012")

_LEGACY_NA = {
    LS_DELAY: _NO_RATE_LIMITER,
    LS_ENC: _NO_SMB3,
    LS_REJ: _NO_SMB3,
    LS_W9X: _na("only Windows 2000 servers read EnableW9xsecuritysignature"),
    RDR_REQ: _na("NT 4.0 redirector value"),
    RDR_EN: _na("NT 4.0 redirector value"),
    VN_REQ: _na("Windows 98 value"),
    VN_EN: _na("Windows 98 value"),
}
_GUEST_NA = _na("SMB1-only client: the insecure-guest block is an SMB2/3 (Windows 10 1709+) rule")
_RPC_PRE_VISTA = _na("no documented AllowRemoteRPC default before Windows Vista")


def _anonymous(name: str, dc: bool) -> dict[str, Default]:
    """RestrictAnonymous & co. per release (docs/SOURCES.md anonymous)."""
    if name == "win98":
        na = _na("Windows 98 file sharing has no Server service null-session policy")
        return {RA: na, RA_SAM: na, RNSA: na, NS_PIPES: na, NS_SHARES: na}
    legacy = name.startswith(("nt4", "win2000", "xp", "server2003"))
    restricted = ANON_RESTRICT + "; KB 126645: null sessions restricted by default since NT 3.5"
    out = {
        RA: Default(0, ANON_ENUM + " (Disabled everywhere)")
        if not legacy
        else _unconfirmed(0, ANON_ENUM, "the page covers Windows 10 and later; carried back"),
        RNSA: Default(1, restricted)
        if not legacy
        else _unconfirmed(1, restricted, "the value's default is documented for Windows 10+"),
    }
    if name.startswith(("nt4", "win2000")):
        out[RA_SAM] = _na("RestrictAnonymousSAM first appears in Windows XP / Server 2003")
    else:
        out[RA_SAM] = Default(1, ANON_SAM + " (Enabled everywhere)")
    if legacy:
        out[NS_PIPES] = _unconfirmed(
            LEGACY_PIPES,
            ANON_RESTRICT + " (pipes anonymous by default before Server 2003 SP1)",
            "the page gives one list for all pre-SP1 releases, not per release or role",
        )
        out[NS_SHARES] = _unconfirmed(
            ("COMCFG", "DFS$"),
            "HSC 'Windows network services internals' 4.7.4 (XP/2003)",
            "not from a Microsoft page; carried to NT 4.0 / 2000 without a source",
        )
    else:
        out[NS_PIPES] = (
            Default(DC_PIPES, ANON_PIPES + "; DC effective default netlogon, samr, lsarpc")
            if dc
            else Default((), ANON_PIPES + "; member server / client: none (CIS: blank)")
        )
        out[NS_SHARES] = Default((), ANON_SHARES + " (none)")
    return out


def _profile(
    name: str,
    title: str,
    values: dict[str, Default],
    *,
    client: tuple[str, str, str | None] | None = (LW_EN, LW_REQ, LW_GUEST),
    server: tuple[str, str] | None = (LS_EN, LS_REQ),
    dialects: str = "SMB2/3 (SMB1 off by default)",
    is_dc: bool = False,
    notes: tuple[str, ...] = (),
) -> Profile:
    full = dict(_LEGACY_NA)
    full.update(_anonymous(name, is_dc))
    full.update(values)
    missing = [v.name for v in CATALOGUE if v.name not in full]
    extra = [k for k in full if k not in {v.name for v in CATALOGUE}]
    if missing or extra:  # pragma: no cover - caught by the completeness test at import
        raise AssertionError(f"profile {name}: missing {missing}, unknown {extra}")
    return Profile(
        name=name,
        title=title,
        defaults=MappingProxyType(full),
        client_values=client,
        server_values=server,
        dialects=dialects,
        is_dc=is_dc,
        notes=notes,
    )


def _nt4(dc: bool) -> Profile:
    server = (
        {LS_EN: Default(1, KB887429_DC), LS_REQ: Default(0, KB887429_DC)}
        if dc
        else {LS_EN: Default(0, KB887429_DC), LS_REQ: Default(0, KB887429_DC)}
    )
    return _profile(
        "nt4-sp3-dc" if dc else "nt4-sp3",
        f"Windows NT 4.0 SP3{' domain controller' if dc else ''}",
        {
            LW_REQ: _na("NT 4.0's client is the redirector (Rdr\\Parameters)"),
            LW_EN: _na("NT 4.0's client is the redirector (Rdr\\Parameters)"),
            LW_GUEST: _GUEST_NA,
            RDR_EN: Default(1, KB887429_FIRST),
            RDR_REQ: Default(0, KB887429),
            REMOTE: _RPC_PRE_VISTA,
            **server,
        },
        client=(RDR_EN, RDR_REQ, None),
        dialects="SMB1 only",
        is_dc=dc,
        notes=("Rdr\\Parameters names are [unconfirmed] (KB 887429 part not retrievable).",),
    )


def _legacy_nt(name: str, title: str, dc: bool, require_on_dc: bool, w9x: bool) -> Profile:
    if dc:
        server = {
            LS_EN: Default(1, KB887429_DC),
            LS_REQ: Default(1, KB887429_2003DC) if require_on_dc else Default(0, KB887429_DC),
        }
    else:
        server = {LS_EN: Default(0, KB887429_DC), LS_REQ: Default(0, KB887429_DC)}
    vals: dict[str, Default] = {
        LW_EN: Default(1, KB887429),
        LW_REQ: Default(0, KB887429),
        LW_GUEST: _GUEST_NA,
        REMOTE: _RPC_PRE_VISTA,
        **server,
    }
    if w9x:
        vals[LS_W9X] = _unconfirmed(
            0, W9X, "no document gives the default; 'must be set to 1' implies 0 or absent"
        )
    notes: tuple[str, ...] = ()
    if dc and not require_on_dc:
        notes = (
            (
                "DC policy 'required' is documented for 'all modern' DCs and Windows Server "
                "2003 DCs; for Windows 2000 DCs KB 887429 says only 'enabled'."
            ),
        )
    return _profile(
        name, title, vals, client=(LW_EN, LW_REQ, None), dialects="SMB1 only", is_dc=dc, notes=notes
    )


def _modern(
    name: str,
    title: str,
    *,
    client_require: Default,
    server_require: Default,
    server_enable: Default,
    guest: Default,
    remote_rpc: Default,
    dc: bool = False,
    notes: tuple[str, ...] = (),
    rate_limiter: bool = True,
) -> Profile:
    return _profile(
        name,
        title,
        {
            LW_EN: Default(1, ANATOMY_CLIENT, confirmed=name == "win10"),
            LW_REQ: client_require,
            LW_GUEST: guest,
            LS_EN: server_enable,
            LS_REQ: server_require,
            REMOTE: remote_rpc,
            LS_DELAY: Default(2000, RATE_LIMITER) if rate_limiter else _NO_RATE_LIMITER,
            LS_ENC: Default(0, SMB3_ENCRYPTION),
            LS_REJ: Default(1, SMB3_ENCRYPTION),
        },
        is_dc=dc,
        notes=notes,
    )


_RPC_CLIENT = _unconfirmed(0, REMOTE_RPC, "not confirmed by a Microsoft page")
_RPC_SERVER = _unconfirmed(
    0, REMOTE_RPC, "reported for client SKUs only; lanman assumes the same for server SKUs"
)
_SE_CARRIED = _unconfirmed(
    0, ANATOMY_SERVER + "; not documented for this release, carried from Windows 10", SMB1_ONLY
)
_SE_ON_24H2 = _unconfirmed(
    1,
    SIGNING_24H2 + " requires signing; EnableSecuritySignature assumed on with it",
    "Windows 10's default was 0 (Anatomy blog); " + SMB1_ONLY,
)
_SE_DC = Default(1, KB887429_DC + "; " + DC_POLICY)


def _win11(edition: str, home: bool, guest: Default) -> Profile:
    req = (
        Default(0, SIGNING_24H2 + ": Home does not require signing", HARDENING_CONFLICT)
        if home
        else Default(1, SIGNING_24H2 + ": Enterprise/Pro/Education require signing", "")
    )
    return _modern(
        f"win11-24h2-{edition.lower()}",
        f"Windows 11 24H2 {edition}",
        client_require=req,
        server_require=req,
        server_enable=_SE_CARRIED if home else _SE_ON_24H2,
        guest=guest,
        remote_rpc=_RPC_CLIENT,
    )


PROFILES: MappingProxyType = MappingProxyType(
    {
        p.name: p
        for p in (
            _nt4(dc=False),
            _nt4(dc=True),
            _profile(
                "win98",
                "Windows 98",
                {
                    LW_REQ: _na("Windows 98's client reads VxD\\VNETSUP"),
                    LW_EN: _na("Windows 98's client reads VxD\\VNETSUP"),
                    LW_GUEST: _GUEST_NA,
                    LS_REQ: _na("Windows 98 file sharing has no SMB signing"),
                    LS_EN: _na("Windows 98 file sharing has no SMB signing"),
                    VN_EN: Default(1, KB887429_FIRST + "; outbound enabled"),
                    VN_REQ: Default(0, KB887429_FIRST),
                    REMOTE: _na("no Terminal Server component"),
                },
                client=(VN_EN, VN_REQ, None),
                server=None,
                dialects="SMB1 only",
                notes=("VxD\\VNETSUP names are [unconfirmed] (KB 887429 part not retrievable).",),
            ),
            _legacy_nt("win2000", "Windows 2000", dc=False, require_on_dc=False, w9x=True),
            _legacy_nt("win2000-dc", "Windows 2000 DC", dc=True, require_on_dc=False, w9x=True),
            _legacy_nt("xp", "Windows XP", dc=False, require_on_dc=False, w9x=False),
            _legacy_nt(
                "server2003", "Windows Server 2003", dc=False, require_on_dc=False, w9x=False
            ),
            _legacy_nt(
                "server2003-dc", "Windows Server 2003 DC", dc=True, require_on_dc=True, w9x=False
            ),
            _modern(
                "win10",
                "Windows 10 (Home/Pro, 1709 and later)",
                client_require=Default(0, ANATOMY_CLIENT),
                server_require=Default(0, ANATOMY_SERVER),
                server_enable=Default(0, ANATOMY_SERVER),
                guest=Default(
                    1,
                    GUEST_1709 + "; Home/Pro allowed",
                    "Enterprise, Education and Pro for Workstations block guest (0) since 1709; "
                    "use a win11-24h2 profile or a local override for those editions",
                ),
                remote_rpc=_RPC_CLIENT,
                rate_limiter=False,
            ),
            _win11(
                "Home",
                home=True,
                guest=_unconfirmed(
                    1,
                    GUEST_24H2_PRO,
                    "24H2 documents the block for Pro, not Home; Home assumed still allowed",
                ),
            ),
            _win11("Pro", home=False, guest=Default(0, GUEST_24H2_PRO)),
            _win11("Enterprise", home=False, guest=Default(0, GUEST_1709)),
            _win11("Education", home=False, guest=Default(0, GUEST_1709)),
            _modern(
                "server2025",
                "Windows Server 2025 (member server)",
                client_require=Default(1, SIGNING_24H2 + ": Server 2025 requires outbound"),
                server_require=Default(
                    0, SIGNING_24H2 + ": not required inbound (except DC)", HARDENING_CONFLICT
                ),
                server_enable=_SE_CARRIED,
                guest=Default(0, GUEST_1709),
                remote_rpc=_RPC_SERVER,
            ),
            _modern(
                "server2025-dc",
                "Windows Server 2025 domain controller",
                client_require=Default(1, SIGNING_24H2 + ": Server 2025 requires outbound"),
                server_require=Default(1, DC_POLICY),
                server_enable=_SE_DC,
                guest=Default(0, GUEST_1709),
                remote_rpc=_RPC_SERVER,
                dc=True,
                notes=(
                    (
                        "On Windows the DC requirement comes from the Default Domain "
                        "Controllers Policy GPO; lanman shows it as the profile default."
                    ),
                ),
            ),
        )
    }
)

#: The profile of a new lanman home: its documented defaults are lanman's own — the server and
#: the client require signing and insecure guest logons are blocked (Windows 11 24H2
#: Enterprise). server2025 is not the default: windowsserverdocs smb-signing.md gives it no inbound requirement.
DEFAULT_PROFILE = "win11-24h2-enterprise"


def get_profile(name: str) -> Profile:
    """Profile by name (case-insensitive); KeyError with the known names otherwise."""
    try:
        return PROFILES[name.strip().lower()]
    except KeyError:
        raise KeyError(name) from None
