"""infer.generate_batch against today's one-at-a-time MindFormers generation, token for token, on the tiny model
(a 2-step LoRA run): the KV-cached engine (CPU default), the no-cache loop, and MindFormers' own batched
`generate` (the engine of use_past models on Ascend), with rows of very different lengths, EOS stops in the
middle of a batch and min_new_tokens."""

import pytest

from mathdata.errors import MathDataError
from mathtrain.infer import plan_batches
from train_helpers import two_step_run

SQUAD_HEAD = "Read the passage and answer the question below.\n\n### Instruction:\n"


def test_plan_batches_sorts_by_length_and_bounds_rows_and_tokens():
    lengths = [50, 10, 700, 12, 11, 300, 10]
    batches = plan_batches(lengths, max_new_tokens=20, batch_size=3, batch_tokens=1000)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [1, 6, 4]  # shortest first; equal lengths keep input order
    for batch in batches:
        assert len(batch) <= 3
        widest = max(lengths[i] for i in batch) + 20
        assert len(batch) == 1 or len(batch) * widest <= 1000
    assert [2] in batches  # the long paragraph does not hold up the short questions
    order = [i for b in batches for i in b]
    assert [lengths[i] for i in order] == sorted(lengths)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """(pynative network, graph network, tokenizer, prompts) of a tiny run trained for 2 steps (shared with
    test_eval.py)."""
    from mathtrain.infer import load_for_inference, read_run

    run, _ = two_step_run(tmp_path_factory)
    spec = read_run(run).prompt
    prompts = [spec.generation_prompt("计算 12.5 + 3 等于多少？"),
               SQUAD_HEAD + "The river flows east into the sea. " * 3 + "\n\n### Input:\nWhere?\n\n### Response:",
               spec.generation_prompt("计算 4567.5 - 89 等于多少？"),
               SQUAD_HEAD + "Denver won the game in 2015. " * 1 + "\n\n### Input:\nWho won?\n\n### Response:"]
    py_net, tok, _, _ = load_for_inference(run, seq_length=160)
    graph_net, tok, _, _ = load_for_inference(run, seq_length=160, mode="graph")
    return py_net, graph_net, tok, prompts


N = 6


def _ids(gens):
    return [g.new_ids for g in gens]


def _stop_token(free: list[list[int]]) -> int:
    """A token that ends some rows early and not others: EOS stops in the middle of a batch."""
    for row in free:
        for token in row[1:N - 1]:
            stops = [r.index(token) + 1 if token in r else N for r in free]
            if min(stops) < N and max(stops) == N:
                return token
    raise AssertionError(f"no token stops some rows and not others in {free}")


@pytest.mark.train
def test_batched_is_token_identical_to_one_at_a_time(nets, monkeypatch):
    from mathtrain.infer import generate_batch, generate_unbatched

    py_net, graph_net, tok, prompts = nets
    lengths = [len(tok.encode(p)) for p in prompts]
    assert max(lengths) > 2.5 * min(lengths)  # rows of very different lengths in one batch
    free = _ids(generate_batch(graph_net, tok, prompts, N, batch_size=4))
    assert all(len(r) == N for r in free)  # the model's own EOS never comes from this tiny model

    eos = _stop_token(free)
    ref = generate_unbatched(py_net, tok, prompts, N, eos_id=eos)
    assert {len(g.new_ids) for g in ref} > {N}  # some rows stopped at the EOS, mid-batch
    assert all(g.new_ids[-1] == eos for g in ref if len(g.new_ids) < N)
    expected = _ids(ref)
    assert _ids(generate_batch(graph_net, tok, prompts, N, eos_id=eos, batch_size=4)) == expected
    assert _ids(generate_batch(graph_net, tok, prompts, N, eos_id=eos, batch_size=2)) == expected
    assert _ids(generate_batch(graph_net, tok, prompts, N, eos_id=eos, engine="loop")) == expected
    from mathtrain import infer

    monkeypatch.setattr(infer, "DEFAULT_BATCH_AREA", 2 * max(lengths) ** 2 - 1)  # prefill in several chunks
    assert _ids(generate_batch(graph_net, tok, prompts, N, eos_id=eos)) == expected
    assert _ids(generate_batch(py_net, tok, prompts, N, eos_id=eos, engine="mindformers")) == expected
    # text is the decoded new ids, special tokens dropped, as the old generate returned it
    assert [g.text for g in generate_batch(graph_net, tok, prompts, N, eos_id=eos)] == [g.text for g in ref]


@pytest.mark.train
def test_min_new_tokens_matches_mindformers(nets):
    from mathtrain.infer import generate_batch, generate_unbatched

    py_net, graph_net, tok, prompts = nets
    free = _ids(generate_batch(graph_net, tok, prompts, N))
    eos = free[1][0]  # row 1's first token: it would stop at once
    ref = generate_unbatched(py_net, tok, prompts, N, min_new_tokens=2, eos_id=eos)
    assert ref[1].new_ids[0] != eos and len(ref[1].new_ids) >= 2  # the EOS was held back
    expected = _ids(ref)
    assert _ids(generate_batch(graph_net, tok, prompts, N, min_new_tokens=2, eos_id=eos)) == expected
    assert _ids(generate_batch(py_net, tok, prompts, N, min_new_tokens=2, eos_id=eos, engine="mindformers")) \
        == expected
    without = _ids(generate_batch(graph_net, tok, prompts, N, eos_id=eos))
    assert without[1] == [eos]  # and without min_new_tokens row 1 is empty


@pytest.mark.train
def test_generate_batch_bad_arguments(nets):
    from mathtrain.infer import generate_batch

    _, graph_net, tok, prompts = nets
    with pytest.raises(MathDataError, match="max_new_tokens must be >= 1"):
        generate_batch(graph_net, tok, prompts, 0)
    with pytest.raises(MathDataError, match="seq_length is 160"):
        generate_batch(graph_net, tok, [SQUAD_HEAD + "word " * 300], 4)
    with pytest.raises(MathDataError, match="unknown generation engine"):
        generate_batch(graph_net, tok, prompts, 2, engine="fast")
