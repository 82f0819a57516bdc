"""Share permissions against Samba's smbclient: Full works, Read cannot `put`
(NT_STATUS_ACCESS_DENIED on the CREATE), no access fails the tree connect
(NT_STATUS_ACCESS_DENIED), and Grant/Block applied while `lanman up` runs take effect at the
next tree connect."""

from __future__ import annotations

import dataclasses

import pytest
from interop_support import (
    _lanman,
    cleanup_target,
    random_password,
    smbclient,
    start_lanman,
)

pytestmark = [pytest.mark.interop]

SHARE = "perm"


def _out(cp) -> str:
    return cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("shareperm")
    t = start_lanman(base)
    pdir = base / "perm-data"
    pdir.mkdir()
    (pdir / "hello.txt").write_bytes(b"hello from lanman\n")
    users = {}
    for name in ("reader", "nobody", "blocked"):
        pw = random_password()
        _lanman(t.home, "user", "add", name, "--password-stdin", input=(pw + "\n").encode())
        users[name] = dataclasses.replace(t, user=name, password=pw)
    users["alice"] = t
    _lanman(
        t.home,
        "share",
        "add",
        SHARE,
        str(pdir),
        "--full-access",
        t.user,
        "--read-access",
        "reader",
        "--read-access",
        "Authenticated Users",
        "--no-access",
        "blocked",
    )
    yield t, users, pdir
    cleanup_target(t)


@pytest.mark.timeout(120)
def test_full_access_can_write(srv, tmp_path):
    _, users, pdir = srv
    (tmp_path / "up.txt").write_bytes(b"written by alice\n")
    cp = smbclient(users["alice"], "-c", "put up.txt alice.txt; ls", share=SHARE, cwd=tmp_path)
    assert "alice.txt" in _out(cp)
    assert (pdir / "alice.txt").read_bytes() == b"written by alice\n"


@pytest.mark.timeout(120)
def test_read_access_cannot_put(srv, tmp_path):
    _, users, pdir = srv
    (tmp_path / "up.txt").write_bytes(b"x\n")
    cp = smbclient(users["reader"], "-c", "get hello.txt got.txt", share=SHARE, cwd=tmp_path)
    assert (tmp_path / "got.txt").read_bytes() == b"hello from lanman\n", _out(cp)
    cp = smbclient(
        users["reader"], "-c", "put up.txt reader.txt", share=SHARE, cwd=tmp_path, check=False
    )
    assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    assert not (pdir / "reader.txt").exists()


@pytest.mark.timeout(120)
def test_no_access_cannot_connect(srv, tmp_path):
    t, users, _ = srv
    # "nobody" is an authenticated user (Read through the group); "blocked" is denied
    cp = smbclient(users["nobody"], "-c", "ls", share=SHARE, check=False)
    assert cp.returncode == 0 and "hello.txt" in _out(cp), _out(cp)
    cp = smbclient(users["blocked"], "-c", "ls", share=SHARE, check=False)
    out = _out(cp)
    assert cp.returncode != 0 and "tree connect failed: NT_STATUS_ACCESS_DENIED" in out, out
    events = t.events()
    assert any(e.get("event_id") == 9008 and "blocked" in str(e) for e in events), events


@pytest.mark.timeout(120)
def test_grant_and_block_apply_to_the_next_tree_connect(srv, tmp_path):
    t, users, pdir = srv
    (tmp_path / "up.txt").write_bytes(b"now allowed\n")
    _lanman(t.home, "share", "grant", SHARE, "nobody", "--access-right", "change")
    smbclient(users["nobody"], "-c", "put up.txt nobody.txt", share=SHARE, cwd=tmp_path)
    assert (pdir / "nobody.txt").read_bytes() == b"now allowed\n"
    _lanman(t.home, "share", "block", SHARE, "nobody")
    cp = smbclient(users["nobody"], "-c", "ls", share=SHARE, check=False)
    assert "NT_STATUS_ACCESS_DENIED" in _out(cp), _out(cp)
    _lanman(t.home, "share", "unblock", SHARE, "nobody")
    cp = smbclient(users["nobody"], "-c", "ls", share=SHARE)
    assert "nobody.txt" in _out(cp)
