"""Every published generator a task declares as a peer, ported in a few lines (source named, no peer
code vendored), and checked against the task string the task says reproduces it: the same layout, the
same scored positions, the same distributions (a statistical test) and the same memoryless loss. Where a
peer is declared "not reproduced", the test checks what the variant does match and that the stated
difference is real, so the declaration cannot go stale.

The ports live in tasks/_reference.py. They draw from numpy's own generator with a fixed seed; our data
comes from its counter-based kernels: two independent samples of what should be one distribution.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import longdep_tasks as tasks
from longdep_tasks._reference import (complex_rnn_adding, complex_rnn_copy, pascanu_temporal_order, s4_adding,
                              s4_copy, s4_lag, s4_selective_copy, tcn_adding, tcn_copy, zoology_mqar)

N = 4000
P_MIN = 1e-3  # a distribution test fails below this p-value (the data are deterministic: no flakes)


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
