"""The analysis stage, between storage and the renderers: what a run's stored cells show.

Storage stores (bench.store gives the cells as rows, nothing derived); this stage derives, once per run, the
verdicts (bench.verdicts), the seed summaries and the setting selection (bench.reporting.grid) and the
horizons (bench.horizon); the renderers (report.md, report.html, the plots, compare, the end-of-run summary)
read its result and decide nothing. Every derived column is computed from the stored numbers when a table
is built, so a stored cell always shows today's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.horizon import Horizon, horizons
from bench.store import cells_frame
from bench.verdicts import at_chance, bridged, verdicts


def results_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell with its verdict columns (at_chance, bridged, verdict) derived."""
    frame = cells_frame(records)
    if len(frame):
        frame["at_chance"] = at_chance(frame)
        frame["bridged"] = bridged(frame)
        frame["verdict"] = verdicts(frame)
    return frame


@dataclass
class Analysis:
    """A run's cells analysed: the table, the grid summary (every setting), the chosen setting per
    (task, model, L) and its cells, and the horizons."""

    records: list[dict[str, Any]]
    frame: pd.DataFrame
    summary: pd.DataFrame
    shown: pd.DataFrame
    cells: pd.DataFrame
    horizons: list[Horizon] = field(default_factory=list)


def analyse(records: list[dict[str, Any]]) -> Analysis:
    """Everything the renderers read, computed once."""
    from bench.reporting.grid import select_settings, selected_cells, summarize

    frame = results_frame(records)
    if not len(frame):
        return Analysis(records, frame, pd.DataFrame(), pd.DataFrame(), frame, [])
    summary = summarize(frame)
    shown = select_settings(summary)
    return Analysis(records, frame, summary, shown, selected_cells(frame, shown), horizons(frame))
