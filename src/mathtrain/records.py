"""`mathdata build` output -> tokenised MindRecord (int32 `input_ids`, `labels`, both seq_length + 1 long).

Tokenising follows MindFormers' own Llama preprocessing: the prompt (vicuna_v1.1 wrapped, taken from the
prompt spec recorded in the build manifest) and padding are labelled -100, so the loss covers the answer
only; the model shifts inputs and labels itself. A hash of (input file, prompt spec, tokenizer file,
seq_length, format version) keys the output: unchanged inputs reuse the MindRecord instead of rewriting it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mathdata.errors import MathDataError
from mathdata.io import write_json as write_json_atomic  # the project's atomic JSON writer
from mathdata.prompts import PromptSpec

FORMAT_VERSION = 1
IGNORE = -100
RECORD_FILE = "train.mindrecord"
MARKER = "records.json"


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str  # the exact text the model sees before answering
    answer: str  # the text the loss is computed on (ends with the chat's end-of-turn)


@dataclass(frozen=True)
class RecordSet:
    path: str  # the .mindrecord file
    key: str
    samples: int
    truncated: int  # longer than seq_length + 1: cut (answer partly kept)
    dropped: int  # prompt alone fills seq_length + 1: no answer token left, not written
    tokens: int  # non-padding tokens written
    answer_tokens: int
    seq_length: int
    reused: bool = False


def read_manifest(build_dir: Path) -> dict:
    path = build_dir / "manifest.json"
    if not build_dir.is_dir():
        raise MathDataError(f"{build_dir}: no such data directory", "pass --data BUILD_DIR made by `mathdata build`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MathDataError(f"{path}: missing", "run `mathdata build` to produce the data directory") from None
    except json.JSONDecodeError as err:
        raise MathDataError(f"{path}: not valid JSON ({err})", "rebuild the data with `mathdata build`") from None
    if not isinstance(manifest, dict) or "prompt" not in manifest:
        raise MathDataError(f"{path}: no `prompt` entry", "rebuild the data with a current `mathdata build`")
    return manifest


def input_file(build_dir: Path) -> Path:
    for name in ("train.jsonl", "train_conversations.json"):
        if (build_dir / name).is_file():
            return build_dir / name
    raise MathDataError(f"{build_dir}: neither train.jsonl nor train_conversations.json found",
                        "run `mathdata build` to produce the data directory")


def read_examples(build_dir: Path) -> tuple[PromptSpec, list[Example]]:
    """Training examples with prompt/answer split by the manifest's prompt spec."""
    build_dir = Path(build_dir)
    spec = PromptSpec.from_dict(read_manifest(build_dir)["prompt"], where=str(build_dir / "manifest.json"))
    path = input_file(build_dir)
    examples = list(_jsonl_examples(path, spec) if path.suffix == ".jsonl" else _conversation_examples(path, spec))
    if not examples:
        raise MathDataError(f"{path}: no training records", "the build produced an empty training set")
    return spec, examples


