"""Helpers for the mathtrain tests: a small BUILD_DIR in `mathdata build`'s output format, written here so
the training tests do not depend on the data layer's progress."""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY_TOML = FIXTURES / "tiny" / "train.toml"
PROMPT = {"name": "plain", "human": "{problem}", "chat": "vicuna_v1.1"}


def arithmetic_records(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        a = Decimal(rnd.randint(100, 9999)) / 100
        b = Decimal(rnd.randint(100, 9999)) / 100
        op = "+-"[i % 2]
        value = a + b if op == "+" else a - b
        out.append({"id": f"t{i:05d}", "category": "add" if op == "+" else "sub",
                    "problem": f"计算 {a} {op} {b} 等于多少？", "solution": f"{a} {op} {b} = {value}"})
    return out


def write_build_dir(path: Path, n: int = 64, seed: int = 0, conversations: bool = False,
                    records: list[dict] | None = None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    recs = records if records is not None else arithmetic_records(n, seed)
    outputs = {}
    if conversations:
        conv = [{"id": r["id"], "conversations": [{"from": "human", "value": r["problem"]},
                                                  {"from": "gpt", "value": r["solution"]}]} for r in recs]
        text = json.dumps(conv, ensure_ascii=False)
        (path / "train_conversations.json").write_text(text, encoding="utf-8")
        outputs["train_conversations.json"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                               "records": len(recs)}
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
        (path / "train.jsonl").write_text(text, encoding="utf-8")
        outputs["train.jsonl"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "records": len(recs)}
    manifest = {"prompt": PROMPT, "seed": seed, "outputs": outputs}
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


# ---------------------------------------------------------------- running the CLI / a shared trained run
PY = sys.executable
SHARED_STEPS = 64  # 128 samples / batch 8 = 16 steps per epoch x 4 epochs; checkpoints every 8 steps


def cli_args(*args: str) -> list[str]:
    return [PY, "-c", "from mathtrain.cli import main; main()", *args]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cli_args(*args), capture_output=True, text=True, timeout=timeout, env=env)


def session_root(tmp_path_factory) -> Path:
    """A folder shared by all pytest-xdist workers of this session (the basetemp's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_session(root: Path, make, what: str, timeout: float = 900) -> str:
    """Run `make` (-> a status text, "0" for success) once per test session in folder `root`: the first caller
    runs it, later callers and concurrent xdist workers wait for its DONE marker. Returns the status."""
    done = root / "DONE"
    try:
        root.mkdir(parents=True)
        owner = True
    except FileExistsError:
        owner = False
    if owner:
        status = "interrupted"
        try:
            status = make()
        except Exception as err:  # the callers after this one fail too, with the reason
            status = f"{type(err).__name__}: {err}"
            raise
        finally:
            done.write_text(status, encoding="utf-8")
    deadline = time.time() + timeout
    while not done.exists():
        if time.time() > deadline:
            raise TimeoutError(f"{what} did not finish")
        time.sleep(0.5)
    return done.read_text(encoding="utf-8")


def shared_run(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(build_dir, run_dir, result) of one tiny CPU training run shared by the train/merge/resume tests.
    The first caller trains; concurrent xdist workers wait for its DONE marker."""
    root = session_root(tmp_path_factory) / "mathtrain-shared"
    build, run = root / "build", root / "run"

    def train_by_cli() -> str:
        write_build_dir(build, n=128)
        proc = run_cli("run", "--config", str(TINY_TOML), "--data", str(build), "--out", str(run),
                       "--json", str(root / "result.json"))
        (root / "stdout.txt").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
        return str(proc.returncode)

    if once_per_session(root, train_by_cli, "shared training run") != "0":
        raise AssertionError("shared training run failed:\n" + (root / "stdout.txt").read_text()[-3000:])
    return build, run, json.loads((root / "result.json").read_text(encoding="utf-8"))


def two_step_run(tmp_path_factory) -> tuple[Path, Path]:
    """(run_dir, build_dir) of a tiny LoRA run trained for 2 steps in-process by mathtrain.train on 16 records:
    the model the eval and generation tests run. Trained once per session (they only read it)."""
    root = session_root(tmp_path_factory) / "mathtrain-two-step"
    build, run = root / "build", root / "run"

    def train_in_process() -> str:
        from mathtrain.config import load_config
        from mathtrain.train import train

        write_build_dir(build, n=16)
        train(load_config(TINY_TOML), build, run, max_steps=2)
        return "0"

    status = once_per_session(root, train_in_process, "two-step training run")
    if status != "0":
        raise AssertionError(f"two-step training run failed: {status}")
    return run, build


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def tiny_toml(folder: Path, *replacements: tuple[str, str], name: str = "train.toml") -> Path:
    """fixtures/tiny/train.toml with its relative paths made absolute and each (old, new) text replaced once."""
    text = TINY_TOML.read_text(encoding="utf-8")
    text = text.replace('config = "model.yaml"', f'config = "{TINY_TOML.parent / "model.yaml"}"', 1)
    text = text.replace('path = "tokenizer.model"', f'path = "{TINY_TOML.parent / "tokenizer.model"}"', 1)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def copy_run_until(run: Path, dst: Path, step: int) -> Path:
    """A copy of a finished loop run as a kill after `step` leaves it: later checkpoints gone, metrics.jsonl
    holding a few more steps and a half-written last line."""
    import shutil

    shutil.copytree(run, dst, ignore=shutil.ignore_patterns("merged", "summary.json"))
    for path in (dst / "checkpoints").glob("*_step*.ckpt"):
        if int(path.stem.rsplit("step", 1)[1]) > step:
            path.unlink()
    lines = (dst / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[:step + 3]
    (dst / "metrics.jsonl").write_text("\n".join(lines) + "\n" + '{"step": ' + str(step + 4) + ', "epo',
                                       encoding="utf-8")
    return dst
