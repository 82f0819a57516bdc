"""Packaging (issue 15): runtime vs test dependencies, licence and metadata, package data in
the wheel, no build warnings, the Makefile targets."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
MAKEFILE = (REPO / "Makefile").read_text()


def _target(name: str) -> tuple[str, list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    m = re.search(rf"^{re.escape(name)}:([^\n]*)\n((?:\t[^\n]*\n)*)", MAKEFILE, re.MULTILINE)
    assert m, f"no target {name}"
    return m.group(1), [x.strip() for x in m.group(2).splitlines()]


def test_license_and_metadata():
    p = PYPROJECT["project"]
    assert p["license"] == "Apache-2.0" and p["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert not any(c.startswith("License ::") for c in p["classifiers"])  # SPDX replaces them
    for key in ("readme", "authors", "keywords", "classifiers", "requires-python"):
        assert p.get(key), key
    req = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in req)


def test_runtime_dependencies_exclude_test_tools():
    runtime = " ".join(PYPROJECT["project"]["dependencies"])
    for tool in ("pytest", "hypothesis", "impacket", "smbprotocol", "ruff", "jsonschema"):
        assert tool not in runtime
        assert any(tool in t for t in PYPROJECT["project"]["optional-dependencies"]["test"])


def test_make_run_installs_runtime_only_and_test_keeps_its_behaviour():
    prereq, recipe = _target("run")
    assert "RUN_STAMP" in prereq and "TEST_STAMP" not in prereq
    _, runtime = _target("$(RUN_STAMP)")
    assert "pip install --quiet -e ." in " ".join(runtime) and "[test]" not in " ".join(runtime)
    prereq, recipe = _target("test")
    assert "TEST_STAMP" in prereq and "peers" in prereq
    assert recipe == ["$(BIN)/python -m pytest -q"]
    _, tests = _target("$(TEST_STAMP)")
    assert "-e '.[test]'" in " ".join(tests)


def test_make_bench_installs_the_bench_peers():
    prereq, recipe = _target("bench")
    assert "bench-peers" in prereq
    assert any("bench/bench_smb.py" in r for r in recipe)
    assert any("bench/bench_kdc.py" in r for r in recipe)
    peers = re.search(r"^BENCH_PEERS := (.*)$", MAKEFILE, re.MULTILINE).group(1).split()
    for pkg in ("krb5-kdc", "krb5-admin-server", "samba"):
        assert pkg in peers


def test_package_data_declared():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["lanman.scan"]
    files = [p.name for p in (REPO / "src" / "lanman" / "scan").iterdir()]
    assert any(Path(f).match(pat) for pat in data for f in files if f.endswith(".schema.json"))


def test_wheel_has_the_schema_and_no_build_warnings(tmp_path):
    """pip wheel (isolated build, as pip install does): the scan schema and LICENSE are in
    the wheel, and the build prints no deprecation warning."""
    cp = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = cp.stdout + cp.stderr
    assert "BuildBackendWarning" not in out and "deprecated" not in out.lower(), out
    (wheel,) = tmp_path.glob("lanman-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lanman/scan/scan-report.schema.json" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"License-Expression: Apache-2.0" in meta
