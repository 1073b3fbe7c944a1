"""Synthetic problems for every template in rules/templates.toml, answers exact by construction.

    from mathdata.synth import synthesize, SynthSettings
    records = synthesize(load_rules(), "equation", 1000, seed=1, settings=SynthSettings(style="steps", round_to=2))

values.py  slot drawing, difficulty, train/test/extrapolate split
answer.py  printing an exact answer per answer_format, rounding
steps.py   the step-by-step writers, one per `steps` name
engine.py  TemplateGenerator, synthesize, render_solution, rewrite_solution, record_id
write.py   write_synth: `mathdata synth` (records to a file or stdout)
"""
from .answer import format_answer
from .engine import (STYLES, SynthSettings, TemplateGenerator, record_id, render_solution, rewrite_solution,
                     synthesize, templates_for)
from .steps import WRITERS, StepContext, writer
from .values import SPLITS, split_of

__all__ = ["format_answer", "STYLES", "SPLITS", "SynthSettings", "TemplateGenerator", "record_id", "render_solution",
           "rewrite_solution", "synthesize", "templates_for", "WRITERS", "StepContext", "writer", "split_of"]
