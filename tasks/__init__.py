"""Task plug-ins: a frozen, versioned spec per task and a registry that discovers them.

A task module declares a `Task` and registers it; it holds no torch, no I/O and no training. `bench`
reaches tasks only through `get` / `names`. Modules in this package whose names do not start with an
underscore are imported on first use, so a new task is one new file; installed packages add tasks through
the `bench.tasks` entry-point group, and `bench run --plugin FILE.py` loads one from anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from bench.registry import Registry, UnknownNameError, load_entry_points
from tasks._rng import stream_key

SPLITS = ("train", "eval")

Kernel = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Task:
    """Everything the harness needs to know about one synthetic memory task.

    `length` is always the dependency length, the number of steps the model must bridge; `seq_len`
    says how long the input sequence is for it. `kernel(stream, start, n, length, *kernel_args)`
    returns numpy arrays x, y, mask for samples start..start+n-1 of `stream`.
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
    chance_accuracy: float
    loss_on: Literal["mask", "all"] = "mask"  # positions the loss averages over
    solve_accuracy: float = 0.99  # solved when held-out accuracy on scored positions reaches this,
    solve_loss: float | None = None  # or, where set, when the held-out loss falls below this
    tolerance: float = 0.04  # regress: a prediction is correct when |error| < tolerance
    min_length: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the literature the definition follows

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
        """Raise ValueError for a dependency length this task cannot be built with."""
        if not isinstance(length, (int, np.integer)) or length < self.min_length:
            raise ValueError(f"task {self.name} needs a length of at least {self.min_length}, not {length}")

    def is_solved(self, loss: float, accuracy: float) -> bool:
        """The task's solve criterion, applied to held-out loss and accuracy."""
        if self.solve_loss is not None:
            return loss < self.solve_loss
        return accuracy >= self.solve_accuracy

    @property
    def solve_criterion(self) -> str:
        """The solve criterion in words, for tables and reports."""
        if self.solve_loss is not None:
            return f"{self.loss_name} < {self.solve_loss:g}"
        return f"accuracy >= {self.solve_accuracy:g}"

    @property
    def loss_name(self) -> str:
        """MSE or CE."""
        return "CE" if self.kind == "classify" else "MSE"

    def identity(self) -> dict[str, Any]:
        """What of the task goes into a cell key."""
        return {"name": self.name, "version": self.version, "params": dict(sorted(self.params.items()))}


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
    return task


def get(name: str) -> Task:
    """The registered task called `name` (UnknownNameError lists close matches)."""
    return _registry.get(name)


def names() -> list[str]:
    """Names of all registered tasks."""
    return _registry.names()


def unknown_message(name: str) -> str:
    """The error text for an unknown task name."""
    return _registry.unknown_message(name)


def discover() -> None:
    """Find every task (this package's modules and installed entry points), once."""
    _registry.discover()


__all__ = ["Task", "UnknownNameError", "register", "get", "names", "discover", "SPLITS"]
