"""One conformance suite for every executor: same numbers, failure isolation, resume."""

import pytest

from bench.executors import InProcessExecutor, LocalExecutor, RayExecutor, local_slots, make_executor, start_local_ray
from bench.runner import run_sweep
from bench.store import Store
from bench.sweep import Cell, ModelConfig, Sweep, TrainConfig
from conftest import require_ray

TRAIN = TrainConfig(steps=60, eval_every=30, eval_size=64, batch_size=16)
SWEEP = Sweep(("delayed-recall", "adding"), (4, 9), ("rnn", "gru"), (0,), ModelConfig(hidden=16), TRAIN)
NUMBERS = ("key", "status", "loss", "accuracy", "best_valid_accuracy", "steps", "steps_to_solve", "params")


def _ray_executor():
    ray = require_ray()
    if not ray.is_initialized():
        start_local_ray(num_cpus=2)
    assert {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]} == {"127.0.0.1"}
    return RayExecutor()


@pytest.fixture(scope="module", params=["local", pytest.param("ray", marks=pytest.mark.slow)])
def executor(request):
    if request.param == "local":
        yield LocalExecutor(jobs=2)
    else:
        yield _ray_executor()


@pytest.fixture(scope="module")
def reference():
    """The numbers the in-process executor gives for SWEEP."""
    return {r["key"]: r for r in InProcessExecutor().map(SWEEP.expand())}


def _numbers(record):
    return {name: record[name] for name in NUMBERS} | {"curve": [{**p, "seconds": 0} for p in record["curve"]]}


def test_executor_gives_the_same_numbers_as_in_process(executor, reference):
    seen = []
    records = list(executor.map(SWEEP.expand(), lambda cell, step, acc: seen.append(cell.key)))
    assert sorted(r["key"] for r in records) == sorted(reference)
    for record in records:
        assert _numbers(record) == _numbers(reference[record["key"]])
    if isinstance(executor, LocalExecutor):  # progress travels back from the worker processes
        assert set(seen) == set(reference)


def test_a_failing_cell_is_recorded_and_the_others_finish(executor):
    good = SWEEP.expand()[:2]
    broken = Cell("adding", 4, "rnn", 5, ModelConfig(hidden=16), TRAIN, device="cuda:7")  # no such GPU here
    records = {r["key"]: r for r in executor.map([good[0], broken, good[1]])}
    assert records[broken.key]["status"] == "failed" and records[broken.key]["error"]
    assert {records[c.key]["status"] for c in good} <= {"solved", "unsolved"}


def test_resume_computes_only_missing_cells(executor, tmp_path):
    store = Store(tmp_path)
    first = run_sweep(Sweep(SWEEP.tasks, (4,), SWEEP.models, (0,), SWEEP.model_config, TRAIN), store,
                      executor=executor, progress=False)
    second = run_sweep(SWEEP, store, executor=executor, progress=False)
    assert (first.computed, second.computed, second.reused) == (4, 4, 4)
    assert run_sweep(SWEEP, store, executor=executor, progress=False).computed == 0


def test_local_slots_fill_cpus_or_pack_gpus(monkeypatch):
    monkeypatch.setattr("bench.executors.usable_cores", lambda: 16)
    assert local_slots("cpu", None, 1, 1) == (16, [])
    assert local_slots("cpu", None, 4, 1) == (4, [])
    assert local_slots("cpu", 3, 1, 1) == (3, [])
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    assert local_slots("cuda", None, 1, 4) == (8, ["cuda:0", "cuda:1"])
    assert local_slots("cuda:1", None, 1, 3) == (3, ["cuda:1"])


def test_cuda_cells_are_balanced_over_gpus():
    executor = LocalExecutor(jobs=4, gpus=["cuda:0", "cuda:1"])
    load = {"cuda:0": 0, "cuda:1": 0}
    placed = [executor._place(Cell("adding", 5, "rnn", s, device="cuda"), load).device for s in range(4)]
    assert sorted(placed) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
    assert Cell("adding", 5, "rnn", 0, device="cuda:1").key == Cell("adding", 5, "rnn", 0, device="cuda").key


def test_make_executor_one_slot_runs_in_process():
    assert isinstance(make_executor("local", "cpu", threads=1, jobs=1), InProcessExecutor)
    assert isinstance(make_executor("local", "cpu", threads=1, jobs=2), LocalExecutor)
    assert make_executor("ray", "cuda", threads=2, cells_per_gpu=4).gpus_per_cell == 0.25


RAY_PLUGIN = '''
import dataclasses
import longdep_tasks as tasks

tasks.register(dataclasses.replace(tasks.get("delayed-recall"), name="recall-from-a-plugin"))
'''


@pytest.mark.parametrize("kind", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_workers_load_the_drivers_plugins_even_where_the_file_is_gone(kind, tmp_path):
    """A Ray node (or a worker) without the plug-in file gets its source from the driver."""
    from bench.plugins import load_plugin

    plugin = tmp_path / f"plugin_{kind}.py"
    plugin.write_text(RAY_PLUGIN.replace("a-plugin", f"a-plugin-{kind}"))
    load_plugin(plugin)
    plugin.unlink()
    executor = LocalExecutor(jobs=2) if kind == "local" else _ray_executor()
    cell = Cell(f"recall-from-a-plugin-{kind}", 4, "gru", 0, ModelConfig(hidden=8), TRAIN)
    [record] = list(executor.map([cell]))
    assert record["status"] in ("solved", "unsolved"), record["error"]
