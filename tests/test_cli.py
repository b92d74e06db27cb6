import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import TINY_RUN, files_under, require_ray

BAD_INPUTS = [
    (["--task", "addin", "--lengths", "10"], "did you mean 'adding'"),
    (["--task", "adding", "--lengths", "10", "--models", "lsmt"], "did you mean 'lstm'"),
    (["--task", "adding", "--lengths", "10,abc"], "not a comma-separated list"),
    (["--task", "adding", "--lengths", ""], "not a comma-separated list"),
    (["--task", "adding", "--lengths", "0"], "outside 1.."),
    (["--task", "adding", "--lengths", "-5"], "outside 1.."),
    (["--task", "adding", "--lengths", "1"], "at least 2"),
    (["--task", "adding", "--lengths", "99999999999"], "outside 1.."),
    (["--task", "copy", "--lengths", "5000000"], "GiB available"),
    (["--task", "adding", "--lengths", "10", "--seeds", "x"], "not a comma-separated list"),
    (["--task", "adding", "--lengths", "10", "--seeds", "-1"], "outside 0.."),
    (["--task", "adding", "--lengths", "10", "--device", "cuda"], "no CUDA GPU"),
    (["--task", "adding", "--lengths", "10", "--device", "tpu"], "not one of auto"),
    (["--task", "adding", "--lengths", "10", "--steps", "0"], "--steps"),
    (["--task", "adding", "--lengths", "10", "--lr", "nan"], "--lr"),
    (["--task", "adding", "--lengths", "10", "--lr", "-1"], "--lr"),
    (["--task", "adding", "--lengths", "10", "--name", "../escape"], "--name"),
    (["--task", "adding", "--lengths", "10", "--bogus"], "No such option"),
    (["--lengths", "10"], "Missing option '--task'"),
    # task strings: NAME:key=value[,key=value], validated against what the task declares
    (["--task", "adding:", "--lengths", "10"], "nothing after ':'"),
    (["--task", "adding:markers", "--lengths", "10"], "is not key=value"),
    (["--task", "adding:markers=nowhere", "--lengths", "10"], "is not one of halves, anywhere"),
    (["--task", "adding:foo=1", "--lengths", "10"], "no parameter 'foo' (parameters: markers=halves|anywhere"),
    (["--task", "adding:markers=anywhere,markers=halves", "--lengths", "10"], "markers is given twice"),
    (["--task", "adding:markers=any\nwhere", "--lengths", "10"], "is not one of"),
    (["--task", "adding:markers=\x1b[31m", "--lengths", "10"], "is not one of"),
    (["--task", "adding:form=hs1997", "--lengths", "10"], "at least 20"),
    (["--task", "adding", "--lengths", "10", "--stop", "never"], "'never' is not one of 'solved', 'budget'"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(bench_cli, tmp_path, args, message):
    out = tmp_path / "out"
    result = bench_cli("run", *args, "--out", out, "--no-progress")
    assert result.code == 2, result
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_unwritable_output_directory_is_refused(bench_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--out", blocker / "sub")
    assert result.code == 2 and "cannot be written" in result.stderr and result.stderr.count("\n") == 1
    assert blocker.read_text() == "not a folder"


def test_console_script_bad_input_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench", "run", "--task", "nope", "--lengths", "5"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("bench: error:") and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_writes_tables_plot_report_and_manifest(bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding,delayed-recall", "--lengths", "5,10", "--models", "gru,rnn",
                       "--seeds", "0,1", *TINY_RUN, "--out", tmp_path, "--name", "demo")
    assert result.code == 0, result.stderr
    run = tmp_path / "runs" / "demo"
    assert str(run) in result.stdout and "16 cells (16 computed, 0 reused, 0 failed)" in result.stdout
    for name in ("results.csv", "results.parquet", "manifest.json", "report.md",
                 "plots/accuracy_vs_length.png"):
        assert (run / name).is_file(), name
    table = pd.read_csv(run / "results.csv")
    required = {"task", "task_version", "model", "length", "seq_len", "seed", "hidden", "params", "status", "accuracy",
                "best_valid_accuracy", "loss", "chance_accuracy", "chance_loss", "solved", "steps", "steps_to_solve",
                "seconds", "steps_per_second", "device", "key"}
    assert required <= set(table.columns) and len(table) == 16
    assert pd.read_parquet(run / "results.parquet")["key"].tolist() == table["key"].tolist()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["argv"][:4] == ["bench", "run", "--task", "adding,delayed-recall"]
    assert {"git_commit", "libraries"} <= set(manifest["environment"]) and len(manifest["cells"]) == 16
    assert (run / "plots/accuracy_vs_length.png").read_bytes()[:4] == b"\x89PNG"


def test_second_identical_run_recomputes_nothing_and_extension_computes_only_new(bench_cli, tmp_path):
    args = ["run", "--task", "delayed-recall", "--lengths", "5", "--models", "rnn", *TINY_RUN, "--out", tmp_path]
    first = bench_cli(*args)
    cell_files = files_under(tmp_path / "cells")
    stamps = [p.stat().st_mtime_ns for p in cell_files]
    second = bench_cli(*args)
    assert "1 computed, 0 reused" in first.stdout and "0 computed, 1 reused" in second.stdout
    assert [p.stat().st_mtime_ns for p in files_under(tmp_path / "cells")] == stamps
    wider = bench_cli(*args[:4], "5,6", *args[5:])
    assert "1 computed, 1 reused" in wider.stdout


def test_same_command_twice_gives_identical_metrics(bench_cli, tmp_path):
    args = ["run", "--task", "adding", "--lengths", "8", "--models", "lstm", *TINY_RUN, "--name", "same"]
    bench_cli(*args, "--out", tmp_path / "a")
    bench_cli(*args, "--out", tmp_path / "b")
    columns = ["key", "status", "accuracy", "best_valid_accuracy", "loss", "steps", "params"]
    first, second = (pd.read_csv(tmp_path / r / "runs/same/results.csv")[columns] for r in "ab")
    pd.testing.assert_frame_equal(first, second)


def test_failed_cell_is_recorded_and_exit_code_is_1(bench_cli, tmp_path, monkeypatch):
    from bench import models

    def broken(*args, **kwargs):
        raise RuntimeError("no such luck")

    monkeypatch.setitem(models.registry._items, "gru", broken)
    result = bench_cli("run", "--task", "adding", "--lengths", "5", "--models", "gru,rnn", *TINY_RUN, "--out", tmp_path)
    assert result.code == 1 and "FAILED: RuntimeError: no such luck" in result.stderr
    assert "--retry-failed recomputes them" in result.stderr
    table = pd.read_csv(next((tmp_path / "runs").iterdir()) / "results.csv")
    assert table.set_index("model").loc["gru", "status"] == "failed"
    assert table.set_index("model").loc["rnn", "status"] in ("solved", "unsolved")


def test_report_rebuilds_from_cells_without_training(bench_cli, tmp_path):
    bench_cli("run", "--task", "adding", "--lengths", "5", "--models", "rnn", *TINY_RUN, "--out", tmp_path, "--name", "r")
    run = tmp_path / "runs" / "r"
    (run / "report.md").unlink()
    (run / "results.csv").unlink()
    result = bench_cli("report", run)
    assert result.code == 0 and (run / "report.md").is_file() and len(pd.read_csv(run / "results.csv")) == 1
    assert bench_cli("report", tmp_path).code == 2


def test_listing_and_show(bench_cli):
    assert {"adding", "copy", "delayed-recall"} <= {line.split()[0] for line in bench_cli("tasks").stdout.splitlines()}
    assert {"rnn", "lstm", "gru"} <= {line.split()[0] for line in bench_cli("models").stdout.splitlines()}
    shown = bench_cli("show", "delayed-recall", "--length", "3")
    lines = shown.stdout.splitlines()
    assert shown.code == 0 and lines[-1].endswith("*") and len(lines) == 5 + 5  # 5 header lines, 5 steps
    assert "L=3 (distractors between cue and query), span >= 4" in shown.stdout
    assert "(query)" in lines[-1]  # the query step names its token
    assert bench_cli("show", "adding", "--length", "1").code == 2


def test_show_names_the_tokens_that_have_a_role():
    from bench.showing import describe_example
    import longdep_tasks as tasks

    steps = describe_example(tasks.get("copy"), 3, 0).splitlines()[5:]
    assert all("(blank)" in step for step in steps[:13])  # the target is blank until the recall
    assert "9 (delimiter)" in steps[12] and steps[13].split()[1:3] == ["8", "(blank)"] and steps[13].endswith("*")
    order = describe_example(tasks.get("temporal-order"), 10, 0).splitlines()
    assert "4 (B, start)" in order[5] and "(E, end)" in order[-1] and order[-1].split("(")[-1][:2] in ("XX", "XY", "YX", "YY")


def test_config_file_sets_options_and_flags_override(bench_cli, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text('task = ["adding:markers=anywhere", "copy"]\nlengths = [4, 5]\nmodels = ["rnn"]\nseeds = [0, 1]\n'
                      'steps = 20\neval-every = 10\neval_size = 16\njobs = 1\n')
    result = bench_cli("run", "--config", config, "--steps", "30", "--out", tmp_path / "r", "--name", "c", "--no-progress")
    assert result.code == 0, result.stderr
    table = pd.read_csv(tmp_path / "r/runs/c/results.csv")
    assert len(table) == 8 and set(table["steps_budget"]) == {30} and set(table["length"]) == {4, 5}
    assert set(table["task"]) == {"adding:markers=anywhere", "copy"}  # task strings work in sweep files


@pytest.mark.parametrize("text, message", [
    ('task = "adding"\nlengths = [4]\nbogus = 1\n', "unknown key 'bogus'"),
    ('task = "adding"\nlengths = [4, "x"]\n', "not a comma-separated list"),
    ('task = "adding"\nlengths = [4\n', "not valid TOML"),
    ('task = "adding"\nlengths = [4]\nsteps = -3\n', "--steps"),
])
def test_bad_config_file_is_exit_2_naming_the_problem(bench_cli, tmp_path, text, message):
    config = tmp_path / "sweep.toml"
    config.write_text(text)
    result = bench_cli("run", "--config", config, "--out", tmp_path / "r")
    assert result.code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()
    assert bench_cli("run", "--config", tmp_path / "missing.toml").code == 2


@pytest.mark.slow
def test_ray_executor_from_the_command_line(bench_cli, tmp_path):
    require_ray()
    result = bench_cli("run", "--task", "adding", "--lengths", "4,5", "--models", "rnn", "--executor", "ray",
                       *TINY_RUN[2:], "--out", tmp_path)
    assert result.code == 0 and "2 cells (2 computed, 0 reused, 0 failed)" in result.stdout, result.stderr


def test_exploding_training_is_recorded_as_diverged_with_its_step_and_shown(bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding", "--lengths", "5", "--models", "rnn", *TINY_RUN, "--lr", "1e5",
                       "--clip", "0", "--out", tmp_path, "--name", "boom")
    assert result.code == 0  # diverging is a result, not an error
    row = pd.read_csv(tmp_path / "runs/boom/results.csv").iloc[0]
    assert row["status"] == "diverged" and 1 <= row["diverged_step"] <= 40
    assert "✗ diverged" in (tmp_path / "runs/boom/report.md").read_text()
    assert "✗ diverged" in (tmp_path / "runs/boom/report.html").read_text()


def test_bench_check_passes_every_registered_task_and_model(bench_cli):
    import longdep_tasks as tasks
    from bench import models

    result = bench_cli("check")
    expected = len(tasks.names()) + len(models.registry.names())
    assert result.code == 0 and result.stdout.splitlines()[-1] == f"{expected} passed, 0 failed"
    assert "✓ task temporal-order" in result.stdout and "✓ model lru" in result.stdout


def test_a_task_variant_runs_and_is_named_in_the_key_tables_and_reports(bench_cli, tmp_path):
    out = tmp_path / "out"
    for task in ("adding", "adding:markers=anywhere"):
        result = bench_cli("run", "--task", task, "--lengths", "8", "--models", "gru", *TINY_RUN, "--out", out)
        assert result.code == 0, result.stderr
    runs = {run.name: pd.read_csv(run / "results.csv") for run in (out / "runs").iterdir()}
    variant = next(frame for name, frame in runs.items() if "anywhere" in name)
    default = next(frame for name, frame in runs.items() if "anywhere" not in name)
    assert variant["task"].iloc[0] == "adding:markers=anywhere" and '"anywhere"' in variant["task_params"].iloc[0]
    assert variant["key"].iloc[0] != default["key"].iloc[0]  # both computed, neither reused for the other
    assert variant["min_span"].iloc[0] == 1 and default["min_span"].iloc[0] == 4
    report = next((out / "runs").glob("*anywhere*")).joinpath("report.md").read_text()
    assert "## adding:markers=anywhere" in report and "L=8, span≥1" in report


def test_tasks_json_states_peers_baselines_and_spans(bench_cli):
    import json

    result = bench_cli("tasks", "--json")
    specs = {spec["name"]: spec for spec in json.loads(result.stdout)}
    assert result.code == 0 and len(specs) >= 7
    for spec in specs.values():
        assert all(set(peer) == {"repo", "path", "variant", "differences"} for peer in spec["peers"])
        assert all({"chance", "short_memory", "min_span", "seq_len"} <= set(at) for at in spec["at"])
    adding = {at["length"]: at for at in specs["adding"]["at"]}
    assert adding[200]["min_span"] == 100 and adding[200]["short_memory"]["loss"] == pytest.approx(1 / 12)
    assert {peer["variant"] for peer in specs["adding"]["peers"]} == {"adding", "adding:markers=anywhere"}
    assert specs["temporal-order"]["at"][0]["short_memory"]["accuracy"] == 0.5


def test_check_and_show_take_task_strings(bench_cli):
    checked = bench_cli("check", "adding:form=hs1997", "--lengths", "20,40")
    assert checked.code == 0 and "✓ task adding:form=hs1997" in checked.stdout, checked.stdout
    shown = bench_cli("show", "temporal-order:form=pascanu", "--length", "20")
    assert shown.code == 0 and "L=20 (sequence length), span >= 16" in shown.stdout
    bad = bench_cli("check", "copy:delimiter=twice")
    assert bad.code == 2 and "is not one of once, repeat, recall" in bad.stderr


def _complete(words: str) -> list[str]:
    """What `bench`'s bash completion offers for the last word of `words`."""
    import os

    env = {**os.environ, "_BENCH_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    result = subprocess.run([sys.executable, "-m", "bench"], env=env, capture_output=True, text=True, timeout=60)
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_task_model_and_preset_names_tab_complete():
    assert _complete("bench run --task ad") == ["adding"]
    assert _complete("bench run --task adding --models rnn,l") == ["rnn,lru", "rnn,lstm", "rnn,lstm-1997", "rnn,lstm-chrono"]
    assert "hs1997-adding" in _complete("bench run --preset hs")


def test_every_option_can_come_from_a_bench_environment_variable(bench_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RUN_STEPS", "3")
    monkeypatch.setenv("BENCH_RUN_NAME", "from-env")
    result = bench_cli("run", "--task", "adding", "--lengths", "5", "--models", "rnn", "--eval-every", "1",
                       "--eval-size", "8", "--hidden", "4", "--jobs", "1", "--out", tmp_path)
    assert result.code == 0
    manifest = json.loads((tmp_path / "runs" / "from-env" / "manifest.json").read_text())
    assert manifest["sweep"]["train"]["steps"] == 3
    monkeypatch.setenv("BENCH_RUN_STEPS", "zero")
    bad = bench_cli("run", "--task", "adding", "--lengths", "5", "--out", tmp_path / "x")
    assert bad.code == 2 and bad.stderr.count("\n") == 1


def test_every_option_has_help_text():
    import click

    from bench.cli import cli

    missing = [f"{name} {param.opts[0]}" for name, command in cli.commands.items() for param in command.params
               if isinstance(param, click.Option) and not param.help]
    assert missing == []
