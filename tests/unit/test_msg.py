"""msg: command syntax, session registry, delivery (terminal + inbox), command output."""

from __future__ import annotations

import io
import json
import os
import pty
import stat

import pytest

from lanman.msg.command import LocalBackend, MsgError, run_msg
from lanman.msg.delivery import (
    IDASYNC,
    IDOK,
    IDTIMEOUT,
    DeliveryError,
    Message,
    deliver_tty,
    sanitize,
)
from lanman.msg.host import Caller, MsgHost
from lanman.msg.sessions import MsgSession, SessionState, StaticProvider, VirtualProvider
from lanman.msg.syntax import DEFAULT_TIME, MsgUsageError, expand_targets, parse_msg_args


# ----------------------------------------------------------------------------- syntax
@pytest.mark.parametrize(
    "argv, expect",
    [
        (["*", "hello", "world"], {"target": "*", "message": "hello world", "time": DEFAULT_TIME}),
        (
            ["alice", "/SERVER:host1", "/time:5", "/V", "/w", "hi"],
            {
                "target": "alice",
                "server": "host1",
                "time": 5,
                "verbose": True,
                "wait": True,
                "message": "hi",
            },
        ),
        (["/v", "2"], {"target": "2", "message": None, "verbose": True}),
        (
            ["-s", "h:4445", "-t", "7", "-vw", "console", "x", "/V"],
            {
                "server": "h:4445",
                "time": 7,
                "verbose": True,
                "wait": True,
                "target": "console",
                "message": "x /V",
            },
        ),
        (
            ["--server=h", "--time=0", "@list", "-5 degrees"],
            {"server": "h", "time": 0, "target": "@list", "message": "-5 degrees"},
        ),
        (["-U", "alice%pw", "/SERVER:h", "*", "m"], {"user": "alice", "password": "pw"}),
        (["--", "-odd", "text"], {"target": "-odd", "message": "text"}),
    ],
)
def test_parse(argv, expect):
    a = parse_msg_args(argv)
    for k, v in expect.items():
        assert getattr(a, k) == v, k


@pytest.mark.parametrize(
    "argv", [[], ["/x", "*"], ["*", "/TIME:abc"], ["/TIME:-1", "*"], ["/SERVER:", "*"], ["-t"]]
)
def test_parse_errors(argv):
    with pytest.raises(MsgUsageError):
        parse_msg_args(argv)


def test_help():
    assert parse_msg_args(["/?"]).help


def test_expand_targets(tmp_path):
    f = tmp_path / "list"
    f.write_text("alice\n# comment\n3 console\n")
    assert expand_targets(f"@{f}") == ["alice", "3", "console"]
    assert expand_targets("bob") == ["bob"]
    with pytest.raises(MsgUsageError):
        expand_targets(f"@{tmp_path / 'missing'}")


# ----------------------------------------------------------------------------- registry
def _host(tmp_path, extra=()):
    host = MsgHost.open(tmp_path, os_sessions=False)
    if extra:
        host.providers.append(StaticProvider(list(extra)))
    return host


def test_registry_ids_stable(tmp_path):
    host = _host(tmp_path)
    v = host.virtual
    v.add("one", "alice")
    v.add("two", "bob")
    ids = {s.name: s.session_id for s in host.sessions()}
    assert ids == {"Services": 0, "one": 1, "two": 2}
    v.remove("one")
    v.add("three", "carol")
    ids = {s.name: s.session_id for s in host.sessions()}
    assert ids == {"Services": 0, "two": 2, "three": 1}  # lowest free id reused
    v.add("four", "dave")
    assert {s.name: s.session_id for s in host.sessions()}["two"] == 2


def test_virtual_name_rules(tmp_path):
    v = VirtualProvider(tmp_path)
    for bad in ("", "12", "*", "x" * 33, "Services"):
        with pytest.raises(ValueError):
            v.add(bad, "u")


def test_resolve(tmp_path):
    host = _host(tmp_path)
    host.virtual.add("console", "alice")
    host.virtual.add("pts/1", "alice")
    host.virtual.add("gone", "bob", state=SessionState.DISCONNECTED)
    reg = host.registry
    assert [s.name for s in reg.resolve("*")] == ["console", "pts/1", "gone"]
    assert [s.name for s in reg.resolve("ALICE")] == ["console", "pts/1"]
    assert [s.name for s in reg.resolve("console")] == ["console"]
    assert [s.name for s in reg.resolve("2")] == ["pts/1"]
    assert reg.resolve("0") == []  # session 0 is never a target
    assert [s.name for s in reg.resolve("bob")] == ["gone"]
    assert reg.resolve("gone") == [] or reg.resolve("gone")[0].user == "bob"
    assert [s.name for s in reg.resolve("pts*")] == ["pts/1"]


# ----------------------------------------------------------------------------- delivery
def test_sanitize():
    assert sanitize("a\x1b[31mred\x1b[0m\x07b\r\nc\x9bd\te") == "aredb\ncd\te"
    assert len(sanitize("x" * 5000)) == 1024


def _pty_session(tmp_path):
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    os.chmod(name, 0o620)
    return (
        master,
        slave,
        MsgSession(7, "pts/x", "alice", SessionState.ACTIVE, "tty", tty=name, key="t"),
    )


