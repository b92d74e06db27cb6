"""Seed statistics and the dependency horizon: how long a dependency each model learns.

The horizon of a (task, model, setting) is the largest length at which at least half of the seeds
solved the task. Its interval comes from the per-length solve probabilities: at each length, k of n seeds
solving gives an exact (Clopper-Pearson) 95% interval on the probability that a seed solves; the horizon's
upper end is the largest length whose interval reaches 1/2 (a seed may solve there at least half the
time), its lower end the largest length whose interval lies at or above 1/2 ("none" when no length is that
sure, as with 3 seeds: 3 of 3 only shows a solve probability above 0.29). Few seeds give wide intervals,
never a zero-width one.

Seed summaries: with up to 5 seeds the reports show each seed's value (min-max), not a t interval, which
a bimodal handful of accuracies would stretch over [0, 1]; from 6 seeds on the 95% t interval of the mean.
The share of seeds solved comes with its Clopper-Pearson interval.

Diverged seeds count as not solved (training broke down: the model did not learn). Failed cells (an
error in the harness, not in the model) are left out, and the headline says how many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.stats import clopper_pearson

SOLVED_SHARE = 0.5  # at least this share of the seeds must solve a length
# two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond 30 the normal 1.96 is within 2%
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)
FEW_SEEDS = 5  # up to this many seeds, summaries show every seed's value (min-max) instead of a t interval
SETTING_COLUMNS = ("hidden", "layers", "lr", "batch_size")
SETTING_LABELS = {"hidden": "hidden", "layers": "layers", "lr": "lr", "batch_size": "batch"}


def t95(n: int) -> float:
    """The two-sided 95% Student t quantile for the mean of `n` values (nan below 2)."""
    if n < 2:
        return math.nan
    return _T95[n - 2] if n - 1 <= len(_T95) else 1.96


def mean_interval(values: pd.Series) -> tuple[float, float]:
    """The 95% t interval of the mean of `values` (missing ones left out); (nan, nan) for fewer than 2.
    Accuracies are shares: clip the interval to [0, 1] where it is shown (see `interval_text`)."""
    values = values.dropna().astype(float)
    if len(values) < 2:
        return math.nan, math.nan
    half = t95(len(values)) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def interval_text(n: int, low: float, high: float, spec: str = ".3f", share: bool = False) -> str:
    """`[0.812, 0.934]`, or `n=1, no interval`; a `share` (an accuracy) is clipped to [0, 1]."""
    if n < 2 or pd.isna(low):
        return f"n={n}, no interval"
    if share:
        low, high = max(low, 0.0), min(high, 1.0)
    return f"[{low:{spec}}, {high:{spec}}]"


def spread_text(n: int, low: float, high: float, lowest: float, highest: float, spec: str = ".3f") -> str:
    """How the seeds spread: each seed's range `seeds 0.250-1.000` for up to FEW_SEEDS seeds, else the 95%
    t interval of the mean; `n=1, no interval` for one seed."""
    if 2 <= n <= FEW_SEEDS and not pd.isna(lowest):
        return f"seeds {lowest:{spec}}-{highest:{spec}}"
    return interval_text(n, low, high, spec, share=True)


def solved_interval_text(solved: int, seeds: int) -> str:
    """`2/3 solved, P(solve) 0.09-0.99`: the share with its exact 95% interval."""
    low, high = clopper_pearson(int(solved), int(seeds))
    return f"{int(solved)}/{int(seeds)} solved, P(solve) {low:.2f}-{high:.2f}"


def setting_label(row: pd.Series | dict, columns: tuple[str, ...] = SETTING_COLUMNS) -> str:
    """`hidden 128, lr 0.001`: the hyperparameters (of `columns`) a cell was trained with."""
    return ", ".join(f"{SETTING_LABELS[c]} {row[c]:g}" if isinstance(row[c], float) else f"{SETTING_LABELS[c]} {row[c]}"
                     for c in columns if c in row and row[c] is not None and not pd.isna(row[c]))


def varying_settings(frame: pd.DataFrame) -> tuple[str, ...]:
    """The setting columns that take more than one value in `frame`: the ones a label must name."""
    return tuple(c for c in SETTING_COLUMNS if c in frame and frame[c].nunique(dropna=False) > 1)


@dataclass(frozen=True)
class Horizon:
    """One (task, model, setting)'s horizon: `length` is None when no length was solved."""

    task: str
    model: str
    setting: str
    length: int | None
    low: int | None
    high: int | None
    seeds: int
    lengths: tuple[int, ...]
    failed: int = 0
    unsolved_below: tuple[int, ...] = ()  # shorter lengths not solved: the results are not monotone
    # the same count under the looser rule, "bridged" (beat the short-memory baseline) or solved; None when
    # the cells carry no verdicts
    bridged: "Horizon | None" = None

    @property
    def interval(self) -> str:
        if self.seeds < 2:
            return "n=1, no interval"
        return f"[{_length_text(self.low)}, {_length_text(self.high)}]"

    def text(self, with_setting: bool = False) -> str:
        """`gru: adding solved up to L=200 [100, 200] (3 seeds)` or `rnn: adding, none of 50..1000`."""
        who = f"{self.model} ({self.setting})" if with_setting and self.setting else self.model
        span = f"{self.lengths[0]}..{self.lengths[-1]}" if len(self.lengths) > 1 else f"{self.lengths[0]}"
        notes = [f"{self.seeds} seeds" if self.seeds > 1 else "n=1, no interval"]
        if self.failed:
            notes.append(f"{self.failed} failed cell(s) left out")
        if self.length is None:
            return f"{who}: {self.task} solved at none of L={span}{self._bridged_text()} ({', '.join(notes)})"
        if self.length == self.lengths[-1]:
            notes.append("every length tried was solved: the horizon may lie further")
        if self.unsolved_below:
            notes.append(f"not monotone: unsolved at L={','.join(map(str, self.unsolved_below))}")
        interval = f" {self.interval}" if self.seeds > 1 else ""
        return f"{who}: {self.task} solved up to L={self.length}{interval}{self._bridged_text()} ({'; '.join(notes)})"

    def _bridged_text(self) -> str:
        """`, bridged up to L=100 [50, 100]` where the looser rule reaches further (else nothing)."""
        looser = self.bridged
        if looser is None or looser.length is None or (self.length is not None and looser.length <= self.length):
            return ""
        interval = f" {looser.interval}" if looser.seeds > 1 else ""
        return f", bridged up to L={looser.length}{interval}"


