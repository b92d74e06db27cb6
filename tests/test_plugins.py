"""Plug-ins written outside bench/: a --plugin file, an installed entry-point package, the template, and
broken plug-ins that the checker must reject by name. Each runs `python -m bench` in a subprocess so its
registrations do not leak into the other tests."""

import hashlib
import json
import shutil
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pandas as pd

REPO = Path(__file__).resolve().parent.parent

PLUGGED = '''
import numpy as np
from numba import njit, prange
from torch import nn

import longdep_tasks as tasks
from longdep_tasks._rng import randint, sample_key
from bench.models import register_model


@njit(parallel=True, cache=True)
def _kernel(stream, start, n, length):
    x = np.full((n, length + 1), 4, dtype=np.int64)
    y = np.zeros((n, length + 1), dtype=np.int64)
    mask = np.zeros((n, length + 1), dtype=np.bool_)
    for i in prange(n):
        symbol = randint(sample_key(stream, start + i), 0, 4)
        x[i, 0], y[i, length], mask[i, length] = symbol, symbol, True
    return x, y, mask


def _oracle(x, length):
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, length] = x[:, 0]
    return y


tasks.register(tasks.Task(
    name="first-of-four", version=1, description="recall the first of 4 symbols", kind="classify",
    inputs="tokens", n_inputs=5, n_outputs=4, seq_len=lambda length: length + 1,
    min_span=lambda length: length, kernel=_kernel, kernel_args=(), oracle=_oracle,
    chance_loss=lambda length: float(np.log(4)), chance_accuracy=0.25))


class RunningSum(nn.Module):
    """A causal bag of embeddings: enough to remember a first symbol."""

    def __init__(self, n_inputs, n_outputs, hidden, tokens):
        super().__init__()
        self.embed = nn.Embedding(n_inputs, hidden) if tokens else nn.Linear(n_inputs, hidden)
        self.out = nn.Linear(hidden, n_outputs)

    def forward(self, x):
        return self.out(self.embed(x).cumsum(1))


@register_model("running-sum", "cumulative sum of input embeddings")
def running_sum(n_inputs, n_outputs, hidden, layers=1, tokens=True):
    return RunningSum(n_inputs, n_outputs, hidden, tokens)
'''

SWEEP = ["--lengths", "4", "--steps", "60", "--eval-every", "30", "--eval-size", "64", "--hidden", "16",
         "--batch-size", "16", "--no-progress"]


def bench(*args, env=None, cwd=None):
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=300)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.slow
def test_plugin_file_adds_a_task_and_a_model_to_a_real_sweep(tmp_path):
    plugin = _write(tmp_path / "elsewhere" / "my_plugin.py", PLUGGED)
    done = bench("run", "--plugin", plugin, "--task", "first-of-four", "--models", "running-sum,gru",
                 "--jobs", "2", "--out", tmp_path / "results", *SWEEP)  # two worker processes import it too
    assert done.returncode == 0, done.stderr
    run_dir = next((tmp_path / "results" / "runs").iterdir())
    table = pd.read_csv(run_dir / "results.csv")
    assert sorted(table["model"]) == ["gru", "running-sum"] and set(table["task"]) == {"first-of-four"}
    assert table["status"].isin(["solved", "unsolved"]).all() and (table["chance_accuracy"] == 0.25).all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["plugins"][0]["path"] == str(plugin.resolve())
    checked = bench("check", "first-of-four", "running-sum", "--plugin", plugin)
    assert checked.returncode == 0 and "✓ task first-of-four" in checked.stdout and "✓ model running-sum" in checked.stdout
    plots = {"accuracy_vs_length.png", "learning_curves.png", "heatmap.png", "steps_to_solve.png"}
    assert plots <= {p.name for p in (run_dir / "plots").iterdir()}  # drawn before the run returned
    # the results root copied elsewhere and reported with no plug-in loaded: every plot again
    copied = tmp_path / "copied"
    shutil.copytree(tmp_path / "results", copied)
    shutil.rmtree(copied / "runs" / run_dir.name / "plots")
    reported = bench("report", copied / "runs" / run_dir.name)
    assert reported.returncode == 0, reported.stderr
    assert plots <= {p.name for p in (copied / "runs" / run_dir.name / "plots").iterdir()}
    assert "first-of-four" in (copied / "runs" / run_dir.name / "report.md").read_text()


