"""`lanman session list`, the `msg` console script, and msg to a pseudo-terminal end to end."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from lanman.cli._common import HomeRef
from lanman.cli.main import cli
from lanman.cli.msg import main as msg_main
from lanman.cli.msg import msg, msg_script, sessions_cmd
from lanman.cli.session import session
from lanman.home import Home
from lanman.msg.command import LocalBackend, run_msg
from lanman.msg.host import Caller, MsgHost
from lanman.msg.sessions import MsgSession, SessionState, StaticProvider
from lanman.msg.syntax import parse_msg_args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LANMAN_MSG_OS_SESSIONS", "0")
    monkeypatch.delenv("LANMAN_MSG_USER", raising=False)
    monkeypatch.delenv("LANMAN_MSG_PASSWORD", raising=False)
    h = tmp_path / "h"
    Home.open(h).close()  # only setup commands create a home (issue 15)
    r = CliRunner()
    for name, user in (("desk", "alice"), ("pts/9", "bob")):
        res = r.invoke(cli, ["--home", str(h), "msg", "session-add", name, "--user", user])
        assert res.exit_code == 0, res.output
    return h


# ----------------------------------------------------------------------------- session list
def test_one_command_two_entry_points():
    assert session.commands["list"] is sessions_cmd
    assert msg.commands["sessions"] is sessions_cmd


def test_session_list_matches_msg_sessions(home):
    r = CliRunner()
    a = r.invoke(cli, ["--home", str(home), "session", "list", "--json"])
    b = r.invoke(cli, ["--home", str(home), "msg", "sessions", "--json"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    rows = json.loads(a.output)
    assert [(x["session_id"], x["name"], x["user"], x["state"]) for x in rows] == [
        (0, "Services", "", "Disc"),
        (1, "desk", "alice", "Active"),
        (2, "pts/9", "bob", "Active"),
    ]
    assert json.loads(b.output) == rows


def test_session_list_table(home):
    res = CliRunner().invoke(cli, ["--home", str(home), "session", "list"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE"]
    assert lines[2].split()[:5] == ["desk", "alice", "1", "Active", "virtual"]


def test_session_list_remote_unreachable(home, tmp_path):
    # nothing listens on 127.0.0.1:1: the RPC server is unavailable -> 1722
    res = CliRunner().invoke(
        cli, ["--home", str(home), "session", "list", "--server", "127.0.0.1:1", "-U", "alice%pw"]
    )
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == "Error 1722 getting session names"


def test_session_list_remote_needs_credentials(home):
    res = CliRunner().invoke(
        cli, ["--home", str(home), "session", "list", "--server", "127.0.0.1:1"]
    )
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == "Error 5 getting session names"


# ----------------------------------------------------------------------------- msg script
def test_msg_console_script_declared():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["msg"] == "lanman.cli.msg:main"


def _inbox(home, name):
    p = home / "msg" / "inbox" / f"{name}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()]


def test_msg_script_windows_syntax(home):
    r = CliRunner()
    obj = HomeRef(home)
    res = r.invoke(msg_script, ["*", "/V", "/TIME:5", "hello", "all"], obj=obj)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        "Sending message to session desk, display time 5",
        "Async message sent to session desk",
        "Sending message to session pts/9, display time 5",
        "Async message sent to session pts/9",
    ]
    assert _inbox(home, "desk")[-1]["message"] == "hello all"
    # lanman's verbs mean nothing to the msg script: "sessions" is a user name here
    res = r.invoke(msg_script, ["sessions", "hi"], obj=HomeRef(home))
    assert res.exit_code == 1 and "No session exists for sessions" in res.output
    res = r.invoke(msg_script, ["bob"], input="from stdin\n", obj=HomeRef(home))
    assert res.exit_code == 0 and _inbox(home, "pts_9")[-1]["message"] == "from stdin"
    res = r.invoke(msg_script, ["--", "/V"], obj=HomeRef(home))  # a target, after --
    assert res.exit_code == 1 and "No session exists for /V" in res.output
    res = r.invoke(msg_script, ["/?"], obj=HomeRef(home))
    assert res.exit_code == 0 and res.output.startswith("Send a message")
    res = r.invoke(msg_script, ["/bogus", "x"], obj=HomeRef(home))
    assert res.exit_code == 1 and res.output.startswith("Invalid parameter(s)")


def test_msg_script_server_syntax(home, monkeypatch):
    # `msg * /SERVER:host hello`, exactly as on Windows; nobody on 127.0.0.1:1 -> 1722
    monkeypatch.setenv("LANMAN_MSG_USER", "alice")
    monkeypatch.setenv("LANMAN_MSG_PASSWORD", "pw")
    res = CliRunner().invoke(msg_script, ["*", "/SERVER:127.0.0.1:1", "hello"], obj=HomeRef(home))
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == "Error 1722 getting session names"


def test_msg_main_uses_lanman_home(home, monkeypatch):
    monkeypatch.setenv("LANMAN_HOME", str(home))
    with pytest.raises(SystemExit) as ei:
        msg_main(["desk", "via main"])
    assert ei.value.code == 0
    assert _inbox(home, "desk")[-1]["message"] == "via main"


# ----------------------------------------------------------------------------- pty end to end
def _read_all(fd: int, limit: float = 2.0) -> bytes:
    out = b""
    for _ in range(64):
        ready, _, _ = select.select([fd], [], [], limit if not out else 0.2)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


@pytest.fixture()
def pty_host(tmp_path):
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.chmod(path, 0o620)  # mesg y
    s = MsgSession(0, "pts/x", "carol", SessionState.ACTIVE, "tty", tty=path, key="pty:x")
    host = MsgHost.open(tmp_path / "state", os_sessions=False)
    host.providers.append(StaticProvider([s]))
    try:
        yield host, master, path
    finally:
        os.close(master)
        os.close(slave)


def _send(host, argv):
    out, err = io.StringIO(), io.StringIO()
    rc = run_msg(
        parse_msg_args(argv),
        lambda a: LocalBackend(host, Caller("root", is_admin=True)),
        sender="root",
        stdin=io.StringIO(),
        out=out,
        err=err,
    )
    return rc, out.getvalue(), err.getvalue()


def test_msg_to_pty_strips_controls(pty_host):
    host, master, _ = pty_host
    evil = "hi\x1b]0;title\x07 \x1b[31mred\x1b[0m\x08\x00\x7f\x9b6n\x05 there\rtail"
    rc, out, err = _send(host, ["carol", "/V", evil])
    assert rc == 0 and err == "", err
    assert "Async message sent to session pts/x" in out
    data = _read_all(master)
    # line ends are CR LF (the pty's ONLCR makes them CR CR LF: what the terminal shows)
    assert re.fullmatch(rb"(\r+\n|[^\r\n])*", data)
    banner, _, body = data.replace(b"\r", b"").partition(b"...\n")
    assert b"Message from root" in banner
    # the text arrives, with no escape sequence and no control character but the line ends
    assert body == b"hi red6n there\ntail\nEOF\n"
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", body)
    assert b"\xc2\x9b" not in data and b"\x1b" not in data


def test_msg_to_pty_mesg_n(pty_host):
    host, master, path = pty_host
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)  # mesg n: no group write
    rc, _, err = _send(host, ["carol", "/V", "nope"])
    assert rc == 1
    assert "Error sending message to session pts/x : Error 5" in err
    assert "mesg n" in err
    assert _read_all(master, limit=0.3) == b""  # nothing reached the terminal
    os.chmod(path, 0o620)  # mesg y again: it arrives
    rc, _, _ = _send(host, ["carol", "yes"])
    assert rc == 0 and b"yes" in _read_all(master)
