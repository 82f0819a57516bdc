"""Keytab files written by lanman.directory.keytab, read back by impacket's parser."""

from __future__ import annotations

import struct

import pytest
from impacket.krb5.keytab import Keytab

from lanman.directory import Directory, provision
from lanman.directory.keytab import (
    KeytabEntry,
    KeytabError,
    encode_keytab,
    parse_keytab,
    write_keytab,
)


def _impacket_entries(data: bytes) -> list[tuple[str, int, int, bytes]]:
    kt = Keytab(data)
    return [
        (
            e.main_part["principal"].prettyPrint().decode(),
            e.kvno,
            e.main_part["keyblock"]["keytype"],
            bytes(e.main_part["keyblock"]["keyvalue"]["data"]),
        )
        for e in kt.entries
    ]


def test_encode_layout_and_impacket_parse():
    e = KeytabEntry(
        ("cifs", "srv.example.test"), "EXAMPLE.TEST", 3, 1_700_000_000, 300, 18, bytes(range(32))
    )
    data = encode_keytab([e])
    assert data[:2] == b"\x05\x02"
    size = struct.unpack(">i", data[2:6])[0]
    assert size == len(data) - 6
    assert data[-4:] == struct.pack(">I", 300)  # 32-bit kvno after the key
    assert _impacket_entries(data) == [
        ("cifs/srv.example.test@EXAMPLE.TEST", 300, 18, bytes(range(32)))
    ]
    assert parse_keytab(data) == [e]


def test_parse_rejects_garbage():
    with pytest.raises(KeytabError):
        parse_keytab(b"\x05\x01")
    with pytest.raises(KeytabError):
        parse_keytab(b"\x05\x02" + struct.pack(">i", 100) + b"\x00" * 10)
    e = KeytabEntry(("a",), "R", 1, 0, 1, 17, b"k" * 16)
    hole = struct.pack(">i", -8) + b"\x00" * 8
    assert parse_keytab(b"\x05\x02" + hole + encode_keytab([e])[2:]) == [e]


@pytest.fixture
def d(tmp_path):
    provision(
        tmp_path,
        realm="LANMAN.TEST",
        domain="LANMAN",
        host_name="LANMAN",
        admin_password="Adm1n-pass",
    )
    with Directory.open(tmp_path) as directory:
        yield directory


def test_export_user_keytab_parsed_by_impacket(d, tmp_path):
    path = tmp_path / "admin.keytab"
    write_keytab(path, d.keytab_entries("administrator@LANMAN.TEST"))
    assert path.stat().st_mode & 0o777 == 0o600
    admin = d.get("Administrator")
    got = _impacket_entries(path.read_bytes())
    assert got == [("Administrator@LANMAN.TEST", 1, et, admin.keys[et]) for et in (18, 17, 23)]
    # impacket's own key lookup finds the AES256 key first
    kt = Keytab.loadFile(str(path))
    key = kt.getKey("Administrator@LANMAN.TEST")
    assert bytes(key["keyvalue"]["data"]) == admin.keys[18]


def test_export_computer_keytab_has_spns_and_kvno(d, tmp_path):
    d.set_password("LANMAN$", "new-machine-password")  # kvno 2
    path = tmp_path / "host.keytab"
    write_keytab(path, d.keytab_entries("LANMAN$"))
    got = _impacket_entries(path.read_bytes())
    names = {g[0] for g in got}
    assert names == {
        "LANMAN$@LANMAN.TEST",
        "host/LANMAN@LANMAN.TEST",
        "host/lanman.lanman.test@LANMAN.TEST",
        "cifs/LANMAN@LANMAN.TEST",
        "cifs/lanman.lanman.test@LANMAN.TEST",
    }
    assert {g[1] for g in got} == {2} and len(got) == 15
    only = d.keytab_entries("cifs/lanman.lanman.test", with_spns=False, rc4=False)
    assert [(e.principal, e.enctype) for e in only] == [
        ("cifs/lanman.lanman.test@LANMAN.TEST", 18),
        ("cifs/lanman.lanman.test@LANMAN.TEST", 17),
    ]
    assert only[0].name_type == 3


def test_append(d, tmp_path):
    path = tmp_path / "k.keytab"
    write_keytab(path, d.keytab_entries("krbtgt"))
    write_keytab(path, d.keytab_entries("Administrator", rc4=False), append=True)
    assert len(_impacket_entries(path.read_bytes())) == 5
    bad = tmp_path / "bad"
    bad.write_bytes(b"junk")
    with pytest.raises(KeytabError):
        write_keytab(bad, [], append=True)
