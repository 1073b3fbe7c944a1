"""The file names of an imported model folder (MODEL_DIR) and the reader of its model.yaml; shared by
model_dir.py (which writes the folder) and check.py (which loads it back), so neither imports the other."""
from __future__ import annotations

from pathlib import Path

import yaml

from mathdata.errors import MathDataError

MODEL_YAML, MODEL_CKPT, TOKENIZER_JSON, IMPORT_JSON = "model.yaml", "model.ckpt", "tokenizer.json", "import.json"


def read_model_yaml(model_dir: Path | str) -> dict:
    model_dir = Path(model_dir)
    path = model_dir / MODEL_YAML
    if not path.is_file():
        raise MathDataError(f"{model_dir}: not an imported model folder (no {MODEL_YAML})",
                            "pass the --out folder of `mathtrain import`")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "hidden_size" not in data:
        raise MathDataError(f"{path}: not a LlamaConfig mapping", "re-import the model with `mathtrain import`")
    return data


def logs_dir(model_dir: Path | str) -> Path:
    """Where MindFormers' logs go while MODEL_DIR is written or loaded: a dot-folder beside it, removed after."""
    model_dir = Path(model_dir)
    return model_dir.resolve().parent / f".{model_dir.name}.mindformers-logs"


def remove_logs(model_dir: Path | str) -> None:
    import shutil

    shutil.rmtree(logs_dir(model_dir), ignore_errors=True)
