"""associative-recall: multi-query associative recall, MQAR (Arora et al. 2023, "Zoology").

Keys and values come from disjoint halves of the vocabulary: `n_keys` key tokens, `n_values` value
tokens, and a blank. Input, length 3P + L - 1 for P = `n_pairs`: P key-value pairs (distinct keys,
values uniform with replacement), L - 1 blanks, then the P keys again in a random order as queries.
Target at each query: its key's value, scored there only. L is the gap from the last pair to the first
query, so every answer is at least L steps from where it was stored. Zoology scatters the queries
among blanks; here they follow the gap so that L is the dependency length. Loss: cross-entropy at the
queries; chance accuracy 1/n_values, chance loss ln(n_values).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from tasks import Task, register
from tasks._rng import randint, sample_key, token_batch


@njit(cache=True)
def _shuffle_prefix(items, count, key, counter):
    """Partial Fisher-Yates: items[:count] becomes a uniform random ordered choice from items."""
    for j in range(count):
        k = j + randint(key, counter + j, len(items) - j)
        items[j], items[k] = items[k], items[j]


@njit(parallel=True, cache=True)
def _associative_recall_kernel(stream, start, n, length, n_pairs, n_keys, n_values):
    blank = n_keys + n_values
    queries_at = 2 * n_pairs + length - 1
    steps = queries_at + n_pairs
    x, y, mask = token_batch(n, steps, blank)
    for i in prange(n):
        key = sample_key(stream, start + i)
        keys = np.arange(n_keys)
        _shuffle_prefix(keys, n_pairs, key, 0)
        order = np.arange(n_pairs)
        _shuffle_prefix(order, n_pairs, key, n_keys)
        values = np.empty(n_pairs, dtype=np.int64)
        for j in range(n_pairs):
            values[j] = randint(key, n_keys + n_pairs + j, n_values)
            x[i, 2 * j] = keys[j]
            x[i, 2 * j + 1] = n_keys + values[j]
        for q in range(n_pairs):
            x[i, queries_at + q] = keys[order[q]]
            y[i, queries_at + q] = values[order[q]]
            mask[i, queries_at + q] = True
    return x, y, mask


def _associative_recall_oracle(x: np.ndarray, length: int, n_pairs: int, n_keys: int) -> np.ndarray:
    """Look each query up in the sample's own pairs."""
    y = np.zeros(x.shape, dtype=np.int64)
    queries_at = 2 * n_pairs + length - 1
    for row, sample in enumerate(x):
        table = {int(k): int(v) - n_keys for k, v in zip(sample[0:2 * n_pairs:2], sample[1:2 * n_pairs:2])}
        y[row, queries_at:] = [table.get(int(q), 0) for q in sample[queries_at:]]
    return y


def make_associative_recall(n_pairs: int = 8, n_keys: int = 16, n_values: int = 16) -> Task:
    """MQAR with `n_pairs` pairs, keys from `n_keys` tokens and values from `n_values` others."""
    if not 0 < n_pairs <= n_keys:
        raise ValueError(f"n_pairs must be in 1..n_keys ({n_keys}), not {n_pairs}")
    return Task(
        name="associative-recall",
        version=1,
        description=f"recall the values of {n_pairs} keys queried after a gap of L (Arora et al. 2023, MQAR)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_keys + n_values + 1,
        n_outputs=n_values,
        seq_len=lambda length: 3 * n_pairs + length - 1,
        min_span=lambda length: length,
        kernel=_associative_recall_kernel,
        kernel_args=(n_pairs, n_keys, n_values),
        oracle=lambda x, length: _associative_recall_oracle(x, length, n_pairs, n_keys),
        chance_loss=lambda length: math.log(n_values),
        chance_accuracy=1.0 / n_values,
        params={"n_pairs": n_pairs, "n_keys": n_keys, "n_values": n_values},
        source="Arora et al. 2023 (Zoology, MQAR)",
    )


ASSOCIATIVE_RECALL = register(make_associative_recall())
