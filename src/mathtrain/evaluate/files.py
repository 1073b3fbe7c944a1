"""Reading the evaluation inputs with errors that name the file and line; the append-only partial predictions."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from mathdata.errors import MathDataError


def read_jsonl(path: Path | str, required: Iterable[str] = ()) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for every non-blank line; bad lines raise MathDataError."""
    path = Path(path)
    required = tuple(required)
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise MathDataError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise MathDataError(f"{path}: is a directory, expected a JSONL file", "pass the file itself") from None
    with handle:
        lineno = 0
        try:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise MathDataError(f"{path}:{lineno}: not valid JSON ({err.msg})",
                                        "each line must be one JSON object") from None
                if not isinstance(obj, dict):
                    raise MathDataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}",
                                        "each line must be one JSON object")
                missing = [key for key in required if key not in obj]
                if missing:
                    raise MathDataError(f"{path}:{lineno}: missing field {', '.join(map(repr, missing))}",
                                        f"every line needs {', '.join(required)}")
                yield lineno, obj
        except UnicodeDecodeError:
            raise MathDataError(f"{path}:{lineno + 1}: not UTF-8 text", "save the file as UTF-8") from None


def load_predictions(path: Path | str) -> dict[str, str]:
    """`{"id", "prediction"}` lines -> {id: prediction}; null prediction -> ""; duplicate ids refused."""
    preds: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for lineno, obj in read_jsonl(path, ("id", "prediction")):
        pid = str(obj["id"])
        if pid in preds:
            raise MathDataError(f"{path}:{lineno}: duplicate id {pid!r} (first on line {first_seen[pid]})",
                                "keep one prediction per id")
        pred = obj["prediction"]
        if pred is not None and not isinstance(pred, str):
            raise MathDataError(f"{path}:{lineno}: prediction for id {pid!r} is {type(pred).__name__}, not text",
                                "write the model's output as a string")
        preds[pid] = pred or ""
        first_seen[pid] = lineno
    return preds


def check_ids(pred_path: Path | str, ref_path: Path | str, pred_ids: Iterable[str], ref_ids: list[str]) -> None:
    """Every reference needs a prediction and every prediction a reference; else one clear error."""
    pred_set = set(pred_ids)
    ref_set = set(ref_ids)
    missing = [i for i in ref_ids if i not in pred_set]
    extra = sorted(pred_set - ref_set)
    if not missing and not extra:
        return
    parts = [f"{len(pred_set)} predictions in {pred_path} vs {len(ref_set)} references in {ref_path}"]
    if missing:
        parts.append(f"{len(missing)} reference ids have no prediction (e.g. {', '.join(map(repr, missing[:3]))})")
    if extra:
        parts.append(f"{len(extra)} prediction ids are not in the references (e.g. {', '.join(map(repr, extra[:3]))})")
    raise MathDataError("; ".join(parts), "predict every reference id exactly once, with the same ids")


class PartialPredictions:
    """Predictions appended as they are produced: one `{"id", "prediction"}` line per item, flushed and
    fsync'ed after every batch, so a killed eval loses at most the batch in flight.

    The file has its own name (`math_predictions.partial.jsonl`), never the final one: `mathtrain score`
    cannot be pointed at half an eval by mistake. On reopening (`--resume`) a last line cut off by the kill
    (no newline, or not JSON) is dropped from the file; a damaged line before it is an error."""

    def __init__(self, path: Path | str, known_ids: Iterable[str]):
        self.path = Path(path)
        self.known = set(known_ids)
        self.done: dict[str, str] = {}
        self.repaired = False
        if self.path.exists():
            self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        data = self.path.read_bytes()
        good = 0  # byte offset after the last complete, valid line
        lines = data.split(b"\n")
        for lineno, raw in enumerate(lines[:-1], 1):  # lines[-1]: after the last newline, a cut-off line or b""
            try:
                obj = json.loads(raw.decode("utf-8"))
                ok = isinstance(obj, dict) and isinstance(obj.get("id"), str) and isinstance(obj.get("prediction"), str)
            except (UnicodeDecodeError, json.JSONDecodeError):
                ok = False
            if not ok:  # a kill cuts a line before its newline; a complete line that is not JSON is damage
                raise MathDataError(f"{self.path}:{lineno}: damaged prediction line",
                                    "delete the --out directory's *.partial.jsonl to start this set again")
            if obj["id"] not in self.known:
                raise MathDataError(f"{self.path}:{lineno}: id {obj['id']!r} is not in this eval set",
                                    "resume with the same eval files and --limit, or use another --out")
            self.done[obj["id"]] = obj["prediction"]
            good += len(raw) + 1
        if good != len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(good)
            self.repaired = True

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        for pid, prediction in items:
            self._fh.write(json.dumps({"id": pid, "prediction": prediction}, ensure_ascii=False) + "\n")
            self.done[pid] = prediction
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
