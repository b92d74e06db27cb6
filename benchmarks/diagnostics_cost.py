"""What do the per-cell diagnostics (gradient-norm statistics, the end-of-training gradient-flow profile)
cost? Two ratios against the same cell without them (target: under 1.03, i.e. less than 3% extra):

- direct: (cell seconds + seconds of the diagnostics pass, timed on its own, median of 5) / cell
  seconds. The pass is all the diagnostics add besides appending one float per step, and timing it
  alone keeps a shared machine's noise (easily +-5% on whole cells) out of the figure. This one decides
  the exit code.
- whole cell: the best of `--repeats` wall-clock runs of train_cell with them over the best without,
  alternating so noise hits both; a cross-check that can read below 1 on a noisy machine.

    python benchmarks/diagnostics_cost.py --task adding --length 100 --steps 200

The pass's cost is fixed per cell, so its share shrinks as the budget grows (the default is 4000
steps): a short budget is the hard case. One torch thread, as each cell gets in a worker.
"""

from __future__ import annotations

import time

import statistics

import click
import torch

import longdep_tasks as tasks
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import _diagnostics, _held_out, seeded_model, train_cell


def cell_seconds(cell: Cell) -> float:
    started = time.perf_counter()
    record = train_cell(cell)
    if record["status"] == "failed":
        raise SystemExit(f"{cell.label()} failed: {record['error']}")
    return time.perf_counter() - started


@click.command()
@click.option("--task", default="adding", show_default=True)
@click.option("--models", "model_names", default="rnn,lstm,gru", show_default=True)
@click.option("--length", default=200, show_default=True)
@click.option("--steps", default=300, show_default=True)
@click.option("--hidden", default=128, show_default=True)
@click.option("--repeats", default=3, show_default=True)
def main(task: str, model_names: str, length: int, steps: int, hidden: int, repeats: int) -> None:
    # lr tiny on purpose: no cell solves early, so both variants train every step of the budget
    def cell(model: str, diagnostics: bool, budget: int = steps) -> Cell:
        return Cell(task, length, model, 0, ModelConfig(hidden),
                    TrainConfig(steps=budget, lr=1e-9, eval_every=budget, diagnostics=diagnostics))

    torch.set_num_threads(1)
    worst = 0.0
    for model in model_names.split(","):
        cell_seconds(cell(model, True, 3))  # warm-up: first-call costs land on neither side
        cell_seconds(cell(model, False, 3))
        on, off = [], []
        for _ in range(repeats):
            off.append(cell_seconds(cell(model, False)))
            on.append(cell_seconds(cell(model, True)))
        extra = pass_seconds(cell(model, True))
        direct = (min(off) + extra) / min(off)
        worst = max(worst, direct)
        click.echo(f"{task} L={length} {model}, {steps} steps: cell {min(off):.2f} s without diagnostics, "
                   f"diagnostics pass {extra:.3f} s -> direct ratio {direct:.4f}; whole cell with them "
                   f"{min(on):.2f} s (best of {repeats}) -> ratio {min(on) / min(off):.3f}")
    click.echo(f"worst direct ratio {worst:.4f} (target < 1.03): {'met' if worst < 1.03 else 'MISSED'}")
    raise SystemExit(0 if worst < 1.03 else 1)


def pass_seconds(cell: Cell, repeats: int = 5) -> float:
    """Median seconds of the diagnostics a cell adds after training (on its model at initialisation:
    the pass's cost depends on the shapes, not on the weights)."""
    task = tasks.get(cell.task)
    model = seeded_model(cell, task)
    valid = _held_out(task, cell, "valid", torch.device(cell.device))
    norms = [1.0] * cell.train.steps
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        _diagnostics(model, task, valid, norms, cell.train.clip)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
