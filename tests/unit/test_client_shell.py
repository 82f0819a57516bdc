"""``lanman client //HOST/SHARE`` without ``-c``: the smbclient-like shell (client_shell.py),
fed command scripts through its streams and through the CLI's standard-input path, against
lanman's own server in process (as in test_client.py)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from click.testing import CliRunner
from smb_harness import NOW, PASSWORD, USER, make_context
from test_client import InProcessTransport, connect

import lanman.cli.client as client_cli
from lanman.cli.client_shell import Shell
from lanman.cli.main import cli
from lanman.smb.client import SmbClient


@pytest.fixture
def served(tmp_path):
    ctx, _, share_dir = make_context(tmp_path)
    c = connect(ctx)
    yield c, share_dir
    c.close()


def _shell(c, script: str, *, interactive: bool = False):
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(c, io.StringIO(script), out, err, interactive=interactive)
    rc = sh.run()
    return rc, out.getvalue(), err.getvalue()


def test_script_commands_and_cwd(served, tmp_path, monkeypatch):
    c, share = served
    local = tmp_path / "local"
    local.mkdir()
    monkeypatch.chdir(local)
    payload = os.urandom(70000)
    (local / "up.bin").write_bytes(payload)
    (local / "a.txt").write_text("a")
    (local / "b.txt").write_text("bb")
    rc, out, err = _shell(
        c,
        "mkdir docs\n"
        "cd docs\n"
        "pwd\n"
        "put up.bin\n"
        "mput *.txt\n"
        "ls\n"
        "allinfo up.bin\n"
        "cd ..\n"
        "pwd\n"
        "# a comment\n"
        "\n"
        "mget docs/*.txt\n"
        "get docs\\up.bin down.bin\n"
        "rm docs/up.bin\n"
        "del docs/a.txt\n"
        "rm docs/b.txt\n"
        "rmdir docs\n"
        "exit\n"
        "ls\n",  # not reached
    )
    assert rc == 0 and err == "", err
    assert "Current directory is \\docs\\" in out and "Current directory is \\" in out
    assert "up.bin" in out and "a.txt" in out and "size: 70000" in out
    assert (
        hashlib.sha256((local / "down.bin").read_bytes()).digest()
        == hashlib.sha256(payload).digest()
    )
    assert out.count("getting file") == 3  # mget a.txt b.txt + get
    assert not (share / "docs").exists()


def test_errors_are_one_line_and_the_shell_goes_on(served, tmp_path, monkeypatch):
    c, share = served
    monkeypatch.chdir(tmp_path)
    rc, out, err = _shell(c, "get x\nfrobnicate\ncd nowhere\nmkdir d\nrm nosuch\nget\nls\n")
    lines = err.splitlines()
    assert lines == [
        "NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\x",
        "frobnicate: command not found",
        "NT_STATUS_OBJECT_NAME_NOT_FOUND cd \\nowhere",
        "NT_STATUS_OBJECT_NAME_NOT_FOUND deleting remote file \\nosuch",
        "get: missing argument (usage: get REMOTE [LOCAL])",
    ], err
    assert rc == 1  # not a terminal: a failed command fails the run
    assert (share / "d").is_dir() and "d" in out  # later commands still ran


def test_interactive_prompt_eof_is_zero(served):
    c, _ = served
    rc, out, err = _shell(c, "mkdir docs\ncd docs\nnosuch\n", interactive=True)
    assert out.startswith("smb: \\> smb: \\> smb: \\docs\\> smb: \\docs\\> ")
    assert err == "nosuch: command not found\n"
    assert rc == 0  # EOF (Ctrl-D) ends an interactive session with 0, as smbclient


def test_help(served):
    c, _ = served
    rc, out, _ = _shell(c, "help\n?\n")
    assert rc == 0 and out.count("mget PATTERN") == 2


# ---- the CLI: commands from standard input ---------------------------------------------------


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    ctx, _, share_dir = make_context(tmp_path)
    real = SmbClient.connect.__func__

    def fake(cls, host, port=445, user="", password="", **kw):
        kw["transport"] = InProcessTransport(ctx)
        kw["now_filetime"] = NOW
        return real(cls, host, port, user, password, **kw)

    monkeypatch.setattr(client_cli.SmbClient, "connect", classmethod(fake))
    return share_dir


def _invoke(tmp_path, *args, input=None):
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "client", *args], input=input)
    assert "Traceback" not in r.output + r.stderr
    return r


def test_cli_reads_commands_from_stdin(tmp_path, in_process, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (in_process / "f.txt").write_bytes(b"abc")
    r = _invoke(
        tmp_path,
        "//lanman/data",
        "-U",
        USER,
        "--password-stdin",
        input=f"{PASSWORD}\nls\nget f.txt g.txt\n",
    )
    assert r.exit_code == 0, r.output + r.stderr
    assert "f.txt" in r.stdout and (tmp_path / "g.txt").read_bytes() == b"abc"
    assert "smb:" not in r.stdout  # no prompt without a terminal


def test_cli_stdin_failure_exits_1(tmp_path, in_process, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _invoke(tmp_path, "//lanman/data", "-U", f"{USER}%{PASSWORD}", input="get x\nmkdir d\n")
    assert r.exit_code == 1
    assert r.stderr.strip() == "NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\x"
    assert (in_process / "d").is_dir()


def test_cli_empty_stdin_keeps_the_connection_check(tmp_path, in_process):
    r = _invoke(tmp_path, "//lanman/data", "-U", f"{USER}%{PASSWORD}", input="")
    assert r.exit_code == 0, r.output + r.stderr
    assert "Dialect" in r.stdout and "3.1.1" in r.stdout


def test_cli_c_runner_gets_the_new_commands(tmp_path, in_process, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (in_process / "a.txt").write_text("a")
    r = _invoke(tmp_path, "//lanman/data", "-U", f"{USER}%{PASSWORD}", "-c", "mget *.txt; pwd")
    assert r.exit_code == 0, r.output + r.stderr
    assert (tmp_path / "a.txt").read_text() == "a" and "Current directory is \\" in r.stdout
