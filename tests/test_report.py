import pandas as pd
import pytest

from bench.reporting.grid import cell_text, summarize
from bench.reporting.publish import build_report
from bench.analysis import results_frame


def _cell(model, length, seed, status="unsolved", accuracy=0.1, **extra):
    return {"key": f"{model}{length}{seed}", "task": "adding", "task_version": 1, "task_params": {}, "model": model,
            "length": length, "seq_len": length, "seed": seed, "hidden": 8, "layers": 1, "params": 100,
            "steps_budget": 4000, "batch_size": 64, "lr": 1e-3, "clip": 1.0, "status": status,
            "solved": status == "solved", "accuracy": accuracy, "best_accuracy": accuracy, "loss": 0.1,
            "chance_accuracy": 0.0784, "chance_loss": 1 / 6, "loss_ratio": 0.6,
            "solve_criterion": "MSE < 0.01", "steps": 4000, "steps_to_solve": None, "sequences_to_solve": None,
            "diverged_step": None, "seconds": 1.0, "steps_per_second": 4000.0, "device": "cpu", "error": None,
            "min_span": length - length // 2, "short_memory_accuracy": 0.16, "short_memory_loss": 1 / 12,
            "loss_se": 0.003, "accuracy_se": 0.01, "curve": [], "provenance": {}, **extra}


CURVE = [{"step": 100, "train_loss": 0.2, "eval_loss": 0.1, "eval_accuracy": 0.3, "seconds": 1.0},
         {"step": 200, "train_loss": 0.1, "eval_loss": 0.01, "eval_accuracy": 0.9, "seconds": 2.0}]
RECORDS = [
    _cell("gru", 50, 0, "solved", 0.9, steps_to_solve=1000, loss=0.005, curve=CURVE),
    _cell("gru", 50, 1, "solved", 0.7, steps_to_solve=1400, loss=0.008),
    _cell("rnn", 50, 0, "unsolved", 0.08, loss_ratio=0.99, loss=0.99 / 6),
    _cell("rnn", 50, 1, "unsolved", 0.08, loss_ratio=0.996, loss=0.996 / 6),
    _cell("lstm", 50, 0, "diverged", None, diverged_step=12),
    _cell("lstm", 50, 1, "failed", None, error="RuntimeError: boom\ntraceback"),
]


def test_summary_aggregates_seeds_and_statuses():
    summary = summarize(results_frame(RECORDS)).set_index("model")
    assert summary.loc["gru", "accuracy"] == pytest.approx(0.8) and summary.loc["gru", "seeds"] == 2
    assert summary.loc["gru", "solved"] == 2 and summary.loc["gru", "steps_to_solve"] == 1200
    assert summary.loc["lstm", "statuses"] == "diverged,failed"


def test_grid_text_shows_spread_solves_chance_and_failures():
    summary = summarize(results_frame(RECORDS)).set_index("model")
    # two seeds: each seed's value, not a t interval (t = 12.7 would stretch it over [0, 1]), and the exact
    # interval on the probability that a seed solves
    assert cell_text(summary.loc["gru"]) == "✓ 0.800 seeds 0.700-0.900 (2/2 solved, P(solve) 0.16-1.00, 1,200 steps)"
    assert cell_text(summary.loc["rnn"]) == ("0.080 seeds 0.080-0.080 (0/2 solved, P(solve) 0.00-0.84, ≈chance, "
                                             "budget 4,000 hit)")
    assert cell_text(summary.loc["lstm"]) == "✗ diverged / ✗ failed"


