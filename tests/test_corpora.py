"""Real word-problem corpora (fixtures/corpora/, hand-written in each corpus' own format): they load,
no valid answer is called wrong, the training set is written in canonical form, and near duplicates
never merge records whose numbers-in-words, units or answers differ."""
import json
import re
from dataclasses import replace

import polars as pl
import pytest

from mathdata.audit import audit
from mathdata.build import BuildOptions, build
from mathdata.errors import MathDataError
from mathdata.io import read_records
from mathdata.normalize import canonical_text, normalize_text

from conftest import FIXTURES

CORPORA = FIXTURES / "corpora"
MATH23K, APE, HMWP = CORPORA / "math23k_test.json", CORPORA / "ape210k_train.jsonl", CORPORA / "hmwp.json"
MGSM, GSM8K, NEAR = CORPORA / "mgsm_zh.tsv", CORPORA / "gsm8k_style.jsonl", CORPORA / "near_duplicates.jsonl"
VARIANTS = CORPORA / "contest_variants.jsonl"
# The labels that really are wrong (written so on purpose; fixtures/corpora/README.md): (file, line)
DEFECTS = {(MATH23K, 57), (APE, 16), (HMWP, 10), (GSM8K, 6)}


@pytest.fixture(scope="module")
def audits():
    return {p: audit([p], quiet=True, workers=1) for p in (MATH23K, APE, HMWP, GSM8K, NEAR, VARIANTS)}


def test_every_format_loads_with_its_own_fields():
    assert read_records([MATH23K]).fields[str(MATH23K)] == "original_text/ans"   # pretty-printed object stream
    assert read_records([APE]).frame.height == 18
    hmwp = read_records([HMWP]).frame
    assert hmwp["solution"].to_list()[:2] == ["[23]", "[23, 12]"]                 # list answers as text
    assert hmwp["equation"][1] == "x + y = 35.0 ; 2.0 * x + 4.0 * y = 94.0"
    mgsm = read_records([MGSM], "1", "2", no_header=True).frame                  # headerless TSV
    assert mgsm.height == 7 and mgsm["solution"][0] == "17" and mgsm["problem"][0].startswith("小明有5个苹果")


def test_no_valid_answer_is_called_wrong_and_the_defects_are_found(audits):
    for path, stats in audits.items():
        wrong = {(path, e["line"]) for e in stats["examples"]["wrong"]}
        assert stats["status"]["wrong"] == len(wrong), path
        assert wrong == {d for d in DEFECTS if d[0] == path}, path
    assert audits[MATH23K]["status"]["verified"] == 13     # ((7)/(15)), 19((3)/(4)), 30%, 3.33 (rounded) ...
    assert audits[APE]["status"]["verified"] == 17         # 5(1/3), -1(1/2), (36+12)/(36-12), 12,000, 150% ...
    assert audits[HMWP]["status"] == {"verified": 11, "wrong": 1, "implausible": 0, "unverifiable": 0}
    assert audits[GSM8K]["status"]["verified"] == 5


def test_headerless_tsv_answers_are_never_wrong():
    stats = audit([MGSM], problem_field="1", solution_field="2", quiet=True, workers=1, no_header=True)
    assert stats["records"] == 7 and stats["status"]["wrong"] == 0 and stats["categories"]["word_problem"]["count"] == 7


