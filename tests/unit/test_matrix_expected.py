"""Truth table of :func:`lanman.policy.matrix.expected_outcome` (written from
docs/SOURCES.md signing §3–5), and ``lanman smb matrix`` option handling.

Citations: "§3" = SMB1 signing (MS-SMB 3.2.4.2.4 table, KB 887429 scenarios); "§4.1/4.2" =
EnableSecuritySignature ignored by SMB2+, per-release defaults; "§5" = guest logons and the
code table §5.2.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lanman.cli.main import cli
from lanman.policy.matrix import (
    SCENARIOS,
    expected_outcome,
    expected_table,
    is_smb1_only,
    profile_names,
)

GUEST_TEXT = (
    "You can't access this shared folder because your organization's security policies "
    "block unauthenticated guest access. These policies help protect your PC from unsafe or "
    "malicious devices on the network."
)
GUEST_SIGNING_TEXT = (
    "You can't access this shared folder because your computer is configured to require SMB "
    "signing. These policies help protect your PC from unsafe or malicious devices on the "
    "network."
)
ALLOW_GUEST = {"LanmanWorkstation.AllowInsecureGuestAuth": 1}
NO_REQUIRE = {"LanmanWorkstation.RequireSecuritySignature": 0}


def test_fifteen_profiles_and_families():
    names = profile_names()
    assert len(names) == 15
    smb1 = {n for n in names if is_smb1_only(n)}
    assert smb1 == {
        "nt4-sp3",
        "nt4-sp3-dc",
        "win98",
        "win2000",
        "win2000-dc",
        "xp",
        "server2003",
        "server2003-dc",
    }


# ---- SMB2/3, authenticated user (§4.1: either side requires -> signed) -----------------------


@pytest.mark.parametrize(
    ("client", "server", "signed"),
    [
        ("win10", "win10", False),  # both not required -> not signed (§4.1)
        ("win10", "win11-24h2-pro", True),  # server requires (24H2 Pro inbound, §4.2)
        ("win11-24h2-enterprise", "win10", True),  # client requires (24H2 outbound, §4.2)
        ("win11-24h2-home", "win11-24h2-home", False),  # Home: neither (§4.2)
        ("win11-24h2-home", "server2025", False),  # Server 2025: not required inbound (§4.2)
        ("server2025", "win10", True),  # Server 2025 requires outbound (§4.2)
        ("win10", "server2025-dc", True),  # DCs require (§4.2)
        ("win11-24h2-pro", "win11-24h2-pro", True),  # both required -> success (§5 brief)
    ],
)
def test_smb2_user(client, server, signed):
    o = expected_outcome(client, server, "user")
    assert o.ok and o.family == "SMB2/3" and o.signed is signed
    assert o.cell == ("signed" if signed else "unsigned")


def test_smb2_enable_security_signature_is_ignored():
    # §4.1: "The EnableSecuritySignature registry setting for SMB2 and later ... is ignored".
    o = expected_outcome(
        "win10",
        "win10",
        client_overrides={"LanmanWorkstation.EnableSecuritySignature": 0},
        server_overrides={"LanmanServer.EnableSecuritySignature": 1},
    )
    assert o.ok and not o.signed


def test_smb2_server_that_will_not_sign():
    # §5.2 / §5: "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE The cryptographic signature
    # is invalid." when the client requires signing and the peer does not sign.
    o = expected_outcome("win11-24h2-pro", "win10", server_signs=False)
    assert not o.ok
    assert o.code == 0xC000A000 and o.code_display == "0xC000A000"
    assert o.name == "STATUS_INVALID_SIGNATURE"
    assert o.text == "The cryptographic signature is invalid."
    assert o.key == "server_will_not_sign"


# ---- SMB2/3 guest (§5) ---------------------------------------------------------------------


def test_24h2_client_guest_only_server_1272_then_3227320323():
    # §5: 24H2 Pro blocks insecure guest logons -> 1272 (Explorer adds 0x80070035) ...
    o = expected_outcome("win11-24h2-pro", "win10", "guest")
    assert not o.ok and o.stage == "session setup"
    assert (o.code, o.name, o.text) == (1272, "ERROR_SMB_GUEST_LOGON_BLOCKED", GUEST_TEXT)
    assert o.ntstatus == 0xC05D0002
    # ... and once insecure guest logons are enabled, signing is still required ->
    # "System error 3227320323 has occurred." (0xC05D0003, §5.1).
    o = expected_outcome("win11-24h2-pro", "win10", "guest", client_overrides=ALLOW_GUEST)
    assert o.code == 3227320323 and o.code_display == "3227320323"
    assert o.name == "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED"
    assert o.text == GUEST_SIGNING_TEXT
    assert o.ntstatus == 0xC05D0006
    # ... and with signing no longer required too, the guest session works, unsigned.
    o = expected_outcome(
        "win11-24h2-pro", "win10", "guest", client_overrides={**ALLOW_GUEST, **NO_REQUIRE}
    )
    assert o.ok and not o.signed


@pytest.mark.parametrize("server", ["win10", "win11-24h2-pro", "server2025-dc"])
def test_guest_allowed_clients(server):
    # win10 (Home/Pro) and 24H2 Home allow insecure guest and do not require signing (§4.2,
    # §5); the server's own requirement does not apply to guest sessions (§2.2).
    for client in ("win10", "win11-24h2-home"):
        o = expected_outcome(client, server, "guest")
        assert o.ok and not o.signed, (client, server)


@pytest.mark.parametrize(
    "client", ["win11-24h2-enterprise", "win11-24h2-education", "server2025", "server2025-dc"]
)
def test_guest_blocked_by_default(client):
    assert expected_outcome(client, "win11-24h2-home", "guest").code == 1272


# ---- SMB1 (§3: MS-SMB 3.2.4.2.4 and KB 887429) -------------------------------------------------


def test_smb1_client_requires_server_disabled_1240():
    # §3: "System error 1240 has occurred. The account is not authorized to log in from this
    # station." — the TCP session is closed right after NEGOTIATE.
    o = expected_outcome(
        "xp", "nt4-sp3", client_overrides={"LanmanWorkstation.RequireSecuritySignature": 1}
    )
    assert not o.ok and o.family == "SMB1" and o.stage == "negotiate"
    assert (o.code, o.name) == (1240, "ERROR_LOGIN_WKSTA_RESTRICTION")
    assert o.text == "The account is not authorized to log in from this station."
    # A 24H2 Enterprise client (requires signing) against a plain NT 4.0 server: the same.
    assert expected_outcome("win11-24h2-enterprise", "nt4-sp3").code == 1240


def test_smb1_client_disabled_server_requires_access_denied():
    # §3 (brief, KB 887429 second scenario): STATUS_ACCESS_DENIED at TREE_CONNECT.
    o = expected_outcome(
        "xp", "server2003-dc", client_overrides={"LanmanWorkstation.EnableSecuritySignature": 0}
    )
    assert not o.ok and o.stage == "tree connect"
    assert (o.code, o.name, o.text, o.ntstatus) == (
        5,
        "ERROR_ACCESS_DENIED",
        "Access is denied.",
        0xC0000022,
    )


def test_smb1_both_required_and_both_disabled_succeed():
    both_req = expected_outcome(
        "xp", "server2003-dc", client_overrides={"LanmanWorkstation.RequireSecuritySignature": 1}
    )
    assert both_req.ok and both_req.signed
    both_off = expected_outcome(
        "xp", "nt4-sp3", client_overrides={"LanmanWorkstation.EnableSecuritySignature": 0}
    )
    assert both_off.ok and not both_off.signed


@pytest.mark.parametrize(
    ("client", "server", "cell"),
    [
        ("xp", "nt4-sp3", "unsigned"),  # enabled x disabled (server SecurityMode 3)
        ("xp", "nt4-sp3-dc", "signed"),  # enabled x enabled (7, DCs only, §4.2)
        ("nt4-sp3", "server2003-dc", "signed"),  # enabled x required (15)
        ("win98", "win2000-dc", "signed"),  # the Windows 98 client signs when enabled
        ("xp", "win98", "unsigned"),  # Windows 98 file sharing has no signing
        ("win10", "xp", "unsigned"),  # a modern client falls back to SMB1, enabled
        ("server2025", "win2000-dc", "signed"),  # required x enabled
        ("server2025", "server2003", "1240 ERROR_LOGIN_WKSTA_RESTRICTION"),
    ],
)
def test_smb1_defaults(client, server, cell):
    o = expected_outcome(client, server)
    assert o.family == "SMB1" and o.cell == cell


def test_smb1_only_client_against_modern_server():
    # Modern servers keep SMB1 off by default: disconnected after NEGOTIATE (error 64) ...
    o = expected_outcome("nt4-sp3", "win10")
    assert (o.ok, o.code, o.name, o.stage) == (False, 64, "ERROR_NETNAME_DELETED", "negotiate")
    # ... unless SMB1 is switched on: then LanmanServer Enable/Require decide (§3).
    assert expected_outcome("nt4-sp3", "win10", smb1_servers=True).cell == "unsigned"
    assert expected_outcome("nt4-sp3", "win11-24h2-pro", smb1_servers=True).cell == "signed"


def test_smb1_guest():
    # §5: guest sessions cannot sign. An enabled client gets an unsigned guest session ...
    assert expected_outcome("xp", "nt4-sp3", "guest").cell == "unsigned"
    # ... a server that requires signing refuses the unsigned tree connect (§3) ...
    assert expected_outcome("xp", "server2003-dc", "guest").stage == "tree connect"
    # ... and a client that requires signing refuses the guest session (§5, Samba's client
    # likewise; the SMB1 code is the §5.2 row, unconfirmed for SMB1).
    assert expected_outcome("win11-24h2-pro", "win2000-dc", "guest").code == 0xC05D0003


def test_full_tables_are_total():
    names = profile_names()
    for scenario in SCENARIOS:
        table = expected_table(names, names, scenario)
        assert len(table) == 225
        for o in table.values():
            assert o.ok or (o.code is not None and o.name and o.text and o.stage)


def test_unknown_scenario():
    with pytest.raises(ValueError):
        expected_outcome("win10", "win10", "anonymous")


# ---- CLI -------------------------------------------------------------------------------------


def test_cli_expected_only_json(tmp_path):
    r = CliRunner().invoke(
        cli,
        [
            "--home",
            str(tmp_path / "h"),
            "smb",
            "matrix",
            "--expected-only",
            "--json",
            "--scenario",
            "all",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["mode"] == "expected" and doc["mismatches"] == 0
    assert len(doc["cells"]) == 450
    cell = next(
        c
        for c in doc["cells"]
        if (c["client"], c["server"], c["scenario"]) == ("win11-24h2-pro", "win10", "guest")
    )
    assert cell["expected"]["code"] == 1272


def test_cli_runs_pairs_over_loopback(tmp_path):
    r = CliRunner().invoke(
        cli,
        [
            "--home",
            str(tmp_path / "h"),
            "smb",
            "matrix",
            "--client-profile",
            "win11-24h2-pro",
            "--server-profile",
            "win10",
            "--scenario",
            "guest",
            "--client-set",
            "LanmanWorkstation.AllowInsecureGuestAuth=1",
            "--check",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "3227320323" in r.output and "Legend" in r.output


def test_cli_bad_override(tmp_path):
    r = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path / "h"), "smb", "matrix", "--expected-only", "--client-set", "x"],
    )
    assert r.exit_code != 0
    assert "NAME=DATA" in r.output
