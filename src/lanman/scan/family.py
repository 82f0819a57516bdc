"""Recognise the server family from what the probes saw (to pick the remedy to show).

Heuristics, in order (each names its evidence in the report):

* impacket: NTLM CHALLENGE version 255.255.65535 (its placeholder) or a ServerGuid of "A"s;
* Samba: NTLM version 6.1 build 0 (Samba's fixed NTLMSSP version), or "Samba" in the IPC$
  remark a share listing returned;
* lanman: NTLM version 10.0.20348 without NegoEx in SPNEGO (Windows Server 2022 always
  offers NegoEx; lanman offers NTLM, plus Kerberos once its home has a domain; since
  lanman encrypts, the ciphers no longer tell);
* Windows: any other NTLM version with a non-zero build, or Kerberos/NegoEx offered.
"""

from __future__ import annotations

from lanman.scan.model import HostResult

__all__ = ["FAMILIES", "recognise", "recognise_server"]

FAMILIES = ("windows", "samba", "lanman", "impacket", "unknown")


def _remarks(host: HostResult) -> str:
    out = []
    for s in (host.guest, host.anonymous):
        for sh in (s.shares or []) if s else []:
            out.append(str(sh.get("remark", "")))
    return " ".join(out)


def recognise(host: HostResult) -> tuple[str, str]:
    """(family, evidence); ("unknown", "") when nothing fits."""
    return recognise_server(
        host.ntlm.version if host.ntlm else "",
        host.server_guid,
        host.mechanisms,
        _remarks(host),
    )


def recognise_server(
    ntlm_version: str, server_guid: str, mechanisms: list[str], remarks: str = ""
) -> tuple[str, str]:
    """The same heuristics over what any client saw (``lanman client`` uses it to pick the
    remedy for a failed connection): NTLM CHALLENGE version, ServerGuid, SPNEGO mechanisms
    (names as in :data:`lanman.auth.spnego.MECH_NAMES`), share remarks."""
    v = ntlm_version
    if v == "255.255.65535" or server_guid == "41414141-4141-4141-4141-414141414141":
        return "impacket", f"NTLM version {v or '?'}, ServerGuid {server_guid or '?'}"
    if "samba" in remarks.lower():
        return "samba", f"share remark {remarks.strip()[:60]!r}"
    if v == "6.1.0":
        return "samba", "NTLM version 6.1 build 0 (Samba's fixed NTLMSSP version)"
    if v == "10.0.20348" and "NegoEx" not in mechanisms:
        offered = "/".join(mechanisms) or "no"
        return "lanman", f"NTLM version 10.0.20348, {offered} SPNEGO without NegoEx"
    if v and not v.endswith(".0"):
        return "windows", f"NTLM version {v}"
    if any(m in ("Kerberos", "MS-KRB5", "NegoEx") for m in mechanisms):
        return "windows", "Kerberos/NegoEx offered in SPNEGO"
    return "unknown", ""
