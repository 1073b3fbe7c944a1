"""Evaluation: math accuracy, SQuAD retention (MindFormers' EmF1Metric and official SQuAD v1.1), the
contest score, and generation with a trained run.

Scoring modules (`math_score`, `squad_score`, `squad_data`, `contest`, `files`) need no MindSpore;
only `generate` / `run_eval` import the training stack, and only when called.
"""
