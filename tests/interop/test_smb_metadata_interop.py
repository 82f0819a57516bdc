"""smbprotocol (jborean93) against file metadata: DOS attributes, times before 1970 and far
in the future, named streams (lanman.smb.server.dosattrib / timestamps / streams)."""

from __future__ import annotations

import uuid

import pytest
import smbclient
from smbclient._io import SMBFileTransaction, SMBRawIO, set_info
from smbprotocol.file_info import FileAttributes, FileBasicInformation

pytestmark = [pytest.mark.interop]

S = 1_000_000_000


@pytest.fixture()
def smb(target):
    cache: dict = {}
    smbclient.register_session(
        target.host,
        username=target.user,
        password=target.password,
        port=target.port,
        connection_cache=cache,
        require_signing=True,
        auth_protocol="negotiate",
    )
    root = rf"\\{target.host}\{target.share}\md_{uuid.uuid4().hex[:8]}"
    kw = {"port": target.port, "connection_cache": cache}
    smbclient.mkdir(root, **kw)
    try:
        yield root, kw
    finally:
        for entry in smbclient.listdir(root, **kw):
            smbclient.remove(rf"{root}\{entry}", **kw)
        smbclient.rmdir(root, **kw)
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def set_attributes(path: str, attributes: int, kw: dict) -> None:
    raw = SMBRawIO(path, mode="r", desired_access=0x100 | 0x80, **kw)  # WRITE/READ_ATTRIBUTES
    with SMBFileTransaction(raw) as tr:
        info = FileBasicInformation()
        info["file_attributes"] = attributes
        set_info(tr, info)


@pytest.mark.timeout(120)
def test_attributes_and_times_round_trip(smb) -> None:
    root, kw = smb
    f = rf"{root}\a.txt"
    with smbclient.open_file(f, mode="wb", **kw) as fh:
        fh.write(b"data")
    assert smbclient.stat(f, **kw).st_file_attributes == FileAttributes.FILE_ATTRIBUTE_ARCHIVE
    hidden_system = FileAttributes.FILE_ATTRIBUTE_HIDDEN | FileAttributes.FILE_ATTRIBUTE_SYSTEM
    set_attributes(f, hidden_system, kw)
    assert smbclient.stat(f, **kw).st_file_attributes == hidden_system
    set_attributes(f, FileAttributes.FILE_ATTRIBUTE_NORMAL, kw)
    assert smbclient.stat(f, **kw).st_file_attributes == FileAttributes.FILE_ATTRIBUTE_NORMAL
    for t in (-63158400, 15032385535):  # 1968, far beyond 2038
        smbclient.utime(f, ns=(t * S, t * S), **kw)
        assert smbclient.stat(f, **kw).st_mtime_ns == t * S


@pytest.mark.timeout(120)
def test_named_streams(smb, target) -> None:
    root, kw = smb
    f = rf"{root}\s.txt"
    with smbclient.open_file(f, mode="wb", **kw) as fh:
        fh.write(b"main data")
    with smbclient.open_file(f + ":note", mode="wb", **kw) as fh:
        fh.write(b"side data")
    with smbclient.open_file(f + ":NOTE:$DATA", mode="rb", **kw) as fh:
        assert fh.read() == b"side data"
    with smbclient.open_file(f, mode="rb", **kw) as fh:
        assert fh.read() == b"main data"
    streams = {s[0]: s[1] for s in smbclient.liststreams(f, **kw)}  # (name, size, alloc)
    assert streams == {"::$DATA": 9, ":note:$DATA": 9}
    assert sorted(smbclient.listdir(root, **kw)) == ["s.txt"]  # a stream is no file
    smbclient.remove(f + ":note", **kw)
    assert [s[0] for s in smbclient.liststreams(f, **kw)] == ["::$DATA"]
    assert (target.share_dir / root.rsplit("\\", 1)[1] / "s.txt").read_bytes() == b"main data"
