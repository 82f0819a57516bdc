"""``lanman client``: the SMB client (the Workstation service) on the command line.

    lanman client //HOST/SHARE [-p PORT] [-U USER[%PASSWORD]] [--password-stdin] [-N]
                  [--dialect 3.1.1] [--require-signing true|false]
                  [--allow-insecure-guest true|false] [-c "ls; get a b; put c d"]
                  [--show-connection] [--json] [--kerberos|--no-kerberos] [-I ADDRESS]
                  [--kdc HOST[:PORT]] [--realm REALM]
    lanman client connections //HOST/SHARE [same options] [--json]

``lanman client //HOST/SHARE`` is short for ``lanman client run //HOST/SHARE``. Commands
(``-c``, separated by ``;``): ``ls [dir]``, ``dir``, ``cd DIR``, ``get REMOTE [LOCAL]``,
``put LOCAL [REMOTE]``, ``mkdir DIR``, ``rmdir DIR``, ``rm FILE`` (``del``),
``rename OLD NEW`` (``mv``), ``stat PATH``, ``allinfo PATH``, ``pwd``, ``lcd [DIR]``,
``mget PATTERN...``, ``mput PATTERN...`` (no prompting, as smbclient with ``prompt`` off).
Without ``-c`` on a terminal it is an interactive shell like smbclient's (``smb: \\docs\\>``;
``help``, ``exit``; see ``client_shell.py``); with standard input not a terminal the commands
are read from it one per line (exit status 1 if any failed). With no command at all
(``</dev/null``), or ``--json``, it connects, prints the connection and disconnects (a
connectivity/policy check).

The client is not a resident service, so ``connections`` connects, prints the row that
Get-SmbConnection would show for that connection (dialect, signed, signing algorithm, guest,
user, server) and disconnects; ``--show-connection`` prints the same row after a ``-c`` run.

Kerberos: by default the client uses Kerberos when HOST is a name (SPN ``cifs/HOST``) and a
ticket is at hand (KRB5CCNAME, or -U credentials and a KDC from krb5.conf / ``--kdc``), and
falls back to NTLM otherwise -- with a warning explaining why when HOST is an IP address or a
DNS alias (CNAME) without an SPN. ``--kerberos`` requires it (no password prompt: the ticket
comes from the credential cache), ``--no-kerberos`` never uses it.

Signing and guest policy: the effective client policy of the home (RequireSecuritySignature,
AllowInsecureGuestAuth; see ``lanman smb client-config get``) unless overridden here.
Failures print as Windows shows them, then the cause and the remedy; the matching client
events (31017, 31022, 31998, 9201) go to the home's event log (``lanman events``).
"""

from __future__ import annotations

import glob
import os
import shlex
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lanman.cli._common import WIN_BOOL, CliError, echo_json, get_home
from lanman.smb.client import SmbClient, SmbClientError, parse_dialect
from lanman.smb.client.api import recognise_failure
from lanman.smb.client.connection import ALL_DIALECTS
from lanman.smb.client.fsinfo import filetime_to_datetime

EXIT_FAILURE = 1


class _ClientGroup(click.Group):
    """``lanman client //h/s ...`` routes to ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (
            args
            and args[0] not in self.commands
            and args[0] not in ("-h", "--help")
            and any(a.startswith(("//", "\\\\")) for a in args)
        ):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("client", cls=_ClientGroup)
def client() -> None:
    """SMB client: lanman client //HOST/SHARE [-c "ls; get a b"] (see `client run -h`)."""


