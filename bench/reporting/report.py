"""report.md: a run's header, horizons, a model x length grid per task and every cell, as Markdown.

A renderer: it reads the analysed cells (bench.analysis) and imports no other renderer; bench.reporting.publish
writes it beside the tables, the plots and report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.horizon import with_settings
from bench.reporting.grid import (GRID_NOTE, ONE_SEED_NOTE, SELECTION_NOTE, grid_texts, header_items, one_seed,
                                  select_settings, selected_cells, settings_table, summarize, task_notes)


def markdown_report(frame: pd.DataFrame, manifest: dict[str, Any], records: list[dict[str, Any]] | None = None,
                    summary: pd.DataFrame | None = None) -> str:
    """report.md: header with provenance, the horizons, a model x length grid per task, then every cell."""
    from bench.horizon import HORIZON_RULE, headline

    lines = [f"# bench run `{manifest.get('name', '')}`", "", *_header_lines(manifest), ""]
    if frame.empty:
        return "\n".join(lines + ["No finished cells yet."]) + "\n"
    lines += ["## Horizons", "", HORIZON_RULE, "", *[f"- {text}" for text in headline(frame)], ""]
    lines += published_lines(frame, manifest)
    summary = summarize(frame) if summary is None else summary
    shown = select_settings(summary)
    several = len(shown) < len(summary)
    for task, cells in frame.groupby("task", sort=True):
        first = cells.iloc[0]
        one = ONE_SEED_NOTE if one_seed(shown[shown["task"] == task]) else ""
        lines += [f"## {task} (version {first['task_version']})", "", f"{task_notes(cells)} {GRID_NOTE} {one}".rstrip(), "",
                  *([SELECTION_NOTE, ""] if several else []), _grid_table(shown[shown["task"] == task]), ""]
    if several:
        lines += ["## Every setting", "", _plain_markdown(settings_table(summary).set_index("task").round(4)), ""]
    lines += [*length_generalisation_lines(records or []), *gradient_flow_lines(records or []),
              "## All cells", "", _cells_table(frame), ""]
    return "\n".join(lines)


def _header_lines(manifest: dict[str, Any]) -> list[str]:
    return [f"- {label}: `{text}`" if label == "command" else f"- {label}: {text}"
            for label, text in header_items(manifest)]


def task_grids(frame: pd.DataFrame) -> dict[str, str]:
    """Each task's model x length grid as a Markdown table (the selected setting, as in report.md)."""
    shown = select_settings(summarize(frame))
    return {task: _grid_table(shown[shown["task"] == task]) for task in sorted(frame["task"].unique())}


def _grid_table(summary: pd.DataFrame) -> str:
    return _plain_markdown(grid_texts(summary))


def _cells_table(frame: pd.DataFrame) -> str:
    columns = ["model", "length", "min_span", "seed", "status", "verdict", "accuracy", "chance_accuracy",
               "short_memory_accuracy", "loss", "loss_se", "chance_loss", "short_memory_loss", "steps",
               "steps_to_solve", "seconds"]
    frame = with_settings(frame)
    if frame["setting"].str.len().any():
        columns = ["model", "setting", *columns[1:]]
    table = frame.sort_values(["task", "model", "setting", "length", "seed"])[["task", *columns]].set_index("task")
    return _plain_markdown(table.round(4))


def _plain_markdown(table: pd.DataFrame) -> str:
    header = [table.index.name or "", *map(str, table.columns)]
    rows = [[str(index), *("" if pd.isna(v) else str(v) for v in values)]
            for index, values in zip(table.index, table.itertuples(index=False))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def published_lines(frame: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """For a preset run: the published numbers beside ours, with chance (nothing for other runs)."""
    from bench.presets import comparison_table

    table = comparison_table(frame, manifest.get("preset"))
    if table is None:
        return []
    from bench.presets import get

    preset = get(manifest["preset"])
    return [f"## Published beside ours ({preset.name})", "", f"{preset.title}. Source: {preset.source}.", "",
            _plain_markdown(table), "", "What this run does differently from the paper:", "",
            *[f"- {text}" for text in preset.differences], ""]


def length_generalisation_lines(records: list[dict[str, Any]]) -> list[str]:
    """Train at L, test at L': the table of `--eval-lengths` (nothing when none were asked for)."""
    from bench.reporting.generalisation import generalisation_summary

    table = generalisation_summary(records)
    if table.empty:
        return []
    return ["## Length generalisation (trained at L, tested at L')", "", _plain_markdown(table.set_index("task").round(4)), ""]


def gradient_flow_lines(records: list[dict[str, Any]]) -> list[str]:
    """The gradient-flow table at each task's longest length (nothing when no cell has diagnostics)."""
    from bench.reporting.flowreport import FLOW_NOTE, flow_display, flow_table

    table = flow_table(records)
    if table.empty:
        return []
    return ["## Gradient flow", "", FLOW_NOTE, "", _plain_markdown(flow_display(table).set_index("task")), "",
            "Profiles: `plots/gradient_flow.png`; every cell's numbers are in results.csv.", ""]

