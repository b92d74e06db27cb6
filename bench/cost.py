"""What a sweep will cost on this machine, measured rather than guessed: a few timed training steps
per distinct (task, length, model, width, batch) shape, times each cell's step budget."""

from __future__ import annotations

import time
from typing import Any

import torch

import tasks
from bench.sweep import Cell

TIMED_STEPS = 2  # after one untimed warm-up step (allocations, kernel selection)


def seconds_per_step(cell: Cell) -> float:
    """Wall seconds of one training step (data, forward, backward, Adam) of `cell`'s shape here."""
    from bench.train import backward, seeded_model, to_device

    task = tasks.get(cell.task)
    device = torch.device(cell.device)
    model = seeded_model(cell, task).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cell.train.lr)

    started = 0.0
    for step in range(TIMED_STEPS + 1):
        if step == 1:
            _synchronize(device)
            started = time.perf_counter()
        batch = to_device(task.generate(cell.train.batch_size, cell.length, cell.seed, "train", 0), device)
        backward(model, optimizer, task, batch, cell.train.clip)
        optimizer.step()
    _synchronize(device)
    return (time.perf_counter() - started) / TIMED_STEPS


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def estimate_sweep_seconds(sweep: Any, concurrent: int = 1) -> float:
    """Seconds for every cell of `sweep` to train its whole budget, `concurrent` cells at a time."""
    timed: dict[tuple, float] = {}
    total = 0.0
    for cell in sweep.expand():
        shape = (cell.task, cell.length, cell.model, cell.model_config, cell.train.batch_size)
        if shape not in timed:
            timed[shape] = seconds_per_step(cell)
        total += timed[shape] * cell.train.steps
    return total / max(1, concurrent)


def seconds_text(seconds: float) -> str:
    """`3 min`, `2.5 h`, `4.1 days`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 3 * 86400 else f"{seconds / 86400:.1f} days"
