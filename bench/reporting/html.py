"""report.html and compare.html: one self-contained page each (plots embedded, no network, no external
script), with model x length grids coloured from chance to perfect, per-cell details and sortable tables."""

from __future__ import annotations

import base64
import html
import math
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from bench.horizon import spread_text, with_settings
from bench.reporting.grid import (GRID_NOTE, ONE_SEED_NOTE, SELECTION_NOTE, header_items, length_header, one_seed,
                                  select_settings, settings_table, solve_parts, task_notes, verdict_text)
from bench.schema import DIAGNOSTIC_COLUMNS

STATUS_WORDS = {"solved": "✓ solved", "unsolved": "budget hit", "timeout": "time limit", "diverged": "✗ diverged",
                "failed": "✗ failed"}
PLOTS = [("accuracy_vs_length", "Test accuracy against length L"), ("heatmap", "The grid at a glance"),
         ("steps_to_solve", "Optimizer steps to solve"), ("learning_curves", "Learning curves"),
         ("length_generalisation", "Trained at L, tested at L'"),
         ("gradient_flow", "Gradient flow after training at the longest length")]
CELL_COLUMNS = ["model", "length", "min_span", "seed", "status", "verdict", "accuracy", "accuracy_se",
                "chance_accuracy", "short_memory_accuracy", "loss", "loss_se", "chance_loss", "short_memory_loss",
                "loss_ratio", "valid_accuracy", "window_accuracy", "steps", "steps_to_solve", "diverged_step",
                "seconds", "params"]
# the columns shown at first, so that the table fits a 1280 px window; every column is one click away
CELL_COLUMNS_SHOWN = ["model", "length", "seed", "verdict", "accuracy", "chance_accuracy", "short_memory_accuracy",
                      "loss_ratio", "steps", "steps_to_solve", "seconds"]
SEED_COLUMNS = ["seed", "status", "accuracy", "valid_accuracy", "best_valid_accuracy", "window_accuracy", "loss",
                "loss_se", "loss_ratio", "steps", "steps_to_solve", "diverged_step", "seconds", "steps_per_second",
                *DIAGNOSTIC_COLUMNS, "key"]
