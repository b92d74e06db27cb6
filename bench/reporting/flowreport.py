"""The gradient-flow section of a run's reports, from the diagnostics each cell stored (no torch here):
per task, at the longest length run, each model's gradient-flow profile and gradient-norm statistics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

FLOW_NOTE = ("At the longest length run per task: how much of the loss's gradient reaches each time step's "
             "state after training (one backward pass on 32 validation sequences, in float64), as the fitted "
             "factor per step back in time (below 1: vanishing, above 1: exploding) and the ratio "
             "||dL/ds_0|| / ||dL/ds_T-1||, geometric means over seeds; and the gradient norm before clipping over "
             "training (medians over seeds of each seed's median and 95th percentile, the largest max) with the "
             "mean share of steps where clipping acted. The state s_t is h_t (rnn, gru) or (h_t, c_t) (lstm).")


def longest_with_flow(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records at each task's longest length among cells that stored a gradient-flow profile."""
    probed = [r for r in records if r.get("gradient_flow")]
    longest: dict[str, int] = {}
    for record in probed:
        longest[record["task"]] = max(longest.get(record["task"], 0), record["length"])
    return [r for r in probed if r["length"] == longest[r["task"]]]


def flow_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (task, model) at the longest length: the seeds' flow and gradient-norm statistics."""
    rows = []
    for (task, model), group in _by_model(longest_with_flow(records)).items():
        rows.append({"task": task, "model": model, "length": group[0]["length"], "seeds": len(group),
                     "factor_per_step": _geometric_mean([math.exp(r["flow_decay"]) for r in group if r.get("flow_decay") is not None]),
                     "first_to_last": _geometric_mean([r.get("flow_first_to_last") for r in group]),
                     "grad_norm_median": _median([r.get("grad_norm_median") for r in group]),
                     "grad_norm_p95": _median([r.get("grad_norm_p95") for r in group]),
                     "grad_norm_max": _largest([r.get("grad_norm_max") for r in group]),
                     "clipped_fraction": _mean([r.get("clipped_fraction") for r in group])})
    return pd.DataFrame(rows)


def mean_profiles(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (task, model) at the longest length: the geometric mean over seeds of ||dL/ds_t|| against the
    distance T-1-t (steps whose norm underflowed to 0 are left out of the mean)."""
    rows = []
    for (task, model), group in _by_model(longest_with_flow(records)).items():
        profiles = [np.asarray([np.nan if v is None else v for v in r["gradient_flow"]], dtype=float) for r in group]
        steps = min(len(p) for p in profiles)
        logs = np.vstack([p[:steps] for p in profiles])
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(logs > 0, np.log10(logs), np.nan)
        for t, value in enumerate(_nanmean_columns(logs)):
            if np.isfinite(value):
                rows.append({"task": task, "model": model, "length": group[0]["length"], "distance": steps - 1 - t,
                             "grad_norm": 10 ** value})
    return pd.DataFrame(rows)


def _nanmean_columns(values: np.ndarray) -> np.ndarray:
    counts = np.isfinite(values).sum(0)
    sums = np.where(np.isfinite(values), values, 0).sum(0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _by_model(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: (r["task"], r["model"], r["seed"])):
        groups.setdefault((record["task"], record["model"]), []).append(record)
    return groups


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _geometric_mean(values: list[Any]) -> float | None:
    positive = [v for v in _finite(values) if v > 0]
    return float(np.exp(np.mean(np.log(positive)))) if positive else None


def _median(values: list[Any]) -> float | None:
    finite = _finite(values)
    return float(np.median(finite)) if finite else None


def _largest(values: list[Any]) -> float | None:
    finite = _finite(values)
    return max(finite) if finite else None


def _mean(values: list[Any]) -> float | None:
    finite = _finite(values)
    return float(np.mean(finite)) if finite else None


def flow_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the reports print it: factors to 4 places, tiny ratios in scientific notation."""
    shown = table.copy()
    shown["factor_per_step"] = shown["factor_per_step"].map(lambda v: "—" if v is None or pd.isna(v) else f"{v:.4f}")
    for column in ("first_to_last", "grad_norm_median", "grad_norm_p95", "grad_norm_max"):
        shown[column] = shown[column].map(lambda v: "—" if v is None or pd.isna(v) else f"{v:.3g}")
    shown["clipped_fraction"] = shown["clipped_fraction"].map(lambda v: "—" if v is None or pd.isna(v) else f"{v:.0%}")
    return shown.rename(columns={"factor_per_step": "factor/step", "first_to_last": "first/last",
                                 "grad_norm_median": "norm median", "grad_norm_p95": "norm p95",
                                 "grad_norm_max": "norm max", "clipped_fraction": "clipped"})
