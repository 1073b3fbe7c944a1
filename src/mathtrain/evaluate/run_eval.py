"""`mathtrain eval`: generate with a trained run on a math eval set and/or SQuAD, save, and score.

Prompts:
- math: exactly the PromptSpec the training data was built with (`mathdata build` records it in the
  build's manifest.json; `mathtrain run` copies it into RUN_DIR/run.json). Asking for another prompt
  (`prompt_name`) is refused unless `force_prompt`, which then takes that prompt from rules/prompts.toml.
- SQuAD: the contest's fixed reading-comprehension prompt (`squad_data.SQUAD_PROMPT`), fed as is, as the
  contest's evaluation did.

Generation is greedy, batched by prompt length (`mathtrain.infer.generate_batch`: KV-cached on CPU, MindFormers'
`use_past` generate on an Ascend card, built from the predict YAML of `predict_yaml.py`). The model's maximum
length is raised to fit the longest prompt plus the new tokens when the training seq_length is too short.

Outputs in OUT_DIR:
  math_predictions.partial.jsonl / squad_predictions.partial.jsonl   appended per batch while generating
  eval.progress.json                                                 the settings a --resume must match
  math_predictions.jsonl / squad_predictions.jsonl   {"id", "prediction"} in input order, written atomically
                                                     when the set is complete -- readable by `mathtrain score`
  math_scores.json / squad_scores.json               what `mathtrain score math|squad --json` writes
  eval.json                                          run, checkpoint, prompt used, settings, summaries
The partial files and eval.progress.json are removed once eval.json is written.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from mathdata.errors import MathDataError
from mathdata.io import sha256_file, write_json, write_jsonl
from mathdata.prompts import PromptSpec, load_prompts

from . import contest as contest_lib
from .files import PartialPredictions, load_predictions
from .math_score import MathScore, Reference, category_order, load_references, score_math
from .squad_data import SquadExample, load_squad
from .squad_score import SquadScore, score_squad

ProgressFn = Callable[[str, int, int], None]  # (task "math"|"squad", done, total)


@dataclass
class EvalOptions:
    math: Path | None = None
    squad: Path | None = None
    first_question_only: bool = True     # the contest scored the first question of each paragraph
    max_new_tokens: int = 64             # math answers
    squad_max_new_tokens: int = 20       # the contest's setting
    limit: int | None = None             # only the first N items of each set
    rel_tol: float = 1e-4
    abs_tol: float | None = None
    prompt_name: str | None = None
    force_prompt: bool = False
    rules_dir: Path | None = None
    checkpoint: Path | None = None
    merged: bool = False
    min_new_tokens: int = 0              # math: EOS allowed from the first new token
    squad_min_new_tokens: int = 1        # several contest teams found most SQuAD answers empty without it
    batch_size: int | None = None        # rows per forward (default: infer.generate_batch's)
    resume: bool = False                 # continue an interrupted eval in the same --out
    dry_run: bool = False                # check the inputs, build what would run (Ascend: the YAML); no model


# (network, tokenizer, prompts, max_new_tokens, min_new_tokens, batch_size, on_done(indices, texts)) -> None
GenerateFn = Callable[[object, object, list[str], int, int, "int | None", Callable[[list[int], list[str]], None]],
                      None]


@dataclass
class Backend:
    """How to load and run a model; the default is mathtrain.infer (MindFormers). Tests may swap it."""
    load_tokenizer: Callable[[dict], object]
    load_model: Callable[..., tuple]     # (run_dir, checkpoint, merged, seq_length) -> (net, tok, spec, info)
    generate: GenerateFn


def default_backend(batch_size: int | None = None) -> Backend:
    from ..infer import generate_batch, load_for_ascend_eval, load_for_inference
    from ..tokenizer import load_tokenizer

    def tokenizer_of(run_info: dict):
        tok = run_info["config"]["tokenizer"]
        return load_tokenizer(tok["type"], tok["path"])

    def load_model(run_dir, checkpoint, merged, seq_length):
        if device_of(read_run_info(run_dir)) == "ascend":  # one card, the predict YAML, use_past
            return load_for_ascend_eval(run_dir, checkpoint, merged, seq_length, batch_size)
        return load_for_inference(run_dir, checkpoint=checkpoint, merged=merged, seq_length=seq_length, mode="graph")

    def generate(network, tokenizer, prompts, max_new, min_new, batch_size, on_done):
        generate_batch(network, tokenizer, prompts, max_new, min_new_tokens=min_new, eos_id=_eos_id(tokenizer),
                       batch_size=batch_size, on_done=lambda idx, gens: on_done(idx, [g.text for g in gens]))

    return Backend(tokenizer_of, load_model, generate)


def _eos_id(tokenizer) -> int | None:
    """The tokenizer's own EOS id when mathtrain.tokenizer can say (special_ids), else None: the model
    config's eos_token_id."""
    try:
        from ..tokenizer import special_ids
    except ImportError:
        return None
    return special_ids(tokenizer).eos


