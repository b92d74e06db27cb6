import json

import pytest

from bench.reporting.compare import Gate, compare_runs
from bench.store import Store, write_json
from bench.analysis import results_frame


def _cell(model, length, seed, accuracy, status="unsolved", **extra):
    key = f"{extra.pop('run', 'a')}{model}{length}{seed}"
    return {"key": key, "task": "adding", "task_version": 1, "task_params": {"markers": "halves"}, "model": model,
            "length": length, "seed": seed, "hidden": 128, "layers": 1, "steps_budget": 4000, "batch_size": 64,
            "lr": 0.001, "clip": 1.0, "status": status, "accuracy": accuracy, "loss": 0.1, "loss_ratio": 0.5,
            "chance_accuracy": 0.0784, "solved": status == "solved", "steps_to_solve": None, "steps": 4000,
            "accuracy_se": None if accuracy is None else 0.0158,  # binomial error of 1000 test sequences
            "curve": [], "provenance": {}, **extra}


def _run(root, name, records):
    store = Store(root)
    for record in records:
        store.save_cell(record)
    write_json(store.run_dir(name) / "manifest.json", {"name": name, "cells": [r["key"] for r in records]})
    return store.run_dir(name)


BEFORE = [
    _cell("gru", 50, 0, 0.40), _cell("gru", 50, 1, 0.42),  # -> better
    _cell("lstm", 50, 0, 0.50), _cell("lstm", 50, 1, 0.52),  # -> worse
    _cell("rnn", 50, 0, 0.080), _cell("rnn", 50, 1, 0.090),  # -> within noise
    _cell("gru", 100, 0, 0.30), _cell("gru", 100, 1, 0.31),  # -> newly diverged
    _cell("lstm", 100, 0, None, "failed"), _cell("lstm", 100, 1, 0.2),  # -> fixed
    _cell("rnn", 100, 0, 0.1), _cell("rnn", 100, 1, 0.1),  # -> task version differs
    _cell("gru", 200, 0, 0.1),  # -> only in A
]
AFTER = [
    _cell("gru", 50, 0, 0.60, run="b"), _cell("gru", 50, 1, 0.62, run="b"),
    _cell("lstm", 50, 0, 0.30, run="b"), _cell("lstm", 50, 1, 0.31, run="b"),
    _cell("rnn", 50, 0, 0.075, run="b"), _cell("rnn", 50, 1, 0.095, run="b"),
    _cell("gru", 100, 0, 0.30, run="b"), _cell("gru", 100, 1, 0.1, "diverged", run="b"),
    _cell("lstm", 100, 0, 0.3, run="b"), _cell("lstm", 100, 1, 0.3, run="b"),
    _cell("rnn", 100, 0, 0.1, run="b", task_version=2), _cell("rnn", 100, 1, 0.1, run="b", task_version=2),
    _cell("rnn", 200, 0, 0.1, run="b"),  # -> only in B
]
EXPECTED = {("gru", 50): "better", ("lstm", 50): "worse", ("rnn", 50): "not significant",
            ("gru", 100): "newly diverged", ("lstm", 100): "fixed",
            ("rnn", 100): "not comparable (task_version 1 vs 2)", ("gru", 200): "only in A", ("rnn", 200): "only in B"}


def test_markers_on_constructed_cases():
    table = compare_runs(results_frame(BEFORE), results_frame(AFTER))
    assert {(r.model, r.length): r.marker for r in table.itertuples()} == EXPECTED
    row = table.set_index(["model", "length"]).loc[("gru", 50)]
    assert (row["accuracy_a"], row["accuracy_b"], row["difference"]) == pytest.approx((0.41, 0.61, 0.20))


def test_single_seed_changes_within_the_test_sets_binomial_error_are_noise():
    table = compare_runs(results_frame([_cell("gru", 5, 0, 0.50)]), results_frame([_cell("gru", 5, 0, 0.51, run="b")]))
    assert table["marker"].tolist() == ["not significant"]
    table = compare_runs(results_frame([_cell("gru", 5, 0, 0.50)]), results_frame([_cell("gru", 5, 0, 0.60, run="b")]))
    assert table["marker"].tolist() == ["better"]


