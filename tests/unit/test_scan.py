"""lanman scan: targets, sans-IO probes, verdicts (against the policy matrix), renderers.

Network: only the in-process lanman servers of :class:`lanman.policy.matrix.MatrixServer` on
127.0.0.1 (random ports)."""

from __future__ import annotations

import csv
import io
import json
import struct
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from lanman.auth.ntlm import AvId, ChallengeMessage, encode_av_pairs
from lanman.cli.main import cli
from lanman.policy import matrix
from lanman.policy.matrix import MatrixServer, Party, expected_outcome, profile_names, run_pair
from lanman.scan import probes as pr
from lanman.scan.model import HostResult, nmap_smb1_sentence, nmap_smb2_sentence
from lanman.scan.report import render_csv, render_html, to_document
from lanman.scan.scanner import ScanOptions, ScanRun, scan, scan_host
from lanman.scan.targets import MAX_ADDRESSES, Target, TargetError, parse_targets
from lanman.scan.verdicts import ServerFacts, predict, remedies_for
from lanman.smb.wire import negotiate as neg
from lanman.smb.wire.constants import Command, HeaderFlags, NegotiateContextType
from lanman.smb.wire.header import Smb2Header

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "src" / "lanman" / "scan" / "scan-report.schema.json"
    ).read_text()
)


def test_schema_is_package_data():
    """The schema ships inside the package (pip install includes it)."""
    from lanman.scan.report import schema

    assert schema() == SCHEMA and SCHEMA["$id"].endswith("scan-report.schema.json")


# ---- targets -----------------------------------------------------------------------------------


def test_targets_forms(tmp_path):
    f = tmp_path / "hosts.txt"
    f.write_text("# fleet\n127.0.0.5  127.0.0.6:4445\n\nnas.local # the NAS\n")
    ts = parse_targets(
        ["127.0.0.1", "127.0.0.2:1445", "[::1]:446", "::1", "127.0.0.8/30", f"@{f}", "127.0.0.1"]
    )
    assert [t.label for t in ts] == [
        "127.0.0.1",
        "127.0.0.2:1445",
        "[::1]:446",
        "[::1]",
        "127.0.0.9",
        "127.0.0.10",
        "127.0.0.5",
        "127.0.0.6:4445",
        "nas.local",
    ]
    assert parse_targets(["localhost"], default_port=4445) == [Target("localhost", 4445)]


def test_targets_cap_and_errors():
    assert len(parse_targets(["127.0.0.0/20"])) == 4094
    with pytest.raises(TargetError, match="at most 4096"):
        parse_targets(["10.0.0.0/8"])
    with pytest.raises(TargetError, match="4096"):
        parse_targets(["127.0.0.0/20", "127.1.0.0/21"])
    for bad in ("127.0.0.1:0", "127.0.0.1:x", "[::1", "", "a b"):
        with pytest.raises(TargetError):
            parse_targets([bad])
    assert MAX_ADDRESSES == 4096


def test_cli_cidr_cap_is_a_usage_error():
    r = CliRunner().invoke(cli, ["scan", "10.0.0.0/8"])
    assert r.exit_code == 2
    assert "at most 4096" in r.output


def test_cli_help_says_where_traffic_goes():
    r = CliRunner().invoke(cli, ["scan", "--help"])
    assert r.exit_code == 0
    assert "ONLY to the targets given" in r.output


# ---- probes (sans-IO) --------------------------------------------------------------------------


def test_negotiate_request_per_dialect_and_contexts():
    for d in pr.DIALECTS:
        raw = pr.smb2_negotiate([d])
        req = neg.NegotiateRequest.unpack(raw)
        assert req.dialects == [d]
        assert req.security_mode == 1  # signing enabled, not required: shows the server's own
        assert bool(req.contexts) == (d == 0x0311)
    req = neg.NegotiateRequest.unpack(
        pr.smb2_negotiate([0x0311], signing_algorithms=[0], ciphers=[])
    )
    types = [c.context_type for c in req.contexts]
    assert types == [
        NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES,
        NegotiateContextType.SIGNING_CAPABILITIES,
    ]
    assert neg.parse_id_list_context(req.contexts[1].data) == [0]


