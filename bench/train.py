"""train_cell: the one training loop, for every task and model.

Fresh data every step (sample indices step * batch ..), a fixed held-out set from the eval split,
evaluation every `eval_every` steps, early stop when the task's solve criterion holds, a budget of
optimizer steps and an optional wall-clock limit. A cell never raises: divergence and errors are results.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.nn import functional as F

import longdep_tasks as tasks
from bench import flow, models, settings
from bench.checkpoint import Checkpoints, checkpoint_path
from bench.provenance import machine
from bench.schema import DIAGNOSTIC_COLUMNS
from bench.sweep import PROTOCOL, Cell, compiles, content_hash

STATUSES = ("solved", "unsolved", "timeout", "diverged", "failed")
DIVERGENCE_FACTOR = 1e4  # a loss this many times the first step's loss has exploded, finite or not
EVAL_CHUNK = 250  # held-out sequences per forward pass during evaluation
FLOW_BATCH = 32  # validation sequences the end-of-training gradient-flow profile is averaged over
DIAGNOSTICS = (*DIAGNOSTIC_COLUMNS, "gradient_flow")

ProgressCallback = Callable[[Cell, int, "float | None"], None]  # (cell, step, last validation accuracy)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class Metrics:
    """A model's numbers on a set of sequences: mean loss and its standard error over sequences,
    accuracy over the scored positions and its binomial standard error, the fraction of sequences whose
    scored positions were all correct, and how many sequences and scored positions that was."""

    loss: float
    loss_se: float
    accuracy: float
    accuracy_se: float
    sequences_correct: float
    sequences: int
    positions: int

    def summary(self) -> tuple[float, float, float]:
        """(accuracy, fraction of sequences fully correct, mean loss): what a SolveRule judges."""
        return self.accuracy, self.sequences_correct, self.loss


@dataclass
class Outcome:
    """What the loop found; turned into a flat record by `_record`."""

    status: str = "unsolved"
    steps: int = 0
    steps_to_solve: int | None = None
    diverged_step: int | None = None
    test: Metrics | None = None
    valid_accuracy: float | None = None
    valid_loss: float | None = None
    best_valid_accuracy: float | None = None
    window_accuracy: float | None = None  # on the training stream's last window, when training ended
    params: int | None = None
    train_seconds: float = 0.0
    error: str | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    generalisation: list[dict[str, Any]] = field(default_factory=list)  # at --eval-lengths
    grad_norms: list[float] = field(default_factory=list)  # pre-clipping, every step
    diagnostics: dict[str, Any] = field(default_factory=dict)


class StreamWindow:
    """The most recent `size` training sequences' numbers (correct scored positions, scored positions,
    fully correct or not, loss): every training batch is fresh data the model has not been fitted to
    yet, so this is an unbiased held-out estimate at no extra cost, updated every step."""

    def __init__(self, size: int) -> None:
        self.values = np.zeros((size, 4))
        self.filled, self.next = 0, 0

    def add(self, rows: np.ndarray) -> None:
        rows = rows[-len(self.values):]
        self.values[(self.next + np.arange(len(rows))) % len(self.values)] = rows
        self.next = (self.next + len(rows)) % len(self.values)
        self.filled = min(len(self.values), self.filled + len(rows))

    @property
    def full(self) -> bool:
        return self.filled == len(self.values)

    def summary(self) -> tuple[float, float, float]:
        """(accuracy over scored positions, fraction of sequences fully correct, mean loss)."""
        seen = self.values[:self.filled]
        return seen[:, 0].sum() / max(seen[:, 1].sum(), 1), seen[:, 2].mean(), seen[:, 3].mean()


def train_cell(cell: Cell, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train one cell and return its result record (with `curve` and `provenance` keys)."""
    started = time.time()
    outcome = Outcome()
    try:
        _train(cell, outcome, on_progress or (lambda *_: None))
    except Exception as error:  # a failure is a row, never a crashed sweep
        outcome.status = "failed"
        outcome.error = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
    finally:  # flush-to-zero is process-wide CPU state: do not leave it set in a caller that trains in-process
        torch.set_flush_denormal(False)
    return _record(cell, outcome, started)


def failed_record(cell: Cell, error: str) -> dict[str, Any]:
    """The record of a cell that could not run to an end (used when its worker dies)."""
    return _record(cell, Outcome(status="failed", error=error), time.time())