def _length_text(length: int | None) -> str:
    return "none" if length is None else str(length)


def solved_matrix(cells: pd.DataFrame, rule: str = "solved") -> tuple[list[int], np.ndarray, int]:
    """(lengths, lengths x seeds array of 1 solved / 0 not / nan missing, failed cells left out); with
    `rule="bridged"`, 1 where a cell bridged or solved."""
    usable = cells[cells["status"] != "failed"]
    if rule == "bridged":
        usable = usable.assign(solved=usable["solved"].fillna(False).astype(bool) | usable["bridged"].astype(bool))
    lengths = sorted(int(length) for length in cells["length"].unique())
    table = usable.pivot_table(index="length", columns="seed", values="solved", aggfunc="max")
    table = table.reindex(lengths).astype(float)
    return lengths, table.to_numpy(), int((cells["status"] == "failed").sum())


def horizon_shares(solved: np.ndarray) -> np.ndarray:
    """The share of present (not failed) seeds that solved, per length; nan where none is present."""
    present = (~np.isnan(solved)).sum(axis=-1)
    return np.where(present > 0, np.nansum(solved, axis=-1) / np.maximum(present, 1), np.nan)


def horizon_index(solved: np.ndarray) -> np.ndarray:
    """For arrays of lengths x ... x seeds: the index of the longest length at least half of whose
    present seeds solved it, -1 where none."""
    share = horizon_shares(solved)
    ok = np.nan_to_num(share, nan=0.0) >= SOLVED_SHARE
    last = ok.shape[0] - 1 - np.argmax(ok[::-1], axis=0)
    return np.where(ok.any(axis=0), last, -1)


def solve_rate_interval(solved: np.ndarray) -> tuple[int, int]:
    """(lower, upper) ends of the horizon as length indices (-1 for none), from each length's exact 95%
    interval on the solve probability (see the module docstring)."""
    present = (~np.isnan(solved)).sum(axis=-1)
    counts = np.nansum(solved, axis=-1)
    bounds = [clopper_pearson(int(k), int(n)) if n else (math.nan, math.nan) for k, n in zip(counts, present)]
    upper = [i for i, (_, high) in enumerate(bounds) if high >= SOLVED_SHARE]
    lower = [i for i, (low, _) in enumerate(bounds) if low >= SOLVED_SHARE]
    return (lower[-1] if lower else -1), (upper[-1] if upper else -1)


def horizon_of(cells: pd.DataFrame, task: str, model: str, setting: str, rule: str = "solved") -> Horizon:
    """The horizon of one (task, model, setting) from its cells (one per length and seed), under the solve
    rule; with the bridged one beside it where the cells carry verdicts."""
    lengths, solved, failed = solved_matrix(cells, rule)
    index = int(horizon_index(solved))
    seeds = int(cells["seed"].nunique())
    at = (lambda i: None if i < 0 else lengths[i])
    low, high = solve_rate_interval(solved) if seeds > 1 else (index, index)
    shares = horizon_shares(solved)
    below = tuple(lengths[i] for i in range(max(index, 0)) if not shares[i] >= SOLVED_SHARE)
    looser = horizon_of(cells, task, model, setting, "bridged") if rule == "solved" and "bridged" in cells else None
    return Horizon(task, model, setting, at(index), at(low), at(high), seeds, tuple(lengths), failed,
                   below if index >= 0 else (), looser)


def horizons(frame: pd.DataFrame) -> list[Horizon]:
    """One horizon per (task, model, setting) in a results table, in a stable order."""
    frame = with_settings(frame)
    return [horizon_of(cells, task, model, setting)
            for (task, model, setting), cells in frame.groupby(["task", "model", "setting"], sort=True)]


def with_settings(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with a `setting` column naming each cell's hyperparameters."""
    if "setting" in frame:
        return frame
    columns = varying_settings(frame)
    labels = frame.apply(setting_label, axis=1, columns=columns) if len(frame) else pd.Series(dtype=str)
    return frame.assign(setting=labels)


def headline(frame: pd.DataFrame) -> list[str]:
    """One line per (task, model, setting): the horizon and its interval; settings are named only when
    a sweep has several."""
    found = horizons(frame)
    several = len({h.setting for h in found}) > 1
    return [h.text(with_setting=several) for h in found]


HORIZON_RULE = ("Horizon: the largest L at which at least half of the seeds solved the task (solve rule of the "
                "task; bridging is not solving); in brackets its 95% interval from each length's exact "
                "(Clopper-Pearson) interval on the solve probability: up to the longest L where a seed may solve "
                "at least half the time, from the longest L where it surely does ('none' when no length is that "
                "sure). Where the looser rule reaches further, 'bridged up to' counts the same way the cells that "
                "bridged (beat the short-memory baseline) or solved. Diverged seeds count as unsolved, failed "
                "cells are left out.")
