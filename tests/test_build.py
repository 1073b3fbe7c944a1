"""The build pipeline: every stage's rule, the Done-when checks, determinism, atomic outputs."""
import json
import sys

import polars as pl
import pytest

from mathdata import build as build_mod
from mathdata.build import BuildOptions, StageStats, build
from mathdata.classify import classify
from mathdata.decontam import load_eval_sets
from mathdata.dedup import find_duplicates, load_dedup_config
from mathdata.errors import MathDataError
from mathdata.io import sha256_file
from mathdata.prompts import load_prompts
from mathdata.quota import load_quotas
from mathdata.synth import SynthSettings, record_id, synthesize
from mathdata.verify import verify

from conftest import FIXTURES, ROOT

SAMPLE = FIXTURES / "build" / "train_sample.jsonl"
EVAL = FIXTURES / "build" / "eval.jsonl"
TINY = FIXTURES / "build" / "quotas-tiny.toml"
SMALL = ROOT / "rules" / "quotas-small.toml"
FILES = ("train.jsonl", "train_conversations.json", "dropped.jsonl", "manifest.json")


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 1/100-scale file shaped like the real train.json (8,100 lines), from bench/make_corpus.py."""
    sys.path.insert(0, str(ROOT / "bench"))
    from make_corpus import make_corpus
    path = tmp_path_factory.mktemp("corpus") / "train_like.json"
    make_corpus(path, seed=0, scale=0.01, quiet=True)
    return path


@pytest.fixture(scope="module")
def corpus_eval(tmp_path_factory, corpus, rules):
    """An eval set: 20 problems copied from the corpus (one reformatted, one embedded) + 50 test-split ones."""
    lines = rows(corpus)
    picked = [lines[i] for i in range(0, 4000, 200)]
    picked[0] = {"problem": picked[0]["problem"].replace(" ", ""), "solution": picked[0]["solution"]}
    picked[1] = {"problem": "请解答：" + picked[1]["problem"], "solution": picked[1]["solution"]}
    picked += synthesize(rules, "all", 4, seed=9, settings=SynthSettings(split="test"))
    path = tmp_path_factory.mktemp("eval") / "eval.jsonl"
    path.write_text("".join(json.dumps({"problem": r["problem"], "solution": r["solution"]}, ensure_ascii=False) + "\n"
                            for r in picked), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus_build(tmp_path_factory, corpus, corpus_eval):
    out = tmp_path_factory.mktemp("b") / "out"
    result = build([corpus], out, SMALL, BuildOptions(seed=7, excludes=(corpus_eval,), workers=1))
    return out, result


def stage(result, name):
    return next(s for s in result.stages if s.name == name)


def test_sample_every_rule_with_its_reason(tmp_path):
    out = tmp_path / "out"
    result = build([SAMPLE], out, TINY, BuildOptions(seed=1, excludes=(EVAL,), workers=1))
    assert stage(result, "english").dropped == {"english": 3}
    assert stage(result, "answers").dropped == {"implausible": 1, "wrong": 3}
    assert stage(result, "exact_dedup").dropped == {"exact_duplicate": 7}
    assert stage(result, "near_dedup").dropped == {"near_duplicate": 1}
    assert stage(result, "decontaminate").dropped == {"eval_exact": 1, "eval_ngram": 1}
    assert stage(result, "quota").dropped == {"no_quota": 1, "over_quota": 33}
    assert stage(result, "top_up").added == 6
    dropped = {(d["line"], d["reason"]): d for d in rows(out / "dropped.jsonl")}
    assert dropped[(111, "wrong")]["detail"] == "answer_mismatch"          # 1.5 + 2.5 = 5.0
    assert dropped[(112, "wrong")]["detail"] == "not_lowest_terms"         # 4/8 -> 2/4
    assert dropped[(113, "wrong")]["problem"] == "计算 7.25 * 4 等于多少？"  # the wrong copy goes ...
    assert (114, "wrong") not in dropped and (114, "exact_duplicate") not in dropped  # ... the right one stays
    assert dropped[(115, "implausible")]["detail"] == "discounted_price_above_original"
    assert dropped[(110, "near_duplicate")]["detail"] == "of " + record_id("计算 1044.40 + 5.5 等于多少")
    # the full-width line 107 comes first, but its canonical (ASCII) twin on line 108 is the kept copy
    assert dropped[(107, "exact_duplicate")]["detail"] == "of " + record_id("计算 12.5 + 3.25 等于多少")
    assert (108, "exact_duplicate") not in dropped
    assert dropped[(120, "no_quota")]["category"] == "other"
    assert {d["reason"] for d in dropped.values() if d["line"] in (3, 41)} == {"eval_exact", "eval_ngram"}
    train = rows(out / "train.jsonl")
    assert len(train) == 75 and [list(r) for r in train[:1]] == [["id", "category", "problem", "solution"]]
    # every input line is in train.jsonl or dropped.jsonl, once
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    real = sum(c["real"] for c in manifest["categories"].values())
    assert real + len(dropped) == 120
    generated = sum(c["generated"] for c in manifest["categories"].values())
    assert generated == 6 and manifest["categories"]["simplify"] == {"real": 2, "generated": 6, "total": 8}


def test_done_when_on_a_real_format_corpus(corpus_build, corpus, corpus_eval, rules):
    out, result = corpus_build
    train = pl.DataFrame(rows(out / "train.jsonl"))
    table = load_quotas(SMALL, rules)
    # every quota met exactly
    for q in table.quotas:
        assert train.filter(pl.col("category").is_in(list(q.categories))).height == q.count, q.name
    assert train.height == 1060
    # no duplicates, exact or near
    df = classify(train.select("problem", "solution"), rules)
    assert df["norm"].n_unique() == df.height and train["id"].n_unique() == train.height
    marked = find_duplicates(df, load_dedup_config())
    assert not marked["exact_dup"].any() and not marked["near_dup"].any()
    # no English, every record verifies (so nothing wrong or implausible)
    assert "english" not in set(df["category"])
    checked = verify(df, rules)
    assert set(checked["status"]) == {"verified"}
    # nothing overlapping the eval set
    index = load_eval_sets([corpus_eval])
    assert not any(index.check_norms(df["norm"].to_list()))
    assert stage(result, "decontaminate").dropped.get("eval_exact", 0) >= 18
    assert stage(result, "decontaminate").dropped.get("eval_ngram", 0) >= 1
    # ids derive from the normalised problem; categories are the classifier's
    assert all(i == record_id(n) for i, n in zip(train["id"], df["norm"]))
    assert train["category"].to_list() == df["category"].to_list()
    # stage counts chain and add up
    stages = result.stages
    for a, b in zip(stages, stages[1:]):
        assert a.records_out == b.records_in
    assert sum(sum(s.dropped.values()) for s in stages) + 1060 - stage(result, "top_up").added == 8100


def test_two_builds_are_byte_identical(tmp_path, corpus, corpus_build, corpus_eval):
    first, _ = corpus_build
    second = tmp_path / "again"
    build([corpus], second, SMALL, BuildOptions(seed=7, excludes=(corpus_eval,), workers=1))
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    third = tmp_path / "seed8"
    build([corpus], third, SMALL, BuildOptions(seed=8, excludes=(corpus_eval,), workers=1))
    assert (first / "train.jsonl").read_bytes() != (third / "train.jsonl").read_bytes()


def test_manifest_records_hashes_prompt_and_outputs(corpus_build, corpus, corpus_eval):
    out, _ = corpus_build
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["schema"] == "mathdata.build/1" and m["seed"] == 7 and m["tool_version"]
    assert m["inputs"] == [{"path": str(corpus), "sha256": sha256_file(corpus), "records": 8100}]
    assert m["excludes"][0]["sha256"] == sha256_file(corpus_eval)
    assert m["rules"]["files"]["templates.toml"] == sha256_file(ROOT / "rules" / "templates.toml")
    assert m["quota"]["sha256"] == sha256_file(SMALL) and m["quota"]["total"] == 1060
    assert m["prompt"] == load_prompts(ROOT / "rules" / "prompts.toml")["raw"].to_dict()
    for name in ("train.jsonl", "train_conversations.json", "dropped.jsonl"):
        assert m["outputs"][name]["sha256"] == sha256_file(out / name)
    assert m["outputs"]["train.jsonl"]["records"] == 1060
    assert m["outputs"]["dropped.jsonl"]["records"] == len(rows(out / "dropped.jsonl"))
    assert sum(c["total"] for c in m["categories"].values()) == 1060
    plan = {r["quota"]: r for r in m["plan"]}
    assert plan["simplify"]["available"] == 1 and plan["simplify"]["top_up"] == 69 and plan["simplify"]["generated"] == 69
    assert [s["stage"] for s in m["stages"]] == ["load", "normalise", "english", "answers", "exact_dedup", "near_dedup",
                                                 "decontaminate", "quota", "top_up", "style", "canonical", "shuffle"]
    convs = json.loads((out / "train_conversations.json").read_text(encoding="utf-8"))
    train = rows(out / "train.jsonl")
    assert [c["id"] for c in convs] == [r["id"] for r in train]
    assert convs[0]["conversations"] == [{"from": "human", "value": train[0]["problem"]},
                                         {"from": "gpt", "value": train[0]["solution"]}]


def test_steps_style_rounding_and_prompt(tmp_path, rules):
    out = tmp_path / "steps"
    build([SAMPLE], out, TINY, BuildOptions(seed=2, style="steps", round_to=2, prompt="answer_line", workers=1))
    train = pl.DataFrame(rows(out / "train.jsonl"))
    df = verify(classify(train.select("problem", "solution"), rules), rules)
    templated = df.filter(pl.col("template").is_not_null())
    assert set(templated["status"]) == {"verified"}
    for sol, tmpl in templated.select("solution", "template").iter_rows():
        last = sol.splitlines()[-1]
        assert last.startswith("答案：")
        if tmpl != "simplify":
            assert "." not in last or len(last.split(".")[1]) <= 2
    spec = load_prompts(ROOT / "rules" / "prompts.toml")["answer_line"]
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["prompt"] == spec.to_dict() and m["settings"]["style"] == "steps" and m["settings"]["round"] == 2
    convs = json.loads((out / "train_conversations.json").read_text(encoding="utf-8"))
    assert convs[0]["conversations"][0]["value"] == spec.human_turn(train["problem"][0])
    assert convs[0]["conversations"][0]["value"].endswith("请逐步计算，最后一行写出“答案：”和结果。")


def test_round_alone_rewrites_plain(tmp_path):
    out = tmp_path / "r"
    result = build([SAMPLE], out, TINY, BuildOptions(seed=2, round_to=1, workers=1))
    assert result.manifest["settings"]["style"] == "plain"
    for r in rows(out / "train.jsonl"):
        if r["category"] == "div":
            assert len(r["solution"].rsplit("= ", 1)[1].split(".")[-1]) <= 1


def test_keep_settings(tmp_path):
    quota = tmp_path / "q.toml"  # room for every add and mul record, and a quota for English
    quota.write_text("[quotas]\nequation = 6\nadd = 20\nsub = 5\nmul = 20\ndiv = 5\nfunction = 5\nsimplify = 4\n"
                     "mean = 5\nenglish = 3\npower_sqrt = { categories = [\"power\", \"sqrt\"], count = 10 }\n"
                     "word_problems = { categories = [\"area\", \"mass\", \"discount\", \"sales\", \"word_problem\"], count = 21 }\n",
                     encoding="utf-8")
    out = tmp_path / "keep"
    result = build([SAMPLE], out, quota, BuildOptions(seed=1, keep_english=True, keep_wrong=True, keep_implausible=True,
                                                      top_up=True, workers=1))
    assert stage(result, "english").dropped == {} and stage(result, "answers").dropped == {}
    train = rows(out / "train.jsonl")
    assert sum(r["category"] == "english" for r in train) == 3
    problems = {r["problem"]: r["solution"] for r in train}
    assert problems.get("计算 1.5 + 2.5 等于多少？") == "1.5 + 2.5 = 5.0"   # kept, wrong as it is
    # a problem with a wrong and a right solution keeps the right one (verified first), written in
    # canonical form: the decimal slot 4 as the data prints decimals (4.0), the answer as shown
    assert problems.get("计算 7.25 * 4.0 等于多少？") == "7.25 * 4.0 = 29.00"


def test_no_top_up_stops_with_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "none"
    seen = []
    with pytest.raises(MathDataError) as err:
        build([SAMPLE], out, TINY, BuildOptions(seed=1, top_up=False, workers=1), on_plan=seen.append)
    assert "simplify 2/8" in err.value.message and "--top-up" in err.value.hint
    assert seen and {r.quota: r.top_up for r in seen[0]}["simplify"] == 6
    assert not out.exists() and not list(tmp_path.iterdir())


def test_top_up_never_repeats_an_excluded_problem(tmp_path, rules):
    # the generator's own first simplifications for this seed, put in an eval set
    first = synthesize(rules, "simplify", 40, seed=5)
    ev = tmp_path / "ev.jsonl"
    ev.write_text("".join(json.dumps({"problem": r["problem"], "solution": r["solution"]}, ensure_ascii=False) + "\n"
                          for r in first), encoding="utf-8")
    out = tmp_path / "o"
    build([SAMPLE], out, TINY, BuildOptions(seed=5, excludes=(ev,), workers=1))
    made = {r["problem"] for r in rows(out / "train.jsonl") if r["category"] == "simplify"}
    assert len(made) == 8 and not made & {r["problem"] for r in first}
    # without the exclusion the same seed would have used them
    out2 = tmp_path / "o2"
    build([SAMPLE], out2, TINY, BuildOptions(seed=5, workers=1))
    assert {r["problem"] for r in rows(out2 / "train.jsonl") if r["category"] == "simplify"} & {r["problem"] for r in first}


def test_atomic_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    build([SAMPLE], out, TINY, BuildOptions(seed=1, workers=1))
    before = {n: (out / n).read_bytes() for n in FILES}

    def crash(folder, *args):
        (folder / "train.jsonl").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(build_mod, "write_outputs", crash)
    with pytest.raises(KeyboardInterrupt):
        build([SAMPLE], out, TINY, BuildOptions(seed=2, workers=1))
    assert {n: (out / n).read_bytes() for n in FILES} == before      # the earlier build is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]      # no temporary folder left
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        build([SAMPLE], fresh, TINY, BuildOptions(seed=2, workers=1))
    assert not fresh.exists()


def test_refuses_a_folder_that_is_not_a_build(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(MathDataError, match="not empty and holds no earlier build"):
        build([SAMPLE], out, TINY, BuildOptions(workers=1))
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_option_errors(tmp_path):
    with pytest.raises(MathDataError, match="--prompt 'chatty': unknown") as err:
        build([SAMPLE], tmp_path / "o", TINY, BuildOptions(prompt="chatty"))
    assert "raw" in err.value.hint
    with pytest.raises(MathDataError, match="--style 'fancy'"):
        build([SAMPLE], tmp_path / "o", TINY, BuildOptions(style="fancy"))
    with pytest.raises(MathDataError, match="no input files"):
        build([], tmp_path / "o", TINY)
    with pytest.raises(MathDataError, match="nope.jsonl: no such file"):
        build([tmp_path / "nope.jsonl"], tmp_path / "o", TINY)
    assert not (tmp_path / "o").exists()


def test_stage_stats_merge():
    a = StageStats("answers", 10, 8, {"wrong": 2})
    b = StageStats("answers", 5, 3, {"wrong": 1, "implausible": 1})
    assert (a + b).to_dict() == {"stage": "answers", "in": 15, "out": 11, "dropped": {"implausible": 1, "wrong": 3},
                                 "added": 0}
    with pytest.raises(ValueError):
        a + StageStats("quota")


def test_undefined_answers_and_division_by_zero(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"problem": "计算 -4 的平方根？", "solution": "√-4 = 2"},                 # no real root: undefined
        {"problem": "计算 5 / 0 等于多少？", "solution": "5 / 0 = 0"},            # the div template's implausible rule
        {"problem": "计算 2 的平方根？", "solution": "√2 = 1.414213562373095048801688724"},
    ]), encoding="utf-8")
    quota = tmp_path / "q.toml"
    quota.write_text("[quotas]\nsqrt = 1\n", encoding="utf-8")
    out = tmp_path / "o"
    result = build([data], out, quota, BuildOptions(workers=1))
    assert stage(result, "answers").dropped == {"implausible": 1, "unverifiable": 1}
    details = {d["reason"]: d["detail"] for d in rows(out / "dropped.jsonl")}
    assert details == {"unverifiable": "undefined_answer", "implausible": "division_by_zero"}
    assert [r["problem"] for r in rows(out / "train.jsonl")] == ["计算 2.0 的平方根？"]  # canonical: decimal slot


def test_round_out_of_range(tmp_path):
    with pytest.raises(MathDataError, match="--round 40: out of range"):
        build([SAMPLE], tmp_path / "o", TINY, BuildOptions(round_to=40))


def test_top_up_exclude_holds_every_input_problem_its_templates_could_make():
    """Kept and dropped input problems that match a topped-up category's template regex are excluded
    (whatever template classify gave them); problems no such template can make are left out."""
    import polars as pl

    from mathdata.build import _top_up_exclude
    from mathdata.pipeline import RunResult
    from mathdata.quota import PlanRow
    from mathdata.rules import load_rules
    rules = load_rules()
    category = rules.template("simplify").category
    kept = pl.DataFrame({"norm": ["将分数 4/6 进行简化", "计算 1 + 2 等于多少"]})
    dropped = [pl.DataFrame({"norm": ["将分数 4/6 进行简化", "将分数 10/15 进行简化", "一只鸡有两条腿"]})]
    front = RunResult(kept, dropped)

    def plan(top_up):
        return [PlanRow("q", (category,), wanted=5, available=2, taken=2, top_up=top_up, generatable=True)]
    assert _top_up_exclude(plan(3), rules, front) == frozenset({"将分数 4/6 进行简化", "将分数 10/15 进行简化"})
    assert _top_up_exclude(plan(0), rules, front) == frozenset()
