"""copy: copy memory (Arjovsky, Shah & Bengio 2016).

Input, length L + 2n: n data symbols drawn uniformly with replacement, L - 1 blanks, a delimiter,
n blanks. Target: blank for the first L + n steps, then the n data symbols in order. L is the gap
between the last data symbol and the delimiter; each symbol is recalled L + n steps after it was seen.
Loss: cross-entropy over all steps (as published). Accuracy: over the n recalled positions only, since
counting blanks lets an all-blank predictor score ~99% at L=1000.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from tasks import Task, register
from tasks._rng import randint, sample_key


@njit(parallel=True, cache=True)
def _copy_kernel(stream, start, n, length, n_copy, n_symbols):
    blank, delimiter = n_symbols, n_symbols + 1
    steps = length + 2 * n_copy
    x = np.full((n, steps), blank, dtype=np.int64)
    y = np.full((n, steps), blank, dtype=np.int64)
    mask = np.zeros((n, steps), dtype=np.bool_)
    for i in prange(n):
        key = sample_key(stream, start + i)
        for j in range(n_copy):
            symbol = randint(key, j, n_symbols)
            x[i, j] = symbol
            y[i, length + n_copy + j] = symbol
            mask[i, length + n_copy + j] = True
        x[i, length + n_copy - 1] = delimiter
    return x, y, mask


def _copy_oracle(x: np.ndarray, length: int, n_copy: int, n_symbols: int) -> np.ndarray:
    """Recall the first n_copy symbols after the delimiter; blank everywhere else."""
    y = np.full(x.shape, n_symbols, dtype=np.int64)
    delimiter_at = np.argmax(x == n_symbols + 1, axis=1)
    rows = np.arange(x.shape[0])[:, None]
    y[rows, delimiter_at[:, None] + 1 + np.arange(n_copy)] = x[:, :n_copy]
    return y


def make_copy(n_copy: int = 10, n_symbols: int = 8) -> Task:
    """The copy task with `n_copy` symbols to recall from an alphabet of `n_symbols`."""
    return Task(
        name="copy",
        version=1,
        description=f"recall {n_copy} symbols after a gap of L blanks (Arjovsky et al. 2016)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_symbols + 2,  # data symbols, blank, delimiter
        n_outputs=n_symbols + 1,  # data symbols, blank
        seq_len=lambda length: length + 2 * n_copy,
        min_span=lambda length: length + n_copy,
        kernel=_copy_kernel,
        kernel_args=(n_copy, n_symbols),
        oracle=lambda x, length: _copy_oracle(x, length, n_copy, n_symbols),
        chance_loss=lambda length: n_copy * math.log(n_symbols) / (length + 2 * n_copy),
        chance_accuracy=1.0 / n_symbols,
        loss_on="all",
        params={"n_copy": n_copy, "n_symbols": n_symbols},
        source="Arjovsky, Shah & Bengio 2016",
    )


COPY = register(make_copy())