NEAR_PAIRS_KEPT_APART = [  # (line, line): numbers in words, units or answers differ
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
NEAR_PAIRS_MERGED = [(17, 18), (19, 20)]   # the same problem reworded by one word, the same answer


def test_near_duplicates_respect_numbers_in_words_units_and_answers(audits):
    stats = audits[NEAR]
    clusters = [set(c["problems"]) for c in stats["top_near_clusters"]]
    lines = [json.loads(x)["problem"] for x in NEAR.read_text(encoding="utf-8").splitlines()]
    for a, b in NEAR_PAIRS_KEPT_APART:
        assert not any({lines[a - 1], lines[b - 1]} <= c for c in clusters), (a, b)
    for a, b in NEAR_PAIRS_MERGED:
        assert any({lines[a - 1], lines[b - 1]} <= c for c in clusters), (a, b)
    assert stats["near_duplicates"] == len(NEAR_PAIRS_MERGED)
    assert stats["near_conflicting_labels"] == 1           # 周长 26 vs 40: reported, not merged


# --- canonical training text ------------------------------------------------------------------------

HAN = "\u4e00-\u9fff"
CHECKS = {  # an independent checker: what a canonical text never holds
    "full-width digit, letter or sign": re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a＋－＊／＝％]"),
    "double space or tab": re.compile(r"  |\t"),
    "surrounding whitespace": re.compile(r"^\s|\s$"),
    "ASCII punctuation after Chinese": re.compile(f"[{HAN}，。：；？！][,?!;:]"),
    # (between a Chinese character or 、。 and another, or full-width punctuation; two punctuation marks
    # alone, as in a blank `人数： ，`, keep their space)
    "space between Chinese characters": re.compile(f"[{HAN}、。] +[{HAN}、。，：；？！]|[{HAN}、。，：；？！] +[{HAN}、。]"),
    "thousands separator or leading zero in a template number": None,
}
TEMPLATE_NUMBER_FAULT = re.compile(r"(?<![\d.])0\d|\d,\d{3}")


def faults(record, template_categories):
    found = []
    for field in ("problem", "solution"):
        text = record[field]
        for name, rx in CHECKS.items():
            if rx is not None and rx.search(text):
                found.append((field, name, text))
        if canonical_text(text) != text:
            found.append((field, "canonical_text changes it", text))
        if record["category"] in template_categories and TEMPLATE_NUMBER_FAULT.search(text):
            found.append((field, "template number", text))
    return found


@pytest.fixture(scope="module")
def canonical_build(tmp_path_factory):
    """Every corpus that build reads (all but the headerless TSV) through one build, quotas = what is
    available, so nearly every record reaches train.jsonl."""
    tmp = tmp_path_factory.mktemp("canon")
    inputs = [VARIANTS, MATH23K, APE, HMWP, GSM8K, NEAR]
    quota = tmp / "q.toml"
    opts = BuildOptions(seed=3, keep_english=True, workers=1)

    def write_quota(word_problems, other, english):
        quota.write_text("[quotas]\nequation = 1\nadd = 1\nsub = 1\nmul = 1\ndiv = 1\nfunction = 1\nsimplify = 1\n"
                         f"mean = 1\nenglish = {english}\nother = {other}\n"
                         'power_sqrt = { categories = ["power", "sqrt"], count = 2 }\n'
                         'word_problems = { categories = ["area", "mass", "discount", "sales", "word_problem"], '
                         f"count = {word_problems} }}\n", encoding="utf-8")

    plans = []
    write_quota(10_000, 1, 1)
    with pytest.raises(MathDataError):
        build(inputs, tmp / "probe", quota, replace(opts, top_up=False), on_plan=plans.append)
    available = {r.quota: r.available for r in plans[0]}
    write_quota(available["word_problems"], available["other"], available["english"])
    out = tmp / "out"
    result = build(inputs, out, quota, opts)
    return out, result


