"""Published experiments, one command each: `bench presets` lists them, `bench run --preset NAME` runs one.

A preset is a set of `bench run` options (the same keys as a --config file) plus the numbers its paper
published, kept with their source in one data file (bench/data/published.toml). A preset run's report
shows each published number beside ours and the chance level, so a published baseline that did not learn
is seen at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from bench.horizon import FEW_SEEDS, interval_text, mean_interval

METRIC_WORDS = {"sequences_to_solve": "training sequences to solve", "loss": "test loss", "accuracy": "test accuracy"}
CHANCE_COLUMNS = {"loss": "chance_loss", "accuracy": "chance_accuracy"}


@dataclass(frozen=True)
class Published:
    """One number a paper reports, for one of our models at one length."""

    model: str
    paper_model: str
    length: int
    metric: str
    value: float
    where: str


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    source: str
    gpu: bool
    differences: tuple[str, ...]
    run: dict[str, Any]
    published: tuple[Published, ...]


class UnknownPreset(ValueError):
    """A preset name that is not in the data file; the message suggests close ones."""


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    """Every preset in bench/data/published.toml, by name."""
    data = tomllib.loads(resources.files("bench").joinpath("data/published.toml").read_text())
    return {name: Preset(name, entry["title"], entry["source"], bool(entry.get("gpu", False)),
                         tuple(entry.get("differences", ())), dict(entry["run"]),
                         tuple(Published(**row) for row in entry.get("published", ())))
            for name, entry in data.items()}


def get(name: str) -> Preset:
    """The preset called `name`, or UnknownPreset with a did-you-mean."""
    known = presets()
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownPreset(f"no preset '{name}'{hint} (presets: {', '.join(sorted(known))})")
    return known[name]


def comparison_table(frame: pd.DataFrame, name: str | None) -> pd.DataFrame | None:
    """For a preset run: one row per published number, with ours beside it (seed mean, 95% interval,
    seeds solved), our test accuracy and the chance levels; the preset's other models at the same lengths
    follow with "not reported". None for a run that is not a preset's."""
    if not name or name not in presets():
        return None
    published = list(get(name).published)
    reported = {(row.model, row.length) for row in published}
    for row in list(published):
        for model in sorted(set(frame.loc[frame["length"] == row.length, "model"])):
            if (model, row.length) not in reported:
                reported.add((model, row.length))
                published.append(Published(model, "", row.length, row.metric, float("nan"), "not reported"))
    return pd.DataFrame([_comparison_row(frame, row) for row in published]).set_index("model")


def _comparison_row(frame: pd.DataFrame, published: Published) -> dict[str, Any]:
    cells = frame[(frame["model"] == published.model) & (frame["length"] == published.length)]
    chance_column = CHANCE_COLUMNS.get(published.metric)
    chance = cells[chance_column].iloc[0] if chance_column and len(cells) else None
    accuracy = cells["accuracy"].astype(float).dropna()
    return {"model": published.model, "paper model": published.paper_model or "—", "L": published.length,
            "metric": METRIC_WORDS.get(published.metric, published.metric),
            "published": "—" if pd.isna(published.value) else _number(published.value, published.metric),
            "ours": _ours(cells, published.metric), "chance": "—" if chance is None else f"{chance:.4g}",
            "our test accuracy": (f"{accuracy.mean():.3f} (chance {cells['chance_accuracy'].iloc[0]:.3f})"
                                  if len(accuracy) else "—"),
            "seeds solved": f"{int(cells['solved'].sum())}/{len(cells)}" if len(cells) else "—",
            "source": published.where}


def _number(value: float, metric: str) -> str:
    return f"{value:,.0f}" if metric == "sequences_to_solve" else f"{value:.3g}"


def _ours(cells: pd.DataFrame, metric: str) -> str:
    """Our number for `metric`: the seed mean with its interval. Sequences to solve are censored by the
    budget, so they are listed seed by seed (up to MAX_LISTED), with how far the unsolved seeds got."""
    if cells.empty:
        return "not run"
    values = cells[metric].astype(float).dropna()
    if metric == "sequences_to_solve":
        return _sequences_text(cells, values)
    if values.empty:
        return "n/a"
    low, high = mean_interval(values)
    if 2 <= len(values) <= FEW_SEEDS:  # each seed's value: a t interval over a handful would mislead
        return f"{_number(values.mean(), metric)} (seeds {values.min():.3g}-{values.max():.3g})"
    return f"{_number(values.mean(), metric)} {interval_text(len(values), low, high, '.3g')}"


MAX_LISTED = 5


def _sequences_text(cells: pd.DataFrame, values: pd.Series) -> str:
    unsolved = cells[cells["sequences_to_solve"].isna()]
    reached = (unsolved["steps"].astype(float) * unsolved["batch_size"].astype(float)).max() if len(unsolved) else 0
    rest = f"; {len(unsolved)} unsolved after {reached:,.0f}" if len(unsolved) else ""
    if values.empty:
        return f"none of {len(cells)} seeds solved{rest}"
    if len(values) <= MAX_LISTED:
        shown = " / ".join(f"{value:,.0f}" for value in sorted(values))
    else:
        low, high = mean_interval(values)
        shown = f"mean {values.mean():,.0f} {interval_text(len(values), max(low, 0.0), high, ',.0f')}"
    return f"{shown} ({len(values)} of {len(cells)} seeds solved{rest})"


def describe(preset: Preset) -> list[str]:
    """The preset for `bench presets`: title, source, the options it sets, its published numbers and
    every stated difference."""
    options = " ".join(f"--{key} {','.join(map(str, value)) if isinstance(value, list) else value}"
                       for key, value in preset.run.items())
    lines = [f"{preset.name}{'  [needs a GPU for its full budget]' if preset.gpu else ''}",
             f"  {preset.title}", f"  source: {preset.source}", f"  runs: bench run {options}"]
    lines += [f"  published: {p.paper_model} at L={p.length}: {METRIC_WORDS.get(p.metric, p.metric)} "
              f"{p.value:,.6g} ({p.where})" for p in preset.published]
    lines += [f"  differs: {text}" for text in preset.differences]
    return lines
