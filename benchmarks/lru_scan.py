"""How much does the LRU's parallel scan save over a step-by-step loop?

Times forward + backward of the same diagonal complex recurrence, h_t = lambda * h_{t-1} + b_t, computed
by `bench.models.zoo.linear_scan` (ceil(log2 T) vectorised rounds) and by a Python loop over T steps, on the
same inputs in the same run, alternating, and prints the ratio of the medians per length. It also checks
that both give the same states.

    python benchmarks/lru_scan.py --lengths 100,1000 --batch 64 --width 128 [--device cuda]
"""

from __future__ import annotations

import statistics
import time

import click
import torch

from bench.models.zoo import linear_scan


def sequential_scan(decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The same recurrence, one time step per Python iteration (the baseline)."""
    state, states = torch.zeros_like(inputs[:, 0]), []
    for step in range(inputs.shape[1]):
        state = decay * state + inputs[:, step]
        states.append(state)
    return torch.stack(states, dim=1)


def timed(scan, decay: torch.Tensor, inputs: torch.Tensor) -> float:
    """Seconds for one forward and backward pass."""
    inputs = inputs.detach().requires_grad_(True)
    if inputs.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    scan(decay, inputs).abs().sum().backward()
    if inputs.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


@click.command()
@click.option("--lengths", default="100,1000", show_default=True)
@click.option("--batch", default=64, show_default=True)
@click.option("--width", default=128, show_default=True)
@click.option("--repeats", default=5, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def main(lengths: str, batch: int, width: int, repeats: int, device: str) -> None:
    torch.manual_seed(0)
    decay = torch.exp(torch.complex(-torch.rand(width) * 0.05, torch.rand(width))).to(device)
    for length in map(int, lengths.split(",")):
        inputs = torch.randn(batch, length, width, dtype=torch.complex64, device=device)
        error = (linear_scan(decay, inputs) - sequential_scan(decay, inputs)).abs().max().item()
        parallel, loop = [], []
        for _ in range(repeats):  # alternate, so drifting machine load hits both alike
            parallel.append(timed(linear_scan, decay, inputs))
            loop.append(timed(sequential_scan, decay, inputs))
        fast, slow = statistics.median(parallel), statistics.median(loop)
        click.echo(f"T={length:>6}: scan {fast * 1e3:8.1f} ms, loop {slow * 1e3:8.1f} ms, "
                   f"loop/scan {slow / fast:5.1f}x (max |difference| {error:.1e})")


if __name__ == "__main__":
    main()
