"""Seaborn plots of a run: accuracy against dependency length, learning curves, a grid heatmap, and
steps to solve. Byte-stable: the same cells give the same files."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
matplotlib.rcParams["svg.hashsalt"] = "bench"  # stable element ids: the same cells give the same SVG bytes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from bench.reporting.generalisation import generalisation_frame  # noqa: E402
from bench.horizon import horizons, mean_interval  # noqa: E402
from bench.showing import length_meaning, task_kind  # noqa: E402
from bench.reporting.plotdigest import DIGEST_FILE, drawn_from, inputs_digest  # noqa: E402
from bench.store import atomic_write  # noqa: E402

STATUS_MARKERS = {  # how each outcome is drawn over the model's line
    "solved": ("o", "solved"),
    "unsolved": ("o", "budget hit (unsolved)"),
    "timeout": ("s", "time limit hit"),
    "diverged": ("D", "diverged (no test number: kept out of the mean)"),
    "failed": ("X", "failed (no test number: kept out of the mean)"),
}
DODGE = 1.04  # factor between neighbouring models' x positions on the log length axis


def write_plots(frame: pd.DataFrame, records: list[dict[str, Any]], summary: pd.DataFrame, folder: Path,
                svg: bool = False) -> None:
    """Every plot of a run into `folder`, as PNG (and SVG with `svg`); nothing is drawn again when the plots
    there were drawn from the same inputs by the same code (a rebuilt report, a re-run that computed
    nothing)."""
    digest, drawn = inputs_digest(frame, records, summary), drawn_from(folder)
    if drawn == digest + SVG_MARK or (drawn == digest and not svg):
        return
    global _FORMATS
    _FORMATS = ("png", "svg") if svg else ("png",)
    try:
        _draw_all(frame, records, summary, folder)
    finally:
        _FORMATS = ("png",)
    atomic_write(folder / DIGEST_FILE, (digest + (SVG_MARK if svg else "")).encode())


SVG_MARK = "+svg"  # the digest of plots drawn with their SVGs
_FORMATS = ("png",)  # PNG by default: SVG doubles the drawing time (`bench report RUN --svg` adds them)


def _draw_all(frame: pd.DataFrame, records: list[dict[str, Any]], summary: pd.DataFrame, folder: Path) -> None:
    (folder / DIGEST_FILE).unlink(missing_ok=True)  # from here until the new digest, the plots are in flux
    for stale in folder.glob("*.svg") if folder.is_dir() else ():  # an SVG from other inputs would mislead
        stale.unlink()
    plot_accuracy_vs_length(frame, folder / "accuracy_vs_length")
    plot_learning_curves(records, folder / "learning_curves")
    plot_heatmap(summary, folder / "heatmap")
    plot_steps_to_solve(frame, folder / "steps_to_solve")
    plot_length_generalisation(records, folder / "length_generalisation")
    shown = set(frame["key"])  # the selected setting's cells, like the other plots
    plot_gradient_flow([r for r in records if r["key"] in shown], folder / "gradient_flow")


def _save(figure: plt.Figure, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    for kind in _FORMATS:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind, dpi=130, bbox_inches="tight", metadata={"Date": None} if kind == "svg" else None)
        atomic_write(stem.with_suffix(f".{kind}"), buffer.getvalue())
    plt.close(figure)


def _dodged_lengths(cells: pd.DataFrame, palette: dict[str, Any]) -> pd.Series:
    """Lengths shifted a few percent per model on the log axis, so markers at one point stay visible."""
    models = sorted(palette)
    dodge = {model: DODGE ** (i - (len(models) - 1) / 2) for i, model in enumerate(models)}
    return cells["length"] * cells["model"].map(dodge)


def _log_length_axis(axis: plt.Axes, lengths: pd.Series) -> None:
    """A log x axis ticked at exactly the dependency lengths that were run."""
    ticks = sorted(lengths.unique())
    axis.set_xscale("log")
    axis.set_xticks(ticks, [str(length) for length in ticks])
    axis.minorticks_off()
    # a margin of a quarter of a decade, so one or two lengths do not stretch the dodge across the panel
    axis.set_xlim(ticks[0] / 10 ** 0.25, ticks[-1] * 10 ** 0.25)


def _log_step_axis(axis: plt.Axes, steps: pd.Series, most: int = 6) -> None:
    """A log y axis labelled at the step counts drawn (at most `most` of them, spread over the range):
    solve steps often lie within one decade, where a plain log axis shows no label at all."""
    values = sorted(set(steps.dropna().astype(float)))
    axis.set_yscale("log")
    if values:
        count = min(most, len(values))
        picks = sorted({values[round(i * (len(values) - 1) / max(count - 1, 1))] for i in range(count)})
        axis.set_yticks(picks, [f"{value:,.0f}" for value in picks])
        axis.minorticks_off()


def _palette(models: Any) -> dict[str, Any]:
    return dict(zip(sorted(set(models)), sns.color_palette("colorblind")))


def plot_accuracy_vs_length(frame: pd.DataFrame, stem: Path) -> None:
    """Accuracy against dependency length: a panel per task, a line per model, the seed range as a band,
    chance as a dashed line, and each cell's outcome as a marker so nothing is silently missing."""
    task_names = sorted(frame["task"].unique())
    figure, axes = plt.subplots(1, len(task_names), figsize=(5.2 * len(task_names), 4.2), squeeze=False)
    palette = _palette(frame["model"])
    found = [h for h in horizons(frame) if h.length is not None]
    for axis, task in zip(axes[0], task_names):
        _plot_task(axis, frame[frame["task"] == task], task, palette, [h for h in found if h.task == task])
    figure.legend(handles=_legend_handles(palette, frame, bool(found)), loc="center left", bbox_to_anchor=(1.0, 0.5),
                  frameon=False)
    figure.tight_layout()
    _save(figure, stem)


