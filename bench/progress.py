"""Progress for long sweeps: a rich bar with ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench.sweep import Cell


def finished_line(record: dict[str, Any]) -> str:
    """One line per finished cell: `adding L=50 gru seed=0: solved at step 1100, accuracy 0.45 ...`."""
    label = f"{record['task']} L={record['length']} {record['model']} seed={record['seed']}"
    status = record["status"]
    if status == "failed":
        return f"{label}: FAILED: {(record['error'] or '').splitlines()[0]}"
    if status == "diverged":
        return f"{label}: diverged at step {record['diverged_step']}"
    outcome = f"solved at step {record['steps_to_solve']}" if status == "solved" else (
        f"{status} after {record['steps']} steps (budget {record['steps_budget']})")
    short = record.get("short_memory_accuracy")
    baselines = f"chance {record['chance_accuracy']:.3f}" + (
        f", short memory {short:.3f}" if short is not None and abs(short - record["chance_accuracy"]) > 1e-9 else "")
    return (f"{label}: {outcome}, test accuracy {record['accuracy']:.3f} ({baselines}), "
            f"loss/chance {record['loss_ratio']:.3f}, {record['seconds']:.0f}s")


class Display:
    """An overall cells bar with ETA and one row per running cell (step, eval accuracy); plain
    lines on stderr when it is not a terminal. Thread-safe: workers report from another thread."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled and sys.stderr.isatty()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[note]}"), console=self.console,
                                 disable=not self.enabled)
        self.cells = self.progress.add_task("cells", total=total, completed=done, note="")
        self.rows: dict[str, Any] = {}

    def __enter__(self) -> "Display":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def step(self, cell: Cell, step: int, accuracy: float | None) -> None:
        """Called when a cell starts (step 0) and after each of its evaluations."""
        if cell.key not in self.rows:
            self.rows[cell.key] = self.progress.add_task(f"  {cell.label()}", total=cell.train.steps, note="")
        note = f"eval acc {accuracy:.3f}" if accuracy is not None else ""
        self.progress.update(self.rows[cell.key], completed=step, note=note)

    def finished(self, record: dict[str, Any]) -> None:
        """Log one line for a finished cell, drop its row and advance the overall bar."""
        row = self.rows.pop(record["key"], None)
        if row is not None:
            self.progress.remove_task(row)
        self.log(finished_line(record))
        self.progress.advance(self.cells)

    def log(self, line: str) -> None:
        if self.enabled:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)