def test_tty_delivery_strips_controls(tmp_path):
    master, slave, s = _pty_session(tmp_path)
    try:
        m = Message(sender="VM\\root", text="hello\x1b]0;pwned\x07 \x1b[2Jworld\nline2", title="T")
        assert deliver_tty(s, m) == IDASYNC
        data = os.read(master, 4096)
        assert b"hello world" in data and b"line2" in data
        assert b"\x1b" not in data and b"pwned" not in data
        assert b"Message from VM\\root" in data
    finally:
        os.close(master)
        os.close(slave)


def test_tty_mesg_n_refused(tmp_path):
    master, slave, s = _pty_session(tmp_path)
    try:
        os.chmod(s.tty, stat.S_IRUSR | stat.S_IWUSR)  # mesg n: group write off
        with pytest.raises(DeliveryError) as ei:
            deliver_tty(s, Message(sender="x", text="nope"))
        assert ei.value.win32 == 5
        os.set_blocking(master, False)
        with pytest.raises(BlockingIOError):
            os.read(master, 100)
    finally:
        os.close(master)
        os.close(slave)


def test_inbox_and_wait(tmp_path):
    host = _host(tmp_path)
    host.virtual.add("a1", "alice", auto_response=IDOK)
    host.virtual.add("a2", "alice")
    a1, a2 = host.sessions()[1:]
    caller = Caller("alice")
    r = host.send_one(caller, a1, Message(sender="alice", text="hi", wait=True))
    assert r.ok and r.response == IDOK
    r = host.send_one(caller, a2, Message(sender="alice", text="hi", wait=True, timeout=0.1))
    assert r.ok and r.response == IDTIMEOUT
    lines = (tmp_path / "inbox" / "a2.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["message"] == "hi"


def test_permission(tmp_path):
    events = []
    host = _host(tmp_path)
    host.emit = lambda name, **kw: events.append((name, kw))
    host.virtual.add("a1", "alice")
    s = host.sessions()[1]
    r = host.send_one(Caller("mallory"), s, Message(sender="mallory", text="x"))
    assert r.error == 5
    assert host.send_one(Caller("admin", is_admin=True), s, Message(sender="a", text="x")).ok
    assert [e[0] for e in events] == ["MSG_DELIVERY_FAILED", "MSG_DELIVERED"]
    assert events[0][1]["sender"] == "mallory"
    services = host.sessions()[0]
    assert (
        host.send_one(Caller("admin", is_admin=True), services, Message(sender="a", text="x")).error
        == 7045
    )


# ----------------------------------------------------------------------------- command
def _run(host, argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    rc = run_msg(
        parse_msg_args(argv),
        lambda a: LocalBackend(host, Caller("root", is_admin=True)),
        sender="root",
        stdin=io.StringIO(stdin),
        out=out,
        err=err,
    )
    return rc, out.getvalue(), err.getvalue()


def test_command_outputs(tmp_path):
    host = _host(tmp_path)
    host.virtual.add("console", "alice", auto_response=IDOK)
    host.virtual.add("pts/2", "bob")
    rc, out, err = _run(host, ["*", "/V", "hello"])
    assert rc == 0 and err == ""
    assert out.splitlines() == [
        "Sending message to session console, display time 60",
        "Async message sent to session console",
        "Sending message to session pts/2, display time 60",
        "Async message sent to session pts/2",
    ]
    rc, out, _ = _run(host, ["console", "/V", "/W", "q?"])
    assert rc == 0 and "responded to by user: OK" in out
    rc, out, _ = _run(host, ["bob", "/W", "/V", "/TIME:1", "x"])
    assert rc == 0 and "responded to by user: timed out" in out
    rc, out, err = _run(host, ["nobody", "x"])
    assert rc == 1 and err.strip() == "No session exists for nobody"
    rc, out, err = _run(host, ["2"], stdin="from stdin\n")
    assert rc == 0
    last = (tmp_path / "inbox" / "pts_2.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["message"] == "from stdin"


def test_command_session_names_error(tmp_path):
    class Down:
        def list_sessions(self, users=True):
            raise MsgError(1722)

    out, err = io.StringIO(), io.StringIO()
    rc = run_msg(
        parse_msg_args(["*", "x"]),
        lambda a: Down(),
        sender="s",
        stdin=io.StringIO(),
        out=out,
        err=err,
    )
    assert rc == 1 and err.getvalue().splitlines()[0] == "Error 1722 getting session names"


def test_cli_windows_syntax(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lanman.cli.main import cli

    monkeypatch.setenv("LANMAN_MSG_OS_SESSIONS", "0")
    r = CliRunner()
    home = str(tmp_path / "h")
    from lanman.home import Home

    Home.open(home).close()  # only setup commands create a home (issue 15)
    res = r.invoke(cli, ["--home", home, "msg", "session-add", "desk", "--user", "alice"])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["--home", home, "msg", "desk", "/V", "hello"])
    assert res.exit_code == 0 and "Async message sent to session desk" in res.output
    res = r.invoke(cli, ["--home", home, "msg", "/bogus", "x"])
    assert res.exit_code == 1 and "Invalid parameter(s)" in res.output
    res = r.invoke(cli, ["--home", home, "msg", "sessions", "--json"])
    rows = json.loads(res.output)
    assert [(x["session_id"], x["name"]) for x in rows] == [(0, "Services"), (1, "desk")]
