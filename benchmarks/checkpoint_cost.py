"""What mid-cell checkpoints cost: for each model at L=200 and L=1000 (hidden 128, batch 64), the seconds
one checkpoint takes (capturing the state, torch.save, an fsynced atomic write) against the seconds of
one training step, both measured in this run, and the share of a cell's training time that checkpoints
take at the default interval (one every 60 s of wall time): checkpoint seconds / 60. Also the
checkpoint's size on disk. Target: under 2% of training time, a few model states of disk.

    python benchmarks/checkpoint_cost.py [--repeats 5]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import click


def measure(model: str, length: int, repeats: int) -> dict[str, float]:
    import torch

    import longdep_tasks as tasks
    from bench import train
    from bench.checkpoint import DEFAULT_EVERY, Checkpoints, checkpoint_path
    from bench.sweep import Cell, ModelConfig, TrainConfig

    cell = Cell("adding", length, model, 0, ModelConfig(hidden=128), TrainConfig(steps=repeats, batch_size=64))
    task = tasks.get(cell.task)
    net = train.seeded_model(cell, task)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loop, outcome = train.LoopState(train.StreamWindow(task.rule.window)), train.Outcome(grad_norms=[1.0] * 4000)
    batches = train.training_batches(task, cell, torch.device("cpu"))
    step_seconds, save_seconds = [], []
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = Checkpoints(checkpoint_path(folder, cell.key), cell.key, DEFAULT_EVERY)
        for _ in range(repeats):  # alternate a training step and a checkpoint, so both see the same machine
            started = time.perf_counter()
            train.backward(net, optimizer, task, next(batches), 1.0)
            optimizer.step()
            step_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            checkpoints.save(train._captured(net, optimizer, loop, outcome))
            save_seconds.append(time.perf_counter() - started)
        size = checkpoints.path.stat().st_size
    save = statistics.median(save_seconds)
    return {"step": statistics.median(step_seconds), "save": save, "share": save / DEFAULT_EVERY, "bytes": size}


@click.command()
@click.option("--repeats", default=5, show_default=True, help="Steps and checkpoints timed per row (medians).")
def main(repeats: int) -> None:
    """Print one row per model and length; exit 1 when a row misses 2%."""
    print(f"{'model':6} {'L':>5} {'step (s)':>9} {'checkpoint (s)':>15} {'ratio':>7} {'at 60 s':>8} {'size':>9}")
    missed = False
    for model in ("rnn", "lstm", "gru"):
        for length in (200, 1000):
            row = measure(model, length, repeats)
            missed |= row["share"] >= 0.02
            print(f"{model:6} {length:>5} {row['step']:>9.4f} {row['save']:>15.4f} {row['save'] / row['step']:>6.2f}x "
                  f"{row['share']:>8.3%} {row['bytes'] / 1024:>7.0f} KB")
    raise SystemExit(1 if missed else 0)


if __name__ == "__main__":
    main()
