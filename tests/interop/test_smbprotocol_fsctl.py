"""smbprotocol's server-side copy against lanman: ``smbclient.copyfile`` asks for a resume
key (FSCTL_SRV_REQUEST_RESUME_KEY) and copies with FSCTL_SRV_COPYCHUNK_WRITE in chunks of
at most 1 MiB (MS-SMB2 3.3.5.15.6); the data never leaves the server."""

from __future__ import annotations

import os

import pytest
import smbclient
import smbprotocol  # noqa: F401 - a test peer: a missing one fails, never skips
from test_smbprotocol import DIALECTS, open_session

pytestmark = [pytest.mark.interop]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["3.1.1", "2.1"])
def test_smbprotocol_server_side_copy(target, name):
    dialect, _algo = DIALECTS[name]
    conn, _session, cache = open_session(
        target.host, target.port, target.user, target.password, dialect
    )
    try:
        kw = {"port": target.port, "connection_cache": cache}
        root = rf"\\{target.host}\{target.share}"
        payload = os.urandom(3 * 1024 * 1024 + 12345)  # four chunks, the last one short
        with smbclient.open_file(rf"{root}\cc_src_{name}.bin", mode="wb", **kw) as f:
            f.write(payload)
        smbclient.copyfile(rf"{root}\cc_src_{name}.bin", rf"{root}\cc_dst_{name}.bin", **kw)
        assert (target.share_dir / f"cc_dst_{name}.bin").read_bytes() == payload
        with smbclient.open_file(rf"{root}\cc_dst_{name}.bin", mode="rb", **kw) as f:
            assert f.read(4096) == payload[:4096]
        for n in ("src", "dst"):
            smbclient.remove(rf"{root}\cc_{n}_{name}.bin", **kw)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
        conn.disconnect()
