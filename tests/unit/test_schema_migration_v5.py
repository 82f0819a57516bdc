"""Schema 2 -> 5 in place, from a home an older lanman wrote (tests/data/schema_v2_home): every
account, key, SPN, group membership and share survives; policies and silos work afterwards."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from lanman.directory import Directory
from lanman.directory.authn import TICKS_PER_MINUTE
from lanman.kerberos import client, crypto
from lanman.kerberos.kdc import KdcCore
from lanman.store import Store
from lanman.store.schema import SCHEMA_VERSION

DATA = Path(__file__).resolve().parents[1] / "data" / "schema_v2_home"
TABLES = {
    "users": "name, rid, nt_hash, enabled, kind, uac, primary_group_rid, kvno, keys_pending",
    "kerberos_keys": "rid, etype, kvno, key, salt",
    "spns": "spn, rid",
    "groups": "rid, name, scope",
    "group_members": "group_rid, member_rid",
    "shares": "name, path, read_only, guest_ok, remark",
    "domain": "realm, netbios, sid, dc_name",
}


def _snapshot(path: Path) -> dict[str, list[tuple]]:
    c = sqlite3.connect(path)
    try:
        return {
            t: sorted(c.execute(f"SELECT {cols} FROM {t}").fetchall()) for t, cols in TABLES.items()
        }
    finally:
        c.close()


def test_v2_home_upgrades_in_place_and_keeps_everything(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(DATA, home)
    db = home / "lanman.sqlite"
    before = _snapshot(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 2
    assert before["users"] and before["kerberos_keys"] and before["shares"]

    with Directory.open(home) as d:  # migrates
        assert d.authn.dc_functional_level == 7
        alice = d.find_principal("alice")
        assert alice.assigned_policy is None and alice.object_class == "user"
        d.authn.create_policy("hour", enforced=True, user_tgt_lifetime=60 * TICKS_PER_MINUTE)
        d.authn.assign_policy("alice", "hour")
        core = KdcCore(d, lambda: 1_800_000_000.0)
        key = crypto.string_to_key(18, "Alice-Passw0rd1", alice.salt)
        req, nonce = client.as_req("V2.TEST", "alice", key=(18, key), now=1_800_000_000.0)
        tgt = client.parse_as_rep(core.handle(req), key, 18, nonce)
        assert tgt.endtime - tgt.enc_part["authtime"].native == 3600

    c = sqlite3.connect(db)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    c.close()
    after = _snapshot(db)
    assert after == before
    s = Store(db)
    try:
        assert s.get_share("docs").remark == "Team documents"
    finally:
        s.close()
