"""`bench show`: one generated example of a task, laid out step by step."""

from __future__ import annotations

import numpy as np

import tasks


def describe_example(task: tasks.Task, length: int, seed: int) -> str:
    """A step table of one training example: input, target, and whether the step is scored."""
    x, y, mask = (array[0] for array in task.generate(1, length, seed, "train"))
    lines = [f"{task.name} v{task.version}: {task.description}",
             f"dependency length L={length}, sequence length {task.seq_len(length)}; "
             f"scored steps marked *; chance accuracy {task.chance_accuracy:.4f}, "
             f"chance {task.loss_name} {task.chance_loss(length):.4f}; solved when {task.solve_criterion}",
             "step  input            target"]
    for step in range(len(y)):
        shown_input = _format_input(x[step])
        target = _format_target(task, y[step]) if mask[step] or task.loss_on == "all" else ""
        lines.append(f"{step:>4}  {shown_input:<16} {target}{' *' if mask[step] else ''}")
    return "\n".join(lines)


def _format_input(value: np.ndarray) -> str:
    if np.ndim(value) == 0:
        return str(int(value))
    return "[" + ", ".join(f"{v:.3f}" for v in value) + "]"


def _format_target(task: tasks.Task, value: np.ndarray) -> str:
    return str(int(value)) if task.kind == "classify" else f"{float(value):.4f}"
