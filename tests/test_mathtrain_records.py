"""BUILD_DIR -> MindRecord: BOS id first, the answer ended by the EOS id, prompt/padding labels -100,
seq_length + 1 int32 rows, truncation, reuse; special ids and vocab checked against the model config; the
records equal MindFormers' own Llama/Llama3 preprocessing logic (research/llama3/llama3_preprocess.py)."""
import json
from pathlib import Path

import numpy as np
import pytest

from mathdata.errors import MathDataError
from mathdata.prompts import PromptSpec
from mathtrain.records import IGNORE, read_examples

from train_helpers import FIXTURES, PROMPT, arithmetic_records, write_build_dir

pytestmark = pytest.mark.train
TOKENIZER = str(FIXTURES / "tiny" / "tokenizer.model")
TINY_MODEL = {"vocab_size": 600, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
LLAMA3_MODEL = FIXTURES / "tiny" / "llama3-model.yaml"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from mathtrain.runtime import use_output_dir
    from mathtrain.tokenizer import load_tokenizer

    use_output_dir(tmp_path_factory.mktemp("mf"))
    return load_tokenizer("LlamaTokenizer", TOKENIZER)


def _build(tokenizer, build, out, seq=96, path=TOKENIZER, kind="LlamaTokenizer", model=None):
    from mathtrain.records import build_records

    return build_records(build, tokenizer, str(path), kind, seq, out, model_config=model or TINY_MODEL,
                         model_source="model.yaml")


@pytest.fixture(scope="module")
def llama3(llama3_tokenizer_file):
    from mathtrain.tokenizer import load_tokenizer

    return load_tokenizer("Llama3Tokenizer", str(llama3_tokenizer_file))


def _llama3_model() -> dict:
    import yaml

    return yaml.safe_load(LLAMA3_MODEL.read_text())


def test_examples_use_the_manifest_prompt(tmp_path):
    build = write_build_dir(tmp_path / "b", n=4)
    spec, examples = read_examples(build)
    rec = arithmetic_records(4)[0]
    assert spec == PromptSpec.from_dict(PROMPT)
    assert examples[0].prompt == spec.generation_prompt(rec["problem"])
    assert examples[0].answer == f" {rec['solution']}"  # the EOS id follows it, never the text </s>


def test_conversations_file_gives_the_same_examples(tmp_path):
    _, a = read_examples(write_build_dir(tmp_path / "a", n=8))
    _, b = read_examples(write_build_dir(tmp_path / "b", n=8, conversations=True))
    assert [(x.prompt, x.answer) for x in a] == [(x.prompt, x.answer) for x in b]


def test_records_labels_and_shapes(tmp_path, tokenizer):
    from mathtrain.records import load_records

    build = write_build_dir(tmp_path / "b", n=16)
    rs = _build(tokenizer, build, tmp_path / "data")
    ids, labels = load_records(rs.path)
    assert ids.shape == labels.shape == (16, 97) and ids.dtype == labels.dtype == np.int32
    assert (rs.samples, rs.truncated, rs.dropped, rs.reused) == (16, 0, 0, False)
    _, examples = read_examples(build)
    prompt_len = len(tokenizer.encode(examples[0].prompt))  # with BOS
    assert (ids[:, 0] == 1).all() and (labels[0, :prompt_len] == IGNORE).all()  # BOS + prompt not scored
    answer = labels[0][labels[0] != IGNORE]
    assert answer[-1] == tokenizer.eos_token_id == 2  # the EOS id ends the answer
    assert tokenizer.decode(answer.tolist(), skip_special_tokens=True).strip() == arithmetic_records(16)[0]["solution"]
    n = prompt_len + len(answer)
    assert (ids[0, :n] == np.where(labels[0, :n] == IGNORE, ids[0, :n], labels[0, :n])).all()
    assert (ids[0, n:] == tokenizer.pad_token_id).all() and (labels[0, n:] == IGNORE).all()
    assert rs.answer_tokens == int((labels != IGNORE).sum())


def test_reuse_and_rebuild(tmp_path, tokenizer):
    build = write_build_dir(tmp_path / "b", n=16)
    first = _build(tokenizer, build, tmp_path / "data")
    mtime = Path(first.path).stat().st_mtime_ns
    again = _build(tokenizer, build, tmp_path / "data")
    assert again.reused and again.key == first.key and Path(first.path).stat().st_mtime_ns == mtime
    other_seq = _build(tokenizer, build, tmp_path / "data", seq=80)
    assert not other_seq.reused and other_seq.key != first.key
    write_build_dir(build, n=16, seed=5)  # new content
    assert not _build(tokenizer, build, tmp_path / "data", seq=80).reused


def test_truncation_and_dropping_are_counted(tmp_path, tokenizer):
    recs = arithmetic_records(6)
    recs[0]["solution"] = "1" * 200  # answer cut
    recs[1]["problem"] = "计算 " + "9" * 300  # the prompt alone overflows: nothing to learn
    rs = _build(tokenizer, write_build_dir(tmp_path / "b", records=recs), tmp_path / "data", seq=88)
    assert (rs.samples, rs.truncated, rs.dropped) == (5, 1, 1)


def test_bad_build_dirs(tmp_path):
    with pytest.raises(MathDataError, match="no such data directory"):
        read_examples(tmp_path / "missing")
    (tmp_path / "x").mkdir()
    with pytest.raises(MathDataError, match="manifest.json: missing"):
        read_examples(tmp_path / "x")
    build = write_build_dir(tmp_path / "y", n=2)
    (build / "train.jsonl").write_text('{"id": "a", "problem": "p"}\n', encoding="utf-8")
    with pytest.raises(MathDataError, match=r"train.jsonl:1: bad record"):
        read_examples(build)


def test_broken_json_files_of_a_build_dir_name_line_and_column(tmp_path):
    build = write_build_dir(tmp_path / "m", n=2)
    text = (build / "manifest.json").read_text(encoding="utf-8")
    cut = text[:text.index('"seed"')]  # the manifest ends in the middle of a line
    (build / "manifest.json").write_text(cut, encoding="utf-8")
    line, column = cut.count("\n") + 1, len(cut.splitlines()[-1]) + 1
    with pytest.raises(MathDataError) as err:
        read_examples(build)
    assert err.value.message.startswith(f"{build / 'manifest.json'}:{line}:{column}: not valid JSON")
    assert err.value.hint == "rebuild the data with `mathdata build`"
    build = write_build_dir(tmp_path / "c", n=2, conversations=True)
    (build / "train_conversations.json").write_text('[{"id": "a"},\n {"id": }]', encoding="utf-8")
    with pytest.raises(MathDataError, match=r"train_conversations.json:2:9: not valid JSON"):
        read_examples(build)


def test_fixture_tokenizer_is_rebuilt_byte_for_byte(tmp_path):
    """fixtures/tiny/tokenizer.model is the output of fixtures/tiny/build_tokenizer.py, reproducibly."""
    import runpy

    build = runpy.run_path(str(FIXTURES / "tiny" / "build_tokenizer.py"))["build"]
    out = build(tmp_path / "tokenizer.model")
    assert out.read_bytes() == (FIXTURES / "tiny" / "tokenizer.model").read_bytes()


def test_fixture_tokenizer_round_trips_through_mindformers(tokenizer):
    text = "计算 4204.22 + -2369.17 等于多少？ 方程的解为：0.5128 √5636.97 é"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text  # byte fallback: nothing becomes <unk>
    assert tokenizer.unk_token_id not in ids and tokenizer.vocab_size == 600
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (1, 2, 0)


def test_llama3_shaped_tokenizer_layout(llama3):
    """The built file has Meta's layout: 128,000 ranks, specials from 128000, Llama3's number chunks."""
    from mathtrain.tokenizer import SpecialIds, special_ids

    assert special_ids(llama3) == SpecialIds(128000, 128001, 128002) and llama3.vocab_size == len(llama3) == 128256
    assert llama3.special_tokens["<|eot_id|>"] == 128009 and len(llama3.special_tokens) == 256
    text = "计算 4204.22 + -2369.17 等于多少？"
    ids = llama3.encode(text, add_special_tokens=False)
    assert llama3.decode(ids) == text and max(ids) < 128000
    assert [llama3.decode([i]) for i in llama3.encode("4204.22", add_special_tokens=False)] == ["420", "4", ".", "22"]
    assert llama3.encode("</s>", add_special_tokens=False) == llama3.encode("</", False) + llama3.encode("s>", False)
    # special-token text in data stays text: a record cannot smuggle in a control token
    assert 128001 not in llama3.encode("<|end_of_text|>")


def test_llama3_records_start_with_bos_and_end_answers_with_eos(tmp_path, llama3, llama3_tokenizer_file):
    from mathtrain.records import load_records

    build = write_build_dir(tmp_path / "b", n=24)
    rs = _build(llama3, build, tmp_path / "data", seq=64, path=llama3_tokenizer_file, kind="Llama3Tokenizer",
                model=_llama3_model())
    ids, labels = load_records(rs.path)
    assert rs.samples == 24 and rs.truncated == 0 and rs.max_id == 128002
    assert (ids[:, 0] == 128000).all() and ids.max() < 128256 and labels.max() < 128256
    for row_ids, row_labels in zip(ids, labels):
        scored = np.flatnonzero(row_labels != IGNORE)
        assert row_labels[scored[-1]] == 128001  # the answer's last label is <|end_of_text|>
        assert row_ids[scored[-1]] == 128001 and (row_ids[scored[-1] + 1:] == 128002).all()  # then pad
        assert set(row_labels[scored].tolist()) & set(range(128000, 128256)) == {128001}
        assert "</s>" not in llama3.decode(row_ids.tolist())


def _mindformers_preprocess(tokenizer, build, seq_length):
    """MindFormers' conversation preprocessing (research/llama3/llama3_preprocess.py `preprocess`, and
    tools/dataset_preprocess/llama/llama_preprocess.py for Llama 2), re-stated here from its logic: the
    vicuna conversation is split at `</s>`, each round tokenised with add_bos_token/add_eos_token, BOS and
    the instruction (through 'ASSISTANT:', `len(tok(instruction + ' ')) - 3`) masked, padding with pad id."""
    from mathdata.prompts import VICUNA_SYSTEM

    def tok(text):  # tokenizer(text) with add_bos_token = add_eos_token = True
        return [tokenizer.bos_token_id, *tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]

    rows_ids, rows_labels = [], []
    length = seq_length + 1
    for line in (build / "train.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        conversation = f"{VICUNA_SYSTEM} USER: {rec['problem']} ASSISTANT: {rec['solution']}</s>"
        rounds = conversation.split("</s>")
        ids = [tokenizer.bos_token_id]
        for rou in rounds:
            if rou:
                ids.extend(tok(rou)[1:])
        ids = (ids + [tokenizer.pad_token_id] * length)[:length]
        target = np.array(ids)
        total = int((target != tokenizer.pad_token_id).sum())
        cur = 1
        target[:cur] = IGNORE
        for rou in rounds:
            if not rou:
                break
            instruction, _ = rou.split(" ASSISTANT: ")
            target[cur: cur + len(tok(instruction + " ASSISTANT: ")) - 3] = IGNORE
            cur += len(tok(rou)) - 1
        target[cur:] = IGNORE
        if cur < length and cur != total:
            target[:] = IGNORE
        rows_ids.append(ids)
        rows_labels.append(target[:length])
    return np.array(rows_ids, dtype=np.int32), np.array(rows_labels, dtype=np.int32)


@pytest.mark.parametrize("kind", ["LlamaTokenizer", "Llama3Tokenizer"])
def test_records_equal_mindformers_preprocessing(tmp_path, kind, tokenizer, llama3, llama3_tokenizer_file):
    from mathtrain.records import load_records

    tok, path, model = ((tokenizer, TOKENIZER, TINY_MODEL) if kind == "LlamaTokenizer"
                        else (llama3, llama3_tokenizer_file, _llama3_model()))
    build = write_build_dir(tmp_path / "b", n=32, seed=3)
    rs = _build(tok, build, tmp_path / "data", seq=80, path=path, kind=kind, model=model)
    ids, labels = load_records(rs.path)
    mf_ids, mf_labels = _mindformers_preprocess(tok, build, 80)
    assert rs.samples == 32 and (labels != IGNORE).sum() > 32 * 5
    assert np.array_equal(ids, mf_ids) and np.array_equal(labels, mf_labels)


def test_ids_past_vocab_size_are_refused_naming_the_key(tmp_path, tokenizer):
    from mathtrain.records import RECORD_FILE

    build = write_build_dir(tmp_path / "b", n=8)
    with pytest.raises(MathDataError) as err:
        _build(tokenizer, build, tmp_path / "data", model={**TINY_MODEL, "vocab_size": 500})
    assert "vocab_size 500" in err.value.message and "[model].config model.yaml" in err.value.message
    assert f"[tokenizer].path {TOKENIZER}" in err.value.message and "vocab_size" in err.value.hint
    assert not (tmp_path / "data" / RECORD_FILE).exists()  # nothing half-written
    _build(tokenizer, build, tmp_path / "data")  # the right vocab writes it ...
    with pytest.raises(MathDataError, match="vocab_size 500"):  # ... and a reuse is checked too
        _build(tokenizer, build, tmp_path / "data", model={**TINY_MODEL, "vocab_size": 500})


@pytest.mark.parametrize("key, value", [("bos_token_id", 1), ("eos_token_id", 2), ("pad_token_id", 0)])
def test_special_ids_must_equal_the_model_configs(tmp_path, llama3, llama3_tokenizer_file, key, value):
    build = write_build_dir(tmp_path / "b", n=4)
    with pytest.raises(MathDataError) as err:
        _build(llama3, build, tmp_path / "data", path=llama3_tokenizer_file, kind="Llama3Tokenizer",
               model={**_llama3_model(), key: value})
    assert f"!= {key} {value}" in err.value.message and key in err.value.hint


def test_bad_tiktoken_files_are_one_line_errors(tmp_path):
    from mathtrain.tokenizer import load_tokenizer

    bad = tmp_path / "tokenizer.model"
    bad.write_text("IQ== 0\nnot-base64! 1\n")
    with pytest.raises(MathDataError, match=r"tokenizer.model:2: not a tiktoken BPE line"):
        load_tokenizer("Llama3Tokenizer", str(bad))
    bad.write_text("IQ== 0\n")
    with pytest.raises(MathDataError, match="of the 256 single bytes have no rank"):
        load_tokenizer("Llama3Tokenizer", str(bad))
    with pytest.raises(MathDataError) as err:
        load_tokenizer("GPT2", str(bad))
    assert "Llama3Tokenizer" in err.value.hint and "hf" in err.value.hint


def test_llama3_shaped_records_train_through_mindformers_on_cpu(tmp_path, llama3_tokenizer_file):
    """`mathtrain run` on the Llama3-shaped tokenizer + model (vocab 128256): MindFormers' LlamaForCausalLM
    embeds every id (BOS 128000 ... EOS 128001, pad 128002) and steps without aborting in Gather; the loss
    is finite. (Records with ids past vocab_size abort there on CPU.)"""
    import math

    from train_helpers import run_cli

    toml = tmp_path / "llama3.toml"
    toml.write_text(
        "[run]\ndevice = 'cpu'\nseed = 3\n"
        f"[model]\nconfig = '{LLAMA3_MODEL}'\nname = 'tiny_llama3'\n"
        f"[tokenizer]\ntype = 'Llama3Tokenizer'\npath = '{llama3_tokenizer_file}'\n"
        "[lr]\nlearning_rate = 5e-3\nlr_end = 1e-4\n"
        "[train]\nepochs = 1\nbatch_size = 4\nseq_length = 64\n", encoding="utf-8")
    build = write_build_dir(tmp_path / "b", n=16)
    proc = run_cli("run", "--config", str(toml), "--data", str(build), "--out", str(tmp_path / "run"),
                   "--max-steps", "3", "--json", str(tmp_path / "result.json"), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] == 3 and math.isfinite(result["first_loss"]) and math.isfinite(result["last_loss"])
    assert result["records"]["max_id"] == 128002 and result["total_params"] == 2 * 128256 * 16 + 16 + (
        16 * 16 + 2 * 16 * 8 + 16 * 16 + 3 * 16 * 32 + 2 * 16)  # embeddings + norm + one layer
    from mathtrain.records import load_records

    ids, labels = load_records(result["records"]["path"])
    assert (ids[:, 0] == 128000).all() and (labels == 128001).sum(axis=1).tolist() == [1] * 16
