"""Executors run cells and yield their results as they finish; the caller alone writes them.

Contract: `map(cells, on_progress) -> iterator of result records`, one per cell, in completion order.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

import numba
import torch

from bench.sweep import Cell
from bench.train import ProgressCallback, train_cell


class Executor(Protocol):
    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        """Train every cell; yield each result record as it finishes."""
        ...


class InProcessExecutor:
    """Cells one after another in this process: no start-up cost, the whole machine for each cell.

    `threads` caps torch's and numba's thread pools. Two processes that each spin a pool over the
    same cores slow each other down many times over (OpenMP threads busy-wait), so give concurrent
    runs disjoint thread budgets.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        if self.threads:
            set_threads(self.threads)
        for cell in cells:
            yield train_cell(cell, on_progress)


def set_threads(threads: int) -> None:
    """Size torch's and numba's thread pools for this process."""
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
