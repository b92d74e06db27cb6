"""Run folders as objects: a --name is never silently taken over, a copied folder never reports emptier
than it is, and `bench export` makes a folder that reads anywhere."""

import json
import shutil
import tarfile

import pandas as pd
import pytest

from conftest import TINY_RUN, files_under

SWEEP = ["--task", "adding", "--lengths", "10", "--models", "rnn,gru", *TINY_RUN, "--steps", "4", "--eval-every", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One finished 2-cell run in its own results root, run once for the module (read-only for tests)."""
    from bench.cli import cli

    root = tmp_path_factory.mktemp("results")
    with pytest.raises(SystemExit) as done:
        cli.main(["run", *SWEEP, "--out", str(root), "--name", "base"])
    assert done.value.code == 0
    return root


def _copy_root(finished_run, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(finished_run, root)
    return root


def test_a_name_taken_by_another_sweep_is_refused_and_nothing_is_written(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    before = {path: path.read_bytes() for path in files_under(root)}
    result = bench_cli("run", *SWEEP, "--lengths", "20", "--out", str(root), "--name", "base")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "'base' already exists" in result.stderr and "--force" in result.stderr
    assert {path: path.read_bytes() for path in files_under(root)} == before
    dry = bench_cli("run", *SWEEP, "--lengths", "20", "--out", str(root), "--name", "base", "--dry-run")
    assert dry.code == 2  # the plan is refused the same way


def test_the_same_sweep_under_its_name_resumes_and_force_replaces(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    again = bench_cli("run", *SWEEP, "--out", str(root), "--name", "base")
    assert again.code == 0 and "0 computed, 2 reused" in again.stdout
    forced = bench_cli("run", *SWEEP, "--lengths", "20", "--out", str(root), "--name", "base", "--force")
    assert forced.code == 0
    manifest = json.loads((root / "runs" / "base" / "manifest.json").read_text())
    assert manifest["sweep"]["lengths"] == [20]
    assert len(list((root / "cells").rglob("*.json"))) == 4  # the first sweep's cells are kept


def test_a_copied_run_folder_refuses_to_report_or_compare_and_keeps_its_report(bench_cli, finished_run, tmp_path):
    moved = tmp_path / "elsewhere" / "base"
    shutil.copytree(finished_run / "runs" / "base", moved)
    before = {path: path.read_bytes() for path in files_under(moved)}
    for args in (["report", str(moved)], ["compare", str(moved), str(finished_run / "runs" / "base")],
                 ["export", str(moved), "--archive", str(tmp_path / "out.tar.gz")]):
        result = bench_cli(*args)
        assert result.code == 2, args
        assert result.stderr.count("\n") == 1 and "0 of its 2 finished cells are reachable" in result.stderr
    assert {path: path.read_bytes() for path in files_under(moved)} == before
    assert not (tmp_path / "out.tar.gz").exists()


def test_an_exported_run_reports_and_compares_the_same_anywhere(bench_cli, finished_run, tmp_path):
    original = finished_run / "runs" / "base"
    archive = tmp_path / "base.tar.gz"
    result = bench_cli("export", str(original), "--archive", str(archive))
    assert result.code == 0 and "2 cells packed" in result.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert "base/manifest.json" in names and sum(name.startswith("base/cells/") for name in names) == 2
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / "base"
    assert bench_cli("report", str(unpacked)).code == 0
    columns = ["key", "status", "accuracy", "loss"]
    assert pd.read_csv(unpacked / "results.csv")[columns].equals(pd.read_csv(original / "results.csv")[columns])
    compared = bench_cli("compare", str(unpacked), str(original), "--fail-on", "accuracy:-0.01")
    assert compared.code == 0 and "2 not significant" in compared.stdout


def test_export_bad_input_is_one_line(bench_cli, finished_run, tmp_path):
    for args in (["export", str(tmp_path), "--archive", str(tmp_path / "a.tar.gz")],
                 ["export", str(finished_run / "runs" / "base"), "--archive", str(tmp_path / "no" / "a.tar.gz")],
                 ["export", str(finished_run / "runs" / "base")]):
        result = bench_cli(*args)
        assert result.code == 2 and result.stderr.count("\n") == 1, args
    assert not list(tmp_path.iterdir())


def _age_cells(root, seconds=3600):
    import os
    import time

    for path in (root / "cells").glob("*/*.json"):
        os.utime(path, (time.time() - seconds,) * 2)


def test_ls_lists_runs_as_text_and_json(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    (root / "cells").joinpath("zz").mkdir()
    text = bench_cli("ls", "--out", str(root))
    assert text.code == 0 and "base" in text.stdout and "2/2" in text.stdout and "complete" in text.stdout
    runs = json.loads(bench_cli("ls", "--out", str(root), "--json").stdout)
    assert [(run["name"], run["tasks"], run["models"], run["lengths"], run["stored"], run["total"], run["status"])
            for run in runs] == [("base", ["adding"], ["rnn", "gru"], [10], 2, 2, "complete")]
    shutil.copytree(root / "runs" / "base", root / "runs" / ".gone.removing-1")  # an rm cut short
    next((root / "cells").glob("*/*.json")).unlink()
    after = json.loads(bench_cli("ls", "--out", str(root), "--json").stdout)
    assert [(run["name"], run["status"]) for run in after] == [("base", "incomplete")]


def test_rm_removes_the_run_and_gc_exactly_its_unshared_cells(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    assert bench_cli("run", *SWEEP, "--models", "gru", "--out", str(root), "--name", "gru-only").code == 0
    _age_cells(root)
    keys = {path.stem for path in (root / "cells").glob("*/*.json")}
    gru = set(json.loads((root / "runs" / "gru-only" / "manifest.json").read_text())["cells"])
    assert bench_cli("gc", "--out", str(root), "--dry-run").stdout.split() == []  # everything referenced
    assert bench_cli("rm", "base", "--out", str(root)).code == 0
    assert not (root / "runs" / "base").exists() and {p.stem for p in (root / "cells").glob("*/*.json")} == keys
    listed = bench_cli("gc", "--out", str(root), "--dry-run").stdout.splitlines()
    assert {line.split()[0] for line in listed} == keys - gru and len(listed) == 1
    assert " L=" in listed[0] and "seed=" in listed[0]  # which cell it is, not a bare key
    assert bench_cli("gc", "--out", str(root)).code == 0
    assert {path.stem for path in (root / "cells").glob("*/*.json")} == gru
    assert bench_cli("report", str(root / "runs" / "gru-only")).code == 0


def test_gc_keeps_fresh_cells_and_waits_for_a_running_sweep(bench_cli, finished_run, tmp_path):
    from bench.claims import Claims
    from bench.store import Store

    root = _copy_root(finished_run, tmp_path)
    assert bench_cli("rm", "base", "--out", str(root)).code == 0
    assert bench_cli("gc", "--out", str(root), "--dry-run").stdout == ""  # stored minutes ago: kept
    _age_cells(root)
    key = next((root / "cells").glob("*/*.json")).stem
    with Claims(Store(root)) as claims:
        assert claims.claim(key)
        busy = bench_cli("gc", "--out", str(root))
        assert busy.code == 2 and "a run is computing" in busy.stderr
    assert len(list((root / "cells").glob("*/*.json"))) == 2


def test_gc_is_refused_while_a_run_reuses_cells_and_a_starting_run_waits_for_gc(bench_cli, finished_run, tmp_path):
    """A run that only reuses stored cells claims none of them; the root lock keeps gc off its cells."""
    import threading

    from bench.claims import no_run_in_progress, run_in_progress
    from bench.store import Store

    root = _copy_root(finished_run, tmp_path)
    assert bench_cli("rm", "base", "--out", str(root)).code == 0
    _age_cells(root)
    with run_in_progress(Store(root)):  # a run between its first look at the store and its report
        refused = bench_cli("gc", "--out", str(root))
        assert refused.code == 2 and "a run is in progress" in refused.stderr
    assert len(list((root / "cells").glob("*/*.json"))) == 2
    started = threading.Event()

    def start_a_run():
        with run_in_progress(Store(root)):
            started.set()

    with no_run_in_progress(Store(root)) as idle:  # gc at work
        assert idle
        runner = threading.Thread(target=start_a_run)
        runner.start()
        assert not started.wait(0.5)  # the run waits for gc
    runner.join(10)
    assert started.is_set()


def test_run_commands_bad_input_is_one_line(bench_cli, finished_run, tmp_path):
    for args in (["ls", "--out", str(tmp_path / "none")], ["rm", "nope", "--out", str(finished_run)],
                 ["rm", "../runs", "--out", str(finished_run)], ["gc", "--out", str(tmp_path / "none")], ["rm"]):
        result = bench_cli(*args)
        assert result.code == 2 and result.stderr.count("\n") == 1, args
    assert (finished_run / "runs" / "base" / "manifest.json").is_file()


def test_json_outputs_parse_and_carry_the_tables_numbers(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    table = pd.read_csv(root / "runs" / "base" / "results.csv")
    result = bench_cli("run", *SWEEP, "--out", str(root), "--name", "base", "--json")
    assert result.code == 0
    summary = json.loads(result.stdout)  # the whole of stdout is one object
    assert (summary["cells"], summary["computed"], summary["reused"]) == (2, 0, 2)
    by_model = {row["model"]: row["accuracy"] for row in summary["grid"]}
    assert by_model == pytest.approx(dict(zip(table["model"], table["accuracy"])))
    compared = json.loads(bench_cli("compare", str(root / "runs" / "base"), str(root / "runs" / "base"),
                                    "--json").stdout)
    assert {row["model"]: row["accuracy_a"] for row in compared["rows"]} == pytest.approx(by_model)
    assert compared["markers"] == "2 not significant"
    assert {model["name"] for model in json.loads(bench_cli("models", "--json").stdout)} >= {"rnn", "lstm", "gru"}


@pytest.mark.parametrize("extra, flag", [(["--ray-address", "auto"], "--ray-address"),
                                         (["--cpus-per-cell", "2"], "--cpus-per-cell"),
                                         (["--executor", "ray", "--jobs", "2"], "--jobs"),
                                         (["--cells-per-gpu", "4", "--device", "cpu"], "--cells-per-gpu")])
def test_options_that_would_do_nothing_are_refused(bench_cli, tmp_path, extra, flag):
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", "rnn", *extra, "--out", tmp_path / "r")
    assert result.code == 2 and result.stderr.count("\n") == 1 and flag in result.stderr
    assert not (tmp_path / "r").exists()


def test_the_docs_api_example_runs(tmp_path, monkeypatch):
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    example = page.split("<!-- api-example -->\n```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/api.md", "exec"), {})
    frame = pd.read_csv(tmp_path / "results" / "runs" / "notebook" / "results.csv")
    assert len(frame) == 8 and (tmp_path / "results" / "runs" / "notebook" / "report.html").is_file()


def test_the_api_refuses_what_the_cli_refuses(tmp_path):
    from bench import api
    from bench.runner import NameTaken
    from bench.store import CellsUnreachable

    with pytest.raises(LookupError):
        api.run("adding", [10], models=["nope"], out=tmp_path)
    with pytest.raises(TypeError):
        api.run("adding", [10], models=["rnn"], out=tmp_path, stepz=3)
    run_dir = api.run("adding", [10], models=["rnn"], steps=2, eval_every=1, eval_size=8, hidden=4, out=tmp_path,
                      name="x")
    with pytest.raises(NameTaken):
        api.run("adding", [12], models=["rnn"], steps=2, eval_every=1, eval_size=8, hidden=4, out=tmp_path, name="x")
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved)
    with pytest.raises(CellsUnreachable):
        api.results(moved)


# --- damaged files: one line saying what to do, never a traceback, never an emptier report ---------------

@pytest.mark.parametrize("damage", ["truncated", "not json", "no cells"])
def test_a_damaged_manifest_is_one_line_on_every_command_that_reads_it(damage, bench_cli, finished_run, tmp_path):
    from bench import api
    from bench.store import DamagedRun

    root = _copy_root(finished_run, tmp_path)
    run = next((root / "runs").iterdir())
    manifest = run / "manifest.json"
    text = manifest.read_text()
    manifest.write_text({"truncated": text[:len(text) // 2], "not json": "\x00\x01", "no cells": "{}"}[damage])
    page = (run / "report.html").read_bytes()
    for args in (["report", run], ["compare", run, run], ["export", run, "--archive", tmp_path / "a.tar.gz"]):
        result = bench_cli(*args)
        assert result.code == 2 and result.stderr.count("\n") == 1, (args, result.stderr)
        assert "is damaged" in result.stderr and "bench rm" in result.stderr
    assert (run / "report.html").read_bytes() == page and not (tmp_path / "a.tar.gz").exists()
    listed = bench_cli("ls", "--out", root)
    assert listed.code == 0 and run.name in listed.stdout and "damaged" in listed.stdout
    gc = bench_cli("gc", "--out", root)
    assert gc.code == 2 and "is damaged" in gc.stderr and (root / "cells").exists()
    with pytest.raises(DamagedRun):
        api.results(run)
    assert bench_cli("rm", run.name, "--out", root).code == 0 and not run.exists()


def test_a_damaged_cell_file_says_to_rerun_the_sweep(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    run = next((root / "runs").iterdir())
    cell = next((root / "cells").glob("*/*.json"))
    cell.write_bytes(cell.read_bytes()[:100])
    result = bench_cli("report", run)
    warning, error = result.stderr.splitlines()  # the cell set aside, then what to do
    assert result.code == 2 and warning.startswith("warning: corrupt cell file") and "Traceback" not in result.stderr
    assert "damaged and set aside" in error and "re-run `bench run" in error


def test_an_unmakeable_out_or_archive_path_is_one_line(bench_cli, finished_run, tmp_path):
    run = next((_copy_root(finished_run, tmp_path) / "runs").iterdir())
    for args in (["run", "--task", "adding", "--lengths", "10", "--models", "rnn", "--out", "/proc/bench/x"],
                 ["export", run, "--archive", "/proc/bench.tar.gz"], ["compare", run, run, "--html", "/proc/c.html"]):
        result = bench_cli(*args)
        assert result.code == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args


def test_a_rerun_keeps_the_time_a_run_was_created_and_gc_leaves_nothing_behind(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    run = next((root / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    argv = manifest["argv"][1:]
    assert bench_cli(*argv[:argv.index("--out")], "--out", root, *argv[argv.index("--out") + 2:]).code == 0
    again = json.loads((run / "manifest.json").read_text())
    assert again["created"] == manifest["created"] and again["updated"] >= manifest["updated"]
    assert bench_cli("rm", run.name, "--out", root).code == 0
    _age_cells(root)
    assert bench_cli("gc", "--out", root).code == 0
    assert list((root / "cells").rglob("*")) == []  # no cell, no claim file, no empty folder


def test_ls_says_what_sets_each_run_apart(bench_cli, finished_run, tmp_path):
    root = _copy_root(finished_run, tmp_path)
    other = ["--task", "adding", "--lengths", "10", "--models", "rnn", *TINY_RUN, "--steps", "3", "--eval-every", "2",
             "--out", str(root)]
    assert bench_cli("run", *other, "--lrs", "1e-3,3e-3", "--n-seeds", "2", "--name", "swept").code == 0
    assert bench_cli("run", *other, "--lr", "0.003", "--name", "faster").code == 0
    runs = {run["name"]: run["settings"] for run in json.loads(bench_cli("ls", "--out", root, "--json").stdout)}
    assert runs["base"] == ["hidden 16", "steps 4", "batch_size 16", "eval_every 2", "eval_size 64"]
    assert runs["faster"] == ["hidden 16", "steps 3", "batch_size 16", "lr 0.003", "eval_every 2", "eval_size 64"]
    assert runs["swept"] == ["hidden 16", "steps 3", "batch_size 16", "lr 0.001,0.003", "eval_every 2", "eval_size 64",
                             "seeds 2"]
    text = bench_cli("ls", "--out", root).stdout.splitlines()
    assert text[0].split()[-1] == "settings" and any(line.endswith("seeds 2") for line in text)
