import math

import pytest

from bench import models
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import evaluate, train_cell


def _cell(task="adding", length=20, model="gru", **train):
    settings = {"steps": 1500, "eval_every": 50, "eval_size": 500, "lr": 1e-2, **train}
    return Cell(task, length, model, 0, ModelConfig(hidden=32), TrainConfig(**settings))


def test_gru_learns_adding_at_a_short_length_to_the_solve_criterion():
    result = train_cell(_cell())
    assert result["status"] == "solved", result
    assert result["loss"] < 0.01 < result["chance_loss"] and result["steps_to_solve"] <= 1500
    assert result["sequences_to_solve"] == result["steps_to_solve"] * 64
    assert result["curve"][-1]["step"] == result["steps_to_solve"] and result["loss_ratio"] < 0.1
    # the 1997 rule: the last 2000 training sequences all within 0.08, confirmed on the validation split
    assert result["window_accuracy"] == 1.0 and result["valid_accuracy"] > 0.99


def test_steps_to_solve_have_the_resolution_of_one_batch_not_of_the_eval_cadence():
    coarse, fine = train_cell(_cell(eval_every=1000)), train_cell(_cell(eval_every=50))
    assert coarse["status"] == fine["status"] == "solved"
    assert coarse["steps_to_solve"] == fine["steps_to_solve"] < 1000  # the cadence selects nothing
    assert coarse["steps_to_solve"] % 50 != 0 and (coarse["loss"], coarse["accuracy"]) == (fine["loss"], fine["accuracy"])


@pytest.mark.slow  # trains two whole budgets (the fast tier keeps the stop rule's other tests)
def test_stop_budget_trains_the_whole_budget_and_still_records_the_solve():
    at_solve, to_budget = train_cell(_cell(steps=900)), train_cell(_cell(steps=900, stop="budget"))
    assert at_solve["status"] == to_budget["status"] == "solved"
    assert to_budget["steps"] == 900 > at_solve["steps"] == at_solve["steps_to_solve"] == to_budget["steps_to_solve"]
    assert to_budget["curve"][-1]["step"] == 900 and to_budget["key"] != at_solve["key"]


def test_reported_numbers_come_from_the_test_split_which_selects_nothing():
    result = train_cell(_cell(steps=100, eval_every=50))
    assert result["accuracy"] != result["valid_accuracy"]  # two different held-out sets
    assert result["eval_positions"] == 500 and 0 < result["accuracy_se"] < 0.05 and result["loss_se"] > 0


def test_huge_learning_rate_diverges_and_says_when():
    result = train_cell(_cell(lr=1e5, clip=0.0, steps=300))
    assert result["status"] == "diverged" and 1 <= result["diverged_step"] <= 300


def test_unsolved_cell_is_labelled_as_a_budget_hit():
    result = train_cell(_cell(task="copy", length=30, model="rnn", steps=20, eval_every=10))
    assert result["status"] == "unsolved" and result["steps"] == 20 == result["steps_budget"]
    assert result["steps_to_solve"] is None and len(result["curve"]) == 2


def test_time_limit_stops_with_status_timeout():
    result = train_cell(_cell(task="copy", length=200, model="lstm", steps=100_000, time_limit=0.5))
    assert result["status"] == "timeout" and 0 < result["steps"] < 100_000 and result["accuracy"] is not None


