"""Readers for the data formats people actually have, and atomic writers.

Accepted inputs: JSON Lines, a JSON array or pretty-printed JSON objects one after another (UTF-8,
with or without BOM), Parquet, CSV/TSV -- of records that carry a
problem and a solution field (names settable; common pairs are recognised), alpaca records
(`instruction` [+ `input`] / `output`), and MindFormers' `{"id", "conversations": [...]}` records.
Every record keeps its file and 1-based line (JSONL) or item number (JSON array) so errors and
reports can point at it.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl

from .errors import MathDataError

# Field pairs recognised when the user does not name the fields (first match on the first record).
KNOWN_FIELDS = [("problem", "solution"), ("question", "answer"), ("instruction", "output"),
                ("original_text", "ans"), ("Problem", "Solution"), ("query", "response")]
SCHEMA = {"source": pl.String, "line": pl.Int64, "problem": pl.String, "solution": pl.String,
          "equation": pl.String}
# Word-problem corpora (Ape210K, Math23K) carry the solving equation beside the answer; it is kept
# so that verification can re-solve those records too.
EQUATION_FIELD = "equation"


@dataclass
class LoadResult:
    frame: pl.DataFrame                  # source, line, problem, solution
    bad_lines: int = 0
    bad_examples: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)   # file -> "problem_field/solution_field"


class _Bad(Exception):
    pass


def _decode(path: Path, data: bytes) -> str:
    if not data.strip():
        raise MathDataError(f"{path}: file is empty", "point at a file with one JSON record per line")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise MathDataError(f"{path}:{line}: not valid UTF-8 (byte {data[err.start]:#04x})",
                            "convert the file to UTF-8, e.g. `iconv -f GBK -t UTF-8`") from None


def _pick_fields(obj: dict, problem_field: str | None, solution_field: str | None) -> tuple[str, str]:
    if problem_field or solution_field:
        return problem_field or "problem", solution_field or "solution"
    if "conversations" in obj:
        return "conversations", "conversations"
    for p, s in KNOWN_FIELDS:
        if p in obj and s in obj:
            return p, s
    return "problem", "solution"


def _extract(obj, pf: str, sf: str) -> tuple[str, str]:
    if not isinstance(obj, dict):
        raise _Bad(f"expected a JSON object, got {type(obj).__name__}")
    if pf == "conversations":
        turns = obj.get("conversations")
        if not isinstance(turns, list):
            raise _Bad("missing field 'conversations'")
        human = next((t.get("value") for t in turns if isinstance(t, dict) and t.get("from") in ("human", "user")), None)
        gpt = next((t.get("value") for t in turns if isinstance(t, dict) and t.get("from") in ("gpt", "assistant")), None)
        if not isinstance(human, str) or not isinstance(gpt, str):
            raise _Bad("conversations lack a human and a gpt turn")
        return human, gpt
    if pf not in obj:
        raise _Bad(f"missing field {pf!r} (fields: {', '.join(list(obj)[:8])})")
    if sf not in obj:
        raise _Bad(f"missing field {sf!r} (fields: {', '.join(list(obj)[:8])})")
    problem, solution = obj[pf], obj[sf]
    if pf == "instruction" and isinstance(obj.get("input"), str) and obj["input"].strip():
        problem = f"{problem}\n{obj['input']}"
    if isinstance(problem, (int, float)) and not isinstance(problem, bool):
        problem = str(problem)
    if isinstance(solution, (int, float)) and not isinstance(solution, bool):
        solution = str(solution)
    if not isinstance(problem, str) or not isinstance(solution, str):
        raise _Bad(f"fields {pf!r}/{sf!r} must be text")
    if not problem.strip():
        raise _Bad(f"empty {pf!r}")
    return problem, solution


def _records(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """(line or item number, parsed object or the error message) for each record."""
    if text.lstrip()[:1] == "[":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise MathDataError(f"{path}:{err.lineno}: malformed JSON array: {err.msg}",
                                "fix the JSON, or convert the file to JSON Lines") from None
        for i, item in enumerate(items, 1):
            yield i, item
        return
    first = next((ln for ln in text.split("\n", 50) if ln.strip()), "")
    if first.strip().startswith("{") and not _parses(first):
        yield from _json_stream(path, text)  # pretty-printed objects one after another (Math23K style)
        return
    for i, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as err:
            yield i, _Bad(f"malformed JSON: {err.msg}")


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except json.JSONDecodeError:
        return False


def _json_stream(path: Path, text: str) -> Iterator[tuple[int, object]]:
    decoder, pos, line = json.JSONDecoder(), 0, 1
    while True:
        start = pos
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= len(text):
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise MathDataError(f"{path}:{text.count(chr(10), 0, err.pos) + 1}: malformed JSON: {err.msg}",
                                "fix the JSON, or convert the file to JSON Lines") from None
        yield line, obj
        line += text.count("\n", pos, end)
        pos = end


def _read_table(path: Path, problem_field, solution_field) -> tuple[pl.DataFrame, str, str]:
    """Parquet (e.g. Hugging Face data sets) and CSV/TSV; `line` is the row number (CSV: file line)."""
    try:
        if path.suffix == ".parquet":
            df, offset = pl.read_parquet(path), 1
        else:
            df, offset = pl.read_csv(path, separator="\t" if path.suffix == ".tsv" else ",",
                                     infer_schema=False), 2
    except Exception as err:  # polars' own messages name the problem well enough
        raise MathDataError(f"{path}: cannot read as {path.suffix[1:]}: {str(err).splitlines()[0]}",
                            "check the file format") from None
    if df.height == 0:
        raise MathDataError(f"{path}: file is empty", "point at a file with records")
    pf, sf = _pick_fields(dict.fromkeys(df.columns), problem_field, solution_field)
    for f in (pf, sf):
        if f not in df.columns:
            raise MathDataError(f"{path}: no column {f!r} (columns: {', '.join(df.columns[:8])})",
                                "name the columns with --problem-field/--solution-field")
    df = df.select(problem=pl.col(pf).cast(pl.String), solution=pl.col(sf).cast(pl.String),
                   equation=_equation_col(df.columns))
    return df.with_row_index("line", offset=offset).with_columns(pl.col("line").cast(pl.Int64)), pf, sf


def _equation_col(columns) -> pl.Expr:
    return pl.col(EQUATION_FIELD).cast(pl.String) if EQUATION_FIELD in columns else pl.lit(None, dtype=pl.String)


def _fast_jsonl(path: Path, data: bytes, text: str, pf: str, sf: str) -> pl.DataFrame | None:
    """polars' reader for clean JSON Lines (no blank lines); None means 'use the careful path'."""
    if pf == "conversations" or pf == "instruction" or "\n\n" in text or "\r" in text or text.lstrip()[:1] == "[":
        return None
    try:
        df = pl.read_ndjson(io.BytesIO(data[3:] if data.startswith(b"\xef\xbb\xbf") else data),
                            infer_schema_length=None)
    except Exception:
        return None
    if pf not in df.columns or sf not in df.columns:
        return None
    df = df.select(problem=pl.col(pf), solution=pl.col(sf), equation=_equation_col(df.columns))
    if df.schema["problem"] != pl.String or df.schema["solution"] not in (pl.String, pl.Int64, pl.Float64):
        return None
    df = df.with_columns(pl.col("solution").cast(pl.String))
    if df.select((pl.col("problem").is_null() | pl.col("solution").is_null()
                  | (pl.col("problem").str.strip_chars() == "")).any()).item():
        return None
    return df.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64), source=pl.lit(str(path)))


