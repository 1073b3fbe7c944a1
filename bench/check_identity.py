"""Byte-identity of `mathdata audit` and `mathdata build` outputs: this checkout against a git commit.

    python bench/check_identity.py --ref COMMIT [--corpus] [--engine ray] [--keep DIR]

The commit's `src/` is extracted with `git archive` and run in a subprocess (PYTHONPATH), this
checkout's `src/` likewise; both read the same rules folder (this checkout's rules/, passed as
--rules), so only the code differs. Compared with `cmp`: audit --json and --html, and build's
train.jsonl, train_conversations.json, dropped.jsonl, manifest.json (whose `tool_version` names the
code version and must match too). Cases:

- sample: fixtures/sample/train.jsonl as scripts/demo.sh audits and builds it (quotas-small.toml,
  --exclude fixtures/build/eval.jsonl, --round 2, seed 0);
- corpus (`--corpus`): bench/make_corpus.py at scale 1 (809,993 lines, made if missing), audited and
  built with rules/quotas.toml.

`--engine ray` runs this checkout with `--engine ray` (local Ray, 2 CPUs) against the reference.
Prints one line per file and the wall seconds of each run; exits 1 if any file differs.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
CORPUS = HERE / "data" / "train_like.json"
BUILD_FILES = ("train.jsonl", "train_conversations.json", "dropped.jsonl", "manifest.json")


def extract(ref: str, into: Path) -> Path:
    """`src/` and `rules/` of commit `ref` under `into` (some defaults read the rules beside src/); returns the src folder."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src", "rules"], capture_output=True,
                          check=True).stdout
    with tempfile.TemporaryFile() as f:
        f.write(blob)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(into, filter="data")
    return into / "src"


def cases(corpus: bool) -> list[dict]:
    sample = ROOT / "fixtures" / "sample" / "train.jsonl"
    out = [{"name": "sample", "input": sample,
            "build": ["--quota", str(ROOT / "rules" / "quotas-small.toml"), "--exclude",
                      str(ROOT / "fixtures" / "build" / "eval.jsonl"), "--round", "2", "--prompt", "raw", "--seed", "0"]}]
    if corpus:
        out.append({"name": "corpus", "input": CORPUS, "build": ["--quota", str(ROOT / "rules" / "quotas.toml")]})
    return out


def run_case(case: dict, src: Path, out: Path, engine: list[str]) -> dict:
    """Audit and build one case with the code in `src`; returns wall seconds per command."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    rules = ["--rules", str(ROOT / "rules")]
    # not `-m mathdata.cli`: that runs cli.py as __main__, a second copy of the module
    cli = [sys.executable, "-c", "from mathdata.cli import main; main()"]
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    for name, cmd in (
            ("audit", [*cli, "audit", str(case["input"]), "--quiet", "--json", str(out / "audit.json"),
                       "--html", str(out / "audit.html"), *rules, *engine]),
            ("build", [*cli, "build", str(case["input"]), "-o", str(out / "build"), "--quiet", *case["build"],
                       *rules, *engine])):
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        times[name] = round(time.perf_counter() - t, 2)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return times


def files_of(out: Path) -> list[Path]:
    return [Path("audit.json"), Path("audit.html"), *(Path("build") / f for f in BUILD_FILES)]


def compare(ref: str, corpus: bool = False, engine: str = "local", keep: Path | None = None) -> dict:
    """Run every case with the reference and with this checkout; {"identical": bool, "files": [...], ...}."""
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="identity-"))
    ref_src = extract(ref, tmp / "ref")
    engine_args = ["--engine", "ray"] if engine == "ray" else []
    report = {"ref": ref, "engine": engine, "cases": {}, "identical": True}
    for case in cases(corpus):
        if case["name"] == "corpus" and not CORPUS.exists():
            subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(CORPUS)], check=True)
        a, b = tmp / case["name"] / "ref", tmp / case["name"] / "new"
        t_ref = run_case(case, ref_src, a, [])
        t_new = run_case(case, ROOT / "src", b, engine_args)
        files = {}
        for f in files_of(a):
            same = filecmp.cmp(a / f, b / f, shallow=False)
            files[str(f)] = same
            report["identical"] &= same
        report["cases"][case["name"]] = {"files": files, "seconds_ref": t_ref, "seconds_new": t_new}
    report["dir"] = str(tmp)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="git commit whose outputs are the reference")
    ap.add_argument("--corpus", action="store_true", help="also the contest-shaped corpus at scale 1")
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--keep", type=Path, help="folder for the outputs (default: a new temporary folder)")
    args = ap.parse_args()
    report = compare(args.ref, args.corpus, args.engine, args.keep)
    for name, case in report["cases"].items():
        for f, same in case["files"].items():
            print(f"{'identical' if same else 'DIFFERENT'}  {name}/{f}")
        print(f"seconds  {name}: reference {case['seconds_ref']}, this checkout {case['seconds_new']}")
    print(json.dumps({"identical": report["identical"], "dir": report["dir"]}))
    sys.exit(0 if report["identical"] else 1)


if __name__ == "__main__":
    main()
