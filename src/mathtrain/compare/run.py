"""Run a compare: train every recipe x seed, evaluate every run and the base model, score, report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from mathdata.errors import MathDataError

from .plan import BASE, Recipe, fingerprint

STATE = "plan.json"
Event = Callable[[str, dict], None]


def _run_tasks(tasks: list[dict], log: Path, env: dict, on_poll: Callable[[], None] | None = None) -> None:
    """Run worker tasks in one process of their own (in order); raises with the log's last line on failure."""
    if not tasks:
        return
    task_path = log.with_suffix(".tasks.json")
    task_path.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(log, "a", encoding="utf-8") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "mathtrain.compare.worker", str(task_path)],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            while proc.poll() is None:
                if on_poll is not None:
                    on_poll()
                time.sleep(1.0)
            if on_poll is not None:
                on_poll()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        errors = [ln for ln in lines if "error:" in ln] or lines[-1:] or ["(no output)"]
        raise MathDataError(f"compare worker failed ({errors[-1][:300]})", f"read {log}",
                            exit_code=2 if proc.returncode == 2 else 1)
    task_path.unlink()


class _Follow:
    """Polls the worker's files: emits progress for the running task and *_done for each finished one."""

    def __init__(self, tasks: list[dict], emit: Event):
        self.tasks, self.emit, self.i = tasks, emit, 0
        self.started: set[int] = set()
        self.t0 = time.perf_counter()
        self.wall: dict[str, float] = {}

    def __call__(self) -> None:
        while self.i < len(self.tasks):
            task = self.tasks[self.i]
            if self.i not in self.started:
                self.started.add(self.i)
                self.emit(f"{task['kind']}_start", {"key": task["key"], "steps": task.get("steps"),
                                                    "items": len(task.get("ids", []))})
            if Path(task["result"]).is_file():
                now = time.perf_counter()
                self.wall[(task["kind"], task["key"])] = round(now - self.t0, 1)
                self.t0 = now
                result = json.loads(Path(task["result"]).read_text(encoding="utf-8"))
                self.emit(f"{task['kind']}_finished", {"key": task["key"], "result": result})
                self.i += 1
                continue
            if task["kind"] == "train":
                done, loss = _metrics_steps(Path(task["run_dir"]))
                self.emit("train_progress", {"key": task["key"], "steps": task["steps"], "done": done, "loss": loss})
            else:
                partial = Path(task["predictions"]).with_name(Path(task["predictions"]).name + ".partial")
                self.emit("eval_progress", {"key": task["key"], "items": len(task["ids"]), "done": _count_lines(partial)})
            return


def _metrics_steps(run_dir: Path) -> tuple[int, float | None]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return 0, None
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        return 0, None
    try:
        last = json.loads(lines[-1])
    except json.JSONDecodeError:
        return len(lines), None
    return int(last.get("step", len(lines))), last.get("loss")


