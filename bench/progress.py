"""Progress for long sweeps: a rich bar with ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

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


class CostRemainingColumn(ProgressColumn):
    """Time left for a bar counted in estimated seconds of work: the estimate scaled by how fast the work
    has actually gone so far (before any progress: by the cells running at a time)."""

    def render(self, task: Any) -> Text:
        if task.total is None or task.finished:
            return Text("0:00:00", style="progress.remaining")
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if task.completed > 0 and elapsed > 1 else task.fields.get("rate", 1.0)
        left = max(task.total - task.completed, 0.0) / max(rate, 1e-9)
        return Text(str(timedelta(seconds=int(left))), style="progress.remaining")


class Display:
    """An overall bar with ETA and one row per running cell (step, eval accuracy); plain lines on stderr
    when it is not a terminal. Thread-safe: workers report from another thread.

    The overall bar counts estimated seconds of work (bench.cost), not cells: an L=1000 LSTM weighs ~20x
    an L=50 one, and a running cell counts for the share of its steps done, so the ETA follows the work."""

    def __init__(self, total: int, done: int, enabled: bool, costs: dict[str, float] | None = None,
                 concurrent: int = 1) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled and sys.stderr.isatty()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                                 TimeElapsedColumn(), TextColumn("eta"), CostRemainingColumn(),
                                 TextColumn("{task.fields[note]}"), console=self.console,
                                 disable=not self.enabled)
        self.costs = costs or {}
        self.total, self.done = total, done
        self.finished_work, self.partial = 0.0, {}
        self.cells = self.progress.add_task("cells", total=sum(self.costs.values()) or 1.0, completed=0,
                                            count=self._count(), rate=max(concurrent, 1), note="")
        self.rows: dict[str, Any] = {}

    def __enter__(self) -> "Display":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def _count(self) -> str:
        return f"{self.done}/{self.total}"

    def _advance(self) -> None:
        self.progress.update(self.cells, completed=self.finished_work + sum(self.partial.values()), count=self._count())

    def step(self, cell: Cell, step: int, accuracy: float | None) -> None:
        """Called when a cell starts (step 0) and after each of its evaluations."""
        if cell.key not in self.rows:
            self.rows[cell.key] = self.progress.add_task(f"  {cell.label()}", total=cell.train.steps, note="", count="")
        note = f"eval acc {accuracy:.3f}" if accuracy is not None else ""
        self.progress.update(self.rows[cell.key], completed=step, note=note, count=f"{step}/{cell.train.steps}")
        self.partial[cell.key] = self.costs.get(cell.key, 0.0) * min(step / max(cell.train.steps, 1), 1.0)
        self._advance()

    def finished(self, record: dict[str, Any]) -> None:
        """Log one line for a finished cell, drop its row and advance the overall bar."""
        row = self.rows.pop(record["key"], None)
        if row is not None:
            self.progress.remove_task(row)
        self.log(finished_line(record))
        self.partial.pop(record["key"], None)
        self.finished_work += self.costs.get(record["key"], 0.0)  # a solved cell stops early: its rest is done
        self.done += 1
        self._advance()

    def log(self, line: str) -> None:
        if self.enabled:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)