def _plot_task(axis: plt.Axes, cells: pd.DataFrame, task: str, palette: dict[str, Any], found: list[Any]) -> None:
    # the line and its band are the seed mean and its 95% t interval over the cells that have a test
    # accuracy; failed and diverged-before-any-eval cells have none and are drawn apart, as crosses at 0;
    # each model is shifted a few percent along the log axis so markers at chance do not hide each other
    cells = cells.assign(shown=cells["accuracy"].fillna(0.0), x=_dodged_lengths(cells, palette))
    measured = cells[cells["accuracy"].notna()]
    if len(measured):
        sns.lineplot(data=measured, x="x", y="accuracy", hue="model", palette=palette, errorbar=share_interval,
                     ax=axis, legend=False, linewidth=1.6)
    for (model, status), group in cells.groupby(["model", "status"]):
        marker, _ = STATUS_MARKERS[status]
        hollow = status in ("unsolved", "timeout")
        axis.scatter(group["x"], group["shown"], marker=marker, s=46, zorder=3,
                     facecolors="white" if hollow else palette[model], edgecolors=palette[model],
                     linewidths=1.4)
    _mark_horizons(axis, found, palette)
    first = cells.iloc[0]
    axis.axhline(first["chance_accuracy"], color="0.35", linestyle="--", linewidth=1.1)
    if _has_short_memory(cells):
        axis.axhline(first["short_memory_accuracy"], color="0.55", linestyle=(0, (1, 2)), linewidth=1.3)
    _log_length_axis(axis, cells["length"])
    axis.set_ylim(-0.03, 1.08)
    axis.set_title(f"{task} (v{first['task_version']})", fontsize=10)
    axis.set_xlabel(f"L = {length_meaning(task, first.get('length_meaning'))} (log scale)")
    axis.set_ylabel("test accuracy, scored positions")


