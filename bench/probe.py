"""`bench probe`: the gradient-flow profile ||dL/ds_t|| of each model at one length, at initialisation
and at checkpoints during training, with its fitted decay rate and the spectral radii that explain it.

The model, its initial weights and its training data are those of the cell (task, L, model, seed) that
`bench run` would train, so a probe explains a cell of a run.
"""

from __future__ import annotations

import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import longdep_tasks as tasks
from bench import flow
from bench.sweep import Cell, ModelConfig, TrainConfig, content_hash
from bench.train import backward, seeded_model, sequence_losses, to_device

PROBE_BATCH = 64  # validation sequences each profile is averaged over


@dataclass(frozen=True)
class ProbeSpec:
    """Everything a probe's numbers depend on."""

    task: str
    length: int
    models: tuple[str, ...]
    train_steps: int = 0
    checkpoints: int = 3
    seed: int = 0
    hidden: int = 128
    layers: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    clip: float = 1.0
    init_radius: float | None = None
    device: str = "cpu"

    def steps(self) -> list[int]:
        """The checkpoints: initialisation, then `checkpoints` evenly spaced steps up to `train_steps`."""
        later = [round(self.train_steps * k / self.checkpoints) for k in range(1, self.checkpoints + 1)]
        return sorted({0, *later}) if self.train_steps else [0]

    def name(self) -> str:
        """`adding-L200-1a2b3c4d`: the same probe always lands in the same folder."""
        return f"{tasks.get(self.task).name}-L{self.length}-{content_hash(asdict(self))[:8]}"

    def cell(self, model: str) -> Cell:
        train = TrainConfig(steps=max(self.train_steps, 1), batch_size=self.batch_size, lr=self.lr, clip=self.clip)
        return Cell(self.task, self.length, model, self.seed, ModelConfig(self.hidden, self.layers), train, self.device)


@dataclass
class ProbeResult:
    profiles: list[dict[str, Any]] = field(default_factory=list)  # model, step, t, distance, grad_norm
    summary: list[dict[str, Any]] = field(default_factory=list)  # per model and checkpoint
    training: list[dict[str, Any]] = field(default_factory=list)  # per model and training step
    not_probed: dict[str, str] = field(default_factory=dict)  # model -> why
    stopped: dict[str, int] = field(default_factory=dict)  # model -> the step whose loss or gradient was not finite


NOT_PROBEABLE = f"exposes no per-step recurrent state (a model opts in when it {flow.OPT_IN})"


def unprobeable(spec: ProbeSpec) -> dict[str, str]:
    """The models of `spec` the probe cannot see into, with why (checked before anything is trained)."""
    return {name: NOT_PROBEABLE for name in spec.models if build_probed(spec, name) is None}


def run_probe(spec: ProbeSpec, on_model: Any = None) -> ProbeResult:
    """Probe every model of `spec`; models that expose no per-step state are listed in `not_probed`."""
    result = ProbeResult()
    # as in train_cell: denormals in the recurrent backward pass make CPU training up to 10x slower
    torch.set_flush_denormal(torch.device(spec.device).type == "cpu")
    try:
        for model_name in spec.models:
            model = build_probed(spec, model_name)
            if model is None:
                result.not_probed[model_name] = NOT_PROBEABLE
                continue
            if on_model:
                on_model(model_name)
            _probe_one(spec, model_name, model, result)
    finally:  # process-wide state: do not leave it set for an in-process caller
        torch.set_flush_denormal(False)
    return result


def build_probed(spec: ProbeSpec, model_name: str) -> torch.nn.Module | None:
    """The cell's model with its seeded initial weights (rescaled by --init-radius), or None."""
    cell = spec.cell(model_name)
    model = seeded_model(cell, tasks.get(spec.task)).to(torch.device(spec.device))
    if not flow.probeable(model):
        return None
    if spec.init_radius is not None:
        flow.set_init_radius(model, spec.init_radius)
    return model


