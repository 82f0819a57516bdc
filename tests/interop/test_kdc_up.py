"""`lanman up` with a provisioned domain: MIT krb5 against the real directory + KDC.

krb5.conf from `lanman domain krb5conf`, a host keytab from `lanman keytab export`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from interop_support import lanman_cli, lanman_up, random_password

from lanman.config import netbios_host_name

REALM = "KDCUP.TEST"
#: a new home's server (and DC account) is named after this machine, as Samba names it
DC = netbios_host_name(socket.gethostname()).lower()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian krb5-user")
    return path


def _lanman(home: Path, *args: str, input_text: str | None = None) -> str:
    return lanman_cli(home, *args, input_text=input_text).stdout


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    base = tmp_path_factory.mktemp("kdcup")
    home = base / "home"
    _lanman(home, "domain", "provision", "--realm", REALM, "--domain", "KDCUP")
    password = random_password()
    _lanman(home, "user", "add", "dave", "--password-stdin", input_text=password + "\n")
    with lanman_up(home, base / "up.log") as up:
        env = up.krb5_env(home, base)
        yield {"home": home, "base": base, "env": env, "password": password, "proc": up.proc}


def _run(args, env, input_text=None):
    return subprocess.run(
        args, env=env, input=input_text, capture_output=True, text=True, timeout=30, check=False
    )


def test_kinit_klist_kvno_against_lanman_up(domain):
    env = domain["env"]
    r = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    k = _run([_tool("klist"), "-e"], env)
    assert "aes256-cts-hmac-sha1-96" in k.stdout
    v = _run([_tool("kvno"), f"cifs/{DC}.{REALM.lower()}"], env)
    assert v.returncode == 0, v.stderr
    bad = _run([_tool("kinit"), "dave"], dict(env, KRB5CCNAME="FILE:/dev/null"), "wrong\n")
    assert "Password incorrect" in bad.stderr


def test_fast_with_exported_host_keytab(domain):
    base, env = domain["base"], domain["env"]
    keytab = base / "host.keytab"
    spn = f"host/{DC}.{REALM.lower()}"
    _lanman(domain["home"], "keytab", "export", spn, str(keytab))
    armor = base / "armor.cc"
    a = _run([_tool("kinit"), "-k", "-t", str(keytab), spn], dict(env, KRB5CCNAME=f"FILE:{armor}"))
    assert a.returncode == 0, a.stderr
    trace = base / "fast.trace"
    fenv = dict(env, KRB5CCNAME=f"FILE:{base / 'fast.cc'}", KRB5_TRACE=str(trace))
    r = _run([_tool("kinit"), "-T", f"FILE:{armor}", "dave"], fenv, domain["password"] + "\n")
    assert r.returncode == 0, r.stderr
    assert "FAST reply key" in trace.read_text()


def test_wrong_passwords_are_braked_per_client(domain):
    """The KDC answers a failed pre-authentication only after the rate limiter's delay (the
    profile's InvalidAuthenticationDelayTimeInMs, 2,000 ms) while a good kinit goes through."""
    import threading
    import time

    env = domain["env"]
    delay = 2.0
    took: list[float] = []

    def guesses() -> None:
        for i in range(3):
            t0 = time.monotonic()
            bad = _run(
                [_tool("kinit"), "dave"],
                dict(env, KRB5CCNAME=f"FILE:{domain['base'] / f'bad{i}.cc'}"),
                "wrong-password\n",
            )
            took.append(time.monotonic() - t0)
            assert "Password incorrect" in bad.stderr, bad.stderr

    th = threading.Thread(target=guesses)
    th.start()
    try:
        time.sleep(0.5)  # the first wrong guess is being held back now
        t0 = time.monotonic()
        good = _run(
            [_tool("kinit"), "dave"],
            dict(env, KRB5CCNAME=f"FILE:{domain['base'] / 'good.cc'}"),
            domain["password"] + "\n",
        )
        good_took = time.monotonic() - t0
    finally:
        th.join(60)
    assert good.returncode == 0, good.stderr
    assert len(took) == 3 and sum(took) >= 3 * delay, took
    assert good_took < delay, f"a good kinit waited {good_took:.2f}s meanwhile"
    # The good logon reset badPwdCount; the account is not locked out by three guesses.
    ok = _run([_tool("kinit"), "dave"], env, domain["password"] + "\n")
    assert ok.returncode == 0, ok.stderr
