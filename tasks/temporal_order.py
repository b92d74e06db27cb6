"""temporal-order: classify the order of two relevant symbols hidden among distractors (Hochreiter &
Schmidhuber 1997, task 6a).

Vocabulary: distractors a, b, c, d; start B; end E; relevant X, Y (8 input symbols). Input, length L + 2:
B, then L distractors of which two are replaced by X or Y (each chosen uniformly), the first at t1 in
[L/10, 2L/10] and the second at t2 in [L/2, 6L/10], then E. Target at the E step: the order class XX,
XY, YX or YY. At L = 100 this is the paper's t1 in [10, 20], t2 in [50, 60]; the paper's sequence
length varies in [100, 110], here it is fixed at L + 2 so a batch has one length. Loss: cross-entropy
at the last step; chance accuracy 1/4, chance loss ln 4.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from tasks import Task, register
from tasks._rng import randint, sample_key, token_batch

START, END, X_SYMBOL = 4, 5, 6  # distractors are 0..3; Y is X_SYMBOL + 1


@njit(cache=True)
def _windows(length):
    """(first window start, second window start, window width) for dependency length L."""
    width = max(1, length // 10)
    return width, length // 2, width


@njit(parallel=True, cache=True)
def _temporal_order_kernel(stream, start, n, length):
    steps = length + 2
    first_at, second_at, width = _windows(length)
    x, y, mask = token_batch(n, steps, 0)
    for i in prange(n):
        key = sample_key(stream, start + i)
        x[i, 0] = START
        for t in range(1, length + 1):
            x[i, t] = randint(key, t, 4)
        x[i, length + 1] = END
        t1 = first_at + randint(key, steps, width + 1)
        t2 = second_at + randint(key, steps + 1, width + 1)
        s1 = randint(key, steps + 2, 2)
        s2 = randint(key, steps + 3, 2)
        x[i, t1] = X_SYMBOL + s1
        x[i, t2] = X_SYMBOL + s2
        y[i, length + 1] = 2 * s1 + s2
        mask[i, length + 1] = True
    return x, y, mask


def _min_span(length: int) -> int:
    """From the latest possible first symbol to the end step, where the class is asked."""
    first_at, _, width = _windows(length)
    return length + 1 - (first_at + width)


def _temporal_order_oracle(x: np.ndarray, length: int) -> np.ndarray:
    """The order class of the two relevant symbols, at the last step."""
    relevant = np.sort(np.where(x >= X_SYMBOL, np.arange(x.shape[1]), x.shape[1]), axis=1)[:, :2]
    first, second = (np.take_along_axis(x, relevant[:, [k]], axis=1)[:, 0] - X_SYMBOL for k in (0, 1))
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, -1] = 2 * first + second
    return y


def make_temporal_order() -> Task:
    """Hochreiter & Schmidhuber's task 6a with dependency length L."""
    return Task(
        name="temporal-order",
        version=1,
        description="classify the order of X/Y placed early among distractors (Hochreiter & Schmidhuber 1997, 6a)",
        kind="classify",
        inputs="tokens",
        n_inputs=8,
        n_outputs=4,
        seq_len=lambda length: length + 2,
        min_span=_min_span,
        kernel=_temporal_order_kernel,
        kernel_args=(),
        oracle=_temporal_order_oracle,
        chance_loss=lambda length: math.log(4),
        chance_accuracy=0.25,
        min_length=10,
        params={},
        source="Hochreiter & Schmidhuber 1997",
    )


TEMPORAL_ORDER = register(make_temporal_order())
