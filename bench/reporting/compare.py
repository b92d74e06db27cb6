"""`bench compare A B`: join two runs cell by cell and say what changed, asv-compare style.

Cells are grouped over seeds by (task, model, length), and by the hyperparameters either run swept
(`--hiddens`, `--lrs`, `--batch-sizes`: each setting is its own row). Two groups are comparable when every setting
that changes numbers agrees (task version and parameters, model and training-loop versions, and every
declared setting that changes numbers: size, budget, optimiser, stop rule, evaluation size and cadence, time
limit, mixed precision, compilation; and the device kind); otherwise the row
names the setting and its two values. A difference counts only when it is significant after Holm's
correction over every comparable cell of the comparison (family-wise error 5%), its standard error being
the seed spread (with several seeds) and each test set's binomial error, combined.

Runs that differ as wholes in a hyperparameter (each holds one value of `lr`, say, and the values differ) are
compared *across* it: each row pairs the cells that differ only in that setting, and the header names the
contrast ("across lr: 0.001 → 0.003"). One run can be split the same way (`--across lr=0.001,0.003`, or
`--across model=lstm,lstm:forget_bias=1`). The budget, the stop rule, the evaluation and the versions are never
contrasted: cells that differ there stay "not comparable".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench import settings
from bench.stats import holm, normal_p_two_sided
from bench.horizon import setting_label, varying_settings
from bench.store import atomic_write, run_records
from bench.analysis import results_frame

# everything that can change a cell's numbers: the versions, the declared settings that do (bench/settings.py:
# size, budget, optimiser, stop rule, evaluation, precision, compilation) and the kind of device
SETTINGS = ["task_version", "task_params", "model_version", "protocol", *settings.COMPARED, "device_kind"]
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


@dataclass(frozen=True)
class Contrast:
    """B's value of one setting against A's: every row of the comparison pairs cells that differ in it."""

    column: str  # a settings.CONTRASTED column, or "model"
    a: Any
    b: Any

    @property
    def text(self) -> str:
        return f"{self.column} {_value_text(self.a)} → {_value_text(self.b)}"


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def contrasts_between(a: pd.DataFrame, b: pd.DataFrame) -> tuple[Contrast, ...]:
    """The hyperparameters in which two runs differ as wholes: each run holds one value, and the values differ
    (a setting either run swept stays a row label, as before)."""
    found = []
    for column in settings.CONTRASTED:
        if column in a and column in b:
            values_a, values_b = a[column].dropna().unique(), b[column].dropna().unique()
            if len(values_a) == 1 and len(values_b) == 1 and values_a[0] != values_b[0]:
                found.append(Contrast(column, _plain(values_a[0]), _plain(values_b[0])))
    return tuple(found)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


ACROSS_COLUMNS = ("model", *settings.CONTRASTED)


def split_run(frame: pd.DataFrame, column: str, values: tuple[str, str] | None) -> tuple[pd.DataFrame, pd.DataFrame, Contrast]:
    """One run's cells at two values of `column` (A: the first, B: the second), for a contrast within a run.
    Without `values` the run must hold exactly two. ValueError, saying what the run holds, otherwise."""
    held = sorted(frame[column].dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
    if values is None:
        if len(held) != 2:
            raise ValueError(f"--across {column}: the run holds {len(held)} value(s) of it "
                             f"({', '.join(map(_value_text, held)) or 'none'}); name two, e.g. "
                             f"--across {column}={','.join(map(_value_text, held[:2] or ['X', 'Y']))}")
        chosen = held
    else:
        chosen = [_held_value(column, text, held) for text in values]
        if chosen[0] == chosen[1]:
            raise ValueError(f"--across {column}: name two different values")
    sides = [frame[_matches(frame[column], value)] for value in chosen]
    return sides[0], sides[1], Contrast(column, _plain(chosen[0]), _plain(chosen[1]))


def _held_value(column: str, text: str, held: list[Any]) -> Any:
    for value in held:
        if _same(value, text):
            return value
    raise ValueError(f"--across {column}: the run has no cells with {column} {text} "
                     f"(it holds {', '.join(map(_value_text, held))})")


def _same(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    try:
        return math.isclose(float(value), float(text), rel_tol=1e-9)
    except ValueError:
        return False


def _matches(series: pd.Series, value: Any) -> pd.Series:
    return series.map(lambda v: v == value or (isinstance(v, float) and math.isclose(v, float(value))))


def _contrasted(frame: pd.DataFrame, contrasts: tuple[Contrast, ...]) -> pd.DataFrame:
    """`frame` with each contrasted column replaced by the contrast's text, so that the pairs line up (a
    model contrast also hides the two models' versions: they are part of what is contrasted)."""
    frame = frame.copy()
    for contrast in contrasts:
        frame[contrast.column] = contrast.text if contrast.column != "model" else \
            f"{contrast.a} → {contrast.b}"
        if contrast.column == "model":
            frame["model_version"] = ""
    return frame


