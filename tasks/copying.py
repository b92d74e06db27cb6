"""copy: copy memory (Arjovsky, Shah & Bengio 2016).

`length` L is the blank gap. Input, length L + 2n: n data symbols drawn uniformly with replacement,
L - 1 blanks, a delimiter, n blanks. Target: blank for the first L + n steps, then the n data symbols in
order; each symbol is recalled L + n steps after it was seen. Loss: cross-entropy over all steps (as
published; memoryless baseline n ln(n_symbols) / (L + 2n)). Accuracy: over the n recalled positions
only, since counting blanks lets an all-blank predictor score ~99% at L=1000. Every data symbol sits at
least L + n steps before the last recall, so short memory is chance.

Options, for the published code people compare against: `delimiter=repeat` marks the last n + 1 input
steps with the delimiter (TCN's copy_memory), `delimiter=recall` marks only the n recall steps, the step
before them blank (S4's copying.py); `loss=recall` averages the loss over the n recall steps only (S4).
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, Peer, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import clear_row, filled, randint, sample_key, token_arrays

DELIMITERS = ("once", "repeat", "recall")
LOSSES = ("all", "recall")
RELABELLED = ("the same layout relabelled: data symbols 1..8, blank 0 and delimiter 9 there, 0..7, "
              "blank 8 and delimiter 9 here")


def _copy_kernel(stream, start, n, length, n_copy, n_symbols, delimiter_from, delimiter_to):
    return filled(token_arrays(n, length + 2 * n_copy), _fill_copy, stream, start, length, n_copy, n_symbols,
                  delimiter_from, delimiter_to)


@njit(parallel=True, cache=True)
def _fill_copy(x, y, mask, stream, start, length, n_copy, n_symbols, delimiter_from, delimiter_to):
    blank, delimiter = n_symbols, n_symbols + 1
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, blank, blank)
        key = sample_key(stream, start + i)
        for j in range(n_copy):
            symbol = randint(key, j, n_symbols)
            x[i, j] = symbol
            y[i, length + n_copy + j] = symbol
            mask[i, length + n_copy + j] = True
        for t in range(length + n_copy + delimiter_from, length + n_copy + delimiter_to):
            x[i, t] = delimiter


def _copy_oracle(x: np.ndarray, length: int, n_copy: int, n_symbols: int) -> np.ndarray:
    """Recall the first n_copy symbols on the last n_copy steps; blank everywhere else."""
    y = np.full(x.shape, n_symbols, dtype=np.int64)
    y[:, length + n_copy:] = x[:, :n_copy]
    return y


def make_copy(n_copy: int = 10, n_symbols: int = 8, delimiter: str = "once", loss: str = "all") -> Task:
    """The copy task with `n_copy` symbols to recall from an alphabet of `n_symbols`."""
    if delimiter not in DELIMITERS or loss not in LOSSES:
        raise ValueError(f"delimiter must be one of {DELIMITERS} and loss one of {LOSSES}")
    # the delimiter's steps, relative to the first recall step L + n
    span = {"once": (-1, 0), "repeat": (-1, n_copy), "recall": (0, n_copy)}[delimiter]
    return Task(
        name="copy",
        version=2,  # 2: new parameters joined the data key
        description=f"recall {n_copy} symbols after a gap of L blanks (Arjovsky et al. 2016)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_symbols + 2,  # data symbols, blank, delimiter
        n_outputs=n_symbols + 1,  # data symbols, blank
        input_names={n_symbols: "blank", n_symbols + 1: "delimiter"},
        target_names={n_symbols: "blank"},
        seq_len=lambda length: length + 2 * n_copy,
        min_span=lambda length: length + n_copy,
        kernel=_copy_kernel,
        kernel_args=(n_copy, n_symbols, *span),
        oracle=lambda x, length: _copy_oracle(x, length, n_copy, n_symbols),
        chance_loss=(lambda length: n_copy * math.log(n_symbols) / (length + 2 * n_copy)) if loss == "all"
        else (lambda length: math.log(n_symbols)),
        chance_accuracy=1.0 / n_symbols,
        loss_on="all" if loss == "all" else "mask",
        params={"n_copy": n_copy, "n_symbols": n_symbols, "delimiter": delimiter, "loss": loss},
        source="Arjovsky, Shah & Bengio 2016",
        length_meaning="blank gap",
        options=OPTIONS, make=make_copy, peers=PEERS,
    )


OPTIONS = {
    "n_copy": Option(10, low=1, high=1000, help="symbols to recall"),
    "n_symbols": Option(8, low=2, high=100_000, help="data symbols in the alphabet"),
    "delimiter": Option("once", DELIMITERS, help="one delimiter (Arjovsky), n + 1 (TCN) or on the recall steps (S4)"),
    "loss": Option("all", LOSSES, help="cross-entropy over all steps (as published) or the recall steps only (S4)"),
}
PEERS = (
    Peer("amarshah/complex_RNN", "memory_problem.py", "copy",
         RELABELLED + "; that code's accuracy counts all L + 20 steps, here the 10 recalled ones"),
    Peer("locuslab/TCN", "TCN/copy_memory/utils.py", "copy:delimiter=repeat",
         RELABELLED + "; that code's accuracy (copymem_test.py) counts all T + 20 steps, here the 10 recalled ones"),
    Peer("state-spaces/s4", "src/dataloaders/datasets/copying.py", "copy:delimiter=recall,loss=recall",
         "relabelled (blank 0, data 1..A-2, marker A-1 there; A = 10 gives these 8 symbols); S4's model "
         "emits only the M recall steps, here every step is emitted and only those are scored"),
)

COPY = register(make_copy())
