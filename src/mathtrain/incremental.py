"""KV-cached greedy decoding on CPU for MindFormers' LlamaForCausalLM, built from the model's own cells.

MindFormers' incremental inference (`use_past`) cannot run on CPU: its InferAttention calls the
ApplyRotaryPosEmb, ReshapeAndCache and PagedAttention kernels, which exist only for Ascend. Without a cache
every new token re-runs the whole prompt, which makes a 700-token SQuAD paragraph cost 20 full forwards.

This module runs the same network in two compiled graphs (GRAPH mode, dynamic shapes):
- `Prefill`: the model's forward over the right-padded prompts, step for step what LlamaModel /
  LLamaDecodeLayer / LLamaAttention do without `use_past` (the same cells and primitives in the same order:
  embedding, RMSNorms, wq/wk/wv/wo with their LoRA, RotaryEmbedding, causal mask, scaled softmax,
  feed-forward, norm_out, lm_head at each row's last position) -- and it also returns every layer's keys
  (after RoPE) and values;
- `Decode`: one new token per row against those cached keys/values: its query/key/value through the same
  cells, RoPE at the row's true position (the model's own rotary tables, gathered per row), attention over
  the cache columns that belong to the row (padding masked with the model's -10000), then the rest of the
  layer as above. The cache grows by one column per step.

Only the attention of the one new token over cached keys is arranged differently from the full forward
(the same products, summed over a different column order), so logits agree to float rounding and greedy
tokens are tested equal to one-at-a-time MindFormers generation (tests/test_eval_generate.py).
"""
from __future__ import annotations

from mathdata.errors import MathDataError


def causal_lm(network):
    """The LlamaForCausalLM inside a mindformers.pet wrapper (PetModel -> LoraModel -> model), or itself."""
    inner = network
    while not hasattr(inner, "lm_head") and hasattr(inner, "network"):
        inner = inner.network
    return inner


def supported(network) -> str | None:
    """None if `network` can be decoded here, else why not."""
    network = causal_lm(network)
    if not hasattr(network, "model") or not hasattr(network.model, "layers"):
        return f"{type(network).__name__} is not a MindFormers Llama"
    cfg = network.config
    if getattr(cfg, "use_past", False):
        return "the model is built with use_past (use MindFormers' own incremental inference)"
    if getattr(cfg, "qkv_concat", False):
        return "qkv_concat models are not supported"
    if getattr(cfg, "use_flash_attention", False):
        return "flash attention (Ascend) is on"
    layer = network.model.layers[0]
    if getattr(layer.attention, "context_parallel", 1) > 1 or getattr(layer, "seq_pipe", False):
        return "context parallel / seq_pipe layouts are not supported"
    if getattr(network.model, "rmsnorm_compute_2d", False):
        return "rmsnorm_compute_2d is not supported"
    return None


