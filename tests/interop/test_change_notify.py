"""CHANGE_NOTIFY with smbprotocol (jborean93): a watcher on one connection sees, within a
second, a file that another client creates (MS-SMB2 3.3.5.19, lanman notify.py)."""

from __future__ import annotations

import time
import uuid

import pytest
import smbclient
from smbprotocol.change_notify import CompletionFilter, FileAction, FileSystemWatcher
from smbprotocol.connection import Connection
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    DirectoryAccessMask,
    FileAttributes,
    ImpersonationLevel,
    Open,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

pytestmark = [pytest.mark.interop]


def _open_dir(tree: TreeConnect, name: str) -> Open:
    d = Open(tree, name)
    d.create(
        ImpersonationLevel.Impersonation,
        DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.SYNCHRONIZE,
        FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
        ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE,
        CreateDisposition.FILE_OPEN_IF,
        CreateOptions.FILE_DIRECTORY_FILE,
    )
    return d


def _session(target):
    conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
    conn.connect(timeout=15)
    session = Session(conn, target.user, target.password, require_encryption=False)
    session.connect()
    tree = TreeConnect(session, rf"\\{target.host}\{target.share}")
    tree.connect()
    return conn, tree


@pytest.mark.timeout(60)
def test_change_notify_sees_a_file_made_on_the_servers_disk(target):
    """The host's own change (not through SMB) reaches the watcher (inotify)."""
    conn, tree = _session(target)
    try:
        d = _open_dir(tree, "cn_disk")
        try:
            watcher = FileSystemWatcher(d)
            watcher.start(CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME)
            time.sleep(0.2)  # the request is pending on the server
            (target.share_dir / "cn_disk" / "local.txt").write_bytes(b"made on the host")
            made = time.monotonic()
            assert watcher.response_event.wait(1.0), "no CHANGE_NOTIFY within 1 s"
            assert time.monotonic() - made < 1.0
            got = [(i["action"].get_value(), i["file_name"].get_value()) for i in watcher.wait()]
            assert got == [(FileAction.FILE_ACTION_ADDED, "local.txt")]
        finally:
            d.close()
            (target.share_dir / "cn_disk" / "local.txt").unlink()
            (target.share_dir / "cn_disk").rmdir()
    finally:
        conn.disconnect()


@pytest.mark.timeout(60)
def test_change_notify_sees_another_clients_create(target):
    conn, tree = _session(target)
    cache: dict = {}
    try:
        d = _open_dir(tree, "cn_watch")
        try:
            watcher = FileSystemWatcher(d)
            watcher.start(
                CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME
                | CompletionFilter.FILE_NOTIFY_CHANGE_DIR_NAME
            )
            # the other client: smbclient on its own connection
            path = rf"\\{target.host}\{target.share}\cn_watch\from-other.txt"
            smbclient.register_session(
                target.host,
                username=target.user,
                password=target.password,
                port=target.port,
                connection_cache=cache,
            )
            with smbclient.open_file(
                path, mode="wb", port=target.port, connection_cache=cache
            ) as f:
                f.write(b"hello")
            created = time.monotonic()
            assert watcher.response_event.wait(1.0), "no CHANGE_NOTIFY within 1 s"
            assert time.monotonic() - created < 1.0
            got = [(i["action"].get_value(), i["file_name"].get_value()) for i in watcher.wait()]
            assert got == [(FileAction.FILE_ACTION_ADDED, "from-other.txt")]
            # a watcher started later answers at once with what was buffered meanwhile
            smbclient.remove(path, port=target.port, connection_cache=cache)
            again = FileSystemWatcher(d)
            again.start(CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME)
            assert again.response_event.wait(5.0)
            got = [(i["action"].get_value(), i["file_name"].get_value()) for i in again.wait()]
            assert got == [(FileAction.FILE_ACTION_REMOVED, "from-other.txt")]
        finally:
            d.close()
            smbclient.rmdir(
                rf"\\{target.host}\{target.share}\cn_watch",
                port=target.port,
                connection_cache=cache,
            )
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
        conn.disconnect()
