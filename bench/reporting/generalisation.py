"""Length generalisation: each cell trained at L and, with `--eval-lengths`, tested at other lengths L'.

The numbers come from the test split at L' (generated with the cell's seed, never seen in training);
they are a table (generalisation.csv) and a plot of their own, apart from the train-at-L grid.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.horizon import mean_interval, with_settings

COLUMNS = ["task", "model", "hidden", "layers", "lr", "batch_size", "length", "seed", "eval_length", "eval_min_span", "accuracy", "loss",
           "sequences_correct", "chance_accuracy", "short_memory_accuracy", "error"]


def generalisation_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (cell, L'): the trained cell's test numbers at L'."""
    rows = [{"task": r["task"], "model": r["model"], "hidden": r.get("hidden"), "layers": r.get("layers"),
             "lr": r.get("lr"), "batch_size": r.get("batch_size"), "length": r["length"], "seed": r["seed"],
             "eval_length": point["length"], "eval_min_span": point.get("min_span"),
             "accuracy": point.get("accuracy"), "loss": point.get("loss"),
             "sequences_correct": point.get("sequences_correct"), "chance_accuracy": point.get("chance_accuracy"),
             "short_memory_accuracy": point.get("short_memory_accuracy"), "error": point.get("error")}
            for r in records for point in r.get("generalisation") or []]
    return pd.DataFrame(rows, columns=COLUMNS)


def generalisation_summary(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (task, model, setting, trained L, tested L'): seeds, mean test accuracy with its 95% interval, chance."""
    frame = with_settings(generalisation_frame(records))
    if frame.empty:
        return pd.DataFrame()
    groups = frame.groupby(["task", "model", "setting", "length", "eval_length"], sort=True)
    table = groups.agg(seeds=("seed", "count"), accuracy=("accuracy", "mean"),
                       chance_accuracy=("chance_accuracy", "first"), errors=("error", "count"))
    interval = groups["accuracy"].agg(mean_interval)
    table.insert(2, "accuracy_low", interval.map(lambda pair: max(pair[0], 0.0)))
    table.insert(3, "accuracy_high", interval.map(lambda pair: min(pair[1], 1.0)))
    table = table.reset_index().rename(columns={"length": "trained_L", "eval_length": "tested_L"})
    return table if table["setting"].str.len().any() else table.drop(columns="setting")