def test_report_files_keep_every_cell_including_failures(tmp_path):
    frame = build_report(tmp_path, RECORDS, {"name": "t", "argv": ["bench", "run"], "cells": ["x"] * 6,
                                             "finished": 6}, svg=True)
    assert len(frame) == 6 and set(frame["status"]) == {"solved", "unsolved", "diverged", "failed"}
    report = (tmp_path / "report.md").read_text()
    assert "| model | L=50, span≥25 |" in report  # the length and the span it guarantees, never one for the other
    assert "| gru | ✓ 0.800 seeds 0.700-0.900 (2/2 solved, P(solve) 0.16-1.00, 1,200 steps) |" in report
    assert ("L is the sequence length T; every target reaches at least this many steps back: L=50: 25. Chance: "
            "accuracy 0.0784, loss 0.1667; short memory (blind to the inputs at the full span; at L=50): accuracy "
            "0.1600, loss 0.0833. Solved when MSE < 0.01.") in report
    assert report.count("| adding | lstm |") == 2  # both broken cells listed in the full table
    assert pd.read_csv(tmp_path / "results.csv")["error"].dropna().tolist() == ["RuntimeError: boom"]
    svg = (tmp_path / "plots" / "accuracy_vs_length.svg").read_text()
    assert "diverged" in svg and "failed" in svg and "budget hit" in svg and "chance" in svg
    assert "short memory" in svg and "sequence length T" in svg
    assert "horizon (≥ half of seeds solved)" in svg and "95% interval of the seed mean" in svg  # gru solved L=50
    assert "- gru: adding solved up to L=50 [none, 50] (2 seeds;" in report and "## Horizons" in report
    for plot in ("learning_curves", "heatmap", "steps_to_solve"):
        for suffix in (".png", ".svg"):
            assert (tmp_path / "plots" / f"{plot}{suffix}").stat().st_size > 1000, plot
    assert "not solved within budget" in (tmp_path / "plots" / "steps_to_solve.svg").read_text()
    heatmap = (tmp_path / "plots" / "heatmap.svg").read_text()
    assert "chance → perfect" in heatmap and "0.08 chance" in heatmap and "1.00" in heatmap  # ticks in accuracy


def test_plot_is_byte_stable_between_builds(tmp_path):
    build_report(tmp_path / "a", RECORDS, {"name": "t"}, svg=True)
    build_report(tmp_path / "b", RECORDS, {"name": "t"}, svg=True)
    for name in sorted(p.name for p in (tmp_path / "a/plots").iterdir()):
        assert (tmp_path / "a/plots" / name).read_bytes() == (tmp_path / "b/plots" / name).read_bytes()


def test_plots_are_drawn_once_per_input_and_again_when_a_cell_changes(tmp_path, monkeypatch):
    import bench.reporting.plots

    build_report(tmp_path, RECORDS, {"name": "t"})
    drawn = []
    real = bench.reporting.plots._draw_all
    monkeypatch.setattr(bench.reporting.plots, "_draw_all", lambda *args: drawn.append(1) or real(*args))
    build_report(tmp_path, RECORDS, {"name": "t", "finished": 6})  # the same cells: nothing to draw
    assert drawn == []
    changed = [{**RECORDS[0], "accuracy": 0.95}, *RECORDS[1:]]
    build_report(tmp_path, changed, {"name": "t"})
    assert drawn == [1]
    (tmp_path / "plots" / "heatmap.png").unlink()  # a plot gone: drawn again even from the same inputs
    build_report(tmp_path, changed, {"name": "t"})
    assert drawn == [1, 1] and (tmp_path / "plots" / "heatmap.png").exists()


def test_steps_to_solve_axis_is_labelled_at_the_steps_drawn_even_within_one_decade(tmp_path):
    build_report(tmp_path, RECORDS, {"name": "t"}, svg=True)
    svg = (tmp_path / "plots" / "steps_to_solve.svg").read_text()
    assert all(f"<!-- {label} -->" in svg for label in ("1,000", "1,400", "4,000"))  # solves and the budget


def _figures(monkeypatch, draw, *args):
    """The matplotlib figures a plot function draws, by stem name, instead of files."""
    import bench.reporting.plots

    drawn = {}
    monkeypatch.setattr(bench.reporting.plots, "_save", lambda figure, stem: drawn.__setitem__(stem.name, figure))
    draw(*args)
    return drawn