def test_compare_command_prints_markers_and_gates_exit_code(bench_cli, tmp_path):
    a, b = _run(tmp_path, "a", BEFORE), _run(tmp_path, "b", AFTER)
    result = bench_cli("compare", a, b)
    assert result.code == 0 and "better" in result.stdout and "newly diverged" in result.stdout
    assert "1 better" in result.stdout and "1 worse" in result.stdout
    rows = bench_cli("compare", a, b, "--only-changed").stdout.splitlines()[3:-2]  # between header and counts, note
    assert len(rows) == 7 and not any(row.endswith("not significant") for row in rows)
    gated = bench_cli("compare", a, b, "--fail-on", "accuracy:-0.05")
    assert gated.code == 1 and "2 cell(s) broke --fail-on accuracy:-0.05" in gated.stderr  # lstm L=50, gru L=100
    assert bench_cli("compare", a, b, "--fail-on", "accuracy:-0.5").code == 1  # newly diverged still fails
    assert bench_cli("compare", a, a, "--fail-on", "accuracy:-0.05").code == 0


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "accuracy"], "expected accuracy:-DELTA"),
    (["--fail-on", "loss:-1"], "expected accuracy:-DELTA"),
    (["--fail-on", "accuracy:0.1"], "<= 0"),
    (["--fail-on", "accuracy:nan"], "<= 0"),
])
def test_bad_gate_is_exit_2(bench_cli, tmp_path, args, message):
    a = _run(tmp_path, "a", BEFORE)
    result = bench_cli("compare", a, a, *args)
    assert result.code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_compare_refuses_a_folder_that_is_not_a_run(bench_cli, tmp_path):
    a = _run(tmp_path, "a", BEFORE)
    result = bench_cli("compare", a, tmp_path)
    assert result.code == 2 and "not a bench run folder" in result.stderr


def test_gate_parse():
    assert Gate.parse("accuracy:-0.05") == Gate("accuracy", -0.05)


def test_compare_html_shows_both_grids_and_the_difference_grid(bench_cli, tmp_path):
    run_a, run_b = _run(tmp_path, "before", BEFORE), _run(tmp_path, "after", AFTER)
    page_path = tmp_path / "out" / "compare.html"
    assert bench_cli("compare", run_a, run_b, "--html", page_path).code == 2  # its folder does not exist
    assert not page_path.parent.exists()
    assert bench_cli("compare", run_a, run_b, "--html", tmp_path / "compare.html").code == 0
    page = (tmp_path / "compare.html").read_text()
    assert "<h3>A: before</h3>" in page and "<h3>B: after</h3>" in page and "<h3>B − A</h3>" in page
    assert page.count("<table class='grid sortable'>") == 3  # one task: grid A, grid B, differences
    assert "<td class='better' data-sort='0.200000'><span class='acc'>+0.200</span>" in page
    assert "<td class='worse'" in page and "<td class='newly'" in page
    assert "not comparable (task_version 1 vs 2)" in page and "only in B" in page


@pytest.mark.parametrize("setting, a, b", [("eval_every", 200, 100), ("eval_size", 1000, 200), ("stop", "solved", "budget"),
                                           ("time_limit", 0, 60), ("device", "cpu", "cuda:1"), ("model_version", 1, 2),
                                           ("protocol", 2, 3), ("task_params", {"markers": "halves"}, {"markers": "anywhere"})])
def test_any_setting_that_changes_numbers_makes_cells_not_comparable_and_is_named(setting, a, b):
    table = compare_runs(results_frame([_cell("gru", 5, 0, 0.5, **{setting: a})]),
                         results_frame([_cell("gru", 5, 0, 0.5, run="b", **{setting: b})]))
    marker = table["marker"].iloc[0]
    assert marker.startswith("not comparable") and setting.replace("device", "device_kind") in marker, marker


def test_a_gate_with_nothing_comparable_fails_and_says_why(bench_cli, tmp_path):
    a = _run(tmp_path, "a", [_cell("gru", 50, 0, 0.5)])
    b = _run(tmp_path, "b", [_cell("gru", 50, 0, 0.5, run="b", eval_size=50)])
    result = bench_cli("compare", a, b, "--fail-on", "accuracy:-0.05")
    assert result.code == 1 and "no cell of A and B was comparable" in result.stderr
    assert bench_cli("compare", a, b).code == 0  # without a gate it only reports


def test_compare_says_when_the_runs_came_from_different_hardware_or_software(bench_cli, tmp_path):
    machine = {"cpu": "AMD EPYC", "cpu_flags": "avx2", "gpu": None, "torch": "2.13.0", "numba": "0.60", "numpy": "2.0"}
    a = _run(tmp_path, "a", [_cell("gru", 50, 0, 0.5, provenance=machine)])
    b = _run(tmp_path, "b", [_cell("gru", 50, 0, 0.5, run="b", provenance={**machine, "cpu": "Intel Xeon"})])
    same = bench_cli("compare", a, a).stdout
    assert "all cells: cpu AMD EPYC" in same and "DIFFERENT" not in same
    different = bench_cli("compare", a, b).stdout
    assert "DIFFERENT hardware or software" in different and "cpu: A AMD EPYC; B Intel Xeon" in different


def test_swept_settings_are_compared_setting_by_setting():
    from bench.reporting.compare import compare_runs, format_table

    def cells(lr, accuracy):
        return [_cell("gru", 50, seed, accuracy, lr=lr, key=f"{lr}-{seed}") for seed in range(2)]

    a = results_frame(cells(1e-3, 0.5) + cells(1e-2, 0.9))
    b = results_frame(cells(1e-3, 0.5) + cells(1e-2, 0.2))
    table = compare_runs(a, b).set_index("setting")
    assert table.loc["lr 0.001", "marker"] == "not significant" and table.loc["lr 0.01", "marker"] == "worse"
    assert "gru (lr 0.01)" in format_table(table.reset_index())


