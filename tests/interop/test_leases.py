"""smbprotocol (jborean93) against the server: an SMB 3.1.1 lease is granted, and broken
when another client writes the file (MS-SMB2 3.3.4.7 lease break notification, 3.3.5.9.11
lease response)."""

from __future__ import annotations

import struct
import uuid

import pytest
from smbprotocol.connection import Connection, Dialects, Request
from smbprotocol.create_contexts import (
    CreateContextName,
    SMB2CreateContextRequest,
    SMB2CreateRequestLease,
    SMB2CreateResponseLease,
)
from smbprotocol.header import SMB2HeaderRequest
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    RequestedOplockLevel,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

pytestmark = [pytest.mark.interop]

UNSOLICITED = 0xFFFFFFFFFFFFFFFF  # MessageId of a break notification
LEASE_READ = 0x1
LEASE_BREAK = 0x0012  # SMB2 OPLOCK_BREAK command


def _connect(target):
    conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
    conn.connect(dialect=Dialects.SMB_3_1_1, timeout=15)
    session = Session(conn, target.user, target.password, auth_protocol="ntlm")
    session.connect()
    tree = TreeConnect(session, rf"\\{target.host}\{target.share}")
    tree.connect()
    return conn, session, tree


def _open(tree, name, *, lease_key: bytes | None = None, state: int = 0):
    contexts = None
    oplock = RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE
    if lease_key is not None:
        lease = SMB2CreateRequestLease()
        lease["lease_key"] = lease_key
        lease["lease_state"] = state
        ctx = SMB2CreateContextRequest()
        ctx["buffer_name"] = CreateContextName.SMB2_CREATE_REQUEST_LEASE
        ctx["buffer_data"] = lease
        contexts = [ctx]
        oplock = RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE
    f = Open(tree, name)
    resp = f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
        0x80,
        ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE,
        CreateDisposition.FILE_OPEN_IF,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
        create_contexts=contexts,
        oplock_level=oplock,
    )
    return f, resp


@pytest.mark.timeout(120)
def test_lease_granted_and_broken_by_another_clients_write(target):
    name = f"lease-{uuid.uuid4().hex[:8]}.dat"
    key = uuid.uuid4().bytes
    conn_a, sess_a, tree_a = _connect(target)
    conn_b, sess_b, tree_b = _connect(target)
    # smbprotocol has no break handler: a placeholder request receives the notification
    notice = Request(SMB2HeaderRequest(), None, conn_a, sess_a.session_id)
    conn_a.outstanding_requests[UNSOLICITED] = notice
    fa = fb = None
    try:
        fa, resp = _open(tree_a, name, lease_key=key, state=LEASE_READ)
        assert fa.oplock_level == RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE
        (granted,) = [c for c in resp or () if isinstance(c, SMB2CreateResponseLease)]
        assert granted["lease_key"].get_value() == key
        assert int(granted["lease_state"].get_value()) == LEASE_READ

        fb, _ = _open(tree_b, name)
        assert not notice.response_event.is_set()  # another open alone breaks nothing
        fb.write(b"written by b", 0)
        assert notice.response_event.wait(10), "no lease break notification"
        hdr = notice.response
        assert hdr["command"].get_value() == LEASE_BREAK
        body = hdr["data"].get_value()
        size, _epoch, flags, brk_key, current, new = struct.unpack_from("<HHI16sII", body)
        assert (size, brk_key, current, new) == (44, key, LEASE_READ, 0)
        assert flags == 0  # from R alone: no acknowledgment required
    finally:
        conn_a.outstanding_requests.pop(UNSOLICITED, None)
        for f in (fa, fb):
            if f is not None:
                f.close()
        for tree, sess, conn in ((tree_a, sess_a, conn_a), (tree_b, sess_b, conn_b)):
            tree.disconnect()
            sess.disconnect()
            conn.disconnect()
