"""Seeds, horizons with their bootstrap interval, the adaptive horizon search, the selection protocol,
length generalisation and presets."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bench import presets
from bench.horizon import Horizon, horizons, mean_interval, solve_rate_interval, t95
from bench.reporting.grid import select_settings, summarize
from bench.search import candidate_lengths, find_horizons, gallop_then_bisect
from bench.store import Store
from bench.analysis import results_frame
from bench.sweep import ModelConfig, Sweep, TrainConfig
from bench.train import failed_record


def _cell(model, length, seed, solved, status=None, **extra):
    status = status or ("solved" if solved else "unsolved")
    return {"key": f"{model}-{length}-{seed}-{extra.get('lr', 1e-3)}", "task": "adding", "task_version": 2,
            "task_params": {}, "model": model, "length": length, "seed": seed, "hidden": 8, "layers": 1,
            "batch_size": 64, "lr": 1e-3, "status": status, "solved": solved,
            "accuracy": None if status == "failed" else (0.99 if solved else 0.15), "loss": 0.01 if solved else 0.17,
            "loss_se": 0.001, "chance_accuracy": 0.15, "chance_loss": 0.17, "loss_ratio": 0.1,
            "short_memory_accuracy": 0.16, "short_memory_loss": 0.08, "steps_budget": 4000, "steps": 4000, "min_span": length // 2,
            "valid_accuracy": 0.5, "valid_loss": 0.1, **extra}


def _grid(model, pattern, lengths=(10, 20, 40, 80)):
    """`pattern`: per length, the seeds' outcomes as a string: s solved, u unsolved, d diverged, f failed."""
    return [_cell(model, length, seed, mark == "s", {"s": "solved", "u": "unsolved", "d": "diverged",
                                                     "f": "failed"}[mark])
            for length, marks in zip(lengths, pattern) for seed, mark in enumerate(marks)]


def _horizon(records) -> Horizon:
    (found,) = horizons(results_frame(records))
    return found


def test_horizon_is_the_longest_length_at_least_half_the_seeds_solved():
    found = _horizon(_grid("gru", ["sss", "sss", "ssu", "uuu"]))
    assert (found.length, found.seeds) == (40, 3)
    assert found.text() .startswith("gru: adding solved up to L=40 [")


def test_a_tie_at_exactly_half_counts_as_solved():
    assert _horizon(_grid("gru", ["ss", "su", "uu", "uu"])).length == 20


def test_all_solved_says_the_horizon_may_lie_further_and_none_solved_names_the_range():
    assert "may lie further" in _horizon(_grid("gru", ["ss"] * 4)).text()
    found = _horizon(_grid("rnn", ["uu"] * 4))
    assert found.length is None and found.text() == "rnn: adding solved at none of L=10..80 (2 seeds)"


def test_the_headline_names_its_rule_and_shows_the_bridged_horizon_where_it_reaches_further():
    bridging = {"accuracy": 0.9, "loss": 0.02}  # beats short memory (0.08) and chance, short of the solve rule
    records = [{**cell, **(bridging if cell["length"] >= 20 else {})} for cell in _grid("gru", ["sss", "uuu", "uuu", "uuu"])]
    found = _horizon(records)
    assert (found.length, found.bridged.length) == (10, 80)
    assert found.text() == "gru: adding solved up to L=10 [none, 80], bridged up to L=80 [none, 80] (3 seeds)"
    assert "bridged" not in _horizon(_grid("gru", ["sss", "sss", "uuu", "uuu"])).text()


def test_diverged_seeds_count_as_unsolved_and_failed_cells_are_left_out():
    assert _horizon(_grid("gru", ["sss", "sdd", "uuu", "uuu"])).length == 10  # 1 of 3 solved at 20
    found = _horizon(_grid("gru", ["sss", "sff", "uuu", "uuu"]))  # 1 of the 1 that ran at 20
    assert found.length == 20 and found.failed == 2 and "2 failed cell(s) left out" in found.text()


def test_non_monotone_results_take_the_longest_solved_length_and_say_so():
    found = _horizon(_grid("gru", ["sss", "uuu", "sss", "uuu"]))
    assert found.length == 40 and found.unsolved_below == (20,) and "not monotone: unsolved at L=20" in found.text()


def test_one_seed_has_no_interval():
    found = _horizon(_grid("gru", ["s", "s", "u", "u"]))
    assert found.length == 20 and found.interval == "n=1, no interval" and "n=1, no interval" in found.text()