def _response(dialect: int, mode: int, contexts=(), status: int = 0) -> bytes:
    hdr = Smb2Header(Command.NEGOTIATE, status=status, flags=HeaderFlags.SERVER_TO_REDIR)
    if status:
        return hdr.pack() + struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"
    token = pr.spnego.negotiate_token([pr.spnego.MS_KRB5_OID, pr.spnego.NTLMSSP_OID])
    body = neg.NegotiateResponse(
        mode, dialect, b"\x11" * 16, 0x2F, 65536, 65536, 65536, 0, 0, token, list(contexts)
    ).pack()
    return hdr.pack() + body


def test_parse_negotiate_response():
    ctx = [
        neg.preauth_context([1], b"s" * 32),
        neg.id_list_context(NegotiateContextType.ENCRYPTION_CAPABILITIES, [2]),
        neg.id_list_context(NegotiateContextType.SIGNING_CAPABILITIES, [1]),
    ]
    r = pr.parse_smb2_negotiate(_response(0x0311, 3, ctx))
    assert (r.accepted, r.dialect, r.signing_enabled, r.signing_required) == (
        True,
        0x0311,
        True,
        True,
    )
    assert (r.cipher, r.signing_algorithm) == (2, 1)
    assert r.mechanisms == ["MS-KRB5", "NTLM"]
    refused = pr.parse_smb2_negotiate(_response(0, 0, status=0xC00000BB))
    assert not refused.accepted and refused.status == 0xC00000BB
    with pytest.raises(pr.ProbeError):
        pr.parse_smb2_negotiate(b"\xffSMB" + b"\x00" * 60)


def test_frame_bounds():
    assert pr.frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert pr.unframe_length(b"\x85\x00\x00\x00") is None
    with pytest.raises(pr.ProbeError):
        pr.unframe_length(b"\x00\xff\xff\xff")  # 16 MiB: no NEGOTIATE answer is that long
    with pytest.raises(pr.ProbeError):
        pr.unframe_length(b"\x81\x00\x00\x00")


def test_smb1_negotiate_roundtrip_with_lanman_server_codec():
    from lanman.smb.smb1 import wire as w1

    m = w1.Message.parse(pr.smb1_negotiate())
    assert w1.parse_negotiate_dialects(m.blocks[0]) == ["NT LM 0.12"]
    for mode, state in ((3, "disabled"), (7, "enabled"), (15, "required")):
        resp = w1.NegotiateResponse(
            0,
            mode,
            capabilities=int(w1.Capabilities.EXTENDED_SECURITY),
            server_guid=b"g" * 16,
            security_blob=b"",
        )
        hdr = w1.Smb1Header(w1.Command.NEGOTIATE, 0, 0x80, 0xC801, mid=1)
        r = pr.parse_smb1_negotiate(bytes(w1.pack_message(hdr, [resp.block()])))
        assert r.offered and r.security_mode == mode and r.signing_state == state
    assert nmap_smb1_sentence(15) == "required"
    assert nmap_smb1_sentence(7) == "supported"
    assert nmap_smb1_sentence(3) == "disabled (dangerous, but default)"