def share_interval(values: pd.Series) -> tuple[float, float]:
    """The 95% t interval of a mean accuracy, clipped to [0, 1] (an accuracy is a share)."""
    low, high = mean_interval(pd.Series(values))
    return max(low, 0.0), min(high, 1.0)


def _mark_horizons(axis: plt.Axes, found: list[Any], palette: dict[str, Any]) -> None:
    """A downward triangle above each model's horizon (the longest L at least half its seeds solved)."""
    for horizon in found:
        x = _dodged_lengths(pd.DataFrame({"length": [horizon.length], "model": [horizon.model]}), palette).iloc[0]
        axis.scatter([x], [1.05], marker="v", s=70, color=palette[horizon.model], zorder=4, clip_on=False)


def _has_short_memory(cells: pd.DataFrame) -> bool:
    """Whether this task's short-memory baseline differs from chance (else one line says both)."""
    return "short_memory_accuracy" in cells and bool(
        (cells["short_memory_accuracy"] - cells["chance_accuracy"]).abs().max() > 1e-9)



def _legend_handles(palette: dict[str, Any], frame: pd.DataFrame, any_horizon: bool) -> list[Line2D]:
    handles = [Line2D([], [], color=color, linewidth=2, label=model) for model, color in palette.items()]
    handles.append(Line2D([], [], color="0.35", linestyle="--", label="chance"))
    if _has_short_memory(frame):
        handles.append(Line2D([], [], color="0.55", linestyle=(0, (1, 2)), label="short memory"))
    for status in sorted(set(frame["status"]), key=list(STATUS_MARKERS).index):
        marker, label = STATUS_MARKERS[status]
        hollow = status in ("unsolved", "timeout")
        handles.append(Line2D([], [], marker=marker, linestyle="", color="0.2", label=label,
                              markerfacecolor="white" if hollow else "0.2"))
    if len(frame["seed"].unique()) > 1:
        handles.append(Line2D([], [], color="0.7", linewidth=6, alpha=0.5, label="95% interval of the seed mean"))
    if any_horizon:
        handles.append(Line2D([], [], marker="v", linestyle="", color="0.2", label="horizon (≥ half of seeds solved)"))
    return handles


def plot_learning_curves(records: list[dict[str, Any]], stem: Path) -> None:
    """Validation accuracy (validation MSE, log scale, for regression tasks: an accuracy threshold hides how
    far a regression is from solved) against optimizer step: a row per task, a column per length, a line
    per (model, seed) ending in a dot at its last evaluation (so a one-point curve still shows), chance
    dashed."""
    points = pd.DataFrame([{**point, "task": r["task"], "length": r["length"], "model": r["model"], "seed": r["seed"],
                            "chance": r["chance_accuracy"], "chance_loss": r.get("chance_loss"),
                            "task_kind": task_kind(r["task"], r.get("task_kind"))}
                           for r in records for point in r.get("curve") or []])
    if points.empty:
        return
    tasks_shown, lengths = sorted(points["task"].unique()), sorted(points["length"].unique())
    palette = _palette(points["model"])
    figure, axes = plt.subplots(len(tasks_shown), len(lengths), figsize=(3.4 * len(lengths), 2.6 * len(tasks_shown)),
                                squeeze=False, sharey="row")
    for (row, task), (column, length) in itertools.product(enumerate(tasks_shown), enumerate(lengths)):
        # plain matplotlib lines: a seaborn FacetGrid draws the figure several times to lay it out
        axis, cell = axes[row][column], points[(points["task"] == task) & (points["length"] == length)]
        metric, chance, label = _curve_metric(points.loc[points["task"] == task, "task_kind"].iloc[0])
        for (model, _), curve in cell.groupby(["model", "seed"], sort=True):
            axis.plot(curve["step"], curve[metric], color=palette[model], linewidth=1.4)
            axis.plot(curve["step"].iloc[-1:], curve[metric].iloc[-1:], "o", color=palette[model], markersize=3.5)
        if len(cell) and pd.notna(cell[chance].iloc[0]):
            axis.axhline(cell[chance].iloc[0], color="0.35", linestyle="--", linewidth=1)
        if metric == "eval_loss":
            axis.set_yscale("log")
            _plain_log_labels(axis)
        else:
            axis.set_ylim(-0.03, 1.03)
        axis.set_title(f"{task}, L = {length}" if len(tasks_shown) > 1 else f"L = {length}", fontsize=9)
        axis.set_xlabel("optimizer step" if row == len(tasks_shown) - 1 else "")
        axis.set_ylabel(label if column == 0 else "")
    handles = [Line2D([], [], color=palette[model], label=model) for model in palette]
    handles.append(Line2D([], [], color="0.35", linestyle="--", label="chance"))
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.tight_layout()
    _save(figure, stem)


