import dataclasses
import hashlib
import math

import numpy as np
import pytest

import longdep_tasks as tasks
from bench.registry import UnknownNameError
from longdep_tasks._check import check_task
from longdep_tasks.adding import make_adding

# sha256 of each task's first batch (8 samples, L=12 or the task's minimum, seed 0, train). Changing the data without bumping
# the task's version must fail here; bump the version and update the hash together.
GOLDEN = {
    ("adding", 2): "443e893da0bac27e338545be226dfc0d",
    ("associative-recall", 2): "7627744557474916612aeba3807c6294",
    ("copy", 2): "382c413d9433a4e786b1d16d9e5672ca",
    ("delayed-recall", 1): "bc8fc272d8cd9abcb817a9d3e98346a6",
    ("lag-copy", 1): "71386a293dbc429ded9453cbf72b8f27",
    ("selective-copy", 2): "500b427054854edf3ada66e2869a285b",
    ("temporal-order", 2): "81831f1d52deb82bb9243783df42b416",
    # the declared peer variants and the 1997 adding form: their data is held to the same standard
    ("adding:form=hs1997", 2): "d1e505f6cab6ac85c16aedc0507eef0e",
    ("adding:markers=anywhere", 2): "a748226dd565edfb691708c3794af285",
    ("associative-recall:n_keys=4095,n_values=4096,values=distinct", 2): "7859338605d4a598c89fc20d5e36cf9a",
    ("copy:delimiter=recall,loss=recall", 2): "011d223d8deef803a9a1a260171bbe38",
    ("copy:delimiter=repeat", 2): "5c00b7f95e4e155862901ac0fe224868",
    ("selective-copy:n_symbols=14", 2): "b3f308181d80f8ce82cb554699cb3d14",
    # selective-copy's two position samplers: Floyd's (n_copy <= 64) and selection sampling above
    ("selective-copy:n_copy=4", 2): "985fb898ec3259632e5af35f887360cd",
    ("selective-copy:n_copy=65", 2): "0071aa5c6ec12aaf3f83ef9aef336ca8",
    ("temporal-order:form=pascanu", 2): "c001bcceede68e3a27210b4a6981160f",
}
VARIANTS = sorted({peer.variant for name in tasks.names() for peer in tasks.get(name).peers if ":" in peer.variant}
                  | {"adding:form=hs1997"})
SAMPLERS = ["selective-copy:n_copy=4", "selective-copy:n_copy=65"]  # held by their hashes only


@pytest.mark.parametrize("name", tasks.names() + VARIANTS)
def test_every_registered_task_passes_the_checker(name):
    assert check_task(tasks.get(name)) == []


@pytest.mark.parametrize("name", tasks.names() + VARIANTS + SAMPLERS)
def test_first_batch_matches_golden_hash_for_its_version(name):
    task = tasks.get(name)
    digest = hashlib.sha256()
    for array in task.generate(8, max(12, task.min_length), 0, "train"):
        digest.update(array.tobytes())
    value = digest.hexdigest()[:32]
    assert GOLDEN.get((name, task.version)) == value, f'new data: put ("{name}", {task.version}): "{value}" in GOLDEN'


def test_adding_anywhere_option_passes_the_checker():
    assert check_task(make_adding("anywhere")) == []


def test_copy_follows_arjovsky_layout_and_chance():
    task = tasks.get("copy")
    x, y, mask = task.generate(4, 30, 0, "train")
    assert x.shape == (4, 50) and task.seq_len(1000) == 1020
    assert (x[:, 10:39] == 8).all() and (x[:, 39] == 9).all() and (x[:, 40:] == 8).all()  # blanks, delimiter
    assert (y[:, :40] == 8).all() and np.array_equal(y[:, 40:], x[:, :10])
    assert mask.sum(axis=1).tolist() == [10] * 4 and mask[:, 40:].all()
    assert task.chance_loss(1000) == pytest.approx(0.02039, abs=1e-5)
    assert task.chance_accuracy == 1 / 8


