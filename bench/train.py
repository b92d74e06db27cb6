"""train_cell: the one training loop, for every task and model.

Fresh data every step (sample indices step * batch ..), a fixed held-out set from the eval split,
evaluation every `eval_every` steps, early stop when the task's solve criterion holds, a budget of
optimizer steps and an optional wall-clock limit. A cell never raises: divergence and errors are results.
"""

from __future__ import annotations

import math
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.nn import functional as F

import tasks
from bench import models
from bench.sweep import Cell, content_hash

STATUSES = ("solved", "unsolved", "timeout", "diverged", "failed")
DIVERGENCE_FACTOR = 1e4  # a loss this many times the first step's loss has exploded, finite or not
EVAL_CHUNK = 250  # held-out sequences per forward pass during evaluation

ProgressCallback = Callable[[Cell, int, "float | None"], None]  # (cell, step, last eval accuracy)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class Outcome:
    """What the loop found; turned into a flat record by `_record`."""

    status: str = "unsolved"
    steps: int = 0
    steps_to_solve: int | None = None
    diverged_step: int | None = None
    accuracy: float | None = None
    loss: float | None = None
    best_accuracy: float | None = None
    params: int | None = None
    train_seconds: float = 0.0
    error: str | None = None
    curve: list[dict[str, float]] = field(default_factory=list)


