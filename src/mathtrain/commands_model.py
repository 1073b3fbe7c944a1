"""`mathtrain import`, `mathtrain generate`, `mathtrain compare`: pretrained models in, greedy text out, recipes compared."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .cli import app
from .commands_train import JSON_HELP, QUIET_HELP, _emit_json, _library_output_to_stderr


@app.command("import")
def import_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="MODEL_DIR to create (must not exist or be empty)."),
    gguf: Optional[Path] = typer.Option(None, "--gguf", help="A llama-architecture .gguf file (any llama.cpp "
                                        "quantization the gguf package dequantizes)."),
    hf: Optional[Path] = typer.Option(None, "--hf", help="A Hugging Face Llama folder: config.json, "
                                      "*.safetensors, tokenizer.json."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip the logits check (numpy reference forward vs "
                                  "MindFormers on the written checkpoint)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    json_out: Optional[str] = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Turn a pretrained Llama into a MindFormers model folder (model.yaml, model.ckpt, tokenizer.json, import.json)."""
    from mathdata.progress import Steps

    from .importer import STEPS, import_model
    from .runtime import use_output_dir

    use_output_dir(Path(out).resolve().parent / f".{Path(out).name}.mindformers-logs")
    silent = quiet or json_out == "-"
    try:
        with Steps(list(STEPS), quiet=silent) as steps, _library_output_to_stderr():
            info = import_model(out, gguf=gguf, hf=hf, check=not no_check, steps=steps)
    finally:
        _cleanup_logs(Path(out))
    _cleanup_logs(Path(out))
    console = Console(quiet=silent, highlight=False)
    arch = info["architecture"]
    console.print(f"imported {info['parameters']:,} parameters: {arch['num_layers']} layers, hidden "
                  f"{arch['hidden_size']}, heads {arch['num_heads']}/{arch['n_kv_heads']}, vocab {arch['vocab_size']:,}"
                  f"{', tied embeddings' if arch.get('tie_word_embeddings') else ''} -> {out}")
    check = info.get("logits_check")
    if check:
        console.print(f"logits check: max |MindFormers - numpy reference| = {check['max_abs_diff_last']:.3g} "
                      f"(last position), top-1 {check['top5_mindformers'][0]} vs {check['top5_reference'][0]}")
    _emit_json(json_out, info)


def _cleanup_logs(out: Path) -> None:
    import shutil

    shutil.rmtree(out.resolve().parent / f".{out.name}.mindformers-logs", ignore_errors=True)
