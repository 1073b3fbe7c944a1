"""mathtrain.rundir without training: reading run.json, listing checkpoints."""
import json

import pytest

from mathdata.errors import MathDataError
from mathtrain import rundir

RUN = {"config": {}, "model_config": {}, "prompt": {}, "checkpoint_prefix": "tiny_lora"}


def test_read_run(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(RUN), encoding="utf-8")
    info = rundir.read_run(tmp_path)
    assert info.data == RUN and info.run_dir == tmp_path.resolve() and info.prefix == "tiny_lora"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not a mathtrain run directory (no run.json)"),
        ('{"config": ', "run.json:1:12: not valid JSON"),
        ("[]", "run.json: not a JSON object"),
        ('{"config": {}}', "run.json: no model_config, prompt, checkpoint_prefix recorded"),
    ],
)
def test_read_run_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "run.json").write_text(content, encoding="utf-8")
    with pytest.raises(MathDataError) as err:
        rundir.read_run(tmp_path)
    assert message in err.value.message and "\n" not in str(err.value)


def test_read_run_of_no_directory(tmp_path):
    with pytest.raises(MathDataError, match="no such run directory"):
        rundir.read_run(tmp_path / "nope")
