"""msg over SMB: impacket's MS-TSTS client (the calls tstool.py makes: msg, qwinsta) and
lanman's own `msg /SERVER:` against `lanman up` on 127.0.0.1 (NTLM, DCE/RPC PKT_PRIVACY).

tstool.py itself only accepts ports 139/445; the test runs the same impacket helpers
(TSTS.TermSrvSession / TermSrvEnumeration / LegacyAPI) on the server's random port.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
from interop_support import HOST, _lanman, cleanup_target, lanman_cmd, run, start_lanman

PROBE = textwrap.dedent("""
    import sys
    from impacket.smbconnection import SMBConnection
    from impacket.dcerpc.v5 import tsts as TSTS
    port, user, pw, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    smb = SMBConnection(sys.argv[5] if len(sys.argv) > 6 else '127.0.0.1', '127.0.0.1',
                        sess_port=port)
    smb.login(user, pw, 'WORKGROUP')
    if cmd == 'msg':   # tstool.py do_msg
        sid = int(sys.argv[5])
        with TSTS.TermSrvSession(smb, '127.0.0.1', False) as s:
            try:
                print('Sending message to SessionID: %d ...' % sid, end='')
                h = s.hRpcOpenSession(sid)
                ok = s.hRpcShowMessageBox(h, 'T', 'M from impacket')['ErrorCode'] == 0
                print('OK' if ok else 'FAIL')
            except Exception as e:
                print('FAIL')
                if getattr(e, 'error_code', 0) == 0x80070002:
                    print('[-] Could not find SessionID: %d' % sid)
                else:
                    print('[-] %s' % e)
    elif cmd == 'qwinsta':   # tstool.py get_session_list + enumerate_sessions_info
        with TSTS.TermSrvEnumeration(smb, '127.0.0.1', False) as lsm:
            h = lsm.hRpcOpenEnum()
            rows = lsm.hRpcGetEnumResult(h, Level=1)['ppSessionEnumResult']
            lsm.hRpcCloseEnum(h)
        with TSTS.TermSrvSession(smb, '127.0.0.1', False) as s:
            for i in rows:
                x = i['SessionInfo']['SessionEnum_Level1']
                info = s.hRpcGetSessionInformationEx(x['SessionId'])
                u = info['LSMSessionInfoExPtr']['LSM_SessionInfo_Level1']['UserName']
                print(x['SessionId'], x['State'], x['Name'], u)
    elif cmd == 'legacy':
        with TSTS.LegacyAPI(smb, '127.0.0.1', False) as l:
            h = l.hRpcWinStationOpenServer()
            r = l.hRpcWinStationSendMessage(h, int(sys.argv[5]), 'T', 'legacy M')
            print('legacy', r['pResult'], r['pResponse'], r['ErrorCode'])
            l.hRpcWinStationCloseServer(h)