def test_the_horizon_interval_comes_from_each_lengths_solve_probability_and_brackets_the_estimate():
    rng = np.random.default_rng(5)
    limits = rng.integers(0, 5, size=12)  # 12 seeds, each solving up to its own length index
    solved = (np.arange(5)[:, None] <= limits[None, :]).astype(float)
    low, high = solve_rate_interval(solved)
    estimate = int(np.sort(limits)[5])  # at least half of 12 solved: the 6th largest limit
    assert low <= estimate <= high


def test_three_unanimous_seeds_never_give_a_zero_width_interval():
    """0 of 3 seeds at L=40 still allows a solve probability of 0.71 there; 3 of 3 only shows it above 0.29."""
    found = _horizon(_grid("gru", ["sss", "sss", "uuu", "uuu"]))
    assert (found.low, found.length, found.high) == (None, 20, 80)
    assert "solved up to L=20 [none, 80]" in found.text()
    many = _horizon(_grid("gru", ["s" * 12, "s" * 12, "u" * 12, "u" * 12]))
    assert (many.low, many.length, many.high) == (20, 20, 20)  # 12 of 12 and 0 of 12 are sure enough


def test_seed_interval_is_the_t_interval_of_the_mean():
    low, high = mean_interval(pd.Series([0.5, 0.7, 0.9]))
    assert (low, high) == pytest.approx((0.7 - t95(3) * 0.2 / 3 ** 0.5, 0.7 + t95(3) * 0.2 / 3 ** 0.5))
    assert np.isnan(mean_interval(pd.Series([0.5]))[0])


def test_summary_reports_the_share_of_seeds_solved_and_never_the_max():
    summary = summarize(results_frame(_grid("gru", ["ssu", "uuu", "uuu", "uuu"]))).set_index("length")
    assert summary.loc[10, "solved_share"] == pytest.approx(2 / 3)
    assert summary.loc[10, "accuracy"] == pytest.approx((0.99 * 2 + 0.15) / 3)


# --- selection protocol ----------------------------------------------------------------------------

def test_selection_follows_the_validation_split_never_the_test_split():
    # lr 0.01 validates better but tests worse: the selection must pick it anyway
    good_valid = [_cell("gru", 10, s, False, lr=1e-2, valid_accuracy=0.9, accuracy=0.3) for s in range(2)]
    good_test = [_cell("gru", 10, s, False, lr=1e-3, valid_accuracy=0.4, accuracy=0.95) for s in range(2)]
    shown = select_settings(summarize(results_frame(good_valid + good_test)))
    assert len(shown) == 1 and shown.iloc[0]["setting"] == "lr 0.01" and shown.iloc[0]["accuracy"] == pytest.approx(0.3)


def test_selection_does_not_read_test_columns(monkeypatch):
    frame = results_frame([_cell("gru", 10, 0, False, lr=lr, valid_accuracy=v) for lr, v in ((1e-2, 0.9), (1e-3, 0.4))])
    summary = summarize(frame)
    poisoned = summary.assign(accuracy=np.nan, accuracy_low=np.nan, accuracy_high=np.nan, solved=-1)
    assert select_settings(poisoned)["setting"].tolist() == select_settings(summary)["setting"].tolist()


# --- the adaptive search ---------------------------------------------------------------------------

class KnownHorizon:
    """A fake executor: a cell is solved exactly when its length is at most `horizon` (all seeds)."""

    def __init__(self, horizon):
        self.horizon, self.trained = horizon, 0

    def map(self, cells, on_progress=None):
        for cell in cells:
            self.trained += 1
            record = failed_record(cell, "")
            solved = cell.length <= self.horizon[cell.model]
            record.update(status="solved" if solved else "unsolved", solved=solved, error=None,
                          accuracy=1.0 if solved else 0.15, loss=0.0 if solved else 0.17, loss_se=0.001,
                          loss_ratio=0.0 if solved else 1.0, steps_to_solve=10 if solved else None)
            yield record


