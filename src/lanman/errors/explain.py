"""Explain an SMB client failure the way an administrator needs it.

First what Windows shows (code, symbolic name, message — docs/SOURCES.md signing §5), then
lanman's one-line cause, then the remedy: Group Policy path, registry value, PowerShell line,
smb.conf line (and the lanman command that does the same on a lanman host).

:func:`explain` takes a failure key (see :data:`FAILURES`) or an NTSTATUS value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lanman.errors import ntstatus as nts
from lanman.errors import win32

__all__ = [
    "FAILURES",
    "SIGNING_KEYS",
    "Explanation",
    "Remedy",
    "explain",
    "explain_for_family",
    "key_for_status",
    "server_sign_remedy",
]

_WS_PARAMS = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters"
_SRV_PARAMS = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
_SECOPT = (
    r"Computer Configuration\Windows Settings\Security Settings\Local Policies"
    r"\Security Options"
)
_LANMAN_WS = r"Computer Configuration\Administrative Templates\Network\Lanman Workstation"


@dataclass(frozen=True, slots=True)
class Remedy:
    """One way out. Every field is optional; a remedy names the side it applies to."""

    side: str  # "server" | "client"
    summary: str
    group_policy: str = ""
    registry: str = ""
    powershell: str = ""
    smb_conf: str = ""
    lanman: str = ""
    vendor: str = ""  # NAS / appliance settings (names vary by firmware)

    def lines(self) -> list[str]:
        out = [f"Remedy ({self.side}): {self.summary}"]
        for label, value in (
            ("Group Policy", self.group_policy),
            ("Registry", self.registry),
            ("PowerShell", self.powershell),
            ("smb.conf", self.smb_conf),
            ("Vendor", self.vendor),
            ("lanman", self.lanman),
        ):
            if value:
                out.append(f"  {label + ':':<13} {value}")
        return out

    def as_dict(self) -> dict[str, str]:
        return {
            "side": self.side,
            "summary": self.summary,
            "group_policy": self.group_policy,
            "registry": self.registry,
            "powershell": self.powershell,
            "smb_conf": self.smb_conf,
            "lanman": self.lanman,
            "vendor": self.vendor,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    key: str
    #: what Windows shows, one line each, in order (net use / Explorer / PowerShell)
    shown: tuple[str, ...]
    #: the primary code: Win32/HRESULT value, or the NTSTATUS where Windows shows that
    code: int
    name: str
    message: str
    cause: str
    remedies: tuple[Remedy, ...] = field(default_factory=tuple)
    ntstatus: int | None = None
    family: str = ""  # the server family the remedies were chosen for ("" = generic)

    def lines(self) -> list[str]:
        out = list(self.shown)
        out.append(f"Cause: {self.cause}")
        for r in self.remedies:
            out.extend(r.lines())
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "code": self.code,
            "code_hex": f"0x{self.code:08X}",
            "name": self.name,
            "message": self.message,
            "shown": list(self.shown),
            "cause": self.cause,
            "ntstatus": self.ntstatus,
            "family": self.family or None,
            "remedies": [r.as_dict() for r in self.remedies],
        }


def _nt_line(status: int) -> str:
    e = nts.lookup(status)
    return f"0x{e.value:08x} {e.signed} {e.name} {e.message}"


def _win_lines(code: int) -> tuple[str, ...]:
    e = win32.lookup(code)
    return (e.system_error_line(), f"{e.name} ({e.hex}): {e.message}")


_SERVER_SIGN = Remedy(
    side="server",
    summary="make the server sign (required signing on the server)",
    group_policy=f"{_SECOPT}\\Microsoft network server: Digitally sign communications "
    "(always) = Enabled",
    registry=f"{_SRV_PARAMS}\\RequireSecuritySignature = 1 (REG_DWORD)",
    powershell="Set-SmbServerConfiguration -RequireSecuritySignature $true",
    smb_conf="server signing = mandatory",
    lanman="lanman smb server-config set --require-security-signature true",
)
_CLIENT_NO_REQUIRE = Remedy(
    side="client",
    summary="stop requiring signing on this client (weakens protection against relay and "
    "tampering; prefer fixing the server)",
    group_policy=f"{_SECOPT}\\Microsoft network client: Digitally sign communications "
    "(always) = Disabled",
    registry=f"{_WS_PARAMS}\\RequireSecuritySignature = 0 (REG_DWORD)",
    powershell="Set-SmbClientConfiguration -RequireSecuritySignature $false",
    lanman="lanman smb client-config set --require-security-signature false "
    "(or lanman client --require-signing false)",
)
_NAS_SIGNING = (
    "enable SMB signing in the device's file-service settings (names vary by firmware: "
    "Synology DSM: Control Panel > File Services > SMB > Advanced Settings > server signing; "
    "QNAP QTS: Control Panel > Win/Mac/NFS > Microsoft Networking > Advanced Options > "
    "SMB signing; TrueNAS: SMB service auxiliary parameter server signing = mandatory); "
    "update old firmware that cannot sign"
)
#: the server-side way out when the server family is not known
_SERVER_SIGN_GENERIC = Remedy(
    side="server",
    summary="enable SMB signing on that server (a Windows server: the Group Policy below; "
    "Samba or a NAS built on it: server signing)",
    group_policy=_SERVER_SIGN.group_policy,
    powershell=_SERVER_SIGN.powershell,
    smb_conf="server signing = mandatory",
    vendor=_NAS_SIGNING,
    lanman=_SERVER_SIGN.lanman,
)
#: per recognised server family (lanman.scan.family.FAMILIES)
_SERVER_SIGN_BY_FAMILY: dict[str, Remedy] = {
    "impacket": Remedy(
        side="server",
        summary="impacket's smbserver cannot sign NTLM sessions (it sends no SPNEGO "
        "mechListMIC; fortra/impacket#1883) and has no setting that makes it: serve the "
        "files from a server that signs (Samba with server signing = mandatory, Windows, "
        "lanman)",
        smb_conf="server signing = mandatory (on the Samba server that replaces it)",
        lanman="lanman share add NAME PATH; lanman up (lanman signs; see lanman smb "
        "server-config get)",
    ),
    "samba": Remedy(
        side="server",
        summary="enable signing in Samba (or the NAS built on it)",
        smb_conf="server signing = mandatory   ([global]; then smbcontrol all reload-config)",
        vendor=_NAS_SIGNING,
    ),
    "windows": _SERVER_SIGN,
    "lanman": _SERVER_SIGN,
}
_FAMILY_LABEL = {
    "impacket": "impacket's smbserver",
    "samba": "Samba (or a NAS built on it)",
    "windows": "Windows",
    "lanman": "lanman",
}

_SERVER_NO_GUEST = Remedy(
    side="server",
    summary="give the client a real account on the server instead of guest access",
    smb_conf="map to guest = never; guest ok = no (then: smbpasswd -a USER)",
    powershell="New-SmbShare ... -FullAccess DOMAIN\\User (no Everyone/Guest access)",
    lanman="lanman user add USER; lanman smb server-config set --map-to-guest false",
)
_CLIENT_ALLOW_GUEST = Remedy(
    side="client",
    summary="allow insecure guest logons on this client (guest sessions are never signed)",
    group_policy=f"{_LANMAN_WS}\\Enable insecure guest logons = Enabled",
    registry=f"{_WS_PARAMS}\\AllowInsecureGuestAuth = 1 (REG_DWORD)",
    powershell="Set-SmbClientConfiguration -EnableInsecureGuestLogons $true",
    lanman="lanman smb client-config set --enable-insecure-guest-logons true "
    "(or lanman client --allow-insecure-guest true)",
)


def _build() -> dict[str, Explanation]:
    sig = nts.lookup(nts.STATUS_INVALID_SIGNATURE)
    g = win32.lookup(win32.ERROR_SMB_GUEST_LOGON_BLOCKED)
    gs = win32.lookup(win32.ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED)
    ws = win32.lookup(win32.ERROR_LOGIN_WKSTA_RESTRICTION)
    bad = win32.lookup(win32.E_BAD_NETPATH)
    ad = win32.lookup(win32.ERROR_ACCESS_DENIED)
    lf = win32.lookup(win32.ERROR_LOGON_FAILURE)
    bn = win32.lookup(win32.ERROR_BAD_NET_NAME)
    out = [
        Explanation(
            key="server_will_not_sign",
            shown=(_nt_line(sig.value),),
            code=sig.value,
            name=sig.name,
            message=sig.message,
            ntstatus=sig.value,
            cause="this client requires SMB signing, but the server did not sign its "
            "responses (it does not require signing and gave an unsigned session).",
            remedies=(_SERVER_SIGN_GENERIC, _CLIENT_NO_REQUIRE),
        ),
        Explanation(
            key="server_cannot_sign",
            shown=(_nt_line(sig.value),),
            code=sig.value,
            name=sig.name,
            message=sig.message,
            ntstatus=sig.value,
            cause="this client requires SMB signing, but the server completed the logon "
            "without a valid SPNEGO mechListMIC: its NTLM implementation cannot sign, so no "
            "signed session is possible. This is a third-party server that cannot sign "
            "(impacket's smbserver, old NAS firmware), not a share or file permission problem.",
            remedies=(_SERVER_SIGN_GENERIC, _CLIENT_NO_REQUIRE),
        ),
        Explanation(
            key="server_mechlistmic",
            shown=(ad.system_error_line(), ad.message),
            code=ad.value,
            name=ad.name,
            message=ad.message,
            ntstatus=nts.STATUS_ACCESS_DENIED,
            cause="the server completed the logon without a valid SPNEGO mechListMIC, so the "
            "negotiation is not protected against tampering and the client refused it: the "
            "server's NTLM cannot sign (impacket's smbserver, old NAS firmware). This is not "
            "a share or file permission problem.",
            remedies=(_SERVER_SIGN_GENERIC,),
        ),
        Explanation(
            key="bad_signature",
            shown=(_nt_line(sig.value),),
            code=sig.value,
            name=sig.name,
            message=sig.message,
            ntstatus=sig.value,
            cause="a signed response from the server did not verify; it was discarded "
            "(tampering on the path, or a server with a broken signing implementation).",
            remedies=(
                Remedy(
                    side="network",
                    summary="look for a device rewriting SMB traffic "
                    "(WAN optimiser, proxy) or a man in the middle; capture with "
                    "tshark and compare",
                ),
            ),
        ),
        Explanation(
            key="guest_blocked",
            shown=(
                g.message,
                f"Error code: {bad.hex} {bad.message}",
                g.system_error_line(),
                f"{g.name} ({g.value}): {g.message}",
            ),
            code=g.value,
            name=g.name,
            message=g.message,
            ntstatus=nts.STATUS_SMB_GUEST_LOGON_BLOCKED,
            cause="the server gave only an unauthenticated guest session and insecure guest "
            "logons are disabled on this client (AllowInsecureGuestAuth = 0).",
            remedies=(_SERVER_NO_GUEST, _CLIENT_ALLOW_GUEST),
        ),
        Explanation(
            key="guest_blocked_signing",
            shown=(gs.system_error_line(), f"{gs.name} ({gs.hex}): {gs.message}"),
            code=gs.value,
            name=gs.name,
            message=gs.message,
            ntstatus=nts.STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED,
            cause="the server gave only a guest session, which has no key and cannot be "
            "signed, and this client requires signing (RequireSecuritySignature = 1).",
            remedies=(
                _SERVER_NO_GUEST,
                Remedy(
                    side="client",
                    summary="allow unsigned guest sessions on this client: stop requiring "
                    "signing AND enable insecure guest logons (both are needed)",
                    group_policy=f"{_SECOPT}\\Microsoft network client: Digitally sign "
                    f"communications (always) = Disabled; {_LANMAN_WS}\\Enable "
                    "insecure guest logons = Enabled",
                    registry=f"{_WS_PARAMS}\\RequireSecuritySignature = 0; "
                    f"{_WS_PARAMS}\\AllowInsecureGuestAuth = 1",
                    powershell="Set-SmbClientConfiguration -RequireSecuritySignature $false "
                    "-EnableInsecureGuestLogons $true",
                    lanman="lanman smb client-config set --require-security-signature false "
                    "--enable-insecure-guest-logons true",
                ),
            ),
        ),
        Explanation(
            key="smb1_wksta_restriction",
            shown=(ws.system_error_line(), ws.message),
            code=ws.value,
            name=ws.name,
            message=ws.message,
            ntstatus=nts.STATUS_LOGIN_WKSTA_RESTRICTION,
            cause="SMB1: this client requires signing and the server has signing disabled; "
            "the connection was closed after NEGOTIATE.",
            remedies=(
                Remedy(
                    side="server",
                    summary="enable (or require) SMB1 signing on the server",
                    group_policy=f"{_SECOPT}\\Microsoft network server: Digitally sign "
                    "communications (always) = Enabled",
                    registry=f"{_SRV_PARAMS}\\EnableSecuritySignature = 1; "
                    f"{_SRV_PARAMS}\\RequireSecuritySignature = 1",
                    powershell="Set-SmbServerConfiguration -EnableSecuritySignature $true "
                    "-RequireSecuritySignature $true",
                    smb_conf="server signing = mandatory",
                    lanman="lanman smb server-config set --require-security-signature true",
                ),
                _CLIENT_NO_REQUIRE,
            ),
        ),
        Explanation(
            key="access_denied",
            shown=(ad.system_error_line(), ad.message),
            code=ad.value,
            name=ad.name,
            message=ad.message,
            ntstatus=nts.STATUS_ACCESS_DENIED,
            cause="the server refused the request (share or file permissions, a read-only "
            "share, or an SMB1 signing mismatch where the server requires signing).",
            remedies=(
                Remedy(
                    side="server",
                    summary="grant the account access to the share and path",
                    smb_conf="read only = no; valid users = USER",
                    powershell="Grant-SmbShareAccess -Name SHARE -AccountName USER "
                    "-AccessRight Full",
                ),
            ),
        ),
        Explanation(
            key="logon_failure",
            shown=(lf.system_error_line(), lf.message),
            code=lf.value,
            name=lf.name,
            message=lf.message,
            ntstatus=nts.STATUS_LOGON_FAILURE,
            cause="the server rejected the user name or password (NTLMv2).",
            remedies=(
                Remedy(
                    side="client",
                    summary="check the user name and password; "
                    "for a local account on the server use SERVER\\user",
                    smb_conf="(server) smbpasswd -a USER",
                    lanman="(lanman server) lanman user add USER",
                ),
            ),
        ),
        Explanation(
            key="bad_network_name",
            shown=(bn.system_error_line(), bn.message),
            code=bn.value,
            name=bn.name,
            message=bn.message,
            ntstatus=nts.STATUS_BAD_NETWORK_NAME,
            cause="the server has no share of that name.",
            remedies=(
                Remedy(
                    side="client",
                    summary="list the shares (smbclient -L HOST, "
                    "net view \\\\HOST) and use one of them",
                ),
            ),
        ),
        Explanation(
            key="bad_netpath",
            shown=(win32.lookup(53).system_error_line(), win32.lookup(53).message),
            code=53,
            name="ERROR_BAD_NETPATH",
            message=win32.lookup(53).message,
            cause="no SMB server answered at that address and port.",
            remedies=(
                Remedy(
                    side="client",
                    summary="check the host name, the port "
                    "(-p) and any firewall; the SMB server must listen on that port "
                    "(TCP 445 unless one was given)",
                ),
            ),
        ),
        Explanation(
            key="not_smb_server",
            shown=(win32.lookup(53).system_error_line(), win32.lookup(53).message),
            code=53,
            name="ERROR_BAD_NETPATH",
            message=win32.lookup(53).message,
            ntstatus=nts.STATUS_INVALID_NETWORK_RESPONSE,
            cause="something answered at that address and port, but it is not an SMB server "
            "(its reply is not SMB: an HTTP, TLS or SSH server, or another service).",
            remedies=(
                Remedy(
                    side="client",
                    summary="check the port (-p; SMB is TCP 445) and the host: the SMB server "
                    "may listen on another port, or not run at all",
                ),
            ),
        ),
    ]
    return {e.key: e for e in out}


FAILURES: dict[str, Explanation] = _build()

_BY_STATUS = {
    nts.STATUS_INVALID_SIGNATURE: "bad_signature",
    nts.STATUS_SMB_GUEST_LOGON_BLOCKED: "guest_blocked",
    nts.STATUS_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED: "guest_blocked_signing",
    nts.STATUS_LOGIN_WKSTA_RESTRICTION: "smb1_wksta_restriction",
    nts.STATUS_ACCESS_DENIED: "access_denied",
    nts.STATUS_LOGON_FAILURE: "logon_failure",
    nts.STATUS_BAD_NETWORK_NAME: "bad_network_name",
}


#: failures whose server-side remedy is "make that server sign" (chosen per family)
SIGNING_KEYS = frozenset({"server_will_not_sign", "server_cannot_sign", "server_mechlistmic"})


def server_sign_remedy(family: str) -> Remedy:
    """The server-side remedy for a server that does not sign, for a recognised family."""
    return _SERVER_SIGN_BY_FAMILY.get(family, _SERVER_SIGN_GENERIC)


def explain_for_family(
    key_or_status: str | int, family: str = "", evidence: str = ""
) -> Explanation | None:
    """:func:`explain`, with the server-side signing remedy chosen for ``family`` (as
    recognised by :func:`lanman.scan.family.recognise_server`) and the family named in the
    cause. Other failures, and unknown families, keep the generic explanation."""
    e = explain(key_or_status)
    if e is None or e.key not in SIGNING_KEYS or family not in _SERVER_SIGN_BY_FAMILY:
        return e
    fam = server_sign_remedy(family)
    remedies = tuple(fam if r.side == "server" else r for r in e.remedies)
    seen = f" The server looks like {_FAMILY_LABEL[family]}" + (
        f" ({evidence})." if evidence else "."
    )
    return replace(e, remedies=remedies, cause=e.cause + seen, family=family)


def key_for_status(status: int) -> str | None:
    return _BY_STATUS.get(status & 0xFFFFFFFF)


def explain(key_or_status: str | int) -> Explanation | None:
    """The explanation for a failure key or NTSTATUS; None when lanman has none."""
    if isinstance(key_or_status, int):
        key = key_for_status(key_or_status)
        if key is None:
            return None
        return FAILURES[key]
    return FAILURES.get(key_or_status)
