"""Prompt templates shared by `mathdata build` (training data) and `mathtrain` (tokenising, eval).

A prompt spec has two parts, both recorded in the build manifest so that training and evaluation
can never silently disagree (the seed trained with one template and evaluated with another):
- `human`: how a problem becomes the user's turn, e.g. "{problem}";
- `chat`: the conversation template that wraps turns into one string (FastChat's vicuna_v1.1,
  which MindFormers' own Llama preprocessing uses).

The end of an assistant turn is not text: MindFormers splits a vicuna conversation at its `</s>` separator
and ends each answer with the tokenizer's EOS *id* (`add_eos_token`), so `mathtrain.records` appends that id
after the answer. (Writing `</s>` as text would teach a Llama3 model to print `<`,`/`,`s`,`>` and never to
emit `<|end_of_text|>`.)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import MathDataError

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

# name -> (system, user role, assistant role, separator after a user turn); an assistant turn ends with the
# tokenizer's EOS id (see above), never with text.
CHAT_TEMPLATES = {
    "vicuna_v1.1": (VICUNA_SYSTEM, "USER", "ASSISTANT", " "),
}


@dataclass(frozen=True)
class PromptSpec:
    name: str
    human: str
    chat: str = "vicuna_v1.1"

    def human_turn(self, problem: str) -> str:
        return self.human.replace("{problem}", problem)

    def generation_prompt(self, problem: str) -> str:
        """The exact text a model sees before it answers (no answer appended)."""
        system, user, assistant, sep = chat_template(self.chat)
        return f"{system}{sep}{user}: {self.human_turn(problem)}{sep}{assistant}:"

    def training_parts(self, problem: str, solution: str) -> tuple[str, str]:
        """(prompt, answer): the loss is computed on the answer part only, which the tokenizer's EOS id
        (appended by mathtrain.records, not here) ends."""
        return self.generation_prompt(problem), f" {solution}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "manifest") -> "PromptSpec":
        try:
            spec = cls(name=str(data["name"]), human=str(data["human"]), chat=str(data.get("chat", "vicuna_v1.1")))
        except (KeyError, TypeError) as err:
            raise MathDataError(f"{where}: prompt spec lacks {err}", "rebuild the data with `mathdata build`") from None
        chat_template(spec.chat)
        return spec


def chat_template(name: str) -> tuple[str, str, str, str]:
    try:
        return CHAT_TEMPLATES[name]
    except KeyError:
        raise MathDataError(f"unknown chat template {name!r}", f"valid: {', '.join(CHAT_TEMPLATES)}") from None


def load_prompts(path: Path) -> dict[str, PromptSpec]:
    """rules/prompts.toml: one table per prompt, keys `human` and optional `chat`."""
    from .tomlfile import read_toml
    data = read_toml(path)
    specs = {}
    for name, table in data.items():
        if not isinstance(table, dict) or "human" not in table:
            raise MathDataError(f"{path}: [{name}] needs a `human` key", 'e.g. human = "{problem}"')
        if "{problem}" not in table["human"]:
            raise MathDataError(f"{path}: [{name}].human must contain {{problem}}", "add the placeholder")
        specs[name] = PromptSpec.from_dict({"name": name, **table}, where=f"{path}: [{name}]")
    return specs
