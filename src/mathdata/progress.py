"""Progress display for long steps; silent with --quiet (or when not on a terminal and asked)."""
from __future__ import annotations

import contextlib
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

STDERR = Console(stderr=True)


class Steps:
    """A named sequence of steps shown as one bar; `timings` keeps seconds per step."""

    def __init__(self, names: list[str], quiet: bool = False):
        self.names, self.quiet, self.timings = names, quiet, {}
        self._progress = None if quiet else Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=STDERR, transient=True)
        self._task = None

    def __enter__(self):
        if self._progress:
            self._progress.__enter__()
            self._task = self._progress.add_task(self.names[0], total=len(self.names))
        return self

    def __exit__(self, *exc):
        if self._progress:
            self._progress.__exit__(*exc)

    @contextlib.contextmanager
    def step(self, name: str):
        if self._progress:
            self._progress.update(self._task, description=name)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        if self._progress:
            self._progress.advance(self._task)