def _train(cell: Cell, outcome: Outcome, on_progress: ProgressCallback) -> None:
    """The loop. Three splits keep selection honest: the training stream decides when the task looks
    solved, the validation split confirms it (and draws the learning curve), and the test split, used
    for nothing else, gives the reported numbers once training has ended."""
    task, budget = tasks.get(cell.task), cell.train
    device = torch.device(cell.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)  # denormals in backward make CPU recurrences up to 10x slower
    else:  # best effort: deterministic cuDNN algorithms where they exist (recorded in provenance)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    model = seeded_model(cell, task).to(device)
    outcome.params = models.count_parameters(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    if budget.amp != "none":  # forward passes under autocast; losses, gradients and Adam stay in float32
        model.amp_dtype = AMP_DTYPES[budget.amp]
    if budget.compile and compiles(cell.model):
        model.forward = torch.compile(model.forward)  # the module itself stays, for the diagnostics
    valid_set = _held_out(task, cell, "valid", device)
    loop = LoopState(StreamWindow(task.rule.window))
    # after a solve the validation split does not confirm, wait for a whole new window before asking again
    confirm_gap = math.ceil(task.rule.window / budget.batch_size)
    checkpoints = Checkpoints(checkpoint_path(cell.checkpoint_dir, cell.key) if cell.checkpoint_dir else None,
                              cell.key, cell.checkpoint_every)
    saved = checkpoints.resume()
    if saved is not None:
        _restore(saved, model, optimizer, loop, outcome)
    clock = time.perf_counter() - loop.elapsed
    on_progress(cell, outcome.steps, outcome.valid_accuracy)

    batches = training_batches(task, cell, device, start=outcome.steps)
    for step in range(outcome.steps + 1, budget.steps + 1):
        x, y, mask = batch = next(batches)
        outputs, per_sequence, loss, grad_norm = backward(model, optimizer, task, batch, budget.clip)
        stats = _sequence_stats(task, outputs.detach(), y, mask, per_sequence.detach())
        # one transfer per step: the loss, the norm and the window's rows
        numbers = torch.cat([torch.stack([loss.detach(), grad_norm.to(loss.device)]), stats.flatten()]).cpu().numpy()
        loss_value, norm_value = float(numbers[0]), float(numbers[1])
        outcome.grad_norms.append(norm_value)
        loop.first_loss = loop.first_loss if loop.first_loss is not None else loss_value
        outcome.steps = step
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)) or (
                loss_value > DIVERGENCE_FACTOR * max(loop.first_loss, 1e-12)):
            outcome.status, outcome.diverged_step = "diverged", step
            break
        optimizer.step()
        loop.loss_sum += loss_value
        window = loop.window
        window.add(numbers[2:].reshape(-1, 4))
        if (outcome.steps_to_solve is None and window.full and step >= loop.next_confirm
                and task.rule.holds(*window.summary())):
            if task.rule.holds(*evaluate(model, task, valid_set).summary()):
                outcome.status, outcome.steps_to_solve = "solved", step
            else:
                loop.next_confirm = step + confirm_gap
        timed_out = budget.time_limit > 0 and time.perf_counter() - clock > budget.time_limit
        stopping = outcome.status == "solved" and budget.stop == "solved"
        if step % budget.eval_every == 0 or step == budget.steps or timed_out or stopping:
            _validate_into(outcome, model, task, valid_set, loop.loss_sum / _since_eval(step, budget.eval_every),
                           window, time.perf_counter() - clock)
            loop.loss_sum = 0.0
            on_progress(cell, step, outcome.valid_accuracy)
        if stopping:
            break
        if timed_out:
            outcome.status = "timeout" if outcome.status != "solved" else outcome.status
            break
        if checkpoints.due() and step < budget.steps:
            loop.elapsed = time.perf_counter() - clock
            checkpoints.save(_captured(model, optimizer, loop, outcome))
    batches.close()  # stops a prefetching thread before the test split is generated
    window = loop.window
    outcome.window_accuracy = window.summary()[0] if window.filled else None
    outcome.train_seconds = time.perf_counter() - clock
    test = evaluate(model, task, _held_out(task, cell, "test", device))
    outcome.test = test if math.isfinite(test.loss) else None
    outcome.generalisation = [_tested_at(model, task, cell, length, device) for length in budget.eval_lengths]
    if budget.diagnostics:
        outcome.diagnostics = _diagnostics(model, task, valid_set, outcome.grad_norms, budget.clip)