def contrast_note(contrasts: tuple[Contrast, ...]) -> str:
    """The header line of a comparison across settings ("" for a like-for-like one)."""
    if not contrasts:
        return ""
    return (f"Across {'; '.join(contrast.text for contrast in contrasts)}: each row pairs the cells that differ "
            "only in this; 'better' means B's value did better.")


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """The stored cells of one run folder (CellsUnreachable when its finished cells are out of reach)."""
    return run_records(run_dir)[1]


def load_run(run_dir: Path) -> pd.DataFrame:
    """The stored cells of one run folder as a results frame."""
    return results_frame(load_records(run_dir))


def _groups(frame: pd.DataFrame, axes: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.assign(device_kind=frame["device"].map(lambda device: str(device).split(":")[0]),
                         binomial_var=frame["accuracy_se"].astype(float) ** 2,
                         setting=frame.apply(setting_label, axis=1, columns=axes) if len(frame) else "")
    grouped = frame.groupby(["task", "model", "setting", "length"], sort=True)
    summary = grouped.agg(seeds=("seed", "count"), accuracy=("accuracy", "mean"), sd=("accuracy", "std"),
                          binomial_var=("binomial_var", "mean"),
                          statuses=("status", lambda s: ",".join(sorted(set(s)))))
    summary["binomial_var"] = summary["binomial_var"] / summary["seeds"]  # of the mean over seeds
    settings = grouped[SETTINGS].agg(lambda s: " / ".join(sorted(set(map(str, s)))))
    return summary.join(settings)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, contrasts: tuple[Contrast, ...] | None = None) -> pd.DataFrame:
    """One row per (task, model, length) in either run: accuracy A, accuracy B, difference, marker. The
    runs are compared across `contrasts` (by default the hyperparameters in which they differ as wholes)."""
    contrasts = contrasts_between(a, b) if contrasts is None else contrasts
    a, b = _contrasted(a, contrasts), _contrasted(b, contrasts)
    contrasted = {contrast.column for contrast in contrasts}
    axes = tuple(c for c in dict.fromkeys(varying_settings(a) + varying_settings(b)) if c not in contrasted)
    joined = pd.merge(_groups(a, axes), _groups(b, axes), how="outer", left_index=True, right_index=True,
                      suffixes=("_a", "_b"))
    joined["difference"] = joined["accuracy_b"] - joined["accuracy_a"]
    joined["p_value"] = [p_value(row) for _, row in joined.iterrows()]
    significant = holm(joined["p_value"].tolist())
    joined["marker"] = [marker(row, flag) for (_, row), flag in zip(joined.iterrows(), significant)]
    columns = ["seeds_a", "accuracy_a", "statuses_a", "seeds_b", "accuracy_b", "statuses_b", "difference", "p_value",
               "marker"]
    table = joined[columns].reset_index()
    for side in ("seeds_a", "seeds_b"):  # a count, missing where the cell is only in one run
        table[side] = table[side].astype("Int64")
    table.attrs["contrasts"] = contrasts
    return table


