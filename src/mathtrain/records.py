"""`mathdata build` output -> tokenised MindRecord (int32 `input_ids`, `labels`, both seq_length + 1 long).

Tokenising follows MindFormers' own Llama preprocessing (research/llama3/llama3_preprocess.py): a row is
BOS id, the prompt (vicuna_v1.1 wrapped, taken from the prompt spec recorded in the build manifest), the
answer, the tokenizer's EOS id, then pad ids; BOS, the prompt and padding are labelled -100, so the loss
covers the answer and its EOS only; the model shifts inputs and labels itself. Before anything is written the
tokenizer's BOS/EOS/pad ids are checked against the model config's bos_token_id/eos_token_id/pad_token_id,
and every id against its vocab_size. A hash of (input file, prompt spec, tokenizer file and specials,
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
from mathdata.io import read_json_file, sha256_file
from mathdata.io import write_json as write_json_atomic  # the project's atomic JSON writer
from mathdata.prompts import PromptSpec

FORMAT_VERSION = 2  # 2: the answer ends with the EOS id, not the text `</s>`
IGNORE = -100
RECORD_FILE = "train.mindrecord"
MARKER = "records.json"


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str  # the exact text the model sees before answering
    answer: str  # the text the loss is computed on (the tokenizer's EOS id follows it)


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
    max_id: int = -1  # the largest token id written (< the model's vocab_size)
    reused: bool = False


def read_manifest(build_dir: Path) -> dict:
    path = build_dir / "manifest.json"
    if not build_dir.is_dir():
        raise MathDataError(f"{build_dir}: no such data directory", "pass --data BUILD_DIR made by `mathdata build`")
    manifest = read_json_file(path, "rebuild the data with `mathdata build`", want_object=False,
                              not_found=(f"{path}: missing", "run `mathdata build` to produce the data directory"))
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
    data = read_json_file(path, "rebuild the data with `mathdata build`", want_object=False)
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


def tokenize_example(tokenizer, ex: Example, specials=None) -> tuple[list[int], list[int]]:
    """(input_ids, labels) before padding/truncation: [BOS] + prompt + answer + [EOS], labels -100 on BOS and
    the prompt. The prompt is tokenised together with the answer (as MindFormers tokenises a whole round) and
    split at the prompt's own token count, so the answer's first token is the one the model produces at
    generation time."""
    from .tokenizer import special_ids

    sp = specials or special_ids(tokenizer)
    prompt_ids = tokenizer.encode(ex.prompt, add_special_tokens=False)
    full = tokenizer.encode(ex.prompt + ex.answer, add_special_tokens=False)
    if full[: len(prompt_ids)] == prompt_ids:
        answer_ids = full[len(prompt_ids):]
    else:  # the tokenizer merged across the boundary: tokenise the answer on its own
        answer_ids = tokenizer.encode(ex.answer, add_special_tokens=False)
    answer_ids = list(answer_ids) + [sp.eos]
    ids = [sp.bos] + list(prompt_ids) + answer_ids
    labels = [IGNORE] * (1 + len(prompt_ids)) + answer_ids
    return ids, labels


# LlamaConfig's defaults for the keys a model config may leave out
LLAMA_DEFAULT_IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}


def check_specials(specials, model_config: dict, tokenizer_path: str, model_source: str = "the model config") -> None:
    """The tokenizer's BOS/EOS/pad ids must be the model config's: generation stops on eos_token_id, and
    MindFormers masks and pads with these ids. `model_source` names the [model].config file."""
    for name, key in (("BOS", "bos_token_id"), ("EOS", "eos_token_id"), ("pad", "pad_token_id")):
        got = getattr(specials, name.lower())
        want = model_config.get(key, LLAMA_DEFAULT_IDS[key])
        if got != want:
            unset = "" if key in model_config else " (unset: LlamaConfig's default)"
            raise MathDataError(f"{name} id {got} of [tokenizer].path {tokenizer_path} != {key} {want}{unset} "
                                f"of [model].config {model_source}",
                                f"set [tokenizer].{name.lower()} to the token whose id is {want}, or {key}: "
                                f"{got} in [model].config, or point [tokenizer].path/type at the model's own "
                                "tokenizer")
    check_vocab(max(specials.bos, specials.eos, specials.pad), model_config["vocab_size"], tokenizer_path,
                model_source)


def check_vocab(max_id: int, vocab_size: int, tokenizer_path: str, model_source: str = "the model config") -> None:
    """Every id must index a row of the embedding (on CPU a larger one aborts in Gather)."""
    if max_id >= vocab_size:
        raise MathDataError(f"token id {max_id} of [tokenizer].path {tokenizer_path} >= vocab_size {vocab_size} "
                            f"of [model].config {model_source}",
                            "use the model's own tokenizer ([tokenizer].type / path), or fix vocab_size in "
                            "[model].config")


def pad_or_truncate(ids: list[int], labels: list[int], length: int, pad_id: int) -> tuple[np.ndarray, np.ndarray, bool]:
    truncated = len(ids) > length
    ids, labels = ids[:length], labels[:length]
    pad = length - len(ids)
    return (np.array(ids + [pad_id] * pad, dtype=np.int32),
            np.array(labels + [IGNORE] * pad, dtype=np.int32), truncated)


def records_key(build_dir: Path, tokenizer_path: str, tokenizer_type: str, seq_length: int,
                specials=None) -> str:
    build_dir = Path(build_dir)
    spec = read_manifest(build_dir)["prompt"]
    parts = {"format": FORMAT_VERSION, "input": sha256_file(input_file(build_dir)), "prompt": spec,
             "tokenizer": sha256_file(Path(tokenizer_path)), "tokenizer_type": tokenizer_type,
             "seq_length": seq_length, "specials": asdict(specials) if specials is not None else None}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def build_records(build_dir: Path, tokenizer, tokenizer_path: str, tokenizer_type: str, seq_length: int,
                  out_dir: Path, model_config: dict | None = None,
                  model_source: str = "the model config") -> RecordSet:
    """Write (or reuse) out_dir/train.mindrecord. `records.json` is written last, atomically: it is the
    completion marker, so an interrupted write is never reused. With `model_config` (the LlamaConfig keys),
    the tokenizer's special ids and every written id are checked against it first (MathDataError naming
    the key)."""
    from mindspore.mindrecord import FileWriter

    from .tokenizer import special_ids

    out_dir = Path(out_dir)
    specials = special_ids(tokenizer)
    if model_config is not None:
        check_specials(specials, model_config, tokenizer_path, model_source)
    key = records_key(build_dir, tokenizer_path, tokenizer_type, seq_length, specials)
    marker = out_dir / MARKER
    if marker.is_file() and (out_dir / RECORD_FILE).is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old.get("key") == key:
            if model_config is not None:
                check_vocab(old.get("max_id", -1), model_config["vocab_size"], tokenizer_path, model_source)
            return RecordSet(**{**old, "path": str(out_dir / RECORD_FILE), "reused": True})
    _, examples = read_examples(build_dir)
    length = seq_length + 1
    pad_id = specials.pad
    rows, truncated, dropped, tokens, answer_tokens = [], 0, 0, 0, 0
    max_id = -1
    for ex in examples:
        ids, labels = tokenize_example(tokenizer, ex, specials)
        input_ids, label_arr, cut = pad_or_truncate(ids, labels, length, pad_id)
        # the model scores label[t] for t >= 1 (it shifts by one): need one answer label past position 0
        if not (label_arr[1:] != IGNORE).any():
            dropped += 1
            continue
        truncated += cut
        tokens += min(len(ids), length)
        answer_tokens += int((label_arr != IGNORE).sum())
        rows.append({"input_ids": input_ids, "labels": label_arr})
        max_id = max(max_id, int(input_ids.max()), int(label_arr.max()))
    if not rows:
        raise MathDataError(f"every sample's prompt fills seq_length + 1 = {length} tokens",
                            "raise [train].seq_length in the config")
    if model_config is not None:
        check_vocab(max_id, model_config["vocab_size"], tokenizer_path, model_source)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    path = out_dir / RECORD_FILE
    writer = FileWriter(str(path), shard_num=1, overwrite=True)
    writer.add_schema({"input_ids": {"type": "int32", "shape": [-1]}, "labels": {"type": "int32", "shape": [-1]}},
                      "mathtrain")
    for start in range(0, len(rows), 4096):
        writer.write_raw_data(rows[start:start + 4096])
    writer.commit()
    result = RecordSet(path=str(path), key=key, samples=len(rows), truncated=truncated, dropped=dropped,
                       tokens=tokens, answer_tokens=answer_tokens, seq_length=seq_length, max_id=max_id)
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

