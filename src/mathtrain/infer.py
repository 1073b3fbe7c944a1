"""Load a trained run for generation: the evaluation side's one entry point into training outputs.

    network, tokenizer, prompt, config = load_for_inference("runs/tiny")
    answers = generate(network, tokenizer, [prompt.generation_prompt("计算 1 + 2 等于多少？")], 32)

`prompt` is the PromptSpec recorded by `mathdata build` for the training data, so evaluation prompts are
exactly the training prompts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mathdata.errors import MathDataError

# run.json and the checkpoint layouts belong to rundir; re-exported for callers of the old names
from .rundir import RUN_FILE, RunInfo, read_run  # noqa: E402,F401


def checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    """(step, path) of the run's LoRA checkpoints, oldest first (either runner's layout)."""
    from .rundir import lora_checkpoints

    return lora_checkpoints(Path(run_dir))


def load_for_inference(run_dir: Path | str, checkpoint: str | Path | None = None, merged: bool = False,
                       seq_length: int | None = None, mode: str = "pynative"):
    """-> (network, tokenizer, prompt_spec, config_dict), network in eval mode, ready for `generate`.

    checkpoint: a LoRA step checkpoint (default: the newest) or, with merged=True, a merged checkpoint
    (default: the newest file under RUN_DIR/merged/). seq_length: the model's maximum length for
    generation (prompt + new tokens); default the training seq_length. mode: "pynative" (MindFormers'
    `generate` works) or "graph" (for `generate_batch` only: one graph compiled for dynamic
    batch x length inputs, several times faster per step on CPU).
    """
    from .runtime import set_context, use_output_dir

    if mode not in ("pynative", "graph"):
        raise MathDataError(f"unknown inference mode {mode!r}", "use pynative or graph")
    info = read_run(run_dir)
    use_output_dir(info.run_dir / "mindformers")
    set_context("cpu" if info.data["config"]["run"]["device"] == "cpu" else "ascend",
                mode=mode, seed=info.data["config"]["run"]["seed"])
    build_network = _builder()
    from .model import load_weights
    from .tokenizer import load_tokenizer

    model_cfg = dict(info.model_config)
    if seq_length:
        model_cfg["seq_length"] = int(seq_length)
    if merged:
        path = Path(checkpoint) if checkpoint else _newest_merged(info.run_dir)
        network = build_network(model_cfg, lora=False)
        missing = load_weights(network, path)
    else:
        if checkpoint is None:
            found = checkpoints(info.run_dir)
            if not found:
                raise MathDataError(f"{info.run_dir}: no LoRA checkpoints yet", "train first with `mathtrain run`")
            checkpoint = found[-1][1]
        import mindspore as ms

        from .rundir import load_full_params

        network = build_network(model_cfg, lora=True)
        load_weights(network, info.base_checkpoint)
        # per-rank shards of a model-parallel run are unsharded with the run's strategy files first
        missing, _ = ms.load_param_into_net(network, load_full_params(info.run_dir, checkpoint), strict_load=False)
        missing = [m for m in missing if "mindpet_delta_lora" in m]
    if missing:
        raise MathDataError(f"{checkpoint}: lacks weights for {missing[:3]}...",
                            "pass a checkpoint written by this run (or use --merged for merged files)")
    network.set_train(False)
    if info.data["config"]["run"]["device"] == "cpu":
        patch_cpu_generation(network)
    if mode == "graph":
        set_dynamic_forward(network)
    tok_cfg = info.data["config"]["tokenizer"]
    tokenizer = load_tokenizer(tok_cfg["type"], tok_cfg["path"])
    return network, tokenizer, info.prompt, info.data


def load_for_ascend_eval(run_dir: Path | str, checkpoint: Path | None, merged: bool, seq_length: int,
                         batch_size: int | None = None):
    """One Ascend card: the model built from the predict YAML (evaluate/predict_yaml.py: bf16, use_past with
    paged attention, GRAPH mode), which is written to its output_dir as predict.yaml first; weights from a
    merged checkpoint, or the base checkpoint with the LoRA checkpoint over it. -> like load_for_inference."""
    import mindspore as ms

    from .evaluate.predict_yaml import DEFAULT_BATCH, predict_yaml
    from .mindformers_yaml import dump_yaml
    from .runtime import quiet_mindformers, use_output_dir

    info = read_run(run_dir)
    doc = predict_yaml(info.data, info.run_dir, checkpoint, merged, seq_length, batch_size or DEFAULT_BATCH)
    out = Path(doc["output_dir"])
    use_output_dir(out)
    from mathdata.io import write_text

    write_text(out / "predict.yaml", dump_yaml(doc))
    ctx = doc["context"]
    ms.set_context(mode=ms.GRAPH_MODE, max_device_memory=ctx["max_device_memory"], jit_config=ctx["jit_config"])
    ms.set_device("Ascend", ctx["device_id"])
    ms.set_seed(doc["seed"])
    quiet_mindformers()
    from mindformers import MindFormerConfig

    from .model import build_network, load_weights
    from .tokenizer import load_tokenizer

    model_cfg = MindFormerConfig(str(out / "predict.yaml")).model.model_config
    model_cfg = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in model_cfg.items()}
    network = build_network(model_cfg, lora=not merged)
    if merged:
        missing = load_weights(network, doc["load_checkpoint"])
    else:
        from .rundir import load_full_params

        load_weights(network, doc["load_checkpoint"])
        missing, _ = ms.load_param_into_net(network, load_full_params(info.run_dir, doc["lora_checkpoint"]),
                                            strict_load=False)
        missing = [m for m in missing if "mindpet_delta_lora" in m]
    missing = [m for m in missing if "key_cache" not in m and "value_cache" not in m]  # the paged KV cache
    if missing:
        raise MathDataError(f"{checkpoint}: lacks weights for {missing[:3]}...",
                            "pass a checkpoint written by this run (or use --merged for merged files)")
    network.set_train(False)
    tok_cfg = info.data["config"]["tokenizer"]
    return network, load_tokenizer(tok_cfg["type"], tok_cfg["path"]), info.prompt, info.data


def _newest_merged(run_dir: Path) -> Path:
    from .rundir import newest

    path = newest(run_dir, "merged")
    if path is None:
        raise MathDataError(f"{run_dir}: no merged checkpoints", "run `mathtrain merge --run RUN_DIR` first")
    return path


def _builder():
    """model.build_network, built so that its causal mask follows the input's length.

    MindFormers' LowerTriangularMaskWithDynamic slices its (seq_length x seq_length) mask to the input only
    when `is_pynative()` (the ENFORCE_EAGER switch, read when the cells are built) or `is_dynamic`; otherwise
    every input must be exactly seq_length long, which is the cost `generate_batch` avoids. `is_dynamic`
    would also switch LlamaForCausalLM to its flattened-prefill gather (a 1-D token layout), so the switch
    used is ENFORCE_EAGER, set only while the network is built."""
    import os

    from .model import build_network

    def build(model_cfg: dict, lora: bool = True):
        saved = os.environ.get("ENFORCE_EAGER")
        os.environ["ENFORCE_EAGER"] = "true"
        try:
            return build_network(model_cfg, lora=lora)
        finally:
            if saved is None:
                os.environ.pop("ENFORCE_EAGER", None)
            else:
                os.environ["ENFORCE_EAGER"] = saved

    return build


def set_dynamic_forward(network) -> None:
    """Graph mode: declare (input_ids [batch, length], batch_valid_length [batch]) as dynamic, so one compiled
    graph serves every batch and length (`generate_batch` calls the network positionally in that layout)."""
    import mindspore as ms

    network.set_inputs(ms.Tensor(shape=[None, None], dtype=ms.int32), None, None, None, None, None, None,
                       ms.Tensor(shape=[None], dtype=ms.int32))


def patch_cpu_generation(network) -> None:
    """CPU only: MindFormers' greedy search calls `mint.argmax` (ArgMaxExt), which has no CPU kernel;
    use numpy's argmax for that one step instead."""
    import mindspore as ms
    import numpy as np

    def argmax(logits, axis=-1):
        values = logits.asnumpy() if isinstance(logits, ms.Tensor) else np.asarray(logits)
        return ms.Tensor(np.argmax(values, axis=axis).astype(np.int32))

    network.argmax = argmax


