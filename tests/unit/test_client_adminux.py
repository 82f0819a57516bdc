"""Issue 15 (admin UX): Windows-exact diagnosis of servers that cannot sign, per server family,
the scan verdicts that reuse it, and ``lanman client``'s messages and exit codes.

The server is lanman's own ServerConnection in process (as in test_client.py); "a server whose
NTLM cannot sign" is made by dropping (or spoiling) the mechListMIC of its final SPNEGO token,
which is what impacket's smbserver sends (fortra/impacket#1883; tests/interop/test_third_party_
signing.py runs the real one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from smb_harness import NOW, PASSWORD, USER, make_context
from test_client import EventSink, InProcessTransport, connect

import lanman.cli.client as client_cli
from lanman.auth import spnego
from lanman.cli.main import cli
from lanman.errors import ntstatus as nts
from lanman.errors.explain import FAILURES, explain_for_family
from lanman.scan.family import recognise_server
from lanman.scan.verdicts import ServerFacts, predict, remedies_for
from lanman.smb.client import SmbClient, SmbClientError

DIALECTS = {"2.0.2": 0x0202, "2.1": 0x0210, "3.0": 0x0300, "3.1.1": 0x0311}


@pytest.fixture
def no_mech_list_mic(monkeypatch):
    """The server completes NTLM without a mechListMIC (SMB signing itself still works)."""
    orig = spnego.SpnegoAcceptor._on_resp

    def _on_resp(self, resp):
        out, done = orig(self, resp)
        tok = spnego.parse_token(out)
        if done and isinstance(tok, spnego.NegTokenResp) and tok.mech_list_mic is not None:
            out = spnego.NegTokenResp(spnego.NegState.ACCEPT_COMPLETED).encode()
        return out, done

    monkeypatch.setattr(spnego.SpnegoAcceptor, "_on_resp", _on_resp)


@pytest.fixture
def bad_mech_list_mic(monkeypatch):
    """The server's mechListMIC does not verify."""
    orig = spnego.SpnegoAcceptor._on_resp

    def _on_resp(self, resp):
        out, done = orig(self, resp)
        tok = spnego.parse_token(out)
        if done and isinstance(tok, spnego.NegTokenResp) and tok.mech_list_mic is not None:
            out = spnego.NegTokenResp(
                spnego.NegState.ACCEPT_COMPLETED, mech_list_mic=bytes(16)
            ).encode()
        return out, done

    monkeypatch.setattr(spnego.SpnegoAcceptor, "_on_resp", _on_resp)


# ---- the client core -----------------------------------------------------------------------


@pytest.mark.parametrize("label", list(DIALECTS))
def test_missing_mech_list_mic_signing_required_is_0xc000a000(tmp_path, label, no_mech_list_mic):
    ctx, _, _ = make_context(tmp_path)
    events = EventSink()
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, dialect=DIALECTS[label], events=events, require_signing=True)
    e = ei.value
    assert e.status == nts.STATUS_INVALID_SIGNATURE and e.key == "server_cannot_sign"
    text = "\n".join(e.lines())
    assert text.startswith(
        "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE The cryptographic signature is invalid."
    )
    assert "System error 5" not in text and "Grant-SmbShareAccess" not in text
    assert "third-party server" in text and "mechListMIC is missing" in text
    assert "server signing = mandatory" in text
    assert "Set-SmbClientConfiguration -RequireSecuritySignature $false" in text
    assert "lanman smb client-config set --require-security-signature false" in text
    assert "CLIENT_SERVER_DOES_NOT_SUPPORT_SIGNING" in events.names()  # 31998, as Windows


def test_invalid_mech_list_mic_signing_required_is_0xc000a000(tmp_path, bad_mech_list_mic):
    ctx, _, _ = make_context(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, require_signing=True)
    assert ei.value.status == 0xC000A000 and ei.value.key == "server_cannot_sign"
    assert "mechListMIC is invalid" in ei.value.detail


def test_missing_mech_list_mic_without_signing_is_refused_but_not_share_permissions(
    tmp_path, no_mech_list_mic
):
    ctx, _, _ = make_context(tmp_path, require_message_signing=False)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, dialect=0x0210, require_signing=False)
    e = ei.value
    assert e.status == nts.STATUS_ACCESS_DENIED and e.key == "server_mechlistmic"
    text = "\n".join(e.lines())
    assert "Grant-SmbShareAccess" not in text and "not a share or file permission" in text


