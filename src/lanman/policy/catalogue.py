"""The one table of registry values that lanman's policy model knows.

Every value that the documents behind docs/SOURCES.md (signing §3-5, msg §2) name is
one :class:`RegistryValue`: full key path, value name, type, allowed data, the Group Policy
setting that controls it (display name, where in the editor, and the registry key Group Policy
writes to when that differs from the local key), and the PowerShell parameter.

Per-release defaults are not here; they are in :mod:`lanman.policy.profiles`.

Registry paths are compared case-insensitively, as Windows does. ``HKLM`` and
``HKEY_LOCAL_MACHINE`` are the same root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "CATALOGUE",
    "GP_SECURITY_OPTIONS",
    "RegistryValue",
    "by_gp_name",
    "by_name",
    "lookup_path",
    "normalize_key",
]

REG_DWORD = "REG_DWORD"
REG_MULTI_SZ = "REG_MULTI_SZ"

#: Group Policy editor location of the "Microsoft network client/server" settings.
GP_SECURITY_OPTIONS = (
    "Computer Configuration\\Windows Settings\\Security Settings\\Local Policies\\Security Options"
)
GP_LANMAN_WORKSTATION = (
    "Computer Configuration\\Administrative Templates\\Network\\Lanman Workstation"
)
GP_LANMAN_SERVER = "Computer Configuration\\Administrative Templates\\Network\\Lanman Server"

_SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
_LSA = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa"
_ANON_DOC = (
    "windows-itpro-docs security-policy-settings (learn.microsoft.com/previous-versions/windows/"
    "it-pro/windows-10/security/threat-protection/security-policy-settings/):"
)

_ROOTS = {
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKEY_CURRENT_USER": "HKCU",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKEY_USERS": "HKU",
    "HKEY_CURRENT_CONFIG": "HKCC",
}
_SHORT_ROOTS = {v: k for k, v in _ROOTS.items()}


def normalize_key(key: str) -> str:
    """Canonical form of a key path: short root (``HKLM``), single backslashes, no trailing
    backslash. Case is kept (comparisons use :func:`key_id`)."""
    parts = [p for p in key.strip().replace("/", "\\").split("\\") if p]
    if not parts:
        return ""
    root = parts[0].upper()
    parts[0] = _ROOTS.get(root, root if root in _SHORT_ROOTS else parts[0])
    return "\\".join(parts)


def long_key(key: str) -> str:
    """``HKLM\\X`` -> ``HKEY_LOCAL_MACHINE\\X`` (the spelling regedit writes)."""
    key = normalize_key(key)
    root, _, rest = key.partition("\\")
    root = _SHORT_ROOTS.get(root, root)
    return f"{root}\\{rest}" if rest else root


def key_id(key: str) -> str:
    return normalize_key(key).casefold()


def is_policies_key(key: str) -> bool:
    """True for keys under ``HKLM\\SOFTWARE\\Policies``: only Group Policy writes there."""
    k = key_id(key)
    return k == "hklm\\software\\policies" or k.startswith("hklm\\software\\policies\\")


@dataclass(frozen=True, slots=True)
class RegistryValue:
    """One registry value. ``name`` is lanman's stable id (``Service.Value``)."""

    name: str
    key: str  # full key path, HKLM\...
    value: str  # value name
    role: str  # "client" | "server" | "rpc" — which service reads it
    summary: str
    meaning: MappingProxyType  # data -> what it means
    type: str = REG_DWORD
    #: Group Policy display name and editor location (None: no Group Policy setting).
    gp_name: str | None = None
    gp_location: str | None = None
    #: Where Group Policy writes the value, when not to ``key`` itself (Administrative
    #: Templates write under HKLM\SOFTWARE\Policies; Security Options write to ``key``).
    gp_key: str | None = None
    #: PowerShell: cmdlet parameter that sets it, and the Get-* property that shows it.
    powershell: str | None = None
    #: SMB2 and later ignore it (EnableSecuritySignature: "only affect the SMBv1 behavior").
    smb1_only: bool = False
    #: Where the documents say this value exists; and what they leave open.
    source: str = ""
    note: str = ""
    aliases: tuple[str, ...] = field(default=())
    #: (lowest, highest) for a number rather than a choice; ``meaning`` then names landmarks.
    data_range: tuple[int, int] | None = None

    @property
    def allowed(self) -> tuple[int, ...]:
        return tuple(self.meaning)

    @property
    def is_list(self) -> bool:
        """A REG_MULTI_SZ list of names (NullSessionPipes, NullSessionShares)."""
        return self.type == REG_MULTI_SZ

    def accepts(self, data: int | tuple[str, ...]) -> bool:
        """Whether ``data`` is a value Windows documents for this setting."""
        if self.is_list:
            return isinstance(data, tuple) and all(
                isinstance(n, str) and n and "\0" not in n for n in data
            )
        if not isinstance(data, int):
            return False
        if self.data_range is not None:
            return self.data_range[0] <= data <= self.data_range[1]
        return data in self.meaning

    def describe_allowed(self) -> str:
        if self.is_list:
            return "a comma-separated list of names (empty: none)"
        if self.data_range is not None:
            lo, hi = self.data_range
            return f"a number from {lo} to {hi}"
        return ", ".join(f"dword:{a:08x}" for a in self.allowed)

    @property
    def path(self) -> str:
        return f"{self.key}\\{self.value}"

    @property
    def gp_path(self) -> str | None:
        """Full registry path Group Policy writes to."""
        if self.gp_name is None:
            return None
        return f"{self.gp_key or self.key}\\{self.value}"

    @property
    def ps_property(self) -> str | None:
        """``Set-SmbClientConfiguration -RequireSecuritySignature`` -> ``RequireSecuritySignature``."""
        if not self.powershell:
            return None
        return self.powershell.rsplit("-", 1)[1]