def _split_unc(unc: str) -> tuple[str, str | None]:
    u = unc.replace("\\", "/")
    if not u.startswith("//"):
        raise click.UsageError(
            f"{unc!r} is not a UNC path: write //HOST/SHARE (or \\\\HOST\\SHARE)"
        )
    parts = [p for p in u[2:].split("/") if p]
    if not parts:
        raise click.UsageError(f"{unc!r} names no host: write //HOST/SHARE")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _common(f):
    opts = [
        click.argument("unc"),
        click.option(
            "-p",
            "--port",
            type=click.IntRange(1, 65535),
            default=445,
            show_default=True,
            help="TCP port of the server.",
        ),
        click.option(
            "-U",
            "--user",
            "user_spec",
            metavar="[DOMAIN\\]USER[%PASSWORD]",
            help="User (and password after %).",
        ),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the password from the first line of standard input.",
        ),
        click.option(
            "-N",
            "--no-pass",
            is_flag=True,
            help="No password: with -U an empty password, without -U an anonymous "
            "(null session) logon, which a server may map to guest.",
        ),
        click.option(
            "--dialect",
            "dialects",
            multiple=True,
            metavar="2.0.2|2.1|3.0|3.0.2|3.1.1",
            help="Offer only this dialect (repeat to offer several; default all).",
        ),
        click.option(
            "--require-signing",
            type=WIN_BOOL,
            default=None,
            help="Override RequireSecuritySignature for this connection.",
        ),
        click.option(
            "--allow-insecure-guest",
            type=WIN_BOOL,
            default=None,
            help="Override AllowInsecureGuestAuth (EnableInsecureGuestLogons).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.5, 3600),
            default=30.0,
            show_default=True,
            help="Seconds to wait for each response.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        click.option(
            "--kerberos/--no-kerberos",
            "kerberos",
            default=None,
            help="Require / never use Kerberos (default: Kerberos when the server is named "
            "and a ticket (KRB5CCNAME) or -U credentials and a KDC (krb5.conf) are available; "
            "NTLM otherwise).",
        ),
        click.option(
            "-I",
            "--ip",
            "address",
            metavar="ADDRESS",
            help="Connect to ADDRESS; HOST of //HOST/SHARE still names the server (its SPN "
            "cifs/HOST for Kerberos).",
        ),
        click.option(
            "--encrypt",
            is_flag=True,
            default=False,
            help="Require SMB 3 encryption for the whole session (fails where the server "
            "cannot encrypt); without it the client still encrypts when the server or share "
            "asks for it.",
        ),
        click.option("--kdc", default="", metavar="HOST[:PORT]", help="KDC for Kerberos."),
        click.option("--realm", default="", help="Kerberos realm (default: krb5.conf)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _credentials(
    user_spec: str | None, password_stdin: bool, no_pass: bool, kerberos: bool | None = None
) -> tuple[str, str, bool]:
    user, password = "", None
    if user_spec:
        user, sep, pw = user_spec.partition("%")
        if sep:
            password = pw
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if no_pass:
        return user, "", not user
    if kerberos and password is None:
        return user, "", False  # the credential cache holds the ticket
    if not user and kerberos is None and password is None:
        from lanman.smb.client.kerberos import cached_tgt_principal

        if cached_tgt_principal() is not None:  # kinit was run: log on as that ticket
            return "", "", False
    if not user:
        raise CliError(
            "no user given", "use -U USER[%PASSWORD], or -N for an anonymous/guest logon"
        )
    if password is None:
        if not _interactive():
            raise CliError(
                f"no password for {user} and no terminal to ask for one",
                "give -U USER%PASSWORD, --password-stdin, or -N for an empty password",
            )
        password = click.prompt(
            f"Password for {user}", hide_input=True, default="", show_default=False, err=True
        )
    return user, password, False


