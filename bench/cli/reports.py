"""`bench report` and `bench compare`, and the end-of-run summary `bench run` prints (a table, or one
JSON object with --json). Registered on the main group by bench/cli/__init__.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench.cli.common import fitted, frame_records, reachable, writable_file_option


def summary_json(summary: Any) -> str:
    """The end-of-run summary as one JSON object: counts, the grid (one row per task, model, setting and
    length, as in report.md) and the horizon lines."""
    import json

    from bench.horizon import headline
    from bench.reporting.grid import select_settings, summarize
    from bench.analysis import results_frame

    frame = results_frame(summary.records)
    grid = select_settings(summarize(frame)) if len(frame) else frame
    return json.dumps({"run_dir": str(summary.run_dir), "cells": len(summary.records), "computed": summary.computed,
                       "reused": summary.reused, "failed": summary.failed,
                       "grid": frame_records(grid),
                       "horizons": headline(frame) if len(frame) else []}, indent=1)


def summary_table(records: list[dict[str, Any]], width: int | None = None, wide: bool = False) -> str:
    """The end-of-run grid per task (model x length), as plain text within `width` columns (by default the
    terminal's, or COLUMNS; output to a pipe or a log keeps whole lines): cells abbreviated, lengths split
    over blocks, long lines wrapped; `wide` prints every cell's whole text on one line per model."""
    import os
    import shutil
    import sys
    import textwrap

    from bench.analysis import results_frame
    from bench.horizon import headline
    from bench.reporting.grid import ONE_SEED_NOTE, one_seed, select_settings, shown_number, summarize
    from bench.showing import length_meaning

    if not records:
        return ""
    if width is None and not (sys.stderr.isatty() or os.environ.get("COLUMNS")):
        wide = True  # nobody's terminal to fit: a log keeps each grid row on one line
    width = width or shutil.get_terminal_size((120, 24)).columns
    frame = results_frame(records)
    summary = select_settings(summarize(frame))
    wrap = (lambda text, indent="": [text]) if wide else (
        lambda text, indent="": textwrap.wrap(text, width, subsequent_indent=indent + "    ") or [""])
    lines = wrap("horizons (largest L at least half of the seeds solved, with its 95% interval; 'bridged up to' "
                 "where cells that beat short memory without meeting the solve rule reach further):")
    for text in headline(frame):
        lines += wrap(f"  {text}", "  ")
    for task, rows in summary.groupby("task"):
        first = rows.iloc[0]
        one = f"; {ONE_SEED_NOTE[:-1]}" if one_seed(rows) else ""
        lines += wrap(f"{task} (L = {length_meaning(task, first.get('length_meaning'))}; test accuracy, chance "
                      f"{shown_number(first['chance_accuracy'], '.3f')}, short memory "
                      f"{shown_number(first['short_memory_accuracy'], '.3f')}{one}):")
        lines += _grid_lines(rows, width, wide)
    return "\n".join(lines) + "\n"


def _grid_lines(rows: Any, width: int, wide: bool) -> list[str]:
    """The model x length grid: whole texts when they fit (or `wide`), else compact cells in blocks of
    lengths that each fit `width`, with a legend."""
    import textwrap

    from bench.reporting.grid import COMPACT_NOTE, grid_texts

    grid = grid_texts(rows)
    if not wide and _table_width(grid) > width:
        grid = grid_texts(rows, compact=True)
        legend = f"({COMPACT_NOTE}; --wide for every cell's whole text)"
        return _blocks(grid, width) + textwrap.wrap(legend, width, initial_indent="  ", subsequent_indent="   ")
    return _blocks(grid, width if not wide else 10**9)


def _table_width(grid: Any) -> int:
    names = max(len(str(model)) for model in [*grid.index, "model"]) + 2
    return 2 + names + sum(max(len(str(v)) for v in [column, *grid[column]]) + 2 for column in grid.columns)


def _blocks(grid: Any, width: int) -> list[str]:
    """The grid's columns in consecutive blocks that each fit `width` (a cell too long alone is cut)."""
    names = max(len(str(model)) for model in [*grid.index, "model"]) + 2
    room = max(width - 2 - names, 8)
    widths = {column: min(max(len(str(v)) for v in [column, *grid[column]]) + 2, room) for column in grid.columns}
    blocks, current = [], []
    for column in grid.columns:
        if current and sum(widths[c] for c in current) + widths[column] > room:
            blocks.append(current)
            current = []
        current.append(column)
    blocks.append(current)
    lines = []
    for block in blocks:
        cut = lambda text, column: str(text)[:widths[column] - 1].ljust(widths[column])  # noqa: E731
        lines.append(("  " + "model".ljust(names) + "".join(cut(column, column) for column in block)).rstrip())
        for model, values in grid.iterrows():
            lines.append(("  " + str(model).ljust(names) + "".join(cut(values[c], c) for c in block)).rstrip())
    return lines


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--open", "open_page", is_flag=True, help="Open report.html in the web browser afterwards.")
@click.option("--svg", is_flag=True, help="Also write every plot as SVG beside its PNG (plots/*.svg).")
def report(run_dir: Path, open_page: bool, svg: bool) -> None:
    """Rebuild a run's tables, plots and reports (HTML, Markdown) from its stored cells (no training)."""
    from bench.runner import rebuild_report

    with reachable(run_dir):
        records = rebuild_report(run_dir, svg)
    page = run_dir.absolute() / "report.html"
    click.echo(f"report rebuilt from {len(records)} cells -> {page} and report.md")
    if open_page:
        _open_in_browser(page)


def _open_in_browser(page: Path) -> None:
    import webbrowser

    if not webbrowser.open(page.as_uri()):
        click.echo(f"bench: no web browser found; open {page} by hand", err=True)


class GateParam(click.ParamType):
    """`accuracy:-0.05` -> Gate."""

    name = "metric:delta"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from bench.reporting.compare import Gate

        try:
            return value if isinstance(value, Gate) else Gate.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


class AcrossParam(click.ParamType):
    """`lr`, `lr=0.001,0.003` or `model=lstm,lstm:forget_bias=1` -> (column, values or None)."""

    name = "setting[=A,B]"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from bench.registry import split_variant_list
        from bench.reporting.compare import ACROSS_COLUMNS

        if isinstance(value, tuple):
            return value
        name, _, values = str(value).partition("=")
        column = name.strip().replace("-", "_")
        if column not in ACROSS_COLUMNS:
            self.fail(f"{name!r} cannot be contrasted; choose from {', '.join(ACROSS_COLUMNS)}", param, ctx)
        if not values:
            return column, None
        parts = split_variant_list(values) if column == "model" else [v.strip() for v in values.split(",")]
        if len(parts) != 2 or not all(parts):
            self.fail(f"{value!r}: name two values, A's then B's (e.g. {column}=X,Y)", param, ctx)
        if column == "model":
            parts = [_canonical_model(part, param, ctx, self) for part in parts]
        return column, tuple(parts)


def _canonical_model(text: str, param: Any, ctx: Any, kind: click.ParamType) -> str:
    from bench import models
    from bench.registry import VariantError

    try:
        return models.canonical(text)
    except (LookupError, VariantError, TypeError, ValueError) as error:
        kind.fail(str(error).strip("'\""), param, ctx)


@click.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--across", type=AcrossParam(), default=None,
              help="Contrast one setting within RUN_A (no RUN_B): lr, hidden, batch_size, ... or model, with the two "
                   "values to contrast (lr=0.001,0.003; model=lstm,lstm:forget_bias=1), or none when the run holds "
                   "exactly two. Two runs are contrasted in whatever hyperparameters they differ as wholes.")
