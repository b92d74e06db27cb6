"""Executors run cells and yield their results as they finish; the caller alone writes them.

Contract: `map(cells, on_progress) -> iterator of result records`, one per cell, in completion order.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

from bench.sweep import Cell
from bench.train import ProgressCallback, train_cell


class Executor(Protocol):
    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        """Train every cell; yield each result record as it finishes."""
        ...


class InProcessExecutor:
    """Cells one after another in this process: no start-up cost, the whole machine for each cell."""

    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        for cell in cells:
            yield train_cell(cell, on_progress)