def marker(row: pd.Series, significant: bool = False) -> str:
    """better | worse | not significant | newly diverged/failed | fixed | not comparable | only in A/B;
    `significant`: the difference survives the family-wise correction (see `p_value` and CORRECTION)."""
    if pd.isna(row["seeds_a"]):
        return "only in B"
    if pd.isna(row["seeds_b"]):
        return "only in A"
    differing = _differing(row)
    if differing:
        return f"not comparable ({'; '.join(differing)})"
    broken_a = any(s in BROKEN for s in row["statuses_a"].split(","))
    broken_b = [s for s in row["statuses_b"].split(",") if s in BROKEN]
    if broken_b and not broken_a:
        return f"newly {'/'.join(broken_b)}"
    if broken_a and not broken_b:
        return "fixed"
    if pd.isna(row["difference"]) or not significant:
        return "not significant"
    return "better" if row["difference"] > 0 else "worse"


def _differing(row: pd.Series) -> list[str]:
    return [f"{name} {row[f'{name}_a']} vs {row[f'{name}_b']}" for name in SETTINGS if row[f"{name}_a"] != row[f"{name}_b"]]


def p_value(row: pd.Series) -> float:
    """The two-sided normal p-value of B - A for a comparable, unbroken pair of cells (nan otherwise: not
    a test). Its standard error: the seed spread of each side's mean (where it has several seeds) plus each
    test set's binomial error, so a one-seed comparison still knows its eval noise."""
    if pd.isna(row["seeds_a"]) or pd.isna(row["seeds_b"]) or pd.isna(row["difference"]) or _differing(row):
        return math.nan
    if any(s in BROKEN for side in ("a", "b") for s in row[f"statuses_{side}"].split(",")):
        return math.nan
    variance = 0.0
    for side in ("a", "b"):
        if row[f"seeds_{side}"] > 1 and pd.notna(row[f"sd_{side}"]):
            variance += row[f"sd_{side}"] ** 2 / row[f"seeds_{side}"]
        variance += 0.0 if pd.isna(row[f"binomial_var_{side}"]) else row[f"binomial_var_{side}"]
    return normal_p_two_sided(row["difference"] / max(math.sqrt(variance), 1e-12))


def correction_note(table: pd.DataFrame) -> str:
    """The family-wise rule the markers used, for every comparison's header."""
    tests = int(table["p_value"].notna().sum()) if "p_value" in table else 0
    return (f"Markers: a difference counts when it survives Holm's correction over the {tests} comparable cell(s) "
            "(family-wise error 5%; two-sided normal test on the seed spread and each test set's binomial error).")


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows present in both runs with every setting equal."""
    return table[~table["marker"].str.startswith(("not comparable", "only in"))]


def gate_failures(table: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """Rows that break the gate: an accuracy drop beyond the threshold, or a newly broken cell."""
    dropped = (table["difference"] < gate.threshold) & ~table["marker"].str.startswith("not comparable")
    return table[dropped | table["marker"].str.startswith("newly")]


def marker_counts(table: pd.DataFrame) -> str:
    """`3 better, 1 worse, 5 not significant`: how many rows got each marker (reasons dropped)."""
    counts = table["marker"].str.split(" \\(").str[0].value_counts()
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def format_table(table: pd.DataFrame) -> str:
    """The comparison as aligned text lines for the terminal (columns as wide as their longest entry)."""
    rows = [(row.task, f"{row.model} ({row.setting})" if row.setting else row.model, str(row.length),
             _number(row.accuracy_a), _number(row.accuracy_b), _number(row.difference, signed=True), row.marker)
            for row in table.itertuples(index=False)]
    header = ("task", "model", "L", "acc A", "acc B", "diff", "marker")
    widths = [max(len(text) for text in column) for column in zip(header, *rows)]
    right = (False, False, True, True, True, True, False)

    def line(texts: tuple[str, ...]) -> str:
        cells = [text.rjust(width) if flush else text.ljust(width) for text, width, flush in zip(texts, widths, right)]
        return " ".join(cells[:-1]) + "  " + texts[-1]

    first = line(header)
    return "\n".join([first, "-" * len(first), *map(line, rows)])


def _number(value: Any, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"
