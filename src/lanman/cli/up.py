"""``lanman up``: run the configured services in the foreground."""

from __future__ import annotations

import errno
import ipaddress
import sys

import click

from lanman.cli._common import CliError, get_home
from lanman.home import DEMO_SHARE, DEMO_USER

SERVICE_MODULE = "lanman.smb.server.service"


def _client_host(listen: str) -> str:
    addr = ipaddress.ip_address(listen)
    if addr.is_unspecified:
        return "127.0.0.1" if addr.version == 4 else "::1"
    return listen


@click.command("up")
@click.option("--listen", help="Address to bind (default from lanman.toml: 127.0.0.1).")
@click.option(
    "--smb-port",
    type=click.IntRange(1, 65535),
    help="SMB TCP port (default from lanman.toml: 4445).",
)
@click.option(
    "--kdc-port",
    type=click.IntRange(1, 65535),
    help="KDC UDP+TCP port when a domain is provisioned (default from lanman.toml: 4088).",
)
@click.option(
    "--kdc-workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="KDC processes on the KDC port (a dead one is restarted); they share one replay cache.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="On first run create share 'demo' and user 'demo'; print its password once.",
)
@click.option(
    "--run-as",
    "run_as",
    metavar="USER",
    help="Started as root: serve files as this Unix account once the ports are bound "
    "(default: the system account 'lanman' if it exists, else 'nobody'; 'root' keeps root, "
    "with a warning).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Diagnostic messages at this level and above (stderr: journald keeps them).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write diagnostic messages to this file instead of stderr.",
)
@click.pass_context
def up(
    ctx: click.Context,
    listen: str | None,
    smb_port: int | None,
    kdc_port: int | None,
    kdc_workers: int,
    demo: bool,
    run_as: str | None,
    log_level: str,
    log_file: str | None,
) -> None:
    """Run all configured services in the foreground (Ctrl-C or SIGTERM stops, SIGHUP
    reloads lanman.toml and policy.toml). One server per home."""
    from lanman.privileges import (
        DEFAULT_ACCOUNT,
        FALLBACK_ACCOUNT,
        PrivilegeError,
        resolve_run_as,
    )

    try:
        account = resolve_run_as(run_as)  # before the home is opened (or created)
    except PrivilegeError as e:
        raise CliError(e.message, e.remedy) from None
    home = get_home(ctx, create=True)
    _check_store(home)
    lock_fd = lock_home(home.path)  # held while serving
    ctx.call_on_close(lambda: _unlock(lock_fd))
    _setup_logging(ctx, log_level, log_file)
    listen = listen or home.config.listen
    port = smb_port or home.config.smb_port
    try:
        host = _client_host(listen)
    except ValueError:
        raise CliError(
            f"--listen {listen!r} is not an IP address", "use e.g. 127.0.0.1 or 0.0.0.0"
        ) from None

    # Import first: do not use up the one-time demo password if the server cannot start.
    try:
        from lanman.smb.server.service import run
    except ImportError as e:
        if e.name and SERVICE_MODULE.startswith(e.name):
            raise CliError(
                "the SMB server service is not available in this build "
                f"({SERVICE_MODULE} is missing)",
                "update lanman; the SMB server is still under construction",
            ) from None
        raise

    if demo:
        password = home.ensure_demo()
        if password is not None:
            click.echo(
                f"Created share '{DEMO_SHARE}' ({home.shares_root / DEMO_SHARE}) "
                f"and user '{DEMO_USER}'."
            )
            click.echo(f"Password for user '{DEMO_USER}' (shown once, not stored): {password}")
            click.echo("Connect with:")
            click.echo(
                f"  smbclient //{host}/{DEMO_SHARE} -p {port} -U {DEMO_USER}%{password} "
                "--client-protection=sign -c ls"
            )
        elif home.store.get_share(DEMO_SHARE) and home.store.get_user(DEMO_USER):
            click.echo(
                f"Demo share and user exist; the password was shown on the first run "
                f"(reset it: lanman --home {home.path} user passwd {DEMO_USER})."
            )
            click.echo("Connect with:")
            click.echo(
                f"  smbclient //{host}/{DEMO_SHARE} -p {port} -U {DEMO_USER} "
                "--client-protection=sign -c ls"
            )
        else:
            click.echo("--demo: this home already has users or shares; no demo was created.")
        sys.stdout.flush()

    signing = "required" if home.config.require_security_signature else "enabled, not required"
    click.echo(f"lanman: SMB server on {listen}:{port} (signing {signing}); Ctrl-C stops.")
    if not home.config.require_security_signature:  # also a hand edit of lanman.toml
        click.echo(
            "warning: SMB signing is not required: unsigned sessions can be tampered with and "
            "their NTLM authentication relayed (NTLM relay attacks); `lanman policy get` shows "
            "where it was turned off.",
            err=True,
        )
    extra = {}
    if account is not None and account.is_root:
        click.echo(
            "warning: --run-as root: files are served with root's permissions; every share "
            "user can read and change whatever root can in the shares.",
            err=True,
        )
    elif account is not None:
        extra["after_bind"] = _dropper(home, account, demo)
        click.echo(f"lanman: serving files as {account.describe()} once the ports are bound.")
        if not account.explicit and account.name == FALLBACK_ACCOUNT:
            click.echo(
                f"note: no dedicated '{DEFAULT_ACCOUNT}' account, so '{FALLBACK_ACCOUNT}' "
                "(shared with other services) owns the data directory; create one with "
                f"`useradd --system --no-create-home --shell /usr/sbin/nologin {DEFAULT_ACCOUNT}`",
                err=True,
            )
    if kdc_port:
        home.config.kdc_port = kdc_port  # this run only; lanman.toml is not rewritten
    from lanman.directory import Directory

    if Directory.is_provisioned(home.path):
        extra["kdc_workers"] = kdc_workers
        procs = f", {kdc_workers} processes" if kdc_workers > 1 else ""
        click.echo(
            f"lanman: KDC on {listen}:{home.config.kdc_port} (UDP and TCP{procs}) for the domain."
        )
    sys.stdout.flush()
    try:
        run(home, listen, port, **extra)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        raise bind_error(e, listen, port, home) from None
    click.echo("lanman: stopped.")
    ctx.exit(0)


