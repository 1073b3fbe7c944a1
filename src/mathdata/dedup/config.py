"""rules/dedup.toml -> DedupConfig."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import MathDataError
from ..rules import DEFAULT_RULES_DIR
from ..tomlfile import read_toml
from .chinese import ChineseRules, load_chinese_rules


@dataclass(frozen=True)
class DedupConfig:
    ngram: int = 3
    num_perm: int = 128
    threshold: float = 0.7
    seed: int = 1
    distinguishing_words: tuple[str, ...] = ()
    # numbers written in Chinese and units of measure (rules/numerals.toml, rules/units.toml)
    chinese: ChineseRules = field(default_factory=load_chinese_rules, compare=False)

    def to_dict(self) -> dict:
        """JSON-shaped (lists, not tuples): the manifest's and the audit's `dedup_config`."""
        d = asdict(self)
        d["distinguishing_words"] = list(self.distinguishing_words)
        d["chinese"] = self.chinese.to_dict()
        return d


def load_dedup_config(rules_dir: Path | str | None = None) -> DedupConfig:
    path = Path(rules_dir or DEFAULT_RULES_DIR) / "dedup.toml"
    data = read_toml(path)
    table = dict(data.get("minhash", {}))
    near = data.get("near", {})
    if set(near) - {"distinguishing_words"}:
        raise MathDataError(f"{path}: unknown key(s) in [near]: {', '.join(sorted(set(near) - {'distinguishing_words'}))}",
                            "valid: distinguishing_words")
    table["distinguishing_words"] = tuple(near.get("distinguishing_words", ()))
    valid = set(DedupConfig.__dataclass_fields__) - {"distinguishing_words", "chinese"}
    valid_keys = valid | {"distinguishing_words"}
    unknown = set(table) - valid_keys
    if unknown:
        raise MathDataError(f"{path}: unknown key(s) minhash.{', minhash.'.join(sorted(unknown))}",
                            f"valid: {', '.join(sorted(valid))}")
    cfg = DedupConfig(**table, chinese=load_chinese_rules(rules_dir))
    if cfg.ngram < 1 or cfg.num_perm < 16 or not 0 < cfg.threshold <= 1:
        raise MathDataError(f"{path}: need minhash.ngram >= 1, num_perm >= 16, 0 < threshold <= 1",
                            "fix the values in [minhash]")
    return cfg
