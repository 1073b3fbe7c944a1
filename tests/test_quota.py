"""Quota tables: parsing and errors, the plan, seeded sampling, top-up from the generator."""
import polars as pl
import pytest

from mathdata.errors import MathDataError
from mathdata.normalize import normalize_text
from mathdata.quota import load_quotas, make_plan, sample, shortfall_error, top_up
from mathdata.synth import record_id
from mathdata.verify import verify_record

from conftest import ROOT

SEED_TABLE = {"equation": 25000, "add": 5000, "sub": 5000, "mul": 5000, "div": 5000, "function": 10000,
              "simplify": 7000, "mean": 7000, "power_sqrt": 17000, "word_problems": 20000}


def test_the_seeds_table(rules):
    table = load_quotas(ROOT / "rules" / "quotas.toml", rules)
    assert {q.name: q.count for q in table.quotas} == SEED_TABLE
    assert table.total == table.count == 106000
    groups = {q.name: q.categories for q in table.quotas}
    assert groups["power_sqrt"] == ("power", "sqrt")
    assert groups["word_problems"] == ("area", "mass", "discount", "sales", "word_problem")
    assert table.quota_of()["sqrt"] == "power_sqrt" and table.quota_of()["equation"] == "equation"


def test_the_small_table_is_one_hundredth(rules):
    small = load_quotas(ROOT / "rules" / "quotas-small.toml", rules)
    assert {q.name: q.count for q in small.quotas} == {k: v // 100 for k, v in SEED_TABLE.items()}
    assert small.total == 1060


def write(tmp_path, text):
    path = tmp_path / "q.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message, hint", [
    ("[quotas]\nequations = 5\n", "quotas.equations: unknown category 'equations'", "valid categories: add, sub"),
    ("[quotas]\ng = { categories = [\"add\", \"cube\"], count = 3 }\n", "quotas.g.categories: unknown category 'cube'",
     "equation"),
    ("[quotas]\nadd = -5\n", "quotas.add = -5: must be a whole number >= 0", "e.g."),
    ("[quotas]\nadd = 2.5\n", "quotas.add = 2.5: must be a whole number >= 0", ""),
    ("[quotas]\nadd = \"many\"\n", "quotas.add = 'many'", ""),
    ("[quotas]\ng = { categories = [\"add\"], count = -1 }\n", "quotas.g.count = -1", ""),
    ("[quotas]\nadd = 5\ng = { categories = [\"add\", \"sub\"], count = 3 }\n",
     "category 'add' is in both quotas.add and quotas.g", "one quota only"),
    ("[quotas]\ng = { categories = [\"add\"] }\n", "quotas.g needs `categories` and `count`", "count = 17000"),
    ("[quotas]\ng = { categories = [\"add\"], count = 1, weight = 2 }\n", "quotas.g has unknown key(s) weight",
     "valid: categories, count"),
    ("[quotas]\ng = { categories = [], count = 1 }\n", "quotas.g.categories must be a non-empty list", "add"),
    ("totl = 5\n[quotas]\nadd = 5\n", "unknown key(s) totl", "valid top-level keys: total, quotas"),
    ("total = 10\n[quotas]\nadd = 5\n", "total = 10 but the quotas add up to 5", "fix a count"),
    ("add = 5\n", "no [quotas] table", "equation = 25000"),
    ("[quotas\nadd = 5\n", "bad TOML", "fix the syntax"),
])
def test_errors_name_the_key_and_list_valid_names(tmp_path, rules, text, message, hint):
    with pytest.raises(MathDataError) as err:
        load_quotas(write(tmp_path, text), rules)
    assert message in err.value.message and str(tmp_path / "q.toml") in err.value.message
    assert hint in (err.value.hint or "")


def test_missing_file(tmp_path, rules):
    with pytest.raises(MathDataError, match="file not found"):
        load_quotas(tmp_path / "nope.toml", rules)


def frame(categories):
    problems = [f"p{i}" for i in range(len(categories))]
    return pl.DataFrame({"id": [record_id(p) for p in problems], "category": categories, "problem": problems})