PID_FILE = "lanman.pid"


def lock_home(path) -> int:
    """Take ``HOME/lanman.pid`` with an exclusive lock (one server per data directory: two
    would each keep their own oplock and lock tables for the same files). Returns the
    descriptor, which must stay open while serving."""
    import fcntl
    import os

    pid_path = os.path.join(str(path), PID_FILE)
    fd = os.open(pid_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise CliError(
            f"another `lanman up` (pid {other}) is already serving {path}",
            "stop it first (kill -TERM PID, or `systemctl stop lanman`); one home serves "
            "one server",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _unlock(fd: int) -> None:
    import os

    try:
        os.close(fd)
    except OSError:
        pass


def _setup_logging(ctx: click.Context, level: str, log_file: str | None) -> None:
    """Diagnostics to stderr (journald) or ``log_file``; undone when the command ends (so an
    embedding process keeps its own logging)."""
    import logging

    handler: logging.Handler
    if log_file:
        try:
            handler = logging.FileHandler(log_file)
        except OSError as e:
            raise CliError(f"cannot open --log-file {log_file}: {e.strerror}", "") from None
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(before)
        handler.close()

    ctx.call_on_close(undo)


def bind_error(e: OSError, listen: str, port: int, home) -> CliError:
    """A startup failure to bind, as a cause and a remedy (not an internal error)."""
    where = f"{listen}:{port}"
    if e.errno == errno.EADDRINUSE:
        return CliError(
            f"cannot listen on {where}: the address is already in use (another lanman up, "
            "smbd or a KDC holds the port)",
            f"stop the other server (ss -ltnp 'sport = :{port}'), or choose another port: "
            f"lanman --home {home.path} smb server-config set --smb-port N",
        )
    if e.errno in (errno.EACCES, errno.EPERM):
        return CliError(
            f"cannot listen on {where}: permission denied (ports below 1024 need root)",
            "start lanman up as root (it drops to --run-as after binding), grant "
            "cap_net_bind_service (setcap 'cap_net_bind_service=+ep' on the Python binary), "
            "or use a port >= 1024",
        )
    if e.errno == errno.EADDRNOTAVAIL:
        return CliError(
            f"cannot listen on {where}: no interface of this machine has that address",
            f"give an address of this machine: lanman --home {home.path} smb server-config "
            "set --listen ADDR (127.0.0.1, 0.0.0.0 or ::1)",
        )
    return CliError(f"cannot start the server on {where}: {e.strerror or e}", "")


def _check_store(home) -> None:
    """A damaged store is reported before anything is served (PRAGMA quick_check)."""
    from lanman.store.maintenance import check

    problems = check(home.db_path, quick=True)
    if problems:
        shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        raise CliError(
            f"the store {home.db_path} is damaged: {shown}",
            f"stop and restore a backup: lanman --home {home.path} store restore FILE "
            f"(details: lanman --home {home.path} store check)",
        )


def _dropper(home, account, demo: bool):
    """The ``after_bind`` step of ``--run-as``: hand the home over, drop root, check."""
    from lanman.privileges import (
        PrivilegeError,
        check_home_access,
        drop_privileges,
        hand_home_to,
        hand_tree_to,
    )

    def after_bind() -> None:
        try:
            hand_home_to(home.path, account)
            demo_dir = home.shares_root / DEMO_SHARE
            share = home.store.get_share(DEMO_SHARE) if demo else None
            if share is not None and share.path == str(demo_dir.resolve()):
                hand_tree_to(demo_dir, account)
            # Accounts mapped to Unix users (lanman user set --unix-user): keep exactly
            # CAP_SETUID/CAP_SETGID so request threads can switch (lanman.fsid).
            drop_privileges(account, keep_setid=bool(home.store.unix_user_mappings()))
            check_home_access(home.path, home.db_path)
        except PrivilegeError as e:
            raise CliError(e.message, e.remedy) from None
        except OSError as e:
            raise CliError(
                f"cannot switch to {account.describe()}: {e.strerror} ({e.filename or ''})",
                "check the account and the data directory",
            ) from None

    return after_bind
