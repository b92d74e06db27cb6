"""The one schema of results.csv / results.parquet: every column, its group and what it means.

The column order of the tables and the column dictionary in results/README.md both come from here
(`python -m bench.schema` prints the dictionary; tests/test_store.py holds the README to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import settings

GROUPS = ("identity", "settings", "outcome", "metrics", "cost", "provenance")
GROUP_MEANINGS = {
    "identity": "which cell this is (its key is a hash of everything that can change its numbers)",
    "settings": "how it was trained",
    "outcome": "what happened, and what it shows about memory (the last three derived when the table is built)",
    "metrics": "the numbers, on the test split unless named otherwise, with the baselines they are read against",
    "cost": "what it took",
    "provenance": "where it ran (the cell file holds the full provenance)",
}
# Floats in results.csv carry this many significant digits: the metrics are computed in float32, whose
# seventh digit is already noise (0.050999999046325684 is 0.051). Parquet and the cell files keep full
# precision.
CSV_SIGNIFICANT_DIGITS = 6
# Kept in the cell file, left out of the flat tables.
NESTED = ("curve", "provenance", "generalisation", "gradient_flow")


@dataclass(frozen=True)
class Column:
    name: str
    group: str
    meaning: str


def _columns(group: str, *pairs: tuple[str, str]) -> list[Column]:
    return [Column(name, group, meaning) for name, meaning in pairs]


DIAGNOSTICS = _columns(
    "metrics",
    ("grad_norm_median", "median gradient norm before clipping over the finite training steps (empty with "
                         "`--no-diagnostics` and in cells stored before diagnostics existed)"),
    ("grad_norm_p95", "95th percentile of the same"),
    ("grad_norm_max", "largest of the same"),
    ("clipped_fraction", "share of steps whose norm exceeded `--clip` (0 with clipping off)"),
    ("flow_decay", "after training, the least-squares slope of ln ‖dL/ds_t‖ against the distance T-1-t to "
                   "the end of the sequence: ln of the factor the gradient shrinks by per step back in time"),
    ("flow_first_to_last", "‖dL/ds_0‖ / ‖dL/ds_T-1‖"),
)

COLUMN_SPECS: list[Column] = [
    *_columns(
        "identity",
        ("key", "the cell's content hash: the name of its file under cells/"),
        ("task", "the task string, e.g. `adding:markers=anywhere`"),
        ("task_version", "bumped whenever the task's data changes"),
        ("task_params", "the task's options, as JSON"),
        ("task_kind", "classify or regress: what the task's loss and accuracy are (stored so that reports need "
                      "no plug-in)"),
        ("length_meaning", "what the task's length parameter L counts, in words"),
        ("model", "the model string: its registered name and any parameters, e.g. `lstm:forget_bias=1`"),
        ("model_version", "bumped whenever the model's initialisation or computation changes"),
        ("protocol", "the training loop's version"),
        ("length", "the task's length parameter L (what it counts is stated per task)"),
        ("min_span", "how far back every scored target reaches at least"),
        ("seq_len", "the input sequence's length in steps"),
        ("seed", "the seed of the model's initialisation and of the data streams"),
    ),
    *_columns(
        "settings",
        *[(s.column, s.meaning) for s in settings.MODEL if s.column],  # declared in bench/settings.py
        ("params", "the number of trainable parameters"),
        ("threads", "torch and numba threads per cell (part of the key on CPU)"),
        *[(s.column, s.meaning) for s in settings.TRAIN if s.column],
        ("solve_criterion", "the solve rule applied, in words, with its source"),
    ),
    *_columns(
        "outcome",
        ("status", "solved | unsolved (budget hit) | timeout | diverged | failed"),
        ("verdict", "solved | bridged | partial memory | at chance, or diverged | failed when there is no "
                    "test number (derived)"),
        ("solved", "the solve rule held on the training stream and the validation split confirmed it"),
        ("at_chance", "neither the test loss nor the test accuracy beats chance beyond its sampling error (one-sided "
                      "test at 5%) and a 1% effect-size floor (derived; the rule is in bench/verdicts.py)"),
        ("bridged", "the test loss or accuracy beats the short-memory baseline by the same test, and the cell is not "
                    "at chance (derived)"),
        ("final_solved", "the solve rule holds on the final test split (with `--stop budget`, a solved cell whose "
                         "final test misses it is shown as solved, then lost)"),
        ("steps_to_solve", "the step at which the solve rule first held (one-batch resolution)"),
        ("sequences_to_solve", "training sequences seen by then"),
        ("diverged_step", "the step whose loss or gradient became non-finite"),
        ("error", "the first line of the error of a failed cell"),
    ),
    *_columns(
        "metrics",
        ("accuracy", "test split, scored positions only"),
        ("accuracy_se", "its binomial standard error"),
        ("loss", "test split"),
        ("loss_se", "its standard error over sequences"),
        ("sequences_correct", "share of test sequences with every scored position right"),
        ("eval_positions", "scored positions in the test split"),
        ("valid_accuracy", "validation split at the last evaluation"),
        ("valid_loss", "validation split at the last evaluation"),
        ("best_valid_accuracy", "the best validation accuracy seen"),
        ("window_accuracy", "the last 2000 training sequences when training ended"),
        ("chance_accuracy", "accuracy of the best input-blind predictor"),
        ("chance_loss", "loss of the best input-blind predictor"),
        ("loss_ratio", "loss / chance loss"),
        ("short_memory_accuracy", "accuracy of the best predictor blind only to the inputs at the full span"),
        ("short_memory_loss", "loss of the same"),
        *[(column.name, column.meaning) for column in DIAGNOSTICS],
    ),
    *_columns(
        "cost",
        ("steps", "optimizer steps run"),
        ("seconds", "wall-clock seconds the cell took to train"),
        ("steps_per_second", "steps / seconds"),
    ),
    *_columns(
        "provenance",
        ("device", "the device the cell ran on: cpu or cuda[:N]"),
    ),
]

COLUMNS = [column.name for column in COLUMN_SPECS]
DIAGNOSTIC_COLUMNS = tuple(column.name for column in DIAGNOSTICS)
OPTIONAL_INTEGERS = ("params", "steps_to_solve", "sequences_to_solve", "diverged_step", "eval_positions")


def csv_text(frame) -> str:
    """The table as CSV, floats to CSV_SIGNIFICANT_DIGITS significant digits."""
    return frame.to_csv(index=False, float_format=f"%.{CSV_SIGNIFICANT_DIGITS}g")


def column_dictionary() -> str:
    """The column dictionary of results/README.md, as Markdown."""
    lines = [f"Columns of results.csv and results.parquet, in this order. Floats in results.csv carry "
             f"{CSV_SIGNIFICANT_DIGITS} significant digits (the metrics are float32, whose seventh digit is "
             f"noise); results.parquet and the cell files keep full precision.", ""]
    for group in GROUPS:
        lines += [f"**{group.capitalize()}**: {GROUP_MEANINGS[group]}.", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{c.name}` | {c.meaning} |" for c in COLUMN_SPECS if c.group == group]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(column_dictionary())
