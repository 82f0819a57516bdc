"""Anonymous (null session) policy (issue 15 item 9): the pure decisions as truth tables, the
server's pipe opens / tree connects / srvsvc NetrShareEnum over an anonymous session, the
REG_MULTI_SZ values through `lanman policy` and `.reg` files, and `lanman up`'s settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from impacket.dcerpc.v5 import srvs
from impacket.dcerpc.v5.rpcrt import DCERPCException
from smb_harness import Share, SmbTestClient, make_context
from test_rpc_pipe import impacket_client, srvsvc_pipe

from lanman.cli.main import cli
from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_ACCOUNT_DISABLED,
    STATUS_LOGON_FAILURE,
    STATUS_SUCCESS,
)
from lanman.policy.anonymous import (
    AnonymousPolicy,
    anonymous_pipe_allowed,
    anonymous_share_allowed,
    anonymous_share_enum_allowed,
    pipe_key,
)
from lanman.policy.profiles import PROFILES

PIPES = "Network access: Named Pipes that can be accessed anonymously"

# ---- decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restrict", "pipes", "pipe", "allowed"),
    [
        (True, (), "srvsvc", False),
        (True, ("srvsvc",), "srvsvc", True),
        (True, ("SRVSVC",), "\\PIPE\\SrvSvc", True),
        (True, ("lsarpc", "samr"), "srvsvc", False),
        (False, (), "srvsvc", True),
        (False, (), "anything", True),
    ],
)
def test_pipe_truth_table(restrict, pipes, pipe, allowed):
    p = AnonymousPolicy.of(restrict_null_sess_access=int(restrict), null_session_pipes=pipes)
    assert anonymous_pipe_allowed(p, pipe) is allowed


@pytest.mark.parametrize(
    ("restrict", "shares", "guest_ok", "allowed"),
    [
        (True, (), True, False),
        (True, ("Pub",), True, True),
        (True, ("pub",), False, False),  # the share must admit unauthenticated users
        (False, (), True, True),
        (False, (), False, False),
    ],
)
def test_share_truth_table(restrict, shares, guest_ok, allowed):
    p = AnonymousPolicy.of(restrict_null_sess_access=int(restrict), null_session_shares=shares)
    assert anonymous_share_allowed(p, "pub", guest_ok) is allowed


def test_enum_and_defaults():
    assert anonymous_share_enum_allowed(AnonymousPolicy.of(restrict_anonymous=0))
    assert not anonymous_share_enum_allowed(AnonymousPolicy.of(restrict_anonymous=1))
    assert pipe_key("\\\\host\\pipe\\MyPipe") == "mypipe"  # KB 126645
    # None: not read by the release -> null sessions still restricted (NT 3.5 and later)
    assert AnonymousPolicy.of(None, None, None, None, None).restrict_null_sess_access
    assert not anonymous_pipe_allowed(None, "srvsvc")  # Windows 11's defaults


def test_profile_defaults():
    ent, dc = PROFILES["win11-24h2-enterprise"], PROFILES["server2025-dc"]
    assert ent.default("Lsa.RestrictAnonymous").value == 0
    assert ent.default("Lsa.RestrictAnonymousSAM").value == 1
    assert ent.default("LanmanServer.RestrictNullSessAccess").value == 1
    assert ent.default("LanmanServer.NullSessionPipes").value == ()
    assert ent.default("LanmanServer.NullSessionShares").value == ()
    assert set(dc.default("LanmanServer.NullSessionPipes").value) == {"lsarpc", "netlogon", "samr"}
    assert "COMCFG" in PROFILES["xp"].default("LanmanServer.NullSessionShares").value
    assert not PROFILES["win2000"].default("Lsa.RestrictAnonymousSAM").applicable
    assert not PROFILES["win98"].default("Lsa.RestrictAnonymous").applicable


# ---- the server --------------------------------------------------------------------------


def _anon(ctx) -> SmbTestClient:
    c = SmbTestClient(ctx)
    c.negotiate([0x0311])
    assert c.session_setup(anonymous=True).status == STATUS_SUCCESS
    return c


def test_anonymous_pipe_open_follows_null_session_pipes(tmp_path):
    ctx, events, _ = make_context(tmp_path)
    with _anon(ctx) as c:
        ipc = c.tree_connect("IPC$")
        assert c.create_raw(ipc, "srvsvc").status == STATUS_ACCESS_DENIED
    (ev,) = events.named("ANONYMOUS_ACCESS_DENIED")
    assert ev["target"] == "srvsvc" and ev["kind"] == "named pipe"
    ctx, events, _ = make_context(
        tmp_path, anonymous=AnonymousPolicy.of(null_session_pipes=["srvsvc"])
    )
    with _anon(ctx) as c:
        ipc = c.tree_connect("IPC$")
        assert c.create_raw(ipc, "srvsvc").status == STATUS_SUCCESS
        assert c.create_raw(ipc, "wkssvc").status == STATUS_ACCESS_DENIED
    # an authenticated user is not concerned
    ctx, events, _ = make_context(tmp_path)
    with SmbTestClient(ctx) as c:
        c.negotiate([0x0311])
        c.session_setup()
        ipc = c.tree_connect("IPC$")
        assert c.create_raw(ipc, "srvsvc").status == STATUS_SUCCESS
    assert not events.named("ANONYMOUS_ACCESS_DENIED")


def test_anonymous_tree_connect_follows_null_session_shares(tmp_path):
    pub = tmp_path / "pub"
    pub.mkdir()
    shares = [Share("pub", str(pub), guest_ok=True)]
    for policy, status in (
        (None, STATUS_ACCESS_DENIED),
        (AnonymousPolicy.of(null_session_shares=["PUB"]), STATUS_SUCCESS),
        (AnonymousPolicy.of(restrict_null_sess_access=0), STATUS_SUCCESS),
    ):
        ctx, _, _ = make_context(tmp_path, shares=shares, anonymous=policy)
        with _anon(ctx) as c:
            assert c.tree_connect_raw("pub").status == status, policy
            assert c.tree_connect_raw("data").status == STATUS_ACCESS_DENIED  # not guest ok


def test_restrict_anonymous_refuses_share_enum():
    dce = impacket_client(
        srvsvc_pipe(is_anonymous=True, restrict_anonymous=True), srvs.MSRPC_UUID_SRVS
    )
    with pytest.raises(DCERPCException) as err:
        srvs.hNetrShareEnum(dce, 1)
    assert err.value.error_code == 5  # ERROR_ACCESS_DENIED
    dce = impacket_client(srvsvc_pipe(is_anonymous=True), srvs.MSRPC_UUID_SRVS)
    assert srvs.hNetrShareEnum(dce, 1)["ErrorCode"] == 0
    # an authenticated caller is never restricted by it
    dce = impacket_client(srvsvc_pipe(restrict_anonymous=True), srvs.MSRPC_UUID_SRVS)
    assert srvs.hNetrShareEnum(dce, 1)["ErrorCode"] == 0


# ---- the command line and `lanman up` -------------------------------------------------------


def run(home: Path, *args: str, input: str | None = None, ok: bool = True):
    if not home.exists():  # only setup commands create a home (issue 15)
        from lanman.home import Home

        Home.open(home).close()
    r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in r.output + r.stderr
    if ok:
        assert r.exit_code == 0, r.output + r.stderr
    return r


def _settings(home: Path):
    from lanman.home import Home
    from lanman.smb.server.service import build_context

    h = Home.open(home)
    try:
        return build_context(h)
    finally:
        h.close()


def test_policy_set_lists_and_up_uses_them(tmp_path):
    h = tmp_path / "h"
    r = run(h, "policy", "set", PIPES, "srvsvc, LSARPC")
    assert "srvsvc, LSARPC" in r.output
    got = json.loads(run(h, "policy", "get", "NullSessionPipes", "--json").output)
    assert got["value"] == ["srvsvc", "LSARPC"] and got["origin"] == "group policy"
    run(h, "policy", "set", "RestrictAnonymous", "1")
    run(h, "policy", "set", "NullSessionShares", "pub", "--scope", "local")
    a = _settings(h).settings.anonymous
    assert a.null_session_pipes == {"srvsvc", "lsarpc"} and a.restrict_anonymous == 1
    assert a.null_session_shares == {"pub"} and a.restrict_null_sess_access
    run(h, "policy", "set", PIPES, "none")
    assert _settings(h).settings.anonymous.null_session_pipes == frozenset()
    r = run(h, "policy", "set", "RestrictAnonymous", "maybe", ok=False)
    assert r.exit_code == 2
    assert run(h, "policy", "get").exit_code == 0
    assert run(h, "profile", "show").exit_code == 0


def test_reg_file_multi_sz_round_trip(tmp_path):
    h = tmp_path / "h"
    reg = tmp_path / "anon.reg"
    data = ",".join(f"{b:02x}" for b in "srvsvc\0netlogon\0\0".encode("utf-16-le"))
    reg.write_text(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\n"
        f'"NullSessionPipes"=hex(7):{data}\n'
        '"RestrictNullSessAccess"=dword:00000000\n'
    )
    r = run(h, "registry", "import", str(reg))
    assert "srvsvc, netlogon" in r.output
    a = _settings(h).settings.anonymous
    assert a.null_session_pipes == {"srvsvc", "netlogon"} and not a.restrict_null_sess_access
    out = tmp_path / "out.reg"
    run(h, "registry", "export", str(out), "--encoding", "utf-8")
    assert '"NullSessionPipes"=hex(7):73,00,72,00' in out.read_text()
    bad = tmp_path / "bad.reg"
    bad.write_text(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\n"
        '"NullSessionPipes"=dword:00000001\n'
    )
    r = run(h, "registry", "import", str(bad), ok=False)
    assert r.exit_code == 1 and "REG_MULTI_SZ" in r.stderr


# ---- logon failures name the account and the cause (551) ---------------------------------


def test_logon_failure_events_name_account_cause_and_client(tmp_path):
    h = tmp_path / "h"
    run(h, "user", "add", "carol", "--password-stdin", input="Carol-pass1\n")
    run(h, "user", "add", "dan", "--password-stdin", input="Dan-pass1\n")
    run(h, "user", "set", "dan", "--disabled")
    from lanman.home import Home
    from lanman.smb.server.service import build_context

    home = Home.open(h)
    try:
        ctx = build_context(home)
        for user, pw, status in (
            ("carol", "wrong", STATUS_LOGON_FAILURE),
            ("nobody", "x", STATUS_LOGON_FAILURE),
            ("dan", "Dan-pass1", STATUS_ACCOUNT_DISABLED),
        ):
            with SmbTestClient(ctx) as c:
                c.negotiate([0x0311])
                assert c.session_setup(user, pw, "WORKGROUP", check=False).status == status
    finally:
        home.close()
    evs = json.loads(run(h, "events", "--json", "--id", "551").output)
    got = {(e["data"]["user"], e["data"]["reason"]) for e in evs}
    assert got == {
        ("carol", "wrong password"),
        ("nobody", "unknown user"),
        ("dan", "account disabled"),
    }
    assert {e["data"]["domain"] for e in evs} == {"WORKGROUP"}
    assert all(e["data"]["client"] for e in evs)


# ---- the scanner flags anonymous share listing ------------------------------------------


def test_scan_report_flags_anonymous_share_enumeration():
    import io

    import jsonschema
    from rich.console import Console
    from test_scan import SCHEMA

    from lanman.scan.model import HostResult, SessionResult
    from lanman.scan.report import render_html, render_table, to_document
    from lanman.scan.scanner import ScanRun

    def host(shares):
        h = HostResult("10.0.0.5", "10.0.0.5", 445, address="10.0.0.5", reachable=True)
        h.anonymous = SessionResult(
            "anonymous", attempted=True, accepted=True, session="anonymous", shares=shares
        )
        return h

    listed = host(
        [{"name": "pub", "type": 0, "remark": ""}, {"name": "IPC$", "type": 3, "remark": ""}]
    )
    refused = host(None)
    untried = HostResult("10.0.0.6", "10.0.0.6", 445, reachable=True)
    run = ScanRun([listed, refused, untried], 3, 0.1, profiles=("win11-24h2-pro",))
    assert listed.anonymous_can_list_shares and not refused.anonymous_can_list_shares
    assert listed.findings[0].startswith("anonymous share enumeration allowed")
    assert "pub, IPC$" in listed.findings[0] and not refused.findings

    buf = io.StringIO()
    render_table(run, Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert "shares listed" in text and "not tried" in text
    assert "finding: anonymous share enumeration allowed" in text

    html = render_html(run)
    assert "anonymous share enumeration allowed" in html and "shares listed (finding)" in html
    doc = to_document(run)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(doc)))
    assert [d["anonymous_can_list_shares"] for d in doc["hosts"]] == [True, False, False]
    assert doc["hosts"][0]["findings"] and not doc["hosts"][1]["findings"]