def _plain_log_labels(axis: plt.Axes) -> None:
    """A log y axis labelled in plain numbers (0.2, 0.3, not 2×10⁻¹), its minor ticks too when the data
    span under two decades (where a plain log axis may show no label at all)."""
    def decades() -> float:
        low, high = axis.get_ylim()
        return float(np.log10(high / low)) if low > 0 else float("inf")

    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if decades() < 2 else ""))


def _curve_metric(kind: str) -> tuple[str, str, str]:
    """(curve column, chance column, axis label) of a task's learning curve: MSE for a regression."""
    if kind == "regress":
        return "eval_loss", "chance_loss", "validation MSE (log)"
    return "eval_accuracy", "chance", "validation accuracy"


def _accuracy_ticks(colorbar: Any, chances: np.ndarray) -> None:
    """Label the colour bar in the cells' own unit, test accuracy: its 0..1 scale runs from chance to perfect,
    so with one chance level the ticks read chance, ..., 1.00 (several chance levels: 'chance' and 'perfect')."""
    positions = np.linspace(0, 1, 5)
    colorbar.set_ticks(positions)
    if len(chances) == 1:
        chance = float(chances[0])
        colorbar.set_ticklabels([f"{chance + p * (1 - chance):.2f}" + (" chance" if p == 0 else "") for p in positions])
    else:
        colorbar.set_ticklabels(["chance", "", "", "", "perfect"])


def plot_heatmap(summary: pd.DataFrame, stem: Path) -> None:
    """The grid of cells per task (model x length), coloured from chance (0) to perfect (1)."""
    task_names = sorted(summary["task"].unique())
    figure, axes = plt.subplots(1, len(task_names), figsize=(4.6 * len(task_names), 2.8), squeeze=False)
    for axis, task in zip(axes[0], task_names):
        rows = summary[summary["task"] == task]
        above_chance = (rows["accuracy"] - rows["chance_accuracy"]) / (1 - rows["chance_accuracy"])
        scaled = rows.assign(scaled=above_chance.clip(0, 1)).pivot(index="model", columns="length", values="scaled")
        labels = rows.pivot(index="model", columns="length", values="accuracy").map(
            lambda v: "n/a" if pd.isna(v) else f"{v:.2f}")
        sns.heatmap(scaled.astype(float), annot=labels, fmt="", vmin=0, vmax=1, cmap="viridis", ax=axis,
                    cbar_kws={"label": "test accuracy (chance → perfect)"}, linewidths=0.5)
        _accuracy_ticks(axis.collections[0].colorbar, rows["chance_accuracy"].dropna().unique())
        axis.set_title(task, fontsize=10)
        axis.set_xlabel(f"L = {length_meaning(task, rows['length_meaning'].iloc[0])}")
    figure.tight_layout()
    _save(figure, stem)


