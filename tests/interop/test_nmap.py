"""nmap NSE scripts against the server (nmap 7.93 on Debian 12).

Quirks: the scripts only run against 139/445 unless ``--script-args smbport=N``; the
dialect key in the output is written ``311:`` (7.93), other versions print ``3.1.1:`` or
``3:1:1:``, so we only match the sentence.
"""

from __future__ import annotations

import re

import pytest
from interop_support import require_tool, run

pytestmark = [pytest.mark.interop]


def nmap_script(target, script: str) -> str:
    exe = require_tool("nmap")
    cp = run(
        [
            exe,
            "-Pn",
            "-n",
            "-p",
            str(target.port),
            "--script",
            script,
            "--script-args",
            f"smbport={target.port}",
            "--host-timeout",
            "60s",
            target.host,
        ],
        timeout=90,
        check=True,
    )
    return cp.stdout.decode(errors="replace")


def security_mode_lines(out: str) -> list[str]:
    block = out.split("smb2-security-mode:", 1)
    assert len(block) == 2, f"no smb2-security-mode result:\n{out}"
    return [ln.strip("|_ \t") for ln in block[1].splitlines() if "Message signing" in ln]


@pytest.mark.timeout(120)
def test_nmap_signing_required_by_default(target):
    out = nmap_script(target, "smb2-security-mode")
    lines = security_mode_lines(out)
    assert lines == ["Message signing enabled and required"], out
    assert re.search(r"\|\s+(311|3[.:]1[.:]1):", out), out


@pytest.mark.timeout(120)
def test_nmap_signing_not_required_after_config_change(target_fn):
    assert security_mode_lines(nmap_script(target_fn, "smb2-security-mode")) == [
        "Message signing enabled and required"
    ]
    target_fn.restart(require_signing=False)
    out = nmap_script(target_fn, "smb2-security-mode")
    assert security_mode_lines(out) == ["Message signing enabled but not required"], out
    target_fn.restart(require_signing=True)
    out = nmap_script(target_fn, "smb2-security-mode")
    assert security_mode_lines(out) == ["Message signing enabled and required"], out


@pytest.mark.timeout(120)
def test_nmap_protocols_lists_all_smb2_dialects(target):
    out = nmap_script(target, "smb-protocols")
    assert "dialects:" in out, out
    found = re.findall(r"^\|[_ ]\s+(\S+)\s*$", out.split("dialects:", 1)[1], re.MULTILINE)
    norm = {d.replace(":", "").replace(".", "") for d in found}
    assert {"202", "210", "300", "302", "311"} <= norm, out
    # SMB1 file service is out of scope: "NT LM 0.12" must not be offered
    assert "NT LM 0.12" not in out, out
