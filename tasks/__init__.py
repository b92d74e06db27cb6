"""Task plug-ins: a frozen, versioned spec per task and a registry that discovers them.

A task module declares a `Task` and registers it; it holds no torch, no I/O and no training. `bench`
reaches tasks only through `get` / `names`. Modules in this package whose names do not start with an
underscore are imported on first use, so a new task is one new file; installed packages add tasks through
the `bench.tasks` entry-point group, and `bench run --plugin FILE.py` loads one from anywhere.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from bench.registry import Registry, UnknownNameError, VariantError, load_entry_points, split_variant_list
from bench.registry import parse_variant as registry_parse_variant
from longdep_tasks._rng import stream_key

SPLITS = ("train", "valid", "test")  # training stream; validation (curves, confirming a solve); test (reported)
STATE_WINDOW = 2000  # sequences in the training-stream window that solve rules are judged on

Kernel = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Option:
    """One declared task parameter: its default and the values it accepts (`choices` for words,
    `low`..`high` for whole numbers)."""

    default: Any
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    help: str = ""

    def parse(self, task: str, key: str, text: str) -> Any:
        """The value `text` stands for, or VariantError naming what is accepted."""
        if self.choices:
            if text not in self.choices:
                raise VariantError(f"task {task}: {key}={text!r} is not one of {', '.join(self.choices)}")
            return text
        if not re.fullmatch(r"[+-]?\d+", text) or not self.low <= int(text) <= self.high:
            raise VariantError(f"task {task}: {key}={text!r} must be a whole number in {self.low}..{self.high}")
        return int(text)

    def describe(self) -> str:
        """`halves|anywhere` or `1..64`, for help texts and `bench tasks`."""
        return "|".join(self.choices) if self.choices else f"{self.low}..{self.high}"


@dataclass(frozen=True)
class SolveRule:
    """When a cell counts as solved, judged on the most recent `window` training sequences (each batch
    is fresh data, so this is an unbiased held-out estimate at one-batch resolution) and confirmed on the
    validation split.

    kind "all_correct": every sequence of the window is correct (every scored position), and the mean
    loss over the window is below `max_loss` where set (Hochreiter & Schmidhuber 1997's stop rule).
    kind "accuracy": accuracy over the scored positions of the window reaches `accuracy`."""

    kind: Literal["all_correct", "accuracy"] = "accuracy"
    accuracy: float = 0.99
    max_loss: float | None = None
    window: int = STATE_WINDOW
    source: str = "bench default (the cited source gives no stop rule)"

    def holds(self, accuracy: float, sequences_correct: float, loss: float) -> bool:
        """The rule on a window's (or a held-out set's) accuracy, fraction of fully correct sequences
        and mean loss."""
        if self.kind == "all_correct":
            return sequences_correct >= 1.0 and (self.max_loss is None or loss < self.max_loss)
        return accuracy >= self.accuracy

    def describe(self, loss_name: str) -> str:
        """The rule in words, for tables and reports."""
        if self.kind == "all_correct":
            error = f" and mean {loss_name} < {self.max_loss:g}" if self.max_loss is not None else ""
            return f"the {self.window} most recent training sequences all correct{error} ({self.source})"
        return f"accuracy >= {self.accuracy:g} over the {self.window} most recent training sequences ({self.source})"


@dataclass(frozen=True)
class Peer:
    """A published generator this task is measured against (tests/test_peers.py ports each one)."""

    repo: str
    path: str
    variant: str  # the task string that reproduces it (or comes closest)
    differences: str = "none"  # what still differs; "none" when the variant reproduces it

    def to_dict(self) -> dict[str, str]:
        return {"repo": self.repo, "path": self.path, "variant": self.variant, "differences": self.differences}


@dataclass(frozen=True)
class Task:
    """Everything the harness needs to know about one synthetic memory task.

    `length` is the task's length parameter, the one `--lengths` sweeps; `length_meaning` says what it
    is (for adding the sequence length T, for copy the blank gap) and `min_span(length)` how far back
    every scored target reaches at least. `kernel(stream, start, n, length, *kernel_args)` returns numpy
    arrays x, y, mask for samples start..start+n-1 of `stream`.
    """

    name: str
    version: int
    description: str
    kind: Literal["classify", "regress"]
    inputs: Literal["tokens", "features"]
    n_inputs: int  # vocabulary size for tokens, feature count for features
    n_outputs: int  # classes for classify, values per step for regress
    seq_len: Callable[[int], int]
    min_span: Callable[[int], int]  # every sample's target depends on an input this many steps back
    kernel: Kernel
    kernel_args: tuple[Any, ...]
    oracle: Callable[[np.ndarray, int], np.ndarray]  # perfect-memory answer from x, for the checker
    chance_loss: Callable[[int], float]  # loss of the best predictor that ignores the inputs
    chance_accuracy: float | Callable[[int], float]  # a number, or a function of length where it varies
    loss_on: Literal["mask", "all"] = "mask"  # positions the loss averages over
    rule: SolveRule = SolveRule()
    tolerance: float = 0.04  # regress: a prediction is correct when |error| < tolerance
    min_length: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the literature the definition follows
    length_meaning: str = "dependency length"  # what `length` counts, in words
    # names of the token ids with a role (blank, delimiter, query, ...), for inputs and for targets, shown by
    # `bench show`; ids not named are data symbols
    input_names: dict[int, str] = field(default_factory=dict)
    target_names: dict[int, str] = field(default_factory=dict)
    # The best predictor blind only to the inputs at least min_span(L) steps back from the last scored
    # step ("short memory"): its loss and accuracy, and the predictor itself (probabilities per class
    # for classify, values for regress) from an x whose far inputs are scrambled. None: equal to chance
    # (the far inputs hold everything the targets need).
    short_memory_loss: Callable[[int], float] | None = None
    short_memory_accuracy: Callable[[int], float] | None = None
    short_memory: Callable[[np.ndarray, int], np.ndarray] | None = None
    options: dict[str, Option] = field(default_factory=dict)  # the parameters a task string may set
    make: Callable[..., "Task"] | None = None  # builds the task from keyword parameters (variants)
    peers: tuple[Peer, ...] = ()

    def generate(
        self, n: int, length: int, seed: int, split: str, start: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Samples start..start+n-1 of the (length, seed, split) stream: x, y, mask (scored positions).

        Pure function of (task, version, params, length, seed, split, sample index).
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        self.check_length(length)
        key = stream_key(self.name, self.version, self.params, length, seed, split)
        return self.kernel(key, start, n, length, *self.kernel_args)

    def check_length(self, length: int) -> None:
        """Raise ValueError for a length this task cannot be built with."""
        if not isinstance(length, (int, np.integer)) or length < self.min_length:
            raise ValueError(f"task {self.variant} needs a length of at least {self.min_length}, not {length}")

    @property
    def solve_criterion(self) -> str:
        """The solve rule in words, for tables and reports."""
        return self.rule.describe(self.loss_name)

    @property
    def loss_name(self) -> str:
        """MSE or CE."""
        return "CE" if self.kind == "classify" else "MSE"

    def chance_accuracy_at(self, length: int) -> float:
        """The accuracy of the best input-blind predictor at `length`."""
        return self.chance_accuracy(length) if callable(self.chance_accuracy) else self.chance_accuracy

    def short_memory_baseline(self, length: int) -> tuple[float, float]:
        """(loss, accuracy) of the short-memory predictor; chance where the task declares none."""
        if self.short_memory_loss is None:
            return self.chance_loss(length), self.chance_accuracy_at(length)
        return self.short_memory_loss(length), self.short_memory_accuracy(length)

    @property
    def variant(self) -> str:
        """`adding:markers=anywhere`: the name and the parameters that differ from the defaults."""
        changed = {k: v for k, v in sorted(self.params.items())
                   if k in self.options and v != self.options[k].default}
        return self.name + (":" + ",".join(f"{k}={v}" for k, v in changed.items()) if changed else "")

    def with_params(self, **params: Any) -> "Task":
        """This task with some parameters changed (validated by the caller)."""
        if self.make is None:
            raise VariantError(f"task {self.name} takes no parameters")
        defaults = {key: option.default for key, option in self.options.items()}
        return self.make(**{**defaults, **self.params, **params})

    def data_identity(self) -> dict[str, Any]:
        """What decides the task's data (and so a model's seeded initialisation): name, version, params."""
        return {"name": self.name, "version": self.version, "params": dict(sorted(self.params.items()))}

    def identity(self) -> dict[str, Any]:
        """What of the task goes into a cell key: its data and the rule that judges it."""
        identity = {**self.data_identity(), "rule": dataclasses.asdict(self.rule), "tolerance": self.tolerance}
        origin = _registry.origin(self.name)
        return {**identity, "plugin": origin[1]} if origin else identity


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """`adding:markers=anywhere,x=1` -> ("adding", {"markers": "anywhere", "x": "1"}) (bench.registry's rule)."""
    return registry_parse_variant(text, "task")


def split_task_list(text: str) -> list[str]:
    """`adding:markers=anywhere,copy` -> two task strings (bench.registry's rule)."""
    return split_variant_list(text)


_variants: dict[str, Task] = {}


def _variant(text: str) -> Task:
    name, raw = parse_variant(text)
    base = _registry.get(name)
    if not raw:
        return base
    unknown = [key for key in raw if key not in base.options]
    if unknown:
        known = ", ".join(f"{k}={o.describe()}" for k, o in base.options.items()) or "none"
        raise VariantError(f"task {name} has no parameter {unknown[0]!r} (parameters: {known})")
    params = {key: base.options[key].parse(name, key, value) for key, value in raw.items()}
    task = base.with_params(**params)
    return task


def _discover() -> None:
    """Import every public module of this package, then the installed `bench.tasks` entry points."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    load_entry_points("bench.tasks", _adopt)


def _adopt(name: str, item: object) -> None:
    """An entry point naming a Task object (rather than a module that registers its own)."""
    if not isinstance(item, Task):
        raise TypeError(f"expected a tasks.Task or a module, got {type(item).__name__}")
    if not (item.name in _registry and _registry.get(item.name) is item):  # not registered by its own module
        register(item)


_registry: Registry[Task] = Registry("task", _discover)


def register(task: Task) -> Task:
    """Add a task to the registry; a second task with the same name raises."""
    _registry.register(task.name, task)
    _variants.clear()  # variants are built from the registered task, which may just have been replaced
    return task


def get(name: str) -> Task:
    """The task a string names: a registered name, or `NAME:key=value[,key=value]` for a variant
    (UnknownNameError lists close names; VariantError says which parameter or value is wrong)."""
    if ":" not in name:
        return _registry.get(name)
    if name not in _variants:
        try:
            _variants[name] = _variant(name)
        except (VariantError, UnknownNameError):
            raise
        except ValueError as error:  # the builder refused a combination of parameters
            raise VariantError(f"task {name!r}: {error}") from None
    return _variants[name]


def names() -> list[str]:
    """Names of all registered tasks."""
    return _registry.names()


def unknown_message(name: str) -> str:
    """The error text for an unknown task name."""
    return _registry.unknown_message(name)


def discover() -> None:
    """Find every task (this package's modules and installed entry points), once."""
    _registry.discover()


__all__ = ["Task", "Option", "SolveRule", "Peer", "VariantError", "UnknownNameError", "register", "get", "names",
           "discover", "parse_variant", "split_task_list", "SPLITS"]
