"""`mathtrain eval`: generate with a trained run on a math eval set and/or SQuAD, save, and score.

Prompts:
- math: exactly the PromptSpec the training data was built with (`mathdata build` records it in the
  build's manifest.json; `mathtrain run` copies it into RUN_DIR/run.json). Asking for another prompt
  (`prompt_name`) is refused unless `force_prompt`, which then takes that prompt from rules/prompts.toml.
- SQuAD: the contest's fixed reading-comprehension prompt (`squad_data.SQUAD_PROMPT`), fed as is, as the
  contest's evaluation did.

Generation is greedy (MindFormers' `generate`, do_sample False). The model's maximum length is raised to
fit the longest prompt plus the new tokens when the training seq_length is too short.

Outputs in OUT_DIR (all written atomically):
  math_predictions.jsonl / squad_predictions.jsonl   {"id", "prediction"} -- readable by `mathtrain score`
  math_scores.json / squad_scores.json               what `mathtrain score math|squad --json` writes
  eval.json                                          run, checkpoint, prompt used, settings, summaries
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from mathdata.errors import MathDataError
from mathdata.prompts import PromptSpec, load_prompts

from . import contest as contest_lib
from .files import write_json, write_jsonl
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


@dataclass
class Backend:
    """How to load and run a model; the default is mathtrain.infer (MindFormers). Tests may swap it."""
    load_tokenizer: Callable[[dict], object]
    load_model: Callable[..., tuple]     # (run_dir, checkpoint, merged, seq_length) -> (net, tok, spec, info)
    generate: Callable[[object, object, list[str], int], list[str]]


def default_backend() -> Backend:
    from ..infer import generate, load_for_inference
    from ..tokenizer import load_tokenizer

    def tokenizer_of(run_info: dict):
        tok = run_info["config"]["tokenizer"]
        return load_tokenizer(tok["type"], tok["path"])

    def load_model(run_dir, checkpoint, merged, seq_length):
        return load_for_inference(run_dir, checkpoint=checkpoint, merged=merged, seq_length=seq_length)

    return Backend(tokenizer_of, load_model, generate)


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

    backend = backend or default_backend()
    status("loading tokenizer")
    tokenizer = backend.load_tokenizer(info)
    longest = max([len(tokenizer.encode(p)) + opts.max_new_tokens for p in math_prompts]
                  + [len(tokenizer.encode(p)) + opts.squad_max_new_tokens for p in squad_prompts])
    trained_len = int(info.get("model_config", {}).get("seq_length") or 0)
    seq_length = max(trained_len, _round_up(longest, 32))
    checkpoint = opts.checkpoint or newest_checkpoint(run_dir, opts.merged)
    status(f"loading model (seq_length {seq_length}, {Path(checkpoint).name if checkpoint else 'default checkpoint'})")
    started = time.perf_counter()
    network, tokenizer, _, _ = backend.load_model(run_dir, checkpoint, opts.merged, seq_length)

    out_dir.mkdir(parents=True, exist_ok=True)
    result = EvalResult(out_dir=out_dir, prompt=spec)
    summary: dict = {
        "run_dir": str(run_dir), "checkpoint": str(checkpoint) if checkpoint else None, "merged": opts.merged,
        "prompt": spec.to_dict(), "trained_prompt": trained.to_dict(), "prompt_forced": spec != trained,
        "max_new_tokens": opts.max_new_tokens, "squad_max_new_tokens": opts.squad_max_new_tokens,
        "limit": opts.limit, "seq_length": seq_length, "warnings": warnings,
    }
    if refs:
        outputs = _generate_all(backend, network, tokenizer, math_prompts, opts.max_new_tokens, "math", progress)
        preds = {r.id: out for r, out in zip(refs, outputs)}
        write_jsonl(out_dir / "math_predictions.jsonl", [{"id": r.id, "prediction": preds[r.id]} for r in refs])
        result.math = score_math(preds, refs, rel_tol=opts.rel_tol, abs_tol=opts.abs_tol,
                                 category_order=category_order(opts.rules_dir))
        write_json(out_dir / "math_scores.json", result.math.to_dict())
        summary["math"] = {"file": str(opts.math), "total": result.math.total, "correct": result.math.correct,
                           "accuracy": result.math.accuracy, "example_prompt": math_prompts[0]}
    if examples:
        outputs = _generate_all(backend, network, tokenizer, squad_prompts, opts.squad_max_new_tokens, "squad",
                                progress)
        preds = {ex.id: out for ex, out in zip(examples, outputs)}
        write_jsonl(out_dir / "squad_predictions.jsonl",
                    [{"id": ex.id, "prediction": preds[ex.id]} for ex in examples])
        result.squad = score_squad(preds, examples)
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
    result.summary = summary
    return result


def _generate_all(backend: Backend, network, tokenizer, prompts: list[str], max_new: int, task: str,
                  progress: ProgressFn) -> list[str]:
    outputs = []
    progress(task, 0, len(prompts))
    for i, prompt in enumerate(prompts, 1):
        out = backend.generate(network, tokenizer, [prompt], max_new)
        outputs.append(out[0] if out else "")
        progress(task, i, len(prompts))
    return outputs


def newest_checkpoint(run_dir: Path, merged: bool) -> Path | None:
    """The highest-step LoRA checkpoint (either runner's layout) or merged one (RUN_DIR/merged), or None.
    Resolved here and passed to the loader explicitly, so eval.json names exactly what was loaded."""
    from ..rundir import newest

    return newest(run_dir, "merged" if merged else "lora")


def _round_up(n: int, k: int) -> int:
    return (n + k - 1) // k * k
