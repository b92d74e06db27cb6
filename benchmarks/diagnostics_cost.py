"""What do the per-cell diagnostics (gradient-norm statistics, the end-of-training gradient-flow profile)
cost? Trains the same cells with and without them, alternating so machine noise hits both, and prints
the ratio of wall-clock seconds per cell (target: under 1.03, i.e. less than 3% extra).

    python benchmarks/diagnostics_cost.py --task adding --length 200 --steps 300

The wall clock covers all of train_cell (training, validation, test, and the diagnostics), so the
profile's one extra backward pass is counted. Its cost is fixed per cell, so its share shrinks as the
budget grows: a short budget is the hard case.
"""

from __future__ import annotations

import time

import click

from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import train_cell


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

    worst = 0.0
    for model in model_names.split(","):
        cell_seconds(cell(model, True, 3))  # warm-up: first-call costs land on neither side
        cell_seconds(cell(model, False, 3))
        on, off = [], []
        for _ in range(repeats):
            off.append(cell_seconds(cell(model, False)))
            on.append(cell_seconds(cell(model, True)))
        ratio = min(on) / min(off)
        worst = max(worst, ratio)
        click.echo(f"{task} L={length} {model}, {steps} steps: {min(off):.2f} s without diagnostics, "
                   f"{min(on):.2f} s with (best of {repeats}) -> ratio {ratio:.3f}")
    click.echo(f"worst ratio {worst:.3f} (target < 1.03): {'met' if worst < 1.03 else 'MISSED'}")
    raise SystemExit(0 if worst < 1.03 else 1)


if __name__ == "__main__":
    main()