""")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("msg")
    t = start_lanman(base, require_signing=False)
    _lanman(t.home, "msg", "session-add", "desk", "--user", t.user)
    _lanman(t.home, "msg", "session-add", "bot", "--user", t.user, "--auto-response", "ok")
    yield t
    cleanup_target(t)


def _probe(t, cmd, *args, password=None):
    script = t.home.parent / "probe.py"
    script.write_text(PROBE)
    cp = run(
        [
            sys.executable,
            str(script),
            str(t.port),
            t.user,
            password or t.password,
            cmd,
            *map(str, args),
        ],
        timeout=120,
    )
    return cp.stdout.decode() + cp.stderr.decode()


def _policy(t, value):
    _lanman(t.home, "policy", "set", "--scope", "local", "TerminalServer.AllowRemoteRPC", value)


def _msg(t, *args, password=None, stdin=None):
    env = dict(os.environ, LANMAN_MSG_OS_SESSIONS="0")
    return run(
        lanman_cmd()
        + [
            "--home",
            str(t.home),
            "msg",
            f"/SERVER:{HOST}:{t.port}",
            "-U",
            f"{t.user}%{password or t.password}",
            *args,
        ],
        input=stdin,
        env=env,
        timeout=120,
    )


def _inbox(t, name):
    p = t.home / "msg" / "inbox" / f"{name}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def test_allow_remote_rpc_0_gives_1722(server):
    _policy(server, "disabled")
    cp = _msg(server, "*", "hello")
    assert cp.returncode == 1
    assert cp.stderr.decode().splitlines()[0] == "Error 1722 getting session names"
    out = _probe(server, "msg", 1)
    assert "STATUS_OBJECT_NAME_NOT_FOUND" in out  # the endpoint is not there -> 1722


def test_impacket_msg_and_qwinsta(server):
    _policy(server, "enabled")
    out = _probe(server, "msg", 1)
    assert "Sending message to SessionID: 1 ...OK" in out, out
    rec = _inbox(server, "desk")[-1]
    assert rec["message"] == "M from impacket" and rec["title"] == "T"
    assert rec["sender"].lower().endswith(server.user)
    out = _probe(server, "msg", 7)
    assert "FAIL" in out and "[-] Could not find SessionID: 7" in out
    out = _probe(server, "qwinsta")
    assert "0 4 Services" in out and f"1 0 desk {server.user}" in out
    out = _probe(server, "legacy", 2)
    assert "legacy 0 32001 1" in out
    assert _inbox(server, "bot")[-1]["message"] == "legacy M"


def test_lanman_msg_remote(server, tmp_path):
    _policy(server, "enabled")
    cp = _msg(server, "*", "/V", "to all")
    assert cp.returncode == 0, cp.stderr
    assert "Async message sent to session desk" in cp.stdout.decode()
    assert _inbox(server, "desk")[-1]["message"] == "to all"
    cp = _msg(server, "bot", "/V", "/W", "answer me")
    assert "Message to session bot responded to by user: OK" in cp.stdout.decode()
    cp = _msg(server, "desk", "/V", "/W", "/TIME:1", "nobody answers")
    assert "responded to by user: timed out" in cp.stdout.decode()
    cp = _msg(server, "2", stdin=b"from stdin\n")
    assert cp.returncode == 0 and _inbox(server, "bot")[-1]["message"] == "from stdin"
    lst = tmp_path / "targets"
    lst.write_text("desk\n")
    cp = _msg(server, f"@{lst}", "from file")
    assert cp.returncode == 0 and _inbox(server, "desk")[-1]["message"] == "from file"
    cp = _msg(server, server.user, "by user")
    assert cp.returncode == 0 and _inbox(server, "bot")[-1]["message"] == "by user"
    cp = _msg(server, "*", "x", password="wrong")
    assert cp.returncode == 1
    assert cp.stderr.decode().splitlines()[0] == "Error 5 getting session names"


def test_waiting_message_does_not_stall_other_clients(server):
    """msg /W waits for a person; meanwhile the server keeps serving other connections
    (the wait runs in a blocking section with the core lock released)."""
    import subprocess
    import time

    from interop_support import smbclient

    _policy(server, "enabled")
    env = dict(os.environ, LANMAN_MSG_OS_SESSIONS="0")
    waiting = subprocess.Popen(
        lanman_cmd()
        + [
            "--home",
            str(server.home),
            "msg",
            f"/SERVER:{HOST}:{server.port}",
            "-U",
            f"{server.user}%{server.password}",
            "/W",
            "/V",
            "/TIME:6",
            "desk",
            "are you there?",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not any(m["message"] == "are you there?" for m in _inbox(server, "desk")):
            assert time.monotonic() < deadline, "the waiting message never arrived"
            time.sleep(0.05)
        start = time.monotonic()
        cp = smbclient(server, "-c", "ls", check=False, timeout=30)
        took = time.monotonic() - start
        assert cp.returncode == 0, cp.stdout.decode() + cp.stderr.decode()
        assert waiting.poll() is None, "msg /W returned before its timeout"
        assert took < 4, f"another client waited {took:.1f}s behind msg /W"
    finally:
        out = waiting.communicate(timeout=60)[0].decode()
    assert "timed out" in out.lower() or "timeout" in out.lower(), out