def plot_steps_to_solve(frame: pd.DataFrame, stem: Path) -> None:
    """Optimizer steps to solve against dependency length (log-log); cells that ran out of budget are
    drawn hollow at their budget, as a lower bound."""
    task_names = sorted(frame["task"].unique())
    figure, axes = plt.subplots(1, len(task_names), figsize=(5.2 * len(task_names), 4.0), squeeze=False)
    palette = _palette(frame["model"])
    for axis, task in zip(axes[0], task_names):
        cells = frame[frame["task"] == task]
        solved = cells[cells["solved"].astype(bool)]
        if len(solved):
            solved = solved.astype({"steps_to_solve": float}).assign(x=_dodged_lengths(solved, palette))
            sns.lineplot(data=solved, x="x", y="steps_to_solve", hue="model",
                         palette=palette, marker="o", errorbar=("pi", 100), ax=axis, legend=False)
        budget = cells[cells["status"].isin(["unsolved", "timeout"])]
        budget = budget.assign(x=_dodged_lengths(budget, palette))
        for model, group in budget.groupby("model"):
            axis.scatter(group["x"], group["steps"], marker="^", s=46, facecolors="white",
                         edgecolors=palette[model], zorder=3)
        _log_step_axis(axis, pd.concat([solved.get("steps_to_solve", pd.Series(dtype=float)), budget["steps"]]))
        _log_length_axis(axis, cells["length"])
        axis.set_title(task, fontsize=10)
        axis.set_xlabel(f"L = {length_meaning(task, cells['length_meaning'].iloc[0])} (log scale)")
        axis.set_ylabel("optimizer steps to solve")
    handles = [Line2D([], [], color=color, linewidth=2, label=model) for model, color in palette.items()]
    handles.append(Line2D([], [], marker="^", linestyle="", color="0.2", markerfacecolor="white",
                          label="not solved within budget (≥)"))
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.tight_layout()
    _save(figure, stem)


def plot_length_generalisation(records: list[dict[str, Any]], stem: Path) -> None:
    """Trained at L, tested at L': test accuracy against L', a panel per (task, trained L), a line per
    model (seed mean with its 95% interval), chance dashed and the training length dotted."""
    points = generalisation_frame(records)
    points = points[points["accuracy"].notna()]
    if points.empty:
        return
    grid = sns.relplot(data=points, x="eval_length", y="accuracy", hue="model", row="task", col="length",
                       kind="line", marker="o", errorbar=share_interval, palette=_palette(points["model"]),
                       height=2.8, aspect=1.3, facet_kws={"sharex": False, "margin_titles": True})
    for (task, length), axis in grid.axes_dict.items():
        here = points[(points["task"] == task) & (points["length"] == length)]
        if len(here):
            chance = here.sort_values("eval_length")
            axis.plot(chance["eval_length"], chance["chance_accuracy"], color="0.35", linestyle="--", linewidth=1)
            axis.axvline(length, color="0.6", linestyle=":", linewidth=1)
            _log_length_axis(axis, here["eval_length"])
        axis.set_ylim(-0.03, 1.03)
    grid.set_titles(row_template="{row_name}", col_template="trained at L={col_name}")
    grid.set_axis_labels("tested at L' (log scale)", "test accuracy")
    _save(grid.figure, stem)


def plot_gradient_flow(records: list[dict[str, Any]], stem: Path) -> None:
    """The end-of-training gradient-flow profiles at each task's longest length: a panel per task, a
    line per model (geometric mean over seeds), log scale."""
    from bench.reporting.flowreport import flow_table, mean_profiles

    profiles = mean_profiles(records)
    if profiles.empty:
        return
    factors = flow_table(records).set_index(["task", "model"])["factor_per_step"]
    task_names = sorted(profiles["task"].unique())
    figure, axes = plt.subplots(1, len(task_names), figsize=(6.2 * len(task_names), 4.2), squeeze=False)
    palette = _palette(profiles["model"])
    for axis, task in zip(axes[0], task_names):
        rows = profiles[profiles["task"] == task]
        for model, points in rows.groupby("model"):
            factor = factors.get((task, model))
            axis.plot(points["distance"], points["grad_norm"], color=palette[model], linewidth=1.6,
                      label=model + (f" (×{factor:.3g}/step)" if factor is not None and pd.notna(factor) else ""))
        axis.set_yscale("log")
        axis.set_title(f"{task}, L={rows['length'].iloc[0]}: after training")
        axis.set_xlabel("steps back from the end of the sequence (T-1-t)")
        axis.set_ylabel("||dL/ds_t||, geometric mean over seeds")
        axis.legend(fontsize=8, frameon=False)
    _save(figure, stem)