def _probe_one(spec: ProbeSpec, name: str, model: torch.nn.Module, result: ProbeResult) -> None:
    task, device = tasks.get(spec.task), torch.device(spec.device)
    x, y, mask = to_device(task.generate(PROBE_BATCH, spec.length, spec.seed, "valid"), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    checkpoints = spec.steps()
    for step in range(spec.train_steps + 1):
        if step in checkpoints:
            _measure(model, name, step, (x, y, mask), task, result)
        if step == spec.train_steps:
            return
        if not _train_step(spec, task, model, optimizer, name, step, result):
            result.stopped[name] = step + 1
            return


def _train_step(spec: ProbeSpec, task: tasks.Task, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                name: str, step: int, result: ProbeResult) -> bool:
    """One optimizer step on the cell's training stream; False once the loss or gradient is not finite."""
    batch = to_device(task.generate(spec.batch_size, spec.length, spec.seed, "train", step * spec.batch_size),
                      torch.device(spec.device))
    _, _, loss, norm = backward(model, optimizer, task, batch, spec.clip)
    loss_value, norm_value = float(loss.detach()), float(norm)
    finite = math.isfinite(loss_value) and math.isfinite(norm_value)
    result.training.append({"model": name, "step": step + 1, "loss": loss_value, "grad_norm": norm_value,
                            "clipped": bool(spec.clip > 0 and norm_value > spec.clip)})
    if finite:
        optimizer.step()
    return finite


def _measure(model: torch.nn.Module, name: str, step: int, batch: tuple, task: tasks.Task, result: ProbeResult) -> None:
    x, y, mask = batch
    profile, states = flow.gradient_profile(model, x, lambda outputs: sequence_losses(task, outputs, y, mask))
    last = len(profile) - 1
    result.profiles += [{"model": name, "step": step, "t": t, "distance": last - t, "grad_norm": float(value)}
                        for t, value in enumerate(profile)]
    rate = flow.decay_rate(profile)
    result.summary.append({
        "model": name, "step": step, "decay_rate": rate, "factor_per_step": math.exp(rate) if rate is not None else None,
        "first_to_last": flow.first_to_last(profile), "weight_radius": flow.weight_radius(model),
        "jacobian_radius": flow.jacobian_radius(states)})


def write_probe(folder: Path, spec: ProbeSpec, result: ProbeResult) -> None:
    """profiles.csv, summary.csv, training.csv, probe.json and plots probe.png/.svg, each written whole."""
    from bench.reporting.plots import plot_probe
    from bench.provenance import machine
    from bench.store import atomic_write, write_json

    tables = {"profiles": pd.DataFrame(result.profiles), "summary": pd.DataFrame(result.summary),
              "training": pd.DataFrame(result.training, columns=["model", "step", "loss", "grad_norm", "clipped"])}
    for stem, table in tables.items():
        atomic_write(folder / f"{stem}.csv", table.to_csv(index=False).encode())
    write_json(folder / "probe.json", {"spec": asdict(spec), "summary": result.summary, "not_probed": result.not_probed,
                                       "diverged_at": result.stopped,
                                       "batch": PROBE_BATCH, "torch": torch.__version__, "host": platform.node(),
                                       **machine()})
    if result.summary:
        plot_probe(tables["profiles"], tables["summary"], tables["training"], spec, folder / "probe")


def summary_lines(result: ProbeResult) -> list[str]:
    """The terminal table: per model and checkpoint, the decay per step and the radii."""
    lines = [f"{'model':<12}{'step':>7}{'factor/step':>13}{'first/last':>12}{'radius W_hh':>13}{'radius J':>10}"]
    for row in result.summary:
        lines.append(f"{row['model']:<12}{row['step']:>7}{_number(row['factor_per_step'], '.4f'):>13}"
                     f"{_number(row['first_to_last'], '.2e'):>12}{_number(row['weight_radius'], '.3f'):>13}"
                     f"{_number(row['jacobian_radius'], '.3f'):>10}")
    lines += [f"{name}: training stopped at step {step}: its loss or gradient was not finite (diverged); "
              f"later checkpoints are missing" for name, step in result.stopped.items()]
    lines += [f"not probed: {name} ({why})" for name, why in result.not_probed.items()]
    return lines


def _number(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)
