"""The CUDA path in one table, in under 5 minutes on one GPU.

    python benchmarks/gpu_check.py            # on a machine with a CUDA GPU

Prints: the device and whether cuDNN runs the recurrences; training steps per second for rnn, lstm and
gru at L=200 and L=1000 in float32 and under --amp bf16 (each against float32 as a ratio); cells per
hour with 1, 4 and 8 cells sharing the GPU (worker processes, as `bench run --cells-per-gpu K` runs
them) against one cell per GPU; and whether two identical runs gave identical numbers. Without a GPU it
says so in one line and exits 2.
"""

from __future__ import annotations

import sys
import tempfile
import time

import click


def steps_per_second(model: str, length: int, amp: str, steps: int) -> float:
    """Training steps per second of one adding cell (batch 64, hidden 128), after a warm-up."""
    import torch

    from bench.sweep import Cell, ModelConfig, TrainConfig
    from bench.train import train_cell

    def budget(n: int) -> TrainConfig:
        return TrainConfig(steps=n, eval_every=n, eval_size=64, lr=1e-9, diagnostics=False, amp=amp or "none")

    train_cell(Cell("adding", length, model, 0, ModelConfig(), budget(3), device="cuda"))  # cuDNN plans, allocator
    torch.cuda.synchronize()
    record = train_cell(Cell("adding", length, model, 0, ModelConfig(), budget(steps), device="cuda"))
    if record["status"] == "failed":
        raise RuntimeError(f"{model} L={length} amp={amp or 'none'} failed: {record['error']}")
    return steps / record["seconds"]


def cells_per_hour(per_gpu: int, cells: int) -> float:
    """Finished cells per hour for a sweep of `cells` L=200 cells with `per_gpu` sharing the GPU."""
    from bench.executors import LocalExecutor
    from bench.runner import run_sweep
    from bench.store import Store
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    sweep = Sweep(("adding",), (200,), ("lstm",), tuple(range(cells)), ModelConfig(),
                  TrainConfig(steps=150, eval_every=150, eval_size=256, stop="budget"), device="cuda")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        executor = LocalExecutor(per_gpu, ["cuda:0"]) if per_gpu > 1 else None
        run_sweep(sweep, Store(out), "gpu-check", executor, progress=False)
        return cells / (time.perf_counter() - started) * 3600


def identical_runs() -> bool:
    """Two trainings of the same cell on the GPU give the same numbers (deterministic cuDNN is asked for)."""
    from bench.sweep import Cell, ModelConfig, TrainConfig
    from bench.train import train_cell

    cell = Cell("adding", 200, "lstm", 0, ModelConfig(), TrainConfig(steps=100, eval_every=50, eval_size=256), device="cuda")
    first, second = train_cell(cell), train_cell(cell)
    return all(first[key] == second[key] for key in ("loss", "accuracy", "valid_loss", "steps"))


@click.command()
@click.option("--quick", is_flag=True, help="Fewer steps and cells (about a minute).")
def main(quick: bool) -> None:
    import torch

    if not torch.cuda.is_available():
        click.echo("gpu_check: no CUDA GPU is visible to PyTorch; run it on a GPU machine", err=True)
        sys.exit(2)
    rows = [("device", torch.cuda.get_device_name(0)),
            ("torch / CUDA / cuDNN", f"{torch.__version__} / {torch.version.cuda} / {torch.backends.cudnn.version()}"),
            ("cuDNN enabled", str(torch.backends.cudnn.enabled and torch.backends.cudnn.is_available()))]
    steps = {200: 30 if quick else 100, 1000: 10 if quick else 30}
    for length in (200, 1000):
        for model in ("rnn", "lstm", "gru", "mingru", "minlstm", "s6", "mlstm"):
            fp32 = steps_per_second(model, length, "", steps[length])
            bf16 = steps_per_second(model, length, "bf16", steps[length])
            rows.append((f"{model} L={length} steps/s", f"fp32 {fp32:.1f}, bf16 {bf16:.1f} ({bf16 / fp32:.2f}x)"))
    from bench.speed import scan_rows

    for row in scan_rows((200, 1000), 1 if quick else 3, device="cuda"):  # the scan against its step form, on GPU
        rows.append((row.figure, f"{row.value:.1f} steps/s against {row.baseline:.1f} ({row.ratio:.2f}x)"))
    cells = 8 if quick else 16
    one = cells_per_hour(1, cells)
    for per_gpu in (1, 4, 8):
        rate = one if per_gpu == 1 else cells_per_hour(per_gpu, cells)
        rows.append((f"cells/hour, {per_gpu} per GPU", f"{rate:.0f} ({rate / one:.2f}x one per GPU)"))
    rows.append(("two identical runs identical", str(identical_runs())))
    width = max(len(name) for name, _ in rows)
    click.echo("\n".join(f"| {name.ljust(width)} | {value} |" for name, value in rows))


if __name__ == "__main__":
    main()
