"""Mid-cell checkpoints: a cell killed at any point resumes from its last checkpoint and ends with the
numbers of a cell never stopped (bench/checkpoint.py, the loop in bench/train.py)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from bench.checkpoint import checkpoint_path
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import train_cell

# small, and solved within its budget (steps_to_solve is compared too); --stop budget trains on past it
TRAIN = dict(steps=200, batch_size=32, lr=1e-2, eval_every=20, eval_size=64, stop="budget")
NUMBERS = ("key", "status", "loss", "accuracy", "valid_accuracy", "best_valid_accuracy", "window_accuracy",
           "steps", "steps_to_solve", "final_solved", "grad_norm_median", "grad_norm_max", "flow_decay")

CHILD = textwrap.dedent("""
    import os, pickle, signal, sys
    import bench.train as train

    cell, kill_at = pickle.loads(bytes.fromhex(sys.argv[1])), int(sys.argv[2])
    real, calls = train.backward, [0]

    def killed_at_step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    train.backward = killed_at_step
    train.train_cell(cell)
""")


def make_cell(folder, every=1e-9, task="delayed-recall", model="gru"):
    return Cell(task, 5, model, 0, ModelConfig(hidden=16), TrainConfig(**TRAIN), checkpoint_dir=str(folder),
                checkpoint_every=every)


def numbers(record):
    return {name: record.get(name) for name in NUMBERS} | {
        "curve": [{**point, "seconds": 0} for point in record["curve"]]}


def kill_child(cell, kill_at, env=None):
    """Train `cell` in a child process that SIGKILLs itself at its `kill_at`-th training step."""
    done = subprocess.run([sys.executable, "-c", CHILD, pickle.dumps(cell).hex(), str(kill_at)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == -9, done.stderr[-2000:]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    record = train_cell(make_cell(tmp_path_factory.mktemp("plain"), every=0))
    assert record["steps_to_solve"] is not None and record["steps"] == TRAIN["steps"]
    return numbers(record)


@pytest.mark.parametrize("kills, every, crash_at_write, resumed_at", [
    pytest.param((1,), 1e9, None, 0, marks=pytest.mark.slow),  # before its first checkpoint: the cell starts over
    ((37,), 1e-9, None, 36),  # between checkpoints (one after every step)
    pytest.param((25, 40, 70), 1e-9, None, 132, marks=pytest.mark.slow),  # three times (the last after the solve)
    pytest.param((90,), 1e-9, "40", 39, marks=pytest.mark.slow),  # during a checkpoint write, half-written
])
def test_a_killed_cell_resumes_and_ends_bit_identical(kills, every, crash_at_write, resumed_at, uninterrupted,
                                                      tmp_path):
    cell = make_cell(tmp_path, every)
    for kill_at in kills:  # a resumed child counts its steps from where it resumed
        kill_child(cell, kill_at, {"BENCH_CRASH_AT_WRITE": crash_at_write} if crash_at_write else None)
    progress = []
    record = train_cell(cell, lambda cell, step, accuracy: progress.append(step))
    assert progress[0] == resumed_at  # where it went on from
    assert numbers(record) == uninterrupted


@pytest.mark.slow  # a killed child and four cells trained (the fast tier kills and resumes one without it)
def test_a_checkpoint_of_other_settings_is_discarded_and_a_corrupt_one_detected(uninterrupted, tmp_path, capfd):
    cell = make_cell(tmp_path)
    kill_child(cell, 40)
    saved = checkpoint_path(tmp_path, cell.key).read_bytes()
    other = dataclasses.replace(cell, train=TrainConfig(**{**TRAIN, "lr": 2e-2}))
    checkpoint_path(tmp_path, other.key).parent.mkdir(parents=True, exist_ok=True)
    checkpoint_path(tmp_path, other.key).write_bytes(saved)  # another cell's state under this cell's name
    resumed = train_cell(other)
    assert "is from other code or settings; discarded, the cell starts over" in capfd.readouterr().err
    assert numbers(resumed) == numbers(train_cell(dataclasses.replace(other, checkpoint_every=0)))
    damaged = bytearray(saved)
    damaged[len(damaged) // 2] ^= 0xFF
    checkpoint_path(tmp_path, cell.key).write_bytes(bytes(damaged))
    assert numbers(train_cell(cell)) == uninterrupted
    assert "is corrupt (checksum); discarded" in capfd.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "ray"])
def test_the_worker_pool_and_ray_resume_a_killed_cell(kind, uninterrupted, tmp_path):
    from bench.executors import LocalExecutor, RayExecutor, release, start_local_ray

    cell = make_cell(tmp_path)
    kill_child(cell, 50)
    if kind == "ray":
        from conftest import require_ray

        ray = require_ray()
        if not ray.is_initialized():
            start_local_ray(num_cpus=2)
        executor = RayExecutor()
    else:
        executor = LocalExecutor(jobs=2)
    try:
        (record,) = list(executor.map([cell]))
    finally:
        release(executor)
    assert numbers(record) == uninterrupted


def test_a_stored_cell_leaves_no_checkpoint_and_gc_removes_orphans(tmp_path):
    from bench.runner import run_sweep
    from bench.runs import collect_garbage
    from bench.store import Store
    from bench.sweep import Sweep

    sweep = Sweep(("delayed-recall",), (5,), ("gru",), (0,), ModelConfig(hidden=16), TrainConfig(**TRAIN))
    store = Store(tmp_path)
    (cell,) = sweep.expand()
    orphan = checkpoint_path(tmp_path / "cells", "ff" + "0" * 18)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"state of a cell no run will ask for")
    os.utime(orphan, (0, 0))
    run_sweep(sweep, store, "r", progress=False, checkpoint_every=1e-9)
    assert store.load_cell(cell.key) and not checkpoint_path(tmp_path / "cells", cell.key).exists()
    collect_garbage(store)
    assert not orphan.exists()
