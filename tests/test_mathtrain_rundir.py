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


def test_checkpoint_listings_skip_dot_files_and_other_names(tmp_path):
    """Files are only named here (listing reads no content): the step comes from the name."""
    ckpts, merged = tmp_path / "checkpoints", tmp_path / "merged"
    ckpts.mkdir()
    merged.mkdir()
    steps = [16, 8, 128]
    for step in steps:
        (ckpts / f"tiny_lora_step{step:06d}.ckpt").touch()
        (merged / f"tiny_lora_step{step:06d}_merged.ckpt").touch()
    for name in (".tiny_lora_step000024.ckpt", "tiny_lora_step000032.ckpt.bak", "notes.ckpt"):
        (ckpts / name).touch()
    (merged / ".tiny_lora_step000024_merged.ckpt").touch()  # a save in progress
    (merged / "tiny_lora_step000032.ckpt").touch()
    assert rundir.loop_checkpoints(tmp_path) == [(s, ckpts / f"tiny_lora_step{s:06d}.ckpt") for s in sorted(steps)]
    assert rundir.merged_checkpoints(tmp_path) == [(s, merged / f"tiny_lora_step{s:06d}_merged.ckpt")
                                                    for s in sorted(steps)]
    assert rundir.newest(tmp_path, "merged") == merged / f"tiny_lora_step{max(steps):06d}_merged.ckpt"


def test_checkpoint_listings_of_a_run_without_checkpoints(tmp_path):
    assert rundir.loop_checkpoints(tmp_path) == [] and rundir.merged_checkpoints(tmp_path) == []
    assert rundir.newest(tmp_path) is None and rundir.newest(tmp_path, "merged") is None
