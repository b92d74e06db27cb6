"""The grid both reports show: one row per (task, model, setting, length) summarised over seeds, the
setting chosen on validation numbers, and each grid cell's text and notes. report.md (report.py), the
HTML page (html.py), compare and the end-of-run summary all read it; it imports none of them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.horizon import mean_interval, solved_interval_text, spread_text, with_settings
from bench.verdicts import RULE_TEXT, VERDICTS, lost


STATUS_MARKS = {"solved": "✓", "unsolved": "budget", "timeout": "time", "diverged": "✗ diverged",
                "failed": "✗ failed"}


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, setting, length): seed mean with its 95% interval, the share of seeds
    solved, status counts, steps to solve, and the validation numbers the selection reads."""
    frame = with_settings(frame)
    frame = frame.assign(lost=lost(frame), final_accuracy=frame["accuracy"])
    groups = frame.groupby(["task", "model", "setting", "length"], sort=True)
    summary = groups.agg(
        seeds=("seed", "count"), accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
        accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max"),
        solved=("solved", "sum"), steps_to_solve=("steps_to_solve", "median"),
        chance_accuracy=("chance_accuracy", "first"), at_chance=("at_chance", "all"),
        short_memory_accuracy=("short_memory_accuracy", "first"), min_span=("min_span", "first"),
        bridged=("bridged", "sum"), steps_budget=("steps_budget", "first"),
        valid_accuracy=("valid_accuracy", "mean"), valid_loss=("valid_loss", "mean"), lost=("lost", "sum"),
        length_meaning=("length_meaning", "first"),
    )
    interval = groups["accuracy"].agg(mean_interval)
    summary["accuracy_low"] = interval.map(lambda pair: pair[0])
    summary["accuracy_high"] = interval.map(lambda pair: pair[1])
    summary["solved_share"] = summary["solved"] / summary["seeds"]
    summary["statuses"] = groups["status"].agg(lambda s: ",".join(sorted(set(s))))
    summary["verdicts"] = groups["verdict"].agg(lambda s: ",".join(v for v in VERDICTS if v in set(s)))
    return summary.reset_index()


