"""Policy model: catalogue, profiles, effective-value resolution and signing/guest decisions.

Expected values are written from docs/SOURCES.md signing §3-5 (tables copied as data here),
not computed from the code under test.
"""

from __future__ import annotations

import itertools

import pytest

from lanman.policy import (
    CATALOGUE,
    PROFILES,
    Layer,
    by_gp_name,
    by_name,
    effective_setting,
    guest_logon_allowed,
    smb1_failure,
    smb1_security_mode,
    smb1_signing_outcome,
    smb1_state,
    smb2_session_signing_required,
    smb2_signing_outcome,
)
from lanman.policy.catalogue import lookup_path
from lanman.policy.effective import client_policy, server_policy
from lanman.policy.layers import HostPolicy, load_host, save_host
from lanman.policy.profiles import DEFAULT_PROFILE

LW_REQ = "LanmanWorkstation.RequireSecuritySignature"
LW_EN = "LanmanWorkstation.EnableSecuritySignature"
LW_GUEST = "LanmanWorkstation.AllowInsecureGuestAuth"
LS_REQ = "LanmanServer.RequireSecuritySignature"
LS_EN = "LanmanServer.EnableSecuritySignature"
SIGNING = (LW_REQ, LW_EN, LS_REQ, LS_EN, LW_GUEST)

# --- catalogue ---------------------------------------------------------------------------------

GP_NAMES = {
    "Microsoft network client: Digitally sign communications (always)": (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters",
        "RequireSecuritySignature",
    ),
    "Microsoft network client: Digitally sign communications (if server agrees)": (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters",
        "EnableSecuritySignature",
    ),
    "Microsoft network server: Digitally sign communications (always)": (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters",
        "RequireSecuritySignature",
    ),
    "Microsoft network server: Digitally sign communications (if client agrees)": (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters",
        "EnableSecuritySignature",
    ),
    "Enable insecure guest logons": (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters",
        "AllowInsecureGuestAuth",
    ),
}


@pytest.mark.parametrize(("gp", "path"), GP_NAMES.items())
def test_gp_names_map_to_registry(gp: str, path: tuple[str, str]) -> None:
    e = by_gp_name(gp)
    assert (e.key, e.value) == path
    assert e.type == "REG_DWORD" and e.allowed == (0, 1)
    assert e.powershell and e.powershell.startswith("Set-Smb")


def test_catalogue_has_every_named_value() -> None:
    paths = {e.path.lower() for e in CATALOGUE}
    svc = "hklm\\system\\currentcontrolset\\services\\"
    for p in (
        "lanmanworkstation\\parameters\\enablesecuritysignature",
        "lanmanworkstation\\parameters\\requiresecuritysignature",
        "lanmanworkstation\\parameters\\allowinsecureguestauth",
        "lanmanserver\\parameters\\enablesecuritysignature",
        "lanmanserver\\parameters\\requiresecuritysignature",
        "lanmanserver\\parameters\\enablew9xsecuritysignature",
        "rdr\\parameters\\enablesecuritysignature",
        "rdr\\parameters\\requiresecuritysignature",
        "vxd\\vnetsup\\enablesecuritysignature",
        "vxd\\vnetsup\\requiresecuritysignature",
    ):
        assert svc + p in paths
    assert "hklm\\system\\currentcontrolset\\control\\terminal server\\allowremoterpc" in paths
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE)


def test_enable_security_signature_is_smb1_only() -> None:
    assert by_name(LW_EN).smb1_only and by_name(LS_EN).smb1_only
    assert not by_name(LW_REQ).smb1_only and not by_name(LS_REQ).smb1_only


def test_guest_policy_location_and_aliases() -> None:
    e = by_name("EnableInsecureGuestLogons")
    assert e.name == LW_GUEST
    assert (
        e.gp_path
        == "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\LanmanWorkstation\\AllowInsecureGuestAuth"
    )
    assert lookup_path(
        "HKEY_LOCAL_MACHINE\\software\\policies\\microsoft\\windows\\lanmanworkstation",
        "allowinsecureguestauth",
    ) == (e, True)
    assert by_name(e.path.upper()) is e


# --- profiles ----------------------------------------------------------------------------------

ALL_PROFILES = (
    "nt4-sp3", "nt4-sp3-dc", "win98", "win2000", "win2000-dc", "xp", "server2003",
    "server2003-dc", "win10", "win11-24h2-home", "win11-24h2-pro", "win11-24h2-enterprise",
    "win11-24h2-education", "server2025", "server2025-dc",
)  # fmt: skip


def test_profile_set() -> None:
    assert set(PROFILES) == set(ALL_PROFILES)
    assert DEFAULT_PROFILE in PROFILES


@pytest.mark.parametrize("name", ALL_PROFILES)
def test_profile_complete(name: str) -> None:
    p = PROFILES[name]
    for e in CATALOGUE:
        d = p.default(e.name)  # KeyError if missing
        assert d.source, (name, e.name)
        if d.applicable:
            assert e.accepts(d.value), (name, e.name)
    assert set(p.defaults) == {e.name for e in CATALOGUE}
    # every value a service reads is applicable in that profile
    for n in (*(p.client_values or ()), *(p.server_values or ())):
        if n:
            assert p.default(n).applicable, (name, n)


