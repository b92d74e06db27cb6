"""The peers' published generators, ported to numpy in a few lines each (source named, no peer code
vendored): tests/test_peers.py holds every task to the peers it declares, and `bench speed` times the
vectorized ones as the numpy reference of a task's kernel (REFERENCES).

Each port returns (x, y, mask) in this project's conventions: x (n, steps[, features]), y (n, steps) and
the scored positions, with the peer's own token ids. Ports draw from numpy's own generator with a fixed
seed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def tcn_adding(n, length):
    """locuslab/TCN TCN/adding_problem/utils.py: two distinct positions anywhere, values U[0, 1)."""
    r = rng()
    values, markers = r.random((n, length)), np.zeros((n, length))
    for i in range(n):
        markers[i, r.choice(length, size=2, replace=False)] = 1
    return _adding_layout(values, markers)


def complex_rnn_adding(n, length):
    """amarshah/complex_RNN adding_problem.py: one marker in each half (time_steps/2, integer division)."""
    r = rng()
    values, markers = r.random((n, length)), np.zeros((n, length))
    first, second = r.integers(length // 2, size=n), r.integers(length // 2, size=n) + length // 2
    markers[np.arange(n), first] = markers[np.arange(n), second] = 1
    return _adding_layout(values, markers)


def s4_adding(n, length):
    """state-spaces/s4 src/dataloaders/datasets/adding.py: idx0 in [0, L//2), idx1 in [L//2, L)."""
    r = rng()
    mid = length // 2
    values, markers = r.random((n, length)), np.zeros((n, length))
    markers[np.arange(n), r.integers(0, mid, n)] = 1
    markers[np.arange(n), mid + r.integers(0, length - mid, n)] = 1
    return _adding_layout(values, markers)


def _adding_layout(values, markers):
    x = np.stack([values, markers], axis=-1)
    y, mask = np.zeros(values.shape), np.zeros(values.shape, dtype=bool)
    y[:, -1], mask[:, -1] = (values * markers).sum(1), True
    return x, y, mask


def complex_rnn_copy(n, length):
    """amarshah/complex_RNN memory_problem.py: 10 symbols 1..8, T-1 zeros, marker 9, 10 zeros."""
    seq = rng().integers(1, 9, size=(n, 10))
    x = np.concatenate([seq, np.zeros((n, length - 1)), np.full((n, 1), 9), np.zeros((n, 10))], 1)
    return _copy_targets(x, seq, length)


def tcn_copy(n, length):
    """locuslab/TCN TCN/copy_memory/utils.py: 10 symbols 1..8, T-1 zeros, 11 markers 9."""
    seq = rng().integers(1, 9, size=(n, 10))
    x = np.concatenate([seq, np.zeros((n, length - 1)), np.full((n, 11), 9)], 1)
    return _copy_targets(x, seq, length)


def s4_copy(n, length, alphabet=10, m=10):
    """state-spaces/s4 copying.py torch_copying_data (variable=False): M tokens 1..A-2, L zeros, M
    markers A-1; the target is the M tokens, the model's last M outputs."""
    seq = rng().integers(1, alphabet - 1, size=(n, m))
    x = np.concatenate([seq, np.zeros((n, length)), np.full((n, m), alphabet - 1)], 1)
    return _copy_targets(x, seq, length)


def _copy_targets(x, seq, length):
    y, mask = np.zeros(x.shape), np.zeros(x.shape, dtype=bool)
    y[:, -seq.shape[1]:], mask[:, -seq.shape[1]:] = seq, True
    return x.astype(int), y.astype(int), mask


def s4_selective_copy(n, noise, alphabet=16, m=16):
    """state-spaces/s4 copying.py torch_copying_data (variable=True): M tokens 1..A-2 at sorted random
    positions among the first L+M steps (zeros elsewhere), then M markers A-1."""
    r = rng()
    tokens = r.integers(1, alphabet - 1, size=(n, m))
    x = np.zeros((n, noise + 2 * m), dtype=int)
    for i in range(n):
        x[i, np.sort(r.permutation(noise + m)[:m])] = tokens[i]
    x[:, noise + m:] = alphabet - 1
    return _copy_targets(x, tokens, noise)


def s4_lag(n, lag, alphabet=10):
    """state-spaces/s4 copying.py torch_copying_lag_data(L=2M, M): y = x delayed by M, padded with 0
    before the lag; every step scored there."""
    x = rng().integers(1, alphabet - 1, size=(n, 2 * lag))
    y = np.concatenate([np.zeros((n, lag), dtype=int), x[:, :lag]], 1)
    return x, y, np.ones(x.shape, dtype=bool)


def pascanu_temporal_order(n, length):
    """pascanur/trainingRNNs tempOrder.py: A/B (0/1) at p0 in [L/10, 2L/10) and p1 in [L/2, L/2 + L/10),
    distractors 2..5, class v0 + 2 v1 at the end."""
    r = rng()
    tenth = int(length * .1)
    p0, v0 = r.integers(tenth, size=n) + tenth, r.integers(2, size=n)
    p1, v1 = r.integers(tenth, size=n) + int(length * .5), r.integers(2, size=n)
    x = r.integers(4, size=(n, length)) + 2
    x[np.arange(n), p0], x[np.arange(n), p1] = v0, v1
    y, mask = np.zeros((n, length), dtype=int), np.zeros((n, length), dtype=bool)
    y[:, -1], mask[:, -1] = v0 + 2 * v1, True
    return x, y, mask


def zoology_mqar(n, seq_len=64, vocab=8192, pairs=8, power_a=0.01):
    """HazyResearch/zoology zoology/data/multiquery_ar.py: distinct keys 1..V/2-1 and values V/2..V-1,
    queries at even offsets of the rest drawn by a power law, random filler everywhere else."""
    r = rng()
    keys = np.stack([r.choice(np.arange(1, vocab // 2), pairs, replace=False) for _ in range(n)])
    values = np.stack([r.choice(np.arange(vocab // 2, vocab), pairs, replace=False) for _ in range(n)])
    context = 2 * pairs
    space = (seq_len - context) // 2
    p = power_a * np.arange(1, space + 1) ** (power_a - 1)
    gaps = np.stack([r.choice(space, pairs, replace=False, p=p / p.sum()) for _ in range(n)])
    x = np.zeros((n, seq_len), dtype=int)
    x[:, 0:context:2], x[:, 1:context:2] = keys, values
    np.put_along_axis(x, context + 2 * gaps, keys, axis=1)
    y, mask = np.zeros(x.shape, dtype=int), np.zeros(x.shape, dtype=bool)
    np.put_along_axis(y, context + 2 * gaps, values, axis=1)
    np.put_along_axis(mask, context + 2 * gaps, True, axis=1)
    filler = x == 0
    x[filler] = r.integers(vocab, size=filler.sum())
    return x, y, mask


# task name -> a vectorized port (no loop over samples) generating that task at (n, length)
REFERENCES: dict[str, Callable[[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
    "adding": s4_adding,
    "copy": tcn_copy,
    "lag-copy": s4_lag,
    "temporal-order": pascanu_temporal_order,
}