def _interactive() -> bool:
    """A terminal to prompt on: standard input, or the controlling terminal that getpass
    opens (/dev/tty). Without either getpass warns, reads standard input and echoes."""
    try:
        if sys.stdin.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _connect(
    ctx: click.Context,
    unc: str,
    port: int,
    user_spec: str | None,
    password_stdin: bool,
    no_pass: bool,
    dialects: tuple[str, ...],
    require_signing: bool | None,
    allow_insecure_guest: bool | None,
    timeout: float,
    kerberos: bool | None = None,
    address: str | None = None,
    kdc: str = "",
    realm: str = "",
    encrypt: bool = False,
) -> SmbClient:
    host, share = _split_unc(unc)
    try:
        ds = tuple(parse_dialect(d) for d in dialects) or ALL_DIALECTS
    except ValueError as e:
        raise CliError(str(e), "use --dialect 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1") from None
    user, password, anonymous = _credentials(user_spec, password_stdin, no_pass, kerberos)
    # The Workstation service's state: client policy and the event log its failures go to
    # (31017, 31998, ...); like a Windows client it always has one, so a missing home is made.
    home = get_home(ctx, create=True)

    def sink(name: str, fields: dict) -> None:
        home.events.emit(name, source="lanman client", **fields)

    c = SmbClient.connect(
        host,
        port,
        user,
        password,
        share=share,
        dialects=ds,
        require_signing=require_signing,
        allow_insecure_guest=allow_insecure_guest,
        anonymous=anonymous,
        home=home,
        events=sink,
        timeout=timeout,
        kerberos=kerberos,
        address=address,
        kdc=kdc,
        realm=realm,
        encrypt=encrypt,
    )
    for w in c.warnings:
        click.echo(f"warning: {w}", err=True)
    if c.kerberos_plan is not None:
        click.echo(f"Kerberos: {c.kerberos_plan.spn} (ticket: {c.kerberos_plan.source})", err=True)
    return c


def _fail(e: SmbClientError, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "error": {
                    "ntstatus": e.status,
                    "ntstatus_hex": f"0x{e.status:08X}",
                    "ntstatus_name": e.ntstatus_name,
                    "win32": e.win32_code,
                    "win32_name": e.win32_name,
                    "detail": e.detail,
                    "server_family": e.family or None,
                    "explanation": e.explanation.as_dict() if e.explanation else None,
                }
            }
        )
    for line in e.lines():
        click.echo(line, err=True)
    sys.exit(EXIT_FAILURE)


def _print_connection(c: SmbClient, as_json: bool) -> None:
    info = c.connection_info()
    if as_json:
        echo_json([info.as_dict()])
        return
    t = Table(
        "ServerName",
        "ShareName",
        "UserName",
        "Credential",
        "Dialect",
        "Signed",
        "SigningAlgorithm",
        "Encrypted",
        "Cipher",
        "Guest",
        "NumOpens",
        box=None,
        header_style="bold",
    )
    t.add_row(
        info.server_name,
        info.share_name,
        info.user_name,
        info.credential,
        info.dialect,
        str(info.signed),
        info.signing_algorithm or "-",
        str(info.encrypted),
        info.cipher or "-",
        str(info.is_guest or info.is_anonymous),
        str(info.num_opens),
    )
    Console(width=200, highlight=False, soft_wrap=False).print(t)


def _join(cwd: str, path: str) -> str:
    p = path.replace("\\", "/")
    if p.startswith("/"):
        return p.strip("/")
    parts = [x for x in cwd.split("/") if x]
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
        else:
            parts.append(seg)
    return "/".join(parts)


def _local_error(cmd: str, path: str, e: OSError) -> CliError:
    """A local-file failure as one line (no remedy line: the message says it all)."""
    return CliError(f"{cmd}: local file {path!r}: {e.strerror or e}")


