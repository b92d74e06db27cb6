"""`bench compare A B`: join two runs cell by cell and say what changed, asv-compare style.

Cells are grouped over seeds by (task, model, length). Two groups are comparable when the task version
and every training setting agree; otherwise the row says why not. A difference counts only when it
exceeds the noise: twice the standard error from the seed spread when both sides have several seeds,
else a fixed floor.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import Store, atomic_write, read_manifest, results_frame

GROUP = ["task", "model", "length"]
SETTINGS = ["task_version", "task_params", "hidden", "layers", "steps_budget", "batch_size", "lr", "clip"]
NOISE_FLOOR = 0.02  # accuracy difference treated as noise when a side has a single seed
BROKEN = ("diverged", "failed")


@dataclass(frozen=True)
class Gate:
    """`--fail-on accuracy:-0.05`: fail when a comparable cell's accuracy dropped by more than 0.05."""

    metric: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> "Gate":
        metric, _, value = text.partition(":")
        if metric != "accuracy" or not value:
            raise ValueError(f"{text!r}: expected accuracy:-DELTA, e.g. accuracy:-0.05")
        threshold = float(value)
        if not math.isfinite(threshold) or threshold > 0:
            raise ValueError(f"{text!r}: the allowed change must be a finite number <= 0")
        return cls(metric, threshold)


def load_run(run_dir: Path) -> pd.DataFrame:
    """The stored cells of one run folder as a results frame."""
    return results_frame(Store.of_run(run_dir).load_cells(read_manifest(run_dir)["cells"]))


def _groups(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby(GROUP, sort=True)
    summary = grouped.agg(seeds=("seed", "count"), accuracy=("accuracy", "mean"), sd=("accuracy", "std"),
                          statuses=("status", lambda s: ",".join(sorted(set(s)))))
    settings = grouped[SETTINGS].agg(lambda s: json.dumps(sorted(set(map(str, s)))))
    return summary.join(settings)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, length) in either run: accuracy A, accuracy B, difference, marker."""
    joined = pd.merge(_groups(a), _groups(b), how="outer", left_index=True, right_index=True, suffixes=("_a", "_b"))
    joined["difference"] = joined["accuracy_b"] - joined["accuracy_a"]
    joined["marker"] = [marker(row) for _, row in joined.iterrows()]
    columns = ["seeds_a", "accuracy_a", "statuses_a", "seeds_b", "accuracy_b", "statuses_b", "difference", "marker"]
    return joined[columns].reset_index()


def marker(row: pd.Series) -> str:
    """better | worse | not significant | newly diverged/failed | fixed | not comparable | only in A/B."""
    if pd.isna(row["seeds_a"]):
        return "only in B"
    if pd.isna(row["seeds_b"]):
        return "only in A"
    differing = [name for name in SETTINGS if row[f"{name}_a"] != row[f"{name}_b"]]
    if differing:
        return f"not comparable ({', '.join(differing)} differ)"
    broken_a = any(s in BROKEN for s in row["statuses_a"].split(","))
    broken_b = [s for s in row["statuses_b"].split(",") if s in BROKEN]
    if broken_b and not broken_a:
        return f"newly {'/'.join(broken_b)}"
    if broken_a and not broken_b:
        return "fixed"
    if pd.isna(row["difference"]):
        return "not significant"
    return "better" if row["difference"] > _noise(row) else "worse" if row["difference"] < -_noise(row) else "not significant"


def _noise(row: pd.Series) -> float:
    if row["seeds_a"] > 1 and row["seeds_b"] > 1:
        standard_error = math.sqrt(row["sd_a"] ** 2 / row["seeds_a"] + row["sd_b"] ** 2 / row["seeds_b"])
        return max(2 * standard_error, 1e-9)
    return NOISE_FLOOR


def gate_failures(table: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """Rows that break the gate: an accuracy drop beyond the threshold, or a newly broken cell."""
    dropped = (table["difference"] < gate.threshold) & ~table["marker"].str.startswith("not comparable")
    return table[dropped | table["marker"].str.startswith("newly")]


def marker_counts(table: pd.DataFrame) -> str:
    """`3 better, 1 worse, 5 not significant`: how many rows got each marker (reasons dropped)."""
    counts = table["marker"].str.split(" \\(").str[0].value_counts()
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def format_table(table: pd.DataFrame) -> str:
    """The comparison as aligned text lines for the terminal."""
    header = f"{'task':18} {'model':11} {'L':>7} {'acc A':>7} {'acc B':>7} {'diff':>7}  marker"
    lines = [header, "-" * len(header)]
    for row in table.itertuples(index=False):
        lines.append(f"{row.task:18} {row.model:11} {row.length:>7} {_number(row.accuracy_a):>7} "
                     f"{_number(row.accuracy_b):>7} {_number(row.difference, signed=True):>7}  {row.marker}")
    return "\n".join(lines)


def _number(value: Any, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def write_compare_html(path: Path, table: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame,
                       names: tuple[str, str]) -> None:
    """compare.html: the two runs' grids side by side and the difference grid."""
    from bench.html import render_compare
    from bench.report import summarize

    page = render_compare(table, summarize(a), summarize(b), names)
    atomic_write(path, page.encode())