def generate_unbatched(network, tokenizer, prompts: list[str], max_new_tokens: int, *, min_new_tokens: int = 0,
                       eos_id: int | None = None) -> list["Generation"]:
    """The reference path: MindFormers' own `network.generate`, one prompt at a time, every step padded to the
    model's seq_length. Slow; kept as the definition `generate_batch` is tested against."""
    outputs = []
    extra = {"min_new_tokens": min_new_tokens} if min_new_tokens else {}
    if eos_id is not None:
        extra["eos_token_id"] = [int(eos_id)]  # MindFormers tests `token in eos_token_id`
    for prompt in prompts:
        ids = tokenizer.encode(prompt)
        out = network.generate([ids], max_new_tokens=max_new_tokens, do_sample=False, top_k=1, top_p=1.0,
                               repetition_penalty=1.0, **extra)
        new = [int(t) for t in list(out[0])[len(ids):]]
        outputs.append(Generation(list(ids), new, _decode(tokenizer, new)))
    return outputs


def generate(network, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions (text after the prompt, special tokens removed); see `generate_batch`."""
    return [g.text for g in generate_batch(network, tokenizer, prompts, max_new_tokens)]


# ----------------------------------------------------------------------------------- batched generation
@dataclass(frozen=True)
class Generation:
    input_ids: list[int]   # the prompt's ids
    new_ids: list[int]     # the generated ids; the EOS that stopped generation is kept, as MindFormers returns it
    text: str              # new_ids decoded, special tokens removed, stripped


DEFAULT_BATCH_TOKENS = 8192        # loop engine: rows x padded length per forward (every step re-runs the prompt)
DEFAULT_BATCH_AREA = 12 * 1024 ** 2  # cache engine: prefill chunks of rows x length^2 (attention scores per head)
DEFAULT_ROWS = {"loop": 64, "cache": 128, "mindformers": 16}  # rows per batch unless batch_size says


def generate_batch(network, tokenizer, prompts: list[str], max_new_tokens: int, *, min_new_tokens: int = 0,
                   eos_id: int | None = None, pad_id: int | None = None, batch_size: int | None = None,
                   on_done: Callable[[list[int], list[Generation]], None] | None = None,
                   engine: str | None = None) -> list[Generation]:
    """Greedy generation for many prompts, token for token what `generate_unbatched` gives.

    Prompts are sorted by token length and cut into batches of similar length (at most `batch_size` rows and
    about DEFAULT_BATCH_TOKENS padded tokens), so a short math question never waits for a long paragraph;
    results come back in input order. Each step runs the model's forward once over the batch's current
    length (not the model's seq_length), right-padded with `pad_id`, and takes each row's next token as the
    argmax of its logits at its own last position (the model gathers it: `batch_valid_length`). A row stops
    at `eos_id` (default: the model config's eos_token_id) or after `max_new_tokens` (or at the model's
    seq_length, as MindFormers caps it); finished rows leave the batch. Before `min_new_tokens` new tokens
    EOS is masked out, per row. `on_done(indices, generations)` is called after every batch (for writing
    results as they are produced).

    engine: "loop" (the above; the CPU path) or "mindformers": MindFormers' own `network.generate` called
    with each (right-padded) batch -- the path for a model built with `use_past` (incremental inference
    with paged attention, Ascend only: on CPU MindFormers' InferAttention needs the ApplyRotaryPosEmb,
    ReshapeAndCache and PagedAttention kernels, which have no CPU implementation; docs/evaluation.md).
    Default: "mindformers" when the model's config has use_past, else "loop".
    """
    import numpy as np

    if max_new_tokens < 1:
        raise MathDataError(f"max_new_tokens must be >= 1, got {max_new_tokens}", "e.g. 64 for math, 20 for SQuAD")
    if min_new_tokens < 0:
        raise MathDataError(f"min_new_tokens must be >= 0, got {min_new_tokens}", "e.g. 1 for SQuAD")
    cfg = network.config
    eos = eos_id if eos_id is not None else cfg.eos_token_id
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    eos = int(eos) if eos is not None else None
    pad = int(pad_id if pad_id is not None else (cfg.pad_token_id if cfg.pad_token_id is not None else 0))
    seq_length = int(cfg.seq_length)
    encoded = [list(tokenizer.encode(p)) for p in prompts]
    for i, ids in enumerate(encoded):
        if not ids:
            raise MathDataError(f"prompt {i + 1} encodes to no tokens", "check the prompt text")
        if len(ids) >= seq_length:
            raise MathDataError(f"prompt {i + 1} is {len(ids)} tokens, the model's seq_length is {seq_length}",
                                "raise the model's seq_length (load it with a larger seq_length)")
    if engine is None:
        from .incremental import supported

        engine = "mindformers" if getattr(cfg, "use_past", False) else ("cache" if supported(network) is None
                                                                          else "loop")
    if engine not in ("cache", "loop", "mindformers"):
        raise MathDataError(f"unknown generation engine {engine!r}", "use cache, loop or mindformers")
    decoder = None
    if engine == "cache":
        from .incremental import CachedDecoder

        decoder = getattr(network, "_mathtrain_cached_decoder", None)
        if decoder is None:  # compiled once per network
            decoder = CachedDecoder(network)
            network._mathtrain_cached_decoder = decoder
    results: list[Generation | None] = [None] * len(prompts)
    lengths = [len(ids) for ids in encoded]
    if engine == "cache":  # decode steps are cheap: many rows per batch; the prefill is chunked by area
        batches = plan_batches(lengths, max_new_tokens, batch_size or DEFAULT_ROWS[engine], batch_tokens=None)
    else:
        batches = plan_batches(lengths, max_new_tokens, batch_size or DEFAULT_ROWS[engine])
    for batch in batches:
        rows = [encoded[i] for i in batch]
        if decoder is not None:
            news = decoder.generate(rows, max_new_tokens, min_new_tokens, eos, pad, seq_length,
                                    prefill_area=DEFAULT_BATCH_AREA)
        elif engine == "loop":
            news = _greedy_batch(network, rows, max_new_tokens, min_new_tokens, eos, pad, seq_length, np)
        else:
            news = _mindformers_batch(network, rows, max_new_tokens, min_new_tokens, eos, pad)
        gens = [Generation(encoded[i], new, _decode(tokenizer, new)) for i, new in zip(batch, news)]
        for i, gen in zip(batch, gens):
            results[i] = gen
        if on_done is not None:
            on_done(list(batch), gens)
    return results  # type: ignore[return-value]


def plan_batches(lengths: list[int], max_new_tokens: int, batch_size: int | None = None,
                 batch_tokens: int | None = DEFAULT_BATCH_TOKENS, batch_area: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar prompt length: sorted by length (stable, so equal lengths keep
    input order), each batch at most `batch_size` rows, rows x (longest row + new tokens) <= batch_tokens and
    rows x longest row^2 <= batch_area (either None: no such bound; always at least one row)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    limit = batch_size or 64
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[i] + max_new_tokens  # sorted: the newest row is the longest
        rows = len(current) + 1
        too_big = ((batch_tokens is not None and rows * width > batch_tokens)
                   or (batch_area is not None and rows * lengths[i] ** 2 > batch_area))
        if current and (len(current) >= limit or too_big):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _greedy_batch(network, rows: list[list[int]], max_new: int, min_new: int, eos: int | None, pad: int,
                  seq_length: int, np) -> list[list[int]]:
    import mindspore as ms

    seqs = [list(r) for r in rows]
    starts = [len(r) for r in rows]
    # MindFormers: max_length = prompt + max_new_tokens, capped at seq_length; stop when it is reached
    limits = [min(len(r) + max_new, seq_length) for r in rows]
    active = list(range(len(rows)))
    while active:
        width = max(len(seqs[i]) for i in active)
        ids = np.full((len(active), width), pad, dtype=np.int32)
        lengths = np.empty(len(active), dtype=np.int32)
        for row, i in enumerate(active):
            ids[row, :len(seqs[i])] = seqs[i]
            lengths[row] = len(seqs[i])
        # positional: (input_ids, labels, input_position, position_ids, attention_mask, input_embeds,
        # init_reset, batch_valid_length) -- the layout `set_dynamic_forward` declares
        out = network(ms.Tensor(ids), None, None, None, None, None, None, ms.Tensor(lengths))
        logits = (out[0] if isinstance(out, tuple) else out).asnumpy().reshape(len(active), -1)
        still = []
        for row, i in enumerate(active):
            scores = logits[row]
            if eos is not None and len(seqs[i]) - starts[i] < min_new:
                scores = scores.copy()
                scores[eos] = -np.inf
            token = int(np.argmax(scores))
            seqs[i].append(token)
            if token != eos and len(seqs[i]) < limits[i]:
                still.append(i)
        active = still
    return [s[start:] for s, start in zip(seqs, starts)]


def _mindformers_batch(network, rows: list[list[int]], max_new: int, min_new: int, eos: int | None,
                       pad: int) -> list[list[int]]:
    """One MindFormers `generate` call for the batch: rows right-padded with `pad` (MindFormers finds each
    row's length as its last non-pad token), greedy; MindFormers stops each row at EOS or at its own
    prompt + max_new_tokens. Its `min_new_tokens` counts from the batch's longest prompt, which in lockstep
    decoding is each row's own count."""
    width = max(len(r) for r in rows)
    padded = [list(r) + [pad] * (width - len(r)) for r in rows]
    extra = {"min_new_tokens": min_new} if min_new else {}
    if eos is not None:
        extra["eos_token_id"] = [eos]
    out = network.generate(padded, max_new_tokens=max_new, do_sample=False, top_k=1, top_p=1.0,
                           repetition_penalty=1.0, pad_token_id=pad, **extra)
    return [[int(t) for t in list(o)[len(r):]] for o, r in zip(out, rows)]


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True).strip()