SEED_COLUMNS_SHOWN = ["seed", "status", "accuracy", "valid_accuracy", "loss_ratio", "steps", "steps_to_solve", "seconds"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1280px;padding:0 16px;
color:#1d1d1f}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
code{background:#f2f2f2;padding:1px 4px;border-radius:3px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right}
th{background:#f6f6f6;cursor:pointer;user-select:none}th.sorted-asc::after{content:' ▲'}
th.sorted-desc::after{content:' ▼'}td.name,th.name{text-align:left}
table.grid td{min-width:150px;text-align:center;vertical-align:top}table.grid td a{color:inherit;
text-decoration:none;display:block}table.grid td a:hover{text-decoration:underline}
.acc{font-size:16px;font-weight:600}.sub{font-size:12px;color:#444}
table.grid td.name{text-align:left;vertical-align:middle;font-weight:600}
td.broken{outline:2px solid #c0392b;outline-offset:-3px}
.legend{display:inline-block;width:220px;height:12px;vertical-align:middle;border:1px solid #bbb;
background:linear-gradient(to right,hsl(0,0%,96%),hsl(120,45%,60%))}
td.better{background:hsl(120,50%,82%)}td.worse{background:hsl(0,70%,85%)}td.newly{background:hsl(0,75%,72%)}
td.muted{color:#888}.side{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #eee}
div.scroll{overflow-x:auto;max-width:100%}td.name{white-space:nowrap}
section.cell{border-top:1px dashed #ccc;margin-top:18px}pre{white-space:pre-wrap;background:#fbeaea;padding:6px}
"""

# Sorting: click a header; numbers sort as numbers (from data-sort when the cell shows decorated text).
SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (header, column) {
    header.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var ascending = !header.classList.contains('sorted-asc');
      table.querySelectorAll('thead th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
      header.classList.add(ascending ? 'sorted-asc' : 'sorted-desc');
      function key(row) {
        var cell = row.cells[column], text = cell.getAttribute('data-sort');
        if (text === null) { text = cell.textContent.trim(); }
        var number = Number(text);
        return text !== '' && !isNaN(number) ? number : text;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), order;
        if (typeof x === 'number' && typeof y === 'number') { order = x - y; }
        else if (typeof x === 'number') { order = -1; } else if (typeof y === 'number') { order = 1; }
        else { order = x.localeCompare(y); }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def page(title: str, body: Iterable[str]) -> str:
    """A whole HTML document: inline style and script only, so it opens anywhere, offline."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + f"\n<script>{SORT_SCRIPT}</script>\n</body></html>\n")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def score(accuracy: float, chance: float) -> float:
    """Accuracy on a 0..1 scale from chance (0) to perfect (1); at or below chance is 0."""
    if accuracy is None or pd.isna(accuracy) or chance >= 1:
        return 0.0
    return min(max((accuracy - chance) / (1 - chance), 0.0), 1.0)


def score_colour(value: float) -> str:
    """Light grey at chance to green at perfect; light enough that dark text stays readable."""
    return f"hsl({120 * value:.0f},{45 * value:.0f}%,{96 - 36 * value:.0f}%)"


def cell_anchor(task: str, model: str, length: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"cell-{task}-{model}-{length}")


def render_report(frame: pd.DataFrame, records: list[dict[str, Any]], summary: pd.DataFrame,
                  manifest: dict[str, Any], plots_dir: Path) -> str:
    """report.html for one run, its plots embedded."""

    name = manifest.get("name", "")
    body = [f"<h1 id='top'>bench run <code>{_e(name)}</code></h1>", header_html(manifest)]
    if frame.empty:
        return page(f"bench {name}", body + ["<p>No finished cells yet.</p>"])
    body += horizons_html(frame) + published_html(frame, manifest)
    shown = select_settings(summary)
    for task, task_summary in shown.groupby("task", sort=True):
        body += task_section(frame[frame["task"] == task], task_summary, several=len(shown) < len(summary))
    if len(shown) < len(summary):
        table = settings_table(summary)
        body += ["<h2 id='settings'>Every setting</h2>", table_html(table, list(table.columns))]
    body += length_generalisation_html(records) + gradient_flow_html(records)
    body += plots_section(plots_dir)
    cells = with_settings(frame).sort_values(["task", "model", "setting", "length", "seed"])
    named = ["task", "model", *(["setting"] if cells["setting"].str.len().any() else [])]
    body += ["<h2 id='cells'>All cells</h2>", table_html(cells, named + CELL_COLUMNS_SHOWN[1:]),
             more_html("Every column", table_html(cells, named + CELL_COLUMNS[1:] + ["key"]))]
    body += ["<h2 id='details'>Cell details</h2>", *details_html(records)]
    return page(f"bench {name}", body)


def header_html(manifest: dict[str, Any]) -> str:
    """The sweep and its provenance as a definition list."""

    rows = "".join(f"<dt>{label}</dt><dd>{f'<code>{_e(text)}</code>' if label == 'command' else _e(text)}</dd>"
                   for label, text in header_items(manifest))
    return f"<dl class='meta'>{rows}</dl>"


def horizons_html(frame: pd.DataFrame) -> list[str]:
    """The headline: each model's horizon with its interval, before any grid."""
    from bench.horizon import HORIZON_RULE, headline

    items = "".join(f"<li>{_e(text)}</li>" for text in headline(frame))
    return ["<h2 id='horizons'>Horizons</h2>", f"<p>{_e(HORIZON_RULE)}</p>", f"<ul class='horizons'>{items}</ul>"]


def published_html(frame: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """For a preset run: the published numbers beside ours, with chance."""
    from bench.presets import comparison_table

    table = comparison_table(frame, manifest.get("preset"))
    if table is None:
        return []
    from bench.presets import get

    preset = get(manifest["preset"])
    differences = "".join(f"<li>{_e(text)}</li>" for text in preset.differences)
    return [f"<h2 id='published'>Published beside ours ({_e(preset.name)})</h2>",
            f"<p>{_e(preset.title)}. Source: {_e(preset.source)}.</p>",
            table_html(table.reset_index(), list(table.reset_index().columns)),
            f"<p>What this run does differently from the paper:</p><ul>{differences}</ul>"]


def gradient_flow_html(records: list[dict[str, Any]]) -> list[str]:
    """The gradient-flow table at each task's longest length (nothing when no cell has diagnostics)."""
    from bench.reporting.flowreport import FLOW_NOTE, flow_display, flow_table

    table = flow_table(records)
    if table.empty:
        return []
    shown = flow_display(table)
    return ["<h2 id='gradient-flow'>Gradient flow</h2>", f"<p class='sub'>{_e(FLOW_NOTE)}</p>",
            table_html(shown, list(shown.columns))]


def length_generalisation_html(records: list[dict[str, Any]]) -> list[str]:
    """Train at L, test at L' (only when `--eval-lengths` was asked for)."""
    from bench.reporting.generalisation import generalisation_summary

    table = generalisation_summary(records)
    if table.empty:
        return []
    return ["<h2 id='generalisation'>Length generalisation (trained at L, tested at L')</h2>",
            table_html(table, list(table.columns))]


def task_section(cells: pd.DataFrame, summary: pd.DataFrame, several: bool = False) -> list[str]:
    """One task's heading, chance and solve criterion, and its model x length grid."""

    first = cells.iloc[0]
    selection = f"<p>{_e(SELECTION_NOTE)}</p>" if several else ""
    single = one_seed(summary)  # said once above the grid, not in every cell
    return [f"<h2 id='task-{_e(first['task'])}'>{_e(first['task'])} <small>(version {first['task_version']})</small></h2>",
            f"<p>{_e(task_notes(cells))} {_e(GRID_NOTE)}{' ' + _e(ONE_SEED_NOTE) if single else ''} Colour: "
            f"<span class='legend'></span> chance → perfect. Click a cell for its learning curves.</p>{selection}",
            grid_html(summary, partial(report_cell, one_seed_noted=single))]


def grid_html(summary: pd.DataFrame, cell: Callable[[pd.Series], str] | None = None) -> str:
    """A model x length grid (rows model, columns length) of one task, cells drawn by `cell` (default:
    `report_cell`); sortable by any length."""
    cell = cell or report_cell

    lengths = sorted(summary["length"].unique())
    spans = summary.drop_duplicates("length").set_index("length")["min_span"] if "min_span" in summary else {}
    head = "<th class='name'>model</th>" + "".join(f"<th>{_e(length_header(length, spans.get(length)))}</th>"
                                                   for length in lengths)
    rows = []
    for model, model_rows in summary.groupby("model", sort=True):
        by_length = {row["length"]: row for _, row in model_rows.iterrows()}
        tds = "".join(cell(by_length[length]) if length in by_length else "<td data-sort='-1'>—</td>"
                      for length in lengths)
        rows.append(f"<tr><td class='name'>{_e(model)}</td>{tds}</tr>")
    return (f"<table class='grid sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table>")


def report_cell(row: pd.Series, link: bool = True, one_seed_noted: bool = False) -> str:
    """One grid cell: accuracy ± sd, chance, outcome counts; coloured by score, linked to its details
    (`one_seed_noted`: the grid says once that it has one seed per cell, so the cell does not)."""
    statuses = row["statuses"].split(",")
    broken = any(s in ("diverged", "failed") for s in statuses)
    accuracy = row["accuracy"]
    shown = "—" if pd.isna(accuracy) else f"{accuracy:.3f}"
    spread = "" if one_seed_noted else " " + spread_text(row["seeds"], row.get("accuracy_low"), row.get("accuracy_high"),
                                                         row.get("accuracy_min"), row.get("accuracy_max"))
    outcome = outcome_text(row, statuses)
    content = (f"<span class='acc'>{shown}</span>{spread}<br><span class='sub'>chance {row['chance_accuracy']:.3f}"
               f"</span><br><span class='sub'>{_e(outcome)}</span>")
    if link:
        content = f"<a href='#{cell_anchor(row['task'], row['model'], row['length'])}'>{content}</a>"
    return (f"<td class='{'broken' if broken else ''}' "
            f"style='background:{score_colour(score(accuracy, row['chance_accuracy']))}' "
            f"data-sort='{-1 if pd.isna(accuracy) else accuracy:.6f}' title='{_e(outcome)}'>{content}</td>")


def outcome_text(row: pd.Series, statuses: list[str]) -> str:
    """`3/3 solved, median 1,100 steps`, `budget hit, ≈chance`, `1 diverged` ..."""
    parts = solve_parts(row)  # the same words as report.md's cells
    parts += [STATUS_WORDS[s] for s in statuses if s != "solved"]
    if row["at_chance"]:
        parts.append("≈chance")
    if verdict_text(row) and (row["solved"] < row["seeds"] or row.get("lost", 0)):
        parts.append(verdict_text(row))
    return ", ".join(parts)


def plots_section(plots_dir: Path) -> list[str]:
    """The run's PNG plots embedded as data URIs (with a link to the SVG where `bench report --svg` drew it)."""
    out = ["<h2 id='plots'>Plots</h2>"]
    for stem, caption in PLOTS:
        path = plots_dir / f"{stem}.png"
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            vector = f" (also <a href='plots/{stem}.svg'>SVG</a>)" if path.with_suffix(".svg").is_file() else ""
            out.append(f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{_e(caption)}{vector}</figcaption></figure>")
    return out


def table_html(frame: pd.DataFrame, columns: list[str]) -> str:
    """A sortable table of `columns` (those present); numbers sort numerically."""
    columns = [c for c in columns if c in frame]
    head = "".join(f"<th class='{'name' if c in ('task', 'model', 'status', 'key') else ''}'>{_e(c)}</th>"
                   for c in columns)
    rows = []
    for _, row in frame.iterrows():
        rows.append("<tr>" + "".join(_table_cell(c, row[c]) for c in columns) + "</tr>")
    return (f"<div class='scroll'><table class='sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
            "</tbody></table></div>")


def more_html(summary: str, content: str) -> str:
    """`content` behind a click (closed until then), so that what is open fits the window."""
    return f"<details><summary>{_e(summary)}</summary>{content}</details>"


def _table_cell(column: str, value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<td data-sort='-1'></td>"
    if column == "key":
        return f"<td class='name' title='{_e(value)}'><code>{_e(str(value)[:12])}</code></td>"
    if isinstance(value, float):
        return f"<td data-sort='{value!r}'>{value:.4g}</td>"
    kind = "name" if isinstance(value, str) else ""
    return f"<td class='{kind}'>{_e(value)}</td>"


def details_html(records: list[dict[str, Any]]) -> list[str]:
    """A section per (task, model, length): its seeds' learning curves, outcomes, parameters and keys."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: (r["task"], r["model"], r["length"], r["seed"])):
        groups.setdefault((record["task"], record["model"], record["length"]), []).append(record)
    return [cell_detail(group) for group in groups.values()]


def cell_detail(group: list[dict[str, Any]]) -> str:
    first = group[0]
    seeds = pd.DataFrame([{k: r.get(k) for k in SEED_COLUMNS} for r in group])
    errors = [f"<pre>seed {r['seed']}: {_e(r['error'])}</pre>" for r in group if r.get("error")]
    return (f"<section class='cell' id='{cell_anchor(first['task'], first['model'], first['length'])}'>"
            f"<h3>{_e(first['task'])} · {_e(first['model'])} · L={first['length']}</h3>"
            f"<p class='sub'>{first.get('params') or '?'} parameters, hidden {first['hidden']}, layers "
            f"{first['layers']}, sequence length {first['seq_len']}, span ≥ {first.get('min_span', '?')}, "
            f"solved when {_e(first['solve_criterion'])}; the curve is validation accuracy"
            f"</p><div class='side'>{curve_svg(group)}{table_html(seeds, SEED_COLUMNS_SHOWN)}</div>"
            + more_html("Every column: gradient diagnostics, keys", table_html(seeds, SEED_COLUMNS))
            + "".join(errors) + "<p><a href='#top'>back to top</a></p></section>")


def curve_svg(group: list[dict[str, Any]], width: int = 360, height: int = 170) -> str:
    """Held-out accuracy against step for each seed of a cell, with the chance line, as inline SVG."""
    first = group[0]
    budget = max([first.get("steps_budget") or 1] + [p["step"] for r in group for p in r.get("curve") or []])
    left, top, plot_w, plot_h = 34, 8, width - 44, height - 30

    def xy(step: float, accuracy: float) -> str:
        return f"{left + plot_w * step / budget:.1f},{top + plot_h * (1 - accuracy):.1f}"

    chance = first["chance_accuracy"]
    parts = [f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' stroke='#bbb'/>",
             f"<line x1='{left}' x2='{left + plot_w}' y1='{top + plot_h * (1 - chance):.1f}' "
             f"y2='{top + plot_h * (1 - chance):.1f}' stroke='#666' stroke-dasharray='4 3'/>",
             f"<text x='2' y='{top + 10}' font-size='10'>1.0</text><text x='2' y='{top + plot_h}' font-size='10'>0.0</text>",
             f"<text x='{left}' y='{height - 4}' font-size='10'>0</text>",
             f"<text x='{left + plot_w}' y='{height - 4}' font-size='10' text-anchor='end'>{budget:,} steps</text>"]
    colours = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#949494", "#56b4e9"]
    for index, record in enumerate(group):
        points = [(p["step"], p["eval_accuracy"]) for p in record.get("curve") or []
                  if p.get("eval_accuracy") is not None and math.isfinite(p["eval_accuracy"])]
        if points:
            colour = colours[index % len(colours)]
            parts.append(f"<text x='{left + 6}' y='{top + 12 + 11 * index}' font-size='10' fill='{colour}'>"
                         f"seed {record['seed']}</text>")
            parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.6' "
                         f"points='{' '.join(xy(s, a) for s, a in points)}'><title>seed {record['seed']}</title></polyline>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
            f"aria-label='learning curves'>{''.join(parts)}</svg>")


def render_compare(table: pd.DataFrame, summary_a: pd.DataFrame, summary_b: pd.DataFrame,
                   names: tuple[str, str], counts: str) -> str:
    """compare.html: per task, run A's grid and run B's grid side by side, then the difference grid;
    `counts` is compare's one-line tally of the markers and the correction they used."""
    body = [f"<h1 id='top'>bench compare <code>{_e(names[0])}</code> → <code>{_e(names[1])}</code></h1>",
            "<p>" + _e(counts) + "</p>"]
    for task in sorted(set(table["task"])):
        grids = [f"<div><h3>{_e(label)}: {_e(name)}</h3>{grid_html(summary[summary['task'] == task], plain_cell)}</div>"
                 for label, name, summary in (("A", names[0], summary_a), ("B", names[1], summary_b))
                 if (summary["task"] == task).any()]
        body += [f"<h2>{_e(task)}</h2>", f"<div class='side'>{''.join(grids)}</div>",
                 "<h3>B − A</h3>", grid_html(_named_settings(table[table["task"] == task]), difference_cell)]
    return page(f"bench compare {names[0]} {names[1]}", body)


def _named_settings(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows whose model is shown with its setting (`gru (lr 0.01)`) where runs swept settings."""
    if "setting" not in rows or not rows["setting"].astype(str).str.len().any():
        return rows
    return rows.assign(model=[f"{m} ({s})" if s else m for m, s in zip(rows["model"], rows["setting"])])


def plain_cell(row: pd.Series) -> str:
    """A grid cell without a link (the compared runs' details live in their own reports)."""
    return report_cell(row, link=False)


def difference_cell(row: pd.Series) -> str:
    """B − A and the compare marker, coloured better / worse / newly broken / muted."""
    marker = str(row["marker"])
    kind = next((k for k in ("better", "worse", "newly") if marker.startswith(k)), "muted")
    difference = row["difference"]
    shown = "—" if pd.isna(difference) else f"{difference:+.3f}"
    return (f"<td class='{kind}' data-sort='{-9 if pd.isna(difference) else difference:.6f}'>"
            f"<span class='acc'>{shown}</span><br><span class='sub'>{_e(marker)}</span></td>")
