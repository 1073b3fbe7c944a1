"""Benchmark mathdata's reader: the fast polars path (taken when the raw-byte checks prove it agrees
with the careful path) against the careful path on the same records.

    python bench/bench_read.py [--corpus PATH] [--runs 3]

The corpus is bench/make_corpus.py's (made if missing). The careful path is forced by the same file
with one blank line added at the end of its first line (the byte checks then refuse the fast path).
Prints medians of wall seconds per path and the byte checks' own share.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "train_like.json")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.corpus.exists():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(args.corpus)], check=True)
    from mathdata import io as mio
    data = args.corpus.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        careful = Path(tmp) / "careful.jsonl"
        first_end = data.index(b"\n") + 1
        careful.write_bytes(data[:first_end] + b"\n" + data[first_end:])
        times = {"fast": [], "careful": [], "byte_checks": []}
        for _ in range(args.runs):
            for name, path in (("fast", args.corpus), ("careful", careful)):
                start = time.perf_counter()
                frame = mio.read_records([path]).frame
                times[name].append(time.perf_counter() - start)
            text = data.decode("utf-8")
            start = time.perf_counter()
            body = data
            lines = body.count(b"\n")
            for key in (b'"problem"', b'"solution"', b'"equation"'):
                body.count(key), body.count(key + b': "')
            mio._UNSAFE_ESCAPE.search(body), b"\n\n" in body, "\r" in text
            times["byte_checks"].append(time.perf_counter() - start)
    print(f"{args.corpus.name}: {frame.height:,} records, {lines:,} lines, {len(data) / 1e6:.0f} MB")
    for name, xs in times.items():
        print(f"  {name:12s} median {statistics.median(xs):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in xs)})")


if __name__ == "__main__":
    main()
