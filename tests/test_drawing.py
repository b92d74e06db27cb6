"""A run's tail does not wait for matplotlib: `bench run` writes its tables and reports, then a drawing
process draws the plots and writes report.html again with them embedded."""

import json
import time

from conftest import TINY_RUN

SWEEP = ["--task", "adding", "--lengths", "10", "--models", "rnn,gru", *TINY_RUN, "--steps", "4", "--eval-every", "2"]
PENDING = "The plots are being drawn by a separate process"


def _wait_for_plots(run, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = (run / "report.html").read_text()
        if "data:image/png;base64," in page:
            return page
        time.sleep(0.5)
    raise AssertionError(f"no plots after {seconds} s; drawing log: {(run / 'plots' / '.drawing.log').read_text()}")


def test_a_run_returns_before_its_plots_and_the_drawing_process_embeds_them(bench_cli, tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_RUN_PLOTS")  # the default
    result = bench_cli("run", *SWEEP, "--out", str(tmp_path), "--name", "bg")
    assert result.code == 0, result.stderr
    run = tmp_path / "runs" / "bg"
    assert (run / "results.csv").is_file() and (run / "report.md").is_file()
    assert PENDING in (run / "report.html").read_text() or "data:image/png" in (run / "report.html").read_text()
    page = _wait_for_plots(run)
    assert PENDING not in page and (run / "plots" / "accuracy_vs_length.svg").is_file()
    assert "Traceback" not in (run / "plots" / ".drawing.log").read_text()
    # the same command again reuses every cell: the plots are current, so the page embeds them at once
    again = bench_cli("run", *SWEEP, "--out", str(tmp_path), "--name", "bg")
    assert again.code == 0 and "data:image/png;base64," in (run / "report.html").read_text()


def test_a_drawing_process_overtaken_by_a_newer_report_leaves_it_alone(bench_cli, tmp_path, monkeypatch):
    from bench.reporting import report

    assert bench_cli("run", *SWEEP, "--out", str(tmp_path), "--name", "r", "--plots", "now").code == 0
    run = tmp_path / "runs" / "r"
    manifest_path = run / "manifest.json"
    real_draw = report._PlotInputs.draw

    def draw_while_a_newer_tail_lands(self):
        real_draw(self)
        manifest = json.loads(manifest_path.read_text())
        manifest_path.write_text(json.dumps({**manifest, "updated": manifest["updated"] + 1}))

    before = (run / "report.html").read_bytes()
    monkeypatch.setattr(report._PlotInputs, "draw", draw_while_a_newer_tail_lands)
    assert report.draw_plots_and_embed(run) is False
    assert (run / "report.html").read_bytes() == before
