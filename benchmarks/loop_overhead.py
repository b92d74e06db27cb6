"""How much does the harness add to a bare PyTorch training loop?

Times `train_cell` (fresh numba data every step, held-out evaluation, divergence checks, learning
curve) against a bare loop over the same model, batch, optimizer and clipping that draws a fresh batch
from the same generator every step, in one process, alternating whole runs. Prints the ratio of the
best runs, evaluation included. `bench speed`'s loop rows leave evaluation out and time the two loops
step by step in lockstep, which a shared machine's slow spells move far less.

    python benchmarks/loop_overhead.py --task adding --model gru --length 200 --steps 300
"""

from __future__ import annotations

import click

from bench.speed import bare_loop_seconds
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import train_cell


@click.command()
@click.option("--task", default="adding", show_default=True)
@click.option("--model", default="gru", show_default=True)
@click.option("--length", default=200, show_default=True)
@click.option("--steps", default=300, show_default=True)
@click.option("--eval-every", default=200, show_default=True)
@click.option("--repeats", default=3, show_default=True)
def main(task: str, model: str, length: int, steps: int, eval_every: int, repeats: int) -> None:
    # a budget no model solves in `steps`, so both loops run every step (lr tiny on purpose)
    cell = Cell(task, length, model, 0, ModelConfig(),
                TrainConfig(steps=steps, eval_every=eval_every, lr=1e-9))
    bare_loop_seconds(Cell(task, length, model, 0, ModelConfig(), TrainConfig(steps=5)))  # warm-up
    train_cell(Cell(task, length, model, 0, ModelConfig(), TrainConfig(steps=5, eval_every=5)))
    bare, harness = [], []
    for _ in range(repeats):
        bare.append(bare_loop_seconds(cell))
        harness.append(train_cell(cell)["seconds"])
    ratio = min(harness) / min(bare)
    click.echo(f"{task} L={length} {model}, {steps} steps, eval every {eval_every} on "
               f"{cell.train.eval_size} sequences: bare {min(bare):.2f}s, harness {min(harness):.2f}s, "
               f"ratio {ratio:.3f} (overhead {100 * (ratio - 1):+.1f}%)")


if __name__ == "__main__":
    main()
