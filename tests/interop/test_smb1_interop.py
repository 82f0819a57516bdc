"""SMB1 (NT LM 0.12) switched on per server: nmap smb-security-mode reads SecurityMode 3 / 7 / 15
as KB 887429 does, Samba's smbclient in NT1 mode signs when the server requires it, and
lanman's own SMB1 client reproduces the KB 887429 scenarios over real sockets.

SMB1 stays off by default: ``test_nmap.py::test_nmap_protocols_lists_all_smb2_dialects``
asserts that "NT LM 0.12" is not offered.
"""

from __future__ import annotations

import pytest
from interop_support import _lanman, cleanup_target, require_tool, run, start_lanman

from lanman.smb.smb1.client import smb1_connect

pytestmark = [pytest.mark.interop]

# (EnableSecuritySignature, RequireSecuritySignature) -> SecurityMode, nmap's wording
MODES = [
    ((False, False), 3, "message_signing: disabled (dangerous, but default)"),
    ((True, False), 7, "message_signing: supported"),
    ((True, True), 15, "message_signing: required"),
]


@pytest.fixture(scope="module")
def smb1_server(tmp_path_factory):
    # lanman's own SMB1 switches: always a lanman server, whatever LANMAN_INTEROP_TARGET says.
    t = start_lanman(tmp_path_factory.mktemp("smb1"))
    yield t
    cleanup_target(t)


def configure(t, enable: bool, require: bool) -> None:
    t.stop()
    _lanman(
        t.home,
        "smb",
        "server-config",
        "set",
        "--enable-smb1-protocol",
        "true",
        "--enable-security-signature",
        "true" if enable else "false",
    )
    t.require_signing = require
    t._start(t)


def nmap(t, script: str) -> str:
    exe = require_tool("nmap")
    cp = run(
        [
            exe,
            "-Pn",
            "-n",
            "-p",
            str(t.port),
            "--script",
            script,
            "--script-args",
            f"smbport={t.port}",
            "--host-timeout",
            "60s",
            t.host,
        ],
        timeout=90,
        check=True,
    )
    return cp.stdout.decode(errors="replace")


@pytest.mark.timeout(300)
def test_nmap_smb_security_mode_reads_3_7_15(smb1_server):
    for (enable, require), mode, wording in MODES:
        configure(smb1_server, enable, require)
        out = nmap(smb1_server, "smb-security-mode")
        assert wording in out, (mode, out)
        assert "authentication_level: user" in out and "challenge_response: supported" in out
        # and our own client reads the same SecurityMode byte
        res = smb1_connect(
            smb1_server.host,
            smb1_server.port,
            smb1_server.user,
            smb1_server.password,
            smb1_server.share,
            enable_signing=True,
            require_signing=False,
        )
        assert res.security_mode == mode, res
        assert res.ok and res.signed is (mode != 3), res


@pytest.mark.timeout(120)
def test_nmap_smb_protocols_lists_nt_lm_012_when_on(smb1_server):
    configure(smb1_server, True, True)
    out = nmap(smb1_server, "smb-protocols")
    assert "NT LM 0.12" in out, out
    assert "311" in out.replace(":", "").replace(".", ""), out


@pytest.mark.timeout(300)
def test_kb887429_scenarios_with_lanman_client(smb1_server):
    t = smb1_server
    # server signing disabled (3), client requires -> closed after NEGOTIATE, error 1240
    configure(t, False, False)
    res = smb1_connect(
        t.host, t.port, t.user, t.password, t.share, enable_signing=True, require_signing=True
    )
    assert (res.ok, res.stage, res.win32_code) == (False, "negotiate", 1240), res
    assert res.message == "The account is not authorized to log in from this station."
    res = smb1_connect(
        t.host, t.port, t.user, t.password, t.share, enable_signing=False, require_signing=False
    )
    assert res.ok and not res.signed, res  # both disabled -> success
    # server requires (15), client disabled -> STATUS_ACCESS_DENIED at tree connect
    configure(t, True, True)
    res = smb1_connect(
        t.host, t.port, t.user, t.password, t.share, enable_signing=False, require_signing=False
    )
    assert (res.ok, res.stage, res.ntstatus, res.win32_code) == (
        False,
        "tree connect",
        0xC0000022,
        5,
    ), res
    res = smb1_connect(
        t.host, t.port, t.user, t.password, t.share, enable_signing=True, require_signing=True
    )
    assert res.ok and res.signed, res  # both required -> success, signed
    names = [e.get("name") for e in t.events()]
    assert "CLIENT_DOES_NOT_SUPPORT_SIGNING" in names


@pytest.mark.timeout(180)
def test_samba_smbclient_nt1(smb1_server):
    exe = require_tool("smbclient")
    t = smb1_server
    configure(t, True, True)
    base = [
        exe,
        f"//{t.host}/{t.share}",
        "-p",
        str(t.port),
        "-U",
        f"{t.user}%{t.password}",
        "--option=client min protocol=NT1",
        "--option=client max protocol=NT1",
    ]
    for extra in ([], ["--client-protection=sign"]):
        cp = run(base + extra + ["-c", "exit"], timeout=60)
        text = (cp.stdout + cp.stderr).decode(errors="replace")
        assert cp.returncode == 0 and "failed" not in text, text
    cp = run(base + ["--option=client signing=disabled", "-c", "exit"], timeout=60)
    text = (cp.stdout + cp.stderr).decode(errors="replace")
    # Samba refuses on its own side: "SMB signing is required, but client[disabled] and
    # server[required] mismatch" -> NT_STATUS_ACCESS_DENIED.
    assert cp.returncode != 0 and "NT_STATUS_ACCESS_DENIED" in text, text


@pytest.mark.timeout(120)
def test_impacket_smb1_signed_session(smb1_server):
    """impacket's own SMB1 code (NT LM 0.12, NTLMSSP, MD5 signing with sequence numbers)
    against a server that requires signing: an independent check of our MAC and numbering."""
    from impacket.smb import SMB_DIALECT
    from impacket.smbconnection import SMBConnection

    t = smb1_server
    configure(t, True, True)
    c = SMBConnection(t.host, t.host, sess_port=t.port, preferredDialect=SMB_DIALECT)
    try:
        assert c.getDialect() == SMB_DIALECT
        assert c.isSigningRequired()
        c.login(t.user, t.password)
        tid = c.connectTree(t.share)  # signed TREE_CONNECT_ANDX (sequence number 2)
        c.disconnectTree(tid)
        c.logoff()
    finally:
        c.close()