@click.option("--only-changed", is_flag=True, help="Hide rows whose marker is 'not significant'.")
@click.option("--fail-on", "gate", type=GateParam(), default=None,
              help="Exit 1 when a cell's accuracy dropped by more than this (e.g. accuracy:-0.05) "
                   "or a cell newly diverged or failed.")
@writable_file_option("--html", "html_path", default=None,
                      help="Also write the two grids side by side with the difference grid to this HTML file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the rows (both runs' numbers, difference, its standard error, marker) as one JSON object.")
def compare(run_a: Path, run_b: Path | None, across: Any, only_changed: bool, gate: Any, html_path: Path | None,
            as_json: bool) -> int:
    """Compare two runs cell by cell (grouped over seeds): better, worse, not significant, ...; or two values
    of one setting within a run (--across)."""
    from bench.reporting.compare import comparable, compare_runs, gate_failures
    from bench.reporting.publish import write_compare_html
    from bench.provenance import fingerprint_note
    from bench.analysis import results_frame

    records_a, records_b, names = _compared_records(run_a, run_b, across)
    frame_a, frame_b = results_frame(records_a), results_frame(records_b)
    contrasts = None
    if across is not None:
        frame_a, frame_b, contrasts = _split_or_exit(frame_a, *across)
    table = compare_runs(frame_a, frame_b, contrasts)
    if html_path is not None:
        write_compare_html(html_path, table, frame_a, frame_b, names)
    machines = fingerprint_note({"A": records_a, "B": records_b})
    _print_comparison(table, (run_a, run_b or run_a), only_changed, as_json, machines)
    if gate is not None and comparable(table).empty:
        click.echo(f"bench: --fail-on {gate.metric}:{gate.threshold:g} fails: no cell of A and B was comparable "
                   "(see the markers above)", err=True)
        return 1
    if gate is not None and len(failures := gate_failures(table, gate)):
        click.echo(f"bench: {len(failures)} cell(s) broke --fail-on {gate.metric}:{gate.threshold:g}", err=True)
        return 1
    return 0