def test_adding_has_two_markers_one_per_half_and_analytic_chance():
    task = tasks.get("adding")
    x, y, mask = task.generate(500, 50, 0, "train")
    markers = x[:, :, 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :25].sum(axis=1) == 1).all() and (markers[:, 25:].sum(axis=1) == 1).all()
    assert np.allclose(y[:, -1], (x[:, :, 0] * markers).sum(axis=1)) and mask[:, -1].all()
    assert task.chance_loss(50) == pytest.approx(1 / 6) and task.chance_accuracy == pytest.approx(0.1536)
    assert task.tolerance == 0.08  # the 1997 tolerance, 4% of the target's range, on the [0, 2) sum


def test_delayed_recall_asks_for_the_cue_after_l_distractors():
    task = tasks.get("delayed-recall")
    x, y, mask = task.generate(200, 20, 0, "train")
    assert x.shape == (200, 22) and (x[:, 0] < 8).all() and ((x[:, 1:21] >= 8) & (x[:, 1:21] < 16)).all()
    assert (x[:, 21] == 16).all() and np.array_equal(y[:, 21], x[:, 0])
    assert mask[:, 21].all() and mask.sum() == 200
    assert task.chance_loss(20) == pytest.approx(math.log(8))


def test_train_and_eval_streams_differ_and_batches_compose():
    task = tasks.get("copy")
    whole = task.generate(32, 15, 7, "train")
    halves = [task.generate(16, 15, 7, "train", start=s) for s in (0, 16)]
    assert all(np.array_equal(w, np.concatenate([a, b])) for w, a, b in zip(whole, *halves))
    assert not np.array_equal(whole[0], task.generate(32, 15, 7, "valid")[0])


def test_generate_rejects_bad_length_and_split():
    with pytest.raises(ValueError, match="at least 2"):
        tasks.get("adding").generate(1, 1, 0, "train")
    with pytest.raises(ValueError, match="split"):
        tasks.get("copy").generate(1, 5, 0, "eval")


def test_unknown_task_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'adding'"):
        tasks.get("addin")


def test_registering_a_duplicate_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        tasks.register(tasks.get("copy"))


# A checker that cannot fail is no checker: each broken variant below must be caught, by name.

def _unseeded_kernel(stream, start, n, length):
    x, y, mask = tasks.get("delayed-recall").kernel(stream, start, n, length, 8, 8)
    x[:, 1] = 8 + np.random.randint(0, 8, size=n)
    return x, y, mask


@pytest.mark.parametrize("change, problem", [
    ({"chance_loss": lambda length: 0.1767}, "memoryless loss"),
    ({"chance_accuracy": 0.25}, "memoryless accuracy"),
    ({"min_span": lambda length: 1, "oracle": lambda x, length: np.where(np.arange(x.shape[1]) == x.shape[1] - 1,
                                                                         x[:, -2:-1] % 8, 0)},
     "targets disagree"),
    ({"kernel": _unseeded_kernel, "kernel_args": ()}, "different data"),
    ({"n_outputs": 4}, "labels outside"),
    ({"seq_len": lambda length: length + 1}, "declared"),
])
def test_checker_names_what_a_broken_task_gets_wrong(change, problem):
    broken = dataclasses.replace(tasks.get("delayed-recall"), **change)
    problems = check_task(broken, lengths=(9,))
    assert any(problem in p for p in problems), problems


def _late_cue_kernel(stream, start, n, length):
    """delayed-recall whose cue sits right before the query: a one-step dependency."""
    x, y, mask = tasks.get("delayed-recall").kernel(stream, start, n, length, 8, 8)
    x[:, [0, length]] = x[:, [length, 0]]
    return x, y, mask


def test_checker_catches_a_dependency_shorter_than_declared():
    late = dataclasses.replace(tasks.get("delayed-recall"), kernel=_late_cue_kernel, kernel_args=(),
                               oracle=lambda x, length: np.where(np.arange(x.shape[1]) == length + 1, x[:, [length]], 0))
    problems = check_task(late, lengths=(12,))
    assert any("do not depend on inputs 13 steps back" in p for p in problems), problems


