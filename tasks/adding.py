"""adding: the adding problem (Hochreiter & Schmidhuber 1997, in the form of Arjovsky et al. 2016).

Input, length L, two channels: values uniform in [0, 1) and a marker channel with exactly two ones.
`markers="halves"` (default) puts one marker uniformly in the first half and one in the second;
`"anywhere"` puts them at two distinct positions anywhere (Bai, Kolter & Koltun 2018). Target at the
last step: the sum of the two marked values; loss MSE. The memoryless baseline predicts 1: MSE 1/6.
A prediction is correct when |error| < 0.04 (the 1997 criterion); chance accuracy 1 - 0.96**2.
Solved when the held-out MSE falls below 0.01 (the 1997 paper's error threshold).
With halves, the first marked value must be carried at least ceil(L / 2) steps.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from tasks import Task, register
from tasks._rng import randint, sample_key, uniform

MARKERS = ("halves", "anywhere")


@njit(parallel=True, cache=True)
def _adding_kernel(stream, start, n, length, anywhere):
    x = np.zeros((n, length, 2), dtype=np.float32)
    y = np.zeros((n, length), dtype=np.float32)
    mask = np.zeros((n, length), dtype=np.bool_)
    half = length // 2
    for i in prange(n):
        key = sample_key(stream, start + i)
        for t in range(length):
            x[i, t, 0] = uniform(key, t)
        if anywhere:
            first = randint(key, length, length)
            second = randint(key, length + 1, length - 1)
            if second >= first:
                second += 1
        else:
            first = randint(key, length, half)
            second = half + randint(key, length + 1, length - half)
        x[i, first, 1] = 1.0
        x[i, second, 1] = 1.0
        y[i, length - 1] = x[i, first, 0] + x[i, second, 0]
        mask[i, length - 1] = True
    return x, y, mask


def _adding_oracle(x: np.ndarray, length: int) -> np.ndarray:
    """The sum of the marked values, at the last step."""
    y = np.zeros(x.shape[:2], dtype=np.float32)
    y[:, -1] = (x[:, :, 0] * x[:, :, 1]).sum(axis=1)
    return y


def make_adding(markers: str = "halves") -> Task:
    """The adding problem with markers in `halves` or `anywhere`."""
    if markers not in MARKERS:
        raise ValueError(f"markers must be one of {MARKERS}, not {markers!r}")
    anywhere = markers == "anywhere"
    return Task(
        name="adding",
        version=1,
        description="sum the two marked values of a length-L sequence (Hochreiter & Schmidhuber 1997)",
        kind="regress",
        inputs="features",
        n_inputs=2,
        n_outputs=1,
        seq_len=lambda length: length,
        min_span=(lambda length: 1) if anywhere else (lambda length: length - length // 2),
        kernel=_adding_kernel,
        kernel_args=(anywhere,),
        oracle=_adding_oracle,
        chance_loss=lambda length: 1.0 / 6.0,
        chance_accuracy=1.0 - 0.96**2,
        tolerance=0.04,
        solve_loss=0.01,  # the 1997 paper's error threshold; accuracy shows its stricter all-correct one
        min_length=2,
        params={"markers": markers},
        source="Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016",
    )


ADDING = register(make_adding())