def test_ntlm_challenge_names():
    info = encode_av_pairs(
        [
            (AvId.NB_COMPUTER_NAME, "NAS01".encode("utf-16-le")),
            (AvId.NB_DOMAIN_NAME, "HOME".encode("utf-16-le")),
            (AvId.DNS_COMPUTER_NAME, "nas01.home.lan".encode("utf-16-le")),
        ]
    )
    ch = ChallengeMessage(0x628A8215, b"c" * 8, "HOME", info).encode()
    tok = pr.spnego.NegTokenResp(
        pr.spnego.NegState.ACCEPT_INCOMPLETE, pr.spnego.NTLMSSP_OID, ch
    ).encode()
    from lanman.smb.wire.session import SessionSetupResponse

    hdr = Smb2Header(Command.SESSION_SETUP, status=0xC0000016, flags=HeaderFlags.SERVER_TO_REDIR)
    n = pr.parse_ntlm_challenge(hdr.pack() + SessionSetupResponse(0, tok).pack())
    assert (n.netbios_computer, n.netbios_domain, n.dns_computer) == (
        "NAS01",
        "HOME",
        "nas01.home.lan",
    )
    assert n.version == "10.0.20348"
    # the request carries an NTLM NEGOTIATE inside SPNEGO, no credentials
    req = pr.ntlm_session_setup()
    assert b"NTLMSSP\x00\x01\x00\x00\x00" in req


def test_nmap_smb2_sentences():
    assert nmap_smb2_sentence(3) == "Message signing enabled and required"
    assert nmap_smb2_sentence(1) == "Message signing enabled but not required"
    assert nmap_smb2_sentence(0) == "Message signing is disabled and not required!"
    assert nmap_smb2_sentence(2) == "Message signing is disabled!"


# ---- verdicts: one source of truth with the policy matrix -----------------------------------


def _facts_for(
    server: str, scenario: str, smb1_servers: bool = False, server_signs: bool = True
) -> ServerFacts:
    s = Party.of(server)
    dialects = () if s.smb1_only else pr.DIALECTS
    return ServerFacts(
        dialects,
        {d: s.server.require_signing for d in dialects},
        s.smb1_only or smb1_servers,
        s.server_smb1_state,
        scenario,
        server_signs,
    )


@pytest.mark.parametrize("scenario", matrix.SCENARIOS)
@pytest.mark.parametrize("smb1_servers", [False, True])
def test_predict_matches_expected_outcome_for_every_pair(scenario, smb1_servers):
    n = 0
    for c in profile_names():
        for s in profile_names():
            got = predict(c, _facts_for(s, scenario, smb1_servers))
            want = expected_outcome(c, s, scenario, smb1_servers=smb1_servers)
            assert got.comparable() == want.comparable(), (c, s, scenario, got, want)
            n += 1
    assert n == len(profile_names()) ** 2


def test_predict_server_that_does_not_sign():
    for c in profile_names():
        if Party.of(c).smb1_only:
            continue
        got = predict(c, _facts_for("win10", "user", server_signs=False))
        want = expected_outcome(c, "win10", "user", server_signs=False)
        assert got.comparable() == want.comparable()


def test_remedies_follow_the_family():
    samba = remedies_for("guest_blocked", "samba")
    assert samba[0]["side"] == "server"
    assert any("smb.conf: map to guest = never" in h for h in samba[0]["how"])
    win = remedies_for("server_will_not_sign", "windows")
    assert any(h.startswith("Group Policy:") for h in win[0]["how"])
    assert remedies_for("server_will_not_sign", "unknown")[0]["how"] == []  # generic summary
    assert remedies_for(None, "samba") == []


# ---- against lanman's own server (127.0.0.1) -----------------------------------------------


@pytest.fixture(scope="module")
def servers():
    made = {p: MatrixServer(p, smb1_servers=(p == "win10")) for p in ("win11-24h2-pro", "win10")}
    made["xp"] = MatrixServer("xp")
    yield made
    for s in made.values():
        s.close()


CLIENTS = ("win11-24h2-pro", "win11-24h2-home", "win10", "server2025", "xp")