def test_selective_copy_scatters_tokens_among_noise_and_asks_for_them_in_order():
    task = tasks.get("selective-copy")
    x, y, mask = task.generate(50, 40, 0, "train")
    assert x.shape == (50, 56) and (x[:, 40:] == 17).all() and mask[:, 40:].all() and not mask[:, :40].any()
    data = x[:, :40] < 16
    assert (data.sum(axis=1) == 16).all() and ((x[:, :40] == 16) | data).all()  # 16 tokens, noise elsewhere
    assert all(np.array_equal(y[i, 40:], x[i, :40][data[i]]) for i in range(50))
    assert len({tuple(np.nonzero(row)[0]) for row in data}) == 50  # positions differ between samples
    assert task.chance_accuracy == 1 / 16


@pytest.mark.parametrize("n_copy", [3, 16, 65])  # Floyd's algorithm up to 64 tokens, selection sampling above
def test_selective_copy_places_its_tokens_as_a_uniform_random_subset_of_the_steps(n_copy):
    from scipy import stats

    length, n = 80, 4000
    x, _, _ = tasks.get(f"selective-copy:n_copy={n_copy}").generate(n, length, 0, "train")
    data = x[:, :length] < 16
    assert (data.sum(axis=1) == n_copy).all()
    # every step equally likely to hold a token, and the first token's step as for a uniform subset:
    # P(first >= t) = C(L - t, n) / C(L, n)
    assert stats.chisquare(data.sum(axis=0)).pvalue > 1e-4
    first = data.argmax(axis=1)
    at_least = np.array([math.comb(length - t, n_copy) / math.comb(length, n_copy) for t in range(length + 1)])
    expected = (at_least[:-1] - at_least[1:]) * n
    seen = np.bincount(first, minlength=length)
    keep = expected > 5  # chi-square wants at least 5 expected per cell: the rest pooled
    observed = np.append(seen[keep], seen[~keep].sum())
    wanted = np.append(expected[keep], expected[~keep].sum())
    assert stats.chisquare(observed, wanted * observed.sum() / wanted.sum()).pvalue > 1e-4


def test_associative_recall_queries_every_key_after_the_gap():
    task = tasks.get("associative-recall")
    x, y, mask = task.generate(50, 10, 0, "train")
    assert x.shape == (50, 3 * 8 + 9) and (x[:, 16:25] == 32).all()  # pairs, L - 1 blanks, 8 queries
    keys, values = x[:, 0:16:2], x[:, 1:16:2]
    assert (keys < 16).all() and ((values >= 16) & (values < 32)).all()  # disjoint halves
    assert all(len(set(row)) == 8 for row in keys)  # distinct keys
    assert all(sorted(x[i, 25:]) == sorted(keys[i]) for i in range(50))  # every key queried once
    for i in range(50):
        lookup = dict(zip(keys[i], values[i] - 16))
        assert [lookup[q] for q in x[i, 25:]] == y[i, 25:].tolist()
    assert mask.sum(axis=1).tolist() == [8] * 50 and task.min_span(10) == 10


def test_temporal_order_places_x_y_in_the_1997_windows_and_classifies_the_order():
    task = tasks.get("temporal-order")
    x, y, mask = task.generate(400, 100, 0, "train")
    assert x.shape == (400, 102) and (x[:, 0] == 4).all() and (x[:, 101] == 5).all()
    where = [np.nonzero(row >= 6)[0] for row in x]
    assert all(len(w) == 2 and 10 <= w[0] <= 20 and 50 <= w[1] <= 60 for w in where)
    classes = [2 * (x[i, w[0]] - 6) + (x[i, w[1]] - 6) for i, w in enumerate(where)]
    assert np.array_equal(y[:, 101], classes) and mask[:, 101].all() and mask.sum() == 400
    assert set(classes) == {0, 1, 2, 3} and task.chance_accuracy == 0.25