def _m(off: str, on: str) -> MappingProxyType:
    return MappingProxyType({0: off, 1: on})


_SIGN_DOC = (
    "docs/SOURCES.md signing §4.1 (windowsserverdocs smb-signing-overview.md; KB 916846 table; "
    "KB 887429)"
)
_SMB2_IGNORES = (
    "SMB2 and later ignore EnableSecuritySignature (smb-signing-overview.md: 'this setting does "
    "nothing unless you're using SMB1'); SMB2/3 signing depends only on RequireSecuritySignature."
)

CATALOGUE: tuple[RegistryValue, ...] = (
    RegistryValue(
        name="LanmanWorkstation.RequireSecuritySignature",
        key=f"{_SERVICES}\\LanmanWorkstation\\Parameters",
        value="RequireSecuritySignature",
        role="client",
        summary="SMB client always signs; refuses servers that will not sign and guest sessions",
        meaning=_m("not required", "required"),
        gp_name="Microsoft network client: Digitally sign communications (always)",
        gp_location=GP_SECURITY_OPTIONS,
        powershell="Set-SmbClientConfiguration -RequireSecuritySignature",
        source=_SIGN_DOC,
    ),
    RegistryValue(
        name="LanmanWorkstation.EnableSecuritySignature",
        key=f"{_SERVICES}\\LanmanWorkstation\\Parameters",
        value="EnableSecuritySignature",
        role="client",
        summary="SMB1 client signs if the server agrees",
        meaning=_m("disabled", "enabled"),
        gp_name="Microsoft network client: Digitally sign communications (if server agrees)",
        gp_location=GP_SECURITY_OPTIONS,
        powershell="Set-SmbClientConfiguration -EnableSecuritySignature",
        smb1_only=True,
        source=_SIGN_DOC,
        note=_SMB2_IGNORES,
    ),
    RegistryValue(
        name="LanmanWorkstation.AllowInsecureGuestAuth",
        key=f"{_SERVICES}\\LanmanWorkstation\\Parameters",
        value="AllowInsecureGuestAuth",
        role="client",
        summary="SMB2/3 client accepts guest (unauthenticated, never signed) sessions",
        meaning=_m("guest logons blocked (error 1272)", "insecure guest logons allowed"),
        gp_name="Enable insecure guest logons",
        gp_location=GP_LANMAN_WORKSTATION,
        gp_key="HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation",
        powershell="Set-SmbClientConfiguration -EnableInsecureGuestLogons",
        source=(
            "docs/SOURCES.md signing §5 (enable-insecure-guest-logons-smb2-and-smb3.md; value "
            "name from event 31018 and the unattend setting "
            "Microsoft-Windows-WorkstationService-AllowInsecureGuestAuth)"
        ),
        note=(
            "The Parameters key path is given by third parties (OVH docs), not a Microsoft page "
            "in the fact sheet. The Policies key is the LanmanWorkstation administrative "
            "template's key (the same key holds BlockNTLMServerExceptionList, §4.3). Guest "
            "logon also needs signing and encryption requirements off on the client. Policy "
            "CSP: LanmanWorkstation/EnableInsecureGuestLogons."
        ),
        aliases=("EnableInsecureGuestLogons",),
    ),
    RegistryValue(
        name="LanmanServer.RequireSecuritySignature",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="RequireSecuritySignature",
        role="server",
        summary="SMB server requires every user session to sign (guest/anonymous excepted)",
        meaning=_m("not required", "required"),
        gp_name="Microsoft network server: Digitally sign communications (always)",
        gp_location=GP_SECURITY_OPTIONS,
        powershell="Set-SmbServerConfiguration -RequireSecuritySignature",
        source=_SIGN_DOC,
    ),
    RegistryValue(
        name="LanmanServer.EnableSecuritySignature",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="EnableSecuritySignature",
        role="server",
        summary="SMB1 server signs if the client agrees",
        meaning=_m("disabled", "enabled"),
        gp_name="Microsoft network server: Digitally sign communications (if client agrees)",
        gp_location=GP_SECURITY_OPTIONS,
        powershell="Set-SmbServerConfiguration -EnableSecuritySignature",
        smb1_only=True,
        source=_SIGN_DOC,
        note=_SMB2_IGNORES
        + " KB 916846's table misprints this row's policy name as '(if server agrees)'.",
    ),
    RegistryValue(
        name="LanmanServer.InvalidAuthenticationDelayTimeInMs",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="InvalidAuthenticationDelayTimeInMs",
        role="server",
        summary="SMB authentication rate limiter: delay before answering a failed logon (ms)",
        meaning=MappingProxyType({0: "rate limiter off", 2000: "two seconds (the default)"}),
        data_range=(0, 10000),
        gp_name="Set authentication rate limiter delay (milliseconds)",
        gp_location=GP_LANMAN_SERVER,
        gp_key="HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanServer",
        powershell="Set-SmbServerConfiguration -InvalidAuthenticationDelayTimeInMs",
        source=(
            "Windows 11 24H2 / Server 2025 SMB security hardening (configure-smb-authentication-"
            "rate-limiter: 2,000 ms default, 0 to 10,000); LanmanServer.admx of the 24H2 "
            "Administrative Templates (Network\\Lanman Server)"
        ),
        note=(
            "Windows applies it to failed NTLM and PKU2U logons; lanman to every failed SMB "
            "session setup (NTLM and Kerberos) and, for the KDC, to failed pre-authentication."
        ),
        aliases=("InvalidAuthenticationDelayTimeInMs", "AuthRateLimiterDelayInMs"),
    ),
    RegistryValue(
        name="LanmanServer.EncryptData",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="EncryptData",
        role="server",
        summary="SMB server encrypts every session of an SMB 3.x client that can encrypt",
        meaning=_m("encryption per share only", "every session encrypted"),
        powershell="Set-SmbServerConfiguration -EncryptData",
        source=(
            "MS-SMB2 3.3.1.1 (EncryptData global setting) and 3.3.5.5.3 (Session.EncryptData); "
            "Set-SmbServerConfiguration -EncryptData (SMB 3.0 and later, Windows 8 / Server 2012)"
        ),
        note=(
            "Per-share encryption is Set-SmbShare -EncryptData (lanman share add|set "
            "--encrypt-data). No Group Policy setting controls the server side."
        ),
        aliases=("EncryptData",),
    ),
    RegistryValue(
        name="LanmanServer.RejectUnencryptedAccess",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="RejectUnencryptedAccess",
        role="server",
        summary="SMB server refuses unencrypted access to encrypted sessions and shares",
        meaning=_m("served unencrypted", "refused with STATUS_ACCESS_DENIED"),
        powershell="Set-SmbServerConfiguration -RejectUnencryptedAccess",
        source=(
            "MS-SMB2 3.3.1.1 (RejectUnencryptedAccess), 3.3.5.2.9, 3.3.5.2.11 and 3.3.5.7; "
            "Set-SmbServerConfiguration -RejectUnencryptedAccess (default $true)"
        ),
        note=(
            "With it on, a client that cannot encrypt (SMB 2.x, or 3.x without encryption) "
            "gets STATUS_ACCESS_DENIED at TREE_CONNECT to a share that requires encryption."
        ),
        aliases=("RejectUnencryptedAccess",),
    ),
    RegistryValue(
        name="LanmanServer.EnableW9xsecuritysignature",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="EnableW9xsecuritysignature",
        role="server",
        summary="Windows 2000 server negotiates SMB1 signing with NT 4.0 / Windows 9x clients",
        meaning=_m("no signing with NT 4.0/9x clients", "sign with NT 4.0/9x clients"),
        smb1_only=True,
        source=(
            "docs/SOURCES.md signing §4.1 (Policy CSP LocalPoliciesSecurityOptions doc; "
            "SERVER_INFO_598.sv598_enableW9xsecuritysignature)"
        ),
        note="No Group Policy setting or PowerShell parameter of its own.",
    ),
    RegistryValue(
        name="Rdr.RequireSecuritySignature",
        key=f"{_SERVICES}\\Rdr\\Parameters",
        value="RequireSecuritySignature",
        role="client",
        summary="Windows NT 4.0 SP3 redirector (SMB1 client) requires signing",
        meaning=_m("not required", "required"),
        smb1_only=True,
        source="KB 887429 configuration section (named in the issue)",
        note="[unconfirmed] the KB part naming it was not retrievable (docs/SOURCES.md signing §4.1).",
    ),
    RegistryValue(
        name="Rdr.EnableSecuritySignature",
        key=f"{_SERVICES}\\Rdr\\Parameters",
        value="EnableSecuritySignature",
        role="client",
        summary="Windows NT 4.0 SP3 redirector (SMB1 client) signs if the server agrees",
        meaning=_m("disabled", "enabled"),
        smb1_only=True,
        source="KB 887429 configuration section (named in the issue)",
        note="[unconfirmed] the KB part naming it was not retrievable (docs/SOURCES.md signing §4.1).",
    ),
    RegistryValue(
        name="VNETSUP.RequireSecuritySignature",
        key=f"{_SERVICES}\\VxD\\VNETSUP",
        value="RequireSecuritySignature",
        role="client",
        summary="Windows 98 network client requires SMB1 signing",
        meaning=_m("not required", "required"),
        smb1_only=True,
        source="KB 887429 configuration section (named in the issue)",
        note=(
            "[unconfirmed] the KB part naming it was not retrievable (docs/SOURCES.md signing §4.1); "
            "its REG_DWORD type is assumed."
        ),
    ),
    RegistryValue(
        name="VNETSUP.EnableSecuritySignature",
        key=f"{_SERVICES}\\VxD\\VNETSUP",
        value="EnableSecuritySignature",
        role="client",
        summary="Windows 98 network client signs SMB1 if the server agrees",
        meaning=_m("disabled", "enabled"),
        smb1_only=True,
        source="KB 887429 configuration section (named in the issue)",
        note=(
            "[unconfirmed] the KB part naming it was not retrievable (docs/SOURCES.md signing §4.1); "
            "its REG_DWORD type is assumed."
        ),
    ),
    RegistryValue(
        name="TerminalServer.AllowRemoteRPC",
        key="HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server",
        value="AllowRemoteRPC",
        role="rpc",
        summary="remote WinStation RPC (msg /SERVER:, qwinsta /SERVER:) is accepted",
        meaning=_m(
            "remote callers get error 1722 (RPC server unavailable: the WinStation pipes are not offered)",
            "remote WinStation RPC allowed",
        ),
        source=(
            'docs/SOURCES.md msg §2 (reg add "HKLM\\SYSTEM\\CurrentControlSet\\Control\\'
            'Terminal Server" /v "AllowRemoteRPC" /t REG_DWORD /d 1 /f)'
        ),
        note="Under Control, not Services. No Group Policy setting is documented.",
    ),
    # --- anonymous (null session) access: docs/SOURCES.md anonymous ----------------------
    RegistryValue(
        name="Lsa.RestrictAnonymous",
        key=_LSA,
        value="RestrictAnonymous",
        role="server",
        summary="anonymous sessions may not enumerate shares (srvsvc NetShareEnum) or SAM accounts",
        meaning=_m("anonymous enumeration allowed", "anonymous enumeration refused (error 5)"),
        gp_name="Network access: Do not allow anonymous enumeration of SAM accounts and shares",
        gp_location=GP_SECURITY_OPTIONS,
        source=_ANON_DOC + " network-access-do-not-allow-anonymous-enumeration-of-sam-accounts-"
        "and-shares.md (default Disabled on every server type and on clients)",
        note=(
            "Windows 2000 also knew 2 (no access without explicit anonymous permissions); "
            "later releases document 0 and 1 only. lanman refuses NetShareEnum of an anonymous "
            "session with ERROR_ACCESS_DENIED when it is 1; the pipe itself is governed by "
            "RestrictNullSessAccess and NullSessionPipes."
        ),
        aliases=("RestrictAnonymous",),
    ),
    RegistryValue(
        name="Lsa.RestrictAnonymousSAM",
        key=_LSA,
        value="RestrictAnonymousSAM",
        role="server",
        summary="anonymous sessions may not enumerate SAM accounts (SAMR)",
        meaning=_m("anonymous SAM enumeration allowed", "anonymous SAM enumeration refused"),
        gp_name="Network access: Do not allow anonymous enumeration of SAM accounts",
        gp_location=GP_SECURITY_OPTIONS,
        source=_ANON_DOC + " network-access-do-not-allow-anonymous-enumeration-of-sam-accounts.md "
        "(default Enabled on every server type and on clients; 'no impact on domain controllers')",
        note=(
            "lanman serves no SAMR pipe (src/lanman/rpc/interfaces/), so nothing reads it yet; "
            "it is kept so that policy, .reg files and profiles round-trip."
        ),
        aliases=("RestrictAnonymousSAM",),
    ),
    RegistryValue(
        name="LanmanServer.RestrictNullSessAccess",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="RestrictNullSessAccess",
        role="server",
        summary="anonymous sessions may open only the pipes and shares named in "
        "NullSessionPipes / NullSessionShares",
        meaning=_m(
            "anonymous access to every pipe and share (their own permissions apply)",
            "anonymous access only to NullSessionPipes / NullSessionShares",
        ),
        gp_name="Network access: Restrict anonymous access to Named Pipes and Shares",
        gp_location=GP_SECURITY_OPTIONS,
        source=_ANON_DOC + " network-access-restrict-anonymous-access-to-named-pipes-and-shares.md "
        "(RestrictNullSessAccess 1 when Enabled; default Enabled); Windows 11 STIG V-253456",
        note=(
            "IPC$ itself is always reachable; the restriction applies to the pipes opened on it "
            "(STATUS_ACCESS_DENIED on CREATE) and to the tree connect of other shares."
        ),
        aliases=("RestrictNullSessAccess",),
    ),
    RegistryValue(
        name="LanmanServer.NullSessionPipes",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="NullSessionPipes",
        role="server",
        summary="named pipes an anonymous session may open while RestrictNullSessAccess is on",
        meaning=MappingProxyType({}),
        type=REG_MULTI_SZ,
        gp_name="Network access: Named Pipes that can be accessed anonymously",
        gp_location=GP_SECURITY_OPTIONS,
        source=_ANON_DOC + " network-access-named-pipes-that-can-be-accessed-anonymously.md; KB "
        "126645 (the name after the last backslash, e.g. \\\\host\\pipe\\mypipe -> mypipe); CIS "
        "benchmarks (member server: none; DC: LSARPC, NETLOGON, SAMR)",
        note=(
            "REG_MULTI_SZ; Group Policy security templates write it comma-separated. Names "
            "compare case-insensitively. On Windows \\PIPE\\browser is another endpoint of "
            "the Server service (srvsvc); lanman serves srvsvc as 'srvsvc' only."
        ),
        aliases=("NullSessionPipes",),
    ),
    RegistryValue(
        name="LanmanServer.NullSessionShares",
        key=f"{_SERVICES}\\LanmanServer\\Parameters",
        value="NullSessionShares",
        role="server",
        summary="shares an anonymous session may connect to while RestrictNullSessAccess is on",
        meaning=MappingProxyType({}),
        type=REG_MULTI_SZ,
        gp_name="Network access: Shares that can be accessed anonymously",
        gp_location=GP_SECURITY_OPTIONS,
        source=_ANON_DOC + " network-access-shares-that-can-be-accessed-anonymously.md; "
        "Windows XP / Server 2003 listed COMCFG and DFS$ (HSC 'Windows network services "
        "internals' 4.7.4)",
        note=(
            "lanman also needs the share to admit unauthenticated users (--guest-ok): an "
            "anonymous session holds no account, so the share's permissions must allow it."
        ),
        aliases=("NullSessionShares",),
    ),
)