def test_sampling_meets_counts_and_is_seeded(tmp_path, rules):
    table = load_quotas(write(tmp_path, '[quotas]\nadd = 3\nps = { categories = ["power", "sqrt"], count = 4 }\n'), rules)
    df = frame(["add"] * 10 + ["power"] * 5 + ["sqrt"] * 5 + ["english"] * 2)
    kept, dropped = sample(df, table, seed=1)
    assert kept.group_by("category").len().sort("category").rows() != []
    assert kept.filter(pl.col("category") == "add").height == 3
    assert kept.filter(pl.col("category").is_in(["power", "sqrt"])).height == 4
    assert dict(dropped.group_by("drop_reason").len().iter_rows()) == {"over_quota": 13, "no_quota": 2}
    again, _ = sample(df.reverse(), table, seed=1)  # input order does not matter
    assert sorted(again["id"]) == sorted(kept["id"])
    other, _ = sample(df, table, seed=2)
    assert sorted(other["id"]) != sorted(kept["id"])


def test_plan_and_shortfall(tmp_path, rules):
    table = load_quotas(write(tmp_path, '[quotas]\nadd = 3\nsimplify = 10\nenglish = 2\n'), rules)
    plan = make_plan(table, {"add": 50, "simplify": 4, "english": 1}, rules)
    rows = {r.quota: (r.wanted, r.available, r.taken, r.top_up, r.generatable) for r in plan}
    assert rows == {"add": (3, 50, 3, 0, True), "simplify": (10, 4, 4, 6, True), "english": (2, 1, 1, 1, False)}
    err = shortfall_error(plan, top_up=False)
    assert "simplify 4/10" in err.message and "english 1/2" in err.message and "--top-up" in err.hint
    err = shortfall_error(plan, top_up=True)
    assert "no generator for quota(s) english" in err.message
    ok = make_plan(table, {"add": 3, "simplify": 10, "english": 2}, rules)
    assert shortfall_error(ok, top_up=False) is None


def test_top_up_fills_exactly_and_avoids_excluded(tmp_path, rules):
    table = load_quotas(write(tmp_path, '[quotas]\nsimplify = 300\nw = { categories = ["area", "mass", "word_problem"], count = 50 }\n'), rules)
    plan = make_plan(table, {"simplify": 100, "area": 10}, rules)
    exclude = {normalize_text(f"将分数 {a}/{b} 进行简化。") for a in range(1, 40) for b in range(2, 60)}
    size_before = len(exclude)
    made = top_up(plan, rules, seed=3, exclude=exclude)
    counts = dict(made.group_by("category").len().iter_rows())
    assert counts["simplify"] == 200 and counts["area"] + counts["mass"] == 40
    assert abs(counts["area"] - counts["mass"]) <= 1  # spread evenly over the group's templates
    assert made["norm"].n_unique() == made.height
    assert not set(made["norm"]) & {normalize_text(f"将分数 {a}/{b} 进行简化。") for a in range(1, 40) for b in range(2, 60)}
    assert len(exclude) == size_before + made.height  # what was made is excluded from now on
    templates = {t.name: t for t in rules.templates}
    for t, norm, sol in made.select("template", "norm", "solution").iter_rows():
        assert verify_record(templates[t], norm, sol) == ("verified", "verified")
    assert plan[0].generated == 0 and made.height == 240  # the plan is read, never changed


def test_top_up_skips_contaminated_and_reports_exhaustion(tmp_path, rules):
    table = load_quotas(write(tmp_path, '[quotas]\nmass = 30\n'), rules)
    plan = make_plan(table, {}, rules)
    made = top_up(plan, rules, seed=1, exclude=set(), is_contaminated=lambda norms: ["体积为 7 " in n for n in norms])
    assert made.height == 30 and not any("体积为 7 " in n for n in made["norm"])
    huge = load_quotas(write(tmp_path, '[quotas]\nsimplify = 20000\n'), rules)
    with pytest.raises(MathDataError, match="quota simplify: the generator ran out"):
        top_up(make_plan(huge, {}, rules), rules, seed=1, exclude=set())
