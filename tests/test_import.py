"""`mathtrain import`: GGUF / HF safetensors -> MindFormers model folder, proved against a numpy reference."""
from __future__ import annotations

import json

import numpy as np
import pytest

from smollm2_helpers import ROOT, gguf_path, imported_dir
from train_helpers import run_cli

pytestmark = pytest.mark.train

CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def test_unpermute_inverts_llamacpp_permute():
    from mathtrain.importer.gguf_source import permute_rope_rows, unpermute_rope_rows

    rng = np.random.default_rng(0)
    w = rng.standard_normal((3 * 8, 5)).astype(np.float32)  # 3 heads of dim 8
    p = permute_rope_rows(w, 3)
    assert not np.array_equal(p, w)
    np.testing.assert_array_equal(unpermute_rope_rows(p, 3), w)
    # llama.cpp's order inside one head: the halves interleaved, row i of the first half next to row i of the second
    np.testing.assert_array_equal(p[:8:2], w[:4])
    np.testing.assert_array_equal(p[1:8:2], w[4:8])


@pytest.fixture(scope="module")
def model_dir():
    return imported_dir()


@pytest.fixture(scope="module")
def source():
    from mathtrain.importer.gguf_source import read_gguf

    return read_gguf(gguf_path())


def test_model_yaml_and_import_json(model_dir):
    import yaml

    arch = yaml.safe_load((model_dir / "model.yaml").read_text())
    assert {k: arch[k] for k in ("num_layers", "hidden_size", "intermediate_size", "num_heads", "n_kv_heads",
                                 "vocab_size", "theta", "rms_norm_eps", "tie_word_embeddings")} == {
        "num_layers": 30, "hidden_size": 576, "intermediate_size": 1536, "num_heads": 9, "n_kv_heads": 3,
        "vocab_size": 49152, "theta": 100000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": True}
    assert (arch["bos_token_id"], arch["eos_token_id"]) == (1, 2)
    assert arch["pad_token_id"] not in (1, 2)  # MindFormers masks pad ids out of attention
    info = json.loads((model_dir / "import.json").read_text())
    src = info["sources"][0]
    assert src["sha256"] == runpy_sha()
    assert info["source"]["quantization_counts"] == {"F32": 61, "Q4_1": 210, "Q8_0": 1}
    assert info["parameters"] == 134_515_008  # SmolLM2-135M: 134.5M with the head tied to the embedding
    assert info["key_map"]["hf_to_mindformers"]["model.layers.0.self_attn.q_proj.weight"] == \
        "model.layers.0.attention.wq.weight"
    assert info["special_tokens"]["eos_token_id"] == {"id": 2, "token": "<|im_end|>"}


def runpy_sha():
    import runpy

    return runpy.run_path(str(ROOT / "scripts" / "fetch_smollm2.py"))["GGUF_SHA256"]


def test_checkpoint_is_float32_mindformers_names_tied(model_dir, source):
    import mindspore as ms

    params = ms.load_checkpoint(str(model_dir / "model.ckpt"))
    assert "lm_head.weight" not in params  # tied: the head is the embedding parameter
    emb = params["model.tok_embeddings.embedding_weight"].asnumpy()
    assert emb.dtype == np.float32 and emb.shape == (49152, 576)
    np.testing.assert_array_equal(emb, source.weights["model.embed_tokens.weight"])
    np.testing.assert_array_equal(params["model.layers.29.feed_forward.w2.weight"].asnumpy(),
                                  source.weights["model.layers.29.mlp.down_proj.weight"])
    assert len(params) == 30 * 9 + 2


def test_llamacpp_rope_rows_undone(source):
    """The numpy reference with llama.cpp's interleaved RoPE on the raw GGUF Q/K rows gives the same logits as
    Hugging Face's rotate-half RoPE on the rows the importer wrote: the un-permutation is llama.cpp's inverse."""
    from mathtrain.importer.gguf_source import read_gguf
    from mathtrain.importer.reference import forward

    raw = read_gguf(gguf_path(), raw=True)
    assert not np.array_equal(raw.weights["model.layers.0.self_attn.q_proj.weight"],
                              source.weights["model.layers.0.self_attn.q_proj.weight"])
    arch = {**source.arch, "num_layers": 4}
    ids = [1, 4093, 198, 1780, 314, 216, 33, 34, 1232, 216, 35, 37, 47, 2]
    half = forward(source.weights, arch, ids, rope="half")
    inter = forward(raw.weights, arch, ids, rope="interleaved")
    np.testing.assert_allclose(half, inter, atol=1e-8)
    wrong = forward(raw.weights, arch, ids, rope="half")  # the permuted rows with HF's RoPE: not the model
    assert np.max(np.abs(wrong - half)) > 1.0


def test_mindformers_matches_numpy_reference(model_dir, source):
    from tokenizers import Tokenizer

    from mathtrain.importer.check import compare_logits

    recorded = json.loads((model_dir / "import.json").read_text())["logits_check"]
    assert recorded["max_abs_diff_last"] < 1e-3
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ids = tok.encode(CHATML.format("计算 12.5 * 4 等于多少？")).ids
    got = compare_logits(model_dir, source.weights, source.arch, ids)
    spread = got["logit_range_last"][1] - got["logit_range_last"][0]
    assert spread > 10  # real logits, not a constant
    assert got["max_abs_diff_last"] < 1e-3, got
    assert got["max_abs_diff_all"] < 1e-3, got
    assert got["top5_mindformers"] == got["top5_reference"]


def test_greedy_top1_after_chatml_is_sensible(model_dir):
    from tokenizers import Tokenizer

    info = json.loads((model_dir / "import.json").read_text())
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    top5 = [tok.id_to_token(i) for i in info["logits_check"]["top5_mindformers"]]
    assert info["check_prompt"].endswith("<|im_start|>assistant\n")
    assert "Paris" in top5 and top5[0] in ("The", "Paris"), top5  # "What is the capital of France?"


@pytest.mark.parametrize("text", ["计算 12.5 * 4 等于多少？", "Hello  world,\n\tdon't 3.14159!", "ÀÉ ü 😀 x²",
                                  "<|im_start|>user\nhi<|im_end|>"])
def test_tokenizer_round_trips(model_dir, text):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    enc = tok.encode(text)
    assert tok.decode(enc.ids, skip_special_tokens=False) == text
    assert max(enc.ids) < 49152


def test_tokenizer_specials_and_digits(model_dir):
    from mathtrain.tokenizer import load_tokenizer, special_ids

    tok = load_tokenizer("hf", str(model_dir / "tokenizer.json"))
    assert len(tok) == 49152  # nothing added: no <s>, </s>, <unk>
    sp = special_ids(tok)
    assert (sp.bos, sp.eos) == (1, 2) and sp.pad not in (1, 2)
    ids = tok.encode("<|im_start|>user\n2024<|im_end|>", add_special_tokens=False)
    assert ids[0] == 1 and ids[-1] == 2
    assert [tok.decode([i]) for i in ids[3:7]] == ["2", "0", "2", "4"]  # SmolLM2 splits every digit


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    out = tmp_path / "m"
    r = run_cli("import", "--gguf", str(bad), "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert "bad.gguf: not a readable GGUF file" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".m*"))  # nothing half-written
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = run_cli("import", "--gguf", str(gguf_path()), "--out", str(out))
    assert r.returncode == 2 and "already exists and is not empty" in r.stderr
    assert (out / "keep.txt").read_text() == "mine"


def _write_safetensors(path, tensors: dict, bf16: set):
    """A safetensors file written by hand (numpy has no bfloat16): bf16 tensors keep the top 16 bits."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        if name in bf16:
            data = (np.asarray(arr, np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
            dtype = "BF16"
        else:
            data, dtype = np.asarray(arr, np.float32).tobytes(), "F32"
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory):
    """A random tiny Llama saved the way Hugging Face saves one (config.json, safetensors, tokenizer.json)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    d = tmp_path_factory.mktemp("hf-tiny")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["计算 1 + 2 等于多少？ 答案是 3", "the capital of France is Paris"] * 20,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<bos>", "<eos>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(d / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    h, layers, heads, kv, ffn = 32, 2, 4, 2, 64
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": ffn, "vocab_size": vocab,
           "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "max_position_embeddings": 128, "tie_word_embeddings": False,
           "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": None, "torch_dtype": "bfloat16"}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<bos>", "eos_token": "<eos>"}))
    rng = np.random.default_rng(3)
    t = {"model.embed_tokens.weight": rng.standard_normal((vocab, h)), "lm_head.weight": rng.standard_normal((vocab, h)),
         "model.norm.weight": 1 + 0.1 * rng.standard_normal(h)}
    kvd = kv * (h // heads)
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, shape in (("self_attn.q_proj", (h, h)), ("self_attn.k_proj", (kvd, h)), ("self_attn.v_proj", (kvd, h)),
                            ("self_attn.o_proj", (h, h)), ("mlp.gate_proj", (ffn, h)), ("mlp.up_proj", (ffn, h)),
                            ("mlp.down_proj", (h, ffn))):
            t[p + name + ".weight"] = rng.standard_normal(shape) / np.sqrt(shape[1])
        t[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
        t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
    t = {k: v.astype(np.float32) for k, v in t.items()}
    _write_safetensors(d / "model.safetensors", t, bf16={k for k in t if "mlp" in k})
    return d, t, cfg


def test_hf_import_matches_reference(tiny_hf_dir, tmp_path):
    import mindspore as ms

    from mathtrain.importer import import_model

    src, tensors, cfg = tiny_hf_dir
    info = import_model(tmp_path / "m", hf=src)
    check = info["logits_check"]
    assert check["max_abs_diff_last"] < 1e-4 and check["top5_mindformers"] == check["top5_reference"], check
    assert info["architecture"]["theta"] == 500000.0 and info["architecture"]["tie_word_embeddings"] is False
    assert info["architecture"]["pad_token_id"] == 0  # no pad in config.json: a spare special token, not BOS/EOS
    assert info["source"]["dtypes"] == {"BF16": 6, "F32": 15}
    params = ms.load_checkpoint(str(tmp_path / "m" / "model.ckpt"))
    np.testing.assert_array_equal(params["lm_head.weight"].asnumpy(), tensors["lm_head.weight"])
    w3 = params["model.layers.1.feed_forward.w3.weight"].asnumpy()  # bf16 in the file: widened exactly
    assert np.max(np.abs(w3 - tensors["model.layers.1.mlp.up_proj.weight"])) < 1e-2
    assert np.array_equal(w3.view(np.uint32) & 0xFFFF, np.zeros_like(w3, dtype=np.uint32))


def test_hf_import_missing_tensor_is_an_error(tiny_hf_dir, tmp_path):
    import shutil

    from mathdata.errors import MathDataError
    from mathtrain.importer import import_model

    src, tensors, cfg = tiny_hf_dir
    bad = tmp_path / "bad"
    shutil.copytree(src, bad)
    _write_safetensors(bad / "model.safetensors", {k: v for k, v in tensors.items() if "layers.1.mlp.up" not in k},
                       set())
    with pytest.raises(MathDataError, match=r"lack 1 tensors \(\['model.layers.1.mlp.up_proj.weight'\]"):
        import_model(tmp_path / "m", hf=bad)
    assert not (tmp_path / "m").exists()
