"""The configured tokenizer, with the model's own special tokens, and its BOS/EOS/pad ids.

Three kinds ([tokenizer].type):
- `Llama3Tokenizer`: Meta's tiktoken `tokenizer.model` (one `base64-token rank` pair a line), loaded the way
  MindFormers' research `Llama3Tokenizer` (research/llama3/llama3_tokenizer.py, not in the 1.9 wheel) loads
  it: Llama3's pre-tokenising pattern, 256 special tokens numbered from the number of ranks on (128000..128255
  for Meta's file), BOS `<|begin_of_text|>`, EOS `<|end_of_text|>`, pad `<|reserved_special_token_0|>`. This
  is our own small implementation over `tiktoken.Encoding`.
- `LlamaTokenizerFast` (alias `hf`): a Hugging Face tokenizer.json through MindFormers' `LlamaTokenizerFast`,
  with the model's own special tokens (from tokenizer_config.json beside the file, or [tokenizer].bos/eos/pad);
  Llama-2's `<s>`/`</s>`/`<unk>` are never injected.
- `LlamaTokenizer`: a sentencepiece .model through MindFormers' `LlamaTokenizer` (the tiny CPU fixture).

Every kind gives `encode(text, add_special_tokens=True)` (BOS first, no EOS), `decode(ids,
skip_special_tokens=False)`, `bos_token_id`, `eos_token_id`, `pad_token_id` and `vocab_size`.
`special_ids(tok)` is the one place the three ids are read. Generation stops on the EOS id.
"""
from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from mathdata.errors import MathDataError

TOKENIZER_TYPES = ("Llama3Tokenizer", "LlamaTokenizerFast", "hf", "LlamaTokenizer")

# Llama3's pre-tokenising regex (Meta's tokenizer.py and MindFormers' Llama3Tokenizer use this pattern):
# contractions, letters with one optional leading non-letter, numbers in 1-3 digit chunks, punctuation runs,
# newlines, other whitespace.
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIAL_COUNT = 256


def llama3_special_tokens(count: int = LLAMA3_SPECIAL_COUNT) -> list[str]:
    """Llama3's special tokens in id order (the first is numbered len(ranks), i.e. 128000 in Meta's file)."""
    named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
             "<|reserved_special_token_1|>", "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
             "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
    return named + [f"<|reserved_special_token_{i}|>" for i in range(5, count - 5)]


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int


def special_ids(tokenizer) -> SpecialIds:
    """BOS / EOS / pad ids of a loaded tokenizer. A tokenizer without a pad token pads with its EOS id
    (padding is never scored: its labels are -100)."""
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    if bos is None or eos is None:
        raise MathDataError(f"tokenizer {getattr(tokenizer, 'name_or_path', '')!s} has no "
                            f"{'BOS' if bos is None else 'EOS'} token",
                            "set [tokenizer].bos / [tokenizer].eos to the model's own special tokens")
    return SpecialIds(int(bos), int(eos), int(eos if pad is None else pad))


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """A tiktoken BPE file -> {token bytes: rank}; a bad line is a one-line error naming file:line."""
    ranks: dict[bytes, int] = {}
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise MathDataError(f"{path}: cannot read ({err.strerror})", "set [tokenizer].path") from None
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError("expected `base64-token rank`")
            token, rank = base64.b64decode(parts[0], validate=True), int(parts[1])
        except (ValueError, binascii.Error) as err:
            raise MathDataError(f"{path}:{lineno}: not a tiktoken BPE line ({err})",
                                "[tokenizer].type = 'Llama3Tokenizer' needs Meta's tokenizer.model "
                                "(original/tokenizer.model); use 'hf' for a tokenizer.json") from None
        ranks[token] = rank
    if not ranks:
        raise MathDataError(f"{path}: no BPE ranks", "point [tokenizer].path at Meta's tokenizer.model")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise MathDataError(f"{path}: {len(missing)} of the 256 single bytes have no rank (e.g. {missing[0]:#04x})",
                            "a byte-level BPE file ranks every byte; is this Meta's tokenizer.model?")
    if len(set(ranks.values())) != len(ranks):
        raise MathDataError(f"{path}: two tokens share a rank", "the file is damaged")
    return ranks


