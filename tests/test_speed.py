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


def test_the_report_rows_time_the_tail_apart_from_drawing_the_plots():
    tail, drawing, rebuild = speed.report_rows(1)
    assert tail.figure.startswith("run's tail") and tail.target == f"<= {speed.REPORT_SECONDS} s"
    assert drawing.figure.startswith("plots drawn") and drawing.ok is None  # informational: off the tail
    assert rebuild.figure.startswith("report rebuild") and all(row.baseline > 0 for row in (tail, drawing, rebuild))
    assert tail.value < drawing.value  # the tail does not wait for matplotlib
