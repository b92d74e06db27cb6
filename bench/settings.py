"""Every training setting, declared once.

A `Setting` names one field of `TrainConfig` (or `ModelConfig`) with its command-line flag, type, range,
default and help, whether it can change a cell's numbers, and the results column that records it. The rest
is derived from these declarations and nowhere written again:

- the options of `bench run`, `bench horizon` and `bench probe` (bench/cli/options.py), hence the keys of a
  `--config` file and the `BENCH_<COMMAND>_<OPTION>` environment variables (click derives both from the
  options);
- the cell key (`TrainConfig.identity`: a setting added after cells were stored is left out at its default,
  so those cells keep their keys);
- the settings columns of results.csv (`row_values`, and bench/schema.py's column dictionary);
- the settings `bench compare` requires to agree before it compares two cells (`COMPARED`), and the ones it
  can contrast instead (`CONTRASTED`).

This module imports neither torch nor click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    """One setting: `name` is the config field and the option's Python name."""

    name: str
    flag: str  # the command-line option, e.g. --batch-size; a boolean pair is written "--on/--off"
    kind: str  # int | float | choice | flag | lengths
    default: Any
    help: str
    column: str = ""  # its results column ("" when it has none, e.g. a list that only tables elsewhere show)
    meaning: str = ""  # the column's entry in the column dictionary
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    numbers: bool = True  # can change a cell's metrics: compare refuses cells that differ in it
    # a hyperparameter of the model or the optimiser: compare can contrast two values of it (cells paired on
    # everything else); the budget, the stop rule and the evaluation are not, so cells differing there stay
    # not comparable
    contrast: bool = False
    later: bool = False  # added after cells were stored: left out of the key at its default
    owner: str = "train"  # train (TrainConfig) | model (ModelConfig)
    # the models it acts on (None: all); elsewhere it is not part of the key, and asking for it with none
    # of them is refused by the plan
    applies_to: Callable[[str], bool] | None = None

    def row_value(self, value: Any, model: str) -> Any:
        """What the results column records for a cell of `model` trained with `value`."""
        if self.applies_to is not None and not self.applies_to(model):
            value = self.default
        return self.as_column(value)

    def as_column(self, value: Any) -> Any:
        return ",".join(map(str, value)) if self.kind == "lengths" else value


def _compiles(model: str) -> bool:
    from bench import models

    return models.compiles(model)


MODEL: tuple[Setting, ...] = (
    Setting("hidden", "--hidden", "int", 128, "Hidden units per layer (model width).", "hidden",
            "the width of the model", 1, 65536, owner="model", contrast=True),
    Setting("layers", "--layers", "int", 1, "Stacked layers.", "layers", "the number of stacked layers", 1, 64,
            owner="model", contrast=True),
)

TRAIN: tuple[Setting, ...] = (
    Setting("steps", "--steps", "int", 4000, "Optimizer steps budget per cell.", "steps_budget",
            "the most optimizer steps allowed", 1, 10**8),
    Setting("batch_size", "--batch-size", "int", 64, "Training sequences per optimizer step.", "batch_size",
            "sequences per step", 1, 65536, contrast=True),
    Setting("lr", "--lr", "float", 1e-3, "Adam learning rate.", "lr", "the learning rate", 0, 1e6, low_open=True,
            contrast=True),
    Setting("clip", "--clip", "float", 1.0, "Gradient-norm clipping; 0 turns it off.", "clip",
            "the gradient-norm clipping threshold (0: off)", 0, 1e9, contrast=True),
    Setting("eval_every", "--eval-every", "int", 200,
            "Optimizer steps between validation points of the learning curve.", "eval_every",
            "steps between validation evaluations", 1, 10**8),
    Setting("eval_size", "--eval-size", "int", 1000, "Sequences in the validation and the test split.", "eval_size",
            "sequences in the validation and test splits", 1, 10**6),
    Setting("time_limit", "--time-limit", "float", 0.0, "Wall-clock seconds per cell; 0 means none.", "time_limit",
            "seconds allowed per cell (0: none)", 0, 10**7),
    Setting("stop", "--stop", "choice", "solved",
            "Stop a cell once it is solved (cheap sweeps), or train the whole budget and still record when it was "
            "solved (final numbers comparable with papers that train to a budget).", "stop",
            "solved: stop at the first confirmed solve | budget: train the whole budget", choices=("solved", "budget")),
    Setting("eval_lengths", "--eval-lengths", "lengths", (),
            "After training, also test every cell at these lengths (train at L, test at L'): a table and a plot "
            "of their own.", "eval_lengths", "the extra test lengths L' (comma-separated; their numbers are in "
            "generalisation.csv)", numbers=False, later=True, low=1, high=10_000_000),
    Setting("diagnostics", "--diagnostics/--no-diagnostics", "flag", True,
            "Record each cell's gradient norms (median, 95th percentile, max, share of steps clipped) and its "
            "gradient-flow profile at the end of training; they change no training number.", "diagnostics",
            "whether the gradient diagnostics were recorded", numbers=False, later=True),
    Setting("amp", "--amp", "choice", "none",
            "Mixed precision: bf16 runs forward passes under autocast (losses, gradients and Adam stay float32). "
            "Part of the cell key: its numbers differ from float32 ones.", "amp",
            "none (float32 throughout) or bf16 (forward passes under autocast)", choices=("none", "bf16"), later=True,
            contrast=True),
    Setting("compile", "--compile/--no-compile", "flag", False,
            "torch.compile the models it speeds up (`bench models` marks them); part of those cells' keys. The "
            "first steps of each cell pay the compilation.", "compile",
            "whether the model ran under torch.compile (only models that compile; false for the others)",
            later=True, applies_to=_compiles, contrast=True),
)

ALL: tuple[Setting, ...] = MODEL + TRAIN
BY_NAME: dict[str, Setting] = {setting.name: setting for setting in ALL}


def train_defaults() -> dict[str, Any]:
    return {setting.name: setting.default for setting in TRAIN}


def later_defaults() -> dict[str, Any]:
    """The settings a cell key leaves out at their default (cells stored before they existed keep their keys)."""
    return {setting.name: setting.default for setting in TRAIN if setting.later}


def row_values(model: str, model_config: Any, train: Any) -> dict[str, Any]:
    """The settings columns of one cell's results row."""
    values = {}
    for setting in ALL:
        if setting.column:
            source = model_config if setting.owner == "model" else train
            values[setting.column] = setting.row_value(getattr(source, setting.name), model)
    return values


# What bench compare requires to agree, besides the versions: every column of a setting that changes numbers.
COMPARED: tuple[str, ...] = tuple(setting.column for setting in ALL if setting.column and setting.numbers)
# ... and of those, the ones it can contrast (`bench compare A B` across runs that differ in them, `--across`)
CONTRASTED: tuple[str, ...] = tuple(setting.column for setting in ALL if setting.column and setting.contrast)


def column_defaults() -> dict[str, Any]:
    """Each settings column's value for cells stored before the column existed (the setting's default then)."""
    return {setting.column: setting.as_column(setting.default) for setting in ALL if setting.column and setting.later}
