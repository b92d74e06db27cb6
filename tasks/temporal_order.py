"""temporal-order: classify the order of two relevant symbols hidden among distractors (Hochreiter &
Schmidhuber 1997, task 6a).

form=hs1997 (default). Vocabulary: distractors a, b, c, d; start B; end E; relevant X, Y (8 input
symbols). Input, length L + 2: B, then L distractors of which two are replaced by X or Y (each chosen
uniformly), the first at t1 in [L/10, 2L/10] and the second at t2 in [L/2, 6L/10] (closed windows, L/10
rounded down), then E. Target at the E step: the order class XX, XY, YX or YY. At L = 100 this is the
paper's t1 in [10, 20], t2 in [50, 60]; the paper draws each sequence's length from 100..110, here it is
fixed at L + 2 so that L sets the windows. `length` L is the number of steps between B and E, not the
span: the first symbol is at least L + 1 - 2L/10 steps before E, the second only about 0.4-0.5 L.
Remembering only the second symbol gives accuracy 1/2 and loss ln 2 (short memory); chance is 1/4, ln 4.
Stop rule: the paper's, the 2000 most recent training sequences classified correctly (its error
threshold applies to its sigmoid output units and has no counterpart for a softmax; it is left out).

form=pascanu: Pascanu, Mikolov & Bengio 2013's generator (trainingRNNs tempOrder.py): no start or end
symbol, the sequence is L steps long, A/B at p0 in [L/10, 2L/10) and p1 in [L/2, L/2 + L/10) (half-open,
L/10 rounded down), distractors c..f, class v0 + 2 v1 scored at the last step (symbols A=0, B=1, c..f
= 2..5 as there). Solved at under 1% error, their criterion.
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, Peer, SolveRule, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import clear_row, filled, randint, sample_key, token_arrays

START, END, X_SYMBOL = 4, 5, 6  # distractors are 0..3; Y is X_SYMBOL + 1
FORMS = ("hs1997", "pascanu")


@njit(cache=True)
def _windows(length):
    """(first window start, second window start, window width) for length L."""
    width = max(1, length // 10)
    return width, length // 2, width


def _temporal_order_kernel(stream, start, n, length):
    return filled(token_arrays(n, length + 2), _fill_temporal_order, stream, start, length)


@njit(parallel=True, cache=True)
def _fill_temporal_order(x, y, mask, stream, start, length):
    steps = length + 2
    first_at, second_at, width = _windows(length)
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, 0, 0)
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


def _pascanu_kernel(stream, start, n, length):
    return filled(token_arrays(n, length), _fill_pascanu, stream, start, length)


@njit(parallel=True, cache=True)
def _fill_pascanu(x, y, mask, stream, start, length):
    tenth, half = length // 10, length // 2
    for i in prange(x.shape[0]):
        clear_row(x, y, mask, i, 0, 0)
        key = sample_key(stream, start + i)
        for t in range(length):
            x[i, t] = 2 + randint(key, t, 4)
        p0 = tenth + randint(key, length, tenth)
        p1 = half + randint(key, length + 1, tenth)
        v0 = randint(key, length + 2, 2)
        v1 = randint(key, length + 3, 2)
        x[i, p0] = v0
        x[i, p1] = v1
        y[i, length - 1] = v0 + 2 * v1
        mask[i, length - 1] = True


def _min_span(length: int) -> int:
    """From the latest possible first symbol to the end step, where the class is asked."""
    first_at, _, width = _windows.py_func(length)  # the plain Python function: a span needs no compiler
    return length + 1 - (first_at + width)


def _relevant(x: np.ndarray, is_relevant: np.ndarray, value_of: int) -> tuple[np.ndarray, np.ndarray]:
    """The first and second relevant symbol of each sample, as 0/1."""
    at = np.sort(np.where(is_relevant, np.arange(x.shape[1]), x.shape[1]), axis=1)[:, :2]
    return tuple(np.take_along_axis(x, at[:, [k]], axis=1)[:, 0] - value_of for k in (0, 1))


def _temporal_order_oracle(x: np.ndarray, length: int) -> np.ndarray:
    """The order class of the two relevant symbols, at the last step."""
    first, second = _relevant(x, x >= X_SYMBOL, X_SYMBOL)
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, -1] = 2 * first + second
    return y


def _pascanu_oracle(x: np.ndarray, length: int) -> np.ndarray:
    first, second = _relevant(x, x < 2, 0)
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, -1] = first + 2 * second
    return y


def _second_only(x: np.ndarray, visible_from: int, is_relevant: np.ndarray, value_of: int,
                 classes: tuple[int, int]) -> np.ndarray:
    """Short memory: the second symbol seen (it lies after `visible_from`), the first a coin flip."""
    late = np.where(is_relevant[:, visible_from:], np.arange(visible_from, x.shape[1]), x.shape[1] - 1).min(axis=1)
    second = x[np.arange(len(x)), late] - value_of
    probabilities = np.zeros((*x.shape, 4))
    for first in (0, 1):
        probabilities[np.arange(len(x)), -1, classes[0] * first + classes[1] * second] = 0.5
    return probabilities


def _hs1997_short_memory(x: np.ndarray, length: int) -> np.ndarray:
    first_at, _, width = _windows(length)
    return _second_only(x, first_at + width + 1, x >= X_SYMBOL, X_SYMBOL, (2, 1))


def _pascanu_short_memory(x: np.ndarray, length: int) -> np.ndarray:
    return _second_only(x, 2 * (length // 10), x < 2, 0, (1, 2))


def make_temporal_order(form: str = "hs1997") -> Task:
    """Hochreiter & Schmidhuber's task 6a (`form="hs1997"`) or Pascanu et al.'s generator of it."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}")
    pascanu = form == "pascanu"
    return Task(
        name="temporal-order",
        version=2,  # 2: new parameters joined the data key
        description="classify the order of X/Y placed early among distractors (Hochreiter & Schmidhuber 1997, 6a)",
        kind="classify",
        inputs="tokens",
        n_inputs=6 if pascanu else 8,
        n_outputs=4,
        # class 2 * first + second (X 0, Y 1) here; v0 + 2 v1 (A 0, B 1) in Pascanu et al.'s generator
        input_names={0: "A", 1: "B"} if pascanu else {START: "B, start", END: "E, end", X_SYMBOL: "X", X_SYMBOL + 1: "Y"},
        target_names={0: "AA", 1: "BA", 2: "AB", 3: "BB"} if pascanu else {0: "XX", 1: "XY", 2: "YX", 3: "YY"},
        seq_len=(lambda length: length) if pascanu else (lambda length: length + 2),
        min_span=(lambda length: length - 2 * (length // 10)) if pascanu else _min_span,
        kernel=_pascanu_kernel if pascanu else _temporal_order_kernel,
        kernel_args=(),
        oracle=_pascanu_oracle if pascanu else _temporal_order_oracle,
        chance_loss=lambda length: math.log(4),
        chance_accuracy=0.25,
        short_memory_loss=lambda length: math.log(2),
        short_memory_accuracy=lambda length: 0.5,
        short_memory=_pascanu_short_memory if pascanu else _hs1997_short_memory,
        rule=SolveRule("accuracy", 0.99, source="Pascanu et al. 2013: under 1% error") if pascanu else
        SolveRule("all_correct", source="Hochreiter & Schmidhuber 1997, task 6a stop rule"),
        min_length=10,
        params={"form": form},
        source="Pascanu, Mikolov & Bengio 2013" if pascanu else "Hochreiter & Schmidhuber 1997",
        length_meaning="sequence length" if pascanu else "steps between start and end symbol",
        options={"form": Option("hs1997", FORMS, help="the 1997 task 6a, or Pascanu et al.'s generator")},
        make=make_temporal_order,
        peers=(Peer("pascanur/trainingRNNs", "tempOrder.py", "temporal-order:form=pascanu",
                    "the same generator; its symbols are one-hot vectors there and token ids here"),),
    )


TEMPORAL_ORDER = register(make_temporal_order())