# (client require, insecure guest allowed, server require) — docs/SOURCES.md signing §4.2 and §5;
# None: the release has no such value.
EXPECTED_DEFAULTS = {
    "nt4-sp3": (0, None, 0),
    "nt4-sp3-dc": (0, None, 0),
    "win98": (0, None, None),
    "win2000": (0, None, 0),
    "win2000-dc": (0, None, 0),
    "xp": (0, None, 0),
    "server2003": (0, None, 0),
    "server2003-dc": (0, None, 1),
    "win10": (0, 1, 0),
    "win11-24h2-home": (0, 1, 0),
    "win11-24h2-pro": (1, 0, 1),
    "win11-24h2-enterprise": (1, 0, 1),
    "win11-24h2-education": (1, 0, 1),
    "server2025": (1, 0, 0),
    "server2025-dc": (1, 0, 1),
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED_DEFAULTS.items())
def test_profile_defaults_from_fact_sheet(name: str, expected: tuple) -> None:
    host = HostPolicy(profile_name=name)
    cp, sp = client_policy(host), server_policy(host)
    creq, guest, sreq = expected
    assert cp.require.value == creq
    assert (cp.allow_insecure_guest.value if cp.allow_insecure_guest else None) == guest
    assert (sp.require.value if sp.require else None) == sreq
    assert cp.enable_signing  # every release with signing offers it outbound


def test_profile_conflicts_are_data() -> None:
    assert "smb-security-hardening" in PROFILES["server2025"].default(LS_REQ).conflict
    assert PROFILES["win10"].default(LW_GUEST).conflict
    assert PROFILES["nt4-sp3"].client_values[:2] == (
        "Rdr.EnableSecuritySignature",
        "Rdr.RequireSecuritySignature",
    )
    assert PROFILES["win98"].client_values[:2] == (
        "VNETSUP.EnableSecuritySignature",
        "VNETSUP.RequireSecuritySignature",
    )
    assert PROFILES["win2000"].default("LanmanServer.EnableW9xsecuritysignature").applicable
    assert not PROFILES["xp"].default(LW_GUEST).applicable


# --- effective-value resolution ----------------------------------------------------------------

# (local, group) -> (winner, origin); "D" = profile default. Group Policy wins; not defined
# (None) falls through.
RESOLUTION = {
    (None, None): ("D", "default"),
    (0, None): (0, "local"),
    (1, None): (1, "local"),
    (None, 0): (0, "group policy"),
    (None, 1): (1, "group policy"),
    (0, 0): (0, "group policy"),
    (0, 1): (1, "group policy"),
    (1, 0): (0, "group policy"),
    (1, 1): (1, "group policy"),
}


@pytest.mark.parametrize("profile", ALL_PROFILES)
@pytest.mark.parametrize("name", SIGNING)
@pytest.mark.parametrize(("local", "group"), RESOLUTION)
def test_effective_setting_truth_table(profile, name, local, group) -> None:
    want, origin = RESOLUTION[(local, group)]
    if want == "D":
        want = PROFILES[profile].default(name).value
    # plain mappings
    assert effective_setting(name, {name: local}, {name: group}, profile) == (want, origin)
    # real layers (group layer: the key Group Policy writes)
    e = by_name(name)
    loc, grp = Layer(), Layer()
    loc.set_catalogue(e, local, "local")
    grp.set_catalogue(e, group, "group")
    assert effective_setting(name, loc, grp, PROFILES[profile]) == (want, origin)


def test_group_layer_policies_key_beats_plain_key() -> None:
    e = by_name(LW_GUEST)
    grp = Layer()
    grp.set(e.key, e.value, __import__("lanman.policy.layers").policy.layers.RegData.dword(1))
    grp.set(e.gp_key, e.value, __import__("lanman.policy.layers").policy.layers.RegData.dword(0))
    assert effective_setting(LW_GUEST, None, grp, "win10") == (0, "group policy")


def test_host_round_trips_through_policy_toml(tmp_path) -> None:
    host = HostPolicy(profile_name="server2025")
    host.local.set_catalogue(by_name(LS_REQ), 1, "local")
    host.group.set_catalogue(by_name(LW_GUEST), 0, "group")
    host.local.set(
        "HKLM\\SOFTWARE\\X",
        'Name "q" \\',
        __import__("lanman.policy.layers").policy.layers.RegData(1, 'v\\"x'),
    )
    save_host(tmp_path, host)
    back = load_host(tmp_path)
    assert back.profile_name == "server2025"
    assert back.local.entries == host.local.entries and back.group.entries == host.group.entries


# --- decisions ---------------------------------------------------------------------------------

# MS-SMB2 3.3.5.5.3: (client_require, server_require, guest, anonymous) -> SigningRequired
SMB2_SESSION = {
    (c, s, g, a): (not g and not a) and (c or s)
    for c, s, g, a in itertools.product((False, True), repeat=4)
}
SMB2_SESSION_ROWS = [  # spelled out for the authenticated rows
    ((False, False, False, False), False),
    ((True, False, False, False), True),
    ((False, True, False, False), True),
    ((True, True, False, False), True),
    ((True, True, True, False), False),
    ((True, True, False, True), False),
]