def test_train_jsonl_holds_no_non_canonical_text(canonical_build, rules):
    out, result = canonical_build
    train = [json.loads(x) for x in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(train) >= 80
    template_categories = set(rules.template_categories)
    assert [f for r in train for f in faults(r, template_categories)] == []
    problems = {r["problem"] for r in train}
    # the example: the full-width / double-space / ASCII-? copy came first, the canonical text is kept
    assert "计算 -9462.92 - 2833.63 等于多少？" in problems
    assert "计算 1044.4 + 5.5 等于多少？" in problems and "计算 7.5 * 2.0 等于多少？" in problems
    assert "小明有12个苹果，吃了3个，还剩几个？" in problems
    assert any(p.startswith("鸡兔同笼，上有 35 个头") for p in problems)        # HMWP's segmented text joined
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["canonical"]["scheme"] == "mathdata.canonical/1"
    assert manifest["canonical"]["problems_rewritten"] >= 20


def test_the_canonical_copy_is_kept_among_exact_copies(canonical_build):
    out, _ = canonical_build
    dropped = [json.loads(x) for x in (out / "dropped.jsonl").read_text(encoding="utf-8").splitlines()]
    exact = {(d["source"].rsplit("/", 1)[-1], d["line"]) for d in dropped if d["reason"] == "exact_duplicate"}
    assert ("contest_variants.jsonl", 1) in exact       # the variant is the copy, line 2 is kept
    assert ("contest_variants.jsonl", 2) not in exact
    assert ("math23k_test.json", 64) in exact           # Math23K id 10 ends in an ASCII '?'


def test_canonical_text_rules_and_invariants():
    texts = [json.loads(x)[k] for p in (VARIANTS, NEAR, GSM8K) for x in p.read_text(encoding="utf-8").splitlines()
             for k in ("problem", "solution") if k in json.loads(x)]
    texts += [r["original_text"] for r in json.loads(HMWP.read_text(encoding="utf-8"))]
    texts += ["计算  -９４６２.９２ - ２８３３.６３ 等于多少?", "比是4:3, 求甲数.", "第一步 \n\n\n 第二步  答案:5",
              "求 这 2 位数 和 3 位数 的 值 .", "人数： ，捐款",
              "（ 1 ） 班", "x : y = 3 : 4 ， 甲", "１２．５＋３＝？", "甲 乙 丙 丁 戊 己"]
    for t in texts:
        c = canonical_text(t)
        assert canonical_text(c) == c, t                    # idempotent
        assert normalize_text(c) == normalize_text(t), t    # never changes the duplicate key
    assert canonical_text("计算  -９４６２.９２ - ２８３３.６３ 等于多少?") == "计算 -9462.92 - 2833.63 等于多少？"
    assert canonical_text("比是4:3, 求甲数.") == "比是4:3，求甲数。"      # the ratio keeps its colon
    assert canonical_text("第一步 \n\n\n 第二步  答案:5") == "第一步\n\n第二步答案：5"
    assert canonical_text("１２．５＋３＝？") == "12.5+3=？"
    assert canonical_text("What is  2 , 3 ?") == "What is 2 , 3 ?"   # English punctuation untouched


def test_polars_and_python_normalisation_agree_on_the_corpora():
    from mathdata.normalize import normalize_series
    texts = [json.loads(x)["problem"] for p in (VARIANTS, NEAR) for x in p.read_text(encoding="utf-8").splitlines()]
    texts += [r["original_text"] for r in json.loads(HMWP.read_text(encoding="utf-8"))]
    assert normalize_series(pl.Series(texts)).to_list() == [normalize_text(t) for t in texts]


def test_vectorised_canonical_check_agrees_with_canonical_text():
    from mathdata.normalize import is_canonical_expr
    texts = [json.loads(x)[k] for p in (VARIANTS, NEAR, GSM8K, APE) for x in p.read_text(encoding="utf-8").splitlines()
             for k in ("problem", "solution", "question", "answer", "original_text", "ans") if k in json.loads(x)]
    texts += ["比是4:3, 求甲数", "第一步\n\n\n第二步", "a\tb", "１", "甲．", "3．5"]
    flags = pl.DataFrame({"t": texts}).select(is_canonical_expr(pl.col("t")))["t"].to_list()
    # the check may only over-report (a text it flags can already be canonical), never miss one
    assert [t for t, ok in zip(texts, flags) if ok and canonical_text(t) != t] == []
    assert sum(flags) >= len(texts) // 3


def test_template_records_are_rendered_in_their_wording_with_canonical_numbers(rules):
    from mathdata.canonical import TemplateCanon, slot_text
    assert [slot_text("decimal", x) for x in ("1044.40", "4", "007.5", "-0.50")] == ["1044.4", "4.0", "7.5", "-0.5"]
    assert slot_text("int", "007") == "7" and slot_text("list", "[41,  063, 52]") == "[41, 63, 52]"
    add = TemplateCanon.of(rules.template("add"))
    assert add.render(normalize_text("计算 １０４４.４０ + 5 等于多少?"), "1044.40 + 5 = 1049.40") == \
        ("计算 1044.4 + 5.0 等于多少？", "1044.4 + 5.0 = 1049.40")
    # a solution restating other numbers (a wrong label kept with --keep-wrong) is not rewritten to hide it
    assert add.render(normalize_text("计算 1 + 2 等于多少？"), "1 + 3 = 4")[1] == "1 + 3 = 4"
    steps = "第一步：1.0 + 2.0\n\n答案：3.0"
    assert add.render(normalize_text("计算 1 + 2 等于多少？"), steps)[1] == steps   # another wording: free-text rules
