"""Tables, plots and report.md for a run, rebuilt from its stored cells alone."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from bench.html import render_report
from bench.plots import write_plots
from bench.store import atomic_write, results_frame, write_tables

STATUS_MARKS = {"solved": "✓", "unsolved": "budget", "timeout": "time", "diverged": "✗ diverged",
                "failed": "✗ failed"}


def build_report(run_dir: Path, records: list[dict[str, Any]], manifest: dict[str, Any]) -> pd.DataFrame:
    """Write results.csv/.parquet, plots/, report.md and report.html for `records` into `run_dir`."""
    frame = results_frame(records)
    write_tables(run_dir, frame)
    summary = summarize(frame) if len(frame) else pd.DataFrame()
    if len(frame):
        write_plots(frame, records, summary, run_dir / "plots")
    atomic_write(run_dir / "report.md", markdown_report(frame, manifest).encode())
    page = render_report(frame, records, summary, manifest, run_dir / "plots")
    atomic_write(run_dir / "report.html", page.encode())
    return frame


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, length): seed mean and spread, status counts, steps to solve."""
    groups = frame.groupby(["task", "model", "length"], sort=True)
    summary = groups.agg(
        seeds=("seed", "count"), accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
        accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max"),
        solved=("solved", "sum"), steps_to_solve=("steps_to_solve", "median"),
        chance_accuracy=("chance_accuracy", "first"), at_chance=("at_chance", "all"),
        steps_budget=("steps_budget", "first"),
    )
    summary["statuses"] = groups["status"].agg(lambda s: ",".join(sorted(set(s))))
    return summary.reset_index()


def cell_text(row: pd.Series) -> str:
    """`✓ 0.995 ±0.003 (3/3 solved, 1,100 steps)` or `0.084 ≈chance, budget 4,000` for a grid cell."""
    statuses = row["statuses"].split(",")
    if all(s in ("failed", "diverged") for s in statuses):
        return " / ".join(STATUS_MARKS[s] for s in statuses)
    accuracy = "n/a" if pd.isna(row["accuracy"]) else f"{row['accuracy']:.3f}"
    spread = f" ±{row['accuracy_sd']:.3f}" if row["seeds"] > 1 and pd.notna(row["accuracy_sd"]) else ""
    parts = []
    if row["solved"]:
        parts.append(f"{int(row['solved'])}/{row['seeds']} solved, {int(row['steps_to_solve']):,} steps")
    if row["at_chance"]:
        parts.append("≈chance")
    if "unsolved" in statuses:
        parts.append(f"budget {int(row['steps_budget']):,} hit")
    parts += [STATUS_MARKS[s] for s in statuses if s in ("timeout", "diverged", "failed")]
    mark = "✓ " if row["solved"] == row["seeds"] else ""
    return f"{mark}{accuracy}{spread}" + (f" ({', '.join(parts)})" if parts else "")


def markdown_report(frame: pd.DataFrame, manifest: dict[str, Any]) -> str:
    """report.md: header with provenance, a model x length grid per task, then every cell."""
    lines = [f"# bench run `{manifest.get('name', '')}`", "", *_header_lines(manifest), ""]
    if frame.empty:
        return "\n".join(lines + ["No finished cells yet."]) + "\n"
    summary = summarize(frame)
    for task, cells in frame.groupby("task", sort=True):
        first = cells.iloc[0]
        lines += [f"## {task} (version {first['task_version']})", "",
                  f"Chance: accuracy {first['chance_accuracy']:.4f}; solved when {first['solve_criterion']}. "
                  "Cells show held-out accuracy on the scored positions (mean over seeds ± sd).", "",
                  _grid_table(summary[summary["task"] == task]), ""]
    lines += ["## All cells", "", _cells_table(frame), ""]
    return "\n".join(lines)


def header_items(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """The sweep and its provenance as (label, text) pairs, for both reports."""
    env, sweep = manifest.get("environment", {}), manifest.get("sweep", {})
    train, model = sweep.get("train", {}), sweep.get("model_config", {})
    libraries = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
    return [
        ("command", " ".join(manifest.get("argv", []))),
        ("model", f"hidden {model.get('hidden')}, layers {model.get('layers')}"),
        ("training", f"budget {train.get('steps')} steps of batch {train.get('batch_size')}, lr {train.get('lr')}, "
                     f"clip {train.get('clip')}; held-out eval on {train.get('eval_size')} sequences every "
                     f"{train.get('eval_every')} steps"),
        ("device", f"{sweep.get('device')}, {sweep.get('threads')} thread(s) per cell"),
        ("code", f"{env.get('git_commit') or 'unknown commit'}; {libraries}; Python {env.get('python')}"),
        ("host", f"{env.get('host', '')} {env.get('platform', '')}".strip() or "unknown"),
        ("cells", f"{manifest.get('finished', 0)} of {len(manifest.get('cells', []))} finished"),
    ]


def _header_lines(manifest: dict[str, Any]) -> list[str]:
    return [f"- {label}: `{text}`" if label == "command" else f"- {label}: {text}"
            for label, text in header_items(manifest)]


def grid_texts(summary: pd.DataFrame) -> pd.DataFrame:
    """One task's summary as a model x `L=length` grid of `cell_text`s (— where no cell ran)."""
    grid = summary.assign(text=summary.apply(cell_text, axis=1)).pivot(
        index="model", columns="length", values="text")
    grid.columns = [f"L={length}" for length in grid.columns]
    return grid.fillna("—")


def _grid_table(summary: pd.DataFrame) -> str:
    return _plain_markdown(grid_texts(summary))


def _cells_table(frame: pd.DataFrame) -> str:
    columns = ["model", "length", "seed", "status", "accuracy", "chance_accuracy", "loss", "chance_loss",
               "loss_ratio", "steps", "steps_to_solve", "seconds"]
    table = frame.sort_values(["task", "model", "length", "seed"])[["task", *columns]].set_index("task")
    return _plain_markdown(table.round(4))


def _plain_markdown(table: pd.DataFrame) -> str:
    header = [table.index.name or "", *map(str, table.columns)]
    rows = [[str(index), *("" if pd.isna(v) else str(v) for v in values)]
            for index, values in zip(table.index, table.itertuples(index=False))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
