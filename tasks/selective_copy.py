"""selective-copy: copy the data tokens scattered among noise, in order (Gu & Dao 2023, "Mamba";
Jing et al. 2019).

Input, length L + n: n data tokens (uniform over `n_symbols`) at n distinct positions drawn uniformly
among the first L steps, the noise token everywhere else there, then n marker tokens. Target: the data
tokens in order, one per marker step (scored there only). Unlike copy, where the data sits is random,
so a model must select what to keep by content, not by a fixed clock. The oldest token is on average
about L steps back from its recall; the guaranteed minimum span is n. Loss: cross-entropy on the scored
steps; chance accuracy 1/n_symbols, chance loss ln(n_symbols). Mamba's setting: L = 4096, 16 tokens to
copy, vocabulary 16; in S4's generator, which Mamba's experiment uses, that vocabulary counts the noise and
marker tokens, leaving 14 data symbols (`selective-copy:n_symbols=14`). The default here is 16 data
symbols plus noise and marker: 18 input tokens, not Mamba's vocabulary.
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, Peer, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import clear_row, filled, randint, sample_key, token_arrays, uniform


def _selective_copy_kernel(stream, start, n, length, n_copy, n_symbols):
    return filled(token_arrays(n, length + n_copy), _fill_selective_copy, stream, start, length, n_copy, n_symbols)


FLOYD_UP_TO = 64  # n_copy up to which positions are drawn by Floyd's algorithm; above, by selection sampling


@njit(parallel=True, cache=True)
def _fill_selective_copy(x, y, mask, stream, start, length, n_copy, n_symbols):
    noise, marker = n_symbols, n_symbols + 1
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, noise, 0)
        key = sample_key(stream, start + i)
        positions = np.empty(n_copy, dtype=np.int64)
        if n_copy <= FLOYD_UP_TO:
            _floyd_positions(positions, key, length)
        else:
            _selection_positions(positions, key, length)
        for j in range(n_copy):
            symbol = randint(key, length + j, n_symbols)
            x[i, positions[j]] = symbol
            y[i, length + j] = symbol
            x[i, length + j] = marker
            mask[i, length + j] = True


@njit(cache=True)
def _floyd_positions(positions, key, length):
    """Floyd's algorithm: a uniform random choice of len(positions) distinct steps of L, kept sorted.
    n draws, where selection sampling takes one per step (16 against L with Mamba's 16 tokens)."""
    n = len(positions)
    for count, j in enumerate(range(length - n, length)):
        pick = randint(key, count, j + 1)
        at = count  # where `pick` goes in the sorted positions[:count]
        while at > 0 and positions[at - 1] > pick:
            at -= 1
        if at > 0 and positions[at - 1] == pick:  # taken: j is new (larger than all), so it goes last
            pick, at = j, count
        for k in range(count, at, -1):
            positions[k] = positions[k - 1]
        positions[at] = pick


@njit(cache=True)
def _selection_positions(positions, key, length):
    """Selection sampling (Knuth's Algorithm S): the same choice for many tokens, in order, one draw per step."""
    placed, n = 0, len(positions)
    for t in range(length):
        if uniform(key, t) * (length - t) < n - placed:
            positions[placed] = t
            placed += 1


def _selective_copy_oracle(x: np.ndarray, length: int, n_copy: int, n_symbols: int) -> np.ndarray:
    """The data tokens of the first L steps, in order, at the marker steps."""
    y = np.zeros(x.shape, dtype=np.int64)
    for row, sample in enumerate(x):
        data = sample[:length][sample[:length] < n_symbols]
        y[row, length:length + len(data)] = data[:n_copy]
    return y


def make_selective_copy(n_copy: int = 16, n_symbols: int = 16) -> Task:
    """Selective copy of `n_copy` tokens from an alphabet of `n_symbols`, scattered among noise."""
    return Task(
        name="selective-copy",
        version=2,  # 2: positions by Floyd's algorithm up to 64 tokens (16 draws instead of L)
        description=f"copy {n_copy} tokens scattered among noise in L steps, in order (Gu & Dao 2023)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_symbols + 2,  # data, noise, marker
        n_outputs=n_symbols,
        input_names={n_symbols: "noise", n_symbols + 1: "marker"},
        seq_len=lambda length: length + n_copy,
        min_span=lambda length: n_copy,
        kernel=_selective_copy_kernel,
        kernel_args=(n_copy, n_symbols),
        oracle=lambda x, length: _selective_copy_oracle(x, length, n_copy, n_symbols),
        chance_loss=lambda length: math.log(n_symbols),
        chance_accuracy=1.0 / n_symbols,
        min_length=n_copy,
        params={"n_copy": n_copy, "n_symbols": n_symbols},
        source="Gu & Dao 2023; Jing et al. 2019",
        length_meaning="steps the tokens are scattered over",
        options={"n_copy": Option(16, low=1, high=1000, help="tokens to copy"),
                 "n_symbols": Option(16, low=2, high=100_000, help="data tokens (noise and marker come on top)")},
        make=make_selective_copy,
        peers=(Peer("state-spaces/s4", "src/dataloaders/datasets/copying.py", "selective-copy:n_symbols=14",
                    "S4's vocabulary of A = 16 counts its noise (0) and marker (A-1) tokens, leaving 14 data "
                    "tokens (1..14 there, 0..13 here); its L counts noise steps only, so S4's L is this "
                    "length minus M; S4's model emits only the M recall steps"),),
    )


SELECTIVE_COPY = register(make_selective_copy())
