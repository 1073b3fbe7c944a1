"""Readers for the data formats people actually have, and atomic writers.

Accepted inputs: JSON Lines, a JSON array or pretty-printed JSON objects one after another (UTF-8,
with or without BOM), Parquet, CSV/TSV (with a header row, or `no_header`: columns named 1, 2, ...)
-- of records that carry a problem and a solution field (names settable; common pairs are
recognised), alpaca records (`instruction` [+ `input`] / `output`), and MindFormers'
`{"id", "conversations": [...]}` records. `-` reads standard input. Every record keeps its file and
1-based line (JSONL, CSV) or item number (JSON array) so errors and reports can point at it.

One set of rules for every record, whichever way the file is parsed (a record breaking one is *bad*:
an error naming file and line, or with `skip_bad` counted and skipped):
- the problem must be a JSON string, not empty or blank; the solution a string (not blank) or a
  number, kept as written (`3.0` stays "3.0"), or a list of numbers (HMWP's answers: `[23, 12]`;
  an empty list is read as `[]`, which verification calls wrong: no_answer_in_solution);
  an `equation` is used only when it is a string;
- a lone surrogate escape (`"\ud800"`) in a used field is bad (it cannot be written as UTF-8);
- a record that repeats the problem, solution or equation key is bad (other repeated keys are ignored);
- the format is decided by content: a file starting with `[` is one JSON array only if the whole
  file parses as one; otherwise (e.g. a list on line 1 of JSON Lines) it is read line by line and that
  line is a bad record. A file whose first record does not fit on its first line is read as
  pretty-printed objects (Math23K); if even the first object cannot be read, as JSON Lines.
Each file is read exactly once (a named pipe or `-` works); `LoadResult.sha256` holds the hash of
the bytes read. Large clean JSON Lines files are parsed by polars, but only after cheap checks on the
raw bytes prove the rules above hold for every line (else the careful reader runs).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

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
SKIP_HINT = "fix or remove that record, or pass --skip-bad to skip bad records"
# escapes the fast path cannot judge, found in one pass: a surrogate (maybe lone), or printable ASCII
# written as an escape (json.dumps never does; it could spell a key: "pr\u006fblem")
_UNSAFE_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|00[2-7][0-9a-fA-F])")


@dataclass
class LoadResult:
    frame: pl.DataFrame                  # source, line, problem, solution
    bad_lines: int = 0
    bad_examples: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)   # file -> "problem_field/solution_field"
    sha256: dict[str, str] = field(default_factory=dict)   # file -> sha256 of the bytes read


class _Bad(Exception):
    pass


class _Number(str):
    """A JSON number, kept as the text it was written as."""


class _Object(dict):
    repeated: frozenset = frozenset()


def _object(pairs):
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        obj.repeated = frozenset(k for i, (k, _) in enumerate(pairs) if any(k == k2 for k2, _ in pairs[:i]))
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_float=_Number, parse_int=_Number,
                            parse_constant=_Number)


def _loads(text: str):
    return _DECODER.decode(text)


class _Deep(str):
    """A JSON Lines line nested too deeply for Python's decoder (read like the fast path reads it)."""


def _deep_record(line: str, pf: str, sf: str):
    """The used fields of a line nested deeper than Python's decoder goes: parsed by polars under the
    same byte checks as the fast path (so both paths agree), else a bad record."""
    body = line.encode("utf-8")
    names = [pf, sf] + ([EQUATION_FIELD] if json.dumps(EQUATION_FIELD).encode() in body else [])
    for name in names:
        key = json.dumps(name, ensure_ascii=False).encode()
        if body.count(key) != 1 or body.count(key + b': "') + body.count(key + b':"') != 1:
            raise _Bad("nested too deeply to read")
    if _UNSAFE_ESCAPE.search(body):
        raise _Bad("nested too deeply to read")
    try:
        row = pl.read_ndjson(io.BytesIO(body), schema={n: pl.String for n in names}).row(0, named=True)
    except Exception:
        raise _Bad("JSON nested too deeply to read") from None
    return row


