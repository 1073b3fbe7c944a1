"""Robustness: what a build, synth or audit may write, and what it must never touch (issue 12 items
1, 7, 8). Every case asserts the one-line error and exit 2 (or the right result) and that nothing
outside the intended output changed."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from mathdata.io import atomic_path, sha256_file
from mathdata.outputs import BuildFolder

from conftest import ROOT
from robust_helpers import SAMPLE, TINY, cli, dead_pid, mathdata_proc, snapshot

BUILD = ["--quota", TINY, "--workers", "1", "-q"]


def build_args(out, *extra):
    return ["build", SAMPLE, "-o", out, *BUILD, *extra]


@pytest.fixture(scope="module")
def earlier_build(tmp_path_factory):
    """A real build folder to copy from (building once per module keeps the suite fast)."""
    import shutil
    from mathdata.build import BuildOptions, build
    out = tmp_path_factory.mktemp("earlier") / "out"
    build([SAMPLE], out, TINY, BuildOptions(seed=1, workers=1))
    return out, shutil


def copy_build(earlier_build, dest: Path) -> Path:
    src, shutil = earlier_build
    shutil.copytree(src, dest)
    return dest


def test_build_refuses_folders_it_did_not_write(tmp_path, capsys, earlier_build):
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my-app", "version": "1.0"}', encoding="utf-8")
    (web / "index.html").write_text("<h1>mine</h1>", encoding="utf-8")
    run = tmp_path / "run"                 # a mathtrain run folder also has a manifest.json
    (run / "checkpoint").mkdir(parents=True)
    (run / "manifest.json").write_text('{"tool": "mathtrain"}', encoding="utf-8")
    (run / "checkpoint" / "lora.ckpt").write_bytes(b"\0" * 64)
    notes = copy_build(earlier_build, tmp_path / "notes")   # an earlier build with a note beside it
    (notes / "NOTES.md").write_text("keep me", encoding="utf-8")
    fake = tmp_path / "fake"               # a manifest claiming mathdata but not listing what is there
    fake.mkdir()
    (fake / "manifest.json").write_text(json.dumps({"tool": "mathdata", "schema": "mathdata.build/1",
                                                    "outputs": {"train.jsonl": {}}}), encoding="utf-8")
    (fake / "train.jsonl").write_text("{}\n", encoding="utf-8")
    (fake / "thesis.tex").write_text("\\documentclass{article}", encoding="utf-8")
    before = snapshot(tmp_path)
    for folder, words in ((web, "holds no earlier build"), (run, "holds no earlier build"),
                          (notes, "NOTES.md"), (fake, "thesis.tex")):
        cli(capsys, *build_args(folder)).one_line_error(f"-o {folder}", words)
    assert snapshot(tmp_path) == before


def test_build_replaces_its_own_earlier_build_and_leaves_nothing_beside(tmp_path, capsys, earlier_build):
    out = copy_build(earlier_build, tmp_path / "out")
    old_train = (out / "train.jsonl").read_bytes()
    assert cli(capsys, *build_args(out, "--seed", "7")).code == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7 and (out / "train.jsonl").read_bytes() != old_train
    assert {p.name for p in out.iterdir()} == {"manifest.json", *manifest["outputs"]}
    for name, entry in manifest["outputs"].items():
        assert sha256_file(out / name) == entry["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]     # no lock, temp or old folder left


def test_never_writes_over_an_input(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    train = data / "train.jsonl"
    train.write_bytes(SAMPLE.read_bytes())
    quota = data / "q.toml"
    quota.write_bytes(TINY.read_bytes())
    link = tmp_path / "alias.jsonl"
    link.symlink_to(train)
    rules = tmp_path / "rules"
    import shutil
    shutil.copytree(ROOT / "rules", rules)
    before = snapshot(tmp_path)
    cases = [
        (["audit", train, "--json", train, "-q"], "is one of the inputs"),
        (["audit", train, "--json", link, "-q"], "is one of the inputs"),          # the same file by another name
        (["audit", train, "--html", train, "-q"], "is one of the inputs"),
        (["audit", train, "--json", tmp_path / "s.json", "--html", tmp_path / "s.json", "-q"], "are the same file"),
        (["build", train, "--quota", quota, "-o", tmp_path / "o", "--json", train, "-q"], "is one of the inputs"),
        (["build", train, "--quota", quota, "-o", tmp_path / "o", "--json", quota, "-q"], "is one of the inputs"),
        (["build", train, "--quota", quota, "-o", data, "-q"], "holds an input"),
        (["build", train, "--quota", quota, "-o", train, "-q"], "-o"),
        (["build", train, "--quota", quota, "-o", tmp_path / "o", "--exclude", tmp_path / "o" / "x.jsonl", "-q"], "no such file"),
        # the rule files are inputs too (a copy of the project's rules in --rules)
        (["synth", "-c", "add", "-n", "2", "--rules", rules, "-o", rules / "templates.toml"], "is one of the inputs"),
        (["audit", train, "--rules", rules, "--json", rules / "limits.toml", "-q"], "is one of the inputs"),
        (["build", train, "--quota", quota, "--rules", rules, "-o", tmp_path / "o", "--json", rules / "dedup.toml", "-q"],
         "is one of the inputs"),
    ]
    for args, words in cases:
        cli(capsys, *args).one_line_error(words)
    assert snapshot(tmp_path) == before


def test_output_location_mistakes_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    sample = tmp_path / "s.jsonl"
    sample.write_bytes(SAMPLE.read_bytes())
    before = snapshot(tmp_path)
    cases = [
        (["synth", "-c", "add", "-n", "2", "-o", "a_folder"], "-o a_folder: is a folder"),
        (["synth", "-c", "add", "-n", "2", "-o", "a_file/x.jsonl"], "is not a folder"),
        (["synth", "-c", "add", "-n", "2", "-o", "loop"], "loop"),
        (["audit", sample, "--json", "a_folder", "-q"], "--json a_folder: is a folder"),
        (["audit", sample, "--html", "a_folder", "-q"], "--html a_folder: is a folder"),
        (["audit", sample, "--json", "a_file/s.json", "-q"], "is not a folder"),
        (["audit", "loop", "-q"], "loop"),
        (["audit", "a_folder", "-q"], "is a directory"),
        (["build", sample, "--quota", TINY, "-o", ".", "-q"], "current folder"),
        (["build", sample, "--quota", TINY, "-o", tmp_path, "-q"], "current folder"),
        (["build", sample, "--quota", TINY, "-o", "a_file", "-q"], "not a folder"),
        (["build", sample, "--quota", TINY, "-o", "loop", "-q"], "loop"),
        (["build", sample, "--quota", "a_folder", "-o", "o", "-q"], "a_folder: is a folder"),
        (["build", sample, "--quota", TINY, "-o", "o", "--json", "o/stats.json", "-q"], "inside the build folder"),
        (["build", sample, "--quota", TINY, "-o", "o", "--json", "o", "-q"], "is the build folder"),
        (["synth", "-c", "add", "-n", "2", "-o", "n" * 300 + ".jsonl"], "name too long"),
        (["build", sample, "--quota", TINY, "-o", "n" * 300, "-q"], "name too long"),
        (["audit", sample, "--json", "d" * 240, "-q"], "name too long"),
        # not writable even for root (permission bits would not tell): probed before any work
        (["build", sample, "--quota", TINY, "-o", "/proc/mathdata-o", "-q"], "folder /proc is not writable"),
        (["audit", sample, "--json", "/proc/s.json", "-q"], "folder /proc is not writable"),
        (["synth", "-c", "add", "-n", "2", "-o", "/proc/x.jsonl"], "folder /proc is not writable"),
    ]
    for args, words in cases:
        cli(capsys, *args).one_line_error(words)
    assert snapshot(tmp_path) == before


def test_stale_part_files_of_dead_processes_are_removed(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    stale = tmp_path / f".x.jsonl.{dead_pid()}.k2j4.part"
    live = tmp_path / f".x.jsonl.{os.getpid()}.zz.part"      # a writer still running: left alone
    other = tmp_path / ".y.jsonl.1.aa.part"                 # another output's: not ours to judge
    longer = tmp_path / f".x.jsonl.{dead_pid()}.{os.getpid()}.bb.part"   # output `x.jsonl.<pid>`'s, alive
    for p in (stale, live, other, longer):
        p.write_text("half", encoding="utf-8")
    assert cli(capsys, "synth", "-c", "add", "-n", "3", "-o", out, "-q").code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    assert not stale.exists() and live.exists() and other.exists() and longer.exists()
    with pytest.raises(RuntimeError):                       # an interrupted write leaves no .part
        with atomic_path(tmp_path / "z.json") as tmp:
            assert f".{os.getpid()}." in tmp.name
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, live.name, other.name, longer.name])


def test_a_killed_builds_temp_folder_is_cleaned_and_a_broken_swap_repaired(tmp_path, earlier_build):
    """Temporaries of a dead build are removed by the next build into the same folder; a build killed
    between its two renames (old build moved aside, new one not yet in place) gets its folder back."""
    out = copy_build(earlier_build, tmp_path / "out")
    pid = dead_pid()
    tmp = tmp_path / f".out.tmp-{pid}"
    tmp.mkdir()
    (tmp / "train.jsonl").write_text("half", encoding="utf-8")
    stranger = tmp_path / f".out.tmp-{dead_pid()}"            # same name pattern, but not build files
    stranger.mkdir()
    (stranger / "photo.jpg").write_bytes(b"\xff\xd8")
    folder = BuildFolder(out, files=("train.jsonl", "train_conversations.json", "dropped.jsonl"))
    with folder.locked():
        pass
    assert not tmp.exists() and stranger.exists() and out.is_dir()
    # killed between the renames: only .out.old-PID holds the previous build
    os.replace(out, tmp_path / f".out.old-{dead_pid()}")
    with BuildFolder(out, files=("train.jsonl",)).locked():
        pass
    assert (out / "manifest.json").is_file() and not list(tmp_path.glob(".out.old-*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", stranger.name])


def _complete(out: Path) -> bool:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return all(sha256_file(out / n) == e["sha256"] for n, e in manifest["outputs"].items())


def test_sigkill_mid_write_leaves_no_complete_looking_output(tmp_path, capsys):
    """SIGKILL the build the moment its temporary folder appears: no output folder (or a complete
    one, if the build won the race), and the next build removes the temporary folder."""
    out = tmp_path / "o"
    killed = False
    for _ in range(3):
        proc = mathdata_proc(*build_args(out))
        tmp = tmp_path / f".o.tmp-{proc.pid}"
        while proc.poll() is None:
            if tmp.is_dir():
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
        proc.communicate()
        if killed:
            break
        assert proc.returncode == 0 and _complete(out)
        import shutil
        shutil.rmtree(out)
    assert killed, "the build was never caught writing"
    assert proc.returncode == -signal.SIGKILL
    assert tmp.is_dir() and not out.exists()   # killed while writing: only the temporary folder
    assert cli(capsys, *build_args(out)).code == 0
    assert _complete(out) and sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_two_builds_into_one_folder_never_race(tmp_path):
    """Started together: one builds, the other stops at once with a one-line error (or, if it came
    second, replaces the first's complete build); never a crash or a stranded temporary folder."""
    out = tmp_path / "o"
    procs = [mathdata_proc(*build_args(out, "--seed", str(seed))) for seed in (1, 2)]
    results = [(p.wait(), p.communicate()[1].decode()) for p in procs]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code in (0, 2), err
        if code == 2:
            assert "another build is writing this folder" in err and len(err.strip().splitlines()) == 1
    assert _complete(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_second_build_is_refused_while_the_lock_is_held(tmp_path, capsys):
    out = tmp_path / "o"
    with BuildFolder(out).locked():
        run = cli(capsys, *build_args(out))
        run.one_line_error("another build is writing this folder", f"pid {os.getpid()}")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_stdin_and_named_pipe_inputs_are_read_once_with_their_real_hash(tmp_path):
    import hashlib
    data = SAMPLE.read_bytes()
    proc = mathdata_proc("build", "-", "-o", tmp_path / "o", *BUILD, stdin=__import__("subprocess").PIPE)
    _, err = proc.communicate(data, timeout=120)
    assert proc.returncode == 0, err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["path"] == "-"
    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    proc = mathdata_proc("audit", fifo, "--json", tmp_path / "a.json", "-q", "--workers", "1")
    with open(fifo, "wb") as writer:      # opening blocks until the reader opens: then write and close
        writer.write(data)
    start = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert time.monotonic() - start < 60
    stats = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert stats["records"] == len(data.splitlines())
    assert stats["inputs"][0]["sha256"] == hashlib.sha256(data).hexdigest()



def test_mathtrain_out_given_a_file_is_one_line(tmp_path):
    import subprocess
    import sys
    target = tmp_path / "afile"
    target.write_text("mine", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from mathtrain.cli import main; main()", "run", "--config",
                           str(SAMPLE.parents[1] / "tiny" / "train.toml"), "--data", str(tmp_path), "--out",
                           str(target)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"mathtrain: error: --out {target}: exists and is not a folder (give a folder for the run (RUN_DIR))")
    assert target.read_text(encoding="utf-8") == "mine"
    proc = subprocess.run([sys.executable, "-c", "from mathtrain.cli import main; main()", "eval", "--run",
                           str(tmp_path), "--out", str(target), "--math", str(SAMPLE)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"mathtrain: error: --out {target}: exists and is not a folder (give a folder for the predictions and scores)")
    assert target.read_text(encoding="utf-8") == "mine"


def test_pipes_devices_and_symlinked_outputs(tmp_path, capsys):
    """`-o /dev/stdout` (redirected to a file), `--json /dev/null` and a named pipe are written in
    place -- never renamed onto, which would replace /dev/stdout's link; a symlinked output keeps its
    link and its target gets the new content."""
    import subprocess
    import sys
    redirected = tmp_path / "redirected.jsonl"
    with open(redirected, "wb") as fh:
        proc = subprocess.run([sys.executable, "-c", "from mathdata.cli import main; main()", "synth", "-c", "add",
                               "-n", "3", "-o", "/dev/stdout", "-q"], stdout=fh, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(redirected.read_text(encoding="utf-8").splitlines()) == 3
    assert os.path.islink("/dev/stdout")
    assert cli(capsys, "audit", SAMPLE, "-q", "--json", "/dev/null").code == 0
    target = tmp_path / "real.jsonl"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert cli(capsys, "synth", "-c", "add", "-n", "2", "-o", link, "-q").code == 0
    assert link.is_symlink() and len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl", "redirected.jsonl"]


def test_a_full_disk_is_one_line(capsys):
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    cli(capsys, "synth", "-c", "add", "-n", "5", "-o", "/dev/full", "-q").one_line_error("No space left on device")
    cli(capsys, "audit", SAMPLE, "--json", "/dev/full", "-q", "--workers", "1").one_line_error("No space left on device")


def test_a_stopped_build_leaves_no_folders_it_made(tmp_path, capsys):
    before = snapshot(tmp_path)
    cli(capsys, *build_args(tmp_path / "a" / "b" / "o", "--no-top-up")).one_line_error("quotas not met")
    assert snapshot(tmp_path) == before


def test_sigterm_mid_write_cleans_up_like_ctrl_c(tmp_path):
    out = tmp_path / "o"
    for _ in range(3):
        proc = mathdata_proc(*build_args(out))
        tmp = tmp_path / f".o.tmp-{proc.pid}"
        caught = False
        while proc.poll() is None:
            if tmp.is_dir():
                os.kill(proc.pid, signal.SIGTERM)
                caught = True
                break
        _, err = proc.communicate()
        if caught:
            break
        import shutil
        shutil.rmtree(out)
    assert caught, "the build was never caught writing"
    assert proc.returncode == 130 and "Traceback" not in err.decode()
    assert list(tmp_path.iterdir()) == []      # no output, no temporary folder, no lock file
