"""Time a full build: the 106,000-record quota table from the 809,993-line corpus, through the CLI.

    python bench/bench_build.py [--corpus bench/data/train_like.json] [--runs 2] [--workers 2]

Makes the corpus with bench/make_corpus.py if it is missing, runs `mathdata build --quota
rules/quotas.toml` as a user would (a fresh process each run, so imports count), and reports wall
time, peak memory, the per-stage seconds from --json, and whether the runs' outputs are
byte-identical (sha256 of every output file). `--baseline-src DIR` (the `src/` of another checkout)
times that version too, run for run alternating with this one (a shared machine slows both alike),
and prints both medians (wall and CPU seconds) and their ratio.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def run_timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one command; exits with its stderr if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench" / "data" / "train_like.json")
    ap.add_argument("--quota", type=Path, default=ROOT / "rules" / "quotas.toml")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-src", type=Path, help="src/ folder of another version, timed alternately")
    ap.add_argument("extra", nargs="*", help="more build options, after --")
    args = ap.parse_args()
    if not args.corpus.exists():
        from make_corpus import make_corpus
        print(f"making {args.corpus} ...")
        make_corpus(args.corpus, quiet=True)
    digests, walls, cpus, base_walls, base_cpus = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            if args.baseline_src:
                bout, bstats = Path(tmp) / f"base{run}", Path(tmp) / f"bstats{run}.json"
                cmd = [sys.executable, "-c", "import mathdata.commands_build; from mathdata.cli import main; main()",
                       "build", str(args.corpus), "--quota", str(args.quota), "-o", str(bout), "--seed", "0",
                       "--workers", str(args.workers), "--quiet", "--json", str(bstats), *args.extra]
                wall, cpu = run_timed(cmd, {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())})
                base_walls.append(wall)
                base_cpus.append(cpu)
                shutil.rmtree(bout, ignore_errors=True)
            out, stats = Path(tmp) / f"out{run}", Path(tmp) / f"stats{run}.json"
            cmd = [sys.executable, "-c", "import mathdata.commands_build; from mathdata.cli import main; main()",
                   "build", str(args.corpus), "--quota", str(args.quota), "-o", str(out), "--seed", "0",
                   "--workers", str(args.workers), "--quiet", "--json", str(stats), *args.extra]
            wall, cpu = run_timed(cmd)
            walls.append(wall)
            cpus.append(cpu)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            data = json.loads(stats.read_text(encoding="utf-8"))
            digests.append(digest(out))
            print(f"run {run + 1}: {wall:.1f} s wall, peak RSS {peak:,.0f} MB, {data['records']:,} records, "
                  f"{data['outputs']['dropped.jsonl']['records']:,} dropped")
            print("  stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in data["timings_s"].items()))
            if run == 0:
                for row in data["plan"]:
                    print(f"  {row['quota']:14s} wanted {row['wanted']:6,} available {row['available']:7,} "
                          f"from data {row['taken']:6,} top-up {row['top_up']:6,}")
    if len(digests) > 1:
        print("byte-identical across runs:", all(d == digests[0] for d in digests))
    print(f"median: {statistics.median(walls):.1f} s wall, {statistics.median(cpus):.1f} s CPU")
    if base_walls:
        print(f"baseline {args.baseline_src}: median {statistics.median(base_walls):.1f} s wall, "
              f"{statistics.median(base_cpus):.1f} s CPU; ratio wall {statistics.median(walls) / statistics.median(base_walls):.3f}, "
              f"CPU {statistics.median(cpus) / statistics.median(base_cpus):.3f}")


if __name__ == "__main__":
    main()
