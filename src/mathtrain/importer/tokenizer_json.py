"""A Hugging Face `tokenizers` document (tokenizer.json) from the vocabulary embedded in a GGUF file.

GGUF stores a GPT-2-style byte-level BPE as `tokenizer.ggml.tokens` (already in byte-level alphabet form,
`Ġ` for a space), `tokenizer.ggml.merges` ("a b" pairs, rank order), `tokenizer.ggml.token_type` (1 normal,
3 control = a special token, 4 user-defined) and `tokenizer.ggml.pre`, the name of llama.cpp's pre-tokenizer
regex set. Control/user-defined tokens become `added_tokens` (so `<|im_start|>` is one id, never split);
nothing is added that the model does not have (no `<s>`/`</s>`/`<unk>`).
"""
from __future__ import annotations

from mathdata.errors import MathDataError

# GPT-2's split regex (ByteLevel's use_regex=True applies exactly this one).
_BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
# llama.cpp LLAMA_VOCAB_PRE_TYPE_LLAMA3 (llama-bpe): numbers in 1-3 digit chunks.
_LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# llama.cpp pre-tokenizer name -> the equivalent `tokenizers` pre_tokenizer.
PRE_TOKENIZERS = {
    # starcoder family (SmolLM, SmolLM2): every digit alone, then GPT-2's regex on bytes
    **{name: {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, _BYTELEVEL]}
       for name in ("smollm", "starcoder", "refact", "codeshell")},
    "gpt-2": _BYTELEVEL,
    "default": _BYTELEVEL,
    "llama-bpe": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": _LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {**_BYTELEVEL, "use_regex": False}]},
}
SPECIAL_TYPES = (3, 4)  # CONTROL, USER_DEFINED


def _get(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def tokenizer_from_gguf(reader) -> tuple[dict, dict]:
    """-> (tokenizer.json document, {bos_token_id, eos_token_id, pad_token_id} for the LlamaConfig)."""
    where = getattr(reader, "mathtrain_path", "GGUF")
    model = _get(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise MathDataError(f"{where}: tokenizer model {model!r} is not supported",
                            "only byte-level BPE ('gpt2') vocabularies are converted to tokenizer.json")
    pre = _get(reader, "tokenizer.ggml.pre", "default")
    if pre not in PRE_TOKENIZERS:
        raise MathDataError(f"{where}: pre-tokenizer {pre!r} has no tokenizer.json equivalent here",
                            f"supported: {', '.join(sorted(PRE_TOKENIZERS))}")
    tokens = list(_get(reader, "tokenizer.ggml.tokens"))
    types = list(_get(reader, "tokenizer.ggml.token_type", [1] * len(tokens)))
    merges = list(_get(reader, "tokenizer.ggml.merges", []))
    if len(types) != len(tokens):
        raise MathDataError(f"{where}: {len(tokens)} tokens but {len(types)} token types", "the GGUF is damaged")
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise MathDataError(f"{where}: the vocabulary has duplicate tokens", "the GGUF is damaged")
    added = [{"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, tok in enumerate(tokens) if types[i] in SPECIAL_TYPES]
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": PRE_TOKENIZERS[pre],
        "post_processor": None,  # add_bos_token is false for these models; MindFormers' data code adds EOS by id
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    if _get(reader, "tokenizer.ggml.add_bos_token", False):
        raise MathDataError(f"{where}: add_bos_token is set", "models that prepend a BOS are not converted yet")
    specials = {}
    for key, gguf_key in (("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
                          ("pad_token_id", "padding_token_id")):
        value = _get(reader, f"tokenizer.ggml.{gguf_key}")
        if value is not None:
            specials[key] = int(value)
    if "eos_token_id" not in specials:
        raise MathDataError(f"{where}: no tokenizer.ggml.eos_token_id", "generation needs an EOS id")
    specials.setdefault("bos_token_id", specials["eos_token_id"])
    specials["pad_token_id"] = safe_pad_id(specials, _get(reader, "tokenizer.ggml.unknown_token_id"),
                                           [t["id"] for t in added], where)
    return doc, specials


def safe_pad_id(specials: dict, unk_id, special_ids: list[int], where) -> int:
    """MindFormers' Llama masks every *input* token equal to pad_token_id out of attention
    (LowerTriangularMaskWithDynamic: `tokens != pad_token_id`) and out of the loss. A GGUF pad that is the EOS
    or BOS (SmolLM2: pad = EOS = <|im_end|>) would hide each <|im_end|>/<|im_start|> inside a chatml prompt,
    so the pad must be a special token that never occurs in a prompt: the GGUF's pad if it is not BOS/EOS,
    else its unknown token, else the first other special token."""
    used = {specials["bos_token_id"], specials["eos_token_id"]}
    pad = specials.get("pad_token_id")
    for candidate in (pad, None if unk_id is None else int(unk_id), *special_ids):
        if candidate is not None and candidate not in used:
            return int(candidate)
    raise MathDataError(f"{where}: no special token other than BOS/EOS to pad with",
                        "MindFormers masks the pad id out of attention; the model needs a spare special token")


def tokenizer_config(doc: dict, specials: dict, chat_template: str = "") -> dict:
    """tokenizer_config.json beside tokenizer.json: names the special tokens so Hugging Face / MindFormers
    loaders use the model's own (instead of adding `<s>`/`</s>`/`<unk>`)."""
    by_id = {t["id"]: t["content"] for t in doc["added_tokens"]}
    vocab = doc["model"]["vocab"]
    inv = {i: t for t, i in vocab.items()}

    def tok(i):
        return by_id.get(i, inv.get(i))

    out = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": tok(specials["bos_token_id"]),
        "eos_token": tok(specials["eos_token_id"]),
        "pad_token": tok(specials["pad_token_id"]),
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 8192,
    }
    if chat_template:
        out["chat_template"] = chat_template
    return out
