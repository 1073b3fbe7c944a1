"""`mathtrain import`, `mathtrain generate`, `mathtrain compare`: pretrained models in, greedy text out, recipes compared."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from mathdata.cli_output import emit_json, library_output_to_stderr

from .app import JsonOpt, QuietOpt, app
from .runtime import is_quiet


@app.command("import")
def import_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="MODEL_DIR to create (must not exist or be empty)."),
    gguf: Optional[Path] = typer.Option(None, "--gguf", help="A llama-architecture .gguf file (any llama.cpp "
                                        "quantization the gguf package dequantizes)."),
    hf: Optional[Path] = typer.Option(None, "--hf", help="A Hugging Face Llama folder: config.json, "
                                      "*.safetensors, tokenizer.json."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip the logits check (numpy reference forward vs "
                                  "MindFormers on the written checkpoint)."),
    quiet: bool = QuietOpt,
    json_out: Optional[str] = JsonOpt,
) -> None:
    """Turn a pretrained Llama into a MindFormers model folder (model.yaml, model.ckpt, tokenizer.json, import.json)."""
    from mathdata.progress import Steps

    from .importer import STEPS, import_model
    from .importer.layout import logs_dir, remove_logs
    from .runtime import use_output_dir

    use_output_dir(logs_dir(out))
    silent = quiet or json_out == "-"
    try:
        with Steps(list(STEPS), quiet=silent) as steps, library_output_to_stderr(is_quiet()):
            info = import_model(out, gguf=gguf, hf=hf, check=not no_check, steps=steps)
    finally:
        remove_logs(out)
    console = Console(quiet=silent, highlight=False)
    arch = info["architecture"]
    console.print(f"imported {info['parameters']:,} parameters: {arch['num_layers']} layers, hidden "
                  f"{arch['hidden_size']}, heads {arch['num_heads']}/{arch['n_kv_heads']}, vocab {arch['vocab_size']:,}"
                  f"{', tied embeddings' if arch.get('tie_word_embeddings') else ''} -> {out}")
    check = info.get("logits_check")
    if check:
        console.print(f"logits check: max |MindFormers - numpy reference| = {check['max_abs_diff_last']:.3g} "
                      f"(last position), top-1 {check['top5_mindformers'][0]} vs {check['top5_reference'][0]}")
    emit_json(json_out, info)


@app.command()
def generate(
    prompt: str = typer.Option(..., "--prompt", "-p", help="The prompt text."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="MODEL_DIR written by `mathtrain import`."),
    run_dir: Optional[Path] = typer.Option(None, "--run", "-r", help="RUN_DIR of a `mathtrain run` (base model + "
                                           "its newest LoRA checkpoint; the prompt is wrapped in the run's "
                                           "training prompt unless --raw)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", "-n", min=1, help="Stop after N new tokens "
                                       "(or at the EOS id)."),
    chat: bool = typer.Option(False, "--chat", help="With --model: wrap the prompt as a chatml user turn "
                              "(<|im_start|>user ... <|im_start|>assistant)."),
    raw: bool = typer.Option(False, "--raw", help="With --run: use the prompt text as is."),
    quiet: bool = QuietOpt,
    json_out: Optional[str] = typer.Option(None, "--json", help="Write {input_ids, new_ids, text} to FILE "
                                           "('-' for stdout)."),
) -> None:
    """Greedy generation from an imported model or a trained run; stops at the model's EOS id."""
    from .generation import generate_one

    with library_output_to_stderr(is_quiet()):
        gen = generate_one(prompt, model=model, run_dir=run_dir, max_new_tokens=max_new_tokens, chat=chat, raw=raw)
    console = Console(quiet=quiet or json_out == "-", highlight=False)
    console.print(gen["text"], markup=False)
    emit_json(json_out, gen)