def test_the_client_names_the_family_it_saw(tmp_path, no_mech_list_mic):
    """SmbClient.connect annotates the failure with the family recognised from what the
    connection saw (lanman's own server: NTLM 10.0.20348, NTLM-only SPNEGO)."""
    ctx, _, _ = make_context(tmp_path)
    with pytest.raises(SmbClientError) as ei:
        connect(ctx, require_signing=True)
    assert ei.value.family == "lanman"
    assert ei.value.explanation.family == "lanman"
    assert "lanman smb server-config set --require-security-signature true" in "\n".join(
        ei.value.lines()
    )


# ---- remedies per family -------------------------------------------------------------------


def test_family_recognition_from_a_client_connection():
    assert recognise_server("255.255.65535", "", ["NTLM"])[0] == "impacket"
    assert recognise_server("", "41414141-4141-4141-4141-414141414141", [])[0] == "impacket"
    assert recognise_server("6.1.0", "", ["NTLM"])[0] == "samba"
    assert recognise_server("10.0.26100", "", ["NTLM"])[0] == "windows"
    assert recognise_server("", "", [])[0] == "unknown"


@pytest.mark.parametrize("key", ["server_cannot_sign", "server_will_not_sign"])
def test_signing_remedies_follow_the_family(key):
    imp = explain_for_family(key, "impacket", "NTLM version 255.255.65535")
    server = next(r for r in imp.remedies if r.side == "server")
    assert "impacket" in server.summary and "#1883" in server.summary
    assert "impacket's smbserver" in imp.cause and "255.255.65535" in imp.cause
    samba = explain_for_family(key, "samba")
    server = next(r for r in samba.remedies if r.side == "server")
    assert server.smb_conf.startswith("server signing = mandatory")
    assert "Synology" in server.vendor and "QNAP" in server.vendor
    win = explain_for_family(key, "windows")
    server = next(r for r in win.remedies if r.side == "server")
    assert "Digitally sign communications (always)" in server.group_policy
    generic = explain_for_family(key, "unknown")
    assert generic is FAILURES[key]
    for e in (imp, samba, win, generic):
        client = next(r for r in e.remedies if r.side == "client")
        assert "RequireSecuritySignature $false" in client.powershell
        assert "Grant-SmbShareAccess" not in e.text()


def test_other_failures_keep_their_explanation():
    assert explain_for_family("guest_blocked", "samba") is FAILURES["guest_blocked"]
    assert explain_for_family("access_denied", "impacket") is FAILURES["access_denied"]


# ---- scan verdicts reuse it ----------------------------------------------------------------


def _facts(**kw) -> ServerFacts:
    base = {
        "smb2_dialects": (0x0202,),
        "smb2_required": {0x0202: False},
        "smb1_offered": True,
        "smb1_state": "enabled",
        "scenario": "user",
    }
    base.update(kw)
    return ServerFacts(**base)


@pytest.mark.parametrize("inferred", [False, True])
def test_scan_verdict_matches_the_client(inferred):
    f = _facts(
        server_signs=False, sign_failure_key="server_cannot_sign", sign_failure_inferred=inferred
    )
    o = predict("win11-24h2-pro", f)  # requires signing
    assert not o.ok and o.code == 0xC000A000 and o.key == "server_cannot_sign"
    assert o.name == "STATUS_INVALID_SIGNATURE"
    assert ("inferred" in o.note) is inferred
    home = predict("win11-24h2-home", f)  # does not require signing: refused (mechListMIC)
    assert not home.ok and home.code == 5 and home.key == "server_mechlistmic"
    rem = remedies_for(o.key, "impacket")
    assert rem[0]["side"] == "server" and "impacket" in rem[0]["summary"]
    assert any("RequireSecuritySignature $false" in h for h in rem[1]["how"])
    samba = remedies_for("server_cannot_sign", "samba")
    assert any(h.startswith("smb.conf: server signing = mandatory") for h in samba[0]["how"])


# ---- lanman client: messages and exit codes -------------------------------------------------


def _invoke(tmp_path: Path, *args: str, input: str | None = None):
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "client", *args], input=input)
    assert "Traceback" not in r.output + r.stderr
    assert "internal error" not in r.output + r.stderr
    return r


