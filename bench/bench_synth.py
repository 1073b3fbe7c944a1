"""Generator speed, one process (one core): records per second per template and style.

    python bench/bench_synth.py [--count 100000] [--verify-sample 20000] [--json FILE]

For every template: `generated/s` is the generator's stream (answers exact by construction, plain
wording and the real answer format; repeats allowed, so small value spaces are not penalised for
running dry); `distinct/s` is TemplateGenerator.generate (distinct problems, train split) for up to
--count records, and `distinct` how many it made (the small templates' train split holds fewer);
`steps/s` the stream in the step-by-step style with --round 2; `verified/s` is distinct generation
followed by re-checking every record with the audit's verifier (verify_record), on `--verify-sample`.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

from mathdata.normalize import normalize_text
from mathdata.rules import load_rules
from mathdata.synth import SynthSettings, TemplateGenerator
from mathdata.synth.engine import iter_generate
from mathdata.verify import verify_record

ARITHMETIC = ("add", "sub", "mul", "div")


def stream_rate(template, count: int, settings: SynthSettings) -> float:
    stream = iter_generate(template, 1, settings)
    start = time.perf_counter()
    for _ in range(count):
        next(stream)
    return count / (time.perf_counter() - start)


def rate(template, count: int, settings: SynthSettings, verify: bool = False) -> tuple[float, int]:
    gen = TemplateGenerator(template, 1, settings)
    start = time.perf_counter()
    pairs = gen.generate(count, strict=False)
    if verify:
        for problem, solution in pairs:
            status = verify_record(template, normalize_text(problem), solution)
            assert status[0] == "verified", (problem, solution, status)
    return len(pairs) / (time.perf_counter() - start), len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--verify-sample", type=int, default=20_000)
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args()
    rules = load_rules()
    rows = []
    print(f"{'template':10s} {'generated/s':>12s} {'distinct/s':>11s} {'distinct':>9s} {'steps/s':>9s} {'verified/s':>11s}")
    for t in rules.templates:
        plain = stream_rate(t, args.count, SynthSettings())
        distinct, n = rate(t, args.count, SynthSettings())
        steps = stream_rate(t, min(args.count, 20_000), SynthSettings(style="steps", round_to=2))
        verified, _ = rate(t, min(args.verify_sample, n // 2), SynthSettings(), verify=True)
        rows.append({"template": t.name, "generated_per_s": round(plain), "distinct_per_s": round(distinct),
                     "distinct": n, "steps_per_s": round(steps), "verified_per_s": round(verified)})
        print(f"{t.name:10s} {plain:12,.0f} {distinct:11,.0f} {n:9,} {steps:9,.0f} {verified:11,.0f}")
    arith = [r for r in rows if r["template"] in ARITHMETIC]
    print(f"arithmetic (add/sub/mul/div) generated/s: min {min(r['generated_per_s'] for r in arith):,}"
          f", mean {sum(r['generated_per_s'] for r in arith) / len(arith):,.0f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"python": platform.python_version(), "machine": platform.machine(), "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