def test_broken_cells_are_drawn_apart_from_the_mean_each_with_its_own_marker(monkeypatch, tmp_path):
    from bench.reporting.plots import STATUS_MARKERS, plot_accuracy_vs_length

    figure = _figures(monkeypatch, plot_accuracy_vs_length, results_frame(RECORDS), tmp_path / "a")["a"]
    assert STATUS_MARKERS["diverged"][0] != STATUS_MARKERS["failed"][0]
    axis = figure.axes[0]
    mean_lines = [line for line in axis.get_lines() if len(line.get_xdata()) and line.get_linestyle() == "-"]
    # lstm has no test number at all: no mean line for it, only its two markers at 0
    assert len(mean_lines) == 2 and {round(float(y), 3) for line in mean_lines for y in line.get_ydata()} == {0.8, 0.08}
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert any(label.startswith("diverged") for label in legend) and any(label.startswith("failed") for label in legend)


def test_learning_curves_show_a_single_evaluation_and_mse_for_regression(monkeypatch, tmp_path):
    from bench.reporting.plots import plot_learning_curves

    one_point = [{"step": 5, "train_loss": 0.2, "eval_loss": 0.05, "eval_accuracy": 0.3, "seconds": 1.0}]
    copy_cell = {**RECORDS[1], "task": "copy", "key": "c", "curve": one_point, "chance_accuracy": 0.1}
    figure = _figures(monkeypatch, plot_learning_curves, [RECORDS[0], copy_cell], tmp_path / "c")["c"]
    adding_axis, copy_axis = figure.axes[0], figure.axes[1]
    assert adding_axis.get_yscale() == "log" and "MSE" in adding_axis.get_ylabel()
    assert [float(y) for y in adding_axis.get_lines()[0].get_ydata()] == [0.1, 0.01]  # eval_loss, not accuracy
    figure.canvas.draw()
    labels = [tick.get_text() for tick in adding_axis.get_yticklabels() + adding_axis.get_yticklabels(minor=True)]
    assert {"0.01", "0.1"} <= set(labels) and not any("e-" in label or "10^" in label for label in labels)
    dots = [line for line in copy_axis.get_lines() if line.get_marker() == "o"]
    assert copy_axis.get_yscale() == "linear" and [float(y) for line in dots for y in line.get_ydata()] == [0.3]


@pytest.mark.parametrize("width", [80, 120])
def test_the_terminal_grid_fits_the_terminal_and_wide_shows_everything(width):
    from bench.cli.reports import summary_table

    many = [_cell(model, length, seed, "solved" if seed else "unsolved", 0.5 + seed / 10,
                  steps_to_solve=100 * length if seed else None, task=task)
            for task in ("adding", "copy") for model in ("lstm-1997:input_bias=-3/-6", "gru", "rnn")
            for length in (10, 20, 40, 80, 160, 320, 640) for seed in range(3)]
    text = summary_table(many, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "L=640" in text and "lstm-1997:input_bias=-3/-6" in text and "--wide" in text
    wide = summary_table(many, width=width, wide=True)
    assert "P(solve)" in wide and max(len(line) for line in wide.splitlines()) > width


def test_both_reports_name_the_machines_their_cells_ran_on(tmp_path):
    machine = {"cpu": "AMD EPYC", "cpu_flags": "avx2", "gpu": None, "torch": "2.13.0", "numba": "0.60", "numpy": "2.0"}
    build_report(tmp_path, [{**record, "provenance": machine} for record in RECORDS], {"name": "t"})
    line = next(line for line in (tmp_path / "report.md").read_text().splitlines() if "machines" in line)
    assert "cpu AMD EPYC" in line and "torch 2.13.0" in line
    assert "cpu AMD EPYC" in (tmp_path / "report.html").read_text()
