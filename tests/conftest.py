from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def rules():
    from mathdata.rules import load_rules
    return load_rules(ROOT / "rules")


@pytest.fixture(scope="session")
def mixed_stats():
    """Audit stats of fixtures/audit/mixed.jsonl (hand-written: every template, each duplicate kind)."""
    from mathdata.audit import audit
    return audit([FIXTURES / "audit" / "mixed.jsonl"], quiet=True, workers=1)
