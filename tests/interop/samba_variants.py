"""Samba smbd and lanman configurations for the client interop tests (loopback only).

* :func:`start_samba_variant` — Debian smbd with ``server signing = mandatory|auto`` and a
  ``[pub]`` share with ``guest ok = yes`` under ``map to guest = bad user`` (guest account =
  the test unix user, so the share's permissions stay simple).
* :func:`start_lanman_guest` — lanman with a ``--guest-ok`` share ``pub`` and
  ``map_to_guest`` on, signing not required (what ``smbclient -N`` needs).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from interop_support import (
    EVERYONE_FULL,
    HOST,
    RO_SHARE,
    SAMBA_UNIX_USER,
    SHARE,
    Target,
    _lanman,
    _lanman_start,
    ensure_unix_user,
    free_port,
    random_password,
    require_tool,
    run,
    stop_process,
    wait_port,
)

GUEST_SHARE = "pub"

_CONF = """\
[global]
    server role = standalone server
    workgroup = LANMANTEST
    netbios name = SAMBAVAR
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = {port}
    disable netbios = yes
    server signing = {signing}
    server min protocol = SMB2_02
    passdb backend = tdbsam:{d}/private/passdb.tdb
    private dir = {d}/private
    lock directory = {d}/lock
    state directory = {d}/state
    cache directory = {d}/cache
    pid directory = {d}/pid
    ncalrpc dir = {d}/ncalrpc
    binddns dir = {d}/bind-dns
    log file = {d}/log.%m
    max log size = 0
    log level = 1
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    map to guest = {map_to_guest}
    guest account = {guest_account}
    usershare path =
    kernel oplocks = no

[{share}]
    path = {share_dir}
    read only = no
    guest ok = no
    create mask = 0755
    directory mask = 0755

[{ro_share}]
    path = {ro_dir}
    read only = yes
    guest ok = no

[{guest_share}]
    path = {guest_dir}
    read only = no
    guest ok = yes
    create mask = 0755
"""


def start_samba_variant(signing: str = "mandatory", map_to_guest: str = "bad user") -> Target:
    """smbd with ``server signing = signing`` and a guest share; returns a started Target
    whose ``ro_dir`` is replaced by the guest share's directory (``pub``)."""
    smbd = require_tool("smbd")
    smbpasswd = require_tool("smbpasswd")
    pw = ensure_unix_user()
    d = Path(tempfile.mkdtemp(prefix="lanman-sambavar-"))
    os.chmod(d, 0o755)
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "bind-dns"):
        (d / sub).mkdir()
    share_dir, ro_dir, guest_dir = d / "share-data", d / "share-ro", d / "share-pub"
    for p in (share_dir, ro_dir, guest_dir):
        p.mkdir()
        os.chmod(p, 0o755)
    (guest_dir / "hello.txt").write_bytes(b"hello guest\n")
    for p in (share_dir, guest_dir, guest_dir / "hello.txt"):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    password = random_password()
    port = free_port()
    t = Target(
        "samba",
        HOST,
        port,
        SAMBA_UNIX_USER,
        password,
        SHARE,
        share_dir,
        RO_SHARE,
        guest_dir,
        d,
        signing == "mandatory",
        log_path=d / "smbd.out",
    )
    conf = d / "smb.conf"
    conf.write_text(
        _CONF.format(
            port=port,
            d=d,
            signing=signing,
            map_to_guest=map_to_guest,
            guest_account=SAMBA_UNIX_USER,
            share=SHARE,
            share_dir=share_dir,
            ro_share=RO_SHARE,
            ro_dir=ro_dir,
            guest_share=GUEST_SHARE,
            guest_dir=guest_dir,
        )
    )
    run(
        [smbpasswd, "-c", str(conf), "-a", "-s", SAMBA_UNIX_USER],
        input=f"{password}\n{password}\n".encode(),
        check=True,
        timeout=30,
    )
    with open(t.log_path, "ab") as logf:
        t.proc = subprocess.Popen(
            [smbd, "--foreground", "--no-process-group", "--debug-stdout", f"--configfile={conf}"],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # smbd signals its whole process group on exit
    try:
        wait_port(port, 15.0, t.proc)
    except Exception as e:  # noqa: BLE001 - reported with the smbd log
        stop_process(t.proc)
        raise AssertionError(f"smbd did not start: {e}\n{t.log_text()}") from None
    return t


def start_lanman_guest(base: Path, require_signing: bool = False) -> Target:
    """lanman with share ``data`` (user alice) and guest share ``pub``, map_to_guest on."""
    home = base / "home"
    share_dir, ro_dir = base / "share-data", base / "share-pub"
    for p in (home, share_dir, ro_dir):
        p.mkdir(parents=True, exist_ok=True)
    (ro_dir / "hello.txt").write_bytes(b"hello guest\n")
    password = random_password()
    t = Target(
        "lanman",
        HOST,
        free_port(),
        "alice",
        password,
        SHARE,
        share_dir,
        GUEST_SHARE,
        ro_dir,
        home,
        require_signing,
        log_path=base / "lanman.log",
        _start=_lanman_start,
    )
    _lanman(home, "user", "add", "alice", "--password-stdin", input=(password + "\n").encode())
    _lanman(home, "share", "add", SHARE, str(share_dir), *EVERYONE_FULL)
    _lanman(home, "share", "add", GUEST_SHARE, str(ro_dir), "--guest-ok", *EVERYONE_FULL)
    _lanman(home, "smb", "server-config", "set", "--map-to-guest", "true")
    _lanman_start(t)
    return t
