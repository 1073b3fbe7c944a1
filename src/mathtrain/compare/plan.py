"""What a compare runs: recipes (NAME=BUILD_DIR), their train / eval prompts, seeds, the common budget."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError
from mathdata.prompts import PromptSpec

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
BASE = "base"


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Path
    train_prompt: PromptSpec   # from the build's manifest (what the records were tokenised with)
    eval_prompt: PromptSpec    # the same unless --eval-prompt NAME=PROMPT says otherwise (the seed's mismatch)
    records: int               # training records in the build
    manifest_sha256: str


def _split(value: str, option: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise MathDataError(f"{option} {value!r}: expected NAME=VALUE", f"e.g. {option} curated=out/build-curated")
    if not NAME_RE.match(name) or name == BASE:
        raise MathDataError(f"{option} {value!r}: bad name {name!r}",
                            f"use letters, digits, _ . - (at most 40; '{BASE}' is the untrained model)")
    return name, rest


def parse_recipes(values: list[str], eval_prompts: list[str], rules_dir: Path | None = None) -> list[Recipe]:
    from mathdata.prompts import load_prompts

    from ..records import read_manifest

    if not values:
        raise MathDataError("no --recipe given", "pass at least one --recipe NAME=BUILD_DIR")
    overrides: dict[str, str] = {}
    for value in eval_prompts:
        name, prompt = _split(value, "--eval-prompt")
        overrides[name] = prompt
    recipes, seen = [], set()
    for value in values:
        name, build = _split(value, "--recipe")
        if name in seen:
            raise MathDataError(f"--recipe {name} is given twice", "give each recipe its own name")
        seen.add(name)
        build_dir = Path(build)
        manifest = read_manifest(build_dir)
        where = str(build_dir / "manifest.json")
        train_prompt = PromptSpec.from_dict(manifest["prompt"], where=where)
        eval_prompt = train_prompt
        if name in overrides:
            prompts = load_prompts((Path(rules_dir) if rules_dir else _rules_dir()) / "prompts.toml")
            if overrides[name] not in prompts:
                raise MathDataError(f"--eval-prompt {name}={overrides[name]}: no such prompt",
                                    f"valid (rules/prompts.toml): {', '.join(prompts)}")
            eval_prompt = prompts[overrides[name]]
        records = sum(int(o.get("records", 0)) for k, o in manifest.get("outputs", {}).items()
                      if k.startswith("train"))
        text = (build_dir / "manifest.json").read_bytes()
        recipes.append(Recipe(name, build_dir.resolve(), train_prompt, eval_prompt, records,
                              hashlib.sha256(text).hexdigest()))
    unknown = sorted(set(overrides) - seen)
    if unknown:
        raise MathDataError(f"--eval-prompt names {unknown[0]!r}, which is not a --recipe", "use a recipe's NAME")
    return recipes


def _rules_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "rules"


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