@pytest.mark.parametrize(("args", "want"), SMB2_SESSION.items())
def test_smb2_session_signing_required(args, want) -> None:
    assert smb2_session_signing_required(*args) is want


@pytest.mark.parametrize(("args", "want"), SMB2_SESSION_ROWS)
def test_smb2_session_rows(args, want) -> None:
    assert smb2_session_signing_required(*args) is want


def test_smb2_outcome_ignores_enable() -> None:
    assert smb2_signing_outcome(False, False) == "unsigned"
    assert smb2_signing_outcome(True, False) == "signed"
    assert smb2_signing_outcome(False, True) == "signed"
    assert smb2_signing_outcome(True, True) == "signed"


# MS-SMB 3.2.4.2.4 (client policy rows x server signing state columns)
SMB1_TABLE = """
            disabled  enabled   required
disabled    unsigned  unsigned  blocked
enabled     unsigned  signed    signed
required    blocked   signed    signed
"""


def _smb1_rows():
    lines = [ln.split() for ln in SMB1_TABLE.strip().splitlines()]
    cols = lines[0]
    for row in lines[1:]:
        for col, want in zip(cols, row[1:], strict=True):
            yield row[0], col, want


@pytest.mark.parametrize(("client", "server", "want"), list(_smb1_rows()))
def test_smb1_signing_outcome(client, server, want) -> None:
    assert smb1_signing_outcome(client, server) == want


def test_smb1_blocked_failures() -> None:
    f = smb1_failure("required", "disabled")
    assert f.win32 == 1240 and f.stage == "negotiate"
    assert f.text == "The account is not authorized to log in from this station."
    f = smb1_failure("disabled", "required")
    assert f.ntstatus == 0xC0000022 and f.stage == "tree connect"
    assert smb1_failure("enabled", "enabled") is None
    with pytest.raises(ValueError):
        smb1_signing_outcome("maybe", "enabled")


@pytest.mark.parametrize(
    ("enable", "require", "mode", "state"),
    [
        (False, False, 3, "disabled"),
        (True, False, 7, "enabled"),
        (True, True, 15, "required"),
        (False, True, 15, "required"),  # required implies enabled (MS-CIFS 2.2.4.52.2)
    ],
)
def test_smb1_security_mode(enable, require, mode, state) -> None:
    assert smb1_security_mode(enable, require) == mode
    assert smb1_state(enable, require) == state


@pytest.mark.parametrize(
    ("allow", "require", "encrypt", "code", "name"),
    [
        (True, False, False, None, None),
        (False, False, False, 1272, "ERROR_SMB_GUEST_LOGON_BLOCKED"),
        (False, True, False, 1272, "ERROR_SMB_GUEST_LOGON_BLOCKED"),
        (True, True, False, 3227320323, "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED"),
        (True, False, True, 0xC05D0004, "ERROR_SMB_GUEST_ENCRYPTION_NOT_SUPPORTED"),
    ],
)
def test_guest_logon_decision(allow, require, encrypt, code, name) -> None:
    d = guest_logon_allowed(allow, require, encrypt)
    assert d.allowed is (code is None)
    assert d.win32 == code and d.win32_name == name
    if code == 1272:
        assert "block unauthenticated guest access" in d.text
        assert d.explorer_hresult == 0x80070035 and d.ntstatus == 0xC05D0002
    if code == 3227320323:
        assert d.ntstatus == 0xC05D0006 and "require SMB signing" in d.text


@pytest.mark.parametrize(
    ("profile", "allowed_code"),
    [("win11-24h2-pro", 1272), ("win11-24h2-home", None), ("win10", None), ("server2025", 1272)],
)
def test_guest_decision_per_profile(profile, allowed_code) -> None:
    cp = client_policy(HostPolicy(profile_name=profile))
    d = guest_logon_allowed(cp.insecure_guest_allowed, cp.require_signing)
    assert d.win32 == allowed_code


def test_encryption_values_per_release() -> None:
    """EncryptData / RejectUnencryptedAccess: 0 / 1 where SMB 3 exists (Windows 8 / Server 2012
    and later), not applicable on the SMB1-era profiles."""
    from lanman.policy.catalogue import by_name
    from lanman.policy.profiles import PROFILES

    enc, rej = by_name("LanmanServer.EncryptData"), by_name("LanmanServer.RejectUnencryptedAccess")
    assert enc.path.endswith("LanmanServer\\Parameters\\EncryptData")
    assert rej.powershell == "Set-SmbServerConfiguration -RejectUnencryptedAccess"
    modern = {"win10", "server2025", "server2025-dc", "win11-24h2-pro"}
    legacy = {"nt4-sp3", "win98", "win2000", "xp", "server2003-dc"}
    for name in modern:
        p = PROFILES[name]
        assert p.default(enc.name).value == 0 and p.default(rej.name).value == 1, name
    for name in legacy:
        p = PROFILES[name]
        assert p.default(enc.name).value is None and p.default(rej.name).value is None, name