def plot_probe(profiles: pd.DataFrame, summary: pd.DataFrame, training: pd.DataFrame, spec: Any, stem: Path) -> None:
    """`bench probe`: ||dL/ds_t|| against the distance to the end of the sequence (log scale), a line per
    model (colour) and checkpoint (later ones darker and solid), labelled with the fitted factor per step;
    beside it, when the models were trained, the pre-clipping gradient norm per step with the clip."""
    trained = len(training) > 0
    figure, axes = plt.subplots(1, 2 if trained else 1, figsize=(12.5 if trained else 7, 4.4), squeeze=False)
    palette = _palette(profiles["model"])
    _plot_profiles(axes[0][0], profiles, summary, palette)
    axes[0][0].set_title(f"{spec.task}, L={spec.length}: gradient reaching each step"
                         + (f" (init radius {spec.init_radius:g})" if spec.init_radius is not None else ""))
    if trained:
        _plot_training_norms(axes[0][1], training, spec.clip, palette)
    _save(figure, stem)


def _plot_profiles(axis: plt.Axes, profiles: pd.DataFrame, summary: pd.DataFrame, palette: dict[str, Any]) -> None:
    steps = sorted(summary["step"].unique())
    rates = summary.set_index(["model", "step"])["factor_per_step"]
    for (model, step), points in profiles[profiles["grad_norm"] > 0].groupby(["model", "step"]):
        late = steps.index(step) + 1 == len(steps)
        factor = rates.get((model, step))
        label = f"{model} {'init' if step == 0 else f'step {step}'}" + (f" (×{factor:.3g}/step)" if pd.notna(factor) else "")
        axis.plot(points["distance"], points["grad_norm"], color=palette[model], label=label,
                  linestyle="-" if late else "--", alpha=0.35 + 0.65 * (steps.index(step) + 1) / len(steps), linewidth=1.6)
    axis.set_yscale("log")
    axis.set_xlabel("steps back from the end of the sequence (T-1-t)")
    axis.set_ylabel("mean ||dL/ds_t|| over the batch")
    axis.legend(fontsize=8, frameon=False)


def _plot_training_norms(axis: plt.Axes, training: pd.DataFrame, clip: float, palette: dict[str, Any]) -> None:
    for model, rows in training.groupby("model"):
        finite = rows[np.isfinite(rows["grad_norm"])]
        if len(finite) <= 100:
            axis.plot(finite["step"], finite["grad_norm"], color=palette[model], label=model, linewidth=1.2)
            continue
        # step-to-step noise hides the trend: each step faint, a running median over 1/40 of the run on top
        axis.plot(finite["step"], finite["grad_norm"], color=palette[model], linewidth=0.5, alpha=0.25)
        window = max(5, len(finite) // 40)
        axis.plot(finite["step"], finite["grad_norm"].rolling(window, center=True, min_periods=1).median(),
                  color=palette[model], linewidth=1.8, label=f"{model} (running median of {window})")
    if clip > 0:
        axis.axhline(clip, color="#666", linestyle=":", label=f"clip {clip:g}")
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("gradient norm before clipping")
    axis.set_title("gradient norm during training" + (" (clipping off)" if clip <= 0 else ""))
    axis.legend(fontsize=8, frameon=False)