@dataclass
class EvalResult:
    out_dir: Path
    prompt: PromptSpec
    math: MathScore | None = None
    squad: SquadScore | None = None
    summary: dict = field(default_factory=dict)


def read_run_info(run_dir: Path) -> dict:
    from ..rundir import read_run
    return read_run(run_dir).data


def resolve_prompt(trained: PromptSpec, requested: str | None, force: bool, rules_dir: Path | None) -> PromptSpec:
    """The training prompt, unless another is asked for *and* forced."""
    if requested is None or requested == trained.name:
        return trained
    if not force:
        raise MathDataError(f"the run was trained with prompt {trained.name!r} ({trained.human!r}), "
                            f"not {requested!r}",
                            "drop --prompt to evaluate with the training prompt, or add --force-prompt")
    from mathdata.rules import DEFAULT_RULES_DIR

    path = Path(rules_dir or DEFAULT_RULES_DIR) / "prompts.toml"
    specs = load_prompts(path)
    if requested not in specs:
        raise MathDataError(f"{path}: no prompt named {requested!r}", f"valid: {', '.join(specs)}")
    return specs[requested]


def _manifest_prompt(run_info: dict) -> dict | None:
    data_dir = run_info.get("data_dir")
    if not data_dir:
        return None
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        return manifest.get("prompt")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def _first(items: Sequence, limit: int | None) -> list:
    if limit is not None and limit < 1:
        raise MathDataError(f"--limit must be >= 1, got {limit}", "or leave it out to use every item")
    return list(items[:limit] if limit else items)


