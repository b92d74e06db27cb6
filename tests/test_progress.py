import os
import pty
import subprocess
import sys

import pytest

from bench.progress import finished_line

RUN = [sys.executable, "-m", "bench", "run", "--task", "delayed-recall", "--lengths", "5", "--models", "rnn,gru",
       "--steps", "40", "--eval-every", "20", "--eval-size", "32", "--hidden", "8", "--batch-size", "8"]


def _run_on_terminal(args, cwd):
    """Run a command with a pseudo-terminal as stdout and stderr; return everything it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=follower, stderr=follower, cwd=cwd, env={**os.environ, "COLUMNS": "120"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return process.returncode, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_terminal_gets_a_progress_bar_with_eta_and_a_row_per_running_cell(tmp_path):
    code, output = _run_on_terminal([*RUN, "--jobs", "2", "--steps", "400", "--out", str(tmp_path)], tmp_path)
    assert code == 0, output
    assert "eta" in output and "\x1b[" in output and "cells" in output
    assert "delayed-recall L=5 gru seed=0:" in output  # the finished line
    rows = [line for line in output.split("\n") if "/400" in line]  # running-cell rows: step of 400
    assert any("rnn" in row for row in rows) and any("gru" in row for row in rows)


@pytest.mark.slow
def test_pipe_or_no_progress_gets_plain_lines_only(tmp_path):
    for extra in ([], ["--no-progress"]):
        piped = {name: value for name, value in os.environ.items() if name != "COLUMNS"}  # a log, not a terminal
        result = subprocess.run([*RUN, "--jobs", "1", "--out", str(tmp_path / str(len(extra))), *extra],
                                capture_output=True, text=True, cwd=tmp_path, env=piped)
        assert result.returncode == 0 and "\x1b[" not in result.stderr + result.stdout
        lines = [line for line in result.stderr.splitlines() if line.startswith("delayed-recall L=")]
        assert [line.split(":")[0] for line in lines] == ["delayed-recall L=5 rnn seed=0", "delayed-recall L=5 gru seed=0"]
        assert "delayed-recall (L = distractors between cue and query; test accuracy, chance 0.125, short memory 0.125; n=1 seed per cell: no intervals):" in result.stderr  # the summary table at the end


def test_finished_line_names_status_accuracy_and_chance():
    record = {"task": "adding", "length": 50, "model": "gru", "seed": 0, "status": "solved", "steps_to_solve": 900,
              "accuracy": 0.5, "chance_accuracy": 0.0784, "loss_ratio": 0.04, "seconds": 12.0, "steps": 900,
              "steps_budget": 4000}
    assert finished_line(record) == ("adding L=50 gru seed=0: solved at step 900, test accuracy 0.500 (chance 0.078), "
                                     "loss/chance 0.040, 12s")
    assert "diverged at step 7" in finished_line({**record, "status": "diverged", "diverged_step": 7})
    assert "FAILED: Boom" in finished_line({**record, "status": "failed", "error": "Boom\ntrace"})


def test_finished_line_names_the_short_memory_baseline_where_it_differs_from_chance():
    record = {"task": "adding", "length": 200, "model": "lstm", "seed": 0, "status": "unsolved", "steps": 4000,
              "steps_budget": 4000, "accuracy": 0.16, "chance_accuracy": 0.1536, "short_memory_accuracy": 0.16,
              "loss_ratio": 0.5, "seconds": 60.0}
    assert "(chance 0.154, short memory 0.160)" in finished_line(record)