def read_records(paths: list[Path | str], problem_field: str | None = None, solution_field: str | None = None,
                 skip_bad: bool = False) -> LoadResult:
    """Read every file into one frame. A bad record stops with a one-line error naming file and line,
    unless `skip_bad`, when it is counted in `bad_lines` and the first few are kept as examples."""
    frames, result = [], LoadResult(frame=pl.DataFrame(schema=SCHEMA))
    for path in map(Path, paths):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MathDataError(f"{path}: no such file", "check the path") from None
        except IsADirectoryError:
            raise MathDataError(f"{path}: is a directory", "pass the data file itself") from None
        if path.suffix in (".parquet", ".csv", ".tsv"):
            table, pf, sf = _read_table(path, problem_field, solution_field)
            result.fields[str(path)] = f"{pf}/{sf}"
            bad = table.filter(pl.col("problem").is_null() | (pl.col("problem").str.strip_chars() == "")
                               | pl.col("solution").is_null())
            if bad.height and not skip_bad:
                raise MathDataError(f"{path}:{bad['line'][0]}: empty or missing {pf!r}/{sf!r}",
                                    "fix or remove that record, or pass --skip-bad to skip bad records")
            result.bad_lines += bad.height
            result.bad_examples += [f"{path}:{n}: empty or missing {pf!r}/{sf!r}" for n in bad["line"].head(20)]
            frames.append(table.join(bad.select("line"), on="line", how="anti")
                          .with_columns(source=pl.lit(str(path))).select(list(SCHEMA)))
            continue
        text = _decode(path, data)
        # A JSON array is parsed once; JSON Lines are streamed (and usually read by polars instead).
        parsed = list(_records(path, text)) if text.lstrip()[:1] == "[" else None
        first = next(((n, o) for n, o in (parsed or _records(path, text)) if isinstance(o, dict)), None)
        pf, sf = _pick_fields(first[1] if first else {}, problem_field, solution_field)
        result.fields[str(path)] = f"{pf}/{sf}"
        fast = _fast_jsonl(path, data, text, pf, sf)
        if fast is not None:
            frames.append(fast.select(list(SCHEMA)))
            continue
        rows: dict[str, list] = {"line": [], "problem": [], "solution": [], "equation": []}
        for n, obj in parsed if parsed is not None else _records(path, text):
            try:
                if isinstance(obj, _Bad):
                    raise obj
                problem, solution = _extract(obj, pf, sf)
            except _Bad as bad:
                where = f"{path}:{n}: {bad}"
                if not skip_bad:
                    raise MathDataError(where, "fix or remove that record, or pass --skip-bad to skip bad records") from None
                result.bad_lines += 1
                if len(result.bad_examples) < 20:
                    result.bad_examples.append(where)
                continue
            rows["line"].append(n)
            rows["problem"].append(problem)
            rows["solution"].append(solution)
            eq = obj.get(EQUATION_FIELD) if isinstance(obj, dict) else None
            rows["equation"].append(eq if isinstance(eq, str) else None)
        frames.append(pl.DataFrame(rows, schema={k: SCHEMA[k] for k in rows}).with_columns(source=pl.lit(str(path)))
                      .select(list(SCHEMA)))
    result.frame = pl.concat(frames) if frames else result.frame
    if result.frame.height == 0:
        raise MathDataError(f"{', '.join(map(str, paths))}: no usable records",
                            "check --problem-field/--solution-field" + (" (all lines were bad)" if result.bad_lines else ""))
    return result


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds, so an
    interrupted run never leaves a half-written file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path: Path | str, obj) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: Path | str, rows) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
