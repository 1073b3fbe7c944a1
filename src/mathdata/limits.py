"""rules/limits.toml -> `Limits`: the bounds on records, numbers and generator loops (see that file).

    from mathdata.limits import load_limits
    limits = load_limits()            # the project's rules/limits.toml
    limits = load_limits(rules_dir)   # DIR/limits.toml if it exists, else the project's
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from .errors import MathDataError

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "rules" / "limits.toml"
SECTIONS = {
    "records": ("per_quota", "total"),
    "numbers": ("digits", "result_digits", "exponent"),
    "synth": ("max_misses", "nonzero_redraws", "power_step_lines"),
}


@dataclass(frozen=True)
class Limits:
    path: str
    per_quota: int
    total: int
    digits: int
    result_digits: int
    exponent: int
    max_misses: int
    nonzero_redraws: int
    power_step_lines: int

    def key(self, name: str) -> str:
        """'records.per_quota in rules/limits.toml' for error messages."""
        section = next(s for s, keys in SECTIONS.items() if name in keys)
        return f"{section}.{name} = {getattr(self, name):,} in {self.path}"


@lru_cache(maxsize=8)
def _load(path: str) -> Limits:
    from .tomlfile import read_toml
    data = read_toml(Path(path))
    values: dict[str, int] = {}
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise MathDataError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}",
                            f"valid: {', '.join(SECTIONS)}")
    for section, keys in SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise MathDataError(f"{path}: [{section}] must be a table", f"keys: {', '.join(keys)}")
        extra = set(table) - set(keys)
        if extra:
            raise MathDataError(f"{path}: {section} has unknown key(s) {', '.join(sorted(extra))}",
                                f"valid: {', '.join(keys)}")
        for key in keys:
            if key not in table:
                raise MathDataError(f"{path}: {section}.{key} is missing", "copy it from the project's rules/limits.toml")
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MathDataError(f"{path}: {section}.{key} = {value!r}: must be a whole number >= 1",
                                    f"e.g. {section}.{key} = 1000")
            values[key] = value
    assert set(values) == {f.name for f in fields(Limits)} - {"path"}
    return Limits(path=path, **values)


def load_limits(rules_dir: Path | str | None = None) -> Limits:
    if rules_dir is not None and (Path(rules_dir) / "limits.toml").is_file():
        return _load(str(Path(rules_dir) / "limits.toml"))
    return _load(str(DEFAULT_FILE))


def default_limits() -> Limits:
    return _load(str(DEFAULT_FILE))


class LimitExceeded(ArithmeticError):
    """A value beyond rules/limits.toml [numbers] (formula evaluation): treated as undefined."""
