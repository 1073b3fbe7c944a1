"""`--engine ray`: the same stages on a local Ray (2 CPUs, a small object store) give byte-identical
audit and build outputs. Skipped only where Ray is not installed (.ci/run installs the [ray] extra)."""
import json

import pytest

ray = pytest.importorskip("ray")

from mathdata.audit import audit  # noqa: E402
from mathdata.build import BuildOptions, build  # noqa: E402
from mathdata.report.html import render_html  # noqa: E402

from conftest import FIXTURES, ROOT  # noqa: E402

SAMPLE = FIXTURES / "sample" / "train.jsonl"
EVAL = FIXTURES / "build" / "eval.jsonl"
FILES = ("train.jsonl", "train_conversations.json", "dropped.jsonl", "manifest.json")


@pytest.fixture(scope="module")
def local_ray():
    from mathdata import ray_runner
    ray_runner.start(num_cpus=2, object_store_mb=100)
    assert ray.cluster_resources()["CPU"] == 2
    yield ray
    ray.shutdown()


def _without_timings(stats: dict) -> str:
    return json.dumps({k: v for k, v in stats.items() if k != "timings_s"}, ensure_ascii=False, indent=2)


def test_audit_on_ray_is_byte_identical(local_ray):
    local = audit([SAMPLE], quiet=True, workers=1)
    on_ray = audit([SAMPLE], quiet=True, workers=1, engine="ray")
    assert local["records"] == 8139 and local["exact_duplicates"] > 0 and local["near_duplicates"] > 0
    assert _without_timings(on_ray) == _without_timings(local)
    assert render_html(on_ray) == render_html(local)


def test_build_on_ray_is_byte_identical(local_ray, tmp_path):
    opts = dict(seed=0, excludes=(EVAL,), round_to=2, workers=1)
    a = build([SAMPLE], tmp_path / "local", ROOT / "rules" / "quotas-small.toml", BuildOptions(**opts))
    b = build([SAMPLE], tmp_path / "ray", ROOT / "rules" / "quotas-small.toml", BuildOptions(**opts, engine="ray"))
    assert a.manifest["records"] > 0 and any(s.dropped for s in a.stages)
    for name in FILES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert [s.to_dict() for s in b.stages] == [s.to_dict() for s in a.stages]