def run_eval(run_dir: Path | str, out_dir: Path | str, opts: EvalOptions, backend: Backend | None = None,
             on_progress: ProgressFn | None = None, on_status: Callable[[str], None] | None = None) -> EvalResult:
    """Generate, save and score (see module doc)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MathDataError(f"--out {out_dir}: exists and is not a folder", "give a folder for the predictions and scores")
    status = on_status or (lambda text: None)
    progress = on_progress or (lambda task, done, total: None)
    if opts.math is None and opts.squad is None:
        raise MathDataError("nothing to evaluate", "pass --math EVAL.jsonl and/or --squad SQUAD.json")
    for name, value in (("--max-new-tokens", opts.max_new_tokens), ("--squad-max-new-tokens", opts.squad_max_new_tokens)):
        if value < 1:
            raise MathDataError(f"{name} must be >= 1, got {value}", "e.g. 64 for math, 20 for SQuAD")

    if opts.checkpoint is not None and not Path(opts.checkpoint).is_file():
        raise MathDataError(f"{opts.checkpoint}: no such checkpoint",
                            f"see {run_dir / ('merged' if opts.merged else 'checkpoints')}, or leave --checkpoint out")
    # everything that can be wrong with the inputs is checked before the (slow) model load
    info = read_run_info(run_dir)
    trained = PromptSpec.from_dict(info["prompt"], where=str(run_dir / "run.json"))
    spec = resolve_prompt(trained, opts.prompt_name, opts.force_prompt, opts.rules_dir)
    warnings = []
    built = _manifest_prompt(info)
    if built is not None and built != trained.to_dict() and built != info["prompt"]:
        warnings.append(f"the build at {info['data_dir']} now records prompt {built.get('name')!r}; the model was "
                        f"trained with {trained.name!r}, which is what is used")
    refs: list[Reference] = _first(load_references(opts.math, opts.rules_dir), opts.limit) if opts.math else []
    examples: list[SquadExample] = (_first(load_squad(opts.squad, opts.first_question_only), opts.limit)
                                    if opts.squad else [])
    math_prompts = [spec.generation_prompt(r.problem) for r in refs]
    squad_prompts = [ex.prompt() for ex in examples]
    if refs and not any(r.problem for r in refs):
        raise MathDataError(f"{opts.math}: no `problem` text to ask the model", "pass the build's eval JSONL")

    for name, value in (("--min-new-tokens", opts.min_new_tokens), ("--squad-min-new-tokens", opts.squad_min_new_tokens)):
        if value < 0:
            raise MathDataError(f"{name} must be >= 0, got {value}", "e.g. 1 for SQuAD, 0 for math")
    if opts.batch_size is not None and opts.batch_size < 1:
        raise MathDataError(f"--batch-size must be >= 1, got {opts.batch_size}", "or leave it out")

    checkpoint = opts.checkpoint or newest_checkpoint(run_dir, opts.merged)
    settings = eval_settings(run_dir, checkpoint, opts, spec)
    sets = []  # (task, ids, prompts, max_new, min_new)
    if refs:
        sets.append(("math", [r.id for r in refs], math_prompts, opts.max_new_tokens, opts.min_new_tokens))
    if examples:
        sets.append(("squad", [ex.id for ex in examples], squad_prompts, opts.squad_max_new_tokens,
                     opts.squad_min_new_tokens))
    if opts.dry_run:
        return _dry_run(run_dir, out_dir, info, checkpoint, opts, spec, sets, backend or default_backend(opts.batch_size))
    logs = open_progress(out_dir, settings, opts.resume, {task: ids for task, ids, *_ in sets}, status)
    todo = {task: [i for i, pid in enumerate(ids) if pid not in logs[task].done] for task, ids, *_ in sets}

    backend = backend or default_backend(opts.batch_size)
    summary: dict = {
        "run_dir": str(run_dir), "checkpoint": str(checkpoint) if checkpoint else None, "merged": opts.merged,
        "prompt": spec.to_dict(), "trained_prompt": trained.to_dict(), "prompt_forced": spec != trained,
        "max_new_tokens": opts.max_new_tokens, "squad_max_new_tokens": opts.squad_max_new_tokens,
        "min_new_tokens": opts.min_new_tokens, "squad_min_new_tokens": opts.squad_min_new_tokens,
        "limit": opts.limit, "warnings": warnings,
    }
    started = time.perf_counter()
    if any(todo.values()):
        status("loading tokenizer")
        tokenizer = backend.load_tokenizer(info)
        seq_length = _seq_length(info, tokenizer, sets, todo)
        status(f"loading model (seq_length {seq_length}, "
               f"{Path(checkpoint).name if checkpoint else 'default checkpoint'})")
        network, tokenizer, _, _ = backend.load_model(run_dir, checkpoint, opts.merged, seq_length)
        summary["seq_length"] = seq_length
        for task, ids, prompts, max_new, min_new in sets:
            _generate_set(backend, network, tokenizer, task, ids, prompts, todo[task], max_new, min_new,
                          opts.batch_size, logs[task], progress)
    summary["generated"] = {task: len(todo[task]) for task, *_ in sets}
    summary["resumed"] = {task: len(ids) - len(todo[task]) for task, ids, *_ in sets}
    for log in logs.values():
        log.close()

    # the final files, in input order; scores are computed from them as written, so `mathtrain score`
    # on the same files gives the same numbers
    result = EvalResult(out_dir=out_dir, prompt=spec)
    if refs:
        path = out_dir / "math_predictions.jsonl"
        write_jsonl(path, [{"id": r.id, "prediction": logs["math"].done[r.id]} for r in refs])
        result.math = score_math(load_predictions(path), refs, rel_tol=opts.rel_tol, abs_tol=opts.abs_tol,
                                 category_order=category_order(opts.rules_dir))
        write_json(out_dir / "math_scores.json", result.math.to_dict())
        summary["math"] = {"file": str(opts.math), "total": result.math.total, "correct": result.math.correct,
                           "accuracy": result.math.accuracy, "example_prompt": math_prompts[0]}
    if examples:
        path = out_dir / "squad_predictions.jsonl"
        write_jsonl(path, [{"id": ex.id, "prediction": logs["squad"].done[ex.id]} for ex in examples])
        result.squad = score_squad(load_predictions(path), examples)
        write_json(out_dir / "squad_scores.json", result.squad.to_dict())
        summary["squad"] = {"file": str(opts.squad), "first_question_only": opts.first_question_only,
                            "total": result.squad.total, "f1": result.squad.f1, "em": result.squad.em,
                            "squad_f1": result.squad.squad_f1, "squad_em": result.squad.squad_em}
    params = info.get("params") or {}
    if result.math is not None and params.get("total"):
        contest = contest_lib.contest_result(
            result.math.accuracy, int(params["trainable"]), int(params["total"]),
            f1=result.squad.f1 if result.squad else None, em=result.squad.em if result.squad else None)
        summary["contest"] = contest.to_dict()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    write_json(out_dir / "eval.json", summary)
    finish_progress(out_dir, logs)
    result.summary = summary
    return result


def _seq_length(info: dict, tokenizer, sets: list, todo: dict[str, list[int]] | None = None) -> int:
    """The model's maximum length for this eval: the longest prompt + its new tokens, rounded up to 32 (at
    least the training seq_length). Only a bound: each batch runs at its own length."""
    longest = max(len(tokenizer.encode(prompts[i])) + max_new for task, _, prompts, max_new, _ in sets
                  for i in (todo[task] if todo is not None else range(len(prompts))))
    trained_len = int(info.get("model_config", {}).get("seq_length") or 0)
    return max(trained_len, _round_up(longest, 32))


def device_of(info: dict) -> str:
    return str(info.get("config", {}).get("run", {}).get("device", "cpu"))


def _dry_run(run_dir: Path, out_dir: Path, info: dict, checkpoint: Path | None, opts: EvalOptions,
             spec: PromptSpec, sets: list, backend: Backend) -> EvalResult:
    """What the eval would run, without a model: the sets, lengths, and on Ascend the predict YAML."""
    import shlex

    from .predict_yaml import DEFAULT_BATCH, predict_yaml

    tokenizer = backend.load_tokenizer(info)
    seq_length = _seq_length(info, tokenizer, sets)
    summary: dict = {"dry_run": True, "run_dir": str(run_dir), "device": device_of(info),
                     "checkpoint": str(checkpoint) if checkpoint else None, "merged": opts.merged,
                     "prompt": spec.to_dict(), "seq_length": seq_length,
                     "items": {task: len(ids) for task, ids, *_ in sets}}
    if device_of(info) == "ascend":
        summary["yaml"] = predict_yaml(info, run_dir, checkpoint, opts.merged, seq_length,
                                       batch_size=opts.batch_size or DEFAULT_BATCH, dry_run=True)
        argv = ["mathtrain", "eval", "--run", str(run_dir), "--out", str(out_dir)]
        for flag, value in (("--math", opts.math), ("--squad", opts.squad), ("--checkpoint", opts.checkpoint),
                            ("--batch-size", opts.batch_size), ("--limit", opts.limit)):
            if value is not None:
                argv += [flag, str(value)]
        argv += ["--merged"] if opts.merged else []
        argv += ["--all-questions"] if not opts.first_question_only else []
        summary["command"] = "ASCEND_RT_VISIBLE_DEVICES=0 " + shlex.join(argv)
    return EvalResult(out_dir=out_dir, prompt=spec, summary=summary)


def _generate_set(backend: Backend, network, tokenizer, task: str, ids: list[str], prompts: list[str],
                  todo: list[int], max_new: int, min_new: int, batch_size: int | None, log: PartialPredictions,
                  progress: ProgressFn) -> None:
    total = len(ids)
    progress(task, total - len(todo), total)
    if not todo:
        return

    def on_done(indices: list[int], texts: list[str]) -> None:
        log.add((ids[todo[i]], text) for i, text in zip(indices, texts))
        progress(task, len(log.done), total)

    backend.generate(network, tokenizer, [prompts[i] for i in todo], max_new, min_new, batch_size, on_done)
    missing = [ids[i] for i in todo if ids[i] not in log.done]
    if missing:
        raise RuntimeError(f"generation returned no output for {len(missing)} {task} items (e.g. {missing[0]!r})")


# ------------------------------------------------------------------------------------ progress and resume
PROGRESS_FILE = "eval.progress.json"


def _partial_path(out_dir: Path, task: str) -> Path:
    return out_dir / f"{task}_predictions.partial.jsonl"


def _sha256(path: Path | None) -> str | None:
    return None if path is None else sha256_file(path)


def eval_settings(run_dir: Path, checkpoint: Path | None, opts: EvalOptions, spec: PromptSpec) -> dict:
    """Everything that decides the predictions (not the batch size: outputs do not depend on it, nor the
    scoring tolerances). A resumed eval must match it exactly."""
    return {
        "run_dir": str(Path(run_dir).resolve()),
        "checkpoint": str(Path(checkpoint).resolve()) if checkpoint else None,
        "merged": opts.merged,
        "prompt": spec.to_dict(),
        "math": str(Path(opts.math).resolve()) if opts.math else None, "math_sha256": _sha256(opts.math),
        "squad": str(Path(opts.squad).resolve()) if opts.squad else None, "squad_sha256": _sha256(opts.squad),
        "first_question_only": opts.first_question_only, "limit": opts.limit,
        "max_new_tokens": opts.max_new_tokens, "squad_max_new_tokens": opts.squad_max_new_tokens,
        "min_new_tokens": opts.min_new_tokens, "squad_min_new_tokens": opts.squad_min_new_tokens,
    }


def open_progress(out_dir: Path, settings: dict, resume: bool, ids: dict[str, list[str]],
                  status: Callable[[str], None]) -> dict[str, PartialPredictions]:
    """The per-set PartialPredictions of OUT_DIR. Without `resume` an interrupted eval there is refused (its
    predictions are not thrown away silently); with it, the recorded settings must equal these."""
    out_dir.mkdir(parents=True, exist_ok=True)
    progress_path = out_dir / PROGRESS_FILE
    partials = [p for p in (_partial_path(out_dir, t) for t in ("math", "squad")) if p.exists()]
    if progress_path.exists() or partials:
        if not resume:
            raise MathDataError(f"{out_dir}: holds an interrupted eval ({(partials or [progress_path])[0].name})",
                                "add --resume to continue it, or pass another --out")
        try:
            recorded = json.loads(progress_path.read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise MathDataError(f"{progress_path}: missing or damaged, cannot check the interrupted eval's settings",
                                "pass another --out (or delete the *.partial.jsonl files to start again)") from None
        changed = [k for k in sorted(set(recorded) | set(settings)) if recorded.get(k) != settings.get(k)]
        if changed:
            key = changed[0]
            raise MathDataError(f"{progress_path}: the interrupted eval used {key} = {recorded.get(key)!r}, "
                                f"this one {settings.get(key)!r}",
                                "resume with the same options, or pass another --out")
    else:
        write_json(progress_path, {"settings": settings})
    logs = {task: PartialPredictions(_partial_path(out_dir, task), task_ids) for task, task_ids in ids.items()}
    for task, log in logs.items():
        if log.done:
            status(f"resuming {task}: {len(log.done)} of {len(ids[task])} already done"
                   + (" (a line cut off by the interruption was dropped)" if log.repaired else ""))
    return logs


def finish_progress(out_dir: Path, logs: dict[str, PartialPredictions]) -> None:
    """After the final files and eval.json are written: the eval is complete, drop the resume state."""
    for task in logs:
        _partial_path(out_dir, task).unlink(missing_ok=True)
    (out_dir / PROGRESS_FILE).unlink(missing_ok=True)


def newest_checkpoint(run_dir: Path, merged: bool) -> Path | None:
    """The highest-step LoRA checkpoint (either runner's layout) or merged one (RUN_DIR/merged), or None.
    Resolved here and passed to the loader explicitly, so eval.json names exactly what was loaded."""
    from ..rundir import newest

    return newest(run_dir, "merged" if merged else "lora")


def _round_up(n: int, k: int) -> int:
    return (n + k - 1) // k * k
