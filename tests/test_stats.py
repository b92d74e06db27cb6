"""The statistics under every verdict, seed summary, horizon and comparison (bench/stats.py, bench/verdicts.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats as scipy_stats

from bench.stats import clopper_pearson, holm, normal_p_one_sided
from bench.analysis import results_frame


@pytest.mark.parametrize("k, n", [(0, 3), (3, 3), (1, 3), (2, 5), (0, 1), (7, 20), (50, 100)])
def test_clopper_pearson_matches_scipy(k, n):
    expected = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(k, n) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert clopper_pearson(0, 3)[1] == pytest.approx(0.708, abs=1e-3)


def test_holm_controls_the_family_and_keeps_order():
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]  # 0.01 <= 0.05/3; then 0.03 > 0.05/2
    assert holm([0.001, 0.02, 0.04]) == [True, True, True]
    assert holm([math.nan, 0.001]) == [False, True]
    assert normal_p_one_sided(1.6449) == pytest.approx(0.05, abs=1e-4)


def cell(**numbers):
    """A stored classification cell at chance accuracy 0.5 and chance loss ln 2, short memory equal to chance."""
    base = {"key": "k", "task": "t", "model": "m", "length": 10, "seed": 0, "status": "unsolved", "solved": False,
            "stop": "solved", "accuracy": 0.5, "accuracy_se": 0.005, "loss": math.log(2), "loss_se": 0.002,
            "chance_accuracy": 0.5, "chance_loss": math.log(2), "short_memory_accuracy": 0.5,
            "short_memory_loss": math.log(2), "loss_ratio": 1.0, "steps_budget": 4000}
    return {**base, **numbers}


def verdict(**numbers):
    return results_frame([cell(**numbers)])["verdict"].iloc[0]


def test_a_small_significant_gain_leaves_chance_and_a_small_insignificant_one_does_not():
    assert verdict(loss=math.log(2) * 0.97, loss_se=0.002) == "bridged"  # 3% below, 10 standard errors
    assert verdict(loss=math.log(2) * 0.97, loss_se=0.02) == "at chance"  # 3% below, 1 standard error
    assert verdict(loss=math.log(2) * 0.998, loss_se=0.0001) == "at chance"  # significant, under the 1% floor
    assert verdict(accuracy=0.53, accuracy_se=0.005) == "bridged"  # accuracy alone, 6 standard errors


def test_partial_memory_needs_chance_and_short_memory_apart_and_a_miscalibrated_bridge_is_bridged():
    partial = dict(short_memory_accuracy=0.75, short_memory_loss=0.5)
    assert verdict(accuracy=0.7, loss=0.55, **partial) == "partial memory"
    assert verdict(accuracy=0.9, loss=0.45, **partial) == "bridged"
    # overconfident: accuracy far beyond short memory, loss above chance: it carried the information
    assert verdict(accuracy=0.95, loss=1.2, **partial) == "bridged"


def test_solved_then_lost_keeps_its_solve_step_and_shows_the_final_test():
    from bench.reporting.grid import cell_text, summarize

    lost = cell(status="unsolved", solved=True, stop="budget", steps_to_solve=2175, final_solved=False,
                accuracy=0.61, loss=0.5, steps_budget=4000)
    frame = results_frame([lost])
    assert frame["verdict"].iloc[0] == "bridged" and frame["steps_to_solve"].iloc[0] == 2175
    text = cell_text(summarize(frame).iloc[0])
    assert "solved at 2,175, final test 0.61" in text and not text.startswith("✓")
    kept = results_frame([{**lost, "final_solved": True, "accuracy": 1.0, "loss": 0.0}])
    assert kept["verdict"].iloc[0] == "solved"


def test_few_seeds_show_each_seed_and_the_exact_solve_interval():
    from bench.reporting.grid import cell_text, summarize

    seeds = [cell(seed=s, accuracy=a, solved=a == 1.0, steps_to_solve=100 if a == 1.0 else None)
             for s, a in enumerate([0.25, 1.0, 1.0])]
    text = cell_text(summarize(results_frame(seeds)).iloc[0])
    assert "seeds 0.250-1.000" in text and "2/3 solved, P(solve) 0.09-0.99" in text and "[0.000, 1.000]" not in text


def test_compare_marks_cells_after_holm_and_says_so():
    from bench.reporting.compare import compare_runs, correction_note

    a = [cell(length=length, accuracy=0.5) for length in range(10, 30)]
    b = [cell(length=length, accuracy=0.5 + (0.03 if length == 10 else 0.011)) for length in range(10, 30)]
    table = compare_runs(results_frame(a), results_frame(b))
    # 0.011 is 1.56 standard errors: alone it would not count either; 0.03 (4.2 SE) survives 20 tests
    assert table.set_index("length").loc[10, "marker"] == "better"
    assert (table.set_index("length").drop(10)["marker"] == "not significant").all()
    assert "Holm's correction over the 20 comparable cell(s)" in correction_note(table)
    assert str(table["seeds_b"].dtype) == "Int64"  # counts, not floats, in compare --json


def test_a_span_of_one_says_that_bridged_means_beats_chance():
    from bench.reporting.grid import task_notes

    anywhere = results_frame([cell(task="adding:markers=anywhere", min_span=1, solve_criterion="rule")])
    assert "'bridged' here means beats chance" in task_notes(anywhere)
    halves = results_frame([cell(task="adding", min_span=5, solve_criterion="rule")])
    assert "beats chance" not in task_notes(halves)
