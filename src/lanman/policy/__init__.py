"""Signing and guest policy as Windows configures it.

* :mod:`.catalogue` — every registry value the documents name (path, type, Group Policy name,
  PowerShell parameter).
* :mod:`.profiles` — per-release defaults with their sources and conflicts.
* :mod:`.layers` — local and Group Policy layers, ``policy.toml`` in the home.
* :mod:`.effective` — Group Policy > local > profile default, with the origin.
* :mod:`.decisions` — pure signing / guest decisions (SMB2 session, SMB1 table, SecurityMode).
* :mod:`.regfile` — ``.reg`` import/export; :mod:`.hoststate` — the home's policy + lanman.toml.
"""

from lanman.policy.catalogue import CATALOGUE, RegistryValue, by_gp_name, by_name
from lanman.policy.decisions import (
    GuestDecision,
    guest_logon_allowed,
    smb1_failure,
    smb1_security_mode,
    smb1_signing_outcome,
    smb1_state,
    smb2_session_signing_required,
    smb2_signing_outcome,
)
from lanman.policy.effective import (
    ClientPolicy,
    ServerPolicy,
    Setting,
    client_policy,
    effective_setting,
    resolve,
    server_policy,
)
from lanman.policy.layers import HostPolicy, Layer, RegData
from lanman.policy.profiles import DEFAULT_PROFILE, PROFILES, Default, Profile, get_profile

__all__ = [
    "CATALOGUE",
    "DEFAULT_PROFILE",
    "PROFILES",
    "ClientPolicy",
    "Default",
    "GuestDecision",
    "HostPolicy",
    "Layer",
    "Profile",
    "RegData",
    "RegistryValue",
    "ServerPolicy",
    "Setting",
    "by_gp_name",
    "by_name",
    "client_policy",
    "effective_setting",
    "get_profile",
    "guest_logon_allowed",
    "resolve",
    "server_policy",
    "smb1_failure",
    "smb1_security_mode",
    "smb1_signing_outcome",
    "smb1_state",
    "smb2_session_signing_required",
    "smb2_signing_outcome",
]
