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


def test_ctrl_c_keeps_finished_cells_writes_partial_tables_and_resumes(tmp_path):
    args = [sys.executable, "-m", "bench", "run", "--task", "delayed-recall", "--lengths", "5,6,7,8", "--models", "rnn",
            "--steps", "400", "--eval-every", "400", "--eval-size", "32", "--hidden", "8", "--batch-size", "8",
            "--out", str(tmp_path), "--name", "cut", "--no-progress"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not files_under(tmp_path / "cells") and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr and "interrupted" in stderr
    finished = len(files_under(tmp_path / "cells"))
    assert 1 <= finished < 4
    run = tmp_path / "runs" / "cut"
    assert len(pd.read_csv(run / "results.csv")) == finished
    assert json.loads((run / "manifest.json").read_text())["finished"] == finished
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 0 and f"({4 - finished} computed, {finished} reused" in again.stdout


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
