"""check_task: the one checker every registered task must pass.

Each check returns a problem string or None, so a plug-in author sees every contract they broke.
"""

from __future__ import annotations

from typing import Callable

import numba
import numpy as np

from longdep_tasks import Task

Check = Callable[[Task, int], "str | None"]
N_CHANCE = 4000  # samples per split for the chance-level estimate
# Swapping the far inputs with another sample's changes a truly dependent target unless both samples
# agree there by luck: for a binary choice (temporal-order's X or Y) that is half the time.
MIN_CHANGED = 0.3


def check_task(task: Task, lengths: tuple[int, ...] | None = None) -> list[str]:
    """All problems found with `task` at each length (an empty list means it passes)."""
    lengths = lengths or (task.min_length, max(task.min_length, 7), 40)
    problems = []
    for length in lengths:
        for check in CHECKS:
            try:
                problem = check(task, length)
            except Exception as error:  # a broken plug-in must be reported, not crash the checker
                problem = f"{check.__name__} raised {type(error).__name__}: {error}"
            if problem:
                problems.append(f"{task.name} L={length}: {problem}")
    return problems


def _check_deterministic(task: Task, length: int) -> str | None:
    first, second = task.generate(64, length, 3, "train"), task.generate(64, length, 3, "train")
    if not all(np.array_equal(a, b) for a, b in zip(first, second)):
        return "the same key gave different data (unseeded randomness?)"
    part = task.generate(16, length, 3, "train", start=40)
    if not all(np.array_equal(a[40:56], b) for a, b in zip(first, part)):
        return "a sample depends on which batch it was generated in, not only on its index"
    return None


def _check_thread_independent(task: Task, length: int) -> str | None:
    threads = numba.get_num_threads()
    if threads < 2:
        return None
    many = task.generate(64, length, 5, "train")
    numba.set_num_threads(1)
    try:
        one = task.generate(64, length, 5, "train")
    finally:
        numba.set_num_threads(threads)
    if not all(np.array_equal(a, b) for a, b in zip(many, one)):
        return "data changes with the numba thread count"
    return None


def _check_shapes(task: Task, length: int) -> str | None:
    x, y, mask = task.generate(8, length, 0, "train")
    steps = task.seq_len(length)
    x_shape = (8, steps) if task.inputs == "tokens" else (8, steps, task.n_inputs)
    x_dtype = np.int64 if task.inputs == "tokens" else np.float32
    y_dtype = np.int64 if task.kind == "classify" else np.float32
    for what, array, shape, dtype in (("x", x, x_shape, x_dtype), ("y", y, (8, steps), y_dtype),
                                      ("mask", mask, (8, steps), np.bool_)):
        if array.shape != shape or array.dtype != dtype:
            return f"{what} is {array.dtype}{list(array.shape)}, declared {np.dtype(dtype)}{list(shape)}"
    return None


def _check_ranges(task: Task, length: int) -> str | None:
    x, y, mask = task.generate(256, length, 0, "train")
    if task.inputs == "tokens" and (x.min() < 0 or x.max() >= task.n_inputs):
        return f"input tokens outside [0, {task.n_inputs})"
    if task.inputs == "features" and not np.isfinite(x).all():
        return "non-finite input features"
    if task.kind == "classify" and (y.min() < 0 or y.max() >= task.n_outputs):
        return f"labels outside [0, {task.n_outputs})"
    if task.kind == "regress" and not np.isfinite(y).all():
        return "non-finite regression targets"
    if not mask.any(axis=1).all():
        return "a sample has no scored position"
    return None


def _check_oracle(task: Task, length: int) -> str | None:
    x, y, mask = task.generate(256, length, 1, "valid")
    where = np.ones_like(mask) if task.loss_on == "all" else mask
    if not np.allclose(task.oracle(x, length)[where], y[where], atol=1e-6):
        return "targets disagree with the task's own rule (oracle)"
    return None


def _check_span(task: Task, length: int) -> str | None:
    """Swap every input at least min_span steps before the last scored step with another sample's:
    if the targets really depend that far back, a perfect-memory answer must change for many samples."""
    span = task.min_span(length)
    if span < 1:
        return f"min_span({length}) = {span} is not a positive number of steps"
    x, y, mask = task.generate(256, length, 2, "valid")
    _, far = _far_region(task, length)  # positions 0..far-1 lie at least `span` steps back
    if far < 1:
        return f"min_span({length}) = {span} reaches before the sequence start"
    swapped = x.copy()
    swapped[:, :far] = np.roll(x[:, :far], 1, axis=0)
    changed = ~np.isclose(task.oracle(swapped, length), y, atol=1e-6)[mask].reshape(len(x), -1).all(axis=1)
    if changed.mean() < MIN_CHANGED:
        return f"targets do not depend on inputs {span} steps back (changed {changed.mean():.0%})"
    return None


def _check_splits_differ(task: Task, length: int) -> str | None:
    train, evaluation = task.generate(32, length, 0, "train"), task.generate(32, length, 0, "valid")
    if np.array_equal(train[0], evaluation[0]):
        return "train and eval splits give the same samples"
    return None


