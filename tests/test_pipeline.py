"""The stage contract, checked by calling the build's and the audit's stages directly:
the input is unchanged, kept + dropped = in + added, reasons come from the declared set, and a stage
run on shards (slices for MAP, a key partition for BY_KEY) gives the one-shard result."""
import polars as pl
import pytest

from mathdata import audit as audit_mod
from mathdata import build as build_mod
from mathdata.build import BuildOptions
from mathdata.decontam import load_eval_sets
from mathdata.dedup import load_dedup_config
from mathdata.errors import MathDataError
from mathdata.io import read_records
from mathdata.pipeline import (BY_KEY, GLOBAL, MAP, Stage, StageStats, merge_info, merge_results, result,
                               run_local, shards_of, split)
from mathdata.quota import load_quotas
from mathdata.verify import STATUSES

from conftest import FIXTURES, ROOT

SAMPLE = FIXTURES / "build" / "train_sample.jsonl"
EVAL = FIXTURES / "build" / "eval.jsonl"
TINY = FIXTURES / "build" / "quotas-tiny.toml"


@pytest.fixture(scope="module")
def loaded():
    return read_records([SAMPLE]).frame.with_row_index("_in")


@pytest.fixture(scope="module")
def clean(rules, loaded):
    """(stage, its input) for each stage before the quota, fed by the one before it."""
    opts = BuildOptions(excludes=(EVAL,), workers=1).check()
    stages = build_mod.clean_stages(rules, opts, load_dedup_config(ROOT / "rules"), load_eval_sets([EVAL]))
    pairs, df = [], loaded
    for stage in stages:
        pairs.append((stage, df))
        df = stage(df).kept
    quota = build_mod.quota_stage(load_quotas(TINY, rules), seed=1)
    return pairs + [(quota, df)]


def test_each_stage_keeps_the_contract(clean):
    names = [s.name for s, _ in clean]
    assert names == ["normalise", "english", "answers", "exact_dedup", "near_dedup", "decontaminate", "quota"]
    dropping = {}
    for stage, df in clean:
        before = df.clone()
        res = stage(df)
        assert df.equals(before), f"{stage.name} changed its input"
        assert res.kept.height + res.dropped.height == df.height + res.stats.added
        assert sorted(res.kept["_in"].to_list() + res.dropped["_in"].to_list()) == sorted(df["_in"].to_list())
        reasons = set(res.dropped["drop_reason"].to_list()) if res.dropped.height else set()
        allowed = set(STATUSES) if stage.reasons is None else set(stage.reasons)
        assert reasons <= allowed, stage.name
        assert res.stats.dropped == {r: n for r, n in res.dropped.group_by("drop_reason").len().iter_rows()} \
            if res.dropped.height else res.stats.dropped == {}
        assert (res.stats.records_in, res.stats.records_out) == (df.height, res.kept.height)
        dropping[stage.name] = res.stats.dropped
    # the sample exercises every rule (so the checks above are not vacuous)
    assert dropping["english"] == {"english": 3}
    assert dropping["answers"] == {"implausible": 1, "wrong": 3}
    assert dropping["exact_dedup"] == {"exact_duplicate": 7}
    assert dropping["near_dedup"] == {"near_duplicate": 1}
    assert dropping["decontaminate"] == {"eval_exact": 1, "eval_ngram": 1}
    assert dropping["quota"] == {"no_quota": 1, "over_quota": 33}


@pytest.mark.parametrize("shards", [2, 5])
def test_a_stage_on_shards_gives_the_one_shard_result(clean, shards):
    kinds = {s.name: s.kind for s, _ in clean}
    assert kinds["exact_dedup"] == kinds["near_dedup"] == BY_KEY and kinds["quota"] == GLOBAL
    for stage, df in clean:
        whole = stage(df)
        frames = shards_of(stage, df, shards)
        assert len(frames) > 1 or stage.kind == GLOBAL
        sharded = run_local([stage], df, shards=shards)
        assert sharded.frame.equals(whole.kept), stage.name
        assert sharded.stats[0].to_dict() == whole.stats.to_dict(), stage.name
        assert sharded.info.get(stage.name, {}) == whole.info, stage.name
        if whole.dropped.height:
            assert sharded.dropped[0].equals(whole.dropped.select(sharded.dropped[0].columns)), stage.name


