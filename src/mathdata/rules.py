"""rules/*.toml -> frozen dataclasses. Code reads templates, categories and dedup settings from here
and never hard-codes them, so adding a template is an edit to rules/templates.toml only."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .errors import MathDataError
from .formula import compile_formula
from .normalize import normalize_text
from .tomlfile import read_toml

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

NUM = r"-?\d+(?:\.\d+)?"
ANSWER = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:/\d+)?"
LIST = r"\[\s*" + NUM + r"(?:\s*,\s*" + NUM + r")*\s*\]"
SLOT_KINDS = {"decimal": NUM, "int": NUM, "list": LIST}  # classification accepts any number in a slot
MASK = "#"  # what every NUM becomes in a number-masked text (classify.py matches families first)
MASKED_KINDS = {"decimal": MASK, "int": MASK, "list": r"\[\s*#(?:\s*,\s*#)*\s*\]"}
ANSWER_FORMATS = {"decimal", "decimal28", "float", "int", "fraction"}
_SLOT_RE = re.compile(r"\{(\w+)\}")
_META = set(".^$*+?()[]{}|\\")


def _escape(text: str) -> str:
    """Escape regex metacharacters only, so the pattern means the same to Python's re and to the
    Rust regex engine polars uses (re.escape's `\\ ` for a space is an error there)."""
    return "".join("\\" + c if c in _META else c for c in text)


@dataclass(frozen=True)
class Slot:
    name: str
    kind: str
    min: float = 0
    max: float = 100
    places: int = 0
    len_min: int = 3
    len_max: int = 8
    nonzero: bool = False


@dataclass(frozen=True)
class Implausible:
    when: str
    reason: str
    test: Callable = field(repr=False, compare=False)


@dataclass(frozen=True)
class Template:
    name: str
    category: str
    problem: str
    solution: str
    answer: str
    answer_format: str
    steps: str
    slots: tuple[Slot, ...]
    implausible: tuple[Implausible, ...]
    problem_regex: str          # anchored, over normalised text; Python- and polars-compatible
    solution_regex: str
    slot_mask_regex: str        # the same over the slot mask (every rules.NUM -> '#'; classify.py)
    evaluate: Callable = field(repr=False, compare=False)
    problem_pattern: re.Pattern = field(repr=False, compare=False, default=None)
    solution_pattern: re.Pattern = field(repr=False, compare=False, default=None)

    def __post_init__(self):
        object.__setattr__(self, "problem_pattern", re.compile(self.problem_regex))
        object.__setattr__(self, "solution_pattern", re.compile(self.solution_regex))

    @property
    def slot_names(self) -> list[str]:
        return [s.name for s in self.slots]


@dataclass(frozen=True)
class Rules:
    directory: Path
    templates: tuple[Template, ...]
    categories: tuple[str, ...]
    min_latin_words: int
    latin_per_han: float

    def template(self, name: str) -> Template:
        for t in self.templates:
            if t.name == name:
                return t
        raise MathDataError(f"unknown template {name!r}", f"valid: {', '.join(t.name for t in self.templates)}")

    @property
    def template_categories(self) -> list[str]:
        return list(dict.fromkeys(t.category for t in self.templates))


def _pattern_to_regex(text: str, group: Callable[[str], str], where: str, masked: bool = False) -> str:
    text = normalize_text(text)
    # In the masked form, digits in the literal wording are masked too, exactly as in the data.
    literal = (lambda t: _escape(re.sub(NUM, MASK, t))) if masked else _escape
    parts, pos, seen = ["^"], 0, set()
    for m in _SLOT_RE.finditer(text):
        parts.append(literal(text[pos:m.start()]))
        name = m.group(1)
        if name in seen:
            raise MathDataError(f"{where}: slot {{{name}}} appears twice", "use each slot once per wording")
        seen.add(name)
        parts.append(group(name) if masked else f"(?P<{name}>{group(name)})")
        pos = m.end()
    parts.append(literal(text[pos:]) + "$")
    return "".join(parts)


def _slot(name: str, spec: dict, where: str) -> Slot:
    if not isinstance(spec, dict):
        raise MathDataError(f"{where}: slots.{name} must be a table", 'e.g. { kind = "int", min = 1, max = 9 }')
    unknown = set(spec) - {"kind", "min", "max", "places", "len_min", "len_max", "nonzero"}
    if unknown:
        raise MathDataError(f"{where}: slots.{name} has unknown key(s) {', '.join(sorted(unknown))}",
                            "valid: kind, min, max, places, len_min, len_max, nonzero")
    kind = spec.get("kind", "decimal")
    if kind not in SLOT_KINDS:
        raise MathDataError(f"{where}: slots.{name}.kind = {kind!r}", f"valid: {', '.join(SLOT_KINDS)}")
    slot = Slot(name=name, **spec)
    if slot.min > slot.max or slot.len_min > slot.len_max or slot.places < 0:
        raise MathDataError(f"{where}: slots.{name} has an empty range", "need min <= max, len_min <= len_max, places >= 0")
    return slot


def _template(block: dict, index: int, path: Path) -> Template:
    where = f"{path}: template #{index + 1}"
    required = ["name", "category", "problem", "solution", "answer", "answer_format"]
    for key in required:
        if key not in block:
            raise MathDataError(f"{where} lacks `{key}`", f"every template needs {', '.join(required)}")
    where = f"{path}: template {block['name']!r}"
    known = set(required) | {"steps", "slots", "implausible"}
    if set(block) - known:
        raise MathDataError(f"{where} has unknown key(s) {', '.join(sorted(set(block) - known))}",
                            f"valid: {', '.join(sorted(known))}")
    if block["answer_format"] not in ANSWER_FORMATS:
        raise MathDataError(f"{where}: answer_format = {block['answer_format']!r}", f"valid: {', '.join(sorted(ANSWER_FORMATS))}")
    slots = tuple(_slot(n, s, where) for n, s in block.get("slots", {}).items())
    kinds = {s.name: s.kind for s in slots}
    used = set(_SLOT_RE.findall(block["problem"]))
    if used != set(kinds):
        raise MathDataError(f"{where}: problem slots {sorted(used)} differ from declared slots {sorted(kinds)}",
                            "declare every {slot} of the wording under slots")
    names = set(kinds)
    problem_regex = _pattern_to_regex(block["problem"], lambda n: SLOT_KINDS[kinds[n]], where)
    slot_mask_regex = _pattern_to_regex(block["problem"], lambda n: MASKED_KINDS[kinds[n]], where, masked=True)
    solution_regex = _pattern_to_regex(
        block["solution"], lambda n: ANSWER if n == "answer" else SLOT_KINDS[kinds.get(n, "decimal")], where)
    implausible = tuple(
        Implausible(when=i["when"], reason=i["reason"],
                    test=compile_formula(i["when"], names | {"answer"}, f"{where} implausible"))
        for i in block.get("implausible", []))
    return Template(
        name=block["name"], category=block["category"], problem=block["problem"], solution=block["solution"],
        answer=block["answer"], answer_format=block["answer_format"], steps=block.get("steps", "plain"),
        slots=slots, implausible=implausible, problem_regex=problem_regex, solution_regex=solution_regex,
        slot_mask_regex=slot_mask_regex,
        evaluate=compile_formula(block["answer"], names, f"{where} answer"),
    )


@lru_cache(maxsize=8)
def load_rules(directory: Path | str | None = None) -> Rules:
    directory = Path(directory) if directory else DEFAULT_RULES_DIR
    tpath, cpath = directory / "templates.toml", directory / "categories.toml"
    blocks = read_toml(tpath).get("template", [])
    if not blocks:
        raise MathDataError(f"{tpath}: no [[template]] blocks", "see the key reference at the top of the file")
    templates = tuple(_template(b, i, tpath) for i, b in enumerate(blocks))
    names = [t.name for t in templates]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise MathDataError(f"{tpath}: template name(s) used twice: {', '.join(sorted(dupes))}", "names must be unique")
    cats = read_toml(cpath)
    order = list(cats.get("order", []))
    for c in [t.category for t in templates] + ["word_problem", "english", "other"]:
        if c not in order:
            order.append(c)
    lang = cats.get("language", {})
    return Rules(directory=directory, templates=templates, categories=tuple(order),
                 min_latin_words=int(lang.get("min_latin_words", 2)),
                 latin_per_han=float(lang.get("latin_per_han", 2.0)))
