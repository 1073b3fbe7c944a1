"""Reading-comprehension scores, two ways.

1. MindFormers' `EmF1Metric` (mindformers/core/metric/metric.py, 1.9.0), re-implemented here so that
   scoring needs no training extra, quirks included (a test checks it against the real class):
   - the output is stripped and only its first line is kept; the label is the *first* gold answer;
   - both are lower-cased and stripped; a fixed list of punctuation (`sp_char`, below) is dropped;
     every CJK character (U+4E00..U+9FA5) is its own segment, runs of anything else are cut by `jieba.cut`
     (so spaces and ASCII punctuation such as `.` `,` `?` `'` become segments: they are *not* in sp_char);
   - "LCS" is the longest common *contiguous* run of segments (longest common substring), not the
     longest common subsequence; F1 = 2PR/(P+R) with P = lcs/len(pred), R = lcs/len(label), 0 if lcs = 0;
   - EM compares the strings after dropping sp_char characters (so `Hello world。` == `hello world`,
     but `Beijing.` != `beijing`); an empty output equals an empty label (EM 1, F1 0);
   - `'……'` in sp_char is two characters long and never matches a single character; `‘` is absent
     while `’` is present -- kept as is;
   - scores are summed item by item in order and reported as 100 * sum / count.
2. The official SQuAD v1.1 evaluation (evaluate-v1.1.py): lower-case, drop `string.punctuation`, drop
   the articles a/an/the, collapse whitespace; token-bag F1 and EM, each the max over all gold answers.
   It is applied to the same first line of the output.
"""
from __future__ import annotations

import logging
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from mathdata.errors import MathDataError

from .squad_data import SquadExample

SP_CHAR = ['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=',
           '，', '。', '：', '？', '！', '“', '”', '；', '’', '《', '》', '……', '·', '、',
           '「', '」', '（', '）', '－', '～', '『', '』']
_CJK = re.compile(r'[\u4e00-\u9fa5]')
_jieba = None
_PUNCT = frozenset(string.punctuation)


def _cut(text: str) -> list[str]:
    global _jieba
    if _jieba is None:
        import jieba
        jieba.setLogLevel(logging.WARNING)
        _jieba = jieba
    return list(_jieba.cut(text))


def first_line(output: str | None) -> str:
    """What EmF1Metric scores: the stripped output's first line."""
    return (output or "").strip().split("\n")[0]


def mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    text = str(text).lower().strip()
    segs: list[str] = []
    run = ""
    for char in text:
        if rm_punc and char in SP_CHAR:
            continue
        if _CJK.search(char) or char in SP_CHAR:
            if run:
                segs.extend(_cut(run))
                run = ""
            segs.append(char)
        else:
            run += char
    if run:
        segs.extend(_cut(run))
    return segs


def remove_punctuation(text: str) -> str:
    return "".join(char for char in str(text).lower().strip() if char not in SP_CHAR)


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of segments (EmF1Metric's `find_lcs`)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                if cur[j + 1] > best:
                    best = cur[j + 1]
        prev = cur
    return best


def emf1_f1(prediction: str, label: str) -> float:
    """EmF1Metric's F1 for one already-first-lined prediction (0..1)."""
    label_segs = mixed_segmentation(label, rm_punc=True)
    pred_segs = mixed_segmentation(prediction, rm_punc=True)
    lcs = longest_common_run(label_segs, pred_segs)
    if lcs == 0:
        return 0
    precision = 1.0 * lcs / len(pred_segs)
    recall = 1.0 * lcs / len(label_segs)
    return (2 * precision * recall) / (precision + recall)


def emf1_em(prediction: str, label: str) -> int:
    """EmF1Metric's EM for one already-first-lined prediction (0 or 1)."""
    return 1 if remove_punctuation(label) == remove_punctuation(prediction) else 0


def squad_normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_f1_one(prediction: str, truth: str) -> float:
    pred_tokens = squad_normalize(prediction).split()
    truth_tokens = squad_normalize(truth).split()
    common = Counter(pred_tokens) & Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction: str, truths: Sequence[str]) -> float:
    return max(squad_f1_one(prediction, t) for t in truths)


def squad_em(prediction: str, truths: Sequence[str]) -> float:
    return max(float(squad_normalize(prediction) == squad_normalize(t)) for t in truths)


@dataclass(frozen=True)
class SquadItem:
    id: str
    answer: str       # first line of the output
    label: str        # first gold answer
    f1: float
    em: int
    squad_f1: float
    squad_em: float

    def to_dict(self) -> dict:
        return {"id": self.id, "answer": self.answer, "label": self.label, "f1": self.f1, "em": self.em,
                "squad_f1": self.squad_f1, "squad_em": self.squad_em}


@dataclass
class SquadScore:
    items: list[SquadItem]
    f1: float        # EmF1Metric, 0..100
    em: float
    squad_f1: float  # official v1.1, 0..100
    squad_em: float

    @property
    def total(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict:
        return {"total": self.total, "f1": self.f1, "em": self.em, "squad_f1": self.squad_f1,
                "squad_em": self.squad_em, "per_item": [item.to_dict() for item in self.items]}


def emf1_scores(predictions: Sequence[str], labels: Sequence[str]) -> tuple[float, float]:
    """(F1, EM) on 0..100 exactly as EmF1Metric.update(...) then eval() would report them."""
    f1 = 0
    em = 0
    for pred, label in zip(predictions, labels):
        answer = first_line(pred)
        f1 += emf1_f1(answer, label)
        em += emf1_em(answer, label)
    n = min(len(predictions), len(labels))
    if n == 0:
        return 0.0, 0.0
    return 100.0 * f1 / n, 100.0 * em / n


def score_squad(predictions: Mapping[str, str | None], examples: Sequence[SquadExample]) -> SquadScore:
    """Score every example (a missing prediction counts as an empty output)."""
    items = []
    f1_sum = 0
    em_sum = 0
    sf1_sum = 0.0
    sem_sum = 0.0
    for ex in examples:
        answer = first_line(predictions.get(ex.id))
        f1 = emf1_f1(answer, ex.label)
        em = emf1_em(answer, ex.label)
        sf1 = squad_f1(answer, ex.answers)
        sem = squad_em(answer, ex.answers)
        f1_sum += f1
        em_sum += em
        sf1_sum += sf1
        sem_sum += sem
        items.append(SquadItem(ex.id, answer, ex.label, float(f1), em, sf1, sem))
    n = len(items)
    if n == 0:
        return SquadScore(items, 0.0, 0.0, 0.0, 0.0)
    return SquadScore(items, 100.0 * f1_sum / n, 100.0 * em_sum / n, 100.0 * sf1_sum / n, 100.0 * sem_sum / n)


def score_squad_files(predictions: Path | str, references: Path | str, first_question_only: bool = False) -> SquadScore:
    """Read both files, insist the ids correspond one to one, and score. Predictions for just the first
    question of each paragraph, scored against every question, get a hint to add --first-question-only."""
    from .files import check_ids, load_predictions
    from .squad_data import load_squad

    examples = load_squad(references, first_question_only=first_question_only)
    preds = load_predictions(predictions)
    try:
        check_ids(predictions, references, preds.keys(), [ex.id for ex in examples])
    except MathDataError as err:
        if not first_question_only and len(preds) < len(examples):
            firsts = {ex.id for ex in load_squad(references, first_question_only=True)}
            if set(preds) == firsts:
                raise MathDataError(err.message, "the predictions cover the first question of each paragraph: "
                                                 "add --first-question-only") from None
        raise
    return score_squad(preds, examples)
