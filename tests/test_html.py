"""report.html: values, marks and links checked against the cells; then opened in headless Chromium."""

import base64
import json
import os
import re
import shutil
import subprocess

import pytest

from bench.reporting.html import score, score_colour
from bench.reporting.publish import build_report
from bench.store import Store, write_json
from test_report import RECORDS

MANIFEST = {"name": "t", "argv": ["bench", "run", "--task", "adding"], "cells": ["x"] * 6, "finished": 6,
            "sweep": {"device": "cpu", "threads": 1, "train": {"steps": 4000}},
            "environment": {"git_commit": "abc123", "libraries": {"torch": "2.13.0"}, "python": "3.11"}}


@pytest.fixture
def report_page(tmp_path):
    build_report(tmp_path, RECORDS, MANIFEST)
    return tmp_path / "report.html"


def test_a_one_seed_grid_says_so_once_and_wide_tables_keep_their_columns_behind_a_click(tmp_path):
    build_report(tmp_path, [r for r in RECORDS if r["seed"] == 0], MANIFEST)
    page = (tmp_path / "report.html").read_text()
    assert "n=1 seed per cell: no intervals." in page and "n=1, no interval" not in _grid_cell(page, "gru")
    every = page.split("<summary>Every column</summary>")[1]
    assert "short_memory_loss" in every.split("</details>")[0]  # every column, one click away
    shown = page.split("<h2 id='cells'>All cells</h2>")[1].split("<details>")[0]
    assert "short_memory_loss" not in shown and "accuracy" in shown


def _grid_cell(page, model, length=50):
    """The grid <td> linked to (adding, model, length)."""
    match = re.search(rf"<td[^>]*><a href='#cell-adding-{model}-{length}'>(.*?)</a></td>", page)
    assert match, f"no grid cell for {model} L={length}"
    return match.group(0)


def test_grid_cells_show_seed_mean_spread_chance_and_outcome(report_page):
    page = report_page.read_text()
    gru = _grid_cell(page, "gru")
    assert "0.800</span> seeds 0.700-0.900" in gru and "chance 0.078" in gru and "2/2 solved, P(solve) 0.16-1.00, 1,200 steps" in gru
    rnn = _grid_cell(page, "rnn")
    assert "0.080</span> seeds 0.080-0.080" in rnn and "budget hit" in rnn and "≈chance" in rnn
    lstm = _grid_cell(page, "lstm")
    assert "class='broken'" in lstm and "✗ diverged" in lstm and "✗ failed" in lstm and ">—</span>" in lstm
    assert f"background:{score_colour(score(0.8, 0.0784))}" in gru
    assert f"background:{score_colour(0.0)}" in rnn  # at chance: the bottom of the scale


def test_every_grid_cell_links_to_its_detail_with_curves_and_keys(report_page):
    page = report_page.read_text()
    links = set(re.findall(r"href='#(cell-[^']+)'", page))
    assert links == {"cell-adding-gru-50", "cell-adding-rnn-50", "cell-adding-lstm-50"}
    for anchor in links:
        assert page.count(f"id='{anchor}'") == 1
    detail = page[page.index("id='cell-adding-gru-50'"):].split("</section>")[0]
    assert "<polyline" in detail and "seed 0" in detail  # seed 0 has a curve
    assert "gru50" in detail and "100 parameters" in detail  # keys and parameter count
    assert "RuntimeError: boom" in page  # a failed cell's error is shown, not dropped


def test_page_is_self_contained_with_header_and_embedded_plots(report_page):
    page = report_page.read_text()
    assert "<code>bench run --task adding</code>" in page and "abc123" in page and "torch 2.13.0" in page
    assert not re.search(r"(src|href)=['\"](https?:)?//", page) and "<link" not in page
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) == 4
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data in images)