def _compared_records(run_a: Path, run_b: Path | None, across: Any) -> tuple[list, list, tuple[str, str]]:
    """Both runs' cells (for --across, the one run's, split later), and the two sides' names."""
    from bench.reporting.compare import load_records

    if (run_b is None) == (across is None):
        raise click.UsageError("give two runs, or one run and --across SETTING (a contrast within it)")
    with reachable(run_a, *([run_b] if run_b else [])):
        records_a = load_records(run_a)
        records_b = load_records(run_b) if run_b else records_a
    if run_b is not None:
        return records_a, records_b, (run_a.name, run_b.name)
    return records_a, records_b, (f"{run_a.name} ({across[0]} A)", f"{run_a.name} ({across[0]} B)")


def _split_or_exit(frame: Any, column: str, values: tuple[str, str] | None) -> tuple[Any, Any, tuple]:
    from bench.reporting.compare import split_run

    try:
        frame_a, frame_b, contrast = split_run(frame, column, values)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--across'") from None
    return frame_a, frame_b, (contrast,)


def _print_comparison(table: Any, runs: tuple[Path, Path], only_changed: bool, as_json: bool, machines: str) -> None:
    from bench.reporting.compare import contrast_note, correction_note, format_table, marker_counts

    shown = table[table["marker"] != "not significant"] if only_changed else table
    contrasts = table.attrs.get("contrasts", ())
    if as_json:
        import json

        across = {c.column: [c.a, c.b] for c in contrasts}
        click.echo(json.dumps({"a": str(runs[0]), "b": str(runs[1]), "across": across, "rows": frame_records(shown),
                               "markers": marker_counts(table), "correction": correction_note(table),
                               "machines": machines}, indent=1))
        return
    for text in (contrast_note(contrasts), correction_note(table), format_table(shown), marker_counts(table), machines):
        if text:
            click.echo(fitted(text))


COMMANDS = (report, compare)