def _cells():
    import mindspore as ms
    from mindspore import nn
    from mindspore.ops import operations as P

    class _Shared(nn.Cell):
        def __init__(self, network):
            super().__init__(auto_prefix=False)
            self.net = network
            self.model = network.model
            self.layers = network.model.layers
            self.num_layers = len(network.model.layers)
            self.stack = P.Stack(0)
            self.concat_seq = P.Concat(2)  # [bs, kv_heads, cols, head_dim]: along cols
            self.gather1 = P.Gather(1)
            self.gather0 = P.Gather()
            self.reshape = P.Reshape()
            self.cast = P.Cast()
            self.sub = P.Sub()
            self.mul = P.Mul()
            self.one = ms.Tensor([1.0], ms.float32)
            self.minus = ms.Tensor([-10000.0], ms.float32)

        def _attention_inputs(self, layer, h, bs, seq_len, freqs_cis):
            """LLamaDecodeLayer's attention_norm, then LLamaAttention's projections, head split and RoPE
            -> (query, key, value, the normed input's dtype). `freqs_cis`: positions 0..seq_len-1 (prefill)
            or each row's own position (decode)."""
            attn = layer.attention
            x = layer.attention_norm(h)
            query = attn.cast(attn.wq(x), attn.dtype)
            key = attn.cast(attn.wk(x), attn.dtype)
            value = attn.cast(attn.wv(x), attn.dtype)
            query = attn.transpose(attn.reshape(query, (bs, seq_len, attn.n_head, attn.head_dim)), (0, 2, 1, 3))
            key = attn.transpose(attn.reshape(key, (bs, seq_len, attn.n_kv_head, attn.head_dim)), (0, 2, 1, 3))
            value = attn.transpose(attn.reshape(value, (bs, seq_len, attn.n_kv_head, attn.head_dim)),
                                   (0, 2, 1, 3))
            query, key = attn.apply_rotary_emb(query, key, freqs_cis)
            return query, key, value, x.dtype

        def _layer_rest(self, layer, x, context, ori_dtype):
            """LLamaAttention after attention (wo) + LLamaDecodeLayer's residuals and feed-forward."""
            h = self._residual(layer, x, layer.attention.cast(layer.attention.wo(context), ori_dtype))
            return self._residual(layer, h, layer.feed_forward(layer.ffn_norm(h)))

        def _residual(self, layer, x, y):
            """LLamaDecodeLayer's residual add x + y, in residual_dtype when the layer has one (a constant flag:
            resolved at compile time)."""
            if layer.residual_cast_flag:
                x = layer.cast(x, layer.residual_dtype)
                y = layer.cast(y, layer.residual_dtype)
            out = layer.add(x, y)
            if layer.residual_cast_flag:
                out = layer.cast(out, layer.dtype)
            return out

        def _logits(self, h, last_index):
            output = self.model.norm_out(h)
            output = self.gather1(output, last_index, 1)  # [bs, hidden]: each row's own position
            return self.cast(self.net.lm_head(output), ms.float32)

    class Prefill(_Shared):
        """(tokens [bs, width], lengths [bs]) -> (logits [bs, vocab], keys, values [layers, bs, kv_heads,
        width, head_dim])."""

        def construct(self, tokens, lengths):
            bs, seq_len = tokens.shape
            mask = self.model.casual_mask(tokens)
            freqs_cis = self.model.freqs_mgr(seq_len)
            h = self.cast(self.model.tok_embeddings(tokens), self.model.dtype)
            h = self.reshape(h, (bs, seq_len, self.model.hidden_size))
            keys = ()
            values = ()
            for i in range(self.num_layers):
                layer = self.layers[i]
                attn = layer.attention
                query, key, value, ori_dtype = self._attention_inputs(layer, h, bs, seq_len, freqs_cis)
                keys += (key,)
                values += (value,)
                context = attn._attn(query, attn._repeat_kv(key, attn.n_rep), attn._repeat_kv(value, attn.n_rep),
                                     mask)
                h = self._layer_rest(layer, h, context, ori_dtype)
            return self._logits(h, self.sub(lengths, 1)), self.stack(keys), self.stack(values)

    class Decode(_Shared):
        """(tokens [bs, 1], positions [bs], valid [bs, cols] (1 = a key of this row), keys, values
        [layers, bs, kv_heads, cols - 1, head_dim]) -> (logits [bs, vocab], keys, values with `cols` columns:
        the new token's key/value appended)."""

        def construct(self, tokens, positions, valid, keys, values):
            bs = tokens.shape[0]
            fm = self.model.freqs_mgr
            cos = self.reshape(self.gather0(fm.freqs_cos, positions, 0), (bs, 1, 1, fm.head_dim))
            sin = self.reshape(self.gather0(fm.freqs_sin, positions, 0), (bs, 1, 1, fm.head_dim))
            freqs_cis = (cos, sin, fm.swap_mask)
            cols = valid.shape[1]
            # the model's additive mask: (1 - keep) * -10000, shape [bs, 1, 1, cols]
            mask = self.reshape(self.mul(self.sub(self.one, self.cast(valid, ms.float32)), self.minus),
                                (bs, 1, 1, cols))
            h = self.cast(self.model.tok_embeddings(tokens), self.model.dtype)
            h = self.reshape(h, (bs, 1, self.model.hidden_size))
            new_keys = ()
            new_values = ()
            for i in range(self.num_layers):
                layer = self.layers[i]
                attn = layer.attention
                query, key, value, ori_dtype = self._attention_inputs(layer, h, bs, 1, freqs_cis)
                key = self.concat_seq((keys[i], key))
                value = self.concat_seq((values[i], value))
                new_keys += (key,)
                new_values += (value,)
                context = attn._attn(query, attn._repeat_kv(key, attn.n_rep), attn._repeat_kv(value, attn.n_rep),
                                     self.cast(mask, attn.dtype))
                h = self._layer_rest(layer, h, context, ori_dtype)
            zero = self.sub(positions, positions)  # [bs] of 0: h has one position per row
            return self._logits(h, zero), self.stack(new_keys), self.stack(new_values)

    return Prefill, Decode


