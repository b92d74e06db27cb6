"""How much does the harness add to a bare PyTorch training loop?

Times `train_cell` (fresh numba data every step, held-out evaluation, divergence checks, learning
curve) against a bare loop over the same model, batch, optimizer and clipping with data already in
memory, in one process, alternating the two so machine noise hits both. Prints the ratio.

    python benchmarks/loop_overhead.py --task adding --model gru --length 200 --steps 300
"""

from __future__ import annotations

import time

import click
import torch

import tasks
from bench import models
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import mean_loss, train_cell


def bare_loop_seconds(cell: Cell) -> float:
    """Seconds for cell.train.steps steps of forward, loss, backward, clip and Adam on one fixed batch."""
    task, budget = tasks.get(cell.task), cell.train
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model = models.build(cell.model, task.n_inputs, task.n_outputs, cell.model_config.hidden,
                         cell.model_config.layers, tokens=task.inputs == "tokens")
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    x, y, mask = (torch.from_numpy(a) for a in task.generate(budget.batch_size, cell.length, 0, "train"))
    start = time.perf_counter()
    for _ in range(budget.steps):
        loss = mean_loss(task, model(x), y, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), budget.clip)
        optimizer.step()
    return time.perf_counter() - start


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