def read_input(path: Path) -> bytes:
    """The bytes of one input, read once; `-` is standard input."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MathDataError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise MathDataError(f"{path}: is a directory", "pass the data file itself") from None
    except OSError as err:
        raise MathDataError(f"{path}: cannot read ({err.strerror or err})", "check the path and its permissions") from None


_COMPRESSED = {b"\x1f\x8b": ("gzip", "gunzip"), b"BZh": ("bzip2", "bunzip2"), b"\xfd7zXZ\x00": ("xz", "unxz"),
               b"PK\x03\x04": ("zip", "unzip"), b"\x28\xb5\x2f\xfd": ("zstd", "unzstd")}


def _decode(path: Path, data: bytes) -> str:
    if not data.strip() or not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise MathDataError(f"{path}: file is empty", "point at a file with one JSON record per line")
    for magic, (kind, tool) in _COMPRESSED.items():
        if data.startswith(magic):
            raise MathDataError(f"{path}: is a {kind}-compressed file", f"decompress it first, e.g. `{tool} {path}`")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise MathDataError(f"{path}: is UTF-32 text, not UTF-8",
                            f"convert it, e.g. `iconv -f UTF-32 -t UTF-8 {path} > {Path(str(path)).stem}-utf8{Path(str(path)).suffix}`")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and (data[0] == 0) != (data[1] == 0)):
        raise MathDataError(f"{path}: is UTF-16 text, not UTF-8",
                            f"convert it, e.g. `iconv -f UTF-16 -t UTF-8 {path} > {Path(str(path)).stem}-utf8{Path(str(path)).suffix}`")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise MathDataError(f"{path}:{line}: not valid UTF-8 (byte {data[err.start]:#04x})",
                            "convert the file to UTF-8, e.g. `iconv -f GBK -t UTF-8` for GBK") from None


def _pick_fields(obj: dict, problem_field: str | None, solution_field: str | None) -> tuple[str, str]:
    if problem_field or solution_field:
        return problem_field or "problem", solution_field or "solution"
    if "conversations" in obj:
        return "conversations", "conversations"
    for p, s in KNOWN_FIELDS:
        if p in obj and s in obj:
            return p, s
    return "problem", "solution"


def _check_text(value: str, name: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise _Bad(f"field {name!r} holds a lone surrogate (\\u{ord(value[err.start]):04x}), which is not text") from None
    return value


def _extract(obj, pf: str, sf: str) -> tuple[str, str, str | None]:
    """(problem, solution, equation) of one parsed record, by the rules in the module docstring."""
    if not isinstance(obj, dict):
        raise _Bad(f"expected a JSON object, got {_json_type(obj)}")
    repeated = getattr(obj, "repeated", frozenset()) & {pf, sf, EQUATION_FIELD, "input"}
    if repeated:
        raise _Bad(f"key {sorted(repeated)[0]!r} appears twice in the record")
    if pf == "conversations":
        turns = obj.get("conversations")
        if not isinstance(turns, list):
            raise _Bad("missing field 'conversations'")
        human = next((t.get("value") for t in turns if isinstance(t, dict) and t.get("from") in ("human", "user")), None)
        gpt = next((t.get("value") for t in turns if isinstance(t, dict) and t.get("from") in ("gpt", "assistant")), None)
        if not isinstance(human, str) or not isinstance(gpt, str) or isinstance(human, _Number) or isinstance(gpt, _Number):
            raise _Bad("conversations lack a human and a gpt turn")
        problem, solution = human, gpt
    else:
        if pf not in obj:
            raise _Bad(f"missing field {pf!r} (fields: {', '.join(list(obj)[:8])})")
        if sf not in obj:
            raise _Bad(f"missing field {sf!r} (fields: {', '.join(list(obj)[:8])})")
        problem, solution = obj[pf], obj[sf]
        if not isinstance(problem, str) or isinstance(problem, _Number):
            raise _Bad(f"field {pf!r} must be text, got {_json_type(problem)}")
        if isinstance(solution, list) and all(isinstance(v, _Number) for v in solution):
            solution = "[" + ", ".join(solution) + "]"  # HMWP: the answers of a system ([] = none given)
        if not isinstance(solution, str):
            raise _Bad(f"field {sf!r} must be text or a number, got {_json_type(solution)}")
        extra = obj.get("input")
        if pf == "instruction" and isinstance(extra, str) and not isinstance(extra, _Number) and extra.strip():
            problem = f"{problem}\n{_check_text(extra, 'input')}"
    if not problem.strip():
        raise _Bad(f"empty {pf!r}")
    if not solution.strip():
        raise _Bad(f"empty {sf!r}")
    eq = obj.get(EQUATION_FIELD)
    eq = eq if isinstance(eq, str) and not isinstance(eq, _Number) else None
    return (_check_text(str.__str__(problem), pf), _check_text(str.__str__(solution), sf),
            _check_text(eq, EQUATION_FIELD) if eq is not None else None)


def _json_type(value) -> str:
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, str):
        return "text"
    return {list: "a list", dict: "an object", _Object: "an object", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def _records(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """(line or item number, parsed object or a _Bad) for each record; the format by content."""
    if text.lstrip()[:1] == "[":
        try:
            items = _loads(text)
        except json.JSONDecodeError as err:
            items, error = None, err
        except RecursionError:
            raise MathDataError(f"{path}: JSON nested too deeply to read", "write the records as JSON Lines") from None
        if isinstance(items, list):
            yield from enumerate(items, 1)
            return
        first = next((ln for ln in text.split("\n", 50) if ln.strip()), "")
        if not _parses(first):  # not JSON Lines either: a broken array
            raise MathDataError(f"{path}:{error.lineno}: malformed JSON array: {error.msg}",
                                "fix the JSON, or convert the file to JSON Lines") from None
    else:
        first = next((ln for ln in text.split("\n", 50) if ln.strip()), "")
        if first.strip().startswith("{") and not _parses(first):
            stream = _json_stream(path, text)
            try:
                head = next(stream)
            except (_Bad, StopIteration):
                head = None  # not even one object: read it as JSON Lines, so the error names its line
            if head is not None:
                yield head  # pretty-printed objects one after another (Math23K style)
                yield from stream
                return
    for i, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            yield i, _loads(line)
        except json.JSONDecodeError as err:
            yield i, _Bad(f"malformed JSON: {err.msg}")
        except RecursionError:
            yield i, _Deep(line)


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, one at a time (no copy of the whole file as a list)."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _parses(line: str) -> bool:
    try:
        _loads(line)
        return True
    except RecursionError:  # complete, only too deep for this decoder
        return True
    except json.JSONDecodeError:
        return False


def _json_stream(path: Path, text: str) -> Iterator[tuple[int, object]]:
    pos, line, first = 0, 1, True
    while True:
        start = pos
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= len(text):
            return
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except RecursionError:
            raise MathDataError(f"{path}:{line}: JSON nested too deeply to read", "write the records as JSON Lines") from None
        except json.JSONDecodeError as err:
            if first:
                raise _Bad(err.msg) from None
            raise MathDataError(f"{path}:{text.count(chr(10), 0, err.pos) + 1}: malformed JSON: {err.msg}",
                                "fix the JSON, or convert the file to JSON Lines") from None
        first = False
        yield line, obj
        line += text.count("\n", pos, end)
        pos = end


def _read_table(path: Path, data: bytes, problem_field, solution_field, no_header: bool) -> tuple[pl.DataFrame, str, str]:
    """Parquet (e.g. Hugging Face data sets) and CSV/TSV; `line` is the row number (CSV: file line)."""
    suffix = Path(str(path)).suffix
    try:
        if suffix == ".parquet":
            df, offset = pl.read_parquet(io.BytesIO(data)), 1
        else:
            text = _decode(path, data)
            df = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator="\t" if suffix == ".tsv" else ",",
                             infer_schema=False, has_header=not no_header, quote_char='"')
            offset = 1 if no_header else 2
            if no_header:
                df = df.rename({c: str(i) for i, c in enumerate(df.columns, 1)})
    except MathDataError:
        raise
    except Exception as err:  # polars' own messages name the problem well enough
        raise MathDataError(f"{path}: cannot read as {suffix[1:]}: {str(err).splitlines()[0]}",
                            "check the file format" + ("" if suffix == ".parquet" or no_header else
                                                       "; a file without a header row needs --no-header")) from None
    if df.height == 0:
        raise MathDataError(f"{path}: file is empty", "point at a file with records")
    if no_header and not (problem_field or solution_field):
        problem_field, solution_field = "1", "2"
    pf, sf = _pick_fields(dict.fromkeys(df.columns), problem_field, solution_field)
    for f in (pf, sf):
        if f not in df.columns:
            named = "positions 1.." + str(len(df.columns)) if no_header else ", ".join(df.columns[:8])
            raise MathDataError(f"{path}: no column {f!r} (columns: {named})",
                                "name the columns with --problem-field/--solution-field"
                                + (" (1-based positions with --no-header)" if no_header else
                                   ", or pass --no-header if the file has no header row"))
    for f, numbers_ok in ((pf, False), (sf, True)):
        if f"{f}_duplicated_0" in df.columns:  # polars' name for a repeated header
            raise MathDataError(f"{path}: column {f!r} appears twice in the header row", "rename one of them")
        dtype = df.schema[f]
        if not (dtype == pl.String or (numbers_ok and dtype.is_numeric())):
            raise MathDataError(f"{path}: column {f!r} is {dtype}, not text", "the problem and solution columns must hold text")
    df = df.select(problem=pl.col(pf).cast(pl.String), solution=pl.col(sf).cast(pl.String),
                   equation=_equation_col(df))
    return df.with_row_index("line", offset=offset).with_columns(pl.col("line").cast(pl.Int64)), pf, sf


def _equation_col(df: pl.DataFrame) -> pl.Expr:
    if EQUATION_FIELD in df.columns and df.schema[EQUATION_FIELD] == pl.String:
        return pl.col(EQUATION_FIELD)
    return pl.lit(None, dtype=pl.String)


def _fast_fields(data: bytes, problem_field: str | None, solution_field: str | None) -> tuple[str, str] | None:
    """The fields the careful path would pick for clean JSON Lines, read from the first line's bytes
    (the file is not decoded as a whole: polars checks the UTF-8); None: use the careful path."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if body[:1] != b"{" or b"\r" in body:
        return None
    end = body.find(b"\n")
    try:
        first = _loads(body[:end if end >= 0 else len(body)].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return _pick_fields(first, problem_field, solution_field) if isinstance(first, dict) else None


def _fast_jsonl(path: Path, data: bytes, pf: str, sf: str) -> pl.DataFrame | None:
    """polars' reader for clean JSON Lines; None means 'use the careful path'. Used only when the raw
    bytes show that every line is one object whose problem and solution (and equation, if any) are
    strings given once, with no surrogate escapes and no blank lines -- exactly the records on which
    the careful path and polars agree (the rest of the rules is checked on the frame)."""
    if pf in ("conversations", "instruction"):
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if b"\n\n" in body or body.startswith(b"\n") or _UNSAFE_ESCAPE.search(body):
        return None
    eq_uses = 0
    for name in {pf, sf, EQUATION_FIELD}:
        key = json.dumps(name, ensure_ascii=False).encode()
        uses = body.count(key)
        if name == EQUATION_FIELD:
            eq_uses = uses
            if uses == 0:
                continue
        # the value right after the key is a string (json.dumps' and the compact spacing; any other
        # spacing takes the careful path)
        if uses != lines:
            return None
        spaced = body.count(key + b': "')
        if spaced != lines and spaced + body.count(key + b':"') != lines:
            return None
    schema = {name: pl.String for name in (pf, sf, EQUATION_FIELD) if name != EQUATION_FIELD or eq_uses}
    try:
        df = pl.read_ndjson(io.BytesIO(body), schema=schema)
    except Exception:
        return None
    if df.height != lines:
        return None
    df = df.select(problem=pl.col(pf), solution=pl.col(sf), equation=_equation_col(df))
    if df.schema["problem"] != pl.String or df.schema["solution"] != pl.String:
        return None
    if df.select((pl.col("problem").is_null() | pl.col("solution").is_null()
                  | (pl.col("problem").str.strip_chars() == "")
                  | (pl.col("solution").str.strip_chars() == "")).any()).item():
        return None
    return df.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64), source=pl.lit(str(path)))


