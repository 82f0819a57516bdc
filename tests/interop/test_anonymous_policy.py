"""Anonymous (null session) share listing with Samba's ``smbclient -L -N`` against a real
``lanman up``, governed by RestrictNullSessAccess / NullSessionPipes / RestrictAnonymous
(issue 15 item 9; lanman.policy.anonymous).

Windows 11 24H2's defaults (the default profile) are RestrictAnonymous 0 but
RestrictNullSessAccess 1 with no NullSessionPipes: an anonymous session logs on and reaches
IPC$, but the CREATE of \\srvsvc is refused (STATUS_ACCESS_DENIED), so smbclient prints
"Anonymous login successful" and an empty list — what it shows against a modern Windows host.
With srvsvc in NullSessionPipes the shares are listed; RestrictAnonymous 1 then refuses
NetrShareEnum itself (WERR_ACCESS_DENIED) — applied by SIGHUP, without a restart. smbclient
reports both refusals only at debug level 10, so the test reads them there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from interop_support import HOST, cleanup_target, lanman_cmd, require_tool, run, start_lanman

pytestmark = [pytest.mark.interop]

PIPES = "Network access: Named Pipes that can be accessed anonymously"


@pytest.fixture()
def server(tmp_path):
    t = start_lanman(tmp_path / "srv")
    yield t
    cleanup_target(t)


def _lanman(t, *args: str) -> subprocess.CompletedProcess:
    return run(lanman_cmd() + ["--home", str(t.home), *args], timeout=60, check=True)


def _list(t) -> tuple[set[str], str]:
    exe = require_tool("smbclient")
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    cp = run(
        [exe, "-L", f"//{HOST}", "-N", "-p", str(t.port), "-d10"],
        timeout=60,
        check=False,
        env=env,
    )
    out = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
    shares = {
        ln.split()[0]
        for ln in out.splitlines()
        if ln.startswith("\t") and len(ln.split()) >= 2 and ln.split()[1] in ("Disk", "IPC")
    }
    return shares, out


def _scan(t, tmp_path) -> dict:
    cp = run(
        lanman_cmd()
        + ["scan", f"{HOST}:{t.port}", "--json", "--html", str(tmp_path / "scan.html")],
        timeout=120,
        check=False,
    )
    return json.loads(cp.stdout)["hosts"][0]


@pytest.mark.timeout(300)
def test_anonymous_share_listing_follows_policy(server, tmp_path):
    t = server
    # default profile (Windows 11 24H2): srvsvc is not a null-session pipe
    shares, out = _list(t)
    assert "Anonymous login successful" in out, out[-3000:]
    assert not shares, out[-3000:]
    assert "Could not connect to srvsvc pipe: NT_STATUS_ACCESS_DENIED" in out, out[-3000:]
    ev = [e for e in t.events() if e.get("event_id") == 9011]
    assert ev and ev[0]["data"]["target"] == "srvsvc", ev
    assert not _scan(t, tmp_path)["findings"]

    # srvsvc allowed for null sessions: the shares are listed (RestrictAnonymous is 0)
    _lanman(t, "policy", "set", PIPES, "srvsvc")
    t.restart()
    shares, out = _list(t)
    assert {t.share, t.ro_share, "IPC$"} <= shares, out[-3000:]
    # lanman scan flags it in JSON, the table and the HTML report
    host = _scan(t, tmp_path)
    assert host["anonymous_can_list_shares"], host["sessions"]["anonymous"]
    assert host["findings"][0].startswith("anonymous share enumeration allowed")
    assert "anonymous share enumeration allowed" in (tmp_path / "scan.html").read_text()
    cp = run(lanman_cmd() + ["scan", f"{HOST}:{t.port}"], timeout=120, check=False)
    assert b"finding: anonymous share enumeration allowed" in cp.stdout, cp.stdout

    # RestrictAnonymous 1: NetrShareEnum of an anonymous caller is refused; a SIGHUP applies
    # it to new connections without a restart
    cp = _lanman(t, "policy", "set", "RestrictAnonymous", "1")
    assert b"enabled" in cp.stdout
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "reloaded: anonymous" not in t.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "reloaded: anonymous" in t.log_text(), t.log_text()[-2000:]
    shares, out = _list(t)
    assert not shares, out[-3000:]
    assert "WERR_ACCESS_DENIED" in out, out[-3000:]
    # an authenticated user still lists them
    exe = require_tool("smbclient")
    cp = run(
        [exe, "-L", f"//{HOST}", "-p", str(t.port), "-U", f"{t.user}%{t.password}"],
        timeout=60,
        check=False,
        env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert t.share.encode() in cp.stdout, cp.stdout + cp.stderr
