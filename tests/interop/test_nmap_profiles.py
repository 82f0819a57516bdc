"""nmap ``smb2-security-mode`` against lanman under every SMB2-capable server profile: the
sentence agrees with the profile's effective LanmanServer RequireSecuritySignature
(docs/SOURCES.md signing §2.1, §4: SIGNING_ENABLED always, SIGNING_REQUIRED iff required).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_nmap import nmap_script, security_mode_lines

from lanman.policy.matrix import HOST, MatrixServer, Party, is_smb1_only, profile_names

pytestmark = [pytest.mark.interop]

SMB2_PROFILES = [p for p in profile_names() if not is_smb1_only(p)]


def test_profiles_cover_both_answers():
    required = {p: Party.of(p).server.require_signing for p in SMB2_PROFILES}
    assert any(required.values()) and not all(required.values()), required


@pytest.mark.timeout(180)
@pytest.mark.parametrize("profile", SMB2_PROFILES)
def test_smb2_security_mode_agrees_with_profile(profile):
    want = (
        "Message signing enabled and required"
        if Party.of(profile).server.require_signing
        else "Message signing enabled but not required"
    )
    with MatrixServer(profile) as srv:
        out = nmap_script(SimpleNamespace(host=HOST, port=srv.port), "smb2-security-mode")
    lines = security_mode_lines(out)
    assert lines and all(ln == want for ln in lines), (profile, lines, out)
