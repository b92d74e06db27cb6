import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from bench.runner import SweepTooLarge, check_fits, estimate_cell_bytes, run_sweep
from bench.store import Store
from bench.sweep import Cell, Sweep, TrainConfig
from conftest import files_under


SLOW_SWEEP = ["--task", "delayed-recall", "--lengths", "5,6,7,8", "--models", "rnn", "--steps", "1500",
              "--eval-every", "1500", "--eval-size", "32", "--hidden", "8", "--batch-size", "8", "--no-progress"]
METRICS = ["key", "status", "accuracy", "best_valid_accuracy", "loss", "steps", "steps_to_solve", "params"]


def _bench(*args):
    return [sys.executable, "-m", "bench", "run", *map(str, args)]


def _stored_cells(root):
    """Finished cell files (a hidden *.tmp is a write in progress, or one a kill cut short)."""
    return [p for p in files_under(root / "cells") if p.suffix == ".json" and not p.name.startswith(".")]


def _wait_for_first_cell(root, process):
    deadline = time.time() + 120
    while not _stored_cells(root) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("jobs, stop", [(1, signal.SIGINT), (2, signal.SIGHUP), (2, signal.SIGTERM)])
def test_ctrl_c_or_a_closed_terminal_keeps_finished_cells_writes_partial_tables_and_resumes(tmp_path, jobs, stop):
    args = _bench(*SLOW_SWEEP, "--jobs", jobs, "--out", tmp_path, "--name", "cut")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_first_cell(tmp_path, process)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr and "interrupted" in stderr, stderr[-2000:]
    finished = len(_stored_cells(tmp_path))
    assert 1 <= finished < 4
    run = tmp_path / "runs" / "cut"
    assert len(pd.read_csv(run / "results.csv")) == finished
    assert json.loads((run / "manifest.json").read_text())["finished"] == finished
    again = subprocess.run(args, capture_output=True, text=True)
    assert "Traceback" not in again.stderr
    assert again.returncode == 0 and f"({4 - finished} computed, {finished} reused" in again.stdout


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_equals_an_uninterrupted_run(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    process = subprocess.Popen(_bench(*SLOW_SWEEP, "--jobs", 2, "--out", killed, "--name", "r"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_first_cell(killed, process)
    process.kill()
    process.wait()
    stored = _stored_cells(killed)
    assert 1 <= len(stored) < 4
    assert all(Store(killed).load_cell(p.stem) is not None for p in stored)  # every stored cell is whole
    resumed = subprocess.run(_bench(*SLOW_SWEEP, "--jobs", 2, "--out", killed, "--name", "r"), capture_output=True, text=True)
    assert resumed.returncode == 0 and f"({4 - len(stored)} computed, {len(stored)} reused" in resumed.stdout
    subprocess.run(_bench(*SLOW_SWEEP, "--jobs", 2, "--out", clean, "--name", "r"), check=True, capture_output=True)
    tables = [pd.read_csv(root / "runs/r/results.csv")[METRICS] for root in (killed, clean)]
    pd.testing.assert_frame_equal(*tables)


def test_runs_sharing_cells_compute_each_cell_once(tmp_path):
    store = Store(tmp_path)
    train = TrainConfig(steps=10, eval_every=5, eval_size=16)
    first = run_sweep(Sweep(("adding",), (4, 5), ("rnn",), train=train), store, "a", progress=False)
    second = run_sweep(Sweep(("adding",), (5, 6), ("rnn",), train=train), store, "b", progress=False)
    assert (first.computed, second.computed, second.reused) == (2, 1, 1)
    assert len(_stored_cells(tmp_path)) == 3


def test_fresh_recomputes_and_retry_failed_recomputes_only_failures(tmp_path):
    store = Store(tmp_path)
    sweep = Sweep(("adding",), (4, 5), ("rnn",), train=TrainConfig(steps=10, eval_every=5, eval_size=16))
    run_sweep(sweep, store, progress=False)
    record = store.load_cell(sweep.expand()[0].key)
    store.save_cell({**record, "status": "failed", "error": "simulated"})
    assert run_sweep(sweep, store, progress=False).computed == 0  # a failure is kept, not silently retried
    assert run_sweep(sweep, store, progress=False, retry_failed=True).computed == 1
    assert store.load_cell(record["key"])["status"] != "failed"
    assert run_sweep(sweep, store, progress=False, fresh=True).computed == 2


def test_memory_estimate_grows_with_length_and_refuses_what_cannot_fit():
    short, long = Cell("copy", 100, "lstm", 0), Cell("copy", 10_000, "lstm", 0)
    # memory is linear in the sequence length (10020 / 120 steps)
    assert estimate_cell_bytes(long) / estimate_cell_bytes(short) == pytest.approx(10020 / 120, rel=0.01)
    check_fits(Sweep(("copy",), (100,)))
    with pytest.raises(SweepTooLarge, match="copy L=9000000 lstm seed=0 needs about .* GiB"):
        check_fits(Sweep(("copy",), (100, 9_000_000)))


def test_run_sweep_library_call_without_cli(tmp_path):
    sweep = Sweep(("adding",), (4,), ("rnn",), (0, 1), train=TrainConfig(steps=10, eval_every=5, eval_size=16))
    summary = run_sweep(sweep, Store(tmp_path), progress=False)
    assert summary.computed == 2 and summary.reused == 0 and summary.failed == 0
    assert summary.run_dir == tmp_path / "runs" / sweep.default_name()
    assert run_sweep(sweep, Store(tmp_path), progress=False).computed == 0
