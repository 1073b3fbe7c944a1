"""SQuAD v1.1 dev JSON -> examples, and the prompt the contest asked the model with."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError
from mathdata.io import read_json_file


# The contest's reading-comprehension prompt (fed as-is, without a chat template).
SQUAD_PROMPT = ("Read the passage and answer the question below.\n\n### Instruction:\n{context}\n\n"
                "### Input:\n{question}\n\n### Response:")


@dataclass(frozen=True)
class SquadExample:
    id: str
    context: str
    question: str
    answers: tuple[str, ...]   # gold answers in file order; answers[0] is the contest's label

    @property
    def label(self) -> str:
        return self.answers[0]

    def prompt(self) -> str:
        return SQUAD_PROMPT.format(context=self.context, question=self.question)


def load_squad(path: Path | str, first_question_only: bool = False) -> list[SquadExample]:
    """Every question (or only the first of each paragraph, as the contest did: 2,067 on v1.1 dev)."""
    data = read_json_file(path, want_object=False)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MathDataError(f"{path}: not SQuAD v1.1 JSON (no top-level \"data\" list)",
                            "pass the dev-v1.1.json file")
    examples: list[SquadExample] = []
    seen: set[str] = set()
    for a, article in enumerate(data["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise MathDataError(f"{path}: data[{a}] has no \"paragraphs\" list", "the file is not SQuAD v1.1")
        for p, para in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str) \
                    or not isinstance(para.get("qas"), list):
                raise MathDataError(f"{path}: {where} needs \"context\" text and a \"qas\" list",
                                    "the file is not SQuAD v1.1")
            for q, qa in enumerate(para["qas"]):
                qwhere = f"{where}.qas[{q}]"
                try:
                    qid, question = str(qa["id"]), str(qa["question"])
                    answers = tuple(str(ans["text"]) for ans in qa["answers"])
                except (KeyError, TypeError):
                    raise MathDataError(f"{path}: {qwhere} needs \"id\", \"question\" and \"answers\" with \"text\"",
                                        "the file is not SQuAD v1.1") from None
                if not answers:
                    raise MathDataError(f"{path}: {qwhere} (id {qid!r}) has no answers",
                                        "SQuAD v2 unanswerable questions are not supported")
                if qid in seen:
                    raise MathDataError(f"{path}: {qwhere}: duplicate question id {qid!r}", "ids must be unique")
                seen.add(qid)
                examples.append(SquadExample(qid, para["context"], question, answers))
                if first_question_only:
                    break
    if not examples:
        raise MathDataError(f"{path}: no questions", "pass a SQuAD v1.1 file with data")
    return examples
