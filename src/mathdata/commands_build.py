"""`mathdata synth` and `mathdata build`: thin commands over mathdata.synth and mathdata.build.

Registered on mathdata.app's `app` (cli.py imports this module). The terminal summary of a build is
rendered by report/build.py from the build's stats.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .app import EngineOpt, NoHeaderOpt, ProblemFieldOpt, QuietOpt, RayAddressOpt, RulesOpt, SolutionFieldOpt, app
from .cli_output import emit_json, json_to_stdout
from .report.build import plan_table, render_build
from .report.format import count as _n
from .textsafe import plain


@app.command()
def synth(
    out: Path = typer.Option(..., "-o", "--output", help="Output JSON Lines file (id, category, problem, solution); - for stdout."),
    category: str = typer.Option("all", "--category", "-c", help="A template category (add, sqrt, equation ...) or 'all'."),
    count: int = typer.Option(1000, "--count", "-n", help="Records per category."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed and options => byte-identical output."),
    style: str = typer.Option("plain", "--style", help="plain (the real data's wording) or steps (step-by-step working ending in 答案：VALUE)."),
    round_to: Optional[int] = typer.Option(None, "--round", help="Round answers half-up to N decimals (text and final line); default: the data's precision."),
    split: str = typer.Option("train", "--split", help="train | test (disjoint values, by hash) | extrapolate (numbers outside the train ranges) | any."),
    digits: Optional[int] = typer.Option(None, "--digits", help="Integer digits of every decimal slot (difficulty)."),
    places: Optional[int] = typer.Option(None, "--places", help="Decimal places of every decimal slot."),
    ranges: List[str] = typer.Option([], "--range", help="A slot's range, SLOT=MIN:MAX[:PLACES] (repeatable), e.g. a=-100:100:1."),
    rules: Optional[Path] = RulesOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Generate verified problems in the real data's wording, answers computed exactly."""
    from .synth import SynthSettings
    from .synth.write import write_synth
    settings = SynthSettings(style=style, round_to=round_to, split=split, digits=digits, places=places)
    per = write_synth(out, category, count, seed, settings, ranges=ranges, rules_dir=rules)
    if not quiet:
        Console(stderr=True).print(plain(f"wrote {out}: {_n(sum(per.values()))} records ("
                                         + ", ".join(f"{k} {_n(v)}" for k, v in per.items())
                                         + f"), style {style}, split {split}, seed {seed}"))


@app.command()
def build(
    inputs: List[Path] = typer.Argument(..., help="Data files (JSON Lines or JSON arrays)."),
    out_dir: Path = typer.Option(..., "-o", "--output", help="Output folder (replaced atomically if it holds an earlier build)."),
    quota: Path = typer.Option(..., "--quota", help="Quota table, e.g. rules/quotas.toml or rules/quotas-small.toml."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling, top-up and shuffle."),
    top_up: bool = typer.Option(True, "--top-up/--no-top-up", help="Fill quota shortfalls from the generator, or stop with the plan."),
    exclude: List[Path] = typer.Option([], "--exclude", help="Eval set(s) to decontaminate against (repeatable)."),
    keep_english: bool = typer.Option(False, "--keep-english", help="Keep English problems (they still need a quota naming english)."),
    keep_wrong: bool = typer.Option(False, "--keep-wrong", help="Keep records whose answer is wrong."),
    keep_implausible: bool = typer.Option(False, "--keep-implausible", help="Keep records with implausible labels."),
    style: Optional[str] = typer.Option(None, "--style", help="Rewrite template solutions: plain | steps (default: keep the data's solutions)."),
    round_to: Optional[int] = typer.Option(None, "--round", help="Round answers to N decimals (implies --style plain if no style given)."),
    prompt: str = typer.Option("raw", "--prompt", help="Prompt template from rules/prompts.toml, recorded in manifest.json."),
    ngram: int = typer.Option(13, "--ngram", help="Character n-gram length for decontamination."),
    overlap: float = typer.Option(0.8, "--overlap", help="Share of the shorter text's n-grams that marks contamination."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for answer verification."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed input records (counted in the load stage as bad_record) instead of stopping."),
    problem_field: Optional[str] = ProblemFieldOpt,
    solution_field: Optional[str] = SolutionFieldOpt,
    no_header: bool = NoHeaderOpt,
    rules: Optional[Path] = RulesOpt,
    engine: str = EngineOpt,
    ray_address: Optional[str] = RayAddressOpt,
    quiet: bool = QuietOpt,
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the build stats (manifest + timings) as JSON to FILE (- for stdout)."),
) -> None:
    """Build a training set: load, normalise, drop English / wrong / implausible, dedup (exact and
    near), decontaminate, sample per quota, top up from the generator, restyle, shuffle, write."""
    from .build import BuildOptions
    from .build import build as run_build
    from .outputs import check_build_outputs
    check_build_outputs(out_dir, json_out, [*inputs, quota, *exclude], rules)
    console = Console(quiet=json_to_stdout(json_out))
    opts = BuildOptions(seed=seed, top_up=top_up, excludes=tuple(exclude), keep_english=keep_english,
                        keep_wrong=keep_wrong, keep_implausible=keep_implausible, style=style, round_to=round_to,
                        prompt=prompt, rules_dir=rules, ngram=ngram, overlap=overlap, workers=workers,
                        skip_bad=skip_bad, problem_field=problem_field, solution_field=solution_field,
                        no_header=no_header, engine=engine, ray_address=ray_address)
    on_plan = None if quiet else (lambda plan: console.print(plan_table(plan)))
    result = run_build(inputs, out_dir, quota, opts, quiet=quiet, on_plan=on_plan)
    stats = result.stats()
    if not quiet:
        render_build(stats, console)
    if json_out:
        emit_json(json_out, stats)
