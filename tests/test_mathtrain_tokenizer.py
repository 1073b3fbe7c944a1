"""Hugging Face tokenizer.json through MindFormers' LlamaTokenizerFast with the model's OWN special tokens
(never Llama-2's <s>/</s>/<unk>), and the [tokenizer] overrides."""
import json

import numpy as np
import pytest

from mathdata.errors import MathDataError

from train_helpers import FIXTURES, arithmetic_records, write_build_dir

pytestmark = pytest.mark.train
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|eot_id|>"]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """A small byte-level BPE tokenizer.json with Llama3's special-token names (no <s>, </s>, <unk>) and a
    tokenizer_config.json naming BOS and EOS, as Hugging Face model folders have."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from mathtrain.runtime import use_output_dir

    folder = tmp_path_factory.mktemp("hf")
    use_output_dir(folder / "mf")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [f"{r['problem']} {r['solution']}" for r in arithmetic_records(200)]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens(SPECIALS)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|end_of_text|>"}, "pad_token": None}))
    return folder


def _vocab(folder):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab(with_added_tokens=True)


@pytest.mark.parametrize("kind", ["hf", "LlamaTokenizerFast"])
def test_the_files_own_specials_nothing_added(hf_dir, kind):
    from mindformers import LlamaTokenizerFast

    from mathtrain.tokenizer import SpecialIds, load_tokenizer, special_ids

    vocab = _vocab(hf_dir)
    tok = load_tokenizer(kind, str(hf_dir / "tokenizer.json"))
    eos = vocab["<|end_of_text|>"]
    assert special_ids(tok) == SpecialIds(vocab["<|begin_of_text|>"], eos, eos)  # no pad token: pad with EOS
    assert len(tok) == len(vocab) and not {"<s>", "</s>", "<unk>"} & set(tok.get_vocab())
    ids = tok.encode("计算 1.5 + 2 等于多少？")
    assert ids[0] == vocab["<|begin_of_text|>"] and eos not in ids
    assert tok.decode(ids, skip_special_tokens=True) == "计算 1.5 + 2 等于多少？"
    # what the old loader did: MindFormers' defaults append <s>, </s>, <unk> past the file's vocabulary
    assert len(LlamaTokenizerFast(tokenizer_file=str(hf_dir / "tokenizer.json"))) == len(vocab) + 3


def test_overrides_and_missing_specials(hf_dir, tmp_path):
    from mathtrain.tokenizer import load_tokenizer, special_ids

    vocab = _vocab(hf_dir)
    tok = load_tokenizer("hf", str(hf_dir / "tokenizer.json"), eos="<|eot_id|>", pad="<|reserved_special_token_0|>")
    assert (special_ids(tok).eos, special_ids(tok).pad) == (vocab["<|eot_id|>"], vocab["<|reserved_special_token_0|>"])
    with pytest.raises(MathDataError) as err:
        load_tokenizer("hf", str(hf_dir / "tokenizer.json"), eos="</s>")
    assert "[tokenizer].eos = '</s>' is not a token" in err.value.message
    bare = tmp_path / "tokenizer.json"
    bare.write_bytes((hf_dir / "tokenizer.json").read_bytes())  # no tokenizer_config.json beside it
    with pytest.raises(MathDataError) as err:
        load_tokenizer("hf", str(bare))
    assert "no BOS token" in err.value.message and "[tokenizer].bos" in err.value.hint
    assert special_ids(load_tokenizer("hf", str(bare), bos="<|begin_of_text|>", eos="<|end_of_text|>")).bos == \
        vocab["<|begin_of_text|>"]


@pytest.mark.parametrize("content, message", [('{"bos_token": }', ":1:15: not valid JSON"),
                                              ('["<|begin_of_text|>"]', ": not a JSON object")])
def test_a_broken_tokenizer_config_is_one_line(hf_dir, tmp_path, content, message):
    from mathtrain.tokenizer import load_tokenizer

    (tmp_path / "tokenizer.json").write_bytes((hf_dir / "tokenizer.json").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(content, encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        load_tokenizer("hf", str(tmp_path / "tokenizer.json"))
    assert err.value.message.startswith(f"{tmp_path / 'tokenizer_config.json'}{message}")
    assert err.value.hint == "fix or remove the file"


def test_hf_records_end_answers_with_the_files_eos(hf_dir, tmp_path):
    from mathtrain.records import IGNORE, build_records, load_records
    from mathtrain.tokenizer import load_tokenizer

    vocab = _vocab(hf_dir)
    path = str(hf_dir / "tokenizer.json")
    tok = load_tokenizer("hf", path)
    bos, eos = vocab["<|begin_of_text|>"], vocab["<|end_of_text|>"]
    model = {"vocab_size": len(vocab), "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos}
    rs = build_records(write_build_dir(tmp_path / "b", n=8), tok, path, "hf", 256, tmp_path / "data",
                       model_config=model)
    ids, labels = load_records(rs.path)
    assert (ids[:, 0] == bos).all() and ids.max() < len(vocab)
    last = [row[np.flatnonzero(row != IGNORE)[-1]] for row in labels]
    assert last == [eos] * 8


def test_llama3_shaped_tokenizer_json_through_hf(tmp_path, llama3_tokenizer_file, llama3_tokenizer_json):
    """Meta's HF layout (tokenizer.json, specials as added tokens at 128000.., tokenizer_config.json without a
    pad token): MindFormers' defaults put <s>/</s>/<unk> at 128256.. (past vocab_size); ours uses the file's
    own, needs [tokenizer].pad for Llama3's pad 128002, and then writes the same records as Llama3Tokenizer."""
    import yaml
    from mindformers import LlamaTokenizerFast

    from mathtrain.records import build_records, load_records
    from mathtrain.tokenizer import SpecialIds, load_tokenizer, special_ids

    path = str(llama3_tokenizer_json)
    old = LlamaTokenizerFast(tokenizer_file=path)
    assert (old.bos_token_id, old.eos_token_id, len(old)) == (128256, 128257, 128259)  # the bug this replaces
    model = yaml.safe_load((FIXTURES / "tiny" / "llama3-model.yaml").read_text())
    build = write_build_dir(tmp_path / "b", n=16)
    hf = load_tokenizer("hf", path)
    assert special_ids(hf) == SpecialIds(128000, 128001, 128001) and len(hf) == 128256
    with pytest.raises(MathDataError) as err:
        build_records(build, hf, path, "hf", 64, tmp_path / "hf", model_config=model)
    assert "!= pad_token_id 128002" in err.value.message and "[tokenizer].pad" in err.value.hint
    hf = load_tokenizer("hf", path, pad="<|reserved_special_token_0|>")
    a = load_records(build_records(build, hf, path, "hf", 64, tmp_path / "hf", model_config=model).path)
    l3 = load_tokenizer("Llama3Tokenizer", str(llama3_tokenizer_file))
    b = load_records(build_records(build, l3, str(llama3_tokenizer_file), "Llama3Tokenizer", 64, tmp_path / "l3",
                                   model_config=model).path)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and (a[0][:, 0] == 128000).all()