@pytest.mark.parametrize("known", [{"gru": 160, "rnn": 20, "lstm": 5}, {"gru": 2000, "rnn": 10, "lstm": 640}])
def test_adaptive_search_finds_the_grid_horizon_with_fewer_cells(tmp_path, known):
    from bench.runner import run_sweep

    candidates = candidate_lengths(10, 1000)
    sweep = Sweep(("adding",), candidates, ("gru", "rnn", "lstm"), (0, 1), ModelConfig(hidden=4),
                  TrainConfig(steps=5, eval_size=8))
    grid_executor = KnownHorizon(known)
    grid = run_sweep(sweep, Store(tmp_path / "grid"), "grid", grid_executor, progress=False)
    expected = {h.model: h.length for h in horizons(results_frame(grid.records))}

    search_executor = KnownHorizon(known)
    found = find_horizons(sweep, candidates, Store(tmp_path / "search"), search_executor, "search", progress=False)
    assert found.horizons == expected
    assert found.trained == search_executor.trained < grid_executor.trained == found.grid_cells
    stored = json.loads((found.run_dir / "horizon.json").read_text())
    assert stored["trained"] == found.trained and stored["grid_cells"] == len(candidates) * 3 * 2
    assert "horizon_search" in json.loads((found.run_dir / "manifest.json").read_text())
    assert {h.model: h.length for h in horizons(results_frame(found.records))} == expected


def test_adaptive_search_reuses_stored_cells(tmp_path):
    candidates = candidate_lengths(10, 320)
    sweep = Sweep(("adding",), candidates, ("gru",), (0,), ModelConfig(hidden=4), TrainConfig(steps=5, eval_size=8))
    find_horizons(sweep, candidates, Store(tmp_path), KnownHorizon({"gru": 40}), "a", progress=False)
    again = KnownHorizon({"gru": 40})
    found = find_horizons(sweep, candidates, Store(tmp_path), again, "b", progress=False)
    assert found.horizons == {"gru": 40} and again.trained == 0 and found.trained == 0


def test_gallop_then_bisect_equals_a_linear_scan_for_every_monotone_outcome():
    for count in range(1, 12):
        for horizon in range(-1, count):
            search, probes = gallop_then_bisect(count), 0
            index = next(search)
            try:
                while True:
                    probes += 1
                    index = search.send(index <= horizon)
            except StopIteration as done:
                assert done.value == horizon
            assert probes <= 2 * np.ceil(np.log2(count + 1)) + 1


# --- the CLI --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["run", "--task", "adding", "--lengths", "4", "--n-seeds", "0"], "--n-seeds"),
    (["run", "--task", "adding", "--lengths", "4", "--n-seeds", "2", "--seeds", "0,1"], "not both"),
    (["run", "--preset", "hs1997-adding2"], "did you mean hs1997-adding"),
    (["run", "--task", "adding", "--lengths", "4", "--params", "50"], "more than 5% away"),
    (["run", "--task", "adding", "--lengths", "4", "--params", "20k", "--hidden", "8"], "not both"),
    (["run", "--task", "adding", "--lengths", "4", "--params", "lots"], "not a parameter count"),
    (["run", "--task", "adding", "--lengths", "4", "--lrs", "0.1,nan"], "finite"),
    (["horizon", "--task", "adding", "--max-length", "5"], "below the smallest length"),
    (["horizon", "--task", "adding,copy", "--max-length", "50"], "give one task"),
])
def test_bad_horizon_seed_and_preset_input_is_one_line_exit_2(bench_cli, tmp_path, args, message):
    result = bench_cli(*args, "--out", tmp_path / "r")
    assert result.code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def _tiny(bench_cli, tmp_path, name, *args, command="run", task="delayed-recall"):
    """`bench COMMAND` on `task` with a 3-step budget, in tmp_path/runs/NAME; asserts exit 0."""
    result = bench_cli(command, "--task", task, *args, "--steps", "3", "--eval-every", "3",
                       "--eval-size", "16", "--out", tmp_path, "--name", name, "--no-progress", "--jobs", "1")
    assert result.code == 0, result.stderr
    return result


def test_n_seeds_sweeps_seeds_0_to_k_and_reports_show_intervals(bench_cli, tmp_path):
    result = _tiny(bench_cli, tmp_path, "n", "--lengths", "2", "--models", "gru", "--n-seeds", "3")
    table = pd.read_csv(tmp_path / "runs" / "n" / "results.csv")
    assert sorted(table["seed"]) == [0, 1, 2]
    assert "horizons (largest L at least half of the seeds solved" in result.stderr
    report = (tmp_path / "runs" / "n" / "report.md").read_text()
    assert "## Horizons" in report and "(3 seeds)" in report
    assert "(3 seeds)" in (tmp_path / "runs" / "n" / "report.html").read_text()


