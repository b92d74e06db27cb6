"""The cost model: fitted step costs, cached per machine; the plan (--dry-run), the long-run warning,
the cost-weighted ETA, and worker processes started only when they pay."""

import json

import pytest

from bench import cost
from bench.cost import CostModel, StepCost, makespan, workers_pay
from bench.executors import InProcessExecutor, LocalExecutor
from bench.progress import Display
from bench.runner import _worth_starting
from bench.sweep import Cell, ModelConfig, TrainConfig
from conftest import files_under

SMALL = dict(model_config=ModelConfig(hidden=16), train=TrainConfig(steps=100, batch_size=8, eval_every=50, eval_size=16))


def test_a_step_costs_more_at_longer_lengths_and_the_fit_is_cached_per_machine(tmp_path, monkeypatch):
    model = CostModel(tmp_path / "cost.json")
    short, long = Cell("adding", 20, "gru", 0, **SMALL), Cell("adding", 2000, "gru", 0, **SMALL)
    fitted = model.step_cost(short)
    assert fitted.per_step > 0 and fitted.at(2000) > 10 * fitted.at(20) / 2
    assert model.cell_seconds(long) > 20 * model.cell_seconds(short) / 2  # linear in T, not flat
    assert model.cell_seconds(long) > 100 * fitted.at(2000)  # the whole budget: 100 steps and the evaluations

    def no_timing(*args):
        raise AssertionError("a cached shape was timed again")

    monkeypatch.setattr(cost, "step_timer", no_timing)
    again = CostModel(tmp_path / "cost.json")
    assert again.step_cost(Cell("adding", 500, "gru", 7, **SMALL)) == fitted  # same shape: seed and L differ
    stored = json.loads((tmp_path / "cost.json").read_text())
    assert list(stored) == [again.machine]  # keyed by the machine: another CPU or library times again


def test_an_unreadable_cache_is_timed_again_not_an_error(tmp_path):
    (tmp_path / "cost.json").write_text("{not json")
    assert CostModel(tmp_path / "cost.json").step_cost(Cell("adding", 20, "rnn", 0, **SMALL)).per_step >= 0


def test_makespan_hands_cells_to_the_first_free_slot():
    assert makespan([10, 1, 1, 1], 2) == 10
    assert makespan([3, 3, 3, 3], 2) == 6
    assert makespan([5, 5], 1) == 10 and makespan([], 4) == 0


def test_workers_pay_only_when_the_work_outlasts_their_start_up():
    assert not workers_pay(1.0, 2, worker_start=4.0)      # 1-step cells: train here
    assert workers_pay(60.0, 2, worker_start=4.0)         # a minute of work: 4 + 30 < 60
    assert not workers_pay(600.0, 1, worker_start=4.0)    # one slot (or one cell) gains nothing


class _Costs:
    def __init__(self, worker_start):
        self.worker_start = worker_start


def test_short_sweeps_train_in_process_long_ones_start_workers_at_once(monkeypatch):
    cells = [Cell("adding", 10, "rnn", seed, **SMALL) for seed in range(4)]
    executor = LocalExecutor(jobs=2)
    assert isinstance(_worth_starting(executor, cells, 2.0, _Costs(4.0)), InProcessExecutor)
    started = []
    monkeypatch.setattr(executor, "start", lambda names: started.append(names))
    assert _worth_starting(executor, cells, 600.0, _Costs(4.0)) is executor
    assert started == [["adding"]]  # workers load the sweep's tasks while the driver prepares
    assert isinstance(_worth_starting(executor, cells[:1], 600.0, _Costs(4.0)), InProcessExecutor)  # one cell


