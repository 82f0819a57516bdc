"""Run the SMB server of a lanman home (``lanman up``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

from lanman import heap
from lanman.crypto.smb_encryption import parse_cipher_names
from lanman.events.catalogue import CATALOGUE
from lanman.runtime import tune_gc
from lanman.sdnotify import notify
from lanman.smb.filestat import unix_ns_to_filetime

from .notify_inotify import attach_inotify
from .state import ServerContext, ServerSettings
from .transport import (
    _CORE_LOCK,
    TransportLimits,
    close_connections,
    run_durable_scavenger,
    start_server,
)

log = logging.getLogger("lanman.smb")


def build_settings(home) -> ServerSettings:
    """ServerSettings from ``lanman.toml`` (``home.config``) and the effective policy
    (Group Policy > local > profile default)."""
    cfg = home.config
    try:
        guid = uuid.UUID(cfg.server_guid).bytes_le
    except ValueError:
        guid = uuid.uuid4().bytes_le
    # Effective policy: Group Policy > local (registry, lanman.toml) > profile default.
    from lanman.policy.hoststate import effective_server

    eff = effective_server(home)
    log.info("%s", eff.describe())
    settings = ServerSettings(
        server_name=cfg.server_name,
        domain_name=cfg.domain_name,
        server_guid=guid,
        require_message_signing=eff.require_message_signing,
        map_to_guest=eff.map_to_guest,
        enable_security_signature=eff.policy.enable is not None and eff.policy.enable.enabled,
        smb1_enabled=cfg.smb1_enabled,
        encrypt_data=eff.encrypt_data,
        reject_unencrypted_access=eff.reject_unencrypted_access,
        anonymous=eff.anonymous,
        encryption_ciphers=tuple(int(c) for c in parse_cipher_names(cfg.encryption_ciphers)),
        oplock_break_timeout=float(cfg.oplock_break_timeout),
        directory_leasing=cfg.directory_leasing,
    )
    return settings


# lanman.toml keys a running server cannot change: they take effect at the next start.
RESTART_KEYS = (
    "listen",
    "smb_port",
    "kdc_port",
    "server_guid",
    "max_connections",
    "max_buffered_mib",
)


def reload_settings(home, ctx: ServerContext) -> tuple[list[str], list[str]]:
    """SIGHUP: re-read lanman.toml and policy.toml and apply what a running server can
    (signing, encryption, guest and SMB1 settings for new connections; shares are read from
    the store at every tree connect anyway). -> (applied, needs restart). A broken file is
    reported and nothing changes."""
    from lanman.config import load_config

    cfg = load_config(Path(home.path))
    restart = [k for k in RESTART_KEYS if getattr(cfg, k) != getattr(home.config, k)]
    for k in restart:  # the running server keeps what it bound with
        setattr(cfg, k, getattr(home.config, k))
    home.config = cfg
    new = build_settings(home)
    old = ctx.settings
    applied = [
        f.name
        for f in fields(ServerSettings)
        if f.name != "server_guid" and getattr(old, f.name) != getattr(new, f.name)
    ]
    new = replace(new, server_guid=old.server_guid)  # the GUID is the server's identity
    ctx.settings = new
    ctx.oplocks.break_timeout = int(new.oplock_break_timeout * 10_000_000)
    for k in restart:
        log.warning("lanman.toml %s changed: takes effect when lanman up restarts", k)
    return applied, restart


def build_context(home) -> ServerContext:
    """Wire the store, configuration and event log of ``home`` into a ServerContext."""
    store = home.store
    settings = build_settings(home)

    def lookup_nt_hash(name: str) -> bytes | None:
        # A provisioned domain: the directory decides (disabled / locked out / expired /
        # Protected Users get their NTSTATUS, as a DC's NTLM pass-through would answer).
        from lanman.auth.ntlm import AuthError
        from lanman.directory import AccountRestriction, Directory
        from lanman.errors.ntstatus import STATUS_ACCOUNT_DISABLED

        if Directory.is_provisioned(home.path):
            with Directory.open(home.path) as directory:
                try:
                    return directory.ntlm_logon_hash(name)
                except AccountRestriction as exc:
                    raise AuthError(exc.status, exc.detail) from None
        user = store.get_user(name)
        if user is None:
            return None
        if not user.enabled:  # named in event 551 as Windows' 4625 does (0xC0000072)
            raise AuthError(STATUS_ACCOUNT_DISABLED, "account disabled")
        return user.nt_hash

    def record_logon(name: str, ok: bool, client: str = "") -> None:
        from lanman.directory import Directory

        if not Directory.is_provisioned(home.path):
            return
        with Directory.open(home.path) as directory:
            if ok:
                directory.record_logon_success(name)
            elif directory.record_logon_failure(name):
                emit(
                    "USER_LOCKED_OUT",
                    user=name,
                    actor="lanman (bad-password threshold)",
                    client=client or "-",
                    reason="bad-password threshold reached",
                )
                emit(
                    "LOGON_FAILURE",
                    client=client,
                    domain=directory.domain,
                    user=name,
                    status="0xC0000234 STATUS_ACCOUNT_LOCKED_OUT",
                    reason="bad-password threshold reached: account locked out",
                )

    def emit(name: str, **data) -> None:
        if name in CATALOGUE:
            home.events.emit(name, source="smb", **data)

    fs_identity, unix_identity = unix_identity_resolver(store)

    ntlm_hooks = None
    from lanman.directory import Directory

    if Directory.is_provisioned(home.path):
        # Protected Users and authentication policies need the workstation name and a
        # verified password: the NTLM acceptor asks these hooks (MS-APDS 3.1.5).
        from .ntlm_logon import DirectoryNtlmLogon

        ntlm_hooks = DirectoryNtlmLogon(home.path, emit)

    def logon_sids(result) -> list[str]:
        # Kerberos: the PAC's SIDs; NTLM: the account's SID and groups from the directory
        # (or the local accounts), plus the well-known SIDs of a network logon.
        from lanman.directory.identity import logon_sids as lookup

        from .state import default_logon_sids

        if result.is_guest or result.is_anonymous or result.sids:
            return default_logon_sids(result)
        return lookup(home.path, store, result.user) or default_logon_sids(result)

    from lanman.msg.server import binding_for_home

    ctx = ServerContext(
        settings=settings,
        lookup_nt_hash=lookup_nt_hash,
        get_share=store.get_share,
        list_shares=store.list_shares,
        emit_event=emit,
        record_logon=record_logon,
        ntlm_hooks=ntlm_hooks,
        msg=binding_for_home(Path(home.path), emit),
        data_dir=str(home.path),
        unix_identity=unix_identity,
        fs_identity=fs_identity,
        sid_for_uid=lambda uid: mapped_account_sid(home.path, store, uid),
        random_bytes=os.urandom,  # nonce prefixes of the encryption keys
        logon_sids=logon_sids,
    )
    factory = kerberos_acceptor_factory(home.path)
    if factory is not None:
        from lanman.auth.spnego import KRB5_OID, MS_KRB5_OID, NTLMSSP_OID

        ctx.kerberos_acceptor = factory
        ctx.negotiate_mechs = (MS_KRB5_OID, KRB5_OID, NTLMSSP_OID)
    return ctx


def mapped_account_sid(home_path, store, uid: int) -> str | None:
    """The SID of the account ``lanman user set --unix-user`` maps to Unix ``uid`` (the
    first in name order when several are), else None."""
    import pwd

    from lanman.directory.errors import DirectoryError
    from lanman.directory.identity import resolve_account

    for account, unix in sorted(store.unix_user_mappings().items()):
        try:
            if pwd.getpwnam(unix).pw_uid != uid:
                continue
            return resolve_account(home_path, store, account)[0]
        except (KeyError, DirectoryError):
            continue
    return None


def unix_identity_resolver(store):
    """``(FsIdentity, account -> identity)`` for ``lanman user set --unix-user`` (read at
    every logon, so a new mapping applies to the next session)."""
    from lanman.fsid import FsIdentity, identity_of

    from .state import UNMAPPABLE

    fsid = FsIdentity()

    def unix_identity(user: str):
        name = store.get_unix_user(user)
        if name is None:
            return None
        try:
            ident = identity_of(name)
        except (KeyError, ValueError):
            log.warning("account %s is mapped to Unix user %r, which is unusable", user, name)
            return UNMAPPABLE
        if not fsid.available:
            log.warning(
                "account %s is mapped to Unix user %s but this server cannot switch users "
                "(start lanman up as root with the mapping in place); no file access",
                user,
                name,
            )
            return UNMAPPABLE
        return ident

    return fsid, unix_identity


def kerberos_acceptor_factory(home_path):
    """``() -> KerberosAcceptor`` checking AP-REQs with the service keys of the directory of
    ``home_path`` (None when no domain is provisioned there). One replay cache is shared by
    every connection of the server."""
    from lanman.directory import Directory

    if not Directory.is_provisioned(home_path):
        return None
    from lanman.auth.kerberos import KerberosAcceptor
    from lanman.kerberos.gssapi import ReplayWindow

    with Directory.open(home_path) as directory:
        realm, domain = directory.realm, directory.domain
    replay = ReplayWindow()

    def lookup_key(sname: list[str], srealm: str, etype: int, kvno: int | None) -> bytes | None:
        with Directory.open(home_path) as directory:
            name = "/".join(sname)
            p = directory.find_by_spn(name) if len(sname) > 1 else directory.find_principal(name)
            if p is None or p.kind == "krbtgt":
                return None
            return p.keys.get(etype)

    def factory() -> KerberosAcceptor:
        return KerberosAcceptor(lookup_key, realm=realm, domain=domain, replay=replay)

    return factory


def transport_limits(home) -> TransportLimits:
    """Connection limits from lanman.toml; the rate limiter's delay from the host policy."""
    from lanman.policy.hoststate import effective_server

    cfg = home.config
    return TransportLimits(
        max_connections=cfg.max_connections,
        max_per_address=cfg.max_connections_per_address,
        preauth_timeout=float(cfg.preauth_timeout),
        max_buffered=cfg.max_buffered_mib * 1024 * 1024,
        auth_delay_ms=effective_server(home).auth_delay_ms,
    )