def _check_chance(task: Task, length: int) -> str | None:
    """A predictor that ignores the inputs (best constant per position, fitted on train) must score
    the declared chance loss and accuracy on eval, within sampling error."""
    _, y_fit, mask_fit = task.generate(N_CHANCE, length, 0, "train")
    _, y, mask = task.generate(N_CHANCE, length, 0, "valid")
    loss_where = np.ones_like(mask) if task.loss_on == "all" else mask
    if task.kind == "classify":
        losses, correct = _memoryless_classifier(task, y_fit, y, loss_where)
    else:
        losses, correct = _memoryless_regressor(task, y_fit, mask_fit, y, loss_where)
    per_sample_loss = (losses * loss_where).sum(1) / loss_where.sum(1)
    return _compare_scores("memoryless", per_sample_loss, correct[mask], task.chance_loss(length),
                           task.chance_accuracy_at(length), "chance")


def _compare_scores(what: str, per_sample_loss: np.ndarray, correct: np.ndarray, declared_loss: float,
                    declared_accuracy: float, called: str) -> str | None:
    """A predictor's measured loss and accuracy against the declared ones, within sampling error."""
    loss, loss_se = per_sample_loss.mean(), per_sample_loss.std() / np.sqrt(len(per_sample_loss))
    accuracy = correct.mean()
    accuracy_se = np.sqrt(declared_accuracy * (1 - declared_accuracy) / correct.size)
    if abs(loss - declared_loss) > 4 * loss_se + 0.02 * declared_loss:
        return f"{what} loss {loss:.4f} on generated data, declared {called} {declared_loss:.4f}"
    if abs(accuracy - declared_accuracy) > 4 * accuracy_se + 0.01:
        return f"{what} accuracy {accuracy:.4f} on generated data, declared {called} {declared_accuracy:.4f}"
    return None


def _check_short_memory(task: Task, length: int) -> str | None:
    """The task's short-memory predictor, handed data whose inputs at least min_span steps back are
    scrambled (swapped with another sample's, so peeking at them cannot help), must score the declared
    short-memory baseline, and that baseline must lie between perfect and chance."""
    if task.short_memory is None:
        return None
    _, far = _far_region(task, length)
    x, y, mask = task.generate(N_CHANCE, length, 4, "valid")
    scrambled = x.copy()
    scrambled[:, :far] = np.roll(x[:, :far], 1, axis=0)
    predicted = task.short_memory(scrambled, length)
    loss_where = np.ones_like(mask) if task.loss_on == "all" else mask
    if task.kind == "classify":
        chosen = np.take_along_axis(predicted, y[..., None], axis=2)[..., 0]
        losses, correct = -np.log(np.maximum(chosen, 1e-12)), predicted.argmax(-1) == y
    else:
        losses, correct = (predicted - y) ** 2, np.abs(predicted - y) < task.tolerance
    per_sample_loss = (losses * loss_where).sum(1) / loss_where.sum(1)
    short_loss, short_accuracy = task.short_memory_baseline(length)
    if short_loss > task.chance_loss(length) * (1 + 1e-9):
        return f"short-memory loss {short_loss:.4f} is above the chance loss {task.chance_loss(length):.4f}"
    return _compare_scores("short-memory", per_sample_loss, correct[mask], short_loss, short_accuracy,
                           "short memory")


def _far_region(task: Task, length: int) -> tuple[int, int]:
    """(last scored step, first step that is less than min_span back from it) on this task's data."""
    _, _, mask = task.generate(64, length, 2, "valid")
    last_scored = int(np.nonzero(mask.any(axis=0))[0].max())
    return last_scored, last_scored - task.min_span(length) + 1


def _memoryless_classifier(task, y_fit, y, loss_where):
    counts = np.stack([(y_fit == c).sum(0) for c in range(task.n_outputs)], axis=1) + 0.5
    probs = counts / counts.sum(1, keepdims=True)  # [position, class]
    positions = np.arange(y.shape[1])
    losses = -np.log(probs[positions, y])
    correct = probs.argmax(1)[None, :] == y
    # with a vocabulary near the sample count the fitted frequencies overfit; the uniform guess is input
    # blind too, so the better of the two stands for the best input-blind predictor
    uniform = np.full(y.shape, np.log(task.n_outputs))
    if (uniform * loss_where).sum() < (losses * loss_where).sum():
        losses = uniform
    return losses, correct


def _memoryless_regressor(task, y_fit, mask_fit, y, loss_where):
    scored = mask_fit.sum(0)
    mean = np.where(scored > 0, (y_fit * mask_fit).sum(0) / np.maximum(scored, 1), 0.0)
    errors = y - mean[None, :]
    return errors**2, np.abs(errors) < task.tolerance


CHECKS: tuple[Check, ...] = (
    _check_shapes, _check_ranges, _check_deterministic, _check_thread_independent, _check_oracle,
    _check_span, _check_splits_differ, _check_chance, _check_short_memory,
)
