#!/usr/bin/env bash
# The main job on the bundled sample data, end to end on a CPU:
#   audit the raw data -> build a deduplicated, verified, quota-balanced training set ->
#   LoRA-train the tiny Llama through MindFormers -> merge -> evaluate (math + SQuAD) -> contest score.
# Outputs go to out/demo (or $OUT). Expects mathdata/mathtrain on PATH (the README's first command).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/demo}"
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1/6 mathdata audit: what is in the raw data, and what is wrong with it"
mathdata audit fixtures/sample/train.jsonl --json "$OUT/audit.json" --html "$OUT/audit.html"

echo "== 2/6 mathdata build: the seed's quota mix at 1/100 scale, answers rounded to 2 decimals"
mathdata build fixtures/sample/train.jsonl --quota rules/quotas-small.toml \
  --exclude fixtures/build/eval.jsonl --round 2 --prompt raw --seed 0 -o "$OUT/build"

echo "== 3/6 mathtrain run: LoRA-train the tiny Llama on CPU (MindFormers + MindSpore)"
mathtrain run --config fixtures/tiny/train.toml --data "$OUT/build" --out "$OUT/run" --max-steps 48

echo "== 4/6 mathtrain merge: 5 merged checkpoints at even intervals (W + B@A * alpha/rank)"
mathtrain merge --run "$OUT/run" --keep-merged 5

echo "== 5/6 mathtrain eval: generate with the training prompt, score math and SQuAD"
mathtrain eval --run "$OUT/run" --out "$OUT/eval" --math fixtures/build/eval.jsonl \
  --squad fixtures/squad/tiny.json --limit 8 --max-new-tokens 16 --squad-max-new-tokens 8

echo "== 6/6 mathtrain score contest: 0.7 * accuracy + 0.3 * (1 - trainable/total)"
mathtrain score contest --math-json "$OUT/eval/math_scores.json" --squad-json "$OUT/eval/squad_scores.json" \
  --run "$OUT/run"

echo
echo "done: audit report $OUT/audit.html, training set $OUT/build, run $OUT/run, scores $OUT/eval"
