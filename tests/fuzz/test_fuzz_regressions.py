"""Inputs the fuzzer (bench/fuzz.py) or an incident once broke the server with, replayed
against a real ``lanman up``; then a short fixed-seed fuzz run. After each input the server
must be alive, log no traceback, and answer a bystander within the hang limit."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import netfuzz
import pytest

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))


@pytest.fixture(scope="module")
def server():
    base = Path(tempfile.mkdtemp(prefix="lanman-fuzzreg-"))
    t, proc = netfuzz.start_server(base, kdc=True)
    try:
        yield t
    finally:
        netfuzz.stop_server(proc)
        shutil.rmtree(base, ignore_errors=True)


def test_corpus_is_there():
    cats = {json.loads(p.read_text())["category"] for p in REGRESSIONS}
    assert {"wire", "preauth", "signed", "kdc-tcp"} <= cats, cats


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.stem)
def test_regression_input(server, path):
    case = json.loads(path.read_text())
    f = netfuzz.Fuzzer(server, 0)
    netfuzz.replay(server, case)
    assert f.check(case), f.report.failures
    assert not f.report.failures, f.report.failures
    assert f.bystander_ok(), "the server stopped answering other clients"


@pytest.mark.timeout(300)
def test_short_fuzz_run(server):
    """A bounded run (fixed seed, 150 cases): no crash, hang or traceback."""
    f = netfuzz.Fuzzer(server, seed=20261203)
    report = f.run(seconds=120, max_cases=150)
    assert sum(report.cases.values()) >= 150 or report.seconds >= 119
    assert report.answered["signed"] > 0 and report.answered["preauth"] > 0
    assert not report.failures, report.summary() + "\n" + json.dumps(report.failures)[:2000]