_BY_NAME = {v.name.casefold(): v for v in CATALOGUE}
_BY_GP = {v.gp_name.casefold(): v for v in CATALOGUE if v.gp_name}
# (key id, value id) -> (entry, True if this is the Group Policy location)
_BY_PATH: dict[tuple[str, str], tuple[RegistryValue, bool]] = {}
for _v in CATALOGUE:
    _BY_PATH[(key_id(_v.key), _v.value.casefold())] = (_v, False)
    if _v.gp_key:
        _BY_PATH[(key_id(_v.gp_key), _v.value.casefold())] = (_v, True)


def by_name(name: str) -> RegistryValue:
    """Catalogue entry by lanman id, full registry path, or alias; KeyError if unknown."""
    v = _BY_NAME.get(name.casefold())
    if v is not None:
        return v
    key, _, value = normalize_key(name).rpartition("\\")
    hit = _BY_PATH.get((key_id(key), value.casefold()))
    if hit is not None:
        return hit[0]
    for v in CATALOGUE:
        if name.casefold() in (a.casefold() for a in v.aliases):
            return v
    raise KeyError(name)


def by_gp_name(gp_name: str) -> RegistryValue:
    """Catalogue entry by exact Group Policy display name (case-insensitive)."""
    return _BY_GP[" ".join(gp_name.split()).casefold()]


def lookup_path(key: str, value: str) -> tuple[RegistryValue, bool] | None:
    """(entry, is_group_policy_location) for a registry key + value name, else None."""
    return _BY_PATH.get((key_id(key), value.casefold()))
