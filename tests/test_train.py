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
    import tasks
    import torch

    class Oracle(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros(*x.shape, 8)
            out[:, -1].scatter_(1, x[:, :1], 50.0)
            return out

    task = tasks.get("delayed-recall")
    eval_set = tuple(torch.from_numpy(a) for a in task.generate(100, 5, 0, "eval"))
    loss, accuracy = evaluate(Oracle(), task, eval_set)
    assert accuracy == 1.0 and loss < 1e-6


def test_numba_thread_count_changes_no_number():
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = train_cell(_cell(steps=60, eval_every=30))
    finally:
        numba.set_num_threads(threads)
    many = train_cell(_cell(steps=60, eval_every=30))
    numbers = ["status", "loss", "accuracy", "best_accuracy", "steps", "params"]
    assert [one[k] for k in numbers] == [many[k] for k in numbers]
    assert [{**p, "seconds": 0} for p in one["curve"]] == [{**p, "seconds": 0} for p in many["curve"]]
