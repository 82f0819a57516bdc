"""Samba smbclient against the server, signing required by both sides, every dialect."""

from __future__ import annotations

import pytest
from interop_support import (
    PROTOCOL_DIALECT,
    SMBCLIENT_PROTOCOLS,
    TamperProxy,
    make_random_file,
    sha256_file,
    smbclient,
    unsigned_traffic,
)

pytestmark = [pytest.mark.interop]


def _out(cp) -> str:
    return cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["SMB2_02", "SMB3_11"])
def test_list_shares(target, protocol):
    cp = smbclient(target, "-L", target.host, unc=False, protocol=protocol)
    out = _out(cp)
    lines = {
        ln.split()[0]: ln.split()[1]
        for ln in out.splitlines()
        if len(ln.split()) >= 2 and ln.startswith("\t")
    }
    assert lines.get(target.share) == "Disk", out
    assert lines.get(target.ro_share) == "Disk", out
    assert lines.get("IPC$") == "IPC", out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("protocol", SMBCLIENT_PROTOCOLS)
def test_file_ops_signed(target, protocol, workdir):
    """ls, put, get, mkdir, rename, rm at one dialect, through a pass-through proxy that
    checks the negotiated dialect and that all traffic on the session is signed."""
    sub = f"d_{protocol}"
    src = workdir / "up.bin"
    digest = make_random_file(
        src, 3 * 1024 * 1024 + 12345, seed=SMBCLIENT_PROTOCOLS.index(protocol)
    )
    with TamperProxy(target.port) as proxy:
        cmds = "; ".join(
            [
                f"mkdir {sub}",
                f"cd {sub}",
                "put up.bin a.bin",
                "ls",
                "rename a.bin b.bin",
                "get b.bin down.bin",
                "ls",
            ]
        )
        cp = smbclient(target, "-c", cmds, protocol=protocol, cwd=workdir, port=proxy.port)
    out = _out(cp)
    assert "NT_STATUS" not in out, out
    assert proxy.dialects and set(proxy.dialects) == {PROTOCOL_DIALECT[protocol]}, [
        hex(d) for d in proxy.dialects
    ]
    assert unsigned_traffic(proxy) == []
    assert sha256_file(workdir / "down.bin") == digest
    on_disk = target.share_dir / sub / "b.bin"
    assert on_disk.exists() and not (target.share_dir / sub / "a.bin").exists()
    assert sha256_file(on_disk) == digest
    assert "b.bin" in out

    cp = smbclient(
        target, "-c", f"cd {sub}; rm b.bin; cd ..; rmdir {sub}; ls", protocol=protocol, cwd=workdir
    )
    assert "NT_STATUS" not in _out(cp), _out(cp)
    assert not (target.share_dir / sub).exists()


@pytest.mark.timeout(300)
def test_large_file_roundtrip_311(target, workdir):
    size = 64 * 1024 * 1024
    src = workdir / "big.bin"
    digest = make_random_file(src, size, seed=64)
    cp = smbclient(
        target,
        "-c",
        "put big.bin big64.bin; get big64.bin big.back",
        protocol="SMB3_11",
        cwd=workdir,
        timeout=240,
    )
    assert "NT_STATUS" not in _out(cp), _out(cp)
    assert (target.share_dir / "big64.bin").stat().st_size == size
    assert sha256_file(target.share_dir / "big64.bin") == digest
    assert sha256_file(workdir / "big.back") == digest
    (target.share_dir / "big64.bin").unlink()


@pytest.mark.timeout(60)
def test_read_only_share_refuses_put(target, workdir):
    (workdir / "x.txt").write_bytes(b"nope")
    cp = smbclient(
        target,
        "-c",
        "get readme.txt r.txt; put x.txt x.txt",
        share=target.ro_share,
        protocol="SMB3_11",
        cwd=workdir,
        check=False,
    )
    out = _out(cp)
    assert (workdir / "r.txt").read_bytes() == b"read-only share\n", out
    assert "NT_STATUS_ACCESS_DENIED" in out or "NT_STATUS_MEDIA_WRITE_PROTECTED" in out, out
    assert not (target.ro_dir / "x.txt").exists()


@pytest.mark.timeout(60)
def test_wrong_password_rejected(target):
    import dataclasses

    bad = dataclasses.replace(target, password=target.password + "x")
    cp = smbclient(bad, "-c", "ls", check=False)
    assert cp.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in _out(cp), _out(cp)
