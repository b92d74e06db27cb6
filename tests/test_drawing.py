"""A run returns with its outputs complete: the plots exist when `bench run` exits (PNG; SVG on request
with `bench report --svg`), and are not drawn again from the same inputs."""

from conftest import TINY_RUN

SWEEP = ["--task", "adding", "--lengths", "10", "--models", "rnn,gru", *TINY_RUN, "--steps", "4", "--eval-every", "2"]
PLOTS = ("accuracy_vs_length", "learning_curves", "heatmap", "steps_to_solve", "gradient_flow")


def test_plots_exist_when_bench_run_returns_and_svgs_come_on_request(bench_cli, tmp_path):
    assert bench_cli("run", *SWEEP, "--out", str(tmp_path), "--name", "r").code == 0
    run = tmp_path / "runs" / "r"
    assert all((run / "plots" / f"{stem}.png").is_file() for stem in PLOTS)
    assert not list((run / "plots").glob("*.svg")) and "data:image/png;base64," in (run / "report.html").read_text()
    drawn = {stem: (run / "plots" / f"{stem}.png").stat().st_mtime_ns for stem in PLOTS}
    assert bench_cli("run", *SWEEP, "--out", str(tmp_path), "--name", "r").code == 0  # same inputs: not redrawn
    assert drawn == {stem: (run / "plots" / f"{stem}.png").stat().st_mtime_ns for stem in PLOTS}
    assert bench_cli("report", str(run), "--svg").code == 0
    assert all((run / "plots" / f"{stem}.svg").is_file() for stem in PLOTS)
    assert "plots/heatmap.svg" in (run / "report.html").read_text()