def select_settings(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (task, model, length), the setting with the best mean validation accuracy (then the lowest
    validation loss); its test numbers are what the grids show. The test split is never read here."""
    if summary.empty or summary.groupby(["task", "model", "length"]).size().max() == 1:
        return summary
    ranked = summary.assign(_acc=summary["valid_accuracy"].astype(float).fillna(-1.0),
                            _loss=summary["valid_loss"].astype(float).fillna(float("inf")))
    ranked = ranked.sort_values(["task", "model", "length", "_acc", "_loss", "setting"],
                                ascending=[True, True, True, False, True, True])
    chosen = ranked.drop_duplicates(["task", "model", "length"]).drop(columns=["_acc", "_loss"])
    return chosen.assign(chosen=chosen["setting"]).reset_index(drop=True)


def selected_cells(frame: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """The cells of the settings `select_settings` chose (all cells when one setting was run)."""
    frame = with_settings(frame)
    chosen = shown[["task", "model", "length", "setting"]]
    return frame.merge(chosen, on=["task", "model", "length", "setting"], how="inner")


SELECTION_NOTE = ("Several settings were swept: each grid cell shows the setting with the best mean validation "
                  "accuracy (ties: lowest validation loss) for its (model, L), and that setting's test numbers; "
                  "the test split selects nothing. Every setting's numbers are in the full table.")


def verdict_text(row: pd.Series) -> str:
    """`bridged 2/3` or `partial memory`: what the seeds show about memory, beyond solved."""
    verdicts = [v for v in str(row.get("verdicts", "")).split(",") if v in ("bridged", "partial memory")]
    if not verdicts or row["at_chance"]:
        return ""
    if "bridged" in verdicts:
        return f"bridged {int(row['bridged'])}/{row['seeds']}" if row["seeds"] > 1 else "bridged"
    return "partial memory"


def cell_text(row: pd.Series, one_seed_noted: bool = False) -> str:
    """`✓ 0.995 seeds 0.990-1.000 (3/3 solved, P(solve) 0.29-1.00, 1,100 steps)` or `0.084 (n=1, no
    interval, ≈chance, budget 4,000 hit)` for a grid cell: the seed mean, how the seeds spread (each seed's
    range up to 5 seeds, else the 95% t interval), the seeds solved with the exact interval on the solve
    probability (`one_seed_noted`: the table already says every cell has one seed, so cells do not repeat
    it)."""
    statuses = row["statuses"].split(",")
    if all(s in ("failed", "diverged") for s in statuses):
        return " / ".join(STATUS_MARKS[s] for s in statuses)
    accuracy = "n/a" if pd.isna(row["accuracy"]) else f"{row['accuracy']:.3f}"
    spread = spread_text(row["seeds"], row.get("accuracy_low"), row.get("accuracy_high"), row.get("accuracy_min"),
                         row.get("accuracy_max"))
    parts = [spread] if spread.startswith("n=") and not one_seed_noted else []
    spread = "" if spread.startswith("n=") else f" {spread}"
    parts += solve_parts(row)
    if row["at_chance"]:
        parts.append("≈chance")
    if verdict_text(row) and (row["solved"] < row["seeds"] or row.get("lost", 0)):
        parts.append(verdict_text(row))
    if "unsolved" in statuses:
        parts.append(f"budget {int(row['steps_budget']):,} hit")
    parts += [STATUS_MARKS[s] for s in statuses if s in ("timeout", "diverged", "failed")]
    if isinstance(row.get("chosen"), str) and row["chosen"]:
        parts.append(f"selected: {row['chosen']}")
    mark = "✓ " if row["solved"] == row["seeds"] and not row.get("lost", 0) else ""
    return f"{mark}{accuracy}{spread}" + (f" ({', '.join(parts)})" if parts else "")


def solve_parts(row: pd.Series) -> list[str]:
    """The seeds solved (with the interval on the solve probability), and those that lost it by the end."""
    parts = []
    if row["solved"] and row["seeds"] == 1 and row.get("lost", 0):
        return [f"solved at {int(row['steps_to_solve']):,}, final test {row['accuracy']:.2f}"]
    if row["solved"]:
        solved = solved_interval_text(row["solved"], row["seeds"]) if row["seeds"] > 1 else "solved"
        parts.append(f"{solved}, {int(row['steps_to_solve']):,} steps")
    elif row["seeds"] > 1:
        parts.append(solved_interval_text(0, row["seeds"]))
    if row.get("lost", 0) and row["seeds"] > 1:
        parts.append(f"{int(row['lost'])} solved, then lost at the final test")
    return parts


def compact_text(row: pd.Series) -> str:
    """A grid cell in a few characters, for a terminal: `✓1.000 3/3`, `0.752 2/3 br`, `0.121 0/3 ≈c` (≈c at
    chance, br bridged, pm partial memory, ✗ diverged or failed); `--wide` shows the whole text."""
    statuses = row["statuses"].split(",")
    if all(s in ("failed", "diverged") for s in statuses):
        return "✗ " + "/".join(statuses)
    mark = "✓" if row["solved"] == row["seeds"] and not row.get("lost", 0) else ""
    accuracy = "n/a" if pd.isna(row["accuracy"]) else f"{row['accuracy']:.3f}"
    solved = f" {int(row['solved'])}/{row['seeds']}" if row["seeds"] > 1 else ""
    shown = verdict_text(row)
    verdict = "≈c" if row["at_chance"] else "br" if shown.startswith("bridged") else "pm" if shown else ""
    broken = "✗" if any(s in ("failed", "diverged") for s in statuses) else ""
    return " ".join(part for part in (f"{mark}{accuracy}{solved}", verdict if not mark else "", broken) if part)


COMPACT_NOTE = "✓ all seeds solved; k/n seeds solved; ≈c at chance; br bridged; pm partial memory; ✗ diverged or failed"


GRID_NOTE = ("Cells show test accuracy on the scored positions: the mean over seeds with each seed's range (up to 5 "
             "seeds) or its 95% t interval (n=1: no interval), the seeds solved with the exact 95% interval on the "
             "probability that a seed solves, and what the seeds show: ✓ solved, bridged, partial memory, ≈chance. "
             + RULE_TEXT)


def settings_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Every setting's validation numbers (what the selection reads) beside its test grid text."""
    return summary.assign(test_accuracy=summary.apply(cell_text, axis=1))[
        ["task", "model", "setting", "length", "valid_accuracy", "valid_loss", "test_accuracy"]]


def task_notes(cells: pd.DataFrame) -> str:
    """What L means for this task, the span it guarantees, both baselines and the solve rule."""
    from bench.showing import length_meaning

    first = cells.sort_values("length").iloc[0]
    spans = ", ".join(f"L={r.length}: {shown_number(r.min_span, 'd')}"
                      for r in cells.drop_duplicates("length").sort_values("length").itertuples())
    return (f"L is the {length_meaning(first['task'], first.get('length_meaning'))}; every target reaches at least this many steps back: "
            f"{spans}. Chance: accuracy {shown_number(first['chance_accuracy'])}, loss {shown_number(first['chance_loss'])}; "
            f"short memory (blind to the inputs at the full span; at L={first['length']}): accuracy "
            f"{shown_number(first['short_memory_accuracy'])}, loss {shown_number(first['short_memory_loss'])}. "
            f"Solved when {first['solve_criterion']}.{_span_one_note(cells)}")


def _span_one_note(cells: pd.DataFrame) -> str:
    """Where a target may depend on the last input alone (span 1), short memory barely differs from chance."""
    spans = pd.to_numeric(cells["min_span"], errors="coerce")
    if spans.notna().any() and (spans <= 1).all():
        return (" The span is 1 (a marked input may be the last one), so short memory is within 2/L of chance "
                "and 'bridged' here means beats chance.")
    return ""


def shown_number(value: Any, spec: str = ".4f") -> str:
    """A number for the reports, or "?" for a cell stored before it was recorded."""
    return "?" if value is None or pd.isna(value) else format(int(value) if spec == "d" else value, spec)


def header_items(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """The sweep and its provenance as (label, text) pairs, for both reports."""
    env, sweep = manifest.get("environment", {}), manifest.get("sweep", {})
    train, model = sweep.get("train", {}), sweep.get("model_config", {})
    libraries = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
    return [
        ("command", " ".join(manifest.get("argv", []))),
        ("model", f"hidden {model.get('hidden')}, layers {model.get('layers')}"),
        ("training", f"budget {train.get('steps')} steps of batch {train.get('batch_size')}, lr {train.get('lr')}, "
                     f"clip {train.get('clip')}, stop at {train.get('stop', 'solved')}; solve rules judged on the "
                     f"training stream and confirmed on {train.get('eval_size')} validation sequences (curves every "
                     f"{train.get('eval_every')} steps); reported numbers from {train.get('eval_size')} test "
                     "sequences, which select nothing"),
        ("device", f"{sweep.get('device')}, {sweep.get('threads')} thread(s) per cell"),
        ("code", f"{env.get('git_commit') or 'unknown commit'}; {libraries}; Python {env.get('python')}"),
        ("host", f"{env.get('host', '')} {env.get('platform', '')}".strip() or "unknown"),
        ("machines", manifest.get("machines", "")),
        ("cells", f"{manifest.get('finished', 0)} of {len(manifest.get('cells', []))} finished"),
    ]


def grid_texts(summary: pd.DataFrame, compact: bool = False) -> pd.DataFrame:
    """One task's summary as a model x `L=length` grid of `cell_text`s (`compact_text`s with `compact`;
    — where no cell ran)."""
    texts = summary.apply(compact_text, axis=1) if compact else summary.apply(
        cell_text, axis=1, one_seed_noted=one_seed(summary))
    grid = summary.assign(text=texts).pivot(index="model", columns="length", values="text")
    spans = summary.drop_duplicates("length").set_index("length")["min_span"]
    grid.columns = [length_header(length, spans.get(length)) for length in grid.columns]
    return grid.fillna("—")


def one_seed(summary: pd.DataFrame) -> bool:
    """Every cell of the table has one seed: the table says so once ("n=1 per cell, no intervals")."""
    return bool(len(summary)) and int(summary["seeds"].max()) == 1


ONE_SEED_NOTE = "n=1 seed per cell: no intervals."


def length_header(length: int, span: Any) -> str:
    """`L=200, span≥100`: the length and the span it guarantees, never one called the other."""
    return f"L={length}" + (f", span≥{int(span)}" if span is not None and pd.notna(span) else "")
