"""Load the configured tokenizer through MindFormers' own Llama tokenizer classes."""
from __future__ import annotations

from pathlib import Path

from mathdata.errors import MathDataError


def load_tokenizer(kind: str, path: str):
    """`LlamaTokenizer` (sentencepiece .model) or `LlamaTokenizerFast` (tokenizers tokenizer.json)."""
    from .runtime import default_output_dir

    default_output_dir()
    from mindformers import LlamaTokenizer, LlamaTokenizerFast

    if not path or not Path(path).is_file():
        raise MathDataError(f"tokenizer file {path!r} not found", "set [tokenizer].path in the config")
    try:
        if kind == "LlamaTokenizer":
            return LlamaTokenizer(vocab_file=path)
        if kind == "LlamaTokenizerFast":
            return LlamaTokenizerFast(tokenizer_file=path)
    except Exception as err:  # sentencepiece / tokenizers raise various types on a bad file
        raise MathDataError(f"{path}: cannot load as {kind}: {err}",
                            "check [tokenizer].type matches the file (.model -> LlamaTokenizer, "
                            ".json -> LlamaTokenizerFast)") from None
    raise MathDataError(f"unknown tokenizer type {kind!r}", "use LlamaTokenizer or LlamaTokenizerFast")
