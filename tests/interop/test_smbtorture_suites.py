"""smbtorture suites of the SMB semantics work, lanman beside Samba smbd in the same run.

Each file in ``torture_expect/`` names one suite and the sub-tests lanman must pass; a file
with the line ``# at-least-samba`` also requires lanman to pass at least as many sub-tests as
Samba 4.17 (started by the test, ``server signing = mandatory``) in this very run.  The
per-suite table is printed at the end of the session.  A suite that does not finish within
its bound fails.
"""

from __future__ import annotations

import concurrent.futures

import pytest
from torture import TABLE, expectations, run_suite

pytestmark = [pytest.mark.interop]

EXPECT = expectations()
#: lanman's smb2.lease / smb2.replay take ~180 s: their unacknowledged breaks wait out
#: the 35 s break timeout, as on Windows
BOUND = 240.0


@pytest.mark.timeout(BOUND + 90)
@pytest.mark.parametrize("suite", sorted(EXPECT))
def test_smbtorture_suite(target, samba_server, suite):
    wanted, at_least_samba = EXPECT[suite]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        ours_f = pool.submit(run_suite, target, suite, BOUND)
        ref_f = pool.submit(run_suite, samba_server, suite, BOUND)
        ours, ref = ours_f.result(), ref_f.result()
    TABLE.append((suite, len(ours["passed"]), len(ref["passed"])))
    assert not ours["timeout"], f"{suite} did not finish in {BOUND:.0f} s\n{ours['output']}"
    assert "PANIC" not in ours["output"], ours["output"]
    missing = sorted(n for n in wanted if ours["results"].get(n) != "success")
    assert not missing, f"{suite}: sub-tests did not succeed: {missing}\n{ours['output']}"
    if at_least_samba:
        assert len(ours["passed"]) >= len(ref["passed"]), (
            f"{suite}: lanman passed {len(ours['passed'])}, Samba {len(ref['passed'])}\n"
            f"Samba only: {sorted(set(ref['passed']) - set(ours['passed']))}\n{ours['output']}"
        )
