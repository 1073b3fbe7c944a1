"""`mathtrain compare` at toy scale: the tiny Llama (fixtures/tiny) on two builds from `mathdata build`."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from train_helpers import FIXTURES, run_cli

ROOT = FIXTURES.parent


def test_summary_mean_min_max_spread():
    from mathdata.prompts import PromptSpec
    from mathtrain.compare.plan import Recipe
    from mathtrain.compare.run import summarize

    spec = PromptSpec("raw", "{problem}")
    cat = lambda c, t: {"add": {"total": t, "correct": c, "accuracy": c / t}}  # noqa: E731
    models = [{"recipe": "base", "model": "base-raw", "eval_prompt": spec.to_dict(), "accuracy": 0.0,
               "per_category": cat(0, 4)}]
    models += [{"recipe": "a", "model": f"a-s{s}", "eval_prompt": spec.to_dict(), "accuracy": acc, "tokens_seen": tok,
                "per_category": cat(c, 4)} for s, acc, tok, c in ((0, 0.25, 100, 1), (1, 0.75, 300, 3))]
    rows = summarize(models, [Recipe("a", ROOT, spec, spec, 10, "x")])
    assert rows[0]["model"] == "base-raw" and rows[0]["seeds"] == 0
    a = rows[1]
    assert (a["accuracy_mean"], a["accuracy_min"], a["accuracy_max"], a["spread"]) == (0.5, 0.25, 0.75, 0.5)
    assert a["tokens_seen_mean"] == 200 and a["per_category_mean"] == {"add": 0.5}


@pytest.mark.parametrize("args, message", [
    (["--recipe", "nothing"], "expected NAME=VALUE"),
    (["--recipe", "base=x"], "bad name 'base'"),
    (["--recipe", "a=/nonexistent"], "no such data directory"),
])
def test_bad_recipes(tmp_path, args, message):
    proc = run_cli("compare", "--config", str(FIXTURES / "tiny" / "train.toml"), *args, "--eval",
                   str(FIXTURES / "eval" / "math_references.jsonl"), "--out", str(tmp_path / "c"))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    """A tiny base checkpoint (the compare's common starting point), a TOML naming it, two tiny builds."""
    from mathtrain.config import load_config, load_model_config
    from mathtrain.mindformers_yaml import model_config
    from mathtrain.model import build_network, save_params
    from mathtrain.runtime import set_context, use_output_dir

    d = tmp_path_factory.mktemp("compare-tiny")
    use_output_dir(d / "mf")
    set_context("cpu", mode="pynative", seed=11)
    tiny = FIXTURES / "tiny"
    cfg = load_config(tiny / "train.toml")
    net = build_network(model_config(cfg, load_model_config(cfg), for_training=False), lora=False)
    save_params([(p.name, p) for p in net.get_parameters()], d / "base.ckpt")
    toml = (tiny / "train.toml").read_text()
    toml = toml.replace('config = "model.yaml"', f'config = "{tiny / "model.yaml"}"\ncheckpoint = "{d / "base.ckpt"}"')
    toml = toml.replace('path = "tokenizer.model"', f'path = "{tiny / "tokenizer.model"}"')
    (d / "train.toml").write_text(toml)
    builds = {}
    for name, extra in (("seedlike", ["--prompt", "raw"]), ("curated", ["--style", "steps", "--round", "2",
                                                                        "--prompt", "answer_line"])):
        out = d / f"build-{name}"
        proc = subprocess.run([str(ROOT / ".venv" / "bin" / "mathdata") if (ROOT / ".venv").exists() else "mathdata",
                               "build", str(FIXTURES / "build" / "train_sample.jsonl"), "--quota",
                               str(FIXTURES / "build" / "quotas-tiny.toml"), "--seed", "0", "-q", "-o", str(out),
                               *extra], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        builds[name] = out
    return d, builds


@pytest.mark.train
def test_compare_end_to_end(tiny_setup, tmp_path):
    d, builds = tiny_setup
    out = tmp_path / "cmp"
    args = ["compare", "--config", str(d / "train.toml"), "--recipe", f"seedlike={builds['seedlike']}",
            "--recipe", f"curated={builds['curated']}", "--eval-prompt", "seedlike=answer_line",
            "--eval", str(FIXTURES / "eval" / "math_references.jsonl"), "--limit", "4", "--steps", "3",
            "--seeds", "2", "--max-new-tokens", "4", "--out", str(out), "--json", str(tmp_path / "c.json")]
    proc = run_cli(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "compare.json").read_text())
    assert json.loads((tmp_path / "c.json").read_text()) == doc
    names = [m["model"] for m in doc["models"]]
    # the base model once per distinct eval prompt, then every recipe x seed
    assert names == ["base-answer_line", "seedlike-s7", "seedlike-s8", "curated-s7", "curated-s8"]
    runs = [m for m in doc["models"] if m["recipe"] != "base"]
    for m in runs:
        assert m["steps"] == 3 and m["samples_seen"] == 3 * 8  # same budget for every run
        assert m["total"] == 4 and sum(v["total"] for v in m["per_category"].values()) == 4
        assert m["eval_prompt"]["name"] == "answer_line"
        assert m["tokens_seen"] > 0 and m["first_loss"] > 0
        preds = [json.loads(x) for x in (out / "eval" / f"{m['model']}.jsonl").read_text().splitlines()]
        assert [p["id"] for p in preds] == ["m01", "m02", "m03", "m04"] and all(len(p["new_ids"]) <= 4 for p in preds)
    seedlike = [m for m in runs if m["recipe"] == "seedlike"]
    assert all(m["train_prompt"]["name"] == "raw" for m in seedlike)  # trained with one prompt, evaluated with another
    curated = [m for m in runs if m["recipe"] == "curated"]
    assert curated[0]["tokens_seen"] > seedlike[0]["tokens_seen"]  # step-by-step answers are longer: more tokens
    # different seeds train differently
    assert seedlike[0]["last_loss"] != seedlike[1]["last_loss"]
    assert [r["model"] for r in doc["summary"]] == ["base-answer_line", "seedlike", "curated"]
    assert "curated" in proc.stdout and "accuracy (mean)" in proc.stdout
    page = (out / "compare.html").read_text()
    assert page.count("<svg") == 1 and "<script" not in page
    assert page.count('<title>curated · ') == 1 + len(doc["models"][0]["per_category"])  # one bar per category + all
    # --resume keeps everything; a second compare into the same folder without it is refused
    again = run_cli(*args[:-2], "--resume", "--quiet")
    assert again.returncode == 0 and json.loads((out / "compare.json").read_text()) == doc
    refused = run_cli(*args[:-2])
    assert refused.returncode == 2 and "--resume" in refused.stderr
    shutil.copy(out / "compare.html", d / "compare.html")  # for the screenshot test


@pytest.mark.browser
def test_compare_html_renders_in_chromium(tiny_setup, tmp_path):
    d, _ = tiny_setup
    page = d / "compare.html"
    if not page.is_file():
        pytest.skip("needs test_compare_end_to_end's page")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI")
        pytest.skip("no chromium")
    shot = tmp_path / "compare.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                           "--window-size=1100,900", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-1000:]
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    colours = set(img.getdata())
    assert (0x99, 0x99, 0x99) in colours  # the base model's bars / legend swatch were drawn
    assert (0x00, 0x72, 0xB2) in colours  # the first recipe's
