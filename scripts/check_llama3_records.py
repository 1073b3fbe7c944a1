"""Compare mathtrain's Llama3 records with MindFormers' OWN research/llama3 code (not shipped in the wheel).

    git clone https://github.com/mindspore-ai/mindformers
    git -C mindformers show e16c314c4^:research/llama3/llama3_tokenizer.py    > /tmp/mf/llama3_tokenizer.py
    git -C mindformers show e16c314c4^:research/llama3/llama3_conversation.py > /tmp/mf/llama3_conversation.py
    git -C mindformers show e16c314c4^:research/llama3/llama3_preprocess.py   > /tmp/mf/llama3_preprocess.py
    python scripts/check_llama3_records.py /tmp/mf [TOKENIZER_MODEL] [--seq-length 256]

(e16c314c4 removed research/llama3; its parent holds the files.) TOKENIZER_MODEL defaults to the
Llama3-shaped file built by fixtures/tiny/build_llama3_tokenizer.py; Meta's tokenizer.model works too
(then pass a model config with Meta's ids: configs/llama3-8b.model.yaml is used for vocab 128256 either way).
It tokenises fixtures/sample/train.jsonl with MindFormers' `Llama3Tokenizer` + `preprocess()` and with
`mathtrain.records.build_records`, and prints how many rows are identical. Nothing is written to the project.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("research_dir", type=Path, help="folder holding MindFormers' llama3_{tokenizer,conversation,preprocess}.py")
    ap.add_argument("tokenizer", nargs="?", type=Path, help="a tiktoken tokenizer.model (default: build the Llama3-shaped one)")
    ap.add_argument("--seq-length", type=int, default=256)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="check-llama3-"))
    os.environ.setdefault("LOCAL_DEFAULT_PATH", str(scratch / "mf"))
    sys.path[:0] = [str(args.research_dir), str(ROOT / "src"), str(ROOT / "tests")]
    import numpy as np
    import yaml
    from llama3_preprocess import preprocess  # MindFormers' research code
    from llama3_tokenizer import Llama3Tokenizer as MindFormersLlama3Tokenizer

    from mathtrain.records import IGNORE, build_records, load_records
    from mathtrain.tokenizer import load_tokenizer
    from train_helpers import write_build_dir

    tok_path = args.tokenizer
    if tok_path is None:
        import runpy

        tok_path = runpy.run_path(str(ROOT / "fixtures/tiny/build_llama3_tokenizer.py"))["build"](scratch / "tokenizer.model")
    lines = (ROOT / "fixtures/sample/train.jsonl").read_text(encoding="utf-8").splitlines()
    recs = [{"id": str(i), **json.loads(line)} for i, line in enumerate(lines)]
    model = yaml.safe_load((ROOT / "configs/llama3-8b.model.yaml").read_text())
    ours = build_records(write_build_dir(scratch / "build", records=recs), load_tokenizer("Llama3Tokenizer", str(tok_path)),
                         str(tok_path), "Llama3Tokenizer", args.seq_length, scratch / "data", model_config=model)
    ids, labels = load_records(ours.path)
    mf = MindFormersLlama3Tokenizer(vocab_file=str(tok_path))
    mf.add_bos_token = mf.add_eos_token = True  # as llama3_preprocess.py's __main__ sets them
    sources = [[{"from": "human", "value": r["problem"]}, {"from": "gpt", "value": r["solution"]}] for r in recs]
    ref = preprocess(sources, mf, args.seq_length + 1)
    if ours.dropped:
        print(f"note: mathtrain dropped {ours.dropped} rows whose prompt fills the row; comparing the rest is not "
              "row-aligned -- raise --seq-length")
        return 1
    same_ids = int((ids == ref["input_ids"]).all(axis=1).sum())
    same_labels = int((labels == ref["labels"]).all(axis=1).sum())
    last = sum(int(r[r != IGNORE][-1] == mf.eos_token_id) for r in labels if (r != IGNORE).any())
    print(f"rows {len(ids)}: input_ids identical {same_ids}, labels identical {same_labels}; "
          f"BOS {mf.bos_token_id} first in {int((ids[:, 0] == mf.bos_token_id).sum())}, "
          f"last label EOS {mf.eos_token_id} in {last} (truncated {ours.truncated}); max id {int(np.max(ids))}")
    return 0 if same_ids == same_labels == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