def test_the_overall_bar_counts_estimated_work_so_the_eta_follows_the_long_cells():
    cheap, dear = Cell("adding", 50, "rnn", 0), Cell("adding", 1000, "lstm", 0)
    display = Display(2, 0, enabled=False, costs={cheap.key: 1.0, dear.key: 19.0})
    display.step(dear, dear.train.steps // 2, None)
    assert display.progress.tasks[0].completed == pytest.approx(9.5)  # half of the dear cell's work
    display.finished({"key": cheap.key, "task": "adding", "length": 50, "model": "rnn", "seed": 0, "status": "failed",
                      "error": "x"})
    assert display.progress.tasks[0].completed == pytest.approx(10.5)
    assert display.progress.tasks[0].fields["count"] == "1/2"


def test_dry_run_prints_the_plan_and_writes_nothing(bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding", "--lengths", "10,40", "--models", "rnn,gru", "--steps", "50",
                       "--hidden", "8", "--batch-size", "8", "--jobs", "2", "--out", tmp_path / "out", "--dry-run")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "4 cells, 4 to train (0 already stored):"
    assert "adding L=40 gru seed=0" in result.stdout and "L=10" in result.stdout and "L=40" in result.stdout
    assert any(line.split()[0] == "gru" for line in lines)  # the grid's rows
    assert "at 2 cell(s) at a time" in result.stdout and "memory: largest cell adding L=40" in result.stdout
    assert files_under(tmp_path / "out") == []


def test_a_long_run_says_its_estimate_as_a_range_and_a_shorter_story_before_it_starts(bench_cli, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setattr(CostModel, "step_cost", lambda self, cell: StepCost(fixed=10.0, per_step=0.0))
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", "rnn", "--steps", "400",
                       "--hidden", "8", "--out", tmp_path, "--jobs", "1", "--dry-run")
    assert "56-88 min at 1 cell(s)" in result.stdout  # 70 min, at least 1.25x either way
    monkeypatch.setattr(CostModel, "step_cost", lambda self, cell: StepCost(fixed=10.0, per_step=0.0))
    monkeypatch.setattr("bench.runner.run_sweep", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", "rnn", "--steps", "400",
                       "--hidden", "8", "--out", tmp_path, "--jobs", "1")
    assert "this sweep may take up to 56-88 min here" in result.stderr and "short lengths" not in result.stderr
    result = bench_cli("run", "--task", "adding", "--lengths", "200,400", "--models", "rnn", "--steps", "400",
                       "--hidden", "8", "--out", tmp_path, "--jobs", "1")
    assert "this sweep may take up to 1.9-2.9 h here" in result.stderr
    assert "the same comparison at short lengths tells the story in" in result.stderr
    assert "bench run --task adding --lengths 25,50,100 --steps 400 --models rnn" in result.stderr


def _fake_timer(costs):
    """A timer that answers from `costs` (length -> list of seconds, one per call) and counts its calls."""
    calls = []

    def timer(cell, length):
        calls.append(length)
        return costs[length].pop(0)

    return timer, calls


def test_an_impossible_fit_is_timed_again_then_bounded_never_zero():
    cell = Cell("adding", 20, "rnn", 0, **SMALL)
    flat, calls = _fake_timer({16: [0.01] * 6, 64: [0.01] * 6})  # the long length costs no more: noise
    fit = cost.fit_step_cost(cell, flat)
    assert len(calls) == 12  # three rounds of both lengths, twice
    assert fit.possible and fit.fixed == 0 and fit.at(64) == pytest.approx(0.01)  # proportional to T: an upper bound
    noisy, _ = _fake_timer({16: [0.01, 0.03, 0.01], 64: [0.04, 0.04, 0.05]})
    fit = cost.fit_step_cost(cell, noisy)
    assert fit.per_step == pytest.approx(0.03 / 48) and fit.spread == pytest.approx(3.0)  # medians; worst spread


def test_stale_or_old_format_fits_are_timed_again_and_a_disagreeing_cell_drops_its_fit(tmp_path, monkeypatch):
    cell = Cell("adding", 20, "rnn", 0, **SMALL)
    model = CostModel(tmp_path / "cost.json")
    shape = cost.shape_key(cell)
    timed = []
    monkeypatch.setattr(cost, "fit_step_cost", lambda c: timed.append(c) or StepCost(
        0.001, 0.0001, 1.1, __import__("time").time(), 0.0, cost.FIT_FORMAT))
    model.entries[shape] = {"fixed": 0.0, "per_step": 0.0}  # an old cache's zero fit
    model.step_cost(cell)
    model.entries[shape]["timed_at"] -= cost.STALE_SECONDS + 1  # a month old
    model.step_cost(cell)
    model.step_cost(cell)  # fresh now: cached
    assert len(timed) == 2
    expected = model.cell_seconds(cell, 100)
    assert not model.observe(cell, {"status": "unsolved", "seconds": expected * 1.5, "steps": 100})
    assert not model.observe(cell, {"status": "unsolved", "seconds": 1.0, "steps": 100})  # too short to judge
    assert model.observe(cell, {"status": "unsolved", "seconds": max(expected * 3, 3.0), "steps": 100})
    assert shape not in CostModel(tmp_path / "cost.json").entries  # saved: the next estimate times it again
    model.step_cost(cell)
    assert model.forget([cell]) == 1 and model.forget([cell]) == 0  # --refit-costs


def test_a_finished_run_compares_its_estimate_with_what_it_took(bench_cli, tmp_path):
    from bench.runner import Computed

    assert Computed(2, 600.0, 1.25, 500.0).text() == ("took 8 min; estimated at most 8-12 min (every cell's whole "
                                                      "budget; cells that stop at a solve take less)")
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", "rnn", "--steps", "3", "--hidden", "8",
                       "--out", tmp_path, "--jobs", "1", "--no-progress", "--refit-costs")
    assert result.code == 0 and "bench: took " in result.stderr and "estimated at most" in result.stderr
