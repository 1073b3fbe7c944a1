"""Wall time and peak RSS of `mathdata audit` and `mathdata build` on the 1x corpus: this checkout
against earlier commits, runs alternated on the same machine (so a busy machine slows all alike).

    python bench/bench_versions.py --ref 5edb0f7 --ref c092091 [--runs 3] [--json OUT]

Each commit's `src/` and `rules/` are extracted with `git archive` (check_identity.extract) and run
with its own rules (an older commit may not read today's rule files) and rules/quotas.toml of the same
commit. Peak RSS: the command's own process, sampled (bench_engines.measure); the machine's load at
the start is recorded beside the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_engines import CLI, measure  # noqa: E402
from check_identity import CORPUS, ROOT, extract  # noqa: E402


def run(src: Path, rules: Path, args: list[str]) -> tuple[float, float]:
    """Wall seconds and the driver's peak RSS (MB) of one command run with the code in `src`."""
    os.environ["PYTHONPATH"] = str(src)
    try:
        m = measure([*CLI, *args, "--rules", str(rules), "--quiet"])
    finally:
        del os.environ["PYTHONPATH"]
    return m["wall_s"], m["driver_peak_mb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", action="append", default=[], help="git commit to compare (repeatable)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not CORPUS.exists():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(CORPUS)], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="versions-"))
    versions = {"this checkout": (ROOT / "src", ROOT / "rules")}
    for ref in args.ref:
        src = extract(ref, tmp / ref)
        versions[ref] = (src, src.parent / "rules")
    walls: dict[str, dict[str, list]] = {v: {"audit": [], "build": []} for v in versions}
    peaks: dict[str, dict[str, list]] = {v: {"audit": [], "build": []} for v in versions}
    load = os.getloadavg()
    for i in range(args.runs):
        for name, (src, rules) in versions.items():
            for cmd, cargs in (("audit", ["audit", str(CORPUS), "--json", str(tmp / f"a-{i}.json")]),
                               ("build", ["build", str(CORPUS), "--quota", str(rules / "quotas.toml"),
                                          "-o", str(tmp / f"b-{name.replace(' ', '_')}-{i}")])):
                wall, peak = run(src, rules, cargs)
                walls[name][cmd].append(round(wall, 2))
                peaks[name][cmd].append(round(peak))
                print(f"run {i + 1} {name:14s} {cmd}: {wall:6.1f} s", flush=True)
    report = {"corpus": str(CORPUS.relative_to(ROOT)), "runs": args.runs, "load_avg_at_start": [round(x, 1) for x in load],
              "versions": {v: {c: {"median_wall_s": statistics.median(walls[v][c]), "all_wall_s": walls[v][c],
                                   "peak_rss_mb": peaks[v][c]} for c in ("audit", "build")} for v in versions}}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