@pytest.mark.parametrize("creds", [True, False])
def test_scan_verdict_equals_real_connection(servers, creds):
    """The verdict the scanner predicts is what lanman's real client, configured as that
    profile, gets from the same server (user scenario with credentials, guest without)."""
    for server, srv in servers.items():
        opts = ScanOptions(
            timeout=10,
            profiles=CLIENTS,
            user=matrix.USER if creds else "",
            password=matrix.PASSWORD if creds else "",
            share=matrix.SHARE,
        )
        h = scan_host(Target("127.0.0.1", srv.port), opts)
        assert h.reachable and not h.error, h.error
        assert h.family == "lanman"
        scenario = "user" if creds else "guest"
        for v in h.verdicts:
            if server == "xp" and not Party.of(v.profile).smb1_only:
                continue  # lanman's server under an SMB1-only profile still speaks SMB2
            observed = run_pair(srv.port, v.profile, server, scenario, timeout=10)
            assert v.scenario == scenario
            assert v.outcome.comparable() == observed.comparable(), (server, v.profile, v, observed)


def test_scan_facts_of_lanman_servers(servers):
    h = scan_host(Target("127.0.0.1", servers["win11-24h2-pro"].port), ScanOptions(timeout=10))
    assert [d.offered for d in h.dialects] == [True] * 5
    assert all(d.signing_required for d in h.dialects)
    assert h.nmap_smb2 == "Message signing enabled and required"
    assert h.signing_algorithms == ["AES-GMAC", "AES-CMAC", "HMAC-SHA256"]
    assert not h.relay_risk
    assert h.guest_accepted and h.guest_can_list_shares
    assert {s["name"] for s in h.guest.shares} >= {matrix.SHARE, "IPC$"}
    assert h.ntlm.netbios_computer == "M-WIN11-24H2-PR"
    w10 = scan_host(Target("127.0.0.1", servers["win10"].port), ScanOptions(timeout=10))
    assert w10.smb1.offered and w10.smb1.security_mode == 3  # win10 server: SMB1 signing off
    assert w10.relay_risk and "SMB1: signing disabled (SecurityMode 3)" in w10.relay_reasons
    xp = scan_host(Target("127.0.0.1", servers["xp"].port), ScanOptions(timeout=10))
    assert xp.smb1.offered and xp.smb1.security_mode == 3
    xp_client = scan_host(
        Target("127.0.0.1", servers["xp"].port), ScanOptions(timeout=10, profiles=("xp",))
    )
    assert xp_client.verdicts[0].outcome.family == "SMB1"


def test_reports_validate_and_render(servers, tmp_path):
    ts = [Target("127.0.0.1", s.port) for s in servers.values()] + [Target("127.0.0.1", 1)]
    run = scan(ts, ScanOptions(timeout=5, profiles=("win11-24h2-pro", "xp")), concurrency=4)
    assert [h.port for h in run.results] == [t.port for t in ts]
    doc = to_document(run)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(doc)))
    assert doc["hosts"][-1]["verdicts"][0]["status"] == "unreachable"
    rows = list(csv.DictReader(io.StringIO(render_csv(run))))
    assert len(rows) == 2 * len(ts)
    html = render_html(run)
    assert '<svg id="summary-chart"' in html and "<script" not in html


def test_cli_json_and_exit_status(servers, tmp_path):
    port = servers["win11-24h2-pro"].port
    out = tmp_path / "r.html"
    r = CliRunner().invoke(
        cli, ["scan", f"127.0.0.1:{port}", "--json", "--html", str(out), "--profile", "win10"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert out.read_text().startswith("<!DOCTYPE html>")
    # guest-only (no credentials) + 24H2 Pro -> 1272 -> exit 1
    r = CliRunner().invoke(cli, ["scan", f"127.0.0.1:{port}", "--csv"])
    assert r.exit_code == 1
    assert "ERROR_SMB_GUEST_LOGON_BLOCKED" in r.stdout


def test_interrupt_returns_what_finished(monkeypatch):
    calls = []

    def fake(t, opts):
        calls.append(t)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return HostResult(t.label, t.host, t.port)

    monkeypatch.setattr("lanman.scan.scanner.scan_host", fake)
    run = scan([Target("127.0.0.1", p) for p in (1, 2, 3)], ScanOptions(), concurrency=1)
    assert isinstance(run, ScanRun) and run.interrupted
    assert [h.port for h in run.results] == [1]
