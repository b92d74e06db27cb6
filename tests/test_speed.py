"""`bench speed`: each figure against a baseline measured in the same run, one table, exit 1 on a missed
target. The figures themselves are machine-dependent: these tests hold the measuring, not the values."""

from bench import speed
from bench.speed import Row, table


def test_start_up_and_generator_rows_measure_against_their_baselines():
    rows = [*speed.startup_rows(1), *speed.generator_rows(64, 50, 1, ["adding", "delayed-recall"])]
    names = [row.figure for row in rows]
    assert names[:3] == ["start-up: bench --help", "start-up: bench tasks", "start-up: bench models"]
    help_row = rows[0]
    assert help_row.baseline > 0 and help_row.ratio == help_row.value / help_row.baseline
    assert help_row.ok == (help_row.value - help_row.baseline <= speed.START_UP_MARGIN)
    adding, recall = rows[3], rows[4]
    assert adding.baseline is not None and adding.ratio > 0  # the ported s4 generator in numpy
    assert recall.baseline is None and "no numpy reference" in recall.figure
    assert all(row.value > 0 for row in rows)


def test_the_loop_row_compares_the_harness_with_a_bare_loop():
    [row] = speed.loop_rows((20,), {20: 5}, 1, ("rnn",))
    assert row.figure == "training loop rnn L=20" and row.unit == "steps/s"
    assert abs(row.ratio - row.value / row.baseline) < 1e-9  # the harness's steps/s over the bare loop's


def _stepping_loop(name: str, log: list[str], steps: int = 4, fail_at: int | None = None):
    """A loop of `steps` training forwards of a tiny RNN, logging each step's start and end."""
    import torch

    from bench.models.recurrent import rnn

    def loop() -> None:
        model = rnn(2, 1, hidden=3)
        for step in range(steps):
            log.append(f"{name}{step}<")
            model(torch.zeros(1, 5, 2))  # the forward that starts a step: the turn passes here
            if step == fail_at:
                raise RuntimeError("loop broke")
            with torch.inference_mode():
                model(torch.zeros(1, 5, 2))  # an evaluation, which is not a step and keeps the turn
            log.append(f"{name}{step}>")
    return loop


def test_the_lockstep_loops_take_turns_a_step_each_and_never_run_at_once():
    log: list[str] = []
    first, second = speed.lockstep_step_seconds(_stepping_loop("a", log), _stepping_loop("b", log, steps=6))
    # each step's body (from its forward to the next) runs while the other loop waits
    assert log[:8] == ["a0<", "b0<", "a0>", "a1<", "b0>", "b1<", "a1>", "a2<"]
    assert log[8:] == ["b1>", "b2<", "a2>", "a3<", "b2>", "b3<", "a3>", "b3>", "b4<", "b4>", "b5<", "b5>"]
    assert len(first) == 3 and len(second) == 5  # one time per step after the first forward
    assert all(seconds > 0 for seconds in first + second)


def test_a_lockstep_loop_that_fails_lets_the_other_finish_and_raises():
    import pytest

    log: list[str] = []
    with pytest.raises(RuntimeError, match="loop broke"):
        speed.lockstep_step_seconds(_stepping_loop("a", log, fail_at=1), _stepping_loop("b", log))
    assert log[-1] == "b3>"  # the survivor ran to its end instead of waiting for a turn forever


def test_paired_takes_turns_and_gives_the_median_ratio_within_each_pair():
    order: list[str] = []
    base_times, times = iter([2.0, 4.0, 2.0, 9.0]), iter([1.0, 4.0, 4.0, 3.0])

    def timer(name, values):
        return lambda: order.append(name) or next(values)

    base, found, ratios = speed.paired(4, timer("base", base_times), timer("new", times))
    assert order == ["base", "new", "new", "base", "base", "new", "new", "base"]  # who goes first alternates
    assert (base, found) == (3.0, 3.5)  # each side's median
    assert ratios == [0.5, 1.0, 2.0, 3.0]  # 2/1, 4/4, 2/4, 9/3: a slow pair moves its own ratio, not the others'


def test_the_jobs_rows_judge_the_median_pair_and_show_the_spread(monkeypatch):
    seconds = {1: iter([10.0, 10.0, 60.0]), 2: iter([9.0, 12.0, 60.0])}
    monkeypatch.setattr(speed, "_time_shapes", lambda sweep: None)
    monkeypatch.setattr(speed, "_sweep_seconds", lambda sweep, jobs: next(seconds[jobs]))
    short, long = speed.jobs_rows(1, long=True)
    assert short.figure == "--jobs 2 vs --jobs 1, 6 1-step cells (2 pairs: 0.83-1.11x)"
    assert short.ratio == (10 / 9 + 10 / 12) / 2 and short.ok  # 0.97x: parity within the noise allowance
    assert long.figure == "--jobs 2 vs --jobs 1, 6 300-step cells (1 pair: 1.00-1.00x)"
    assert long.ratio == 1.0 and not long.ok  # 1.5x wanted


def test_a_missed_target_is_marked_and_exits_1(bench_cli, monkeypatch):
    rows = [Row("fast thing", 1.0, 2.0, "s", 0.5, "<= 1.5 s", True), Row("slow thing", 3.0, 1.0, "s", 3.0, "<= 1 s", False),
            Row("note", 1.0, None, "s", None, "", None)]
    monkeypatch.setattr(speed, "measure", lambda quick: rows)
    result = bench_cli("speed", "--quick")
    assert result.code == 1 and "MISSED" in result.stdout and "1 target(s) missed: slow thing" in result.stderr
    assert "slow thing 3 s 1 s 3.00x <= 1 s MISSED" in result.stderr  # each row as it was measured
    lines = table(rows).splitlines()
    assert lines[0].startswith("| figure") and set(lines[1]) <= {"|", "-"} and len(lines) == 5
    monkeypatch.setattr(speed, "measure", lambda quick: rows[:1])
    assert bench_cli("speed").code == 0


def test_the_report_rows_time_the_tail_with_its_plots_and_an_unchanged_rebuild():
    tail, rebuild = speed.report_rows(1)
    assert tail.figure.startswith("run's tail") and tail.target == f"<= {speed.TAIL_SECONDS} s"
    assert rebuild.figure.startswith("report rebuild") and all(row.baseline > 0 for row in (tail, rebuild))
    assert rebuild.value < tail.value  # an unchanged report does not draw its plots again