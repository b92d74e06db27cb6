"""Writing a run's outputs: results.csv/.parquet, plots/, report.md and report.html (and compare.html for
two runs), from the analysis of its stored cells (bench.analysis), each file written atomically.

A run's tail writes them all before the run returns, so a script or a user who opens them at once finds
them. Plots are PNG (SVG too on request: `bench report RUN --svg`) and are not drawn again when the files
there were drawn from the same inputs by the same code. The renderers (report, html, plots, compare) each
make one kind of output and import no other renderer; this module puts them together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import Analysis, analyse
from bench.claims import file_lock
from bench.reporting.html import render_compare, render_report
from bench.reporting.report import markdown_report
from bench.store import atomic_write, read_manifest, write_tables


def build_report(run_dir: Path, records: list[dict[str, Any]], manifest: dict[str, Any],
                 unless_rewritten: bool = False, svg: bool = False) -> pd.DataFrame | None:
    """Write results.csv/.parquet, plots/ (PNG, and SVG with `svg`), report.md and report.html for `records`
    into `run_dir`. With `unless_rewritten`, nothing is written (None returned) when the run's manifest was
    rewritten since `manifest` was read: a run finished meanwhile, and its report stands on newer cells."""
    analysis = analyse(records)
    frame, summary = analysis.frame, analysis.summary
    drawing = _PlotInputs(analysis, run_dir / "plots")
    with file_lock(run_dir / ".report.lock"):  # one writer of the report at a time
        if unless_rewritten and _rewritten_since(run_dir, manifest):
            return None
        write_tables(run_dir, frame)
        _write_generalisation(run_dir, records)
        drawing.draw(svg)
        manifest = with_machines(manifest, records)  # both reports name the machines their cells ran on
        atomic_write(run_dir / "report.md", markdown_report(frame, manifest, records, summary).encode())
        _write_page(run_dir, drawing, manifest)
    return frame


class _PlotInputs:
    """What a run's plots are drawn from: the selected setting per (task, model, L), like the grids."""

    def __init__(self, analysis: Analysis, folder: Path) -> None:
        self.frame, self.records, self.summary, self.folder = analysis.frame, analysis.records, analysis.summary, folder
        self.shown, self.cells = analysis.shown, analysis.cells

    def draw(self, svg: bool = False) -> None:
        """Draw the plot files (not again when current)."""
        if len(self.frame):
            from bench.reporting.plots import write_plots  # matplotlib and seaborn: only where plots are drawn

            write_plots(self.cells, self.records, self.shown, self.folder, svg)


def with_machines(manifest: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest with the `machines` line of the reports' headers: what hardware and software the cells ran on."""
    from bench.provenance import fingerprint_note

    return {**manifest, "machines": fingerprint_note({"run": records})}


def _write_page(run_dir: Path, drawing: _PlotInputs, manifest: dict[str, Any]) -> None:
    page = render_report(drawing.frame, drawing.records, drawing.summary, manifest, drawing.folder)
    atomic_write(run_dir / "report.html", page.encode())


def _rewritten_since(run_dir: Path, manifest: dict[str, Any]) -> bool:
    """Whether a run finished (and rewrote its manifest) since `manifest` was read from `run_dir`."""
    return read_manifest(run_dir).get("updated") != manifest.get("updated")


def _write_generalisation(run_dir: Path, records: list[dict[str, Any]]) -> None:
    from bench.reporting.generalisation import generalisation_frame

    table = generalisation_frame(records)
    if len(table):
        atomic_write(run_dir / "generalisation.csv", table.to_csv(index=False).encode())


def write_compare_html(path: Path, table: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame,
                       names: tuple[str, str]) -> None:
    """compare.html: the two runs' grids side by side and the difference grid."""
    from bench.reporting.compare import contrast_note, correction_note, marker_counts
    from bench.reporting.grid import select_settings, summarize

    across = contrast_note(table.attrs.get("contrasts", ()))
    page = render_compare(table, select_settings(summarize(a)), select_settings(summarize(b)), names,
                          f"{across + ' ' if across else ''}{marker_counts(table)}. {correction_note(table)}")
    atomic_write(path, page.encode())
