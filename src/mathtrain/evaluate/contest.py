"""The contest's score and its reading-comprehension gate.

score = 0.7 * math_accuracy + 0.3 * (1 - trainable_params / total_params), accuracy as a fraction 0..1;
the entry also had to keep SQuAD F1 and EM (MindFormers' EmF1Metric, 0..100) at >= 90% of the base
model's: Llama3-8B scored F1 59.870 / EM 44.170, so the thresholds are 53.883 / 39.753.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError
from mathdata.io import read_json_file


BASE_F1 = 59.870
BASE_EM = 44.170
RETENTION = 0.9
ACCURACY_WEIGHT = 0.7
PARAM_WEIGHT = 0.3


def contest_score(accuracy: float, trainable: int, total: int) -> float:
    """0.7 * accuracy + 0.3 * (1 - trainable / total); accuracy is a fraction 0..1."""
    _check_inputs(accuracy, trainable, total)
    return ACCURACY_WEIGHT * accuracy + PARAM_WEIGHT * (1 - trainable / total)


def _check_inputs(accuracy: float, trainable: int, total: int) -> None:
    if not 0.0 <= accuracy <= 1.0:
        raise MathDataError(f"accuracy {accuracy} is outside 0..1", "pass a fraction like 0.26 or a percentage like 26%")
    if total <= 0:
        raise MathDataError(f"total parameters must be > 0, got {total}", "e.g. 8030261248 for Llama3-8B")
    if not 0 <= trainable <= total:
        raise MathDataError(f"trainable parameters {trainable} must be within 0..total ({total})",
                            "trainable counts the LoRA parameters only")


@dataclass(frozen=True)
class ContestResult:
    accuracy: float
    trainable: int
    total: int
    f1: float | None = None
    em: float | None = None
    base_f1: float = BASE_F1
    base_em: float = BASE_EM
    retention: float = RETENTION

    @property
    def param_ratio(self) -> float:
        return self.trainable / self.total

    @property
    def score(self) -> float:
        return contest_score(self.accuracy, self.trainable, self.total)

    @property
    def f1_threshold(self) -> float:
        return round(self.retention * self.base_f1, 6)

    @property
    def em_threshold(self) -> float:
        return round(self.retention * self.base_em, 6)

    @property
    def f1_ok(self) -> bool | None:
        return None if self.f1 is None else self.f1 >= self.f1_threshold

    @property
    def em_ok(self) -> bool | None:
        return None if self.em is None else self.em >= self.em_threshold

    @property
    def squad_ok(self) -> bool | None:
        """Both F1 and EM clear the bar; None when they were not given."""
        if self.f1_ok is None or self.em_ok is None:
            return None
        return self.f1_ok and self.em_ok

    def to_dict(self) -> dict:
        return {"score": self.score, "accuracy": self.accuracy, "trainable": self.trainable, "total": self.total,
                "param_ratio": self.param_ratio, "f1": self.f1, "em": self.em, "base_f1": self.base_f1,
                "base_em": self.base_em, "f1_threshold": self.f1_threshold, "em_threshold": self.em_threshold,
                "f1_ok": self.f1_ok, "em_ok": self.em_ok, "squad_ok": self.squad_ok}


def contest_result(accuracy: float, trainable: int, total: int, f1: float | None = None, em: float | None = None,
                   base_f1: float = BASE_F1, base_em: float = BASE_EM, retention: float = RETENTION) -> ContestResult:
    _check_inputs(accuracy, trainable, total)
    for name, value in (("f1", f1), ("em", em)):
        if value is not None and not 0.0 <= value <= 100.0:
            raise MathDataError(f"{name} {value} is outside 0..100", "SQuAD scores are on the 0-100 scale")
    for name, value in (("base-f1", base_f1), ("base-em", base_em)):
        if not 0.0 < value <= 100.0:
            raise MathDataError(f"{name} {value} is outside 0..100", "pass the base model's score, e.g. 59.870")
    if not 0.0 < retention <= 1.0:
        raise MathDataError(f"retention {retention} is outside 0..1", "the contest used 0.9")
    return ContestResult(accuracy, int(trainable), int(total), f1, em, base_f1, base_em, retention)


def contest_from_inputs(accuracy: str | None = None, math_json: Path | str | None = None, trainable: int | None = None,
                        total: int | None = None, run: Path | str | None = None, f1: float | None = None,
                        em: float | None = None, squad_json: Path | str | None = None, base_f1: float = BASE_F1,
                        base_em: float = BASE_EM) -> ContestResult:
    """`mathtrain score contest`: the accuracy given (`parse_accuracy`) or read from `score math --json`,
    the parameter counts given or read from RUN_DIR/run.json, F1/EM given or read from `score squad --json`;
    each figure one way only."""
    if (accuracy is None) == (math_json is None):
        raise MathDataError("give exactly one of --accuracy and --math-json", "e.g. --accuracy 26% ")
    acc = parse_accuracy(accuracy) if accuracy is not None else accuracy_from_json(math_json)
    if run is not None:
        if trainable is not None or total is not None:
            raise MathDataError("give either --run or --trainable/--total, not both", "drop one of them")
        trainable, total = params_from_run(run)
    elif trainable is None or total is None:
        raise MathDataError("parameter counts missing", "pass --trainable and --total, or --run RUN_DIR")
    if squad_json is not None:
        if f1 is not None or em is not None:
            raise MathDataError("give either --squad-json or --f1/--em, not both", "drop one of them")
        f1, em = squad_from_json(squad_json)
    return contest_result(acc, trainable, total, f1=f1, em=em, base_f1=base_f1, base_em=base_em)


def parse_accuracy(text: str | float) -> float:
    """`0.26` or `26%` -> 0.26. A bare number above 1 is refused rather than guessed."""
    s = str(text).strip()
    try:
        if s.endswith("%"):
            value = float(s[:-1]) / 100
        else:
            value = float(s)
    except ValueError:
        raise MathDataError(f"accuracy {s!r} is not a number", "pass a fraction like 0.26 or a percentage like 26%") from None
    if not 0.0 <= value <= 1.0:
        raise MathDataError(f"accuracy {s} is outside 0..1", "pass a fraction like 0.26 or a percentage like 26%")
    return value


def _number(data: dict, key: str, path: Path | str, hint: str) -> float:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MathDataError(f"{path}: no numeric {key!r}", hint)
    return float(value)


def accuracy_from_json(path: Path | str) -> float:
    """`accuracy` from a `mathtrain score math --json` file."""
    data = read_json_file(path, want_object=False)  # not an object: "no numeric 'accuracy'" below
    return _number(data, "accuracy", path, "pass the JSON written by `mathtrain score math --json`")


def squad_from_json(path: Path | str) -> tuple[float, float]:
    """(f1, em) from a `mathtrain score squad --json` file."""
    data = read_json_file(path, want_object=False)
    hint = "pass the JSON written by `mathtrain score squad --json`"
    return _number(data, "f1", path, hint), _number(data, "em", path, hint)


def params_from_run(run_dir: Path | str) -> tuple[int, int]:
    """(trainable, total) as recorded by `mathtrain run` in RUN_DIR/run.json."""
    from ..rundir import read_run

    info = read_run(run_dir, required=())
    path, data = info.path, info.data
    for key in ("params", "param_count", "parameters"):
        block = data.get(key) if isinstance(data, dict) else None
        if isinstance(block, dict) and "trainable" in block and "total" in block:
            return int(block["trainable"]), int(block["total"])
    raise MathDataError(f"{path}: no parameter counts (\"params\": {{\"trainable\", \"total\"}})",
                        "pass --trainable and --total instead")