def _jsonl_examples(path: Path, spec: PromptSpec) -> Iterator[Example]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                problem, solution = rec["problem"], rec["solution"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise MathDataError(f"{path}:{lineno}: bad record ({err})",
                                    'each line must be {"id", "category", "problem", "solution"}') from None
            prompt, answer = spec.training_parts(str(problem), str(solution))
            yield Example(str(rec.get("id", lineno)), prompt, answer)


def _conversation_examples(path: Path, spec: PromptSpec) -> Iterator[Example]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise MathDataError(f"{path}: not valid JSON ({err})", "rebuild the data with `mathdata build`") from None
    # The human turn is already applied in this file: wrap it with the chat template only.
    turn_spec = PromptSpec(name=spec.name, human="{problem}", chat=spec.chat)
    for i, rec in enumerate(data if isinstance(data, list) else []):
        try:
            turns = rec["conversations"]
            human = next(t["value"] for t in turns if t["from"] == "human")
            gpt = next(t["value"] for t in turns if t["from"] == "gpt")
        except (KeyError, TypeError, StopIteration):
            raise MathDataError(f"{path}: record {i} lacks a human and a gpt turn",
                                "rebuild the data with `mathdata build`") from None
        prompt, answer = turn_spec.training_parts(human, gpt)
        yield Example(str(rec.get("id", i)), prompt, answer)


def tokenize_example(tokenizer, ex: Example, seq_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) before padding/truncation. The prompt is tokenised together with the answer (as
    MindFormers does with a whole conversation) and split at the prompt's own token count, so the answer's
    first token is the one the model produces at generation time."""
    prompt_ids = tokenizer.encode(ex.prompt)  # with <s>
    full = tokenizer.encode(ex.prompt + ex.answer)
    if full[: len(prompt_ids)] == prompt_ids:
        answer_ids = full[len(prompt_ids):]
    else:  # the tokenizer merged across the boundary: tokenise the answer on its own
        answer_ids = tokenizer.encode(ex.answer, add_special_tokens=False)
    ids = list(prompt_ids) + list(answer_ids)
    labels = [IGNORE] * len(prompt_ids) + list(answer_ids)
    return ids, labels


def pad_or_truncate(ids: list[int], labels: list[int], length: int, pad_id: int) -> tuple[np.ndarray, np.ndarray, bool]:
    truncated = len(ids) > length
    ids, labels = ids[:length], labels[:length]
    pad = length - len(ids)
    return (np.array(ids + [pad_id] * pad, dtype=np.int32),
            np.array(labels + [IGNORE] * pad, dtype=np.int32), truncated)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def records_key(build_dir: Path, tokenizer_path: str, tokenizer_type: str, seq_length: int) -> str:
    build_dir = Path(build_dir)
    spec = read_manifest(build_dir)["prompt"]
    parts = {"format": FORMAT_VERSION, "input": file_sha256(input_file(build_dir)), "prompt": spec,
             "tokenizer": file_sha256(Path(tokenizer_path)), "tokenizer_type": tokenizer_type,
             "seq_length": seq_length}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def build_records(build_dir: Path, tokenizer, tokenizer_path: str, tokenizer_type: str, seq_length: int,
                  out_dir: Path) -> RecordSet:
    """Write (or reuse) out_dir/train.mindrecord. `records.json` is written last, atomically: it is the
    completion marker, so an interrupted write is never reused."""
    from mindspore.mindrecord import FileWriter

    out_dir = Path(out_dir)
    key = records_key(build_dir, tokenizer_path, tokenizer_type, seq_length)
    marker = out_dir / MARKER
    if marker.is_file() and (out_dir / RECORD_FILE).is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old.get("key") == key:
            return RecordSet(**{**old, "path": str(out_dir / RECORD_FILE), "reused": True})
    _, examples = read_examples(build_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    length = seq_length + 1
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows, truncated, dropped, tokens, answer_tokens = [], 0, 0, 0, 0
    for ex in examples:
        ids, labels = tokenize_example(tokenizer, ex, seq_length)
        input_ids, label_arr, cut = pad_or_truncate(ids, labels, length, pad_id)
        # the model scores label[t] for t >= 1 (it shifts by one): need one answer label past position 0
        if not (label_arr[1:] != IGNORE).any():
            dropped += 1
            continue
        truncated += cut
        tokens += min(len(ids), length)
        answer_tokens += int((label_arr != IGNORE).sum())
        rows.append({"input_ids": input_ids, "labels": label_arr})
    if not rows:
        raise MathDataError(f"every sample's prompt fills seq_length + 1 = {length} tokens",
                            "raise [train].seq_length in the config")
    path = out_dir / RECORD_FILE
    writer = FileWriter(str(path), shard_num=1, overwrite=True)
    writer.add_schema({"input_ids": {"type": "int32", "shape": [-1]}, "labels": {"type": "int32", "shape": [-1]}},
                      "mathtrain")
    for start in range(0, len(rows), 4096):
        writer.write_raw_data(rows[start:start + 4096])
    writer.commit()
    result = RecordSet(path=str(path), key=key, samples=len(rows), truncated=truncated, dropped=dropped,
                       tokens=tokens, answer_tokens=answer_tokens, seq_length=seq_length)
    write_json_atomic(marker, {k: v for k, v in asdict(result).items() if k not in ("path", "reused")})
    return result


def load_records(path: str) -> tuple[np.ndarray, np.ndarray]:
    """All samples as two int32 arrays [n, seq_length + 1], in file order."""
    import mindspore.dataset as ds

    data = ds.MindDataset(path, columns_list=["input_ids", "labels"], shuffle=False)
    ids, labels = [], []
    for row in data.create_tuple_iterator(output_numpy=True, num_epochs=1):
        ids.append(row[0])
        labels.append(row[1])
    return np.stack(ids).astype(np.int32), np.stack(labels).astype(np.int32)