def test_hyperparameter_axes_and_eval_lengths_make_their_cells_tables_and_plot(bench_cli, tmp_path):
    _tiny(bench_cli, tmp_path, "h", "--lengths", "2", "--models", "rnn", "--lrs", "1e-3,1e-2", "--hiddens", "4,8",
          "--eval-lengths", "3,6")
    run = tmp_path / "runs" / "h"
    table = pd.read_csv(run / "results.csv")
    assert sorted(zip(table["hidden"], table["lr"])) == [(4, 1e-3), (4, 1e-2), (8, 1e-3), (8, 1e-2)]
    report = (run / "report.md").read_text()
    assert "Several settings were swept" in report and "## Every setting" in report and "selected: " in report
    generalisation = pd.read_csv(run / "generalisation.csv")
    assert sorted(set(generalisation["eval_length"])) == [3, 6] and len(generalisation) == 8
    assert generalisation["accuracy"].between(0, 1).all()
    assert "## Length generalisation" in report
    assert (run / "plots" / "length_generalisation.png").stat().st_size > 1000


def test_params_option_records_matched_counts(bench_cli, tmp_path):
    _tiny(bench_cli, tmp_path, "p", "--lengths", "2", "--models", "rnn,gru", "--params", "5k")
    table = pd.read_csv(tmp_path / "runs" / "p" / "results.csv")
    assert (abs(table["params"] / 5000 - 1) <= 0.05).all() and table["hidden"].nunique() == 2


def test_eval_lengths_leave_existing_keys_alone():
    from bench.sweep import Cell

    plain = Cell("adding", 10, "gru", 0)
    assert replace(plain, train=TrainConfig(eval_lengths=())).key == plain.key
    assert replace(plain, train=TrainConfig(eval_lengths=(20,))).key != plain.key


# --- presets --------------------------------------------------------------------------------------

def test_presets_expand_to_their_documented_cells(bench_cli):
    from bench.cli import cli

    expected = {"hs1997-adding": ("adding:form=hs1997", (100, 500, 1000),
                                  ("lstm-1997:input_bias=-3/-6", "lstm", "lstm:forget_bias=1"), 3),
                "hs1997-temporal-order": ("temporal-order", (100,),
                                          ("lstm-1997:input_bias=-2/-4", "lstm", "lstm:forget_bias=1"), 3),
                "bai2018-adding": ("adding:markers=anywhere", (600,), ("rnn", "lstm", "gru"), 3),
                "bai2018-copy": ("copy:delimiter=repeat", (1000,), ("rnn", "lstm", "gru"), 3)}
    assert set(expected) <= set(presets.presets())
    for name, (task, lengths, model_names, seeds) in expected.items():
        context = cli.commands["run"].make_context("run", ["--preset", name], obj={"argv": []})
        sweep = _planned(context)
        assert (sweep.tasks, sweep.lengths, sweep.models, sweep.seeds) == ((task,), lengths, model_names,
                                                                          tuple(range(seeds)))
        assert len(sweep.expand()) == len(lengths) * len(model_names) * seeds
        for cell in sweep.expand():
            if name.startswith("bai2018"):  # the paper's size: about 70K (adding) or 16K (copy) parameters
                target = 70_000 if "adding" in name else 16_000
                assert cell.train.stop == "budget" and sweep.params == target
    bai = _sweep_for("bai2018-copy")
    assert (bai.train.lr, bai.train.batch_size, bai.train.steps) == (5e-4, 32, 15650)


def _sweep_for(name, *args):
    from bench.cli import cli

    context = cli.commands["run"].make_context("run", ["--preset", name, *args], obj={"argv": []})
    return _planned(context)


def _planned(context):
    from bench.cli.options import plan_or_exit, request_from_options

    return plan_or_exit(request_from_options(context, context.params)).sweep


def test_command_line_options_override_a_preset():
    sweep = _sweep_for("hs1997-adding", "--lengths", "100", "--steps", "50", "--seeds", "7")
    assert sweep.lengths == (100,) and sweep.train.steps == 50 and sweep.seeds == (7,)


def test_every_published_number_names_its_source_and_a_registered_model():
    from bench import models

    for preset in presets.presets().values():
        assert preset.source and preset.differences and preset.published
        for row in preset.published:
            assert models.canonical(row.model) == row.model and row.model in preset.run["models"]
            assert row.where and row.value > 0
            assert row.length in preset.run["lengths"]