def test_report_open_flag_opens_the_page_in_a_browser(bench_cli, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    store = Store(tmp_path)
    for record in RECORDS:
        store.save_cell(record)
    write_json(store.run_dir("r") / "manifest.json", {"name": "r", "cells": [r["key"] for r in RECORDS]})
    result = bench_cli("report", store.run_dir("r"), "--open")
    assert result.code == 0 and opened == [(store.run_dir("r") / "report.html").absolute().as_uri()]


# --- a real browser -----------------------------------------------------------------------------------

# Injected after the page's own script: once loaded, draw every image, sort the all-cells table by accuracy, and leave
# the findings in an attribute that --dump-dom prints.
PROBE = """<script>
window.addEventListener('load', function () {
  function drawn(image) {  // decoded for real: its pixels can be drawn and are not all one colour
    if (!image.complete || image.naturalWidth === 0) { return false; }
    var canvas = document.createElement('canvas'), context = canvas.getContext('2d');
    canvas.width = 64; canvas.height = 64;
    context.drawImage(image, 0, 0, 64, 64);
    var pixels = context.getImageData(0, 0, 64, 64).data;
    for (var i = 4; i < pixels.length; i += 4) { if (pixels[i] !== pixels[0]) { return true; } }
    return false;
  }
  var images = Array.prototype.slice.call(document.images);
  var table = document.querySelector('#cells + .scroll table');
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var column = headers.findIndex(function (h) { return h.textContent === 'accuracy'; });
  headers[column].click();
  var sorted = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
    return Number(row.cells[column].getAttribute('data-sort') || row.cells[column].textContent);
  });
  var scrolled = Array.prototype.filter.call(document.querySelectorAll('div.scroll'), function (box) {
    return !box.closest('details:not([open])') && box.scrollWidth > box.clientWidth;  // shown, and wider than the window
  });
  document.body.setAttribute('data-probe', JSON.stringify({
    page_width: document.documentElement.scrollWidth, window_width: window.innerWidth, scrolled: scrolled.length,
    images: images.length, decoded: images.filter(drawn).length,
    grids: document.querySelectorAll('table.grid td a').length, sorted: sorted}));
});
</script></body>"""


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium (.ci/run); it is missing")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return found


def _headless(browser, tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    done = subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done, console


def _open_probed(browser, tmp_path, page_text):
    """Load the page (alone in a fresh folder: nothing beside it to lean on) with the probe appended."""
    alone = tmp_path / "alone" / "report.html"
    alone.parent.mkdir()
    alone.write_text(page_text.replace("</body>", PROBE, 1))
    done, console = _headless(browser, tmp_path, "--virtual-time-budget=10000", "--window-size=1280,2400", "--dump-dom",
                              alone.as_uri())
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    probe = json.loads(found.group(1).replace("&quot;", '"')) if found else None
    return probe, console


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report_page, tmp_path):
    browser = _chromium()
    probe, console = _open_probed(browser, tmp_path, report_page.read_text())
    assert console == []  # no errors, no warnings, nothing logged
    assert probe is not None, "the page did not run to the end of its scripts"
    assert probe["images"] == 4 and probe["decoded"] == 4
    assert probe["window_width"] == 1280 and probe["page_width"] <= 1280 and probe["scrolled"] == 0  # no sideways scroll
    assert probe["grids"] == 3  # gru, lstm and rnn at L=50
    numbers = [n for n in probe["sorted"] if n >= 0]  # -1 marks no accuracy
    assert len(numbers) == 4 and numbers == sorted(numbers)
    shot = tmp_path / "shot.png"
    _headless(browser, tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
              report_page.as_uri())
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.slow
def test_the_browser_check_catches_a_broken_page(report_page, tmp_path):
    browser = _chromium()
    broken = report_page.read_text().replace("base64,", "base64,AAAA", 1).replace(
        "<script>", "<script>console.error('probe: deliberate');", 1)
    probe, console = _open_probed(browser, tmp_path, broken)
    assert any("deliberate" in line for line in console)
    assert probe["decoded"] == 3
