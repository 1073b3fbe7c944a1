"""Benchmark `mathdata audit` on a corpus shaped like the real train.json.

    python bench/bench_audit.py [--corpus PATH] [--runs 3] [--json OUT]

Makes the corpus with bench/make_corpus.py if it is missing, then times the real command in a
subprocess (wall time, peak RSS of the process tree) against the floor: a plain polars read plus an
exact unique count of the problems. Targets (issue 2): under 30 s wall and 3 GB peak on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
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


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB of the child and its children, stdout), in a fresh child."""
    wrapper = ("import resource, subprocess, sys, time, json\n"
               "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "w = time.perf_counter() - t\n"
               "if p.returncode: sys.stderr.write(p.stderr); sys.exit(p.returncode)\n"
               "print(json.dumps([w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.stdout]))\n")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    wall, rss, stdout = json.loads(out.stdout)
    return wall, rss, stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "train_like.json")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not args.corpus.exists():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(args.corpus)], check=True)
    floor = []
    for _ in range(args.runs):
        seconds, unique = subprocess.run([sys.executable, "-c", FLOOR, str(args.corpus)], capture_output=True,
                                         text=True, check=True).stdout.split()
        floor.append(float(seconds))
    audits, rss, stats = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            out = Path(tmp) / "audit.json"
            wall, peak, _ = timed([sys.executable, "-m", "mathdata.cli", "audit", str(args.corpus), "--quiet",
                                   "--json", str(out), "--timings"])
            audits.append(wall)
            rss.append(peak)
            stats = json.loads(out.read_text(encoding="utf-8"))
    result = {
        "corpus": str(args.corpus), "lines": stats["records"], "unique": stats["unique"],
        "exact_duplicates": stats["exact_duplicates"], "near_duplicates": stats["near_duplicates"],
        "english": stats["categories"].get("english", {}).get("count", 0),
        "audit_wall_s_best": round(min(audits), 2), "audit_wall_s_all": [round(a, 2) for a in audits],
        "audit_peak_rss_mb": round(max(rss)), "steps_s": stats["timings_s"],
        "floor_polars_read_unique_s_best": round(min(floor), 2), "unique_by_floor": int(unique),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