def resolve_steps(cfg, recipes: list[Recipe], steps: int | None) -> int:
    if steps:
        return steps
    if cfg.train.max_steps:
        return cfg.train.max_steps
    # the smallest build's epochs x steps per epoch: every recipe can run it
    per = [cfg.train.epochs * (r.records // cfg.train.batch_size) for r in recipes]
    if min(per) < 1:
        small = recipes[per.index(min(per))]
        raise MathDataError(f"--recipe {small.name}: {small.records} records are less than one batch of "
                            f"{cfg.train.batch_size}", "pass --steps N, or build more records")
    return min(per)


def prepare_out(out: Path, plan: dict, resume: bool) -> None:
    state = out / STATE
    if out.exists() and any(out.iterdir()):
        if not state.is_file():
            raise MathDataError(f"{out}: exists and is not a compare folder", "pass a new --out folder")
        if not resume:
            raise MathDataError(f"{out}: holds an earlier compare", "pass --resume to continue it, or a new --out")
        old = json.loads(state.read_text(encoding="utf-8"))
        if old.get("fingerprint") != plan["fingerprint"]:
            raise MathDataError(f"{out}: its compare had other inputs (config, builds, seeds or budget)",
                                "use a new --out for a different compare")
    out.mkdir(parents=True, exist_ok=True)
    from mathdata.io import write_json

    write_json(state, plan)


def run_compare(config: Path, recipes: list[Recipe], eval_path: Path, out: Path, *, seeds: int = 2,
                steps: int | None = None, max_new_tokens: int = 32, limit: int | None = None,
                batch_size: int | None = None, resume: bool = False, rules_dir: Path | None = None,
                on_event: Event | None = None) -> dict:
    from mathdata.io import sha256_file, write_json

    from ..config import check_files, load_config
    from ..evaluate.math_score import category_order, load_references, score_math

    emit = on_event or (lambda kind, info: None)
    config = Path(config).resolve()
    cfg = load_config(config)
    if not cfg.is_cpu:
        raise MathDataError(f"{config}: [run].device = {cfg.run.device!r}", "compare trains on cpu")
    check_files(cfg)
    if not cfg.model.checkpoint:
        raise MathDataError(f"{config}: [model].checkpoint is empty",
                            "compare needs a pretrained base model (e.g. configs/smollm2-135m-lora.toml)")
    if seeds < 1:
        raise MathDataError(f"--seeds {seeds}", "at least 1")
    refs = load_references(eval_path, rules_dir)
    if limit:
        refs = refs[:limit]
    order = category_order(rules_dir)
    steps = resolve_steps(cfg, recipes, steps)
    seed_list = [cfg.run.seed + i for i in range(seeds)]
    budget = {"steps": steps, "batch_size": cfg.train.batch_size, "seq_length": cfg.train.seq_length,
              "samples": steps * cfg.train.batch_size,
              "token_budget": steps * cfg.train.batch_size * (cfg.train.seq_length + 1)}
    eval_info = {"path": str(Path(eval_path).resolve()), "sha256": sha256_file(eval_path), "items": len(refs),
                 "limit": limit, "max_new_tokens": max_new_tokens}
    plan = {"schema": "mathtrain.compare-plan/1", "config": str(config), "config_sha256": sha256_file(config),
            "recipes": [{"name": r.name, "build": str(r.build), "manifest_sha256": r.manifest_sha256,
                         "train_prompt": r.train_prompt.to_dict(), "eval_prompt": r.eval_prompt.to_dict()}
                        for r in recipes],
            "seeds": seed_list, "budget": budget, "eval": eval_info}
    # trainings are reused when config, builds, seeds and budget match; evaluations also need the same eval
    plan["fingerprint"] = fingerprint({k: v for k, v in plan.items() if k not in ("schema", "eval")})
    eval_key = fingerprint({"eval": eval_info, "prompts": [r.eval_prompt.to_dict() for r in recipes],
                            "batch_size": batch_size})
    plan["eval_fingerprint"] = eval_key
    out = Path(out).resolve()
    prepare_out(out, plan, resume)
    for sub in ("runs", "eval", "logs"):
        (out / sub).mkdir(exist_ok=True)
    env = {**os.environ, "LOCAL_DEFAULT_PATH": str(out / "logs" / "mindformers"), "GLOG_v": os.environ.get("GLOG_v", "3"),
           "PYTHONUNBUFFERED": "1"}
    timings: dict[str, dict] = {}

    # 1. train every recipe x seed with the same budget; 2. evaluate the base model (once per distinct eval
    # prompt) and every run on the same items -- all in one worker process, finished pieces kept
    runs, tasks = [], []
    for r in recipes:
        for seed in seed_list:
            key = f"{r.name}-s{seed}"
            run_dir, result_path = out / "runs" / key, out / "runs" / f"{key}.train.json"
            runs.append((r, seed, key, run_dir, result_path))
            if result_path.is_file():
                emit("train_reused", {"key": key})
                continue
            if run_dir.exists():
                import shutil

                shutil.rmtree(run_dir)  # an interrupted run of this compare: start it again
            tasks.append({"kind": "train", "key": key, "config": str(config), "seed": seed, "build": str(r.build),
                          "run_dir": str(run_dir), "steps": steps, "result": str(result_path)})
    base_prompts = {}
    for r in recipes:
        base_prompts.setdefault(r.eval_prompt.name, r.eval_prompt)
    jobs = [(f"{BASE}-{name}", None, None, spec, None) for name, spec in base_prompts.items()]
    jobs += [(key, r, seed, r.eval_prompt, (run_dir, result_path)) for r, seed, key, run_dir, result_path in runs]
    for key, recipe, seed, spec, run in jobs:
        pred_path, result_path = out / "eval" / f"{key}.jsonl", out / "eval" / f"{key}.eval.json"
        if result_path.is_file() and json.loads(result_path.read_text(encoding="utf-8")).get("eval_key") == eval_key:
            emit("eval_reused", {"key": key})
            continue
        tasks.append({"kind": "eval", "eval_key": eval_key, "key": key, "config": str(config), "run_dir": str(run[0]) if run else None,
                      "prompts": [spec.generation_prompt(x.problem) for x in refs], "ids": [x.id for x in refs],
                      "max_new_tokens": max_new_tokens, "batch_size": batch_size, "predictions": str(pred_path),
                      "result": str(result_path)})
    follow = _Follow(tasks, emit)
    for task in tasks:  # one process per task: MindSpore does not give a built network's memory back
        _run_tasks([task], out / "logs" / f"{task['kind']}-{task['key']}.log", env, on_poll=follow)
    for task in tasks:
        timings[f"{task['kind']} {task['key']}"] = {"wall_s": follow.wall.get((task["kind"], task["key"]))}
        if task["kind"] == "eval":
            ev = json.loads(Path(task["result"]).read_text(encoding="utf-8"))
            timings[f"eval {task['key']}"].update({k: ev[k] for k in ("load_s", "generate_s", "new_tokens")})
        else:
            tr = json.loads(Path(task["result"]).read_text(encoding="utf-8"))
            timings[f"train {task['key']}"].update({"tokens_per_s": round(tr["tokens_per_s"], 1),
                                                    "elapsed_s": round(tr["elapsed_s"], 1)})
    results = {key: json.loads(path.read_text(encoding="utf-8")) for _, _, key, _, path in runs}
    models = []
    for key, recipe, seed, spec, run in jobs:
        pred_path = out / "eval" / f"{key}.jsonl"
        preds = {}
        for line in pred_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                preds[row["id"]] = row["prediction"]
        score = score_math(preds, refs, category_order=order)
        entry = {"model": key, "recipe": recipe.name if recipe else BASE, "seed": seed,
                 "train_prompt": recipe.train_prompt.to_dict() if recipe else None, "eval_prompt": spec.to_dict(),
                 **_score_dict(score)}
        if run:
            entry.update(_run_dict(run[0], results[key], budget))
        models.append(entry)
        emit("eval_done", {"key": key, "accuracy": score.accuracy, "correct": score.correct, "total": score.total})

    doc = {"schema": "mathtrain.compare/1", "config": plan["config"], "config_sha256": plan["config_sha256"],
           "model": {"name": cfg.model.name, "checkpoint": cfg.model.checkpoint}, "eval": eval_info,
           "budget": budget, "seeds": seed_list, "recipes": plan["recipes"], "models": models,
           "summary": summarize(models, recipes)}
    write_json(out / "compare.json", doc)
    if timings:
        old = json.loads((out / "timings.json").read_text()) if (out / "timings.json").is_file() else {}
        write_json(out / "timings.json", {**old, **timings})
    from .report import write_html

    write_html(doc, out / "compare.html")
    return doc


def _count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except FileNotFoundError:
        return 0


def _score_dict(score) -> dict:
    return {"accuracy": round(score.accuracy, 6), "correct": score.correct, "total": score.total,
            "no_prediction": score.no_prediction,
            "per_category": {cat: {"total": t, "correct": c, "accuracy": round(c / t, 6) if t else 0.0}
                             for cat, (t, c) in score.per_category.items()}}


def _run_dict(run_dir: Path, result: dict, budget: dict) -> dict:
    rec = result.get("records", {})
    samples_seen = result["steps"] * budget["batch_size"]
    per = (rec.get("tokens", 0) / rec["samples"]) if rec.get("samples") else 0.0
    per_answer = (rec.get("answer_tokens", 0) / rec["samples"]) if rec.get("samples") else 0.0
    return {"run_dir": str(run_dir), "steps": result["steps"], "samples_seen": samples_seen,
            "tokens_seen": round(samples_seen * per), "answer_tokens_seen": round(samples_seen * per_answer),
            "train_records": rec.get("samples"), "truncated": rec.get("truncated"),
            "first_loss": round(result["first_loss"], 6), "last_loss": round(result["last_loss"], 6)}


def summarize(models: list[dict], recipes: list[Recipe]) -> list[dict]:
    """Per recipe: mean / min / max accuracy over seeds (overall and per category); base rows as they are."""
    rows = [{"recipe": m["recipe"], "model": m["model"], "seeds": 0, "eval_prompt": m["eval_prompt"]["name"],
             "accuracy_mean": m["accuracy"], "accuracy_min": m["accuracy"], "accuracy_max": m["accuracy"],
             "per_category_mean": {c: v["accuracy"] for c, v in m["per_category"].items()}}
            for m in models if m["recipe"] == BASE]
    for r in recipes:
        ms = [m for m in models if m["recipe"] == r.name]
        accs = [m["accuracy"] for m in ms]
        cats = list(ms[0]["per_category"]) if ms else []
        rows.append({"recipe": r.name, "model": r.name, "seeds": len(ms), "eval_prompt": r.eval_prompt.name,
                     "train_prompt": r.train_prompt.name,
                     "accuracy_mean": round(sum(accs) / len(accs), 6), "accuracy_min": min(accs),
                     "accuracy_max": max(accs), "spread": round(max(accs) - min(accs), 6),
                     "tokens_seen_mean": round(sum(m["tokens_seen"] for m in ms) / len(ms)),
                     "per_category_mean": {c: round(sum(m["per_category"][c]["accuracy"] for m in ms) / len(ms), 6)
                                           for c in cats}})
    return rows