class CachedDecoder:
    """Prefill + Decode graphs for one network (compiled once each for dynamic shapes)."""

    def __init__(self, network):
        import mindspore as ms

        why = supported(network)
        if why:
            raise MathDataError(f"KV-cached decoding: {why}", "use generate_batch(engine='loop')")
        network = causal_lm(network)
        prefill_cls, decode_cls = _cells()
        cfg = network.config
        # the full forward masks every key whose token is the config's pad id (LowerTriangularMaskWithDynamic)
        self.mask_id = int(cfg.pad_token_id if cfg.pad_token_id is not None else 0)
        self.prefill = prefill_cls(network)
        self.decode = decode_cls(network)
        self.prefill.set_train(False)
        self.decode.set_train(False)
        layers = len(network.model.layers)
        attn = network.model.layers[0].attention
        dyn = ms.Tensor(shape=[layers, None, attn.n_kv_head, None, attn.head_dim], dtype=_ms_dtype(cfg))
        if ms.get_context("mode") == ms.GRAPH_MODE:
            self.prefill.set_inputs(ms.Tensor(shape=[None, None], dtype=ms.int32),
                                    ms.Tensor(shape=[None], dtype=ms.int32))
            self.decode.set_inputs(ms.Tensor(shape=[None, 1], dtype=ms.int32), ms.Tensor(shape=[None], dtype=ms.int32),
                                   ms.Tensor(shape=[None, None], dtype=ms.int32), dyn, dyn)

    def _prefill(self, rows: list[list[int]], pad: int, width: int, area: int):
        """Prefill `rows` in chunks of rows x chunk_width^2 <= area (the attention scores), each chunk's cache
        padded to `width` columns (masked): -> logits [n, vocab] (numpy), keys, values, valid [n, width]."""
        import mindspore as ms
        import numpy as np

        chunks, current = [], []
        for i in sorted(range(len(rows)), key=lambda i: len(rows[i])):
            if current and (len(current) + 1) * len(rows[i]) ** 2 > area:
                chunks.append(current)
                current = []
            current.append(i)
        chunks.append(current)
        order, logits, keys, values, valid = [], [], [], [], []
        for chunk in chunks:
            w = max(len(rows[i]) for i in chunk)
            ids = np.full((len(chunk), w), pad, dtype=np.int32)
            for row, i in enumerate(chunk):
                ids[row, :len(rows[i])] = rows[i]
            lengths = np.array([len(rows[i]) for i in chunk], dtype=np.int32)
            lg, k, v = self.prefill(ms.Tensor(ids), ms.Tensor(lengths))
            if w < width:  # empty, masked columns up to the batch's width
                shape = (k.shape[0], k.shape[1], k.shape[2], width - w, k.shape[4])
                zeros = ms.ops.zeros(shape, k.dtype)
                k, v = ms.ops.concat((k, zeros), 3), ms.ops.concat((v, zeros), 3)
            cols = np.zeros((len(chunk), width), dtype=np.int32)
            cols[:, :w] = (np.arange(w)[None, :] < lengths[:, None]) & (ids != self.mask_id)
            order += chunk
            logits.append(lg.asnumpy())
            keys.append(k)
            values.append(v)
            valid.append(cols)
        back = np.argsort(np.array(order))  # chunk order -> the rows' own order
        index = ms.Tensor(back.astype(np.int32))
        cat = (lambda xs: ms.ops.gather(ms.ops.concat(xs, 1), index, 1)) if len(chunks) > 1 else (lambda xs: xs[0])
        return (np.concatenate(logits)[back], cat(keys), cat(values), np.concatenate(valid)[back])

    def generate(self, rows: list[list[int]], max_new: int, min_new: int, eos: int | None, pad: int,
                 seq_length: int, prefill_area: int | None = None) -> list[list[int]]:
        """Greedy new tokens for each row (same stopping rules as infer._greedy_batch). The prefill runs in
        chunks bounded by `prefill_area` (rows x length^2; default: one chunk); decoding runs all rows at once."""
        import mindspore as ms
        import numpy as np

        n = len(rows)
        starts = [len(r) for r in rows]
        limits = [min(len(r) + max_new, seq_length) for r in rows]
        width = max(starts)
        logits, keys, values, valid = self._prefill(rows, pad, width, prefill_area or n * width ** 2)
        new: list[list[int]] = [[] for _ in range(n)]
        active = np.arange(n)  # rows still in the batch, in batch order
        step = 0
        while True:
            scores = logits if isinstance(logits, np.ndarray) else logits.asnumpy()
            keep, tokens = [], []
            for row, i in enumerate(active):
                s = scores[row]
                if eos is not None and len(new[i]) < min_new:
                    s = s.copy()
                    s[eos] = -np.inf
                token = int(np.argmax(s))
                new[i].append(token)
                if token != eos and starts[i] + len(new[i]) < limits[i]:
                    keep.append(row)
                    tokens.append(token)
            if not keep:
                break
            if len(keep) < len(active):
                index = ms.Tensor(np.array(keep, dtype=np.int32))
                keys = ms.ops.gather(keys, index, 1)
                values = ms.ops.gather(values, index, 1)
                valid = valid[keep]
                active = active[keep]
            positions = np.array([starts[i] + step for i in active], dtype=np.int32)
            valid = np.concatenate([valid, (np.array(tokens)[:, None] != self.mask_id).astype(np.int32)], axis=1)
            logits, keys, values = self.decode(ms.Tensor(np.array(tokens, dtype=np.int32)[:, None]),
                                               ms.Tensor(positions), ms.Tensor(valid), keys, values)
            step += 1
        return new


def _ms_dtype(cfg):
    import mindspore as ms

    dtype = getattr(cfg, "compute_dtype", ms.float32)
    if isinstance(dtype, str):
        return {"float32": ms.float32, "float16": ms.float16, "bfloat16": ms.bfloat16}[dtype]
    return dtype
