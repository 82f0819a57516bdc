"""smbprotocol (jborean93): a durable handle (MS-SMB2 DHnQ / DH2Q, batch oplock) survives a
dropped TCP connection and is reconnected (DHnC / DH2C) on a new connection and session of
the same user, with its data, FileId and oplock; a wrong CreateGuid is refused."""

from __future__ import annotations

import os
import struct
import uuid

import pytest
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from smbprotocol.connection import Connection, Dialects
from smbprotocol.create_contexts import (
    CreateContextName,
    SMB2CreateContextRequest,
    SMB2CreateDurableHandleReconnect,
    SMB2CreateDurableHandleRequest,
)
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.open import (
    CreateDisposition,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    RequestedOplockLevel,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

pytestmark = [pytest.mark.interop]

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034


def _connect(target, dialect):
    conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
    conn.connect(dialect=dialect, timeout=15)
    session = Session(
        conn, target.user, target.password, require_encryption=False, auth_protocol="ntlm"
    )
    session.connect()
    tree = TreeConnect(session, rf"\\{target.host}\{target.share}")
    tree.connect()
    return conn, tree


def _context(name: bytes, data: bytes) -> SMB2CreateContextRequest:
    ctx = SMB2CreateContextRequest()
    ctx["buffer_name"] = name
    ctx["buffer_data"] = data
    return ctx


def _create(tree, name, contexts, disposition=CreateDisposition.FILE_OVERWRITE_IF):
    f = Open(tree, name)
    out = f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
        0x80,
        ShareAccess.FILE_SHARE_READ,
        disposition,
        0,
        create_contexts=contexts,
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH,
    )
    return f, out or []


def _v1_request():
    return _context(
        CreateContextName.SMB2_CREATE_DURABLE_HANDLE_REQUEST,
        SMB2CreateDurableHandleRequest().pack(),
    )


def _v1_reconnect(file_id: bytes):
    r = SMB2CreateDurableHandleReconnect()
    r["data"] = file_id
    return _context(CreateContextName.SMB2_CREATE_DURABLE_HANDLE_RECONNECT, r.pack())


def _v2_request(create_guid: bytes):
    # Timeout 0 (the server chooses), Flags 0, Reserved, CreateGuid
    data = struct.pack("<II8s16s", 0, 0, b"\x00" * 8, create_guid)
    return _context(CreateContextName.SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2, data)


def _v2_reconnect(file_id: bytes, create_guid: bytes):
    data = struct.pack("<16s16sI", file_id, create_guid, 0)
    return _context(CreateContextName.SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2, data)


@pytest.mark.timeout(120)
def test_durable_v1_survives_tcp_drop(target):
    name = f"durable_v1_{uuid.uuid4().hex[:8]}.bin"
    payload = os.urandom(5000)
    conn, tree = _connect(target, Dialects.SMB_2_1_0)
    try:
        f, out = _create(tree, name, [_v1_request()])
        assert f.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
        assert len(out) == 1  # the DHnQ response: durable granted
        f.write(payload, 0)
        file_id = f.file_id
    finally:
        conn.disconnect(close=False)  # the TCP connection drops, no CLOSE, no LOGOFF

    conn2, tree2 = _connect(target, Dialects.SMB_2_1_0)
    try:
        # the name does not matter for a v1 reconnect, only the FileId
        g, _ = _create(tree2, name, [_v1_reconnect(file_id)])
        assert g.file_id[:8] == file_id[:8]  # FileId.Persistent (Volatile may change)
        assert g.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
        assert g.create_action == 1  # FILE_OPENED
        assert g.read(0, len(payload)) == payload
        g.close()
        # closed for good: a second reconnect finds nothing
        with pytest.raises(SMBResponseException) as exc:
            _create(tree2, name, [_v1_reconnect(file_id)])
        assert exc.value.status == STATUS_OBJECT_NAME_NOT_FOUND
    finally:
        conn2.disconnect()
    assert (target.share_dir / name).read_bytes() == payload
    (target.share_dir / name).unlink()


@pytest.mark.timeout(120)
def test_durable_v2_survives_tcp_drop(target):
    name = f"durable_v2_{uuid.uuid4().hex[:8]}.bin"
    create_guid = uuid.uuid4().bytes_le
    conn, tree = _connect(target, Dialects.SMB_3_1_1)
    try:
        f, out = _create(tree, name, [_v2_request(create_guid)])
        assert len(out) == 1  # the DH2Q response
        f.write(b"v2 data", 0)
        file_id = f.file_id
    finally:
        conn.disconnect(close=False)

    conn2, tree2 = _connect(target, Dialects.SMB_3_1_1)
    try:
        with pytest.raises(SMBResponseException) as exc:
            _create(tree2, name, [_v2_reconnect(file_id, uuid.uuid4().bytes_le)])
        assert exc.value.status == STATUS_OBJECT_NAME_NOT_FOUND
        g, _ = _create(tree2, name, [_v2_reconnect(file_id, create_guid)])
        assert g.file_id[:8] == file_id[:8]
        assert g.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
        assert g.read(0, 7) == b"v2 data"
        g.close()
    finally:
        conn2.disconnect()
    (target.share_dir / name).unlink()
