"""lanman.runtime.tune_gc: the settings a long-running service applies once it is up."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gc
from lanman.runtime import GEN0_THRESHOLD, tune_gc
before = gc.get_freeze_count()
tune_gc()
assert gc.get_threshold()[0] == GEN0_THRESHOLD, gc.get_threshold()
assert gc.get_freeze_count() > before
# cycles made after tuning are still collected
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
assert gc.collect() >= 2
print("ok")
"""


def test_tune_gc_freezes_startup_objects_and_still_collects_cycles() -> None:
    # In a child process: the settings are process-wide and must not leak into the test run.
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