def _check_local_source(path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except IsADirectoryError as e:
        raise _local_error("put", path, e) from None
    except OSError as e:
        raise _local_error("put", path, e) from None


def _check_local_target(path: str) -> None:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CliError(f"get: local file {path!r}: Is a directory")
    if not parent.is_dir():
        raise CliError(f"get: local file {path!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"get: local file {path!r}: Permission denied")


def _entry(e) -> dict:
    m = e.mtime
    return {
        "name": e.name,
        "is_dir": bool(e.is_dir),
        "size": e.size,
        "attributes": e.attributes,
        "modified": m.isoformat() if m else None,
    }


class UnknownCommand(click.UsageError):
    """A command word the runner does not know (the shell prints ``X: command not found``)."""


COMMANDS = (
    "ls, dir, cd, pwd, get, put, mget, mput, mkdir (md), rmdir (rd), rm (del), "
    "rename (mv), stat, allinfo, lcd"
)


class CommandState:
    """What a sequence of commands shares: the remote current directory (``/``-separated,
    relative to the share root) and what the running command was doing when it failed
    (``opening remote file \\x``: the shell's one-line error text)."""

    def __init__(self) -> None:
        self.cwd = ""
        self.doing = ""

    @property
    def prompt_dir(self) -> str:
        """``\\`` or ``\\docs\\``, as smbclient shows the current directory."""
        return "\\" + "".join(p + "\\" for p in self.cwd.split("/") if p)


def _bs(path: str) -> str:
    return "\\" + path.replace("/", "\\")


def _fmt_time(ft: int) -> str:
    d = filetime_to_datetime(ft) if ft else None
    return d.strftime("%a %b %d %H:%M:%S %Y") if d else "-"


def split_words(raw: str) -> list[str]:
    """Words of one command: quotes group, backslashes stay (``get docs\\a.txt``)."""
    lex = shlex.shlex(raw.strip(), posix=True)
    lex.whitespace_split = True
    lex.escape = ""
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError as e:
        raise click.UsageError(f"cannot parse command {raw.strip()!r}: {e}") from None


def _get(c, state, remote: str, local: str, out, path: str | None = None) -> int:
    _check_local_target(local)
    path = _join(state.cwd, remote) if path is None else path
    state.doing = f"opening remote file {_bs(path)}"
    try:
        n = c.get(path, local)
    except OSError as e:
        raise _local_error("get", local, e) from None
    out(f"getting file {remote} of size {n} as {local}")
    return n


def _put(c, state, local: str, remote: str, out) -> int:
    _check_local_source(local)  # before the remote file is created
    path = _join(state.cwd, remote)
    state.doing = f"opening remote file {_bs(path)}"
    try:
        n = c.put(local, path)
    except OSError as e:
        raise _local_error("put", local, e) from None
    out(f"putting file {local} as {remote} ({n} bytes)")
    return n


def run_command(c: SmbClient, state: CommandState, words: list[str], out=click.echo) -> dict:
    """Run one command (``words`` as split by ``split_words``) against a connected client;
    raises on failure (SmbClientError, CliError, click.UsageError); returns its record."""
    cmd, args = words[0].lower(), words[1:]
    cwd = state.cwd
    state.doing = ""

    def need(n: int, usage: str) -> None:
        if len(args) < n:
            raise click.UsageError(f"{cmd}: missing argument (usage: {usage})")

    rec: dict = {"command": cmd, "args": args}
    if cmd in ("ls", "dir"):
        path = _join(cwd, args[0]) if args else cwd
        state.doing = f"listing {_bs(path)}"
        entries = sorted(c.listdir(path), key=lambda e: e.name.lower())
        rec["path"] = _bs(path)
        rec["entries"] = [_entry(e) for e in entries]
        for e in entries:
            m = e.mtime
            when = m.strftime("%a %b %d %H:%M:%S %Y") if m else ""
            out(f"  {e.name:<30} {'D' if e.is_dir else 'A':>3} {e.size:>12}  {when}")
    elif cmd == "cd":
        if not args:  # smbclient: cd alone prints the current directory
            out(f"Current directory is {state.prompt_dir}")
        else:
            new = _join(cwd, args[0])
            state.doing = f"cd {_bs(new)}"
            if new and not c.stat(new).is_dir:
                raise CliError(f"cd: {args[0]} is not a directory")
            state.cwd = new
        rec["cwd"] = state.cwd
    elif cmd == "pwd":
        out(f"Current directory is {state.prompt_dir}")
        rec["cwd"] = state.cwd
    elif cmd == "get":
        need(1, "get REMOTE [LOCAL]")
        local = args[1] if len(args) > 1 else Path(args[0].replace("\\", "/")).name
        n = _get(c, state, args[0], local, out)
        rec.update(remote=args[0], local=local, bytes=n)
    elif cmd == "put":
        need(1, "put LOCAL [REMOTE]")
        remote = args[1] if len(args) > 1 else Path(args[0]).name
        n = _put(c, state, args[0], remote, out)
        rec.update(local=args[0], remote=remote, bytes=n)
    elif cmd == "mget":
        need(1, "mget PATTERN...")
        got = []
        for pat in args:
            full = _join(cwd, pat)
            d, _, mask = full.rpartition("/")
            state.doing = f"listing {_bs(full)}"
            for e in sorted(c.listdir(d, mask or "*"), key=lambda e: e.name.lower()):
                if e.is_dir:
                    continue
                rel = f"{d}/{e.name}" if d else e.name
                _get(c, state, e.name, e.name, out, path=rel)
                got.append(rel)
        rec["files"] = got
    elif cmd == "mput":
        need(1, "mput PATTERN...")
        sent = []
        for pat in args:
            names = sorted(f for f in glob.glob(pat) if os.path.isfile(f))
            if not names:
                raise CliError(f"mput: no local file matches {pat!r}")
            for f in names:
                _put(c, state, f, Path(f).name, out)
                sent.append(f)
        rec["files"] = sent
    elif cmd in ("mkdir", "md"):
        need(1, "mkdir DIR")
        path = _join(cwd, args[0])
        state.doing = f"making remote directory {_bs(path)}"
        c.mkdir(path)
    elif cmd in ("rmdir", "rd"):
        need(1, "rmdir DIR")
        path = _join(cwd, args[0])
        state.doing = f"removing remote directory {_bs(path)}"
        c.rmdir(path)
    elif cmd in ("rm", "del"):
        need(1, "rm FILE")
        path = _join(cwd, args[0])
        state.doing = f"deleting remote file {_bs(path)}"
        c.remove(path)
    elif cmd in ("rename", "mv"):
        need(2, "rename OLD NEW")
        old, new = _join(cwd, args[0]), _join(cwd, args[1])
        state.doing = f"renaming files {_bs(old)} -> {_bs(new)}"
        c.rename(old, new)
    elif cmd == "stat":
        need(1, "stat PATH")
        path = _join(cwd, args[0])
        state.doing = f"stat {_bs(path)}"
        e = c.stat(path)
        rec["entry"] = _entry(e)
        out(
            f"{args[0]}: size {e.size}, attributes 0x{e.attributes:08X}, "
            f"{'directory' if e.is_dir else 'file'}, modified {e.mtime}"
        )
    elif cmd == "allinfo":
        need(1, "allinfo PATH")
        path = _join(cwd, args[0])
        state.doing = f"allinfo {_bs(path)}"
        e = c.stat(path)
        rec["entry"] = _entry(e)
        out(f"altname: {e.name}")
        out(f"create_time:    {_fmt_time(e.creation_time)}")
        out(f"access_time:    {_fmt_time(e.last_access_time)}")
        out(f"write_time:     {_fmt_time(e.last_write_time)}")
        out(f"change_time:    {_fmt_time(e.change_time)}")
        out(f"attributes: 0x{e.attributes:x} ({'D' if e.is_dir else 'A'})")
        out(f"size: {e.size}, allocation size: {e.allocation_size}")
    elif cmd == "lcd":
        target = args[0] if args else os.path.expanduser("~")
        try:
            os.chdir(target)
        except OSError as e:
            raise _local_error("lcd", target, e) from None
        out(f"Current local directory is {os.getcwd()}")
        rec["local_cwd"] = os.getcwd()
    else:
        raise UnknownCommand(f"unknown command {cmd!r}: use {COMMANDS}")
    state.doing = ""
    rec["ok"] = True
    return rec


def run_commands(c: SmbClient, script: str, out=click.echo) -> list[dict]:
    """Run ``cmd; cmd`` against a connected client (raises on the first failure); returns
    one record per command (what ``--json`` prints)."""
    state = CommandState()
    results: list[dict] = []
    for raw in script.split(";"):
        words = split_words(raw)
        if words:
            results.append(run_command(c, state, words, out))
    return results


def _shell(c: SmbClient, show_connection: bool) -> None:
    """No -c: the interactive shell on a terminal, else commands from standard input one per
    line (exit status 1 if one failed). Standard input with no command at all (``</dev/null``)
    keeps the connectivity check: the connection row is printed."""
    from lanman.cli.client_shell import Shell

    try:
        tty = sys.stdin.isatty()
    except (AttributeError, ValueError):
        tty = False
    sh = Shell(c, sys.stdin, sys.stdout, sys.stderr, interactive=tty)
    rc = sh.run()
    if show_connection or (not tty and not sh.commands):
        _print_connection(c, False)
    if rc:
        sys.exit(rc)  # run()'s finally closes the connection


@client.command("run")
@_common
@click.option("-c", "--command", "script", help='Commands separated by ";".')
@click.option(
    "--show-connection",
    is_flag=True,
    help="Print the Get-SmbConnection-like row after the commands.",
)
@click.pass_context
def run(
    ctx: click.Context,
    unc: str,
    port: int,
    user_spec: str | None,
    password_stdin: bool,
    no_pass: bool,
    dialects: tuple[str, ...],
    require_signing: bool | None,
    allow_insecure_guest: bool | None,
    timeout: float,
    as_json: bool,
    script: str | None,
    show_connection: bool,
    **krb: object,
) -> None:
    """Connect to //HOST/SHARE and run commands."""
    try:
        c = _connect(
            ctx,
            unc,
            port,
            user_spec,
            password_stdin,
            no_pass,
            dialects,
            require_signing,
            allow_insecure_guest,
            timeout,
            **krb,  # type: ignore[arg-type]
        )
    except SmbClientError as e:
        _fail(e, as_json)
        return
    try:
        if script:
            if not c.share:
                raise CliError("no share in the UNC path", "write //HOST/SHARE")
            results = run_commands(c, script, out=(lambda _s: None) if as_json else click.echo)
            if as_json:
                doc: dict = {"commands": results}
                if show_connection:
                    doc["connection"] = c.connection_info().as_dict()
                echo_json(doc)
            elif show_connection:
                _print_connection(c, as_json)
        elif c.share and not as_json:
            _shell(c, show_connection)
        else:
            _print_connection(c, as_json)
    except SmbClientError as e:
        recognise_failure(e, c.conn)
        c.close()
        _fail(e, as_json)
    finally:
        c.close()


@client.command("connections")
@_common
@click.pass_context
def connections(
    ctx: click.Context,
    unc: str,
    port: int,
    user_spec: str | None,
    password_stdin: bool,
    no_pass: bool,
    dialects: tuple[str, ...],
    require_signing: bool | None,
    allow_insecure_guest: bool | None,
    timeout: float,
    as_json: bool,
    **krb: object,
) -> None:
    """Connect, print the Get-SmbConnection-like row, disconnect."""
    try:
        c = _connect(
            ctx,
            unc,
            port,
            user_spec,
            password_stdin,
            no_pass,
            dialects,
            require_signing,
            allow_insecure_guest,
            timeout,
            **krb,  # type: ignore[arg-type]
        )
    except SmbClientError as e:
        _fail(e, as_json)
        return
    try:
        _print_connection(c, as_json)
    finally:
        c.close()