def train_cell(cell: Cell, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train one cell and return its result record (with `curve` and `provenance` keys)."""
    started = time.time()
    outcome = Outcome()
    try:
        _train(cell, outcome, on_progress or (lambda *_: None))
    except Exception as error:  # a failure is a row, never a crashed sweep
        outcome.status = "failed"
        outcome.error = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
    return _record(cell, outcome, started)


def failed_record(cell: Cell, error: str) -> dict[str, Any]:
    """The record of a cell that could not run to an end (used when its worker dies)."""
    return _record(cell, Outcome(status="failed", error=error), time.time())


def _train(cell: Cell, outcome: Outcome, on_progress: ProgressCallback) -> None:
    task, budget = tasks.get(cell.task), cell.train
    device = torch.device(cell.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)  # denormals in backward make CPU recurrences up to 10x slower
    else:  # best effort: deterministic cuDNN algorithms where they exist (recorded in provenance)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    model = _seeded_model(cell, task).to(device)
    outcome.params = models.count_parameters(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    eval_set = _to_device(task.generate(budget.eval_size, cell.length, cell.seed, "eval"), device)
    clock, first_loss, loss_sum = time.perf_counter(), None, 0.0
    on_progress(cell, 0, None)

    for step in range(1, budget.steps + 1):
        start = (step - 1) * budget.batch_size
        x, y, mask = _to_device(task.generate(budget.batch_size, cell.length, cell.seed, "train", start), device)
        loss = mean_loss(task, model(x), y, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # max_norm=inf still returns the norm, so a non-finite gradient is caught without clipping
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), budget.clip or math.inf)
        loss_value, norm_value = torch.stack([loss.detach(), grad_norm.to(loss.device)]).tolist()
        first_loss = first_loss if first_loss is not None else loss_value
        outcome.steps = step
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)) or (
                loss_value > DIVERGENCE_FACTOR * max(first_loss, 1e-12)):
            outcome.status, outcome.diverged_step = "diverged", step
            break
        optimizer.step()
        loss_sum += loss_value
        timed_out = budget.time_limit > 0 and time.perf_counter() - clock > budget.time_limit
        if step % budget.eval_every == 0 or step == budget.steps or timed_out:
            _evaluate_into(outcome, model, task, eval_set, loss_sum / _since_eval(step, budget.eval_every),
                           time.perf_counter() - clock)
            loss_sum = 0.0
            on_progress(cell, step, outcome.accuracy)
            if task.is_solved(outcome.loss, outcome.accuracy):
                outcome.status, outcome.steps_to_solve = "solved", step
                break
        if timed_out:
            outcome.status = "timeout"
            break
    outcome.train_seconds = time.perf_counter() - clock


def _since_eval(step: int, every: int) -> int:
    return step % every or every


def _evaluate_into(outcome: Outcome, model: torch.nn.Module, task: tasks.Task, eval_set: Batch,
                   train_loss: float, seconds: float) -> None:
    loss, accuracy = evaluate(model, task, eval_set)
    outcome.loss, outcome.accuracy = loss, accuracy
    outcome.best_accuracy = max(accuracy, outcome.best_accuracy or 0.0)
    outcome.curve.append({"step": outcome.steps, "train_loss": train_loss, "eval_loss": loss,
                          "eval_accuracy": accuracy, "seconds": seconds})


def mean_loss(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The task's loss, averaged over the positions it is defined on."""
    total, count = _loss_sum(task, outputs, y, mask)
    return total / count


def _loss_sum(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor,
              mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    if task.loss_on == "all":
        outputs, y = outputs.flatten(0, 1), y.flatten()
    else:
        outputs, y = outputs[mask], y[mask]
    if task.kind == "classify":
        return F.cross_entropy(outputs.float(), y, reduction="sum"), y.numel()
    return F.mse_loss(outputs[:, 0].float(), y, reduction="sum"), y.numel()


def _correct(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions at the scored positions only."""
    scored, target = outputs[mask], y[mask]
    if task.kind == "classify":
        return (scored.argmax(-1) == target).sum()
    return ((scored[:, 0] - target).abs() < task.tolerance).sum()


@torch.inference_mode()
def evaluate(model: torch.nn.Module, task: tasks.Task, eval_set: Batch) -> tuple[float, float]:
    """(mean loss, accuracy on scored positions) over the held-out set."""
    model.eval()
    x_all, y_all, mask_all = eval_set
    loss_total, loss_count, correct = torch.zeros((), device=x_all.device), 0, torch.zeros((), device=x_all.device)
    for begin in range(0, len(x_all), EVAL_CHUNK):
        x, y, mask = (t[begin:begin + EVAL_CHUNK] for t in eval_set)
        outputs = model(x)
        total, count = _loss_sum(task, outputs, y, mask)
        loss_total, loss_count = loss_total + total, loss_count + count
        correct = correct + _correct(task, outputs, y, mask)
    model.train()
    return (loss_total / loss_count).item(), (correct / mask_all.sum()).item()


def _seeded_model(cell: Cell, task: tasks.Task) -> torch.nn.Module:
    """The model initialised from a seed the cell owns, leaving global random state untouched."""
    init = {"task": task.identity(), "length": cell.length, "model": cell.model, "seed": cell.seed}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(content_hash(init)[:15], 16))
        return models.build(cell.model, task.n_inputs, task.n_outputs, cell.model_config.hidden,
                            cell.model_config.layers, tokens=task.inputs == "tokens",
                            seq_len=task.seq_len(cell.length))


def _to_device(arrays: tuple, device: torch.device) -> Batch:
    return tuple(torch.from_numpy(a).to(device, non_blocking=True) for a in arrays)


def _record(cell: Cell, outcome: Outcome, started: float) -> dict[str, Any]:
    """The flat result row of one cell, plus its learning curve and provenance."""
    task, budget = tasks.get(cell.task), cell.train
    chance_loss = task.chance_loss(cell.length)
    seconds = outcome.train_seconds or (time.time() - started)
    loss_ratio = outcome.loss / chance_loss if outcome.loss is not None else None
    return {
        "key": cell.key, "task": cell.task, "task_version": task.version, "task_params": task.params,
        "model": cell.model, "length": cell.length, "seq_len": task.seq_len(cell.length), "seed": cell.seed,
        "hidden": cell.model_config.hidden, "layers": cell.model_config.layers, "params": outcome.params,
        "threads": cell.threads,
        "steps_budget": budget.steps, "batch_size": budget.batch_size, "lr": budget.lr, "clip": budget.clip,
        "status": outcome.status, "solved": outcome.status == "solved",
        "accuracy": outcome.accuracy, "best_accuracy": outcome.best_accuracy, "loss": outcome.loss,
        "chance_accuracy": task.chance_accuracy, "chance_loss": chance_loss, "loss_ratio": loss_ratio,
        "solve_criterion": task.solve_criterion, "steps": outcome.steps, "steps_to_solve": outcome.steps_to_solve,
        "sequences_to_solve": outcome.steps_to_solve and outcome.steps_to_solve * budget.batch_size,
        "diverged_step": outcome.diverged_step, "seconds": round(seconds, 3),
        "steps_per_second": outcome.steps / seconds if seconds > 0 else None,
        "device": cell.device, "error": outcome.error,
        "curve": outcome.curve, "provenance": _cell_provenance(cell, started),
    }


def _cell_provenance(cell: Cell, started: float) -> dict[str, Any]:
    device = torch.device(cell.device)
    info = {"started": started, "finished": time.time(), "host": platform.node(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cell_threads": cell.threads,
            "flush_denormal": device.type == "cpu"}
    if device.type == "cuda":
        try:  # provenance must never turn a failed cell into a crashed sweep
            info.update(gpu=torch.cuda.get_device_name(device), cudnn=torch.backends.cudnn.version(),
                        cudnn_deterministic=torch.backends.cudnn.deterministic,
                        cudnn_benchmark=torch.backends.cudnn.benchmark,
                        deterministic_algorithms=torch.are_deterministic_algorithms_enabled(),
                        cublas_workspace_config=os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
        except (RuntimeError, AssertionError, ValueError) as error:
            info["gpu"] = f"unavailable: {error}"
    return info
