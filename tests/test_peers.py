"""Every published generator a task declares as a peer, ported in a few lines (source named, no peer
code vendored), and checked against the task string the task says reproduces it: the same layout, the
same scored positions, the same distributions (a statistical test) and the same memoryless loss. Where a
peer is declared "not reproduced", the test checks what the variant does match and that the stated
difference is real, so the declaration cannot go stale.

Ports draw from numpy's own generator with a fixed seed; our data comes from its counter-based
kernels: two independent samples of what should be one distribution.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import tasks

N = 4000
P_MIN = 1e-3  # a distribution test fails below this p-value (the data are deterministic: no flakes)


def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --- ports ------------------------------------------------------------------------------------------
# Each returns (x, y, mask) in this project's conventions: x (n, steps[, features]), y (n, steps) and the
# scored positions, with the peer's own token ids.

def tcn_adding(n, length):
    """locuslab/TCN TCN/adding_problem/utils.py: two distinct positions anywhere, values U[0, 1)."""
    r = rng()
    values, markers = r.random((n, length)), np.zeros((n, length))
    for i in range(n):
        markers[i, r.choice(length, size=2, replace=False)] = 1
    return _adding_layout(values, markers)


def complex_rnn_adding(n, length):
    """amarshah/complex_RNN adding_problem.py: one marker in each half (time_steps/2, integer division)."""
    r = rng()
    values, markers = r.random((n, length)), np.zeros((n, length))
    first, second = r.integers(length // 2, size=n), r.integers(length // 2, size=n) + length // 2
    markers[np.arange(n), first] = markers[np.arange(n), second] = 1
    return _adding_layout(values, markers)


def s4_adding(n, length):
    """state-spaces/s4 src/dataloaders/datasets/adding.py: idx0 in [0, L//2), idx1 in [L//2, L)."""
    r = rng()
    mid = length // 2
    values, markers = r.random((n, length)), np.zeros((n, length))
    markers[np.arange(n), r.integers(0, mid, n)] = 1
    markers[np.arange(n), mid + r.integers(0, length - mid, n)] = 1
    return _adding_layout(values, markers)


def _adding_layout(values, markers):
    x = np.stack([values, markers], axis=-1)
    y, mask = np.zeros(values.shape), np.zeros(values.shape, dtype=bool)
    y[:, -1], mask[:, -1] = (values * markers).sum(1), True
    return x, y, mask


def complex_rnn_copy(n, length):
    """amarshah/complex_RNN memory_problem.py: 10 symbols 1..8, T-1 zeros, marker 9, 10 zeros."""
    seq = rng().integers(1, 9, size=(n, 10))
    x = np.concatenate([seq, np.zeros((n, length - 1)), np.full((n, 1), 9), np.zeros((n, 10))], 1)
    return _copy_targets(x, seq, length)


def tcn_copy(n, length):
    """locuslab/TCN TCN/copy_memory/utils.py: 10 symbols 1..8, T-1 zeros, 11 markers 9."""
    seq = rng().integers(1, 9, size=(n, 10))
    x = np.concatenate([seq, np.zeros((n, length - 1)), np.full((n, 11), 9)], 1)
    return _copy_targets(x, seq, length)


def s4_copy(n, length, alphabet=10, m=10):
    """state-spaces/s4 copying.py torch_copying_data (variable=False): M tokens 1..A-2, L zeros, M
    markers A-1; the target is the M tokens, the model's last M outputs."""
    seq = rng().integers(1, alphabet - 1, size=(n, m))
    x = np.concatenate([seq, np.zeros((n, length)), np.full((n, m), alphabet - 1)], 1)
    return _copy_targets(x, seq, length)


def _copy_targets(x, seq, length):
    y, mask = np.zeros(x.shape), np.zeros(x.shape, dtype=bool)
    y[:, -seq.shape[1]:], mask[:, -seq.shape[1]:] = seq, True
    return x.astype(int), y.astype(int), mask


def s4_selective_copy(n, noise, alphabet=16, m=16):
    """state-spaces/s4 copying.py torch_copying_data (variable=True): M tokens 1..A-2 at sorted random
    positions among the first L+M steps (zeros elsewhere), then M markers A-1."""
    r = rng()
    tokens = r.integers(1, alphabet - 1, size=(n, m))
    x = np.zeros((n, noise + 2 * m), dtype=int)
    for i in range(n):
        x[i, np.sort(r.permutation(noise + m)[:m])] = tokens[i]
    x[:, noise + m:] = alphabet - 1
    return _copy_targets(x, tokens, noise)


def s4_lag(n, lag, alphabet=10):
    """state-spaces/s4 copying.py torch_copying_lag_data(L=2M, M): y = x delayed by M, padded with 0
    before the lag; every step scored there."""
    x = rng().integers(1, alphabet - 1, size=(n, 2 * lag))
    y = np.concatenate([np.zeros((n, lag), dtype=int), x[:, :lag]], 1)
    return x, y, np.ones(x.shape, dtype=bool)


def pascanu_temporal_order(n, length):
    """pascanur/trainingRNNs tempOrder.py: A/B (0/1) at p0 in [L/10, 2L/10) and p1 in [L/2, L/2 + L/10),
    distractors 2..5, class v0 + 2 v1 at the end."""
    r = rng()
    tenth = int(length * .1)
    p0, v0 = r.integers(tenth, size=n) + tenth, r.integers(2, size=n)
    p1, v1 = r.integers(tenth, size=n) + int(length * .5), r.integers(2, size=n)
    x = r.integers(4, size=(n, length)) + 2
    x[np.arange(n), p0], x[np.arange(n), p1] = v0, v1
    y, mask = np.zeros((n, length), dtype=int), np.zeros((n, length), dtype=bool)
    y[:, -1], mask[:, -1] = v0 + 2 * v1, True
    return x, y, mask


def zoology_mqar(n, seq_len=64, vocab=8192, pairs=8, power_a=0.01):
    """HazyResearch/zoology zoology/data/multiquery_ar.py: distinct keys 1..V/2-1 and values V/2..V-1,
    queries at even offsets of the rest drawn by a power law, random filler everywhere else."""
    r = rng()
    keys = np.stack([r.choice(np.arange(1, vocab // 2), pairs, replace=False) for _ in range(n)])
    values = np.stack([r.choice(np.arange(vocab // 2, vocab), pairs, replace=False) for _ in range(n)])
    context = 2 * pairs
    space = (seq_len - context) // 2
    p = power_a * np.arange(1, space + 1) ** (power_a - 1)
    gaps = np.stack([r.choice(space, pairs, replace=False, p=p / p.sum()) for _ in range(n)])
    x = np.zeros((n, seq_len), dtype=int)
    x[:, 0:context:2], x[:, 1:context:2] = keys, values
    np.put_along_axis(x, context + 2 * gaps, keys, axis=1)
    y, mask = np.zeros(x.shape, dtype=int), np.zeros(x.shape, dtype=bool)
    np.put_along_axis(y, context + 2 * gaps, values, axis=1)
    np.put_along_axis(mask, context + 2 * gaps, True, axis=1)
    filler = x == 0
    x[filler] = r.integers(vocab, size=filler.sum())
    return x, y, mask


# --- shared checks ----------------------------------------------------------------------------------

def same_distribution(ours, theirs, what):
    """Two samples of a discrete or continuous quantity come from one distribution."""
    ours, theirs = np.ravel(ours), np.ravel(theirs)
    if np.issubdtype(ours.dtype, np.floating) and len(np.unique(ours)) > 50:
        p = stats.ks_2samp(ours, theirs).pvalue
    else:
        values = np.union1d(ours, theirs)
        table = np.array([[np.sum(ours == v) for v in values], [np.sum(theirs == v) for v in values]])
        p = 1.0 if len(values) == 1 else stats.chi2_contingency(table)[1]
    assert p > P_MIN, f"{what}: p = {p:.2g}"


def memoryless_loss(task, y, mask):
    """The best input-blind loss measured on a sample (per-position mean for regress, frequencies for
    classify, over the positions the task's loss covers) and its standard error over sequences."""
    where = np.ones_like(mask) if task.loss_on == "all" else mask
    if task.kind == "regress":
        mean = (y * mask).sum(0) / np.maximum(mask.sum(0), 1)
        losses = (y - mean) ** 2
    else:
        losses = np.zeros(y.shape)
        for position in range(y.shape[1]):
            counts = np.bincount(y[:, position], minlength=task.n_outputs) + 0.5
            losses[:, position] = -np.log(counts[y[:, position]] / counts.sum())
    per_sequence = (losses * where).sum(1) / where.sum(1)
    return per_sequence.mean(), per_sequence.std() / np.sqrt(len(per_sequence))


def ours(variant, length, n=N):
    return tasks.get(variant).generate(n, length, 0, "train")


def check_memoryless(variant, length, theirs_y, theirs_mask, our_y, our_mask):
    """Both samples' memoryless loss equals the task's declared chance loss, within sampling error."""
    task = tasks.get(variant)
    declared = task.chance_loss(length)
    for y, mask, who in ((our_y, our_mask, "ours"), (theirs_y, theirs_mask, "peer")):
        loss, se = memoryless_loss(task, y, mask)
        assert abs(loss - declared) < 4 * se + 0.01 * declared, (who, loss, declared)


# --- one test per declared peer --------------------------------------------------------------------

@pytest.mark.parametrize("port, variant", [(tcn_adding, "adding:markers=anywhere"), (complex_rnn_adding, "adding"),
                                           (s4_adding, "adding")])
def test_adding_peers(port, variant):
    length = 30
    x, y, mask = ours(variant, length)
    px, py, pmask = port(N, length)
    assert x.shape == px.shape and np.array_equal(mask, pmask)  # layout and the one scored step
    assert (x[..., 1].sum(1) == 2).all() and (px[..., 1].sum(1) == 2).all()
    same_distribution(np.nonzero(x[..., 1])[1], np.nonzero(px[..., 1])[1], "marker positions")
    same_distribution(np.diff(np.nonzero(x[..., 1])[1].reshape(-1, 2)), np.diff(np.nonzero(px[..., 1])[1].reshape(-1, 2)),
                      "marker distance")
    same_distribution(x[..., 0], px[..., 0], "values")
    same_distribution(y[:, -1], py[:, -1], "targets")
    check_memoryless(variant, length, py, pmask, y, mask)


def relabel_copy(x, n_symbols=8):
    """Peer ids (blank 0, data 1..n, delimiter n+1) -> ours (data 0..n-1, blank n, delimiter n+1)."""
    return np.where(x == 0, n_symbols, np.where(x <= n_symbols, x - 1, x))


# where each peer's loss averages: complex_RNN and TCN take cross-entropy over every step, S4 over the
# M outputs its model emits
@pytest.mark.parametrize("port, variant, peer_loss_on", [
    (complex_rnn_copy, "copy", "all"), (tcn_copy, "copy:delimiter=repeat", "all"),
    (s4_copy, "copy:delimiter=recall,loss=recall", "mask")])
def test_copy_peers(port, variant, peer_loss_on):
    length = 25
    assert tasks.get(variant).loss_on == peer_loss_on
    x, y, mask = ours(variant, length)
    px, py, pmask = port(N, length)
    px = relabel_copy(px)
    py = np.where(pmask, py - 1, 8)  # peer targets: the symbols, blank elsewhere
    assert x.shape == px.shape and np.array_equal(mask, pmask)
    assert np.array_equal(x[:, 10:], px[:, 10:])  # blanks and delimiters: the same fixed layout
    same_distribution(x[:, :10], px[:, :10], "data symbols")
    assert np.array_equal(y[mask].reshape(N, -1), x[:, :10]) and np.array_equal(py[pmask].reshape(N, -1), px[:, :10])
    check_memoryless(variant, length, py, pmask, y, mask)


def test_copy_peer_that_counts_blanks_in_its_accuracy_is_declared():
    peer = next(p for p in tasks.get("copy").peers if p.repo == "amarshah/complex_RNN")
    assert "accuracy counts all" in peer.differences
    _, y, mask = ours("copy", 1000, n=8)
    assert mask.sum(1).tolist() == [10] * 8  # here only the recalled steps are scored


def test_selective_copy_peer():
    noise, m = 40, 16
    x, y, mask = ours("selective-copy:n_symbols=14", noise + m)  # our length is S4's L + M
    px, py, pmask = s4_selective_copy(N, noise)
    px = np.where(px == 0, 14, np.where(px <= 14, px - 1, px))  # noise 0 -> 14, data 1..14 -> 0..13
    assert x.shape == px.shape and np.array_equal(mask, pmask)
    assert np.array_equal(x[:, noise + m:], px[:, noise + m:])  # the markers
    data, peer_data = np.nonzero(x[:, :noise + m] < 14), np.nonzero(px[:, :noise + m] < 14)
    assert len(data[0]) == len(peer_data[0]) == N * m
    same_distribution(data[1], peer_data[1], "token positions")
    same_distribution(x[:, :noise + m][x[:, :noise + m] < 14], px[:, :noise + m][px[:, :noise + m] < 14], "tokens")
    assert np.array_equal(y[mask].reshape(N, m), x[:, :noise + m][x[:, :noise + m] < 14].reshape(N, m))
    check_memoryless("selective-copy:n_symbols=14", noise + m, np.where(pmask, py - 1, 0), pmask, y, mask)


def test_lag_copy_peer_matches_on_the_lagged_steps_and_its_extra_scoring_is_declared():
    lag = 20
    x, y, mask = ours("lag-copy", lag)
    px, py, pmask = s4_lag(N, lag)
    assert x.shape == px.shape and np.array_equal(mask[:, lag:], pmask[:, lag:])
    assert np.array_equal(y[:, lag:], x[:, :lag]) and np.array_equal(py[:, lag:], px[:, :lag])
    same_distribution(x, px - 1, "symbols")  # S4's 1..A-2 are our 0..7
    assert pmask[:, :lag].all() and not mask[:, :lag].any()  # the stated difference: S4 scores the pad steps
    assert "scores all of its steps" in tasks.get("lag-copy").peers[0].differences
    check_memoryless("lag-copy", lag, py[:, lag:] - 1, pmask[:, lag:], y[:, lag:], mask[:, lag:])


def test_temporal_order_peer():
    length = 50
    x, y, mask = ours("temporal-order:form=pascanu", length)
    px, py, pmask = pascanu_temporal_order(N, length)
    assert x.shape == px.shape and np.array_equal(mask, pmask)
    assert ((x < 2).sum(1) == 2).all() and ((px < 2).sum(1) == 2).all()  # exactly two relevant symbols
    positions, peer_positions = np.nonzero(x < 2)[1].reshape(-1, 2), np.nonzero(px < 2)[1].reshape(-1, 2)
    for k, what in ((0, "first position"), (1, "second position")):
        same_distribution(positions[:, k], peer_positions[:, k], what)
    assert positions[:, 0].max() < 2 * (length // 10) and peer_positions[:, 0].max() < 2 * (length // 10)  # half-open
    same_distribution(x[x >= 2], px[px >= 2], "distractors")
    same_distribution(y[:, -1], py[:, -1], "classes")
    assert np.array_equal(y[:, -1], x[np.arange(N), positions[:, 0]] + 2 * x[np.arange(N), positions[:, 1]])
    check_memoryless("temporal-order:form=pascanu", length, py, pmask, y, mask)


def test_zoology_mqar_peer_matches_vocabulary_and_draws_and_the_stated_layout_difference_is_real():
    variant = "associative-recall:n_keys=4095,n_values=4096,values=distinct"
    n, pairs = 1000, 8
    x, y, mask = ours(variant, 40, n=n)
    px, py, pmask = zoology_mqar(n)
    keys, values = x[:, 0:16:2], x[:, 1:16:2] - 4095  # ours: keys 0..4094, values 4095.. (offset n_keys)
    peer_keys, peer_values = px[:, 0:16:2], px[:, 1:16:2] - 4096
    assert all(len(set(row)) == pairs for row in keys) and all(len(set(row)) == pairs for row in values)
    assert all(len(set(row)) == pairs for row in peer_keys) and all(len(set(row)) == pairs for row in peer_values)
    assert keys.max() < 4095 and peer_keys.min() >= 1 and peer_keys.max() < 4096 and values.max() < 4096
    same_distribution(keys // 512, (peer_keys - 1) // 512, "keys (in 8 bins)")
    same_distribution(values // 512, peer_values // 512, "values (in 8 bins)")
    assert mask.sum(1).tolist() == pmask.sum(1).tolist() == [pairs] * n  # every key queried once
    # the declared difference: Zoology's query steps vary from sample to sample, ours follow the gap
    assert len({tuple(np.nonzero(row)[0]) for row in pmask}) > 1 and len({tuple(np.nonzero(row)[0]) for row in mask}) == 1
    assert "not reproduced" in tasks.get("associative-recall").peers[0].differences
    assert tasks.get(variant).chance_loss(40) == pytest.approx(np.log(4096))


PORTED = {("locuslab/TCN", "TCN/adding_problem/utils.py"), ("amarshah/complex_RNN", "adding_problem.py"),
          ("state-spaces/s4", "src/dataloaders/datasets/adding.py"), ("amarshah/complex_RNN", "memory_problem.py"),
          ("locuslab/TCN", "TCN/copy_memory/utils.py"), ("state-spaces/s4", "src/dataloaders/datasets/copying.py"),
          ("state-spaces/s4", "src/dataloaders/datasets/copying.py (lag=True)"),
          ("HazyResearch/zoology", "zoology/data/multiquery_ar.py"), ("pascanur/trainingRNNs", "tempOrder.py")}


def test_every_declared_peer_has_a_port_here():
    declared = {(peer.repo, peer.path) for name in tasks.names() for peer in tasks.get(name).peers}
    assert declared == PORTED
    assert sum(len(tasks.get(name).peers) for name in tasks.names()) == 10