@app.command()
def compare(
    config: Path = typer.Option(..., "--config", "-c", help="mathtrain TOML of the model every recipe trains "
                                "(needs [model].checkpoint: the base model is evaluated too)."),
    recipe: list[str] = typer.Option(..., "--recipe", help="NAME=BUILD_DIR (a `mathdata build` folder); repeat "
                                     "for each recipe."),
    eval_set: Path = typer.Option(..., "--eval", help="Held-out eval JSONL (id, category, problem, solution)."),
    out: Path = typer.Option(..., "--out", "-o", help="OUT folder: runs/, eval/, compare.json, compare.html."),
    seeds: int = typer.Option(2, "--seeds", min=1, help="Runs per recipe, seeds [run].seed, +1, ..."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Steps per run (default [train].max_steps, "
                                        "else the smallest build's epochs x steps per epoch)."),
    eval_prompt: list[str] = typer.Option([], "--eval-prompt", help="NAME=PROMPT: evaluate recipe NAME with "
                                          "another prompt from rules/prompts.toml (as the seed did)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", "-n", min=1, help="Greedy tokens per answer."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N eval items."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Eval rows per forward."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted compare in OUT (finished runs "
                                "and evaluations are kept)."),
    quiet: bool = QuietOpt,
    json_out: Optional[str] = JsonOpt,
) -> None:
    """Train the same model on each recipe with the same budget, evaluate every run and the base model on the
    same eval set, and report accuracy overall and per category."""
    from .compare.plan import parse_recipes
    from .compare.report import terminal_table
    from .compare.run import run_compare

    recipes = parse_recipes(recipe, eval_prompt)
    silent = quiet or json_out == "-"
    err = Console(stderr=True, quiet=silent, highlight=False)
    display = _CompareProgress(err) if not silent else None
    try:
        doc = run_compare(config, recipes, eval_set, out, seeds=seeds, steps=steps, max_new_tokens=max_new_tokens,
                          limit=limit, batch_size=batch_size, resume=resume, on_event=display)
    finally:
        if display is not None:
            display.stop()
    console = Console(quiet=silent, highlight=False)
    if not console.is_terminal:
        console = Console(quiet=silent, highlight=False, width=200)  # a file / pipe: do not squeeze the columns
    console.print(terminal_table(doc))
    console.print(f"wrote {Path(out) / 'compare.json'} and {Path(out) / 'compare.html'}")
    emit_json(json_out, doc)


class _CompareProgress:
    """One line per finished piece, a live bar for the current training / evaluation."""

    def __init__(self, console: Console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), console=console,
                                 transient=True)
        self.task = None
        self.progress.start()

    def __call__(self, kind: str, info: dict) -> None:
        p = self.progress
        if kind in ("train_start", "eval_start"):
            if self.task is not None:
                p.remove_task(self.task)
            total = info.get("steps") or info.get("items")
            self.task = p.add_task(f"{'train' if kind == 'train_start' else 'eval'} {info['key']}", total=total,
                                   extra="")
        elif kind == "train_progress" and self.task is not None:
            loss = info.get("loss")
            p.update(self.task, completed=info["done"], extra=f"loss {loss:.4f}" if loss is not None else "")
        elif kind == "eval_progress" and self.task is not None:
            p.update(self.task, completed=info["done"])
        elif kind == "train_finished":
            r = info["result"]
            self.console.print(f"trained {info['key']}: {r['steps']} steps, loss {r['first_loss']:.4f} -> "
                               f"{r['last_loss']:.4f}, {r['tokens_per_s']:,.0f} tokens/s")
        elif kind == "eval_finished":
            r = info["result"]
            self.console.print(f"generated {info['key']}: {r['new_tokens']:,} new tokens in {r['generate_s']:.0f} s")
        elif kind == "eval_done":
            self.console.print(f"evaluated {info['key']}: {info['accuracy']:.1%} ({info['correct']}/{info['total']})")
        elif kind in ("train_reused", "eval_reused"):
            self.console.print(f"kept {info['key']} from the earlier compare")

    def stop(self) -> None:
        self.progress.stop()
