"""Helpers for the mathtrain tests: a small BUILD_DIR in `mathdata build`'s output format, written here so
the training tests do not depend on the data layer's progress."""
from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY_TOML = FIXTURES / "tiny" / "train.toml"
PROMPT = {"name": "plain", "human": "{problem}", "chat": "vicuna_v1.1"}


def arithmetic_records(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        a = Decimal(rnd.randint(100, 9999)) / 100
        b = Decimal(rnd.randint(100, 9999)) / 100
        op = "+-"[i % 2]
        value = a + b if op == "+" else a - b
        out.append({"id": f"t{i:05d}", "category": "add" if op == "+" else "sub",
                    "problem": f"计算 {a} {op} {b} 等于多少？", "solution": f"{a} {op} {b} = {value}"})
    return out


def write_build_dir(path: Path, n: int = 64, seed: int = 0, conversations: bool = False,
                    records: list[dict] | None = None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    recs = records if records is not None else arithmetic_records(n, seed)
    outputs = {}
    if conversations:
        conv = [{"id": r["id"], "conversations": [{"from": "human", "value": r["problem"]},
                                                  {"from": "gpt", "value": r["solution"]}]} for r in recs]
        text = json.dumps(conv, ensure_ascii=False)
        (path / "train_conversations.json").write_text(text, encoding="utf-8")
        outputs["train_conversations.json"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                               "records": len(recs)}
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
        (path / "train.jsonl").write_text(text, encoding="utf-8")
        outputs["train.jsonl"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "records": len(recs)}
    manifest = {"prompt": PROMPT, "seed": seed, "outputs": outputs}
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
