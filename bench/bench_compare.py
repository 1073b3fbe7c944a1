"""Benchmark: does the curated recipe beat the seed's recipe on SmolLM2-135M-Instruct? (`mathtrain compare`)

    .venv/bin/python bench/bench_compare.py [--steps 8] [--seeds 2] [--eval-items 16] [--out bench/data/compare]

Recipes (both from fixtures/sample/train.jsonl, the real format at 1/100 scale, duplicates and defects included):
- seed:    what the seed did -- a random sample of the raw records *with* their duplicates, wrong answers and full
           float precision, no verification; trained with the bare problem (prompt `raw`) and evaluated with
           another prompt (`answer_line`), as the seed trained with one template and evaluated with another.
- curated: `mathdata build` -- dedup, verified answers, quota balance, answers rounded to 2 decimals, and one
           prompt (`raw`) from training to evaluation. (The step-by-step style is not used here: its solutions
           run to 60-150 SmolLM2 tokens, which this CPU budget cannot train or generate; docs/compare.md.)
Same model, same steps x batch x seq_length, >= 2 seeds each. The eval set is held out from both: the
generator's *test* split (`mathdata synth --split test`, values disjoint from its train split), answers rounded
to 2 decimals, plus real-format records of the sample file that are removed from both training sets.
Writes OUT/compare.json, compare.html, timings.json and bench/results_compare.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "sample" / "train.jsonl"
CONFIG = ROOT / "configs" / "smollm2-135m-lora.toml"
BIN = Path(sys.executable).parent
# Short-answer categories only: a SmolLM2 token is one digit, and "a + b = c" with 4-digit decimals needs ~30
# new tokens per item, which this CPU budget cannot generate for 5 models (docs/compare.md).
REAL_EVAL = {"equation": r"^解方程 -?\d+x \+ -?\d+ = 0$"}
SYNTH_CATEGORIES = ("equation", "area", "mass")


def sh(*args: str) -> None:
    subprocess.run([str(a) for a in args], check=True)


def make_eval(out: Path, items: int, seed: int, avoid: set[str] = frozenset()) -> Path:
    """Half synthetic test split, half held-out real records (equations of the real format)."""
    rnd = random.Random(seed)
    synth = out / "synth-test.jsonl"
    per = max(1, (items // 2) // len(SYNTH_CATEGORIES) + 1)
    rows = []
    for cat in SYNTH_CATEGORIES:
        sh(BIN / "mathdata", "synth", "-o", synth, "-c", cat, "-n", str(per), "--split", "test", "--round", "2",
           "--seed", str(seed), "-q")
        rows += [json.loads(x) for x in synth.read_text(encoding="utf-8").splitlines() if x.strip()][:per]
    rows = rows[: items // 2]
    real = [json.loads(x) for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    cands = {}
    for r in real:
        for cat, pat in REAL_EVAL.items():
            if re.match(pat, r["problem"]) and r["problem"] not in cands and r["problem"] not in avoid:
                cands[r["problem"]] = {"category": cat, **r}
    picked = rnd.sample(sorted(cands), items - len(rows))
    for i, p in enumerate(picked):
        c = cands[p]
        rows.append({"id": f"real{i:03d}", "category": f"{c['category']}-real", "problem": p,
                     "solution": c["solution"]})  # the real data's own answer (full float precision)
    path = out / "eval.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def make_seed_build(out: Path, eval_path: Path, samples: int, seed: int) -> Path:
    """The seed's data: a random sample of raw records, duplicates and all, eval problems removed, prompt raw."""
    held = {json.loads(x)["problem"] for x in eval_path.read_text(encoding="utf-8").splitlines() if x.strip()}
    real = [json.loads(x) for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    pool = [r for r in real if r["problem"] not in held]
    rnd = random.Random(seed)
    rows = [pool[rnd.randrange(len(pool))] for _ in range(samples)]
    build = out / "build-seed"
    build.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({"id": f"s{i:05d}", "problem": r["problem"], "solution": r["solution"]},
                              ensure_ascii=False) + "\n" for i, r in enumerate(rows))
    (build / "train.jsonl").write_text(text, encoding="utf-8")
    manifest = {"schema": "mathdata.build/1", "note": "bench_compare.py: the seed's recipe (raw sample, duplicates "
                "kept, nothing verified)", "prompt": {"name": "raw", "human": "{problem}", "chat": "vicuna_v1.1"},
                "seed": seed, "outputs": {"train.jsonl": {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                                          "records": len(rows)}},
                "duplicates": len(rows) - len({r["problem"] for r in rows})}
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return build


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--eval-items", type=int, default=12)
    ap.add_argument("--max-new-tokens", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "compare")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results_compare.json")
    args = ap.parse_args()
    t0 = time.time()
    sh(sys.executable, ROOT / "scripts" / "fetch_smollm2.py", "--import", "--quiet")
    data = args.out.with_name(args.out.name + "-data")
    data.mkdir(parents=True, exist_ok=True)
    # builds kept from an earlier (--resume) run: the eval avoids every problem they train on
    avoid = set()
    for b in ("build-seed", "build-curated"):
        f = data / b / "train.jsonl"
        if f.is_file():
            avoid |= {json.loads(x)["problem"] for x in f.read_text(encoding="utf-8").splitlines() if x.strip()}
    eval_path = make_eval(data, args.eval_items, seed=5, avoid=avoid)
    if not (data / "build-curated" / "manifest.json").is_file():
        sh(BIN / "mathdata", "build", SAMPLE, "--quota", ROOT / "rules" / "quotas-small.toml", "--exclude", eval_path,
           "--round", "2", "--prompt", "raw", "--seed", "0", "-q", "-o", data / "build-curated")
    curated_records = json.loads((data / "build-curated" / "manifest.json").read_text())["outputs"]
    n = sum(v["records"] for k, v in curated_records.items() if k == "train.jsonl")
    seed_build = data / "build-seed"
    if not (seed_build / "manifest.json").is_file():
        seed_build = make_seed_build(data, eval_path, samples=n, seed=0)
    t_prep = time.time() - t0
    cmd = [BIN / "mathtrain", "compare", "--config", CONFIG, "--recipe", f"seed={seed_build}",
           "--recipe", f"curated={data / 'build-curated'}", "--eval-prompt", "seed=answer_line", "--eval", eval_path,
           "--steps", str(args.steps), "--seeds", str(args.seeds), "--max-new-tokens", str(args.max_new_tokens),
           "--out", args.out] + (["--resume"] if args.resume else [])
    sh(*cmd)
    doc = json.loads((args.out / "compare.json").read_text(encoding="utf-8"))
    timings = json.loads((args.out / "timings.json").read_text(encoding="utf-8"))
    result = {"command": " ".join(str(c) for c in cmd), "wall_s": round(time.time() - t0, 1),
              "prepare_s": round(t_prep, 1), "budget": doc["budget"], "eval_items": doc["eval"]["items"],
              "summary": doc["summary"], "timings": timings,
              "note": "2 shared CPU cores; other jobs ran on the machine at the same time"}
    args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({r["model"]: [r["accuracy_mean"], r["accuracy_min"], r["accuracy_max"]] for r in doc["summary"]}))


if __name__ == "__main__":
    main()