def _lr_run(lr, lstm, run, **extra):
    """Cells of one lr: the GRU the same either way, the LSTM at `lstm`."""
    return [_cell(model, length, seed, accuracy, run=run, lr=lr, key=f"{run}{lr}{model}{length}{seed}", **extra)
            for model, accuracy in (("gru", 0.5), ("lstm", lstm)) for length in (50, 100) for seed in range(3)]


def test_runs_that_differ_in_a_setting_are_compared_across_it(bench_cli, tmp_path):
    from bench.reporting.compare import contrast_note

    table = compare_runs(results_frame(_lr_run(1e-3, 0.08, "a")), results_frame(_lr_run(3e-3, 0.99, "b")))
    markers = {(r.model, r.length): r.marker for r in table.itertuples()}
    assert markers == {("gru", 50): "not significant", ("gru", 100): "not significant",
                       ("lstm", 50): "better", ("lstm", 100): "better"}
    assert contrast_note(table.attrs["contrasts"]).startswith("Across lr 0.001 → 0.003")
    a, b = _run(tmp_path, "a", _lr_run(1e-3, 0.08, "a")), _run(tmp_path, "b", _lr_run(3e-3, 0.99, "b"))
    shown = bench_cli("compare", a, b)
    assert shown.code == 0 and "Across lr 0.001 → 0.003" in shown.stdout and "2 better" in shown.stdout
    assert json.loads(bench_cli("compare", a, b, "--json").stdout)["across"] == {"lr": [0.001, 0.003]}


def test_a_contrast_still_refuses_cells_that_differ_in_budget_or_evaluation():
    table = compare_runs(results_frame(_lr_run(1e-3, 0.08, "a", eval_size=1000)),
                         results_frame(_lr_run(3e-3, 0.99, "b", eval_size=200)))
    assert set(table["marker"]) == {"not comparable (eval_size 1000 vs 200)"}
    assert table.attrs["contrasts"][0].column == "lr"


def test_one_run_is_contrasted_across_a_setting_or_a_model_variant(bench_cli, tmp_path):
    cells = _lr_run(1e-3, 0.08, "a") + _lr_run(3e-3, 0.99, "a")
    variants = [_cell(model, 50, seed, accuracy, key=f"v{model}{seed}")
                for model, accuracy in (("lstm", 0.08), ("lstm:forget_bias=1", 0.97)) for seed in range(3)]
    run = _run(tmp_path, "one", cells + variants)
    within = bench_cli("compare", run, "--across", "lr")  # the run holds two lrs: A is the smaller
    assert within.code == 0 and "Across lr 0.001 → 0.003" in within.stdout and "2 better" in within.stdout
    named = json.loads(bench_cli("compare", run, "--across", "model=lstm,lstm:forget_bias=1", "--json").stdout)
    [row] = [row for row in named["rows"] if row["marker"] != "only in A" and row["marker"] != "only in B"
             and row["accuracy_b"] > 0.9]
    assert row["model"] == "lstm → lstm:forget_bias=1" and row["marker"] == "better" and row["length"] == 50


@pytest.mark.parametrize("args, message", [
    (["--across", "steps"], "cannot be contrasted"),
    (["--across", "lr=0.001,0.01"], "no cells with lr 0.01"),
    (["--across", "hidden"], "holds 1 value(s)"),
    (["--across", "lr=0.001"], "name two values"),
    (["--across", "model=lstm,lsmt"], "lsmt"),
])
def test_bad_across_is_one_line_exit_2(bench_cli, tmp_path, args, message):
    run = _run(tmp_path, "one", _lr_run(1e-3, 0.08, "a") + _lr_run(3e-3, 0.99, "a"))
    result = bench_cli("compare", run, *args)
    assert result.code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_compare_needs_two_runs_or_across(bench_cli, tmp_path):
    run = _run(tmp_path, "one", _lr_run(1e-3, 0.08, "a"))
    assert bench_cli("compare", run).code == 2
    assert bench_cli("compare", run, run, "--across", "lr").code == 2


@pytest.mark.parametrize("width", [80, 120])
def test_the_comparison_fits_the_terminal(bench_cli, tmp_path, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    a, b = _run(tmp_path, "a", BEFORE), _run(tmp_path, "b", AFTER)
    shown = bench_cli("compare", a, b).stdout
    assert max(map(len, shown.splitlines())) <= width
    assert "not comparable (task_version 1 vs 2)" in " ".join(shown.split())  # wrapped, never cut
    listed = bench_cli("ls", "--out", tmp_path).stdout
    assert max(map(len, listed.splitlines())) <= width