def test_an_exception_becomes_a_failed_row(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded on purpose")

    monkeypatch.setitem(models.registry._items, "gru", broken)
    result = train_cell(_cell(steps=5))
    assert result["status"] == "failed" and "model exploded on purpose" in result["error"]


def test_same_cell_twice_gives_identical_numbers_on_cpu():
    first, second = train_cell(_cell(steps=120)), train_cell(_cell(steps=120))
    assert first["curve"] == [{**p, "seconds": q["seconds"]} for p, q in zip(second["curve"], first["curve"])]
    assert (first["loss"], first["accuracy"]) == (second["loss"], second["accuracy"])


def test_copy_accuracy_counts_recalled_positions_only():
    # an untrained model predicting blank everywhere would score ~99% if blanks counted
    result = train_cell(_cell(task="copy", length=30, steps=30, eval_every=30, lr=1e-3))
    assert result["accuracy"] < 0.5
    assert result["chance_loss"] == pytest.approx(10 * math.log(8) / 50)


def test_evaluate_returns_loss_and_accuracy_of_a_perfect_model():
    import longdep_tasks as tasks
    import torch

    class Oracle(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros(*x.shape, 8)
            out[:, -1].scatter_(1, x[:, :1], 50.0)
            return out

    task = tasks.get("delayed-recall")
    eval_set = tuple(torch.from_numpy(a) for a in task.generate(100, 5, 0, "valid"))
    metrics = evaluate(Oracle(), task, eval_set)
    assert metrics.accuracy == 1.0 and metrics.loss < 1e-6 and metrics.sequences_correct == 1.0
    assert metrics.positions == metrics.sequences == 100


def test_numba_thread_count_changes_no_number():
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = train_cell(_cell(steps=60, eval_every=30))
    finally:
        numba.set_num_threads(threads)
    many = train_cell(_cell(steps=60, eval_every=30))
    numbers = ["status", "loss", "accuracy", "best_valid_accuracy", "steps", "params"]
    assert [one[k] for k in numbers] == [many[k] for k in numbers]
    assert [{**p, "seconds": 0} for p in one["curve"]] == [{**p, "seconds": 0} for p in many["curve"]]


# --- verdicts: beating chance is not bridging the dependency -----------------------------------------

import time  # noqa: E402

import longdep_tasks as tasks  # noqa: E402
import torch  # noqa: E402

from bench.analysis import results_frame  # noqa: E402
from bench.train import Outcome, _record  # noqa: E402


class MarkedSum(torch.nn.Module):
    """Adding, solved by hand: the sum of the marked values from step `visible_from` on, plus `guess`
    for what it cannot see (0.5, the mean of a value it forgot)."""

    def __init__(self, visible_from: int, guess: float) -> None:
        super().__init__()
        self.visible_from, self.guess = visible_from, guess

    def forward(self, x):
        seen = (x[:, :, 0] * x[:, :, 1])[:, self.visible_from:].sum(1)
        out = torch.zeros(*x.shape[:2], 1)
        out[:, -1, 0] = seen + self.guess
        return out


class SecondSymbolOnly(torch.nn.Module):
    """Temporal order knowing only the nearer relevant symbol: certain about it, a coin flip on the other."""

    def forward(self, x):
        late = torch.where(x[:, x.shape[1] // 2:] >= 6, x[:, x.shape[1] // 2:] - 6, 0).sum(1)
        out = torch.full((*x.shape, 4), -30.0)
        for first in (0, 1):
            out[torch.arange(len(x)), -1, 2 * first + late] = 0.0
        return out


def _verdict(task_name: str, length: int, model: torch.nn.Module) -> str:
    task = tasks.get(task_name)
    test_set = tuple(torch.from_numpy(a) for a in task.generate(1000, length, 0, "test"))
    outcome = Outcome(status="unsolved", test=evaluate(model, task, test_set))
    return results_frame([_record(Cell(task_name, length, "gru", 0), outcome, time.time())])["verdict"].iloc[0]


@pytest.mark.parametrize("task_name, model, verdict", [
    ("adding", MarkedSum(100, 0.5), "partial memory"),  # remembers only the second-half marker: MSE 1/12
    ("adding", MarkedSum(0, 0.0), "bridged"),
    ("adding", MarkedSum(200, 1.0), "at chance"),  # sees nothing: always 1
    ("temporal-order", SecondSymbolOnly(), "partial memory"),  # accuracy 1/2 against chance 1/4
])
def test_short_memory_is_partial_not_bridged(task_name, model, verdict):
    assert _verdict(task_name, 200, model) == verdict


# The training loop's numbers on a tiny cell, for its protocol version: a change to train.py that moves
# any number must come with a PROTOCOL bump (which changes every key), then new values here.
GOLDEN_LOOP = {2: {"eval_loss": [2.10988, 2.03857], "train_loss": [2.0848, 2.08667], "loss": 2.03814,
                   "accuracy": 0.265625, "window_accuracy": 0.134375}}


def test_the_training_loop_gives_its_golden_numbers_for_its_protocol():
    from bench.sweep import PROTOCOL

    result = train_cell(Cell("delayed-recall", 5, "gru", 0, ModelConfig(hidden=8),
                             TrainConfig(steps=40, batch_size=16, lr=1e-2, eval_every=20, eval_size=64)))
    golden = GOLDEN_LOOP.get(PROTOCOL)
    assert golden is not None, f"PROTOCOL {PROTOCOL} has no golden numbers: add them to GOLDEN_LOOP"
    assert [p["eval_loss"] for p in result["curve"]] == pytest.approx(golden["eval_loss"], abs=2e-5)
    assert [p["train_loss"] for p in result["curve"]] == pytest.approx(golden["train_loss"], abs=2e-5)
    assert result["loss"] == pytest.approx(golden["loss"], abs=2e-5), "the loop changed without a PROTOCOL bump"
    assert (result["accuracy"], result["window_accuracy"]) == (golden["accuracy"], golden["window_accuracy"])
