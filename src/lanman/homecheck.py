"""``lanman check``: everything a home needs to serve, checked without changing anything.

Like Samba's ``testparm``: each configuration file is parsed as ``lanman up`` would parse it,
and what would fail at startup (or quietly misbehave) is a :class:`Problem` naming the file and
line. Nothing is created or rewritten: a missing home is itself a problem. The checks:

* ``lanman.toml`` (syntax, keys, values: :func:`lanman.config.load_config`);
* ``policy.toml`` (profile, layer entries: :func:`lanman.policy.layers.load_host`);
* ``lanman.sqlite`` (SQLite integrity and schema: :func:`lanman.store.maintenance.check`);
* every share (path exists, is a readable directory, is not ``/``, neither holds nor lies in the
  data directory — :func:`lanman.datadir.share_path_problem`);
* the listening ports (bindable; privileged ports need root or ``cap_net_bind_service``);
* the domain, when one is provisioned (krbtgt and the DC's computer account present, accounts
  with RC4 keys only, authentication policies below the functional level that enables them).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Problem", "check_home"]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str  # "error" (lanman up would fail or serve wrongly) or "warning"
    area: str  # config, policy, database, share, port, domain, home
    message: str
    remedy: str = ""
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _line_from_message(message: str) -> int | None:
    m = re.search(r":(\d+):", message)
    return int(m.group(1)) if m else None


def _policy_entry_line(path: Path, message: str) -> int | None:
    """The line of ``[[scope]]`` entry N named by a policy.toml error."""
    m = re.search(r"\[\[(\w+)\]\] entry (\d+)", message)
    if not m:
        m2 = re.search(r"at line (\d+)", message)
        return int(m2.group(1)) if m2 else None
    scope, n = m.group(1), int(m.group(2))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    seen = 0
    for i, text in enumerate(lines, 1):
        if text.strip() == f"[[{scope}]]":
            seen += 1
            if seen == n:
                return i
    return None


def _check_port(listen: str, port: int, what: str) -> Problem | None:
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
    except OSError as e:
        return Problem(ERROR, "port", f"{what}: cannot create a socket: {e.strerror}")
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((listen, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return Problem(
                WARNING,
                "port",
                f"{what}: {listen}:{port} is in use (a running `lanman up` on this home is "
                "fine; anything else will make `lanman up` fail)",
                "stop the other program or choose another port in lanman.toml",
            )
        if e.errno == errno.EACCES:
            return Problem(
                ERROR,
                "port",
                f"{what}: binding {listen}:{port} needs privileges this user does not have",
                "run `lanman up` as root with `--run-as USER` (binds, then drops root), or "
                "`setcap cap_net_bind_service=+ep` on the Python interpreter, or use a port "
                "above 1023",
            )
        if e.errno == errno.EADDRNOTAVAIL:
            return Problem(
                ERROR,
                "port",
                f"{what}: {listen} is not an address of this machine",
                "set listen in lanman.toml to an address of this host (127.0.0.1 by default)",
            )
        return Problem(ERROR, "port", f"{what}: cannot bind {listen}:{port}: {e.strerror}")
    finally:
        s.close()
    return None


def _check_shares(home: Path, db: Path) -> list[Problem]:
    from lanman.datadir import share_path_problem

    out: list[Problem] = []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name, path, read_only FROM shares ORDER BY name").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return [Problem(ERROR, "database", f"cannot read the shares: {e}", file=str(db))]
    for name, path, read_only in rows:
        p = Path(path)
        where = f"share {name!r} ({path})"
        if not p.exists():
            out.append(
                Problem(
                    ERROR,
                    "share",
                    f"{where}: the directory does not exist; clients would be told there is "
                    "no such share",
                    f"create it, or `lanman share remove {name}`",
                )
            )
            continue
        if not p.is_dir():
            out.append(Problem(ERROR, "share", f"{where}: not a directory"))
            continue
        why = share_path_problem(str(p), home, force=False)
        if why is not None:
            out.append(Problem(ERROR, "share", f"{where}: {why}", f"`lanman share remove {name}`"))
        if not os.access(p, os.R_OK | os.X_OK):
            out.append(
                Problem(
                    ERROR,
                    "share",
                    f"{where}: not readable by this user",
                    "fix its permissions, or check again as the account `lanman up` runs as",
                )
            )
        elif not read_only and not os.access(p, os.W_OK):
            out.append(
                Problem(
                    WARNING,
                    "share",
                    f"{where}: not writable by this user, although the share is read-write",
                    f"fix its permissions, or `lanman share set {name} --read-only`",
                )
            )
    return out


def _check_domain(home: Path, db: Path) -> list[Problem]:
    from lanman.directory import Directory
    from lanman.directory.authn import DS_BEHAVIOR_WIN2012R2

    if not Directory.is_provisioned(home):
        return []
    out: list[Problem] = []
    with Directory.open(home) as d:
        try:
            d.krbtgt()
        except Exception as e:  # noqa: BLE001 - reported, not raised
            out.append(Problem(ERROR, "domain", str(e), getattr(e, "remedy", "")))
        if d.find_principal(d.dc_name.rstrip("$") + "$") is None:
            out.append(
                Problem(
                    ERROR,
                    "domain",
                    f"the domain controller's computer account {d.dc_name}$ is missing",
                    "restore lanman.sqlite from a backup (`lanman store restore`)",
                )
            )
        pending = d.info()["rc4_only_accounts"]
        if pending:
            out.append(
                Problem(
                    WARNING,
                    "domain",
                    f"{len(pending)} account(s) have only an RC4 key (created before the "
                    f"domain): {', '.join(pending[:5])}{' …' if len(pending) > 5 else ''}",
                    "set their passwords again (`lanman user passwd NAME`) to get AES keys",
                )
            )
        cfg = d.authn_config()
        if cfg.policies and cfg.dc_functional_level < DS_BEHAVIOR_WIN2012R2:
            out.append(
                Problem(
                    WARNING,
                    "domain",
                    f"{len(cfg.policies)} authentication policies exist but the DC functional "
                    f"level ({cfg.dc_functional_level}) is below 2012 R2: none applies",
                    "`lanman domain level raise 2016`",
                )
            )
    return out


def check_home(path: str | os.PathLike[str], *, ports: bool = True) -> tuple[list[Problem], dict]:
    """All problems of the home at ``path`` and a summary of what was checked."""
    from lanman.config import ConfigError, load_config
    from lanman.policy.layers import POLICY_FILE, PolicyFileError, load_host
    from lanman.store import maintenance

    home = Path(path).expanduser().absolute()
    summary: dict = {"home": str(home)}
    if not home.is_dir():
        return [
            Problem(
                ERROR,
                "home",
                f"home directory {str(home)!r} does not exist",
                "pass the right --home (or LANMAN_HOME); `lanman up` creates a new one",
            )
        ], summary
    problems: list[Problem] = []
    cfg = None
    cfg_path = home / "lanman.toml"
    try:
        cfg = load_config(home)
    except ConfigError as e:
        problems.append(
            Problem(
                ERROR,
                "config",
                e.message if hasattr(e, "message") else str(e),
                getattr(e, "remedy", ""),
                str(cfg_path),
                getattr(e, "line", None) or _line_from_message(str(e)),
            )
        )
    pol_path = home / POLICY_FILE
    try:
        host = load_host(home)
        summary["profile"] = host.profile_name
    except PolicyFileError as e:
        host = None
        problems.append(
            Problem(
                ERROR,
                "policy",
                getattr(e, "message", str(e)),
                getattr(e, "remedy", ""),
                str(pol_path),
                _policy_entry_line(pol_path, str(e)),
            )
        )
    db = home / "lanman.sqlite"
    if db.exists():
        for msg in maintenance.check(db, quick=True):
            problems.append(
                Problem(
                    ERROR,
                    "database",
                    msg,
                    "`lanman store restore BACKUP` (see `lanman store backup`)",
                    str(db),
                )
            )
        if not any(p.area == "database" for p in problems):
            problems.extend(_check_shares(home, db))
            problems.extend(_check_domain(home, db))
    else:
        summary["database"] = (
            "none yet (created by the first `lanman up`, `user add` or `share add`)"
        )
    if cfg is not None:
        summary.update(listen=cfg.listen, smb_port=cfg.smb_port, server_name=cfg.server_name)
        if ports:
            for port, what in ((cfg.smb_port, "SMB"), (cfg.kdc_port, "KDC")):
                pr = _check_port(cfg.listen, port, what)
                if pr is not None:
                    problems.append(pr)
    summary["host_policy"] = host
    return problems, summary