def read_records(paths: list[Path | str], problem_field: str | None = None, solution_field: str | None = None,
                 skip_bad: bool = False, no_header: bool = False) -> LoadResult:
    """Read every file into one frame. A bad record stops with a one-line error naming file and line,
    unless `skip_bad`, when it is counted in `bad_lines` and the first few are kept as examples.
    `no_header`: CSV/TSV files have no header row; their columns are named "1", "2", ..."""
    frames, result = [], LoadResult(frame=pl.DataFrame(schema=SCHEMA))
    for path in map(Path, paths):
        data = read_input(path)
        result.sha256[str(path)] = hashlib.sha256(data).hexdigest()
        if path.suffix in (".parquet", ".csv", ".tsv"):
            table, pf, sf = _read_table(path, data, problem_field, solution_field, no_header)
            result.fields[str(path)] = f"{pf}/{sf}"
            bad = table.filter(pl.col("problem").is_null() | (pl.col("problem").str.strip_chars() == "")
                               | pl.col("solution").is_null() | (pl.col("solution").str.strip_chars() == ""))
            if bad.height and not skip_bad:
                raise MathDataError(f"{path}:{bad['line'][0]}: empty or missing {pf!r}/{sf!r}", SKIP_HINT)
            result.bad_lines += bad.height
            result.bad_examples += [f"{path}:{n}: empty or missing {pf!r}/{sf!r}"
                                    for n in bad["line"].head(max(0, 20 - len(result.bad_examples)))]
            frames.append(table.join(bad.select("line"), on="line", how="anti")
                          .with_columns(source=pl.lit(str(path))).select(list(SCHEMA)))
            continue
        fields = _fast_fields(data, problem_field, solution_field)
        fast = _fast_jsonl(path, data, *fields) if fields else None
        if fast is not None:   # clean JSON Lines: polars read them, the text was never decoded here
            result.fields[str(path)] = "/".join(fields)
            frames.append(fast.select(list(SCHEMA)))
            continue
        text = _decode(path, data)
        del data
        # A JSON array is parsed once; JSON Lines are streamed.
        parsed = list(_records(path, text)) if text.lstrip()[:1] == "[" else None
        first = next(((n, o) for n, o in (parsed or _records(path, text)) if isinstance(o, dict)), None)
        pf, sf = _pick_fields(first[1] if first else {}, problem_field, solution_field)
        result.fields[str(path)] = f"{pf}/{sf}"
        rows: dict[str, list] = {"line": [], "problem": [], "solution": [], "equation": []}
        for n, obj in parsed if parsed is not None else _records(path, text):
            try:
                if isinstance(obj, _Bad):
                    raise obj
                if isinstance(obj, _Deep):
                    obj = _deep_record(obj, pf, sf)
                problem, solution, eq = _extract(obj, pf, sf)
            except _Bad as bad:
                where = f"{path}:{n}: {bad}"
                if not skip_bad:
                    raise MathDataError(where, SKIP_HINT) from None
                result.bad_lines += 1
                if len(result.bad_examples) < 20:
                    result.bad_examples.append(where)
                continue
            rows["line"].append(n)
            rows["problem"].append(problem)
            rows["solution"].append(solution)
            rows["equation"].append(eq)
        frames.append(pl.DataFrame(rows, schema={k: SCHEMA[k] for k in rows}).with_columns(source=pl.lit(str(path)))
                      .select(list(SCHEMA)))
    result.frame = pl.concat(frames) if frames else result.frame
    if result.frame.height == 0:
        raise MathDataError(f"{', '.join(map(str, paths))}: no usable records",
                            "check --problem-field/--solution-field" + (" (all lines were bad)" if result.bad_lines else ""))
    return result


