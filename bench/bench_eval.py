"""Benchmark: `mathtrain eval` at contest scale with the tiny model (fixtures/tiny) on CPU.

    .venv/bin/python bench/bench_eval.py [--repeats 1] [--json bench/results_eval.json] [--work DIR]

Inputs, written by this script (seeded, byte-identical each time) into WORK (default bench/data/eval):
- squad_contest_shape.json: a SQuAD v1.1 file of the contest's shape -- 48 articles, 2,067 paragraphs (so 2,067
  first questions), contexts of synthetic English words with SQuAD dev's length distribution (median ~700
  characters, longest exactly 4,063), questions median ~56 characters, each answer a span of its context;
- math_280.jsonl: 280 math items ({"id", "category", "problem", "solution"}) over the arithmetic templates.
Then a tiny LoRA run is trained (`mathtrain run --max-steps 64` on a small build) and:
- after: the full `mathtrain eval` (2,067 SQuAD + 280 math, 20 / 64 new tokens) as a fresh process, wall
  clock from start to exit (model load, graph compile, generation, scoring);
- before: today's-code-path cost, measured on a subset and extrapolated: MindFormers' `network.generate`
  one prompt at a time, PyNative, every step padded to the one global seq_length of the old eval (longest
  prompt of both sets + new tokens, rounded up to 32); a few generate calls of a few tokens at that length
  give seconds per generated token, times the tokens the full eval generates (items x max new tokens; the
  old path ran to the maximum whenever EOS did not come).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "fixtures" / "tiny" / "train.toml"
PY = sys.executable

N_ARTICLES, N_PARAGRAPHS, MAX_CONTEXT = 48, 2067, 4063
CONTEXT_MEDIAN, QUESTION_MEDIAN = 700, 56
N_MATH = 280

WORDS = ("the of and to in a is was that for on as with by he at from his an were are which this be or has had "
         "first city river team season war school state church music game company university government army "
         "north south population century during after most called known between national during early "
         "Denver Broncos Panthers Warsaw Normans Nikola Tesla Amazon Rhine Oxygen Huguenots Victoria Kenya "
         "Scottish parliament Yuan dynasty Genghis Khan Fresno Packet switching Black Death Geology Newcastle "
         "1066 1870 1914 1945 2015 50 300 12 million percent square kilometres degrees built founded").split()


def _lognormal_lengths(rnd: random.Random, n: int, median: float, sigma: float, lo: int, hi: int) -> list[int]:
    return [max(lo, min(hi, int(round(median * math.exp(rnd.gauss(0.0, sigma)))))) for _ in range(n)]


def _text(rnd: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 20)))
        sentence = sentence[0].upper() + sentence[1:] + "."
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)[:chars].rstrip() + "."


def make_squad(path: Path, seed: int = 0) -> dict:
    rnd = random.Random(seed)
    contexts = _lognormal_lengths(rnd, N_PARAGRAPHS, CONTEXT_MEDIAN, 0.45, 150, MAX_CONTEXT)
    contexts[rnd.randrange(N_PARAGRAPHS)] = MAX_CONTEXT
    questions = _lognormal_lengths(rnd, N_PARAGRAPHS, QUESTION_MEDIAN, 0.35, 12, 220)
    per_article = [N_PARAGRAPHS // N_ARTICLES + (1 if i < N_PARAGRAPHS % N_ARTICLES else 0) for i in range(N_ARTICLES)]
    data, k = [], 0
    for a, count in enumerate(per_article):
        paragraphs = []
        for _ in range(count):
            context = _text(rnd, contexts[k])
            start = rnd.randrange(0, max(1, len(context) - 30))
            start = context.rfind(" ", 0, start) + 1
            answer = " ".join(context[start:].split(" ")[:rnd.randint(1, 4)]).rstrip(".")
            qas = []
            for q in range(rnd.randint(1, 3)):
                qtext = _text(rnd, questions[k] if q == 0 else rnd.randint(30, 90))[:-1] + "?"
                qas.append({"id": f"b{k:05d}-{q}", "question": qtext,
                            "answers": [{"answer_start": start, "text": answer}]})
            paragraphs.append({"context": context, "qas": qas})
            k += 1
        data.append({"title": f"Article_{a:02d}", "paragraphs": paragraphs})
    doc = {"version": "1.1", "data": data}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return {"paragraphs": k, "context_median": statistics.median(contexts), "context_max": max(contexts),
            "question_median": statistics.median(questions)}


def make_math(path: Path, seed: int = 0) -> None:
    rnd = random.Random(seed)
    lines = []
    for i in range(N_MATH):
        a = Decimal(rnd.randint(100, 999999)) / 100
        b = Decimal(rnd.randint(100, 99999)) / 100
        kind = i % 4
        if kind == 0:
            cat, problem, value = "add", f"计算 {a} + {b} 等于多少？", a + b
        elif kind == 1:
            cat, problem, value = "sub", f"计算 {a} - {b} 等于多少？", a - b
        elif kind == 2:
            cat, problem, value = "mul", f"计算 {a} * {b} 等于多少？", a * b
        else:
            cat, problem, value = "equation", f"解方程 {a}x + {b} = 0", (-b / a).quantize(Decimal("0.0001"))
        lines.append(json.dumps({"id": f"m{i:04d}", "category": cat, "problem": problem,
                                 "solution": f"答案：{value}"}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_tiny(work: Path, steps: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from train_helpers import write_build_dir

    run = work / "run"
    if (run / "run.json").exists():
        return run
    build = write_build_dir(work / "build", n=128)
    subprocess.run([PY, "-c", "from mathtrain.cli import main; main()", "run", "--config", str(TINY), "--data",
                    str(build), "--out", str(run), "--max-steps", str(steps), "--quiet"], check=True)
    return run


BEFORE = r'''
import json, sys, time
from mathtrain.infer import load_for_inference, generate_unbatched
from mathtrain.evaluate.squad_data import load_squad
from mathtrain.evaluate.math_score import load_references
run, squad, mathf, new = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from mathtrain.tokenizer import load_tokenizer
info = json.load(open(run + "/run.json"))
tok = load_tokenizer(info["config"]["tokenizer"]["type"], info["config"]["tokenizer"]["path"])
spec_prompt = None
ex = load_squad(squad, True)
refs = load_references(mathf)
from mathdata.prompts import PromptSpec
spec = PromptSpec.from_dict(info["prompt"])
sq = [e.prompt() for e in ex]; mp = [spec.generation_prompt(r.problem) for r in refs]
longest = max([len(tok.encode(p)) + 20 for p in sq] + [len(tok.encode(p)) + 64 for p in mp])
seq = max(info["model_config"]["seq_length"], -(-longest // 32) * 32)
net, tok, _, _ = load_for_inference(run, seq_length=seq)
# warm-up call, then timed calls: one short math prompt and one median SQuAD prompt
generate_unbatched(net, tok, [mp[0]], 1)
t = time.perf_counter()
for p in (mp[0], sorted(sq, key=len)[len(sq) // 2]):
    generate_unbatched(net, tok, [p], new)
per_token = (time.perf_counter() - t) / (2 * new)
print(json.dumps({"seq_length": seq, "seconds_per_token": per_token}))
'''


SPOT = r'''
import json, random, sys
from mathtrain.infer import load_for_inference, generate_batch
from mathtrain.evaluate.squad_data import load_squad
from mathtrain.evaluate.math_score import load_references
from mathdata.prompts import PromptSpec
run, squad, mathf, out, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
info = json.load(open(run + "/run.json"))
spec = PromptSpec.from_dict(info["prompt"])
preds = {}
for name in ("math", "squad"):
    for line in open(f"{out}/{name}_predictions.jsonl", encoding="utf-8"):
        row = json.loads(line); preds[(name, row["id"])] = row["prediction"]
rnd = random.Random(0)
ex = rnd.sample(load_squad(squad, True), n); refs = rnd.sample(load_references(mathf), n)
net, tok, _, _ = load_for_inference(run, seq_length=json.load(open(out + "/eval.json"))["seq_length"], mode="graph")
same = 0
for name, items, prompts, new, min_new in (("squad", ex, [e.prompt() for e in ex], 20, 1),
                                           ("math", refs, [spec.generation_prompt(r.problem) for r in refs], 64, 0)):
    gens = generate_batch(net, tok, prompts, new, min_new_tokens=min_new, engine="loop")
    same += sum(g.text == preds[(name, it.id)] for g, it in zip(gens, items))
print(json.dumps({"checked": 2 * n, "identical": same}))
'''


def spot_check(run: Path, squad: Path, math_file: Path, out: Path, n: int = 12) -> dict:
    """A sample of items again through engine="loop" (the model's full forward every step, no cache): the
    cached eval's saved texts must be the same."""
    proc = subprocess.run([PY, "-c", SPOT, str(run), str(squad), str(math_file), str(out), str(n)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_before(run: Path, squad: Path, math_file: Path, new_tokens: int = 3) -> dict:
    out = subprocess.run([PY, "-c", BEFORE, str(run), str(squad), str(math_file), str(new_tokens)],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    tokens = N_PARAGRAPHS * 20 + N_MATH * 64
    got.update(tokens=tokens, extrapolated_seconds=got["seconds_per_token"] * tokens)
    return got


def measure_after(run: Path, squad: Path, math_file: Path, out: Path) -> dict:
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    proc = subprocess.run([PY, "-c", "from mathtrain.cli import main; main()", "eval", "--run", str(run), "--out",
                           str(out), "--squad", str(squad), "--math", str(math_file), "--quiet", "--json", "-"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    summary = json.loads(proc.stdout)
    items = summary["squad"]["total"] + summary["math"]["total"]
    return {"seconds": round(seconds, 1), "items": items, "items_per_s": round(items / seconds, 2),
            "eval_seconds": summary["seconds"], "seq_length": summary.get("seq_length"),
            "load_average_after": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "data" / "eval")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=64)
    ap.add_argument("--skip-before", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    squad, math_file = args.work / "squad_contest_shape.json", args.work / "math_280.jsonl"
    shape = make_squad(squad)
    make_math(math_file)
    print(f"SQuAD-shaped file: {shape}", flush=True)
    run = train_tiny(args.work, args.train_steps)
    results: dict = {"shape": shape, "math_items": N_MATH, "machine": f"{os.cpu_count()} cores, shared"}
    if not args.skip_before:
        results["before"] = measure_before(run, squad, math_file)
        print(f"before (extrapolated): {results['before']}", flush=True)
    runs = []
    for r in range(args.repeats):
        runs.append(measure_after(run, squad, math_file, args.work / f"out{r}"))
        print(f"after, run {r + 1}: {runs[-1]}", flush=True)
    results["after"] = runs
    results["spot_check_vs_no_cache"] = spot_check(run, squad, math_file, args.work / "out0")
    print(f"spot check: {results['spot_check_vs_no_cache']}", flush=True)
    results["after_median_seconds"] = statistics.median(r["seconds"] for r in runs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
