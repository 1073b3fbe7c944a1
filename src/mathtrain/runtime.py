"""Process-wide MindSpore/MindFormers setup, kept in one place.

MindFormers writes logs and an adapter_config.json under `$LOCAL_DEFAULT_PATH` (default `./output`, i.e. the
caller's working directory); `use_output_dir` points it into the run directory instead. It must run before
mindformers is first imported to move the log files too.
"""
from __future__ import annotations

import os
from pathlib import Path


def use_output_dir(path: Path | str) -> None:
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["LOCAL_DEFAULT_PATH"] = str(path)
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ warnings off
    os.environ.setdefault("MS_SUBMODULE_LOG_v", "{ME:3}")


def default_output_dir() -> None:
    """Before a bare `import mindformers` (config checks, tokenizer loading): if no run directory was chosen,
    send MindFormers' import-time logs to a temp folder rather than ./output in the caller's directory."""
    import tempfile

    if "LOCAL_DEFAULT_PATH" not in os.environ:
        os.environ["LOCAL_DEFAULT_PATH"] = os.path.join(tempfile.gettempdir(), f"mathtrain-mindformers-{os.getuid()}")


def set_context(device: str, mode: str = "graph", seed: int | None = None) -> None:
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    ms.set_device("CPU" if device == "cpu" else "Ascend")
    if seed is not None:
        ms.set_seed(seed)
    quiet_mindformers()


def quiet_mindformers() -> None:
    """MindFormers logs INFO lines to stdout (they would mix with `--json -` and the progress display):
    keep its log files, but send only warnings and errors to stderr."""
    import logging
    import sys

    from mindformers.tools.logger import get_logger

    get_logger()  # created lazily; make sure it exists before adjusting its handlers
    for name, item in list(logging.Logger.manager.loggerDict.items()):
        if not name.startswith("mindformers") or not isinstance(item, logging.Logger):
            continue
        for handler in item.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stdout:
                handler.setStream(sys.stderr)
                handler.setLevel(logging.WARNING)


_QUIET = False


def silence_libraries() -> None:
    """`--quiet`: MindFormers, mindpet and MindSpore print INFO/WARNING lines to the terminal (some at import
    time, from loggers created later). Raise every console handler -- present and future -- to ERROR; the
    log files MindFormers keeps under RUN_DIR/mindformers/log are untouched."""
    import logging

    global _QUIET
    os.environ["GLOG_v"] = "3"  # MindSpore's C++ side: errors only
    if _QUIET:
        return
    _QUIET = True

    def quiet(handler: logging.Handler) -> None:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(max(handler.level, logging.ERROR))

    for item in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(item, "handlers", []):
            quiet(handler)
    if logging.lastResort is not None:
        logging.lastResort.setLevel(logging.ERROR)
    add_handler = logging.Logger.addHandler

    def add_quiet_handler(self, handler):
        quiet(handler)
        add_handler(self, handler)

    logging.Logger.addHandler = add_quiet_handler


def is_quiet() -> bool:
    return _QUIET
