"""Kerberos delegation of lanman's KDC against real peers: impacket ``getST.py -impersonate``
(S4U2Self + S4U2Proxy, classic constrained delegation and RBCD) and MIT ``kvno -I/-U ... -P``.

Same KDC set-up as test_kdc.py (127.0.0.X:88, a FakeDirectory). A missing peer fails the test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_kdc import KdcThread, _bind_88, _impacket, _run, _tool
from test_krb_support import REALM, FakeDirectory, make_principal

from lanman.directory.delegation import rbcd_descriptor
from lanman.directory.model import UAC
from lanman.kerberos.kdc import KdcCore

SVC_PASSWORD = "Svc1-pass!"
WEB_PASSWORD = "web-secret"
USER_PASSWORD = "Passw0rd!"


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    d = FakeDirectory()
    # svc1: constrained delegation to cifs/dc1 with protocol transition
    svc1 = d.add(make_principal("svc1", SVC_PASSWORD, 1200, spns=["http/web.lanman.test"]))
    svc1.delegate_to = ["cifs/dc1.lanman.test"]
    svc1.uac |= UAC.TRUSTED_TO_AUTH_FOR_DELEGATION
    # FILES$ trusts WEB$ (resource-based constrained delegation)
    web = d.add(
        make_principal("WEB$", WEB_PASSWORD, 1201, kind="computer", spns=["host/web2.lanman.test"])
    )
    files = d.add(
        make_principal(
            "FILES$", "files-secret", 1202, kind="computer", spns=["cifs/files.lanman.test"]
        )
    )
    files.allowed_to_act = rbcd_descriptor([web.sid])
    d.add(make_principal("carol", USER_PASSWORD, 1105)).uac |= UAC.NOT_DELEGATED
    d.add(make_principal("dave", USER_PASSWORD, 1106, groups=[513, 525])).protected_user = True
    host = _bind_88()
    k = KdcThread(KdcCore(d), host, 88)
    k.start()
    work = tmp_path_factory.mktemp("kdc-deleg")
    conf = work / "krb5.conf"
    conf.write_text(
        "[libdefaults]\n"
        f" default_realm = {REALM}\n"
        " dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n"
        " forwardable = true\n"
        f"[realms]\n {REALM} = {{\n  kdc = {host}:{k.port}\n }}\n"
        f"[domain_realm]\n .lanman.test = {REALM}\n"
    )
    k.directory = d
    k.work = work
    k.env = {
        **os.environ,
        "KRB5_CONFIG": str(conf),
        "KRB5CCNAME": f"FILE:{work / 'cc'}",
        "KRB5_KTNAME": f"FILE:{work / 'none.keytab'}",
    }
    yield k
    k.stop()


def _get_st(kdc, cwd: Path, account: str, password: str, spn: str, user: str):
    return _impacket(
        "getST.py",
        "-dc-ip",
        kdc.host,
        "-spn",
        spn,
        "-impersonate",
        user,
        f"{REALM}/{account}:{password}",
        cwd=cwd,
    )


def _ccache(cwd: Path, user: str, spn_part: str) -> Path | None:
    found = [p for p in cwd.glob(f"{user}@*.ccache") if spn_part in p.name]
    return found[0] if found else None


def _klist(kdc, cc: Path) -> str:
    return _run([_tool("klist"), "-f", "-c", str(cc)], kdc.env).stdout


def test_impacket_constrained_delegation(kdc, tmp_path):
    r = _get_st(kdc, tmp_path, "svc1", SVC_PASSWORD, "cifs/dc1.lanman.test", "alice")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Requesting S4U2Proxy" in out, out
    cc = _ccache(tmp_path, "alice", "cifs_dc1")
    assert cc is not None, out
    k = _klist(kdc, cc)
    assert f"alice@{REALM}" in k and "cifs/dc1.lanman.test" in k, k


def test_impacket_rbcd(kdc, tmp_path):
    r = _get_st(kdc, tmp_path, "WEB$", WEB_PASSWORD, "cifs/files.lanman.test", "alice")
    out = r.stdout + r.stderr
    assert "Requesting S4U2Proxy" in out, out
    cc = _ccache(tmp_path, "alice", "cifs_files")
    assert cc is not None, out
    k = _klist(kdc, cc)
    assert f"alice@{REALM}" in k and "cifs/files.lanman.test" in k, k


@pytest.mark.parametrize("extra", [(), ("-u2u",)], ids=["s4u2self", "s4u2self-u2u"])
def test_impacket_s4u2self_only(kdc, tmp_path, extra):
    r = _impacket(
        "getST.py",
        "-dc-ip",
        kdc.host,
        "-self",
        *extra,
        "-impersonate",
        "alice",
        f"{REALM}/svc1:{SVC_PASSWORD}",
        cwd=tmp_path,
    )
    out = r.stdout + r.stderr
    assert "Requesting S4U2self" in out and "Error" not in out, out
    cc = next(iter(tmp_path.glob("alice@*.ccache")), None)
    assert cc is not None, out
    assert f"alice@{REALM}" in _klist(kdc, cc)


@pytest.mark.parametrize("user", ["dave", "carol"])  # Protected Users, NOT_DELEGATED
@pytest.mark.parametrize(
    "account, password, spn",
    [
        ("svc1", SVC_PASSWORD, "cifs/dc1.lanman.test"),
        ("WEB$", WEB_PASSWORD, "cifs/files.lanman.test"),
    ],
    ids=["constrained", "rbcd"],
)
def test_impacket_sensitive_user_is_refused(kdc, tmp_path, user, account, password, spn):
    r = _get_st(kdc, tmp_path, account, password, spn, user)
    out = r.stdout + r.stderr
    print(out)  # the KDC error as impacket shows it
    assert "KDC_ERR_BADOPTION" in out, out
    assert not list(tmp_path.glob(f"{user}@*.ccache")), out


# ----------------------------------------------------------------------------------------------
# MIT krb5 (kvno -I / -U for_user [-P]; MIT >= 1.18 needs no forwardable evidence for -P)
# ----------------------------------------------------------------------------------------------


def _kinit_svc1(kdc, tmp_path):
    env = dict(kdc.env, KRB5CCNAME=f"FILE:{tmp_path / 'svc1.cc'}")
    r = _run([_tool("kinit"), "-f", "svc1"], env, SVC_PASSWORD + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    return env


@pytest.mark.parametrize("flag, user", [("-I", "alice"), ("-U", "alice")])
def test_mit_kvno_s4u2self(kdc, tmp_path, flag, user):
    env = _kinit_svc1(kdc, tmp_path)
    r = _run([_tool("kvno"), flag, user, "svc1"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "svc1@" in r.stdout and "kvno = 2" in r.stdout, r.stdout


def test_mit_kvno_s4u2proxy(kdc, tmp_path):
    env = _kinit_svc1(kdc, tmp_path)
    r = _run([_tool("kvno"), "-I", "alice", "-P", "cifs/dc1.lanman.test"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cifs/dc1.lanman.test@" in r.stdout, r.stdout
    k = _run([_tool("klist"), "-f"], env).stdout
    assert "cifs/dc1.lanman.test@" in k, k


def test_mit_kvno_s4u2proxy_refused_for_protected_user(kdc, tmp_path):
    env = _kinit_svc1(kdc, tmp_path)
    r = _run([_tool("kvno"), "-I", "dave", "-P", "cifs/dc1.lanman.test"], env)
    out = r.stdout + r.stderr
    print(out)
    assert r.returncode != 0 and "KDC can't fulfill requested option" in out, out