@dataclass
class LoopState:
    """What the loop carries from step to step besides the model, the optimiser and the outcome."""

    window: StreamWindow
    next_confirm: int = 1  # the first step at which a solve may be confirmed on validation
    first_loss: float | None = None  # divergence is judged against it
    loss_sum: float = 0.0  # training loss since the last evaluation
    elapsed: float = 0.0  # seconds of training before this process took over (a resumed cell)


# Outcome fields a checkpoint carries (the rest are set once training has ended)
RESUMED_FIELDS = ("status", "steps", "steps_to_solve", "valid_accuracy", "valid_loss", "best_valid_accuracy",
                  "curve", "grad_norms")


def _captured(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loop: LoopState,
              outcome: Outcome) -> dict[str, Any]:
    """The cell's whole training state at a step boundary, as plain data and tensors (see bench.checkpoint)."""
    window = loop.window
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": _numpy_rng_state(),
                    **({"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {})},
            "window": {"values": torch.from_numpy(window.values.copy()), "filled": int(window.filled),
                       "next": int(window.next)},
            "loop": _plain({"next_confirm": loop.next_confirm, "first_loss": loop.first_loss,
                            "loss_sum": loop.loss_sum, "elapsed": loop.elapsed}),
            "outcome": {name: _plain(getattr(outcome, name)) for name in RESUMED_FIELDS}}


def _plain(value: Any) -> Any:
    """numpy scalars as the Python numbers they equal (a checkpoint loads with weights_only=True)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def _restore(saved: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, loop: LoopState,
             outcome: Outcome) -> None:
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["rng"]["torch"])
    np.random.set_state(_numpy_rng_tuple(saved["rng"]["numpy"]))
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
    window = loop.window
    window.values[:] = saved["window"]["values"].numpy()
    window.filled, window.next = saved["window"]["filled"], saved["window"]["next"]
    for name, value in saved["loop"].items():
        setattr(loop, name, value)
    for name, value in saved["outcome"].items():
        setattr(outcome, name, value)


def _numpy_rng_state() -> dict[str, Any]:
    """numpy's legacy global generator (a plug-in may draw from it), as tensors and numbers."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position), "has_gauss": int(has_gauss),
            "cached": float(cached)}


def _numpy_rng_tuple(state: dict[str, Any]) -> tuple:
    return ("MT19937", state["keys"].numpy().astype(np.uint32), state["position"], state["has_gauss"],
            state["cached"])


def _diagnostics(model: torch.nn.Module, task: tasks.Task, valid_set: Batch, norms: list[float],
                 clip: float) -> dict[str, Any]:
    """Gradient-norm statistics of the run, and one separate backward pass on a few validation
    sequences for the gradient-flow profile (no parameter, optimizer or random state is touched)."""
    x, y, mask = (t[:FLOW_BATCH] for t in valid_set)
    found = flow.summarize_norms(norms, clip)
    try:
        found.update(flow.end_of_training(model, x, lambda outputs: sequence_losses(task, outputs, y, mask)))
    except Exception as error:  # a diagnostic must never turn a trained cell into a failed one
        found["diagnostics_error"] = f"{type(error).__name__}: {error}"
    return found


