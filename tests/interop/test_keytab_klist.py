"""MIT krb5 (Debian krb5-user) reads keytabs exported by `lanman keytab export`, and the keys
in them equal the keys MIT's own ktutil derives from the same password and AD salt."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KLIST = shutil.which("klist")
KTUTIL = shutil.which("ktutil")
_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+\((?:DEPRECATED:)?([\w-]+)\)\s+\(0x([0-9a-f]+)\)\s*$")


def lanman(home: Path, *args: str, input: str | None = None) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "lanman.cli.main", "--home", str(home), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def klist_keys(path: Path) -> set[tuple[int, str, str, str]]:
    assert KLIST, "klist (Debian krb5-user) is required"
    r = subprocess.run(
        [KLIST, "-k", "-e", "-K", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    out = set()
    for line in r.stdout.splitlines():
        m = _LINE.match(line)
        if m:
            out.add((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    return out


def mit_keys(
    tmp: Path, principal: str, password: str, kvno: int, salt: str | None, name: str
) -> set[tuple[int, str, str, str]]:
    """Keys MIT ktutil derives for ``password`` (with ``salt`` or the default realm+name)."""
    assert KTUTIL, "ktutil (Debian krb5-user) is required"
    kt = tmp / f"mit-{name}.keytab"
    script = ""
    for enctype in ("aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96", "arcfour-hmac"):
        s = f" -s {salt}" if salt else ""
        script += f"addent -password -p {principal} -k {kvno} -e {enctype}{s}\n{password}\n"
    script += f"wkt {kt}\nq\n"
    subprocess.run([KTUTIL], input=script, capture_output=True, text=True, timeout=60, check=True)
    return klist_keys(kt)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("krbhome") / "home"
    lanman(
        h,
        "domain",
        "provision",
        "--realm",
        "lanman.test",
        "--domain",
        "LANMAN",
        "--admin-password-stdin",
        input="Adm1n-pass\n",
    )
    return h


def test_klist_reads_user_keytab_and_keys_equal_mit(home, tmp_path):
    kt = tmp_path / "admin.keytab"
    lanman(home, "keytab", "export", "Administrator", str(kt))
    ours = klist_keys(kt)
    assert {(e[0], e[1], e[2]) for e in ours} == {
        (1, "Administrator@LANMAN.TEST", "aes256-cts-hmac-sha1-96"),
        (1, "Administrator@LANMAN.TEST", "aes128-cts-hmac-sha1-96"),
        (1, "Administrator@LANMAN.TEST", "arcfour-hmac"),
    }
    # MIT's default salt for a one-component principal is REALM + name: AD's user salt.
    assert ours == mit_keys(tmp_path, "Administrator@LANMAN.TEST", "Adm1n-pass", 1, None, "a")


def test_klist_reads_computer_keytab_with_spns_and_host_salt(home, tmp_path):
    lanman(home, "computer", "add", "WS9", "--password-stdin", input="Machine-pw-9\n")
    lanman(home, "user", "set", "WS9$", "--no-rc4")  # msDS-SupportedEncryptionTypes: AES only
    kt = tmp_path / "ws9.keytab"
    lanman(home, "keytab", "export", "WS9$", str(kt))
    ours = klist_keys(kt)
    principals = {e[1] for e in ours}
    assert principals == {
        "WS9$@LANMAN.TEST",
        "host/WS9@LANMAN.TEST",
        "host/ws9.lanman.test@LANMAN.TEST",
        "cifs/WS9@LANMAN.TEST",
        "cifs/ws9.lanman.test@LANMAN.TEST",
    }
    assert {e[2] for e in ours} == {"aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"}
    mit = mit_keys(
        tmp_path, "WS9$@LANMAN.TEST", "Machine-pw-9", 1, "LANMAN.TESThostws9.lanman.test", "c"
    )
    mine = {e for e in ours if e[1] == "WS9$@LANMAN.TEST"}
    assert mine == {e for e in mit if e[2] != "arcfour-hmac"}


def test_klist_sees_new_kvno_after_password_change(home, tmp_path):
    lanman(home, "user", "add", "erin", "--password-stdin", input="Ember-pw-1\n")
    lanman(home, "user", "passwd", "erin", "--password-stdin", input="Ember-pw-2\n")
    kt = tmp_path / "erin.keytab"
    lanman(home, "keytab", "export", "erin@LANMAN.TEST", str(kt))
    ours = klist_keys(kt)
    assert {e[0] for e in ours} == {2}
    assert ours == mit_keys(tmp_path, "erin@LANMAN.TEST", "Ember-pw-2", 2, None, "e")
