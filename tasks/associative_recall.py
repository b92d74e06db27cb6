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

from longdep_tasks import Option, Peer, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import clear_row, filled, randint, sample_key, token_arrays


@njit(cache=True)
def _shuffle_prefix(items, count, key, counter):
    """Partial Fisher-Yates: items[:count] becomes a uniform random ordered choice from items."""
    for j in range(count):
        k = j + randint(key, counter + j, len(items) - j)
        items[j], items[k] = items[k], items[j]


def _associative_recall_kernel(stream, start, n, length, n_pairs, n_keys, n_values, distinct):
    return filled(token_arrays(n, 3 * n_pairs + length - 1), _fill_associative_recall, stream, start, length,
                  n_pairs, n_keys, n_values, distinct)


@njit(parallel=True, cache=True)
def _fill_associative_recall(x, y, mask, stream, start, length, n_pairs, n_keys, n_values, distinct):
    blank = n_keys + n_values
    queries_at = 2 * n_pairs + length - 1
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, blank, 0)
        key = sample_key(stream, start + i)
        keys = np.arange(n_keys)
        _shuffle_prefix(keys, n_pairs, key, 0)
        order = np.arange(n_pairs)
        _shuffle_prefix(order, n_pairs, key, n_keys)
        if distinct:  # Zoology's draw: values without replacement
            values = np.arange(n_values)
            _shuffle_prefix(values, n_pairs, key, n_keys + n_pairs)
        else:
            values = np.empty(n_pairs, dtype=np.int64)
            for j in range(n_pairs):
                values[j] = randint(key, n_keys + n_pairs + j, n_values)
        for j in range(n_pairs):
            x[i, 2 * j] = keys[j]
            x[i, 2 * j + 1] = n_keys + values[j]
        for q in range(n_pairs):
            x[i, queries_at + q] = keys[order[q]]
            y[i, queries_at + q] = values[order[q]]
            mask[i, queries_at + q] = True


def _associative_recall_oracle(x: np.ndarray, length: int, n_pairs: int, n_keys: int) -> np.ndarray:
    """Look each query up in the sample's own pairs."""
    y = np.zeros(x.shape, dtype=np.int64)
    queries_at = 2 * n_pairs + length - 1
    for row, sample in enumerate(x):
        table = {int(k): int(v) - n_keys for k, v in zip(sample[0:2 * n_pairs:2], sample[1:2 * n_pairs:2])}
        y[row, queries_at:] = [table.get(int(q), 0) for q in sample[queries_at:]]
    return y


def make_associative_recall(n_pairs: int = 8, n_keys: int = 16, n_values: int = 16, values: str = "replace") -> Task:
    """MQAR with `n_pairs` pairs, keys from `n_keys` tokens and values from `n_values` others, drawn with
    replacement or (`values="distinct"`) without."""
    if not 0 < n_pairs <= n_keys:
        raise ValueError(f"n_pairs must be in 1..n_keys ({n_keys}), not {n_pairs}")
    if values not in VALUES or (values == "distinct" and n_pairs > n_values):
        raise ValueError(f"values must be one of {VALUES}, and distinct values need n_pairs <= n_values")
    return Task(
        name="associative-recall",
        version=2,  # 2: new parameters joined the data key
        description=f"recall the values of {n_pairs} keys queried after a gap of L (Arora et al. 2023, MQAR)",
        kind="classify",
        inputs="tokens",
        n_inputs=n_keys + n_values + 1,
        n_outputs=n_values,
        input_names={n_keys + n_values: "blank"},
        seq_len=lambda length: 3 * n_pairs + length - 1,
        min_span=lambda length: length,
        kernel=_associative_recall_kernel,
        kernel_args=(n_pairs, n_keys, n_values, values == "distinct"),
        oracle=lambda x, length: _associative_recall_oracle(x, length, n_pairs, n_keys),
        chance_loss=lambda length: math.log(n_values),
        chance_accuracy=1.0 / n_values,
        params={"n_pairs": n_pairs, "n_keys": n_keys, "n_values": n_values, "values": values},
        source="Arora et al. 2023 (Zoology, MQAR)",
        length_meaning="gap from the last pair to the first query",
        options=OPTIONS, make=make_associative_recall, peers=PEERS,
    )


VALUES = ("replace", "distinct")
OPTIONS = {
    "n_pairs": Option(8, low=1, high=4096, help="key-value pairs, each queried once"),
    "n_keys": Option(16, low=1, high=100_000, help="key tokens"),
    "n_values": Option(16, low=2, high=100_000, help="value tokens"),
    "values": Option("replace", VALUES, help="values drawn with replacement, or distinct (Zoology)"),
}
PEERS = (
    Peer("HazyResearch/zoology", "zoology/data/multiquery_ar.py",
         "associative-recall:n_keys=4095,n_values=4096,values=distinct",
         "not reproduced: Zoology scatters the queries over the steps after the pairs by a power law (each "
         "at an even offset, total length fixed) and fills every other step with random tokens of the "
         "whole vocabulary, which may repeat a key; here the queries follow a blank gap of L, in a random "
         "order, so that L is the dependency length. Zoology's query order is also correlated with the pair "
         "order (Kendall's tau about +0.18, measured for issue #23); here it is uniformly random. The variant matches its vocabulary of 8192 (keys "
         "1..4095, values 4096..8191 there), its distinct keys and values, and its scoring at the queries"),
)


ASSOCIATIVE_RECALL = register(make_associative_recall())