class Llama3Tokenizer:
    """Meta's tiktoken tokenizer.model with Llama3's specials (see module doc). Text is NFC-normalised first
    (as MindFormers' class does). Unlike MindFormers' class, special-token *text* inside the input is encoded
    as ordinary text, so a training record cannot smuggle in a control token."""

    def __init__(self, path: str | Path, bos: str = "", eos: str = "", pad: str = ""):
        import tiktoken

        self.name_or_path = str(path)
        self.ranks = read_tiktoken_ranks(Path(path))
        base = len(self.ranks)  # MindFormers numbers the specials from the number of ranks
        if max(self.ranks.values()) != base - 1:
            raise MathDataError(f"{path}: ranks are not 0..{base - 1}", "the file is damaged")
        self.special_tokens = {tok: base + i for i, tok in enumerate(llama3_special_tokens())}
        self.encoding = tiktoken.Encoding("llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=self.ranks,
                                          special_tokens=self.special_tokens)
        self.bos_token = bos or "<|begin_of_text|>"
        self.eos_token = eos or "<|end_of_text|>"
        self.pad_token = pad or "<|reserved_special_token_0|>"
        for key, tok in (("bos", self.bos_token), ("eos", self.eos_token), ("pad", self.pad_token)):
            if tok not in self.special_tokens:
                raise MathDataError(f"[tokenizer].{key} = {tok!r} is not a Llama3 special token",
                                    "use e.g. <|begin_of_text|>, <|end_of_text|>, <|eot_id|>, "
                                    "<|reserved_special_token_0|>")
        self.unk_token_id = None

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    def __len__(self) -> int:  # as Hugging Face tokenizers: the number of ids, specials included
        return self.encoding.n_vocab

    @property
    def bos_token_id(self) -> int:
        return self.special_tokens[self.bos_token]

    @property
    def eos_token_id(self) -> int:
        return self.special_tokens[self.eos_token]

    @property
    def pad_token_id(self) -> int:
        return self.special_tokens[self.pad_token]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self.encoding.encode_ordinary(unicodedata.normalize("NFC", text))
        return [self.bos_token_id, *ids] if add_special_tokens else ids

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": self.encode(text, add_special_tokens)}

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        ids = [int(i) for i in ids]
        if skip_special_tokens:
            first_special = len(self.ranks)
            ids = [i for i in ids if i < first_special]
        return self.encoding.decode(ids, errors="replace")


def _config_token(value) -> str:
    """tokenizer_config.json holds a special token as a string or as {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _hf_tokenizer(path: Path, bos: str, eos: str, pad: str):
    from tokenizers import Tokenizer
    from mindformers import LlamaTokenizerFast

    try:
        vocab = Tokenizer.from_file(str(path)).get_vocab(with_added_tokens=True)
    except Exception as err:  # tokenizers raises plain Exception subclasses on a bad file
        raise MathDataError(f"{path}: cannot load as a tokenizer.json: {err}",
                            "check [tokenizer].type matches the file") from None
    config_file = path.with_name("tokenizer_config.json")
    from_file = {}
    if config_file.is_file():
        from mathdata.io import read_json_file

        from_file = read_json_file(config_file, "fix or remove the file")  # an object: its *_token keys are read
    chosen = {}
    for key, override in (("bos", bos), ("eos", eos), ("pad", pad)):
        tok = override or _config_token(from_file.get(f"{key}_token"))
        if tok and tok not in vocab:
            where = f"[tokenizer].{key}" if override else f"{config_file} {key}_token"
            raise MathDataError(f"{where} = {tok!r} is not a token of {path}",
                                f"set [tokenizer].{key} to one of the file's own special tokens")
        chosen[key] = tok or None
    for key in ("bos", "eos"):
        if chosen[key] is None:
            raise MathDataError(f"{path}: no {key.upper()} token (no tokenizer_config.json {key}_token beside it)",
                                f"set [tokenizer].{key} to the model's own {key.upper()} token")
    tok = LlamaTokenizerFast(tokenizer_file=str(path), unk_token=None, bos_token=chosen["bos"],
                             eos_token=chosen["eos"], pad_token=chosen["pad"], add_bos_token=True)
    added = len(tok) - len(vocab)
    if added:  # MindFormers appended tokens the file does not have: their ids would lie past the embedding
        raise MathDataError(f"{path}: loading added {added} token(s) not in the file", "report this as a bug")
    return tok


def load_tokenizer(kind: str, path: str, *, bos: str = "", eos: str = "", pad: str = ""):
    """A tokenizer of `kind` (see TOKENIZER_TYPES) from `path`; bos/eos/pad override the file's specials."""
    if kind not in TOKENIZER_TYPES:
        raise MathDataError(f"[tokenizer].type = {kind!r} is unknown", f"choose one of {', '.join(TOKENIZER_TYPES)}")
    if not path or not Path(path).is_file():
        raise MathDataError(f"tokenizer file {path!r} not found", "set [tokenizer].path in the config")
    if kind == "Llama3Tokenizer":
        return Llama3Tokenizer(path, bos=bos, eos=eos, pad=pad)
    from .runtime import default_output_dir

    default_output_dir()
    if kind in ("LlamaTokenizerFast", "hf"):
        return _hf_tokenizer(Path(path), bos, eos, pad)
    from mindformers import LlamaTokenizer

    specials = {f"{k}_token": v for k, v in (("bos", bos), ("eos", eos), ("pad", pad)) if v}
    try:
        return LlamaTokenizer(vocab_file=path, **specials)
    except Exception as err:  # sentencepiece raises various types on a bad file
        raise MathDataError(f"{path}: cannot load as {kind}: {err}",
                            "check [tokenizer].type matches the file (tokenizer.model from Meta -> "
                            "Llama3Tokenizer, sentencepiece .model -> LlamaTokenizer, .json -> hf)") from None


def tokenizer_from_config(section) -> object:
    """load_tokenizer from a [tokenizer] section: a TokenizerSection or its dict (run.json's config)."""
    get = section.get if isinstance(section, dict) else (lambda k, d="": getattr(section, k, d))
    return load_tokenizer(get("type"), get("path"), bos=get("bos", "") or "", eos=get("eos", "") or "",
                          pad=get("pad", "") or "")