def test_duplicates_meet_in_one_shard(clean):
    """Every exact copy and near duplicate of the sample lands in the same partition as its kept record."""
    for stage, df in clean:
        if stage.kind != BY_KEY:
            continue
        res = stage(df)
        assert res.dropped.height
        row_shard, id_shards = {}, {}
        for i, f in enumerate(shards_of(stage, df, 7)):
            for row, rid in f.select("_in", "id").iter_rows():
                row_shard[row] = i
                id_shards.setdefault(rid, set()).add(i)
        for row, detail in res.dropped.select("_in", "drop_detail").iter_rows():
            assert id_shards[detail.removeprefix("of ")] == {row_shard[row]}, stage.name


def test_whole_front_on_shards_equals_one_shard(clean):
    stages = [s for s, _ in clean]
    df = clean[0][1]
    one, many = run_local(stages, df), run_local(stages, df, shards=3)
    assert many.frame.equals(one.frame)
    assert [s.to_dict() for s in many.stats] == [s.to_dict() for s in one.stats]
    assert len(many.dropped) == len(one.dropped) == 6
    for a, b in zip(one.dropped, many.dropped):
        assert b.equals(a.select(b.columns))


def test_audit_stages_on_shards(rules):
    df = read_records([FIXTURES / "audit" / "mixed.jsonl"]).frame.with_row_index("_in")
    stages = audit_mod.audit_stages(rules, load_dedup_config(), workers=1)
    assert [s.name for s in stages] == ["classify", "verify", "deduplicate", "summarise"]
    one, many = run_local(stages, df), run_local(stages, df, shards=4)
    assert one.info["summarise"]["records"] == df.height
    assert many.info == one.info   # the summary and the dedup work counts


def test_a_missing_column_names_the_stage(clean):
    near = next(s for s, _ in clean if s.name == "near_dedup")
    with pytest.raises(MathDataError, match="stage near_dedup: its input lacks column"):
        near(pl.DataFrame({"_in": [0], "problem": ["1+1"]}))


def test_undeclared_reasons_and_kinds_are_refused():
    df = pl.DataFrame({"x": [1, 2, 3]})
    odd = Stage("odd", lambda d: split(d, pl.col("x") % 2 == 1, "odd", "odd"), reasons=("even",))
    with pytest.raises(ValueError, match="undeclared reason"):
        odd(df)
    with pytest.raises(ValueError, match="kind"):
        Stage("x", lambda d: result("x", d), kind="sometimes")
    with pytest.raises(ValueError, match="key"):
        Stage("x", lambda d: result("x", d), kind=BY_KEY)
    wrong_name = Stage("a", lambda d: result("b", d), kind=MAP)
    with pytest.raises(ValueError, match="stats of 'b'"):
        wrong_name(df)


def test_merge_of_shard_results():
    a = result("s", pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [2], "drop_reason": ["r"]}), info={"n": 1, "scheme": "v1"})
    b = result("s", pl.DataFrame({"x": [3]}), pl.DataFrame({"x": [4, 5], "drop_reason": ["r", "q"]}),
               info={"n": 2, "scheme": "v1", "nested": {"k": 1}})
    m = merge_results([a, b])
    assert m.kept["x"].to_list() == [1, 3] and m.dropped["x"].to_list() == [2, 4, 5]
    assert m.stats == StageStats("s", 5, 2, {"q": 1, "r": 2})
    assert m.info == {"n": 3, "scheme": "v1", "nested": {"k": 1}}
    with pytest.raises(ValueError, match="scheme"):
        merge_info({"scheme": "v1"}, {"scheme": "v2"})


def test_run_local_keeps_only_the_dropped_columns_asked_for():
    """keep_dropped: dropped rows keep those columns and their reason; the kept frame is untouched."""
    df = pl.DataFrame({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"], "c": [0.5, 1.5, 2.5, 3.5]})
    stage = Stage("odd", lambda f: split(f, pl.col("a") % 2 == 1, "odd", "odd"), reasons=("odd",))
    out = run_local([stage], df, keep_dropped=["a"])
    assert out.frame.columns == ["a", "b", "c"] and out.frame["a"].to_list() == [2, 4]
    assert out.dropped[0].columns == ["a", "drop_reason"] and out.dropped[0]["a"].to_list() == [1, 3]
    assert run_local([stage], df).dropped[0].columns == ["a", "b", "c", "drop_reason"]