def read_json_file(path: Path | str, hint: str = "fix the file", *, want_object: bool = True,
                   not_found: tuple[str, str] | None = None) -> Any:
    """The parsed content of one UTF-8 JSON file (a config, a score, a run record -- not a data input;
    those go through `read_records`). Every way it can fail is one MathDataError line naming the file,
    and a syntax error its line:column. `hint` says what to do about a broken content (bad JSON, not
    an object); a directory and non-UTF-8 text have their own hints; `not_found`: the (message, hint)
    for a missing file, when the caller knows what it should have been (as `tomlfile.read_toml`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MathDataError(*(not_found or (f"{path}: no such file", "check the path"))) from None
    except IsADirectoryError:
        raise MathDataError(f"{path}: is a directory, expected a JSON file", "pass the file itself") from None
    except UnicodeDecodeError:
        raise MathDataError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as err:
        raise MathDataError(f"{path}: cannot read ({err.strerror or err})", hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MathDataError(f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})", hint) from None
    except RecursionError:
        raise MathDataError(f"{path}: JSON nested too deeply to read", hint) from None
    if want_object and not isinstance(data, dict):
        found = "an array" if isinstance(data, list) else "a single value"
        raise MathDataError(f"{path}: not a JSON object (the file holds {found})", hint)
    return data


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds, so an
    interrupted run never leaves a half-written file under the final name. A pipe or a device
    (`/dev/stdout`, `/dev/null`, `>(jq .)`) is written directly: it cannot be renamed onto."""
    from .outputs import is_stream, remove_stale_parts
    path = Path(path)
    if is_stream(path):
        yield path
        return
    if path.is_symlink():  # keep the link: replace the file it points at
        path = Path(os.path.realpath(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(path)
        # the pid in the name lets a later run remove what a killed one left (outputs.remove_stale_parts)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise MathDataError(f"{path}: cannot write here ({err.strerror or err})",
                            "choose a writable location for the output") from None
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
        try:
            os.replace(tmp, path)
        except OSError as err:
            raise MathDataError(f"{path}: cannot write here ({err.strerror or err})",
                                "choose another file name for the output") from None
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