def test_preset_report_shows_published_beside_ours_with_chance():
    records = [_cell("lstm-1997:input_bias=-3/-6", 100, s, True, sequences_to_solve=60_000 + 1000 * s) for s in range(3)]
    records += [_cell("lstm", 100, s, False, accuracy=0.15) for s in range(3)]
    table = presets.comparison_table(results_frame(records), "hs1997-adding").reset_index()
    ours = table[(table["model"] == "lstm-1997:input_bias=-3/-6") & (table["L"] == 100)].iloc[0]
    assert ours["published"] == "74,000" and ours["ours"] == "60,000 / 61,000 / 62,000 (3 of 3 seeds solved)"
    assert ours["seeds solved"] == "3/3"
    assert ours["our test accuracy"] == "0.990 (chance 0.150)"
    plain = table[(table["model"] == "lstm") & (table["L"] == 100)].iloc[0]  # run beside it, not reported
    # unsolved seeds are censored at their budget, and the text says how far they got
    assert plain["published"] == "—" and plain["ours"] == "none of 3 seeds solved; 3 unsolved after 256,000"
    assert plain["source"] == "not reported"
    assert table[(table["model"] == "lstm-1997:input_bias=-3/-6") & (table["L"] == 500)].iloc[0]["ours"] == "not run"


def test_published_loss_sits_beside_the_chance_loss():
    records = [_cell("lstm", 1000, s, False, loss=0.0204, chance_loss=0.02039) for s in range(2)]
    table = presets.comparison_table(results_frame(records), "bai2018-copy").reset_index()
    row = table[table["model"] == "lstm"].iloc[0]
    assert (row["published"], row["chance"]) == ("0.0204", "0.02039")


def test_presets_command_lists_sources_and_differences(bench_cli):
    result = bench_cli("presets")
    assert result.code == 0 and "Table 7" in result.stdout and "differs:" in result.stdout
    assert "bai2018-copy  [needs a GPU for its full budget]" in result.stdout


def test_horizon_command_trains_stores_and_reports_its_cell_counts(bench_cli, tmp_path):
    result = _tiny(bench_cli, tmp_path, "hz", "--models", "rnn", "--min-length", "2", "--max-length", "8",
                   "--n-seeds", "2", "--hidden", "8", command="horizon")
    stored = json.loads((tmp_path / "runs" / "hz" / "horizon.json").read_text())
    assert stored["candidates"] == [2, 4, 8] and stored["grid_cells"] == 6
    assert f"trained {stored['trained']} cells" in result.stdout and "a grid over the 3 candidate lengths needs 6" in result.stdout
    assert "rnn: probed L=" in result.stderr and "## Horizons" in (tmp_path / "runs" / "hz" / "report.md").read_text()
    # the same search under its name resumes (nothing trained); another search, or a grid run, is refused
    again = _tiny(bench_cli, tmp_path, "hz", "--models", "rnn", "--min-length", "2", "--max-length", "8",
                  "--n-seeds", "2", "--hidden", "8", command="horizon")
    assert "trained 0 cells" in again.stdout
    before = {path: path.read_bytes() for path in (tmp_path / "runs" / "hz").iterdir() if path.is_file()}
    for args in (["horizon", "--max-length", "16", "--min-length", "2"], ["run", "--lengths", "2,4,8"]):
        clash = bench_cli(args[0], "--task", "delayed-recall", "--models", "rnn", *args[1:], "--n-seeds", "2",
                          "--hidden", "8", "--steps", "3", "--eval-every", "3", "--eval-size", "16", "--out", tmp_path,
                          "--name", "hz", "--no-progress", "--jobs", "1")
        assert clash.code == 2 and "'hz' already exists" in clash.stderr and clash.stderr.count("\n") == 1, args
    assert {path: path.read_bytes() for path in (tmp_path / "runs" / "hz").iterdir() if path.is_file()} == before


def test_a_gpu_preset_on_cpu_prints_its_expected_cost_then_runs_and_reports_published(bench_cli, tmp_path):
    result = _tiny(bench_cli, tmp_path, "bai", "--preset", "bai2018-adding", "--models", "rnn", "--n-seeds", "1",
                   "--lengths", "20", task="adding:markers=anywhere")  # short: fast; the published rows are at 600
    assert "needs a GPU for its full budget" in result.stderr and "it would take" in result.stderr
    report = (tmp_path / "runs" / "bai" / "report.md").read_text()
    assert "## Published beside ours (bai2018-adding)" in report and "| rnn | RNN | 600 | test loss | 0.177 | not run |" in report
    assert "What this run does differently from the paper:" in report
    assert json.loads((tmp_path / "runs" / "bai" / "manifest.json").read_text())["preset"] == "bai2018-adding"