def backward(model: torch.nn.Module, optimizer: torch.optim.Optimizer, task: tasks.Task, batch: Batch,
             clip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward, loss and backward on one training batch, then clipping: (outputs, loss per sequence, loss,
    gradient norm before clipping). The caller decides whether the optimizer steps."""
    x, y, mask = batch
    outputs = forward(model, x)
    per_sequence = sequence_losses(task, outputs, y, mask)
    loss = per_sequence.mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # max_norm=inf still returns the norm, so a non-finite gradient is caught without clipping
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip or math.inf)
    return outputs, per_sequence, loss, grad_norm


def _tested_at(model: torch.nn.Module, task: tasks.Task, cell: Cell, length: int, device: torch.device) -> dict[str, Any]:
    """The trained model on the test split at another length L' (length generalisation)."""
    row: dict[str, Any] = {"length": length, "min_span": task.min_span(length),
                           "chance_accuracy": task.chance_accuracy_at(length),
                           "short_memory_accuracy": task.short_memory_baseline(length)[1]}
    try:
        held_out = to_device(task.generate(cell.train.eval_size, length, cell.seed, "test"), device)
        metrics = evaluate(model, task, held_out)
        row.update(accuracy=metrics.accuracy, loss=metrics.loss, sequences_correct=metrics.sequences_correct)
    except Exception as error:  # a model bound to its training length (positional tables) says so here
        row["error"] = f"{type(error).__name__}: {error}"
    return row


def _held_out(task: tasks.Task, cell: Cell, split: str, device: torch.device) -> Batch:
    return to_device(task.generate(cell.train.eval_size, cell.length, cell.seed, split), device)


def _since_eval(step: int, every: int) -> int:
    return step % every or every


def _validate_into(outcome: Outcome, model: torch.nn.Module, task: tasks.Task, valid_set: Batch,
                   train_loss: float, window: StreamWindow, seconds: float) -> None:
    metrics = evaluate(model, task, valid_set)
    outcome.valid_loss, outcome.valid_accuracy = metrics.loss, metrics.accuracy
    outcome.best_valid_accuracy = max(metrics.accuracy, outcome.best_valid_accuracy or 0.0)
    outcome.curve.append({"step": outcome.steps, "train_loss": train_loss, "eval_loss": metrics.loss,
                          "eval_accuracy": metrics.accuracy,
                          "window_accuracy": window.summary()[0] if window.filled else None,
                          "seconds": seconds})


def sequence_losses(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The task's loss per sequence, averaged over the positions it is defined on (every step for
    `loss_on="all"`, else the scored ones); its mean over sequences is the training loss."""
    where = torch.ones_like(mask) if task.loss_on == "all" else mask
    if task.kind == "classify":
        each = F.cross_entropy(outputs.float().transpose(1, 2), y, reduction="none")
    else:
        each = (outputs[..., 0].float() - y) ** 2
    return (each * where).sum(1) / where.sum(1)


def mean_loss(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The task's loss, averaged over sequences (and over the positions it is defined on in each)."""
    return sequence_losses(task, outputs, y, mask).mean()


def _correct(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per position: is the prediction right (argmax, or within the task's tolerance)?"""
    if task.kind == "classify":
        return outputs.argmax(-1) == y
    return (outputs[..., 0] - y).abs() < task.tolerance


def _sequence_stats(task: tasks.Task, outputs: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
                    losses: torch.Tensor) -> torch.Tensor:
    """Per sequence: (correct scored positions, scored positions, all scored positions correct, loss)."""
    correct = (_correct(task, outputs, y) & mask).sum(1)
    scored = mask.sum(1)
    return torch.stack([correct.float(), scored.float(), (correct == scored).float(), losses.float()], 1)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, task: tasks.Task, held_out: Batch) -> Metrics:
    """The model's Metrics on a held-out set."""
    model.eval()
    rows = []
    for begin in range(0, len(held_out[0]), EVAL_CHUNK):
        x, y, mask = (t[begin:begin + EVAL_CHUNK] for t in held_out)
        outputs = forward(model, x)
        rows.append(_sequence_stats(task, outputs, y, mask, sequence_losses(task, outputs, y, mask)))
    model.train()
    stats = torch.cat(rows).double().cpu().numpy()
    n, positions = len(stats), int(stats[:, 1].sum())
    accuracy = stats[:, 0].sum() / positions
    return Metrics(loss=float(stats[:, 3].mean()), loss_se=float(stats[:, 3].std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf,
                   accuracy=float(accuracy), accuracy_se=math.sqrt(accuracy * (1 - accuracy) / positions),
                   sequences_correct=float(stats[:, 2].mean()), sequences=n, positions=positions)


def seeded_model(cell: Cell, task: tasks.Task) -> torch.nn.Module:
    """The model initialised from a seed the cell owns, leaving global random state untouched."""
    init = {"task": task.data_identity(), "length": cell.length, "model": cell.model, "seed": cell.seed}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(content_hash(init)[:15], 16))
        return models.build(cell.model, task.n_inputs, task.n_outputs, cell.model_config.hidden,
                            cell.model_config.layers, tokens=task.inputs == "tokens",
                            seq_len=task.seq_len(cell.length))


def to_device(arrays: tuple, device: torch.device) -> Batch:
    return tuple(torch.from_numpy(a).to(device, non_blocking=True) for a in arrays)


AMP_DTYPES = {"bf16": torch.bfloat16}


def forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs, under autocast where the cell asked for mixed precision (`--amp`)."""
    dtype = getattr(model, "amp_dtype", None)
    if dtype is None:
        return model(x)
    with torch.autocast(x.device.type, dtype=dtype):
        return model(x)


PREFETCH_DEPTH = 2  # batches generated ahead of the GPU


def training_batches(task: tasks.Task, cell: Cell, device: torch.device, start: int = 0) -> Iterator[Batch]:
    """The training stream, batch after batch from batch `start` (a resumed cell's position), on `device`.
    On a GPU the next batches are generated on the CPU in a background thread and copied from pinned memory
    while the GPU computes; the batches are the same either way (each is a pure function of its first
    sample's index)."""
    def generate(step: int) -> tuple:
        return task.generate(cell.train.batch_size, cell.length, cell.seed, "train", step * cell.train.batch_size)

    if device.type != "cuda":
        return (to_device(generate(step), device) for step in itertools.count(start))
    return prefetched(generate, device, start=start)


def prefetched(generate: Callable[[int], tuple], device: torch.device, depth: int = PREFETCH_DEPTH,
               start: int = 0) -> Iterator[Batch]:
    """generate(0), generate(1), ... made `depth` ahead by a daemon thread, pinned on CUDA, then copied
    without blocking. The thread ends with the iterator (it is closed, or collected, when the loop stops)."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    pin = device.type == "cuda"

    def fill() -> None:
        for step in itertools.count(start):
            try:
                arrays = tuple(torch.from_numpy(a) for a in generate(step))
                item: Any = tuple(t.pin_memory() for t in arrays) if pin else arrays
            except Exception as error:  # handed to the loop, which fails the cell with it
                item = error
            while not stop.is_set():
                try:
                    ahead.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set() or isinstance(item, Exception):
                return

    filler = threading.Thread(target=fill, daemon=True)
    filler.start()
    try:
        while True:
            item = ahead.get()
            if isinstance(item, Exception):
                raise item
            yield tuple(t.to(device, non_blocking=True) for t in item)
    finally:  # joined: numba's default threading layer must not run two parallel kernels at once
        stop.set()
        filler.join()


def _record(cell: Cell, outcome: Outcome, started: float) -> dict[str, Any]:
    """The flat result row of one cell, plus its learning curve and provenance. `accuracy` and `loss`
    are on the test split; validation numbers carry `valid_` in their names."""
    task, budget = tasks.get(cell.task), cell.train
    chance_loss = task.chance_loss(cell.length)
    short_loss, short_accuracy = task.short_memory_baseline(cell.length)
    seconds = outcome.train_seconds or (time.time() - started)
    test = outcome.test
    return {
        "key": cell.key, "task": cell.task, "task_version": task.version, "task_params": task.params,
        # what reports need to know of the task, stored with the cell: a copied run folder reports without it
        "task_kind": task.kind, "length_meaning": task.length_meaning,
        "model": cell.model, "model_version": models.version(cell.model), "protocol": PROTOCOL,
        "length": cell.length, "min_span": task.min_span(cell.length), "seq_len": task.seq_len(cell.length),
        "seed": cell.seed, "params": outcome.params, "threads": cell.threads,
        **settings.row_values(cell.model, cell.model_config, budget),
        "status": outcome.status, "solved": outcome.status == "solved",
        "final_solved": test and task.rule.holds(test.accuracy, test.sequences_correct, test.loss),
        "accuracy": test and test.accuracy, "accuracy_se": test and test.accuracy_se,
        "loss": test and test.loss, "loss_se": test and test.loss_se,
        "sequences_correct": test and test.sequences_correct, "eval_positions": test and test.positions,
        "valid_accuracy": outcome.valid_accuracy, "valid_loss": outcome.valid_loss,
        "best_valid_accuracy": outcome.best_valid_accuracy, "window_accuracy": outcome.window_accuracy,
        "chance_accuracy": task.chance_accuracy_at(cell.length), "chance_loss": chance_loss,
        "loss_ratio": test.loss / chance_loss if test else None,
        "short_memory_accuracy": short_accuracy, "short_memory_loss": short_loss,
        "solve_criterion": task.solve_criterion, "steps": outcome.steps, "steps_to_solve": outcome.steps_to_solve,
        "sequences_to_solve": outcome.steps_to_solve and outcome.steps_to_solve * budget.batch_size,
        "diverged_step": outcome.diverged_step, "seconds": round(seconds, 3),
        "steps_per_second": outcome.steps / seconds if seconds > 0 else None,
        "device": cell.device, "error": outcome.error,
        **dict.fromkeys(DIAGNOSTICS), **outcome.diagnostics,
        "curve": outcome.curve, "generalisation": outcome.generalisation, "provenance": _cell_provenance(cell, started),
    }


def _cell_provenance(cell: Cell, started: float) -> dict[str, Any]:
    device = torch.device(cell.device)
    info = {"started": started, "finished": time.time(), "host": platform.node(), **machine(),
            "torch_threads": torch.get_num_threads(), "cell_threads": cell.threads,
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
