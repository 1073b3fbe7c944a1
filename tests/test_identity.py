"""The stage refactor changed no output: audit --json/--html and build's four files on the bundled
sample (as scripts/demo.sh runs them) are byte-identical to those of the commit before it.

The reference is that commit's own code (`git archive`, run in a subprocess), not stored files.
bench/check_identity.py runs the same comparison on the contest-shaped corpus (`--corpus`). A later
change that alters the outputs on purpose ends what this test pins: it then moves PRE_REFACTOR to its
own parent commit, or removes the test, and says so in its commit message."""
import subprocess
import sys

import pytest

from conftest import ROOT

# The last commit before the keys.py rewrite of classify/verify/dedup/summary. Its outputs equal those of
# 5c0b1dd (before build/audit became stage lists) except the HTML report, which gained the near-conflict
# card on purpose in c0794de.
PRE_REFACTOR = "c092091508a531b53b68d03dcd1b4f7ef51f47e4"


def _have_commit() -> bool:
    return subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", PRE_REFACTOR + "^{commit}"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _have_commit(), reason="needs the project's git history (a full clone)")
def test_sample_outputs_are_byte_identical_to_before_the_refactor(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    from check_identity import compare
    report = compare(PRE_REFACTOR, keep=tmp_path)
    files = report["cases"]["sample"]["files"]
    assert len(files) == 6 and all(files.values()), files
    assert report["identical"]
