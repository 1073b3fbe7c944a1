"""`mathtrain compare`: what does a data recipe do to accuracy? (DataComp-LM's proxy-model method)

The same model (one mathtrain TOML) is LoRA-trained on each recipe's BUILD_DIR with the same number of steps,
batch size and seq_length (the same token budget), once per seed; every run and the untrained base model are
evaluated greedily on the same eval set; accuracy overall and per category is written to OUT/compare.json, shown
as a terminal table, and drawn per category in OUT/compare.html (inline SVG).

Each training and each evaluation runs in its own process (`worker.py`): MindSpore state and ~1 GB of weights
are released between them, and a finished piece is kept on disk, so `--resume` continues an interrupted compare.
"""