def test_lag_copy_outputs_the_symbol_from_exactly_l_steps_back():
    task = tasks.get("lag-copy")
    x, y, mask = task.generate(10, 25, 0, "train")
    assert x.shape == (10, 50) and np.array_equal(y[:, 25:], x[:, :25])
    assert mask[:, 25:].all() and not mask[:, :25].any() and task.min_span(25) == 25


# --- task strings: NAME:key=value[,key=value] ---------------------------------------------------------

def test_a_task_string_builds_the_variant_and_names_it_canonically():
    anywhere = tasks.get("adding:markers=anywhere")
    assert anywhere.params["markers"] == "anywhere" and anywhere.variant == "adding:markers=anywhere"
    assert anywhere.identity() != tasks.get("adding").identity()
    assert tasks.get("adding:markers=halves").variant == "adding"  # the defaults are left out
    assert tasks.get("copy:n_copy=5,n_symbols=4").seq_len(30) == 40
    assert tasks.split_task_list("adding:markers=anywhere,form=arjovsky,copy") == [
        "adding:markers=anywhere,form=arjovsky", "copy"]


@pytest.mark.parametrize("text, says", [
    ("adding:", "nothing after ':'"), ("adding:markers", "is not key=value"),
    ("adding:markers=nowhere", "is not one of halves, anywhere"), ("adding:foo=1", "no parameter 'foo'"),
    ("adding:markers=anywhere,markers=halves", "given twice"), ("copy:n_copy=0", "whole number in 1..1000"),
    ("copy:n_copy=x", "whole number"), ("adding:form=hs1997,markers=anywhere", "form=arjovsky only"),
    ("delayed-recal:n_cues=3", "did you mean"),
])
def test_a_malformed_task_string_says_what_is_wrong(text, says):
    with pytest.raises((tasks.VariantError, UnknownNameError), match=says):
        tasks.get(text)


def test_the_checker_catches_a_false_short_memory_baseline():
    honest = tasks.get("adding")
    claims_chance = dataclasses.replace(honest, short_memory_loss=lambda length: 1 / 6)
    assert any("short-memory loss" in p for p in check_task(claims_chance, lengths=(40,)))
    peeking = dataclasses.replace(honest, short_memory_loss=lambda length: 0.0,
                                  short_memory_accuracy=lambda length: 1.0, short_memory=honest.oracle)
    assert any("short-memory" in p for p in check_task(peeking, lengths=(40,)))  # scrambled far inputs defeat it


def test_adding_1997_form_follows_experiment_4():
    task = tasks.get("adding:form=hs1997")
    x, y, mask = task.generate(4000, 100, 0, "train")
    ends = mask.argmax(axis=1)
    assert mask.sum(axis=1).tolist() == [1] * 4000 and ends.min() == 99 and ends.max() == 109  # T..1.1T
    assert np.all(x[np.arange(4000), ends, 1] == -1)  # the final pair's marker
    marked = x[:, :, 1] == 1
    assert (marked.sum(axis=1) == 2).all() and (marked[:, :10].sum(axis=1) >= 1).all()  # X1 among the first ten
    assert marked[:, 50:].sum() == 0  # X2 among the first T/2 - 1 unmarked pairs
    values = x[:, :, 0][x[:, :, 1] == 0]
    assert values.min() >= -1 and values.max() <= 1 and abs(values.mean()) < 0.01
    targets = y[np.arange(4000), ends]
    assert np.allclose(targets, 0.5 + (x[:, :, 0] * marked).sum(axis=1) / 4)
    assert task.tolerance == 0.04 and task.rule.kind == "all_correct" and task.rule.window == 2000
    assert task.chance_loss(100) == pytest.approx((0.9 / 3 + (1 - 0.9 / 49) / 3) / 16)


def test_temporal_order_short_memory_is_one_half_and_adding_one_twelfth():
    assert tasks.get("temporal-order").short_memory_baseline(100) == (pytest.approx(math.log(2)), 0.5)
    assert tasks.get("adding").short_memory_baseline(200) == (pytest.approx(1 / 12), 0.16)
    assert tasks.get("copy").short_memory_baseline(100) == (tasks.get("copy").chance_loss(100), 1 / 8)
