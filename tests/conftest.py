import os
from pathlib import Path

# MindSpore's generated *_pb2 files need protobuf's pure-Python implementation; MindSpore selects it on import,
# but only if nothing imported protobuf before it. The suite imports Ray (test_ray_runner, at collection), whose
# protobuf import would otherwise pick the C implementation and make every later `import mindspore` fail with
# "Descriptors cannot be created directly".
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def rules():
    from mathdata.rules import load_rules
    return load_rules(ROOT / "rules")


@pytest.fixture(scope="session")
def mixed_stats():
    """Audit stats of fixtures/audit/mixed.jsonl (hand-written: every template, each duplicate kind)."""
    from mathdata.audit import audit
    return audit([FIXTURES / "audit" / "mixed.jsonl"], quiet=True, workers=1)


@pytest.fixture(scope="session")
def llama3_tokenizer_file(tmp_path_factory):
    """A Llama3-SHAPED tiktoken tokenizer.model (specials at 128000.., vocab 128256), built by
    fixtures/tiny/build_llama3_tokenizer.py in about half a second; pairs with fixtures/tiny/llama3-model.yaml."""
    import runpy

    build = runpy.run_path(str(FIXTURES / "tiny" / "build_llama3_tokenizer.py"))["build"]
    return build(tmp_path_factory.mktemp("llama3-tokenizer") / "tokenizer.model")


@pytest.fixture(scope="session")
def llama3_tokenizer_json(llama3_tokenizer_file, tmp_path_factory):
    """The same tokenizer as a Hugging Face tokenizer.json + tokenizer_config.json (Meta's HF layout: no pad)."""
    import runpy

    build = runpy.run_path(str(FIXTURES / "tiny" / "build_llama3_tokenizer.py"))["build_tokenizer_json"]
    return build(llama3_tokenizer_file, tmp_path_factory.mktemp("llama3-hf"))
