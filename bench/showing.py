"""`bench show` and `bench tasks --json`: one generated example of a task, and a task's whole spec."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import longdep_tasks as tasks

SPEC_LENGTHS = (50, 200, 1000)  # the lengths `bench tasks --json` states spans and baselines at


def length_meaning(task: str, stored: Any = None) -> str:
    """What `length` counts for a task string, in words: as stored with its cells, else as the registry
    says (a plug-in task stored before the column existed and not loaded here: generic)."""
    return stored if isinstance(stored, str) and stored else _registered(task, "length_meaning",
                                                                        "task's length parameter")


def task_kind(task: str, stored: Any = None) -> str:
    """classify or regress, as stored with the task's cells, else as the registry says."""
    return stored if stored in ("classify", "regress") else _registered(task, "kind", "classify")


def _registered(task: str, field: str, fallback: str) -> str:
    try:
        return getattr(tasks.get(task), field)
    except (LookupError, ValueError):
        return fallback


def length_label(task: tasks.Task, length: int) -> str:
    """`L=200 (sequence length T), span >= 100`: what the length is and how far back targets reach."""
    return f"L={length} ({task.length_meaning}), span >= {task.min_span(length)}"


def describe_example(task: tasks.Task, length: int, seed: int) -> str:
    """A step table of one training example: input, target, and whether the step is scored."""
    x, y, mask = (array[0] for array in task.generate(1, length, seed, "train"))
    short_loss, short_accuracy = task.short_memory_baseline(length)
    lines = [f"{task.variant} v{task.version}: {task.description}",
             f"{length_label(task, length)}, sequence length {task.seq_len(length)}; scored steps marked *",
             f"chance: accuracy {task.chance_accuracy_at(length):.4f}, {task.loss_name} {task.chance_loss(length):.4f}; "
             f"short memory: accuracy {short_accuracy:.4f}, {task.loss_name} {short_loss:.4f}",
             f"solved when {task.solve_criterion}",
             "step  input                target"]
    for step in range(len(y)):
        shown_input = _format_input(x[step], task.input_names)
        target = _format_target(task, y[step]) if mask[step] or task.loss_on == "all" else ""
        lines.append(f"{step:>4}  {shown_input:<20} {target}{' *' if mask[step] else ''}")
    return "\n".join(lines)


def task_spec(task: tasks.Task) -> dict[str, Any]:
    """Everything a reader needs to set this task's numbers beside a paper's, as plain data."""
    return {
        "name": task.name, "variant": task.variant, "version": task.version, "description": task.description,
        "source": task.source, "kind": task.kind, "inputs": task.inputs, "n_inputs": task.n_inputs,
        "n_outputs": task.n_outputs, "params": task.params,
        "options": {key: {"default": o.default, "accepts": o.describe(), "help": o.help} for key, o in task.options.items()},
        "length": {"meaning": task.length_meaning, "minimum": task.min_length},
        "loss": {"name": task.loss_name, "over": "every step" if task.loss_on == "all" else "the scored steps"},
        **({"tolerance": task.tolerance} if task.kind == "regress" else {}),
        "solve_rule": {**dataclasses.asdict(task.rule), "text": task.solve_criterion},
        "at": [_at_length(task, length) for length in sorted({max(task.min_length, L) for L in SPEC_LENGTHS})],
        "peers": [peer.to_dict() for peer in task.peers],
    }


def _at_length(task: tasks.Task, length: int) -> dict[str, Any]:
    short_loss, short_accuracy = task.short_memory_baseline(length)
    return {"length": length, "seq_len": task.seq_len(length), "min_span": task.min_span(length),
            "chance": {"loss": task.chance_loss(length), "accuracy": task.chance_accuracy_at(length)},
            "short_memory": {"loss": short_loss, "accuracy": short_accuracy}}


def _format_input(value: np.ndarray, names: dict[int, str]) -> str:
    if np.ndim(value) == 0:
        return _token(int(value), names)
    return "[" + ", ".join(f"{v:.3f}" for v in value) + "]"


def _format_target(task: tasks.Task, value: np.ndarray) -> str:
    return _token(int(value), task.target_names) if task.kind == "classify" else f"{float(value):.4f}"


def _token(token: int, names: dict[int, str]) -> str:
    """`8 (blank)` for a token with a role, `3` for a data symbol."""
    return f"{token} ({names[token]})" if token in names else str(token)
