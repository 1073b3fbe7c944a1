"""Benchmark `mathdata audit` on a corpus shaped like the real train.json.

    python bench/bench_audit.py [--corpus PATH] [--runs 3] [--json OUT] [--baseline-src DIR]

Makes the corpus with bench/make_corpus.py if it is missing, then times the real command in a
subprocess (wall time, CPU time and peak RSS of the process tree) against the floor: a plain polars
read plus an exact unique count of the problems. Targets (issue 2): under 30 s wall and 3 GB peak on
2 cores. `--baseline-src DIR` (the `src/` of another checkout, e.g. `git archive HEAD~5 | tar -x -C
/tmp/old`) times that version too, run for run alternating with this one, so that a machine shared
with other jobs slows both alike; the result then has the baseline's figures and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOOR = """
import sys, time, polars as pl
t = time.perf_counter()
n = pl.read_ndjson(sys.argv[1]).select(pl.col("problem").n_unique()).item()
print(time.perf_counter() - t, n)
"""


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS in MB of the child and its children, stdout, CPU seconds), in a fresh child."""
    wrapper = ("import resource, subprocess, sys, time, json\n"
               "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "w = time.perf_counter() - t\n"
               "if p.returncode: sys.stderr.write(p.stderr); sys.exit(p.returncode)\n"
               "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps([w, r.ru_maxrss / 1024, p.stdout, r.ru_utime + r.ru_stime]))\n")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True, env=env)
    wall, rss, stdout, cpu = json.loads(out.stdout)
    return wall, rss, stdout, cpu


def source_env(src: Path | None) -> dict | None:
    """The environment that makes `python -m mathdata.cli` import the package from `src`."""
    if src is None:
        return None
    return {**os.environ, "PYTHONPATH": str(Path(src).resolve())}


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "train_like.json")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--baseline-src", type=Path, help="src/ folder of another version, timed alternately")
    args = ap.parse_args()
    if not args.corpus.exists():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(args.corpus)], check=True)
    floor = []
    for _ in range(args.runs):
        seconds, unique = subprocess.run([sys.executable, "-c", FLOOR, str(args.corpus)], capture_output=True,
                                         text=True, check=True).stdout.split()
        floor.append(float(seconds))
    audits, rss, cpus, stats = [], [], [], None
    base_walls, base_cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            out = Path(tmp) / "audit.json"
            cmd = [sys.executable, "-m", "mathdata.cli", "audit", str(args.corpus), "--quiet", "--json", str(out),
                   "--timings"]
            if args.baseline_src:
                wall, _, _, cpu = timed(cmd, source_env(args.baseline_src))
                base_walls.append(wall)
                base_cpus.append(cpu)
            wall, peak, _, cpu = timed(cmd)
            audits.append(wall)
            rss.append(peak)
            cpus.append(cpu)
            stats = json.loads(out.read_text(encoding="utf-8"))
    result = {
        "corpus": str(args.corpus), "lines": stats["records"], "unique": stats["unique"],
        "exact_duplicates": stats["exact_duplicates"], "near_duplicates": stats["near_duplicates"],
        "english": stats["categories"].get("english", {}).get("count", 0),
        "audit_wall_s_best": round(min(audits), 2), "audit_wall_s_median": median(audits),
        "audit_wall_s_all": [round(a, 2) for a in audits], "audit_cpu_s_median": median(cpus),
        "audit_peak_rss_mb": round(max(rss)), "steps_s": stats["timings_s"],
        "floor_polars_read_unique_s_best": round(min(floor), 2), "unique_by_floor": int(unique),
        "cpus": os.cpu_count(),
    }
    if args.baseline_src:
        result["baseline"] = {"src": str(args.baseline_src), "wall_s_all": [round(a, 2) for a in base_walls],
                              "wall_s_median": median(base_walls), "cpu_s_median": median(base_cpus),
                              "wall_ratio_median": round(median(audits) / median(base_walls), 3),
                              "cpu_ratio_median": round(median(cpus) / median(base_cpus), 3)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
