"""Authentication policies, silos and Protected Users on `lanman up`, seen by MIT krb5.

kinit/klist/kvno with the krb5.conf of `lanman domain krb5conf`; device armor from computer
keytabs exported with `lanman keytab export`. Policies are set through the directory (the same
rows `lanman auth ...` writes); the running KDC sees each change at its next request.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from interop_support import lanman_cli, lanman_up, random_password

from lanman.directory import Directory
from lanman.directory.authn import TICKS_PER_MINUTE
from lanman.security.descriptor import encode_sd
from lanman.security.sddl_parse import parse_sddl

REALM = "POLICY.TEST"
DNS = REALM.lower()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian krb5-user")
    return path


_lanman = lanman_cli


def _run(args, env, input_text=None):
    return subprocess.run(
        args, env=env, input=input_text, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    base = tmp_path_factory.mktemp("authnpol")
    home = base / "home"
    _lanman(home, "domain", "provision", "--realm", REALM, "--domain", "POLICY")
    pw = random_password()
    for user in ("amy", "ben", "pat"):
        _lanman(home, "user", "add", user, "--password-stdin", input_text=pw + "\n")
    for comp in ("WS1", "WS2", "APP1"):
        _lanman(home, "computer", "add", comp)
    _lanman(home, "group", "add", "Tier0")
    _lanman(home, "group", "addmember", "Tier0", "WS1$")
    with lanman_up(home, base / "up.log") as up:
        env = up.krb5_env(home, base)
        armor = {}
        for comp in ("WS1", "WS2"):
            kt = base / f"{comp}.keytab"
            spn = f"host/{comp.lower()}.{DNS}"
            _lanman(home, "keytab", "export", spn, str(kt))
            cc = base / f"{comp}.armor"
            a = _run([_tool("kinit"), "-k", "-t", str(kt), spn], dict(env, KRB5CCNAME=f"FILE:{cc}"))
            assert a.returncode == 0, a.stderr
            armor[comp] = cc
        d = Directory.open(home)
        try:
            yield {"home": home, "base": base, "env": env, "pw": pw, "armor": armor, "d": d}
        finally:
            d.close()


@pytest.fixture
def d(dc):
    directory = dc["d"]
    yield directory
    for s in directory.authn.list_silos():
        directory.authn.delete_silo(s.name, force=True)
    for p in directory.authn.list_policies():
        directory.authn.delete_policy(p.name, force=True)


def _sd(d: Directory, sddl: str) -> bytes:
    return encode_sd(parse_sddl(sddl, d.domain_sid))


def kinit(dc, user, *args, armor=None, cc="user.cc"):
    env = dict(
        dc["env"],
        KRB5CCNAME=f"FILE:{dc['base'] / cc}",
        KRB5_TRACE=str(dc["base"] / (cc + ".trace")),
    )
    extra = ["-T", f"FILE:{dc['armor'][armor]}"] if armor else []
    return _run([_tool("kinit"), *extra, *args, user], env, dc["pw"] + "\n"), env


TIER0 = "O:SYG:SYD:(XA;OICI;CR;;;WD;(Member_of_any {SID(%s)}))"


def _times(klist_out: str) -> tuple[datetime, datetime, datetime | None]:
    """(start, end, renew until) of the krbtgt line of `klist` (MIT's date format)."""
    lines = klist_out.splitlines()
    for i, line in enumerate(lines):
        if "krbtgt/" in line:
            parts = line.split()
            start = datetime.strptime(" ".join(parts[0:2]), "%m/%d/%y %H:%M:%S")
            end = datetime.strptime(" ".join(parts[2:4]), "%m/%d/%y %H:%M:%S")
            renew = None
            if i + 1 < len(lines) and "renew until" in lines[i + 1]:
                m = re.search(r"renew until (\S+ \S+)", lines[i + 1])
                renew = datetime.strptime(m.group(1), "%m/%d/%y %H:%M:%S")
            return start, end, renew
    raise AssertionError(f"no krbtgt line in klist output: {klist_out}")


def test_enforced_60_minute_policy_gives_1_hour_tgt(dc, d):
    d.authn.create_policy("OneHour", enforced=True, user_tgt_lifetime=60 * TICKS_PER_MINUTE)
    d.authn.assign_policy("amy", "OneHour")
    r, env = kinit(dc, "amy", "-r", "7d")
    assert r.returncode == 0, r.stderr
    start, end, renew = _times(_run([_tool("klist")], env).stdout)
    assert (end - start).total_seconds() == 3600
    assert renew == end


def test_from_condition_device_group(dc, d):
    """Plain kinit: "KDC policy rejects request"; armored with a Tier0 computer: a TGT;
    armored with a non-member: refused."""
    d.authn.create_policy(
        "Tier0Only", enforced=True, user_allowed_from=_sd(d, TIER0 % d.get_group("Tier0").sid)
    )
    d.authn.assign_policy("amy", "Tier0Only")
    r, _ = kinit(dc, "amy")
    assert r.returncode != 0 and "KDC policy rejects request" in r.stderr, r.stderr
    r, _ = kinit(dc, "amy", armor="WS1")
    assert r.returncode == 0, r.stderr
    r, _ = kinit(dc, "amy", armor="WS2")
    assert r.returncode != 0 and "KDC policy rejects request" in r.stderr, r.stderr


def test_audit_mode_admits_all_and_logs_305(dc, d):
    d.authn.create_policy(
        "Tier0Audit", enforced=False, user_allowed_from=_sd(d, TIER0 % d.get_group("Tier0").sid)
    )
    d.authn.assign_policy("ben", "Tier0Audit")
    for armor in (None, "WS1", "WS2"):
        r, _ = kinit(dc, "ben", armor=armor)
        assert r.returncode == 0, r.stderr
    out = _lanman(dc["home"], "events", "--id", "305", "--json").stdout
    events = [e for e in json.loads(out) if e["data"].get("account") == "ben"]
    assert events, out
    devices = {e["data"]["device"] for e in events}
    assert "WS2$" in devices and all(e["data"]["policy"] == "Tier0Audit" for e in events)


def test_service_to_condition_with_kvno(dc, d):
    """kvno to a service whose To condition needs Tier0: refused, then allowed after
    `lanman group addmember Tier0 ben`."""
    d.authn.create_policy(
        "AppTier0", enforced=True, computer_allowed_to=_sd(d, TIER0 % d.get_group("Tier0").sid)
    )
    d.authn.assign_policy("APP1$", "AppTier0")
    r, env = kinit(dc, "ben", cc="kvno.cc")
    assert r.returncode == 0, r.stderr
    v = _run([_tool("kvno"), f"cifs/app1.{DNS}"], env)
    assert v.returncode != 0 and "KDC policy rejects request" in v.stderr, v.stderr
    _lanman(dc["home"], "group", "addmember", "Tier0", "ben")
    try:
        r, env = kinit(dc, "ben", cc="kvno2.cc")  # a new TGT carries the new group
        v = _run([_tool("kvno"), f"cifs/app1.{DNS}"], env)
        assert v.returncode == 0, v.stderr
    finally:
        _lanman(dc["home"], "group", "removemember", "Tier0", "ben")


def test_silo_claim_from_condition(dc, d):
    """`@USER.ad://ext/AuthenticationSilo == "T0"` admits only devices in the enforced silo T0."""
    d.authn.create_silo("T0", enforced=True)
    d.authn.grant_member("T0", "WS2$")
    d.authn.assign_silo("WS2$", "T0")
    d.authn.create_policy(
        "SiloOnly",
        enforced=True,
        user_allowed_from=_sd(
            d, 'O:SYG:SYD:(XA;OICI;CR;;;WD;(@USER.ad://ext/AuthenticationSilo == "T0"))'
        ),
    )
    d.authn.assign_policy("amy", "SiloOnly")
    # the device's TGT must carry the claim: take a fresh armor ticket for WS2
    base, env = dc["base"], dc["env"]
    kt, cc = base / "WS2.keytab", base / "WS2-silo.armor"
    a = _run(
        [_tool("kinit"), "-k", "-t", str(kt), f"host/ws2.{DNS}"], dict(env, KRB5CCNAME=f"FILE:{cc}")
    )
    assert a.returncode == 0, a.stderr
    dc["armor"]["WS2silo"] = cc
    r, _ = kinit(dc, "amy", armor="WS2silo")
    assert r.returncode == 0, r.stderr
    r, _ = kinit(dc, "amy", armor="WS1")
    assert r.returncode != 0 and "KDC policy rejects request" in r.stderr, r.stderr


def test_protected_users_kinit(dc, d):
    """Protected Users: `kinit -f` gives a TGT without the F flag; an RC4-only client gets
    "KDC has no support for encryption type"."""
    _lanman(dc["home"], "group", "addmember", "Protected Users", "pat")
    try:
        r, env = kinit(dc, "pat", "-f", cc="pat.cc")
        assert r.returncode == 0, r.stderr
        flags = _run([_tool("klist"), "-f"], env).stdout
        m = re.search(r"krbtgt/\S+\n\s+.*?Flags: (\S+)", flags)
        assert m and "F" not in m.group(1), flags
        conf = dc["base"] / "rc4.conf"
        conf.write_text(
            Path(dc["env"]["KRB5_CONFIG"])
            .read_text()
            .replace(
                "[libdefaults]",
                "[libdefaults]\n allow_weak_crypto = true\n"
                " default_tkt_enctypes = rc4-hmac\n default_tgs_enctypes = rc4-hmac\n"
                " permitted_enctypes = rc4-hmac\n",
                1,
            )
        )
        r2 = _run(
            [_tool("kinit"), "pat"],
            dict(env, KRB5_CONFIG=str(conf), KRB5CCNAME=f"FILE:{dc['base'] / 'rc4.cc'}"),
            dc["pw"] + "\n",
        )
        assert r2.returncode != 0
        assert "KDC has no support for encryption type" in r2.stderr, r2.stderr
    finally:
        _lanman(dc["home"], "group", "removemember", "Protected Users", "pat")