@pytest.mark.slow
def test_installed_package_adds_task_and_model_through_entry_points(tmp_path):
    site = tmp_path / "site"
    _write(site / "bench_extra" / "__init__.py", PLUGGED)
    _write(site / "bench_extra-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: bench-extra\nVersion: 0.1\n")
    _write(site / "bench_extra-0.1.dist-info" / "entry_points.txt",
           "[bench.tasks]\nfirst = bench_extra\n\n[bench.models]\nrunning-sum = bench_extra:running_sum\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    listed = bench("tasks", env=env)
    assert listed.returncode == 0 and "first-of-four" in listed.stdout, listed.stderr
    done = bench("run", "--task", "first-of-four", "--models", "running-sum", "--jobs", "1",
                 "--out", tmp_path / "results", *SWEEP, env=env)
    assert done.returncode == 0, done.stderr
    assert "1 cells (1 computed" in done.stdout


def test_a_broken_entry_point_is_one_line_and_exit_2(tmp_path):
    site = tmp_path / "site"
    _write(site / "bench_broken-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: bench-broken\nVersion: 0.1\n")
    _write(site / "bench_broken-0.1.dist-info" / "entry_points.txt", "[bench.tasks]\nbroken = no_such_module\n")
    done = bench("run", "--task", "copy", "--lengths", "5", "--out", tmp_path / "r",
                 env={"PYTHONPATH": os.pathsep.join([str(site), str(REPO)])})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "entry point 'broken = no_such_module' (group bench.tasks) failed to load" in done.stderr
    assert not (tmp_path / "r").exists()


BROKEN = '''
import dataclasses
import numpy as np
import longdep_tasks as tasks
from torch import nn
from bench.models import register_model

recall = tasks.get("delayed-recall")


def _unseeded(stream, start, n, length):
    x, y, mask = recall.kernel(stream, start, n, length, 8, 8)
    x[:, 1] = 8 + np.random.randint(0, 8, size=n)  # randomness outside the sample's key
    return x, y, mask


tasks.register(dataclasses.replace(recall, name="wrong-shapes", seq_len=lambda length: length + 3))
tasks.register(dataclasses.replace(recall, name="unseeded", kernel=_unseeded, kernel_args=()))


class Peeks(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.embed, self.out = nn.Embedding(n_inputs, n_outputs), nn.Linear(n_outputs, n_outputs)

    def forward(self, x):  # the mean over ALL steps: the output at t sees the future
        return self.out(self.embed(x).mean(1, keepdim=True).expand(-1, x.shape[1], -1))


@register_model("peeks", "not causal")
def peeks(n_inputs, n_outputs, hidden, layers=1, tokens=True):
    return Peeks(n_inputs, n_outputs)
'''


def test_checker_rejects_broken_plugins_naming_the_problem(tmp_path):
    plugin = _write(tmp_path / "broken.py", BROKEN)
    done = bench("check", "wrong-shapes", "unseeded", "peeks", "--plugin", plugin, "--lengths", "9")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "✗ task wrong-shapes: 1 problem(s)" in lines
    assert any("x is int64[8, 11], declared int64[8, 12]" in line for line in lines)
    assert any("unseeded L=9: the same key gave different data (unseeded randomness?)" in line for line in lines)
    assert any("peeks (tokens): outputs before step 6 changed" in line and "(not causal)" in line for line in lines)
    assert lines[-1] == "0 passed, 3 failed"


def test_a_plugin_missing_a_field_fails_to_load_with_the_field_named(tmp_path):
    plugin = _write(tmp_path / "missing.py", '''
        import longdep_tasks as tasks

        recall = tasks.get("delayed-recall")
        tasks.register(tasks.Task(name="half-done", version=1, description="", kind="classify",
                                  inputs="tokens", n_inputs=3, n_outputs=2, seq_len=len, min_span=len,
                                  kernel=recall.kernel, kernel_args=(), oracle=recall.oracle,
                                  chance_loss=len))
        ''')
    done = bench("check", "half-done", "--plugin", plugin)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "failed to load (line 5): TypeError" in done.stderr and "'chance_accuracy'" in done.stderr
    unreadable = bench("run", "--plugin", tmp_path / "nope.py", "--task", "copy", "--lengths", "5")
    assert unreadable.returncode == 2 and "cannot read plug-in" in unreadable.stderr


def test_the_template_is_a_task_that_passes_the_checker():
    done = bench("check", "my-task", "--plugin", REPO / "tasks" / "_template.py")
    assert done.returncode == 0 and "✓ task my-task" in done.stdout, done.stdout + done.stderr
    source = (REPO / "tasks" / "_template.py").read_text()
    for field in ("name=", "version=", "kind=", "inputs=", "n_inputs=", "n_outputs=", "seq_len=", "min_span=",
                  "kernel=", "kernel_args=", "oracle=", "chance_loss=", "chance_accuracy=", "loss_on=",
                  "rule=", "tolerance=", "short_memory=", "min_length=", "params=", "options=", "make=", "peers="):
        line = next(line for line in source.splitlines() if line.strip().startswith(field))
        assert "#" in line, f"template field {field} has no comment"


EDITABLE = '''
from torch import nn
from bench.models import SequenceModel, register_model


@register_model("my-rnn", "a plug-in model that the user edits between runs")
def my_rnn(n_inputs, n_outputs, hidden, layers=1, tokens=False):
    core = nn.{cell}(n_inputs, hidden, num_layers=layers, batch_first=True)
    return SequenceModel(core, n_inputs, n_outputs, hidden, tokens)
'''


def test_a_plugin_edited_between_two_runs_is_recomputed_with_a_new_key(tmp_path, bench_cli):
    plugin = tmp_path / "my_model.py"
    args = ["run", "--plugin", plugin, "--task", "delayed-recall", "--models", "my-rnn", "--jobs", "1",
            "--out", tmp_path / "results", "--name", "mine", *SWEEP]
    keys = []
    for cell, computed in (("GRU", "1 computed, 0 reused"), ("LSTM", "1 computed, 0 reused"),
                           ("LSTM", "0 computed, 1 reused")):
        plugin.write_text(EDITABLE.format(cell=cell))
        result = bench_cli(*args)
        assert result.code == 0 and computed in result.stdout, result.stderr
        frame = pd.read_csv(tmp_path / "results" / "runs" / "mine" / "results.csv")
        keys.append(frame["key"].iloc[0])
        manifest = json.loads((tmp_path / "results" / "runs" / "mine" / "manifest.json").read_text())
        mine = [p["sha256"] for p in manifest["plugins"] if p["path"] == str(plugin.resolve())]
        assert mine == [hashlib.sha256(plugin.read_bytes()).hexdigest()]  # only the file as it is now
    assert keys[0] != keys[1] == keys[2]
    assert frame["params"].iloc[0] == 4 * 16 * (17 + 16 + 2) + 16 * 8 + 8  # the LSTM's count, not the GRU's
