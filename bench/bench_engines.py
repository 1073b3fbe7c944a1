"""Wall time and peak memory of `mathdata audit` and `mathdata build` with each runner.

    python bench/bench_engines.py [--scale 10] [--corpus PATH] [--engines local,ray] [--runs 1] [--json OUT]

Makes the contest-shaped corpus with bench/make_corpus.py at `--scale` if `--corpus` is missing, then
runs each command in a fresh process (`--engine local`, or `--engine ray`: a local Ray with 2 CPUs that
the command starts itself) and samples the RSS of every process of its tree every 0.2 s: the driver's
peak, the largest single other process's peak (verification's forked workers; Ray's workers, raylet,
GCS) and the peak of the tree's sum. Build uses rules/quotas.toml. The machine's load and free memory
at the start are recorded beside the figures (a shared machine slows every run).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from mathdata.cli import main; main()"]


def measure(cmd: list[str]) -> dict:
    """Run `cmd`; wall seconds and peak RSS (MB) of the driver, of the largest other process, of the tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, float] = {}
    tree_peak = [0.0]
    done = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0.0
            for p in procs:
                try:
                    rss = p.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                peaks[p.pid] = max(peaks.get(p.pid, 0.0), rss)
                total += rss
            tree_peak[0] = max(tree_peak[0], total)
            done.wait(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    done.set()
    t.join()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    driver = peaks.pop(proc.pid, 0.0)
    return {"wall_s": round(wall, 1), "driver_peak_mb": round(driver), "other_peak_mb": round(max(peaks.values(), default=0)),
            "tree_peak_mb": round(tree_peak[0]), "processes": len(peaks) + 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=10)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--commands", default="audit,build")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    corpus = args.corpus or ROOT / "bench" / "data" / f"train_like_x{args.scale:g}.json"
    if not corpus.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), str(corpus), "--scale", str(args.scale)],
                       check=True)
    result = {"corpus": str(corpus), "lines": sum(1 for _ in open(corpus, "rb")), "cpus": os.cpu_count(),
              "load_avg_at_start": [round(x, 1) for x in os.getloadavg()],
              "available_gb_at_start": round(psutil.virtual_memory().available / 2**30, 1), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            for command in args.commands.split(","):
                if command == "audit":
                    cmd = [*CLI, "audit", str(corpus), "--quiet", "--json", f"{tmp}/audit.json"]
                else:
                    cmd = [*CLI, "build", str(corpus), "--quiet", "--quota", str(ROOT / "rules" / "quotas.toml"),
                           "-o", f"{tmp}/build-{engine}"]
                runs = [measure([*cmd, "--engine", engine]) for _ in range(args.runs)]
                key = f"{command}/{engine}"
                result["runs"][key] = {"median_wall_s": statistics.median(r["wall_s"] for r in runs), "all": runs}
                print(key, json.dumps(result["runs"][key]), flush=True)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
