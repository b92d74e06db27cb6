"""lag-copy: at every step t >= L, output the symbol seen at step t - L (the "lag" copying task of the
S4 code base).

Input, length 2L: a stream of symbols drawn uniformly from `n_symbols`. Target at step t (L <= t < 2L):
the input at t - L; the first L steps are not scored. Every scored output lies exactly L steps after
its source, and the model must hold the last L symbols at once: the memory needed grows with L (unlike
delayed-recall, which isolates the span). Loss: cross-entropy on the scored steps; chance accuracy
1/n_symbols, chance loss ln(n_symbols).
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, Peer, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import filled, randint, sample_key, token_arrays


def _lag_copy_kernel(stream, start, n, length, n_symbols):
    return filled(token_arrays(n, 2 * length), _fill_lag_copy, stream, start, length, n_symbols)


@njit(parallel=True, cache=True)
def _fill_lag_copy(x, y, mask, stream, start, length, n_symbols):
    for i in prange(x.shape[0]):  # every element written once, no clearing first
        key = sample_key(stream, start + i)
        for t in range(2 * length):
            x[i, t] = randint(key, t, n_symbols)
        for t in range(length):
            y[i, t] = 0
            mask[i, t] = False
        for t in range(length, 2 * length):
            y[i, t] = x[i, t - length]
            mask[i, t] = True


def _lag_copy_oracle(x: np.ndarray, length: int) -> np.ndarray:
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, length:] = x[:, :-length]
    return y


def make_lag_copy(n_symbols: int = 8) -> Task:
    """Lag-L copying over an alphabet of `n_symbols`."""
    return Task(
        name="lag-copy",
        version=1,
        description="output the symbol from exactly L steps earlier, at every step (S4 lag copy)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_symbols,
        n_outputs=n_symbols,
        seq_len=lambda length: 2 * length,
        min_span=lambda length: length,
        kernel=_lag_copy_kernel,
        kernel_args=(n_symbols,),
        oracle=_lag_copy_oracle,
        chance_loss=lambda length: math.log(n_symbols),
        chance_accuracy=1.0 / n_symbols,
        params={"n_symbols": n_symbols},
        source="S4 code base (Gu et al. 2022), lag copying",
        length_meaning="lag",
        options={"n_symbols": Option(8, low=2, high=100_000, help="symbols in the stream")},
        make=make_lag_copy,
        peers=(Peer("state-spaces/s4", "src/dataloaders/datasets/copying.py (lag=True)", "lag-copy",
                    "S4 sets the sequence length and the lag M apart and scores all of its steps, the first "
                    "M against a pad token 0, with symbols 1..A-2; here the sequence is 2L long with lag L "
                    "and only the L lagged steps are scored: S4's setting with its length 2M, pad steps "
                    "unscored"),),
    )


LAG_COPY = register(make_lag_copy())
