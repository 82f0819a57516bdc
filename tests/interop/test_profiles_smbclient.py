"""Samba's smbclient against lanman under each server profile: with
``--client-protection=sign`` it succeeds exactly when the profile can sign.

* SMB2-capable profiles (win10, win11-24h2-*, server2025*) are reached over SMB2/3
  (smbclient's default negotiation, then ``ls``): every one can sign — MS-SMB2 requires all
  SMB2/3 servers to implement signing; RequireSecuritySignature only decides whether it is
  mandatory (docs/SOURCES.md signing §2.1, §4.1).
* SMB1-only profiles are reached with ``client min/max protocol = NT1`` and ``-c exit``
  (NEGOTIATE, SESSION_SETUP_ANDX, TREE_CONNECT_ANDX, TREE_DISCONNECT, LOGOFF — all in
  lanman's SMB1 server; smbclient's ``ls`` needs TRANS2 FIND_FIRST2, which it has not).
  They can sign iff their server signing is enabled (SecurityMode 7 or 15: nt4-sp3-dc,
  win2000-dc, server2003-dc; KB 887429 / docs/SOURCES.md signing §3, §4.2). Against SecurityMode 3
  smbclient insists on a signed SESSION_SETUP response, gets none ("BAD SIG: seq 1") and
  fails with NT_STATUS_ACCESS_DENIED; without ``--client-protection=sign`` the same
  profiles work, so the failure is the signing requirement and nothing else.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from interop_support import require_tool

from lanman.policy.decisions import smb1_security_mode
from lanman.policy.matrix import (
    HOST,
    PASSWORD,
    SHARE,
    USER,
    MatrixServer,
    Party,
    is_smb1_only,
    profile_names,
)

pytestmark = [pytest.mark.interop]

NAMES = profile_names()


def can_sign(profile: str) -> bool:
    if not is_smb1_only(profile):
        return True  # MS-SMB2: every SMB2/3 server implements signing
    return Party.of(profile).server.enable_signing


def smbclient(port: int, profile: str, *, sign: bool) -> subprocess.CompletedProcess:
    exe = require_tool("smbclient")
    cmd = [exe, f"//{HOST}/{SHARE}", "-p", str(port), "-U", f"{USER}%{PASSWORD}"]
    if sign:
        cmd.append("--client-protection=sign")
    if is_smb1_only(profile):
        cmd += [
            "--option=client min protocol=NT1",
            "--option=client max protocol=NT1",
            "-c",
            "exit",
        ]
    else:
        cmd += ["--option=client smb encrypt=off", "-c", "ls"]
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return subprocess.run(cmd, capture_output=True, timeout=60, env=env, check=False)


def test_which_profiles_can_sign():
    assert {p for p in NAMES if not can_sign(p)} == {
        "nt4-sp3",
        "win98",
        "win2000",
        "xp",
        "server2003",
    }
    modes = {p: smb1_security_mode(*_enable_require(p)) for p in NAMES if is_smb1_only(p)}
    assert modes["nt4-sp3"] == 3 and modes["win2000-dc"] == 7 and modes["server2003-dc"] == 15


def _enable_require(profile: str) -> tuple[bool, bool]:
    sp = Party.of(profile).server
    return sp.enable_signing, sp.require_signing


@pytest.mark.timeout(120)
@pytest.mark.parametrize("profile", NAMES)
def test_smbclient_sign_succeeds_exactly_when_profile_can_sign(profile):
    with MatrixServer(profile) as srv:
        cp = smbclient(srv.port, profile, sign=True)
        text = (cp.stdout + cp.stderr).decode(errors="replace")
        if can_sign(profile):
            assert cp.returncode == 0, text
            assert "NT_STATUS" not in text, text
            if not is_smb1_only(profile):
                assert "blocks of size" in text, text  # `ls` ran on the share
        else:
            assert cp.returncode != 0, text
            assert "NT_STATUS_ACCESS_DENIED" in text, text
            # Control: the same profile without the signing requirement works.
            cp = smbclient(srv.port, profile, sign=False)
            assert cp.returncode == 0, (cp.stdout + cp.stderr).decode(errors="replace")