def test_user_without_password_and_no_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(client_cli, "_interactive", lambda: False)  # CI has no terminal either
    r = _invoke(tmp_path, "//127.0.0.1/data", "-p", "1", "-U", "alice")
    assert r.exit_code == 1
    assert "no password for alice and no terminal to ask for one" in r.stderr
    assert "Aborted" not in r.output + r.stderr and "getpass" not in r.stderr


def test_usage_errors_exit_2(tmp_path):
    r = _invoke(tmp_path, "//127.0.0.1/data", "--dialect")
    assert r.exit_code == 2
    r = _invoke(tmp_path, "//127.0.0.1/data", "-p", "0")
    assert r.exit_code == 2


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    """lanman client's SmbClient.connect over an in-process lanman server."""
    ctx, _, share_dir = make_context(tmp_path)
    real = SmbClient.connect.__func__

    def fake(cls, host, port=445, user="", password="", **kw):
        kw["transport"] = InProcessTransport(ctx)
        kw["now_filetime"] = NOW
        return real(cls, host, port, user, password, **kw)

    monkeypatch.setattr(client_cli.SmbClient, "connect", classmethod(fake))
    return share_dir


def test_local_file_errors_are_one_line(tmp_path, in_process):
    u = f"{USER}%{PASSWORD}"
    r = _invoke(tmp_path, "//lanman/data", "-U", u, "-c", "put /missing x")
    assert r.exit_code == 1
    assert r.stderr.strip() == "lanman: put: local file '/missing': No such file or directory"
    assert not (in_process / "x").exists()  # nothing created on the server
    (in_process / "f").write_bytes(b"abc")
    r = _invoke(tmp_path, "//lanman/data", "-U", u, "-c", "get f /missing/dir/x")
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "lanman: get: local file '/missing/dir/x': directory '/missing/dir' does not exist"
    )
    r = _invoke(tmp_path, "//lanman/data", "-U", u, "-c", f"get f {tmp_path}")
    assert r.exit_code == 1 and r.stderr.strip().endswith("Is a directory")


def test_commands_json(tmp_path, in_process):
    (in_process / "f.txt").write_bytes(b"abc")
    u = f"{USER}%{PASSWORD}"
    r = _invoke(tmp_path, "//lanman/data", "-U", u, "-c", "ls", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    doc = json.loads(r.stdout)
    (ls,) = doc["commands"]
    assert ls["command"] == "ls" and ls["ok"] is True
    assert {"name": "f.txt", "size": 3, "is_dir": False}.items() <= next(
        e for e in ls["entries"] if e["name"] == "f.txt"
    ).items()
    local = tmp_path / "g.txt"
    r = _invoke(
        tmp_path,
        "//lanman/data",
        "-U",
        u,
        "-c",
        f"get f.txt {local}; stat f.txt",
        "--json",
        "--show-connection",
    )
    doc = json.loads(r.stdout)
    assert [c["command"] for c in doc["commands"]] == ["get", "stat"]
    assert doc["commands"][0]["bytes"] == 3 and local.read_bytes() == b"abc"
    assert doc["connection"]


def test_signing_failure_json_names_the_family(tmp_path, in_process, no_mech_list_mic):
    r = _invoke(tmp_path, "//lanman/data", "-U", f"{USER}%{PASSWORD}", "-c", "ls", "--json")
    assert r.exit_code == 1
    err = json.loads(r.stdout)["error"]
    assert err["ntstatus_hex"] == "0xC000A000" and err["explanation"]["key"] == "server_cannot_sign"
    assert err["server_family"] == "lanman"
    assert "0xc000a000 -1073700864 STATUS_INVALID_SIGNATURE" in r.stderr


@pytest.mark.parametrize(
    ("mechs", "family"),
    [
        (["NTLM"], "lanman"),  # a workgroup home
        (["MS-KRB5", "Kerberos", "NTLM"], "lanman"),  # after `lanman domain provision`
        (["NegoEx", "MS-KRB5", "Kerberos", "NTLM"], "windows"),  # Windows Server 2022
    ],
)
def test_lanman_recognised_with_and_without_a_domain(mechs, family):
    from lanman.scan.family import recognise_server

    assert recognise_server("10.0.20348", "", mechs)[0] == family
