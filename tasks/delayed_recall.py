"""delayed-recall: remember one symbol across L distractors.

It follows the idea of Hochreiter & Schmidhuber 1997's task 2c (keep x or y across a long gap of random
distractors) but is not that task: 2c has two cues, begin and end symbols and a gap of random length;
here there are K cues, a query symbol and a fixed gap, so that L alone sets the dependency. `length` L
is the number of distractors. Vocabulary: K cue symbols, M distractor symbols, one query symbol. Input, length L + 2: a cue, L
distractors drawn uniformly, the query. Target: the cue, scored at the query step only (L + 1 steps
after the cue). Loss: cross-entropy there; chance accuracy 1/K, chance loss ln K. The memory needed
(log2 K bits) does not grow with L, so this isolates the length of the dependency.
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import clear_row, filled, randint, sample_key, token_arrays


def _delayed_recall_kernel(stream, start, n, length, n_cues, n_distractors):
    return filled(token_arrays(n, length + 2), _fill_delayed_recall, stream, start, length, n_cues, n_distractors)


@njit(parallel=True, cache=True)
def _fill_delayed_recall(x, y, mask, stream, start, length, n_cues, n_distractors):
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, 0, 0)
        key = sample_key(stream, start + i)
        cue = randint(key, 0, n_cues)
        x[i, 0] = cue
        for t in range(1, length + 1):
            x[i, t] = n_cues + randint(key, t, n_distractors)
        x[i, length + 1] = n_cues + n_distractors  # the query symbol
        y[i, length + 1] = cue
        mask[i, length + 1] = True


def _delayed_recall_oracle(x: np.ndarray, length: int) -> np.ndarray:
    """The first symbol, at the last step."""
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, -1] = x[:, 0]
    return y


def make_delayed_recall(n_cues: int = 8, n_distractors: int = 8) -> Task:
    """Delayed recall of one of `n_cues` symbols across distractors from `n_distractors`."""
    return Task(
        name="delayed-recall",
        version=1,
        description="recall the first symbol after L distractors (after the idea of H&S 1997 task 2c)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_cues + n_distractors + 1,
        n_outputs=n_cues,
        input_names={n_cues + n_distractors: "query"},
        seq_len=lambda length: length + 2,
        min_span=lambda length: length + 1,
        kernel=_delayed_recall_kernel,
        kernel_args=(n_cues, n_distractors),
        oracle=_delayed_recall_oracle,
        chance_loss=lambda length: math.log(n_cues),
        chance_accuracy=1.0 / n_cues,
        params={"n_cues": n_cues, "n_distractors": n_distractors},
        source="after Hochreiter & Schmidhuber 1997, task 2c (not that task: see the module docstring)",
        length_meaning="distractors between cue and query",
        options={"n_cues": Option(8, low=2, high=100_000, help="cue symbols to remember one of"),
                 "n_distractors": Option(8, low=1, high=100_000, help="distractor symbols")},
        make=make_delayed_recall,
    )


DELAYED_RECALL = register(make_delayed_recall())