async def start_kdc_if_domain(
    home, listen: str, port: int, emit, auth_delay_ms: int = 0, workers: int = 1
):
    """Start the KDC (UDP+TCP on ``port``, ``workers`` processes) when the home has a
    provisioned domain; else None."""
    try:
        from lanman.directory import Directory
    except ImportError:
        return None
    if not Directory.is_provisioned(home.path):
        return None
    from lanman.kerberos.kdc import KdcCore
    from lanman.kerberos.kdc.service import start_kdc

    directory = Directory.open(home.path)
    core = KdcCore(directory)
    core.emit = emit  # authentication-policy and Protected Users events
    kdc = await start_kdc(core, listen, port, workers=workers, auth_delay_ms=auth_delay_ms)
    kdc.directory = directory
    emit("SERVICE_STARTED", service="KDC", listen=listen, port=kdc.port, realm=directory.realm)
    return kdc


async def serve(
    home,
    listen: str,
    port: int,
    stop: asyncio.Event | None = None,
    kdc_port: int | None = None,
    after_bind: Callable[[], None] | None = None,
    kdc_workers: int = 1,
) -> None:
    """Serve ``home`` until ``stop`` is set (or SIGINT/SIGTERM in the main thread); a
    provisioned domain's KDC runs in ``kdc_workers`` processes.

    ``after_bind`` runs once every socket is bound and before the first connection is
    accepted (``lanman up --run-as`` drops root privileges there)."""
    ctx = build_context(home)
    limits = transport_limits(home)
    # Bound but not accepting until after_bind has run: no SMB request is ever processed
    # with the privileges the process started with.
    server = await start_server(
        ctx, listen, port, limits, start_serving=False, after_close=heap.trim
    )
    # CHANGE_NOTIFY also reports what changes on the host's disk (notify_inotify.py)
    disk_changes = attach_inotify(
        ctx.notify,
        _CORE_LOCK,
        asyncio.get_running_loop(),
        ctx.oplocks,
        lambda: unix_ns_to_filetime(time.time_ns()),
    )
    emit = ctx.emit_event
    kdc = None
    try:
        kdc = await start_kdc_if_domain(
            home,
            listen,
            home.config.kdc_port if kdc_port is None else kdc_port,
            emit,
            auth_delay_ms=limits.auth_delay_ms,
            workers=kdc_workers,
        )
        if after_bind is not None:
            after_bind()
        await server.start_serving()
        # lanman status: the status socket, made after privileges were dropped (owned by
        # the account the server runs as, mode 0600)
        from .status_service import StatusService

        status = StatusService(
            home.path,
            [server],
            emit,
            {
                "pid": os.getpid(),
                "listen": listen,
                "port": port,
                "server_name": ctx.settings.server_name,
                "started": time.time(),
            },
        )
        try:
            await status.start()
        except OSError as e:
            log.warning("no status socket for lanman status: %s", e)
    except BaseException:
        server.close()
        if disk_changes is not None:
            disk_changes.close()
        if kdc is not None:
            await kdc.close()
            kdc.directory.close()
        raise
    emit(
        "SERVICE_STARTED",
        service="SMB",
        listen=listen,
        port=port,
        require_security_signature=home.config.require_security_signature,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload() -> None:
        notify("RELOADING=1")
        try:
            applied, restart = reload_settings(home, ctx)
        except Exception as exc:  # noqa: BLE001 - a bad file must not stop the server
            log.error("reload failed, settings unchanged: %s", getattr(exc, "message", exc))
            emit("SERVER_CONFIG_CHANGED", changes=f"reload failed: {exc}")
        else:
            log.info(
                "reloaded: %s; needs restart: %s",
                ", ".join(applied) or "no setting changed",
                ", ".join(restart) or "nothing",
            )
            emit(
                "SERVER_CONFIG_CHANGED",
                changes="reload (SIGHUP): applied "
                + (", ".join(applied) or "nothing")
                + ("; needs restart: " + ", ".join(restart) if restart else ""),
            )
        notify("READY=1")

    if threading.current_thread() is threading.main_thread():
        # (embedders running serve() in a thread stop it through ``stop`` instead, and keep
        # their own process settings)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload)
        tune_gc()
    notify(f"READY=1\nSTATUS=serving SMB on {listen}:{port}")
    scavenger = asyncio.ensure_future(run_durable_scavenger(ctx))
    try:
        await stop.wait()
    finally:
        scavenger.cancel()
        notify("STOPPING=1")
        await status.close()
        server.close()
        emit("SERVICE_STOPPED", service="SMB")
        if kdc is not None:
            await kdc.close()
            kdc.directory.close()
            emit("SERVICE_STOPPED", service="KDC")
        await close_connections(server)  # the clients still connected: their opens end
        if disk_changes is not None:
            disk_changes.close()


def run(
    home,
    listen: str,
    port: int,
    kdc_port: int | None = None,
    after_bind: Callable[[], None] | None = None,
    kdc_workers: int = 1,
) -> None:
    """Serve until SIGINT/SIGTERM (blocking); SIGHUP reloads the settings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Before any thread exists: worker threads share two malloc arenas (lanman.heap).
    heap.limit_arenas()
    asyncio.run(
        serve(home, listen, port, kdc_port=kdc_port, after_bind=after_bind, kdc_workers=kdc_workers)
    )
