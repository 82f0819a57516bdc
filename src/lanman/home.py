"""The data directory ("home"): ``lanman.sqlite``, ``lanman.toml`` and ``shares/``.

Default location: ``$LANMAN_HOME`` if set, else ``./lanman-home`` (relative to the current
directory). The directory is created mode 0700: the database holds NT hashes, which are
password-equivalent for NTLM.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from lanman.config import CONFIG_FILE, ServerConfig, load_config, netbios_host_name, save_config
from lanman.events import EventLog
from lanman.store import Store

__all__ = ["DB_FILE", "DEMO_SHARE", "DEMO_USER", "Home", "HomeError", "default_home_path"]

DB_FILE = "lanman.sqlite"
DEMO_SHARE = "demo"
DEMO_USER = "demo"
ENV_VAR = "LANMAN_HOME"

_DEMO_README = """\
This is the lanman demo share.

It was created by `lanman up --demo` (or `make run`) together with the user "demo".
Files you put here from an SMB client land in this directory on the server.
"""


class HomeError(ValueError):
    def __init__(self, message: str, remedy: str = ""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


def default_home_path() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path("lanman-home")


@dataclass(slots=True, eq=False)
class Home:
    path: Path
    store: Store
    config: ServerConfig
    events: EventLog

    @property
    def shares_root(self) -> Path:
        return self.path / "shares"

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILE

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @classmethod
    def open(cls, path: Path | str | None = None, create: bool = True) -> Home:
        """Open the home at ``path`` (default: :func:`default_home_path`).

        With ``create`` a missing directory is made (0700) with ``shares/`` and a
        ``lanman.toml`` holding the defaults and a fresh server GUID. An existing but broken
        ``lanman.toml`` raises :class:`lanman.config.ConfigError` and is left untouched.
        """
        p = Path(path) if path is not None else default_home_path()
        p = p.expanduser().absolute()
        if not p.is_dir():
            if p.exists():
                raise HomeError(
                    f"home {str(p)!r} exists but is not a directory", "give --home a directory path"
                )
            if not create:
                # one line: the path, and who creates a home (read commands never do)
                raise HomeError(
                    f"home directory {str(p)!r} does not exist (check --home / LANMAN_HOME; "
                    "`lanman up`, `user add`, `share add` or `domain provision` create one)"
                )
            try:
                p.mkdir(mode=0o700, parents=True)
            except OSError as e:
                raise HomeError(
                    f"cannot create home directory {str(p)!r}: {e.strerror}",
                    "choose a writable location with --home",
                ) from None
        config = load_config(p)  # raises ConfigError before anything is written
        if create:
            (p / "shares").mkdir(exist_ok=True)
            if not (p / CONFIG_FILE).exists():
                # a new home: the defaults, a fresh server GUID, and this machine's name as
                # the server's NetBIOS name (Samba's `netbios name` default)
                config.server_name = netbios_host_name(socket.gethostname())
                save_config(p, config)
            # An existing file is never rewritten here (a missing GUID is added on next save).
        store = Store(p / DB_FILE)
        events = EventLog(p / DB_FILE, max_bytes=config.event_log_max_kib * 1024)
        return cls(path=p, store=store, config=config, events=events)

    def save_config(self) -> None:
        save_config(self.path, self.config)

    def close(self) -> None:
        self.store.close()
        self.events.close()

    def ensure_demo(self) -> str | None:
        """First run only (no users and no shares): create ``shares/demo`` with a README,
        share ``demo`` and user ``demo`` with a generated password, which is returned so the
        caller can show it once. It is not stored anywhere. Otherwise return None."""
        if self.store.list_users() or self.store.list_shares():
            return None
        demo_dir = self.shares_root / DEMO_SHARE
        demo_dir.mkdir(parents=True, exist_ok=True)
        readme = demo_dir / "README.txt"
        if not readme.exists():
            readme.write_text(_DEMO_README, encoding="utf-8")
        share = self.store.add_share(DEMO_SHARE, demo_dir, remark="lanman demo share")
        password = secrets.token_urlsafe(12)
        user = self.store.add_user(DEMO_USER, password)
        self.events.emit(
            "SHARE_ADDED",
            source="lanman-demo",
            share=share.name,
            path=share.path,
            read_only=share.read_only,
            guest_ok=share.guest_ok,
        )
        self.events.emit(
            "USER_ADDED",
            source="lanman-demo",
            user=user.name,
            rid=user.rid,
            actor="lanman up --demo",
        )
        return password
