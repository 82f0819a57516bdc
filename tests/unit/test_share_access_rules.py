"""Share permissions (New-SmbShare -FullAccess/-ChangeAccess/-ReadAccess/-NoAccess,
Grant-/Revoke-/Block-/Get-SmbShareAccess): the pure descriptor edits, the tree connect and
CREATE checks of the core, schema 6 -> 7, account resolution and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from smb_harness import (
    STATUS_ACCESS_DENIED,
    STATUS_SUCCESS,
    Share,
    SmbTestClient,
    make_context,
)

from lanman.cli.main import cli
from lanman.directory.identity import EVERYONE, logon_sids, resolve_account
from lanman.errors.ntstatus import STATUS_BAD_NETWORK_NAME
from lanman.security import share as sh
from lanman.security.descriptor import decode_sd
from lanman.security.sddl_write import sd_to_sddl
from lanman.security.token import SecurityToken
from lanman.smb.wire.constants import MAXIMUM_ALLOWED
from lanman.smb.wire.session import TreeConnectResponse
from lanman.store import Store
from lanman.store.schema import MIGRATIONS, SCHEMA_VERSION, _split

ALICE = "S-1-5-21-1-2-3-1000"
STAFF = "S-1-5-21-1-2-3-1100"
FILE_READ_DATA, FILE_WRITE_DATA = 0x1, 0x2


def sddl(sd: bytes) -> str:
    return sd_to_sddl(decode_sd(sd))


def tok(*sids: str) -> SecurityToken:
    return SecurityToken.build([*sids, EVERYONE])


# ---- the descriptor -----------------------------------------------------------------------


def test_new_share_default_is_everyone_read_legacy_is_everyone_full():
    assert sddl(sh.DEFAULT_NEW_SHARE) == "O:SYG:SYD:(A;;0x1200a9;;;WD)"
    assert sddl(sh.LEGACY_SHARE) == "O:SYG:SYD:(A;;FA;;;WD)"
    assert sh.share_access(None, tok(ALICE)) == sh.FULL


@pytest.mark.parametrize(
    ("kw", "sids", "expected"),
    [
        ({"full": [ALICE]}, [ALICE], sh.FULL),
        ({"change": [ALICE]}, [ALICE], sh.CHANGE),
        ({"read": [STAFF]}, [ALICE, STAFF], sh.READ),
        ({"read": [STAFF], "change": [ALICE]}, [ALICE, STAFF], sh.CHANGE | sh.READ),
        ({"full": [STAFF], "no_access": [ALICE]}, [ALICE, STAFF], 0),  # deny beats a group
        ({"full": [STAFF]}, [ALICE], 0),  # not a member: nothing
        ({"read": [ALICE], "full": [ALICE]}, [ALICE], sh.FULL),  # strongest wins
    ],
)
def test_access_truth_table(kw, sids, expected):
    sd = sh.build_share_sd(**kw)
    assert sh.share_access(sd, tok(*sids)) == expected
    # given permissions replace the Everyone Read default
    assert EVERYONE not in {e.sid for e in sh.entries(sd)}


def test_grant_revoke_block_unblock():
    sd = sh.grant(sh.DEFAULT_NEW_SHARE, ALICE, sh.FULL)
    assert sh.share_access(sd, tok(ALICE)) == sh.FULL
    sd = sh.grant(sd, ALICE, sh.READ)  # replaces, does not add
    assert [(e.sid, e.right) for e in sh.entries(sd)] == [(EVERYONE, "Read"), (ALICE, "Read")]
    sd = sh.block(sd, ALICE)
    assert sh.entries(sd)[0] == sh.ShareAccessEntry(ALICE, "Deny", sh.FULL)  # deny first
    assert sh.share_access(sd, tok(ALICE)) == 0
    assert sh.share_access(sd, tok(STAFF)) == sh.READ
    sd, found = sh.unblock(sd, ALICE)
    assert found and sh.share_access(sd, tok(ALICE)) == sh.READ
    sd, found = sh.revoke(sd, EVERYONE)
    assert found and sh.share_access(sd, tok(STAFF)) == 0
    _, found = sh.revoke(sd, STAFF)
    assert not found
    assert sh.right_name(0x1F) == "Custom (0x0000001F)"


# ---- enforcement in the core --------------------------------------------------------------


def _env(tmp_path, sd: bytes | None, sids=(ALICE,)):
    ctx, events, share_dir = make_context(
        tmp_path, shares=[Share("perm", str(tmp_path / "share"), security_descriptor=sd)]
    )
    ctx.logon_sids = lambda result: [*sids, EVERYONE, "S-1-5-11"]
    c = SmbTestClient(ctx)
    assert c.login().status == STATUS_SUCCESS
    return c, events, share_dir


def test_read_access_caps_every_create(tmp_path):
    c, _, share_dir = _env(tmp_path, sh.build_share_sd(read=[ALICE]))
    (share_dir / "f.txt").write_bytes(b"hello")
    with c:
        r = c.check(c.tree_connect_raw("perm"))
        assert TreeConnectResponse.unpack(r.pdu).maximal_access == sh.READ
        tid = r.header.tree_id
        fid = c.create(tid, "f.txt", access=FILE_READ_DATA)
        assert c.read(tid, fid, 0, 5) == b"hello"
        c.close_file(tid, fid)
        assert c.create_raw(tid, "f.txt", access=FILE_WRITE_DATA).status == STATUS_ACCESS_DENIED
        assert c.create_raw(tid, "new.txt", access=FILE_WRITE_DATA).status == (STATUS_ACCESS_DENIED)
        assert not (share_dir / "new.txt").exists()
        # nor created, overwritten or made a directory with read access alone
        FILE_CREATE, FILE_OVERWRITE_IF, DIRECTORY = 2, 5, 0x1
        for name, kw in (
            ("new2.txt", {"disposition": FILE_CREATE}),
            ("f.txt", {"disposition": FILE_OVERWRITE_IF}),
            ("sub", {"disposition": FILE_CREATE, "options": DIRECTORY}),
        ):
            r = c.create_raw(tid, name, access=FILE_READ_DATA, **kw)
            assert r.status == STATUS_ACCESS_DENIED, (name, hex(r.status))
        assert sorted(p.name for p in share_dir.iterdir()) == ["f.txt"]
        assert (share_dir / "f.txt").read_bytes() == b"hello"
        # MAXIMUM_ALLOWED gets what the share permits, and no more
        fid = c.create(tid, "f.txt", access=MAXIMUM_ALLOWED)
        assert c.conn.opens[int.from_bytes(fid[8:], "little")].granted_access == sh.READ


def test_no_access_fails_the_tree_connect(tmp_path):
    c, events, _ = _env(tmp_path, sh.build_share_sd(full=[STAFF]))
    with c:
        assert c.tree_connect_raw("perm").status == STATUS_ACCESS_DENIED
        assert events.named("SHARE_ACCESS_DENIED")[0]["share"] == "perm"
        assert c.tree_connect_raw("data").status == STATUS_SUCCESS  # no SD: Everyone Full


def test_block_beats_group_grant(tmp_path):
    sd = sh.block(sh.build_share_sd(full=[STAFF]), ALICE)
    c, _, _ = _env(tmp_path, sd, sids=(ALICE, STAFF))
    with c:
        assert c.tree_connect_raw("perm").status == STATUS_ACCESS_DENIED


def test_full_and_change_access_write(tmp_path):
    for sd, name in (
        (sh.build_share_sd(full=[ALICE]), "a"),
        (sh.build_share_sd(change=[ALICE]), "b"),
    ):
        (tmp_path / name).mkdir()
        c, _, share_dir = _env(tmp_path / name, sd)
        with c:
            tid = c.tree_connect("perm")
            fid = c.create(tid, "w.txt", access=FILE_WRITE_DATA | FILE_READ_DATA)
            c.write(tid, fid, 0, b"data")
            c.close_file(tid, fid)
        assert (share_dir / "w.txt").read_bytes() == b"data"


def test_session_token_built_once_at_logon(tmp_path):
    c, _, _ = _env(tmp_path, None)
    with c:
        (session,) = c.conn.sessions.values()
        assert session.token.user_sid == ALICE and EVERYONE in session.token.sids
        assert session.auth_package == "NTLM"


# ---- storage and names --------------------------------------------------------------------


def test_schema_6_to_7_keeps_existing_shares_at_everyone_full(tmp_path):
    db = tmp_path / "lanman.sqlite"
    c = sqlite3.connect(db, isolation_level=None)
    for mig in MIGRATIONS[:6]:
        for stmt in _split(mig):
            c.execute(stmt)
    c.execute("PRAGMA user_version = 6")
    c.execute("INSERT INTO shares (name, path) VALUES ('old', ?)", (str(tmp_path),))
    c.close()
    assert SCHEMA_VERSION == 7
    store = Store(db)
    assert store.get_share("old").security_descriptor == sh.LEGACY_SHARE
    new = store.add_share("new", tmp_path, security_descriptor=sh.DEFAULT_NEW_SHARE)
    assert store.get_share("new").security_descriptor == new.security_descriptor
    store.set_share_security("new", sh.grant(new.security_descriptor, EVERYONE, sh.FULL))
    assert sh.share_access(store.get_share("new").security_descriptor, tok()) == sh.FULL
    assert store.machine_sid() == store.machine_sid()
    assert store.machine_sid().startswith("S-1-5-21-")


def test_local_accounts_resolve_and_log_on_with_their_sids(tmp_path):
    store = Store(tmp_path / "lanman.sqlite")
    u = store.add_user("bob", "Secret123!")
    sid, label = resolve_account(tmp_path, store, "bob")
    assert sid == f"{store.machine_sid()}-{u.rid}" and label == "bob"
    assert resolve_account(tmp_path, store, "everyone") == (EVERYONE, "Everyone")
    assert resolve_account(tmp_path, store, "Authenticated Users")[0] == "S-1-5-11"
    assert resolve_account(tmp_path, store, "s-1-5-32-544")[0] == "S-1-5-32-544"
    sids = logon_sids(tmp_path, store, "bob")
    assert sids[0] == sid and EVERYONE in sids and "S-1-5-11" in sids
    assert logon_sids(tmp_path, store, "nobody") == []
    with pytest.raises(Exception, match="no account or group"):
        resolve_account(tmp_path, store, "nobody")


# ---- CLI ----------------------------------------------------------------------------------


def run(home: Path, *args: str, input: str | None = None):
    r = CliRunner().invoke(cli, ["--home", str(home), *args], input=input)
    assert "Traceback" not in r.output + r.stderr
    return r


def test_cli_add_grant_revoke_block_access(tmp_path):
    home, d = tmp_path / "h", tmp_path / "d"
    d.mkdir()
    run(home, "user", "add", "bob", "--password-stdin", input="Secret123!\n")
    r = run(home, "share", "add", "pub", str(d))
    assert r.exit_code == 0 and "Everyone Read" in r.stderr

    def access(name="pub"):
        r = run(home, "share", "access", name, "--json")
        assert r.exit_code == 0, r.output
        return [
            (x["account_name"], x["access_control_type"], x["access_right"])
            for x in json.loads(r.stdout)
        ]

    assert access() == [("Everyone", "Allow", "Read")]
    assert run(home, "share", "grant", "pub", "bob", "--access-right", "full").exit_code == 0
    assert access() == [("Everyone", "Allow", "Read"), ("bob", "Allow", "Full")]
    r = run(home, "share", "block", "pub", "BUILTIN\\Guests", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0]["access_control_type"] == "Deny"
    assert run(home, "share", "revoke", "pub", "Everyone").exit_code == 0
    assert access() == [("BUILTIN\\Guests", "Deny", "Full"), ("bob", "Allow", "Full")]
    r = run(home, "share", "grant", "pub", "nobody", "--access-right", "read")
    assert r.exit_code == 1 and "1332" in r.stderr
    r = run(
        home, "share", "add", "two", str(d), "--change-access", "bob", "--no-access", "Everyone"
    )
    assert r.exit_code == 0 and "Everyone Read" not in r.stderr
    assert access("two") == [("Everyone", "Deny", "Full"), ("bob", "Allow", "Change")]
    listed = json.loads(run(home, "share", "list", "--json").stdout)
    assert {s["name"]: s["security_descriptor"] for s in listed}["pub"].startswith("O:SYG:SYD:(D;")
    events = json.loads(run(home, "events", "--json").stdout)
    changed = [e for e in events if e.get("event_id") == 9112]
    assert len(changed) == 3


# ---- a provisioned domain and Kerberos ---------------------------------------------------


def test_domain_accounts_and_groups_resolve_and_log_on_with_their_groups(tmp_path):
    from lanman.directory import Directory
    from lanman.directory.provision import provision

    provision(tmp_path, realm="SP.TEST", domain="SP", host_name="LANMAN")
    store = Store(tmp_path / "lanman.sqlite")
    store.add_user("carol", "Secret123!")
    with Directory.open(tmp_path) as d:
        dom = d.domain_sid
        d.add_group("Staff")
        d.add_member("Staff", "carol")
        staff = d.get_group("Staff").sid
        carol = d.get("carol").sid
    assert resolve_account(tmp_path, store, "SP\\Staff") == (staff, "SP\\Staff")
    assert resolve_account(tmp_path, store, "carol@sp.test") == (carol, "SP\\carol")
    assert resolve_account(tmp_path, store, carol)[1] == "SP\\carol"
    sids = logon_sids(tmp_path, store, "carol")
    assert sids[0] == carol and staff in sids and f"{dom}-513" in sids
    assert "S-1-5-11" in sids
    sd = sh.build_share_sd(change=[staff])
    assert sh.share_access(sd, SecurityToken.build(sids)) == sh.CHANGE


def test_kerberos_session_sids_come_from_the_pac():
    from lanman.auth.kerberos import _pac_sids
    from lanman.kerberos.pac import PAC_LOGON_INFO, LogonInfo, Pac, build_logon_info

    dom = "S-1-5-21-7-8-9"
    info = LogonInfo(
        logon_time=1_800_000_000.0,
        effective_name="dave",
        full_name="",
        user_id=1105,
        primary_group_id=513,
        group_ids=[513, 1200],
        logon_server="LANMAN",
        logon_domain_name="SP",
        logon_domain_id=dom,
        extra_sids=["S-1-18-1"],
    )
    sids = _pac_sids(Pac([(PAC_LOGON_INFO, build_logon_info(info))]))
    assert sids[0] == f"{dom}-1105"
    assert {f"{dom}-513", f"{dom}-1200", "S-1-18-1"} <= set(sids)
    assert _pac_sids(Pac([])) == ()


def test_vanished_share_directory_is_logged(tmp_path):
    """The client gets "no such share" (as from Windows); the administrator an event that
    names the share, its path and the cause."""
    c, events, share_dir = _env(tmp_path, None)
    share_dir.rmdir()
    with c:
        assert c.tree_connect_raw("perm").status == STATUS_BAD_NETWORK_NAME
        (ev,) = events.named("SHARE_PATH_UNAVAILABLE")
        assert ev["share"] == "perm" and ev["path"] == str(share_dir)
        assert "No such file" in ev["reason"] and ev["user"]
