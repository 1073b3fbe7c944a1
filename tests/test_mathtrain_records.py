"""BUILD_DIR -> MindRecord: prompt/padding labels -100, seq_length + 1 int32 rows, truncation, reuse."""
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


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from mathtrain.runtime import use_output_dir
    from mathtrain.tokenizer import load_tokenizer

    use_output_dir(tmp_path_factory.mktemp("mf"))
    return load_tokenizer("LlamaTokenizer", TOKENIZER)


def _build(tokenizer, build, out, seq=96):
    from mathtrain.records import build_records

    return build_records(build, tokenizer, TOKENIZER, "LlamaTokenizer", seq, out)


def test_examples_use_the_manifest_prompt(tmp_path):
    build = write_build_dir(tmp_path / "b", n=4)
    spec, examples = read_examples(build)
    rec = arithmetic_records(4)[0]
    assert spec == PromptSpec.from_dict(PROMPT)
    assert examples[0].prompt == spec.generation_prompt(rec["problem"])
    assert examples[0].answer == f" {rec['solution']}</s>"


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
    prompt_len = len(tokenizer.encode(examples[0].prompt))
    assert (labels[0, :prompt_len] == IGNORE).all()  # the prompt is not scored
    answer = labels[0][labels[0] != IGNORE]
    assert answer[-1] == tokenizer.eos_token_id  # "</s>" ends the answer
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
